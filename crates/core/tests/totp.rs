//! Two-factor log-in through the core against a real server on 127.0.0.1
//! whose TOTP clock the test sets: `account::totp_setup` checks the
//! passphrase on the device and returns the secret, `totp_enable` turns it
//! on with a code; log-in then fails with typed errors
//! (`RemoteError::TotpRequired`, `TotpInvalid`) until it has a fresh
//! code, and the joining device gets the account's key and notes;
//! `totp_disable` needs the passphrase and a code.

mod common;

use std::sync::OnceLock;

use outpost_core::account;
use outpost_core::keys::{KdfParams, KdfPolicy, KeyError, PassphraseStore};
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::sync::sync_once;
use outpost_core::{Error, NoteDraft, Vault};
use outpost_server::Clock;
use totp_rs::TOTP;

const PASS: &str = "alice's passphrase";
/// Where the server's TOTP clock starts.
const T0: u64 = 1_700_000_010;

/// The server's TOTP clock (one test in this binary; the server's
/// configuration hook takes a plain function, hence a static).
fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| Clock::manual(T0))
}

fn policy() -> KdfPolicy {
    KdfPolicy::insecure_for_tests()
}

fn store() -> PassphraseStore {
    PassphraseStore::with_params(PASS, KdfParams::insecure_for_tests).expect("passphrase store")
}

fn is(e: &Error, want: &str) -> bool {
    matches!(e, Error::Remote(r) if r.code() == want) && e.code() == want
}

#[tokio::test]
async fn two_factor_log_in_through_the_core() {
    let srv = common::TestServer::with_config(|c| {
        c.login_attempts = 1000;
        c.clock = clock().clone();
    })
    .await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let mut a = Vault::open(dir_a.path(), &store()).expect("open A");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote, "alice", PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let a_remote = remote.with_token(a.session_token().expect("token").expect("logged in"));
    a.create(NoteDraft { title: "from A".into(), ..Default::default() }).expect("create");
    sync_once(&mut a, &a_remote).await.expect("A syncs");

    // Setup: a wrong passphrase is caught on the device.
    let e = account::totp_setup(&a_remote, "wrong", &policy()).await.expect_err("wrong passphrase");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");
    let setup = account::totp_setup(&a_remote, PASS, &policy()).await.expect("setup");
    let app = TOTP::from_url(&setup.otpauth_uri).expect("an authenticator takes the URI");
    let code = |t: u64| app.generate(t);

    // Enable: a wrong code is TotpInvalid; the right one turns it on.
    let wrong = format!("{:06}", (code(T0).parse::<u32>().expect("digits") + 1) % 1_000_000);
    let e = account::totp_enable(&a_remote, &wrong).await.expect_err("wrong code");
    assert!(is(&e, "totp_invalid"), "{e}");
    account::totp_enable(&a_remote, &code(T0)).await.expect("enable");
    let e = account::totp_setup(&a_remote, PASS, &policy()).await.expect_err("on already");
    assert!(matches!(&e, Error::Remote(r) if r.is_totp_already_enabled()), "{e}");

    // Log-in: no code, a wrong one, the one enable used: typed errors.
    let b = Remote::new(&srv.url).expect("remote");
    let e = account::log_in_with(&b, "alice", PASS, &policy()).await.expect_err("no code");
    assert!(matches!(e, Error::Remote(RemoteError::TotpRequired)), "{e}");
    assert_eq!(e.code(), "totp_required");
    let e = account::log_in_with_code(&b, "alice", PASS, Some(&wrong), &policy()).await.expect_err("wrong");
    assert!(matches!(e, Error::Remote(RemoteError::TotpInvalid)), "{e}");
    let e = account::log_in_with_code(&b, "alice", PASS, Some(&code(T0)), &policy()).await.expect_err("used");
    assert!(is(&e, "totp_invalid"), "{e}");
    // A wrong passphrase stays a wrong passphrase, whatever the code.
    clock().set(T0 + 30);
    let e = account::log_in_with_code(&b, "alice", "nope", Some(&code(T0 + 30)), &policy()).await.expect_err("pass");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");

    // A fresh code: B joins with the account's key and gets A's note.
    let (key, session) =
        account::log_in_with_code(&b, "alice", PASS, Some(&code(T0 + 30)), &policy()).await.expect("log in");
    let mut vault_b = Vault::open_for_account(dir_b.path(), &store(), key).expect("open B");
    account::remember(&mut vault_b, &b, "alice", &session).expect("remember");
    let b_remote = b.clone().with_token(session.token);
    sync_once(&mut vault_b, &b_remote).await.expect("B syncs");
    assert_eq!(vault_b.list().expect("list").into_iter().map(|n| n.title).collect::<Vec<_>>(), ["from A"]);
    let e = account::log_in_with_code(&b, "alice", PASS, Some(&code(T0 + 30)), &policy()).await.expect_err("replay");
    assert!(matches!(e, Error::Remote(RemoteError::TotpInvalid)), "{e}");

    // Disable: the passphrase (checked here) and a fresh code.
    clock().set(T0 + 60);
    let e = account::totp_disable(&b_remote, "wrong", &code(T0 + 60), &policy()).await.expect_err("wrong pass");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");
    let e = account::totp_disable(&b_remote, PASS, &code(T0 + 30), &policy()).await.expect_err("used code");
    assert!(is(&e, "totp_invalid"), "{e}");
    account::totp_disable(&b_remote, PASS, &code(T0 + 60), &policy()).await.expect("disable");
    let e = account::totp_disable(&b_remote, PASS, &code(T0 + 90), &policy()).await.expect_err("off already");
    assert!(matches!(&e, Error::Remote(r) if r.is_totp_not_set_up()), "{e}");
    account::log_in_with(&b, "alice", PASS, &policy()).await.expect("off: the passphrase alone");
}
