//! Table-level reads and writes of the store, shared by the notes API,
//! push and pull (`replica`), reconciliation with other devices' versions
//! (`reconcile`) and conflicts. Each function works inside the caller's
//! connection or transaction; none opens one of its own, so the caller
//! decides what commits together.
//!
//! Nothing here decides anything about sync or merging: it turns rows into
//! values and values into rows, sealing and opening on the way.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use outpost_protocol::v1::Change;
use outpost_protocol::Hlc;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::versions::{self, SealedRef};
use crate::crypto::{self, Binding, Field, KeyRing};
use crate::error::{Error, Result};
use crate::history::VersionWhy;
use crate::merge::{Strategy, Version};
use crate::model::{Meta, Note, SyncBadge};
use crate::payload::Sealed;
use crate::store;

/// A local change as [`write_local`] stores it.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalChange<'a> {
    pub id: Uuid,
    pub hlc: Hlc,
    pub title: &'a str,
    pub body: &'a str,
    pub meta: &'a Meta,
    pub deleted: bool,
    /// Offline edits already folded into this one (the seeder's shortcut);
    /// counted in the outbox entry's `coalesced`.
    pub folded_edits: u32,
    /// What the version is, for the note's history.
    pub why: VersionWhy,
}

/// Write a local change: seal the three fields under the change's stamp,
/// upsert the note's row and queue (or coalesce) its outbox entry.
///
/// The note row is the one copy of its current sealed fields: the outbox
/// entry and the history version it gets refer to them (NULL fields), and
/// whatever referred to the version it replaces gets its own copy first
/// ([`keep_current`]). A burst of saves so rewrites one note row and a few
/// small columns, not three copies of the note.
pub(super) fn write_local(conn: &Connection, key: &KeyRing, c: &LocalChange<'_>) -> Result<()> {
    let LocalChange { id, hlc, title, body, meta, deleted, folded_edits, why } = *c;
    let seal = |field, data: &[u8]| crypto::seal(key, &Binding { note_id: &id, field, hlc: &hlc }, data);
    let title_ct = seal(Field::Title, title.as_bytes())?;
    let body_ct = seal(Field::Body, body.as_bytes())?;
    let meta_json = serde_json::to_vec(meta).map_err(|e| Error::Invalid(e.to_string()))?;
    let meta_ct = seal(Field::Meta, &meta_json)?;
    let sealed = SealedRef { title: &title_ct, meta: &meta_ct, body: &body_ct };
    let hlc_s = hlc.to_string();
    let now = meta.updated;
    // Coalesce into the note's unsent entry: one that has never been
    // attempted, so no server can have seen its op id. It follows the note
    // to the new version, so it needs no copy of the old one.
    let coalesced = conn
        .prepare_cached(
            "UPDATE outbox SET hlc = ?2, deleted = ?3, title = NULL, meta = NULL, body = NULL,
               coalesced = coalesced + 1, updated_at = ?4
             WHERE note_id = ?1 AND state = 'pending' AND attempts = 0",
        )?
        .execute(params![id.as_bytes(), hlc_s, deleted, now])?;
    let folded = if deleted {
        versions::forget(conn, &id)?;
        false
    } else {
        versions::fold(conn, &id, &hlc, why, sealed, now)?
    };
    keep_current(conn, &id)?;
    conn.prepare_cached(
        "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, deleted, title, meta, body, trashed_at, kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, pinned = excluded.pinned,
               updated_at = excluded.updated_at, deleted = excluded.deleted,
               title = excluded.title, meta = excluded.meta, body = excluded.body,
               trashed_at = excluded.trashed_at, kind = excluded.kind",
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
        body_ct,
        meta.trashed_at,
        meta.kind.code()
    ])?;
    if !deleted && !folded {
        versions::record(conn, &id, &hlc, why, sealed, now)?;
    }
    if coalesced == 0 {
        conn.prepare_cached(
            "INSERT INTO outbox (op_id, note_id, hlc, deleted, created_at, updated_at, coalesced)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        )?
        .execute(params![Uuid::now_v7().as_bytes(), id.as_bytes(), hlc_s, deleted, now, folded_edits])?;
    }
    Ok(())
}

