//! The notes API over the encrypted store: the one entry point the CLI,
//! the app and the tests share.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction that writes the sealed
//! note row and its outbox entry together, and is on disk (WAL, fsync)
//! before the call returns: a note reported saved survives a crash.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use outpost_protocol::Hlc;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use crate::clock::{HlcClock, SystemTime, TimeSource};
use crate::crypto::{self, Binding, DataKey, Field, KeyId};
use crate::error::{Error, Result};
use crate::keys::{KeyError, KeyStore, Method, Slot};
use crate::model::{
    limits, Meta, Note, NoteDraft, NotePatch, NoteSummary, OutboxEntry, SearchHit, StoreStatus, SyncBadge,
};
use crate::store::{self, migrate};

mod conflicts;
mod merging;
mod replica;
pub use conflicts::{ConflictView, Resolution, VersionView};
pub use merging::MergeCounts;
pub use replica::{
    Account, PendingOp, PullOutcome, PushOutcome, Quarantined, SyncReset, AGREED_STAMPS_PER_NOTE, MASS_DELETE_MAX,
    MASS_DELETE_MIN_NOTES,
};

const KEY_CHECK: &[u8] = b"outpost key check v1";

/// An open, unlocked store.
#[derive(Debug)]
pub struct Vault {
    /// The one read-write connection; `&mut self` on writes serialises them.
    conn: Connection,
    /// `outpost.db` inside the data directory.
    path: PathBuf,
    /// The unlocked data key; lives only in memory.
    key: DataKey,
    /// Issues the stamp of every local change.
    clock: HlcClock,
    /// How the key was unlocked, for `status`.
    method: Method,
    /// Deletions pulled since the last completed sync pass (the
    /// mass-delete rail counts a pass, not a page).
    pass_deletes: u64,
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
    pub fn open_for_account(dir: &Path, keys: &dyn KeyStore, account_key: DataKey) -> Result<Self> {
        Self::open_inner(dir, keys, Arc::new(SystemTime), Some(account_key), None).map(|(v, _)| v)
    }

    fn open_inner(
        dir: &Path,
        keys: &dyn KeyStore,
        time: Arc<dyn TimeSource>,
        account_key: Option<DataKey>,
        vfs: Option<&str>,
    ) -> Result<(Self, OpenReport)> {
        create_private_dir(dir)?;
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
        let key = unlock_or_enroll(&tx, &vault_id, keys, account_key.as_ref(), &mut report)?;
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
        let clock = HlcClock::new(node, time, last);
        Ok((Self { conn, path, key, clock, method: keys.method(), pass_deletes: 0 }, report))
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

    /// Delete a note: it becomes a tombstone (content erased) that syncs.
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
        Ok(out)
    }

