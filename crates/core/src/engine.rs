//! The background sync engine: one tokio task that runs sync passes when
//! something makes one worth running, and publishes where sync stands.
//!
//! # What wakes it
//! - a local change ([`Engine::local_change`]), debounced: the pass runs
//!   [`EngineOptions::debounce`] after the last change, and no later than
//!   four debounces after the first of a burst;
//! - the network coming back: the connectivity watcher going from offline
//!   to online (its health probe, or a poke stream that reconnects), or the
//!   testers' control switching back from offline;
//! - a poke from the server whose sequence is not this device's cursor
//!   (above it: changes to pull; below it: the server was reset or
//!   restored, and the pass starts over; a task keeps `GET /v1/events`
//!   open and reconnects with backoff);
//! - the timer ([`EngineOptions::interval`] after the last pass);
//! - [`Engine::sync_now`];
//! - its own retry time after a transient failure (backoff with full
//!   jitter), or the earliest retry time of an outbox entry.
//!
//! Each wake runs passes (`sync::sync_observed`: push until nothing is due,
//! pull until drained) until nothing is due, at most [`MAX_PASSES_PER_WAKE`]
//! in a row. Between wakes it sleeps: no polling.
//!
//! # What it publishes
//! [`SyncStatus`] on a `watch` channel (and, by default, in
//! [`STATUS_FILE`] in the data directory, so another process such as
//! `outpost status --watch` can follow a running app): connectivity, the
//! network mode, the phase, outbox counts, progress of the running pass,
//! last success, last error, open conflicts and the next retry.
//!
//! # What it never does
//! - Hold the vault across a network call (see [`crate::sync::sync_shared`]).
//! - Send anything while switched offline: the pending count still follows
//!   local changes.
//! - Retry a permanent failure by itself (logged out, a refused request, an
//!   unreachable key): it stops with the error shown until
//!   [`Engine::sync_now`]. A mass delete waiting for approval holds the
//!   pull only: local changes still go up, and the timer looks again in
//!   case it was approved elsewhere.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connectivity::{Backoff, Connectivity, ConnectivityMonitor};
use crate::error::{Error, Result};
use crate::model::StoreStatus;
use crate::net::{ControlWatcher, NetControl, NetMode};
use crate::remote::{Remote, RemoteError};
use crate::sync::{self, PassStep, SharedVault};

/// The engine's status file in the data directory.
pub const STATUS_FILE: &str = "sync-status.json";

/// Passes one wake may run back to back (a merge during a pull queues a
/// change to push, so a second pass is normal; more means something keeps
/// producing work, and the engine pauses a debounce before going on).
pub const MAX_PASSES_PER_WAKE: usize = 4;

/// A burst of local changes is pushed no later than this many debounces
/// after its first change, however long the typing goes on.
const MAX_DEBOUNCE_FACTOR: u32 = 4;

/// A poke stream that lived this long was healthy: reconnect quickly.
const HEALTHY_STREAM: Duration = Duration::from_secs(10);

/// How the engine paces itself. `Default` is what the app uses.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Quiet time after a local change before pushing it (300 ms).
    pub debounce: Duration,
    /// A pass runs this long after the last one even with no other wake
    /// (60 s): a safety net for lost pokes, not the way changes travel.
    pub interval: Duration,
    /// Keep [`STATUS_FILE`] up to date for other processes (true).
    pub status_file: bool,
    /// The engine's backoff after a transient failure that is not the
    /// network being down (an unreadable answer, a busy database): from
    /// `retry_min` doubling to `retry_max`, full jitter (1 s to 5 min).
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// The health probe's backoff while offline, and the poke stream's
    /// between reconnects (1 s doubling to 60 s, full jitter).
    pub probe_min: Duration,
    pub probe_max: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(300),
            interval: Duration::from_secs(60),
            status_file: true,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            probe_min: Duration::from_secs(1),
            probe_max: Duration::from_secs(60),
        }
    }
}

/// What the engine is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Phase {
    /// Nothing to do, or switched offline.
    Idle,
    Pushing,
    Pulling,
    /// A pass failed for a reason that passes (the server is down, an
    /// unreadable answer): the next try is at `next_retry_ms`.
    WaitingRetry,
    /// A pass would delete many notes and waits for the user's approval
    /// (`mass_delete_held`); nothing was applied.
    Held,
    /// Not syncing: a permanent failure (see `last_error`), or the engine
    /// was shut down or never started.
    Stopped,
}

