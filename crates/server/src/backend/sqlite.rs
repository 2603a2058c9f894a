//! SQLite backend: one file, WAL, the default.
//!
//! Writes go through a pool of exactly one connection: SQLite has one
//! writer anyway, and queueing in the pool is fairer and cheaper than
//! transactions fighting over the lock with `SQLITE_BUSY`. Reads use their
//! own read-only pool and, thanks to WAL, never wait for the writer.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};

use uuid::Uuid;

use super::{new_poke_channel, BackendError, Dialect, SqlBackend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Read connections; WAL lets them run beside the writer.
const READERS: u32 = 4;

impl SqlBackend<Sqlite> {
    /// Opens `sqlite://PATH`, creating the file if missing, and migrates it.
    pub async fn open(url: &str) -> Result<Self, BackendError> {
        let base = SqliteConnectOptions::from_str(url)?
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged push survives power loss, not only a
            // crash of this process; the client deletes its outbox entry on
            // our answer, so the answer must be durable.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer =
            SqlitePoolOptions::new().max_connections(1).connect_with(base.clone().create_if_missing(true)).await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(READERS).connect_with(base.read_only(true)).await?;
        Ok(Self::new(writer, reader, new_poke_channel(), None))
    }
}

#[async_trait]
impl Dialect for Sqlite {
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        // IMMEDIATE takes the write lock at BEGIN. The one writer
        // connection already serialises this process; this also keeps any
        // other process that opens the file from slipping a write in
        // between our first read and first write.
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn poke_on_commit(_: &mut Transaction<'static, Self>, _: Uuid, _: u64) -> Result<bool, sqlx::Error> {
        // One SQLite file has one server process: its own subscribers are
        // all there are.
        Ok(true)
    }
}