    /// One note, decrypted. Tombstones are reported as not found.
    pub fn get(&self, id: Uuid) -> Result<Note> {
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

    /// Whether the store holds nothing of its own yet: no notes, nothing
    /// queued. Such a store can take an account's key in place of its own.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM notes) AND NOT EXISTS (SELECT 1 FROM outbox)",
            [],
            |r| r.get(0),
        )?)
    }

    /// All live notes, titles only: pinned first, then newest first.
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

    /// Notes whose title, body or tags contain every word of `query`
    /// (case-insensitive), decrypted in memory; newest first.
    pub fn search(&self, query: &str) -> Result<Vec<SearchHit>> {
        let terms: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let badges = self.badges()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT n.id, n.hlc, n.pinned, n.updated_at, n.title, n.meta, n.body
             FROM notes n WHERE n.deleted = 0 ORDER BY n.pinned DESC, n.updated_at DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let hlc = hlc_col(r, 1)?;
            let title = open_text(&self.key, &id, Field::Title, &hlc, r.get_ref(4)?.as_blob()?)?;
            let meta = open_meta(&self.key, &id, &hlc, r.get_ref(5)?.as_blob()?)?;
            let body = open_text(&self.key, &id, Field::Body, &hlc, r.get_ref(6)?.as_blob()?)?;
            let (lt, lb) = (title.to_lowercase(), body.to_lowercase());
            let tags = meta.tags.join(" ").to_lowercase();
            if terms.iter().all(|t| lt.contains(t) || lb.contains(t) || tags.contains(t)) {
                let snippet = snippet(&body, &terms[0]);
                out.push(SearchHit {
                    note: NoteSummary {
                        id,
                        title,
                        pinned: r.get(2)?,
                        updated_at: r.get(3)?,
                        sync: badges.get(&id).copied().unwrap_or(SyncBadge::Synced),
                    },
                    snippet,
                });
            }
        }
        Ok(out)
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
        store_status(&self.conn, Some(self.method))
    }

    /// Ids of all notes, tombstones included (for tests and export).
    pub fn all_ids(&self) -> Result<Vec<(Uuid, bool)>> {
        let mut stmt = self.conn.prepare("SELECT id, deleted FROM notes ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((uuid_col(r, 0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The connection, for the store's own tests and tools that read
    /// integrity; never handed to a UI.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Writes inside one transaction; see [`Vault::batch`].
#[derive(Debug)]
pub struct Writer<'a> {
    conn: &'a Connection,
    key: &'a DataKey,
    clock: &'a HlcClock,
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
        let title = check_title(draft.title)?;
        check_body(&draft.body)?;
        let tags = clean_tags(draft.tags)?;
        let id = Uuid::now_v7();
        let hlc = self.clock.tick();
        let now = self.clock.wall_ms() as i64;
        let meta = Meta { tags, pinned: draft.pinned, created: now, updated: now };
        self.write(id, hlc, &title, &draft.body, &meta, false, folded_edits)?;
        Ok(Note {
            id,
            title,
            body: draft.body,
            tags: meta.tags,
            pinned: meta.pinned,
            created_at: now,
            updated_at: now,
            hlc,
            server_rev: None,
            deleted: false,
            sync: SyncBadge::Pending,
        })
    }

    pub fn edit(&mut self, id: Uuid, patch: NotePatch) -> Result<Note> {
        let mut note = read_note(self.conn, self.key, id)?
            .filter(|n| !n.deleted)
            .ok_or_else(|| Error::NoteNotFound(id.to_string()))?;
        if patch.is_empty() {
            return Ok(note);
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
        note.hlc = self.clock.tick();
        note.updated_at = self.clock.wall_ms() as i64;
        let meta =
            Meta { tags: note.tags.clone(), pinned: note.pinned, created: note.created_at, updated: note.updated_at };
        self.write(id, note.hlc, &note.title, &note.body, &meta, false, 0)?;
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
        let current = read_note(self.conn, self.key, id)?
            .filter(|n| !n.deleted)
            .ok_or_else(|| Error::NoteNotFound(id.to_string()))?;
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
        let created: Option<i64> = self
            .conn
            .query_row("SELECT created_at FROM notes WHERE id = ?1 AND deleted = 0", [id.as_bytes()], |r| r.get(0))
            .optional()?;
        let created = created.ok_or_else(|| Error::NoteNotFound(id.to_string()))?;
        let hlc = self.clock.tick();
        let now = self.clock.wall_ms() as i64;
        let meta = Meta { tags: Vec::new(), pinned: false, created, updated: now };
        self.write(id, hlc, "", "", &meta, true, 0)
    }

    /// Seal the three fields under the change's stamp, upsert the row and
    /// queue (or coalesce) its outbox entry.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        id: Uuid,
        hlc: Hlc,
        title: &str,
        body: &str,
        meta: &Meta,
        deleted: bool,
        folded_edits: u32,
    ) -> Result<()> {
        let seal = |field, data: &[u8]| crypto::seal(self.key, &Binding { note_id: &id, field, hlc: &hlc }, data);
        let title_ct = seal(Field::Title, title.as_bytes())?;
        let body_ct = seal(Field::Body, body.as_bytes())?;
        let meta_json = serde_json::to_vec(meta).map_err(|e| Error::Invalid(e.to_string()))?;
        let meta_ct = seal(Field::Meta, &meta_json)?;
        let hlc_s = hlc.to_string();
        self.conn
            .prepare_cached(
                "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, deleted, title, meta, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, pinned = excluded.pinned,
                   updated_at = excluded.updated_at, deleted = excluded.deleted,
                   title = excluded.title, meta = excluded.meta, body = excluded.body",
            )?
            .execute(params![
                id.as_bytes(),
                hlc_s,
                meta.pinned,
                meta.created,
                meta.updated,
                deleted,
                title_ct,
                meta_ct,
                body_ct
            ])?;
        let now = meta.updated;
        // Coalesce into the note's unsent entry: one that has never been
        // attempted, so no server can have seen its op id.
        let coalesced = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET hlc = ?2, deleted = ?3, title = ?4, meta = ?5, body = ?6,
                   coalesced = coalesced + 1, updated_at = ?7
                 WHERE note_id = ?1 AND state = 'pending' AND attempts = 0",
            )?
            .execute(params![id.as_bytes(), hlc_s, deleted, title_ct, meta_ct, body_ct, now])?;
        if coalesced == 0 {
            self.conn
                .prepare_cached(
                    "INSERT INTO outbox (op_id, note_id, hlc, deleted, title, meta, body, created_at, updated_at, coalesced)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)",
                )?
                .execute(params![
                    Uuid::now_v7().as_bytes(),
                    id.as_bytes(),
                    hlc_s,
                    deleted,
                    title_ct,
                    meta_ct,
                    body_ct,
                    now,
                    folded_edits
                ])?;
        }
        Ok(())
    }
}

