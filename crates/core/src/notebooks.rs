//! The notebook tree, pure: no store, no keys. `vault::notebooks` reads
//! the notebook records (decrypted) and asks this module what the tree
//! looks like, which notebook a name means, and whether a move is allowed.
//!
//! Every device builds the same tree from the same records, whatever order
//! they arrived in:
//! - A parent that is not a live notebook (deleted on another device, or
//!   not arrived yet) counts as none: the notebook shows at the top.
//! - A cycle (A under B under A) can only come from moves made on two
//!   devices before they synced (a local move into its own subtree is
//!   refused). It is broken at the notebook of the cycle changed most
//!   recently (the latest clock stamp, ties by id), which shows at the
//!   top; nothing is written, so every device breaks it the same way, and
//!   the next move of that notebook settles it for good.

use std::collections::HashMap;

use outpost_protocol::Hlc;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::limits::MAX_NOTEBOOK_NAME_BYTES;
use crate::search::fold;

/// One notebook record, decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: Uuid,
    pub name: String,
    /// The parent as stored.
    pub parent: Option<Uuid>,
    /// The stamp of the record's last change.
    pub hlc: Hlc,
}

/// The tree as shown: every live notebook with its effective parent.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    records: HashMap<Uuid, Record>,
    /// Effective parents (dangling parents and broken cycles removed).
    parent: HashMap<Uuid, Option<Uuid>>,
}

impl Tree {
    /// Build the tree from the live notebook records.
    pub fn build(records: impl IntoIterator<Item = Record>) -> Self {
        let records: HashMap<Uuid, Record> = records.into_iter().map(|r| (r.id, r)).collect();
        let mut parent: HashMap<Uuid, Option<Uuid>> =
            records.values().map(|r| (r.id, r.parent.filter(|p| records.contains_key(p) && *p != r.id))).collect();
        let mut ids: Vec<Uuid> = records.keys().copied().collect();
        ids.sort();
        // Walk up from each notebook; a walk that meets itself is a cycle.
        // Breaking one cycle can leave others: walk again until none.
        loop {
            let mut broke = false;
            for start in &ids {
                let mut seen = Vec::new();
                let mut at = Some(*start);
                while let Some(id) = at {
                    if let Some(pos) = seen.iter().position(|s| *s == id) {
                        let cycle = &seen[pos..];
                        let latest = cycle
                            .iter()
                            .max_by_key(|id| (records[*id].hlc, **id))
                            .copied()
                            .expect("a cycle has members");
                        parent.insert(latest, None);
                        broke = true;
                        break;
                    }
                    seen.push(id);
                    at = parent.get(&id).copied().flatten();
                }
            }
            if !broke {
                break;
            }
        }
        Tree { records, parent }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.records.contains_key(id)
    }

    pub fn name(&self, id: &Uuid) -> Option<&str> {
        self.records.get(id).map(|r| r.name.as_str())
    }

    /// The record as stored.
    pub fn record(&self, id: &Uuid) -> Option<&Record> {
        self.records.get(id)
    }

    /// The parent as shown.
    pub fn parent(&self, id: &Uuid) -> Option<Uuid> {
        self.parent.get(id).copied().flatten()
    }

