//! Reconciling a change from another device with a note that has local changes
//! the server has not taken, inside the caller's transaction (a pulled page
//! or a push's answers). The decisions are `crate::merge`'s; this file
//! opens the three versions, writes the result and keeps the record.
//!
//! Rules kept here:
//! - The result is written as a normal local change (sealed under a fresh
//!   stamp, one outbox entry) based on the remote revision, unless it is
//!   exactly the remote version, which is then stored as is.
//! - Entries the server never stored (never sent, refused as a conflict,
//!   or refused for good and marked failed) are replaced by the result. An entry that was sent and never
//!   answered stays: the server may hold it, and its op id settles that.
//! - The merge base becomes the remote version.
//! - A remote version this device agreed on before (a server reset or
//!   restored from a backup offers it again) is one its note already
//!   contains: the note is kept as it is, under its own stamp, and sent on
//!   top of it. Not a merge, not a conflict.
//! - Overlaps (and every concurrent edit under always-ask) open a conflict
//!   holding base, this device's version and the remote one, sealed; a
//!   note has at most one open conflict, refreshed by later merges.
//!   Last-writer-wins and edit-beats-delete are recorded as settled
//!   conflicts, so the losing version can still be read.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use outpost_protocol::v1::Change;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{
    drop_unsent, is_agreed, open_version, queue_as_is, read_base, read_stored, record_remote, record_version,
    set_server_rev, store_remote, strategy_for, upsert_base, write_local, LocalChange, Stored,
};
use super::versions;
use crate::clock::HlcClock;
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::history::VersionWhy;
use crate::merge::{self, Outcome, Side};
use crate::model::{CarriedVersion, Meta, RecordKind};
use crate::payload::Sealed;

/// What merges did during one page or push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    /// Remote versions merged with local changes.
    pub merged: usize,
    /// Conflicts opened for the user.
    pub opened: usize,
    /// Notes brought back because an edit met a delete.
    pub restored: usize,
    /// Remote versions this device's note already contained (an older
    /// version a restored server still had): the note was kept and queued
    /// on top of it.
    pub fast_forwarded: usize,
}

/// The transaction and what a merge needs of the vault.
pub(super) struct MergeCtx<'a> {
    pub tx: &'a Connection,
    pub key: &'a KeyRing,
    pub clock: &'a HlcClock,
    pub now: i64,
}