/// Status of the store in `dir` without unlocking its key: counts and sync
/// state are plaintext metadata, so a monitor needs no passphrase.
pub fn peek_status(dir: &Path) -> Result<StoreStatus> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Err(Error::Invalid(format!("no Outpost store in {}", dir.display())));
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    store_status(&conn, None)
}

/// The account the store in `dir` syncs with and whether it is logged in
/// (holds a session), read without the key: both are plaintext metadata
/// (the session token itself is sealed). `None` when there is no store or
/// no account yet.
pub fn peek_account(dir: &Path) -> Result<Option<(Account, bool)>> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Ok(None);
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    let has_state: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_state')",
        [],
        |r| r.get(0),
    )?;
    if !has_state {
        return Ok(None);
    }
    let Some(account) = replica::account_in(&conn)? else { return Ok(None) };
    let logged_in = store::get_kv(&conn, "sync_state", "token")?.is_some();
    Ok(Some((account, logged_in)))
}

/// How the store in `dir` is unlocked (`keys.method` values), read without
/// changing anything; empty when there is no store yet.
pub fn key_methods(dir: &Path) -> Result<Vec<String>> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    let has_keys: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keys')",
        [],
        |r| r.get(0),
    )?;
    if !has_keys {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT DISTINCT method FROM keys ORDER BY method")?;
    let methods = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(methods)
}

