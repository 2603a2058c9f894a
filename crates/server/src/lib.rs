//! The Outpost sync server: accounts, end-to-end encrypted push/pull and
//! pokes over the `/v1` HTTP API (spec: `docs/protocol.md`), on SQLite or
//! PostgreSQL.
//!
//! The server relays ciphertext between a user's devices. It never sees a
//! note in plaintext or a key it could unwrap one with: it stores opaque
//! payloads, the client-wrapped data key, and an Argon2id hash of the
//! client's auth key.
//!
//! # Layout
//! - [`serve`] (here): binds the pieces together and runs until shutdown.
//! - `routes`: the handlers and router; validation and limits live here.
//! - `wire`: request bodies in, responses out, in JSON or postcard.
//! - `auth`: auth-key hashing, bearer tokens (stored as SHA-256), the
//!   `AuthUser` extractor that scopes a request to one user, rate limits.
//! - [`backend`]: the storage trait and its implementation, written once
//!   over SQLite and PostgreSQL, with each database's file holding only
//!   what differs; all SQL is there. Migrations in `migrations/<backend>`.
//! - `error`: [`ApiError`], the one place failures become responses.
//! - `metrics`: Prometheus counters for `GET /metrics`.
//!
//! # Running
//! `serve(listener, Config::new("sqlite://outpost.db"), shutdown)`. TLS is
//! terminated by a reverse proxy in front (see `docs/protocol.md`); set
//! [`Config::trust_forwarded_for`] there so rate limits see client
//! addresses.

#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::watch;

mod auth;
pub mod backend;
mod error;
mod metrics;
mod routes;
mod totp;
mod wire;

pub use crate::backend::{Backend, BackendError};
pub use crate::error::ApiError;
use crate::metrics::Metrics;

/// Size and count limits. Defaults are the protocol's documented ones.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body read, in bytes.
    pub max_body_bytes: usize,
    /// Most ops in one push.
    pub max_ops_per_push: usize,
    /// Largest payload of one op.
    pub max_payload_bytes: usize,
    /// Pull page size when the client names none.
    pub default_pull_limit: u32,
    /// Largest pull page size a client may ask for.
    pub max_pull_limit: u32,
    /// A pull page stops after the change that crosses this many payload
    /// bytes, so 1,000 large notes never make a 2 GB response.
    pub max_page_bytes: usize,
    /// Most headers in one request, and their total size in bytes.
    pub max_headers: usize,
    pub max_header_bytes: usize,
    /// Longest path and query, in bytes.
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use outpost_protocol::v1 as p;
        Self {
            max_body_bytes: p::MAX_BODY_BYTES,
            max_ops_per_push: p::MAX_OPS_PER_PUSH,
            max_payload_bytes: p::MAX_PAYLOAD_BYTES,
            default_pull_limit: p::DEFAULT_PULL_LIMIT,
            max_pull_limit: p::MAX_PULL_LIMIT,
            max_page_bytes: 8 * 1024 * 1024,
            // A device sends about ten headers and a few hundred bytes;
            // these leave room for proxies and still answer in JSON well
            // before hyper's own limits (100 headers, ~400 KiB) do.
            max_headers: 64,
            max_header_bytes: 32 * 1024,
            max_uri_bytes: 8 * 1024,
        }
    }
}

/// How the server runs.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://PATH` (created if missing) or `postgres://...`.
    pub database_url: String,
    pub limits: Limits,
    /// How long a session lives after log-in.
    pub session_ttl: Duration,
    /// Log-in attempts (a log-in is two: start and finish) per username and
    /// client address per `attempt_window`.
    pub login_attempts: u32,
    /// Registrations per client address per `attempt_window`.
    pub register_attempts: u32,
    pub attempt_window: Duration,
    /// Take the client address from the last `X-Forwarded-For` hop. Only
    /// behind a reverse proxy that sets it; otherwise clients could pick
    /// their own address and dodge rate limits.
    pub trust_forwarded_for: bool,
    /// Comment lines on idle event streams, so proxies keep them open.
    pub keep_alive: Duration,
    /// Payload bytes one account's notes may hold (the latest version of
    /// each note, tombstones included): a push past it is refused whole.
    pub quota_bytes: u64,
    /// Longest wait for a response to start (an event stream's body goes
    /// on after it): then `503 timeout`.
    pub request_timeout: Duration,
    /// A session's last-seen time is written at most this often (and
    /// `GET /v1/sessions` is accurate to it): a request within it of the
    /// last write writes nothing.
    pub last_seen_interval: Duration,
    /// The wall clock TOTP codes are checked against: the system's, or a
    /// hand-set one in tests (so they need not wait for a 30 s step).
    pub clock: Clock,
    /// Sealed bytes one account's attached files may hold (declared sizes):
    /// a file past it is refused before any byte of it is written.
    pub file_quota_bytes: u64,
    /// How long a file no live note references is kept before garbage
    /// collection deletes it (a restored note finds its files meanwhile).
    pub file_gc_grace: Duration,
    /// How often this instance collects file garbage; zero: never (another
    /// instance, or a test, does).
    pub file_gc_interval: Duration,
}

/// Seconds since the Unix epoch, for TOTP: the system clock, or a
/// [`Clock::manual`] one whose copies all share the time set on any of them.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicU64>>);

impl Clock {
    /// A clock that stands at `unix_secs` until [`Clock::set`] moves it.
    pub fn manual(unix_secs: u64) -> Self {
        Clock(Some(Arc::new(std::sync::atomic::AtomicU64::new(unix_secs))))
    }

