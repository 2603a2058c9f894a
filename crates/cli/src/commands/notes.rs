use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use outpost_core::transfer::{self, Format, Progress};
use outpost_core::{NoteDraft, NotePatch, Vault};

use super::fmt_time;
use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum NotesCmd {
    /// Add a note; prints its id
    Add {
        #[arg(long)]
        title: String,
        #[command(flatten)]
        body: BodyArgs,
        /// A tag (repeat for more)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Pin the note to the top of the list
        #[arg(long)]
        pin: bool,
        /// Put the note in this notebook (id, name, or path A/B)
        #[arg(long, value_name = "NOTEBOOK")]
        notebook: Option<String>,
    },
    /// Change a note's title, body, tags, pin or notebook
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        body: BodyArgs,
        /// Replace the tags (repeat for more); --clear-tags removes all
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[arg(long, conflicts_with = "tags")]
        clear_tags: bool,
        #[arg(long, conflicts_with = "unpin")]
        pin: bool,
        #[arg(long)]
        unpin: bool,
        /// Move the note to this notebook (id, name, or path A/B)
        #[arg(long, value_name = "NOTEBOOK", conflicts_with = "no_notebook")]
        notebook: Option<String>,
        /// Take the note out of its notebook
        #[arg(long)]
        no_notebook: bool,
    },
    /// Move a note to the trash, on every device once synced (`outpost trash` brings it back)
    Rm {
        id: String,
        /// Delete it for good now instead (a tombstone that syncs; its history goes too)
        #[arg(long)]
        for_good: bool,
    },
    /// List notes: pinned first, then newest (or --sort created / title)
    List {
        #[arg(long)]
        json: bool,
        /// Only the notes directly in this notebook (id, name, or path A/B)
        #[arg(long, value_name = "NOTEBOOK", conflicts_with = "no_notebook")]
        notebook: Option<String>,
        /// Only the notes in no notebook
        #[arg(long)]
        no_notebook: bool,
        /// Order after the pinned notes: updated (newest first), created (newest first), title (A to Z)
        #[arg(long, default_value = "updated", value_parser = parse_sort)]
        sort: outpost_core::SortBy,
    },
    /// Tags in use, with how many notes carry each (most used first)
    Tags {
        #[arg(long)]
        json: bool,
    },
    /// Show one note, or one version of it from its history
    #[command(disable_version_flag = true)]
    Show {
        id: String,
        /// A version id from `notes history ID`
        #[arg(long, value_name = "V")]
        version: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The versions of a note this device holds, newest first (version id, time, device, size, why)
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Bring back a version of a note: it becomes a new version (nothing in the history changes) and syncs
    #[command(disable_version_flag = true)]
    Restore {
        id: String,
        /// A version id from `notes history ID`
        #[arg(long, value_name = "V")]
        version: String,
    },
    /// Notes containing every word of QUERY (title, body, tags)
    Search {
        query: String,
        #[arg(long)]
        json: bool,
    },
    /// Import notes: a Markdown folder (Obsidian, Joplin), a .md, JSON Lines or Evernote .enex file, or a Standard Notes backup
    ///
    /// Notes over a limit, malformed lines and unreadable files are reported
    /// and skipped; notes already in the store are not imported twice, so an
    /// interrupted import can be run again. Progress goes to stderr, the
    /// summary to stdout. Exit 0 when some note was imported or was already
    /// there, 12 when nothing in PATH could be imported.
    Import {
        path: PathBuf,
        /// What PATH holds; auto guesses from the folder or the extension
        #[arg(long, value_enum, default_value = "auto")]
        format: ImportFormat,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Export every note (or one notebook's) as Markdown files with front matter into DIR; notebooks become folders
    Export {
        dir: PathBuf,
        /// Only this notebook and the notebooks inside it (id, name, or path A/B)
        #[arg(long, value_name = "NOTEBOOK")]
        notebook: Option<String>,
    },
}

/// `--format` of `notes import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Auto,
    Markdown,
    Jsonl,
    Enex,
    StandardNotes,
}

impl ImportFormat {
    fn format(self) -> Option<Format> {
        match self {
            ImportFormat::Auto => None,
            ImportFormat::Markdown => Some(Format::Markdown),
            ImportFormat::Jsonl => Some(Format::Jsonl),
            ImportFormat::Enex => Some(Format::Enex),
            ImportFormat::StandardNotes => Some(Format::StandardNotes),
        }
    }
}

/// `notes import` found nothing it could import: exit code 12.
#[derive(Debug)]
pub struct NothingImported(pub String);

impl std::fmt::Display for NothingImported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing in {} could be imported (no notes found, or every one was skipped)", self.0)
    }
}

