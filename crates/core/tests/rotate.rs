//! Rotating the account's data key, end to end against a real server on
//! 127.0.0.1, on SQLite and on PostgreSQL: device A rotates; every note is
//! re-encrypted through the outbox and stays readable on every device;
//! device B, which wrote under the old key meanwhile, sets the changes
//! under the new key aside (nothing lost, its sync goes on), fetches the
//! keys with the passphrase, applies them, reads everything and writes with
//! the new key;
//! a device that joins later gets both keys. A wrong passphrase changes
//! nothing, and of two devices rotating at once exactly one wins while the
//! other changes nothing. A rotation whose answer was lost is finished by
//! running it again.

mod common;

use std::path::Path;

use common::contents;
use outpost_core::account::{self, Rotation};
use outpost_core::keys::{KdfParams, KdfPolicy, KeyError, KeyStore, MemoryStore, PassphraseStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::{Error, NoteDraft, NotePatch, Vault};

const PASS: &str = "the account passphrase";

fn policy() -> KdfPolicy {
    KdfPolicy::insecure_for_tests()
}

fn store(passphrase: &str) -> PassphraseStore {
    PassphraseStore::with_params(passphrase, KdfParams::insecure_for_tests).expect("passphrase store")
}

fn draft(title: &str) -> NoteDraft {
    NoteDraft { title: title.into(), body: format!("body of {title}"), ..Default::default() }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

async fn rotate(vault: &mut Vault, remote: &Remote, passphrase: &str) -> Result<Rotation, Error> {
    account::rotate_data_key_with(vault, remote, passphrase, KdfParams::insecure_for_tests, &policy()).await
}

/// Log in to `user` on the store in `dir` (made if missing) opened with
/// `keys`: the store and a client with the session.
async fn log_in(url: &str, user: &str, dir: &Path, keys: &dyn KeyStore) -> (Vault, Remote) {
    let remote = Remote::new(url).expect("remote");
    let (ring, session) = account::log_in_with(&remote, user, PASS, &policy()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir, keys, ring).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    (vault, remote.with_token(session.token))
}

/// A registers `user` on the store in `dir_a` and writes three notes; B
/// logs in on `dir_b`; both have synced. Each store and its client.
async fn two_devices(url: &str, user: &str, dir_a: &Path, dir_b: &Path) -> (Vault, Remote, Vault, Remote) {
    let mut a = Vault::open(dir_a, &store(PASS)).expect("open A");
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut a, &remote, user, PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let a_remote = remote.with_token(a.session_token().expect("token").expect("logged in"));
    for t in ["one", "two", "three"] {
        a.create(draft(t)).expect("create");
    }
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    let (mut b, b_remote) = log_in(url, user, dir_b, &MemoryStore::new()).await;
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    (a, a_remote, b, b_remote)
}

async fn story(srv: common::TestServer) {
    let user = unique("rotor");
    let (dir_a, dir_b, dir_c) =
        (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"), tempfile::tempdir().expect("c"));

    // A registers; B joins; both hold three notes under the first key.
    let (mut a, a_remote, mut b, b_remote) = two_devices(&srv.url, &user, dir_a.path(), dir_b.path()).await;
    assert_eq!(contents(&b).len(), 3);
    let first_key = a.key_status().expect("status").current;

    // A rotates: a new key, both kept; A's notes are re-encrypted by its
    // next pass and go up like edits.
    let done = rotate(&mut a, &a_remote, PASS).await.expect("rotate");
    assert!(!done.resumed);
    assert_eq!((done.old_key.as_str(), done.keys, done.to_reencrypt), (first_key.as_str(), 2, 3));
    assert_ne!(done.new_key, first_key);
    assert_eq!(
        account::server_key_id(&a_remote).await.expect("key id").0,
        u32::from_str_radix(&done.new_key, 16).expect("hex")
    );
    let status = a.key_status().expect("status");
    assert_eq!((status.current.as_str(), status.pending.as_deref()), (done.new_key.as_str(), None));
    assert_eq!(contents(&a).len(), 3, "every note reads during the change");
    a.create(draft("four, under the new key")).expect("create");
    assert_eq!(a.notes_under_old_keys().expect("count"), 3, "a new note is under the new key");

    // Meanwhile B, which knows only the old key, writes a note.
    b.create(draft("five, from B under the old key")).expect("create");

    let report = sync_once(&mut a, &a_remote).await.expect("A syncs after rotating");
    assert_eq!(report.reencrypted, 3, "{report:?}");
    assert_eq!(a.notes_under_old_keys().expect("count"), 0);
    assert_eq!(a.status().expect("status").pending, 0);

    // B's push goes; its pull sets A's changes under the new key aside,
    // saying which key they need, and the rest of its sync goes on.
    let report = sync_once(&mut b, &b_remote).await.expect("B syncs without the new key");
    assert_eq!((report.pushed, report.undecryptable), (1, 4), "{report:?}");
    assert_eq!(b.missing_keys().expect("missing"), vec![done.new_key.clone()]);
    let aside = b.quarantined().expect("quarantine");
    assert!(aside[0].error.contains(&done.new_key), "{}", aside[0].error);
    assert_eq!(contents(&b).len(), 4, "B still reads all it had");

    // A wrong passphrase fetches nothing.
    let e = account::fetch_keys(&mut b, &b_remote, "not the passphrase", &policy()).await.expect_err("wrong");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");
    // The right one: B takes the new key in and carries on.
    let learned = account::fetch_keys(&mut b, &b_remote, PASS, &policy()).await.expect("fetch");
    assert_eq!((learned.added, learned.current_changed, learned.replayed), (1, true, 4));
    assert!(b.quarantined().expect("quarantine").is_empty(), "the changes aside applied");
    assert!(b.missing_keys().expect("missing").is_empty());
    assert_eq!(b.key_status().expect("status").current, done.new_key);
    assert_eq!(contents(&b).len(), 5, "B reads A's new note");
    let report = sync_once(&mut b, &b_remote).await.expect("B syncs with the new key");
    assert_eq!(report.undecryptable, 0);
    // B's own note was pulled by A before (A re-encrypted it after its
    // pull, or B does now): either way it ends under the new key.
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    assert_eq!(contents(&a), contents(&b));
    assert_eq!(contents(&b).len(), 5);
    assert_eq!(b.notes_under_old_keys().expect("count"), 0);

    // B writes with the new key; A reads it.
    let six = b.create(draft("six, from B under the new key")).expect("create");
    assert_eq!(b.notes_under_old_keys().expect("count"), 0);
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    assert_eq!(a.get(six.id).expect("A reads B's new note").title, "six, from B under the new key");

    // A device joining now gets both keys, and reads everything, old
    // versions included: its store opens under the new key.
    let (mut c, c_remote) = log_in(&srv.url, &user, dir_c.path(), &MemoryStore::new()).await;
    sync_once(&mut c, &c_remote).await.expect("C syncs");
    assert_eq!(contents(&c), contents(&a));
    let keys = c.key_status().expect("status");
    assert_eq!((keys.current.as_str(), keys.keys.len()), (done.new_key.as_str(), 2));
    assert!(c.key_ring().iter().any(|k| format!("{:08x}", k.id().0) == first_key), "C holds the old key too");

    // A's store still opens with its passphrase (it is unlocked by its own
    // key; the new one is kept sealed under it).
    drop(a);
    let mut a = Vault::open(dir_a.path(), &store(PASS)).expect("A reopens");
    assert_eq!(a.key_status().expect("status").current, done.new_key);
    a.edit(six.id, NotePatch { body: Some("edited on A after reopening".into()), ..Default::default() }).expect("edit");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    sync_once(&mut c, &c_remote).await.expect("C syncs");
    assert_eq!(c.get(six.id).expect("get").body, "edited on A after reopening");

    // A wrong passphrase rotates nothing, here or on the server.
    let before = account::server_key_id(&a_remote).await.expect("key id");
    let e = rotate(&mut a, &a_remote, "not the passphrase").await.expect_err("wrong passphrase");
    assert!(matches!(e, Error::Key(KeyError::WrongPassphrase)), "{e}");
    assert_eq!(account::server_key_id(&a_remote).await.expect("key id"), before);
    let status = a.key_status().expect("status");
    assert_eq!((status.current.as_str(), status.pending, status.keys.len()), (done.new_key.as_str(), None, 2));

    // Two devices rotate at once: exactly one wins; the other is told the
    // key changed meanwhile and keeps no new key.
    let (ra, rc) = tokio::join!(rotate(&mut a, &a_remote, PASS), rotate(&mut c, &c_remote, PASS));
    let ((winner, winner_remote, won), (loser, loser_remote, e)) = match (ra, rc) {
        (Ok(won), Err(e)) => ((&mut a, &a_remote, won), (&mut c, &c_remote, e)),
        (Err(e), Ok(won)) => ((&mut c, &c_remote, won), (&mut a, &a_remote, e)),
        other => panic!("exactly one of two concurrent rotations wins: {other:?}"),
    };
    assert!(matches!(e, Error::KeyChanged), "the loser learns the key changed: {e}");
    assert_eq!(e.code(), "key_changed");
    let status = loser.key_status().expect("status");
    assert_eq!((status.current.as_str(), status.pending, status.keys.len()), (done.new_key.as_str(), None, 2));
    assert_eq!(won.keys, 3);
    // The winner's notes go up under its key; the loser stops at them,
    // fetches the keys, and both agree.
    assert_eq!(sync_once(winner, winner_remote).await.expect("the winner syncs").reencrypted, 6);
    let report = sync_once(loser, loser_remote).await.expect("the loser syncs");
    assert_eq!(report.undecryptable, 6, "set aside for want of the winner's key: {report:?}");
    let learned = account::fetch_keys(loser, loser_remote, PASS, &policy()).await.expect("fetch");
    assert_eq!(learned.replayed, 6);
    sync_once(loser, loser_remote).await.expect("the loser syncs");
    assert_eq!(contents(loser), contents(winner));
    assert_eq!(loser.key_status().expect("status").current, won.new_key);
}

/// A device without the new key edits a note that another device edited
/// after rotating: its push is refused in favour of a version it cannot
/// read yet. That version is not overwritten (it is a real edit): the
/// change waits, and once the key is fetched the two edits are merged.
#[tokio::test]
async fn an_edit_meeting_a_version_under_a_key_it_lacks_waits_and_is_merged_once_it_has_the_key() {
    let srv = common::TestServer::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let mut a = Vault::open(dir_a.path(), &store(PASS)).expect("open A");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote, "both", PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let a_remote = remote.with_token(a.session_token().expect("token").expect("logged in"));
    let note = a
        .create(NoteDraft {
            title: "shared".into(),
            body: "line one\nline two\nline three\n".into(),
            ..Default::default()
        })
        .expect("create");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    let (mut b, b_remote) = log_in(&srv.url, "both", dir_b.path(), &MemoryStore::new()).await;
    sync_once(&mut b, &b_remote).await.expect("B syncs");

    rotate(&mut a, &a_remote, PASS).await.expect("rotate");
    let edit = |body: &str| NotePatch { body: Some(body.into()), ..Default::default() };
    a.edit(note.id, edit("line one, edited on A\nline two\nline three\n")).expect("A edits");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    b.edit(note.id, edit("line one\nline two\nline three, edited on B\n")).expect("B edits");

    // B's push is refused in favour of A's version, which B cannot read:
    // B's change waits; A's version stays the server's.
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    assert_eq!(b.status().expect("status").pending, 1, "B's edit waits");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    assert_eq!(a.get(note.id).expect("get").body, "line one, edited on A\nline two\nline three\n");

    // B fetches the key: its edit goes at once and merges with A's.
    account::fetch_keys(&mut b, &b_remote, PASS, &policy()).await.expect("fetch");
    sync_once(&mut b, &b_remote).await.expect("B syncs");
    sync_once(&mut a, &a_remote).await.expect("A syncs");
    let merged = "line one, edited on A\nline two\nline three, edited on B\n";
    assert_eq!(b.get(note.id).expect("get").body, merged);
    assert_eq!(a.get(note.id).expect("get").body, merged);
    assert_eq!((a.status().expect("a").pending, b.status().expect("b").pending), (0, 0));
}

/// A rotation whose answer never came (a crash or a lost connection after
/// the server took the new key) keeps the key here as pending; running the
/// rotation again finds the server has it and finishes, with no new key.
#[tokio::test]
async fn a_rotation_cut_short_after_the_server_took_it_is_finished_by_running_it_again() {
    use outpost_core::crypto::KeyRing;
    use outpost_core::keys;
    use outpost_protocol::v1::{Bytes, ChangePassphraseRequest};

    let srv = common::TestServer::start().await;
    let dir = tempfile::tempdir().expect("a");
    let mut a = Vault::open(dir.path(), &store(PASS)).expect("open A");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote, "cut", PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(a.session_token().expect("token").expect("logged in"));
    a.create(draft("kept")).expect("create");
    sync_once(&mut a, &remote).await.expect("sync");
    let old = a.key_ring().current().clone();

    // What `rotate_data_key` does up to its request, and the request, but
    // not what it does with the answer: the store has the key as pending.
    let new = a.rotation_key().expect("a new key, kept first");
    assert_eq!(a.rotation_key().expect("again").id(), new.id(), "a retry reuses the pending key");
    assert_eq!(a.key_status().expect("status").pending, Some(format!("{:08x}", new.id().0)));
    assert_eq!(a.key_ring().current().id(), old.id(), "changes stay under the old key until the server has it");
    let account_key = remote.account_key().await.expect("account key");
    let kdf: serde_json::Value = serde_json::from_slice(&account_key.kdf_params.0).expect("kdf json");
    let params: KdfParams = serde_json::from_value(kdf["kdf"].clone()).expect("params");
    let current_auth = keys::derive_account_keys(PASS, &params).expect("derive").auth.to_vec();
    let fresh = KdfParams::insecure_for_tests();
    let derived = keys::derive_account_keys(PASS, &fresh).expect("derive");
    let mut ring = KeyRing::new(new.clone());
    ring.insert(old.clone());
    remote
        .change_passphrase(&ChangePassphraseRequest {
            current_auth_key: Bytes(current_auth),
            current_wrapped_key: account_key.wrapped_key,
            auth_key: Bytes(derived.auth.to_vec()),
            wrapped_key: Bytes(keys::wrap_ring(&derived.wrap, &ring).expect("wrap")),
            kdf_params: Bytes(
                serde_json::to_vec(&serde_json::json!({ "key_id": new.id().0, "kdf": fresh })).expect("json"),
            ),
            keep_other_sessions: true,
        })
        .await
        .expect("the server takes the key");

    // The store is reopened (a crash) and the rotation run again.
    drop(a);
    let mut a = Vault::open(dir.path(), &store(PASS)).expect("reopen");
    assert_eq!(a.key_ring().current().id(), old.id());
    let done = rotate(&mut a, &remote, PASS).await.expect("finish");
    assert!(done.resumed, "{done:?}");
    assert_eq!(done.new_key, format!("{:08x}", new.id().0));
    assert_eq!((done.keys, done.to_reencrypt), (2, 1));
    let status = a.key_status().expect("status");
    assert_eq!((status.current, status.pending), (done.new_key.clone(), None));
    let report = sync_once(&mut a, &remote).await.expect("sync");
    assert_eq!(report.reencrypted, 1);
    assert_eq!(account::server_key_id(&remote).await.expect("key id"), new.id());
}

/// `learn_keys` is a commit (the keys) and then the replay of the changes
/// set aside under them. A process that ended between the two left them
/// aside under a key it then held: nothing asked for the key again (it was
/// no longer missing), and the crash storm ended with 2,996 changes aside
/// after the devices had converged. The next sync pass applies them; a
/// pass under keys they were already tried under leaves them be.
#[tokio::test]
async fn changes_aside_under_a_key_taken_in_before_a_crash_apply_at_the_next_sync() {
    let srv = common::TestServer::start().await;
    let user = unique("cut");
    let (dir_a, dir_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (mut a, a_remote, mut b, b_remote) = two_devices(&srv.url, &user, dir_a.path(), dir_b.path()).await;

    // A rotates, re-encrypts its three notes and writes a fourth.
    rotate(&mut a, &a_remote, PASS).await.expect("rotate");
    a.create(draft("four, under the new key")).expect("create");
    sync_once(&mut a, &a_remote).await.expect("A syncs after rotating");
    let report = sync_once(&mut b, &b_remote).await.expect("B syncs without the new key");
    assert_eq!(report.undecryptable, 4, "{report:?}");
    // Still without the key, a pass leaves them aside and says nothing new.
    let report = sync_once(&mut b, &b_remote).await.expect("B syncs again without the key");
    assert_eq!((report.pulled, b.quarantined().expect("quarantine").len()), (0, 4), "{report:?}");
    // Nor does it open them again: they were tried under these keys. (With
    // the table moved away, a pass that read it would fail.)
    let move_aside = |v: &Vault, from: &str, to: &str| {
        v.connection().execute(&format!("ALTER TABLE {from} RENAME TO {to}"), []).expect("rename");
    };
    move_aside(&b, "quarantine", "quarantine_away");
    sync_once(&mut b, &b_remote).await.expect("a pass under the same keys does not read what is aside");
    move_aside(&b, "quarantine_away", "quarantine");
    // A key of B's own rotation, made, tried and then abandoned, leaves a
    // ring as long as the one B will have with A's key: what counts is
    // which keys they were tried under, not how many.
    let made = b.rotation_key().expect("a rotation's key");
    sync_once(&mut b, &b_remote).await.expect("a pass tries them under B's new key");
    b.abandon_rotation_key(made.id()).expect("abandon B's rotation");
    assert_eq!(b.quarantined().expect("quarantine").len(), 4, "B's own key opens none of them");

    // B takes the key in and "crashes" before the replay.
    let ring = account::account_keys(&b_remote, PASS, &policy()).await.expect("the account's keys");
    let learned = b.take_keys_in(&ring).expect("take the keys in");
    assert_eq!((learned.added, learned.replayed), (1, 0));
    assert!(b.missing_keys().expect("missing").is_empty(), "the key is held: nothing asks for it");
    assert_eq!(b.quarantined().expect("quarantine").len(), 4, "the changes are still aside");
    assert_eq!(contents(&b).len(), 3, "A's fourth note is not here yet");

    let report = sync_once(&mut b, &b_remote).await.expect("B's next pass");
    assert!(b.quarantined().expect("quarantine").is_empty(), "the pass applied what was aside: {report:?}");
    assert_eq!(contents(&b), contents(&a), "B holds what A holds");
    assert_eq!(b.notes_under_old_keys().expect("count"), 0);
}

#[tokio::test]
async fn rotation_on_sqlite() {
    assert_postgres_not_left_out_under_ci();
    story(common::TestServer::start().await).await;
}

#[tokio::test]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn rotation_on_postgres() {
    story(common::TestServer::on_postgres().await).await;
}

/// Under CI=true the PostgreSQL half is not optional.
fn assert_postgres_not_left_out_under_ci() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci || cfg!(outpost_pg_tests),
        "CI=true, but this build has no OUTPOST_TEST_PG_URL: the PostgreSQL rotation test cannot run"
    );
}
