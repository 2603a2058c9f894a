//! `outpost seed`: realistic, deterministic stores for testers: notes, and
//! on request deletions, open conflicts, failed outbox entries, sync
//! history and a second device of the same account (the core's
//! `seed::seed_with` and `seed::second_device`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outpost_core::account::{self, Session};
use outpost_core::net::{self, NetControl, NetMode};
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::seed::{second_device, seed_with, Extras, SecondDevice, SeedReport, SeedSpec};
use outpost_core::time::now_ms;
use outpost_core::Vault;

use crate::unlock::{self, open_vault};

const AFTER_HELP: &str = "\
The same --seed and options give the same notes, deletions, conflicts, failed
entries and history (note ids and clock stamps differ between runs). Deleted,
conflicted and failed notes are distinct notes among --notes.

--devices 2: this store must be signed in to an account on a reachable server
(`outpost account register` or `login` first). The seeded notes are synced up,
a second device in --second-dir is signed in to the same account (with the
account passphrase from OUTPOST_PASSPHRASE, else asked for, as `outpost account
login` does; a directory already signed in to this account is used as it is),
pulls them down, and then edits about one note in ten, deletes one and makes
two without syncing: the two devices have diverged. `outpost --data-dir DIR
sync` on either brings them together.";

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct SeedArgs {
    /// How many notes
    #[arg(long, default_value_t = 1000)]
    notes: usize,
    /// Typical body size in bytes (bodies range from a quarter to twice this)
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Random seed: the same seed gives the same notes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Delete this many of the notes, as a user does (tombstones queued for sync)
    #[arg(long, default_value_t = 0, value_name = "N")]
    deleted: usize,
    /// Give this many of the notes an open conflict: another device of the account changed the line
    /// this device edited (see `outpost conflicts`)
    #[arg(long, default_value_t = 0, value_name = "N")]
    conflicts: usize,
    /// Have the server refuse this many of the notes' changes for good: failed outbox entries with
    /// the server's error (see `outpost outbox`); needs an outbox with nothing queued
    #[arg(long, default_value_t = 0, value_name = "N")]
    failed: usize,
    /// Record this many sync passes over the last week in the sync history (`outpost status
    /// --history`); this is the history of sync, not of note versions, which Outpost does not keep yet
    #[arg(long, default_value_t = 0, value_name = "N")]
    history: usize,
    /// 2: also make a second device of this store's account in --second-dir, synced and then
    /// diverged (this store must be signed in; see below)
    #[arg(long, default_value_t = 1, value_name = "1|2", value_parser = clap::value_parser!(u8).range(1..=2))]
    devices: u8,
    /// The second device's data directory, for --devices 2
    #[arg(long, value_name = "DIR", required_if_eq("devices", "2"))]
    second_dir: Option<PathBuf>,
    /// Print what was made as JSON
    /// Also make this many notebooks (a third nested) and file about four notes in five in them
    #[arg(long, default_value_t = 0, value_name = "N")]
    notebooks: usize,
    #[arg(long)]
    json: bool,
}

pub fn run(dir: &Path, args: SeedArgs) -> anyhow::Result<()> {
    // Said before a store is created; `first_remote` says what to do with
    // a store that has no account or is logged out.
    if args.devices == 2 && !outpost_core::store::db_path(dir).exists() {
        bail!(
            "--devices 2 makes a second device of this store's account, and there is no store in {} yet: \
             `outpost account register --server URL --user NAME` (or `account login`) first",
            dir.display()
        );
    }
    let mut vault = open_vault(dir)?;
    // A second device needs this one signed in and online: said before
    // anything is written.
    let second = match (args.devices, &args.second_dir) {
        (2, Some(second_dir)) => Some((second_dir.clone(), first_remote(dir, &vault, second_dir)?)),
        (2, None) => bail!("--devices 2 needs --second-dir DIR: the second device's data directory"),
        _ => {
            if args.second_dir.is_some() {
                bail!("--second-dir is for --devices 2");
            }
            None
        }
    };
    let report = seed_notes(&mut vault, &args)?;
    let filed = outpost_core::seed::file_notes(&mut vault, args.notebooks, args.seed)?;
    if args.notebooks > 0 && !args.json {
        out!("made {} notebooks and filed {filed} notes in them", args.notebooks);
    }
    let device = match second {
        Some((second_dir, remote)) => Some(make_second_device(&mut vault, &remote, &second_dir, &args)?),
        None => None,
    };
    if args.json {
        out!("{}", serde_json::json!({ "seeded": report, "second_device": device }));
    } else if let (Some(d), Some(second_dir)) = (device, &args.second_dir) {
        out!(
            "second device in {}: {} changes went up from this one, {} came down to it; then, not synced, \
             it edited {} notes, deleted {} and made {}",
            second_dir.display(),
            d.first.pushed,
            d.second.pulled,
            d.edited,
            d.deleted,
            d.created
        );
    }
    Ok(())
}

