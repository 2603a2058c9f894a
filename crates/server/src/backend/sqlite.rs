//! SQLite backend: one file, WAL, the default.
//!
//! Writes go through a pool of exactly one connection: SQLite has one
//! writer anyway, and queueing in the pool is fairer and cheaper than
//! transactions fighting over the lock with `SQLITE_BUSY`. Reads use their
//! own read-only pool and, thanks to WAL, never wait for the writer.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use outpost_protocol::v1::{Op, PullResponse, PushResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{
    collect_page, new_poke_channel, row_to_change, to_i64, to_u64, AccountKey, Backend, BackendError, NewUser, NoteRow,
    Poke, UserRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// Read connections; WAL lets them run beside the writer.
const READERS: u32 = 4;

#[derive(Debug)]
pub struct SqliteBackend {
    /// The only connection that writes (see the module docs).
    writer: SqlitePool,
    /// Read-only connections for pulls, session checks and log-in look-ups.
    reader: SqlitePool,
    /// In-process pokes: one SQLite file has one server process.
    pokes: broadcast::Sender<Poke>,
}

impl SqliteBackend {
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
        Ok(Self { writer, reader, pokes: new_poke_channel() })
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn create_user(&self, u: &NewUser) -> Result<(), BackendError> {
        let res = sqlx::query(
            "INSERT INTO users (id, username, auth_hash, wrapped_key, kdf_params, seq, created_ms)
             VALUES (?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(u.id)
        .bind(&u.username)
        .bind(&u.auth_hash)
        .bind(&u.wrapped_key)
        .bind(&u.kdf_params)
        .bind(u.created_ms)
        .execute(&self.writer)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(BackendError::UsernameTaken),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, BackendError> {
        let row: Option<(Uuid, String, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT id, auth_hash, wrapped_key, kdf_params FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(id, auth_hash, wrapped_key, kdf_params)| UserRecord { id, auth_hash, wrapped_key, kdf_params }))
    }

    async fn account_key(&self, user_id: Uuid) -> Result<Option<AccountKey>, BackendError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT wrapped_key, kdf_params FROM users WHERE id = ?")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|(wrapped_key, kdf_params)| AccountKey { wrapped_key, kdf_params }))
    }

    async fn put_challenge(
        &self,
        user_id: Uuid,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), BackendError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM login_challenges WHERE user_id = ? AND expires_ms <= ?")
            .bind(user_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_challenges (challenge, user_id, expires_ms) VALUES (?, ?, ?)")
            .bind(challenge)
            .bind(user_id)
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_challenge(&self, user_id: Uuid, challenge: &[u8], now_ms: i64) -> Result<bool, BackendError> {
        // Deleted whether or not it is still valid: a challenge is tried once.
        let expires: Option<i64> =
            sqlx::query_scalar("DELETE FROM login_challenges WHERE challenge = ? AND user_id = ? RETURNING expires_ms")
                .bind(challenge)
                .bind(user_id)
                .fetch_optional(&self.writer)
                .await?;
        Ok(expires.is_some_and(|e| e > now_ms))
    }

    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), BackendError> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now_ms)
            .bind(expires_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<Uuid>, BackendError> {
        Ok(sqlx::query_scalar("SELECT user_id FROM sessions WHERE token_hash = ? AND expires_ms > ?")
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), BackendError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash).execute(&self.writer).await?;
        Ok(())
    }

    async fn push(&self, user_id: Uuid, ops: &[Op]) -> Result<Vec<PushResult>, BackendError> {
        let mut tx = self.writer.begin().await?;
        // Takes the user's counter row first (see the module docs of
        // `backend`); on SQLite the single writer serialises anyway.
        let start: i64 = sqlx::query_scalar("UPDATE users SET seq = seq WHERE id = ? RETURNING seq")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(BackendError::Corrupt("session of a missing user"))?;
        let mut seq = start;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let seen: Option<(i64, i64)> = sqlx::query_as("SELECT rev, seq FROM ops WHERE user_id = ? AND op_id = ?")
                .bind(user_id)
                .bind(op.op_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((rev, s)) = seen {
                results.push(PushResult::Duplicate { rev: to_u64(rev)?, seq: to_u64(s)? });
                continue;
            }
            let current: Option<i64> = sqlx::query_scalar("SELECT rev FROM notes WHERE user_id = ? AND note_id = ?")
                .bind(user_id)
                .bind(op.note_id)
                .fetch_optional(&mut *tx)
                .await?;
            if to_i64(op.base_rev) != Some(current.unwrap_or(0)) {
                let row: Option<NoteRow> = sqlx::query_as(
                    "SELECT seq, note_id, rev, hlc, deleted, payload FROM notes WHERE user_id = ? AND note_id = ?",
                )
                .bind(user_id)
                .bind(op.note_id)
                .fetch_optional(&mut *tx)
                .await?;
                results.push(PushResult::Conflict { current: row.map(row_to_change).transpose()? });
                continue;
            }
            seq += 1;
            let rev = current.unwrap_or(0) + 1;
            sqlx::query(
                "INSERT INTO notes (user_id, note_id, rev, seq, hlc, deleted, payload) VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (user_id, note_id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq,
                   hlc = excluded.hlc, deleted = excluded.deleted, payload = excluded.payload",
            )
            .bind(user_id)
            .bind(op.note_id)
            .bind(rev)
            .bind(seq)
            .bind(op.hlc.to_string())
            .bind(op.deleted)
            .bind(op.payload.as_ref())
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO ops (user_id, op_id, note_id, rev, seq) VALUES (?, ?, ?, ?, ?)")
                .bind(user_id)
                .bind(op.op_id)
                .bind(op.note_id)
                .bind(rev)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            results.push(PushResult::Applied { rev: to_u64(rev)?, seq: to_u64(seq)? });
        }
        if seq != start {
            sqlx::query("UPDATE users SET seq = ? WHERE id = ?").bind(seq).bind(user_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        if seq != start {
            // No receivers is fine: nobody is listening.
            let _ = self.pokes.send(Poke { user_id: Some(user_id), seq: to_u64(seq)? });
        }
        Ok(results)
    }

    async fn pull(
        &self,
        user_id: Uuid,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<PullResponse, BackendError> {
        let latest = self.latest_seq(user_id).await?;
        if cursor > latest {
            return Err(BackendError::CursorOutOfRange { cursor, latest });
        }
        let cursor_i = to_i64(cursor).ok_or(BackendError::CursorOutOfRange { cursor, latest })?;
        let rows = sqlx::query_as::<_, NoteRow>(
            "SELECT seq, note_id, rev, hlc, deleted, payload FROM notes
             WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(user_id)
        .bind(cursor_i)
        .bind(i64::from(limit) + 1)
        .fetch(&self.reader);
        collect_page(rows, cursor, limit, max_bytes).await
    }

    async fn latest_seq(&self, user_id: Uuid) -> Result<u64, BackendError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM users WHERE id = ?").bind(user_id).fetch_optional(&self.reader).await?;
        to_u64(seq.unwrap_or(0))
    }

    fn subscribe(&self) -> broadcast::Receiver<Poke> {
        self.pokes.subscribe()
    }

    async fn ping(&self) -> Result<(), BackendError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
