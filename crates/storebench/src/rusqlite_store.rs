//! The save and list paths through rusqlite, as the engine runs them:
//! one connection, cached statements, `BEGIN IMMEDIATE`.

use std::path::Path;

use rusqlite::{params, Connection, TransactionBehavior};

use crate::{Result, Save, COALESCE_OUTBOX, INSERT_OUTBOX, LIST_TITLES, UPSERT_NOTE};

/// Open `path` with the engine's pragmas (`crates/core/src/store/mod.rs`).
pub fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Upsert the note row and queue or coalesce its outbox entry, inside the
/// caller's transaction.
pub fn write(conn: &Connection, s: &Save) -> Result<()> {
    conn.prepare_cached(UPSERT_NOTE)?.execute(params![
        s.id,
        s.hlc,
        s.pinned,
        s.created_at,
        s.updated_at,
        false,
        s.title,
        s.meta,
        s.body
    ])?;
    let folded = conn.prepare_cached(COALESCE_OUTBOX)?.execute(params![
        s.id,
        s.hlc,
        false,
        s.title,
        s.meta,
        s.body,
        s.updated_at
    ])?;
    if folded == 0 {
        conn.prepare_cached(INSERT_OUTBOX)?.execute(params![
            s.op_id,
            s.id,
            s.hlc,
            false,
            s.title,
            s.meta,
            s.body,
            s.updated_at
        ])?;
    }
    Ok(())
}

/// A store opened through rusqlite.
#[derive(Debug)]
pub struct RusqliteStore {
    conn: Connection,
}

impl RusqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { conn: connect(path)? })
    }

    /// One durable save: on disk when this returns.
    pub fn save(&mut self, s: &Save) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        write(&tx, s)?;
        tx.commit()?;
        Ok(())
    }

    /// Ids and sealed titles of all live notes, in list order, owned.
    pub fn list(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut stmt = self.conn.prepare_cached(LIST_TITLES)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
