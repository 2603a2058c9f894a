//! The log-in second factor (TOTP, RFC 6238) against a real server on
//! 127.0.0.1, on SQLite always and on PostgreSQL when `OUTPOST_TEST_PG_URL`
//! is set (see `build.rs`). The server's TOTP clock is a manual one, so
//! the tests step it instead of waiting for 30 s steps.
//!
//! What must hold: setup needs the passphrase and turns nothing on; enable
//! needs a current code of the new secret; once on, log-in without a code
//! is `401 totp_required`, with a wrong one `401 totp_invalid`, with a
//! current one a session; a code is accepted once only (also by two log-ins
//! racing); disable needs the passphrase and a code; an account without
//! TOTP logs in as before, header or not, in either encoding; wrong codes
//! draw on the log-in rate limit.

use outpost_protocol::v1::{Encoding, ErrorBody};
use outpost_server::{Clock, Config};
use reqwest::StatusCode;
use totp_rs::TOTP;

mod common;
use common::devices::{log_in, register, try_log_in, try_log_in_with_code, Device, Keys};
use common::{pg_url, start_with};

/// Where the manual clock starts: the first second of a 30 s step.
const T0: u64 = 1_700_000_010;

fn refused<T>(result: Result<T, (StatusCode, ErrorBody)>, status: StatusCode, code: &str, what: &str) {
    match result {
        Err((s, body)) => assert_eq!((s, body.code.as_str()), (status, code), "{what}: {}", body.message),
        Ok(_) => panic!("{what}: expected {status} {code}, got success"),
    }
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn log_in_code(base: &str, keys: &Keys, code: Option<&str>) -> Result<Device, (StatusCode, ErrorBody)> {
    try_log_in_with_code(base, Encoding::Json, keys, Some("tablet"), code).await
}

async fn totp_story(url: &str) {
    let clock = Clock::manual(T0);
    let config = Config { login_attempts: 1000, clock: clock.clone(), ..Config::new(url) };
    let server = start_with(config).await;
    let base = server.base.as_str();

    // Bob never turns TOTP on: he logs in as before, in both encodings,
    // and a code he sends anyway is ignored.
    let (bob, _) = register(base, Encoding::Json, "bob", "bob's box").await;
    try_log_in(base, Encoding::Postcard, &bob, None).await.expect("bob, postcard, no code");
    log_in_code(base, &bob, Some("123456")).await.expect("bob, with a stray code");

    // Setup needs the passphrase; the right one gives a secret whose URI
    // an authenticator takes.
    let (alice, laptop) = register(base, Encoding::Json, "alice", "laptop").await;
    let phone = log_in(base, Encoding::Postcard, &alice, Some("phone")).await;
    refused(laptop.totp_setup(&[7u8; 32]).await, StatusCode::FORBIDDEN, "wrong_passphrase", "setup, wrong proof");
    let first = laptop.totp_setup(&alice.auth_key).await.expect("setup");
    assert_eq!((first.digits, first.step_secs), (6, 30));
    assert!(first.otpauth_uri.starts_with("otpauth://totp/Outpost:alice-"), "{}", first.otpauth_uri);
    assert!(first.otpauth_uri.contains(&format!("secret={}", first.secret_base32)), "{}", first.otpauth_uri);
    assert!(!format!("{first:?}").contains(&first.secret_base32), "Debug hides the secret");
    // A second setup while pending replaces the secret: codes of the first
    // no longer enable.
    let stale = TOTP::from_url(&first.otpauth_uri).expect("an authenticator reads the URI");
    let setup = phone.totp_setup(&alice.auth_key).await.expect("setup again, from the postcard phone");
    assert_ne!(setup.secret_base32, first.secret_base32);
    let app = TOTP::from_url(&setup.otpauth_uri).expect("an authenticator reads the URI");
    assert_eq!(app.get_secret_base32(), setup.secret_base32);
    let code = |t: u64| app.generate(t);

    // Pending is not on: alice still logs in without a code.
    log_in_code(base, &alice, None).await.expect("pending TOTP asks for nothing");

    // Enable needs a current code of the pending secret.
    refused(laptop.totp_enable(&other_than(&code(T0))).await, StatusCode::FORBIDDEN, "totp_invalid", "wrong code");
    refused(laptop.totp_enable(&stale.generate(T0)).await, StatusCode::FORBIDDEN, "totp_invalid", "replaced secret");
    refused(laptop.totp_enable(&code(T0 + 90)).await, StatusCode::FORBIDDEN, "totp_invalid", "3 steps ahead");
    refused(laptop.totp_enable("12345").await, StatusCode::FORBIDDEN, "totp_invalid", "five digits");
    log_in_code(base, &alice, None).await.expect("still off after refused enables");
    phone.totp_enable(&code(T0)).await.expect("enable with the current code");
    refused(laptop.totp_setup(&alice.auth_key).await, StatusCode::CONFLICT, "totp_already_enabled", "setup when on");
    refused(laptop.totp_enable(&code(T0)).await, StatusCode::CONFLICT, "totp_already_enabled", "enable when on");

    // On: no code, a wrong code, the code enable used, a code two steps
    // off: all refused, each with its error.
    refused(log_in_code(base, &alice, None).await, StatusCode::UNAUTHORIZED, "totp_required", "no code");
    refused(
        try_log_in(base, Encoding::Postcard, &alice, None).await,
        StatusCode::UNAUTHORIZED,
        "totp_required",
        "old client",
    );
    refused(log_in_code(base, &alice, Some("")).await, StatusCode::UNAUTHORIZED, "totp_required", "empty header");
    let wrong = other_than(&code(T0));
    refused(log_in_code(base, &alice, Some(&wrong)).await, StatusCode::UNAUTHORIZED, "totp_invalid", "wrong code");
    refused(
        log_in_code(base, &alice, Some(&code(T0))).await,
        StatusCode::UNAUTHORIZED,
        "totp_invalid",
        "enable's code",
    );
    clock.set(T0 + 30);
    refused(
        log_in_code(base, &alice, Some(&code(T0 + 90))).await,
        StatusCode::UNAUTHORIZED,
        "totp_invalid",
        "+2 steps",
    );
    // A wrong passphrase with a right code is a wrong passphrase, and
    // uses up no code.
    let impostor = Keys { username: alice.username.clone(), auth_key: vec![7u8; 32] };
    refused(
        try_log_in_with_code(base, Encoding::Json, &impostor, None, Some(&code(T0 + 30))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "wrong passphrase, right code",
    );

    // A current code logs in, once.
    let tablet = log_in_code(base, &alice, Some(&code(T0 + 30))).await.expect("the current code");
    assert_eq!(
        tablet.sessions().await.expect("sessions").sessions.len(),
        5,
        "laptop, phone, 2 pending log-ins, tablet"
    );
    refused(log_in_code(base, &alice, Some(&code(T0 + 30))).await, StatusCode::UNAUTHORIZED, "totp_invalid", "replay");
    // The next step's code (a fast clock) is accepted, spaced as apps
    // show it; after it, the earlier step's code is refused too.
    let next = code(T0 + 60);
    log_in_code(base, &alice, Some(&format!("{} {}", &next[..3], &next[3..]))).await.expect("+1 step, spaced");
    clock.set(T0 + 90);
    refused(
        log_in_code(base, &alice, Some(&code(T0 + 30))).await,
        StatusCode::UNAUTHORIZED,
        "totp_invalid",
        "older step",
    );

    // Two log-ins racing with one fresh code: exactly one gets a session.
    let fresh = code(T0 + 90);
    let (a, b) = tokio::join!(log_in_code(base, &alice, Some(&fresh)), log_in_code(base, &alice, Some(&fresh)));
    let errors: Vec<_> = [a, b].into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "exactly one of two racing log-ins is refused: {errors:?}");
    assert_eq!((errors[0].0, errors[0].1.code.as_str()), (StatusCode::UNAUTHORIZED, "totp_invalid"));

    // Disable needs the passphrase and a fresh code; refusals change nothing.
    clock.set(T0 + 300);
    let now = code(T0 + 300);
    refused(
        laptop.totp_disable(&[7u8; 32], &now).await,
        StatusCode::FORBIDDEN,
        "wrong_passphrase",
        "disable, wrong proof",
    );
    refused(
        laptop.totp_disable(&alice.auth_key, &other_than(&now)).await,
        StatusCode::FORBIDDEN,
        "totp_invalid",
        "disable, wrong code",
    );
    refused(
        laptop.totp_disable(&alice.auth_key, &fresh).await,
        StatusCode::FORBIDDEN,
        "totp_invalid",
        "disable, old code",
    );
    refused(log_in_code(base, &alice, None).await, StatusCode::UNAUTHORIZED, "totp_required", "still on");
    laptop.totp_disable(&alice.auth_key, &now).await.expect("disable");
    log_in_code(base, &alice, None).await.expect("off: no code needed");
    refused(
        laptop.totp_disable(&alice.auth_key, &code(T0 + 330)).await,
        StatusCode::CONFLICT,
        "totp_not_set_up",
        "disable when off",
    );
    refused(laptop.totp_enable(&now).await, StatusCode::CONFLICT, "totp_not_set_up", "enable without setup");

    // Without a session, none of the three.
    let anonymous = Device { token: "x".repeat(43), ..laptop.clone() };
    refused(
        anonymous.totp_setup(&alice.auth_key).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        "setup, no session",
    );
    refused(anonymous.totp_enable(&now).await, StatusCode::UNAUTHORIZED, "invalid_token", "enable, no session");

    // No secret reached the log.
    let logs = String::from_utf8_lossy(&common::captured_logs()).into_owned();
    for secret in [&first.secret_base32, &setup.secret_base32] {
        assert!(!logs.contains(secret.as_str()), "a TOTP secret was logged");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    totp_story(&format!("sqlite://{}", dir.path().join("server.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn totp_on_postgres() {
    totp_story(&pg_url("totp_on_postgres").await).await;
}

/// Wrong codes draw on the log-in budget of the name: past it, even the
/// right code waits (`429`), and is not used up by the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_count_against_the_log_in_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let clock = Clock::manual(T0);
    // Setup (1) and enable (1), then two log-ins of two attempts each.
    let config = Config { login_attempts: 6, clock: clock.clone(), ..Config::new(url) };
    let server = start_with(config).await;
    let base = server.base.as_str();
    let (alice, laptop) = register(base, Encoding::Json, "alice", "laptop").await;
    let setup = laptop.totp_setup(&alice.auth_key).await.expect("setup");
    let app = TOTP::from_url(&setup.otpauth_uri).expect("URI");
    laptop.totp_enable(&app.generate(T0)).await.expect("enable");
    clock.set(T0 + 30);
    let wrong = other_than(&app.generate(T0 + 30));
    for n in 0..2 {
        refused(
            log_in_code(base, &alice, Some(&wrong)).await,
            StatusCode::UNAUTHORIZED,
            "totp_invalid",
            &format!("try {n}"),
        );
    }
    let right = app.generate(T0 + 30);
    refused(
        log_in_code(base, &alice, Some(&right)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "past the limit",
    );
    server.stop().await;
}
