//! Import and export of notes as files people already have.
//!
//! Import reads, as a stream of notes:
//! - a JSON Lines file of `{"title", "body", "tags", "pinned"}` objects
//!   ([`jsonl`]), of any size, a line at a time;
//! - a folder of Markdown files as Obsidian and Joplin export them, or one
//!   `.md` file ([`markdown`]);
//! - Evernote's `.enex` ([`enex`]), streamed a note at a time;
//! - Standard Notes' decrypted backup ([`standard_notes`]).
//!
//! Limits apply per note: a note over a limit, a malformed line or an
//! unreadable file is reported in the [`ImportSummary`] (where and why)
//! and skipped, and the rest is imported. Notes are written in
//! transactions of [`BATCH`] notes, so memory stays flat and a batch is
//! all or nothing; a note whose title and body are already in the store
//! (or earlier in the same input) is counted as a duplicate and not
//! written again, so an interrupted import can simply be run again.
//!
//! Export writes one Markdown file per note with front matter, which
//! import reads back.

pub mod dates;
pub mod enex;
pub mod jsonl;
pub mod markdown;
pub mod standard_notes;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::NoteDraft;
use crate::vault::Vault;
use uuid::Uuid;

pub use jsonl::parse_jsonl;
pub use markdown::parse_markdown;

/// Notes written per transaction.
pub const BATCH: usize = 500;

/// What an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A folder of Markdown files (Obsidian, Joplin) or one `.md` file.
    Markdown,
    /// JSON Lines: one `{"title", "body", "tags", "pinned"}` per line.
    Jsonl,
    /// Evernote's export.
    Enex,
    /// Standard Notes' decrypted backup.
    StandardNotes,
}

impl Format {
    /// The format of `path` from what it is: a folder or `.md` file is
    /// Markdown, `.enex` Evernote, `.jsonl`/`.ndjson` JSON Lines; a `.json`
    /// or `.txt` file (Standard Notes names its backups `... .txt`) is a
    /// Standard Notes backup when it is one JSON object with `items`,
    /// else JSON Lines.
    pub fn detect(path: &Path) -> Result<Format> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        match ext.as_str() {
            _ if meta.is_dir() => Ok(Format::Markdown),
            "md" | "markdown" => Ok(Format::Markdown),
            "enex" => Ok(Format::Enex),
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "json" | "txt" => sniff_json(path),
            _ => Err(Error::Invalid(format!(
                "{}: import takes a folder of Markdown files, a .md, .jsonl or .enex file, or a Standard Notes \
                 backup (.json or .txt); say which with --format if the name does not",
                path.display()
            ))),
        }
    }
}

/// A Standard Notes backup or JSON Lines, from the first line: a whole
/// object with `title` is a line of notes; an object with `items`, or the
/// start of one spread over lines, a backup.
fn sniff_json(path: &Path) -> Result<Format> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&head);
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    Ok(match serde_json::from_slice::<serde_json::Value>(first) {
        Ok(v) if v.get("items").is_some() => Format::StandardNotes,
        Ok(_) => Format::Jsonl,
        Err(_) if head.windows(7).any(|w| w == b"\"items\"") => Format::StandardNotes,
        Err(_) => Format::Jsonl,
    })
}

/// A note import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Where in the input: `line 12`, or a file's path inside the folder.
    pub at: String,
    /// The note's title, when it could be read.
    pub title: Option<String>,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub format: Format,
    /// Notes written to the store.
    pub imported: u64,
    /// Notes whose title and body were already in the store or earlier in
    /// the input: not written again.
    pub duplicates: u64,
    /// Notes left out, with where and why.
    pub skipped: Vec<Skipped>,
    /// Parts of imported notes that were not imported (attachments), with
    /// where and why; the note itself is imported.
    pub left_out: Vec<Skipped>,
}

/// How far an import has got; reported after each batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Notes read from the input so far (imported, duplicate or skipped).
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub skipped: u64,
}

