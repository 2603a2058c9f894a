//! The OS keyring key store. `no_keyring_fails_closed` runs everywhere; the
//! round trip needs a Secret Service and runs under
//! `scripts/with-keyring.sh` (scripts/test.sh does this).

use outpost_core::keys::{KeyError, KeyringStore, MemoryStore};
use outpost_core::{NoteDraft, Vault};

fn draft() -> NoteDraft {
    NoteDraft { title: "t".into(), body: "b".into(), ..Default::default() }
}

#[test]
#[ignore = "group keyring: needs a Secret Service (D-Bus + unlocked keyring), run by scripts/test.sh through scripts/with-keyring.sh"]
fn keyring_round_trip_and_lost_entry_fails_closed() {
    KeyringStore::probe().expect("a keyring is reachable under with-keyring.sh");
    let dir = tempfile::tempdir().expect("tempdir");
    let id = Vault::open(dir.path(), &KeyringStore).expect("create").create(draft()).expect("create note").id;
    let v = Vault::open(dir.path(), &KeyringStore).expect("reopen from the keyring");
    assert_eq!(v.get(id).expect("get").body, "b");
    drop(v);

    // The keyring loses the entry (reset, another profile): fail closed.
    let vault_id: String = rusqlite::Connection::open(dir.path().join("outpost.db"))
        .expect("raw")
        .query_row("SELECT value FROM settings WHERE key = 'vault_id'", [], |r| r.get(0))
        .expect("vault id");
    keyring::Entry::new("outpost", &format!("store:{vault_id}")).expect("entry").delete_credential().expect("delete");
    let err = Vault::open(dir.path(), &KeyringStore).expect_err("no key");
    assert!(err.to_string().contains("no key for this store"), "{err}");
    // A different key under the same name (a changed backend) is refused too.
    keyring::Entry::new("outpost", &format!("store:{vault_id}")).expect("entry").set_secret(&[9u8; 32]).expect("set");
    let err = Vault::open(dir.path(), &KeyringStore).expect_err("wrong key");
    assert!(err.to_string().contains("not this store's key"), "{err}");
}

#[test]
fn no_keyring_fails_closed() {
    // A D-Bus address with nothing behind it, as on a headless machine.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/outpost-test-bus");
    let err = KeyringStore::probe().expect_err("no keyring");
    assert!(matches!(err, KeyError::KeyringUnavailable(_)), "{err}");
    assert!(err.to_string().contains("OUTPOST_PASSPHRASE"), "says how to go on: {err}");

    // A store unlocked by the keyring, opened where there is none.
    let dir = tempfile::tempdir().expect("tempdir");
    Vault::open(dir.path(), &MemoryStore::new()).expect("create").create(draft()).expect("note");
    let conn = rusqlite::Connection::open(dir.path().join("outpost.db")).expect("raw");
    conn.execute("UPDATE keys SET method = 'keyring'", []).expect("flip");
    drop(conn);
    let before = std::fs::read(dir.path().join("outpost.db")).expect("read");
    let err = Vault::open(dir.path(), &KeyringStore).expect_err("no keyring");
    assert_eq!(err.code(), "key_unavailable", "{err}");
    assert_eq!(std::fs::read(dir.path().join("outpost.db")).expect("read"), before, "nothing written");
    let n: i64 = rusqlite::Connection::open(dir.path().join("outpost.db"))
        .expect("raw")
        .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1, "no new key was made");
}
