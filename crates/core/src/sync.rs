//! One full sync pass: push the outbox until nothing is due, then pull until
//! the server has nothing newer. The background engine runs this same pass
//! when woken; `outpost sync` runs it once.
//!
//! A server that answers the pull with `cursor_out_of_range` does not know
//! this device's position: it was reset, or restored from a backup older
//! than this device's last sync, and may lack notes and versions the device
//! holds. The pass then starts over once ([`Vault::reset_sync_state`]:
//! every note queued again, the cursor at 0), pushes everything and pulls
//! from the start, so the server gets back what the device kept.

use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

use outpost_protocol::v1::{
    Op, PullResponse, PushResponse, SkipRanges, SnapshotChunkUpload, SnapshotInfo, SnapshotPutResponse,
    MAX_OPS_PER_PUSH, MAX_PULL_LIMIT,
};
use serde::Serialize;
use uuid::Uuid;

use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::remote::{Remote, RemoteError, Traffic};
use crate::vault::{check_pull_page, CheckedPage, PendingOp, SharedVault, Vault};

/// Takes the next batch of outbox entries to push.
type TakeBatch = fn(&mut Vault, usize) -> Result<Vec<PendingOp>>;

/// How a sync pass reaches the server: the real HTTP client ([`Remote`]),
/// or, in the simulation tests and `conflict-sim`, an in-process server
/// behind a faulty virtual network. The pass itself is the same code.
pub trait SyncTransport: Send + Sync {
    fn push(&self, ops: Vec<Op>) -> impl Future<Output = Result<PushResponse, RemoteError>> + Send;
    fn pull(&self, cursor: u64, limit: u32) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send;
    /// [`SyncTransport::pull`], asking the server to leave out this
    /// device's own pushes at the seqs in `skip` (no echo). A transport
    /// that cannot ask pulls everything, which is always correct.
    fn pull_skipping(
        &self,
        cursor: u64,
        limit: u32,
        skip: &SkipRanges,
    ) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        let _ = skip;
        self.pull(cursor, limit)
    }
    /// [`SyncTransport::pull_skipping`] started now, on a task of its
    /// own, so that it runs while the pass applies the page before it.
    /// `None` where the transport cannot (its requests borrow it); the pass
    /// then pulls when it gets there, which is always correct.
    fn pull_ahead(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Option<PullAhead> {
        let _ = (cursor, limit, skip);
        None
    }
    /// Bytes on the wire so far, where the transport counts them.
    fn traffic(&self) -> Traffic {
        Traffic::default()
    }
    /// Whether this transport carries bootstrap snapshots (the methods
    /// below); a pass that cannot use them pulls, which is always correct.
    fn snapshots(&self) -> bool {
        false
    }
    fn snapshot_info(&self) -> impl Future<Output = Result<Option<SnapshotInfo>, RemoteError>> + Send {
        async { Ok(None) }
    }
    fn snapshot_chunk(&self, cursor: u64, index: u32) -> impl Future<Output = Result<Vec<u8>, RemoteError>> + Send {
        let _ = (cursor, index);
        async { Err(RemoteError::Decode("this transport carries no snapshots".into())) }
    }
    fn put_snapshot_chunk(
        &self,
        upload: &SnapshotChunkUpload,
    ) -> impl Future<Output = Result<SnapshotPutResponse, RemoteError>> + Send {
        let _ = upload;
        async { Err(RemoteError::Decode("this transport carries no snapshots".into())) }
    }
}

impl SyncTransport for Remote {
    fn push(&self, ops: Vec<Op>) -> impl Future<Output = Result<PushResponse, RemoteError>> + Send {
        Remote::push(self, ops)
    }
    fn pull(&self, cursor: u64, limit: u32) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        Remote::pull(self, cursor, limit)
    }
    fn pull_skipping(
        &self,
        cursor: u64,
        limit: u32,
        skip: &SkipRanges,
    ) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        Remote::pull_skipping(self, cursor, limit, skip)
    }
    fn pull_ahead(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Option<PullAhead> {
        let (remote, skip) = (self.clone(), skip.clone());
        PullAhead::spawn(async move { remote.pull_skipping(cursor, limit, &skip).await })
    }
    fn traffic(&self) -> Traffic {
        Remote::traffic(self)
    }
    fn snapshots(&self) -> bool {
        true
    }
    fn snapshot_info(&self) -> impl Future<Output = Result<Option<SnapshotInfo>, RemoteError>> + Send {
        Remote::snapshot_info(self)
    }
    fn snapshot_chunk(&self, cursor: u64, index: u32) -> impl Future<Output = Result<Vec<u8>, RemoteError>> + Send {
        Remote::snapshot_chunk(self, cursor, index)
    }
    fn put_snapshot_chunk(
        &self,
        upload: &SnapshotChunkUpload,
    ) -> impl Future<Output = Result<SnapshotPutResponse, RemoteError>> + Send {
        Remote::put_snapshot_chunk(self, upload)
    }
}

