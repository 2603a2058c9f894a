//! Applying the testers' control files to a running engine: `notify` on
//! the data directory, bursts coalesced, each file read whole and checked.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Instant;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::Watcher;
use tokio::sync::watch;

use super::{read_control, ControlError, NetControl, COALESCE, CONTROL_FILE};
use crate::device::{read_device, DeviceOverrides, DEVICE_FILE};

/// Watches the control file with `notify` and applies it to a
/// [`NetControl`] within a second of a change. Dropping it stops watching.
///
/// The directory is watched, not the file: `write_control` replaces the
/// file by a rename, which would end a watch on the file itself.
#[derive(Debug)]
pub struct ControlWatcher {
    /// The OS watch; its callback forwards relevant events to `worker`.
    watcher: Option<notify::RecommendedWatcher>,
    /// Tells `worker` to stop at once on drop (the callback's own sender
    /// goes away only when notify's thread winds down).
    stop: mpsc::Sender<Wake>,
    /// Coalesces events, reads the file, sets the mode, publishes errors.
    worker: Option<JoinHandle<()>>,
}

#[derive(Debug)]
enum Wake {
    Changed,
    Stop,
}

impl ControlWatcher {
    /// Reads the file once at start, then on every change. A corrupt or
    /// hand-edited file keeps the previous mode and publishes the error
    /// (`Some(message)`); a good read publishes `None`. Fails only if the
    /// directory cannot be watched (it must exist).
    pub fn start(
        dir: &Path,
        control: NetControl,
    ) -> Result<(ControlWatcher, watch::Receiver<Option<String>>), ControlError> {
        Self::start_with_device(dir, control, None)
    }

    /// [`ControlWatcher::start`], also applying the testers' device file
    /// ([`DEVICE_FILE`]: metered, power, app state) to `device`.
    pub fn start_with_device(
        dir: &Path,
        control: NetControl,
        device: Option<watch::Sender<DeviceOverrides>>,
    ) -> Result<(ControlWatcher, watch::Receiver<Option<String>>), ControlError> {
        let dir = dir.to_owned();
        let watch_error = |e: notify::Error| ControlError::Watch { path: dir.clone(), message: e.to_string() };
        let (tx, rx) = mpsc::channel::<Wake>();
        let events = tx.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if is_relevant(&res) {
                // The worker is gone only while this watcher is dropped.
                let _ = events.send(Wake::Changed);
            }
        })
        .map_err(watch_error)?;
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive).map_err(watch_error)?;

        // Read after the watch is in place, so no change falls in between.
        let (errors, errors_rx) = watch::channel(None);
        let targets = Targets { control, device };
        apply(&dir, &targets, &errors);
        let worker_dir = dir.clone();
        let worker = std::thread::Builder::new()
            .name("outpost-net-control".into())
            .spawn(move || run_worker(&worker_dir, &targets, &errors, &rx))
            .map_err(|e| ControlError::Watch { path: dir.clone(), message: e.to_string() })?;
        Ok((ControlWatcher { watcher: Some(watcher), stop: tx, worker: Some(worker) }, errors_rx))
    }
}

impl Drop for ControlWatcher {
    fn drop(&mut self) {
        drop(self.watcher.take());
        let _ = self.stop.send(Wake::Stop);
        if let Some(w) = self.worker.take() {
            // The worker reads one small file at most before it sees Stop.
            let _ = w.join();
        }
    }
}

/// Events that may have changed the control file. Our own reads (open,
/// close without writing) are not; an error or a rescan might be, so the
/// file is read again to be sure.
fn is_relevant(res: &notify::Result<notify::Event>) -> bool {
    let Ok(ev) = res else { return true };
    if ev.need_rescan() {
        return true;
    }
    let kind_matters = match ev.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_matters && ev.paths.iter().any(|p| p.file_name().is_some_and(|n| n == CONTROL_FILE || n == DEVICE_FILE))
}

/// What the files are applied to.
struct Targets {
    control: NetControl,
    device: Option<watch::Sender<DeviceOverrides>>,
}

fn run_worker(dir: &Path, targets: &Targets, errors: &watch::Sender<Option<String>>, rx: &mpsc::Receiver<Wake>) {
    loop {
        match rx.recv() {
            Ok(Wake::Changed) => {}
            Ok(Wake::Stop) | Err(_) => return,
        }
        // A rename or an editor's save arrives as several events: wait for
        // the burst to end, then read once.
        let mut deadline = Instant::now() + COALESCE;
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Wake::Changed) => deadline = Instant::now() + COALESCE,
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        apply(dir, targets, errors);
    }
}

/// Reads the files and applies them; a file in error keeps what it had set,
/// and its error is published (the network file's first).
fn apply(dir: &Path, targets: &Targets, errors: &watch::Sender<Option<String>>) {
    let mut outcome = match read_control(dir) {
        Ok(mode) => {
            if targets.control.mode() != mode {
                tracing::info!(mode = ?mode, "network control changed");
            }
            targets.control.set(mode);
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "network control file ignored; keeping the current mode");
            Some(e.to_string())
        }
    };
    if let Some(device) = &targets.device {
        match read_device(dir) {
            Ok(o) => {
                device.send_if_modified(|current| {
                    let changed = *current != o;
                    if changed {
                        tracing::info!(overrides = ?o, "device situation set by a tester changed");
                    }
                    *current = o;
                    changed
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "device control file ignored; keeping the current situation");
                outcome = outcome.or(Some(e.to_string()));
            }
        }
    }
    errors.send_if_modified(|current| {
        if *current == outcome {
            return false;
        }
        *current = outcome;
        true
    });
}
