//! When each live note was made, for the app's "sort by created": the
//! plaintext `created_at` column (as plaintext as `updated_at`, which the
//! list already orders by), so nothing is decrypted. Kept apart from the
//! list, which its covering index serves without reading note rows.

use uuid::Uuid;

use super::rows::uuid_col;
use super::Vault;
use crate::error::Result;

impl Vault {
    /// Every live note's id and creation time (ms since the Unix epoch).
    pub fn created_times(&self) -> Result<Vec<(Uuid, i64)>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, created_at FROM notes WHERE deleted = 0 AND kind = 0")?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push((uuid_col(r, 0)?, r.get(1)?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::keys::MemoryStore;
    use crate::model::NoteDraft;
    use crate::vault::Vault;

    #[test]
    fn live_notes_with_their_creation_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
        let old = v
            .batch(|w| w.create_dated(NoteDraft { title: "old".into(), ..Default::default() }, Some(1_000), None))
            .expect("dated");
        let new = v.create(NoteDraft { title: "new".into(), ..Default::default() }).expect("new");
        let gone = v.create(NoteDraft { title: "gone".into(), ..Default::default() }).expect("gone");
        v.delete(gone.id).expect("delete");
        let mut got = v.created_times().expect("times");
        got.sort_by_key(|(_, t)| *t);
        assert_eq!(got, vec![(old.id, 1_000), (new.id, new.created_at)]);
    }
}
