//! Stores and servers written by an old release, opened by this one.
//!
//! The fixtures in `tests/fixtures/v7/` were written by the real `outpost`
//! binary of commit c582ebc (store schema 7; server SQLite migrations up to
//! `20250510000000_session_devices`), by `scripts/make-old-fixtures.sh`:
//! device A's data directory, the old server's database, and
//! `manifest.json` with the passphrase, the user and what the old binary
//! showed of every note, its outbox and its conflicts. Each test works on
//! a copy in a temporary directory, through the current binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{start_server, Server};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v7")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("read manifest.json");
    serde_json::from_str(&text).expect("manifest.json parses")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The old store's files, copied into `dir`.
fn copy_store(m: &Value, dir: &Path) {
    let from = fixtures().join(s(&m["store_dir"]));
    let files = m["store_files"].as_array().expect("store_files");
    assert!(!files.is_empty(), "the manifest lists the store's files");
    for f in files {
        let target = dir.join(s(f));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(s(f)), &target).expect("copy a fixture file");
    }
}

/// The old server's database, copied into a server data directory (where
/// `outpost serve` looks for `server.db` by default).
fn copy_server_db(m: &Value, dir: &Path) {
    std::fs::copy(fixtures().join(s(&m["server_db"])), dir.join("server.db")).expect("copy server.db");
}

/// `outpost` on `dir` with the fixture's passphrase.
fn run(m: &Value, dir: &Path, args: &[&str]) -> Output {
    common::outpost(dir).env("OUTPOST_PASSPHRASE", s(&m["passphrase"])).args(args).output().expect("run outpost")
}

fn run_ok(m: &Value, dir: &Path, args: &[&str]) -> Output {
    let out = run(m, dir, args);
    assert!(out.status.success(), "outpost {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json(m: &Value, dir: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&run_ok(m, dir, args).stdout).expect("json output")
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("outpost.db")).expect("open the store file")
}

fn user_version(dir: &Path) -> i64 {
    db(dir).query_row("PRAGMA user_version", [], |r| r.get(0)).expect("user_version")
}

/// The newest migration this build carries, for the store and the server.
fn latest(dir: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("read migrations")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names.pop().expect("some migration")
}

fn latest_store_version() -> i64 {
    latest("../core/migrations")[..4].parse().expect("numbered migration")
}

/// The manifest's note with id `id`.
fn note<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["notes"].as_array().expect("notes").iter().find(|n| n["id"] == id).unwrap_or_else(|| panic!("no note {id}"))
}

/// The fields a note must keep across the upgrade, as the old binary
/// printed them.
fn kept(n: &Value) -> Value {
    serde_json::json!({
        "id": n["id"], "title": n["title"], "body": n["body"], "tags": n["tags"], "pinned": n["pinned"],
        "created_at": n["created_at"], "updated_at": n["updated_at"], "hlc": n["hlc"],
        "server_rev": n["server_rev"], "sync": n["sync"],
    })
}

/// The content a device sees of a note.
fn content(n: &Value) -> Value {
    serde_json::json!({ "title": n["title"], "body": n["body"], "tags": n["tags"], "pinned": n["pinned"] })
}

/// Every note of a device, by id, as `notes show --json` gives it.
fn shown(m: &Value, dir: &Path) -> Vec<Value> {
    let list = json(m, dir, &["notes", "list", "--json"]);
    let mut notes: Vec<Value> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|n| json(m, dir, &["notes", "show", s(&n["id"]), "--json"]))
        .collect();
    notes.sort_by(|a, b| s(&a["id"]).cmp(s(&b["id"])));
    notes
}