fn seed_notes(vault: &mut Vault, args: &SeedArgs) -> anyhow::Result<SeedReport> {
    let bar = ProgressBar::new(args.notes as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} seeding [{bar:30}] {pos}/{len} notes ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let spec = SeedSpec { notes: args.notes, size: args.size, seed: args.seed };
    let extras = Extras {
        deleted: args.deleted,
        conflicts: args.conflicts,
        failed: args.failed,
        history: args.history,
        now_ms: now_ms(),
    };
    let report = seed_with(vault, spec, extras, |done| bar.set_position(done as u64));
    bar.finish_and_clear();
    let report = report?;
    if !args.json {
        out!(
            "seeded {} notes ({} extra edits, coalesced in the outbox) in {:.2?}",
            report.notes,
            report.edits,
            start.elapsed()
        );
        let extras = [
            (report.deleted, "deleted"),
            (report.conflicts, "with an open conflict (`outpost conflicts list`)"),
            (report.failed, "failed outbox entries (`outpost outbox list`)"),
            (report.history, "sync passes in the history (`outpost status --history`)"),
        ];
        let made: Vec<String> = extras.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
        if !made.is_empty() {
            out!("and {}", made.join(", "));
        }
    }
    Ok(report)
}

/// This store's client for its server, under its network switch; refused
/// with what to do when it is not signed in, switched offline, or would be
/// its own second device.
fn first_remote(dir: &Path, vault: &Vault, second_dir: &Path) -> anyhow::Result<Remote> {
    let remote = match account::session(vault)? {
        Session::Active { remote, .. } => remote,
        Session::None => bail!(
            "--devices 2 makes a second device of this store's account, and this store has none: \
             `outpost account register --server URL --user NAME` (or `account login`) first"
        ),
        Session::LoggedOut(a) => bail!(
            "--devices 2 makes a second device of this store's account, and this store is logged out of {} \
             on {}: `outpost account login --server {} --user {}` first",
            a.username,
            a.server,
            a.server,
            a.username
        ),
    };
    if same_dir(dir, second_dir) {
        bail!("--second-dir is this store's own directory; the second device needs one of its own");
    }
    Ok(remote.with_net(online(dir)?))
}

/// The network switch of `dir`; switched offline, nothing may be sent.
fn online(dir: &Path) -> anyhow::Result<NetControl> {
    let mode = net::read_control(dir)?;
    if mode == NetMode::Offline {
        return Err(anyhow::Error::from(outpost_core::Error::Remote(RemoteError::Offline))
            .context(format!("{} is switched offline, and --devices 2 syncs", dir.display())));
    }
    Ok(NetControl::new(mode))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The second device: signed in to this store's account (logging in as
/// `outpost account login` does unless it already is), synced, diverged.
fn make_second_device(
    first: &mut Vault,
    first_remote: &Remote,
    second_dir: &Path,
    args: &SeedArgs,
) -> anyhow::Result<SecondDevice> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let account = first.account()?.context("this store lost its account while it was being seeded")?;
    std::fs::create_dir_all(second_dir).with_context(|| format!("creating {}", second_dir.display()))?;
    let (mut second, remote) = match outpost_core::vault::peek_account(second_dir)? {
        Some((a, true)) if a.server == account.server && a.user_id == account.user_id => {
            let vault = open_vault(second_dir)?;
            match account::session(&vault)? {
                Session::Active { remote, .. } => (vault, remote),
                _ => bail!("{} lost its session while it was being opened; try again", second_dir.display()),
            }
        }
        Some((a, true)) => bail!(
            "{} is signed in to {} on {}, not to this store's account ({} on {}): choose another directory, \
             or `outpost --data-dir {} account logout` first",
            second_dir.display(),
            a.username,
            a.server,
            account.username,
            account.server,
            second_dir.display()
        ),
        previous => {
            let remote = Remote::new(&account.server)?;
            let (previous, logged_in) = previous.map_or((None, false), |(a, l)| (Some(a), l));
            account::ensure_can_log_in(previous, logged_in, &remote, &account.username)?;
            eprintln!("signing the second device in to {} on {}", account.username, account.server);
            let pass = unlock::account_passphrase(false)?;
            let (key, session) = rt.block_on(account::log_in(&remote, &account.username, &pass))?;
            let keys = unlock::key_store(second_dir)?;
            let mut vault = Vault::open_for_account(second_dir, keys.as_ref(), key)
                .with_context(|| format!("opening the store in {}", second_dir.display()))?;
            account::remember(&mut vault, &remote, &account.username, &session)?;
            (vault, remote.with_token(session.token))
        }
    };
    let remote = remote.with_net(online(second_dir)?);
    let device = rt.block_on(second_device(first, first_remote, &mut second, &remote, args.seed, args.size))?;
    Ok(device)
}