fn store_status(conn: &Connection, method: Option<Method>) -> Result<StoreStatus> {
    let (notes, tombstones): (u64, u64) =
        conn.query_row("SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted = 1), 0) FROM notes", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (pending, failed, coalesced, oldest): (u64, u64, u64, Option<i64>) = conn.query_row(
        "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0),
                coalesce(sum(coalesced), 0), min(CASE WHEN state = 'pending' THEN created_at END)
         FROM outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let open_conflicts: u64 =
        conn.query_row("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL", [], |r| r.get(0))?;
    let key_method = match method {
        Some(m) => m.to_string(),
        None => {
            let mut stmt = conn.prepare("SELECT method FROM keys ORDER BY method")?;
            let methods: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            methods.join(", ")
        }
    };
    Ok(StoreStatus {
        notes,
        tombstones,
        pending,
        failed,
        coalesced,
        oldest_pending_at: oldest,
        open_conflicts,
        last_sync_at: store::get_kv(conn, "sync_state", "last_sync_at")?.and_then(|s| s.parse().ok()),
        server_reset_at: store::get_kv(conn, "sync_state", "server_reset_at")?.and_then(|s| s.parse().ok()),
        cursor: store::get_kv(conn, "sync_state", "cursor")?,
        server: store::get_kv(conn, "sync_state", "server")?,
        schema_version: migrate::status(conn)?.current,
        key_method,
    })
}

/// A `keys` row: key id, method, wrapped key, KDF parameters, check blob.
type KeyRow = (i64, String, Option<Vec<u8>>, Option<String>, Vec<u8>);

/// Unlock the store's key with `keys`, or, for a store that has never had
/// one, make and enrol a new key. Fails closed: an existing store whose key
/// cannot be had is never given a new key.
fn unlock_or_enroll(
    conn: &Connection,
    vault_id: &str,
    keys: &dyn KeyStore,
    account_key: Option<&DataKey>,
    report: &mut OpenReport,
) -> Result<DataKey> {
    let mut stmt = conn.prepare("SELECT key_id, method, wrapped, kdf, check_blob FROM keys")?;
    let rows: Vec<KeyRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let check_binding_id = Uuid::nil();
    let check_binding = Binding { note_id: &check_binding_id, field: Field::KeyCheck, hlc: &Hlc::ZERO };
    if rows.is_empty() {
        let notes: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
        if notes > 0 {
            return Err(Error::Corrupt(
                "the store holds notes but no key record; refusing to make a new key (restore the store from a backup)"
                    .into(),
            ));
        }
        let key = account_key.cloned().unwrap_or_else(DataKey::generate);
        let slot = keys.enroll(vault_id, &key)?;
        let check = crypto::seal(&key, &check_binding, KEY_CHECK)?;
        conn.execute(
            "INSERT INTO keys (key_id, method, wrapped, kdf, check_blob, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key.id().0 as i64, keys.method().as_str(), slot.wrapped, slot.kdf, check, migrate::now_ms()],
        )?;
        report.created = true;
        return Ok(key);
    }
    let Some((key_id, _, wrapped, kdf, check)) = rows.iter().find(|r| r.1 == keys.method().as_str()) else {
        let stored: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        return Err(Error::KeyMethodMismatch {
            stored: stored.join(" or "),
            given: keys.method().to_string(),
            hint: "Unset OUTPOST_PASSPHRASE to use the OS keyring, or set it for a passphrase store.",
        });
    };
    let key_id = u32::try_from(*key_id).map_err(|_| Error::Corrupt("key id out of range".into()))?;
    let slot = Slot { wrapped: wrapped.clone(), kdf: kdf.clone() };
    let key = keys.unlock(vault_id, KeyId(key_id), &slot)?;
    match crypto::open(&key, &check_binding, check) {
        Ok(pt) if pt == KEY_CHECK => {}
        _ => return Err(KeyError::WrongKey.into()),
    }
    if let Some(account) = account_key {
        if account.id() != key.id() || account.expose() != key.expose() {
            return Err(Error::Invalid(
                "this device's store already holds notes under its own key, not this account's. \
                 Log in from an empty data directory (--data-dir), or register this store as its own account"
                    .into(),
            ));
        }
    }
    Ok(key)
}

const BADGE_SQL: &str = "CASE
    WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.note_id = n.id AND c.resolved_at IS NULL) THEN 3
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id AND o.state = 'failed') THEN 2
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id) THEN 1
    ELSE 0 END";

fn badge(code: i64) -> SyncBadge {
    match code {
        3 => SyncBadge::Conflict,
        2 => SyncBadge::Failed,
        1 => SyncBadge::Pending,
        _ => SyncBadge::Synced,
    }
}

fn read_note(conn: &Connection, key: &DataKey, id: Uuid) -> Result<Option<Note>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT n.hlc, n.created_at, n.updated_at, n.server_rev, n.deleted, n.title, n.meta, n.body, {BADGE_SQL}
         FROM notes n WHERE n.id = ?1"
    ))?;
    let mut rows = stmt.query([id.as_bytes()])?;
    let Some(r) = rows.next()? else { return Ok(None) };
    let hlc = hlc_col(r, 0)?;
    let title = open_text(key, &id, Field::Title, &hlc, r.get_ref(5)?.as_blob()?)?;
    let meta = open_meta(key, &id, &hlc, r.get_ref(6)?.as_blob()?)?;
    let body = open_text(key, &id, Field::Body, &hlc, r.get_ref(7)?.as_blob()?)?;
    Ok(Some(Note {
        id,
        title,
        body,
        tags: meta.tags,
        pinned: meta.pinned,
        created_at: r.get(1)?,
        updated_at: r.get(2)?,
        hlc,
        server_rev: r.get(3)?,
        deleted: r.get(4)?,
        sync: badge(r.get(8)?),
    }))
}

