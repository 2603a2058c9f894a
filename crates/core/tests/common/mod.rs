//! Shared by the core's integration tests: a real sync server
//! (`outpost_server::serve` on 127.0.0.1 with a throw-away SQLite
//! database, stopped on drop), and store-file helpers for the fault tests.
#![allow(dead_code)]

use std::path::Path;

use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn server() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = outpost_server::Config::new(format!("sqlite://{}", dir.path().join("server.db").display()));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        outpost_server::serve(listener, config, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestServer { url: format!("http://{addr}"), stop: Some(tx), _dir: dir }
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
