//! The notes API over the encrypted store: the one entry point the CLI,
//! the app and the tests share.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction that writes the sealed
//! note row and its outbox entry together, and is on disk (WAL, fsync)
//! before the call returns: a note reported saved survives a crash.

//!
//! # Layout
//! - this file: the API: open, notes (create, edit, delete, get, list,
//!   search), preferences, the outbox as it stands, counts.
//! - `writer`: local changes, validated and written with their outbox
//!   entry inside one transaction ([`Writer`]).
//! - `crate::search`: the in-memory search index `search` keeps current.
//! - `rows`: table-level reads and writes (sealing and opening on the way),
//!   under everything else here.
//! - `replica`: the store's side of sync: push batches and their answers,
//!   pulled pages, the mass-delete rail, starting over.
//! - `reconcile`: another device's version meeting local changes, inside a
//!   push's or a pull's transaction.
//! - `conflicts`: conflicts for the user, and the strategy.
//! - `history`: note history (versions, restore) and the trash, with the
//!   retention rules' housekeeping; `versions` records each version a
//!   writer stores, under `rows`.
//! - `account`: the account and its sealed session token.
//! - `unlock`: the data key, checked or enrolled; fails closed.
//! - `peek`: reading a store without its key.
//! - `shared`: [`SharedVault`], the vault shared by the app or the engine.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use outpost_protocol::Hlc;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use crate::clock::{HlcClock, SystemTime, TimeSource};
use crate::crypto::{Field, KeyId, KeyRing};
use crate::error::{Error, Result};
use crate::keys::{KeyStore, Method};
use crate::model::{Note, NoteDraft, NotePatch, NoteSummary, OutboxEntry, SearchHit, StoreStatus, SyncBadge};
use crate::policy::PolicySettings;
use crate::search::{self, Doc, Index, Query, RankedHit};
use crate::store::{self, migrate};

mod account;
mod conflicts;
mod created;
mod files;
mod history;
mod keyring;
mod notebooks;
mod peek;
mod reconcile;
mod replica;
mod rows;
mod shared;
mod snapshot;
mod unlock;
mod versions;
mod writer;

pub use account::Account;
pub use conflicts::{ConflictView, Resolution, VersionView};
pub use files::{file_counts, peek_file_counts, PendingDeclaration, DEFAULT_CACHE_LIMIT};
pub use keyring::{KeyStatus, LearnedKeys};
pub use notebooks::NotebookDeleted;
pub use peek::{key_methods, peek_account, peek_status};
pub use reconcile::MergeCounts;
pub use replica::{
    check_pull_page, CheckedPage, PendingOp, PullOutcome, PushOutcome, Quarantined, SyncReset, MASS_DELETE_MAX,
    MASS_DELETE_MIN_NOTES,
};
pub use rows::AGREED_STAMPS_PER_NOTE;
pub use shared::{blocking, SharedVault};
pub use snapshot::{MadeSnapshot, SNAPSHOT_MIN_CHANGES};
pub use unlock::LocalRewrap;
pub use writer::Writer;

use rows::{hlc_col, open_meta, open_text, read_note, uuid_col, BADGE_SQL};

/// An open, unlocked store.
#[derive(Debug)]
pub struct Vault {
    /// The one read-write connection; `&mut self` on writes serialises them.
    conn: Connection,
    /// `outpost.db` inside the data directory.
    path: PathBuf,
    /// The unlocked data keys (lives only in memory): the one the store is
    /// unlocked with and the account's others; changes are sealed with the
    /// ring's current key.
    key: KeyRing,
    /// The id of the key the store is unlocked with (its key store's), the
    /// one the others are sealed under at rest.
    root: KeyId,
    /// Issues the stamp of every local change.
    clock: HlcClock,
    /// How the key was unlocked, for `status`.
    method: Method,
    /// Deletions pulled since the last completed sync pass (the
    /// mass-delete rail counts a pass, not a page).
    pass_deletes: u64,
    /// The keys the changes set aside were last tried under by this
    /// process (none yet when the store is opened); see
    /// [`Vault::replay_quarantine`].
    aside_tried_under: Vec<KeyId>,
    /// The search index: memory only, built on the first search and
    /// brought up to date before each one (see [`Vault::search`]).
    index: RefCell<Index>,
    /// Checkpoints the WAL off the save path (`None` under a test VFS,
    /// where SQLite's automatic checkpoint runs in the commit as before).
    checkpointer: Option<store::checkpoint::Checkpointer>,
}