    /// `id` and its ancestors, from `id` up.
    pub fn ancestors(&self, id: Uuid) -> impl Iterator<Item = Uuid> + '_ {
        std::iter::successors(self.contains(&id).then_some(id), |at| self.parent(at))
    }

    /// Whether `id` is `of` or inside it.
    pub fn is_within(&self, id: Uuid, of: Uuid) -> bool {
        self.ancestors(id).any(|a| a == of)
    }

    /// The names from the top down to `id`.
    pub fn path_names(&self, id: Uuid) -> Vec<String> {
        let mut names: Vec<String> = self.ancestors(id).map(|a| self.records[&a].name.clone()).collect();
        names.reverse();
        names
    }

    /// The notebook a stored reference means: itself if it is a live
    /// notebook, else none (deleted, or not arrived yet).
    pub fn effective(&self, stored: Option<Uuid>) -> Option<Uuid> {
        stored.filter(|id| self.contains(id))
    }

    /// The children shown under `parent` (`None`: the top), by name.
    pub fn children(&self, parent: Option<Uuid>) -> Vec<Uuid> {
        let mut out: Vec<Uuid> = self.parent.iter().filter(|(_, p)| **p == parent).map(|(id, _)| *id).collect();
        out.sort_by(|a, b| {
            let (ra, rb) = (&self.records[a], &self.records[b]);
            fold(&ra.name).cmp(&fold(&rb.name)).then(ra.name.cmp(&rb.name)).then(a.cmp(b))
        });
        out
    }

    /// Every notebook in tree order (depth first, siblings by name), with
    /// its depth.
    pub fn in_order(&self) -> Vec<(Uuid, u32)> {
        let mut out = Vec::with_capacity(self.len());
        let mut stack: Vec<(Uuid, u32)> = self.children(None).into_iter().rev().map(|id| (id, 0)).collect();
        while let Some((id, depth)) = stack.pop() {
            out.push((id, depth));
            stack.extend(self.children(Some(id)).into_iter().rev().map(|c| (c, depth + 1)));
        }
        out
    }

    /// The notebook `spec` names: an id, a name (one notebook has it,
    /// case and accents folded), or a path of names from the top joined by
    /// `/`.
    pub fn resolve(&self, spec: &str) -> Result<Uuid> {
        let spec = spec.trim();
        if let Ok(id) = Uuid::parse_str(spec) {
            return if self.contains(&id) { Ok(id) } else { Err(Error::NotebookNotFound(spec.to_owned())) };
        }
        let want = fold(spec);
        let mut named: Vec<Uuid> = self.records.values().filter(|r| fold(&r.name) == want).map(|r| r.id).collect();
        if named.is_empty() && spec.contains('/') {
            let mut at: Option<Uuid> = None;
            for part in spec.split('/').map(str::trim).filter(|p| !p.is_empty()) {
                let part = fold(part);
                let found: Vec<Uuid> =
                    self.children(at).into_iter().filter(|c| fold(&self.records[c].name) == part).collect();
                match found.as_slice() {
                    [one] => at = Some(*one),
                    [] => return Err(Error::NotebookNotFound(spec.to_owned())),
                    _ => return Err(self.ambiguous(spec, found)),
                }
            }
            return at.ok_or_else(|| Error::NotebookNotFound(spec.to_owned()));
        }
        match named.len() {
            0 => Err(Error::NotebookNotFound(spec.to_owned())),
            1 => Ok(named[0]),
            _ => {
                named.sort();
                Err(self.ambiguous(spec, named))
            }
        }
    }

    fn ambiguous(&self, spec: &str, ids: Vec<Uuid>) -> Error {
        let places: Vec<String> = ids.iter().map(|id| format!("{} ({id})", self.path_names(*id).join("/"))).collect();
        Error::NotebookAmbiguous { name: spec.to_owned(), places: places.join(", ") }
    }

    /// Refuse a name another notebook under `parent` already has (case and
    /// accents folded), other than `except`.
    pub fn check_free(&self, name: &str, parent: Option<Uuid>, except: Option<Uuid>) -> Result<()> {
        let want = fold(name);
        let taken =
            self.children(parent).into_iter().any(|c| Some(c) != except && fold(&self.records[&c].name) == want);
        if taken {
            let place = match parent {
                Some(p) => format!("in {}", self.path_names(p).join("/")),
                None => "at the top".to_owned(),
            };
            return Err(Error::NotebookNameTaken { name: name.to_owned(), place });
        }
        Ok(())
    }

    /// Refuse moving `id` under `parent` when `parent` is `id` or inside it.
    pub fn check_move(&self, id: Uuid, parent: Option<Uuid>) -> Result<()> {
        if let Some(p) = parent {
            if self.is_within(p, id) {
                return Err(Error::NotebookCycle {
                    name: self.path_names(id).join("/"),
                    parent: self.path_names(p).join("/"),
                });
            }
        }
        Ok(())
    }
}

