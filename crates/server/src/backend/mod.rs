//! The storage seam: one [`Backend`] trait, served over SQLite or
//! PostgreSQL as the database URL says at start-up. All SQL of the server
//! lives below here.
//!
//! # Layout
//! - here: the trait, and [`SqlBackend`], its one implementation. Every
//!   algorithm (push, pull paging, sessions, log-in challenges) and every
//!   statement is written once, generic over the sqlx database; the
//!   statements are portable SQL (`$n` parameters, `ON CONFLICT`,
//!   `RETURNING`), which both databases run as written.
//! - `group.rs`: the push algorithm (decided in Rust, from what the
//!   database holds) and group commit, on both databases.
//! - `sqlite.rs`, `postgres.rs`: what differs, and only that: opening
//!   (pools, pragmas, migrations), how a write transaction begins, how
//!   pokes travel ([`Dialect`]), and how a group of pushes commits (both
//!   set-based, in each one's SQL: `VALUES` lists; arrays);
//!   PostgreSQL's `LISTEN` task.
//!
//! Both backends keep the same guarantees, and `tests/story.rs` runs the
//! same story against each:
//! - pushes commit in groups (`group.rs`), and a push first takes its
//!   user's counter row, so one user's writers are serialised and `seq` is
//!   handed out in commit order: a reader never sees seq N+1 committed
//!   while N is not. On PostgreSQL that is the row lock, held to commit; on
//!   SQLite the one writer connection and `BEGIN IMMEDIATE`;
//! - every statement is scoped by the user id of the caller's session.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use outpost_protocol::v1::{Change, Op, PullResponse, PushResult, SkipRanges};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Transaction, Type};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use uuid::Uuid;

mod files;
mod group;
mod postgres;
mod session_cache;
mod sqlite;

pub use files::{ChunkPut, FileDeclaration, FileGcReport, FileRecord};
pub use sqlite::LOCK_SUFFIX;

/// The SQLite backend: one file, WAL, the default.
pub type SqliteBackend = SqlBackend<sqlx::Sqlite>;
/// The PostgreSQL backend: many stateless instances on one database.
pub type PostgresBackend = SqlBackend<sqlx::Postgres>;

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

/// A session that ended (log-out or revocation), for the event streams
/// opened with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEnded {
    /// The session's token hash. `None`: sessions may have ended unheard
    /// (the PostgreSQL listener reconnected); every stream checks its own.
    pub token_hash: Option<[u8; 32]>,
}

/// A live session: whose, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveSession {
    pub user_id: Uuid,
    pub expires_ms: i64,
    /// When it was last written as seen (see [`Backend::touch_session`]).
    pub last_seen_ms: i64,
}

/// What a new session stores besides its token hash and user.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// Public and random: names the session to its own account, and is
    /// neither the token nor derived from it.
    pub id: Uuid,
    /// Sanitized already (`outpost_protocol::v1::sanitize_device_name`).
    pub device_name: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// A session as its account's listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub device_name: Option<String>,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub expires_ms: i64,
    /// The session the listing was asked with.
    pub current: bool,
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

/// An account's TOTP secret and state (`account_totp`).
#[derive(Clone)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    /// False while the secret is pending (set up, not yet confirmed).
    pub enabled: bool,
    /// The time step of the last code accepted.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord").field("enabled", &self.enabled).finish_non_exhaustive()
    }
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

/// A passphrase change as the backend stores it (see
/// [`Backend::change_passphrase`]).
#[derive(Clone)]
pub struct PassphraseChange {
    /// The wrapped key the change replaces: it applies only if this is
    /// still the account's.
    pub expected_wrapped_key: Vec<u8>,
    /// Argon2id PHC string of the new auth key.
    pub auth_hash: String,
    pub wrapped_key: Vec<u8>,
    pub kdf_params: Vec<u8>,
    /// End every session of the account but the caller's.
    pub end_other_sessions: bool,
}

impl std::fmt::Debug for PassphraseChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassphraseChange").field("end_other_sessions", &self.end_other_sessions).finish_non_exhaustive()
    }
}

/// What storing one snapshot chunk did ([`Backend::put_snapshot_chunk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotPut {
    /// Stored; `complete` when it was the last one missing.
    Stored { complete: bool },
    /// The account has a snapshot (complete or being uploaded) at a higher
    /// cursor: nothing stored.
    Stale,
    /// The cursor is past the account's latest change: nothing stored.
    CursorOutOfRange { latest: u64 },
}

/// The account's complete snapshot with the highest cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub cursor: u64,
    pub chunks: u32,
    pub bytes: u64,
}

