//! What the engine publishes: [`SyncStatus`] on a `watch` channel and in
//! [`STATUS_FILE`] in the data directory (replaced atomically), so another
//! process such as `outpost status --watch` can follow a running app.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::connectivity::Connectivity;
use crate::error::{Error, Result};
use crate::model::StoreStatus;
use crate::net::NetMode;
use crate::time::now_ms;

/// The engine's status file in the data directory.
pub const STATUS_FILE: &str = "sync-status.json";

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
    pub(super) fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), at_ms: now_ms() }
    }

    pub(super) fn from_error(e: &Error) -> Self {
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
    /// Why sync waits in this situation, with what waits ("on a metered
    /// network: 3 changes wait for Wi-Fi"), while the sync policy holds it.
    #[serde(default)]
    pub deferred: Option<String>,
    pub updated_ms: i64,
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
            deferred: None,
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

/// The status channel, and the file that mirrors it.
#[derive(Debug)]
pub(super) struct Publisher {
    pub(super) tx: watch::Sender<SyncStatus>,
    file: Option<PathBuf>,
    /// A failing status file is logged once, not on every change.
    file_failed: AtomicBool,
}

impl Publisher {
    pub(super) fn new(first: SyncStatus, file: Option<PathBuf>) -> Self {
        Self { tx: watch::Sender::new(first), file, file_failed: AtomicBool::new(false) }
    }

    pub(super) fn current(&self) -> SyncStatus {
        self.tx.borrow().clone()
    }

    /// Publishes `f` applied to the current status, if that changes it.
    pub(super) fn modify(&self, f: impl FnOnce(&mut SyncStatus)) {
        let mut next = self.current();
        f(&mut next);
        self.send(next);
    }

    pub(super) fn send(&self, mut next: SyncStatus) {
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
    pub(super) fn write_file(&self, status: &SyncStatus) {
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
            deferred: None,
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
