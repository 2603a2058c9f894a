//! Whether the sync server can be reached, from three sources:
//!
//! 1. the testers' forced mode ([`NetControl`]): switched offline wins
//!    over everything, and no request is made while it lasts;
//! 2. the outcome of real requests (a sync pass, the poke stream): an
//!    answer means online, a refused connection or a 5xx means offline;
//! 3. a health probe (`GET /v1/health`) that runs only while offline, with
//!    exponential backoff and full jitter, and flips back to online when
//!    the server answers.
//!
//! The sync engine owns one [`ConnectivityMonitor`]: it feeds it the
//! outcome of its passes, runs [`ConnectivityMonitor::run`] beside them,
//! and wakes when the state comes back to [`Connectivity::Online`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::net::{NetControl, NetMode};
use crate::remote::{Remote, RemoteError};
use crate::time::Backoff;

/// Where the device stands with its sync server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Connectivity {
    /// The server answered the last request (or probe).
    Online,
    /// The server could not be reached, or answered 5xx: changes wait in
    /// the outbox and a health probe checks back with backoff.
    Offline,
    /// The user or a tester switched the network off (`outpost net
    /// offline`, the app's "work offline"): nothing leaves the device.
    SwitchedOff,
    /// Nothing has been tried yet since start (or since switching back on).
    Unknown,
}

impl Connectivity {
    /// What a failed request says about the connection, if anything. An
    /// answer the client could not read (`Decode`) or a URL it refused
    /// says nothing about the network, so it leaves the state as it is.
    pub fn after_error(e: &RemoteError) -> Option<Connectivity> {
        match e {
            RemoteError::Unreachable(_) => Some(Connectivity::Offline),
            RemoteError::Server { status, .. } if *status >= 500 => Some(Connectivity::Offline),
            RemoteError::Server { .. }
            | RemoteError::Unauthorized(_)
            | RemoteError::AccountDeleted
            | RemoteError::TotpRequired
            | RemoteError::TotpInvalid => Some(Connectivity::Online),
            RemoteError::Offline => Some(Connectivity::SwitchedOff),
            RemoteError::Decode(_) | RemoteError::BadUrl(_) | RemoteError::InsecureUrl(_) => None,
        }
    }
}

/// The live connectivity state; cheap to clone, clones share it.
#[derive(Debug, Clone)]
pub struct ConnectivityMonitor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The state, and change notifications for the engine and the poke task.
    tx: watch::Sender<Connectivity>,
    /// The forced mode: offline here means [`Connectivity::SwitchedOff`].
    net: NetControl,
    /// The probe's backoff. A real request that succeeds resets it; a probe
    /// that succeeds does not, so a server whose health check answers while
    /// its sync endpoints fail is probed less and less often instead of
    /// flipping between online and offline every second.
    probe: Mutex<Backoff>,
    /// Wall-clock ms of the next probe while offline, or 0: for the status.
    next_probe_ms: AtomicI64,
}

impl ConnectivityMonitor {
    /// Starts [`Connectivity::SwitchedOff`] if `net` is offline, else
    /// [`Connectivity::Unknown`]. The probe waits `probe_min` doubling up
    /// to `probe_max` (with full jitter) between attempts.
    pub fn new(net: NetControl, probe_min: Duration, probe_max: Duration) -> Self {
        let start = if net.mode() == NetMode::Offline { Connectivity::SwitchedOff } else { Connectivity::Unknown };
        Self {
            inner: Arc::new(Inner {
                tx: watch::Sender::new(start),
                net,
                probe: Mutex::new(Backoff::new(probe_min, probe_max)),
                next_probe_ms: AtomicI64::new(0),
            }),
        }
    }