/// Before note `id`'s row changes: copy its current sealed fields into
/// every row that refers to them (NULL fields at the note's stamp: its
/// current history version, its merge base, an outbox entry), so each
/// keeps the version it names. Rows at another stamp hold their own copy.
pub(super) fn keep_current(conn: &Connection, id: &Uuid) -> Result<()> {
    for sql in [
        "UPDATE versions SET title = n.title, meta = n.meta, body = n.body FROM notes n
         WHERE n.id = ?1 AND versions.note_id = ?1 AND versions.hlc = n.hlc AND versions.title IS NULL",
        "UPDATE merge_base SET title = n.title, meta = n.meta, body = n.body FROM notes n
         WHERE n.id = ?1 AND merge_base.note_id = ?1 AND merge_base.hlc = n.hlc AND merge_base.title IS NULL",
        "UPDATE outbox SET title = n.title, meta = n.meta, body = n.body FROM notes n
         WHERE n.id = ?1 AND outbox.note_id = ?1 AND outbox.hlc = n.hlc AND outbox.title IS NULL",
    ] {
        conn.prepare_cached(sql)?.execute([id.as_bytes()])?;
    }
    Ok(())
}

/// SQL that gives a row's sealed fields, its own or, when it refers to the
/// note's current version (NULL fields), the note row's: `alias.title,
/// alias.meta, alias.body` for a row `alias` joined to `notes n`. A literal
/// (for `concat!`), so the statements that use it are constants.
macro_rules! sealed_cols {
    ($alias:literal) => {
        concat!(
            "coalesce(",
            $alias,
            ".title, n.title), coalesce(",
            $alias,
            ".meta, n.meta), coalesce(",
            $alias,
            ".body, n.body)"
        )
    };
}
pub(super) use sealed_cols;

/// A note's badge in one expression over `notes n`: conflict, failed, pending, synced.
pub(super) const BADGE_SQL: &str = "CASE
    WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.note_id = n.id AND c.resolved_at IS NULL) THEN 3
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id AND o.state = 'failed') THEN 2
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id) THEN 1
    ELSE 0 END";

/// The sync badge from [`BADGE_SQL`]'s code.
pub(super) fn badge(code: i64) -> SyncBadge {
    match code {
        3 => SyncBadge::Conflict,
        2 => SyncBadge::Failed,
        1 => SyncBadge::Pending,
        _ => SyncBadge::Synced,
    }
}

/// One note, decrypted, tombstone or not.
pub(super) fn read_note(conn: &Connection, key: &KeyRing, id: Uuid) -> Result<Option<Note>> {
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
        notebook: meta.notebook,
    }))
}

/// Open a sealed text field of note `id` at stamp `hlc`.
pub(super) fn open_text(key: &KeyRing, id: &Uuid, field: Field, hlc: &Hlc, blob: &[u8]) -> Result<String> {
    let pt = crypto::open(key, &Binding { note_id: id, field, hlc }, blob)
        .map_err(|source| Error::decrypt(id.to_string(), source))?;
    String::from_utf8(pt).map_err(|_| Error::Corrupt(format!("note {id}: decrypted text is not UTF-8")))
}

/// Open the sealed metadata (tags, pinned, times) of note `id` at stamp `hlc`.
pub(super) fn open_meta(key: &KeyRing, id: &Uuid, hlc: &Hlc, blob: &[u8]) -> Result<Meta> {
    let pt = crypto::open(key, &Binding { note_id: id, field: Field::Meta, hlc }, blob)
        .map_err(|source| Error::decrypt(id.to_string(), source))?;
    serde_json::from_slice(&pt).map_err(|e| Error::Corrupt(format!("note {id}: metadata: {e}")))
}

