//! Merging a change from another device into a note that has local changes
//! the server has not taken, inside the caller's transaction (a pulled page
//! or a push's answers). The decisions are `crate::merge`'s; this file
//! opens the three versions, writes the result and keeps the record.
//!
//! Rules kept here:
//! - The result is written as a normal local change (sealed under a fresh
//!   stamp, one outbox entry) based on the remote revision, unless it is
//!   exactly the remote version, which is then stored as is.
//! - Entries the server never stored (never sent, or refused as a
//!   conflict) are replaced by the result. An entry that was sent and never
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

use outpost_protocol::v1::Change;

use super::*;
use crate::merge::{self, Outcome, Side, Strategy, Version};
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
    pub key: &'a DataKey,
    pub clock: &'a HlcClock,
    pub now: i64,
}

/// One version as stored: its stamp and sealed fields.
struct Stored {
    hlc: Hlc,
    deleted: bool,
    sealed: Sealed,
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
    if c.hlc < local_stored.hlc && super::replica::is_agreed(ctx.tx, &id, &c.hlc)? {
        return fast_forward(ctx, c, refused, &remote_sealed, counts);
    }
    let (local, _) = open_version(ctx.key, &id, local_stored.hlc, local_stored.deleted, &local_stored.sealed)?;
    let base_stored = read_base(ctx.tx, &id)?;
    let base = match &base_stored {
        Some(b) => Some(open_version(ctx.key, &id, b.hlc, b.deleted, &b.sealed)?.0),
        None => None,
    };
    let strategy = strategy_for(ctx.tx, &id)?;
    let merged = merge::merge(base.as_ref(), &local, &remote, strategy);

    if let Some(seq) = refused {
        ctx.tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?.execute([seq])?;
    }
    ctx.tx
        .prepare_cached("DELETE FROM outbox WHERE note_id = ?1 AND state = 'pending' AND attempts = 0")?
        .execute([id.as_bytes()])?;
    if merged.same_content(&remote) {
        store_remote(ctx.tx, c, &remote_sealed, &remote_meta)?;
    } else {
        let meta = Meta {
            tags: merged.tags.clone(),
            pinned: merged.pinned,
            created: created.min(remote_meta.created),
            updated: ctx.now,
        };
        let hlc = ctx.clock.tick();
        Writer { conn: ctx.tx, key: ctx.key, clock: ctx.clock }.write(
            id,
            hlc,
            &merged.title,
            &merged.body,
            &meta,
            merged.deleted,
            0,
        )?;
        ctx.tx
            .prepare_cached("UPDATE notes SET server_rev = ?2 WHERE id = ?1")?
            .execute(params![id.as_bytes(), c.rev as i64])?;
    }
    super::replica::upsert_base(ctx.tx, &id, c.rev, &c.hlc, c.deleted, &remote_sealed)?;
    counts.merged += 1;

    let record = Record { base: base_stored.as_ref(), local: &local_stored, remote: c, remote_sealed: &remote_sealed };
    match merged.outcome {
        Outcome::Clean => {}
        Outcome::Overlap | Outcome::Confirm => {
            let kind = if merged.outcome == Outcome::Overlap { "overlap" } else { "confirm" };
            if open_conflict(ctx, &record, kind)? {
                counts.opened += 1;
            }
        }
        Outcome::LastWriterWins { winner } => settled_conflict(ctx, &record, "last_writer_wins", winner)?,
        Outcome::Restored { edited } => {
            counts.restored += 1;
            tracing::info!(note = %id, "a note deleted on one device and edited on another was kept");
            settled_conflict(ctx, &record, "restored", edited)?;
        }
    }
    Ok(())
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
    ctx.tx
        .prepare_cached("DELETE FROM outbox WHERE note_id = ?1 AND state = 'pending' AND attempts = 0")?
        .execute([id.as_bytes()])?;
    super::replica::queue_as_is(ctx.tx, id.as_bytes(), ctx.now)?;
    ctx.tx
        .prepare_cached("UPDATE notes SET server_rev = ?2 WHERE id = ?1")?
        .execute(params![id.as_bytes(), c.rev as i64])?;
    super::replica::upsert_base(ctx.tx, &id, c.rev, &c.hlc, c.deleted, remote_sealed)?;
    counts.fast_forwarded += 1;
    tracing::debug!(note = %id, rev = c.rev, "the server's version is an older one this device has; sending its own on top");
    Ok(())
}

/// Store a remote version as the note, exactly as it came.
pub(super) fn store_remote(tx: &Connection, c: &Change, sealed: &Sealed, meta: &Meta) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, server_rev, deleted, title, meta, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, pinned = excluded.pinned,
           created_at = excluded.created_at, updated_at = excluded.updated_at,
           server_rev = excluded.server_rev, deleted = excluded.deleted,
           title = excluded.title, meta = excluded.meta, body = excluded.body",
    )?
    .execute(params![
        c.note_id.as_bytes(),
        c.hlc.to_string(),
        meta.pinned,
        meta.created,
        meta.updated,
        c.rev as i64,
        c.deleted,
        sealed.title,
        sealed.meta,
        sealed.body
    ])?;
    super::replica::upsert_base(tx, &c.note_id, c.rev, &c.hlc, c.deleted, sealed)?;
    Ok(())
}

/// The strategy for a note: its own, else the app's, else auto-merge.
pub(super) fn strategy_for(conn: &Connection, id: &Uuid) -> Result<Strategy> {
    let own: Option<Option<String>> = conn
        .prepare_cached("SELECT conflict_strategy FROM notes WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    let chosen = match own.flatten() {
        Some(s) => Some(s),
        None => store::get_kv(conn, "settings", "conflict_strategy")?,
    };
    match chosen {
        Some(s) => s.parse().map_err(Error::Corrupt),
        None => Ok(Strategy::default()),
    }
}

/// Open the three sealed fields of a version under its stamp.
pub(super) fn open_version(
    key: &DataKey,
    id: &Uuid,
    hlc: Hlc,
    deleted: bool,
    sealed: &Sealed,
) -> Result<(Version, Meta)> {
    let title = open_text(key, id, Field::Title, &hlc, &sealed.title)?;
    let body = open_text(key, id, Field::Body, &hlc, &sealed.body)?;
    let meta = open_meta(key, id, &hlc, &sealed.meta)?;
    let version = Version { title, body, tags: meta.tags.clone(), pinned: meta.pinned, deleted, hlc };
    Ok((version, meta))
}

fn read_stored(tx: &Connection, id: &Uuid) -> Result<Option<(Stored, i64)>> {
    let mut stmt = tx.prepare_cached("SELECT hlc, deleted, title, meta, body, created_at FROM notes WHERE id = ?1")?;
    let row = stmt
        .query_row([id.as_bytes()], |r| {
            Ok((
                Stored {
                    hlc: hlc_col(r, 0)?,
                    deleted: r.get(1)?,
                    sealed: Sealed { title: r.get(2)?, meta: r.get(3)?, body: r.get(4)? },
                },
                r.get(5)?,
            ))
        })
        .optional()?;
    Ok(row)
}

fn read_base(tx: &Connection, id: &Uuid) -> Result<Option<Stored>> {
    let mut stmt = tx.prepare_cached("SELECT hlc, deleted, title, meta, body FROM merge_base WHERE note_id = ?1")?;
    let row = stmt
        .query_row([id.as_bytes()], |r| {
            Ok(Stored {
                hlc: hlc_col(r, 0)?,
                deleted: r.get(1)?,
                sealed: Sealed { title: r.get(2)?, meta: r.get(3)?, body: r.get(4)? },
            })
        })
        .optional()?;
    Ok(row)
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
