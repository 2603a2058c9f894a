//! Note history and the trash for people: a note's versions, one version
//! decrypted, restoring one (a new version, never a rewrite), moving notes
//! to and from the trash, emptying it, and the housekeeping that applies
//! the retention rules (`crate::history`) and purges notes whose time in
//! the trash ran out. Versions are recorded by every writer (`versions`);
//! trashing is an edit of the sealed meta, so it syncs like one; a purge
//! is the real tombstone ([`Writer::delete`]).

use outpost_protocol::Hlc;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::rows::{hlc_col, open_meta, open_text, open_version, sealed_cols, uuid_col};
use super::versions;
use super::Vault;
use crate::crypto::Field;
use crate::error::{Error, Result};
use crate::history::{self, HistorySettings, Housekeeping, Kept, NoteVersion, TrashedNote, VersionInfo, VersionWhy};
use crate::model::{Note, NotePatch};
use crate::payload::Sealed;
use crate::store;

/// Housekeeping runs at most this often on its own (the engine asks after
/// every sync pass).
const HOUSEKEEPING_EVERY_MS: i64 = 60 * 60 * 1000;

/// Where a note stands, for the history and trash commands.
enum Standing {
    Live { hlc: Hlc, trashed_at: Option<i64> },
    Purged,
}

fn standing(conn: &Connection, id: &Uuid) -> Result<Standing> {
    let row: Option<(String, bool, Option<i64>)> = conn
        .prepare_cached("SELECT hlc, deleted, trashed_at FROM notes WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Err(Error::NoteNotFound(id.to_string())),
        Some((_, true, _)) => Ok(Standing::Purged),
        Some((hlc, false, trashed_at)) => Ok(Standing::Live {
            hlc: hlc.parse().map_err(|_| Error::Corrupt(format!("note {id}: bad clock stamp")))?,
            trashed_at,
        }),
    }
}

/// A live note's current stamp and trash time; a purged one is an error.
fn live(conn: &Connection, id: &Uuid) -> Result<(Hlc, Option<i64>)> {
    match standing(conn, id)? {
        Standing::Live { hlc, trashed_at } => Ok((hlc, trashed_at)),
        Standing::Purged => Err(Error::Purged(id.to_string())),
    }
}

fn parse_version(version: &str) -> Result<Hlc> {
    version.trim().parse().map_err(|_| {
        Error::Invalid(format!(
            "{version:?} is not a version id (a clock stamp like 0193f2a1b2c3-00000000-1a2b3c4d5e6f7081; \
             `outpost notes history ID` lists them)"
        ))
    })
}

fn info(hlc: &Hlc, why: &str, size: i64, current: &Hlc) -> Result<VersionInfo> {
    Ok(VersionInfo {
        version: hlc.to_string(),
        at: i64::try_from(hlc.wall_ms).unwrap_or(i64::MAX),
        device: format!("{:016x}", hlc.node),
        size: u64::try_from(size).unwrap_or(0),
        why: why.parse().map_err(Error::Corrupt)?,
        current: hlc == current,
    })
}

impl Vault {
    /// The history and trash settings.
    pub fn history_settings(&self) -> Result<HistorySettings> {
        versions::settings(&self.conn)
    }

    pub fn set_history_settings(&mut self, settings: &HistorySettings) -> Result<()> {
        settings.check().map_err(Error::Invalid)?;
        let json = serde_json::to_string(settings).map_err(|e| Error::Invalid(e.to_string()))?;
        store::set_kv(&self.conn, "settings", "history", &json)
    }

