//! Notebooks, tags and the sorted, filtered notes list.
//!
//! A notebook is a record of the note stream (`notes.kind = 1`): its name
//! is the sealed title, its parent the sealed meta's `notebook`, its body
//! empty. It is written, queued, pushed, pulled and merged exactly like a
//! note, so it is encrypted like one and the server cannot tell the two
//! apart. A note's notebook is its sealed meta's `notebook`. The tree as
//! shown is `crate::notebooks::Tree`'s (dangling parents at the top,
//! concurrent cycles broken the same way on every device).

use std::collections::HashMap;

use outpost_protocol::Hlc;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rows::{hlc_col, open_meta, open_text, read_note, uuid_col, LocalChange};
use super::{Vault, Writer};
use crate::crypto::{Field, KeyRing};
use crate::error::{Error, Result};
use crate::model::{
    Meta, Note, NoteSummary, Notebook, NotebookFilter, NotebookNode, RecordKind, SortBy, SyncBadge, TagCount,
};
use crate::notebooks::{clean_name, Record, Tree};
use crate::search::fold;

/// What deleting a notebook did: its notes and sub-notebooks moved up to
/// its parent (or to the top); nothing else was deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotebookDeleted {
    pub notes_moved: u32,
    pub notebooks_moved: u32,
}

/// The live notebook records, decrypted, as a tree.
pub(super) fn read_tree(conn: &Connection, key: &KeyRing) -> Result<Tree> {
    let mut stmt = conn.prepare_cached("SELECT id, hlc, title, meta FROM notes WHERE deleted = 0 AND kind = 1")?;
    let mut rows = stmt.query([])?;
    let mut records = Vec::new();
    while let Some(r) = rows.next()? {
        let id = uuid_col(r, 0)?;
        let hlc = hlc_col(r, 1)?;
        let name = open_text(key, &id, Field::Title, &hlc, r.get_ref(2)?.as_blob()?)?;
        let meta = open_meta(key, &id, &hlc, r.get_ref(3)?.as_blob()?)?;
        records.push(Record { id, name, parent: meta.notebook, hlc });
    }
    Ok(Tree::build(records))
}

/// The live notebooks' ids and stamps, in id order: changes whenever a
/// notebook is made, renamed, moved or deleted (here or by sync).
pub(super) fn tree_stamp(conn: &Connection) -> Result<Vec<(Uuid, Hlc)>> {
    let mut stmt = conn.prepare_cached("SELECT id, hlc FROM notes WHERE deleted = 0 AND kind = 1 ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((uuid_col(r, 0)?, hlc_col(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every live note's sealed meta, opened (no title, no body).
fn note_metas(conn: &Connection, key: &KeyRing) -> Result<Vec<(Uuid, Meta)>> {
    let mut stmt = conn.prepare_cached("SELECT id, hlc, meta FROM notes WHERE deleted = 0 AND kind = 0")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id = uuid_col(r, 0)?;
        let hlc = hlc_col(r, 1)?;
        out.push((id, open_meta(key, &id, &hlc, r.get_ref(2)?.as_blob()?)?));
    }
    Ok(out)
}

impl Writer<'_> {
    /// The notebook tree as it stands inside this transaction.
    pub fn notebook_tree(&self) -> Result<Tree> {
        read_tree(self.conn, self.key)
    }

    /// Make a notebook named `name` under `parent` (`None`: at the top).
    /// Refused: a bad name, a parent that is not a notebook, a name
    /// another notebook under the same parent has.
    pub fn create_notebook(&mut self, name: &str, parent: Option<Uuid>) -> Result<Uuid> {
        let name = clean_name(name)?;
        let tree = self.notebook_tree()?;
        if let Some(p) = parent {
            if !tree.contains(&p) {
                return Err(Error::NotebookNotFound(p.to_string()));
            }
        }
        tree.check_free(&name, parent, None)?;
        let id = Uuid::now_v7();
        let hlc = self.clock.tick();
        let now = self.clock.wall_ms() as i64;
        self.write_notebook(id, hlc, &name, parent, now, now)?;
        Ok(id)
    }

    /// Rename notebook `id`.
    pub fn rename_notebook(&mut self, id: Uuid, name: &str) -> Result<()> {
        let name = clean_name(name)?;
        let tree = self.notebook_tree()?;
        if !tree.contains(&id) {
            return Err(Error::NotebookNotFound(id.to_string()));
        }
        let parent = tree.parent(&id);
        tree.check_free(&name, parent, Some(id))?;
        // The parent as shown is written back: a cycle broken at this
        // notebook stays broken where every device sees it broken.
        self.rewrite_notebook(id, &name, parent)
    }

    /// Move notebook `id` under `parent` (`None`: to the top). Refused
    /// when `parent` is `id` or inside it, or has a notebook of that name.
    pub fn move_notebook(&mut self, id: Uuid, parent: Option<Uuid>) -> Result<()> {
        let tree = self.notebook_tree()?;
        let Some(record) = tree.record(&id) else { return Err(Error::NotebookNotFound(id.to_string())) };
        if let Some(p) = parent {
            if !tree.contains(&p) {
                return Err(Error::NotebookNotFound(p.to_string()));
            }
        }
        tree.check_move(id, parent)?;
        tree.check_free(&record.name, parent, Some(id))?;
        let name = record.name.clone();
        self.rewrite_notebook(id, &name, parent)
    }

    /// Delete notebook `id`. Its notes and sub-notebooks move to its
    /// parent (or to the top), in the same transaction; no note is
    /// deleted.
    pub fn delete_notebook(&mut self, id: Uuid) -> Result<NotebookDeleted> {
        let tree = self.notebook_tree()?;
        if !tree.contains(&id) {
            return Err(Error::NotebookNotFound(id.to_string()));
        }
        let parent = tree.parent(&id);
        let mut done = NotebookDeleted::default();
        for child in tree.children(Some(id)) {
            // A name its new place already has gets a number, so two
            // notebooks in one place still never share a name.
            let name = tree.name(&child).unwrap_or_default().to_owned();
            let mut free = name.clone();
            let mut n = 1;
            while tree.check_free(&free, parent, Some(id)).is_err() {
                n += 1;
                free = format!("{name} ({n})");
            }
            self.rewrite_notebook(child, &free, parent)?;
            done.notebooks_moved += 1;
        }
        for (note, meta) in note_metas(self.conn, self.key)? {
            if meta.notebook == Some(id) {
                self.move_note(note, parent)?;
                done.notes_moved += 1;
            }
        }
        self.delete_record(id, RecordKind::Notebook)?;
        Ok(done)
    }

    fn rewrite_notebook(&mut self, id: Uuid, name: &str, parent: Option<Uuid>) -> Result<()> {
        let current = read_note(self.conn, self.key, id)?.ok_or_else(|| Error::NotebookNotFound(id.to_string()))?;
        self.clock.observe(current.hlc);
        let hlc = self.clock.tick();
        let now = self.clock.wall_ms() as i64;
        self.write_notebook(id, hlc, name, parent, current.created_at, now)
    }

    fn write_notebook(
        &mut self,
        id: Uuid,
        hlc: Hlc,
        name: &str,
        parent: Option<Uuid>,
        created: i64,
        updated: i64,
    ) -> Result<()> {
        let meta = Meta {
            tags: Vec::new(),
            pinned: false,
            created,
            updated,
            trashed_at: None,
            carried: Vec::new(),
            notebook: parent,
            kind: RecordKind::Notebook,
        };
        self.write(&LocalChange {
            id,
            hlc,
            title: name,
            body: "",
            meta: &meta,
            deleted: false,
            folded_edits: 0,
            why: crate::history::VersionWhy::Edit,
        })
    }
}

