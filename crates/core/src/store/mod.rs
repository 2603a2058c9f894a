//! The SQLite connection: opening, validation and pragmas. All SQL of the
//! client lives under this module and [`crate::vault`].

pub mod checkpoint;
pub mod migrate;
pub mod schema;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{Error, Result};

/// `PRAGMA application_id` of an Outpost store ("OUTP").
pub const APPLICATION_ID: i32 = 0x4F55_5450;

/// File name of the store inside the data directory.
pub const DB_FILE: &str = "outpost.db";

/// Open (creating if missing) the database at `path`, refuse files that
/// are not SQLite or not Outpost's, and set the pragmas every connection
/// needs. Does not migrate.
pub fn connect(path: &Path) -> Result<Connection> {
    connect_with_vfs(path, None)
}

/// [`connect`] through the SQLite VFS registered as `vfs` (`None`: the
/// default). Tests use this to inject disk faults (`outpost-faultvfs`).
pub fn connect_with_vfs(path: &Path, vfs: Option<&str>) -> Result<Connection> {
    if path.exists() {
        check_is_store(path)?;
    }
    let conn = match vfs {
        None => Connection::open(path),
        Some(vfs) => Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs),
    }
    .map_err(|e| classify(e, path))?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is on
    // disk (fsync) before save() returns, so a note shown as saved survives
    // a crash and a power cut.
    conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| classify(e, path))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Up to 8 MiB of page cache (grown on demand): the list walks its
    // covering index (about 1.5 MB for 10,000 notes), which stays cached;
    // a search reads every body and gets them from the OS's cache instead
    // of keeping ~30 MB in this process (BENCHMARKS.md, "Reading").
    conn.pragma_update(None, "cache_size", -8_192)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if app_id == 0 {
        conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    Ok(conn)
}

/// Read-only look at an existing file before anything can write to it.
fn check_is_store(path: &Path) -> Result<()> {
    let not_db = || Error::NotADatabase { path: path.to_path_buf() };
    let ro = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| classify(e, path))?;
    let app_id: i32 = ro.pragma_query_value(None, "application_id", |r| r.get(0)).map_err(|e| classify(e, path))?;
    let tables: i64 =
        ro.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(|e| classify(e, path))?;
    if app_id == APPLICATION_ID || (app_id == 0 && tables == 0) {
        Ok(())
    } else {
        Err(not_db())
    }
}

fn classify(e: rusqlite::Error, path: &Path) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            Error::NotADatabase { path: path.to_path_buf() }
        }
        _ => Error::Db(e),
    }
}

/// The path of the store in data directory `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

pub(crate) fn get_kv(conn: &Connection, table: &str, key: &str) -> Result<Option<String>> {
    Ok(conn.query_row(&format!("SELECT value FROM {table} WHERE key = ?1"), [key], |r| r.get(0)).optional()?)
}

pub(crate) fn set_kv(conn: &Connection, table: &str, key: &str, value: &str) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO {table} (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ),
        [key, value],
    )?;
    Ok(())
}
