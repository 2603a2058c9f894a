//! Every `/v1` body type the server or the client decodes, from arbitrary
//! bytes, in both encodings (`Encoding::decode`, the same call the server's
//! `Wire` extractor and the client's `Remote` make). Decoding may refuse;
//! it must not panic, and whatever it accepts must survive a round trip:
//! encode it again, decode that, and get the same value.
//!
//! The first byte picks the type, the second the encoding; the rest is the
//! body.

#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use outpost_protocol::v1::{
    AccountKeyResponse, Change, ChangePassphraseRequest, ChangePassphraseResponse, Encoding, ErrorBody, HealthResponse,
    LoginRequest, LoginStartRequest, LoginStartResponse, Op, PokeEvent, PullResponse, PushRequest, PushResponse,
    PushResult, RegisterRequest, SessionResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T>(enc: Encoding, body: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = enc.decode::<T>(body) else { return };
    // Both encodings must carry any value either one accepts: the server
    // answers in the encoding the client asks for, whatever it was sent.
    for out in [Encoding::Postcard, Encoding::Json] {
        let bytes = out.encode(&value).unwrap_or_else(|e| panic!("{out:?} cannot encode {value:?}: {e}"));
        let back: T =
            out.decode(&bytes).unwrap_or_else(|e| panic!("{out:?} cannot decode its own {value:?}: {e}"));
        assert_eq!(back, value, "{out:?} round trip changed the value");
    }
}

fuzz_target!(|data: &[u8]| {
    let [which, enc, body @ ..] = data else { return };
    let enc = if enc & 1 == 0 { Encoding::Postcard } else { Encoding::Json };
    match which % 17 {
        0 => round_trip::<RegisterRequest>(enc, body),
        1 => round_trip::<LoginStartRequest>(enc, body),
        2 => round_trip::<LoginStartResponse>(enc, body),
        3 => round_trip::<LoginRequest>(enc, body),
        4 => round_trip::<SessionResponse>(enc, body),
        5 => round_trip::<AccountKeyResponse>(enc, body),
        6 => round_trip::<PushRequest>(enc, body),
        7 => round_trip::<PushResponse>(enc, body),
        8 => round_trip::<PullResponse>(enc, body),
        9 => round_trip::<PokeEvent>(enc, body),
        10 => round_trip::<HealthResponse>(enc, body),
        11 => round_trip::<ErrorBody>(enc, body),
        12 => round_trip::<Op>(enc, body),
        13 => round_trip::<Change>(enc, body),
        14 => round_trip::<ChangePassphraseRequest>(enc, body),
        15 => round_trip::<ChangePassphraseResponse>(enc, body),
        _ => round_trip::<PushResult>(enc, body),
    }
});