/// A notebook name as typed: trimmed; refused when empty, over
/// [`MAX_NOTEBOOK_NAME_BYTES`], or holding `/` (it separates names in a
/// path and is a folder separator in an export) or control characters.
pub fn clean_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("a notebook needs a name".into()));
    }
    if name.len() > MAX_NOTEBOOK_NAME_BYTES {
        return Err(Error::TooLarge { what: "notebook name", size: name.len(), limit: MAX_NOTEBOOK_NAME_BYTES });
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "notebook name {name:?} contains '/' or control characters; '/' separates notebooks in a path"
        )));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u128, name: &str, parent: Option<u128>, wall: u64) -> Record {
        Record {
            id: Uuid::from_u128(n),
            name: name.into(),
            parent: parent.map(Uuid::from_u128),
            hlc: Hlc::new(wall, 0, 1),
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_cycle_breaks_at_the_latest_change_whatever_the_order() {
        // A under B, B under C, C under A; B changed last.
        let records = vec![rec(1, "A", Some(2), 10), rec(2, "B", Some(3), 30), rec(3, "C", Some(1), 20)];
        for rotation in 0..3 {
            let mut rs = records.clone();
            rs.rotate_left(rotation);
            let tree = Tree::build(rs);
            assert_eq!(tree.parent(&id(2)), None, "B is at the top");
            assert_eq!(tree.parent(&id(3)), Some(id(1)));
            assert_eq!(tree.parent(&id(1)), Some(id(2)));
            assert_eq!(tree.in_order(), vec![(id(2), 0), (id(1), 1), (id(3), 2)]);
        }
    }

    #[test]
    fn dangling_parents_show_at_the_top_and_self_parents_too() {
        let tree = Tree::build(vec![rec(1, "A", Some(9), 1), rec(2, "B", Some(2), 1)]);
        assert_eq!((tree.parent(&id(1)), tree.parent(&id(2))), (None, None));
        assert_eq!(tree.effective(Some(id(9))), None);
    }

    #[test]
    fn names_paths_and_moves() {
        let tree = Tree::build(vec![
            rec(1, "Work", None, 1),
            rec(2, "Projects", Some(1), 1),
            rec(3, "Home", None, 1),
            rec(4, "Projects", Some(3), 1),
        ]);
        assert_eq!(tree.resolve("work").expect("by name"), id(1));
        assert!(matches!(tree.resolve("Projects"), Err(Error::NotebookAmbiguous { .. })));
        assert_eq!(tree.resolve("Home/projects").expect("by path"), id(4));
        assert_eq!(tree.resolve(&id(2).to_string()).expect("by id"), id(2));
        assert!(matches!(tree.resolve("Nowhere"), Err(Error::NotebookNotFound(_))));
        assert!(matches!(tree.check_move(id(1), Some(id(2))), Err(Error::NotebookCycle { .. })));
        assert!(matches!(tree.check_move(id(1), Some(id(1))), Err(Error::NotebookCycle { .. })));
        tree.check_move(id(2), Some(id(3))).expect("a move elsewhere");
        assert!(matches!(tree.check_free("WORK", None, None), Err(Error::NotebookNameTaken { .. })));
        tree.check_free("Work", None, Some(id(1))).expect("its own name");
        tree.check_free("Work", Some(id(3)), None).expect("another parent");
    }

    proptest::proptest! {
        /// Any records (parents pointing anywhere, cycles of any length,
        /// dangling parents): a tree with no cycle, every record in it once,
        /// and the same tree whatever order the records came in (as two
        /// devices receive them); a parent is only ever dropped, never
        /// invented.
        #[test]
        fn any_records_make_one_tree_in_any_order(
            parents in proptest::collection::vec(proptest::option::of(0u128..12), 1..10),
            walls in proptest::collection::vec(0u64..5, 10),
            rotate in 0usize..10,
        ) {
            let records: Vec<Record> = parents
                .iter()
                .enumerate()
                .map(|(i, p)| rec(i as u128, &format!("n{i}"), *p, walls[i]))
                .collect();
            let tree = Tree::build(records.clone());
            let order = tree.in_order();
            proptest::prop_assert_eq!(order.len(), records.len());
            for r in &records {
                proptest::prop_assert!(tree.ancestors(r.id).take(records.len() + 1).count() <= records.len(), "no cycle");
                let shown = tree.parent(&r.id);
                proptest::prop_assert!(shown.is_none() || shown == r.parent, "a parent is kept or dropped");
            }
            let mut rotated = records.clone();
            rotated.rotate_left(rotate % records.len());
            rotated.reverse();
            let again = Tree::build(rotated);
            for r in &records {
                proptest::prop_assert_eq!(again.parent(&r.id), tree.parent(&r.id));
            }
        }
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(clean_name("  Work ").expect("trimmed"), "Work");
        assert!(matches!(clean_name(" "), Err(Error::Invalid(_))));
        assert!(matches!(clean_name("a/b"), Err(Error::Invalid(_))));
        assert!(matches!(clean_name(&"x".repeat(201)), Err(Error::TooLarge { .. })));
    }
}
