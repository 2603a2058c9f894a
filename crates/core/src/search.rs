//! Full-text search over decrypted notes, in memory only.
//!
//! The [`Index`] is an inverted index (folded word → notes and counts)
//! built from the decrypted notes on the first query after unlock and kept
//! current by the vault (see `Vault::search`). It lives on the heap of the
//! process and is never written anywhere: no plaintext at rest.
//!
//! # Matching rules (the index and [`matches`] agree on them)
//! - Text is cut into words by Unicode word boundaries (UAX #29) and each
//!   word is folded: decomposed (NFD), combining marks dropped, lowercased;
//!   so `Café`, `CAFE` and `cafe` are the same word.
//! - Every query word must be a word of the note's title, body or tags.
//!   The last word is a prefix while the user types (the query does not end
//!   in a space): `harb` finds `harbour`.
//! - `"a quoted phrase"`: those words one after another in the title or the
//!   body.
//! - `tag:NAME`: the note has a tag equal to NAME (folded); `is:pinned`:
//!   the note is pinned.
//! - `notebook:NAME` (or `notebook:"Two words"`): the note is in a
//!   notebook named NAME (folded) or in a notebook inside one. The words of
//!   the names of a note's notebook and of those above it count as words
//!   of the note, like its tags.
//!
//! Ranking is BM25 over the words (title and tag words count three times),
//! ties by pinned, then most recently updated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use outpost_protocol::Hlc;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use uuid::Uuid;

/// How much a word in the title (or a tag) weighs against one in the body.
const TITLE_WEIGHT: f32 = 3.0;
/// BM25's usual constants.
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Characters of context kept before and after the first match.
const SNIPPET_BEFORE: usize = 30;
const SNIPPET_AFTER: usize = 50;

/// A word folded for matching: NFD, combining marks dropped, lowercase.
pub fn fold(word: &str) -> String {
    if word.is_ascii() {
        // The common case, without decomposing.
        return word.to_ascii_lowercase();
    }
    word.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

/// The words of `text`, folded, with their byte ranges in `text`.
pub fn words(text: &str) -> impl Iterator<Item = (usize, usize, String)> + '_ {
    text.unicode_word_indices().map(|(at, w)| (at, at + w.len(), fold(w))).filter(|(_, _, w)| !w.is_empty())
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words that must appear whole.
    pub words: Vec<String>,
    /// The last word as typed: some word must start with it.
    pub prefix: Option<String>,
    /// Word sequences that must appear in order in the title or the body.
    pub phrases: Vec<Vec<String>>,
    /// Folded tag names the note must carry.
    pub tags: Vec<String>,
    pub pinned: bool,
    /// Folded notebook names the note must be in (or under).
    pub notebooks: Vec<String>,
}

