//! The engine loop: what wakes it, when a pass is due, running passes, and
//! what a failure means for the next try (by [`Error::recovery`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use uuid::Uuid;

use super::pokes::Poke;
use super::status::{Phase, Progress, Publisher, StatusError, SyncStatus};
use super::{Counters, EngineOptions, NotesChanged, Wakes, MAX_DEBOUNCE_FACTOR, MAX_PASSES_PER_WAKE};
use outpost_protocol::v1::MAX_OPS_PER_PUSH;

use crate::connectivity::{Connectivity, ConnectivityMonitor};
use crate::device::DeviceOverrides;
use crate::error::{Error, Recovery};
use crate::model::StoreStatus;
use crate::monitor::{self, PassWatch, Trigger};
use crate::net::{NetControl, NetMode};
use crate::policy::{self, Plan, PolicySettings, Situation};
use crate::remote::Remote;
use crate::sync::{self, Download, PassLimits, PassStep};
use crate::time::{now_ms, Backoff};
use crate::vault::SharedVault;

/// The engine loop and everything only it touches.
pub(super) struct Worker {
    pub(super) vault: SharedVault,
    pub(super) remote: Remote,
    pub(super) net: NetControl,
    pub(super) monitor: ConnectivityMonitor,
    pub(super) publisher: Arc<Publisher>,
    pub(super) wakes: Arc<Wakes>,
    pub(super) counters: Arc<Counters>,
    pub(super) opts: EngineOptions,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) net_rx: watch::Receiver<NetMode>,
    pub(super) conn_rx: watch::Receiver<Connectivity>,
    /// `None` once the poke task is gone (it only ends on stop).
    pub(super) poke_rx: Option<watch::Receiver<Poke>>,
    /// Errors of the control file (`Some` while it is corrupt).
    pub(super) control_rx: Option<watch::Receiver<Option<String>>>,

    /// The store's counts, refreshed after passes and local changes.
    pub(super) counts: StoreStatus,
    pub(super) phase: Phase,
    /// Held or stopped after a permanent failure: only `sync_now` (or a
    /// restart) tries again.
    pub(super) blocked: Option<Phase>,
    pub(super) sync_error: Option<StatusError>,
    pub(super) control_error: Option<StatusError>,
    /// The engine's own backoff for transient failures.
    pub(super) retry: Backoff,
    pub(super) retry_at: Option<Instant>,
    /// When the debounced local changes are due, and when the burst began.
    pub(super) debounce_at: Option<Instant>,
    pub(super) first_change: Option<Instant>,
    pub(super) timer_at: Instant,
    pub(super) last_mode: NetMode,
    pub(super) last_conn: Connectivity,
    /// The highest sequence a poke announced: the pull's progress total.
    pub(super) pull_hint: u64,
    /// Where the notes each pass touched are announced.
    pub(super) changed: broadcast::Sender<NotesChanged>,
    /// The device's situation as the OS reports it, and what a tester set
    /// on top (the device file).
    pub(super) situation_rx: watch::Receiver<Situation>,
    pub(super) overrides_rx: watch::Receiver<DeviceOverrides>,
    /// The user's policy settings.
    pub(super) policy_rx: watch::Receiver<PolicySettings>,
    /// What the sync policy allows in that situation.
    pub(super) plan: Plan,
    /// Whether the poke task keeps a stream open (`plan.pokes`).
    pub(super) pokes_wanted: watch::Sender<bool>,
    /// This held spell is already in the history (`note_deferral`).
    pub(super) deferral_noted: bool,
    /// The last pass found a backlog too large while large work waits: it
    /// stays on the server until the policy lets large work run.
    pub(super) download_waits: bool,
}

/// What woke the loop.
enum Event {
    Stop,
    Wake,
    Net,
    Connectivity,
    Poke,
    Control,
    Situation,
    Deadline,
    Nothing,
}