/// Merge remote change `c` (already authenticated) into its local note.
/// `refused` is the outbox entry the server just refused for it, if any.
pub(super) fn merge_remote(
    ctx: &MergeCtx<'_>,
    c: &Change,
    refused: Option<i64>,
    counts: &mut MergeCounts,
) -> Result<()> {
    let id = c.note_id;
    let remote_sealed = Sealed::decode(&c.payload.0).map_err(|e| Error::Corrupt(e.to_string()))?;
    let (remote, remote_meta) = open_version(ctx.key, &id, c.hlc, c.deleted, &remote_sealed)?;
    let Some((local_stored, created)) = read_stored(ctx.tx, &id)? else {
        // Nothing here to merge with.
        store_remote(ctx.tx, c, &remote_sealed, &remote_meta)?;
        return Ok(());
    };
    if c.hlc < local_stored.hlc && is_agreed(ctx.tx, &id, &c.hlc)? {
        return fast_forward(ctx, c, refused, &remote_sealed, counts);
    }
    let (local, local_meta) = open_version(ctx.key, &id, local_stored.hlc, local_stored.deleted, &local_stored.sealed)?;
    // A notebook's kind never changes; a tombstone's meta may not say it
    // (made before notebooks existed), so the live side's word counts.
    let kind = if remote.deleted { local_meta.kind } else { remote_meta.kind };
    let notebook = kind == RecordKind::Notebook;
    let base_stored = read_base(ctx.tx, &id)?;
    let (base, base_meta) = match &base_stored {
        Some(b) => {
            let (v, m) = open_version(ctx.key, &id, b.hlc, b.deleted, &b.sealed)?;
            (Some(v), Some(m))
        }
        None => (None, None),
    };
    // Notebooks merge field by field, never asking: they have no body to
    // overlap, and a rename is not something to settle by hand.
    let strategy = if notebook { merge::Strategy::AutoMerge } else { strategy_for(ctx.tx, &id)? };
    let merged = merge::merge(base.as_ref(), &local, &remote, strategy);
    let trashed_at = merged_trash(
        base_meta.as_ref().filter(|_| base.as_ref().is_some_and(|b| !b.deleted)),
        &local_meta,
        &remote_meta,
        merged.outcome,
        if remote.hlc > local.hlc { Side::Remote } else { Side::Local },
    );

    // Both inputs stay in the note's history: this device's side (saved
    // here already, no longer folded into by later saves) and the other's.
    if !local_stored.deleted {
        record_version(ctx.tx, &id, &local_stored.hlc, VersionWhy::MergeInput, &local_stored.sealed)?;
        versions::mark_merge_input(ctx.tx, &id, &local_stored.hlc)?;
    }
    if !c.deleted {
        record_remote(ctx.tx, c, &remote_sealed, &remote_meta)?;
    }

    if let Some(seq) = refused {
        ctx.tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([seq])?;
    }
    drop_unsent(ctx.tx, &id)?;
    if merged.same_content(&remote) && trashed_at == remote_meta.trashed_at {
        store_remote(ctx.tx, c, &remote_sealed, &remote_meta)?;
    } else {
        let meta = Meta {
            tags: merged.tags.clone(),
            pinned: merged.pinned,
            created: created.min(remote_meta.created),
            updated: ctx.now,
            trashed_at: if merged.deleted { None } else { trashed_at },
            carried: carry(ctx.tx, &id, &local_stored)?,
            notebook: merged.notebook,
            kind,
        };
        let hlc = ctx.clock.tick();
        let change = LocalChange {
            id,
            hlc,
            title: &merged.title,
            body: &merged.body,
            meta: &meta,
            deleted: merged.deleted,
            folded_edits: 0,
            why: VersionWhy::Merge,
        };
        write_local(ctx.tx, ctx.key, &change)?;
        set_server_rev(ctx.tx, &id, c.rev)?;
    }
    upsert_base(ctx.tx, &id, c.rev, &c.hlc, c.deleted, &remote_sealed)?;
    counts.merged += 1;

    let record = Record { base: base_stored.as_ref(), local: &local_stored, remote: c, remote_sealed: &remote_sealed };
    if notebook {
        // Not a note: no conflict to show (a notebook deleted on one device
        // and renamed on another simply comes back).
        if matches!(merged.outcome, Outcome::Restored { .. }) {
            counts.restored += 1;
        }
        return Ok(());
    }
    match merged.outcome {
        Outcome::Clean => {}
        Outcome::Overlap | Outcome::Confirm => {
            let kind = if merged.outcome == Outcome::Overlap { "overlap" } else { "confirm" };
            if open_conflict(ctx, &record, kind)? {
                counts.opened += 1;
            }
        }
        Outcome::LastWriterWins { winner } => {
            // The loser stays in the history too, marked as such.
            let (hlc, sealed) = match winner {
                Side::Local => (&c.hlc, &remote_sealed),
                Side::Remote => (&local_stored.hlc, &local_stored.sealed),
            };
            let lost_deleted = if winner == Side::Local { c.deleted } else { local_stored.deleted };
            if !lost_deleted && !merged.deleted {
                record_version(ctx.tx, &id, hlc, VersionWhy::LwwLoser, sealed)?;
            }
            settled_conflict(ctx, &record, "last_writer_wins", winner)?
        }
        Outcome::Restored { edited } => {
            counts.restored += 1;
            tracing::info!(note = %id, "a note deleted on one device and edited on another was kept");
            settled_conflict(ctx, &record, "restored", edited)?;
        }
    }
    Ok(())
}

/// Sealed versions larger than this are not carried in a merge result
/// (the result holds their words anyway); it also bounds a chain of merge
/// results each carrying the one before, far below the 4 MiB a sealed
/// field may open to.
const CARRY_MAX_BYTES: usize = 256 * 1024;

/// This device's input to a merge, to carry in the result's meta when no
/// server holds it (it was never accepted: the other devices would not
/// otherwise see it).
fn carry(tx: &Connection, id: &uuid::Uuid, local: &Stored) -> Result<Vec<CarriedVersion>> {
    let s = &local.sealed;
    if local.deleted || is_agreed(tx, id, &local.hlc)? || s.title.len() + s.meta.len() + s.body.len() > CARRY_MAX_BYTES
    {
        return Ok(Vec::new());
    }
    Ok(vec![CarriedVersion { hlc: local.hlc.to_string(), sealed: BASE64.encode(s.encode()) }])
}