impl Vault {
    /// Every notebook in tree order (depth first, siblings by name), with
    /// the number of notes directly in each.
    pub fn notebooks(&self) -> Result<Vec<Notebook>> {
        let tree = read_tree(&self.conn, &self.key)?;
        let counts = self.notebook_counts(&tree)?;
        Ok(tree
            .in_order()
            .into_iter()
            .map(|(id, depth)| Notebook {
                id,
                name: tree.name(&id).unwrap_or_default().to_owned(),
                parent: tree.parent(&id),
                depth,
                path: tree.path_names(id).join("/"),
                notes: counts.get(&Some(id)).copied().unwrap_or(0),
            })
            .collect())
    }

    /// The notebooks as a tree (top-level ones, each with its children).
    pub fn notebook_tree(&self) -> Result<Vec<NotebookNode>> {
        let tree = read_tree(&self.conn, &self.key)?;
        let counts = self.notebook_counts(&tree)?;
        fn node(tree: &Tree, counts: &HashMap<Option<Uuid>, u64>, id: Uuid) -> NotebookNode {
            NotebookNode {
                id,
                name: tree.name(&id).unwrap_or_default().to_owned(),
                notes: counts.get(&Some(id)).copied().unwrap_or(0),
                children: tree.children(Some(id)).into_iter().map(|c| node(tree, counts, c)).collect(),
            }
        }
        Ok(tree.children(None).into_iter().map(|id| node(&tree, &counts, id)).collect())
    }

