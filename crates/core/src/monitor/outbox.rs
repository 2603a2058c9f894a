//! The outbox as a person looks at it: every entry with its state,
//! attempts and last error (no content), a failed one put back in the
//! queue, one discarded into `outbox_discarded` (kept, never dropped
//! silently).

use std::path::Path;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{open_without_key, table_exists, uuid};
use crate::error::{Error, Result};
use crate::vault::Vault;

/// An outbox entry as a person sees it: where it stands, never what it
/// carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OutboxRow {
    /// The entry's number (`outpost outbox retry N`).
    pub seq: i64,
    pub note_id: Uuid,
    pub op_id: Uuid,
    pub state: EntryState,
    /// The change deletes the note.
    pub deleted: bool,
    /// Times it was sent (0: never; edits still fold into it).
    pub attempts: u32,
    /// When it is sent next, if pending (ms since the epoch).
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// When the change was made, and when the entry last changed.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum EntryState {
    /// Waiting to be sent (or for its answer).
    Pending,
    /// The server rejected it as invalid: not retried until `retry`.
    Failed,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Failed => "failed",
        }
    }
}

/// A discarded entry, kept sealed in `outbox_discarded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DiscardedRow {
    pub seq: i64,
    pub note_id: Uuid,
    /// What the entry was when discarded.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub discarded_at: i64,
}

/// The outbox in send order, without content.
pub fn outbox_rows(conn: &Connection) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, note_id, op_id, state, deleted, attempts, next_attempt_at, last_error, created_at, updated_at
         FROM outbox ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let state = match r.get::<_, String>(3)?.as_str() {
            "pending" => EntryState::Pending,
            "failed" => EntryState::Failed,
            other => return Err(Error::Corrupt(format!("unknown outbox state {other:?}"))),
        };
        out.push(OutboxRow {
            seq: r.get(0)?,
            note_id: uuid(r.get_ref(1)?.as_blob()?)?,
            op_id: uuid(r.get_ref(2)?.as_blob()?)?,
            state,
            deleted: r.get(4)?,
            attempts: r.get(5)?,
            next_attempt_at: r.get(6)?,
            last_error: r.get(7)?,
            created_at: r.get(8)?,
            updated_at: r.get(9)?,
        });
    }
    Ok(out)
}

/// Discarded entries, newest first.
pub fn discarded_rows(conn: &Connection) -> Result<Vec<DiscardedRow>> {
    if !table_exists(conn, "outbox_discarded")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT seq, note_id, state, attempts, last_error, created_at, discarded_at
         FROM outbox_discarded ORDER BY discarded_at DESC, seq DESC",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(DiscardedRow {
            seq: r.get(0)?,
            note_id: uuid(r.get_ref(1)?.as_blob()?)?,
            state: r.get(2)?,
            attempts: r.get(3)?,
            last_error: r.get(4)?,
            created_at: r.get(5)?,
            discarded_at: r.get(6)?,
        });
    }
    Ok(out)
}

/// Which outbox entries a command means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// One entry, by its number.
    Entry(i64),
    /// Every entry of one note.
    Note(Uuid),
    /// Every failed entry.
    AllFailed,
}

impl Selection {
    /// An entry number or a note id, as typed.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Ok(seq) = s.parse::<i64>() {
            return Ok(Selection::Entry(seq));
        }
        Uuid::parse_str(s).map(Selection::Note).map_err(|_| {
            Error::Invalid(format!("{s:?} is neither an outbox entry number nor a note id (see `outpost outbox list`)"))
        })
    }

    /// `(clause, parameter)` selecting these entries of `outbox`.
    fn clause(&self) -> (&'static str, rusqlite::types::Value) {
        use rusqlite::types::Value;
        match self {
            Selection::Entry(seq) => ("seq = ?1", Value::Integer(*seq)),
            Selection::Note(id) => ("note_id = ?1", Value::Blob(id.as_bytes().to_vec())),
            Selection::AllFailed => ("state = 'failed' AND ?1 IS NOT NULL", Value::Integer(1)),
        }
    }
}

/// Failed entries among `sel` back to pending: attempts reset (it counts
/// the tries of this round), due now. Their op id and base revision stay:
/// the server refused the request, so it holds nothing under that id, and
/// the base tells it (and the merge) which version the change was made on.
/// Returns the entries put back; none is an error naming why.
pub fn retry(vault: &mut Vault, sel: Selection, now: i64) -> Result<Vec<i64>> {
    let conn = vault.connection();
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let (clause, param) = sel.clause();
    let chosen = select_seqs(&tx, clause, &param)?;
    let failed = select_seqs(&tx, &format!("({clause}) AND state = 'failed'"), &param)?;
    if failed.is_empty() {
        return Err(if chosen.is_empty() {
            not_found(sel)
        } else {
            Error::Invalid(format!("{} is not failed: it is sent when due, nothing to retry", describe(sel)))
        });
    }
    tx.execute(
        &format!(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2, updated_at = ?2
             WHERE ({clause}) AND state = 'failed'"
        ),
        params![param, now],
    )?;
    tx.commit()?;
    Ok(failed)
}

/// Stop trying to send the entries of `sel`: each moves, sealed, to
/// `outbox_discarded` in one transaction. The notes keep their text on this
/// device; a later edit queues a new change as usual. Returns the entries
/// discarded.
pub fn discard(vault: &mut Vault, sel: Selection, now: i64) -> Result<Vec<i64>> {
    let conn = vault.connection();
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let (clause, param) = sel.clause();
    let chosen = select_seqs(&tx, clause, &param)?;
    if chosen.is_empty() {
        return Err(not_found(sel));
    }
    tx.execute(
        &format!(
            "INSERT INTO outbox_discarded (seq, op_id, note_id, hlc, base_rev, deleted, title, meta, body, state,
               attempts, last_error, created_at, discarded_at)
             SELECT o.seq, o.op_id, o.note_id, o.hlc, o.base_rev, o.deleted,
               coalesce(o.title, n.title), coalesce(o.meta, n.meta), coalesce(o.body, n.body),
               o.state, o.attempts, o.last_error, o.created_at, ?2
             FROM outbox o JOIN notes n ON n.id = o.note_id WHERE o.seq IN (SELECT seq FROM outbox WHERE {clause})"
        ),
        params![param, now],
    )?;
    tx.execute(&format!("DELETE FROM outbox WHERE {clause}"), [param])?;
    tx.commit()?;
    Ok(chosen)
}

fn select_seqs(conn: &Connection, clause: &str, param: &rusqlite::types::Value) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(&format!("SELECT seq FROM outbox WHERE {clause} ORDER BY seq"))?;
    let seqs = stmt.query_map([param], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(seqs)
}

fn describe(sel: Selection) -> String {
    match sel {
        Selection::Entry(seq) => format!("outbox entry {seq}"),
        Selection::Note(id) => format!("the outbox entry of note {id}"),
        Selection::AllFailed => "no outbox entry".to_owned(),
    }
}

fn not_found(sel: Selection) -> Error {
    Error::Invalid(match sel {
        Selection::Entry(seq) => format!("no outbox entry {seq} (see `outpost outbox list`)"),
        Selection::Note(id) => format!("note {id} has nothing in the outbox"),
        Selection::AllFailed => "no failed outbox entry".to_owned(),
    })
}

/// The outbox and the discarded entries of the store in `dir`, without its
/// key.
pub fn peek_outbox(dir: &Path) -> Result<(Vec<OutboxRow>, Vec<DiscardedRow>)> {
    let conn = open_without_key(dir)?;
    Ok((outbox_rows(&conn)?, discarded_rows(&conn)?))
}
