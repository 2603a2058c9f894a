//! Hidden commands for the test suite (not for users).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use outpost_core::account::{self, Session};
use outpost_core::engine::{Engine, EngineOptions};
use outpost_core::net::{self, NetControl};
use outpost_core::{NoteDraft, NotePatch, SharedVault};

use crate::unlock::open_vault;

#[derive(Debug, Subcommand)]
pub enum DebugCmd {
    /// Save notes in a loop, printing `saved ID N` after each save returns:
    /// the crash tests kill this at random and check every reported save.
    /// Every fourth step edits an earlier note to body version N instead
    /// (`edited ID N`); of every sixteen steps, step 5 moves a note to the
    /// trash (`trashed ID N`), step 9 brings the last one trashed back
    /// (`untrashed ID N`) and step 13 restores a note's oldest version
    /// (`restored ID N`), when there is a note for it (see [`step_kind`]).
    WriteLoop {
        #[arg(long, default_value_t = u64::MAX)]
        count: u64,
        /// Prefix of each note's marker word
        #[arg(long, default_value = "crashmark")]
        marker: String,
        /// Run the background sync engine against the store's account
        /// while saving, at a testers' pace (short debounce and backoff),
        /// as the app does: the crash storm kills it mid-sync
        #[arg(long)]
        sync: bool,
        /// Pause between saves, in milliseconds
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
}

pub fn run(dir: &Path, cmd: DebugCmd) -> anyhow::Result<()> {
    let DebugCmd::WriteLoop { count, marker, sync, pause_ms } = cmd;
    let vault = SharedVault::new(open_vault(dir)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let engine = if sync { Some(start_engine(&rt, dir, vault.clone())?) } else { None };
    let mut out = std::io::stdout().lock();
    let mut ids = Vec::new();
    let mut trashed = Vec::new();
    for n in 0..count {
        let pick = || ids[(n as usize / 4) % ids.len()];
        match step_kind(n, ids.len(), trashed.len()) {
            Step::Edit => {
                let id = pick();
                vault.lock().edit(
                    id,
                    NotePatch { body: Some(format!("{marker}{n} edited body version {n}\n")), ..NotePatch::default() },
                )?;
                writeln!(out, "edited {id} {n}")?;
            }
            Step::Trash => {
                let id = pick();
                vault.lock().trash(id)?;
                if !trashed.contains(&id) {
                    trashed.push(id);
                }
                writeln!(out, "trashed {id} {n}")?;
            }
            Step::Untrash => {
                let id = trashed.pop().expect("a trashed note");
                vault.lock().untrash(id)?;
                writeln!(out, "untrashed {id} {n}")?;
            }
            Step::Restore => {
                let id = pick();
                let mut v = vault.lock();
                let oldest = v.versions(id)?.pop().expect("a note has a version");
                v.restore_version(id, &oldest.version)?;
                writeln!(out, "restored {id} {n}")?;
            }
            Step::Create => {
                let note = vault.lock().create(NoteDraft {
                    title: format!("{marker}{n} title"),
                    body: format!("{marker}{n} body version {n}\n{}", "lorem ipsum dolor ".repeat(50)),
                    tags: vec![format!("{marker}tag")],
                    pinned: false,
                })?;
                ids.push(note.id);
                writeln!(out, "saved {} {n}", note.id)?;
            }
        }
        out.flush()?;
        if let Some(engine) = &engine {
            engine.local_change();
        }
        if pause_ms > 0 {
            std::thread::sleep(Duration::from_millis(pause_ms));
        }
    }
    if let Some(engine) = engine {
        rt.block_on(engine.shutdown());
    }
    Ok(())
}

/// What step `n` of the write-loop does, given how many notes it created
/// and how many it has in the trash (the crash storm mirrors this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Create,
    Edit,
    Trash,
    Untrash,
    Restore,
}

fn step_kind(n: u64, notes: usize, trashed: usize) -> Step {
    match (n % 16, notes, trashed) {
        (_, 0, _) => Step::Create,
        (3 | 7 | 11 | 15, _, _) => Step::Edit,
        (5, _, _) => Step::Trash,
        (9, _, t) if t > 0 => Step::Untrash,
        (13, _, _) => Step::Restore,
        _ => Step::Create,
    }
}

/// The app's engine, paced for a test that kills it every few hundred
/// milliseconds: otherwise a 300 ms debounce and a backoff of seconds would
/// leave it little to do between kills.
fn start_engine(rt: &tokio::runtime::Runtime, dir: &Path, vault: SharedVault) -> anyhow::Result<Engine> {
    let session = account::session(&vault.lock())?;
    let Session::Active { remote, .. } = session else { bail!("--sync needs a logged-in store with an account") };
    // The engine cannot ask for a passphrase: take in a data key another
    // device rotated to now, with OUTPOST_PASSPHRASE, or sync stops at its
    // first change (best effort: offline, it waits for the next start).
    // A test tool: the tests' accounts use cheap key derivation.
    if let Ok(pass) = std::env::var(crate::unlock::PASSPHRASE_ENV) {
        let current = vault.lock().key_ring().current().id();
        let changed = rt.block_on(account::server_key_id(&remote)).is_ok_and(|id| id != current);
        if changed {
            let policy = outpost_core::keys::KdfPolicy::insecure_for_tests();
            let ring = rt.block_on(account::account_keys(&remote, &pass, &policy));
            if let Err(e) = ring.and_then(|ring| vault.lock().learn_keys(&ring)) {
                eprintln!("warning: could not fetch the account's keys: {e}");
            }
        }
    }
    let mode = net::read_control(dir)?;
    let remote = remote.with_net(NetControl::new(mode));
    let opts = EngineOptions {
        debounce: Duration::from_millis(20),
        interval: Duration::from_secs(2),
        status_file: false,
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        probe_min: Duration::from_millis(50),
        probe_max: Duration::from_millis(500),
        ..EngineOptions::default()
    };
    let _enter = rt.enter();
    Ok(Engine::start(vault, remote, dir, opts)?)
}