/// A storage failure. `UsernameTaken`, `CursorOutOfRange`,
/// `QuotaExceeded`, `AccountDeleted` and `KeyChanged` answer the caller's
/// request (or the account's state); the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("username is taken")]
    UsernameTaken,
    #[error("cursor {cursor} is past the account's latest change {latest}")]
    CursorOutOfRange { cursor: u64, latest: u64 },
    #[error("this push would store {would} bytes of notes; the account may store {quota} (it stores {stored})")]
    QuotaExceeded { stored: u64, would: u64, quota: u64 },
    #[error("the account was deleted")]
    AccountDeleted,
    #[error("unsupported database URL: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot make {0} private (owner-only): {1}")]
    Files(std::path::PathBuf, #[source] std::io::Error),
    /// Another server process holds the SQLite database's lock file.
    #[error(
        "another outpost server is serving {0}: one SQLite database takes one server process (stop the other, \
         or use PostgreSQL to run several)"
    )]
    InUse(std::path::PathBuf),
    #[error("cannot lock {0}: {1}")]
    Lock(std::path::PathBuf, #[source] std::io::Error),
    #[error("stored data is not valid: {0}")]
    Corrupt(&'static str),
    /// A passphrase change named a wrapped key that is no longer the
    /// account's: another change won.
    #[error("the account's wrapped key is not the one this change replaces")]
    KeyChanged,
    /// Declaring a file would take the account's files past their quota.
    #[error("this file of {size} bytes does not fit: the account's files may hold {quota} bytes and hold {stored}")]
    FileQuotaExceeded { stored: u64, size: u64, quota: u64 },
}

/// The server's storage. Every method that touches user data takes the
/// user id of the authenticated session and never reaches past it.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// Creates an account; [`BackendError::UsernameTaken`] if the name is.
    async fn create_user(&self, user: &NewUser) -> Result<(), BackendError>;
    async fn find_user(&self, username: &str) -> Result<Option<UserRecord>, BackendError>;
    async fn account_key(&self, user_id: Uuid) -> Result<Option<AccountKey>, BackendError>;

    /// Stores a log-in challenge for `username` (whether or not it has an
    /// account: the work must not tell), and drops every expired one.
    async fn put_challenge(
        &self,
        username: &str,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), BackendError>;
    /// Consumes a challenge: true only the first time, and only if it was
    /// issued to this username and has not expired.
    async fn take_challenge(&self, username: &str, challenge: &[u8], now_ms: i64) -> Result<bool, BackendError>;

    /// The server secret called `name`: 32 random bytes made on first use
    /// and kept in the database, the same for every instance and across
    /// restarts.
    async fn server_secret(&self, name: &str) -> Result<[u8; 32], BackendError>;

    async fn create_session(&self, token_hash: &[u8], user_id: Uuid, session: &NewSession) -> Result<(), BackendError>;
    /// The user and expiry of a live session.
    async fn session_user(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<LiveSession>, BackendError>;
    /// Records the session as seen at `now_ms`, unless it was seen at or
    /// after `stale_before_ms` (another request or instance got there
    /// first): callers touch only sessions last seen long enough ago, so
    /// this is one small write a minute per session, not one per request.
    async fn touch_session(&self, token_hash: &[u8], now_ms: i64, stale_before_ms: i64) -> Result<(), BackendError>;
    /// Ends a session, and tells the event streams opened with it (on
    /// every instance) once that commits.
    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), BackendError>;
    /// The user's live sessions, oldest first; `current` marks the one
    /// whose token hash is `current`.
    async fn list_sessions(
        &self,
        user_id: Uuid,
        current: &[u8; 32],
        now_ms: i64,
    ) -> Result<Vec<SessionRecord>, BackendError>;
    /// Ends the user's live session `id`, as [`Backend::delete_session`]
    /// does. False when the user has no live session with that id, whoever
    /// else may have one: nothing is ended then.
    async fn revoke_session(&self, user_id: Uuid, id: Uuid, now_ms: i64) -> Result<bool, BackendError>;
    /// Ends every session of the user but the one whose token hash is
    /// `keep`; how many live ones ended.
    async fn revoke_other_sessions(&self, user_id: Uuid, keep: &[u8; 32], now_ms: i64) -> Result<u64, BackendError>;

    /// The username and credentials of the account `user_id`, for the
    /// requests that prove the passphrase again (a passphrase change, an
    /// account deletion: checked and limited like a log-in under the
    /// username).
    async fn user_by_id(&self, user_id: Uuid) -> Result<Option<(String, UserRecord)>, BackendError>;
    /// Replaces the account's auth hash, wrapped key and KDF parameters in
    /// one transaction, if its wrapped key is still
    /// `change.expected_wrapped_key` (else [`BackendError::KeyChanged`],
    /// and nothing changes); with `change.end_other_sessions`, ends every
    /// session of the account but `caller` in the same transaction, and
    /// tells their event streams as a revocation does. How many live
    /// sessions ended.
    async fn change_passphrase(
        &self,
        user_id: Uuid,
        caller: &[u8; 32],
        change: &PassphraseChange,
        now_ms: i64,
    ) -> Result<u64, BackendError>;

    /// Applies a batch of ops in one transaction; one result per op, in
    /// order. Pokes the user's devices after commit if anything applied.
    async fn push(&self, user_id: Uuid, ops: &[Op]) -> Result<Vec<PushResult>, BackendError> {
        self.push_within(user_id, ops, u64::MAX).await
    }
    /// [`Backend::push`] under a storage quota: a batch after which the
    /// user's notes would hold more than `quota_bytes` of payload, and more
    /// than before it, is refused whole ([`BackendError::QuotaExceeded`]).
    /// A batch that shrinks an account already over its quota (deletes,
    /// smaller edits) applies.
    async fn push_within(&self, user_id: Uuid, ops: &[Op], quota_bytes: u64) -> Result<Vec<PushResult>, BackendError> {
        self.push_by(user_id, None, ops, quota_bytes).await
    }
    /// [`Backend::push_within`], recording `writer` (the session's token
    /// hash) as the writer of each version it stores, so that session's
    /// pulls can leave its own versions out ([`Backend::pull_skipping`]).
    async fn push_by(
        &self,
        user_id: Uuid,
        writer: Option<&[u8; 32]>,
        ops: &[Op],
        quota_bytes: u64,
    ) -> Result<Vec<PushResult>, BackendError>;
    /// Notes whose latest version has `seq > cursor`, in seq order: at most
    /// `limit`, and stopping after the change that crosses `max_bytes` of
    /// payload.
    async fn pull(
        &self,
        user_id: Uuid,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<PullResponse, BackendError> {
        self.pull_skipping(user_id, cursor, limit, max_bytes, None).await
    }
    /// [`Backend::pull`], leaving out (but moving `next_cursor` past) each
    /// version whose seq is in `skip.1` and which session `skip.0` wrote:
    /// both the device's word (it recorded that seq as its own push) and
    /// the server's (that session wrote what is there now) must agree. The
    /// count limit bounds the rows looked at, skipped or not.
    async fn pull_skipping(
        &self,
        user_id: Uuid,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
        skip: Option<(&[u8; 32], &SkipRanges)>,
    ) -> Result<PullResponse, BackendError>;
    /// The user's current sequence (0 before the first change).
    async fn latest_seq(&self, user_id: Uuid) -> Result<u64, BackendError>;

    // Account deletion (`POST /v1/account/delete`).

    /// Deletes the account and everything kept for it, in one transaction:
    /// its notes, op ids, sessions, log-in challenges and the user row. The
    /// tokens of its sessions still live are remembered by hash
    /// ([`Backend::session_of_deleted_account`]) until they would have
    /// expired, and their event streams end once it commits, on every
    /// instance. False when there is no such account (deleted already).
    async fn delete_account(&self, user_id: Uuid, now_ms: i64) -> Result<bool, BackendError>;
    /// The account's TOTP record, pending or enabled; none without one.
    async fn totp(&self, user_id: Uuid) -> Result<Option<TotpRecord>, BackendError>;
    /// Makes `secret` the account's pending TOTP secret, replacing a
    /// pending one. False, and nothing changed, if TOTP is on.
    async fn put_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> Result<bool, BackendError>;
    /// Turns TOTP on with `step` used, if `secret` is still the pending
    /// one (no setup replaced it meanwhile). False, and nothing changed,
    /// otherwise.
    async fn enable_totp(&self, user_id: Uuid, secret: &[u8], step: i64, now_ms: i64) -> Result<bool, BackendError>;
    /// Records `step` as used, if TOTP is on and no code of `step` or a
    /// later one was accepted: atomic, so of two log-ins with one code
    /// exactly one gets true.
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, BackendError>;
    /// Turns TOTP off (forgets the secret), on the terms of
    /// [`Backend::use_totp_step`] for `step`. False, and nothing changed,
    /// if those are not met.
    async fn disable_totp(&self, user_id: Uuid, step: i64) -> Result<bool, BackendError>;
    /// Whether `token_hash` is a session that ended because its account
    /// was deleted (and would not have expired by `now_ms`).
    async fn session_of_deleted_account(&self, token_hash: &[u8], now_ms: i64) -> Result<bool, BackendError>;

    // Bootstrap snapshots (`/v1/snapshot`).

    /// Stores chunk `index` of `chunks` of the user's snapshot at `cursor`
    /// (replacing the same chunk sent before), unless a snapshot at a
    /// higher cursor exists, complete or not ([`SnapshotPut::Stale`]), or
    /// `cursor` is past the user's latest change. A chunk for a new cursor
    /// drops every older snapshot that is not complete; the chunk that
    /// completes a snapshot drops every older one.
    async fn put_snapshot_chunk(
        &self,
        user_id: Uuid,
        cursor: u64,
        index: u32,
        chunks: u32,
        data: &[u8],
        now_ms: i64,
    ) -> Result<SnapshotPut, BackendError>;
    /// The user's complete snapshot with the highest cursor.
    async fn snapshot(&self, user_id: Uuid) -> Result<Option<SnapshotRecord>, BackendError>;
    /// Chunk `index` of the user's snapshot at `cursor`, if stored.
    async fn snapshot_chunk(&self, user_id: Uuid, cursor: u64, index: u32) -> Result<Option<Vec<u8>>, BackendError>;
    // Attached files (`/v1/files`, `files.rs`).

    /// Declares file `d.file_id` of note `d.note_id`: creates it (its
    /// declared size counted against `quota_bytes`, else
    /// [`BackendError::FileQuotaExceeded`] and nothing written) or, if the
    /// account has it, adds the note as a reference. Idempotent.
    async fn declare_file(
        &self,
        user_id: Uuid,
        d: &FileDeclaration<'_>,
        quota_bytes: u64,
    ) -> Result<FileRecord, BackendError>;
    /// The account's file, with the chunks stored; none for an id it does
    /// not have (whoever else does).
    async fn file(&self, user_id: Uuid, file_id: &[u8; 32]) -> Result<Option<FileRecord>, BackendError>;
    /// Every file of the account, oldest first.
    async fn files(&self, user_id: Uuid) -> Result<Vec<FileRecord>, BackendError>;
    /// Stores chunk `idx` of the account's file; a chunk already there is
    /// kept as it is (a resend changes nothing).
    async fn put_chunk(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
        idx: u32,
        data: &[u8],
    ) -> Result<ChunkPut, BackendError>;
    async fn chunk(&self, user_id: Uuid, file_id: &[u8; 32], idx: u32) -> Result<Option<Vec<u8>>, BackendError>;
    /// Forgets every note's reference to the file: it is unreferenced from
    /// `now_ms` and goes at the garbage collection after the grace period.
    /// False when the account has no such file.
    async fn drop_file(&self, user_id: Uuid, file_id: &[u8; 32], now_ms: i64) -> Result<bool, BackendError>;
    /// Declared sealed bytes of the account's files (what the quota counts).
    async fn file_usage(&self, user_id: Uuid) -> Result<u64, BackendError>;
    /// Garbage collection, every account: marks files no live note
    /// references (a reference lives while its note is not a tombstone on
    /// the server), unmarks those referenced again, and deletes with their
    /// chunks those marked at least `grace_ms` before `now_ms`.
    async fn collect_files(&self, now_ms: i64, grace_ms: i64) -> Result<FileGcReport, BackendError>;

    /// Pokes of every user; subscribers filter by their own user id.
    fn subscribe(&self) -> broadcast::Receiver<Poke>;
    /// Log-outs of every session; subscribers filter by their own token.
    fn session_ends(&self) -> broadcast::Receiver<SessionEnded>;
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

/// What one database does its own way; [`SqlBackend`] does the rest.
#[async_trait]
pub trait Dialect: Database {
    /// Begins a transaction that writes. It must leave no way for two
    /// writers of one user to interleave: the push algorithm relies on it
    /// together with the counter row it takes first.
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error>;

    /// The same for the end of a session (a log-out or a revocation), to
    /// the streams opened with it.
    async fn session_end_on_commit(
        tx: &mut Transaction<'static, Self>,
        token_hash: &[u8; 32],
    ) -> Result<bool, sqlx::Error>;
}

/// The server's storage on a SQL database: every algorithm of [`Backend`],
/// once, for each [`Dialect`].
#[derive(Debug)]
pub struct SqlBackend<DB: Dialect> {
    /// Where writes go. On SQLite a pool of exactly one connection (see
    /// `sqlite.rs`); on PostgreSQL the same pool as `reader`.
    writer: Pool<DB>,
    /// Where reads that need no transaction go: pulls, session checks,
    /// log-in look-ups.
    reader: Pool<DB>,
    /// This process's subscribers (its `/v1/events` streams).
    signals: Signals,
    /// A task that feeds `pokes` from the database (PostgreSQL's listener);
    /// aborted by `close` or on drop.
    feeder: Mutex<Option<JoinHandle<()>>>,
    /// Where pushes go: they commit in groups (`group.rs`).
    group: group::GroupCommit<DB>,
    /// Live sessions in memory, where this process is the database's only
    /// writer (SQLite); `None` on PostgreSQL (`session_cache.rs`).
    sessions: Option<session_cache::SessionCache>,
    /// SQLite's lock file, held while this process serves the file, so it
    /// is the only one (which `sessions` and the pokes after each commit
    /// rely on); released by `close`. `None` on PostgreSQL and in memory.
    exclusive: Mutex<Option<std::fs::File>>,
}

impl<DB: Dialect> SqlBackend<DB> {
    fn new(
        writer: Pool<DB>,
        reader: Pool<DB>,
        signals: Signals,
        feeder: Option<JoinHandle<()>>,
        group: group::GroupCommit<DB>,
        sessions: Option<session_cache::SessionCache>,
        exclusive: Option<std::fs::File>,
    ) -> Self {
        Self { writer, reader, signals, feeder: Mutex::new(feeder), group, sessions, exclusive: Mutex::new(exclusive) }
    }

    /// Drops `hashes` from the session cache when it is dropped itself:
    /// hold it across the commit that ends those sessions, so they are
    /// forgotten whether the commit returns, fails, or the request is
    /// dropped while it runs.
    fn forget_on_drop(&self, hashes: Vec<[u8; 32]>) -> ForgetSessions<'_> {
        ForgetSessions { cache: self.sessions.as_ref(), hashes }
    }

    fn stop_feeder(&self) {
        // A poisoned lock still holds the handle: abort it all the same.
        let task = self.feeder.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl<DB: Dialect> Drop for SqlBackend<DB> {
    fn drop(&mut self) {
        self.stop_feeder();
    }
}

/// See [`SqlBackend::forget_on_drop`].
struct ForgetSessions<'a> {
    cache: Option<&'a session_cache::SessionCache>,
    hashes: Vec<[u8; 32]>,
}

impl Drop for ForgetSessions<'_> {
    fn drop(&mut self) {
        if let Some(cache) = self.cache {
            cache.drop_ended(&self.hashes);
        }
    }
}

/// Ends every session of user `$1` but the one with token hash `$2`.
const DELETE_OTHER_SESSIONS: &str =
    "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2 RETURNING token_hash, expires_ms";

/// The second parameter of a statement that ends sessions.
enum SessionKey<'a> {
    Id(Uuid),
    TokenHash(&'a [u8; 32]),
}

impl<DB> SqlBackend<DB>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Runs `delete` (which binds the user id and `key`, and returns the
    /// token hash and expiry of each row it deletes) and tells the event
    /// streams of every deleted session, on every instance, once it
    /// commits: the mechanism log-out uses. How many were live at `now_ms`.
    async fn end_sessions(
        &self,
        delete: &'static str,
        user_id: Uuid,
        key: SessionKey<'_>,
        now_ms: i64,
    ) -> Result<u64, BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        let (live, hashes) = Self::end_sessions_in(&mut tx, delete, user_id, key, now_ms).await?;
        let _forget = self.forget_on_drop(hashes.clone());
        tx.commit().await?;
        self.tell_ended(hashes);
        Ok(live)
    }

    /// The work of [`SqlBackend::end_sessions`] inside the caller's
    /// transaction: how many were live, and the token hashes to tell this
    /// process's streams of once it commits ([`SqlBackend::tell_ended`]).
    async fn end_sessions_in(
        tx: &mut Transaction<'static, DB>,
        delete: &'static str,
        user_id: Uuid,
        key: SessionKey<'_>,
        now_ms: i64,
    ) -> Result<(u64, Vec<[u8; 32]>), BackendError> {
        let query = sqlx::query_as::<DB, (Vec<u8>, i64)>(delete).bind(user_id);
        let query = match key {
            SessionKey::Id(id) => query.bind(id),
            SessionKey::TokenHash(hash) => query.bind(hash.as_slice()),
        };
        let rows = query.fetch_all(&mut **tx).await?;
        let mut hashes = Vec::with_capacity(rows.len());
        let mut live = 0;
        for (hash, expires_ms) in rows {
            let hash: [u8; 32] = hash.try_into().map_err(|_| BackendError::Corrupt("a token hash is not 32 bytes"))?;
            if expires_ms > now_ms {
                live += 1;
            }
            if DB::session_end_on_commit(tx, &hash).await? {
                hashes.push(hash);
            }
        }
        Ok((live, hashes))
    }

    /// Tells this process's event streams of sessions that ended, after
    /// the commit that ended them.
    fn tell_ended(&self, hashes: Vec<[u8; 32]>) {
        for hash in hashes {
            // No receivers is fine: no stream was open.
            let _ = self.signals.ends.send(SessionEnded { token_hash: Some(hash) });
        }
    }
}

