//! A full account on the server (`413 quota_exceeded`) never costs a
//! change: the push is refused whole, the changes stay queued (not marked
//! failed), the pass reports the error so the user can act, and they go
//! once there is room.

mod common;

use common::TestServer;
use outpost_core::account;
use outpost_core::keys::{KdfParams, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::{Error, NoteDraft, Vault};

#[tokio::test]
async fn a_full_account_keeps_the_changes_queued() {
    let srv = TestServer::with_quota(64 * 1024).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut vault, &remote, "full", "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    // Random letters (about 6 KB each after compression), 120 KB sealed in
    // all: past the quota.
    let mut ids = Vec::new();
    for i in 0..20 {
        let body: String = (0..10_000).map(|_| char::from(b'a' + rand::random::<u8>() % 26)).collect();
        ids.push(vault.create(NoteDraft { title: format!("big {i}"), body, ..Default::default() }).expect("create").id);
    }
    let e = sync_once(&mut vault, &remote).await.expect_err("the account is full");
    assert!(matches!(&e, Error::Remote(r) if r.is_quota_exceeded()), "{e}");
    let s = vault.status().expect("status");
    assert_eq!((s.pending, s.failed), (20, 0), "every change still queued, none failed");
    assert!(vault
        .outbox()
        .expect("outbox")
        .iter()
        .all(|o| o.last_error.as_deref().is_some_and(|m| m.contains("quota"))));
    for id in &ids {
        assert!(vault.get(*id).is_ok(), "the note is here");
    }
}
