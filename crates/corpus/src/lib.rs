//! Real prose for Outpost's benchmarks.
//!
//! Generated words flatter some designs (they compress too well, their
//! sizes are too even) and hide costs in others, so the benchmarks that
//! measure bytes on the wire, search and import also run on notes made from
//! real documents: the reStructuredText sources of the Python documentation
//! that Debian ships in `python3-doc` (`scripts/corpus-deps.sh` installs
//! it), split into one note per section heading and per documented object
//! (`.. function::`, `.. class::`, ...). On Debian 12 (python3.11-doc
//! 3.11.2) that gives 11,173 notes, median 422 bytes, mean 958 bytes, p99
//! 7.4 KB, 10.7 MB in all: the shape of a real notes collection (many short
//! notes, a long tail).
//!
//! The split is deterministic (files in name order), so two runs on one
//! machine measure the same notes. Each note is tagged with the part of the
//! documentation it came from (`library`, `c-api`, `howto`, ...).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One note of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
}

impl Note {
    /// Title and body bytes: what a user would call the note's size.
    pub fn len(&self) -> usize {
        self.title.len() + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why no corpus could be made.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("no documentation sources found (looked for {looked_for}); run scripts/corpus-deps.sh to install them")]
    NoSource { looked_for: String },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{dir} gives {found} notes, fewer than the {wanted} asked for; run scripts/corpus-deps.sh or pass more sources"
    )]
    TooFew { dir: PathBuf, found: usize, wanted: usize },
}

/// Sections shorter than this are headings with nothing under them.
const MIN_BODY_BYTES: usize = 40;

/// Where Debian's `python3-doc` keeps the documentation's sources: the
/// newest `/usr/share/doc/python3.*/html/_sources`.
pub fn default_source() -> Result<PathBuf, CorpusError> {
    let doc = Path::new("/usr/share/doc");
    let looked_for = "/usr/share/doc/python3.*/html/_sources".to_string();
    let entries = std::fs::read_dir(doc).map_err(|_| CorpusError::NoSource { looked_for: looked_for.clone() })?;
    let mut found: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let minor = name.strip_prefix("python3.")?;
            let version: Vec<u32> = minor.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let sources = e.path().join("html/_sources");
            sources.is_dir().then_some((version, sources))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).ok_or(CorpusError::NoSource { looked_for })
}

/// The corpus from the default source, at least `min` notes.
pub fn load(min: usize) -> Result<Vec<Note>, CorpusError> {
    let dir = default_source()?;
    let notes = from_dir(&dir)?;
    if notes.len() < min {
        return Err(CorpusError::TooFew { dir, found: notes.len(), wanted: min });
    }
    Ok(notes)
}

/// Every note of the `.rst.txt` / `.rst` / `.txt` files under `dir`, in
/// file-name order, each (title, body) once: an importer that skips notes it
/// already holds would otherwise import fewer than the corpus has.
pub fn from_dir(dir: &Path) -> Result<Vec<Note>, CorpusError> {
    let mut notes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let walk = walkdir::WalkDir::new(dir).sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| CorpusError::Read {
            path: e.path().map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !entry.file_type().is_file() || !(name.ends_with(".txt") || name.ends_with(".rst")) {
            continue;
        }
        let bytes = std::fs::read(path).map_err(|source| CorpusError::Read { path: path.to_path_buf(), source })?;
        let text = String::from_utf8_lossy(&bytes);
        let tag = tag_for(dir, path);
        for note in split_rst(&text, &tag) {
            if seen.insert((note.title.clone(), note.body.clone())) {
                notes.push(note);
            }
        }
    }
    Ok(notes)
}

/// The part of the documentation a file belongs to: its first folder
/// under the root, or `python` for files at the top.
fn tag_for(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut parts = rel.components();
    match (parts.next(), parts.next()) {
        (Some(first), Some(_)) => first.as_os_str().to_string_lossy().into_owned(),
        _ => "python".to_string(),
    }
}

/// The reStructuredText directives that document one object each; each
/// starts a note of its own, titled by its signature.
const OBJECT_DIRECTIVES: &[&str] = &[
    "function",
    "method",
    "class",
    "attribute",
    "data",
    "exception",
    "describe",
    "opcode",
    "decorator",
    "envvar",
    "cmdoption",
    "coroutinemethod",
    "classmethod",
    "staticmethod",
    "pdbcommand",
    "c:function",
    "c:type",
    "c:member",
    "c:macro",
    "c:var",
];

/// A line of one punctuation character repeated (at least three times):
/// a section underline or overline.
fn is_rule(line: &str) -> bool {
    let line = line.trim_end();
    let mut chars = line.chars();
    let Some(first) = chars.next() else { return false };
    "=-~^\"*+#`'.:_".contains(first) && line.len() >= 3 && chars.all(|c| c == first)
}

fn object_title(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(".. ")?;
    let (directive, signature) = rest.split_once("::")?;
    OBJECT_DIRECTIVES.contains(&directive).then(|| signature.trim()).filter(|s| !s.is_empty())
}

