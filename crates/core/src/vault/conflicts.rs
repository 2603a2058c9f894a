//! Conflicts for the user: list them (base, mine, theirs, decrypted), settle
//! them (mine, theirs, or an edited merge), and choose the strategy per app
//! or per note. Settling is an ordinary local change: it is saved at once
//! and syncs like any edit.

use outpost_protocol::Hlc;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use uuid::Uuid;

use super::rows::{hlc_col, open_meta, open_text, read_note, uuid_col, write_local, LocalChange};
use super::writer::{check_body, check_title, clean_tags};
use super::Vault;
use crate::crypto::{self, Binding, Field};
use crate::error::{Error, Result};
use crate::history::VersionWhy;
use crate::merge::Strategy;
use crate::model::{Meta, Note, RecordKind};
use crate::payload::Sealed;
use crate::store;

/// One side of a conflict, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct VersionView {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub deleted: bool,
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub hlc: Hlc,
}

/// A conflict as the CLI and the app show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConflictView {
    pub id: i64,
    pub note_id: Uuid,
    /// `overlap`, `confirm`, `last_writer_wins` or `restored`.
    pub kind: String,
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    /// `mine`, `theirs` or `merged` once settled.
    pub resolution: Option<String>,
    /// The body both sides started from, when this device had it.
    pub base_body: Option<String>,
    /// This device's version when the conflict was found.
    pub mine: VersionView,
    /// The other device's version.
    pub theirs: VersionView,
}

/// How the user settles a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Keep this device's version (title, tags, pinned and body).
    Mine,
    /// Take the other device's version.
    Theirs,
    /// Keep the current title and tags with this body.
    Merged(String),
}

type Row = (i64, Uuid, String, i64, Option<i64>, Option<String>);

