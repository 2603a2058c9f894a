//! One SQLite database, one server process. The session cache is exact
//! and the pokes after a commit complete only while a single process
//! serves the file (`backend/sqlite.rs`, `lock`), so a second server on
//! the same file is refused with a message that says so, and may serve it
//! once the first has closed.

use outpost_server::backend::{self, BackendError, NewUser};
use uuid::Uuid;

fn user(name: &str) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        username: name.to_owned(),
        auth_hash: "$argon2id$stand-in".into(),
        wrapped_key: vec![1; 16],
        kdf_params: vec![],
        created_ms: 0,
    }
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_file_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("server.db");
    let url = format!("sqlite://{}", db.display());
    let first = backend::open(&url).await.expect("the first server opens the file");

    let refused = backend::open(&url).await.expect_err("a second server on the same file is refused");
    assert!(matches!(&refused, BackendError::InUse(path) if path == &db), "{refused:?}");
    let message = refused.to_string();
    assert!(
        message.contains("another outpost server is serving") && message.contains("server.db"),
        "the message names the file and the cause: {message}"
    );

    // The refusal changed nothing for the first: it writes and reads.
    first.create_user(&user("ada")).await.expect("the first server still writes");
    assert!(first.find_user("ada").await.expect("read").is_some());
    first.close().await;

    let next = backend::open(&url).await.expect("once the first has closed, another server may serve the file");
    assert!(next.find_user("ada").await.expect("read").is_some(), "the same database");
    next.close().await;
}

/// Files in the working directory named like sqlx's databases in memory.
fn in_memory_files() -> Vec<String> {
    std::fs::read_dir(".")
        .expect("the working directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("file:sqlx-in-memory"))
        .collect()
}

/// A database in memory is this process's alone: no file on disk, so no
/// lock file either, and two may be open at once. (sqlx names
/// one `file:sqlx-in-memory-N`; taken for a path, that made a database
/// file and a lock file of that name in the working directory.)
#[tokio::test]
async fn a_database_in_memory_makes_no_files() {
    let before = in_memory_files();
    for url in ["sqlite::memory:", "sqlite://ignored.db?mode=memory"] {
        let one = backend::open(url).await.expect("one");
        let two = backend::open(url).await.expect("two, beside it: no lock between them");
        one.create_user(&user("ada")).await.expect("a write");
        two.create_user(&user("ada")).await.expect("a write");
        one.close().await;
        two.close().await;
    }
    assert_eq!(in_memory_files(), before, "no file made for a database in memory");
    assert!(!std::path::Path::new("ignored.db").exists() && !std::path::Path::new("ignored.db-server.lock").exists());
}
