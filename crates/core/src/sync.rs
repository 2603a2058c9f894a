//! One full sync pass: push the outbox until nothing is due, then pull until
//! the server has nothing newer. The background engine runs this same pass
//! when woken; `outpost sync` runs it once.

use std::time::Instant;

use outpost_protocol::v1::{MAX_OPS_PER_PUSH, MAX_PULL_LIMIT};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::remote::Remote;
use crate::vault::{PendingOp, Vault};

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed: usize,
    pub duplicates: usize,
    /// Pushed changes the server refused because another device changed
    /// the note first: kept locally, both versions in an open conflict.
    pub push_conflicts: usize,
    /// Changes the server rejected as invalid: marked failed, shown.
    pub rejected: usize,
    pub pulled: usize,
    pub pull_skipped: usize,
    pub pull_conflicts: usize,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub elapsed_ms: u64,
}

/// Run one pass of `vault` against `remote` (which must carry a session).
pub async fn sync_once(vault: &mut Vault, remote: &Remote) -> Result<SyncReport> {
    let started = Instant::now();
    let before = remote.traffic();
    let mut report = SyncReport::default();
    loop {
        let batch = vault.take_push_batch(MAX_OPS_PER_PUSH)?;
        if batch.is_empty() {
            break;
        }
        push(vault, remote, &batch, &mut report).await?;
    }
    loop {
        let page = remote.pull(vault.cursor()?, MAX_PULL_LIMIT).await?;
        let outcome = vault.apply_pull_page(&page)?;
        report.pulled += outcome.applied;
        report.pull_skipped += outcome.skipped;
        report.pull_conflicts += outcome.conflicts;
        if !page.more {
            break;
        }
    }
    vault.record_sync_success()?;
    let after = remote.traffic();
    report.bytes_sent = after.sent - before.sent;
    report.bytes_received = after.received - before.received;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Push one batch. A batch the server refuses as invalid is split so only
/// the offending changes are marked failed.
async fn push(vault: &mut Vault, remote: &Remote, batch: &[PendingOp], report: &mut SyncReport) -> Result<()> {
    let ops = batch.iter().map(|p| p.op.clone()).collect();
    match remote.push(ops).await {
        Ok(resp) => {
            let o = vault.apply_push_results(batch, &resp.results)?;
            report.pushed += o.applied;
            report.duplicates += o.duplicates;
            report.push_conflicts += o.conflicts;
            Ok(())
        }
        Err(e) if e.is_retryable() || matches!(e, crate::remote::RemoteError::Unauthorized(_)) => {
            // Frozen entries keep their op ids: resending later is safe even
            // if the server committed this batch and the answer was lost.
            vault.record_push_failure(batch, &e.to_string(), true)?;
            Err(Error::from(e))
        }
        Err(_) if batch.len() > 1 => {
            for single in batch {
                Box::pin(push(vault, remote, std::slice::from_ref(single), report)).await?;
            }
            Ok(())
        }
        Err(e) => {
            vault.record_push_failure(batch, &e.to_string(), false)?;
            report.rejected += 1;
            Ok(())
        }
    }
}