/// Progress of the running pass: changes answered while pushing, server
/// sequence numbers pulled while pulling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// The error behind the current status, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StatusError {
    /// Stable: `Error::code()`, or the network error's own code
    /// (`unreachable`, `unauthorized`, `decode`, the server's code), or
    /// `control_file` for a network control file that cannot be used.
    pub code: String,
    pub message: String,
    pub at_ms: i64,
}

impl StatusError {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), at_ms: now_ms() }
    }

    fn from_error(e: &Error) -> Self {
        let code = match e {
            Error::Remote(r) => r.code().to_owned(),
            e => e.code().to_owned(),
        };
        Self::new(code, e.to_string())
    }
}

/// Where sync stands: what the status bar shows. Times are milliseconds
/// since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncStatus {
    pub connectivity: Connectivity,
    #[cfg_attr(feature = "specta", specta(type = NetModeShape))]
    pub net_mode: NetMode,
    pub phase: Phase,
    /// Outbox entries waiting to be sent.
    pub pending: u64,
    /// Outbox entries the server rejected as invalid (kept, shown).
    pub failed: u64,
    /// The running pass, if any.
    pub progress: Option<Progress>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<StatusError>,
    pub open_conflicts: u64,
    /// When this device last found its server reset or restored from an
    /// older backup and sent every note to it again (the UI says so once).
    pub server_reset_ms: Option<i64>,
    /// When the engine (or its health probe) tries again, while waiting.
    pub next_retry_ms: Option<i64>,
    pub updated_ms: i64,
}

/// The TypeScript shape of [`NetMode`] in the app's bindings (the same
/// serde form: `{"mode":"flaky","drop":0.25,"latency_ms":200}`).
#[cfg(feature = "specta")]
#[derive(Debug, Serialize, specta::Type)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum NetModeShape {
    Online,
    Offline,
    Flaky { drop: f64, latency_ms: u64 },
}

impl SyncStatus {
    /// The status of a store no engine is syncing (no account, logged out):
    /// its own counts, phase stopped.
    pub fn local_only(s: &StoreStatus, net_mode: NetMode) -> Self {
        let connectivity = if net_mode == NetMode::Offline { Connectivity::SwitchedOff } else { Connectivity::Unknown };
        Self {
            connectivity,
            net_mode,
            phase: Phase::Stopped,
            pending: s.pending,
            failed: s.failed,
            progress: None,
            last_success_ms: s.last_sync_at,
            server_reset_ms: s.server_reset_at,
            last_error: None,
            open_conflicts: s.open_conflicts,
            next_retry_ms: None,
            updated_ms: now_ms(),
        }
    }

    /// Equal in everything but the time of the update.
    fn same_as(&self, other: &SyncStatus) -> bool {
        SyncStatus { updated_ms: other.updated_ms, ..self.clone() } == *other
    }
}

/// What [`STATUS_FILE`] holds: the status, and the process that wrote it
/// (so a monitor can tell a running engine from one that died).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    pub pid: u32,
    #[serde(flatten)]
    pub status: SyncStatus,
}

/// The engine status last written in `dir`, if any engine ever ran there.
pub fn read_status_file(dir: &Path) -> Result<Option<StatusFile>> {
    let path = dir.join(STATUS_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::Invalid(format!(
            "{} is not a sync status written by this version of Outpost ({e}); a running engine rewrites it on its next change",
            path.display()
        ))
    })
}

/// Counters for tests and benchmarks: how often the engine woke and how
/// many passes it ran. An idle engine wakes about once per `interval`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub wakeups: u64,
    pub passes: u64,
}