impl Query {
    /// Parse what the user typed. Never fails: anything that is not a
    /// filter or a phrase is words.
    pub fn parse(input: &str) -> Self {
        let mut q = Query::default();
        let mut rest = input;
        // Whether the last thing read was plain words (for the prefix).
        let mut last_plain = false;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if let Some(after) = rest.strip_prefix('"') {
                let (inside, next) = match after.find('"') {
                    Some(end) => (&after[..end], &after[end + 1..]),
                    None => (after, ""),
                };
                let phrase: Vec<String> = words(inside).map(|(_, _, w)| w).collect();
                match phrase.len() {
                    0 => {}
                    1 => q.words.extend(phrase),
                    _ => q.phrases.push(phrase),
                }
                last_plain = false;
                rest = next;
                continue;
            }
            let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
            let chunk = &rest[..end];
            rest = &rest[end..];
            last_plain = false;
            let lower = chunk.to_lowercase();
            if let Some(name) = lower.strip_prefix("notebook:") {
                let name = match (name.is_empty(), rest.strip_prefix('"')) {
                    // `notebook:"Two words"`: the quoted name.
                    (true, Some(after)) => {
                        let (inside, next) = match after.find('"') {
                            Some(end) => (&after[..end], &after[end + 1..]),
                            None => (after, ""),
                        };
                        rest = next;
                        fold(inside.trim())
                    }
                    _ => fold(name),
                };
                if !name.is_empty() {
                    q.notebooks.push(name);
                }
            } else if let Some(name) = lower.strip_prefix("tag:") {
                let name = fold(name.trim_start_matches('#'));
                if !name.is_empty() {
                    q.tags.push(name);
                }
            } else if lower == "is:pinned" {
                q.pinned = true;
            } else {
                let before = q.words.len();
                q.words.extend(words(chunk).map(|(_, _, w)| w));
                last_plain = q.words.len() > before;
            }
        }
        if last_plain && !input.ends_with(char::is_whitespace) {
            q.prefix = q.words.pop();
        }
        q
    }

    /// Nothing to look for: no words, phrases or filters.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.prefix.is_none()
            && self.phrases.is_empty()
            && self.tags.is_empty()
            && !self.pinned
            && self.notebooks.is_empty()
    }

    /// Whether `word` (folded) is one the query looks for (for highlights).
    fn hits(&self, word: &str) -> bool {
        self.words.iter().any(|w| w == word)
            || self.phrases.iter().flatten().any(|w| w == word)
            || self.prefix.as_deref().is_some_and(|p| word.starts_with(p))
    }
}

/// What search sees of a note.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Doc {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    /// The notebook the note is in, as stored.
    pub notebook: Option<Uuid>,
    /// The names of its notebook and of those above it, from the top (as
    /// the notebook tree shows it now; empty for no notebook).
    pub notebooks: Vec<String>,
}

impl fmt::Debug for Doc {
    // Never note content in logs or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doc").field("title_bytes", &self.title.len()).field("body_bytes", &self.body.len()).finish()
    }
}

fn folded_tags(tags: &[String]) -> impl Iterator<Item = String> + '_ {
    tags.iter().map(|t| fold(t.trim_start_matches('#')))
}

/// Whether `phrase` occurs, word after word, in `text`; stops at the
/// first occurrence.
fn has_phrase(text: &str, phrase: &[String]) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let mut last: std::collections::VecDeque<String> = std::collections::VecDeque::with_capacity(phrase.len());
    for (_, _, w) in words(text) {
        if last.len() == phrase.len() {
            last.pop_front();
        }
        last.push_back(w);
        if last.len() == phrase.len() && last.iter().zip(phrase).all(|(a, b)| a == b) {
            return true;
        }
    }
    false
}

fn phrases_match(q: &Query, doc: &Doc) -> bool {
    q.phrases.iter().all(|p| has_phrase(&doc.title, p) || has_phrase(&doc.body, p))
}

fn has_seq(haystack: &[u32], needle: &[u32]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn filters_match(q: &Query, doc: &Doc) -> bool {
    (!q.pinned || doc.pinned)
        && q.tags.iter().all(|t| folded_tags(&doc.tags).any(|d| &d == t))
        && q.notebooks.iter().all(|n| doc.notebooks.iter().any(|d| &fold(d) == n))
}

/// The brute-force reading of the rules: does `doc` match `q`? What the
/// index must agree with (the property tests compare them).
pub fn matches(q: &Query, doc: &Doc) -> bool {
    if q.is_empty() || !filters_match(q, doc) {
        return false;
    }
    let all: HashSet<String> = words(&doc.title)
        .chain(words(&doc.body))
        .map(|(_, _, w)| w)
        .chain(doc.tags.iter().flat_map(|t| words(t).map(|(_, _, w)| w).collect::<Vec<_>>()))
        .chain(doc.notebooks.iter().flat_map(|t| words(t).map(|(_, _, w)| w).collect::<Vec<_>>()))
        .collect();
    q.words.iter().all(|w| all.contains(w))
        && q.prefix.as_deref().is_none_or(|p| all.iter().any(|w| w.starts_with(p)))
        && phrases_match(q, doc)
}

/// A highlighted range, in UTF-16 code units (what a web UI indexes
/// strings by), end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Highlight {
    pub start: u32,
    pub end: u32,
}

