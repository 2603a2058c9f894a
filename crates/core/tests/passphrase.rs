//! Changing the account's passphrase, end to end against a real server on
//! 127.0.0.1: device A changes it; the old passphrase then logs in
//! nowhere, device B (logged out by the change) logs in with the new one
//! and syncs what A wrote before and after; A's own passphrase-protected
//! store opens with the new passphrase only; B's store, protected by a
//! passphrase of its own, is left alone. Mistakes are refused before
//! anything changes, and of two devices changing at once exactly one wins.

mod common;

use std::path::Path;

use outpost_core::account::{self, PassphraseChanged};
use outpost_core::keys::{KdfParams, KdfPolicy, KeyError, KeyStore, MemoryStore, PassphraseStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::vault::LocalRewrap;
use outpost_core::{Error, NoteDraft, Vault};

const OLD: &str = "old passphrase";
const NEW: &str = "a new passphrase";
/// Device B's store has a passphrase of its own, not the account's.
const B_STORE: &str = "b's own store passphrase";

fn policy() -> KdfPolicy {
    KdfPolicy::insecure_for_tests()
}

fn store(passphrase: &str) -> PassphraseStore {
    PassphraseStore::with_params(passphrase, KdfParams::insecure_for_tests).expect("passphrase store")
}

fn draft(title: &str) -> NoteDraft {
    NoteDraft { title: title.into(), body: format!("body of {title}"), ..Default::default() }
}

async fn change(
    vault: &mut Vault,
    remote: &Remote,
    current: &str,
    new: &str,
    keep: bool,
) -> Result<PassphraseChanged, Error> {
    account::change_passphrase_with(vault, remote, current, new, keep, KdfParams::insecure_for_tests, &policy()).await
}

/// Log in to `user` with `passphrase` on the store in `dir` (made if
/// missing) opened with `keys`: the store and a client with the session.
async fn log_in(url: &str, user: &str, passphrase: &str, dir: &Path, keys: &dyn KeyStore) -> (Vault, Remote) {
    let remote = Remote::new(url).expect("remote");
    let (key, session) = account::log_in_with(&remote, user, passphrase, &policy()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir, keys, key).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    (vault, remote.with_token(session.token))
}

fn titles(vault: &Vault) -> Vec<String> {
    let mut t: Vec<_> = vault.list().expect("list").into_iter().map(|n| n.title).collect();
    t.sort();
    t
}

#[tokio::test]
async fn a_changed_passphrase_works_everywhere_and_the_old_one_nowhere() {
    // Many log-ins to one name from one address: more than a minute's
    // budget.
    let srv = common::TestServer::with_config(|c| c.login_attempts = 1000).await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));

    // A registers with its store under the account's passphrase; B joins
    // with a store under a passphrase of its own.
    let mut a = Vault::open(dir_a.path(), &store(OLD)).expect("open A");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote, "alice", OLD, KdfParams::insecure_for_tests()).await.expect("register");
    let a_remote = remote.with_token(a.session_token().expect("token").expect("logged in"));
    a.create(draft("before")).expect("create");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    let (mut b, b_remote) = log_in(&srv.url, "alice", OLD, dir_b.path(), &store(B_STORE)).await;
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    assert_eq!(titles(&b), ["before"]);

    // Mistakes: refused before anything is sent or changed.
    let e = change(&mut a, &a_remote, "not the passphrase", NEW, false).await.expect_err("wrong current");
    assert!(matches!(e, Error::Key(KeyError::WrongCurrentPassphrase)), "{e}");
    assert_eq!(e.code(), "wrong_current_passphrase");
    let e = change(&mut a, &a_remote, OLD, "short", false).await.expect_err("too short");
    assert!(matches!(e, Error::Key(KeyError::PassphraseTooShort { min: 8 })), "{e}");
    assert!(e.to_string().contains("at least 8 characters"), "{e}");
    let e = change(&mut a, &a_remote, OLD, "", false).await.expect_err("empty");
    assert!(matches!(e, Error::Key(KeyError::EmptyPassphrase)), "{e}");
    let e = change(&mut a, &a_remote, OLD, OLD, false).await.expect_err("the same");
    assert!(matches!(e, Error::Invalid(_)), "{e}");
    sync_once(&mut b, &b_remote).await.expect("B's session lives on after the mistakes");

    // A changes the passphrase, ending the other sessions (B's).
    a.create(draft("written on A before the change")).expect("create");
    let done = change(&mut a, &a_remote, OLD, NEW, false).await.expect("A changes the passphrase");
    assert_eq!(done.sessions_ended, 1, "B's session");
    assert_eq!(done.local, LocalRewrap::Rewrapped, "A's store was under the account's passphrase");
    a.create(draft("written on A after the change")).expect("create");
    sync_once(&mut a, &a_remote).await.expect("A keeps its session and syncs");

    // B's session is over; the old passphrase logs in nowhere.
    let e = sync_once(&mut b, &b_remote).await.expect_err("B's session ended");
    assert!(matches!(e, Error::Remote(outpost_core::remote::RemoteError::Unauthorized(_))), "{e}");
    let e = account::log_in_with(&Remote::new(&srv.url).expect("remote"), "alice", OLD, &policy())
        .await
        .expect_err("the old passphrase");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");

    // B logs in again with the new passphrase, on its own store (same data
    // key: nothing was re-encrypted), and gets everything A wrote.
    drop(b);
    let (mut b, b_remote) = log_in(&srv.url, "alice", NEW, dir_b.path(), &store(B_STORE)).await;
    sync_once(&mut b, &b_remote).await.expect("B syncs again");
    assert_eq!(titles(&b), ["before", "written on A after the change", "written on A before the change"]);

    // A's store opens with the new passphrase only; B's with its own.
    drop(a);
    let e = Vault::open(dir_a.path(), &store(OLD)).expect_err("A's store under the old passphrase");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");
    let mut a = Vault::open(dir_a.path(), &store(NEW)).expect("A's store under the new passphrase");
    assert_eq!(titles(&a), titles(&b));
    drop(b);
    let mut b = Vault::open(dir_b.path(), &store(B_STORE)).expect("B's store keeps its own passphrase");

    // Both change at once, keeping sessions: exactly one wins; the other
    // is told the key changed meanwhile, and its store is untouched.
    let (ra, rb) = tokio::join!(
        change(&mut a, &a_remote, NEW, "third passphrase from A", true),
        change(&mut b, &b_remote, NEW, "third passphrase from B", true),
    );
    let (winner, loser_error) = match (ra, rb) {
        (Ok(done), Err(e)) => ("third passphrase from A", (done, e)),
        (Err(e), Ok(done)) => ("third passphrase from B", (done, e)),
        other => panic!("exactly one of two concurrent changes wins: {other:?}"),
    };
    let (done, e) = loser_error;
    assert!(matches!(e, Error::KeyChanged), "the loser learns the key changed: {e}");
    assert_eq!(e.code(), "key_changed");
    assert_eq!(done.sessions_ended, 0, "sessions kept");
    let fresh = tempfile::tempdir().expect("c");
    let (mut c, c_remote) = log_in(&srv.url, "alice", winner, fresh.path(), &MemoryStore::new()).await;
    sync_once(&mut c, &c_remote).await.expect("a third device syncs with the winner's passphrase");
    assert_eq!(titles(&c).len(), 3);
    let local = if winner.ends_with('A') { [LocalRewrap::Rewrapped] } else { [LocalRewrap::SeparatePassphrase] };
    assert_eq!([done.local], local);
    drop((a, b));
    Vault::open(dir_b.path(), &store(B_STORE)).expect("B's store still opens with its own passphrase");
    let a_pass = if winner.ends_with('A') { winner } else { NEW };
    Vault::open(dir_a.path(), &store(a_pass)).expect("A's store opens with the passphrase it last set");

    // A keyring store has no slot to re-wrap.
    let done = change(&mut c, &c_remote, winner, "fourth passphrase", false).await.expect("C changes it");
    assert_eq!(done.local, LocalRewrap::NotPassphrase);
    assert_eq!(done.sessions_ended, 2, "A's and B's sessions");
}

