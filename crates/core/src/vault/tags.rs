//! The tags in use, for completion in the app's tag editor: every live
//! note's sealed metadata opened (titles and bodies stay sealed), tags
//! counted as written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rows::{hlc_col, open_meta, uuid_col};
use super::Vault;
use crate::error::Result;

/// A tag and how many live notes carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TagCount {
    pub tag: String,
    pub count: u32,
}

impl Vault {
    /// Every tag on a live note with how many notes carry it, most used
    /// first, then by name.
    pub fn tag_counts(&self) -> Result<Vec<TagCount>> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached("SELECT id, hlc, meta FROM notes WHERE deleted = 0")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id = uuid_col(r, 0)?;
            let meta = open_meta(&self.key, &id, &hlc_col(r, 1)?, r.get_ref(2)?.as_blob()?)?;
            for tag in meta.tags {
                *counts.entry(tag).or_default() += 1;
            }
        }
        let mut out: Vec<TagCount> = counts.into_iter().map(|(tag, count)| TagCount { tag, count }).collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::keys::MemoryStore;
    use crate::model::{NoteDraft, NotePatch};
    use crate::vault::Vault;

    use super::TagCount;

    fn draft(title: &str, tags: &[&str]) -> NoteDraft {
        NoteDraft {
            title: title.into(),
            body: String::new(),
            tags: tags.iter().map(|t| (*t).into()).collect(),
            pinned: false,
        }
    }

    #[test]
    fn counts_live_notes_tags_most_used_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
        assert_eq!(v.tag_counts().expect("counts"), Vec::<TagCount>::new());
        v.create(draft("a", &["work", "ideas"])).expect("a");
        let b = v.create(draft("b", &["work"])).expect("b");
        let c = v.create(draft("c", &["Ideas", "zebra"])).expect("c");
        v.create(draft("d", &["work", "ideas"])).expect("d");
        // A retagged note counts with its new tags; a deleted one not at all.
        v.edit(b.id, NotePatch { tags: Some(vec!["later".into()]), ..Default::default() }).expect("retag");
        v.delete(c.id).expect("delete");
        let got: Vec<(String, u32)> = v.tag_counts().expect("counts").into_iter().map(|t| (t.tag, t.count)).collect();
        assert_eq!(got, vec![("ideas".into(), 2), ("work".into(), 2), ("later".into(), 1)]);
    }
}
