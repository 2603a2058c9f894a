//! Load and soak: many real devices against one real sync server process.
//!
//! Every device is a real [`Vault`] (its own SQLite store, the account's
//! data key) that logs in over HTTP with a real [`Remote`] and syncs with
//! the same [`sync_once`] the app runs: payloads are sealed with the
//! account key before they leave the device. The server is a separate
//! process (`outpost serve`, or the `soak serve` mode of this crate's
//! binary, which runs the same `outpost_server::serve` with the same
//! defaults), so its memory is its own: `VmRSS` and `VmHWM` are read from
//! `/proc/<pid>/status` every few seconds.
//!
//! # What a run does
//! 1. Opens every device's store; builds each account's registration
//!    from its first device (as `outpost account register` would) and
//!    writes the users into the server's database before the server starts.
//!    The server allows 20 registrations a minute from one address, and
//!    every simulated device comes from 127.0.0.1; log-ins (two attempts
//!    each, ten a minute per username and address) stay within the limit.
//! 2. Starts the server process, logs every device in (Argon2id on the
//!    server, the account key unwrapped on the device).
//! 3. For the run's duration, each device waits a jittered interval, edits
//!    with some chance (creates, edits or deletes one of its own notes) and
//!    runs a sync pass (push if anything is queued, then pull). Every
//!    request is timed; every failure is counted by request and code.
//! 4. Drains: every device syncs until its outbox is empty (everything it
//!    wrote is acknowledged), then every device pulls once more.
//! 5. Checks nothing was lost: each note any device of an account wrote is
//!    on every device of that account, with the last content its writer
//!    gave it (or deleted, if that was the last change), and no device holds
//!    a note nobody wrote.
//!
//! Devices edit only notes they created, so the expected end state is
//! exact; concurrent edits of one note (merges, conflicts) are the
//! simulation's subject (`tests/simulation.rs`), not this one's.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::Argon2;
use outpost_core::account;
use outpost_core::crypto::DataKey;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::{Remote, RemoteError, Traffic};
use outpost_core::sync::{sync_once, SyncReport, SyncTransport};
use outpost_core::{Error as CoreError, NoteDraft, NotePatch, Vault};
use outpost_protocol::v1::{Op, PullResponse, PushResponse, SkipRanges};
use outpost_server::backend::NewUser;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::account::scratch_dir;

/// Every soak account uses this passphrase; nothing real is behind it.
const PASSPHRASE: &str = "soak devices only";

/// Why a soak run could not be carried out (a run that finds lost notes or
/// errors still returns a [`SoakReport`]; see [`SoakReport::passed`]).
#[derive(Debug, thiserror::Error)]
pub enum SoakError {
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("device {device}: {source}")]
    Core { device: String, source: CoreError },
    #[error("the server's database: {0}")]
    Backend(#[from] outpost_server::BackendError),
    #[error("the server: {0}")]
    Remote(#[from] RemoteError),
    #[error("the sync server process: {0}")]
    Server(String),
    #[error("hashing an auth key: {0}")]
    Hash(String),
    #[error("a device task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SoakError {
    let context = context.into();
    move |source| SoakError::Io { context, source }
}

fn core(device: &str) -> impl FnOnce(CoreError) -> SoakError + '_ {
    move |source| SoakError::Core { device: device.to_owned(), source }
}

/// The server process to start: `program serve --listen ADDR --db URL`.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// `outpost`, or this crate's `soak` binary.
    pub program: PathBuf,
    /// `None`: SQLite in a scratch directory on disk. `Some(url)`: that
    /// PostgreSQL database (users get names unique to the run, so it needs
    /// no reset and other users of it are left alone).
    pub postgres_url: Option<String>,
}

/// The shape and pace of a run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    pub accounts: usize,
    pub devices_per_account: usize,
    pub duration: Duration,
    /// Mean time between a device's sync passes (each is drawn uniformly
    /// from half to one and a half times this).
    pub sync_every: Duration,
    /// Chance that a device edits before a pass.
    pub edit_chance: f64,
    /// Mean note body size in bytes (drawn from half to one and a half).
    pub body_bytes: usize,
    /// How often the server's memory is read.
    pub sample_every: Duration,
    /// Memory growth is measured from here on (caches and pools fill first).
    pub warmup: Duration,
    /// Devices logging in (or draining) at once.
    pub setup_concurrency: usize,
    pub seed: u64,
    pub server: ServerCommand,
}