#[test]
fn the_fixture_is_what_the_old_code_wrote() {
    let m = manifest();
    assert_eq!(m["made_by"]["store_schema_version"], 7);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_store(&m, dir.path());
    assert_eq!(user_version(dir.path()), 7, "the store fixture is at schema 7");
    // A copy: even reading a WAL-mode database writes beside it.
    copy_server_db(&m, dir.path());
    let server = rusqlite::Connection::open(dir.path().join("server.db")).expect("open server.db");
    let newest: i64 =
        server.query_row("SELECT max(version) FROM _sqlx_migrations", [], |r| r.get(0)).expect("server migrations");
    assert_eq!(newest, 20250510000000, "the server fixture stops at the session_devices migration");
    // The story the tests rely on is in it.
    let ids = &m["ids"];
    assert_eq!(m["notes"].as_array().expect("notes").len(), 7, "{}", m["notes"]);
    assert!(m["notes"].as_array().expect("notes").iter().all(|n| n["id"] != ids["deleted"]));
    let pending: Vec<&Value> =
        m["outbox"]["entries"].as_array().expect("outbox").iter().map(|e| &e["note_id"]).collect();
    assert!(pending.contains(&&ids["offline"]), "the offline edit is queued: {}", m["outbox"]);
    assert_eq!(note(&m, s(&ids["offline"]))["sync"], "pending");
    assert!(!m["conflicts"].as_array().expect("conflicts").is_empty(), "a conflict was recorded");
}

