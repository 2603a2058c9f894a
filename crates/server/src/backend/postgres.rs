//! PostgreSQL backend: for real deployments, many stateless server
//! instances on one database.
//!
//! Pokes cross instances through `LISTEN`/`NOTIFY`: a push sends
//! `pg_notify` inside its transaction, so PostgreSQL delivers it only if and
//! when the change commits, and every instance (the sender included) hears
//! it on its listener connection and forwards it to its own subscribers.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};
use uuid::Uuid;

use super::{BackendError, Dialect, Poke, SessionEnded, Signals, SqlBackend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The notification channel pokes travel on; payload `"<user uuid>:<seq>"`.
const POKE_CHANNEL: &str = "outpost_poke";
/// The channel log-outs travel on, so a stream on any instance ends;
/// payload: the token hash in hex (already stored in the sessions table).
const SESSION_END_CHANNEL: &str = "outpost_session_end";

/// Enough for the concurrent pushes of one busy instance; each push holds a
/// connection for one short transaction.
const MAX_CONNECTIONS: u32 = 16;

impl SqlBackend<Postgres> {
    /// Opens `postgres://...`, migrates the database, and starts listening
    /// for pokes.
    pub async fn open(url: &str) -> Result<Self, BackendError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // sqlx takes an advisory lock, so instances starting together
        // migrate once.
        MIGRATOR.run(&pool).await?;
        let signals = Signals::new();
        // LISTEN before serving, so no poke after start-up is missed.
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([POKE_CHANNEL, SESSION_END_CHANNEL]).await?;
        let task = tokio::spawn(forward_notifications(listener, signals.clone()));
        // One pool for reads and writes: PostgreSQL runs them side by side,
        // and the counter row lock orders a user's pushes.
        Ok(Self::new(pool.clone(), pool, signals, Some(task), None))
    }
}

#[async_trait]
impl Dialect for Postgres {
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        // READ COMMITTED: writers of one user queue on their counter row,
        // writers of different users do not wait for each other.
        pool.begin().await
    }

    async fn poke_on_commit(tx: &mut Transaction<'static, Self>, user_id: Uuid, seq: u64) -> Result<bool, sqlx::Error> {
        // NOTIFY is delivered at commit, to every instance (this one
        // included, through its listener), and not at all on rollback.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(POKE_CHANNEL)
            .bind(format!("{user_id}:{seq}"))
            .execute(&mut **tx)
            .await?;
        Ok(false)
    }

    async fn session_end_on_commit(
        tx: &mut Transaction<'static, Self>,
        token_hash: &[u8; 32],
    ) -> Result<bool, sqlx::Error> {
        let hex: String = token_hash.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("SELECT pg_notify($1, $2)").bind(SESSION_END_CHANNEL).bind(hex).execute(&mut **tx).await?;
        Ok(false)
    }
}

async fn forward_notifications(mut listener: PgListener, signals: Signals) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) if n.channel() == SESSION_END_CHANNEL => match parse_token_hash(n.payload()) {
                Some(hash) => {
                    let _ = signals.ends.send(SessionEnded { token_hash: Some(hash) });
                }
                None => tracing::warn!("ignoring a malformed session-end notification"),
            },
            Ok(Some(n)) => match parse_poke(n.payload()) {
                Some(poke) => {
                    let _ = signals.pokes.send(poke);
                }
                None => tracing::warn!("ignoring a malformed poke notification"),
            },
            // The connection dropped and will be re-made on the next call;
            // notifications sent meanwhile are lost, so poke everyone and
            // have every stream check its session.
            Ok(None) => {
                tracing::warn!("poke listener lost its connection; reconnecting");
                let _ = signals.pokes.send(Poke { user_id: None, seq: 0 });
                let _ = signals.ends.send(SessionEnded { token_hash: None });
            }
            Err(e) => {
                tracing::warn!(error = %e, "poke listener failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn parse_token_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(hash)
}

fn parse_poke(payload: &str) -> Option<Poke> {
    let (user, seq) = payload.split_once(':')?;
    Some(Poke { user_id: Some(user.parse().ok()?), seq: seq.parse().ok()? })
}