/// A UUID stored as 16 bytes.
pub(super) fn uuid_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let b = r.get_ref(i)?.as_blob()?;
    Uuid::from_slice(b)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e)))
}

/// A clock stamp stored as its fixed-width text.
pub(super) fn hlc_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Hlc> {
    let s = r.get_ref(i)?.as_str()?;
    s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// Store a remote version as the note, exactly as it came.
pub(super) fn store_remote(tx: &Connection, c: &Change, sealed: &Sealed, meta: &Meta) -> Result<()> {
    store_remote_over(tx, c, sealed, meta, true)
}

/// [`store_remote`], told whether the note has a row here (`present`):
/// a note this device has never had has no current version to keep.
pub(super) fn store_remote_over(
    tx: &Connection,
    c: &Change,
    sealed: &Sealed,
    meta: &Meta,
    present: bool,
) -> Result<()> {
    if c.deleted {
        versions::forget(tx, &c.note_id)?;
    }
    if present {
        keep_current(tx, &c.note_id)?;
    }
    tx.prepare_cached(
        "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, server_rev, deleted, title, meta, body,
           trashed_at, kind)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, pinned = excluded.pinned,
           created_at = excluded.created_at, updated_at = excluded.updated_at,
           server_rev = excluded.server_rev, deleted = excluded.deleted,
           title = excluded.title, meta = excluded.meta, body = excluded.body, trashed_at = excluded.trashed_at,
           kind = CASE WHEN excluded.deleted THEN notes.kind ELSE excluded.kind END",
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
        sealed.body,
        meta.trashed_at,
        meta.kind.code()
    ])?;
    if !c.deleted {
        record_remote(tx, c, sealed, meta)?;
    }
    upsert_base_over(tx, &c.note_id, c.rev, &c.hlc, c.deleted, sealed, present)?;
    Ok(())
}

/// A pulled version of a note this device has never had, ready to store
/// with [`store_new_remotes`].
pub(super) struct NewRemote<'a> {
    pub change: &'a Change,
    pub sealed: &'a Sealed,
    pub meta: &'a Meta,
}

impl NewRemote<'_> {
    /// Whether [`store_new_remotes`] stores it as [`store_remote_over`]
    /// would: a live note that carries no merge input (those take the
    /// general path, row by row).
    pub(super) fn is_plain(&self) -> bool {
        !self.change.deleted && self.meta.carried.is_empty()
    }
}

/// Rows per statement of [`store_new_remotes`]: 11 parameters a note row,
/// well under SQLite's limit of 32,766.
const NEW_REMOTES_PER_STATEMENT: usize = 128;

