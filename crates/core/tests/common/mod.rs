//! Shared by the core's integration tests: a real sync server
//! (`outpost_server::serve` on 127.0.0.1 with a throw-away SQLite
//! database, stopped on drop; it can restart, and be restored from a copy
//! of its database), and store-file helpers for the fault tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;

pub mod devices;

/// Long enough for a loaded CI machine; only a hang ever reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

/// A sync server on 127.0.0.1 with its own SQLite database, stopped on
/// drop. It can go down and come back on the same address and database
/// (a server restarting), or come back with an older copy of its database
/// (a server restored from a backup).
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The per-account storage quota, when a test sets one.
    quota: Option<u64>,
    /// The test's own changes to the server's configuration.
    tweak: Option<fn(&mut outpost_server::Config)>,
    /// A database URL to serve from instead of the throw-away SQLite file
    /// (PostgreSQL: [`TestServer::on_postgres`]).
    database: Option<String>,
}

/// A copy of a [`TestServer`]'s database taken while it ran.
pub struct ServerBackup {
    dir: tempfile::TempDir,
}

impl ServerBackup {
    fn file(&self) -> std::path::PathBuf {
        self.dir.path().join("server.db")
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(None, None).await
    }

    /// A server whose accounts may store at most `bytes` of notes.
    #[allow(dead_code)] // not every test binary uses it
    pub async fn with_quota(bytes: u64) -> Self {
        Self::start_with(Some(bytes), None).await
    }

    /// A server whose configuration `tweak` changes (applied on every
    /// start, `come_back` included).
    #[allow(dead_code)] // not every test binary uses it
    pub async fn with_config(tweak: fn(&mut outpost_server::Config)) -> Self {
        Self::start_with(None, Some(tweak)).await
    }

    /// A server on the PostgreSQL database at `OUTPOST_TEST_PG_URL` (shared
    /// by the tests: give accounts unique names). The backup and restore
    /// helpers work on SQLite only.
    #[allow(dead_code)] // not every test binary uses it
    pub async fn on_postgres() -> Self {
        let url = std::env::var("OUTPOST_TEST_PG_URL").ok().filter(|u| !u.is_empty()).expect(
            "PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset now but was set when they were built; set it, \
             or rebuild to skip them",
        );
        Self::start_on(None, None, Some(url)).await
    }

    async fn start_with(quota: Option<u64>, tweak: Option<fn(&mut outpost_server::Config)>) -> Self {
        Self::start_on(quota, tweak, None).await
    }

    async fn start_on(
        quota: Option<u64>,
        tweak: Option<fn(&mut outpost_server::Config)>,
        database: Option<String>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut s = TestServer {
            addr,
            url: format!("http://{addr}"),
            dir: tempfile::tempdir().expect("tempdir"),
            stop: None,
            task: None,
            quota,
            tweak,
            database,
        };
        s.serve(listener);
        s
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("server.db")
    }

    /// The directory of the server's database (and its WAL), for tests
    /// that look at (or tamper with) what the server stores.
    #[allow(dead_code)] // not every test binary uses it
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let url = self.database.clone().unwrap_or_else(|| format!("sqlite://{}", self.db().display()));
        let mut config = outpost_server::Config::new(url);
        if let Some(q) = self.quota {
            config.quota_bytes = q;
        }
        if let Some(tweak) = self.tweak {
            tweak(&mut config);
        }
        let (tx, rx) = oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(async move {
            outpost_server::serve(listener, config, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        }));
    }

    /// Stops serving (the database is closed when this returns) and waits
    /// until the port refuses connections.
    pub async fn go_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task).await.expect("server stops").expect("server task");
        }
        assert!(tokio::net::TcpStream::connect(self.addr).await.is_err(), "the port is closed");
    }

    /// Serves again on the same address and database.
    pub async fn come_back(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.expect("bind the same address again");
        self.serve(listener);
    }

    /// A consistent copy of the database as it is now (`VACUUM INTO`,
    /// while the server runs), as a nightly backup would take it.
    pub fn backup(&self) -> ServerBackup {
        let backup = ServerBackup { dir: tempfile::tempdir().expect("tempdir") };
        let conn = rusqlite::Connection::open_with_flags(self.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the server's database");
        conn.execute("VACUUM INTO ?1", [backup.file().to_str().expect("utf-8 path")]).expect("vacuum into");
        backup
    }

    /// The server restored from `backup`: it goes down, its database files
    /// are replaced by the copy, and it comes back on the same address.
    /// Everything written since the backup is gone from the server.
    pub async fn restore(&mut self, backup: &ServerBackup) {
        self.go_down().await;
        for suffix in ["", "-wal", "-shm"] {
            let file = self.dir.path().join(format!("server.db{suffix}"));
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("removing {}: {e}", file.display()),
            }
        }
        std::fs::copy(backup.file(), self.db()).expect("copy the backup in");
        self.come_back().await;
    }

    /// A counter from the server's Prometheus metrics.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.url)).await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in the metrics"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Every live note as (title, body), sorted: reading them all proves each