/// The server half the app uses (`change_on_server`, no vault): a key that
/// is not the store's is refused before anything is sent, and the old
/// passphrase still logs in; with the store's key it changes the account's
/// passphrase, and the store's own slot is then re-wrapped separately.
#[tokio::test]
async fn the_server_half_asks_whether_the_key_is_the_stores_and_changes_nothing_otherwise() {
    let srv = common::TestServer::with_config(|c| c.login_attempts = 1000).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut a = Vault::open(dir.path(), &store(OLD)).expect("open");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote, "carol", OLD, KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(a.session_token().expect("token").expect("logged in"));

    let refused =
        account::change_on_server(&remote, OLD, NEW, false, |_| Ok(false), KdfParams::insecure_for_tests, &policy())
            .await
            .expect_err("not the store's key");
    assert!(matches!(refused, Error::Invalid(_)), "{refused:?}");
    account::log_in_with(&Remote::new(&srv.url).expect("remote"), "carol", OLD, &policy())
        .await
        .expect("old still works");

    let mut asked = 0;
    let ended = account::change_on_server(
        &remote,
        OLD,
        NEW,
        true,
        |key| {
            asked += 1;
            Ok(a.has_key(key))
        },
        KdfParams::insecure_for_tests,
        &policy(),
    )
    .await
    .expect("changed");
    assert_eq!((ended, asked), (0, 1));
    let e =
        account::log_in_with(&Remote::new(&srv.url).expect("remote"), "carol", OLD, &policy()).await.expect_err("old");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e:?}");
    account::log_in_with(&Remote::new(&srv.url).expect("remote"), "carol", NEW, &policy()).await.expect("new works");
    assert_eq!(
        a.rewrap_passphrase_slot(OLD, NEW, KdfParams::insecure_for_tests).expect("rewrap"),
        LocalRewrap::Rewrapped
    );
}