impl SoakConfig {
    pub fn devices(&self) -> usize {
        self.accounts * self.devices_per_account
    }

    pub fn backend_name(&self) -> &'static str {
        if self.server.postgres_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

/// Request timings and failures, shared by every device.
#[derive(Debug, Default)]
struct Stats {
    /// Microseconds of each successful request, by kind.
    latency_us: BTreeMap<&'static str, Vec<u64>>,
    /// Failed requests by kind and code.
    errors: BTreeMap<(String, String), u64>,
}

#[derive(Debug, Default)]
struct Shared {
    stats: Mutex<Stats>,
    /// Requests sent so far (for throughput over time).
    requests: AtomicU64,
}

impl Shared {
    fn record(&self, kind: &'static str, started: Instant, error: Option<&str>) {
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.requests.fetch_add(1, Relaxed);
        let mut stats = self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match error {
            None => stats.latency_us.entry(kind).or_default().push(us),
            Some(code) => *stats.errors.entry((kind.to_owned(), code.to_owned())).or_default() += 1,
        }
    }

    fn error(&self, kind: &str, code: &str) {
        let mut stats = self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *stats.errors.entry((kind.to_owned(), code.to_owned())).or_default() += 1;
    }
}

/// A device's [`Remote`], timing every push and pull.
#[derive(Debug)]
struct TimedRemote {
    remote: Remote,
    shared: Arc<Shared>,
}

impl SyncTransport for TimedRemote {
    async fn push(&self, ops: Vec<Op>) -> Result<PushResponse, RemoteError> {
        let t = Instant::now();
        let r = self.remote.push(ops).await;
        self.shared.record("push", t, r.as_ref().err().map(RemoteError::code));
        r
    }

    async fn pull(&self, cursor: u64, limit: u32) -> Result<PullResponse, RemoteError> {
        let t = Instant::now();
        let r = self.remote.pull(cursor, limit).await;
        self.shared.record("pull", t, r.as_ref().err().map(RemoteError::code));
        r
    }

    async fn pull_skipping(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Result<PullResponse, RemoteError> {
        let t = Instant::now();
        let r = self.remote.pull_skipping(cursor, limit, skip).await;
        self.shared.record("pull", t, r.as_ref().err().map(RemoteError::code));
        r
    }

    fn traffic(&self) -> Traffic {
        self.remote.traffic()
    }
}

/// What a device last did to one of its notes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    Live { title: String, body: String },
    Deleted,
}

/// One device: its store, its session, its own notes' last state.
#[derive(Debug)]
struct Dev {
    name: String,
    account: usize,
    vault: Vault,
    net: Option<TimedRemote>,
    own: BTreeMap<Uuid, Expected>,
    versions: u64,
    rng: ChaCha8Rng,
    passes: u64,
    acked: u64,
    pulled: u64,
    bytes: u64,
    mass_deletes_approved: u64,
}

/// One reading of the server's memory.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the load started.
    pub t_s: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// This (client) process's resident memory.
    pub client_rss_kib: u64,
    /// Requests sent so far.
    pub requests: u64,
}

