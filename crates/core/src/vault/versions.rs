//! The `versions` table: recording each version of a note a device sees,
//! inside the caller's transaction, sealed exactly as it was sealed (no
//! re-encryption on the save path). Under `rows`, which calls it from every
//! writer of a note row; decides nothing about sync.
//!
//! Rules kept here:
//! - A local save ([`VersionWhy::Edit`]) folds into the note's newest
//!   version when that is this device's own edit and its burst started
//!   less than the coalescing window ago; anything else starts a version.
//! - The note's current version (the note row's stamp) keeps no copy of
//!   the sealed fields (NULL): the note row holds them until it changes,
//!   and `rows::keep_current` copies them here just before.
//! - A version already recorded under the same stamp is not written again;
//!   only [`VersionWhy::LwwLoser`] relabels one (the loss is the news).
//! - A tombstone (a note deleted for good) takes the note's versions with it.

use outpost_protocol::Hlc;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::history::{HistorySettings, VersionWhy};
use crate::store;

/// A version's three sealed fields, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) struct SealedRef<'a> {
    pub title: &'a [u8],
    pub meta: &'a [u8],
    pub body: &'a [u8],
}

impl SealedRef<'_> {
    fn size(&self) -> i64 {
        (self.title.len() + self.meta.len() + self.body.len()) as i64
    }
}

/// The store's history settings (the defaults until set).
pub(super) fn settings(conn: &Connection) -> Result<HistorySettings> {
    match store::get_kv(conn, "settings", "history")? {
        Some(json) => serde_json::from_str(&json).map_err(|e| Error::Corrupt(format!("history setting: {e}"))),
        None => Ok(HistorySettings::default()),
    }
}

/// Record version `hlc` of note `id` as `why`, `now` being this device's
/// wall time. When the version is the note's current one (the note row
/// has that stamp) the row holds no copy of the sealed fields: the note
/// row has them, and [`super::rows::keep_current`] copies them here before
/// the note changes. A local save that may fold into the newest version
/// goes through [`fold`] first.
pub(super) fn record(
    conn: &Connection,
    id: &Uuid,
    hlc: &Hlc,
    why: VersionWhy,
    sealed: SealedRef<'_>,
    now: i64,
) -> Result<()> {
    let hlc_s = hlc.to_string();
    let at = i64::try_from(hlc.wall_ms).unwrap_or(i64::MAX);
    macro_rules! insert {
        ($conflict:literal) => {
            concat!(
                "INSERT INTO versions (note_id, hlc, why, started_at, at, size, title, meta, body)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6,
                   CASE WHEN cur THEN NULL ELSE ?7 END, CASE WHEN cur THEN NULL ELSE ?8 END,
                   CASE WHEN cur THEN NULL ELSE ?9 END
                 FROM (SELECT EXISTS (SELECT 1 FROM notes WHERE id = ?1 AND hlc = ?2 AND deleted = 0) AS cur)
                 WHERE true ",
                $conflict
            )
        };
    }
    let sql = if why == VersionWhy::LwwLoser {
        insert!("ON CONFLICT (note_id, hlc) DO UPDATE SET why = excluded.why")
    } else {
        insert!("ON CONFLICT (note_id, hlc) DO NOTHING")
    };
    conn.prepare_cached(sql)?.execute(params![
        id.as_bytes(),
        hlc_s,
        why.as_str(),
        now,
        at,
        sealed.size(),
        sealed.title,
        sealed.meta,
        sealed.body
    ])?;
    Ok(())
}

/// Fold a local save (`why` an edit) into the note's newest version if
/// that is this device's own edit whose burst began within the window:
/// the version takes the save's stamp and, being the note's current
/// version from now on, no copy of its fields (the caller writes the note
/// row next). Returns whether it did; if not, the caller records a new
/// version with [`record`] once the note row is written.
pub(super) fn fold(
    conn: &Connection,
    id: &Uuid,
    hlc: &Hlc,
    why: VersionWhy,
    sealed: SealedRef<'_>,
    now: i64,
) -> Result<bool> {
    if why != VersionWhy::Edit {
        return Ok(false);
    }
    let hlc_s = hlc.to_string();
    let newest: Option<(String, String, i64)> = conn
        .prepare_cached("SELECT hlc, why, started_at FROM versions WHERE note_id = ?1 ORDER BY hlc DESC LIMIT 1")?
        .query_row([id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((prev, why, started_at)) = newest else { return Ok(false) };
    if why != VersionWhy::Edit.as_str() || prev >= hlc_s {
        return Ok(false);
    }
    let prev_node = prev.parse::<Hlc>().map_err(|_| Error::Corrupt(format!("bad version stamp {prev:?}")))?.node;
    let window = settings(conn)?.coalesce_ms();
    if prev_node != hlc.node || now < started_at || now - started_at >= window {
        return Ok(false);
    }
    let at = i64::try_from(hlc.wall_ms).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "UPDATE versions SET hlc = ?3, at = ?4, size = ?5, title = NULL, meta = NULL, body = NULL
         WHERE note_id = ?1 AND hlc = ?2",
    )?
    .execute(params![id.as_bytes(), prev, hlc_s, at, sealed.size()])?;
    Ok(true)
}

/// Mark this device's version `hlc` of note `id` as one side of a merge,
/// so later saves start a new version instead of folding into it.
pub(super) fn mark_merge_input(conn: &Connection, id: &Uuid, hlc: &Hlc) -> Result<()> {
    conn.prepare_cached("UPDATE versions SET why = 'merge_input' WHERE note_id = ?1 AND hlc = ?2 AND why = 'edit'")?
        .execute(params![id.as_bytes(), hlc.to_string()])?;
    Ok(())
}

/// A note deleted for good: its history goes with it.
pub(super) fn forget(conn: &Connection, id: &Uuid) -> Result<()> {
    conn.prepare_cached("DELETE FROM versions WHERE note_id = ?1")?.execute([id.as_bytes()])?;
    Ok(())
}
