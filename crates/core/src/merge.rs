//! Merging concurrent versions of one note (DESIGN.md, Conflicts). Pure: no
//! store, no keys; `vault::replica` feeds it decrypted versions and writes
//! the result.
//!
//! - Title, tags, pinned and notebook merge per field: a field changed on one side
//!   only takes that side; changed on both, the later HLC wins (never the
//!   wall clock: device clocks are wrong).
//! - The body merges three-way against the stored base with `diffy` (diff3).
//!   Overlapping edits keep both sides between conflict markers, so the note
//!   holds every word and all devices converge on the same text, and the
//!   caller opens a conflict for the user to settle.
//! - Without a base (this device has no version in common with the other
//!   side that it knows of: a server reset or restored from an old backup)
//!   the lines both sides share stand in for it, so each side only adds:
//!   nothing of either is dropped. A result that is neither side is a blend
//!   nobody wrote, and the user is asked to confirm it.
//! - Edit against delete: the edit wins and the note comes back.
//! - Strategies: auto-merge (default), last-writer-wins (the whole note by
//!   HLC; the loser is kept as a settled conflict), always-ask (every
//!   concurrent edit opens a conflict).

use outpost_protocol::Hlc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One version of a note, in plaintext (in memory only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    /// The note's notebook (a notebook's parent); a field of its own, so a
    /// move on one device and an edit on another both survive.
    pub notebook: Option<Uuid>,
    pub deleted: bool,
    pub hlc: Hlc,
}

/// How concurrent edits of a note are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Strategy {
    /// Merge fields and bodies; ask only when body edits overlap.
    #[default]
    AutoMerge,
    /// The later change (by HLC) wins whole; the other is kept as history.
    LastWriterWins,
    /// Merge, but let the user confirm every concurrent edit.
    AlwaysAsk,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::AutoMerge => "auto_merge",
            Strategy::LastWriterWins => "last_writer_wins",
            Strategy::AlwaysAsk => "always_ask",
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().replace('-', "_").as_str() {
            "auto_merge" | "auto" => Ok(Strategy::AutoMerge),
            "last_writer_wins" | "lww" => Ok(Strategy::LastWriterWins),
            "always_ask" | "ask" => Ok(Strategy::AlwaysAsk),
            other => Err(format!("{other:?} is not a conflict strategy (auto-merge, last-writer-wins, always-ask)")),
        }
    }
}

/// Which version a decision took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Local,
    Remote,
}

/// What a merge decided, beside the merged content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything merged without overlap.
    Clean,
    /// Body edits overlapped: both kept between markers; ask the user.
    Overlap,
    /// Merged cleanly, but the strategy asks the user to confirm.
    Confirm,
    /// One side deleted, the other edited: the edit won and the note is
    /// back. `edited` is the side whose edit won.
    Restored { edited: Side },
    /// Last-writer-wins took `winner` whole.
    LastWriterWins { winner: Side },
}

impl Outcome {
    /// Whether the user should be asked (an open conflict).
    pub fn needs_user(self) -> bool {
        matches!(self, Outcome::Overlap | Outcome::Confirm)
    }
}

/// The merged note and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    pub notebook: Option<Uuid>,
    pub deleted: bool,
    pub outcome: Outcome,
}

impl Merged {
    fn from_version(v: &Version, outcome: Outcome) -> Self {
        Merged {
            title: v.title.clone(),
            body: v.body.clone(),
            tags: v.tags.clone(),
            pinned: v.pinned,
            notebook: v.notebook,
            deleted: v.deleted,
            outcome,
        }
    }

    /// Whether the result is exactly `v`'s content.
    pub fn same_content(&self, v: &Version) -> bool {
        self.deleted == v.deleted
            && (self.deleted
                || (self.title == v.title
                    && self.body == v.body
                    && self.tags == v.tags
                    && self.pinned == v.pinned
                    && self.notebook == v.notebook))
    }
}