impl Vault {
    /// Open conflicts, oldest first; with `settled`, the settled ones too.
    pub fn conflicts(&self, settled: bool) -> Result<Vec<ConflictView>> {
        let sql = format!(
            "SELECT id FROM conflicts {} ORDER BY opened_at, id",
            if settled { "" } else { "WHERE resolved_at IS NULL" }
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let ids: Vec<i64> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        ids.into_iter().map(|id| self.conflict(id)).collect()
    }

    /// One conflict, decrypted.
    pub fn conflict(&self, id: i64) -> Result<ConflictView> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, note_id, kind, opened_at, resolved_at, resolution,
                    base_hlc, base_body, local_hlc, local_title, local_meta, local_body, local_deleted,
                    remote_hlc, remote_title, remote_meta, remote_body, remote_deleted
             FROM conflicts WHERE id = ?1",
        )?;
        let mut rows = stmt.query([id])?;
        let r = rows.next()?.ok_or(Error::ConflictNotFound(id))?;
        let head: Row = (r.get(0)?, uuid_col(r, 1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
        let note = head.1;
        let base_body = match (r.get::<_, Option<String>>(6)?, r.get::<_, Option<Vec<u8>>>(7)?) {
            (Some(hlc), Some(blob)) => {
                let hlc: Hlc = hlc.parse().map_err(|_| Error::Corrupt(format!("conflict {id}: bad stamp")))?;
                Some(open_text(&self.key, &note, Field::Body, &hlc, &blob)?)
            }
            _ => None,
        };
        let mine = self.open_side(&note, r, 8)?;
        let theirs = self.open_side(&note, r, 13)?;
        Ok(ConflictView {
            id: head.0,
            note_id: note,
            kind: head.2,
            opened_at: head.3,
            resolved_at: head.4,
            resolution: head.5,
            base_body,
            mine,
            theirs,
        })
    }

    /// Columns `at..at+5`: hlc, title, meta, body, deleted. Conflicts from
    /// before schema 4 kept no title or meta: those show empty.
    fn open_side(&self, note: &Uuid, r: &rusqlite::Row<'_>, at: usize) -> Result<VersionView> {
        let hlc = hlc_col(r, at)?;
        let title = match r.get::<_, Option<Vec<u8>>>(at + 1)? {
            Some(blob) => open_text(&self.key, note, Field::Title, &hlc, &blob)?,
            None => String::new(),
        };
        let meta = match r.get::<_, Option<Vec<u8>>>(at + 2)? {
            Some(blob) => Some(open_meta(&self.key, note, &hlc, &blob)?),
            None => None,
        };
        let body = open_text(&self.key, note, Field::Body, &hlc, r.get_ref(at + 3)?.as_blob()?)?;
        Ok(VersionView {
            title,
            body,
            tags: meta.as_ref().map(|m| m.tags.clone()).unwrap_or_default(),
            pinned: meta.is_some_and(|m| m.pinned),
            deleted: r.get(at + 4)?,
            hlc,
        })
    }

    /// Settle a conflict. The chosen version becomes a new local change of
    /// the note (saved now, synced like any edit); the conflict is marked
    /// settled in the same transaction. Returns the note as it now is.
    pub fn resolve_conflict(&mut self, id: i64, resolution: Resolution) -> Result<Note> {
        let c = self.conflict(id)?;
        if c.resolved_at.is_some() {
            return Err(Error::Invalid(format!(
                "conflict {id} is already settled ({})",
                c.resolution.unwrap_or_default()
            )));
        }
        let current =
            read_note(&self.conn, &self.key, c.note_id)?.ok_or_else(|| Error::NoteNotFound(c.note_id.to_string()))?;
        let (title, body, tags, pinned, deleted, label) = match resolution {
            Resolution::Mine => (c.mine.title, c.mine.body, c.mine.tags, c.mine.pinned, c.mine.deleted, "mine"),
            Resolution::Theirs => {
                (c.theirs.title, c.theirs.body, c.theirs.tags, c.theirs.pinned, c.theirs.deleted, "theirs")
            }
            Resolution::Merged(body) => {
                (current.title.clone(), body, current.tags.clone(), current.pinned, false, "merged")
            }
        };
        // A settled conflict is a decision, kept as its own version (never
        // folded into by later saves).
        let why = if label == "merged" { VersionWhy::Merge } else { VersionWhy::Restore };
        let title = check_title(title)?;
        check_body(&body)?;
        let tags = clean_tags(tags)?;
        let clock = &self.clock;
        let key = &self.key;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hlc = clock.tick();
        let now = clock.wall_ms() as i64;
        let trashed_at = if deleted { None } else { super::writer::trashed_at(&tx, &c.note_id)? };
        let meta = Meta {
            tags,
            pinned,
            created: current.created_at,
            updated: now,
            trashed_at,
            carried: Vec::new(),
            notebook: current.notebook,
            kind: RecordKind::Note,
        };
        let (title, body) = if deleted { (String::new(), String::new()) } else { (title, body) };
        let change =
            LocalChange { id: c.note_id, hlc, title: &title, body: &body, meta: &meta, deleted, folded_edits: 0, why };
        write_local(&tx, key, &change)?;
        tx.execute("UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1", params![id, now, label])?;
        tx.commit()?;
        read_note(&self.conn, &self.key, c.note_id)?.ok_or_else(|| Error::NoteNotFound(c.note_id.to_string()))
    }

    /// Seal a version of note `id` under this store's key and stamp `hlc`,
    /// as another device of the account seals one (the three fields
    /// `write_local` seals). Crate-only: the seeder makes the other
    /// device's side of its conflicts with it; they then arrive through
    /// [`Vault::apply_pull_page`], authenticated like any pulled change.
    pub(crate) fn seal_version(&self, id: Uuid, hlc: Hlc, title: &str, meta: &Meta, body: &str) -> Result<Sealed> {
        let seal = |field, data: &[u8]| crypto::seal(&self.key, &Binding { note_id: &id, field, hlc: &hlc }, data);
        let meta_json = serde_json::to_vec(meta).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(Sealed {
            title: seal(Field::Title, title.as_bytes())?,
            meta: seal(Field::Meta, &meta_json)?,
            body: seal(Field::Body, body.as_bytes())?,
        })
    }

    /// Note `id` as no server holds it: no server revision, no merge base.
    /// Crate-only, for the seeder's conflicts, whose other device's
    /// versions reached this store without a server: its next push sends
    /// the note as new, and the revisions the server then numbers from 1
    /// are not taken for ones this store already has.
    pub(crate) fn forget_server_copy(&mut self, id: Uuid) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM merge_base WHERE note_id = ?1", [id.as_bytes()])?;
        tx.execute("UPDATE notes SET server_rev = NULL WHERE id = ?1", [id.as_bytes()])?;
        tx.commit()?;
        Ok(())
    }

    /// The app-wide conflict strategy.
    pub fn conflict_strategy(&self) -> Result<Strategy> {
        match store::get_kv(&self.conn, "settings", "conflict_strategy")? {
            Some(s) => s.parse().map_err(Error::Corrupt),
            None => Ok(Strategy::default()),
        }
    }

    pub fn set_conflict_strategy(&mut self, strategy: Strategy) -> Result<()> {
        store::set_kv(&self.conn, "settings", "conflict_strategy", strategy.as_str())
    }

    /// A note's own strategy (`None`: follow the app's).
    pub fn note_conflict_strategy(&self, id: Uuid) -> Result<Option<Strategy>> {
        let s: Option<Option<String>> = self
            .conn
            .query_row("SELECT conflict_strategy FROM notes WHERE id = ?1", [id.as_bytes()], |r| r.get(0))
            .optional()?;
        match s {
            None => Err(Error::NoteNotFound(id.to_string())),
            Some(None) => Ok(None),
            Some(Some(s)) => s.parse().map(Some).map_err(Error::Corrupt),
        }
    }

    pub fn set_note_conflict_strategy(&mut self, id: Uuid, strategy: Option<Strategy>) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE notes SET conflict_strategy = ?2 WHERE id = ?1",
            params![id.as_bytes(), strategy.map(Strategy::as_str)],
        )?;
        if n == 0 {
            return Err(Error::NoteNotFound(id.to_string()));
        }
        Ok(())
    }
}