    /// The versions of note `id` this device holds, newest first. A note
    /// in the trash has its history; one deleted for good has none.
    pub fn versions(&self, id: Uuid) -> Result<Vec<VersionInfo>> {
        let (current, _) = live(&self.conn, &id)?;
        let mut stmt =
            self.conn.prepare_cached("SELECT hlc, why, size FROM versions WHERE note_id = ?1 ORDER BY hlc DESC")?;
        let mut rows = stmt.query([id.as_bytes()])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(info(&hlc_col(r, 0)?, r.get_ref(1)?.as_str()?, r.get(2)?, &current)?);
        }
        Ok(out)
    }

    /// Version `version` of note `id`, decrypted. Its ciphertext opens only
    /// under this note's id and this version's stamp, so a version moved
    /// from another note or edited on disk is refused.
    pub fn version(&self, id: Uuid, version: &str) -> Result<NoteVersion> {
        let hlc = parse_version(version)?;
        let row: Option<(String, i64, Sealed)> = self
            .conn
            .prepare_cached(concat!(
                "SELECT v.why, v.size, ",
                sealed_cols!("v"),
                " FROM versions v JOIN notes n ON n.id = v.note_id WHERE v.note_id = ?1 AND v.hlc = ?2"
            ))?
            .query_row(params![id.as_bytes(), hlc.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, Sealed { title: r.get(2)?, meta: r.get(3)?, body: r.get(4)? }))
            })
            .optional()?;
        let Some((why, size, sealed)) = row else {
            // Bad input only: a scan (no index on the stamp alone, which
            // would cost every save a page).
            let owner: Option<Uuid> = self
                .conn
                .prepare_cached("SELECT note_id FROM versions WHERE hlc = ?1 LIMIT 1")?
                .query_row([hlc.to_string()], |r| uuid_col(r, 0))
                .optional()?;
            live(&self.conn, &id)?;
            return Err(match owner {
                Some(owner) => Error::VersionOfAnotherNote {
                    note: id.to_string(),
                    version: hlc.to_string(),
                    owner: owner.to_string(),
                },
                None => Error::VersionNotFound { note: id.to_string(), version: hlc.to_string() },
            });
        };
        let (current, _) = live(&self.conn, &id)?;
        let (v, meta) = open_version(&self.key, &id, hlc, false, &sealed)?;
        Ok(NoteVersion {
            note_id: id,
            info: info(&hlc, &why, size, &current)?,
            title: v.title,
            body: v.body,
            tags: v.tags,
            pinned: v.pinned,
            trashed_at: meta.trashed_at,
        })
    }

    /// Bring version `version` of note `id` back: its title, body, tags and
    /// pin become a new version of the note (saved now, synced like any
    /// edit); no version is changed or removed. The note stays in or out of
    /// the trash as it is.
    pub fn restore_version(&mut self, id: Uuid, version: &str) -> Result<Note> {
        let v = self.version(id, version)?;
        let patch = NotePatch { title: Some(v.title), body: Some(v.body), tags: Some(v.tags), pinned: Some(v.pinned) };
        self.batch(|w| w.edit_as(id, patch, VersionWhy::Restore))
    }

    /// Move note `id` to the trash, on every device once it syncs (an edit
    /// of its sealed meta). It leaves the list and search, keeps its
    /// history, and is deleted for good after the trash period unless
    /// restored. A note already in the trash stays as it is.
    pub fn trash(&mut self, id: Uuid) -> Result<()> {
        let (_, trashed_at) = live(&self.conn, &id)?;
        if trashed_at.is_some() {
            return Ok(());
        }
        let now = self.clock.wall_ms() as i64;
        self.batch(|w| w.edit_with(id, NotePatch::default(), VersionWhy::Trash, Some(Some(now)), None)).map(|_| ())
    }

    /// Bring note `id` back from the trash (a new version; syncs).
    pub fn untrash(&mut self, id: Uuid) -> Result<Note> {
        match live(&self.conn, &id)? {
            (_, Some(_)) => {}
            (_, None) => return Err(Error::NotInTrash(id.to_string())),
        }
        self.batch(|w| w.edit_with(id, NotePatch::default(), VersionWhy::Untrash, Some(None), None))
    }

    /// The notes in the trash, most recently trashed first.
    pub fn trash_list(&self) -> Result<Vec<TrashedNote>> {
        let keep = versions::settings(&self.conn)?.trash_ms();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, hlc, title, trashed_at, updated_at FROM notes
             WHERE deleted = 0 AND trashed_at IS NOT NULL ORDER BY trashed_at DESC, id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let hlc = hlc_col(r, 1)?;
            let trashed_at: i64 = r.get(3)?;
            out.push(TrashedNote {
                id,
                title: open_text(&self.key, &id, Field::Title, &hlc, r.get_ref(2)?.as_blob()?)?,
                trashed_at,
                purge_at: trashed_at.saturating_add(keep),
                updated_at: r.get(4)?,
            });
        }
        Ok(out)
    }

    /// Delete every note in the trash for good: tombstones that sync like
    /// any delete (queued while offline), with their history. Returns how
    /// many.
    pub fn empty_trash(&mut self) -> Result<usize> {
        self.purge_trashed(None)
    }

    /// Tombstone the trashed notes (those trashed before `before`, if given).
    fn purge_trashed(&mut self, before: Option<i64>) -> Result<usize> {
        let ids: Vec<Uuid> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM notes WHERE deleted = 0 AND trashed_at IS NOT NULL AND trashed_at <= ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([before.unwrap_or(i64::MAX)], |r| uuid_col(r, 0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if ids.is_empty() {
            return Ok(0);
        }
        self.batch(|w| {
            for id in &ids {
                w.delete(*id)?;
            }
            Ok(ids.len())
        })
    }

    /// Apply the retention rules now: purge notes whose time in the trash
    /// ran out, and thin every note's history. Deterministic for a given
    /// store, settings and clock reading.
    pub fn housekeep(&mut self) -> Result<Housekeeping> {
        let now = self.clock.wall_ms() as i64;
        let settings = versions::settings(&self.conn)?;
        let purged = self.purge_trashed(Some(now.saturating_sub(settings.trash_ms())))?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let dropped = thin_all(&tx, &settings, now)?;
        store::set_kv(&tx, "sync_state", "history_housekept_at", &now.to_string())?;
        tx.commit()?;
        Ok(Housekeeping {
            versions_dropped: u32::try_from(dropped).unwrap_or(u32::MAX),
            purged: u32::try_from(purged).unwrap_or(u32::MAX),
        })
    }

    /// [`Vault::housekeep`] unless it ran within the last hour.
    pub fn housekeep_if_due(&mut self) -> Result<Option<Housekeeping>> {
        let now = self.clock.wall_ms() as i64;
        let last: Option<i64> =
            store::get_kv(&self.conn, "sync_state", "history_housekept_at")?.and_then(|s| s.parse().ok());
        if last.is_some_and(|last| (0..HOUSEKEEPING_EVERY_MS).contains(&(now - last))) {
            return Ok(None);
        }
        self.housekeep().map(Some)
    }
}

/// Fill the plaintext `trashed_at` mirror from the sealed meta of every live
/// note, once per store (the first open after migration 9): a store whose
/// older build pulled a note another device had trashed holds that in the
/// meta only. Recorded in `sync_state` so it runs once.
pub(super) fn mirror_trash_once(tx: &Connection, key: &crate::crypto::KeyRing) -> Result<()> {
    if store::get_kv(tx, "sync_state", "trash_mirrored")?.is_some() {
        return Ok(());
    }
    let rows: Vec<(Uuid, Hlc, Vec<u8>)> = {
        let mut stmt = tx.prepare("SELECT id, hlc, meta FROM notes WHERE deleted = 0 AND trashed_at IS NULL")?;
        let rows = stmt.query_map([], |r| Ok((uuid_col(r, 0)?, hlc_col(r, 1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut set = tx.prepare("UPDATE notes SET trashed_at = ?2 WHERE id = ?1")?;
    for (id, hlc, meta) in rows {
        if let Some(at) = open_meta(key, &id, &hlc, &meta)?.trashed_at {
            set.execute(params![id.as_bytes(), at])?;
        }
    }
    store::set_kv(tx, "sync_state", "trash_mirrored", "1")
}

/// Thin the history of every note that has something to thin.
fn thin_all(tx: &Connection, settings: &HistorySettings, now: i64) -> Result<usize> {
    let old = now.saturating_sub(i64::from(settings.keep_all_days) * 86_400_000);
    let cap = i64::try_from(settings.max_bytes_per_note).unwrap_or(i64::MAX);
    let notes: Vec<Vec<u8>> = {
        let mut stmt = tx.prepare(
            "SELECT note_id FROM versions GROUP BY note_id HAVING min(at) < ?1 OR sum(size) > ?2 ORDER BY note_id",
        )?;
        let rows = stmt.query_map(params![old, cap], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut dropped = 0;
    for note in notes {
        let current: String = tx.query_row("SELECT hlc FROM notes WHERE id = ?1", [&note], |r| r.get(0))?;
        let kept: Vec<Kept> = {
            let mut stmt = tx.prepare_cached("SELECT hlc, at, size FROM versions WHERE note_id = ?1")?;
            let rows = stmt.query_map([&note], |r| {
                Ok(Kept { hlc: r.get(0)?, at: r.get(1)?, size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0) })
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut delete = tx.prepare_cached("DELETE FROM versions WHERE note_id = ?1 AND hlc = ?2")?;
        for i in history::thin(&kept, &current, now, settings) {
            dropped += delete.execute(params![note, kept[i].hlc])?;
        }
    }
    Ok(dropped)
}