#[test]
fn an_old_store_migrates_and_keeps_every_note_its_outbox_and_conflicts() {
    let m = manifest();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_store(&m, d);
    let ids = &m["ids"];

    // The first command migrates, says so, and keeps the old file.
    let out = run_ok(&m, d, &["notes", "list", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("migrated the store; the previous version is backed up at"), "{stderr}");
    assert_eq!(user_version(d), latest_store_version());
    let status = json(&m, d, &["status", "--json"]);
    assert_eq!(status["schema_version"], latest_store_version(), "{status}");
    let backups: Vec<PathBuf> = walkdir::WalkDir::new(d)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().to_path_buf())
        .filter(|p| {
            p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("outpost.db.backup-v7-"))
        })
        .collect();
    assert_eq!(backups.len(), 1, "one backup of the old store: {backups:?}");
    let b = rusqlite::Connection::open(&backups[0]).expect("open backup");
    assert_eq!(b.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).expect("version"), 7);

    // Every note reads back as the old binary showed it: content, stamps,
    // server revision and sync badge.
    let now: Vec<Value> = shown(&m, d).iter().map(kept).collect();
    let mut then: Vec<Value> = m["notes"].as_array().expect("notes").iter().map(kept).collect();
    then.sort_by(|a, b| s(&a["id"]).cmp(s(&b["id"])));
    assert_eq!(now, then);
    // Search reads the migrated bodies too (the non-ASCII note).
    let hits = json(&m, d, &["notes", "search", "Grüße", "--json"]);
    assert_eq!(hits.as_array().expect("hits").len(), 1, "{hits}");
    assert_eq!(hits[0]["id"], ids["unicode"]);

    // The queued offline edit is still queued, nothing else is new.
    let outbox = json(&m, d, &["outbox", "list", "--json"]);
    let queued = |o: &Value| -> Vec<(String, String)> {
        let mut v: Vec<_> = o["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| (s(&e["note_id"]).to_owned(), s(&e["op_id"]).to_owned()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(queued(&outbox), queued(&m["outbox"]), "{outbox}");
    assert!(queued(&outbox).iter().any(|(n, _)| n == s(&ids["offline"])));
    assert_eq!(status["pending"], m["status"]["pending"], "{status}");
    assert_eq!(status["open_conflicts"], m["status"]["open_conflicts"], "{status}");
    assert_eq!(status["server"], m["status"]["server"], "{status}");

    // The recorded conflict is there, with both sides.
    let conflicts = json(&m, d, &["conflicts", "list", "--all", "--json"]);
    let pick = |c: &Value| -> Vec<(i64, String)> {
        c.as_array()
            .expect("conflicts")
            .iter()
            .map(|x| (x["id"].as_i64().expect("id"), s(&x["note_id"]).into()))
            .collect()
    };
    assert_eq!(pick(&conflicts), pick(&m["conflicts"]));
    let first = &m["conflicts"][0];
    let c = json(&m, d, &["conflicts", "show", &first["id"].to_string(), "--json"]);
    assert_eq!(c["mine"]["body"], first["mine"]["body"], "{c}");
    assert_eq!(c["theirs"]["body"], first["theirs"]["body"], "{c}");

    // History: every migrated note has its current version, which reads
    // back as the note; an edit keeps the version from before the upgrade.
    for n in m["notes"].as_array().expect("notes") {
        let id = s(&n["id"]);
        let h = json(&m, d, &["notes", "history", id, "--json"]);
        let versions = h.as_array().expect("versions");
        assert_eq!(versions.len(), 1, "note {id} has its current version in its history: {h}");
        assert_eq!(versions[0]["current"], true, "{h}");
        assert_eq!(versions[0]["version"], n["hlc"], "{h}");
        let v = json(&m, d, &["notes", "show", id, "--version", s(&versions[0]["version"]), "--json"]);
        assert_eq!(content(&v), content(n), "{v}");
    }
    let tagged = s(&ids["tagged"]);
    run_ok(&m, d, &["notes", "edit", tagged, "--body", "Edited after the upgrade."]);
    let h = json(&m, d, &["notes", "history", tagged, "--json"]);
    assert_eq!(h.as_array().expect("versions").len(), 2, "{h}");
    let before = h.as_array().expect("versions").iter().find(|v| v["current"] == false).expect("the older version");
    let v = json(&m, d, &["notes", "show", tagged, "--version", s(&before["version"]), "--json"]);
    assert_eq!(content(&v), content(note(&m, tagged)), "the version from before the upgrade is kept");
    run_ok(&m, d, &["notes", "restore", tagged, "--version", s(&before["version"])]);
    assert_eq!(json(&m, d, &["notes", "show", tagged, "--json"])["body"], note(&m, tagged)["body"]);

    // The trash works on migrated notes: in, listed, back.
    let long = s(&ids["long"]);
    run_ok(&m, d, &["notes", "rm", long]);
    let trash = json(&m, d, &["trash", "list", "--json"]);
    assert_eq!(trash.as_array().expect("trash").len(), 1, "{trash}");
    assert_eq!(trash[0]["id"], ids["long"]);
    run_ok(&m, d, &["trash", "restore", long]);
    assert_eq!(json(&m, d, &["notes", "show", long, "--json"])["body"], note(&m, long)["body"]);

    // A note the old code deleted was a tombstone: it is what the current
    // code calls deleted for good (purged), not a note in the trash.
    let deleted = s(&ids["deleted"]);
    assert!(!json(&m, d, &["trash", "list", "--json"]).as_array().expect("trash").iter().any(|t| t["id"] == deleted));
    let out = run(&m, d, &["notes", "history", deleted, "--json"]);
    assert_eq!(out.status.code(), Some(13), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&m, d, &["notes", "show", deleted]);
    assert!(!out.status.success());
    assert_eq!(json(&m, d, &["status", "--json"])["tombstones"], m["status"]["tombstones"]);
}

/// The server URL a store syncs with, rewritten: the old server ran on a
/// port of its own, the current one on another. Only the address changes
/// (as when a server moves); account, session and sync position stay.
fn point_at(dir: &Path, server: &Server) {
    let n = db(dir)
        .execute("UPDATE sync_state SET value = ?1 WHERE key = 'server'", [&server.url])
        .expect("rewrite the server URL");
    assert_eq!(n, 1, "the store names its server");
}

#[test]
fn an_old_server_and_an_old_device_sync_with_the_current_code() {
    let m = manifest();
    let ids = &m["ids"];
    let server_dir = tempfile::tempdir().expect("tempdir");
    copy_server_db(&m, server_dir.path());
    let server = start_server(server_dir.path());

    // A fresh current device logs in with the old credentials (the server
    // answers once it has migrated) and gets every note the server holds,
    // decrypted, as a fresh old device got them.
    let fresh = tempfile::tempdir().expect("fresh");
    let f = fresh.path();
    run_ok(&m, f, &["account", "login", "--server", &server.url, "--user", s(&m["user"])]);
    let newest: i64 = rusqlite::Connection::open(server_dir.path().join("server.db"))
        .expect("open server.db")
        .query_row("SELECT max(version) FROM _sqlx_migrations WHERE success", [], |r| r.get(0))
        .expect("migrations");
    assert_eq!(newest.to_string(), latest("../server/migrations/sqlite")[..14], "the server migrated");
    let report = json(&m, f, &["sync", "--json"]);
    assert_eq!(report["report"]["undecryptable"], 0, "{report}");
    let on_f: Vec<Value> = shown(&m, f).iter().map(|n| serde_json::json!({"id": n["id"], "c": content(n)})).collect();
    let mut server_view: Vec<Value> = m["server_view"]
        .as_array()
        .expect("server_view")
        .iter()
        .map(|n| serde_json::json!({"id": n["id"], "c": content(n)}))
        .collect();
    server_view.sort_by(|a, b| s(&a["id"]).cmp(s(&b["id"])));
    assert_eq!(on_f, server_view);
    assert!(!on_f.iter().any(|n| n["id"] == ids["deleted"]), "the deleted note stays deleted");
    assert!(on_f.iter().any(|n| n["id"] == ids["from_b"]), "device B's note is there");

    // The migrated old device pushes its queued edit and pulls device B's
    // later change.
    let old = tempfile::tempdir().expect("old");
    let a = old.path();
    copy_store(&m, a);
    run_ok(&m, a, &["status"]); // migrates
    point_at(a, &server);
    let report = json(&m, a, &["sync", "--json"]);
    assert!(report["report"]["pushed"].as_u64().expect("pushed") >= 1, "{report}");
    assert_eq!(report["report"]["undecryptable"], 0, "{report}");
    let offline = s(&ids["offline"]);
    let edited = json(&m, a, &["notes", "show", offline, "--json"]);
    assert_eq!(edited["sync"], "synced", "{edited}");
    assert_eq!(content(&edited), content(note(&m, offline)));
    let plain = json(&m, a, &["notes", "show", s(&m["server_only"]["note"]), "--json"]);
    assert_eq!(plain["body"], m["server_only"]["body"], "device B's change reached the migrated device");

    // The fresh device sees the edit that waited in the old outbox.
    run_ok(&m, f, &["sync"]);
    assert_eq!(content(&json(&m, f, &["notes", "show", offline, "--json"])), content(note(&m, offline)));

    // The old device's own push does not come back to it: the next pass
    // moves nothing either way.
    let again = json(&m, a, &["sync", "--json"]);
    assert_eq!((again["report"]["pushed"].as_u64(), again["report"]["pulled"].as_u64()), (Some(0), Some(0)), "{again}");
    // And an edit made now on the fresh device reaches the migrated one.
    run_ok(&m, f, &["notes", "edit", s(&ids["unicode"]), "--body", "Neu: 新しい本文 ✓"]);
    run_ok(&m, f, &["sync"]);
    run_ok(&m, a, &["sync"]);
    assert_eq!(json(&m, a, &["notes", "show", s(&ids["unicode"]), "--json"])["body"], "Neu: 新しい本文 ✓");
}

#[test]
fn a_truncated_old_store_is_refused_and_left_as_it_was() {
    let m = manifest();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    copy_store(&m, d);
    let path = d.join("outpost.db");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    let files = |d: &Path| -> Vec<(PathBuf, usize, u64)> {
        common::snapshot(d)
            .into_iter()
            .map(|(p, bytes)| {
                let sum = bytes.iter().fold(0u64, |h, b| h.wrapping_mul(1_099_511_628_211).wrapping_add(u64::from(*b)));
                (p, bytes.len(), sum)
            })
            .collect()
    };
    let before = files(d);
    let out = run(&m, d, &["notes", "list"]);
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("outpost.db") || stderr.contains(&d.display().to_string()), "names the store: {stderr}");
    // The store file is as it was, and no backup or new store was made.
    // Opening a WAL-mode file leaves SQLite's shared-memory index and an
    // empty log beside it, which hold nothing.
    let after: Vec<_> = files(d)
        .into_iter()
        .filter(|(p, len, _)| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            !(name == "outpost.db-shm" || (name == "outpost.db-wal" && *len == 0))
        })
        .collect();
    assert_eq!(after, before, "nothing written, nothing created");
}

