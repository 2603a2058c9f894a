//! A hostile server cannot make a logging-in device weaken its key
//! derivation or exhaust itself (DESIGN.md item 15): the Argon2id costs it
//! sends back are checked against the device's policy before anything is
//! derived or sent.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use outpost_core::account;
use outpost_core::keys::{KdfPolicy, KeyError};
use outpost_core::remote::Remote;
use outpost_core::Error;
use outpost_protocol::v1::{Bytes, RegisterRequest};

/// An account whose stored key parameters are `kdf` (the server keeps them
/// opaque, so this is exactly what a hostile server could answer).
async fn account_with(remote: &Remote, user: &str, m: u64, t: u64, p: u64, salt: &str) {
    let kdf =
        serde_json::json!({ "key_id": 7, "kdf": { "alg": "argon2id-v19", "m": m, "t": t, "p": p, "salt": salt } });
    let req = RegisterRequest {
        username: user.into(),
        auth_key: Bytes(vec![1; 32]),
        wrapped_key: Bytes(vec![2; 60]),
        kdf_params: Bytes(serde_json::to_vec(&kdf).expect("json")),
    };
    remote.register(&req).await.expect("register");
}

const SALT: &str = "00112233445566778899aabbccddeeff";

#[tokio::test]
async fn weak_or_huge_parameters_are_refused_before_any_derivation() {
    let srv = TestServer::start().await;
    let remote = Remote::new(&srv.url).expect("remote");
    let cases: &[(&str, u64, u64, u64, &str, &str)] = &[
        ("weak-memory", 8, 1, 1, SALT, "8 KiB of memory"),
        ("weak-passes", 64 * 1024, 1, 1, SALT, "1 passes"),
        // 4 GiB and a million passes: deriving would exhaust or stall the
        // device; refused at once instead.
        ("huge-memory", 4 * 1024 * 1024, 3, 1, SALT, "4194304 KiB"),
        ("huge-passes", 64 * 1024, 1_000_000, 1, SALT, "1000000 passes"),
        ("many-lanes", 64 * 1024, 3, 255, SALT, "255 lanes"),
        ("short-salt", 64 * 1024, 3, 1, "0011", "2-byte salt"),
    ];
    for (user, m, t, p, salt, says) in cases {
        account_with(&remote, user, *m, *t, *p, salt).await;
        let started = Instant::now();
        let e = account::log_in(&remote, user, "the passphrase").await.expect_err(user);
        assert!(matches!(e, Error::Key(KeyError::UnsafeKdf(_))), "{user}: {e}");
        assert_eq!(e.code(), "unsafe_kdf");
        assert!(e.to_string().contains(says), "{user}: the message names the problem: {e}");
        // No Argon2id ran: even the weakest real derivation of the huge
        // cases takes minutes; a refusal is a round trip.
        assert!(started.elapsed() < Duration::from_secs(30), "{user}: refused before deriving");
    }
}

#[tokio::test]
async fn parameters_within_the_policy_are_derived_and_checked_as_usual() {
    let srv = TestServer::start().await;
    let remote = Remote::new(&srv.url).expect("remote");
    // Within the default floor: derived, and the (made-up) auth key is
    // then refused by the server as a wrong passphrase, not as unsafe.
    account_with(&remote, "fine", 19 * 1024, 2, 1, SALT).await;
    let e = account::log_in(&remote, "fine", "not it").await.expect_err("wrong passphrase");
    assert_eq!(e.code(), "wrong_passphrase", "{e}");
    // The tests' cheap costs pass only under the tests' policy.
    account_with(&remote, "cheap", 256, 1, 1, SALT).await;
    let e = account::log_in(&remote, "cheap", "x").await.expect_err("below the floor");
    assert_eq!(e.code(), "unsafe_kdf");
    let e = account::log_in_with(&remote, "cheap", "x", &KdfPolicy::insecure_for_tests()).await.expect_err("derived");
    assert_eq!(e.code(), "wrong_passphrase", "{e}");
}
