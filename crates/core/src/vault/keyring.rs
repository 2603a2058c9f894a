//! The store's data keys besides the one it is unlocked with: after a
//! data-key rotation (`account::rotate_data_key`) the account has a new key
//! and keeps its old ones, and so does every store of it.
//!
//! At rest each such key is sealed under the store's own key
//! (`keys::seal_key_under`) in `data_keys`; the settings `current_key_id`
//! (the key new changes are sealed with) and `pending_key_id` (a new key
//! sent to the server by a rotation whose answer this store has not had)
//! say which is which. Every key stays readable: a version sealed under
//! any of them opens, wherever it comes from.
//!
//! [`Vault::reencrypt`] re-seals the live notes still under an older key
//! with the current one: ordinary local changes, with their outbox
//! entries, that sync like any edit (the content and its times do not
//! change). A sync pass runs it first, so a rotation interrupted by a crash
//! carries on at the next pass.

use rusqlite::{params, Connection, TransactionBehavior};
use uuid::Uuid;

use super::rows::{hlc_col, open_meta, open_text, uuid_col, write_local, LocalChange};
use super::Vault;
use crate::crypto::{DataKey, KeyId, KeyRing};
use crate::error::{Error, Result};
use crate::keys;
use crate::store;

/// What taking in an account's keys did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LearnedKeys {
    /// Keys this store did not hold before.
    pub added: usize,
    /// The key new changes are sealed with changed.
    pub current_changed: bool,
    /// Pulled changes set aside for want of a key, applied now.
    pub replayed: usize,
}

/// Where a store stands with its data keys (`outpost account keys`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyStatus {
    /// The key new changes are sealed with (8 hex digits).
    pub current: String,
    /// Every key this store can read with, the current one first.
    pub keys: Vec<String>,
    /// A rotation's new key sent to the server without an answer yet.
    pub pending: Option<String>,
    /// Live notes still sealed under an older key: re-encrypted at the
    /// next sync pass.
    pub notes_under_old_keys: u64,
    /// Keys that pulled changes set aside name and this store lacks (see
    /// [`Vault::missing_keys`]).
    pub missing: Vec<String>,
}

fn hex_id(id: KeyId) -> String {
    format!("{:08x}", id.0)
}

fn key_id_setting(conn: &Connection, name: &str) -> Result<Option<KeyId>> {
    store::get_kv(conn, "settings", name)?
        .map(|s| s.parse::<u32>().map(KeyId).map_err(|_| Error::Corrupt(format!("setting {name} is not a key id"))))
        .transpose()
}

