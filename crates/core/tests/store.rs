//! Store-level tests on real temporary databases: confidentiality on disk,
//! bad input, AAD binding, coalescing, migrations, clock monotonicity.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use outpost_core::clock::ManualTime;
use outpost_core::keys::{KdfParams, MemoryStore, PassphraseStore};
use outpost_core::monitor;
use outpost_core::store::{self, migrate};
use outpost_core::{Error, NoteDraft, NotePatch, Vault};
use rstest::rstest;
use rusqlite::OptionalExtension;

fn draft(title: &str, body: &str) -> NoteDraft {
    NoteDraft { title: title.into(), body: body.into(), tags: vec![], pinned: false }
}

fn passphrase(p: &str) -> PassphraseStore {
    PassphraseStore::with_params(p, KdfParams::insecure_for_tests).expect("passphrase store")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every byte of every file in `dir`, as (file, bytes).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = files_in(dir).into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("read"))).collect();
    v.sort();
    v
}

fn assert_no_marker(dir: &Path, markers: &[Vec<u8>]) -> usize {
    let files = files_in(dir);
    for f in &files {
        let bytes = std::fs::read(f).expect("read file");
        for m in markers {
            assert!(!contains(&bytes, m), "{} contains {:?}", f.display(), String::from_utf8_lossy(m));
        }
    }
    files.len()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn no_plaintext_or_key_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut markers: Vec<Vec<u8>> = Vec::new();
    {
        let mut v = Vault::open(dir.path(), &keys).expect("open");
        // Every save a version of its own: history holds each text (sealed).
        let no_bursts = outpost_core::history::HistorySettings { coalesce_minutes: 0, ..Default::default() };
        v.set_history_settings(&no_bursts).expect("history settings");
        for i in 0..50 {
            let (t, b, tag) = (format!("zebratitle{i}q"), format!("quokkabody{i}x"), format!("wombattag{i}z"));
            // Long enough to be compressed, and short (stored raw) ones too.
            let body = format!("{b} {}", "filler text ".repeat(i * 20));
            let n = v
                .create(NoteDraft { title: t.clone(), body, tags: vec![tag.clone()], pinned: i % 7 == 0 })
                .expect("create");
            let edit = format!("narwhaledit{i}y");
            v.edit(n.id, NotePatch { body: Some(edit.clone()), ..Default::default() }).expect("edit");
            if i % 5 == 0 {
                v.delete(n.id).expect("delete");
            }
            // History and trash hold the same words, sealed too.
            if i % 5 == 1 {
                v.trash(n.id).expect("trash");
            }
            if i % 5 == 2 {
                let first = v.versions(n.id).expect("versions").last().expect("first").version.clone();
                v.restore_version(n.id, &first).expect("restore");
            }
            markers.extend([t, b, tag, edit].map(String::into_bytes));
        }
        // History and trash as they are (the downgrade below drops them).
        let versions: i64 = v.connection().query_row("SELECT count(*) FROM versions", [], |r| r.get(0)).expect("count");
        assert!(versions >= 100, "{versions} versions scanned");
        // Every marker starts with one of these: stricter, and quick.
        let stems = ["zebratitle", "quokkabody", "wombattag", "narwhaledit"].map(|s| s.as_bytes().to_vec());
        assert_no_marker(dir.path(), &stems);
        // Force a migration backup into the directory too.
        drop(v);
        downgrade_to_v1(dir.path());
        let v = Vault::open(dir.path(), &keys).expect("reopen migrates");
        // Scan while open (WAL and shm present) ...
        for k in keys.raw_keys() {
            markers.push(k.to_vec());
            markers.push(hex(&k).into_bytes());
        }
        let n = assert_no_marker(dir.path(), &markers);
        assert!(n >= 4, "expected db, wal, shm and a backup, found {n} files");
        assert!(files_in(dir.path()).iter().any(|f| f.to_string_lossy().contains(".backup-v1-")));
        // The trash survives the migration (its mirror is rebuilt from the
        // sealed meta on the first open).
        assert_eq!(v.list().expect("list").len(), 30);
        assert_eq!(v.trash_list().expect("trash").len(), 10);
    }
    // ... and after closing (checkpointed).
    assert_no_marker(dir.path(), &markers);
}