/// Merge `local` and `remote`, both descended from `base` (`None` when this
/// device has no common version, e.g. the note never reached the server
/// from here).
pub fn merge(base: Option<&Version>, local: &Version, remote: &Version, strategy: Strategy) -> Merged {
    let base = base.filter(|b| !b.deleted);
    match (local.deleted, remote.deleted) {
        (true, true) => return Merged::from_version(remote, Outcome::Clean),
        (false, true) => return Merged::from_version(local, Outcome::Restored { edited: Side::Local }),
        (true, false) => return Merged::from_version(remote, Outcome::Restored { edited: Side::Remote }),
        (false, false) => {}
    }
    let later = if remote.hlc > local.hlc { Side::Remote } else { Side::Local };
    if strategy == Strategy::LastWriterWins {
        let winner = if later == Side::Remote { remote } else { local };
        return Merged::from_version(winner, Outcome::LastWriterWins { winner: later });
    }
    let choose = |side: Side| if side == Side::Local { local } else { remote };
    let title = choose(pick(base.map(|b| &b.title), &local.title, &remote.title, later)).title.clone();
    let tags = choose(pick(base.map(|b| &b.tags), &local.tags, &remote.tags, later)).tags.clone();
    let pinned = choose(pick(base.map(|b| &b.pinned), &local.pinned, &remote.pinned, later)).pinned;
    let notebook = choose(pick(base.map(|b| &b.notebook), &local.notebook, &remote.notebook, later)).notebook;
    let (body, clean) = match base {
        Some(b) => merge_text(&b.body, &local.body, &remote.body),
        None => merge_unrelated(&local.body, &remote.body),
    };
    let blend = base.is_none() && body != local.body && body != remote.body;
    let outcome = match (clean, strategy) {
        (false, _) => Outcome::Overlap,
        (true, Strategy::AlwaysAsk) => Outcome::Confirm,
        (true, _) if blend => Outcome::Confirm,
        (true, _) => Outcome::Clean,
    };
    Merged { title, body, tags, pinned, notebook, deleted: false, outcome }
}

/// Which side a field takes: the side that changed it, or the later one
/// when both did.
fn pick<T: PartialEq>(base: Option<&T>, local: &T, remote: &T, later: Side) -> Side {
    if local == remote {
        return Side::Local;
    }
    match base {
        Some(b) if b == local => Side::Remote,
        Some(b) if b == remote => Side::Local,
        _ => later,
    }
}

/// Merge two texts with no known common version. The lines both share (a
/// longest common subsequence) stand in for the base, so each side only
/// adds to it and no line of either is dropped: additions in different
/// places merge cleanly, additions in the same place are kept both between
/// markers (not clean). A line one side deleted comes back, which is the
/// safe way to be wrong.
pub fn merge_unrelated(ours: &str, theirs: &str) -> (String, bool) {
    if ours == theirs {
        return (ours.to_owned(), true);
    }
    let (o, t) = (with_final_newline(ours), with_final_newline(theirs));
    merge_text(&shared_lines(&o, &t), ours, theirs)
}

/// The lines `a` and `b` have in common, in order: a common subsequence of
/// their lines, the same whichever side is `a` (so two devices merging the
/// same pair get the same text). The diff aligns them both ways and the
/// longer alignment wins, the smaller text on a tie.
fn shared_lines(a: &str, b: &str) -> String {
    let (x, y) = (aligned_lines(a, b), aligned_lines(b, a));
    match x.lines().count().cmp(&y.lines().count()) {
        std::cmp::Ordering::Greater => x,
        std::cmp::Ordering::Less => y,
        std::cmp::Ordering::Equal => x.min(y),
    }
}

/// The lines a diff from `a` to `b` leaves unchanged.
fn aligned_lines(a: &str, b: &str) -> String {
    let mut opts = diffy::DiffOptions::new();
    // Context wide enough that the one hunk spans both texts whole.
    opts.set_context_len(a.len() + b.len() + 1);
    let patch = opts.create_patch(a, b);
    if patch.hunks().is_empty() {
        return a.to_owned();
    }
    patch
        .hunks()
        .iter()
        .flat_map(|h| h.lines())
        .filter_map(|l| match l {
            diffy::Line::Context(line) => Some(*line),
            diffy::Line::Delete(_) | diffy::Line::Insert(_) => None,
        })
        .collect()
}

/// diff3 works on whole lines: every side gets a final newline, so an edit
/// of the last line is not an overlap with an append after it.
fn with_final_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