/// Latency of one request kind, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub kind: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub backend: String,
    pub accounts: usize,
    pub devices_per_account: usize,
    pub duration_s: f64,
    pub sync_every_s: f64,
    pub edit_chance: f64,
    pub body_bytes: usize,
    pub setup_s: f64,
    pub drain_s: f64,
    /// Requests in the timed phase (log-ins, pushes, pulls), failed included.
    pub requests: u64,
    pub latencies: Vec<Latency>,
    /// Failed requests (and failed passes not caused by one) by kind and
    /// code, over the whole run. Nothing is injected, so every one counts.
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    pub sync_passes: u64,
    pub edits: u64,
    pub acked_changes: u64,
    pub pulled_changes: u64,
    pub wire_bytes: u64,
    pub mass_deletes_approved: u64,
    /// Notes written (each with its last content) across all accounts.
    pub notes_expected: u64,
    /// Note-on-device checks made after the final pull.
    pub checks: u64,
    /// Expected notes missing from a device.
    pub missing: u64,
    /// Expected notes on a device with other content than their writer's last.
    pub stale: u64,
    /// Notes on a device that no device of its account wrote.
    pub unexpected: u64,
    /// Changes still unacknowledged after the drain.
    pub unacked_after_drain: u64,
    pub samples: Vec<Sample>,
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    pub rss_max_kib: u64,
    pub hwm_end_kib: u64,
    /// Least-squares slope of server RSS after warm-up, KiB per minute.
    pub rss_slope_kib_per_min: f64,
    pub warmup_s: f64,
    pub server_exit: String,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the load began and ended:
    /// other work on the machine shows here and in the latencies.
    pub loadavg_start: String,
    pub loadavg_end: String,
}

impl SoakReport {
    /// Nothing lost and no failed request.
    pub fn passed(&self) -> bool {
        self.lost() == 0 && self.unexpected == 0 && self.unacked_after_drain == 0 && self.error_count == 0
    }

    pub fn lost(&self) -> u64 {
        self.missing + self.stale
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.error_count as f64 / self.requests as f64
        }
    }

    /// The summary as Markdown.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mib = |k: u64| k as f64 / 1024.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "## Soak: {} devices ({} accounts x {}), {} backend, {:.0} s\n",
            self.accounts * self.devices_per_account,
            self.accounts,
            self.devices_per_account,
            self.backend,
            self.duration_s
        );
        let _ = writeln!(s, "| measure | value |\n|---|---|");
        let _ = writeln!(
            s,
            "| load | each device: a sync pass every {:.1} s on average, an edit before {:.0}% of passes, bodies ~{} B |",
            self.sync_every_s,
            self.edit_chance * 100.0,
            self.body_bytes
        );
        let _ = writeln!(s, "| setup (stores, users, server, log-ins) | {:.1} s |", self.setup_s);
        let _ =
            writeln!(s, "| requests | {} ({:.1}/s) |", self.requests, self.requests as f64 / self.duration_s.max(1e-9));
        let _ = writeln!(s, "| failed requests | {} ({:.4}%) |", self.error_count, self.error_rate() * 100.0);
        let _ = writeln!(s, "| sync passes | {} |", self.sync_passes);
        let _ = writeln!(s, "| edits (create/edit/delete) | {} |", self.edits);
        let _ = writeln!(s, "| changes acknowledged by the server | {} |", self.acked_changes);
        let _ = writeln!(s, "| changes pulled by devices | {} |", self.pulled_changes);
        let _ = writeln!(s, "| bytes on the wire | {:.1} MiB |", self.wire_bytes as f64 / 1048576.0);
        let _ = writeln!(s, "| drain and final pull | {:.1} s |", self.drain_s);
        let _ = writeln!(
            s,
            "| notes checked on every device of their account | {} notes, {} checks |",
            self.notes_expected, self.checks
        );
        let _ = writeln!(
            s,
            "| lost (missing + stale) / unexpected / unacknowledged | {} + {} / {} / {} |",
            self.missing, self.stale, self.unexpected, self.unacked_after_drain
        );
        let _ = writeln!(
            s,
            "| server RSS start / end / max | {:.1} / {:.1} / {:.1} MiB (VmHWM {:.1} MiB) |",
            mib(self.rss_start_kib),
            mib(self.rss_end_kib),
            mib(self.rss_max_kib),
            mib(self.hwm_end_kib)
        );
        let _ = writeln!(
            s,
            "| server RSS slope after {:.0} s warm-up | {:+.1} KiB/min ({} samples) |",
            self.warmup_s,
            self.rss_slope_kib_per_min,
            self.samples.len()
        );
        let _ = writeln!(s, "| server exit | {} |", self.server_exit);
        let _ = writeln!(s, "| machine load average at start / end | {} / {} |", self.loadavg_start, self.loadavg_end);
        let _ = writeln!(s, "\n| request | count | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
        for l in &self.latencies {
            let _ = writeln!(
                s,
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                l.kind, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\n| failure (request: code) | count |\n|---|---|");
            for (k, n) in &self.errors {
                let _ = writeln!(s, "| {k} | {n} |");
            }
        }
        let _ =
            writeln!(s, "\n| minute | requests | server RSS MiB (last sample) | client RSS MiB |\n|---|---|---|---|");
        let mut last_requests = 0;
        let mut minute = 1;
        let mut last: Option<&Sample> = None;
        for sample in &self.samples {
            if sample.t_s >= minute as f64 * 60.0 {
                if let Some(prev) = last {
                    let _ = writeln!(
                        s,
                        "| {minute} | {} | {:.1} | {:.1} |",
                        prev.requests - last_requests,
                        mib(prev.rss_kib),
                        mib(prev.client_rss_kib)
                    );
                    last_requests = prev.requests;
                }
                minute += 1;
            }
            last = Some(sample);
        }
        if let Some(prev) = last {
            let _ = writeln!(
                s,
                "| {minute} (end) | {} | {:.1} | {:.1} |",
                prev.requests - last_requests,
                mib(prev.rss_kib),
                mib(prev.client_rss_kib)
            );
        }
        let _ = writeln!(s, "\nresult: {}", if self.passed() { "PASS" } else { "FAIL" });
        s
    }
}

