//! The save and list paths through sqlx's SQLite driver: the same SQL and
//! pragmas as [`crate::rusqlite_store`], on one connection (sqlx runs it on
//! its own worker thread and hands results back over a channel), with
//! sqlx's statement cache.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row};

use crate::{Result, Save, COALESCE_OUTBOX, INSERT_OUTBOX, LIST_TITLES, UPSERT_NOTE};

/// A store opened through sqlx.
#[derive(Debug)]
pub struct SqlxStore {
    conn: SqliteConnection,
}

impl SqlxStore {
    /// Open `path` with the engine's pragmas.
    pub async fn open(path: &Path) -> Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .pragma("secure_delete", "ON")
            .busy_timeout(std::time::Duration::from_secs(5));
        Ok(Self { conn: SqliteConnection::connect_with(&opts).await? })
    }

    /// One durable save: on disk when this returns.
    pub async fn save(&mut self, s: &Save) -> Result<()> {
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(UPSERT_NOTE)
            .bind(&s.id[..])
            .bind(&s.hlc)
            .bind(s.pinned)
            .bind(s.created_at)
            .bind(s.updated_at)
            .bind(false)
            .bind(&s.title)
            .bind(&s.meta)
            .bind(&s.body)
            .execute(&mut *tx)
            .await?;
        let folded = sqlx::query(COALESCE_OUTBOX)
            .bind(&s.id[..])
            .bind(&s.hlc)
            .bind(false)
            .bind(&s.title)
            .bind(&s.meta)
            .bind(&s.body)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if folded == 0 {
            sqlx::query(INSERT_OUTBOX)
                .bind(&s.op_id[..])
                .bind(&s.id[..])
                .bind(&s.hlc)
                .bind(false)
                .bind(&s.title)
                .bind(&s.meta)
                .bind(&s.body)
                .bind(s.updated_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ids and sealed titles of all live notes, in list order, owned.
    pub async fn list(&mut self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let rows = sqlx::query(LIST_TITLES).fetch_all(&mut self.conn).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}