#[test]
fn passphrase_is_not_on_disk_and_wrong_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pass = "sesquipedalian-platypus-passphrase";
    {
        let mut v = Vault::open(dir.path(), &passphrase(pass)).expect("open");
        v.create(draft("t", "b")).expect("create");
    }
    assert_no_marker(dir.path(), &[pass.as_bytes().to_vec()]);
    let before = snapshot(dir.path());
    let err = Vault::open(dir.path(), &passphrase("not the passphrase")).expect_err("wrong passphrase");
    assert_eq!(err.code(), "wrong_passphrase", "{err}");
    assert_eq!(snapshot(dir.path()), before, "a failed unlock must not change a byte");
    let v = Vault::open(dir.path(), &passphrase(pass)).expect("right passphrase");
    assert_eq!(v.list().expect("list").len(), 1);
}

#[test]
fn keyring_store_opened_with_passphrase_fails_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mem = MemoryStore::new();
    Vault::open(dir.path(), &mem).expect("open").create(draft("t", "b")).expect("create");
    let before = snapshot(dir.path());
    let err = Vault::open(dir.path(), &passphrase("x")).expect_err("mismatch");
    assert!(matches!(err, Error::KeyMethodMismatch { .. }), "{err}");
    // A key store that lost the key: never a new key, nothing written.
    let err = Vault::open(dir.path(), &MemoryStore::new()).expect_err("missing key");
    assert_eq!(err.code(), "key_unavailable", "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

fn exec(dir: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(store::db_path(dir)).expect("raw open");
    conn.execute_batch(sql).expect("raw sql");
}

#[test]
fn tampered_ciphertext_is_detected_and_nothing_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let id = {
        let mut v = Vault::open(dir.path(), &keys).expect("open");
        v.create(draft("other", "other body")).expect("create");
        v.create(draft("victim", &"body text ".repeat(30))).expect("create").id
    };
    // Flip one bit in the middle of the body ciphertext.
    let conn = rusqlite::Connection::open(store::db_path(dir.path())).expect("raw");
    let mut body: Vec<u8> =
        conn.query_row("SELECT body FROM notes WHERE id = ?1", [id.as_bytes()], |r| r.get(0)).expect("body");
    let mid = body.len() / 2;
    body[mid] ^= 0x04;
    conn.execute("UPDATE notes SET body = ?1 WHERE id = ?2", rusqlite::params![body, id.as_bytes()]).expect("tamper");
    drop(conn);
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    let err = v.get(id).expect_err("tampered");
    assert_eq!(err.code(), "decrypt_failed", "{err}");
    assert!(err.to_string().contains("tampered"), "{err}");
    let before = v.status().expect("status");
    assert!(v.edit(id, NotePatch { title: Some("x".into()), ..Default::default() }).is_err());
    assert_eq!(v.status().expect("status"), before, "a failed edit changes nothing");
    // Titles are intact, so the list still works.
    assert_eq!(v.list().expect("list").len(), 2);
}

#[test]
fn ciphertext_moved_to_another_row_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let (a, b) = {
        let mut v = Vault::open(dir.path(), &keys).expect("open");
        (v.create(draft("Alpha", "alpha body")).expect("a").id, v.create(draft("Beta", "beta body")).expect("b").id)
    };
    // Same key, valid blobs: only the binding to note id stops the swap.
    exec(
        dir.path(),
        &format!(
            "UPDATE notes SET title = (SELECT title FROM notes WHERE id = x'{}') WHERE id = x'{}'",
            hex(a.as_bytes()),
            hex(b.as_bytes())
        ),
    );
    let v = Vault::open(dir.path(), &keys).expect("open");
    assert_eq!(v.get(b).expect_err("moved title").code(), "decrypt_failed");
    assert_eq!(v.get(a).expect("a intact").title, "Alpha");
    // Title moved into the body field of the same note: the field binding.
    exec(dir.path(), &format!("UPDATE notes SET body = title WHERE id = x'{}'", hex(a.as_bytes())));
    assert_eq!(v.get(a).expect_err("field swap").code(), "decrypt_failed");
}

