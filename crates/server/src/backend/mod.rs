//! The storage seam: one [`Backend`] trait, two implementations chosen from
//! the database URL at start-up. All SQL of the server lives below here.
//!
//! Both backends keep the same guarantees, and `tests/story.rs` runs the
//! same story against each:
//! - a push batch is one transaction that first takes the user's counter
//!   row (`UPDATE users ... RETURNING seq`), so one user's writers are
//!   serialised and `seq` is handed out in commit order: a reader never sees
//!   seq N+1 committed while N is not;
//! - every statement is scoped by the user id of the caller's session.

use std::sync::Arc;

use async_trait::async_trait;
use outpost_protocol::v1::{Change, Op, PullResponse, PushResult};
use tokio::sync::broadcast;
use uuid::Uuid;

mod postgres;
mod sqlite;

pub use self::postgres::PostgresBackend;
pub use self::sqlite::SqliteBackend;

/// How many pokes may queue for a slow subscriber before it lags (a lagging
/// subscriber is poked anyway, so lag costs a pull, never a missed change).
const POKE_CAPACITY: usize = 1024;

/// A note to a user's connected devices: pull now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poke {
    /// `None` pokes everyone: sent when pokes may have been lost (the
    /// PostgreSQL listener reconnected).
    pub user_id: Option<Uuid>,
    /// The user's sequence after the change; 0 when unknown.
    pub seq: u64,
}

/// What registration stores.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    /// Argon2id PHC string of the client's auth key.
    pub auth_hash: String,
    pub wrapped_key: Vec<u8>,
    pub kdf_params: Vec<u8>,
    pub created_ms: i64,
}

/// What log-in needs about a user.
#[derive(Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub auth_hash: String,
    pub wrapped_key: Vec<u8>,
    pub kdf_params: Vec<u8>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The wrapped data key and KDF parameters of an account.
#[derive(Clone, Debug)]
pub struct AccountKey {
    pub wrapped_key: Vec<u8>,
    pub kdf_params: Vec<u8>,
}

/// A storage failure. Only the first two are the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("username is taken")]
    UsernameTaken,
    #[error("cursor {cursor} is past the account's latest change {latest}")]
    CursorOutOfRange { cursor: u64, latest: u64 },
    #[error("unsupported database URL: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(&'static str),
}

/// The server's storage. Every method that touches user data takes the
/// user id of the authenticated session and never reaches past it.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// Creates an account; [`BackendError::UsernameTaken`] if the name is.
    async fn create_user(&self, user: &NewUser) -> Result<(), BackendError>;
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, BackendError>;
    async fn account_key(&self, user_id: Uuid) -> Result<Option<AccountKey>, BackendError>;

    /// Stores a log-in challenge, and drops the user's expired ones.
    async fn put_challenge(
        &self,
        user_id: Uuid,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), BackendError>;
    /// Consumes a challenge: true only the first time, and only if it was
    /// issued to this user and has not expired.
    async fn take_challenge(&self, user_id: Uuid, challenge: &[u8], now_ms: i64) -> Result<bool, BackendError>;

    async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), BackendError>;
    /// The user of a live session.
    async fn session_user(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<Uuid>, BackendError>;
    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), BackendError>;

    /// Applies a batch of ops in one transaction; one result per op, in
    /// order. Pokes the user's devices after commit if anything applied.
    async fn push(&self, user_id: Uuid, ops: &[Op]) -> Result<Vec<PushResult>, BackendError>;
    /// Notes whose latest version has `seq > cursor`, in seq order: at most
    /// `limit`, and stopping after the change that crosses `max_bytes` of
    /// payload.
    async fn pull(
        &self,
        user_id: Uuid,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<PullResponse, BackendError>;
    /// The user's current sequence (0 before the first change).
    async fn latest_seq(&self, user_id: Uuid) -> Result<u64, BackendError>;

    /// Pokes of every user; subscribers filter by their own user id.
    fn subscribe(&self) -> broadcast::Receiver<Poke>;
    /// Answers when the database does.
    async fn ping(&self) -> Result<(), BackendError>;
    /// Stops background tasks and closes connections.
    async fn close(&self);
}

/// Opens (creating and migrating as needed) the backend a URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Backend>, BackendError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteBackend::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresBackend::open(url).await?))
    } else {
        Err(BackendError::UnsupportedUrl)
    }
}

fn to_i64(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

fn to_u64(v: i64) -> Result<u64, BackendError> {
    u64::try_from(v).map_err(|_| BackendError::Corrupt("negative counter"))
}

/// A stored note row, as both backends read it.
type NoteRow = (i64, Uuid, i64, String, bool, Vec<u8>);

fn row_to_change((seq, note_id, rev, hlc, deleted, payload): NoteRow) -> Result<Change, BackendError> {
    Ok(Change {
        seq: to_u64(seq)?,
        note_id,
        rev: to_u64(rev)?,
        hlc: hlc.parse().map_err(|_| BackendError::Corrupt("clock stamp"))?,
        deleted,
        payload: payload.into(),
    })
}

/// Collects a pull page from a row stream, honouring the count and byte
/// budgets; reads one row past the page to know whether more wait.
async fn collect_page<S>(mut rows: S, cursor: u64, limit: u32, max_bytes: usize) -> Result<PullResponse, BackendError>
where
    S: futures_util::Stream<Item = Result<NoteRow, sqlx::Error>> + Unpin,
{
    use futures_util::TryStreamExt as _;
    let mut changes = Vec::new();
    let mut bytes = 0usize;
    let mut more = false;
    while let Some(row) = rows.try_next().await? {
        if changes.len() >= limit as usize || bytes >= max_bytes {
            more = true;
            break;
        }
        let change = row_to_change(row)?;
        bytes += change.payload.len();
        changes.push(change);
    }
    let next_cursor = changes.last().map_or(cursor, |c| c.seq);
    Ok(PullResponse { changes, next_cursor, more })
}

fn new_poke_channel() -> broadcast::Sender<Poke> {
    broadcast::channel(POKE_CAPACITY).0
}