/// A transport as it is, but carrying no bootstrap snapshots: a pass over
/// it pulls every change (what a server older than snapshots gives; the
/// benchmarks and tests compare the two).
#[derive(Debug)]
pub struct WithoutSnapshots<'a, T>(pub &'a T);

impl<T: SyncTransport> SyncTransport for WithoutSnapshots<'_, T> {
    fn push(&self, ops: Vec<Op>) -> impl Future<Output = Result<PushResponse, RemoteError>> + Send {
        self.0.push(ops)
    }
    fn pull(&self, cursor: u64, limit: u32) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        self.0.pull(cursor, limit)
    }
    fn pull_skipping(
        &self,
        cursor: u64,
        limit: u32,
        skip: &SkipRanges,
    ) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        self.0.pull_skipping(cursor, limit, skip)
    }
    fn pull_ahead(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Option<PullAhead> {
        self.0.pull_ahead(cursor, limit, skip)
    }
    fn traffic(&self) -> Traffic {
        self.0.traffic()
    }
}

/// A pull running on a task of its own ([`SyncTransport::pull_ahead`]);
/// dropping it stops it.
#[derive(Debug)]
pub struct PullAhead(tokio::task::JoinHandle<std::result::Result<PullResponse, RemoteError>>);

impl PullAhead {
    /// `pull` on a task of the current runtime; `None` outside one.
    pub fn spawn(
        pull: impl Future<Output = std::result::Result<PullResponse, RemoteError>> + Send + 'static,
    ) -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        Some(Self(handle.spawn(pull)))
    }

    async fn answer(mut self) -> std::result::Result<PullResponse, RemoteError> {
        stopped((&mut self.0).await)?
    }
}

impl Drop for PullAhead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Brief access to the vault for one local step of a pass.
pub trait VaultAccess {
    fn with<R>(&self, f: impl FnOnce(&mut Vault) -> R) -> R;
}

/// The app's and the engine's vault: each step runs off the async workers.
impl VaultAccess for SharedVault {
    fn with<R>(&self, f: impl FnOnce(&mut Vault) -> R) -> R {
        SharedVault::with(self, f)
    }
}

/// A vault one caller holds alone, behind a mutex that is never contended:
/// a mutex rather than a `RefCell` so that a pass over it is `Send` and can
/// run on any runtime thread (`tokio::spawn`).
impl VaultAccess for Mutex<&mut Vault> {
    fn with<R>(&self, f: impl FnOnce(&mut Vault) -> R) -> R {
        let mut guard = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        crate::vault::blocking(|| f(&mut guard))
    }
}

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
    /// Pulled changes that met unsent local edits of the same note.
    pub pull_conflicts: usize,
    /// Concurrent versions merged on this device (each becomes one change).
    pub merged: usize,
    /// Merges that need the user (overlapping edits, or always-ask).
    pub conflicts_opened: usize,
    /// Notes deleted on one device and edited on another: the edit won and
    /// the note is back.
    pub restored: usize,
    /// Pulled changes that did not decrypt under this store's key: skipped
    /// and kept aside (see `Vault::quarantined`), the rest applied.
    pub undecryptable: usize,
    /// The server did not know this device's sync position (it was reset,
    /// or restored from an older backup): the pass forgot what it believed
    /// the server held, queued every note again and pulled from the start.
    pub server_reset: bool,
    /// Notes queued again because of that.
    pub requeued: usize,
    /// Server versions this device's notes already contained (older ones a
    /// restored server still had): this device's version went on top.
    pub fast_forwarded: usize,
    /// This store started from the account's bootstrap snapshot (its
    /// notes counted in `pulled`), then pulled what came after it.
    pub from_snapshot: bool,
    /// This pass made and uploaded a new bootstrap snapshot.
    pub snapshot_uploaded: bool,
    /// A backlog larger than the pass's [`Download`] allowed waits on the
    /// server (a new device's first download, or a long time away, on a
    /// metered network): the pass stopped pulling after the first page.
    pub download_waits: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub elapsed_ms: u64,
    /// Notes re-sealed under the account's current data key (after a
    /// data-key rotation; see `Vault::reencrypt`) and sent by this pass.
    pub reencrypted: usize,
}