#[test]
fn old_version_of_a_row_cannot_be_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    let n = v.create(draft("t", "version one")).expect("create");
    let old_body: Vec<u8> =
        v.connection().query_row("SELECT body FROM notes WHERE id = ?1", [n.id.as_bytes()], |r| r.get(0)).expect("old");
    v.edit(n.id, NotePatch { body: Some("version two".into()), ..Default::default() }).expect("edit");
    v.connection()
        .execute("UPDATE notes SET body = ?1 WHERE id = ?2", rusqlite::params![old_body, n.id.as_bytes()])
        .expect("replay");
    assert_eq!(v.get(n.id).expect_err("replayed old blob").code(), "decrypt_failed");
}

#[test]
fn not_a_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = store::db_path(dir.path());
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    let err = Vault::open(dir.path(), &MemoryStore::new()).expect_err("garbage");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
    assert_eq!(files_in(dir.path()).len(), 1, "no WAL or journal created beside it");

    // An SQLite database that is not an Outpost store.
    std::fs::remove_file(&path).expect("rm");
    exec(dir.path(), "CREATE TABLE other (x); INSERT INTO other VALUES (1);");
    let before = snapshot(dir.path());
    let err = Vault::open(dir.path(), &MemoryStore::new()).expect_err("foreign db");
    assert!(matches!(err, Error::NotADatabase { .. }), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    Vault::open(dir.path(), &keys).expect("open").create(draft("t", "b")).expect("create");
    exec(
        dir.path(),
        &format!("INSERT INTO _migrations VALUES ({}, 'from_the_future', 'x', 0)", migrate::latest_version() + 1),
    );
    let before = snapshot(dir.path());
    let err = Vault::open(dir.path(), &keys).expect_err("too new");
    assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
    assert!(err.to_string().contains("Update Outpost"));
    assert_eq!(snapshot(dir.path()), before);
}

#[rstest]
#[case::missing("0193f2a1-0000-7000-8000-000000000000", "note_not_found")]
#[case::garbage("not-a-uuid", "invalid_note_id")]
fn bad_note_ids(#[case] id: &str, #[case] code: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    v.create(draft("t", "b")).expect("create");
    let before = v.status().expect("status");
    let err =
        Vault::parse_id(id).and_then(|id| v.edit(id, NotePatch { title: Some("x".into()), ..Default::default() }));
    assert_eq!(err.expect_err("bad id").code(), code);
    let err = Vault::parse_id(id).and_then(|id| v.delete(id));
    assert_eq!(err.expect_err("bad id").code(), code);
    assert_eq!(v.status().expect("status"), before);
}

#[rstest]
#[case::body(NoteDraft { body: "x".repeat(1024 * 1024 + 1), ..Default::default() })]
#[case::title(NoteDraft { title: "t".repeat(1025), ..Default::default() })]
#[case::tag(NoteDraft { tags: vec!["t".repeat(65)], ..Default::default() })]
fn oversized_notes_are_refused(#[case] big: NoteDraft) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let n = v.create(draft("keep", "keep")).expect("create");
    let before = v.status().expect("status");
    assert_eq!(v.create(big.clone()).expect_err("too big").code(), "too_large");
    let patch = NotePatch {
        title: Some(big.title.clone()),
        body: Some(big.body.clone()),
        tags: Some(big.tags.clone()),
        pinned: None,
    };
    assert_eq!(v.edit(n.id, patch).expect_err("too big").code(), "too_large");
    assert_eq!(v.status().expect("status"), before);
    assert_eq!(v.get(n.id).expect("get").body, "keep");
}

#[test]
fn body_at_the_limit_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let body = "é".repeat(1024 * 1024 / 2);
    let n = v.create(draft("big", &body)).expect("exactly 1 MiB");
    assert_eq!(v.get(n.id).expect("get").body, body);
}

