//! The engine's file task: attached files move in a task of their own,
//! beside the notes' worker, so a long upload never holds a note back.
//! Each of its steps takes the shared vault for one short transaction
//! (`files::transfer`), so a note pass runs between two chunks.
//!
//! It runs a file pass when woken (a local change, sync now), every
//! [`FILES_INTERVAL`] otherwise, and after a failure with backoff; only
//! when the store has file work (something to send, a download asked for,
//! or "keep all files" on), and never while switched offline. What it did is in the
//! store (`Vault::file_counts`), which the app reads for its progress.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Wakes;
use crate::files::transfer;
use crate::net::{NetControl, NetMode};
use crate::remote::Remote;
use crate::time::Backoff;
use crate::vault::SharedVault;

/// How often the file task looks without being woken.
pub(super) const FILES_INTERVAL: Duration = Duration::from_secs(60);

pub(super) async fn run_files(
    vault: SharedVault,
    remote: Remote,
    net: NetControl,
    wakes: Arc<Wakes>,
    mut stop: watch::Receiver<bool>,
    mut retry: Backoff,
) {
    // At start: queued work left by an earlier run goes at once.
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = wakes.files.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        if *stop.borrow() {
            return;
        }
        if net.mode() == NetMode::Offline {
            wait = FILES_INTERVAL;
            continue;
        }
        // Nothing to move and nothing to keep: no request at all (learning
        // the server's list waits for the next pass with work, or for
        // `outpost sync`); with "keep all files" on, look every interval.
        let work = vault.with(|v| -> crate::Result<bool> {
            let c = v.file_counts()?;
            Ok(c.upload_files > 0
                || c.download_files > 0
                || v.keep_all_files()?
                || !v.pending_file_declarations()?.is_empty()
                || !v.pending_file_removals()?.is_empty())
        });
        match work {
            Ok(true) => {}
            Ok(false) => {
                wait = FILES_INTERVAL;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the file task cannot read the store");
                wait = retry.next_delay();
                continue;
            }
        }
        match transfer::sync_files(&vault, &remote, transfer::Learn::Always).await {
            Ok(report) => {
                retry.reset();
                wait = FILES_INTERVAL;
                if report.chunks_sent > 0 || report.chunks_received > 0 {
                    tracing::info!(sent = report.chunks_sent, received = report.chunks_received, "file pass done");
                }
            }
            Err(e) => {
                wait = retry.next_delay();
                tracing::info!(error = %e, retry_in_ms = wait.as_millis() as u64, "file pass stopped; it resumes");
            }
        }
    }
}