/// Splits one reStructuredText document into notes: a new note at each
/// section title (a line underlined by a rule at least as long, less one)
/// and at each object directive.
pub fn split_rst(text: &str, tag: &str) -> Vec<Note> {
    let lines: Vec<&str> = text.lines().collect();
    let mut notes = Vec::new();
    let mut title: Option<String> = None;
    let mut body: Vec<&str> = Vec::new();
    let flush = |title: &Option<String>, body: &mut Vec<&str>, notes: &mut Vec<Note>| {
        // An overline belongs to the next title, not to this body.
        if body.last().is_some_and(|l| is_rule(l)) {
            body.pop();
        }
        let text = body.join("\n");
        let text = text.trim();
        if let Some(t) = title {
            if text.len() >= MIN_BODY_BYTES {
                notes.push(Note { title: t.clone(), body: text.to_string(), tags: vec![tag.to_string()] });
            }
        }
        body.clear();
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let heading = !line.trim().is_empty()
            && !is_rule(line)
            && lines.get(i + 1).is_some_and(|next| is_rule(next) && next.trim_end().len() + 1 >= line.trim().len());
        if heading {
            flush(&title, &mut body, &mut notes);
            title = Some(line.trim().to_string());
            i += 2;
            continue;
        }
        if let Some(signature) = object_title(line) {
            flush(&title, &mut body, &mut notes);
            title = Some(signature.to_string());
            i += 1;
            continue;
        }
        body.push(line);
        i += 1;
    }
    flush(&title, &mut body, &mut notes);
    notes
}

/// `n` notes made by going round `notes` as often as needed; the copies
/// after the first round say which round they are in their title, so
/// titles stay distinct. For the 100,000-note figures: the text is real,
/// but each note appears about ten times, which flatters compression and
/// any index that stores terms once.
pub fn scaled(notes: &[Note], n: usize) -> Vec<Note> {
    if notes.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let mut note = notes[i % notes.len()].clone();
            let round = i / notes.len();
            if round > 0 {
                note.title = format!("{} ({})", note.title, round + 1);
            }
            note
        })
        .collect()
}

/// Sizes of a corpus, in bytes of title and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub count: usize,
    pub median: usize,
    pub mean: usize,
    pub p99: usize,
    pub max: usize,
    pub total: usize,
}

pub fn stats(notes: &[Note]) -> Stats {
    let mut sizes: Vec<usize> = notes.iter().map(Note::len).collect();
    sizes.sort_unstable();
    let total: usize = sizes.iter().sum();
    let at = |q: usize| sizes.get((sizes.len() * q / 100).min(sizes.len().saturating_sub(1))).copied().unwrap_or(0);
    Stats {
        count: sizes.len(),
        median: at(50),
        mean: total.checked_div(sizes.len()).unwrap_or(0),
        p99: at(99),
        max: sizes.last().copied().unwrap_or(0),
        total,
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} notes, median {} B, mean {} B, p99 {} B, largest {} B, {:.2} MB in all",
            self.count,
            self.median,
            self.mean,
            self.p99,
            self.max,
            self.total as f64 / 1e6
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
:mod:`json` --- JSON encoder and decoder
========================================

.. module:: json

JSON (JavaScript Object Notation) is a lightweight data interchange format
inspired by JavaScript object literal syntax.

Basic Usage
-----------

.. function:: dump(obj, fp, *, skipkeys=False)

   Serialize *obj* as a JSON formatted stream to *fp* (a ``.write()``-supporting
   file-like object).

Tiny
----

ok

=========
Overlined
=========

A section with an overline, whose rule must not end the previous body.
";

    #[test]
    fn splits_at_titles_and_objects_and_drops_empty_sections() {
        let notes = split_rst(DOC, "library");
        let titles: Vec<&str> = notes.iter().map(|n| n.title.as_str()).collect();
        // "Basic Usage" has nothing of its own before the function; "Tiny" is
        // under the size floor.
        assert_eq!(
            titles,
            [":mod:`json` --- JSON encoder and decoder", "dump(obj, fp, *, skipkeys=False)", "Overlined"]
        );
        assert!(notes[0].body.starts_with(".. module:: json\n\nJSON (JavaScript"), "{:?}", notes[0].body);
        assert!(notes[1].body.ends_with("file-like object)."), "{:?}", notes[1].body);
        assert!(notes.iter().all(|n| n.tags == ["library"]));
        assert!(!notes.iter().any(|n| n.body.contains("=========")), "an overline leaked into a body");
    }

    #[test]
    fn reads_a_folder_in_name_order_tags_by_first_folder_and_drops_repeats() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("howto")).expect("mkdir");
        std::fs::write(
            dir.path().join("howto/b.rst.txt"),
            "Second\n======\n\nA body long enough to be kept as a note here.\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("a.rst.txt"),
            "First\n=====\n\nA body long enough to be kept as a note here too.\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("howto/c.rst.txt"),
            "Second\n======\n\nA body long enough to be kept as a note here.\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("skip.png"), "Image\n=====\n\nnot text, not read, whatever it holds here.\n")
            .expect("write");
        let notes = from_dir(dir.path()).expect("corpus");
        let got: Vec<(&str, &str)> = notes.iter().map(|n| (n.title.as_str(), n.tags[0].as_str())).collect();
        assert_eq!(got, [("First", "python"), ("Second", "howto")]);
    }

    #[test]
    fn scaled_goes_round_with_distinct_titles() {
        let notes = split_rst(DOC, "t");
        let more = scaled(&notes, notes.len() * 2 + 1);
        assert_eq!(more.len(), notes.len() * 2 + 1);
        assert_eq!(more[notes.len()].title, format!("{} (2)", notes[0].title));
        assert_eq!(more[notes.len()].body, notes[0].body);
        let titles: std::collections::HashSet<&str> = more.iter().map(|n| n.title.as_str()).collect();
        assert_eq!(titles.len(), more.len());
    }

    #[test]
    fn stats_of_known_sizes() {
        let notes: Vec<Note> = [1usize, 2, 3, 10]
            .iter()
            .map(|&n| Note { title: String::new(), body: "x".repeat(n), tags: vec![] })
            .collect();
        let s = stats(&notes);
        assert_eq!((s.count, s.median, s.mean, s.max, s.total), (4, 3, 4, 10, 16));
        assert_eq!(stats(&[]).count, 0);
    }
}