/// A note read from the input, before the limits are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Where in the input, as [`Skipped::at`].
    pub at: String,
    pub draft: NoteDraft,
    /// When the note was made and last changed, in milliseconds since the
    /// Unix epoch, where the input says ([`crate::Writer::create_dated`]).
    pub created: Option<i64>,
    pub updated: Option<i64>,
    /// Attachments the note refers to that are not imported (there are
    /// none in Outpost yet): reported in [`ImportSummary::left_out`].
    pub attachments: Vec<String>,
    /// The notebook the note goes in, as names from the top (a folder of
    /// a Markdown export): found by name (case and accents folded) or
    /// made. Empty: none.
    pub notebook: Vec<String>,
}

impl Incoming {
    pub fn new(at: String, draft: NoteDraft) -> Self {
        Self { at, draft, created: None, updated: None, attachments: Vec::new(), notebook: Vec::new() }
    }
}

/// One step of a reader: a note, or one it had to leave out. A reader
/// returns `Err` only when the input as a whole cannot be read further
/// (an I/O error); notes before it are imported.
pub type Item = std::result::Result<Incoming, Skipped>;

/// Import everything at `path` in `format` (or the one [`Format::detect`]
/// finds), calling `progress` after each batch.
pub fn import(
    vault: &mut Vault,
    path: &Path,
    format: Option<Format>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ImportSummary> {
    let format = match format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    let mut summary = ImportSummary { format, imported: 0, duplicates: 0, skipped: Vec::new(), left_out: Vec::new() };
    match format {
        Format::Jsonl => write_all(vault, jsonl::open(path)?, &mut summary, progress)?,
        Format::Markdown => {
            write_all(vault, markdown::open(path)?, &mut summary, progress)?;
            // Empty folders are notebooks with no notes yet (an export
            // writes one for every notebook).
            let empty = markdown::empty_folders(path)?;
            if !empty.is_empty() {
                let mut cache = HashMap::new();
                let left_out = vault.batch(|w| {
                    let mut left_out = Vec::new();
                    for folder in &empty {
                        if let Err(reason) = notebook_for(w, &mut cache, folder)? {
                            left_out.push(Skipped { at: folder.join("/"), title: None, reason });
                        }
                    }
                    Ok(left_out)
                })?;
                summary.left_out.extend(left_out);
            }
        }
        Format::Enex => write_all(vault, enex::open(path)?, &mut summary, progress)?,
        Format::StandardNotes => write_all(vault, standard_notes::open(path)?, &mut summary, progress)?,
    }
    Ok(summary)
}

/// The identity of a note's content for spotting duplicates: SHA-256 of
/// title and body, length-prefixed so no two pairs collide by framing.
fn content_hash(title: &str, body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((title.len() as u64).to_le_bytes());
    h.update(title.as_bytes());
    h.update(body.as_bytes());
    h.finalize().into()
}

/// Hashes of the live notes already in the store (held in memory for the
/// run only; no plaintext and no hash is written anywhere).
fn stored_hashes(vault: &Vault) -> Result<HashSet<[u8; 32]>> {
    let mut seen = HashSet::new();
    for s in vault.list()? {
        let n = vault.get(s.id)?;
        seen.insert(content_hash(&n.title, &n.body));
    }
    Ok(seen)
}

/// Write the notes `items` yields in batches of [`BATCH`], one transaction
/// each, counting into `summary`.
pub fn write_all(
    vault: &mut Vault,
    items: impl Iterator<Item = Result<Item>>,
    summary: &mut ImportSummary,
    progress: &mut dyn FnMut(&Progress),
) -> Result<()> {
    let mut seen = stored_hashes(vault)?;
    // Notebooks found or made during the run, by path (a failed batch
    // ends the run, so none outlives a rollback).
    let mut notebooks: HashMap<Vec<String>, Option<Uuid>> = HashMap::new();
    let mut read = 0u64;
    // Each note with its place in the input, so skips are reported in order.
    let mut batch: Vec<(u64, Incoming)> = Vec::with_capacity(BATCH);
    let mut items = items.peekable();
    while items.peek().is_some() {
        batch.clear();
        let mut skipped: Vec<(u64, Skipped)> = Vec::new();
        // The input failing part way (an I/O error) ends the import, after
        // the notes read before it are written.
        let mut fatal = None;
        while batch.len() < BATCH {
            let Some(item) = items.next() else { break };
            match item {
                Ok(Ok(note)) => batch.push((read + 1, note)),
                Ok(Err(skip)) => skipped.push((read + 1, skip)),
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
            read += 1;
        }
        let mut left_out = Vec::new();
        let (imported, duplicates) = vault.batch(|w| {
            // A failed batch ends the run, so `seen` never outlives a rollback.
            let (mut imported, mut duplicates) = (0u64, 0u64);
            for (i, note) in batch.drain(..) {
                let hash = content_hash(&note.draft.title, &note.draft.body);
                if seen.contains(&hash) {
                    duplicates += 1;
                    continue;
                }
                let title = short(&note.draft.title);
                let notebook = match notebook_for(w, &mut notebooks, &note.notebook)? {
                    Ok(nb) => nb,
                    Err(reason) => {
                        left_out.push(Skipped { at: note.at.clone(), title: Some(title.clone()), reason });
                        None
                    }
                };
                // The writer checks every limit before it writes, so a
                // refused note leaves nothing behind in the transaction.
                match w.create_dated_in(note.draft, note.created, note.updated, notebook) {
                    Ok(_) => {
                        seen.insert(hash);
                        imported += 1;
                        left_out.extend(note.attachments.into_iter().map(|name| Skipped {
                            at: note.at.clone(),
                            title: Some(title.clone()),
                            reason: format!(
                                "attachment {name:?} not imported: Outpost has no attachments yet (the note keeps its reference)"
                            ),
                        }));
                    }
                    Err(e @ (Error::TooLarge { .. } | Error::Invalid(_))) => {
                        skipped.push((i, Skipped { at: note.at, title: Some(title), reason: e.to_string() }))
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((imported, duplicates))
        })?;
        summary.imported += imported;
        summary.left_out.extend(left_out);
        summary.duplicates += duplicates;
        skipped.sort_by_key(|(i, _)| *i);
        summary.skipped.extend(skipped.into_iter().map(|(_, s)| s));
        progress(&Progress {
            read,
            imported: summary.imported,
            duplicates: summary.duplicates,
            skipped: summary.skipped.len() as u64,
        });
        if let Some(e) = fatal {
            return Err(e);
        }
    }
    Ok(())
}

/// The notebook at `path` (names from the top), found by name under its
/// parent or made; `Err(reason)` when a name cannot be a notebook's (the
/// note then goes in at the top, and the reason is reported).
fn notebook_for(
    w: &mut crate::Writer<'_>,
    cache: &mut HashMap<Vec<String>, Option<Uuid>>,
    path: &[String],
) -> Result<std::result::Result<Option<Uuid>, String>> {
    let mut parent = None;
    for depth in 1..=path.len() {
        let prefix = &path[..depth];
        if let Some(known) = cache.get(prefix) {
            parent = *known;
            continue;
        }
        let name = match crate::notebooks::clean_name(&prefix[depth - 1]) {
            Ok(n) => n,
            Err(e) => {
                return Ok(Err(format!(
                    "folder {:?} is not made a notebook ({e}); the note is put at the top",
                    prefix.join("/")
                )))
            }
        };
        let tree = w.notebook_tree()?;
        let folded = crate::search::fold(&name);
        let existing =
            tree.children(parent).into_iter().find(|c| tree.name(c).is_some_and(|n| crate::search::fold(n) == folded));
        let id = match existing {
            Some(id) => id,
            None => w.create_notebook(&name, parent)?,
        };
        cache.insert(prefix.to_vec(), Some(id));
        parent = Some(id);
    }
    Ok(Ok(parent))
}

/// A title as a report shows it: at most 80 characters.
pub(crate) fn short(title: &str) -> String {
    let mut s: String = title.chars().take(80).collect();
    if s.len() < title.len() {
        s.push('…');
    }
    s
}

/// Write every live note to `dir` as `<title>.md` with front matter, in
/// a folder per notebook (nested as the notebooks are); returns how many.
/// Existing files are never overwritten: names get a numeric suffix
/// instead.
pub fn export(vault: &Vault, dir: &Path) -> Result<usize> {
    export_notebook(vault, dir, None)
}

/// [`export`], or with `notebook` only that notebook's notes (in `dir`
/// itself) and its sub-notebooks' (in folders below). Every notebook gets
/// its folder, empty ones too, so an import of `dir` makes them all again.
pub fn export_notebook(vault: &Vault, dir: &Path, notebook: Option<Uuid>) -> Result<usize> {
    let notebooks = vault.notebooks()?;
    if let Some(nb) = notebook {
        if !notebooks.iter().any(|n| n.id == nb) {
            return Err(Error::NotebookNotFound(nb.to_string()));
        }
    }
    // Each exported notebook's folder, parents first (tree order).
    let mut folders: HashMap<Uuid, PathBuf> = HashMap::new();
    for n in &notebooks {
        let folder = if Some(n.id) == notebook {
            dir.to_path_buf()
        } else {
            match n.parent.map(|p| folders.get(&p)) {
                Some(Some(parent)) => parent.join(file_stem(&n.name)),
                Some(None) => continue, // outside the exported notebook
                None if notebook.is_none() => dir.join(file_stem(&n.name)),
                None => continue,
            }
        };
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(format!("creating {}", folder.display()), e))?;
        folders.insert(n.id, folder);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut n = 0;
    for summary in vault.list()? {
        let note = vault.get(summary.id)?;
        let shown = note.notebook.filter(|nb| folders.contains_key(nb) || notebooks.iter().any(|n| n.id == *nb));
        let folder = match (shown.and_then(|nb| folders.get(&nb)), notebook) {
            (Some(f), _) => f.clone(),
            (None, None) => dir.to_path_buf(),
            (None, Some(_)) => continue,
        };
        let stem = file_stem(&note.title);
        let mut path = folder.join(format!("{stem}.md"));
        let mut i = 1;
        while path.exists() {
            i += 1;
            path = folder.join(format!("{stem} ({i}).md"));
        }
        let text = to_markdown(&note.title, &note.tags, note.pinned, &note.body);
        std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        n += 1;
    }
    Ok(n)
}

/// One note as a Markdown file with front matter, as [`export`] writes it
/// and [`markdown::parse_markdown`] reads it back.
pub fn to_markdown(title: &str, tags: &[String], pinned: bool, body: &str) -> String {
    let tags: Vec<String> = tags.iter().map(|t| serde_json::to_string(t).unwrap_or_default()).collect();
    format!(
        "---\ntitle: {}\ntags: [{}]\npinned: {pinned}\n---\n\n{body}",
        serde_json::to_string(title).unwrap_or_default(),
        tags.join(", "),
    )
}

/// A file name from a title: path separators and control characters out,
/// at most 80 characters, never empty.
fn file_stem(title: &str) -> String {
    let s: String =
        title.chars().map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { '_' } else { c }).take(80).collect();
    let s = s.trim().trim_start_matches('.').to_owned();
    if s.is_empty() {
        "Untitled".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("a/b\\c:d"), "a_b_c_d");
        assert_eq!(file_stem("..."), "Untitled");
        assert_eq!(file_stem(""), "Untitled");
    }

    #[test]
    fn content_hash_frames_title_and_body() {
        assert_ne!(content_hash("ab", "c"), content_hash("a", "bc"));
        assert_eq!(content_hash("a", "b"), content_hash("a", "b"));
    }
}
