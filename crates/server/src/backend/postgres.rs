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
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{new_poke_channel, BackendError, Dialect, Poke, SqlBackend};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The notification channel pokes travel on; payload `"<user uuid>:<seq>"`.
const POKE_CHANNEL: &str = "outpost_poke";

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
        let pokes = new_poke_channel();
        // LISTEN before serving, so no poke after start-up is missed.
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(POKE_CHANNEL).await?;
        let task = tokio::spawn(forward_notifications(listener, pokes.clone()));
        // One pool for reads and writes: PostgreSQL runs them side by side,
        // and the counter row lock orders a user's pushes.
        Ok(Self::new(pool.clone(), pool, pokes, Some(task)))
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