/// Notes re-sealed per transaction by a pass's re-encryption step: saves
/// wait for one batch at most.
pub const REENCRYPT_BATCH: usize = 100;

/// After a data-key rotation: re-seal the notes still under an older key
/// with the current one (local changes, in batches). Run once a pass has
/// pulled everything, so a version another device re-sealed already is not
/// re-sealed again here; the pass then goes round once more to send them.
/// A rotation cut short by a crash carries on at the next pass.
fn reencrypt<A: VaultAccess>(vault: &A, report: &mut SyncReport) -> Result<bool> {
    let mut done = 0;
    loop {
        let n = vault.with(|v| v.reencrypt(REENCRYPT_BATCH))?;
        if n == 0 {
            break;
        }
        done += n;
    }
    report.reencrypted += done;
    Ok(done > 0)
}

impl SyncReport {
    /// Adds what one applied page (or snapshot) did.
    fn count_pulled(&mut self, outcome: &crate::vault::PullOutcome) {
        self.pulled += outcome.applied;
        self.pull_skipped += outcome.skipped;
        self.pull_conflicts += outcome.conflicts;
        self.merged += outcome.merge.merged;
        self.conflicts_opened += outcome.merge.opened;
        self.restored += outcome.merge.restored;
        self.fast_forwarded += outcome.merge.fast_forwarded;
        self.undecryptable += outcome.undecryptable;
    }
}

/// How much one pass may download (the sync policy's "large work").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Download {
    /// Everything the server holds for this device, page after page.
    All,
    /// A backlog of at most this many changes: a larger one is large work
    /// (a new device's first download, a long time away). The pass applies
    /// the one page it asked for, stops pulling and reports
    /// [`SyncReport::download_waits`].
    UpTo(u32),
    /// Nothing: a larger backlog is known to wait. Pushes still go.
    Nothing,
}

/// What one pass may do at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassLimits {
    /// Changes per push request.
    pub push_batch: usize,
    pub download: Download,
}

impl PassLimits {
    /// No limit but the protocol's.
    pub const FULL: PassLimits = PassLimits { push_batch: MAX_OPS_PER_PUSH, download: Download::All };
}

/// Run one pass of a vault this caller holds alone (the CLI, tests).
pub async fn sync_once<T: SyncTransport>(vault: &mut Vault, remote: &T) -> Result<SyncReport> {
    sync_shared(&Mutex::new(vault), remote).await
}

/// Run one pass of a shared vault against `remote` (which must carry a
/// session), taking the vault only for the local steps.
pub async fn sync_shared<A: VaultAccess, T: SyncTransport>(vault: &A, remote: &T) -> Result<SyncReport> {
    sync_observed(vault, remote, |_| {}).await
}

/// How far a pass has got, for a live status (the engine's progress), and
/// which notes it touched, for a UI that re-reads only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassStep<'a> {
    /// Pushing: `answered` changes of this pass have had the server's answer.
    Pushing { answered: usize },
    /// Pulling: the cursor stands at `cursor`; `more` waits on the server.
    Pulling { cursor: u64, more: bool },
    /// These notes may have changed here (content, revision or badge): a
    /// push batch was answered or failed, or a pulled page was applied.
    /// Reported even when the pass fails later.
    Changed(&'a [Uuid]),
}

