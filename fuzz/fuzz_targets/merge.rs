//! The note merge (`outpost_core::merge`): three versions of a note with
//! bodies built from a small set of lines (so the sides share lines and the
//! diff3 has real work: overlaps, moves, repeats, marker look-alikes) or
//! from arbitrary text.
//!
//! Checked, for `merge_text(base, ours, theirs)` and for the whole-note
//! `merge` with the default strategy:
//! - no panic;
//! - nothing is lost: a line of ours or theirs that is not a line of the
//!   base is a line of the result (conflict markers are allowed around it);
//! - a side that did not change gives the other side exactly:
//!   `merge(base, x, base) = x` and `merge(base, base, x) = x`;
//! - both sides making the same change gives that change, cleanly.

#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use outpost_core::merge::{merge, merge_text, Strategy, Version};
use outpost_protocol::Hlc;

/// Lines the sides pick from; markers included, so a note that already
/// holds an old conflict is merged too.
const LINES: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "", " ", "alpha ", "# Title", "- [ ] todo", "<<<<<<< ours", "=======",
    ">>>>>>> theirs", "\r", "ünïcödé 🙂",
];

#[derive(Arbitrary, Debug)]
enum Text {
    /// Lines from [`LINES`], `\n`-joined, with or without a final newline.
    Lines(Vec<u8>, bool),
    Raw(String),
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Lines(picks, final_newline) => {
                let mut s = picks.iter().map(|&i| LINES[usize::from(i) % LINES.len()]).collect::<Vec<_>>().join("\n");
                if *final_newline && !s.is_empty() {
                    s.push('\n');
                }
                s
            }
            Text::Raw(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct VersionIn {
    title: String,
    body: Text,
    tags: Vec<String>,
    pinned: bool,
    deleted: bool,
    wall_ms: u64,
    counter: u32,
    node: u64,
}

impl VersionIn {
    fn version(&self) -> Version {
        Version {
            title: self.title.clone(),
            body: self.body.render(),
            tags: self.tags.clone(),
            pinned: self.pinned,
            notebook: None,
            deleted: self.deleted,
            hlc: Hlc::new(self.wall_ms, self.counter, self.node),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: Option<VersionIn>,
    local: VersionIn,
    remote: VersionIn,
}

/// The lines of `s`, as the merge sees them: split at `\n` only (a `\r`
/// is part of its line), a final newline adding none. (`str::lines` would
/// also strip a `\r` before a `\n`, so a last line "\r" that gains a
/// newline in the merge looked lost: the oracle's mistake, found by the
/// fuzzer itself.)
fn lines(s: &str) -> HashSet<&str> {
    s.split_terminator('\n').collect()
}

/// Every line that `side` has and `base` has not is in `merged`.
fn assert_kept(base: &str, side: &str, merged: &str, which: &str) {
    let (base, merged) = (lines(base), lines(merged));
    for line in lines(side) {
        assert!(base.contains(line) || merged.contains(line), "{which}'s new line {line:?} is lost");
    }
}

fn check_text(base: &str, ours: &str, theirs: &str) {
    let (merged, _clean) = merge_text(base, ours, theirs);
    assert_kept(base, ours, &merged, "ours");
    assert_kept(base, theirs, &merged, "theirs");
    assert_eq!(merge_text(base, ours, base), (ours.to_owned(), true), "merge(base, x, base) is not x");
    assert_eq!(merge_text(base, base, ours), (ours.to_owned(), true), "merge(base, base, x) is not x");
    assert_eq!(merge_text(base, ours, ours), (ours.to_owned(), true), "the same change twice is not that change");
}

fuzz_target!(|input: Input| {
    let base = input.base.as_ref().map(VersionIn::version);
    let (local, remote) = (input.local.version(), input.remote.version());
    let base_body = base.as_ref().map_or("", |b| b.body.as_str());
    check_text(base_body, &local.body, &remote.body);

    let merged = merge(base.as_ref(), &local, &remote, Strategy::AutoMerge);
    if !local.deleted && !remote.deleted {
        // A deleted base counts as no base (there is no text to merge on).
        let merge_base = base.as_ref().filter(|b| !b.deleted).map_or("", |b| b.body.as_str());
        assert_kept(merge_base, &local.body, &merged.body, "local");
        assert_kept(merge_base, &remote.body, &merged.body, "remote");
        assert!(!merged.deleted, "two live versions merged into a deletion");
    }
    // merge(base, x, base) = x for a live note on a live base, whichever
    // side x is on and whatever the clocks say.
    if let Some(b) = base.as_ref().filter(|b| !b.deleted) {
        if !local.deleted {
            for strategy in [Strategy::AutoMerge, Strategy::AlwaysAsk] {
                let m = merge(Some(b), &local, b, strategy);
                assert!(m.same_content(&local), "merge(base, x, base) is not x: {m:?}");
                let m = merge(Some(b), b, &local, strategy);
                assert!(m.same_content(&local), "merge(base, base, x) is not x: {m:?}");
            }
        }
    }
});