fn open_text(key: &DataKey, id: &Uuid, field: Field, hlc: &Hlc, blob: &[u8]) -> Result<String> {
    let pt = crypto::open(key, &Binding { note_id: id, field, hlc }, blob)
        .map_err(|source| Error::Decrypt { note: id.to_string(), source })?;
    String::from_utf8(pt).map_err(|_| Error::Corrupt(format!("note {id}: decrypted text is not UTF-8")))
}

fn open_meta(key: &DataKey, id: &Uuid, hlc: &Hlc, blob: &[u8]) -> Result<Meta> {
    let pt = crypto::open(key, &Binding { note_id: id, field: Field::Meta, hlc }, blob)
        .map_err(|source| Error::Decrypt { note: id.to_string(), source })?;
    serde_json::from_slice(&pt).map_err(|e| Error::Corrupt(format!("note {id}: metadata: {e}")))
}

fn uuid_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let b = r.get_ref(i)?.as_blob()?;
    Uuid::from_slice(b)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e)))
}

fn hlc_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Hlc> {
    let s = r.get_ref(i)?.as_str()?;
    s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

fn preference_key(key: &str) -> Result<String> {
    if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.') {
        return Err(Error::Invalid(format!("{key:?} is not a preference name")));
    }
    Ok(format!("ui.{key}"))
}

fn check_title(title: String) -> Result<String> {
    if title.len() > limits::MAX_TITLE_BYTES {
        return Err(Error::TooLarge { what: "title", size: title.len(), limit: limits::MAX_TITLE_BYTES });
    }
    Ok(title)
}

fn check_body(body: &str) -> Result<()> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(Error::TooLarge { what: "note body", size: body.len(), limit: limits::MAX_BODY_BYTES });
    }
    Ok(())
}

/// Trim, drop empties and duplicates, keep order; refuse oversize tags.
fn clean_tags(tags: Vec<String>) -> Result<Vec<String>> {
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

/// About 80 characters of `body` around the first `term`, on char
/// boundaries.
fn snippet(body: &str, term: &str) -> String {
    let lower = body.to_lowercase();
    let chars: Vec<char> = body.chars().collect();
    let at = lower.find(term).map(|byte| lower[..byte].chars().count()).unwrap_or(0).min(chars.len());
    let start = at.saturating_sub(30);
    let end = (at + 50).min(chars.len());
    let mut s: String = chars[start..end].iter().collect::<String>().replace(['\n', '\r'], " ");
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    Ok(())
}

/// The list: served by the `notes_list` index alone (migration 6), in its
/// order, without reading the table's rows (bodies included).
const LIST_SQL: &str = "SELECT n.id, n.hlc, n.pinned, n.updated_at, n.title
     FROM notes n WHERE n.deleted = 0 ORDER BY n.pinned DESC, n.updated_at DESC";

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn snippet_is_char_safe() {
        let body =
            "ééééééééééééééééééééééééééééééééééééééé needle ééééééééééééééééééééééééééééééééééééééééééééééééééééééé";
        let s = snippet(body, "needle");
        assert!(s.contains("needle"), "{s}");
    }

    #[test]
    fn tags_are_cleaned() {
        let tags = clean_tags(vec![" #work ".into(), "work".into(), "".into(), "home".into()]).expect("clean");
        assert_eq!(tags, vec!["work".to_owned(), "home".to_owned()]);
        assert!(clean_tags(vec!["x".repeat(65)]).is_err());
        assert!(clean_tags((0..65).map(|i| format!("t{i}")).collect()).is_err());
    }
}