/// The trash state of a merge, per field like pinned: the side that
/// changed it (both did: the later stamp); last-writer-wins and an edit
/// meeting a delete take the winning side's.
fn merged_trash(base: Option<&Meta>, local: &Meta, remote: &Meta, outcome: Outcome, later: Side) -> Option<i64> {
    let side = match outcome {
        Outcome::LastWriterWins { winner } => winner,
        Outcome::Restored { edited } => edited,
        _ if local.trashed_at == remote.trashed_at => Side::Local,
        _ => match base.map(|b| b.trashed_at) {
            Some(b) if b == local.trashed_at => Side::Remote,
            Some(b) if b == remote.trashed_at => Side::Local,
            _ => later,
        },
    };
    if side == Side::Local {
        local.trashed_at
    } else {
        remote.trashed_at
    }
}

/// The remote version `c` is one this device agreed on before, so its note
/// (made or taken after it) already contains it: keep the note as it is,
/// under its own stamp, and queue it to go on top of `c`. Entries the
/// server never stored are replaced by that one; an entry sent and never
/// answered stays ahead of it, as in a merge.
fn fast_forward(
    ctx: &MergeCtx<'_>,
    c: &Change,
    refused: Option<i64>,
    remote_sealed: &Sealed,
    counts: &mut MergeCounts,
) -> Result<()> {
    let id = c.note_id;
    if let Some(seq) = refused {
        ctx.tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([seq])?;
    }
    drop_unsent(ctx.tx, &id)?;
    queue_as_is(ctx.tx, id.as_bytes(), ctx.now)?;
    set_server_rev(ctx.tx, &id, c.rev)?;
    upsert_base(ctx.tx, &id, c.rev, &c.hlc, c.deleted, remote_sealed)?;
    counts.fast_forwarded += 1;
    tracing::debug!(note = %id, rev = c.rev, "the server's version is an older one this device has; sending its own on top");
    Ok(())
}

/// The three versions a conflict record keeps, sealed as they were.
struct Record<'a> {
    base: Option<&'a Stored>,
    local: &'a Stored,
    remote: &'a Change,
    remote_sealed: &'a Sealed,
}

/// Open a conflict, or refresh the note's open one with the newest three
/// versions. Returns whether a new one was opened.
fn open_conflict(ctx: &MergeCtx<'_>, r: &Record<'_>, kind: &str) -> Result<bool> {
    let id = r.remote.note_id;
    let open: Option<i64> = ctx
        .tx
        .prepare_cached("SELECT id FROM conflicts WHERE note_id = ?1 AND resolved_at IS NULL")?
        .query_row([id.as_bytes()], |row| row.get(0))
        .optional()?;
    if let Some(conflict) = open {
        delete_conflict(ctx.tx, conflict)?;
    }
    insert_conflict(ctx, r, kind, None)?;
    Ok(open.is_none())
}

fn settled_conflict(ctx: &MergeCtx<'_>, r: &Record<'_>, kind: &str, kept: Side) -> Result<()> {
    insert_conflict(ctx, r, kind, Some(if kept == Side::Local { "mine" } else { "theirs" }))
}

fn delete_conflict(tx: &Connection, id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM conflicts WHERE id = ?1")?.execute([id])?;
    Ok(())
}

fn insert_conflict(ctx: &MergeCtx<'_>, r: &Record<'_>, kind: &str, resolution: Option<&str>) -> Result<()> {
    let resolved_at = resolution.map(|_| ctx.now);
    ctx.tx
        .prepare_cached(
            "INSERT INTO conflicts (note_id, kind, base_hlc, base_body, local_hlc, local_title, local_meta, local_body,
               local_deleted, remote_hlc, remote_rev, remote_title, remote_meta, remote_body, remote_deleted,
               opened_at, resolved_at, resolution)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )?
        .execute(params![
            r.remote.note_id.as_bytes(),
            kind,
            r.base.map(|b| b.hlc.to_string()),
            r.base.map(|b| b.sealed.body.clone()),
            r.local.hlc.to_string(),
            r.local.sealed.title,
            r.local.sealed.meta,
            r.local.sealed.body,
            r.local.deleted,
            r.remote.hlc.to_string(),
            r.remote.rev as i64,
            r.remote_sealed.title,
            r.remote_sealed.meta,
            r.remote_sealed.body,
            r.remote.deleted,
            ctx.now,
            resolved_at,
            resolution
        ])?;
    Ok(())
}