    /// Live notes per notebook as shown (`None`: in no notebook).
    fn notebook_counts(&self, tree: &Tree) -> Result<HashMap<Option<Uuid>, u64>> {
        let mut counts = HashMap::new();
        for (_, meta) in note_metas(&self.conn, &self.key)? {
            *counts.entry(tree.effective(meta.notebook)).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The notebook `spec` names: its id, its name, or its path (`A/B`).
    pub fn resolve_notebook(&self, spec: &str) -> Result<Uuid> {
        read_tree(&self.conn, &self.key)?.resolve(spec)
    }

    /// One notebook as [`Vault::notebooks`] shows it.
    pub fn notebook(&self, id: Uuid) -> Result<Notebook> {
        self.notebooks()?.into_iter().find(|n| n.id == id).ok_or_else(|| Error::NotebookNotFound(id.to_string()))
    }

    /// See [`Writer::create_notebook`].
    pub fn create_notebook(&mut self, name: &str, parent: Option<Uuid>) -> Result<Notebook> {
        let id = self.batch(|w| w.create_notebook(name, parent))?;
        self.notebook(id)
    }

    /// See [`Writer::rename_notebook`].
    pub fn rename_notebook(&mut self, id: Uuid, name: &str) -> Result<Notebook> {
        self.batch(|w| w.rename_notebook(id, name))?;
        self.notebook(id)
    }

    /// See [`Writer::move_notebook`].
    pub fn move_notebook(&mut self, id: Uuid, parent: Option<Uuid>) -> Result<Notebook> {
        self.batch(|w| w.move_notebook(id, parent))?;
        self.notebook(id)
    }

    /// See [`Writer::delete_notebook`].
    pub fn delete_notebook(&mut self, id: Uuid) -> Result<NotebookDeleted> {
        self.batch(|w| w.delete_notebook(id))
    }

    /// Move note `id` into `notebook` (`None`: out of any).
    pub fn move_note(&mut self, id: Uuid, notebook: Option<Uuid>) -> Result<Note> {
        self.batch(|w| w.move_note(id, notebook))
    }

    /// Every tag on a live note with how many notes carry it, most used
    /// first (for completion). Tags that differ only in case or accents
    /// are one tag (as `tag:` searches them), shown as most notes spell it.
    pub fn tags(&self) -> Result<Vec<TagCount>> {
        let mut by_fold: HashMap<String, (u64, HashMap<String, u64>)> = HashMap::new();
        for (_, meta) in note_metas(&self.conn, &self.key)? {
            let mut seen = std::collections::HashSet::new();
            for tag in meta.tags {
                let folded = fold(&tag);
                if !seen.insert(folded.clone()) {
                    continue;
                }
                let entry = by_fold.entry(folded).or_default();
                entry.0 += 1;
                *entry.1.entry(tag).or_insert(0) += 1;
            }
        }
        let mut out: Vec<(String, TagCount)> = by_fold
            .into_iter()
            .map(|(folded, (notes, spellings))| {
                let tag = spellings
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(t, _)| t)
                    .unwrap_or_default();
                (folded, TagCount { tag, notes })
            })
            .collect();
        out.sort_by(|a, b| b.1.notes.cmp(&a.1.notes).then(a.0.cmp(&b.0)));
        Ok(out.into_iter().map(|(_, t)| t).collect())
    }

    /// The notes list in `sort` order, pinned first, narrowed to a
    /// notebook by `filter`. The plain list ([`Vault::list`]) when neither
    /// is asked for; otherwise the rows are read (titles, and metas for a
    /// notebook filter), still never the bodies' overflow pages.
    pub fn list_by(&self, filter: NotebookFilter, sort: SortBy) -> Result<Vec<NoteSummary>> {
        if filter == NotebookFilter::All && sort == SortBy::Updated {
            return self.list();
        }
        let tree = if filter == NotebookFilter::All { None } else { Some(read_tree(&self.conn, &self.key)?) };
        if let (NotebookFilter::In(id), Some(tree)) = (filter, &tree) {
            if !tree.contains(&id) {
                return Err(Error::NotebookNotFound(id.to_string()));
            }
        }
        let badges = self.badges()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, hlc, pinned, updated_at, created_at, title, meta FROM notes WHERE deleted = 0 AND kind = 0",
        )?;
        let mut rows = stmt.query([])?;
        let mut out: Vec<(NoteSummary, i64, String)> = Vec::new();
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let hlc = hlc_col(r, 1)?;
            if let Some(tree) = &tree {
                let meta = open_meta(&self.key, &id, &hlc, r.get_ref(6)?.as_blob()?)?;
                let shown = tree.effective(meta.notebook);
                let keep = match filter {
                    NotebookFilter::All => true,
                    NotebookFilter::None => shown.is_none(),
                    NotebookFilter::In(nb) => shown == Some(nb),
                };
                if !keep {
                    continue;
                }
            }
            let title = open_text(&self.key, &id, Field::Title, &hlc, r.get_ref(5)?.as_blob()?)?;
            let folded = if sort == SortBy::Title { fold(&title) } else { String::new() };
            out.push((
                NoteSummary {
                    id,
                    title,
                    pinned: r.get(2)?,
                    updated_at: r.get(3)?,
                    sync: badges.get(&id).copied().unwrap_or(SyncBadge::Synced),
                },
                r.get(4)?,
                folded,
            ));
        }
        out.sort_by(|(a, a_created, a_fold), (b, b_created, b_fold)| {
            b.pinned.cmp(&a.pinned).then_with(|| {
                match sort {
                    SortBy::Updated => b.updated_at.cmp(&a.updated_at),
                    SortBy::Created => b_created.cmp(a_created),
                    SortBy::Title => a_fold.cmp(b_fold).then_with(|| a.title.cmp(&b.title)),
                }
                .then(a.id.cmp(&b.id))
            })
        });
        Ok(out.into_iter().map(|(s, _, _)| s).collect())
    }
}