    /// Sets a manual clock (and all its copies); nothing for the system's.
    pub fn set(&self, unix_secs: u64) {
        if let Some(t) = &self.0 {
            t.store(unix_secs, std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub fn unix_secs(&self) -> u64 {
        match &self.0 {
            Some(t) => t.load(std::sync::atomic::Ordering::SeqCst),
            None => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "manual" } else { "system" })
    }
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            limits: Limits::default(),
            session_ttl: Duration::from_secs(90 * 24 * 3600),
            login_attempts: 10,
            register_attempts: 20,
            attempt_window: Duration::from_secs(60),
            trust_forwarded_for: false,
            keep_alive: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            quota_bytes: 1024 * 1024 * 1024,
            last_seen_interval: Duration::from_secs(60),
            clock: Clock::default(),
            file_quota_bytes: 10 * 1024 * 1024 * 1024,
            file_gc_grace: Duration::from_secs(7 * 24 * 3600),
            file_gc_interval: Duration::from_secs(3600),
        }
    }
}

impl std::fmt::Debug for Config {
    /// The URL may hold a database password: show its scheme only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.database_url.split(':').next().unwrap_or("");
        f.debug_struct("Config")
            .field("database", &scheme)
            .field("limits", &self.limits)
            .field("session_ttl", &self.session_ttl)
            .field("login_attempts", &self.login_attempts)
            .field("register_attempts", &self.register_attempts)
            .field("attempt_window", &self.attempt_window)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("keep_alive", &self.keep_alive)
            .field("request_timeout", &self.request_timeout)
            .field("quota_bytes", &self.quota_bytes)
            .field("last_seen_interval", &self.last_seen_interval)
            .field("clock", &self.clock)
            .field("file_quota_bytes", &self.file_quota_bytes)
            .field("file_gc_grace", &self.file_gc_grace)
            .field("file_gc_interval", &self.file_gc_interval)
            .finish()
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening the database failed; its message says how (and is not
    /// repeated: `{:#}` prints the causes after it).
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) config: Arc<Config>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) login_limiter: Arc<auth::RateLimiter>,
    pub(crate) register_limiter: Arc<auth::RateLimiter>,
    /// Keys the decoy KDF parameters of names without an account; read
    /// from the database at the first log-in start.
    pub(crate) decoy_secret: Arc<tokio::sync::OnceCell<[u8; 32]>>,
    /// Turns true at shutdown; event streams end on it, so graceful
    /// shutdown does not wait for them forever.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// The `/v1` app over an opened backend, without a socket: what [`serve`]
/// runs, for driving the server in-process (the fuzz targets in `fuzz/`).
/// Log-in and registration read the client address from a
/// `ConnectInfo<SocketAddr>` request extension, which `serve` adds per
/// connection; in-process callers add it themselves (axum's
/// `MockConnectInfo` layer, or the extension on each request). Event
/// streams end when `shutdown` turns true or its sender is dropped.
pub fn app(backend: Arc<dyn Backend>, config: Config, shutdown: watch::Receiver<bool>) -> axum::Router {
    routes::router(AppState::new(backend, config, shutdown))
}

impl AppState {
    fn new(backend: Arc<dyn Backend>, config: Config, shutdown: watch::Receiver<bool>) -> Self {
        AppState {
            backend,
            login_limiter: Arc::new(auth::RateLimiter::new(config.login_attempts, config.attempt_window)),
            register_limiter: Arc::new(auth::RateLimiter::new(config.register_attempts, config.attempt_window)),
            decoy_secret: Arc::new(tokio::sync::OnceCell::new()),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            shutdown,
        }
    }
}

/// Runs the server on `listener` until `shutdown` completes, then stops
/// taking connections, ends event streams, lets requests in flight finish
/// and closes the database.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let backend = backend::open(&config.database_url).await?;
    serve_on(listener, backend, config, shutdown).await
}

/// [`serve`] on a backend already open, which it closes when it stops
/// (`config.database_url` is not opened again): for a process that uses
/// the backend beside the server, such as a test that looks into the
/// SQLite database a server serves (a second open of that file is
/// refused, `BackendError::InUse`).
pub async fn serve_on(
    listener: TcpListener,
    backend: Arc<dyn Backend>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tracing::info!(addr = %listener.local_addr()?, config = ?config, "serving /v1");
    let collector = files_gc_task(backend.clone(), &config);
    let app = app(backend.clone(), config, stop_rx.clone());
    let trigger = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx;
    let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            // An error means the sender is gone: shut down then too.
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    trigger.abort();
    if let Some(task) = collector {
        task.abort();
    }
    backend.close().await;
    tracing::info!("stopped");
    Ok(result?)
}

/// Collects file garbage every `file_gc_interval` (none when zero). Every
/// instance may run it: the statements are safe to run side by side.
fn files_gc_task(backend: Arc<dyn Backend>, config: &Config) -> Option<tokio::task::JoinHandle<()>> {
    let every = config.file_gc_interval;
    if every.is_zero() {
        return None;
    }
    let grace = i64::try_from(config.file_gc_grace.as_millis()).unwrap_or(i64::MAX);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match backend.collect_files(now_ms(), grace).await {
                Ok(r) if r.deleted > 0 || r.marked > 0 => {
                    tracing::info!(marked = r.marked, deleted = r.deleted, bytes = r.bytes, "file garbage collected");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "file garbage collection failed; trying again later"),
            }
        }
    }))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