/// The running engine. Dropping it stops the engine without waiting;
/// [`Engine::shutdown`] waits for it.
#[derive(Debug)]
pub struct Engine {
    /// Wake flags shared with the task (local change, sync now).
    wakes: Arc<Wakes>,
    /// The status channel (and file); subscribers get receivers.
    publisher: Arc<Publisher>,
    /// The network mode this engine's requests obey.
    net: NetControl,
    /// Tells the task and its helpers to stop.
    stop: watch::Sender<bool>,
    /// The engine loop, then the poke stream and the connectivity probe.
    tasks: Vec<JoinHandle<()>>,
    /// Applies `outpost net` (the control file) to `net`; absent only if
    /// the data directory cannot be watched.
    control: Option<ControlWatcher>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Wakes {
    local: AtomicBool,
    now: AtomicBool,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Counters {
    wakeups: AtomicU64,
    passes: AtomicU64,
}

/// The last poke: how many came so far, and the sequence it carried.
#[derive(Debug, Clone, Copy, Default)]
struct Poke {
    count: u64,
    seq: u64,
}

impl Engine {
    /// Starts the engine on the current tokio runtime. `remote` carries the
    /// session token; the engine attaches its [`NetControl`] to it (the
    /// remote's own, if it has one), which the control file in `data_dir`
    /// then drives.
    pub fn start(vault: SharedVault, remote: Remote, data_dir: &Path, opts: EngineOptions) -> Result<Engine> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Invalid("the sync engine needs a tokio runtime to run on".into()))?;
        let net = remote.net().cloned().unwrap_or_default();
        // Read (and then watch) the control file before anything is sent,
        // so an engine started while switched offline sends nothing at all.
        let (control, control_rx, control_error) = match ControlWatcher::start(data_dir, net.clone()) {
            Ok((watcher, rx)) => (Some(watcher), Some(rx), None),
            Err(e) => {
                tracing::warn!(error = %e, "the network control file is not watched");
                match crate::net::read_control(data_dir) {
                    Ok(mode) => net.set(mode),
                    Err(e) => tracing::warn!(error = %e, "network control file ignored"),
                }
                (None, None, Some(StatusError::new("control_file", e.to_string())))
            }
        };
        let remote = remote.with_net(net.clone());
        let monitor = ConnectivityMonitor::new(net.clone(), opts.probe_min, opts.probe_max);
        let counts = {
            let v = sync::lock(&vault);
            v.status()?
        };
        let mut first = SyncStatus::local_only(&counts, net.mode());
        first.phase = Phase::Idle;
        let publisher = Arc::new(Publisher::new(first, opts.status_file.then(|| data_dir.join(STATUS_FILE))));
        publisher.write_file(&publisher.current());

        let (stop, stop_rx) = watch::channel(false);
        let (poke_tx, poke_rx) = watch::channel(Poke::default());
        let wakes = Arc::new(Wakes::default());
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            vault,
            remote: remote.clone(),
            net_rx: net.subscribe(),
            conn_rx: monitor.subscribe(),
            net: net.clone(),
            monitor: monitor.clone(),
            publisher: publisher.clone(),
            wakes: wakes.clone(),
            counters: counters.clone(),
            stop: stop_rx.clone(),
            poke_rx: Some(poke_rx),
            control_rx,
            counts,
            phase: Phase::Idle,
            blocked: None,
            sync_error: None,
            control_error,
            retry: Backoff::new(opts.retry_min, opts.retry_max),
            retry_at: None,
            debounce_at: None,
            first_change: None,
            timer_at: Instant::now() + opts.interval,
            last_mode: net.mode(),
            last_conn: monitor.current(),
            pull_hint: 0,
            opts: opts.clone(),
        };
        let tasks = vec![
            runtime.spawn(worker.run()),
            runtime.spawn(run_pokes(
                remote.clone(),
                monitor.clone(),
                net.clone(),
                poke_tx,
                stop_rx.clone(),
                Backoff::new(opts.probe_min, opts.probe_max),
            )),
            runtime.spawn(monitor.run(remote, stop_rx)),
        ];
        Ok(Engine { wakes, publisher, net, stop, tasks, control, counters })
    }

    /// The live status. A new receiver sees the current value as seen.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.publisher.tx.subscribe()
    }

    /// Something was saved locally: push it soon (debounced). Never blocks.
    pub fn local_change(&self) {
        self.wakes.local.store(true, Ordering::Release);
        self.wakes.notify.notify_one();
    }

    /// Run a pass now: also retries after a permanent failure (after the
    /// user logged in again, or approved a held mass delete).
    pub fn sync_now(&self) {
        self.wakes.now.store(true, Ordering::Release);
        self.wakes.notify.notify_one();
    }

    /// The network mode the engine obeys: the app's "work offline" switch
    /// sets it (and writes the control file, so `outpost net` agrees).
    pub fn net(&self) -> &NetControl {
        &self.net
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            wakeups: self.counters.wakeups.load(Ordering::Relaxed),
            passes: self.counters.passes.load(Ordering::Relaxed),
        }
    }

    /// Stops the engine and waits for it. A request in flight is abandoned
    /// (its answer, if the server committed, is resent safely by the next
    /// pass: op ids make pushes idempotent); every local step of a pass is
    /// one transaction, so the store is consistent whenever this returns.
    /// The last status published is [`Phase::Stopped`].
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            if let Err(e) = task.await {
                if e.is_panic() {
                    tracing::error!("a sync engine task panicked");
                }
            }
        }
        // Joins the watcher's thread: a few milliseconds at most.
        drop(self.control.take());
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The status channel, and the file that mirrors it.
#[derive(Debug)]
struct Publisher {
    tx: watch::Sender<SyncStatus>,
    file: Option<PathBuf>,
    /// A failing status file is logged once, not on every change.
    file_failed: AtomicBool,
}

