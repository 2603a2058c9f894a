//! Property tests of the wire types, beside the inline ones in `hlc.rs` and
//! `v1.rs` (text and byte round trips of stamps, pull and push answers):
//!
//! - HLC stamps form a total order, and their frozen 20-byte form (the AEAD
//!   associated data) sorts exactly as the stamps do.
//! - Every request a device sends round-trips in both encodings.
//! - The server decodes untrusted bodies: any bytes, in either encoding,
//!   for any request type, give a value or an error, never a panic; and a
//!   stamp parsed from any string prints back as that same string.
//!
//! Case counts are kept small so the file runs in about a second in CI;
//! `PROPTEST_CASES=10000` runs it longer.

use outpost_protocol::v1::{Bytes, Encoding, LoginRequest, LoginStartRequest, Op, PushRequest, RegisterRequest};
use outpost_protocol::Hlc;
use proptest::prelude::*;
use uuid::Uuid;

fn arb_hlc() -> impl Strategy<Value = Hlc> {
    // Small ranges as well as full ones, so equal parts (ties broken by
    // the next part) are common.
    let wall = prop_oneof![0..4u64, 0..=Hlc::MAX_WALL_MS];
    let counter = prop_oneof![0..4u32, any::<u32>()];
    let node = prop_oneof![0..4u64, any::<u64>()];
    (wall, counter, node).prop_map(|(w, c, n)| Hlc::new(w, c, n))
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes)
}

fn arb_op() -> impl Strategy<Value = Op> {
    (any::<u128>(), any::<u128>(), any::<u64>(), arb_hlc(), any::<bool>(), arb_bytes(200)).prop_map(
        |(op, note, base_rev, hlc, deleted, payload)| Op {
            op_id: Uuid::from_u128(op),
            note_id: Uuid::from_u128(note),
            base_rev,
            hlc,
            deleted,
            payload,
        },
    )
}

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::Postcard];

proptest! {
    // 256 cases in CI; `PROPTEST_CASES` asks for more (or fewer).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    /// Exactly one of <, =, > holds, both ways round, and equality is
    /// equality of all three parts.
    #[test]
    fn hlc_order_is_total_and_antisymmetric(a in arb_hlc(), b in arb_hlc()) {
        let (ab, ba) = (a.cmp(&b), b.cmp(&a));
        prop_assert_eq!(ab, ba.reverse());
        prop_assert_eq!(ab == std::cmp::Ordering::Equal, (a.wall_ms, a.counter, a.node) == (b.wall_ms, b.counter, b.node));
    }

    #[test]
    fn hlc_order_is_transitive(a in arb_hlc(), b in arb_hlc(), c in arb_hlc()) {
        let mut v = [a, b, c];
        v.sort();
        prop_assert!(v[0] <= v[1] && v[1] <= v[2] && v[0] <= v[2]);
    }

    /// The associated-data form sorts as the stamps do (big-endian, fixed
    /// width), and distinct stamps never share it.
    #[test]
    fn hlc_byte_order_is_stamp_order(a in arb_hlc(), b in arb_hlc()) {
        prop_assert_eq!(a.to_bytes().cmp(&b.to_bytes()), a.cmp(&b));
    }

    /// Any string that parses as a stamp is the canonical text of that
    /// stamp: no two spellings of one stamp (the text form is stored and
    /// compared as text).
    #[test]
    fn hlc_text_is_canonical(s in "[0-9a-fA-F+-]{0,40}|[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{16}") {
        if let Ok(h) = s.parse::<Hlc>() {
            prop_assert_eq!(h.to_string(), s);
        }
    }

    #[test]
    fn push_requests_round_trip(ops in proptest::collection::vec(arb_op(), 0..6)) {
        let req = PushRequest { ops };
        for enc in ENCODINGS {
            let bytes = enc.encode(&req).expect("encode");
            prop_assert_eq!(enc.decode::<PushRequest>(&bytes).expect("decode"), req.clone());
        }
    }

    #[test]
    fn account_requests_round_trip(
        username in "\\PC{1,20}",
        auth in arb_bytes(64),
        wrapped in arb_bytes(80),
        kdf in arb_bytes(40),
        challenge in arb_bytes(40),
    ) {
        let reg = RegisterRequest { username: username.clone(), auth_key: auth.clone(), wrapped_key: wrapped, kdf_params: kdf };
        let start = LoginStartRequest { username: username.clone() };
        let login = LoginRequest { username, challenge, auth_key: auth };
        for enc in ENCODINGS {
            prop_assert_eq!(enc.decode::<RegisterRequest>(&enc.encode(&reg).expect("encode")).expect("decode"), reg.clone());
            prop_assert_eq!(enc.decode::<LoginStartRequest>(&enc.encode(&start).expect("encode")).expect("decode"), start.clone());
            prop_assert_eq!(enc.decode::<LoginRequest>(&enc.encode(&login).expect("encode")).expect("decode"), login.clone());
        }
    }

    /// Untrusted bodies: random bytes, and valid bodies with bytes flipped
    /// or cut off, decode to a value or an error and never panic. A
    /// mutated body that still decodes must re-encode to a body that
    /// decodes to the same value (no half-read state).
    #[test]
    fn untrusted_bodies_never_panic(
        garbage in proptest::collection::vec(any::<u8>(), 0..256),
        ops in proptest::collection::vec(arb_op(), 1..3),
        flip in any::<prop::sample::Index>(),
        xor in 1u8..,
        cut in any::<prop::sample::Index>(),
    ) {
        let req = PushRequest { ops };
        for enc in ENCODINGS {
            let valid = enc.encode(&req).expect("encode");
            let mut flipped = valid.clone();
            flipped[flip.index(valid.len())] ^= xor;
            let truncated = &valid[..cut.index(valid.len())];
            for body in [&garbage[..], &flipped[..], truncated] {
                if let Ok(value) = enc.decode::<PushRequest>(body) {
                    let again = enc.encode(&value).expect("re-encode");
                    prop_assert_eq!(enc.decode::<PushRequest>(&again).expect("decode again"), value);
                }
                let _ = enc.decode::<RegisterRequest>(body);
                let _ = enc.decode::<LoginRequest>(body);
                let _ = enc.decode::<LoginStartRequest>(body);
            }
            // A strict prefix of a postcard or JSON body is never a whole body.
            prop_assert!(enc.decode::<PushRequest>(truncated).is_err(), "{:?} prefix decoded", enc);
        }
    }
}
