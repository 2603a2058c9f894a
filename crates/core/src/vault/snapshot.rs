//! Making and applying bootstrap snapshots (see `crate::snapshot` for the
//! format and why). A snapshot holds each note's last version agreed with
//! the server (`merge_base`), tombstones included, never a local edit the
//! server has not taken: so it is what the server held at this device's
//! cursor, or newer for this device's own acknowledged pushes (which a
//! device pulling from the cursor then skips as already held).

use outpost_protocol::v1::{Bytes, Change};
use outpost_protocol::Hlc;

use super::replica::{par_map, Opened};
use super::rows::{hlc_col, open_text, sealed_cols, uuid_col};
use super::{PullOutcome, Vault};
use crate::crypto::{self, Binding, Field};
use crate::error::{Error, Result};
use crate::model::Meta;
use crate::payload::Sealed;
use crate::snapshot::{self, Entry};
use crate::store;

/// Notes of a snapshot stored per transaction (and sealed while the part
/// before is stored), as many as a pulled page holds.
const SNAPSHOT_PART: usize = 1_000;

/// Snapshot entries sealed again here under their own stamps, as the
/// changes a pull from 0 would bring (`first` is the place of the first
/// entry in the snapshot, which numbers the changes), on every core.
fn seal_part(
    key: &crate::crypto::KeyRing,
    entries: &[Entry],
    first: usize,
    cursor: u64,
) -> Result<(Vec<Change>, Vec<Result<Opened>>)> {
    let sealed: Vec<Result<(Change, Opened)>> = par_map(entries, |e| {
        let hlc = Hlc::from_bytes(&e.hlc);
        let seal = |field, data: &[u8]| crypto::seal(key, &Binding { note_id: &e.id, field, hlc: &hlc }, data);
        let sealed = Sealed {
            title: seal(Field::Title, e.title.as_bytes())?,
            meta: seal(Field::Meta, &e.meta)?,
            body: seal(Field::Body, e.body.as_bytes())?,
        };
        let meta: Meta = serde_json::from_slice(&e.meta)
            .map_err(|err| Error::Corrupt(format!("note {} in the snapshot: metadata: {err}", e.id)))?;
        let change = Change {
            // Set below: distinct and at most the cursor.
            seq: 0,
            note_id: e.id,
            rev: e.rev,
            hlc,
            deleted: e.deleted,
            payload: Bytes(sealed.encode()),
        };
        Ok((change, Opened { sealed, meta }))
    });
    let mut changes = Vec::with_capacity(sealed.len());
    let mut opened = Vec::with_capacity(sealed.len());
    for (i, made) in sealed.into_iter().enumerate() {
        let (mut change, o) = made?;
        // A snapshot holds at most one version per change the server
        // numbered.
        change.seq = ((first + i) as u64 + 1).min(cursor);
        changes.push(change);
        opened.push(Ok(o));
    }
    Ok((changes, opened))
}

/// A snapshot made by [`Vault::make_snapshot`], sealed and ready to upload.
#[derive(Debug, Clone)]
pub struct MadeSnapshot {
    pub cursor: u64,
    pub chunks: Vec<Vec<u8>>,
    pub notes: usize,
    /// Plaintext bytes of the entries, before compression.
    pub plain_bytes: usize,
}

impl MadeSnapshot {
    pub fn sealed_bytes(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }
}

/// A device makes a snapshot once its cursor has moved this many changes
/// past the last snapshot it knows of, and at least a fifth of the cursor:
/// small accounts pull fast anyway, and a large one is not re-uploaded for
/// every few edits.
pub const SNAPSHOT_MIN_CHANGES: u64 = 200;