impl Publisher {
    fn new(first: SyncStatus, file: Option<PathBuf>) -> Self {
        Self { tx: watch::Sender::new(first), file, file_failed: AtomicBool::new(false) }
    }

    fn current(&self) -> SyncStatus {
        self.tx.borrow().clone()
    }

    /// Publishes `f` applied to the current status, if that changes it.
    fn modify(&self, f: impl FnOnce(&mut SyncStatus)) {
        let mut next = self.current();
        f(&mut next);
        self.send(next);
    }

    fn send(&self, mut next: SyncStatus) {
        let changed = self.tx.send_if_modified(|current| {
            if current.same_as(&next) {
                return false;
            }
            next.updated_ms = now_ms();
            *current = next.clone();
            true
        });
        if changed {
            self.write_file(&next);
        }
    }

    /// Replaces the file atomically (a temporary file renamed over it), so
    /// a reader sees the old status or the new one. Not fsynced: it is a
    /// live view, rewritten on the next change, not data.
    fn write_file(&self, status: &SyncStatus) {
        let Some(path) = &self.file else { return };
        let result = (|| -> std::io::Result<()> {
            use std::io::Write as _;
            let dir = path.parent().unwrap_or(Path::new("."));
            let file = StatusFile { pid: std::process::id(), status: status.clone() };
            let json = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
            let mut tmp = tempfile::Builder::new().prefix(".sync-status.").suffix(".tmp").tempfile_in(dir)?;
            tmp.write_all(&json)?;
            tmp.write_all(b"\n")?;
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(())
        })();
        match result {
            Ok(()) => self.file_failed.store(false, Ordering::Relaxed),
            Err(e) => {
                if !self.file_failed.swap(true, Ordering::Relaxed) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the sync status file");
                }
            }
        }
    }
}

/// The engine loop and everything only it touches.
struct Worker {
    vault: SharedVault,
    remote: Remote,
    net: NetControl,
    monitor: ConnectivityMonitor,
    publisher: Arc<Publisher>,
    wakes: Arc<Wakes>,
    counters: Arc<Counters>,
    opts: EngineOptions,
    stop: watch::Receiver<bool>,
    net_rx: watch::Receiver<NetMode>,
    conn_rx: watch::Receiver<Connectivity>,
    /// `None` once the poke task is gone (it only ends on stop).
    poke_rx: Option<watch::Receiver<Poke>>,
    /// Errors of the control file (`Some` while it is corrupt).
    control_rx: Option<watch::Receiver<Option<String>>>,

    /// The store's counts, refreshed after passes and local changes.
    counts: StoreStatus,
    phase: Phase,
    /// Held or stopped after a permanent failure: only `sync_now` (or a
    /// restart) tries again.
    blocked: Option<Phase>,
    sync_error: Option<StatusError>,
    control_error: Option<StatusError>,
    /// The engine's own backoff for transient failures.
    retry: Backoff,
    retry_at: Option<Instant>,
    /// When the debounced local changes are due, and when the burst began.
    debounce_at: Option<Instant>,
    first_change: Option<Instant>,
    timer_at: Instant,
    last_mode: NetMode,
    last_conn: Connectivity,
    /// The highest sequence a poke announced: the pull's progress total.
    pull_hint: u64,
}

/// What woke the loop.
enum Event {
    Stop,
    Wake,
    Net,
    Connectivity,
    Poke,
    Control,
    Deadline,
    Nothing,
}