/// The server process; killed if still running when dropped.
#[derive(Debug)]
struct ServerProcess {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (graceful shutdown), then wait for it.
    async fn stop(mut self) -> String {
        let pid = self.pid().to_string();
        let termed = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        if termed {
            for _ in 0..100 {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return describe_exit(status);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => format!("did not stop on SIGTERM; killed ({})", describe_exit(status)),
            Err(e) => format!("did not stop on SIGTERM; kill failed: {e}"),
        }
    }
}

fn describe_exit(status: ExitStatus) -> String {
    if status.success() {
        "clean (exit 0 after SIGTERM)".to_owned()
    } else {
        format!("{status}")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where the server's SQLite database goes: on disk (not the RAM disk the
/// devices use), as a real server's would. `OUTPOST_SOAK_SERVER_DIR`
/// overrides it.
fn server_dir() -> Result<tempfile::TempDir, SoakError> {
    let base = std::env::var_os("OUTPOST_SOAK_SERVER_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    tempfile::Builder::new()
        .prefix("outpost-soak-server-")
        .tempdir_in(&base)
        .map_err(io(format!("creating a directory in {}", base.display())))
}

fn database_url(config: &SoakConfig, dir: &Path) -> String {
    match &config.server.postgres_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.join("server.db").display()),
    }
}

async fn start_server(config: &SoakConfig, dir: tempfile::TempDir, db: &str) -> Result<ServerProcess, SoakError> {
    // A free port: bind, read it, release it for the server.
    let addr: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
        l.local_addr().map_err(io("reading a free port"))?
    };
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(io("creating the server log"))?;
    let child = Command::new(&config.server.program)
        .arg("serve")
        .args(["--listen", &addr.to_string(), "--db", db])
        .env("OUTPOST_DATA_DIR", dir.path().join("data"))
        .env("OUTPOST_LOG", std::env::var("OUTPOST_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(io(format!("starting {}", config.server.program.display())))?;
    let mut server = ServerProcess { child, url: format!("http://{addr}"), _dir: dir };
    for _ in 0..300 {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(server._dir.path().join("server.log")).unwrap_or_default();
            return Err(SoakError::Server(format!("exited at start ({status}): {}", log.trim())));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SoakError::Server(format!("not listening on {addr} after 30 s")))
}

/// `VmRSS` and `VmHWM` of a process, in KiB (zeros where unreadable).
pub fn process_memory(pid: &str) -> (u64, u64) {
    let Ok(file) = std::fs::File::open(format!("/proc/{pid}/status")) else {
        return (0, 0);
    };
    let (mut rss, mut hwm) = (0, 0);
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        let field = |prefix: &str| {
            line.strip_prefix(prefix).and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        if let Some(v) = field("VmRSS:") {
            rss = v;
        } else if let Some(v) = field("VmHWM:") {
            hwm = v;
        }
    }
    (rss, hwm)
}

/// Least-squares slope of `y` over `x`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) =
        points.iter().fold((0.0, 0.0), |(num, den), (x, y)| (num + (x - mx) * (y - my), den + (x - mx).powi(2)));
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

const WORDS: &[&str] = &[
    "the", "garden", "meeting", "notes", "tomorrow", "call", "review", "draft", "plan", "budget", "list", "shopping",
    "milk", "bread", "ideas", "project", "outline", "chapter", "remember", "book", "train", "ticket", "friday",
    "weekend", "recipe", "onions", "garlic", "olive", "oil", "salt", "pepper", "summary", "question", "answer",
];

fn text(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    while s.len() < bytes {
        s.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        s.push(if rng.gen_ratio(1, 12) { '\n' } else { ' ' });
    }
    s
}

impl Dev {
    /// Create, edit or delete one of this device's notes.
    fn edit(&mut self, body_bytes: usize) -> Result<(), CoreError> {
        self.versions += 1;
        let live: Vec<Uuid> =
            self.own.iter().filter(|(_, e)| matches!(e, Expected::Live { .. })).map(|(id, _)| *id).collect();
        let roll: f64 = self.rng.gen();
        let size = self.rng.gen_range(body_bytes / 2..=body_bytes + body_bytes / 2);
        let body = format!("{} v{}\n{}", self.name, self.versions, text(&mut self.rng, size));
        if live.is_empty() || roll < 0.25 {
            let title = format!("{} note {}", self.name, self.versions);
            let note =
                self.vault.create(NoteDraft { title: title.clone(), body: body.clone(), ..NoteDraft::default() })?;
            self.own.insert(note.id, Expected::Live { title, body });
        } else if roll < 0.95 || live.len() < 3 {
            let id = live[self.rng.gen_range(0..live.len())];
            let Some(Expected::Live { title, .. }) = self.own.get(&id).cloned() else {
                return Ok(());
            };
            self.vault.edit(id, NotePatch { body: Some(body.clone()), ..NotePatch::default() })?;
            self.own.insert(id, Expected::Live { title, body });
        } else {
            let id = live[self.rng.gen_range(0..live.len())];
            self.vault.delete(id)?;
            self.own.insert(id, Expected::Deleted);
        }
        Ok(())
    }

    /// One sync pass; a failure is counted (requests count their own).
    async fn sync(&mut self, shared: &Shared) -> Option<SyncReport> {
        let net = self.net.as_ref()?;
        self.passes += 1;
        match sync_once(&mut self.vault, net).await {
            Ok(r) => {
                self.acked += r.pushed as u64;
                self.pulled += r.pulled as u64;
                self.bytes += r.bytes_sent + r.bytes_received;
                Some(r)
            }
            Err(CoreError::MassDeleteHeld { .. }) => {
                // The user checks and approves; the next pass sends them.
                self.mass_deletes_approved += 1;
                if let Err(e) = self.vault.approve_mass_delete() {
                    shared.error("approve_mass_delete", e.code());
                }
                None
            }
            // Counted by the transport.
            Err(CoreError::Remote(_)) => None,
            Err(e) => {
                shared.error("sync", e.code());
                None
            }
        }
    }

    fn pending(&self) -> u64 {
        self.vault.status().map_or(u64::MAX, |s| s.pending)
    }
}

/// One account being prepared: its key, its users row, its devices.
struct Prepared {
    username: String,
    key: DataKey,
    user: NewUser,
}

/// Run a soak as `config` says.
pub async fn run(config: &SoakConfig) -> Result<SoakReport, SoakError> {
    let setup_started = Instant::now();
    let shared = Arc::new(Shared::default());
    let stores = scratch_dir("outpost-soak-devices-").map_err(|e| SoakError::Server(e.to_string()))?;
    let server_dir = server_dir()?;
    let db = database_url(config, server_dir.path());
    let run_id = Uuid::new_v4().simple().to_string();
    let run_id = &run_id[..8];

    // 1. Stores and users.
    let mut devs = Vec::with_capacity(config.devices());
    let mut prepared = Vec::with_capacity(config.accounts);
    for a in 0..config.accounts {
        let username = format!("soak-{run_id}-{a}");
        let key = DataKey::generate();
        for d in 0..config.devices_per_account {
            let name = format!("a{a}d{d}");
            let vault = Vault::open_for_account(&stores.path().join(&name), &MemoryStore::new(), key.clone())
                .map_err(core(&name))?;
            let rng = ChaCha8Rng::seed_from_u64(
                config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(devs.len() as u64),
            );
            devs.push(Dev {
                name,
                account: a,
                vault,
                net: None,
                own: BTreeMap::new(),
                versions: 0,
                rng,
                passes: 0,
                acked: 0,
                pulled: 0,
                bytes: 0,
                mass_deletes_approved: 0,
            });
        }
        let first = &devs[a * config.devices_per_account];
        let req = account::registration(&first.vault, &username, PASSPHRASE, KdfParams::insecure_for_tests())
            .map_err(core(&first.name))?;
        let auth_key = req.auth_key.0;
        let auth_hash = tokio::task::spawn_blocking(move || {
            let mut salt = [0u8; 16];
            rand::thread_rng().fill(&mut salt);
            let salt = SaltString::encode_b64(&salt).map_err(|e| SoakError::Hash(e.to_string()))?;
            // The server's own choice (`auth::hash_auth_key`): Argon2id
            // with the crate's defaults, as a PHC string.
            Argon2::default()
                .hash_password(&auth_key, &salt)
                .map(|h| h.to_string())
                .map_err(|e| SoakError::Hash(e.to_string()))
        })
        .await??;
        let user = NewUser {
            id: Uuid::now_v7(),
            username: username.clone(),
            auth_hash,
            wrapped_key: req.wrapped_key.0,
            kdf_params: req.kdf_params.0,
            created_ms: i64::try_from(now_ms()).unwrap_or(i64::MAX),
        };
        prepared.push(Prepared { username, key, user });
    }
    {
        let backend = outpost_server::backend::open(&db).await?;
        for p in &prepared {
            backend.create_user(&p.user).await?;
        }
    }

    // 2. The server, its memory sampler, the log-ins.
    let server = start_server(config, server_dir, &db).await?;
    let pid = server.pid().to_string();
    let prepared = Arc::new(prepared);
    let gate = Arc::new(Semaphore::new(config.setup_concurrency.max(1)));
    let mut logins = tokio::task::JoinSet::new();
    for mut dev in devs {
        let (url, prepared, shared, gate) = (server.url.clone(), prepared.clone(), shared.clone(), gate.clone());
        logins.spawn(async move {
            let _permit = gate.acquire().await;
            let p = &prepared[dev.account];
            let remote = Remote::new(&url)?;
            let t = Instant::now();
            let result = account::log_in_with(&remote, &p.username, PASSPHRASE, &KdfPolicy::insecure_for_tests()).await;
            shared.record("login", t, result.as_ref().err().map(CoreError::code));
            let (key, session) = result.map_err(core(&dev.name))?;
            if key.current().id() != p.key.id() {
                return Err(SoakError::Server(format!("{}: the server returned another account key", dev.name)));
            }
            account::remember(&mut dev.vault, &remote, &p.username, &session).map_err(core(&dev.name))?;
            dev.net = Some(TimedRemote { remote: remote.with_token(session.token), shared });
            Ok::<Dev, SoakError>(dev)
        });
    }
    let mut devs = Vec::with_capacity(config.devices());
    while let Some(dev) = logins.join_next().await {
        devs.push(dev??);
    }
    devs.sort_by_key(|d| (d.account, d.name.clone()));
    let setup_s = setup_started.elapsed().as_secs_f64();

    // 3. The load.
    let loadavg_start = loadavg();
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + config.duration;
    let stop_sampling = Arc::new(tokio::sync::Notify::new());
    let sampler = {
        let (pid, shared, every, stop) = (pid.clone(), shared.clone(), config.sample_every, stop_sampling.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = stop.notified() => break,
                }
                let (rss_kib, hwm_kib) = process_memory(&pid);
                let (client_rss_kib, _) = process_memory("self");
                samples.push(Sample {
                    t_s: started.elapsed().as_secs_f64(),
                    rss_kib,
                    hwm_kib,
                    client_rss_kib,
                    requests: shared.requests.load(Relaxed),
                });
            }
            samples
        })
    };
    let mut load = tokio::task::JoinSet::new();
    let (sync_every, edit_chance, body_bytes) =
        (config.sync_every.as_secs_f64(), config.edit_chance, config.body_bytes);
    let mut edits = 0;
    for mut dev in devs {
        let shared = shared.clone();
        load.spawn(async move {
            let mut edits = 0u64;
            // Spread the first passes over one interval.
            let first = dev.rng.gen_range(0.0..sync_every);
            tokio::time::sleep(Duration::from_secs_f64(first)).await;
            while tokio::time::Instant::now() < deadline {
                if dev.rng.gen_bool(edit_chance) {
                    match dev.edit(body_bytes) {
                        Ok(()) => edits += 1,
                        Err(e) => shared.error("edit", e.code()),
                    }
                }
                dev.sync(&shared).await;
                let wait = dev.rng.gen_range(sync_every * 0.5..sync_every * 1.5);
                tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + Duration::from_secs_f64(wait)))
                    .await;
            }
            (dev, edits)
        });
    }
    let mut devs = Vec::with_capacity(config.devices());
    while let Some(done) = load.join_next().await {
        let (dev, n) = done?;
        edits += n;
        devs.push(dev);
    }
    let duration_s = started.elapsed().as_secs_f64();
    let loadavg_end = loadavg();
    let requests = shared.requests.load(Relaxed);
    stop_sampling.notify_one();
    let mut samples = sampler.await?;

    // 4. Drain: everything each device wrote reaches the server.
    let drain_started = Instant::now();
    let drained = drain(devs, config.setup_concurrency, &shared, true).await?;
    let devs = drain(drained, config.setup_concurrency, &shared, false).await?;
    let drain_s = drain_started.elapsed().as_secs_f64();
    let (rss_end, hwm_end) = process_memory(&pid);
    let server_exit = server.stop().await;

    // 5. Nothing lost.
    let mut report = SoakReport {
        backend: config.backend_name().to_owned(),
        accounts: config.accounts,
        devices_per_account: config.devices_per_account,
        duration_s,
        sync_every_s: sync_every,
        edit_chance,
        body_bytes,
        setup_s,
        drain_s,
        requests,
        latencies: Vec::new(),
        errors: BTreeMap::new(),
        error_count: 0,
        sync_passes: 0,
        edits,
        acked_changes: 0,
        pulled_changes: 0,
        wire_bytes: 0,
        mass_deletes_approved: 0,
        notes_expected: 0,
        checks: 0,
        missing: 0,
        stale: 0,
        unexpected: 0,
        unacked_after_drain: 0,
        samples: Vec::new(),
        rss_start_kib: 0,
        rss_end_kib: rss_end,
        rss_max_kib: 0,
        hwm_end_kib: hwm_end,
        rss_slope_kib_per_min: 0.0,
        warmup_s: config.warmup.as_secs_f64(),
        server_exit,
        loadavg_start,
        loadavg_end,
    };
    verify(&devs, &mut report)?;
    for d in &devs {
        report.sync_passes += d.passes;
        report.acked_changes += d.acked;
        report.pulled_changes += d.pulled;
        report.wire_bytes += d.bytes;
        report.mass_deletes_approved += d.mass_deletes_approved;
    }
    let stats = std::mem::take(&mut *shared.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for (kind, mut lat) in stats.latency_us {
        lat.sort_unstable();
        report.latencies.push(Latency {
            kind: kind.to_owned(),
            count: lat.len(),
            p50_ms: percentile(&lat, 50.0),
            p95_ms: percentile(&lat, 95.0),
            p99_ms: percentile(&lat, 99.0),
            max_ms: lat.last().map_or(0.0, |&m| m as f64 / 1000.0),
        });
    }
    for ((kind, code), n) in stats.errors {
        report.errors.insert(format!("{kind}: {code}"), n);
        report.error_count += n;
    }
    samples.retain(|s| s.rss_kib > 0);
    report.rss_start_kib = samples.first().map_or(0, |s| s.rss_kib);
    report.rss_max_kib = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0).max(rss_end);
    let after_warmup: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t_s >= config.warmup.as_secs_f64())
        .map(|s| (s.t_s / 60.0, s.rss_kib as f64))
        .collect();
    report.rss_slope_kib_per_min = slope(&after_warmup);
    report.samples = samples;
    Ok(report)
}

