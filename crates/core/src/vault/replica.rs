//! The vault's side of sync: handing outbox entries to the push, recording
//! the server's answers, and applying pulled pages, each in one local
//! transaction. No network here: `crate::sync` drives these.
//!
//! Rules kept here:
//! - An entry's op id and content are frozen at its first attempt; its
//!   `base_rev` is fixed then too (the note's server revision at that time).
//! - Only the oldest pending entry of a note is sent at a time: the next
//!   one's base is the revision the first one gets.
//! - An entry leaves the outbox only in the transaction that records the
//!   server's acknowledgement (applied or duplicate).
//! - A pulled page is applied and the cursor advanced in one transaction;
//!   changes at or below the cursor are skipped, so each applies once.
//! - A pulled change is authenticated (all three fields) before it is
//!   stored; one that fails is set aside (the quarantine) and the rest of
//!   the page applies.
//! - A pulled change for a note with unsent local edits never overwrites
//!   them: both versions are kept as an open conflict.

use std::collections::{HashMap, HashSet};

use outpost_protocol::v1::{Bytes, Change, Op, PullResponse, PushResult, SkipRanges};
use outpost_protocol::Hlc;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::reconcile::{merge_remote, MergeCounts, MergeCtx};
use super::rows::{
    hlc_col, open_meta, open_text, queue_as_is, replace_base, sealed_cols, store_new_remotes, store_remote_over,
    upsert_base, uuid_col, NewRemote,
};
use super::Vault;
use crate::crypto::{self, Binding, Field, KeyId, KeyRing};
use crate::error::{Error, Result};
use crate::model::Meta;
use crate::payload::Sealed;
use crate::store;
use crate::time::outbox_retry_ms;

/// An outbox entry handed to a push, and where it came from.
#[derive(Debug, Clone)]
pub struct PendingOp {
    pub seq: i64,
    pub op: Op,
}

/// What one push's answers did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    pub applied: usize,
    pub duplicates: usize,
    /// Changes the server refused because the note had moved on.
    pub conflicts: usize,
    pub merge: MergeCounts,
}

/// What one pulled page did locally.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullOutcome {
    pub applied: usize,
    /// Already here (our own pushes coming back, or repeats).
    pub skipped: usize,
    /// Changes that met unsent local edits and were merged with them.
    pub conflicts: usize,
    pub merge: MergeCounts,
    /// Changes set aside because they did not open under this key.
    pub undecryptable: usize,
}

impl PullOutcome {
    /// Add what another page did.
    pub(super) fn absorb(&mut self, other: &PullOutcome) {
        self.applied += other.applied;
        self.skipped += other.skipped;
        self.conflicts += other.conflicts;
        self.undecryptable += other.undecryptable;
        self.merge.merged += other.merge.merged;
        self.merge.opened += other.merge.opened;
        self.merge.restored += other.merge.restored;
        self.merge.fast_forwarded += other.merge.fast_forwarded;
    }
}

/// How long a change refused in favour of a version under a data key this
/// device lacks waits before it is sent again (fetching the key sends it at
/// once).
const KEY_WAIT_MS: i64 = 5 * 60 * 1000;

/// The mass-delete rail: more deletions than this in one pass stop and ask.
pub const MASS_DELETE_MAX: u64 = 100;
/// ... as do deletions of half the notes of a device holding at least this many.
pub const MASS_DELETE_MIN_NOTES: u64 = 10;

/// A pulled change set aside because it did not open under this key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Quarantined {
    /// The server's sequence number; below zero for a change set aside
    /// before this store found its server reset (moved out of the way of
    /// the numbers the server hands out since).
    pub seq: i64,
    pub note_id: Uuid,
    pub rev: i64,
    pub error: String,
    pub at: i64,
}

impl Vault {
    /// Up to `max` entries due now, oldest first, one per note; each is
    /// marked attempted (frozen) and given its base revision.
    pub fn take_push_batch(&mut self, max: usize) -> Result<Vec<PendingOp>> {
        self.take_batch(max, false)
    }

    /// Up to `max` entries that were sent before and never answered (a lost
    /// answer, a crash between push and acknowledgement), whether or not
    /// their retry time has come. A pass sends these before it pulls: until
    /// they are answered, the merge base of their notes is unknown.
    pub fn take_unanswered_batch(&mut self, max: usize) -> Result<Vec<PendingOp>> {
        self.take_batch(max, true)
    }

