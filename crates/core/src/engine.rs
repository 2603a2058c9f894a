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

//!
//! # Layout
//! - this file: the handle ([`Engine`]): start, status, wake, shut down.
//! - `worker`: the loop and its scheduling.
//! - `status`: [`SyncStatus`] and its file.
//! - `pokes`: the `GET /v1/events` stream.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use outpost_protocol::v1::MAX_OPS_PER_PUSH;

use crate::connectivity::ConnectivityMonitor;
use crate::device::DeviceOverrides;
use crate::error::{Error, Result};
use crate::net::{ControlWatcher, NetControl};
use crate::policy::{self, PolicySettings, Situation};
use crate::remote::Remote;
use crate::time::Backoff;
use crate::vault::SharedVault;

mod files;
mod pokes;
mod status;
mod worker;

use status::Publisher;
pub use status::{read_status_file, Phase, Progress, StatusError, StatusFile, SyncStatus, STATUS_FILE};
use worker::Worker;

/// Passes one wake may run back to back (a merge during a pull queues a
/// change to push, so a second pass is normal; more means something keeps
/// producing work, and the engine pauses a debounce before going on).
pub const MAX_PASSES_PER_WAKE: usize = 4;

/// A burst of local changes is pushed no later than this many debounces
/// after its first change, however long the typing goes on.
const MAX_DEBOUNCE_FACTOR: u32 = 4;

/// Notes-changed events a slow listener may fall behind by before it is
/// told to re-read everything instead.
const CHANGED_BACKLOG: usize = 64;

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
    /// The user's sync policy settings (sync on metered networks, pause on
    /// low battery).
    pub policy: PolicySettings,
    /// The device's situation at start, as the OS reports it; later
    /// changes come through [`Engine::set_situation`].
    pub situation: Situation,
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
            policy: PolicySettings::default(),
            situation: Situation::default(),
        }
    }
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
    /// Notes each pass changed, for subscribers ([`Engine::notes_changed`]).
    changed: broadcast::Sender<NotesChanged>,
    /// The OS's report of the device's situation ([`Engine::set_situation`]).
    situation: Arc<watch::Sender<Situation>>,
    /// The user's policy settings ([`Engine::set_policy`]).
    policy: watch::Sender<PolicySettings>,
}

/// Reports the device's situation to a running engine; see
/// [`Engine::situation_handle`].
#[derive(Debug, Clone)]
pub struct SituationHandle(Arc<watch::Sender<Situation>>);

impl SituationHandle {
    /// Changes what the OS reports (a field or all of it); the engine asks
    /// the policy again if that changed anything.
    pub fn update(&self, f: impl FnOnce(&mut Situation)) {
        self.0.send_if_modified(|current| {
            let before = *current;
            f(current);
            *current != before
        });
    }

    /// Resolves once the engine has stopped.
    pub async fn closed(&self) {
        self.0.closed().await;
    }

    /// Follows the OS's network cost and power (on Linux: NetworkManager,
    /// UPower, power profiles over D-Bus) until the engine stops. Elsewhere
    /// it returns at once, and the platform glue reports them instead.
    pub async fn follow_os(self) {
        #[cfg(target_os = "linux")]
        {
            let report = self.clone();
            let watch = crate::device::os::watch(move |network, power| {
                report.update(|s| {
                    s.network = network;
                    s.power = power;
                })
            });
            tokio::select! {
                _ = watch => {}
                _ = self.closed() => {}
            }
        }
    }
}

/// Notes a sync pass may have changed on this device (pulled, merged,
/// acknowledged, failed): a UI re-reads these instead of its whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotesChanged {
    /// In id order, each once.
    pub ids: Vec<Uuid>,
}

#[derive(Debug, Default)]
struct Wakes {
    pub(crate) local: AtomicBool,
    pub(crate) now: AtomicBool,
    pub(crate) notify: Notify,
    /// Wakes the file task (`engine/files.rs`).
    pub(crate) files: Notify,
}