/// one opens.
pub fn contents(vault: &outpost_core::Vault) -> Vec<(String, String)> {
    let mut out: Vec<_> = vault
        .list()
        .expect("list")
        .into_iter()
        .map(|s| {
            let n = vault.get(s.id).expect("every note opens");
            (n.title, n.body)
        })
        .collect();
    out.sort();
    out
}

pub async fn server() -> TestServer {
    TestServer::start().await
}

/// A copy of every file of a store directory (database, -wal, -shm) in a
/// new temporary directory.
pub fn copy_store(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.path().join(entry.file_name())).expect("copy");
        }
    }
    to
}

/// `PRAGMA integrity_check` passes and every foreign key holds.
pub fn integrity_ok(conn: &rusqlite::Connection) {
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity check");
    assert_eq!(ok, "ok");
    let fk: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).expect("fk");
    assert_eq!(fk, 0, "foreign keys hold");
}

/// How to undo each migration after the first in place, data kept, newest
/// first: what a store of schema 1 (an old release) looked like.
pub const UNDO_MIGRATIONS: &[(u32, &str)] = &[
    // 16: `outbox.op_id` UNIQUE again; every row and the AUTOINCREMENT
    // counter kept.
    (
        16,
        "CREATE TABLE _undo_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           BLOB NOT NULL UNIQUE,       -- idempotency key, UUIDv7
    note_id         BLOB NOT NULL,
    hlc             TEXT NOT NULL,
    base_rev        INTEGER,                    -- fixed at first send
    deleted         INTEGER NOT NULL DEFAULT 0,
    title           BLOB,
    meta            BLOB,
    body            BLOB,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    coalesced       INTEGER NOT NULL DEFAULT 0, -- edits folded into this entry
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((title IS NULL) = (meta IS NULL) AND (title IS NULL) = (body IS NULL))
) STRICT;
         INSERT INTO _undo_outbox SELECT * FROM outbox;
         DELETE FROM sqlite_sequence WHERE name = '_undo_outbox';
         INSERT INTO sqlite_sequence (name, seq) SELECT '_undo_outbox', seq FROM sqlite_sequence WHERE name = 'outbox';
         DROP TABLE outbox; ALTER TABLE _undo_outbox RENAME TO outbox;
         CREATE INDEX outbox_note ON outbox (note_id, state, attempts);",
    ),
    // 15 adds rows to `versions` only (a note's current version); they
    // are what the code would have recorded, and undoing 9 drops them.
    (15, "PRAGMA user_version = 14;"),
    (14, "CREATE INDEX versions_hlc ON versions (hlc);"),
    (
        13,
        "CREATE TABLE _undo_merge_base (
    note_id BLOB PRIMARY KEY REFERENCES notes (id) ON DELETE CASCADE,
    rev     INTEGER NOT NULL,
    hlc     TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    title   BLOB NOT NULL,
    meta    BLOB NOT NULL,
    body    BLOB NOT NULL
) STRICT;
         INSERT INTO _undo_merge_base (note_id, rev, hlc, deleted, title, meta, body)
           SELECT t.note_id, t.rev, t.hlc, t.deleted, coalesce(t.title, n.title), coalesce(t.meta, n.meta), coalesce(t.body, n.body) FROM merge_base t JOIN notes n ON n.id = t.note_id;
         DROP TABLE merge_base; ALTER TABLE _undo_merge_base RENAME TO merge_base;
