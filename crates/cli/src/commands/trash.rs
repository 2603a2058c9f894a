//! `outpost trash`: notes deleted on any device (list, restore, empty), and
//! `outpost retention`: the history and trash settings. The history of one
//! note (`notes history`, `notes show --version`, `notes restore`) is in
//! `notes.rs`; all of it is a thin layer over `Vault`'s history methods.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};
use outpost_core::history::{HistorySettings, VersionInfo};
use outpost_core::Vault;

use super::fmt_time;
use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum TrashCmd {
    /// Notes in the trash, most recently deleted first, with when each is deleted for good
    List {
        #[arg(long)]
        json: bool,
    },
    /// Bring a note back from the trash (on every device, once synced)
    Restore { id: String },
    /// Delete every note in the trash for good (asks first unless --yes)
    ///
    /// Each becomes a tombstone that syncs like any delete: while offline
    /// the deletes wait in the outbox and go with the next sync. A note
    /// deleted for good cannot be brought back, nor its history.
    Empty {
        /// Do not ask
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(dir: &Path, cmd: TrashCmd) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        TrashCmd::List { json } => {
            let mut vault = open_vault(dir)?;
            // What it shows is what is there: purge what ran out first.
            vault.housekeep_if_due()?;
            let trash = vault.trash_list()?;
            if json {
                serde_json::to_writer_pretty(&mut out, &trash)?;
                writeln!(out)?;
            } else if trash.is_empty() {
                writeln!(out, "the trash is empty")?;
            } else {
                for t in trash {
                    writeln!(
                        out,
                        "{}  deleted {}  gone for good {}  {}",
                        t.id,
                        fmt_time(t.trashed_at),
                        fmt_time(t.purge_at),
                        t.title
                    )?;
                }
            }
        }
        TrashCmd::Restore { id } => {
            let id = Vault::parse_id(&id)?;
            let note = open_vault(dir)?.untrash(id)?;
            writeln!(out, "{}", note.id)?;
        }
        TrashCmd::Empty { yes } => {
            let mut vault = open_vault(dir)?;
            let n = vault.trash_list()?.len();
            if n == 0 {
                writeln!(out, "the trash is empty")?;
                return Ok(());
            }
            if !yes {
                eprint!("Delete {n} notes in the trash for good, with their history, on every device? [y/N] ");
                std::io::stderr().flush().ok();
                let mut typed = String::new();
                std::io::stdin().read_line(&mut typed).context("reading the confirmation")?;
                if !matches!(typed.trim(), "y" | "Y" | "yes") {
                    return Err(outpost_core::Error::Invalid(
                        "not confirmed; nothing was deleted (pass --yes to skip the question)".into(),
                    )
                    .into());
                }
            }
            let n = vault.empty_trash()?;
            let queued = vault.status()?.pending;
            writeln!(
                out,
                "deleted {n} notes for good; the deletes sync with the next pass ({queued} changes waiting to be sent)"
            )?;
        }
    }
    Ok(())
}

/// `outpost retention`: show or change the history and trash settings.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Saves of a note within this many minutes are one version (0: every save)
    #[arg(long, value_name = "MINUTES")]
    coalesce_minutes: Option<u32>,
    /// Keep every version this many days
    #[arg(long, value_name = "DAYS")]
    keep_all_days: Option<u32>,
    /// Then one version a day up to this age; one a week beyond
    #[arg(long, value_name = "DAYS")]
    daily_until_days: Option<u32>,
    /// History kept per note, in KiB of ciphertext (the oldest versions go first)
    #[arg(long, value_name = "KIB")]
    max_kib_per_note: Option<u64>,
    /// Notes in the trash this many days are deleted for good
    #[arg(long, value_name = "DAYS")]
    trash_days: Option<u32>,
    #[arg(long)]
    json: bool,
}

pub fn retention(dir: &Path, args: RetentionArgs) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let mut s = vault.history_settings()?;
    let before = s;
    s.coalesce_minutes = args.coalesce_minutes.unwrap_or(s.coalesce_minutes);
    s.keep_all_days = args.keep_all_days.unwrap_or(s.keep_all_days);
    s.daily_until_days = args.daily_until_days.unwrap_or(s.daily_until_days);
    s.max_bytes_per_note = args.max_kib_per_note.map_or(s.max_bytes_per_note, |k| k.saturating_mul(1024));
    s.trash_days = args.trash_days.unwrap_or(s.trash_days);
    if s != before {
        vault.set_history_settings(&s)?;
    }
    if args.json {
        out!("{}", serde_json::to_string(&s)?);
    } else {
        out!("{}", describe(&s));
    }
    Ok(())
}

fn describe(s: &HistorySettings) -> String {
    format!(
        "history: saves within {} minutes are one version; every version for {} days, then one a day up to {} \
         days, then one a week; at most {} KiB per note. Trash: deleted for good after {} days",
        s.coalesce_minutes,
        s.keep_all_days,
        s.daily_until_days,
        s.max_bytes_per_note / 1024,
        s.trash_days
    )
}

/// One line of `notes history`.
pub fn history_line(v: &VersionInfo) -> String {
    let current = if v.current { "  (current)" } else { "" };
    format!("{}  {}  device {}  {:>8} B  {}{current}", v.version, fmt_time(v.at), v.device, v.size, v.why.label())
}