/// What a freshly opened vault had to do.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// A backup taken before migrating, if any.
    pub backup: Option<PathBuf>,
    /// The store was created by this open.
    pub created: bool,
}

impl Vault {
    /// Open (or create) the store in data directory `dir`, migrating it and
    /// unlocking its key through `keys`.
    pub fn open(dir: &Path, keys: &dyn KeyStore) -> Result<Self> {
        Self::open_with(dir, keys, Arc::new(SystemTime)).map(|(v, _)| v)
    }

    /// [`Vault::open`] with a time source and a report of what happened.
    pub fn open_with(dir: &Path, keys: &dyn KeyStore, time: Arc<dyn TimeSource>) -> Result<(Self, OpenReport)> {
        Self::open_inner(dir, keys, time, None, None)
    }

    /// [`Vault::open`] through the SQLite VFS registered under the name
    /// `vfs` instead of the default one. The fault-injection tests open
    /// stores through `outpost-faultvfs` this way; the app never does.
    pub fn open_with_vfs(dir: &Path, keys: &dyn KeyStore, vfs: &str) -> Result<Self> {
        Self::open_inner(dir, keys, Arc::new(SystemTime), None, Some(vfs)).map(|(v, _)| v)
    }

    /// Open or create the store in `dir` for an account whose data key is
    /// `account_key` (a device joining an account). A new store adopts that
    /// key; an existing one must already have it: a store holding notes
    /// under another key is refused, never re-keyed silently.
    ///
    /// The account's key ring (its older keys, after a rotation) is taken
    /// in: an existing store may hold any one of the account's keys, and
    /// learns the others.
    pub fn open_for_account(dir: &Path, keys: &dyn KeyStore, account_key: impl Into<KeyRing>) -> Result<Self> {
        Self::open_inner(dir, keys, Arc::new(SystemTime), Some(account_key.into()), None).map(|(v, _)| v)
    }