    pub fn current(&self) -> Connectivity {
        *self.inner.tx.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<Connectivity> {
        self.inner.tx.subscribe()
    }

    /// When the probe will next ask the server (ms since the Unix epoch),
    /// while offline.
    pub fn next_probe_ms(&self) -> Option<i64> {
        match self.inner.next_probe_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// A real request was answered.
    pub fn record_success(&self) {
        self.backoff().reset();
        self.set(Connectivity::Online);
    }

    /// A real request failed with `e`.
    pub fn record_error(&self, e: &RemoteError) {
        if let Some(state) = Connectivity::after_error(e) {
            if state == Connectivity::Online {
                self.backoff().reset();
            }
            self.set(state);
        }
    }

    /// Switched offline wins: outcomes that raced with the switch do not
    /// overwrite it, and nothing but the mode itself ends it.
    fn set(&self, state: Connectivity) {
        let switched_off = self.inner.net.mode() == NetMode::Offline;
        let state = if switched_off { Connectivity::SwitchedOff } else { state };
        if state != Connectivity::Offline {
            self.inner.next_probe_ms.store(0, Ordering::Relaxed);
        }
        self.inner.tx.send_if_modified(|current| {
            if *current == state {
                return false;
            }
            *current = state;
            true
        });
    }

    fn backoff(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.inner.probe.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows the forced mode and probes the server while offline, until
    /// `stop` turns true (or its sender goes). Makes no request unless the
    /// state is [`Connectivity::Offline`].
    pub async fn run(self, remote: Remote, mut stop: watch::Receiver<bool>) {
        let mut mode = self.inner.net.subscribe();
        let mut state = self.subscribe();
        loop {
            let now = mode.borrow_and_update().clone();
            match (now, self.current()) {
                (NetMode::Offline, _) => self.set(Connectivity::SwitchedOff),
                // Back on: unknown until the engine's pass (which the same
                // switch wakes) or the next probe says otherwise.
                (_, Connectivity::SwitchedOff) => self.set(Connectivity::Unknown),
                _ => {}
            }
            state.borrow_and_update();
            if self.current() != Connectivity::Offline {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    changed = mode.changed() => if changed.is_err() { return },
                    changed = state.changed() => if changed.is_err() { return },
                }
                continue;
            }
            let delay = self.backoff().next_delay();
            let at = crate::time::now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            self.inner.next_probe_ms.store(at, Ordering::Relaxed);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                // A switch, or a real request that got through, ends the wait.
                changed = mode.changed() => { if changed.is_err() { return } continue }
                changed = state.changed() => { if changed.is_err() { return } continue }
                _ = tokio::time::sleep(delay) => {}
            }
            let outcome = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                outcome = remote.health() => outcome,
            };
            match outcome {
                Ok(_) => {
                    tracing::info!("sync server answers again");
                    self.set(Connectivity::Online);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "health probe failed");
                    self.record_error(&e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_states() {
        let cases = [
            (RemoteError::Unreachable("refused".into()), Some(Connectivity::Offline)),
            (
                RemoteError::Server { status: 503, code: "unavailable".into(), message: String::new() },
                Some(Connectivity::Offline),
            ),
            (
                RemoteError::Server { status: 400, code: "bad_request".into(), message: String::new() },
                Some(Connectivity::Online),
            ),
            (RemoteError::Unauthorized("expired".into()), Some(Connectivity::Online)),
            (RemoteError::Offline, Some(Connectivity::SwitchedOff)),
            (RemoteError::Decode("junk".into()), None),
        ];
        for (e, want) in cases {
            assert_eq!(Connectivity::after_error(&e), want, "{e}");
        }
    }

    #[test]
    fn switched_off_wins_over_outcomes() {
        let net = NetControl::new(NetMode::Offline);
        let m = ConnectivityMonitor::new(net.clone(), Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(m.current(), Connectivity::SwitchedOff);
        m.record_success();
        m.record_error(&RemoteError::Unreachable("x".into()));
        assert_eq!(m.current(), Connectivity::SwitchedOff);
        net.set(NetMode::Online);
        m.record_error(&RemoteError::Unreachable("x".into()));
        assert_eq!(m.current(), Connectivity::Offline);
        m.record_success();
        assert_eq!(m.current(), Connectivity::Online);
    }

    #[test]
    fn serialises_in_snake_case() {
        assert_eq!(serde_json::to_string(&Connectivity::SwitchedOff).expect("json"), "\"switched_off\"");
    }
}