CREATE TABLE _undo_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id           BLOB NOT NULL UNIQUE,       -- idempotency key, UUIDv7
    note_id         BLOB NOT NULL,
    hlc             TEXT NOT NULL,
    base_rev        INTEGER,                    -- fixed at first send
    deleted         INTEGER NOT NULL DEFAULT 0,
    title           BLOB NOT NULL,
    meta            BLOB NOT NULL,
    body            BLOB NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    coalesced       INTEGER NOT NULL DEFAULT 0, -- edits folded into this entry
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
         INSERT INTO _undo_outbox (seq, op_id, note_id, hlc, base_rev, deleted, title, meta, body, state, attempts, next_attempt_at, last_error, coalesced, created_at, updated_at)
           SELECT t.seq, t.op_id, t.note_id, t.hlc, t.base_rev, t.deleted, coalesce(t.title, n.title), coalesce(t.meta, n.meta), coalesce(t.body, n.body), t.state, t.attempts, t.next_attempt_at, t.last_error, t.coalesced, t.created_at, t.updated_at FROM outbox t JOIN notes n ON n.id = t.note_id;
         DROP TABLE outbox; ALTER TABLE _undo_outbox RENAME TO outbox;
         CREATE INDEX outbox_note ON outbox (note_id, state, attempts);
CREATE TABLE _undo_versions (
    note_id    BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    hlc        TEXT NOT NULL,
    why        TEXT NOT NULL
        CHECK (why IN ('edit', 'merge', 'remote', 'restore', 'lww_loser', 'merge_input', 'trash', 'untrash')),
    started_at INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    title      BLOB NOT NULL,
    meta       BLOB NOT NULL,
    body       BLOB NOT NULL,
    PRIMARY KEY (note_id, hlc)
) STRICT;
         INSERT INTO _undo_versions (note_id, hlc, why, started_at, at, size, title, meta, body)
           SELECT t.note_id, t.hlc, t.why, t.started_at, t.at, t.size, coalesce(t.title, n.title), coalesce(t.meta, n.meta), coalesce(t.body, n.body) FROM versions t JOIN notes n ON n.id = t.note_id;
         DROP TABLE versions; ALTER TABLE _undo_versions RENAME TO versions;
         CREATE INDEX versions_hlc ON versions (hlc);",
    ),
    (
        12,
        "DROP INDEX notes_list;
         CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC, id, hlc, title, trashed_at);
         ALTER TABLE notes DROP COLUMN kind;",
    ),
    (11, "DROP TABLE data_keys;"),
    (10, "DROP TABLE note_files; DROP TABLE file_chunks; DROP TABLE files;"),
    (
        9,
        "DROP TABLE versions; DROP INDEX notes_list; ALTER TABLE notes DROP COLUMN trashed_at;
         DELETE FROM sync_state WHERE key = 'trash_mirrored';
         CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC, id, hlc, title);",
    ),
    (8, "DROP TABLE own_pushes;"),
    (7, "DROP TABLE outbox_discarded; DROP TABLE sync_passes;"),
    (6, "DROP INDEX notes_list; CREATE INDEX notes_list ON notes (deleted, pinned DESC, updated_at DESC);"),
    (5, "DROP TABLE agreed_stamps;"),
    (
        4,
        "DROP TABLE quarantine; ALTER TABLE conflicts DROP COLUMN kind; ALTER TABLE conflicts DROP COLUMN local_title;
         ALTER TABLE conflicts DROP COLUMN local_meta; ALTER TABLE conflicts DROP COLUMN local_deleted;",
    ),
    (
        3,
        "ALTER TABLE conflicts DROP COLUMN remote_title; ALTER TABLE conflicts DROP COLUMN remote_meta;
         ALTER TABLE conflicts DROP COLUMN remote_deleted;",
    ),
    (2, "ALTER TABLE notes DROP COLUMN conflict_strategy;"),
];

/// The SQL that takes a store of the latest schema back to schema 1.
pub fn undo_to_v1() -> String {
    let latest = outpost_core::store::migrate::latest_version();
    assert!(UNDO_MIGRATIONS.iter().any(|(v, _)| *v == latest), "update UNDO_MIGRATIONS when adding migration {latest}");
    let mut sql = String::new();
    for (version, undo) in UNDO_MIGRATIONS.iter().filter(|(v, _)| *v <= latest) {
        sql.push_str(undo);
        sql.push_str(&format!("\nDELETE FROM _migrations WHERE version = {version};\n"));
    }
    sql.push_str("PRAGMA user_version = 1;");
    sql
}
