//! Local changes: create, edit, delete, each validated before anything is
//! written and stored with its outbox entry by [`write_local`] inside the
//! caller's transaction ([`crate::Vault::batch`]).

use outpost_protocol::Hlc;
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::rows::{read_note, write_local, LocalChange};
use crate::clock::HlcClock;
use crate::crypto::KeyRing;
use crate::error::{Error, Result};
use crate::history::VersionWhy;
use crate::model::{limits, Meta, Note, NoteDraft, NotePatch, RecordKind, SyncBadge};

/// Writes inside one transaction; see [`Vault::batch`].
#[derive(Debug)]
pub struct Writer<'a> {
    pub(super) conn: &'a Connection,
    pub(super) key: &'a KeyRing,
    pub(super) clock: &'a HlcClock,
}

impl Writer<'_> {
    pub fn create(&mut self, draft: NoteDraft) -> Result<Note> {
        self.create_folded(draft, 0)
    }

    /// Create a note whose `folded_edits` offline edits were already applied
    /// to `draft` in memory: the same end state as creating it and editing
    /// it that many times before a sync (one outbox entry that coalesced
    /// them), without re-reading and re-sealing it each time. The seeder
    /// uses this.
    pub fn create_folded(&mut self, draft: NoteDraft, folded_edits: u32) -> Result<Note> {
        self.create_at(draft, folded_edits, None, None, None)
    }

    /// Create a note that already has a history elsewhere (an import):
    /// `created` and `updated` (milliseconds since the Unix epoch) become
    /// the dates the note shows and syncs, where given (one stands in for
    /// the other when only one is). A date in the future is taken as now,
    /// and `updated` is never before `created`.
    /// The order of changes (the clock stamp) and the outbox entry are
    /// those of now, as for any local change.
    pub fn create_dated(&mut self, draft: NoteDraft, created: Option<i64>, updated: Option<i64>) -> Result<Note> {
        self.create_at(draft, 0, created, updated, None)
    }

    /// [`Writer::create_dated`] into notebook `notebook` (checked: a live
    /// notebook, else [`Error::NotebookNotFound`]).
    pub fn create_dated_in(
        &mut self,
        draft: NoteDraft,
        created: Option<i64>,
        updated: Option<i64>,
        notebook: Option<Uuid>,
    ) -> Result<Note> {
        if let Some(nb) = notebook {
            self.check_notebook(nb)?;
        }
        self.create_at(draft, 0, created, updated, notebook)
    }

    fn create_at(
        &mut self,
        draft: NoteDraft,
        folded_edits: u32,
        created: Option<i64>,
        updated: Option<i64>,
        notebook: Option<Uuid>,
    ) -> Result<Note> {
        let title = check_title(draft.title)?;
        check_body(&draft.body)?;
        let tags = clean_tags(draft.tags)?;
        let id = Uuid::now_v7();
        let hlc = self.clock.tick();
        let wall = self.clock.wall_ms() as i64;
        // Made when given (else when last changed, else now); last changed
        // when given (else when made); neither after now.
        let created = created.or(updated).map_or(wall, |c| c.min(wall));
        let now = updated.unwrap_or(created).clamp(created, wall);
        let meta = Meta {
            tags,
            pinned: draft.pinned,
            created,
            updated: now,
            trashed_at: None,
            carried: Vec::new(),
            notebook,
            kind: RecordKind::Note,
        };
        self.write(&LocalChange {
            id,
            hlc,
            title: &title,
            body: &draft.body,
            meta: &meta,
            deleted: false,
            folded_edits,
            why: VersionWhy::Edit,
        })?;
        if now != wall {
            // The outbox entry was dated with the note; it is queued now.
            self.conn
                .prepare_cached("UPDATE outbox SET created_at = ?2, updated_at = ?2 WHERE note_id = ?1")?
                .execute(rusqlite::params![id.as_bytes(), wall])?;
        }
        Ok(Note {
            id,
            title,
            body: draft.body,
            tags: meta.tags,
            pinned: meta.pinned,
            created_at: created,
            updated_at: now,
            hlc,
            server_rev: None,
            deleted: false,
            sync: SyncBadge::Pending,
            notebook,
        })
    }

    pub fn edit(&mut self, id: Uuid, patch: NotePatch) -> Result<Note> {
        self.edit_with(id, patch, VersionWhy::Edit, None, None)
    }

    /// [`Writer::edit`], kept in the note's history as `why`.
    pub(super) fn edit_as(&mut self, id: Uuid, patch: NotePatch, why: VersionWhy) -> Result<Note> {
        self.edit_with(id, patch, why, None, None)
    }

    /// Move note `id` into notebook `notebook` (`None`: out of any).
    pub fn move_note(&mut self, id: Uuid, notebook: Option<Uuid>) -> Result<Note> {
        self.edit_with(id, NotePatch::default(), VersionWhy::Edit, None, Some(notebook))
    }

    /// [`Writer::edit`], and with `notebook` a move too, as one change.
    pub fn edit_in(&mut self, id: Uuid, patch: NotePatch, notebook: Option<Option<Uuid>>) -> Result<Note> {
        self.edit_with(id, patch, VersionWhy::Edit, None, notebook)
    }

    /// [`Writer::edit_as`] that also moves the note into the trash
    /// (`trash`: `Some(Some(when))`) or out of it (`Some(None)`), and into
    /// a notebook (`notebook`: `Some(Some(id))`) or out of any
    /// (`Some(None)`); `None` leaves either as it is.
    pub(super) fn edit_with(
        &mut self,
        id: Uuid,
        patch: NotePatch,
        why: VersionWhy,
        trash: Option<Option<i64>>,
        notebook: Option<Option<Uuid>>,
    ) -> Result<Note> {
        let mut note = self.live_note(id)?;
        if patch.is_empty() && trash.is_none() && notebook.is_none_or(|nb| nb == note.notebook) {
            return Ok(note);
        }
        if let Some(nb) = notebook {
            if let Some(nb) = nb {
                self.check_notebook(nb)?;
            }
            note.notebook = nb;
        }
        if let Some(t) = patch.title {
            note.title = check_title(t)?;
        }
        if let Some(b) = patch.body {
            check_body(&b)?;
            note.body = b;
        }
        if let Some(tags) = patch.tags {
            note.tags = clean_tags(tags)?;
        }
        if let Some(p) = patch.pinned {
            note.pinned = p;
        }
        // The new version orders after the one it replaces, even when that
        // one was stamped by another connection to this store (the CLI
        // beside the app) whose clock is ahead within the same millisecond:
        // without this the two versions could carry one stamp, and the
        // search index, which re-reads a note when its stamp changes, would
        // keep the old text.
        self.clock.observe(note.hlc);
        note.hlc = self.clock.tick();
        note.updated_at = self.clock.wall_ms() as i64;
        let meta = Meta {
            tags: note.tags.clone(),
            pinned: note.pinned,
            created: note.created_at,
            updated: note.updated_at,
            trashed_at: match trash {
                Some(t) => t,
                None => trashed_at(self.conn, &id)?,
            },
            carried: Vec::new(),
            notebook: note.notebook,
            kind: RecordKind::Note,
        };
        self.write(&LocalChange {
            id,
            hlc: note.hlc,
            title: &note.title,
            body: &note.body,
            meta: &meta,
            deleted: false,
            folded_edits: 0,
            why,
        })?;
        note.sync = SyncBadge::Pending;
        Ok(note)
    }

    /// An edit from an editor that loaded the note at stamp `base_hlc`
    /// with body `base_body`. If the note changed underneath since (a sync
    /// merged another device's edit into it), the editor's body is merged
    /// three-way with the stored one instead of overwriting it: nothing of
    /// either is lost (overlaps keep both between markers). Without
    /// `base_body` such an edit is refused with [`Error::Stale`], so the
    /// caller can send it.
    pub fn edit_from(
        &mut self,
        id: Uuid,
        mut patch: NotePatch,
        base_hlc: Hlc,
        base_body: Option<&str>,
    ) -> Result<Note> {
        let current = self.live_note(id)?;
        if current.hlc != base_hlc {
            let Some(base) = base_body else {
                return Err(Error::Stale { note: id.to_string() });
            };
            let mine = patch.body.take().unwrap_or_else(|| base.to_owned());
            let (merged, _clean) = crate::merge::merge_text(base, &mine, &current.body);
            patch.body = Some(merged);
        }
        self.edit(id, patch)
    }

    pub fn delete(&mut self, id: Uuid) -> Result<()> {
        self.delete_record(id, RecordKind::Note).map_err(|e| match e {
            Error::NotebookNotFound(_) => Error::NoteNotFound(id.to_string()),
            e => e,
        })
    }

    /// Delete a live record of `kind`: a tombstone (content erased) that
    /// syncs. The tombstone's sealed meta keeps the kind, so a device that
    /// never saw the record still counts it right.
    pub(super) fn delete_record(&mut self, id: Uuid, kind: RecordKind) -> Result<()> {
        let created: Option<i64> = self
            .conn
            .query_row(
                "SELECT created_at FROM notes WHERE id = ?1 AND deleted = 0 AND kind = ?2",
                rusqlite::params![id.as_bytes(), kind.code()],
                |r| r.get(0),
            )
            .optional()?;
        let created = created.ok_or_else(|| match kind {
            RecordKind::Note => Error::NoteNotFound(id.to_string()),
            RecordKind::Notebook => Error::NotebookNotFound(id.to_string()),
        })?;
        let hlc = self.clock.tick();
        let now = self.clock.wall_ms() as i64;
        let meta = Meta {
            tags: Vec::new(),
            pinned: false,
            created,
            updated: now,
            trashed_at: None,
            carried: Vec::new(),
            notebook: None,
            kind,
        };
        self.write(&LocalChange {
            id,
            hlc,
            title: "",
            body: "",
            meta: &meta,
            deleted: true,
            folded_edits: 0,
            why: VersionWhy::Edit,
        })
    }

    /// A live note (not a notebook, not a tombstone).
    fn live_note(&self, id: Uuid) -> Result<Note> {
        if !is_live(self.conn, id, RecordKind::Note)? {
            return Err(Error::NoteNotFound(id.to_string()));
        }
        read_note(self.conn, self.key, id)?.ok_or_else(|| Error::NoteNotFound(id.to_string()))
    }

    /// Refuse a notebook id that is not a live notebook.
    pub(super) fn check_notebook(&self, id: Uuid) -> Result<()> {
        if !is_live(self.conn, id, RecordKind::Notebook)? {
            return Err(Error::NotebookNotFound(id.to_string()));
        }
        Ok(())
    }

    pub(super) fn write(&mut self, change: &LocalChange<'_>) -> Result<()> {
        write_local(self.conn, self.key, change)
    }
}

