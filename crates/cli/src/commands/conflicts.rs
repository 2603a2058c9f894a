use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use outpost_core::merge::Strategy;
use outpost_core::vault::{ConflictView, Resolution};
use outpost_core::Vault;

use super::fmt_time;
use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum ConflictsCmd {
    /// Open conflicts (with --all, settled ones too), oldest first
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One conflict: base, mine and theirs in full
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Settle a conflict; the result is saved now and syncs like any edit
    Resolve {
        id: i64,
        #[command(flatten)]
        choice: Choice,
    },
    /// Show or set how concurrent edits are settled, for the app or one note
    Strategy {
        /// auto-merge (default), last-writer-wins, always-ask; or "default"
        /// with --note to follow the app's setting again
        value: Option<String>,
        /// Only this note
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Choice {
    /// Keep this device's version
    #[arg(long)]
    mine: bool,
    /// Take the other device's version
    #[arg(long)]
    theirs: bool,
    /// Use this file's text as the body ("-" for standard input)
    #[arg(long, value_name = "FILE")]
    merged_file: Option<PathBuf>,
}

pub fn run(dir: &Path, cmd: ConflictsCmd) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        ConflictsCmd::List { all, json } => {
            let list = vault.conflicts(all)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
                return Ok(());
            }
            if list.is_empty() {
                writeln!(out, "no {}conflicts", if all { "" } else { "open " })?;
            }
            for c in &list {
                writeln!(out, "{:>4}  {}  {:<16} {}  {}", c.id, c.note_id, kind(c), fmt_time(c.opened_at), title(c))?;
            }
        }
        ConflictsCmd::Show { id, json } => {
            let c = vault.conflict(id)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&c)?)?;
                return Ok(());
            }
            writeln!(out, "conflict {} on note {} ({}), found {}", c.id, c.note_id, kind(&c), fmt_time(c.opened_at))?;
            if let Some(base) = &c.base_body {
                writeln!(out, "\n--- base ---\n{base}")?;
            }
            let side = |v: &outpost_core::vault::VersionView| {
                if v.deleted {
                    "(deleted)".to_owned()
                } else {
                    format!("{}\n{}", v.title, v.body)
                }
            };
            writeln!(out, "\n--- mine ---\n{}", side(&c.mine))?;
            writeln!(out, "\n--- theirs ---\n{}", side(&c.theirs))?;
        }
        ConflictsCmd::Resolve { id, choice } => {
            let resolution = if choice.mine {
                Resolution::Mine
            } else if choice.theirs {
                Resolution::Theirs
            } else if let Some(path) = choice.merged_file {
                Resolution::Merged(read_text(&path)?)
            } else {
                anyhow::bail!("say --mine, --theirs or --merged-file FILE");
            };
            let note = vault.resolve_conflict(id, resolution)?;
            out!("settled conflict {id}; note {} saved, it syncs with the next pass", note.id);
        }
        ConflictsCmd::Strategy { value, note } => strategy(&mut vault, value, note)?,
    }
    Ok(())
}

fn strategy(vault: &mut Vault, value: Option<String>, note: Option<String>) -> anyhow::Result<()> {
    let parse = |s: &str| s.parse::<Strategy>().map_err(outpost_core::Error::Invalid);
    match (note, value) {
        (None, None) => out!("{}", vault.conflict_strategy()?.as_str()),
        (None, Some(v)) => {
            vault.set_conflict_strategy(parse(&v)?)?;
            out!("conflict strategy for this store: {}", parse(&v)?.as_str());
        }
        (Some(id), None) => {
            let id = Vault::parse_id(&id)?;
            match vault.note_conflict_strategy(id)? {
                Some(s) => out!("{}", s.as_str()),
                None => out!("default ({})", vault.conflict_strategy()?.as_str()),
            }
        }
        (Some(id), Some(v)) => {
            let id = Vault::parse_id(&id)?;
            let s = if v == "default" { None } else { Some(parse(&v)?) };
            vault.set_note_conflict_strategy(id, s)?;
            out!("conflict strategy for note {id}: {}", s.map_or("default", Strategy::as_str));
        }
    }
    Ok(())
}

fn kind(c: &ConflictView) -> String {
    match (&c.resolution, c.kind.as_str()) {
        (None, "overlap") => "overlapping edits".into(),
        (None, "confirm") => "to confirm".into(),
        (None, k) => k.into(),
        (Some(r), "restored") => format!("restored ({r})"),
        (Some(r), k) => format!("{k}, kept {r}"),
    }
}

fn title(c: &ConflictView) -> &str {
    if !c.mine.title.is_empty() {
        &c.mine.title
    } else {
        &c.theirs.title
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("reading standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