/// Sync every device, `concurrency` at a time. With `until_empty`, each
/// keeps syncing (up to 30 passes) until nothing of its own is queued;
/// otherwise one pass (the final pull).
async fn drain(
    devs: Vec<Dev>,
    concurrency: usize,
    shared: &Arc<Shared>,
    until_empty: bool,
) -> Result<Vec<Dev>, SoakError> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for mut dev in devs {
        let (gate, shared) = (gate.clone(), shared.clone());
        set.spawn(async move {
            let _permit = gate.acquire().await;
            if until_empty {
                for _ in 0..30 {
                    dev.sync(&shared).await;
                    if dev.pending() == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            } else {
                dev.sync(&shared).await;
            }
            dev
        });
    }
    let mut out = Vec::new();
    while let Some(dev) = set.join_next().await {
        out.push(dev?);
    }
    out.sort_by_key(|d| (d.account, d.name.clone()));
    Ok(out)
}

/// Compare every device's notes with what its account's devices wrote.
fn verify(devs: &[Dev], report: &mut SoakReport) -> Result<(), SoakError> {
    let mut expected: BTreeMap<usize, BTreeMap<Uuid, &Expected>> = BTreeMap::new();
    for d in devs {
        expected.entry(d.account).or_default().extend(d.own.iter().map(|(id, e)| (*id, e)));
    }
    report.notes_expected = expected.values().map(|m| m.len() as u64).sum();
    for d in devs {
        let pending = d.vault.status().map_err(core(&d.name))?.pending;
        report.unacked_after_drain += pending;
        let held: BTreeMap<Uuid, bool> = d.vault.all_ids().map_err(core(&d.name))?.into_iter().collect();
        let want = expected.get(&d.account).cloned().unwrap_or_default();
        report.unexpected += held.keys().filter(|id| !want.contains_key(id)).count() as u64;
        for (id, e) in want {
            report.checks += 1;
            match (e, held.get(&id)) {
                (_, None) => report.missing += 1,
                (Expected::Deleted, Some(deleted)) => report.stale += u64::from(!deleted),
                (Expected::Live { .. }, Some(true)) => report.stale += 1,
                (Expected::Live { title, body }, Some(false)) => {
                    let note = d.vault.get(id).map_err(core(&d.name))?;
                    report.stale += u64::from(note.title != *title || note.body != *body);
                }
            }
        }
    }
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_noise_around_flat() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), 3.0 * f64::from(i) + 7.0)).collect();
        assert!((slope(&line) - 3.0).abs() < 1e-9);
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), if i % 2 == 0 { 100.0 } else { 102.0 })).collect();
        assert!(slope(&flat).abs() < 0.5);
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&us, 50.0), 50.0);
        assert_eq!(percentile(&us, 95.0), 95.0);
        assert_eq!(percentile(&us, 99.0), 99.0);
        assert_eq!(percentile(&us, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn reads_this_process_memory() {
        let (rss, hwm) = process_memory("self");
        assert!(rss > 0, "VmRSS of this process");
        assert!(hwm >= rss, "the high-water mark is at least the current RSS");
    }
}