/// The PostgreSQL URL for the tests (`scripts/pg-test-env.sh` prints one),
/// as the server's tests take it (`crates/server/tests/common`).
fn pg_url(group: &str) -> String {
    match std::env::var("OUTPOST_TEST_PG_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => url,
        None if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("{group}: PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset (CI=true makes this a failure)")
        }
        None => panic!(
            "{group}: PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset now but was set (or CI=true) when \
             they were built; set it, or rebuild to skip them"
        ),
    }
}

/// A schema of the test database holding the old server's tables, dropped
/// when the test ends (also when it fails).
struct PgSchema {
    rt: tokio::runtime::Runtime,
    url: String,
    name: String,
}

impl PgSchema {
    /// The PostgreSQL fixture (a `pg_dump --inserts` of the old server's
    /// schema, named `outpost_old` in the file) restored as a new schema.
    fn restore(url: &str, dump: &str) -> Self {
        use sqlx::Connection as _;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").subsec_nanos();
        let name = format!("old_v7_{}_{nanos}", std::process::id());
        let sql = dump.replace("outpost_old", &name);
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to PostgreSQL");
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect("restore the old server's dump");
            conn.close().await.expect("close");
        });
        PgSchema { rt, url: url.to_owned(), name }
    }

    /// The URL with this schema first on the search path.
    fn server_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }

    fn newest_migration(&self) -> i64 {
        use sqlx::Connection as _;
        self.rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect");
            let sql = format!("SELECT max(version) FROM {}._sqlx_migrations WHERE success", self.name);
            let v: i64 = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.expect("migrations");
            conn.close().await.expect("close");
            v
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use sqlx::Connection as _;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        self.rt.block_on(async {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&self.url).await {
                let _ = sqlx::raw_sql(&sql).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
    }
}

#[test]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
fn an_old_postgres_server_database_migrates_and_serves_its_notes() {
    let url = pg_url("an_old_postgres_server_database_migrates_and_serves_its_notes");
    let m = manifest();
    let pg: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("server-postgres.json")).expect("read server-postgres.json"),
    )
    .expect("server-postgres.json parses");
    let dump = std::fs::read_to_string(fixtures().join("server-postgres.sql")).expect("read server-postgres.sql");
    let schema = PgSchema::restore(&url, &dump);
    assert_eq!(schema.newest_migration(), pg["newest_migration"].as_i64().expect("newest"), "the dump is the old one");

    let server_dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let server = common::start_server_with(server_dir.path(), addr, &["--db", &schema.server_url()]);

    // A fresh current device logs in with the old credentials (the server
    // answers once it has migrated) and gets every note, as a fresh old
    // device got them from the old server.
    let fresh = tempfile::tempdir().expect("fresh");
    let f = fresh.path();
    run_ok(&m, f, &["account", "login", "--server", &server.url, "--user", s(&pg["user"])]);
    assert_eq!(schema.newest_migration().to_string(), latest("../server/migrations/postgres")[..14], "migrated");
    let report = json(&m, f, &["sync", "--json"]);
    assert_eq!(report["report"]["undecryptable"], 0, "{report}");
    let on_f: Vec<Value> = shown(&m, f).iter().map(|n| serde_json::json!({"id": n["id"], "c": content(n)})).collect();
    let mut then: Vec<Value> = pg["server_view"]
        .as_array()
        .expect("server_view")
        .iter()
        .map(|n| serde_json::json!({"id": n["id"], "c": content(n)}))
        .collect();
    then.sort_by(|a, b| s(&a["id"]).cmp(s(&b["id"])));
    assert_eq!(on_f, then);
    assert_eq!(on_f.len(), m["server_view"].as_array().expect("server_view").len(), "the same story as on SQLite");

    // And it writes: a new note goes up and comes back to another device.
    run_ok(&m, f, &["notes", "add", "--title", "After the upgrade", "--body", "on PostgreSQL"]);
    run_ok(&m, f, &["sync"]);
    let other = tempfile::tempdir().expect("other");
    run_ok(&m, other.path(), &["account", "login", "--server", &server.url, "--user", s(&pg["user"])]);
    run_ok(&m, other.path(), &["sync"]);
    assert_eq!(shown(&m, other.path()).len(), on_f.len() + 1);
    drop(server);
}
