//! PostgreSQL backend: for real deployments, many stateless server
//! instances on one database.
//!
//! Pokes cross instances through `LISTEN`/`NOTIFY`: a push sends
//! `pg_notify` inside its transaction, so PostgreSQL delivers it only if and
//! when the change commits, and every instance (the sender included) hears
//! it on its listener connection and forwards it to its own subscribers.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use outpost_protocol::v1::{Op, PullResponse, PushResult};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{
    collect_page, new_poke_channel, row_to_change, to_i64, to_u64, AccountKey, Backend, BackendError, NewUser, NoteRow,
    Poke, UserRecord,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The notification channel pokes travel on; payload `"<user uuid>:<seq>"`.
const POKE_CHANNEL: &str = "outpost_poke";

/// Enough for the concurrent pushes of one busy instance; each push holds a
/// connection for one short transaction.
const MAX_CONNECTIONS: u32 = 16;

#[derive(Debug)]
pub struct PostgresBackend {
    pool: PgPool,
    /// Local subscribers (this instance's `/v1/events` streams).
    pokes: broadcast::Sender<Poke>,
    /// Forwards notifications to `pokes`; aborted by `close`.
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl PostgresBackend {
    pub async fn open(url: &str) -> Result<Self, BackendError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // sqlx takes an advisory lock, so instances starting together
        // migrate once.
        MIGRATOR.run(&pool).await?;
        let pokes = new_poke_channel();
        // LISTEN before serving, so no poke after start-up is missed.
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(POKE_CHANNEL).await?;
        let task = tokio::spawn(forward_notifications(listener, pokes.clone()));
        Ok(Self { pool, pokes, listener: Mutex::new(Some(task)) })
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.listener.lock() {
            if let Some(task) = guard.take() {
                task.abort();
            }
        }
    }
}

async fn forward_notifications(mut listener: PgListener, pokes: broadcast::Sender<Poke>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => match parse_poke(n.payload()) {
                Some(poke) => {
                    let _ = pokes.send(poke);
                }
                None => tracing::warn!("ignoring a malformed poke notification"),
            },
            // The connection dropped and will be re-made on the next call;
            // notifications sent meanwhile are lost, so poke everyone.
            Ok(None) => {
                tracing::warn!("poke listener lost its connection; reconnecting");
                let _ = pokes.send(Poke { user_id: None, seq: 0 });
            }
            Err(e) => {
                tracing::warn!(error = %e, "poke listener failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn parse_poke(payload: &str) -> Option<Poke> {
    let (user, seq) = payload.split_once(':')?;
    Some(Poke { user_id: Some(user.parse().ok()?), seq: seq.parse().ok()? })
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn create_user(&self, u: &NewUser) -> Result<(), BackendError> {
        let res = sqlx::query(
            "INSERT INTO users (id, username, auth_hash, wrapped_key, kdf_params, seq, created_ms)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(u.id)
        .bind(&u.username)
        .bind(&u.auth_hash)
        .bind(&u.wrapped_key)
        .bind(&u.kdf_params)
        .bind(u.created_ms)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(BackendError::UsernameTaken),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, BackendError> {
        let row: Option<(Uuid, String, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT id, auth_hash, wrapped_key, kdf_params FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, auth_hash, wrapped_key, kdf_params)| UserRecord { id, auth_hash, wrapped_key, kdf_params }))
    }

    async fn account_key(&self, user_id: Uuid) -> Result<Option<AccountKey>, BackendError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT wrapped_key, kdf_params FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_challenges WHERE user_id = $1 AND expires_ms <= $2")
            .bind(user_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO login_challenges (challenge, user_id, expires_ms) VALUES ($1, $2, $3)")
            .bind(challenge)
            .bind(user_id)
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_challenge(&self, user_id: Uuid, challenge: &[u8], now_ms: i64) -> Result<bool, BackendError> {
        // DELETE .. RETURNING is atomic: of two concurrent replays of one
        // challenge, exactly one gets the row.
        let expires: Option<i64> = sqlx::query_scalar(
            "DELETE FROM login_challenges WHERE challenge = $1 AND user_id = $2 RETURNING expires_ms",
        )
        .bind(challenge)
        .bind(user_id)
        .fetch_optional(&self.pool)
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
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now_ms)
            .bind(expires_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<Uuid>, BackendError> {
        Ok(sqlx::query_scalar("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_ms > $2")
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), BackendError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    async fn push(&self, user_id: Uuid, ops: &[Op]) -> Result<Vec<PushResult>, BackendError> {
        let mut tx = self.pool.begin().await?;
        // The row lock on the user's counter row, held to commit, serialises
        // this user's pushes across every instance: seq is handed out in
        // commit order. Always taken first, so no deadlock.
        let start: i64 = sqlx::query_scalar("UPDATE users SET seq = seq WHERE id = $1 RETURNING seq")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(BackendError::Corrupt("session of a missing user"))?;
        let mut seq = start;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let seen: Option<(i64, i64)> = sqlx::query_as("SELECT rev, seq FROM ops WHERE user_id = $1 AND op_id = $2")
                .bind(user_id)
                .bind(op.op_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((rev, s)) = seen {
                results.push(PushResult::Duplicate { rev: to_u64(rev)?, seq: to_u64(s)? });
                continue;
            }
            let current: Option<i64> = sqlx::query_scalar("SELECT rev FROM notes WHERE user_id = $1 AND note_id = $2")
                .bind(user_id)
                .bind(op.note_id)
                .fetch_optional(&mut *tx)
                .await?;
            if to_i64(op.base_rev) != Some(current.unwrap_or(0)) {
                let row: Option<NoteRow> = sqlx::query_as(
                    "SELECT seq, note_id, rev, hlc, deleted, payload FROM notes WHERE user_id = $1 AND note_id = $2",
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
                "INSERT INTO notes (user_id, note_id, rev, seq, hlc, deleted, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
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
            sqlx::query("INSERT INTO ops (user_id, op_id, note_id, rev, seq) VALUES ($1, $2, $3, $4, $5)")
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
            sqlx::query("UPDATE users SET seq = $1 WHERE id = $2").bind(seq).bind(user_id).execute(&mut *tx).await?;
            // Delivered at commit, to every instance, this one included.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(POKE_CHANNEL)
                .bind(format!("{user_id}:{seq}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user_id)
        .bind(cursor_i)
        .bind(i64::from(limit) + 1)
        .fetch(&self.pool);
        collect_page(rows, cursor, limit, max_bytes).await
    }

    async fn latest_seq(&self, user_id: Uuid) -> Result<u64, BackendError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM users WHERE id = $1").bind(user_id).fetch_optional(&self.pool).await?;
        to_u64(seq.unwrap_or(0))
    }

    fn subscribe(&self) -> broadcast::Receiver<Poke> {
        self.pokes.subscribe()
    }

    async fn ping(&self) -> Result<(), BackendError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        let task = self.listener.lock().ok().and_then(|mut g| g.take());
        if let Some(task) = task {
            task.abort();
        }
        self.pool.close().await;
    }
}