impl Vault {
    /// This store's snapshot at its cursor, or `None` when it has nothing
    /// to offer: it never synced, or holds pulled changes it could not
    /// open (its view of the server has holes).
    pub fn make_snapshot(&self) -> Result<Option<MadeSnapshot>> {
        let cursor = self.cursor()?;
        let quarantined: i64 = self.conn.query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))?;
        if cursor == 0 || quarantined > 0 {
            return Ok(None);
        }
        let mut stmt = self.conn.prepare(concat!(
            "SELECT b.note_id, b.rev, b.hlc, b.deleted, ",
            sealed_cols!("b"),
            " FROM merge_base b JOIN notes n ON n.id = b.note_id ORDER BY b.note_id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut entries = Vec::new();
        let mut plain_bytes = 0;
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let rev: i64 = r.get(1)?;
            let hlc = hlc_col(r, 2)?;
            let title = open_text(&self.key, &id, Field::Title, &hlc, r.get_ref(4)?.as_blob()?)?;
            let meta = crypto::open(
                &self.key,
                &Binding { note_id: &id, field: Field::Meta, hlc: &hlc },
                r.get_ref(5)?.as_blob()?,
            )
            .map_err(|source| Error::Decrypt { note: id.to_string(), source })?;
            let body = open_text(&self.key, &id, Field::Body, &hlc, r.get_ref(6)?.as_blob()?)?;
            let entry = Entry {
                id,
                rev: u64::try_from(rev).map_err(|_| Error::Corrupt("a merge base's revision".into()))?,
                hlc: hlc.to_bytes(),
                deleted: r.get(3)?,
                title,
                meta,
                body,
            };
            plain_bytes += entry.title.len() + entry.meta.len() + entry.body.len();
            entries.push(entry);
        }
        let notes = entries.len();
        let parts = snapshot::cut(entries);
        let count = u32::try_from(parts.len()).map_err(|_| Error::Invalid("too many snapshot chunks".into()))?;
        let chunks = parts
            .iter()
            .enumerate()
            .map(|(i, part)| snapshot::seal_chunk(&self.key, cursor, i as u32, count, part))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(MadeSnapshot { cursor, chunks, notes, plain_bytes }))
    }

    /// Applies a downloaded snapshot at `cursor` as pulled pages of
    /// [`SNAPSHOT_PART`] notes: each note sealed again here under its own
    /// stamp, then stored, merged or skipped exactly as a pull from 0
    /// would, and the cursor set to `cursor` with the last page. Only on a
    /// store whose cursor is 0; every chunk is opened (authenticated)
    /// before anything is written, so a bad chunk changes nothing.
    pub fn apply_snapshot(&mut self, cursor: u64, chunks: &[Vec<u8>]) -> Result<PullOutcome> {
        if self.cursor()? != 0 {
            return Err(Error::Invalid("a snapshot applies only to a store that has not pulled yet".into()));
        }
        let count = u32::try_from(chunks.len()).map_err(|_| Error::Invalid("too many snapshot chunks".into()))?;
        let mut entries = Vec::new();
        for (i, blob) in chunks.iter().enumerate() {
            entries.extend(snapshot::open_chunk(&self.key, cursor, i as u32, count, blob)?);
        }
        // Sealed again here, field by field, on every core. The chunks
        // opened under the account's key, bound to this cursor and place,
        // so what they hold needs no second check of its ciphers. Stored a
        // part at a time (one transaction each, like pulled pages) while
        // the next part is sealed; the cursor moves with the last part, so
        // a pass cut short starts from the snapshot again and skips what
        // it stored already.
        if entries.is_empty() {
            let outcome = self.apply_opened(Vec::new(), Vec::new(), Some(cursor))?;
            self.without_fsync(|v| v.record_snapshot(cursor))?;
            return Ok(outcome);
        }
        let parts: Vec<&[Entry]> = entries.chunks(SNAPSHOT_PART).collect();
        let key = self.key.clone();
        let key = &key;
        let mut outcome = PullOutcome::default();
        let mut next = Some(seal_part(key, parts[0], 0, cursor));
        for n in 0..parts.len() {
            let Some(sealed) = next.take() else { break };
            let (changes, opened) = sealed?;
            let last = n + 1 == parts.len();
            let following = parts.get(n + 1).copied();
            let (stored, sealed_next) = std::thread::scope(|s| {
                let sealing =
                    following.map(|part| s.spawn(move || seal_part(key, part, (n + 1) * SNAPSHOT_PART, cursor)));
                let stored = self.apply_opened(changes.iter().collect(), opened, last.then_some(cursor));
                // A panic while sealing is a bug: it goes on here.
                (stored, sealing.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))))
            });
            outcome.absorb(&stored?);
            next = sealed_next;
        }
        // Like the notes, done again if a power cut undoes it (a synced
        // commit here would wait for all of them to reach the disk).
        self.without_fsync(|v| v.record_snapshot(cursor))?;
        Ok(outcome)
    }

    /// The cursor of the newest snapshot this store made, applied or saw
    /// on the server (0: none).
    pub fn known_snapshot(&self) -> Result<u64> {
        Ok(store::get_kv(&self.conn, "sync_state", "snapshot_cursor")?.and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// Remembers a snapshot at `cursor` (made, applied or seen).
    pub fn record_snapshot(&mut self, cursor: u64) -> Result<()> {
        if cursor > self.known_snapshot()? {
            store::set_kv(&self.conn, "sync_state", "snapshot_cursor", &cursor.to_string())?;
        }
        Ok(())
    }

    /// Whether this store's cursor has moved far enough past the last
    /// snapshot it knows of to make a new one worth its upload
    /// ([`SNAPSHOT_MIN_CHANGES`]).
    pub fn snapshot_due(&self) -> Result<bool> {
        let cursor = self.cursor()?;
        let known = self.known_snapshot()?;
        let moved = cursor.saturating_sub(known);
        Ok(moved >= SNAPSHOT_MIN_CHANGES && moved >= cursor / 5)
    }
}