/// The store's ring: `root` (the key it was unlocked with), the keys in
/// `data_keys`, the current one as the settings say; then, for a store
/// opened for an account, the account's keys taken in.
pub(super) fn load(conn: &Connection, root: DataKey, account: Option<&KeyRing>) -> Result<KeyRing> {
    let mut ring = KeyRing::new(root.clone());
    let mut stmt = conn.prepare("SELECT key_id, sealed FROM data_keys ORDER BY added_at, key_id")?;
    let rows: Vec<(i64, Vec<u8>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    for (id, sealed) in rows {
        let id = u32::try_from(id).map_err(|_| Error::Corrupt("data key id out of range".into()))?;
        let key = keys::open_key_under(&root, KeyId(id), &sealed)?;
        if !ring.insert(key) {
            return Err(Error::Corrupt(format!("data key {id:08x} is stored twice with different bytes")));
        }
    }
    if let Some(current) = key_id_setting(conn, "current_key_id")? {
        if !ring.make_current(current) {
            return Err(Error::Corrupt(format!(
                "the store writes with data key {} but does not hold it",
                hex_id(current)
            )));
        }
    }
    if let Some(account) = account {
        learn_in(conn, &root, &mut ring, account)?;
    }
    Ok(ring)
}

/// Whether the store (unlocked with `root`) holds any of `account`'s keys.
pub(super) fn holds_any(conn: &Connection, root: &DataKey, account: &KeyRing) -> Result<bool> {
    let local = load(conn, root.clone(), None)?;
    Ok(account.iter().any(|k| local.contains(k)))
}

/// Take `account`'s keys into `ring` and the store (inside the caller's
/// transaction): every key it lacks, sealed under `root`; the account's
/// current key becomes the one changes are sealed with.
fn learn_in(conn: &Connection, root: &DataKey, ring: &mut KeyRing, account: &KeyRing) -> Result<LearnedKeys> {
    if !account.iter().any(|k| ring.contains(k)) {
        return Err(Error::Invalid(
            "the account's data keys are not this store's: this store holds notes under a key of its own. \
             Nothing was changed"
                .into(),
        ));
    }
    let mut learned = LearnedKeys::default();
    for key in account.iter() {
        if ring.contains(key) {
            continue;
        }
        if ring.get(key.id()).is_some() {
            return Err(Error::Corrupt(format!(
                "the account's data key {} differs from this store's key of the same id; nothing was changed",
                hex_id(key.id())
            )));
        }
        conn.execute(
            "INSERT INTO data_keys (key_id, sealed, added_at) VALUES (?1, ?2, ?3)",
            params![i64::from(key.id().0), keys::seal_key_under(root, key), crate::time::now_ms()],
        )?;
        ring.insert(key.clone());
        learned.added += 1;
    }
    let current = account.current().id();
    if ring.current().id() != current {
        ring.make_current(current);
        learned.current_changed = true;
    }
    store::set_kv(conn, "settings", "current_key_id", &current.0.to_string())?;
    if key_id_setting(conn, "pending_key_id")?.is_some_and(|p| p == current) {
        conn.execute("DELETE FROM settings WHERE key = 'pending_key_id'", [])?;
    }
    Ok(learned)
}

/// A note's id, stamp and sealed title, meta and body.
type SealedRow = (Uuid, outpost_protocol::Hlc, Vec<u8>, Vec<u8>, Vec<u8>);

/// Live notes whose fields are not all sealed under the key `current`.
const UNDER_OLD_KEYS: &str = "FROM notes WHERE deleted = 0
     AND (substr(title, 3, 4) != ?1 OR substr(meta, 3, 4) != ?1 OR substr(body, 3, 4) != ?1)";

impl Vault {
    /// The keys this store reads with; changes are sealed with the current.
    pub fn key_ring(&self) -> &KeyRing {
        &self.key
    }

    fn root_key(&self) -> Result<DataKey> {
        self.key.get(self.root).cloned().ok_or_else(|| Error::Corrupt("the store's own key is missing".into()))
    }

    /// Take in the account's keys (`account::log_in` or
    /// `account::fetch_keys` unwrapped them with the passphrase): this store
    /// then reads everything sealed under any of them and seals new changes
    /// with the account's current key. Refused, with nothing changed, when
    /// none of the account's keys is this store's. One transaction.
    pub fn learn_keys(&mut self, account: &KeyRing) -> Result<LearnedKeys> {
        let mut learned = self.take_keys_in(account)?;
        // A process that ends here leaves the changes aside under keys it
        // now holds; the next sync pass replays them (`sync::sync_limited`).
        let (_, replay) = self.replay_quarantine()?;
        learned.replayed = replay.applied + replay.skipped + replay.conflicts;
        Ok(learned)
    }

    /// The first half of [`Vault::learn_keys`], its one transaction, without
    /// the replay of the changes set aside that follows it: what a process
    /// that ended between the two leaves. For the tests of that.
    #[doc(hidden)]
    pub fn take_keys_in(&mut self, account: &KeyRing) -> Result<LearnedKeys> {
        let root = self.root_key()?;
        let mut ring = self.key.clone();
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let learned = learn_in(&tx, &root, &mut ring, account)?;
        if learned.added > 0 {
            // Changes that waited for a key (refused in favour of a version
            // under it) go at the next push, to be merged with it.
            tx.execute("UPDATE outbox SET next_attempt_at = min(next_attempt_at, ?1) WHERE state = 'pending'", [now])?;
        }
        tx.commit()?;
        self.key = ring;
        Ok(learned)
    }

    /// The ids of the data keys that changes set aside name and this store
    /// does not hold: after another device rotated the account's key, what
    /// [`Vault::learn_keys`] (with the passphrase) would let apply.
    pub fn missing_keys(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT payload FROM quarantine")?;
        let payloads: Vec<Vec<u8>> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut out: Vec<String> = Vec::new();
        for p in payloads {
            let Ok(sealed) = crate::payload::Sealed::decode(&p) else { continue };
            for blob in [&sealed.title, &sealed.meta, &sealed.body] {
                if let Some(id) = crate::crypto::key_id_of(blob).filter(|id| self.key.get(*id).is_none()) {
                    let id = hex_id(id);
                    if !out.contains(&id) {
                        out.push(id);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The new key of a rotation: the one a rotation interrupted before
    /// its answer already made (so a retry sends the same key), else a new
    /// one, kept (sealed under the store's key) before it is sent anywhere.
    /// It opens what it sealed from now on, but changes stay sealed with
    /// the current key until the server has taken it ([`Vault::learn_keys`]).
    pub fn rotation_key(&mut self) -> Result<DataKey> {
        if let Some(id) = key_id_setting(&self.conn, "pending_key_id")? {
            if let Some(key) = self.key.get(id).filter(|k| k.id() != self.key.current().id()) {
                return Ok(key.clone());
            }
        }
        let key = DataKey::generate();
        let root = self.root_key()?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO data_keys (key_id, sealed, added_at) VALUES (?1, ?2, ?3)",
            params![i64::from(key.id().0), keys::seal_key_under(&root, &key), crate::time::now_ms()],
        )?;
        store::set_kv(&tx, "settings", "pending_key_id", &key.id().0.to_string())?;
        tx.commit()?;
        self.key.insert(key.clone());
        Ok(key)
    }

    /// Forget a rotation's new key that the server refused (a wrong
    /// passphrase, another device's change first): nothing was sealed with
    /// it, so nothing is lost.
    pub fn abandon_rotation_key(&mut self, id: KeyId) -> Result<()> {
        if id == self.key.current().id() || id == self.root {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM data_keys WHERE key_id = ?1", [i64::from(id.0)])?;
        if key_id_setting(&tx, "pending_key_id")?.is_some_and(|p| p == id) {
            tx.execute("DELETE FROM settings WHERE key = 'pending_key_id'", [])?;
        }
        tx.commit()?;
        self.key = load(&self.conn, self.root_key()?, None)?;
        Ok(())
    }

    /// Where the store stands with its data keys.
    pub fn key_status(&self) -> Result<KeyStatus> {
        Ok(KeyStatus {
            current: hex_id(self.key.current().id()),
            keys: self.key.iter().map(|k| hex_id(k.id())).collect(),
            pending: key_id_setting(&self.conn, "pending_key_id")?.map(hex_id),
            notes_under_old_keys: self.notes_under_old_keys()?,
            missing: self.missing_keys()?,
        })
    }

    /// Live notes still sealed (in part) under a key other than the current.
    pub fn notes_under_old_keys(&self) -> Result<u64> {
        if self.key.others().is_empty() {
            return Ok(0);
        }
        let id = self.key.current().id().0.to_be_bytes();
        Ok(self.conn.query_row(&format!("SELECT count(*) {UNDER_OLD_KEYS}"), [&id[..]], |r| r.get(0))?)
    }

    /// Re-seal up to `limit` live notes still under an older key with the
    /// current key, in one transaction: each a local change with a new
    /// stamp and its outbox entry, the same content and times. Returns how
    /// many; 0 when none is left.
    pub fn reencrypt(&mut self, limit: usize) -> Result<usize> {
        if self.key.others().is_empty() || limit == 0 {
            return Ok(0);
        }
        let current = self.key.current().id().0.to_be_bytes();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<SealedRow> = {
            let mut stmt = tx.prepare(&format!("SELECT id, hlc, title, meta, body {UNDER_OLD_KEYS} LIMIT ?2"))?;
            let rows = stmt.query_map(params![&current[..], limit as i64], |r| {
                Ok((uuid_col(r, 0)?, hlc_col(r, 1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let now = self.clock.wall_ms() as i64;
        for (id, hlc, title, meta, body) in &rows {
            let title = open_text(&self.key, id, crate::crypto::Field::Title, hlc, title)?;
            let meta = open_meta(&self.key, id, hlc, meta)?;
            let body = open_text(&self.key, id, crate::crypto::Field::Body, hlc, body)?;
            self.clock.observe(*hlc);
            let stamp = self.clock.tick();
            let queued: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM outbox WHERE note_id = ?1 AND state = 'pending' AND attempts = 0)",
                )?
                .query_row([id.as_bytes()], |r| r.get(0))?;
            write_local(
                &tx,
                &self.key,
                &LocalChange {
                    id: *id,
                    hlc: stamp,
                    title: &title,
                    body: &body,
                    meta: &meta,
                    deleted: false,
                    folded_edits: 0,
                    // The same words under the new key: in the history as
                    // an edit (a burst of saves folds it into one).
                    why: crate::history::VersionWhy::Edit,
                },
            )?;
            // Queued now, though the note keeps its own times (an entry
            // it joined keeps its own).
            let set = if queued { "updated_at = ?2" } else { "created_at = ?2, updated_at = ?2" };
            tx.prepare_cached(&format!(
                "UPDATE outbox SET {set} WHERE note_id = ?1 AND state = 'pending' AND attempts = 0"
            ))?
            .execute(params![id.as_bytes(), now])?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// The id of a rotation's key sent without an answer, if any.
    pub fn pending_rotation(&self) -> Result<Option<KeyId>> {
        key_id_setting(&self.conn, "pending_key_id")
    }
}