impl Worker {
    pub(super) async fn run(mut self) {
        self.control_changed();
        self.publish();
        // Catch up at start: whatever queued while the app was closed.
        let mut pass_due = self.can_sync();
        // Why the next pass runs, for its record in the history.
        let mut trigger = Trigger::Start;
        if !self.plan.sync {
            self.note_deferral(trigger);
        }
        loop {
            if pass_due {
                pass_due = false;
                if self.run_passes(trigger).await.is_break() {
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
                r = self.situation_rx.changed() => if r.is_ok() { Event::Situation } else { Event::Nothing },
                r = self.overrides_rx.changed() => if r.is_ok() { Event::Situation } else { Event::Nothing },
                r = self.policy_rx.changed() => if r.is_ok() { Event::Situation } else { Event::Nothing },
                _ = tokio::time::sleep_until(deadline) => Event::Deadline,
            };
            self.counters.wakeups.fetch_add(1, Ordering::Relaxed);
            // Something wanted a pass: if the policy holds it, say so once.
            let wanted = matches!(event, Event::Wake | Event::Poke | Event::Deadline);
            match event {
                Event::Stop => break,
                Event::Wake => (pass_due, trigger) = (self.woken(), Trigger::SyncNow),
                Event::Net => (pass_due, trigger) = (self.mode_changed(), Trigger::NetworkBack),
                Event::Connectivity => (pass_due, trigger) = (self.connectivity_changed(), Trigger::NetworkBack),
                Event::Poke => (pass_due, trigger) = (self.poked(), Trigger::Poke),
                Event::Control => self.control_changed(),
                Event::Situation => (pass_due, trigger) = (self.situation_changed(), Trigger::NetworkBack),
                Event::Deadline => {
                    let why = Trigger::of_deadline(Instant::now(), self.debounce_at, self.retry_at);
                    (pass_due, trigger) = (self.deadline_passed(), why);
                }
                Event::Nothing => {}
            }
            if wanted && !pass_due && !self.plan.sync {
                self.note_deferral(trigger);
            }
            self.publish();
        }
        self.phase = Phase::Stopped;
        self.publish();
    }

    /// No requests while switched offline, or after a permanent failure.
    fn can_sync(&self) -> bool {
        self.blocked.is_none() && self.net.mode() != NetMode::Offline && self.plan.sync
    }

    /// The OS or a tester changed the device's situation: ask the policy
    /// again. Sync allowed again after waiting runs a pass, as the network
    /// coming back does.
    fn situation_changed(&mut self) -> bool {
        let situation = self.overrides_rx.borrow_and_update().over(*self.situation_rx.borrow_and_update());
        let was = self.plan;
        let settings = *self.policy_rx.borrow_and_update();
        self.plan = policy::plan(situation, settings, self.opts.interval, MAX_OPS_PER_PUSH);
        tracing::info!(?situation, sync = self.plan.sync, pokes = self.plan.pokes, "sync policy applied");
        self.pokes_wanted.send_if_modified(|w| {
            let changed = *w != self.plan.pokes;
            *w = self.plan.pokes;
            changed
        });
        if self.plan.interval != was.interval {
            self.timer_at = Instant::now() + self.plan.interval;
        }
        if self.plan.sync {
            self.deferral_noted = false;
        }
        // Large work allowed again: the download that waited runs now.
        let download_due = self.download_waits && self.plan.large_waiting.is_none();
        if download_due {
            self.download_waits = false;
        }
        (!was.sync || download_due) && self.plan.sync && self.can_sync()
    }

    /// Records in the history that the policy held passes back, once per
    /// held spell with work waiting (not on every wake: the history is
    /// bounded, and a timer firing every minute would fill it).
    fn note_deferral(&mut self, trigger: Trigger) {
        let Some(why) = self.plan.waiting else { return };
        if self.deferral_noted || self.refresh_counts().pending == 0 {
            return;
        }
        self.deferral_noted = true;
        let rec = monitor::PassRecord::deferred(trigger, now_ms(), why.describe(self.counts.pending));
        if let Err(e) = self.vault.with(|v| monitor::record(v.connection(), &rec, now_ms())) {
            tracing::warn!(error = %e, "the deferred sync was not recorded in the history");
        }
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
        let cursor = match self.vault.with(|v| v.cursor()) {
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
        let held = self.blocked == Some(Phase::Held) && self.net.mode() != NetMode::Offline && self.plan.sync;
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
            self.timer_at = now + self.plan.interval;
            due |= may_sync;
        }
        due
    }

    /// Passes until nothing is due (at most [`MAX_PASSES_PER_WAKE`]).
    /// `Break` when told to stop; a pass in flight is then abandoned.
    async fn run_passes(&mut self, trigger: Trigger) -> ControlFlow<()> {
        self.debounce_at = None;
        self.first_change = None;
        self.retry_at = None;
        let mut settled = false;
        for _ in 0..MAX_PASSES_PER_WAKE {
            self.counters.passes.fetch_add(1, Ordering::Relaxed);
            let outbox = self.refresh_counts();
            let start_cursor = self.vault.with(|v| v.cursor()).unwrap_or(0);
            self.phase = Phase::Pushing;
            self.publish_with(Some(Progress { done: 0, total: outbox.pending }));

            let (publisher, hint, total) = (&self.publisher, self.pull_hint, outbox.pending);
            let mut touched: BTreeSet<Uuid> = BTreeSet::new();
            let touched_ref = &mut touched;
            let on_step = move |step: PassStep<'_>| match step {
                PassStep::Changed(ids) => touched_ref.extend(ids.iter().copied()),
                PassStep::Pushing { answered } => publisher.modify(|s| {
                    s.phase = Phase::Pushing;
                    let done = answered as u64;
                    s.progress = Some(Progress { done, total: total.max(done) });
                    // Answered changes have left the queue: the count
                    // drains as batches are acknowledged, not only when the
                    // pass ends (which then sets the exact figure).
                    s.pending = total.saturating_sub(done);
                }),
                PassStep::Pulling { cursor, more } => publisher.modify(|s| {
                    s.phase = Phase::Pulling;
                    let done = cursor.saturating_sub(start_cursor);
                    let known = hint.saturating_sub(start_cursor);
                    s.progress = Some(Progress { done, total: known.max(done + u64::from(more)) });
                }),
            };
            let watch = PassWatch::start(trigger, self.remote.traffic());
            // While large work waits, a small backlog still comes down; a
            // large one, once seen, waits (pushes still go) until the
            // policy lets large work run.
            let download = match (self.plan.large_waiting, self.download_waits) {
                (None, _) => Download::All,
                (Some(_), false) => Download::UpTo(policy::SMALL_DOWNLOAD),
                (Some(_), true) => Download::Nothing,
            };
            let limits = PassLimits { push_batch: self.plan.push_batch, download };
            let pass = sync::sync_limited(&self.vault, &self.remote, limits, on_step);
            let result = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => return ControlFlow::Break(()),
                result = pass => result,
            };
            // Whatever the outcome: a pass that failed half-way may have
            // applied pages or had batches answered first.
            if !touched.is_empty() {
                // No subscriber is not an error: nobody is looking.
                let _ = self.changed.send(NotesChanged { ids: touched.into_iter().collect() });
            }
            monitor::record_pass(&self.vault, watch, &result, self.remote.traffic());
            match result {
                Ok(report) => {
                    tracing::debug!(?report, "sync pass done");
                    self.download_waits = report.download_waits;
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
        self.timer_at = now + self.plan.interval;
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
        match e.recovery() {
            Recovery::SwitchedOff => {
                self.phase = Phase::Idle;
                return;
            }
            Recovery::Retry => {
                tracing::info!(code = %status.code, error = %e, "sync pass failed; will retry");
                self.phase = Phase::WaitingRetry;
                if !self.server_down() {
                    self.retry_at = Some(Instant::now() + self.retry.next_delay());
                }
            }
            Recovery::Held | Recovery::Permanent => {
                let phase = if e.recovery() == Recovery::Held { Phase::Held } else { Phase::Stopped };
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
        let v = self.vault.lock();
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
            deferred: match (self.plan.waiting, self.plan.large_waiting) {
                (Some(w), _) if !self.plan.sync => Some(w.describe(self.counts.pending)),
                (_, Some(w)) if self.download_waits => Some(w.describe_download()),
                _ => None,
            },
            updated_ms: 0,
        });
    }
}

/// The outbox as the scheduler sees it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OutboxDue {
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