    fn take_batch(&mut self, max: usize, unanswered: bool) -> Result<Vec<PendingOp>> {
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::new();
        {
            let mut stmt = tx.prepare_cached(concat!(
                "SELECT o.seq, o.op_id, o.note_id, o.hlc, coalesce(o.base_rev, n.server_rev, 0), o.deleted, ",
                sealed_cols!("o"),
                " FROM outbox o JOIN notes n ON n.id = o.note_id
                 WHERE o.state = 'pending' AND (CASE WHEN ?3 THEN o.attempts > 0 ELSE o.next_attempt_at <= ?1 END)
                   AND o.seq = (SELECT min(seq) FROM outbox o2 WHERE o2.note_id = o.note_id AND o2.state = 'pending')
                 ORDER BY o.seq LIMIT ?2"
            ))?;
            let mut rows = stmt.query(params![now, max as i64, unanswered])?;
            while let Some(r) = rows.next()? {
                let base_rev: i64 = r.get(4)?;
                let sealed = Sealed { title: r.get(6)?, meta: r.get(7)?, body: r.get(8)? };
                out.push(PendingOp {
                    seq: r.get(0)?,
                    op: Op {
                        op_id: uuid_col(r, 1)?,
                        note_id: uuid_col(r, 2)?,
                        base_rev: u64::try_from(base_rev).map_err(|_| Error::Corrupt("negative revision".into()))?,
                        hlc: hlc_col(r, 3)?,
                        deleted: r.get(5)?,
                        payload: outpost_protocol::v1::Bytes(sealed.encode()),
                    },
                });
            }
        }
        {
            let mut mark = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, base_rev = ?2, updated_at = ?3 WHERE seq = ?1",
            )?;
            for p in &out {
                mark.execute(params![p.seq, p.op.base_rev as i64, now])?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Record the server's answers to `batch`, in order, in one transaction.
    ///
    /// A refused change whose server version does not authenticate
    /// (tampered, cut, forged) is sent again on top of that version.
    pub fn apply_push_results(&mut self, batch: &[PendingOp], results: &[PushResult]) -> Result<PushOutcome> {
        if batch.len() != results.len() {
            return Err(Error::Invalid(format!(
                "the server answered {} results for {} changes; nothing was recorded",
                results.len(),
                batch.len()
            )));
        }
        // A conflict carries the server's version: authenticate it before
        // anything is written. One that fails is not merged: its entry
        // stays queued (the edit is kept) and replaces it, and the rest of
        // the batch and the pull go on; the pull sets that version aside.
        let mut unreadable: HashMap<usize, String> = HashMap::new();
        // A server version under a data key this device does not hold yet
        // (another device rotated the key) is not overwritten: it may be a
        // real edit. The entry waits, on its old base, until the key is
        // here ([`Vault::learn_keys`]); then it meets that version again
        // and is merged with it.
        let mut waiting: HashMap<usize, String> = HashMap::new();
        for (i, r) in results.iter().enumerate() {
            if let PushResult::Conflict { current: Some(change) } = r {
                match self.authenticate_change(change) {
                    Ok(()) => {}
                    Err(e @ Error::KeyRotated { .. }) => {
                        waiting.insert(i, e.to_string());
                    }
                    Err(e) => {
                        tracing::warn!(note = %change.note_id, error = %e, "the server's version of a refused change set aside");
                        unreadable.insert(i, e.to_string());
                    }
                }
            }
        }
        let now = self.clock.wall_ms() as i64;
        let cursor = self.cursor()?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = PushOutcome::default();
        for (i, (p, r)) in batch.iter().zip(results).enumerate() {
            if let Some(error) = waiting.get(&i) {
                outcome.conflicts += 1;
                tx.prepare_cached(
                    "UPDATE outbox SET attempts = 0, next_attempt_at = ?2, last_error = ?3, updated_at = ?4
                     WHERE seq = ?1",
                )?
                .execute(params![p.seq, now + KEY_WAIT_MS, error, now])?;
                continue;
            }
            if let (Some(error), PushResult::Conflict { current: Some(head) }) = (unreadable.get(&i), r) {
                // The server's head of the note is not a version this
                // account made as it stands (set aside by the pull too).
                // This device's version goes on top of it: the entry was
                // answered (refused, not stored), so it is no longer in
                // flight; it is re-based on that head and sent again now.
                outcome.conflicts += 1;
                tx.prepare_cached(
                    "UPDATE outbox SET attempts = 0, base_rev = ?2, next_attempt_at = ?3, last_error = ?4,
                     updated_at = ?3 WHERE seq = ?1",
                )?
                .execute(params![
                    p.seq,
                    head.rev as i64,
                    now,
                    format!("replacing a server version set aside: {error}")
                ])?;
                continue;
            }
            match r {
                PushResult::Applied { rev, seq } | PushResult::Duplicate { rev, seq } => {
                    let applied = matches!(r, PushResult::Applied { .. });
                    if applied {
                        outcome.applied += 1;
                    } else {
                        outcome.duplicates += 1;
                    }
                    let sealed = Sealed::decode(&p.op.payload.0).map_err(|e| Error::Corrupt(e.to_string()))?;
                    tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([p.seq])?;
                    if applied {
                        // The server stored this version as the note's
                        // latest, at `rev`, just now: that is what it holds,
                        // even below what this device believed (a server
                        // restored from an older backup numbers revisions
                        // again). Keeping a higher believed revision would
                        // make the pull skip other devices' changes up to it.
                        tx.prepare_cached("UPDATE notes SET server_rev = ?2 WHERE id = ?1")?
                            .execute(params![p.op.note_id.as_bytes(), *rev as i64])?;
                        replace_base(&tx, &p.op.note_id, *rev, &p.op.hlc, p.op.deleted, &sealed)?;
                    } else {
                        // A duplicate reports what the op got when it first
                        // applied; the note may have moved on since, as this
                        // device may already know.
                        tx.prepare_cached(
                            "UPDATE notes SET server_rev = max(coalesce(server_rev, 0), ?2) WHERE id = ?1",
                        )?
                        .execute(params![p.op.note_id.as_bytes(), *rev as i64])?;
                        upsert_base(&tx, &p.op.note_id, *rev, &p.op.hlc, p.op.deleted, &sealed)?;
                    }
                    // This device holds that version: the pull need not
                    // bring it back (no echo). Only above the cursor: one at
                    // or below it was pulled past already.
                    if *seq > cursor {
                        tx.prepare_cached("INSERT OR IGNORE INTO own_pushes (seq) VALUES (?1)")?
                            .execute([i64::try_from(*seq).map_err(|_| Error::Corrupt("server seq".into()))?])?;
                    }
                }
                PushResult::Conflict { current: Some(change) } => {
                    // Refused, so never stored: the entry can go, replaced
                    // by the merge of this device's version and the server's.
                    outcome.conflicts += 1;
                    // The merge is stamped after the version it contains,
                    // however slow this device's clock is.
                    self.clock.observe(change.hlc);
                    let ctx = MergeCtx { tx: &tx, key: &self.key, clock: &self.clock, now };
                    merge_remote(&ctx, change, Some(p.seq), &mut outcome.merge)?;
                }
                PushResult::Conflict { current: None } => {
                    // The server has no such note although this device had
                    // it from there (a server restored from an old backup,
                    // or reset): send it again as new. Nothing is deleted.
                    outcome.conflicts += 1;
                    tx.prepare_cached(
                        "UPDATE outbox SET base_rev = 0, next_attempt_at = ?2, last_error = ?3, updated_at = ?2
                         WHERE seq = ?1",
                    )?
                    .execute(params![
                        p.seq,
                        now,
                        "the server did not have this note; sending it again as new"
                    ])?;
                }
            }
        }
        tx.commit()?;
        self.committed();
        Ok(outcome)
    }

    /// Note a push that did not get answers: retry later with full jitter,
    /// or, for a change the server refuses as invalid, mark it failed (shown
    /// to the user, never retried blindly, never dropped).
    pub fn record_push_failure(&mut self, batch: &[PendingOp], error: &str, retryable: bool) -> Result<()> {
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for p in batch {
            let attempts: i64 = tx
                .query_row("SELECT attempts FROM outbox WHERE seq = ?1", [p.seq], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if retryable {
                let next = now + outbox_retry_ms(attempts);
                tx.execute(
                    "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3, updated_at = ?4 WHERE seq = ?1",
                    params![p.seq, next, error, now],
                )?;
            } else {
                tx.execute(
                    "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE seq = ?1",
                    params![p.seq, error, now],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Apply a pulled page and advance the cursor, in one transaction.
    ///
    /// A change that does not open under this store's key is set aside in
    /// `quarantine` and the rest applies. A page that would delete more of
    /// the user's notes than the mass-delete rail allows is refused whole,
    /// with nothing written, until the user approves.
    pub fn apply_pull_page(&mut self, page: &PullResponse) -> Result<PullOutcome> {
        let cursor = self.cursor()?;
        let fresh = fresh_of(page, cursor);
        // Authenticate everything before the transaction: the ciphers on
        // every core, then the store's own check, change by change.
        let opened = open_changes(&self.key, &fresh);
        let next_cursor = (page.next_cursor > cursor).then_some(page.next_cursor);
        self.apply_opened(fresh, opened, next_cursor)
    }

    /// The key ring a page's ciphers are checked with away from the vault
    /// ([`check_pull_page`]): a copy of this store's.
    pub fn page_keys(&self) -> KeyRing {
        self.key.clone()
    }

    /// [`Vault::apply_pull_page`] of a page whose ciphers were checked
    /// already ([`check_pull_page`], on another thread while the page
    /// before was stored). A page checked against another cursor than
    /// this store's is checked again, whole; a change that did not open
    /// is tried again under this store's keys (they may have grown since:
    /// keys are only ever added, so one that opened still opens).
    pub fn apply_checked_page(&mut self, checked: CheckedPage) -> Result<PullOutcome> {
        let cursor = self.cursor()?;
        let CheckedPage { page, cursor: checked_at, opened } = checked;
        if checked_at != cursor {
            return self.apply_pull_page(&page);
        }
        let fresh = fresh_of(&page, cursor);
        let opened = fresh
            .iter()
            .zip(opened)
            .map(|(c, o)| match o {
                Ok(o) => Ok(o),
                Err(_) => open_change(&self.key, c),
            })
            .collect();
        let next_cursor = (page.next_cursor > cursor).then_some(page.next_cursor);
        self.apply_opened(fresh, opened, next_cursor)
    }

    /// The rest of [`Vault::apply_pull_page`] once the changes' ciphers
    /// are checked (`opened`, one per change): a change that did not open,
    /// or that replays an older version, is set aside; the others apply.
    pub(super) fn apply_opened(
        &mut self,
        fresh: Vec<&Change>,
        opened: Vec<Result<Opened>>,
        next_cursor: Option<u64>,
    ) -> Result<PullOutcome> {
        let bases = self.merge_bases_of(&fresh)?;
        let mut checked = Vec::with_capacity(fresh.len());
        for (c, o) in fresh.into_iter().zip(opened) {
            match o.and_then(|o| not_replayed(c, bases.get(&c.note_id)).map(|()| o)) {
                Ok(o) => checked.push((c, Ok(o))),
                Err(e) => {
                    tracing::warn!(note = %c.note_id, seq = c.seq, error = %e, "pulled change set aside");
                    checked.push((c, Err(e.to_string())));
                }
            }
        }
        self.apply_changes(checked, next_cursor, &[])
    }

    /// Apply again the changes set aside because they did not open (sealed
    /// under a data key this store did not hold), when the ring holds a key
    /// they have not been tried under by this process: after
    /// [`Vault::learn_keys`] took one in, and at the first call after the
    /// store is opened (a process that ended between `learn_keys`'s commit
    /// and this left them aside under a key the store holds). Each is
    /// applied as if pulled now, so one already superseded here is skipped
    /// and one meeting local edits is merged; one that still does not open
    /// stays aside. Otherwise nothing is read: a change that did not open
    /// under these keys (a forgery, say) is not opened again on every sync
    /// pass. Returns the notes it brought back, with what it did.
    pub fn replay_quarantine(&mut self) -> Result<(Vec<Uuid>, PullOutcome)> {
        if self.key.iter().all(|k| self.aside_tried_under.contains(&k.id())) {
            return Ok((Vec::new(), PullOutcome::default()));
        }
        let tried_under: Vec<KeyId> = self.key.iter().map(|k| k.id()).collect();
        let rows: Vec<Change> = {
            let mut stmt =
                self.conn.prepare("SELECT seq, note_id, rev, hlc, deleted, payload FROM quarantine ORDER BY seq")?;
            let rows = stmt.query_map([], |r| {
                let hlc: String = r.get(3)?;
                Ok((r.get::<_, i64>(0)?, uuid_col(r, 1)?, r.get::<_, i64>(2)?, hlc, r.get(4)?, r.get(5)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, note_id, rev, hlc, deleted, payload) = row?;
                // Set aside before a server reset: below zero, not a seq.
                let (Ok(seq), Ok(rev), Ok(hlc)) = (u64::try_from(seq), u64::try_from(rev), hlc.parse()) else {
                    continue;
                };
                out.push(Change { seq, note_id, rev, hlc, deleted, payload: Bytes(payload) });
            }
            out
        };
        let refs: Vec<&Change> = rows.iter().collect();
        let opened = open_changes(&self.key, &refs);
        let openable: Vec<(&Change, std::result::Result<Opened, String>)> = refs
            .into_iter()
            .zip(opened)
            .filter_map(|(c, o)| o.ok().filter(|_| self.check_not_replayed(c).is_ok()).map(|o| (c, Ok(o))))
            .collect();
        if openable.is_empty() {
            self.aside_tried_under = tried_under;
            return Ok((Vec::new(), PullOutcome::default()));
        }
        let seqs: Vec<u64> = openable.iter().map(|(c, _)| c.seq).collect();
        let notes: Vec<Uuid> = openable.iter().map(|(c, _)| c.note_id).collect();
        let outcome = self.apply_changes(openable, None, &seqs)?;
        self.aside_tried_under = tried_under;
        Ok((notes, outcome))
    }

    /// The body of [`Vault::apply_pull_page`] and
    /// [`Vault::replay_quarantine`]: `changes` (each opened, or the error
    /// that sets it aside) in one transaction, under the mass-delete rail;
    /// the cursor moved to `next_cursor`; the quarantine rows at
    /// `replayed` dropped.
    fn apply_changes(
        &mut self,
        fresh: Vec<(&Change, std::result::Result<Opened, String>)>,
        next_cursor: Option<u64>,
        replayed: &[u64],
    ) -> Result<PullOutcome> {
        self.without_fsync(|v| v.apply_changes_now(fresh, next_cursor, replayed))
    }

    /// Run `f`, whose writes a power cut may undo because they are done
    /// again after it, with commits that do not wait for the disk
    /// (`synchronous = NORMAL`): a pulled page (its cursor commits with
    /// it, so the page is pulled again), a pass's bookkeeping. A crash of
    /// the app loses none of it (the WAL is written before the commit
    /// returns); the background checkpoint, or the next save's commit,
    /// syncs it to the disk. A save never goes through here.
    pub(super) fn without_fsync<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let done = f(self);
        let restored = self.conn.pragma_update(None, "synchronous", "FULL");
        let done = done?;
        restored?;
        Ok(done)
    }

    fn apply_changes_now(
        &mut self,
        fresh: Vec<(&Change, std::result::Result<Opened, String>)>,
        next_cursor: Option<u64>,
        replayed: &[u64],
    ) -> Result<PullOutcome> {
        let deletes = self.count_pulled_deletes(fresh.iter().filter(|(_, o)| o.is_ok()).map(|(c, _)| *c))?;
        self.check_mass_delete(deletes)?;

        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = PullOutcome::default();
        // Notes new here, once in the page, go in together (an initial
        // sync is all of them); the rest, change by change, in order.
        let new_here = new_notes_of(&tx, &fresh)?;
        let mut new_notes = Vec::new();
        for (c, opened) in &fresh {
            if let Ok(opened) = opened {
                let new = NewRemote { change: c, sealed: &opened.sealed, meta: &opened.meta };
                if new_here.contains(&c.note_id) && new.is_plain() {
                    self.clock.observe(c.hlc);
                    new_notes.push(new);
                }
            }
        }
        store_new_remotes(&tx, &new_notes)?;
        outcome.applied += new_notes.len();
        let stored: HashSet<Uuid> = new_notes.iter().map(|n| n.change.note_id).collect();
        drop(new_notes);
        for (c, opened) in fresh {
            if stored.contains(&c.note_id) {
                continue;
            }
            let opened = match opened {
                Ok(opened) => opened,
                Err(error) => {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO quarantine (seq, note_id, rev, hlc, deleted, payload, error, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        c.seq as i64,
                        c.note_id.as_bytes(),
                        c.rev as i64,
                        c.hlc.to_string(),
                        c.deleted,
                        c.payload.0,
                        error,
                        now
                    ])?;
                    outcome.undecryptable += 1;
                    continue;
                }
            };
            self.clock.observe(c.hlc);
            let local: Option<(Option<i64>, i64)> = tx
                .prepare_cached(
                    "SELECT n.server_rev, (SELECT count(*) FROM outbox o WHERE o.note_id = n.id)
                     FROM notes n WHERE n.id = ?1",
                )?
                .query_row([c.note_id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match local {
                Some((Some(rev), _)) if rev >= c.rev as i64 => outcome.skipped += 1,
                // Any entry, pending or failed, is this device's work the
                // server does not hold: merge, never overwrite it.
                Some((_, unsent)) if unsent > 0 => {
                    outcome.conflicts += 1;
                    let ctx = MergeCtx { tx: &tx, key: &self.key, clock: &self.clock, now };
                    merge_remote(&ctx, c, None, &mut outcome.merge)?;
                }
                _ => {
                    store_remote_over(&tx, c, &opened.sealed, &opened.meta, local.is_some())?;
                    outcome.applied += 1;
                }
            }
        }
        if let Some(next_cursor) = next_cursor {
            store::set_kv(&tx, "sync_state", "cursor", &next_cursor.to_string())?;
            // Own pushes the cursor has passed, left out or not, are done.
            tx.prepare_cached("DELETE FROM own_pushes WHERE seq <= ?1")?
                .execute([i64::try_from(next_cursor).unwrap_or(i64::MAX)])?;
        }
        for seq in replayed {
            tx.prepare_cached("DELETE FROM quarantine WHERE seq = ?1")?
                .execute([i64::try_from(*seq).unwrap_or(i64::MAX)])?;
        }
        tx.commit()?;
        self.committed();
        self.pass_deletes += deletes;
        Ok(outcome)
    }

    /// Live notes here (not notebooks), with nothing unsent (no pending or
    /// failed entry), that these changes delete. (A note with unsent edits is not deleted:
    /// the edit wins.)
    fn count_pulled_deletes<'c>(&self, changes: impl Iterator<Item = &'c Change>) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM notes n WHERE n.id = ?1 AND n.deleted = 0 AND n.kind = 0
               AND coalesce(n.server_rev, 0) < ?2
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id))",
        )?;
        let mut n = 0;
        for c in changes.filter(|c| c.deleted) {
            if stmt.query_row(params![c.note_id.as_bytes(), c.rev as i64], |r| r.get::<_, bool>(0))? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// The mass-delete rail (DESIGN.md item 9): a pass that would delete
    /// more than [`MASS_DELETE_MAX`] notes, or at least half of this
    /// device's notes (when it holds [`MASS_DELETE_MIN_NOTES`] or more),
    /// stops and asks, unless the user approved it.
    fn check_mass_delete(&self, deletes: u64) -> Result<()> {
        if deletes == 0 || store::get_kv(&self.conn, "sync_state", "deletes_approved")?.is_some() {
            return Ok(());
        }
        // Notes only: a deleted notebook's notes moved up, nothing of them
        // is deleted.
        let live: u64 =
            self.conn.query_row("SELECT count(*) FROM notes WHERE deleted = 0 AND kind = 0", [], |r| r.get(0))?;
        let live_at_start = live + self.pass_deletes;
        let total = self.pass_deletes + deletes;
        if total > MASS_DELETE_MAX || (live_at_start >= MASS_DELETE_MIN_NOTES && total * 2 >= live_at_start) {
            return Err(Error::MassDeleteHeld { deletes: total, notes: live_at_start });
        }
        Ok(())
    }

    /// Let the next sync pass apply deletions the mass-delete rail held.
    pub fn approve_mass_delete(&mut self) -> Result<()> {
        store::set_kv(&self.conn, "sync_state", "deletes_approved", "1")
    }

    /// Pulled changes set aside because they did not open under this
    /// store's key.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let mut stmt = self.conn.prepare("SELECT seq, note_id, rev, error, at FROM quarantine ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(Quarantined {
                seq: r.get(0)?,
                note_id: uuid_col(r, 1)?,
                rev: r.get(2)?,
                error: r.get(3)?,
                at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A change from elsewhere checked whole: its ciphers
    /// ([`open_change`]) and against this store ([`Vault::check_not_replayed`]).
    fn authenticate_change(&self, c: &Change) -> Result<()> {
        open_change(&self.key, c)?;
        self.check_not_replayed(c)
    }

    /// The store's part of checking a change from elsewhere (the ciphers'
    /// part is [`open_change`]): it is newer than the version both sides
    /// last agreed on. Every writer stamps a change after the version it
    /// replaced (a pull and a refused push both observe the server's stamp
    /// first), so an older stamp under a newer revision is an old version
    /// replayed, which would roll the note back on every device.
    fn check_not_replayed(&self, c: &Change) -> Result<()> {
        let base: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT rev, hlc FROM merge_base WHERE note_id = ?1")?
            .query_row([c.note_id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let base = base.map(|(rev, hlc)| parse_base(&c.note_id, rev, &hlc)).transpose()?;
        not_replayed(c, base.as_ref())
    }

    /// The merge bases (revision, stamp) of the notes `changes` touch, in
    /// one statement for a whole page.
    fn merge_bases_of(&self, changes: &[&Change]) -> Result<HashMap<Uuid, (i64, Hlc)>> {
        let ids = ids_param(changes.iter().map(|c| &c.note_id))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT note_id, rev, hlc FROM merge_base WHERE note_id IN (SELECT unhex(value) FROM json_each(?1))",
        )?;
        let mut rows = stmt.query([ids])?;
        let mut bases = HashMap::new();
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let hlc: String = r.get(2)?;
            bases.insert(id, parse_base(&id, r.get(1)?, &hlc)?);
        }
        Ok(bases)
    }

    /// The `skip` of the next pull: the server seqs of this device's own
    /// accepted pushes above the cursor, as at most
    /// [`outpost_protocol::v1::MAX_SKIP_RANGES`] ranges (the lowest ones).
    /// The server leaves out a version at one of them only if this
    /// device's session wrote it; anything else comes as before.
    pub fn pull_skip(&self) -> Result<SkipRanges> {
        self.pull_skip_above(self.cursor()?)
    }

    /// [`Vault::pull_skip`] for a pull from `cursor` (the next page's, asked
    /// for while this one is applied).
    pub fn pull_skip_above(&self, cursor: u64) -> Result<SkipRanges> {
        let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached("SELECT seq FROM own_pushes WHERE seq > ?1 ORDER BY seq")?;
        let seqs = stmt.query_map([cursor], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for seq in seqs {
            out.push(u64::try_from(seq?).map_err(|_| Error::Corrupt("negative seq in own_pushes".into()))?);
        }
        Ok(SkipRanges::from_seqs(out))
    }

    /// The pull cursor: the last server sequence number applied here.
    pub fn cursor(&self) -> Result<u64> {
        Ok(store::get_kv(&self.conn, "sync_state", "cursor")?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Mark a completed sync pass. An approval of held deletions is used
    /// up by it. History housekeeping (retention, trash purges) runs here
    /// when due; the purges it queues go with the next pass.
    pub fn record_sync_success(&mut self) -> Result<()> {
        let now = self.clock.wall_ms() as i64;
        self.pass_deletes = 0;
        // Used up for good (synced): a power cut must not hand the next
        // pass the approval again.
        if store::get_kv(&self.conn, "sync_state", "deletes_approved")?.is_some() {
            self.conn.execute("DELETE FROM sync_state WHERE key = 'deletes_approved'", [])?;
        }
        // The rest is done again if a power cut undoes it.
        self.without_fsync(|v| {
            store::set_kv(&v.conn, "sync_state", "last_sync_at", &now.to_string())?;
            v.housekeep_if_due().map(|_| ())
        })
    }

    /// Start over with a server that does not know this device's sync
    /// position: one that was reset, or restored from a backup older than
    /// this device's last sync (it answers a pull with
    /// `cursor_out_of_range`). In one transaction: forget every merge base
    /// and server revision (what this device believed the server held),
    /// keep the stamps of the versions agreed on, re-base the changes
    /// already queued, queue every other note (live or deleted) as it
    /// stands, and set the pull cursor to 0. No note changes: the next
    /// pushes send each note as new, or meet the server's version of it
    /// and go through the usual merge (a version this device agreed on
    /// before is one its note already contains, so its own goes on top).
    pub fn reset_sync_state(&mut self) -> Result<SyncReset> {
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let reset = reset_sync_state_in(&tx, now)?;
        tx.commit()?;
        self.pass_deletes = 0;
        Ok(reset)
    }

    /// When this store last found its server reset (or switched account)
    /// and started over, in ms since the epoch.
    pub fn last_server_reset(&self) -> Result<Option<i64>> {
        Ok(store::get_kv(&self.conn, "sync_state", "server_reset_at")?.and_then(|s| s.parse().ok()))
    }
}

/// What [`Vault::reset_sync_state`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReset {
    /// Notes (live and deleted) queued again, as they stand.
    pub requeued: usize,
    /// Changes that were queued already, now re-based on whatever the
    /// server has.
    pub pending: usize,
}

/// [`Vault::reset_sync_state`] inside the caller's transaction.
pub(super) fn reset_sync_state_in(tx: &Connection, now: i64) -> Result<SyncReset> {
    // The stamps of the versions agreed on stay: they say what this
    // device's notes contain, whichever server holds them (this copies in
    // the bases of stores older than schema 5).
    tx.execute("INSERT OR IGNORE INTO agreed_stamps (note_id, hlc) SELECT note_id, hlc FROM merge_base", [])?;
    // What this device believed the server held: merge bases and server
    // revisions. Merging against a base the server may no longer have
    // could take a restored old version for a deletion of newer words.
    tx.execute("DELETE FROM merge_base", [])?;
    tx.execute("UPDATE notes SET server_rev = NULL WHERE server_rev IS NOT NULL", [])?;
    // Changes already queued go now, on top of whatever the server has. An
    // entry that was sent keeps its op id: if the server has it, it answers
    // `duplicate`; if not, the change applies or meets a conflict.
    let pending = tx.execute(
        "UPDATE outbox SET base_rev = NULL, next_attempt_at = ?1, updated_at = ?1 WHERE state = 'pending'",
        [now],
    )?;
    // Every other note goes again as it stands: live notes, and tombstones
    // so a delete reaches the server and is not brought back by its old
    // copy. A note whose current version the server refused as invalid is
    // left to its failed entry (shown to the user), not sent again blindly.
    let ids: Vec<Vec<u8>> = {
        let mut stmt = tx.prepare(
            "SELECT n.id FROM notes n WHERE NOT EXISTS (SELECT 1 FROM outbox o
               WHERE o.note_id = n.id AND (o.state = 'pending' OR o.hlc = n.hlc))
             ORDER BY n.id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in &ids {
        queue_as_is(tx, id, now)?;
    }
    // Changes set aside under the old server's sequence numbers move below
    // zero, out of the way of the numbers the server hands out from now on.
    let lowest: i64 = tx.query_row("SELECT coalesce(min(seq), 0) FROM quarantine", [], |r| r.get(0))?;
    tx.execute("UPDATE quarantine SET seq = ?1 - seq WHERE seq > 0", [lowest.min(0)])?;
    store::set_kv(tx, "sync_state", "cursor", "0")?;
    // Seqs of the old server's numbering: the new one hands them out again.
    tx.execute("DELETE FROM own_pushes", [])?;
    store::set_kv(tx, "sync_state", "server_reset_at", &now.to_string())?;
    // An approval of held deletions was for the old server's changes.
    tx.execute("DELETE FROM sync_state WHERE key = 'deletes_approved'", [])?;
    Ok(SyncReset { requeued: ids.len(), pending })
}

fn parse_base(id: &Uuid, rev: i64, hlc: &str) -> Result<(i64, Hlc)> {
    let hlc = hlc.parse().map_err(|e| Error::Corrupt(format!("merge base of {id}: {e}")))?;
    Ok((rev, hlc))
}

/// Note ids as one statement parameter: a JSON array of hex strings, which
/// the statement reads back with `unhex(value) FROM json_each(?)`.
fn ids_param<'a>(ids: impl Iterator<Item = &'a Uuid>) -> Result<String> {
    let ids: Vec<String> = ids.map(|id| id.simple().to_string()).collect();
    serde_json::to_string(&ids).map_err(|e| Error::Invalid(e.to_string()))
}

/// The notes of `changes` that have no row here and appear once among
/// them, in one statement for a whole page.
fn new_notes_of(tx: &Connection, changes: &[(&Change, std::result::Result<Opened, String>)]) -> Result<HashSet<Uuid>> {
    let mut once: HashMap<Uuid, bool> = HashMap::with_capacity(changes.len());
    for (c, _) in changes {
        once.entry(c.note_id).and_modify(|o| *o = false).or_insert(true);
    }
    let ids = ids_param(once.keys())?;
    let mut stmt = tx.prepare_cached("SELECT id FROM notes WHERE id IN (SELECT unhex(value) FROM json_each(?1))")?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        once.remove(&uuid_col(r, 0)?);
    }
    Ok(once.into_iter().filter_map(|(id, once)| once.then_some(id)).collect())
}

/// The check of [`Vault::check_not_replayed`] against the note's merge
/// base (revision, stamp), if it has one.
fn not_replayed(c: &Change, base: Option<&(i64, Hlc)>) -> Result<()> {
    match base {
        Some((rev, base_hlc)) if c.rev as i64 > *rev && c.hlc <= *base_hlc => Err(Error::Forged(format!(
            "a change to note {} from the server (revision {}) is older than revision {rev} this device \
             already has: an old version sent again; set aside, the note is kept",
            c.note_id, c.rev
        ))),
        _ => Ok(()),
    }
}

/// A pulled change whose ciphers checked out, opened as far as storing it
/// needs: its sealed fields (as they came) and its metadata.
pub(super) struct Opened {
    pub(super) sealed: Sealed,
    pub(super) meta: Meta,
}

/// The ciphers' part of checking a change from elsewhere (the store's part
/// is [`Vault::check_not_replayed`]); no store access, so a page's changes
/// are checked on every core ([`open_changes`]). A change is one a holder
/// of the key made, as it is:
/// - all three fields open under our key, its note id, field and stamp;
/// - the delete flag, which the server sees and is not sealed, is borne
///   out by the sealed content: a delete seals an empty title and body
///   ([`Vault::delete`]), which only the key's holder can make, so a
///   server or a stolen session cannot turn a note's genuine payload into
///   a delete.
pub(super) fn open_change(key: &KeyRing, c: &Change) -> Result<Opened> {
    let sealed = Sealed::decode(&c.payload.0)
        .map_err(|e| Error::Invalid(format!("change to note {} from the server: {e}", c.note_id)))?;
    for (field, blob) in [(Field::Title, &sealed.title), (Field::Body, &sealed.body)] {
        crypto::authenticate(key, &Binding { note_id: &c.note_id, field, hlc: &c.hlc }, blob)
            .map_err(|source| Error::decrypt(c.note_id.to_string(), source))?;
    }
    let meta = open_meta(key, &c.note_id, &c.hlc, &sealed.meta)?;
    if c.deleted {
        let title = open_text(key, &c.note_id, Field::Title, &c.hlc, &sealed.title)?;
        let body = open_text(key, &c.note_id, Field::Body, &c.hlc, &sealed.body)?;
        if !title.is_empty() || !body.is_empty() {
            return Err(Error::Forged(format!(
                "a change to note {} from the server is marked deleted but holds the note's content: \
                 a delete this account's devices did not make; set aside, the note is kept",
                c.note_id
            )));
        }
    }
    Ok(Opened { sealed, meta })
}

/// The changes of `page` a store at `cursor` has not applied yet.
fn fresh_of(page: &PullResponse, cursor: u64) -> Vec<&Change> {
    page.changes.iter().filter(|c| c.seq > cursor).collect()
}

/// A pulled page with its changes' ciphers checked ([`check_pull_page`]),
/// for [`Vault::apply_checked_page`].
pub struct CheckedPage {
    page: PullResponse,
    /// The store's cursor the page was pulled from: its changes above it
    /// were checked.
    cursor: u64,
    /// One per change above `cursor`, in order.
    opened: Vec<Result<Opened>>,
}

impl CheckedPage {
    /// The page as pulled.
    pub fn page(&self) -> &PullResponse {
        &self.page
    }
}

impl std::fmt::Debug for CheckedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedPage")
            .field("changes", &self.page.changes.len())
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// The ciphers' check of [`Vault::apply_pull_page`] for `page`, pulled
/// from `cursor`, under `keys` ([`Vault::page_keys`]), away from the
/// vault: a sync pass checks the next page on other threads while the
/// vault stores the one before. Nothing is written; the store's own
/// checks run when the page is applied.
pub fn check_pull_page(keys: &KeyRing, page: PullResponse, cursor: u64) -> CheckedPage {
    let opened = open_changes(keys, &fresh_of(&page, cursor));
    CheckedPage { page, cursor, opened }
}

/// [`open_change`] of every change, in order, spread over the machine's
/// cores for a page big enough to be worth threads (an initial sync checks
/// tens of thousands of fields).
pub(super) fn open_changes(key: &KeyRing, changes: &[&Change]) -> Vec<Result<Opened>> {
    par_map(changes, |c| open_change(key, c))
}

/// `f` of every item, in order, on up to as many threads as the machine
/// has cores, each taking a run of at least [`PAR_MIN_ITEMS`] items.
pub(super) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = cores.min(items.len() / PAR_MIN_ITEMS).max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let parts: Vec<_> =
            items.chunks(per).map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            // A panic in `f` is a bug: it goes on in this thread.
            out.extend(part.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

/// The fewest items a thread of [`par_map`] takes: below this, starting a
/// thread costs more than it saves.
const PAR_MIN_ITEMS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::MemoryStore;
    use crate::model::NoteDraft;
    use crate::vault::rows::tests::pulled;

    /// A device with `n` notes, and a page of them as a server hands it out.
    fn source(dir: &std::path::Path, n: usize) -> (Vault, PullResponse) {
        let mut from = Vault::open(dir, &MemoryStore::new()).expect("open");
        for i in 0..n {
            from.create(NoteDraft { title: format!("note {i}"), body: format!("words {i}"), ..Default::default() })
                .expect("create");
        }
        let changes = pulled(&mut from);
        let next_cursor = changes.last().map_or(0, |c| c.seq);
        (from, PullResponse { changes, next_cursor, more: false })
    }

    /// Every note's title and body, sorted.
    fn texts(v: &Vault) -> Vec<(String, String)> {
        let mut out: Vec<_> = v
            .list()
            .expect("list")
            .into_iter()
            .map(|s| v.get(s.id).map(|n| (n.title, n.body)).expect("opens"))
            .collect();
        out.sort();
        out
    }

    /// A page checked under keys that could not open it (the store has
    /// learnt a key since) is tried again under the store's keys and
    /// applies whole; a change that does not open under them either is
    /// set aside, as on the page applied in turn.
    #[test]
    fn a_page_checked_ahead_opens_under_the_keys_the_store_holds_when_it_applies() {
        let (dir, to_dir, stranger_dir) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let (from, mut page) = source(dir.path(), 100);
        let payload = &mut page.changes[40].payload.0;
        let last = payload.len() - 1;
        payload[last] ^= 1;
        let tampered = page.changes[40].note_id;

        let stranger = Vault::open(stranger_dir.path(), &MemoryStore::new()).expect("open");
        let checked = check_pull_page(&stranger.page_keys(), page.clone(), 0);
        assert!(checked.opened.iter().all(Result::is_err), "nothing opens under another account's keys");

        let mut to = Vault::open_for_account(to_dir.path(), &MemoryStore::new(), from.page_keys()).expect("open");
        let outcome = to.apply_checked_page(checked).expect("apply");
        assert_eq!((outcome.applied, outcome.undecryptable), (99, 1));
        assert_eq!(to.cursor().expect("cursor"), page.next_cursor);
        let quarantined: Vec<Uuid> = to.quarantined().expect("quarantine").into_iter().map(|q| q.note_id).collect();
        assert_eq!(quarantined, vec![tampered]);
        let mut expected = texts(&from);
        expected.retain(|(title, _)| *title != "note 40");
        assert_eq!(texts(&to), expected);
    }

    /// A page checked against another cursor than the store's (it moved
    /// in between) applies what is above the store's cursor, checked
    /// again: the same as the page applied in turn.
    #[test]
    fn a_page_checked_from_another_cursor_applies_what_is_above_the_stores() {
        let (dir, to_dir) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
        let (from, page) = source(dir.path(), 60);
        let mut to = Vault::open_for_account(to_dir.path(), &MemoryStore::new(), from.page_keys()).expect("open");
        let first = PullResponse { changes: page.changes[..25].to_vec(), next_cursor: 25, more: true };
        assert_eq!(to.apply_pull_page(&first).expect("first part").applied, 25);

        let outcome = to.apply_checked_page(check_pull_page(&to.page_keys(), page.clone(), 0)).expect("apply");
        assert_eq!((outcome.applied, outcome.skipped, outcome.undecryptable), (35, 0, 0));
        assert_eq!(to.cursor().expect("cursor"), page.next_cursor);
        assert_eq!(texts(&to), texts(&from));
        // Nothing stored twice: one history version a note.
        let versions: i64 = to.conn.query_row("SELECT count(*) FROM versions", [], |r| r.get(0)).expect("count");
        assert_eq!(versions, 60);
    }
}