#[test]
fn hundred_offline_edits_coalesce_into_one_entry_with_last_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let n = v.create(draft("t", "v0")).expect("create");
    for i in 1..=100 {
        v.edit(n.id, NotePatch { body: Some(format!("version {i}")), ..Default::default() }).expect("edit");
    }
    let outbox = v.outbox().expect("outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].coalesced, 100);
    let note = v.get(n.id).expect("get");
    assert_eq!(note.body, "version 100");
    assert_eq!(outbox[0].hlc, note.hlc);
    // The entry is the note's current version, which it reads from the
    // note row instead of holding a copy.
    let same: bool = v
        .connection()
        .query_row(
            "SELECT o.hlc = n.hlc AND o.title IS NULL AND o.meta IS NULL AND o.body IS NULL
             FROM outbox o JOIN notes n ON n.id = o.note_id",
            [],
            |r| r.get(0),
        )
        .expect("compare");
    assert!(same);
    assert_eq!(v.status().expect("status").coalesced, 100);
}

#[test]
fn attempted_entries_are_frozen_and_later_edits_queue_anew() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let n = v.create(draft("t", "first")).expect("create");
    // As the sync engine does when it sends an entry.
    v.connection().execute("UPDATE outbox SET attempts = 1, base_rev = 0", []).expect("mark sent");
    v.edit(n.id, NotePatch { body: Some("second".into()), ..Default::default() }).expect("edit");
    v.edit(n.id, NotePatch { body: Some("third".into()), ..Default::default() }).expect("edit");
    let outbox = v.outbox().expect("outbox");
    assert_eq!(outbox.len(), 2, "the sent op id must keep its content: {outbox:?}");
    assert_eq!((outbox[0].attempts, outbox[1].attempts, outbox[1].coalesced), (1, 0, 1));
    assert_ne!(outbox[0].op_id, outbox[1].op_id);
}

/// Rebuild the schema-1 store a previous release would have left: undo
/// every later migration in place, data kept.
fn downgrade_to_v1(dir: &Path) {
    exec(dir, &common::undo_to_v1());
    let conn = rusqlite::Connection::open(store::db_path(dir)).expect("open");
    assert_eq!(migrate::status(&conn).expect("status").current, 1);
    assert!(migrate::check(&conn).expect("check").is_empty(), "a faithful v1 schema");
}

#[test]
fn migration_from_an_older_schema_keeps_data_and_backs_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let ids: Vec<_> = {
        let mut v = Vault::open(dir.path(), &keys).expect("open");
        (0..20).map(|i| v.create(draft(&format!("note {i}"), &format!("body {i}"))).expect("create").id).collect()
    };
    downgrade_to_v1(dir.path());
    let (v, report) = Vault::open_with(dir.path(), &keys, Arc::new(outpost_core::clock::SystemTime)).expect("migrate");
    let backup = report.backup.expect("a backup before migrating");
    assert!(backup.exists());
    let conn = v.connection();
    assert_eq!(migrate::status(conn).expect("status").current, migrate::latest_version());
    assert!(migrate::check(conn).expect("check").is_empty());
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(v.get(*id).expect("kept").body, format!("body {i}"));
    }
    // The backup is the v1 store, whole.
    let b = rusqlite::Connection::open(&backup).expect("backup opens");
    assert_eq!(migrate::status(&b).expect("status").current, 1);
    let n: i64 = b.query_row("SELECT count(*) FROM notes", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 20);
    let ok: String = b.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(ok, "ok");
}