/// [`store_remote_over`] for many notes new here at once (each
/// [`NewRemote::is_plain`], each once): the same rows (the note, its
/// current version in its history, its merge base and agreed stamp, the
/// last three referring to the note row's fields), written a few hundred
/// rows per statement instead of four statements a note. An initial sync
/// stores tens of thousands of notes this way.
pub(super) fn store_new_remotes(tx: &Connection, notes: &[NewRemote<'_>]) -> Result<()> {
    for part in notes.chunks(NEW_REMOTES_PER_STATEMENT) {
        let hlcs: Vec<String> = part.iter().map(|n| n.change.hlc.to_string()).collect();
        let mut notes_p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(part.len() * 11);
        let mut versions_p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(part.len() * 4);
        let mut bases_p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(part.len() * 3);
        let nums: Vec<[i64; 4]> = part
            .iter()
            .map(|n| {
                let size = (n.sealed.title.len() + n.sealed.meta.len() + n.sealed.body.len()) as i64;
                let at = i64::try_from(n.change.hlc.wall_ms).unwrap_or(i64::MAX);
                [n.change.rev as i64, at, size, n.meta.kind.code()]
            })
            .collect();
        let mut stamps_p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(part.len() * 2);
        for ((n, hlc), [rev, at, size, kind]) in part.iter().zip(&hlcs).zip(&nums) {
            let (id, m, s) = (n.change.note_id.as_bytes(), n.meta, n.sealed);
            notes_p.extend_from_slice(&[
                id as &dyn rusqlite::ToSql,
                hlc,
                &m.pinned,
                &m.created,
                &m.updated,
                rev,
                &s.title,
                &s.meta,
                &s.body,
                &m.trashed_at,
                kind,
            ]);
            versions_p.extend_from_slice(&[id as &dyn rusqlite::ToSql, hlc, at, size]);
            bases_p.extend_from_slice(&[id as &dyn rusqlite::ToSql, rev, hlc]);
            stamps_p.extend_from_slice(&[id as &dyn rusqlite::ToSql, hlc]);
        }
        let rows = |one: &str| vec![one; part.len()].join(", ");
        let statements = [
            (
                format!(
                    "INSERT INTO notes (id, hlc, pinned, created_at, updated_at, server_rev, deleted, title, meta, \
                     body, trashed_at, kind) VALUES {}",
                    rows("(?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)")
                ),
                &notes_p,
            ),
            // The current version: its fields are the note row's (NULL).
            (
                format!(
                    "INSERT INTO versions (note_id, hlc, why, started_at, at, size) SELECT column1, column2, \
                     'remote', column3, column3, column4 FROM (VALUES {}) WHERE true \
                     ON CONFLICT (note_id, hlc) DO NOTHING",
                    rows("(?, ?, ?, ?)")
                ),
                &versions_p,
            ),
            (format!("INSERT INTO merge_base (note_id, rev, hlc) VALUES {}", rows("(?, ?, ?)")), &bases_p),
            (format!("INSERT OR IGNORE INTO agreed_stamps (note_id, hlc) VALUES {}", rows("(?, ?)")), &stamps_p),
        ];
        for (sql, params) in statements {
            let params = rusqlite::params_from_iter(params.iter());
            // Full parts share one cached statement per table; the last,
            // shorter part is prepared once.
            if part.len() == NEW_REMOTES_PER_STATEMENT {
                tx.prepare_cached(&sql)?.execute(params)?;
            } else {
                tx.prepare(&sql)?.execute(params)?;
            }
        }
    }
    Ok(())
}

/// Keep another device's version `c` in its note's history, and the merge
/// input it carries, if any (`meta` is `c`'s, opened). A carried version
/// that does not decode is left out (the result holds its words); one that
/// decodes is stored as it was sealed and opens, like any version, only as
/// that version of that note.
pub(super) fn record_remote(tx: &Connection, c: &Change, sealed: &Sealed, meta: &Meta) -> Result<()> {
    record_version(tx, &c.note_id, &c.hlc, VersionWhy::Remote, sealed)?;
    for carried in &meta.carried {
        let decoded = BASE64.decode(&carried.sealed).ok().and_then(|b| Sealed::decode(&b).ok());
        match (carried.hlc.parse::<Hlc>(), decoded) {
            (Ok(hlc), Some(input)) if hlc < c.hlc => {
                record_version(tx, &c.note_id, &hlc, VersionWhy::MergeInput, &input)?;
            }
            _ => {
                tracing::warn!(note = %c.note_id, "a merge input carried in a pulled version does not decode; left out")
            }
        }
    }
    Ok(())
}

/// Keep version `hlc` of note `id` in its history as `why`.
pub(super) fn record_version(tx: &Connection, id: &Uuid, hlc: &Hlc, why: VersionWhy, sealed: &Sealed) -> Result<()> {
    let at = i64::try_from(hlc.wall_ms).unwrap_or(i64::MAX);
    let sealed = SealedRef { title: &sealed.title, meta: &sealed.meta, body: &sealed.body };
    versions::record(tx, id, hlc, why, sealed, at)
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
    key: &KeyRing,
    id: &Uuid,
    hlc: Hlc,
    deleted: bool,
    sealed: &Sealed,
) -> Result<(Version, Meta)> {
    let title = open_text(key, id, Field::Title, &hlc, &sealed.title)?;
    let body = open_text(key, id, Field::Body, &hlc, &sealed.body)?;
    let meta = open_meta(key, id, &hlc, &sealed.meta)?;
    let version =
        Version { title, body, tags: meta.tags.clone(), pinned: meta.pinned, notebook: meta.notebook, deleted, hlc };
    Ok((version, meta))
}

/// One version as stored: its stamp and sealed fields.
pub(super) struct Stored {
    pub hlc: Hlc,
    pub deleted: bool,
    pub sealed: Sealed,
}

/// The note as stored, and when it was created.
pub(super) fn read_stored(tx: &Connection, id: &Uuid) -> Result<Option<(Stored, i64)>> {
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

/// The note's merge base: the last version both sides agreed on.
pub(super) fn read_base(tx: &Connection, id: &Uuid) -> Result<Option<Stored>> {
    let mut stmt = tx.prepare_cached(concat!(
        "SELECT b.hlc, b.deleted, ",
        sealed_cols!("b"),
        " FROM merge_base b JOIN notes n ON n.id = b.note_id WHERE b.note_id = ?1"
    ))?;
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

/// Upsert of a merge base row (?1 note id, ?2 rev, ?3 stamp, ?4 deleted,
/// ?5-?7 sealed fields): no copy of the fields when the base is the note's
/// current version, which the note row holds.
macro_rules! insert_base {
    () => {
        "INSERT INTO merge_base (note_id, rev, hlc, deleted, title, meta, body) SELECT ?1, ?2, ?3, ?4,
           CASE WHEN cur THEN NULL ELSE ?5 END, CASE WHEN cur THEN NULL ELSE ?6 END, CASE WHEN cur THEN NULL ELSE ?7 END
         FROM (SELECT EXISTS (SELECT 1 FROM notes WHERE id = ?1 AND hlc = ?3 AND deleted = ?4) AS cur) WHERE true
         ON CONFLICT (note_id) DO UPDATE SET rev = excluded.rev, hlc = excluded.hlc, deleted = excluded.deleted,
           title = excluded.title, meta = excluded.meta, body = excluded.body"
    };
}

/// Record a version both this device and the server hold: the note's merge
/// base (unless the base already is a later revision), and its stamp among
/// the versions agreed on.
pub(super) fn upsert_base(
    tx: &Connection,
    note_id: &Uuid,
    rev: u64,
    hlc: &Hlc,
    deleted: bool,
    s: &Sealed,
) -> Result<()> {
    upsert_base_over(tx, note_id, rev, hlc, deleted, s, true)
}

/// [`upsert_base`], told whether the note has a row here (`present`): a
/// note new here has one agreed stamp, so there are none to trim.
fn upsert_base_over(
    tx: &Connection,
    note_id: &Uuid,
    rev: u64,
    hlc: &Hlc,
    deleted: bool,
    s: &Sealed,
    present: bool,
) -> Result<()> {
    let sql = concat!(insert_base!(), " WHERE excluded.rev >= merge_base.rev");
    write_base(tx, sql, note_id, rev, hlc, deleted, s)?;
    record_agreed(tx, note_id, hlc, present)
}

/// Make this version the note's merge base whatever the base was: the
/// server just stored it as the note's latest (an applied push), so it is
/// what both sides hold now, even at a lower revision than the old base (a
/// server restored from an older backup numbers revisions again).
pub(super) fn replace_base(
    tx: &Connection,
    note_id: &Uuid,
    rev: u64,
    hlc: &Hlc,
    deleted: bool,
    s: &Sealed,
) -> Result<()> {
    write_base(tx, insert_base!(), note_id, rev, hlc, deleted, s)?;
    record_agreed(tx, note_id, hlc, true)
}

/// Runs `sql` (an [`insert_base!`]) for this version.
fn write_base(
    tx: &Connection,
    sql: &'static str,
    note_id: &Uuid,
    rev: u64,
    hlc: &Hlc,
    deleted: bool,
    s: &Sealed,
) -> Result<()> {
    tx.prepare_cached(sql)?.execute(params![
        note_id.as_bytes(),
        rev as i64,
        hlc.to_string(),
        deleted,
        s.title,
        s.meta,
        s.body
    ])?;
    Ok(())
}

/// Stamps of agreed versions kept per note. A server restored from a
/// backup brings back versions from hours or days ago; a note synced this
/// many times since then is merged without a base instead (nothing is lost
/// that way either, but the user may be asked). Bounded so that a note
/// edited all day does not grow the table without end (about 60 bytes a
/// stamp).
pub const AGREED_STAMPS_PER_NOTE: i64 = 256;

/// Remember that the version of `note_id` stamped `hlc` was agreed on with
/// a server: this device's note contains it from now on.
fn record_agreed(tx: &Connection, note_id: &Uuid, hlc: &Hlc, trim: bool) -> Result<()> {
    let added = tx
        .prepare_cached("INSERT OR IGNORE INTO agreed_stamps (note_id, hlc) VALUES (?1, ?2)")?
        .execute(params![note_id.as_bytes(), hlc.to_string()])?;
    if added > 0 && trim {
        // Stamps order as their text does (fixed-width hex).
        tx.prepare_cached(
            "DELETE FROM agreed_stamps WHERE note_id = ?1 AND hlc < (
               SELECT hlc FROM agreed_stamps WHERE note_id = ?1 ORDER BY hlc DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![note_id.as_bytes(), AGREED_STAMPS_PER_NOTE - 1])?;
    }
    Ok(())
}

/// Whether the version of `note_id` stamped `hlc` is one this device agreed
/// on with a server before (so its note already contains it).
pub(super) fn is_agreed(tx: &Connection, note_id: &Uuid, hlc: &Hlc) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM agreed_stamps WHERE note_id = ?1 AND hlc = ?2)")?
        .query_row(params![note_id.as_bytes(), hlc.to_string()], |r| r.get(0))?)
}