/// [`sync_shared`], telling `step` where the pass stands as it goes.
pub async fn sync_observed<A: VaultAccess, T: SyncTransport>(
    vault: &A,
    remote: &T,
    step: impl FnMut(PassStep<'_>) + Send,
) -> Result<SyncReport> {
    sync_limited(vault, remote, PassLimits::FULL, step).await
}

/// [`sync_observed`] within `limits` (the sync policy sends smaller push
/// batches on a metered network, and leaves a large download for later).
pub async fn sync_limited<A: VaultAccess, T: SyncTransport>(
    vault: &A,
    remote: &T,
    limits: PassLimits,
    mut step: impl FnMut(PassStep<'_>) + Send,
) -> Result<SyncReport> {
    let batch = limits.push_batch.clamp(1, MAX_OPS_PER_PUSH);
    let page_limit = match limits.download {
        Download::All => MAX_PULL_LIMIT,
        Download::UpTo(n) => n.clamp(1, MAX_PULL_LIMIT),
        Download::Nothing => 0,
    };
    let answered =
        |r: &SyncReport| PassStep::Pushing { answered: r.pushed + r.duplicates + r.push_conflicts + r.rejected };
    step(PassStep::Pushing { answered: 0 });
    let started = Instant::now();
    let before = remote.traffic();
    let mut report = SyncReport::default();
    // Changes set aside for a key this store holds by now. `learn_keys`
    // replays them as it takes a key in, but a process that ended between
    // its commit and the replay left them aside, and the key is no longer
    // missing, so nothing else would bring them back (the crash storm found
    // thousands so). Tried at a process's first pass and when the ring
    // holds a key they were not tried under; a change that still does not
    // open stays aside.
    let (back, replayed) = vault.with(|v| v.replay_quarantine())?;
    if !back.is_empty() {
        step(PassStep::Changed(&back));
        report.count_pulled(&replayed);
    }
    let mut tried_snapshot = false;
    // The next page, fetched while the last one was applied.
    let mut ahead: Option<Ahead> = None;
    'pass: loop {
        // What is due first; then changes sent before whose answer never
        // came (a timeout, a crash), backoff or not: until the server has
        // answered them the merge base of their notes is unknown, so pulling
        // would merge blind.
        let takes: [TakeBatch; 2] = [Vault::take_push_batch, Vault::take_unanswered_batch];
        for take in takes {
            loop {
                let batch = vault.with(|v| take(v, batch))?;
                if batch.is_empty() {
                    break;
                }
                let pushed = push(vault, remote, &batch, &mut report).await;
                // Answered or not, each note's badge or content may have
                // changed (acknowledged, merged, failed).
                let ids: Vec<Uuid> = batch.iter().map(|p| p.op.note_id).collect();
                step(PassStep::Changed(&ids));
                pushed?;
                step(answered(&report));
            }
        }
        if limits.download == Download::Nothing {
            report.download_waits = true;
            break 'pass;
        }
        loop {
            let (cursor, skip) = vault.with(|v| Ok::<_, Error>((v.cursor()?, v.pull_skip()?)))?;
            step(PassStep::Pulling { cursor, more: true });
            if cursor == 0 && !tried_snapshot && limits.download == Download::All && remote.snapshots() {
                tried_snapshot = true;
                if let Some(outcome) = bootstrap(vault, remote).await? {
                    report.from_snapshot = true;
                    report.count_pulled(&outcome);
                    step(PassStep::Changed(&[]));
                    continue;
                }
            }
            let fetched = match ahead.take() {
                Some(Ahead { cursor: at, skip: with, task }) if at == cursor && with == skip => {
                    task.answer().await.map(Pulled::Checked)
                }
                _ => remote.pull_skipping(cursor, page_limit, &skip).await.map(Pulled::Plain),
            };
            let pulled = match fetched {
                Ok(page) => page,
                // Once per pass: from cursor 0 the answer cannot recur, and
                // a server that gave it anyway is not one to loop on.
                Err(e) if e.is_cursor_out_of_range() && cursor > 0 && !report.server_reset => {
                    let reset = vault.with(|v| v.reset_sync_state())?;
                    tracing::warn!(
                        cursor,
                        requeued = reset.requeued,
                        pending = reset.pending,
                        "the server does not know this device's sync position (it was reset, or restored from an \
                         older backup): every note is sent again and sync starts over from the beginning"
                    );
                    report.server_reset = true;
                    report.requeued += reset.requeued;
                    step(answered(&report));
                    continue 'pass;
                }
                Err(e) => return Err(e.into()),
            };
            let page = pulled.page();
            // More to come: the next page is fetched, and its ciphers
            // checked, while this one is stored (a long download, an
            // initial sync above all).
            let next = page.next_cursor.max(cursor);
            if page.more && limits.download == Download::All {
                let (skip, keys) = vault.with(|v| Ok::<_, Error>((v.pull_skip_above(next)?, v.page_keys())))?;
                ahead = remote
                    .pull_ahead(next, page_limit, &skip)
                    .and_then(|pull| CheckAhead::spawn(pull, keys, next))
                    .map(|task| Ahead { cursor: next, skip, task });
            }
            let ids: Vec<Uuid> = page.changes.iter().filter(|c| c.seq > cursor).map(|c| c.note_id).collect();
            let more = page.more;
            let outcome = match pulled {
                Pulled::Plain(page) => vault.with(|v| v.apply_pull_page(&page))?,
                Pulled::Checked(checked) => vault.with(|v| v.apply_checked_page(checked))?,
            };
            step(PassStep::Changed(&ids));
            report.count_pulled(&outcome);
            step(PassStep::Pulling { cursor: next, more });
            if !more {
                if reencrypt(vault, &mut report)? {
                    continue 'pass;
                }
                break 'pass;
            }
            if matches!(limits.download, Download::UpTo(_)) {
                report.download_waits = true;
                break 'pass;
            }
        }
    }
    if limits == PassLimits::FULL && remote.snapshots() && !report.download_waits {
        report.snapshot_uploaded = offer_snapshot(vault, remote).await;
    }
    vault.with(|v| v.record_sync_success())?;
    let after = remote.traffic();
    report.bytes_sent = after.sent - before.sent;
    report.bytes_received = after.received - before.received;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The next page, asked for (and its ciphers checked) while the last one
/// was applied, and what it was asked with: used only if the pass asks
/// with the same again.
struct Ahead {
    cursor: u64,
    skip: SkipRanges,
    task: CheckAhead,
}

/// A page as the pass got it: pulled in turn, or ahead and checked.
enum Pulled {
    Plain(PullResponse),
    Checked(CheckedPage),
}

impl Pulled {
    fn page(&self) -> &PullResponse {
        match self {
            Self::Plain(page) => page,
            Self::Checked(checked) => checked.page(),
        }
    }
}

/// The next page's pull and the check of its ciphers, on a task of the
/// current runtime; dropping it (a pass dropped or cut short) stops it.
struct CheckAhead(tokio::task::JoinHandle<std::result::Result<CheckedPage, RemoteError>>);

impl CheckAhead {
    /// `pull`'s answer checked under `keys` as pulled from `cursor`: the
    /// check on blocking threads, off the runtime's workers.
    fn spawn(pull: PullAhead, keys: KeyRing, cursor: u64) -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        Some(Self(handle.spawn(async move {
            let page = pull.answer().await?;
            stopped(tokio::task::spawn_blocking(move || check_pull_page(&keys, page, cursor)).await)
        })))
    }

    async fn answer(mut self) -> std::result::Result<CheckedPage, RemoteError> {
        stopped((&mut self.0).await)?
    }
}

/// A task's answer: a panic in it is a bug and goes on here; one stopped
/// otherwise (the runtime shutting down) is a page the pass did not get.
fn stopped<R>(joined: std::result::Result<R, tokio::task::JoinError>) -> std::result::Result<R, RemoteError> {
    match joined {
        Ok(r) => Ok(r),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(RemoteError::Decode(format!("the pull ahead stopped: {e}"))),
    }
}

impl Drop for CheckAhead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Push one batch. A batch the server refuses as invalid is split so only
/// the offending changes are marked failed.
async fn push<A: VaultAccess, T: SyncTransport>(
    vault: &A,
    remote: &T,
    batch: &[PendingOp],
    report: &mut SyncReport,
) -> Result<()> {
    let ops = batch.iter().map(|p| p.op.clone()).collect();
    match remote.push(ops).await {
        Ok(resp) => {
            let o = vault.with(|v| v.apply_push_results(batch, &resp.results))?;
            report.pushed += o.applied;
            report.duplicates += o.duplicates;
            report.push_conflicts += o.conflicts;
            report.merged += o.merge.merged;
            report.conflicts_opened += o.merge.opened;
            report.restored += o.merge.restored;
            report.fast_forwarded += o.merge.fast_forwarded;
            Ok(())
        }
        // Only the server refusing the request says the changes are bad.
        // Anything else (no answer, an unreadable one, logged out, switched
        // offline) says nothing about them: they stay queued, never failed.
        // A full account is not a bad change either: it waits for space.
        Err(e) if e.is_retryable() || e.is_quota_exceeded() || !matches!(e, RemoteError::Server { .. }) => {
            // Frozen entries keep their op ids: resending later is safe even
            // if the server committed this batch and the answer was lost.
            vault.with(|v| v.record_push_failure(batch, &e.to_string(), true))?;
            Err(Error::from(e))
        }
        Err(_) if batch.len() > 1 => {
            for single in batch {
                Box::pin(push(vault, remote, std::slice::from_ref(single), report)).await?;
            }
            Ok(())
        }
        Err(e) => {
            vault.with(|v| v.record_push_failure(batch, &e.to_string(), false))?;
            report.rejected += 1;
            Ok(())
        }
    }
}

/// Starts a store at cursor 0 from the account's bootstrap snapshot, if the
/// server has one and it opens: `None` otherwise (the pass then pulls from
/// 0, which is always correct). Only the mass-delete rail stops the pass,
/// as it would stop the same changes pulled one by one.
async fn bootstrap<A: VaultAccess, T: SyncTransport>(
    vault: &A,
    remote: &T,
) -> Result<Option<crate::vault::PullOutcome>> {
    let info = match remote.snapshot_info().await {
        Ok(Some(info)) => info,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(error = %e, "could not ask for the account's snapshot; pulling every change instead");
            return Ok(None);
        }
    };
    let mut chunks = Vec::with_capacity(info.chunks as usize);
    for index in 0..info.chunks {
        match remote.snapshot_chunk(info.cursor, index).await {
            Ok(chunk) => chunks.push(chunk),
            Err(e) => {
                tracing::warn!(error = %e, index, "could not download the account's snapshot; pulling every change instead");
                return Ok(None);
            }
        }
    }
    match vault.with(|v| v.apply_snapshot(info.cursor, &chunks)) {
        Ok(outcome) => {
            tracing::info!(
                cursor = info.cursor,
                bytes = info.bytes,
                notes = outcome.applied,
                "started from the account's snapshot"
            );
            Ok(Some(outcome))
        }
        Err(e @ Error::MassDeleteHeld { .. }) => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "the account's snapshot did not open; pulling every change instead");
            Ok(None)
        }
    }
}

