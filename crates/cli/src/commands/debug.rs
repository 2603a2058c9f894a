//! Hidden commands for the test suite (not for users).

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use outpost_core::{NoteDraft, NotePatch};

use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum DebugCmd {
    /// Save notes in a loop, printing `saved ID N` after each save returns:
    /// the crash test kills this at random and checks every reported save.
    /// Every fourth step edits an earlier note to body version N instead.
    WriteLoop {
        #[arg(long, default_value_t = u64::MAX)]
        count: u64,
        /// Prefix of each note's marker word
        #[arg(long, default_value = "crashmark")]
        marker: String,
    },
}

pub fn run(dir: &Path, cmd: DebugCmd) -> anyhow::Result<()> {
    let DebugCmd::WriteLoop { count, marker } = cmd;
    let mut vault = open_vault(dir)?;
    let mut out = std::io::stdout().lock();
    let mut ids = Vec::new();
    for n in 0..count {
        if n % 4 == 3 && !ids.is_empty() {
            let id = ids[(n as usize / 4) % ids.len()];
            vault.edit(
                id,
                NotePatch { body: Some(format!("{marker}{n} edited body version {n}\n")), ..NotePatch::default() },
            )?;
            writeln!(out, "edited {id} {n}")?;
        } else {
            let note = vault.create(NoteDraft {
                title: format!("{marker}{n} title"),
                body: format!("{marker}{n} body version {n}\n{}", "lorem ipsum dolor ".repeat(50)),
                tags: vec![format!("{marker}tag")],
                pinned: false,
            })?;
            ids.push(note.id);
            writeln!(out, "saved {} {n}", note.id)?;
        }
        out.flush()?;
    }
    Ok(())
}