/// A snippet of the body around the first match, and where the matches
/// in it are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<Highlight>,
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// Ranges of `text` (UTF-16) holding words the query looks for.
pub fn highlights(q: &Query, text: &str) -> Vec<Highlight> {
    let mut out = Vec::new();
    let mut pos16 = 0u32;
    let mut pos = 0usize;
    for (start, end, w) in words(text) {
        if q.hits(&w) {
            pos16 += utf16_len(&text[pos..start]);
            let len = utf16_len(&text[start..end]);
            out.push(Highlight { start: pos16, end: pos16 + len });
            pos16 += len;
            pos = end;
        }
    }
    out
}

/// About 80 characters of `body` around the first word the query looks
/// for (the start of the body when none is in it), on char boundaries,
/// line breaks as spaces, with an ellipsis where text was cut.
pub fn snippet(q: &Query, body: &str) -> Snippet {
    let first = words(body).find(|(_, _, w)| q.hits(w)).map(|(start, _, _)| start).unwrap_or(0);
    let at = body[..first].chars().count();
    let start_char = at.saturating_sub(SNIPPET_BEFORE);
    let start = body.char_indices().nth(start_char).map_or(body.len(), |(i, _)| i);
    let end = body[start..].char_indices().nth(at - start_char + SNIPPET_AFTER).map_or(body.len(), |(i, _)| start + i);
    let window = &body[start..end];
    let mut text = String::new();
    if start > 0 {
        text.push('…');
    }
    let lead = utf16_len(&text);
    text.extend(window.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }));
    let highlights =
        highlights(q, window).into_iter().map(|h| Highlight { start: h.start + lead, end: h.end + lead }).collect();
    if start + window.len() < body.len() {
        text.push('…');
    }
    Snippet { text, highlights }
}

/// A search hit as the vault reports it: the hit the app and the CLI
/// show, its score, and what to highlight in its snippet and title.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedHit {
    pub hit: crate::model::SearchHit,
    pub score: f32,
    /// Ranges of `hit.snippet` to highlight (UTF-16 code units).
    pub snippet_highlights: Vec<Highlight>,
    /// Ranges of `hit.note.title` to highlight (UTF-16 code units).
    pub title_highlights: Vec<Highlight>,
}

/// How often a word occurs in a note's title and tags, and in its body.
#[derive(Debug, Clone, Copy, Default)]
struct Tf {
    title: u16,
    body: u16,
}

impl Tf {
    fn weighted(self) -> f32 {
        TITLE_WEIGHT * f32::from(self.title) + f32::from(self.body)
    }
}

struct Entry {
    id: Uuid,
    hlc: Hlc,
    updated_at: i64,
    doc: Doc,
    /// Weighted length, for BM25's length normalisation.
    len: f32,
    /// The distinct words (ids in `vocab`), to take the note out of the
    /// postings.
    terms: Box<[u32]>,
    /// The title's and the body's words in order (ids in `vocab`), for
    /// phrases.
    title_seq: Box<[u32]>,
    body_seq: Box<[u32]>,
    /// The tags, folded, for `tag:`.
    tags: Vec<String>,
    /// The notebook names of `doc.notebooks`, folded, for `notebook:`.
    notebooks: Vec<String>,
}

impl Entry {
    fn filters_match(&self, q: &Query) -> bool {
        (!q.pinned || self.doc.pinned)
            && q.tags.iter().all(|t| self.tags.contains(t))
            && q.notebooks.iter().all(|n| self.notebooks.contains(n))
    }
}

/// A note that matched, and its score (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub id: Uuid,
    pub score: f32,
}