/// After a full pass: makes and uploads a new bootstrap snapshot when this
/// store's cursor has moved well past the newest one it knows of (see
/// [`crate::vault::SNAPSHOT_MIN_CHANGES`]) and the server has none as
/// recent. Never fails the pass: a snapshot only saves other devices
/// bytes. True when one was uploaded whole.
async fn offer_snapshot<A: VaultAccess, T: SyncTransport>(vault: &A, remote: &T) -> bool {
    match vault.with(|v| v.snapshot_due()) {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "could not check whether a snapshot is due");
            return false;
        }
    }
    match remote.snapshot_info().await {
        Ok(Some(info)) => {
            let due = vault.with(|v| {
                v.record_snapshot(info.cursor)?;
                v.snapshot_due()
            });
            if !matches!(due, Ok(true)) {
                return false;
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(error = %e, "could not ask for the account's snapshot");
            return false;
        }
    }
    let made = match vault.with(|v| v.make_snapshot()) {
        Ok(Some(made)) => made,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "could not make a snapshot");
            return false;
        }
    };
    let of = made.chunks.len() as u32;
    for (index, chunk) in made.chunks.into_iter().enumerate() {
        let upload = SnapshotChunkUpload { cursor: made.cursor, index: index as u32, of, data: chunk.into() };
        match remote.put_snapshot_chunk(&upload).await {
            Ok(r) if r.complete => {
                if let Err(e) = vault.with(|v| v.record_snapshot(made.cursor)) {
                    tracing::warn!(error = %e, "could not record the snapshot made");
                }
                tracing::info!(cursor = made.cursor, notes = made.notes, chunks = of, "uploaded a snapshot");
                return true;
            }
            Ok(_) => {}
            Err(e) => {
                if !e.is_snapshot_stale() {
                    tracing::warn!(error = %e, "could not upload a snapshot; the next pass tries again");
                }
                return false;
            }
        }
    }
    false
}