    fn open_inner(
        dir: &Path,
        keys: &dyn KeyStore,
        time: Arc<dyn TimeSource>,
        account_key: Option<KeyRing>,
        vfs: Option<&str>,
    ) -> Result<(Self, OpenReport)> {
        unlock::create_private_dir(dir)?;
        let path = store::db_path(dir);
        let mut conn = store::connect_with_vfs(&path, vfs)?;
        let mut report = OpenReport { backup: migrate::migrate_up(&mut conn, &path)?, created: false };

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let vault_id = match store::get_kv(&tx, "settings", "vault_id")? {
            Some(id) => id,
            None => {
                let id = Uuid::new_v4().to_string();
                store::set_kv(&tx, "settings", "vault_id", &id)?;
                id
            }
        };
        let node = match store::get_kv(&tx, "sync_state", "device_id")? {
            Some(hex) => u64::from_str_radix(&hex, 16).map_err(|_| Error::Corrupt("device id is not hex".into()))?,
            None => {
                let node = rand::rngs::OsRng.next_u64();
                store::set_kv(&tx, "sync_state", "device_id", &format!("{node:016x}"))?;
                node
            }
        };
        let root = unlock::unlock_or_enroll(&tx, &vault_id, keys, account_key.as_ref(), &mut report.created)?;
        let root_id = root.id();
        let key = keyring::load(&tx, root, account_key.as_ref())?;
        history::mirror_trash_once(&tx, &key)?;
        let last: Option<String> = tx.query_row(
            "SELECT max(h) FROM (SELECT max(hlc) AS h FROM notes UNION ALL SELECT max(hlc) FROM outbox)",
            [],
            |r| r.get(0),
        )?;
        let last = match last {
            Some(s) => s.parse().map_err(|_| Error::Corrupt(format!("bad clock stamp {s:?}")))?,
            None => Hlc::ZERO,
        };
        tx.commit()?;
        // Under a fault-injecting test VFS the one connection does it all,
        // so each injected fault lands where the test expects it.
        let checkpointer = match vfs {
            None => Some(store::checkpoint::Checkpointer::start(&path, &conn)?),
            Some(_) => None,
        };
        let clock = HlcClock::new(node, time, last);
        let vault = Self {
            conn,
            path,
            key,
            root: root_id,
            clock,
            method: keys.method(),
            pass_deletes: 0,
            aside_tried_under: Vec::new(),
            index: RefCell::default(),
            checkpointer,
        };
        Ok((vault, report))
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Parse a note id as typed by a user.
    pub fn parse_id(s: &str) -> Result<Uuid> {
        Uuid::parse_str(s.trim()).map_err(|_| Error::InvalidNoteId(s.to_owned()))
    }

    /// Create a note. Saved and queued for sync when this returns.
    pub fn create(&mut self, draft: NoteDraft) -> Result<Note> {
        self.batch(|w| w.create(draft))
    }

    /// Change fields of a note.
    pub fn edit(&mut self, id: Uuid, patch: NotePatch) -> Result<Note> {
        self.batch(|w| w.edit(id, patch))
    }

    /// See [`Writer::edit_from`].
    pub fn edit_from(&mut self, id: Uuid, patch: NotePatch, base_hlc: Hlc, base_body: Option<&str>) -> Result<Note> {
        self.batch(|w| w.edit_from(id, patch, base_hlc, base_body))
    }

    /// Delete a note for good: it becomes a tombstone (content erased, its
    /// history with it) that syncs. What a person's "delete" does is
    /// [`Vault::trash`]; this is emptying the trash for one note.
    pub fn delete(&mut self, id: Uuid) -> Result<()> {
        self.batch(|w| w.delete(id))
    }

    /// Run several changes in one transaction (seeding, importing): all or
    /// nothing, one fsync.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = {
            let mut w = Writer { conn: &tx, key: &self.key, clock: &self.clock };
            f(&mut w)?
        };
        tx.commit()?;
        self.committed();
        Ok(out)
    }

    /// A write transaction committed: the WAL has new pages to checkpoint
    /// (in the background, [`store::checkpoint`]).
    pub(crate) fn committed(&self) {
        if let Some(c) = &self.checkpointer {
            c.committed();
        }
    }

    /// Hold the background WAL checkpoints back (`true`) or let them run;
    /// for profiling the save path without them (the benchmarks).
    pub fn pause_checkpoints(&self, paused: bool) {
        if let Some(c) = &self.checkpointer {
            c.pause(paused);
        }
    }

    /// Wait (up to `timeout`) for a background WAL checkpoint that starts
    /// after this call; what they have done by then. `None` when this vault
    /// has no checkpoint thread (opened through a test VFS).
    pub fn wait_for_checkpoint(&self, timeout: std::time::Duration) -> Option<store::checkpoint::CheckpointStats> {
        self.checkpointer.as_ref().map(|c| c.wait_for_one(timeout))
    }

    /// One note, decrypted. Tombstones are reported as not found; a note in
    /// the trash is returned (see [`Vault::trash_list`]).
    pub fn get(&self, id: Uuid) -> Result<Note> {
        if !writer::is_live(&self.conn, id, crate::model::RecordKind::Note)? {
            return Err(Error::NoteNotFound(id.to_string()));
        }
        let note = read_note(&self.conn, &self.key, id)?.ok_or_else(|| Error::NoteNotFound(id.to_string()))?;
        if note.deleted {
            return Err(Error::NoteNotFound(id.to_string()));
        }
        Ok(note)
    }

    /// A preference of the app's (`ui.*` keys only: theme and the like).
    /// Plaintext in the store, so never note content.
    pub fn preference(&self, key: &str) -> Result<Option<String>> {
        store::get_kv(&self.conn, "settings", &preference_key(key)?)
    }

    pub fn set_preference(&mut self, key: &str, value: &str) -> Result<()> {
        if value.len() > 256 {
            return Err(Error::TooLarge { what: "preference", size: value.len(), limit: 256 });
        }
        store::set_kv(&self.conn, "settings", &preference_key(key)?, value)
    }

    /// The user's sync policy settings (sync on metered networks, pause on
    /// low battery); the defaults until set.
    pub fn sync_policy(&self) -> Result<PolicySettings> {
        match store::get_kv(&self.conn, "settings", "sync_policy")? {
            Some(json) => serde_json::from_str(&json).map_err(|e| Error::Corrupt(format!("sync policy setting: {e}"))),
            None => Ok(PolicySettings::default()),
        }
    }

    pub fn set_sync_policy(&mut self, policy: &PolicySettings) -> Result<()> {
        let json = serde_json::to_string(policy).map_err(|e| Error::Invalid(e.to_string()))?;
        store::set_kv(&self.conn, "settings", "sync_policy", &json)
    }

    /// Whether the store holds nothing of its own yet: no notes, nothing
    /// queued. Such a store can take an account's key in place of its own.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM notes) AND NOT EXISTS (SELECT 1 FROM outbox)",
            [],
            |r| r.get(0),
        )?)
    }

    /// All live notes not in the trash, titles only: pinned first, then
    /// newest first.
    /// Reads the `notes_list` index alone (it covers these columns).
    pub fn list(&self) -> Result<Vec<NoteSummary>> {
        let badges = self.badges()?;
        let mut stmt = self.conn.prepare_cached(LIST_SQL)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let hlc = hlc_col(r, 1)?;
            let title_ct: &[u8] = r.get_ref(4)?.as_blob()?;
            let title = open_text(&self.key, &id, Field::Title, &hlc, title_ct)?;
            out.push(NoteSummary {
                id,
                title,
                pinned: r.get(2)?,
                updated_at: r.get(3)?,
                sync: badges.get(&id).copied().unwrap_or(SyncBadge::Synced),
            });
        }
        Ok(out)
    }

    /// The live notes among `ids`, as the list shows them (in the list's
    /// order); an id that is deleted, in the trash or unknown is left out. What the app
    /// re-reads after a sync pass changed a few notes, instead of the list.
    pub fn summaries(&self, ids: &[Uuid]) -> Result<Vec<NoteSummary>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT n.hlc, n.pinned, n.updated_at, n.title, {BADGE_SQL} FROM notes n \
             WHERE n.id = ?1 AND n.deleted = 0 AND n.kind = 0 AND n.trashed_at IS NULL"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let mut rows = stmt.query([id.as_bytes()])?;
            let Some(r) = rows.next()? else { continue };
            let hlc = hlc_col(r, 0)?;
            let title = open_text(&self.key, id, Field::Title, &hlc, r.get_ref(3)?.as_blob()?)?;
            out.push(NoteSummary {
                id: *id,
                title,
                pinned: r.get(1)?,
                updated_at: r.get(2)?,
                sync: rows::badge(r.get(4)?),
            });
        }
        out.sort_by_key(|s| std::cmp::Reverse((s.pinned, s.updated_at)));
        Ok(out)
    }

    /// The badges of `ids` that are not simply synced.
    fn badges_of(&self, ids: impl Iterator<Item = Uuid>) -> Result<HashMap<Uuid, SyncBadge>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {BADGE_SQL} FROM notes n WHERE n.id = ?1"))?;
        let mut out = HashMap::new();
        for id in ids {
            let code: Option<i64> = stmt.query_row([id.as_bytes()], |r| r.get(0)).optional()?;
            if let Some(code) = code.filter(|c| *c != 0) {
                out.insert(id, rows::badge(code));
            }
        }
        Ok(out)
    }

    /// The badge of every note that is not simply synced, in two scans
    /// (one per table) instead of three lookups per listed note.
    fn badges(&self) -> Result<HashMap<Uuid, SyncBadge>> {
        let mut out = HashMap::new();
        let mut stmt =
            self.conn.prepare_cached("SELECT note_id, max(state = 'failed') FROM outbox GROUP BY note_id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let failed: bool = r.get(1)?;
            out.insert(uuid_col(r, 0)?, if failed { SyncBadge::Failed } else { SyncBadge::Pending });
        }
        let mut stmt = self.conn.prepare_cached("SELECT DISTINCT note_id FROM conflicts WHERE resolved_at IS NULL")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            out.insert(uuid_col(r, 0)?, SyncBadge::Conflict);
        }
        Ok(out)
    }

    /// Notes matching `query` (words, the last one a prefix, "quoted
    /// phrases", `tag:NAME`, `is:pinned`; see [`crate::search`]), best
    /// first, each with a snippet of its body around the first match.
    pub fn search(&self, query: &str) -> Result<Vec<SearchHit>> {
        Ok(self.search_ranked(query, usize::MAX)?.into_iter().map(|r| r.hit).collect())
    }

    /// [`Vault::search`] with scores and the ranges to highlight, the best
    /// `limit` hits only (a list shows the first few; snippets are made
    /// only for those).
    ///
    /// The index lives in memory only. Before each query it is brought up
    /// to date: if anything was written to the store since the last query
    /// (this connection's change counter or SQLite's `data_version` for
    /// other connections moved), the live notes' stamps are read from the
    /// covering list index (no note row, no decryption) and only notes whose stamp changed are decrypted and
    /// re-indexed; deleted ones are dropped. Every writer (local edits,
    /// pulls, merges, conflict resolution, start-over) is covered without
    /// hooks in each of them.
    pub fn search_ranked(&self, query: &str, limit: usize) -> Result<Vec<RankedHit>> {
        let q = Query::parse(query);
        if q.is_empty() {
            return Ok(Vec::new());
        }
        self.refresh_index()?;
        let index = self.index.borrow();
        let ranked = index.search_top(&q, limit);
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        // A few hits: their badges one by one; many: in two scans.
        let badges = if ranked.len() <= 200 { self.badges_of(ranked.iter().map(|r| r.id))? } else { self.badges()? };
        let mut out = Vec::with_capacity(ranked.len());
        for r in ranked {
            let (Some(doc), Some(updated_at)) = (index.doc(&r.id), index.updated_at(&r.id)) else { continue };
            let snippet = search::snippet(&q, &doc.body);
            out.push(RankedHit {
                hit: SearchHit {
                    note: NoteSummary {
                        id: r.id,
                        title: doc.title.clone(),
                        pinned: doc.pinned,
                        updated_at,
                        sync: badges.get(&r.id).copied().unwrap_or(SyncBadge::Synced),
                    },
                    snippet: snippet.text,
                },
                score: r.score,
                snippet_highlights: snippet.highlights,
                title_highlights: search::highlights(&q, &doc.title),
            });
        }
        Ok(out)
    }

    /// Bring the search index up to date with the store (see
    /// [`Vault::search_ranked`]); returns how many notes were decrypted.
    pub fn refresh_index(&self) -> Result<usize> {
        let data_version: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let stamp = (self.conn.total_changes(), data_version);
        let mut index = self.index.borrow_mut();
        if index.stamp == Some(stamp) {
            return Ok(0);
        }
        // The notebooks first (a few records): every note indexed now gets
        // its notebook's names from this tree, and if the tree changed
        // since the last refresh the notes already indexed get them again
        // (from the text held in memory; nothing decrypted).
        let tree = notebooks::read_tree(&self.conn, &self.key)?;
        let tree_stamp = notebooks::tree_stamp(&self.conn)?;
        let names = |nb: Option<Uuid>| tree.effective(nb).map(|id| tree.path_names(id)).unwrap_or_default();
        if index.notebooks_stamp.as_ref() != Some(&tree_stamp) {
            let ids: Vec<(Uuid, Option<Uuid>)> =
                index.ids().map(|id| (id, index.doc(&id).and_then(|d| d.notebook))).collect();
            for (id, nb) in ids {
                index.set_notebook_names(&id, names(nb));
            }
            index.notebooks_stamp = Some(tree_stamp);
        }
        let mut live = std::collections::HashSet::new();
        let mut stale = Vec::new();
        {
            // Live notes only, from the covering `notes_list` index (it
            // holds `id` and `hlc`): no note row is read.
            let mut stmt = self.conn.prepare_cached(STAMPS_SQL)?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let id = uuid_col(r, 0)?;
                live.insert(id);
                if index.indexed_stamp(&id) != Some(hlc_col(r, 1)?) {
                    stale.push(id);
                }
            }
        }
        let gone: Vec<Uuid> = index.ids().filter(|id| !live.contains(id)).collect();
        for id in &gone {
            index.remove(id);
        }
        if stale.len() > live.len() / 4 {
            // Many (the first build): one pass over the table.
            let stale: std::collections::HashSet<Uuid> = stale.drain(..).collect();
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, hlc, updated_at, title, meta, body FROM notes WHERE deleted = 0 AND kind = 0",
            )?;
            let mut rows = stmt.query([])?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                let id = uuid_col(r, 0)?;
                if !stale.contains(&id) {
                    continue;
                }
                let hlc = hlc_col(r, 1)?;
                let title = open_text(&self.key, &id, Field::Title, &hlc, r.get_ref(3)?.as_blob()?)?;
                let meta = open_meta(&self.key, &id, &hlc, r.get_ref(4)?.as_blob()?)?;
                let body = open_text(&self.key, &id, Field::Body, &hlc, r.get_ref(5)?.as_blob()?)?;
                let notebooks = names(meta.notebook);
                let doc = Doc { title, body, tags: meta.tags, pinned: meta.pinned, notebook: meta.notebook, notebooks };
                index.insert(id, hlc, r.get(2)?, doc);
                n += 1;
            }
            index.stamp = Some(stamp);
            return Ok(n);
        }
        for id in &stale {
            match read_note(&self.conn, &self.key, *id)? {
                Some(n) if !n.deleted => {
                    let notebooks = names(n.notebook);
                    let doc = Doc {
                        title: n.title,
                        body: n.body,
                        tags: n.tags,
                        pinned: n.pinned,
                        notebook: n.notebook,
                        notebooks,
                    };
                    index.insert(n.id, n.hlc, n.updated_at, doc)
                }
                _ => index.remove(id),
            }
        }
        index.stamp = Some(stamp);
        Ok(stale.len())
    }

    /// Notes and distinct words in the search index (for the benchmark).
    pub fn index_size(&self) -> (usize, usize) {
        let index = self.index.borrow();
        (index.len(), index.word_count())
    }

    /// Outbox entries in send order.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, op_id, note_id, hlc, base_rev, deleted, state, attempts, next_attempt_at, last_error, coalesced
             FROM outbox ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(OutboxEntry {
                seq: r.get(0)?,
                op_id: uuid_col(r, 1)?,
                note_id: uuid_col(r, 2)?,
                hlc: hlc_col(r, 3)?,
                base_rev: r.get(4)?,
                deleted: r.get(5)?,
                failed: r.get::<_, String>(6)? == "failed",
                attempts: r.get(7)?,
                next_attempt_at: r.get(8)?,
                last_error: r.get(9)?,
                coalesced: r.get(10)?,
            });
        }
        Ok(out)
    }

    /// Counts for `outpost status` and the status bar.
    pub fn status(&self) -> Result<StoreStatus> {
        peek::store_status(&self.conn, Some(self.method))
    }

    /// Ids of all notes (not notebooks), tombstones included (for tests
    /// and export).
    pub fn all_ids(&self) -> Result<Vec<(Uuid, bool)>> {
        let mut stmt = self.conn.prepare("SELECT id, deleted FROM notes WHERE kind = 0 ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((uuid_col(r, 0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The connection, for the store's own tests and tools that read
    /// integrity; never handed to a UI.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn preference_key(key: &str) -> Result<String> {
    if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        return Err(Error::Invalid(format!("{key:?} is not a preference name")));
    }
    Ok(format!("ui.{key}"))
}