/// Sealed-field copies (`versions`, `outbox`, `merge_base`) and how many
/// of them are NULL (the row refers to its note's current version).
fn copies(dir: &Path) -> Vec<(String, i64, i64)> {
    let conn = rusqlite::Connection::open(store::db_path(dir)).expect("raw open");
    ["versions", "outbox", "merge_base"]
        .iter()
        .map(|t| {
            let (all, nulls) = conn
                .query_row(&format!("SELECT count(*), count(*) - count(title) FROM {t}"), [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .expect("count");
            (t.to_string(), all, nulls)
        })
        .collect()
}

#[test]
fn migration_13_keeps_every_version_and_stores_the_current_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(1_800_000_000_000);
    let mut expected = Vec::new();
    {
        let (mut v, _) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("open");
        for i in 0..5 {
            let n = v.create(draft(&format!("note {i}"), "first")).expect("create");
            for k in 0..i {
                // Past the coalescing window: each edit is its own version.
                time.set(time.now() + 10 * 60 * 1000);
                v.edit(n.id, NotePatch { body: Some(format!("edit {k}")), ..Default::default() }).expect("edit");
            }
            let versions = v.versions(n.id).expect("versions");
            let bodies: Vec<_> = versions.iter().map(|x| v.version(n.id, &x.version).expect("version").body).collect();
            expected.push((n.id, v.get(n.id).expect("get").body, versions, bodies));
        }
    }
    // Back to schema 12: every row a full copy, as the old code wrote it.
    let undo: String = common::UNDO_MIGRATIONS
        .iter()
        .filter(|(v, _)| *v >= 13)
        .map(|(v, sql)| format!("{sql}\nDELETE FROM _migrations WHERE version = {v};\n"))
        .collect();
    exec(dir.path(), &format!("{undo}PRAGMA user_version = 12;"));
    assert!(copies(dir.path()).iter().all(|(_, _, nulls)| *nulls == 0), "schema 12 has no shared rows");

    let (v, report) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("migrate");
    assert!(report.backup.is_some());
    assert!(migrate::check(v.connection()).expect("check").is_empty());
    for (id, body, versions, bodies) in &expected {
        assert_eq!(&v.get(*id).expect("note").body, body);
        assert_eq!(&v.versions(*id).expect("versions"), versions);
        for (x, b) in versions.iter().zip(bodies) {
            assert_eq!(&v.version(*id, &x.version).expect("version").body, b);
        }
    }
    drop(v);
    // Each note's current version and its pending entry now share the
    // note row's fields; the earlier versions keep their own.
    let c = copies(dir.path());
    assert_eq!(c[0], ("versions".into(), 1 + 2 + 3 + 4 + 5, 5));
    assert_eq!(c[1], ("outbox".into(), 5, 5));
}

/// A store from before history (schema 8) holds no versions. Migration 15
/// gives each live note its current version: history shows it, and the
/// first edit after the upgrade, however soon, keeps it as a version of
/// its own (before, `keep_current` found no version to copy the note into
/// and the edit dropped it). Found with the old release's store in
/// `crates/cli/tests/fixtures/v7` (`crates/cli/tests/old_format.rs`).
#[test]
fn migration_15_gives_notes_from_before_history_their_current_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(1_800_000_000_000);
    let ids: Vec<_> = {
        let (mut v, _) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("open");
        (0..3).map(|i| v.create(draft(&format!("note {i}"), &format!("body {i}"))).expect("create").id).collect()
    };
    let undo: String = common::UNDO_MIGRATIONS
        .iter()
        .filter(|(v, _)| *v >= 9)
        .map(|(v, sql)| format!("{sql}\nDELETE FROM _migrations WHERE version = {v};\n"))
        .collect();
    exec(dir.path(), &format!("{undo}PRAGMA user_version = 8;"));

    // A minute later: well within the coalescing window of the last save.
    time.set(time.now() + 60 * 1000);
    let (mut v, report) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("migrate");
    assert!(report.backup.is_some());
    assert!(migrate::check(v.connection()).expect("check").is_empty());
    for (i, id) in ids.iter().enumerate() {
        let versions = v.versions(*id).expect("versions");
        assert_eq!(versions.len(), 1, "{versions:?}");
        assert!(versions[0].current);
        assert_eq!(versions[0].why, outpost_core::history::VersionWhy::Edit);
        assert_eq!(v.version(*id, &versions[0].version).expect("version").body, format!("body {i}"));
    }
    v.edit(ids[0], NotePatch { body: Some("after the upgrade".into()), ..Default::default() }).expect("edit");
    let versions = v.versions(ids[0]).expect("versions");
    let bodies: Vec<_> = versions.iter().map(|x| v.version(ids[0], &x.version).expect("version").body).collect();
    assert_eq!(bodies, vec!["after the upgrade".to_owned(), "body 0".to_owned()], "newest first, the old one kept");
    drop(v);
    // Opening again adds nothing: every live note has its current version.
    let (v, report) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("reopen");
    assert!(report.backup.is_none());
    assert_eq!(v.versions(ids[0]).expect("versions").len(), 2);
}

