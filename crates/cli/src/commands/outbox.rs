//! `outpost outbox`: the changes waiting for the server, as a person looks
//! at them (never their content), and the two things a person may do about
//! one the server rejected: send it again, or stop sending it.
//!
//! `list` needs no key (plaintext metadata only); `retry` and `discard`
//! write the store, so they unlock it like every other write.

use std::io::Write as _;
use std::path::Path;

use clap::{Args, Subcommand};
use outpost_core::monitor::{self, EntryState, OutboxRow, Selection};
use outpost_core::time::now_ms;
use serde::Serialize;

use super::fmt_time;
use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Entries in send order: note, state, attempts, next attempt, last
    /// error (no content; needs no key); then discarded entries
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put a failed entry back in the queue: attempts reset, sent at the
    /// next pass (the engine's, or `outpost sync`)
    Retry(RetryArgs),
    /// Stop sending an entry. The note keeps its text on this device; the
    /// change is kept, sealed, among the discarded entries
    Discard(DiscardArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RetryArgs {
    /// The entry's number (from `outbox list`), or a note id (its failed entries)
    id: Option<String>,
    /// Every failed entry
    #[arg(long)]
    all_failed: bool,
}

#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The entry's number (from `outbox list`), or a note id (all its entries)
    id: String,
    /// Really discard it (without this, only says what would happen)
    #[arg(long)]
    yes: bool,
}

pub fn run(dir: &Path, cmd: OutboxCmd) -> anyhow::Result<()> {
    match cmd {
        OutboxCmd::List { json } => list(dir, json),
        OutboxCmd::Retry(args) => {
            let sel = match args.id {
                Some(id) => Selection::parse(&id)?,
                None => Selection::AllFailed,
            };
            let mut vault = open_vault(dir)?;
            let seqs = monitor::retry(&mut vault, sel, now_ms())?;
            out!("{} back in the queue, sent at the next sync: {}", plural(seqs.len()), numbers(&seqs));
            Ok(())
        }
        OutboxCmd::Discard(args) => discard(dir, &args),
    }
}

#[derive(Debug, Serialize)]
struct Listing {
    entries: Vec<OutboxRow>,
    discarded: Vec<monitor::DiscardedRow>,
}

fn list(dir: &Path, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let (entries, discarded) = monitor::peek_outbox(dir)?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&Listing { entries, discarded })?)?;
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "the outbox is empty: every change is on the server")?;
    }
    for e in &entries {
        let when = match e.state {
            EntryState::Pending if e.next_attempt_at > now_ms() => format!("next try {}", fmt_time(e.next_attempt_at)),
            EntryState::Pending => "due now".to_owned(),
            EntryState::Failed => "not retried (`outpost outbox retry`)".to_owned(),
        };
        writeln!(
            out,
            "{:>6}  {}  {:<7}  {} {}  {}  made {}{}",
            e.seq,
            e.note_id,
            e.state.as_str(),
            e.attempts,
            if e.attempts == 1 { "attempt " } else { "attempts" },
            when,
            fmt_time(e.created_at),
            e.last_error.as_deref().map(|m| format!("\n        last error: {m}")).unwrap_or_default()
        )?;
    }
    if !discarded.is_empty() {
        writeln!(out, "discarded (kept sealed in the store; the notes kept their text here):")?;
        for d in &discarded {
            writeln!(out, "{:>6}  {}  was {}  discarded {}", d.seq, d.note_id, d.state, fmt_time(d.discarded_at))?;
        }
    }
    Ok(())
}

fn discard(dir: &Path, args: &DiscardArgs) -> anyhow::Result<()> {
    let sel = Selection::parse(&args.id)?;
    if !args.yes {
        // Say what it would do, from a look that needs no key.
        let (entries, _) = monitor::peek_outbox(dir)?;
        let chosen: Vec<&OutboxRow> = entries
            .iter()
            .filter(|e| match sel {
                Selection::Entry(seq) => e.seq == seq,
                Selection::Note(id) => e.note_id == id,
                Selection::AllFailed => e.state == EntryState::Failed,
            })
            .collect();
        if chosen.is_empty() {
            return Err(outpost_core::Error::Invalid(format!("nothing in the outbox matches {}", args.id)).into());
        }
        let pending = chosen.iter().filter(|e| e.state == EntryState::Pending).count();
        let warning = if pending > 0 {
            format!(" {} still pending: it has not been refused and may still reach the server.", plural(pending))
        } else {
            String::new()
        };
        return Err(outpost_core::Error::Invalid(format!(
            "not discarded: add --yes to stop sending {}.{warning} The note keeps its text on this device \
             and the change is kept, sealed, among the discarded entries; it is not sent unless the note is \
             edited again",
            plural(chosen.len())
        ))
        .into());
    }
    let mut vault = open_vault(dir)?;
    let seqs = monitor::discard(&mut vault, sel, now_ms())?;
    out!(
        "discarded {}: {}. The notes keep their text on this device; the server does not get these changes \
         unless a note is edited again. The changes are kept, sealed (`outpost outbox list`)",
        plural(seqs.len()),
        numbers(&seqs)
    );
    Ok(())
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 entry".to_owned()
    } else {
        format!("{n} entries")
    }
}

fn numbers(seqs: &[i64]) -> String {
    seqs.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}