/// The stamps of the live notes not in the trash, for the search index's refresh.
const STAMPS_SQL: &str = "SELECT n.id, n.hlc FROM notes n WHERE n.deleted = 0 AND n.kind = 0 AND n.trashed_at IS NULL";

/// The list: served by the `notes_list` index alone (migration 6), in its
/// order, without reading the table's rows (bodies included).
const LIST_SQL: &str = "SELECT n.id, n.hlc, n.pinned, n.updated_at, n.title
     FROM notes n WHERE n.deleted = 0 AND n.kind = 0 AND n.trashed_at IS NULL \
     ORDER BY n.pinned DESC, n.updated_at DESC";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_refresh_reads_only_a_covering_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open(dir.path(), &crate::keys::MemoryStore::new()).expect("open");
        let mut stmt = vault.conn.prepare(&format!("EXPLAIN QUERY PLAN {STAMPS_SQL}")).expect("explain");
        let plan: Vec<String> =
            stmt.query_map([], |r| r.get(3)).expect("plan").collect::<rusqlite::Result<_>>().expect("rows");
        assert!(plan.iter().any(|step| step.contains("USING COVERING INDEX")), "{plan:?}");
    }

    #[test]
    fn the_list_reads_only_its_covering_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::open(dir.path(), &crate::keys::MemoryStore::new()).expect("open");
        let mut stmt = vault.conn.prepare(&format!("EXPLAIN QUERY PLAN {LIST_SQL}")).expect("explain");
        let plan: Vec<String> =
            stmt.query_map([], |r| r.get(3)).expect("plan").collect::<rusqlite::Result<_>>().expect("rows");
        assert!(plan.iter().any(|step| step.contains("USING COVERING INDEX notes_list")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "no sort outside the index: {plan:?}");
    }
}