#[derive(Debug, Default)]
struct Counters {
    pub(crate) wakeups: AtomicU64,
    pub(crate) passes: AtomicU64,
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
        let (overrides_tx, overrides_rx) = watch::channel(DeviceOverrides::default());
        let watched = ControlWatcher::start_with_device(data_dir, net.clone(), Some(overrides_tx.clone()));
        let (control, control_rx, control_error) = match watched {
            Ok((watcher, rx)) => (Some(watcher), Some(rx), None),
            Err(e) => {
                tracing::warn!(error = %e, "the network control file is not watched");
                match crate::net::read_control(data_dir) {
                    Ok(mode) => net.set(mode),
                    Err(e) => tracing::warn!(error = %e, "network control file ignored"),
                }
                match crate::device::read_device(data_dir) {
                    Ok(o) => overrides_tx.send_replace(o),
                    Err(e) => {
                        tracing::warn!(error = %e, "device control file ignored");
                        DeviceOverrides::default()
                    }
                };
                (None, None, Some(StatusError::new("control_file", e.to_string())))
            }
        };
        let remote = remote.with_net(net.clone());
        let monitor = ConnectivityMonitor::new(net.clone(), opts.probe_min, opts.probe_max);
        let counts = vault.lock().status()?;
        let mut first = SyncStatus::local_only(&counts, net.mode());
        first.phase = Phase::Idle;
        let publisher = Arc::new(Publisher::new(first, opts.status_file.then(|| data_dir.join(STATUS_FILE))));
        publisher.write_file(&publisher.current());

        let (stop, stop_rx) = watch::channel(false);
        let (poke_tx, poke_rx) = watch::channel(pokes::Poke::default());
        let wakes = Arc::new(Wakes::default());
        let counters = Arc::new(Counters::default());
        let (changed, _) = broadcast::channel(CHANGED_BACKLOG);
        let (situation, situation_rx) = watch::channel(opts.situation);
        let situation = Arc::new(situation);
        let (policy, policy_rx) = watch::channel(opts.policy);
        let situation_now = overrides_rx.borrow().over(opts.situation);
        let plan = policy::plan(situation_now, opts.policy, opts.interval, MAX_OPS_PER_PUSH);
        let (pokes_wanted, pokes_wanted_rx) = watch::channel(plan.pokes);
        let files_task = files::run_files(
            vault.clone(),
            remote.clone(),
            net.clone(),
            wakes.clone(),
            stop_rx.clone(),
            Backoff::new(opts.retry_min, opts.retry_max),
        );
        let worker = Worker {
            policy_rx,
            situation_rx,
            overrides_rx,
            plan,
            pokes_wanted,
            deferral_noted: false,
            download_waits: false,
            changed: changed.clone(),
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
            timer_at: Instant::now() + plan.interval,
            last_mode: net.mode(),
            last_conn: monitor.current(),
            pull_hint: 0,
            opts: opts.clone(),
        };
        let tasks = vec![
            runtime.spawn(worker.run()),
            runtime.spawn(pokes::run_pokes(
                remote.clone(),
                monitor.clone(),
                net.clone(),
                poke_tx,
                pokes_wanted_rx,
                stop_rx.clone(),
                Backoff::new(opts.probe_min, opts.probe_max),
            )),
            runtime.spawn(monitor.run(remote, stop_rx)),
            runtime.spawn(files_task),
        ];
        Ok(Engine { wakes, publisher, net, stop, tasks, control, counters, changed, situation, policy })
    }

    /// The live status. A new receiver sees the current value as seen.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.publisher.tx.subscribe()
    }

    /// The device's situation as the OS reports it (network cost, power,
    /// app state): the platform glue and the shell call this when it
    /// changes; what a tester set in the device file goes on top. The sync
    /// policy decides from it what runs ([`crate::policy::plan`]).
    pub fn set_situation(&self, situation: Situation) {
        self.situation_handle().update(|s| *s = situation);
    }

    /// The user changed the sync policy settings: applied at once.
    pub fn set_policy(&self, policy: PolicySettings) {
        self.policy.send_if_modified(|current| {
            let changed = *current != policy;
            *current = policy;
            changed
        });
    }

    /// A handle that reports the OS's situation to this engine from another
    /// task (the OS signal watcher, the app's lifecycle), for as long as the
    /// engine runs.
    pub fn situation_handle(&self) -> SituationHandle {
        SituationHandle(self.situation.clone())
    }

    /// Notes each pass changed, from now on. A receiver that falls more
    /// than a few dozen passes behind gets `Lagged` and should re-read
    /// everything.
    pub fn notes_changed(&self) -> broadcast::Receiver<NotesChanged> {
        self.changed.subscribe()
    }

    /// Something was saved locally: push it soon (debounced). Never blocks.
    pub fn local_change(&self) {
        self.wakes.local.store(true, Ordering::Release);
        self.wakes.notify.notify_one();
        self.wakes.files.notify_one();
    }

    /// Run a pass now: also retries after a permanent failure (after the
    /// user logged in again, or approved a held mass delete).
    pub fn sync_now(&self) {
        self.wakes.now.store(true, Ordering::Release);
        self.wakes.notify.notify_one();
        self.wakes.files.notify_one();
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