/// Every row of a table, each column as SQLite gives it, in key order.
fn table_rows(dir: &Path, sql: &str) -> Vec<Vec<rusqlite::types::Value>> {
    let conn = rusqlite::Connection::open(store::db_path(dir)).expect("raw open");
    let mut stmt = conn.prepare(sql).expect("prepare");
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect::<rusqlite::Result<Vec<_>>>())
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

/// Migration 16 rebuilds `outbox` (no index on `op_id`) on a store of
/// schema 15: every pending, frozen and discarded entry is kept as it was,
/// history too, and the AUTOINCREMENT counter goes on where it was, so a
/// number that left the outbox never comes back.
#[test]
fn migration_16_keeps_the_outbox_the_discarded_entries_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(1_800_000_000_000);
    let ids: Vec<_> = {
        let (mut v, _) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("open");
        let ids: Vec<_> = (0..4).map(|i| v.create(draft(&format!("note {i}"), "first")).expect("create").id).collect();
        for k in 0..3 {
            // Past the coalescing window: each edit is its own version.
            time.set(time.now() + 10 * 60 * 1000);
            v.edit(ids[0], NotePatch { body: Some(format!("edit {k}")), ..Default::default() }).expect("edit");
        }
        // Entries of notes 0 and 1 sent (frozen), a later edit of note 0
        // queued behind its frozen one, then discarded (the newest entry).
        assert_eq!(v.take_push_batch(2).expect("batch").len(), 2);
        v.edit(ids[0], NotePatch { body: Some("after the send".into()), ..Default::default() }).expect("edit");
        let top = v.outbox().expect("outbox").iter().map(|e| e.seq).max().expect("entries");
        let now = time.now() as i64;
        assert_eq!(monitor::discard(&mut v, monitor::Selection::Entry(top), now).expect("discard"), [top]);
        ids
    };
    let outbox_sql = "SELECT * FROM outbox ORDER BY seq";
    let discarded_sql = "SELECT seq, op_id, note_id, hlc, base_rev, deleted, title, meta, body, state, attempts,
                                last_error, created_at, discarded_at FROM outbox_discarded";
    let versions_sql = "SELECT * FROM versions ORDER BY note_id, hlc";
    let (outbox, discarded, versions) = (
        table_rows(dir.path(), outbox_sql),
        table_rows(dir.path(), discarded_sql),
        table_rows(dir.path(), versions_sql),
    );
    assert_eq!((outbox.len(), discarded.len(), versions.len()), (4, 1, 4 + 3), "the store holds what it should");

    // Back to schema 15, as the previous release left it.
    let undo: String = common::UNDO_MIGRATIONS
        .iter()
        .filter(|(v, _)| *v >= 16)
        .map(|(v, sql)| format!("{sql}\nDELETE FROM _migrations WHERE version = {v};\n"))
        .collect();
    exec(dir.path(), &format!("{undo}PRAGMA user_version = 15;"));
    let counter = |dir: &Path| -> Option<i64> {
        let conn = rusqlite::Connection::open(store::db_path(dir)).expect("raw open");
        conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", [], |r| r.get(0))
            .optional()
            .expect("sqlite_sequence")
    };
    let before = counter(dir.path()).expect("schema 15 numbers the outbox with AUTOINCREMENT");

    let (mut v, report) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("migrate");
    assert!(report.backup.is_some());
    assert_eq!(migrate::status(v.connection()).expect("status").current, 16);
    assert!(migrate::check(v.connection()).expect("check").is_empty());
    assert_eq!(table_rows(dir.path(), outbox_sql), outbox);
    assert_eq!(table_rows(dir.path(), discarded_sql), discarded);
    assert_eq!(table_rows(dir.path(), versions_sql), versions);
    assert_eq!(counter(dir.path()), Some(before), "the counter goes on where it was");
    let outbox_indexes: Vec<String> = v
        .connection()
        .prepare("SELECT name FROM pragma_index_list('outbox') ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("indexes");
    assert_eq!(outbox_indexes, ["outbox_note"], "a save writes no op_id index");
    assert_eq!(v.get(ids[0]).expect("note").body, "after the send");
    assert_eq!(v.versions(ids[0]).expect("versions").len(), 4);

    // The discarded entry's number does not come back: the next entry
    // takes a higher one, and discarding it keeps both.
    let gone = discarded_rows_seqs(&v);
    let n = v.create(draft("after the upgrade", "new")).expect("create").id;
    let seq = v.outbox().expect("outbox").iter().find(|e| e.note_id == n).expect("entry").seq;
    assert_eq!(gone, vec![before], "the discarded entry had the highest number");
    assert_eq!(seq, before + 1, "a number never comes back");
    monitor::discard(&mut v, monitor::Selection::Entry(seq), time.now() as i64).expect("discard again");
    assert_eq!(discarded_rows_seqs(&v), vec![seq, before], "both discarded entries kept, newest first");
}

