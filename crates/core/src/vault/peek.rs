//! Reading a store without its key: counts, sync state, the account and
//! how it is unlocked are plaintext metadata, so a monitor (`outpost
//! status`) and the app's lock screen need no passphrase. Nothing here
//! writes.

use std::path::Path;

use rusqlite::Connection;

use super::account::{account_in, Account};
use crate::error::{Error, Result};
use crate::keys::Method;
use crate::model::StoreStatus;
use crate::store::{self, migrate};

/// Status of the store in `dir` without unlocking its key: counts and sync
/// state are plaintext metadata, so a monitor needs no passphrase.
pub fn peek_status(dir: &Path) -> Result<StoreStatus> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Err(Error::Invalid(format!("no Outpost store in {}", dir.display())));
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    store_status(&conn, None)
}

/// The account the store in `dir` syncs with and whether it is logged in
/// (holds a session), read without the key: both are plaintext metadata
/// (the session token itself is sealed). `None` when there is no store or
/// no account yet.
pub fn peek_account(dir: &Path) -> Result<Option<(Account, bool)>> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Ok(None);
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    let has_state: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_state')",
        [],
        |r| r.get(0),
    )?;
    if !has_state {
        return Ok(None);
    }
    let Some(account) = account_in(&conn)? else { return Ok(None) };
    let logged_in = store::get_kv(&conn, "sync_state", "token")?.is_some();
    Ok(Some((account, logged_in)))
}

/// How the store in `dir` is unlocked (`keys.method` values), read without
/// changing anything; empty when there is no store yet.
pub fn key_methods(dir: &Path) -> Result<Vec<String>> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    let has_keys: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keys')",
        [],
        |r| r.get(0),
    )?;
    if !has_keys {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT DISTINCT method FROM keys ORDER BY method")?;
    let methods = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(methods)
}

/// The store's counts and sync state, all plaintext metadata.
pub(super) fn store_status(conn: &Connection, method: Option<Method>) -> Result<StoreStatus> {
    // Notes only, not notebooks (a store not migrated yet has none).
    let has_kind: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM pragma_table_info('notes') WHERE name = 'kind')", [], |r| {
            r.get(0)
        })?;
    let counts = if has_kind {
        "SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted = 1), 0) FROM notes WHERE kind = 0"
    } else {
        "SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted = 1), 0) FROM notes"
    };
    let (notes, tombstones): (u64, u64) = conn.query_row(counts, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (pending, failed, coalesced, oldest): (u64, u64, u64, Option<i64>) = conn.query_row(
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0),
                coalesce(sum(coalesced), 0), min(CASE WHEN state = 'pending' THEN created_at END)
         FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let open_conflicts: u64 =
        conn.query_row("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL", [], |r| r.get(0))?;
    let key_method = match method {
        Some(m) => m.to_string(),
        None => {
            let mut stmt = conn.prepare("SELECT method FROM keys ORDER BY method")?;
            let methods: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            methods.join(", ")
        }
    };
    Ok(StoreStatus {
        notes,
        tombstones,
        pending,
        failed,
        coalesced,
        oldest_pending_at: oldest,
        open_conflicts,
        last_sync_at: store::get_kv(conn, "sync_state", "last_sync_at")?.and_then(|s| s.parse().ok()),
        server_reset_at: store::get_kv(conn, "sync_state", "server_reset_at")?.and_then(|s| s.parse().ok()),
        cursor: store::get_kv(conn, "sync_state", "cursor")?,
        server: store::get_kv(conn, "sync_state", "server")?,
        schema_version: migrate::status(conn)?.current,
        key_method,
    })
}