impl Worker {
    async fn run(mut self) {
        self.control_changed();
        self.publish();
        // Catch up at start: whatever queued while the app was closed.
        let mut pass_due = self.can_sync();
        loop {
            if pass_due {
                pass_due = false;
                if self.run_passes().await.is_break() {
                    break;
                }
                continue;
            }
            let deadline = self.next_deadline();
            let event = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => Event::Stop,
                _ = self.wakes.notify.notified() => Event::Wake,
                r = self.net_rx.changed() => if r.is_ok() { Event::Net } else { Event::Nothing },
                r = self.conn_rx.changed() => if r.is_ok() { Event::Connectivity } else { Event::Nothing },
                ok = changed(&mut self.poke_rx) => if ok { Event::Poke } else { Event::Nothing },
                ok = changed(&mut self.control_rx) => if ok { Event::Control } else { Event::Nothing },
                _ = tokio::time::sleep_until(deadline) => Event::Deadline,
            };
            self.counters.wakeups.fetch_add(1, Ordering::Relaxed);
            match event {
                Event::Stop => break,
                Event::Wake => pass_due = self.woken(),
                Event::Net => pass_due = self.mode_changed(),
                Event::Connectivity => pass_due = self.connectivity_changed(),
                Event::Poke => pass_due = self.poked(),
                Event::Control => self.control_changed(),
                Event::Deadline => pass_due = self.deadline_passed(),
                Event::Nothing => {}
            }
            self.publish();
        }
        self.phase = Phase::Stopped;
        self.publish();
    }

    /// No requests while switched offline, or after a permanent failure.
    fn can_sync(&self) -> bool {
        self.blocked.is_none() && self.net.mode() != NetMode::Offline
    }

    /// While the server is down the health probe decides when to try
    /// again; local changes and the timer only queue.
    fn server_down(&self) -> bool {
        self.monitor.current() == Connectivity::Offline
    }

    fn next_deadline(&self) -> Instant {
        [self.debounce_at, self.retry_at].into_iter().flatten().fold(self.timer_at, Instant::min)
    }

    fn woken(&mut self) -> bool {
        let mut due = false;
        if self.wakes.now.swap(false, Ordering::AcqRel) {
            // The user asked: try even after a permanent failure.
            self.blocked = None;
            self.retry_at = None;
            due = self.can_sync();
        }
        if self.wakes.local.swap(false, Ordering::AcqRel) {
            let now = Instant::now();
            let first = *self.first_change.get_or_insert(now);
            self.debounce_at = Some((now + self.opts.debounce).min(first + self.opts.debounce * MAX_DEBOUNCE_FACTOR));
        }
        due
    }

    fn mode_changed(&mut self) -> bool {
        let mode = self.net_rx.borrow_and_update().clone();
        let was_offline = self.last_mode == NetMode::Offline;
        self.last_mode = mode.clone();
        if mode == NetMode::Offline {
            tracing::info!("switched offline: nothing is sent until switched back on");
            self.retry_at = None;
            if self.blocked.is_none() {
                self.phase = Phase::Idle;
            }
            return false;
        }
        // Back on: send what queued meanwhile.
        was_offline && self.can_sync()
    }

    fn connectivity_changed(&mut self) -> bool {
        let now = *self.conn_rx.borrow_and_update();
        let came_back = self.last_conn == Connectivity::Offline && now == Connectivity::Online;
        self.last_conn = now;
        came_back && self.can_sync()
    }

    fn poked(&mut self) -> bool {
        let Some(rx) = self.poke_rx.as_mut() else { return false };
        let poke = *rx.borrow_and_update();
        self.pull_hint = self.pull_hint.max(poke.seq);
        if !self.can_sync() {
            return false;
        }
        // seq 0 means "unknown, pull anyway" (docs/protocol.md).
        let cursor = match sync::lock(&self.vault).cursor() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the pull cursor");
                return true;
            }
        };
        // A sequence below the cursor means the server is behind this
        // device (reset, or restored from an older backup): a pass finds
        // out (`cursor_out_of_range`) and starts over.
        poke.seq == 0 || poke.seq != cursor
    }

    fn control_changed(&mut self) {
        let Some(rx) = self.control_rx.as_mut() else { return };
        let error = rx.borrow_and_update().clone();
        self.control_error = error.map(|message| StatusError::new("control_file", message));
    }

    fn deadline_passed(&mut self) -> bool {
        let now = Instant::now();
        let mut due = false;
        // A held mass delete does not stop local changes from going up, and
        // the timer looks again (once a minute, not a busy retry) in case it
        // was approved from elsewhere (`outpost sync --approve-deletes`).
        let held = self.blocked == Some(Phase::Held) && self.net.mode() != NetMode::Offline;
        let may_sync = (self.can_sync() || held) && !self.server_down();
        if self.debounce_at.is_some_and(|at| at <= now) {
            self.debounce_at = None;
            self.first_change = None;
            // The counts follow local changes even while nothing is sent.
            let outbox = self.refresh_counts();
            due |= outbox.due > 0 && may_sync;
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            due |= self.can_sync() && !self.server_down();
        }
        if self.timer_at <= now {
            self.timer_at = now + self.opts.interval;
            due |= may_sync;
        }
        due
    }

    /// Passes until nothing is due (at most [`MAX_PASSES_PER_WAKE`]).
    /// `Break` when told to stop; a pass in flight is then abandoned.
    async fn run_passes(&mut self) -> ControlFlow<()> {
        self.debounce_at = None;
        self.first_change = None;
        self.retry_at = None;
        let mut settled = false;
        for _ in 0..MAX_PASSES_PER_WAKE {
            self.counters.passes.fetch_add(1, Ordering::Relaxed);
            let outbox = self.refresh_counts();
            let start_cursor = sync::lock(&self.vault).cursor().unwrap_or(0);
            self.phase = Phase::Pushing;
            self.publish_with(Some(Progress { done: 0, total: outbox.pending }));

            let (publisher, hint, total) = (&self.publisher, self.pull_hint, outbox.pending);
            let on_step = move |step: PassStep| {
                publisher.modify(|s| match step {
                    PassStep::Pushing { answered } => {
                        s.phase = Phase::Pushing;
                        let done = answered as u64;
                        s.progress = Some(Progress { done, total: total.max(done) });
                        // Answered changes have left the queue: the count
                        // drains as batches are acknowledged, not only when
                        // the pass ends (which then sets the exact figure).
                        s.pending = total.saturating_sub(done);
                    }
                    PassStep::Pulling { cursor, more } => {
                        s.phase = Phase::Pulling;
                        let done = cursor.saturating_sub(start_cursor);
                        let known = hint.saturating_sub(start_cursor);
                        s.progress = Some(Progress { done, total: known.max(done + u64::from(more)) });
                    }
                })
            };
            let pass = sync::sync_observed(&*self.vault, &self.remote, on_step);
            let result = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => return ControlFlow::Break(()),
                result = pass => result,
            };
            match result {
                Ok(report) => {
                    tracing::debug!(?report, "sync pass done");
                    self.monitor.record_success();
                    self.retry.reset();
                    self.blocked = None;
                    self.sync_error = None;
                    self.phase = Phase::Idle;
                    if self.refresh_counts().due == 0 {
                        settled = true;
                        break;
                    }
                }
                Err(e) => {
                    self.failed(e);
                    settled = true;
                    break;
                }
            }
        }
        let now = Instant::now();
        if !settled {
            // Something keeps producing work: breathe, then go on.
            self.debounce_at = Some(now + self.opts.debounce);
        }
        self.timer_at = now + self.opts.interval;
        // Entries waiting out their own backoff wake the engine when due.
        let outbox = self.refresh_counts();
        if let (Some(at), None) = (outbox.next_attempt_ms, self.blocked) {
            let wait = Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0));
            let at = now + wait;
            self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
        }
        self.publish_with(None);
        ControlFlow::Continue(())
    }

    /// Decide what a failed pass means: switched off, try again later, or
    /// stop until the user acts.
    fn failed(&mut self, e: Error) {
        let status = StatusError::from_error(&e);
        if let Error::Remote(r) = &e {
            self.monitor.record_error(r);
        }
        enum Next {
            Idle,
            Retry,
            Block(Phase),
        }
        let next = match &e {
            Error::Remote(RemoteError::Offline) => Next::Idle,
            Error::Remote(r) if r.is_retryable() => Next::Retry,
            // An answer that cannot be read (a captive portal, a proxy's
            // error page, a half-upgraded server) may read fine later.
            Error::Remote(RemoteError::Decode(_)) => Next::Retry,
            Error::Remote(_) => Next::Block(Phase::Stopped),
            e if e.code() == "mass_delete_held" => Next::Block(Phase::Held),
            e if PERMANENT.contains(&e.code()) => Next::Block(Phase::Stopped),
            // Anything else (a busy database, an invalid answer, an error
            // this version does not know) is retried with backoff: never
            // in a busy loop, never given up on silently.
            _ => Next::Retry,
        };
        match next {
            Next::Idle => {
                self.phase = Phase::Idle;
                return;
            }
            Next::Retry => {
                tracing::info!(code = %status.code, error = %e, "sync pass failed; will retry");
                self.phase = Phase::WaitingRetry;
                if !self.server_down() {
                    self.retry_at = Some(Instant::now() + self.retry.next_delay());
                }
            }
            Next::Block(phase) => {
                tracing::warn!(code = %status.code, error = %e, "sync stopped until the user acts");
                self.phase = phase;
                self.blocked = Some(phase);
            }
        }
        self.sync_error = Some(status);
    }

    /// Reads the store's counts (no key needed, no network) and returns the
    /// outbox's schedule.
    fn refresh_counts(&mut self) -> OutboxDue {
        let v = sync::lock(&self.vault);
        match v.status() {
            Ok(s) => self.counts = s,
            Err(e) => tracing::warn!(error = %e, "cannot read the store's counts"),
        }
        let now = now_ms();
        let mut due = OutboxDue { pending: self.counts.pending, ..OutboxDue::default() };
        match v.outbox() {
            Ok(entries) => {
                for entry in entries.iter().filter(|e| !e.failed) {
                    if entry.next_attempt_at <= now {
                        due.due += 1;
                    } else {
                        due.next_attempt_ms = Some(
                            due.next_attempt_ms.map_or(entry.next_attempt_at, |t: i64| t.min(entry.next_attempt_at)),
                        );
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox");
                due.due = self.counts.pending;
            }
        }
        due
    }

    fn publish(&self) {
        let progress =
            self.publisher.current().progress.filter(|_| matches!(self.phase, Phase::Pushing | Phase::Pulling));
        self.publish_with(progress);
    }

    fn publish_with(&self, progress: Option<Progress>) {
        let net_mode = self.net.mode();
        let connectivity =
            if net_mode == NetMode::Offline { Connectivity::SwitchedOff } else { self.monitor.current() };
        let phase = self.blocked.unwrap_or(self.phase);
        let next_retry_ms = match phase {
            Phase::WaitingRetry if connectivity == Connectivity::Offline => self.monitor.next_probe_ms(),
            Phase::WaitingRetry => self.retry_at.map(|at| {
                now_ms().saturating_add(
                    i64::try_from(at.saturating_duration_since(Instant::now()).as_millis()).unwrap_or(0),
                )
            }),
            _ => None,
        };
        self.publisher.send(SyncStatus {
            connectivity,
            net_mode,
            phase,
            pending: self.counts.pending,
            failed: self.counts.failed,
            progress,
            last_success_ms: self.counts.last_sync_at,
            server_reset_ms: self.counts.server_reset_at,
            last_error: self.sync_error.clone().or_else(|| self.control_error.clone()),
            open_conflicts: self.counts.open_conflicts,
            next_retry_ms,
            updated_ms: 0,
        });
    }
}

/// Codes of failures that retrying cannot fix: the user must act.
const PERMANENT: &[&str] =
    &["key_unavailable", "wrong_passphrase", "not_a_database", "schema_too_new", "migration_failed", "corrupt"];

/// The outbox as the scheduler sees it.
#[derive(Debug, Clone, Copy, Default)]
struct OutboxDue {
    pending: u64,
    /// Pending entries whose retry time has come.
    due: u64,
    /// The earliest retry time still ahead (ms since the epoch).
    next_attempt_ms: Option<i64>,
}

/// A change on an optional receiver: `false` (and the receiver dropped)
/// once its sender is gone, and never ready while there is none.
async fn changed<T>(rx: &mut Option<watch::Receiver<T>>) -> bool {
    let Some(r) = rx.as_mut() else { return std::future::pending().await };
    if r.changed().await.is_ok() {
        return true;
    }
    *rx = None;
    false
}

/// Keeps `GET /v1/events` open and forwards pokes, reconnecting with
/// backoff. Opening the stream counts as a real request for connectivity.
/// Makes no request while switched offline.
async fn run_pokes(
    remote: Remote,
    monitor: ConnectivityMonitor,
    net: NetControl,
    tx: watch::Sender<Poke>,
    mut stop: watch::Receiver<bool>,
    mut backoff: Backoff,
) {
    let mut mode = net.subscribe();
    let mut conn = monitor.subscribe();
    loop {
        if *mode.borrow_and_update() == NetMode::Offline {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = mode.changed() => if r.is_err() { return },
            }
            continue;
        }
        let opened = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            opened = remote.events() => opened,
        };
        match opened {
            Ok(stream) => {
                monitor.record_success();
                let since = Instant::now();
                let mut stream = Box::pin(stream);
                loop {
                    let item = tokio::select! {
                        _ = stop.wait_for(|s| *s) => return,
                        item = stream.next() => item,
                    };
                    match item {
                        Some(Ok(seq)) => tx.send_modify(|p| {
                            p.count += 1;
                            p.seq = seq;
                        }),
                        Some(Err(RemoteError::Offline)) | None => break,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "poke stream broke");
                            break;
                        }
                    }
                }
                if since.elapsed() >= HEALTHY_STREAM {
                    backoff.reset();
                }
            }
            // Switched off meanwhile: the top of the loop waits.
            Err(RemoteError::Offline) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "cannot open the poke stream");
                monitor.record_error(&e);
            }
        }
        let online = *conn.borrow_and_update() == Connectivity::Online;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            // The server is back (the probe, or a pass got through).
            r = conn.wait_for(|c| *c == Connectivity::Online), if !online => {
                if r.is_err() { return }
                backoff.reset();
            }
            r = mode.changed() => if r.is_err() { return },
        }
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> SyncStatus {
        SyncStatus {
            connectivity: Connectivity::Online,
            net_mode: NetMode::Flaky { drop: 0.25, latency_ms: 100 },
            phase: Phase::WaitingRetry,
            pending: 3,
            failed: 1,
            progress: Some(Progress { done: 1, total: 3 }),
            last_success_ms: Some(1_700_000_000_000),
            last_error: Some(StatusError { code: "unreachable".into(), message: "down".into(), at_ms: 5 }),
            open_conflicts: 2,
            server_reset_ms: None,
            next_retry_ms: Some(1_700_000_001_000),
            updated_ms: 7,
        }
    }

    #[test]
    fn status_serialises_as_the_ui_expects() {
        let json = serde_json::to_value(status()).expect("json");
        assert_eq!(json["connectivity"], "online");
        assert_eq!(json["phase"], "waiting_retry");
        assert_eq!(json["net_mode"], serde_json::json!({"mode": "flaky", "drop": 0.25, "latency_ms": 100}));
        assert_eq!(json["progress"], serde_json::json!({"done": 1, "total": 3}));
        assert_eq!(json["last_error"]["code"], "unreachable");
        let back: SyncStatus = serde_json::from_value(json).expect("back");
        assert_eq!(back, status());
    }

    #[test]
    fn the_status_file_round_trips_and_reports_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_status_file(dir.path()).expect("none"), None);
        let p = Publisher::new(status(), Some(dir.path().join(STATUS_FILE)));
        p.write_file(&status());
        let file = read_status_file(dir.path()).expect("read").expect("written");
        assert_eq!((file.pid, file.status), (std::process::id(), status()));
        std::fs::write(dir.path().join(STATUS_FILE), b"{\"pid\":").expect("write");
        let e = read_status_file(dir.path()).expect_err("garbage");
        assert!(e.to_string().contains(STATUS_FILE), "{e}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, [STATUS_FILE], "no temporary files left behind");
    }

    #[test]
    fn publishing_the_same_status_is_not_a_change() {
        let p = Publisher::new(status(), None);
        let mut rx = p.tx.subscribe();
        p.send(SyncStatus { updated_ms: 99, ..status() });
        assert!(!rx.has_changed().expect("open"), "only the time differs");
        p.modify(|s| s.pending = 4);
        assert!(rx.has_changed().expect("open"));
        assert!(rx.borrow_and_update().updated_ms > 7, "stamped when it changed");
    }

    #[test]
    fn local_only_reflects_the_store_and_the_switch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = crate::Vault::open(dir.path(), &crate::keys::MemoryStore::new()).expect("open");
        let s = SyncStatus::local_only(&v.status().expect("status"), NetMode::Offline);
        assert_eq!((s.connectivity, s.phase, s.pending), (Connectivity::SwitchedOff, Phase::Stopped, 0));
    }
}