/// The in-memory inverted index. See the module docs.
#[derive(Default)]
pub struct Index {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<Uuid, u32>,
    postings: BTreeMap<String, HashMap<u32, Tf>>,
    /// Every word seen, numbered (for the word sequences); grows with the
    /// vocabulary only.
    vocab: HashMap<String, u32>,
    /// `vocab` the other way round.
    spelled: Vec<String>,
    total_len: f64,
    /// What the store looked like when the index was last brought up to
    /// date (kept by the vault).
    pub(crate) stamp: Option<(u64, i64)>,
    /// The notebook records (id and stamp) the notes' notebook names were
    /// taken from (kept by the vault).
    pub(crate) notebooks_stamp: Option<Vec<(Uuid, Hlc)>>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index").field("notes", &self.len()).field("words", &self.postings.len()).finish()
    }
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Distinct words indexed.
    pub fn word_count(&self) -> usize {
        self.postings.len()
    }

    /// The stamp of the version of note `id` indexed, if any.
    pub fn indexed_stamp(&self, id: &Uuid) -> Option<Hlc> {
        self.by_id.get(id).and_then(|&s| self.slots[s as usize].as_ref()).map(|e| e.hlc)
    }

    /// The ids indexed.
    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.by_id.keys().copied()
    }

    /// The indexed note `id`, as search sees it.
    pub fn doc(&self, id: &Uuid) -> Option<&Doc> {
        self.entry(id).map(|e| &e.doc)
    }

    /// When the indexed version of `id` was updated.
    pub fn updated_at(&self, id: &Uuid) -> Option<i64> {
        self.entry(id).map(|e| e.updated_at)
    }

    fn entry(&self, id: &Uuid) -> Option<&Entry> {
        self.by_id.get(id).and_then(|&s| self.slots[s as usize].as_ref())
    }

    /// Add note `id` (or replace the version indexed).
    pub fn insert(&mut self, id: Uuid, hlc: Hlc, updated_at: i64, doc: Doc) {
        self.remove(&id);
        let mut tfs: HashMap<String, Tf> = HashMap::new();
        let mut len = 0.0;
        let mut seq = |text: &str, tfs: &mut HashMap<String, Tf>, title: bool| -> Box<[u32]> {
            let mut out = Vec::new();
            for (_, _, w) in words(text) {
                let id = match self.vocab.get(&w) {
                    Some(&id) => id,
                    None => {
                        let id = self.spelled.len() as u32;
                        self.vocab.insert(w.clone(), id);
                        self.spelled.push(w.clone());
                        id
                    }
                };
                out.push(id);
                let tf = tfs.entry(w).or_default();
                if title {
                    tf.title = tf.title.saturating_add(1);
                    len += TITLE_WEIGHT;
                } else {
                    tf.body = tf.body.saturating_add(1);
                    len += 1.0;
                }
            }
            out.into_boxed_slice()
        };
        let title_seq = seq(&doc.title, &mut tfs, true);
        for t in doc.tags.iter().chain(&doc.notebooks) {
            seq(t, &mut tfs, true);
        }
        let body_seq = seq(&doc.body, &mut tfs, false);
        let tags = folded_tags(&doc.tags).collect();
        let notebooks = doc.notebooks.iter().map(|n| fold(n)).collect();
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let mut terms = Vec::with_capacity(tfs.len());
        for (w, tf) in tfs {
            terms.push(self.vocab[&w]);
            self.postings.entry(w).or_default().insert(slot, tf);
        }
        let terms = terms.into_boxed_slice();
        self.total_len += f64::from(len);
        self.slots[slot as usize] =
            Some(Entry { id, hlc, updated_at, doc, len, terms, title_seq, body_seq, tags, notebooks });
        self.by_id.insert(id, slot);
    }

    /// Give note `id` the notebook names `names` (its notebook was renamed
    /// or moved): re-indexed from the text held here, nothing decrypted.
    /// Nothing when they are the names it has, or it is not in.
    pub fn set_notebook_names(&mut self, id: &Uuid, names: Vec<String>) {
        let Some(entry) = self.entry(id) else { return };
        if entry.doc.notebooks == names {
            return;
        }
        let (hlc, updated_at) = (entry.hlc, entry.updated_at);
        let doc = Doc { notebooks: names, ..entry.doc.clone() };
        self.insert(*id, hlc, updated_at, doc);
    }

    /// Take note `id` out; nothing if it is not in.
    pub fn remove(&mut self, id: &Uuid) {
        let Some(slot) = self.by_id.remove(id) else { return };
        let Some(entry) = self.slots[slot as usize].take() else { return };
        for &t in entry.terms.iter() {
            let w = &self.spelled[t as usize];
            if let Some(p) = self.postings.get_mut(w) {
                p.remove(&slot);
                if p.is_empty() {
                    self.postings.remove(w);
                }
            }
        }
        self.total_len -= f64::from(entry.len);
        self.free.push(slot);
    }

    fn idf(&self, df: usize) -> f32 {
        let n = self.len() as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn bm25(&self, tf: Tf, idf: f32, len: f32, avg: f32) -> f32 {
        let tf = tf.weighted();
        idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg))
    }

    /// The notes matching `q`, best first.
    pub fn search(&self, q: &Query) -> Vec<Ranked> {
        self.search_top(q, usize::MAX)
    }

    /// The best `limit` notes matching `q`, best first.
    pub fn search_top(&self, q: &Query, limit: usize) -> Vec<Ranked> {
        if q.is_empty() || self.is_empty() {
            return Vec::new();
        }
        let avg = (self.total_len / self.len() as f64).max(1.0) as f32;
        // Every whole word (query words and the phrases' words) is needed.
        let mut exact: Vec<&String> = q.words.iter().chain(q.phrases.iter().flatten()).collect();
        exact.sort();
        exact.dedup();
        let mut lists = Vec::with_capacity(exact.len());
        for w in &exact {
            match self.postings.get(*w) {
                Some(p) => lists.push(p),
                None => return Vec::new(),
            }
        }
        // The prefix: the best-scoring word it starts, per note.
        let prefix_scores: Option<HashMap<u32, f32>> = q.prefix.as_ref().map(|p| {
            let mut best: HashMap<u32, f32> = HashMap::new();
            for (_, posting) in self
                .postings
                .range::<str, _>((std::ops::Bound::Included(p.as_str()), std::ops::Bound::Unbounded))
                .take_while(|(w, _)| w.starts_with(p.as_str()))
            {
                let idf = self.idf(posting.len());
                for (&slot, &tf) in posting {
                    let len = self.slots[slot as usize].as_ref().map_or(avg, |e| e.len);
                    let s = self.bm25(tf, idf, len, avg);
                    let b = best.entry(slot).or_insert(0.0);
                    if s > *b {
                        *b = s;
                    }
                }
            }
            best
        });
        if prefix_scores.as_ref().is_some_and(HashMap::is_empty) {
            return Vec::new();
        }
        lists.sort_by_key(|p| p.len());
        let candidates: Vec<u32> = match (lists.first(), &prefix_scores) {
            (Some(smallest), Some(pre)) if pre.len() < smallest.len() => pre.keys().copied().collect(),
            (Some(smallest), _) => smallest.keys().copied().collect(),
            (None, Some(pre)) => pre.keys().copied().collect(),
            (None, None) => self.by_id.values().copied().collect(),
        };
        let idfs: Vec<f32> = lists.iter().map(|p| self.idf(p.len())).collect();
        // Every phrase word is in `postings`, so in `vocab`.
        let phrase_seqs: Vec<Vec<u32>> = q
            .phrases
            .iter()
            .map(|p| p.iter().map(|w| self.vocab.get(w).copied().unwrap_or(u32::MAX)).collect())
            .collect();
        let mut out = Vec::new();
        'next: for slot in candidates {
            let Some(entry) = self.slots[slot as usize].as_ref() else { continue };
            let mut score = 0.0;
            for (p, idf) in lists.iter().zip(&idfs) {
                match p.get(&slot) {
                    Some(&tf) => score += self.bm25(tf, *idf, entry.len, avg),
                    None => continue 'next,
                }
            }
            if let Some(pre) = &prefix_scores {
                match pre.get(&slot) {
                    Some(s) => score += s,
                    None => continue,
                }
            }
            if !entry.filters_match(q)
                || !phrase_seqs.iter().all(|p| has_seq(&entry.title_seq, p) || has_seq(&entry.body_seq, p))
            {
                continue;
            }
            out.push((Ranked { id: entry.id, score }, entry.doc.pinned, entry.updated_at));
        }
        let order = |a: &(Ranked, bool, i64), b: &(Ranked, bool, i64)| {
            b.0.score.total_cmp(&a.0.score).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)).then(a.0.id.cmp(&b.0.id))
        };
        if limit < out.len() {
            // Only the best `limit` need sorting.
            out.select_nth_unstable_by(limit, order);
            out.truncate(limit);
        }
        out.sort_by(order);
        out.into_iter().map(|(r, _, _)| r).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str, body: &str, tags: &[&str], pinned: bool) -> Doc {
        Doc {
            title: title.into(),
            body: body.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pinned,
            ..Doc::default()
        }
    }

    fn ids(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn index(docs: &[Doc]) -> Index {
        let mut ix = Index::new();
        for (i, d) in docs.iter().enumerate() {
            ix.insert(ids(i as u128), Hlc::ZERO, i as i64, d.clone());
        }
        ix
    }

    fn found(ix: &Index, q: &str) -> Vec<Uuid> {
        ix.search(&Query::parse(q)).into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn words_fold_accents_and_case_and_drop_punctuation() {
        let got: Vec<String> = words("Café, CRÈME-brûlée! naïve_2 l'été").map(|(_, _, w)| w).collect();
        assert_eq!(got, ["cafe", "creme", "brulee", "naive_2", "l'ete"]);
        assert_eq!(fold("ÉCOLE"), "ecole");
        // Byte ranges point into the original text.
        let text = "¡Hola señor!";
        let ranges: Vec<&str> = words(text).map(|(s, e, _)| &text[s..e]).collect();
        assert_eq!(ranges, ["Hola", "señor"]);
    }

    #[test]
    fn queries_parse_words_prefix_phrases_and_filters() {
        let q = Query::parse("Tag:Work is:pinned \"Red  Fox\" café harb");
        assert_eq!(q.tags, ["work"]);
        assert!(q.pinned);
        assert_eq!(q.phrases, [vec!["red".to_string(), "fox".to_string()]]);
        assert_eq!(q.words, ["cafe"]);
        assert_eq!(q.prefix.as_deref(), Some("harb"));
        // A trailing space ends the last word: no prefix.
        let q = Query::parse("harbour ");
        assert_eq!((q.words.as_slice(), q.prefix), (["harbour".to_string()].as_slice(), None));
        assert!(Query::parse("  \"\" tag: ").is_empty());
        // An unclosed quote runs to the end.
        assert_eq!(Query::parse("\"a b").phrases, [vec!["a".to_string(), "b".to_string()]]);
    }

    #[test]
    fn words_prefix_and_phrases_match() {
        let ix = index(&[
            doc("Harbour", "the red fox jumps", &[], false),
            doc("Other", "a fox that is red", &["Travel"], false),
            doc("Café", "nothing here", &[], false),
        ]);
        assert_eq!(found(&ix, "harb"), [ids(0)]);
        assert!(found(&ix, "harb ").is_empty(), "a finished word must match whole");
        assert_eq!(found(&ix, "\"red fox\""), [ids(0)]);
        assert_eq!(found(&ix, "cafe "), [ids(2)]);
        assert_eq!(found(&ix, "CAFÉ "), [ids(2)]);
        assert_eq!(found(&ix, "travel "), [ids(1)], "tags are searched as words");
        assert!(found(&ix, "fox zebra ").is_empty());
    }

    #[test]
    fn filters_narrow_and_work_alone() {
        let ix = index(&[
            doc("a", "apple", &["Work"], true),
            doc("b", "apple", &["work", "home"], false),
            doc("c", "apple", &["home"], true),
        ]);
        let mut got = found(&ix, "tag:work");
        got.sort();
        assert_eq!(got, [ids(0), ids(1)]);
        assert_eq!(found(&ix, "tag:WORK is:pinned"), [ids(0)]);
        assert_eq!(found(&ix, "apple tag:home is:pinned"), [ids(2)]);
        assert!(found(&ix, "tag:nothing").is_empty());
        assert!(found(&ix, "tag:wor").is_empty(), "tags match whole");
    }

    #[test]
    fn notebook_filters_match_the_notebook_and_those_above_it() {
        let mut ix =
            index(&[doc("a", "apple", &[], false), doc("b", "apple", &[], false), doc("c", "apple", &[], false)]);
        ix.set_notebook_names(&ids(0), vec!["Work".into()]);
        ix.set_notebook_names(&ids(1), vec!["Work".into(), "Deep Projects".into()]);
        assert_eq!(Query::parse("notebook:\"deep projects\" x").notebooks, ["deep projects"]);
        let mut got = found(&ix, "notebook:work");
        got.sort();
        assert_eq!(got, [ids(0), ids(1)]);
        assert_eq!(found(&ix, "apple notebook:\"Deep Projects\""), [ids(1)]);
        assert_eq!(found(&ix, "proj"), [ids(1)], "notebook names are searched as words");
        ix.set_notebook_names(&ids(1), vec![]);
        assert_eq!(found(&ix, "notebook:work"), [ids(0)]);
    }

    #[test]
    fn title_matches_rank_above_body_matches_and_removal_forgets() {
        let mut ix = index(&[
            doc("Shopping", "buy some lanterns and a lantern", &[], false),
            doc("Lantern", "a note about light", &[], false),
            doc("Misc", "many words here and one lantern among plenty of other words in the body", &[], false),
        ]);
        assert_eq!(found(&ix, "lantern "), [ids(1), ids(0), ids(2)]);
        let top: Vec<Uuid> = ix.search_top(&Query::parse("lantern "), 2).into_iter().map(|r| r.id).collect();
        assert_eq!(top, [ids(1), ids(0)], "the best two, in order");
        ix.remove(&ids(1));
        assert_eq!(found(&ix, "lantern "), [ids(0), ids(2)]);
        ix.insert(ids(0), Hlc::ZERO, 9, doc("Shopping", "only bread", &[], false));
        assert_eq!(found(&ix, "lantern "), [ids(2)]);
        assert_eq!(ix.len(), 2);
    }

    #[test]
    fn snippets_surround_the_first_match_and_mark_matches() {
        let q = Query::parse("needle ");
        let body = format!("{} needle and\nanother Needle {}", "é".repeat(60), "x ".repeat(60));
        let s = snippet(&q, &body);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'), "{}", s.text);
        assert!(!s.text.contains('\n'));
        let utf16: Vec<u16> = s.text.encode_utf16().collect();
        let marked: Vec<String> =
            s.highlights.iter().map(|h| String::from_utf16_lossy(&utf16[h.start as usize..h.end as usize])).collect();
        assert_eq!(marked, ["needle", "Needle"]);
        // No match in the body: its start, nothing marked.
        let s = snippet(&Query::parse("title "), "short body");
        assert_eq!((s.text.as_str(), s.highlights.len()), ("short body", 0));
        // Highlights count UTF-16 units: an emoji before the match is two.
        let h = highlights(&Query::parse("cat "), "🐈 cat");
        assert_eq!(h, [Highlight { start: 3, end: 6 }]);
    }
}