/// What this process tells its event streams: pokes, and ended sessions.
#[derive(Clone, Debug)]
struct Signals {
    pokes: broadcast::Sender<Poke>,
    ends: broadcast::Sender<SessionEnded>,
}

impl Signals {
    fn new() -> Self {
        // A lagging stream re-checks its session, so lag costs a query,
        // never a stream outliving its log-out.
        Self { pokes: broadcast::channel(POKE_CAPACITY).0, ends: broadcast::channel(POKE_CAPACITY).0 }
    }
}

fn to_i64(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

fn to_u64(v: i64) -> Result<u64, BackendError> {
    u64::try_from(v).map_err(|_| BackendError::Corrupt("negative counter"))
}

/// A stored note row, as every statement below reads it.
type NoteRow = (i64, Uuid, i64, String, bool, Vec<u8>);
/// A note row with the token hash of the session that wrote it (NULL for
/// versions stored before writers were recorded).
type WriterRow = (i64, Uuid, i64, String, bool, Vec<u8>, Option<Vec<u8>>);

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
///
/// A row `skip` names (its seq in the ranges, its writer the session) is
/// left out but counts against `limit`, and `next_cursor` moves past it:
/// the cursor is the last row looked at, sent or not.
async fn collect_page<S>(
    mut rows: S,
    cursor: u64,
    limit: u32,
    max_bytes: usize,
    skip: Option<(&[u8; 32], &SkipRanges)>,
) -> Result<PullResponse, BackendError>
where
    S: futures_util::Stream<Item = Result<WriterRow, sqlx::Error>> + Unpin,
{
    use futures_util::TryStreamExt as _;
    let mut changes = Vec::new();
    let mut bytes = 0usize;
    let mut more = false;
    let mut looked = 0usize;
    let mut next_cursor = cursor;
    while let Some((seq, note_id, rev, hlc, deleted, payload, writer)) = rows.try_next().await? {
        if looked >= limit as usize || bytes >= max_bytes {
            more = true;
            break;
        }
        looked += 1;
        next_cursor = to_u64(seq)?;
        let own = skip.is_some_and(|(session, ranges)| {
            writer.as_deref() == Some(session.as_slice()) && ranges.contains(next_cursor)
        });
        if own {
            continue;
        }
        let change = row_to_change((seq, note_id, rev, hlc, deleted, payload))?;
        bytes += change.payload.len();
        changes.push(change);
    }
    Ok(PullResponse { changes, next_cursor, more })
}

// The where-clause is what the statements below bind and read; any sqlx
// database that has all of it runs this code. It stands here rather than on
// `Dialect` because Rust does not carry such bounds from a trait's
// definition to the trait's users.
#[async_trait]
impl<DB> Backend for SqlBackend<DB>
where
    DB: Dialect + group::CommitGroup,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Decode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Decode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    async fn create_user(&self, u: &NewUser) -> Result<(), BackendError> {
        let res = sqlx::query(
            "INSERT INTO users (id, username, auth_hash, wrapped_key, kdf_params, seq, created_ms)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(u.id)
        .bind(u.username.as_str())
        .bind(u.auth_hash.as_str())
        .bind(u.wrapped_key.as_slice())
        .bind(u.kdf_params.as_slice())
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
            sqlx::query_as("SELECT id, auth_hash, wrapped_key, kdf_params FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(id, auth_hash, wrapped_key, kdf_params)| UserRecord { id, auth_hash, wrapped_key, kdf_params }))
    }

    async fn account_key(&self, user_id: Uuid) -> Result<Option<AccountKey>, BackendError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT wrapped_key, kdf_params FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|(wrapped_key, kdf_params)| AccountKey { wrapped_key, kdf_params }))
    }

    async fn put_challenge(
        &self,
        username: &str,
        challenge: &[u8],
        expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        // Every name's expired challenges, not only this one's: names
        // without accounts get challenges too, and would otherwise pile up.
        // The table holds at most a minute of starts (rate limited), and
        // the expiry index makes this touch only what it deletes.
        sqlx::query("DELETE FROM login_challenges WHERE expires_ms <= $1").bind(now_ms).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO login_challenges (challenge, username, expires_ms) VALUES ($1, $2, $3)")
            .bind(challenge)
            .bind(username)
            .bind(expires_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_challenge(&self, username: &str, challenge: &[u8], now_ms: i64) -> Result<bool, BackendError> {
        // Deleted whether or not it is still valid: a challenge is tried
        // once. DELETE .. RETURNING is atomic: of two concurrent replays of
        // one challenge, exactly one gets the row.
        let expires: Option<i64> = sqlx::query_scalar(
            "DELETE FROM login_challenges WHERE challenge = $1 AND username = $2 RETURNING expires_ms",
        )
        .bind(challenge)
        .bind(username)
        .fetch_optional(&self.writer)
        .await?;
        Ok(expires.is_some_and(|e| e > now_ms))
    }

    async fn server_secret(&self, name: &str) -> Result<[u8; 32], BackendError> {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
        // Of instances starting together, the first insert wins and all
        // read back its value.
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh.as_slice())
            .execute(&self.writer)
            .await?;
        let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.writer)
            .await?;
        value.try_into().map_err(|_| BackendError::Corrupt("a server secret is not 32 bytes"))
    }

    async fn create_session(&self, token_hash: &[u8], user_id: Uuid, s: &NewSession) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, id, user_id, device_name, created_ms, last_seen_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(token_hash)
        .bind(s.id)
        .bind(user_id)
        .bind(s.device_name.clone())
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<LiveSession>, BackendError> {
        let key: Option<[u8; 32]> = token_hash.try_into().ok();
        let ticket = match (&self.sessions, key) {
            (Some(cache), Some(key)) => match cache.get(&key, now_ms) {
                Ok(session) => return Ok(Some(session)),
                Err(ticket) => Some((cache, key, ticket)),
            },
            _ => None,
        };
        let row: Option<(Uuid, i64, i64)> = sqlx::query_as(
            "SELECT user_id, expires_ms, last_seen_ms FROM sessions WHERE token_hash = $1 AND expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.reader)
        .await?;
        let session = row.map(|(user_id, expires_ms, last_seen_ms)| LiveSession { user_id, expires_ms, last_seen_ms });
        if let (Some((cache, key, ticket)), Some(session)) = (ticket, session) {
            cache.store(ticket, key, session);
        }
        Ok(session)
    }

    async fn touch_session(&self, token_hash: &[u8], now_ms: i64, stale_before_ms: i64) -> Result<(), BackendError> {
        sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE token_hash = $2 AND last_seen_ms < $3")
            .bind(now_ms)
            .bind(token_hash)
            .bind(stale_before_ms)
            .execute(&self.writer)
            .await?;
        if let (Some(cache), Ok(key)) = (&self.sessions, <&[u8; 32]>::try_from(token_hash)) {
            cache.seen(key, now_ms);
        }
        Ok(())
    }

    async fn list_sessions(
        &self,
        user_id: Uuid,
        current: &[u8; 32],
        now_ms: i64,
    ) -> Result<Vec<SessionRecord>, BackendError> {
        type Row = (Vec<u8>, Uuid, Option<String>, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT token_hash, id, device_name, created_ms, last_seen_ms, expires_ms FROM sessions
             WHERE user_id = $1 AND expires_ms > $2 ORDER BY created_ms, id",
        )
        .bind(user_id)
        .bind(now_ms)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(hash, id, device_name, created_ms, last_seen_ms, expires_ms)| SessionRecord {
                id,
                device_name,
                created_ms,
                last_seen_ms,
                expires_ms,
                current: hash.as_slice() == current.as_slice(),
            })
            .collect())
    }

    async fn revoke_session(&self, user_id: Uuid, id: Uuid, now_ms: i64) -> Result<bool, BackendError> {
        // Scoped by the caller's user id: another account's session id
        // matches no row, exactly like an id nobody has.
        let ended = self
            .end_sessions(
                "DELETE FROM sessions WHERE user_id = $1 AND id = $2 RETURNING token_hash, expires_ms",
                user_id,
                SessionKey::Id(id),
                now_ms,
            )
            .await?;
        Ok(ended > 0)
    }

    async fn revoke_other_sessions(&self, user_id: Uuid, keep: &[u8; 32], now_ms: i64) -> Result<u64, BackendError> {
        self.end_sessions(DELETE_OTHER_SESSIONS, user_id, SessionKey::TokenHash(keep), now_ms).await
    }

    async fn user_by_id(&self, user_id: Uuid) -> Result<Option<(String, UserRecord)>, BackendError> {
        let row: Option<(String, String, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT username, auth_hash, wrapped_key, kdf_params FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(username, auth_hash, wrapped_key, kdf_params)| {
            (username, UserRecord { id: user_id, auth_hash, wrapped_key, kdf_params })
        }))
    }

    async fn change_passphrase(
        &self,
        user_id: Uuid,
        caller: &[u8; 32],
        change: &PassphraseChange,
        now_ms: i64,
    ) -> Result<u64, BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        // The compare-and-swap: of two changes made from one wrapped key,
        // the first to commit wins and the other matches no row, so the
        // account never holds a key wrapped under a passphrase nobody
        // was told. On PostgreSQL the row lock makes the second wait for
        // the first and then see its key.
        let updated: Option<Uuid> = sqlx::query_scalar(
            "UPDATE users SET auth_hash = $1, wrapped_key = $2, kdf_params = $3
             WHERE id = $4 AND wrapped_key = $5 RETURNING id",
        )
        .bind(change.auth_hash.as_str())
        .bind(change.wrapped_key.as_slice())
        .bind(change.kdf_params.as_slice())
        .bind(user_id)
        .bind(change.expected_wrapped_key.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_none() {
            // Dropping `tx` rolls back (nothing was written anyway).
            return Err(BackendError::KeyChanged);
        }
        let (ended, hashes) = if change.end_other_sessions {
            Self::end_sessions_in(&mut tx, DELETE_OTHER_SESSIONS, user_id, SessionKey::TokenHash(caller), now_ms)
                .await?
        } else {
            (0, Vec::new())
        };
        let _forget = self.forget_on_drop(hashes.clone());
        tx.commit().await?;
        self.tell_ended(hashes);
        Ok(ended)
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<(), BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        let deleted: Option<Uuid> = sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(token_hash.as_slice())
            .fetch_optional(&mut *tx)
            .await?;
        let deleted = deleted.is_some();
        let tell_here = deleted && DB::session_end_on_commit(&mut tx, token_hash).await?;
        let _forget = self.forget_on_drop(if tell_here { vec![*token_hash] } else { Vec::new() });
        tx.commit().await?;
        if tell_here {
            // No receivers is fine: no stream was open.
            let _ = self.signals.ends.send(SessionEnded { token_hash: Some(*token_hash) });
        }
        Ok(())
    }

    async fn push_by(
        &self,
        user_id: Uuid,
        writer: Option<&[u8; 32]>,
        ops: &[Op],
        quota_bytes: u64,
    ) -> Result<Vec<PushResult>, BackendError> {
        self.group.push(user_id, writer, ops, quota_bytes).await
    }

    async fn pull_skipping(
        &self,
        user_id: Uuid,
        cursor: u64,
        limit: u32,
        max_bytes: usize,
        skip: Option<(&[u8; 32], &SkipRanges)>,
    ) -> Result<PullResponse, BackendError> {
        let Some(cursor_i) = to_i64(cursor) else {
            return Err(BackendError::CursorOutOfRange { cursor, latest: self.latest_seq(user_id).await? });
        };
        let rows = sqlx::query_as::<DB, WriterRow>(
            "SELECT seq, note_id, rev, hlc, deleted, payload, writer FROM notes
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user_id)
        .bind(cursor_i)
        .bind(i64::from(limit) + 1)
        .fetch(&self.reader);
        let page = collect_page(rows, cursor, limit, max_bytes, skip).await?;
        // A note past the cursor shows the cursor is not past the latest
        // change (a note's seq is at most its user's), so only a page with
        // nothing past the cursor needs the counter: one query fewer for
        // most pulls.
        if page.next_cursor == cursor && !page.more {
            let latest = self.latest_seq(user_id).await?;
            if cursor > latest {
                return Err(BackendError::CursorOutOfRange { cursor, latest });
            }
        }
        Ok(page)
    }

    async fn latest_seq(&self, user_id: Uuid) -> Result<u64, BackendError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        to_u64(seq.unwrap_or(0))
    }

    async fn delete_account(&self, user_id: Uuid, now_ms: i64) -> Result<bool, BackendError> {
        let mut tx = DB::begin_write(&self.writer).await?;
        // The user's counter row first, as a push takes it: a push of this
        // account in flight commits before, or finds no user after.
        let username: Option<String> =
            sqlx::query_scalar("UPDATE users SET seq = seq WHERE id = $1 RETURNING username")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(username) = username else { return Ok(false) };
        // Tokens of deleted accounts are kept only while they would live.
        sqlx::query("DELETE FROM deleted_sessions WHERE expires_ms <= $1").bind(now_ms).execute(&mut *tx).await?;
        let ended: Vec<(Vec<u8>, i64)> =
            sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING token_hash, expires_ms")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
        let mut tell_here = Vec::with_capacity(ended.len());
        for (hash, expires_ms) in ended {
            let hash: [u8; 32] = hash.try_into().map_err(|_| BackendError::Corrupt("a token hash is not 32 bytes"))?;
            if expires_ms > now_ms {
                sqlx::query(
                    "INSERT INTO deleted_sessions (token_hash, expires_ms) VALUES ($1, $2)
                     ON CONFLICT (token_hash) DO NOTHING",
                )
                .bind(hash.as_slice())
                .bind(expires_ms)
                .execute(&mut *tx)
                .await?;
            }
            if DB::session_end_on_commit(&mut tx, &hash).await? {
                tell_here.push(hash);
            }
        }
        for delete in [
            "DELETE FROM ops WHERE user_id = $1",
            "DELETE FROM notes WHERE user_id = $1",
            "DELETE FROM account_totp WHERE user_id = $1",
            "DELETE FROM snapshots WHERE user_id = $1",
            "DELETE FROM file_chunks WHERE user_id = $1",
            "DELETE FROM file_refs WHERE user_id = $1",
            "DELETE FROM files WHERE user_id = $1",
            "DELETE FROM file_usage WHERE user_id = $1",
        ] {
            sqlx::query(delete).bind(user_id).execute(&mut *tx).await?;
        }
        // Challenges are kept by name: a log-in started for it goes too.
        sqlx::query("DELETE FROM login_challenges WHERE username = $1")
            .bind(username.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
        let _forget = self.forget_on_drop(tell_here.clone());
        tx.commit().await?;
        for hash in tell_here {
            // No receivers is fine: no stream was open.
            let _ = self.signals.ends.send(SessionEnded { token_hash: Some(hash) });
        }
        Ok(true)
    }

    async fn put_snapshot_chunk(
        &self,
        user_id: Uuid,
        cursor: u64,
        index: u32,
        chunks: u32,
        data: &[u8],
        now_ms: i64,
    ) -> Result<SnapshotPut, BackendError> {
        // Past any account's latest change (which is an i64).
        let Some(at) = to_i64(cursor) else {
            return Ok(SnapshotPut::CursorOutOfRange { latest: self.latest_seq(user_id).await? });
        };
        let mut tx = DB::begin_write(&self.writer).await?;
        // The counter row, as a push takes it: the latest change cannot move
        // under this check, and an account deletion waits or comes first.
        let latest: Option<i64> = sqlx::query_scalar("UPDATE users SET seq = seq WHERE id = $1 RETURNING seq")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(latest) = latest else { return Err(BackendError::AccountDeleted) };
        if at > latest {
            return Ok(SnapshotPut::CursorOutOfRange { latest: to_u64(latest)? });
        }
        let higher: Option<i64> = sqlx::query_scalar("SELECT max(at_seq) FROM snapshots WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if higher.is_some_and(|h| h > at) {
            return Ok(SnapshotPut::Stale);
        }
        // One upload at a time: older incomplete ones go, and so does this
        // cursor's if it was cut into another number of chunks.
        sqlx::query(
            "DELETE FROM snapshots WHERE user_id = $1 AND ((at_seq < $2 AND at_seq NOT IN (
                 SELECT at_seq FROM snapshots WHERE user_id = $1 GROUP BY at_seq, chunks HAVING count(*) = chunks))
               OR (at_seq = $2 AND chunks <> $3))",
        )
        .bind(user_id)
        .bind(at)
        .bind(i64::from(chunks))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO snapshots (user_id, at_seq, idx, chunks, data, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (user_id, at_seq, idx) DO UPDATE SET data = excluded.data, created_ms = excluded.created_ms",
        )
        .bind(user_id)
        .bind(at)
        .bind(i64::from(index))
        .bind(i64::from(chunks))
        .bind(data)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM snapshots WHERE user_id = $1 AND at_seq = $2")
            .bind(user_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        let complete = stored == i64::from(chunks);
        if complete {
            sqlx::query("DELETE FROM snapshots WHERE user_id = $1 AND at_seq < $2")
                .bind(user_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(SnapshotPut::Stored { complete })
    }

    async fn snapshot(&self, user_id: Uuid) -> Result<Option<SnapshotRecord>, BackendError> {
        let row: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT at_seq, chunks, sum(length(data)) FROM snapshots WHERE user_id = $1
             GROUP BY at_seq, chunks HAVING count(*) = chunks ORDER BY at_seq DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|(cursor, chunks, bytes)| {
            Ok(SnapshotRecord {
                cursor: to_u64(cursor)?,
                chunks: u32::try_from(chunks).map_err(|_| BackendError::Corrupt("a snapshot's chunk count"))?,
                bytes: to_u64(bytes)?,
            })
        })
        .transpose()
    }

    async fn snapshot_chunk(&self, user_id: Uuid, cursor: u64, index: u32) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(sqlx::query_scalar("SELECT data FROM snapshots WHERE user_id = $1 AND at_seq = $2 AND idx = $3")
            .bind(user_id)
            .bind(to_i64(cursor).unwrap_or(i64::MAX))
            .bind(i64::from(index))
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn totp(&self, user_id: Uuid) -> Result<Option<TotpRecord>, BackendError> {
        let row: Option<(Vec<u8>, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT secret, enabled_ms, last_step FROM account_totp WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(row.map(|(secret, enabled_ms, last_step)| TotpRecord { secret, enabled: enabled_ms.is_some(), last_step }))
    }

    async fn put_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> Result<bool, BackendError> {
        let done: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO account_totp (user_id, secret) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = NULL
             WHERE account_totp.enabled_ms IS NULL
             RETURNING user_id",
        )
        .bind(user_id)
        .bind(secret)
        .fetch_optional(&self.writer)
        .await?;
        Ok(done.is_some())
    }

    async fn enable_totp(&self, user_id: Uuid, secret: &[u8], step: i64, now_ms: i64) -> Result<bool, BackendError> {
        let done: Option<Uuid> = sqlx::query_scalar(
            "UPDATE account_totp SET enabled_ms = $3, last_step = $4
             WHERE user_id = $1 AND secret = $2 AND enabled_ms IS NULL
             RETURNING user_id",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now_ms)
        .bind(step)
        .fetch_optional(&self.writer)
        .await?;
        Ok(done.is_some())
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, BackendError> {
        let done: Option<Uuid> = sqlx::query_scalar(
            "UPDATE account_totp SET last_step = $2
             WHERE user_id = $1 AND enabled_ms IS NOT NULL AND (last_step IS NULL OR last_step < $2)
             RETURNING user_id",
        )
        .bind(user_id)
        .bind(step)
        .fetch_optional(&self.writer)
        .await?;
        Ok(done.is_some())
    }

    async fn disable_totp(&self, user_id: Uuid, step: i64) -> Result<bool, BackendError> {
        let done: Option<Uuid> = sqlx::query_scalar(
            "DELETE FROM account_totp
             WHERE user_id = $1 AND enabled_ms IS NOT NULL AND (last_step IS NULL OR last_step < $2)
             RETURNING user_id",
        )
        .bind(user_id)
        .bind(step)
        .fetch_optional(&self.writer)
        .await?;
        Ok(done.is_some())
    }

    async fn session_of_deleted_account(&self, token_hash: &[u8], now_ms: i64) -> Result<bool, BackendError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT expires_ms FROM deleted_sessions WHERE token_hash = $1 AND expires_ms > $2")
                .bind(token_hash)
                .bind(now_ms)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.is_some())
    }

    async fn declare_file(
        &self,
        user_id: Uuid,
        d: &FileDeclaration<'_>,
        quota_bytes: u64,
    ) -> Result<FileRecord, BackendError> {
        self.files_declare(user_id, d, quota_bytes).await
    }

    async fn file(&self, user_id: Uuid, file_id: &[u8; 32]) -> Result<Option<FileRecord>, BackendError> {
        self.files_get(user_id, file_id).await
    }

    async fn files(&self, user_id: Uuid) -> Result<Vec<FileRecord>, BackendError> {
        self.files_list(user_id).await
    }

    async fn put_chunk(
        &self,
        user_id: Uuid,
        file_id: &[u8; 32],
        idx: u32,
        data: &[u8],
    ) -> Result<ChunkPut, BackendError> {
        self.files_put_chunk(user_id, file_id, idx, data).await
    }

    async fn chunk(&self, user_id: Uuid, file_id: &[u8; 32], idx: u32) -> Result<Option<Vec<u8>>, BackendError> {
        self.files_get_chunk(user_id, file_id, idx).await
    }

    async fn drop_file(&self, user_id: Uuid, file_id: &[u8; 32], now_ms: i64) -> Result<bool, BackendError> {
        self.files_drop(user_id, file_id, now_ms).await
    }

    async fn file_usage(&self, user_id: Uuid) -> Result<u64, BackendError> {
        self.files_usage(user_id).await
    }

    async fn collect_files(&self, now_ms: i64, grace_ms: i64) -> Result<FileGcReport, BackendError> {
        self.files_collect(now_ms, grace_ms).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Poke> {
        self.signals.pokes.subscribe()
    }

    fn session_ends(&self) -> broadcast::Receiver<SessionEnded> {
        self.signals.ends.subscribe()
    }

    async fn ping(&self) -> Result<(), BackendError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.stop_feeder();
        // On PostgreSQL both are one pool; closing it twice is harmless.
        self.reader.close().await;
        self.writer.close().await;
        // Another process may serve the file now. A poisoned lock still
        // holds the file: release it all the same.
        drop(self.exclusive.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take());
    }
}