/// Queue note `id` as it stands (live or deleted, under its own stamp) as a
/// new outbox entry, never attempted, based on whatever revision the note
/// has when it is sent.
pub(super) fn queue_as_is(tx: &Connection, id: &[u8], now: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (op_id, note_id, hlc, deleted, created_at, updated_at)
         SELECT ?1, id, hlc, deleted, ?2, ?2 FROM notes WHERE id = ?3",
    )?
    .execute(params![Uuid::now_v7().as_bytes(), now, id])?;
    Ok(())
}

/// Drop the note's entries the server has never stored (never attempted,
/// or refused for good and marked failed), which a merge result or a
/// re-queued note replaces: the note's content, which holds them, goes in
/// its place (and fails again, visibly, if the server still refuses it).
/// An entry sent and never answered stays: the server may hold it, and its
/// op id settles it.
pub(super) fn drop_unsent(tx: &Connection, id: &Uuid) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM outbox WHERE note_id = ?1 AND (state = 'failed' OR (state = 'pending' AND attempts = 0))",
    )?
    .execute([id.as_bytes()])?;
    Ok(())
}

/// The server revision the note's local content is based on.
pub(super) fn set_server_rev(tx: &Connection, id: &Uuid, rev: u64) -> Result<()> {
    tx.prepare_cached("UPDATE notes SET server_rev = ?2 WHERE id = ?1")?.execute(params![id.as_bytes(), rev as i64])?;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use outpost_protocol::v1::Bytes;

    use super::*;
    use crate::keys::MemoryStore;
    use crate::model::{NoteDraft, NotePatch};
    use crate::vault::replica::open_change;
    use crate::vault::Vault;

    /// Every row the pull path writes for a note, in a comparable form.
    fn rows_of(v: &Vault) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT hex(id), hlc, pinned, created_at, updated_at, server_rev, deleted, hex(title), hex(meta),
               hex(body), trashed_at, kind FROM notes ORDER BY id",
            "SELECT hex(note_id), hlc, why, started_at, at, size, hex(title), hex(meta), hex(body)
               FROM versions ORDER BY note_id, hlc",
            "SELECT hex(note_id), rev, hlc, deleted, hex(title), hex(meta), hex(body) FROM merge_base ORDER BY note_id",
            "SELECT hex(note_id), hlc FROM agreed_stamps ORDER BY note_id, hlc",
        ] {
            let mut stmt = v.conn.prepare(sql).expect("prepare");
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let cols: Vec<String> =
                        (0..n).map(|i| format!("{:?}", r.get_ref(i).map(rusqlite::types::Value::from))).collect();
                    Ok(cols.join("|"))
                })
                .expect("query");
            out.extend(rows.map(|r| format!("{sql:.20}: {}", r.expect("row"))));
        }
        out
    }

    /// The notes of `from`'s outbox as the server would hand them out.
    pub(in crate::vault) fn pulled(from: &mut Vault) -> Vec<Change> {
        let batch = from.take_push_batch(100).expect("batch");
        batch
            .into_iter()
            .enumerate()
            .map(|(i, p)| Change {
                seq: i as u64 + 1,
                note_id: p.op.note_id,
                rev: i as u64 + 7,
                hlc: p.op.hlc,
                deleted: p.op.deleted,
                payload: Bytes(p.op.payload.0),
            })
            .collect()
    }

    /// The rows written for notes new here, many per statement, are the
    /// rows the note-by-note path writes: plain notes, pinned and tagged
    /// ones, one in the trash, a notebook and a note in it, and more notes
    /// than one statement takes.
    #[test]
    fn notes_stored_together_are_stored_as_one_by_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut from = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
        let book = from.create_notebook("Work", None).expect("notebook").id;
        for i in 0..NEW_REMOTES_PER_STATEMENT + 5 {
            let n = from
                .create(NoteDraft {
                    title: format!("note {i}"),
                    body: "words ".repeat(i % 40),
                    tags: if i % 3 == 0 { vec!["a".into(), format!("t{i}")] } else { vec![] },
                    pinned: i % 7 == 0,
                })
                .expect("create");
            if i == 3 {
                from.move_note(n.id, Some(book)).expect("move");
            }
            if i == 4 {
                from.trash(n.id).expect("trash");
            }
            if i == 5 {
                from.edit(n.id, NotePatch { body: Some("changed".into()), ..Default::default() }).expect("edit");
            }
        }
        let changes = pulled(&mut from);
        let opened: Vec<_> = changes.iter().map(|c| open_change(&from.key, c).expect("opens")).collect();
        assert!(opened.iter().any(|o| o.meta.trashed_at.is_some()), "one note is in the trash");
        assert!(opened.iter().any(|o| o.meta.kind.code() == 1), "one record is a notebook");

        let (one_dir, all_dir) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
        let mut one = Vault::open(one_dir.path(), &MemoryStore::new()).expect("open");
        let mut all = Vault::open(all_dir.path(), &MemoryStore::new()).expect("open");
        let tx = one.conn.transaction().expect("tx");
        for (c, o) in changes.iter().zip(&opened) {
            store_remote_over(&tx, c, &o.sealed, &o.meta, false).expect("one by one");
        }
        tx.commit().expect("commit");
        let new: Vec<NewRemote<'_>> = changes
            .iter()
            .zip(&opened)
            .map(|(c, o)| NewRemote { change: c, sealed: &o.sealed, meta: &o.meta })
            .collect();
        assert!(new.iter().all(NewRemote::is_plain));
        let tx = all.conn.transaction().expect("tx");
        store_new_remotes(&tx, &new).expect("together");
        tx.commit().expect("commit");

        let (expected, got) = (rows_of(&one), rows_of(&all));
        assert_eq!(expected.len(), 4 * changes.len(), "four rows a note");
        for (got, expected) in got.iter().zip(&expected) {
            assert_eq!(got, expected);
        }
        assert_eq!(got.len(), expected.len());
    }
}