/// When note `id` went to the trash, from the plaintext mirror of its meta.
pub(super) fn trashed_at(conn: &Connection, id: &Uuid) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT trashed_at FROM notes WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Whether `id` is a live record of `kind`.
pub(super) fn is_live(conn: &Connection, id: Uuid, kind: RecordKind) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM notes WHERE id = ?1 AND deleted = 0 AND kind = ?2)")?
        .query_row(rusqlite::params![id.as_bytes(), kind.code()], |r| r.get(0))?)
}

pub(super) fn check_title(title: String) -> Result<String> {
    if title.len() > limits::MAX_TITLE_BYTES {
        return Err(Error::TooLarge { what: "title", size: title.len(), limit: limits::MAX_TITLE_BYTES });
    }
    Ok(title)
}

pub(super) fn check_body(body: &str) -> Result<()> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(Error::TooLarge { what: "note body", size: body.len(), limit: limits::MAX_BODY_BYTES });
    }
    Ok(())
}

/// Trim, drop empties and duplicates, keep order; refuse oversize tags.
pub(super) fn clean_tags(tags: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim().trim_start_matches('#').to_owned();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.len() > limits::MAX_TAG_BYTES {
            return Err(Error::TooLarge { what: "tag", size: t.len(), limit: limits::MAX_TAG_BYTES });
        }
        if t.chars().any(char::is_control) {
            return Err(Error::Invalid(format!("tag {t:?} contains control characters")));
        }
        out.push(t);
    }
    if out.len() > limits::MAX_TAGS {
        return Err(Error::Invalid(format!("{} tags; a note can have at most {}", out.len(), limits::MAX_TAGS)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_cleaned() {
        let tags = clean_tags(vec![" #work ".into(), "work".into(), "".into(), "home".into()]).expect("clean");
        assert_eq!(tags, vec!["work".to_owned(), "home".to_owned()]);
        assert!(clean_tags(vec!["x".repeat(65)]).is_err());
        assert!(clean_tags((0..65).map(|i| format!("t{i}")).collect()).is_err());
    }
}