fn discarded_rows_seqs(v: &Vault) -> Vec<i64> {
    monitor::discarded_rows(v.connection()).expect("discarded").iter().map(|d| d.seq).collect()
}

#[test]
fn the_wal_is_checkpointed_off_the_save_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    // The save connection checkpoints only past the backstop.
    let auto: i64 = v.connection().pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).expect("pragma");
    assert_eq!(auto, i64::from(store::checkpoint::BACKSTOP_PAGES));
    let ids: Vec<_> = (0..40).map(|i| v.create(draft(&format!("n{i}"), "body")).expect("create").id).collect();
    let stats = v.wait_for_checkpoint(std::time::Duration::from_secs(60)).expect("a checkpoint thread");
    assert!(stats.runs >= 1, "no background checkpoint ran: {stats:?}");
    assert!(stats.wal_frames > 0, "{stats:?}");
    assert_eq!(stats.copied_frames, stats.wal_frames, "nothing reads an old snapshot, so every frame is copied");
    // The database file alone now holds every note: a copy of it without
    // its WAL opens with all of them.
    let copy = tempfile::tempdir().expect("tempdir");
    std::fs::copy(store::db_path(dir.path()), store::db_path(copy.path())).expect("copy db only");
    let conn = rusqlite::Connection::open(store::db_path(copy.path())).expect("open copy");
    let n: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0)).expect("count");
    assert_eq!(n, ids.len() as i64);
    drop(conn);
    // Saving goes on, and closing the vault stops the thread.
    v.edit(ids[0], NotePatch { body: Some("after".into()), ..Default::default() }).expect("edit");
    drop(v);
    let v = Vault::open(dir.path(), &keys).expect("reopen");
    assert_eq!(v.get(ids[0]).expect("note").body, "after");
}

#[test]
fn hlc_stays_monotonic_when_the_clock_goes_backwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(1_800_000_000_000);
    let (mut v, _) = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("open");
    let n = v.create(draft("t", "0")).expect("create");
    let mut last = n.hlc;
    for (i, wall) in
        [1_800_000_000_000u64, 1_700_000_000_000, 1_799_999_999_999, 5, 1_800_000_000_001].into_iter().enumerate()
    {
        time.set(wall);
        let e = v.edit(n.id, NotePatch { body: Some(i.to_string()), ..Default::default() }).expect("edit");
        assert!(e.hlc > last, "{} !> {last} at wall {wall}", e.hlc);
        last = e.hlc;
    }
    drop(v);
    // Restarted on a machine whose clock is a year behind: still ahead.
    let behind = ManualTime::new(1_768_000_000_000);
    let (mut v, _) = Vault::open_with(dir.path(), &keys, Arc::new(behind)).expect("reopen");
    let e = v.edit(n.id, NotePatch { body: Some("after restart".into()), ..Default::default() }).expect("edit");
    assert!(e.hlc > last);
}