impl std::error::Error for NothingImported {}

#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct BodyArgs {
    /// The body text (Markdown)
    #[arg(long)]
    body: Option<String>,
    /// Read the body from a file ("-" for standard input)
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
}

impl BodyArgs {
    fn read(&self) -> anyhow::Result<Option<String>> {
        match (&self.body, &self.body_file) {
            (Some(b), _) => Ok(Some(b.clone())),
            (None, Some(f)) if f == Path::new("-") => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .context("reading the body from standard input")?;
                Ok(Some(s))
            }
            (None, Some(f)) => {
                let limit = outpost_core::model::limits::MAX_BODY_BYTES as u64;
                let len = std::fs::metadata(f).with_context(|| format!("reading {}", f.display()))?.len();
                if len > limit {
                    return Err(outpost_core::Error::TooLarge {
                        what: "note body",
                        size: len as usize,
                        limit: limit as usize,
                    }
                    .into());
                }
                Ok(Some(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("reading {} (must be UTF-8 text)", f.display()))?,
                ))
            }
            (None, None) => Ok(None),
        }
    }
}

pub fn run(dir: &Path, cmd: NotesCmd) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        NotesCmd::Add { title, body, tags, pin, notebook } => {
            let body = body.read()?.unwrap_or_default();
            let mut vault = open_vault(dir)?;
            let notebook = notebook.map(|n| vault.resolve_notebook(&n)).transpose()?;
            let note = vault
                .batch(|w| w.create_dated_in(NoteDraft { title, body, tags, pinned: pin }, None, None, notebook))?;
            writeln!(out, "{}", note.id)?;
        }
        NotesCmd::Edit { id, title, body, tags, clear_tags, pin, unpin, notebook, no_notebook } => {
            let id = Vault::parse_id(&id)?;
            let patch = NotePatch {
                title,
                body: body.read()?,
                tags: if clear_tags {
                    Some(Vec::new())
                } else if tags.is_empty() {
                    None
                } else {
                    Some(tags)
                },
                pinned: if pin {
                    Some(true)
                } else if unpin {
                    Some(false)
                } else {
                    None
                },
            };
            if patch.is_empty() && notebook.is_none() && !no_notebook {
                anyhow::bail!(
                    "nothing to change: give --title, --body, --body-file, --tag, --clear-tags, --pin, --unpin, \
                     --notebook or --no-notebook"
                );
            }
            let mut vault = open_vault(dir)?;
            let move_to = match (notebook, no_notebook) {
                (Some(n), _) => Some(Some(vault.resolve_notebook(&n)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let note = vault.batch(|w| w.edit_in(id, patch, move_to))?;
            writeln!(out, "{}", note.id)?;
        }
        NotesCmd::Rm { id, for_good } => {
            let id = Vault::parse_id(&id)?;
            let mut vault = open_vault(dir)?;
            if for_good {
                vault.delete(id)?;
            } else {
                vault.trash(id)?;
            }
        }
        NotesCmd::History { id, json } => {
            let id = Vault::parse_id(&id)?;
            let versions = open_vault(dir)?.versions(id)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &versions)?;
                writeln!(out)?;
            } else {
                for v in &versions {
                    writeln!(out, "{}", super::trash::history_line(v))?;
                }
            }
        }
        NotesCmd::Show { id, version: Some(version), json } => {
            let id = Vault::parse_id(&id)?;
            let v = open_vault(dir)?.version(id, &version)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(out, "# {}", v.title)?;
                writeln!(out, "{}", super::trash::history_line(&v.info))?;
                if !v.tags.is_empty() {
                    writeln!(out, "tags: {}", v.tags.join(", "))?;
                }
                writeln!(out, "\n{}", v.body)?;
            }
        }
        NotesCmd::Restore { id, version } => {
            let id = Vault::parse_id(&id)?;
            let note = open_vault(dir)?.restore_version(id, &version)?;
            writeln!(out, "{}", note.id)?;
        }
        NotesCmd::List { json, notebook, no_notebook, sort } => {
            let vault = open_vault(dir)?;
            let filter = match (notebook, no_notebook) {
                (Some(n), _) => outpost_core::NotebookFilter::In(vault.resolve_notebook(&n)?),
                (None, true) => outpost_core::NotebookFilter::None,
                (None, false) => outpost_core::NotebookFilter::All,
            };
            let notes = vault.list_by(filter, sort)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &notes)?;
                writeln!(out)?;
            } else {
                for n in notes {
                    let pin = if n.pinned { "*" } else { " " };
                    writeln!(out, "{} {pin} {:<8} {}  {}", n.id, badge(n.sync), fmt_time(n.updated_at), n.title)?;
                }
            }
        }
        NotesCmd::Tags { json } => {
            let tags = open_vault(dir)?.tags()?;
            if json {
                serde_json::to_writer_pretty(&mut out, &tags)?;
                writeln!(out)?;
            } else {
                for t in tags {
                    writeln!(out, "{:>6}  {}", t.notes, t.tag)?;
                }
            }
        }
        NotesCmd::Show { id, version: None, json } => {
            let id = Vault::parse_id(&id)?;
            let vault = open_vault(dir)?;
            let note = vault.get(id)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &note)?;
                writeln!(out)?;
            } else {
                writeln!(out, "# {}", note.title)?;
                writeln!(out, "id: {}  updated: {}  sync: {}", note.id, fmt_time(note.updated_at), badge(note.sync))?;
                if !note.tags.is_empty() {
                    writeln!(out, "tags: {}", note.tags.join(", "))?;
                }
                if let Some(nb) = note.notebook.and_then(|nb| vault.notebook(nb).ok()) {
                    writeln!(out, "notebook: {}", nb.path)?;
                }
                writeln!(out, "\n{}", note.body)?;
            }
        }
        NotesCmd::Search { query, json } => {
            let hits = open_vault(dir)?.search(&query)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &hits)?;
                writeln!(out)?;
            } else {
                for h in hits {
                    writeln!(out, "{}  {}\n    {}", h.note.id, h.note.title, h.snippet)?;
                }
            }
        }
        NotesCmd::Import { path, format, json } => {
            // What PATH is, before the store opens: a wrong path names itself.
            let format = match format.format() {
                Some(f) => f,
                None => Format::detect(&path)?,
            };
            let mut vault = open_vault(dir)?;
            let mut report = |p: &Progress| {
                eprintln!(
                    "read {}: {} imported, {} already there, {} skipped",
                    p.read, p.imported, p.duplicates, p.skipped
                );
            };
            let summary = transfer::import(&mut vault, &path, Some(format), &mut report)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &summary)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "imported {} notes from {}; {} already there, {} skipped",
                    summary.imported,
                    path.display(),
                    summary.duplicates,
                    summary.skipped.len()
                )?;
                for s in &summary.skipped {
                    let title = s.title.as_deref().map(|t| format!(" ({t:?})")).unwrap_or_default();
                    writeln!(out, "  skipped {}{title}: {}", s.at, s.reason)?;
                }
                for s in &summary.left_out {
                    writeln!(out, "  in {}: {}", s.at, s.reason)?;
                }
            }
            if summary.imported == 0 && summary.duplicates == 0 {
                return Err(NothingImported(path.display().to_string()).into());
            }
        }
        NotesCmd::Export { dir: target, notebook } => {
            let vault = open_vault(dir)?;
            let notebook = notebook.map(|n| vault.resolve_notebook(&n)).transpose()?;
            let n = outpost_core::transfer::export_notebook(&vault, &target, notebook)?;
            writeln!(out, "exported {n} notes to {}", target.display())?;
        }
    }
    Ok(())
}

fn parse_sort(s: &str) -> Result<outpost_core::SortBy, String> {
    s.parse()
}

fn badge(b: outpost_core::SyncBadge) -> &'static str {
    match b {
        outpost_core::SyncBadge::Synced => "synced",
        outpost_core::SyncBadge::Pending => "pending",
        outpost_core::SyncBadge::Failed => "FAILED",
        outpost_core::SyncBadge::Conflict => "CONFLICT",
    }
}