/// Three-way merge of text by lines. Returns the merged text and whether
/// it merged cleanly; when it did not, both sides of every overlap are in
/// the text between `<<<<<<< ours` / `=======` / `>>>>>>> theirs` markers,
/// "ours" being this device's version.
pub fn merge_text(base: &str, ours: &str, theirs: &str) -> (String, bool) {
    if ours == theirs {
        return (ours.to_owned(), true);
    }
    if base == ours {
        return (theirs.to_owned(), true);
    }
    if base == theirs {
        return (ours.to_owned(), true);
    }
    let (b, o, t) = (with_final_newline(base), with_final_newline(ours), with_final_newline(theirs));
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Merge);
    let (mut text, clean) = match opts.merge(&b, &o, &t) {
        Ok(text) => (text, true),
        Err(text) => (text, false),
    };
    let unterminated = |s: &str| !s.is_empty() && !s.ends_with('\n');
    if text.ends_with('\n') && unterminated(ours) && unterminated(theirs) {
        text.pop();
    }
    (text, clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest};
    use proptest::strategy::Strategy as Gen;

    fn v(title: &str, body: &str, hlc: u64) -> Version {
        Version {
            title: title.into(),
            body: body.into(),
            tags: vec![],
            pinned: false,
            notebook: None,
            deleted: false,
            hlc: Hlc::new(hlc, 0, 1),
        }
    }

    #[test]
    fn different_lines_merge_cleanly() {
        let base = v("T", "one\ntwo\nthree\n", 1);
        let local = v("T", "ONE\ntwo\nthree\n", 2);
        let remote = v("T", "one\ntwo\nTHREE\n", 3);
        let m = merge(Some(&base), &local, &remote, Strategy::AutoMerge);
        assert_eq!(m.outcome, Outcome::Clean);
        assert_eq!(m.body, "ONE\ntwo\nTHREE\n");
    }

    #[test]
    fn the_same_line_keeps_both_between_markers() {
        let base = v("T", "one\ntwo\nthree", 1);
        let local = v("T", "one\nmine\nthree", 2);
        let remote = v("T", "one\ntheirs\nthree", 3);
        let m = merge(Some(&base), &local, &remote, Strategy::AutoMerge);
        assert_eq!(m.outcome, Outcome::Overlap);
        assert!(m.outcome.needs_user());
        assert_eq!(m.body, "one\n<<<<<<< ours\nmine\n=======\ntheirs\n>>>>>>> theirs\nthree");
    }

    #[test]
    fn fields_merge_separately_by_side_then_by_clock() {
        let base = v("Base", "body", 1);
        let local = v("Base", "body edited here", 2);
        let mut remote = v("Renamed", "body", 3);
        remote.pinned = true;
        let m = merge(Some(&base), &local, &remote, Strategy::AutoMerge);
        assert_eq!((m.title.as_str(), m.body.as_str(), m.pinned), ("Renamed", "body edited here", true));
        // Both renamed: the later stamp wins, whichever side it is on.
        let local = v("Mine", "body", 9);
        let remote = v("Theirs", "body", 3);
        assert_eq!(merge(Some(&base), &local, &remote, Strategy::AutoMerge).title, "Mine");
        let remote = v("Theirs", "body", 10);
        assert_eq!(merge(Some(&base), &local, &remote, Strategy::AutoMerge).title, "Theirs");
    }

    #[test]
    fn a_move_and_an_edit_on_two_devices_both_survive() {
        let base = v("T", "body", 1);
        let mut local = v("T", "body", 2);
        local.notebook = Some(Uuid::from_u128(7));
        let remote = v("T", "body edited there", 3);
        let m = merge(Some(&base), &local, &remote, Strategy::AutoMerge);
        assert_eq!(
            (m.notebook, m.body.as_str(), m.outcome),
            (Some(Uuid::from_u128(7)), "body edited there", Outcome::Clean)
        );
        // Moved on both sides: the later move wins.
        let mut remote = v("T", "body", 3);
        remote.notebook = Some(Uuid::from_u128(8));
        assert_eq!(merge(Some(&base), &local, &remote, Strategy::AutoMerge).notebook, Some(Uuid::from_u128(8)));
    }

    #[test]
    fn an_edit_beats_a_delete_either_way() {
        let base = v("T", "b", 1);
        let edit = v("T", "b edited", 2);
        let mut gone = v("", "", 3);
        gone.deleted = true;
        let m = merge(Some(&base), &edit, &gone, Strategy::AutoMerge);
        assert_eq!(m.outcome, Outcome::Restored { edited: Side::Local });
        assert_eq!((m.deleted, m.body.as_str()), (false, "b edited"));
        let m = merge(Some(&base), &gone, &edit, Strategy::LastWriterWins);
        assert_eq!(m.outcome, Outcome::Restored { edited: Side::Remote });
        assert!(!m.deleted);
        let m = merge(Some(&base), &gone, &gone, Strategy::AutoMerge);
        assert!(m.deleted);
    }

    #[test]
    fn strategies() {
        let base = v("T", "a\nb\nc\n", 1);
        let local = v("L", "A\nb\nc\n", 5);
        let remote = v("R", "a\nb\nC\n", 4);
        let lww = merge(Some(&base), &local, &remote, Strategy::LastWriterWins);
        assert_eq!(lww.outcome, Outcome::LastWriterWins { winner: Side::Local });
        assert!(lww.same_content(&local));
        let ask = merge(Some(&base), &local, &remote, Strategy::AlwaysAsk);
        assert_eq!((ask.outcome, ask.body.as_str()), (Outcome::Confirm, "A\nb\nC\n"));
    }

    #[test]
    fn no_base_merges_as_two_additions() {
        let m = merge(None, &v("T", "same", 1), &v("T", "same", 2), Strategy::AutoMerge);
        assert_eq!((m.outcome, m.body.as_str()), (Outcome::Clean, "same"));
        let m = merge(None, &v("T", "mine", 1), &v("T", "theirs", 2), Strategy::AutoMerge);
        assert_eq!(m.outcome, Outcome::Overlap);
        assert!(m.body.contains("mine") && m.body.contains("theirs"));
    }

    #[test]
    fn no_base_keeps_every_line_and_asks_about_a_blend() {
        // One side holds the other whole (an old copy and the note it grew
        // into): the fuller one, no question.
        let old = v("T", "line one\n", 1);
        let grown = v("T", "line one\nline two\n", 2);
        let m = merge(None, &grown, &old, Strategy::AutoMerge);
        assert_eq!((m.outcome, m.body.as_str()), (Outcome::Clean, "line one\nline two\n"));
        let m = merge(None, &old, &grown, Strategy::AutoMerge);
        assert_eq!((m.outcome, m.body.as_str()), (Outcome::Clean, "line one\nline two\n"));
        // Additions in different places: both kept, and the user confirms
        // the blend.
        let mine = v("T", "top\nshared\n", 1);
        let theirs = v("T", "shared\nbottom", 2);
        let m = merge(None, &mine, &theirs, Strategy::AutoMerge);
        assert_eq!((m.outcome, m.body.as_str()), (Outcome::Confirm, "top\nshared\nbottom\n"));
        // A line one side removed comes back rather than being lost.
        let cut = v("T", "a\nc\n", 1);
        let full = v("T", "a\nb\nc\nd\n", 2);
        let m = merge(None, &cut, &full, Strategy::AutoMerge);
        assert_eq!((m.outcome, m.body.as_str()), (Outcome::Clean, "a\nb\nc\nd\n"));
    }

    fn lines() -> impl Gen<Value = Vec<String>> {
        proptest::collection::vec("[a-d]{0,3}", 0..8)
    }

    proptest! {
        // merge(base, x, base) = x and merge(base, base, x) = x.
        #[test]
        fn unchanged_side_takes_the_other(base in lines(), x in lines()) {
            let (b, x) = (base.join("\n"), x.join("\n"));
            prop_assert_eq!(merge_text(&b, &x, &b), (x.clone(), true));
            prop_assert_eq!(merge_text(&b, &b, &x), (x, true));
        }

        // A clean merge is symmetric; an overlap keeps every line of both
        // sides that is not in the base.
        #[test]
        fn merges_are_symmetric_and_lose_nothing(base in lines(), o in lines(), t in lines()) {
            let (b, o, t) = (base.join("\n"), o.join("\n"), t.join("\n"));
            let (m1, c1) = merge_text(&b, &o, &t);
            let (m2, c2) = merge_text(&b, &t, &o);
            prop_assert_eq!(c1, c2);
            if c1 {
                prop_assert_eq!(&m1, &m2);
            }
            let merged: Vec<&str> = m1.lines().collect();
            for line in o.lines().chain(t.lines()) {
                if !b.lines().any(|l| l == line) {
                    prop_assert!(merged.contains(&line), "{:?} lost from {:?}", line, m1);
                }
            }
        }

        // With no base, every line of both sides is in the result, as
        // often as either side has it; a side that holds the other whole
        // is the result; and the sides may be swapped.
        #[test]
        fn merges_without_a_base_lose_no_line(o in lines(), t in lines()) {
            let (o, t) = (o.join("\n"), t.join("\n"));
            let (m, clean) = merge_unrelated(&o, &t);
            let (m2, clean2) = merge_unrelated(&t, &o);
            prop_assert_eq!(clean, clean2);
            if clean {
                prop_assert_eq!(&m, &m2);
            }
            let count = |text: &str, line: &str| text.lines().filter(|l| *l == line).count();
            for line in o.lines().chain(t.lines()) {
                prop_assert!(
                    count(&m, line) >= count(&o, line).max(count(&t, line)),
                    "{:?} lost from {:?} (ours {:?}, theirs {:?})", line, m, o, t
                );
            }
            if clean && shared_lines(&with_final_newline(&o), &with_final_newline(&t)) == with_final_newline(&t) {
                prop_assert_eq!(m.trim_end_matches('\n'), o.trim_end_matches('\n'));
            }
        }
    }
}