#[test]
fn list_search_and_delete_behave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let time = ManualTime::new(1_000_000);
    let (mut v, _) = Vault::open_with(dir.path(), &MemoryStore::new(), Arc::new(time.clone())).expect("open");
    let a = v
        .create(NoteDraft {
            title: "Groceries".into(),
            body: "milk, Eggs".into(),
            tags: vec!["home".into()],
            pinned: false,
        })
        .expect("a");
    time.set(2_000_000);
    let b = v.create(draft("Trip", "pack boots and eggs")).expect("b");
    time.set(3_000_000);
    let c = v.create(NoteDraft { title: "Pinned".into(), body: "x".into(), tags: vec![], pinned: true }).expect("c");
    let order: Vec<_> = v.list().expect("list").into_iter().map(|s| s.id).collect();
    assert_eq!(order, vec![c.id, b.id, a.id], "pinned first, then newest");
    let hits: Vec<_> = v.search("EGGS").expect("search").into_iter().map(|h| h.note.id).collect();
    assert_eq!(hits, vec![b.id, a.id]);
    assert_eq!(v.search("eggs home").expect("search").len(), 1, "all words must match; tags count");
    assert!(v.search("   ").expect("search").is_empty());
    v.delete(b.id).expect("delete");
    assert_eq!(v.get(b.id).expect_err("gone").code(), "note_not_found");
    assert_eq!(v.list().expect("list").len(), 2);
    assert_eq!(v.search("boots").expect("search").len(), 0);
    // The tombstone is queued for sync, content erased.
    let tomb = v.outbox().expect("outbox").into_iter().find(|e| e.note_id == b.id).expect("entry");
    assert!(tomb.deleted);
    let s = v.status().expect("status");
    assert_eq!((s.notes, s.tombstones, s.pending), (2, 1, 3));
}

#[test]
fn every_change_is_durable_with_its_outbox_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    let mode: String = v.connection().query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    let sync: i64 = v.connection().query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("sync");
    assert_eq!(sync, 2, "synchronous=FULL");
    // A failing batch leaves nothing: the note and its entry go together.
    let res = v.batch(|w| {
        w.create(draft("a", "a"))?;
        w.create(NoteDraft { body: "x".repeat(2 * 1024 * 1024), ..Default::default() })
    });
    assert!(res.is_err());
    let s = v.status().expect("status");
    assert_eq!((s.notes, s.pending), (0, 0));
}

#[test]
fn an_editor_behind_a_sync_merges_instead_of_overwriting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let opened = v.create(draft("t", "one\ntwo\nthree\n")).expect("create");
    // Meanwhile the note changes under the editor (as a pull merge does).
    let moved = v
        .edit(opened.id, NotePatch { body: Some("one\ntwo\nTHREE from elsewhere\n".into()), ..Default::default() })
        .expect("edit");
    let mine = NotePatch { body: Some("ONE typed here\ntwo\nthree\n".into()), ..Default::default() };
    // Without the text it started from, the stale edit is refused, nothing changed.
    let err = v.edit_from(opened.id, mine.clone(), opened.hlc, None).expect_err("stale");
    assert_eq!(err.code(), "stale");
    assert_eq!(v.get(opened.id).expect("get").body, moved.body);
    // With it, both edits are kept.
    let saved = v.edit_from(opened.id, mine.clone(), opened.hlc, Some(&opened.body)).expect("merged");
    assert_eq!(saved.body, "ONE typed here\ntwo\nTHREE from elsewhere\n");
    // An editor that is up to date just saves.
    let next = NotePatch { body: Some("plain".into()), ..Default::default() };
    assert_eq!(v.edit_from(opened.id, next, saved.hlc, None).expect("save").body, "plain");
}
