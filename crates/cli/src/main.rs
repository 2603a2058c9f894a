//! `outpost`: the Outpost command line, on the same engine as the app.
//!
//! # Layout
//! - `main.rs`: argument parsing (clap) and dispatch; exit codes; `out!`,
//!   the commands' output (never a panic when the reader leaves).
//! - `unlock.rs`: choosing the key store (OS keyring, passphrase from
//!   `OUTPOST_PASSPHRASE` or a prompt) for a data directory.
//! - `commands/`: one module per command group.

#![forbid(unsafe_code)]

/// `println!` for a command's output, without its panic: `outpost status |
/// head` closes the pipe, and a panic there printed a backtrace. Writes one
/// line to standard output; see [`print_line`].
macro_rules! out {
    () => {
        $crate::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod commands;
mod stop;
mod unlock;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Outpost: offline-first, end-to-end encrypted notes. Testers' toolkit.
///
/// The data key comes from the OS keyring; where there is none, from a
/// passphrase (asked for, or taken from OUTPOST_PASSPHRASE).
#[derive(Debug, Parser)]
#[command(name = "outpost", version, propagate_version = true)]
struct Cli {
    /// Data directory of the store [default: the app's platform data directory]
    #[arg(long, global = true, env = "OUTPOST_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Log verbosity (error, warn, info, debug, trace) or a tracing filter
    #[arg(long, global = true, env = "OUTPOST_LOG", default_value = "warn")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, read, change, search, import and export notes
    #[command(subcommand)]
    Notes(commands::notes::NotesCmd),
    /// Notebooks: list the tree, create, rename, move, delete
    #[command(subcommand)]
    Notebooks(commands::notebooks::NotebooksCmd),
    /// Register or join an account on a sync server; log out; change the passphrase; sessions
    #[command(subcommand)]
    Account(commands::account::AccountCmd),
    /// Sync now (one pass), or keep syncing in the background with --watch
    Sync(commands::sync::SyncArgs),
    /// Run the sync server (SQLite by default, or PostgreSQL)
    Serve(commands::serve::ServeArgs),
    /// Fill the store with realistic, deterministic notes; also deletions, conflicts, failed entries, sync history, a second device
    Seed(commands::seed::SeedArgs),
    /// Outbox, sync and conflict state of the store (needs no key)
    Status(commands::status::StatusArgs),
    /// Changes waiting for the server: list (needs no key), retry a failed one, discard one
    #[command(subcommand)]
    Outbox(commands::outbox::OutboxCmd),
    /// Sync on metered networks and on low battery: show or change the settings
    Policy(commands::policy::PolicyArgs),
    /// Testers' switches: network online, offline or flaky; metered, power, app state; needs no key
    #[command(subcommand)]
    Net(commands::net::NetCmd),
    /// Concurrent edits that need you: list them, settle them, pick a strategy
    #[command(subcommand)]
    Conflicts(commands::conflicts::ConflictsCmd),
    /// Play conflict scenarios on simulated devices; print what should happen and what did
    ConflictSim(commands::conflict_sim::ConflictSimArgs),
    /// Schema migrations: status, up, new, check
    #[command(subcommand)]
    Migrate(commands::migrate::MigrateCmd),
    /// Notes deleted on any device: list them, bring one back, empty the trash
    #[command(subcommand)]
    Trash(commands::trash::TrashCmd),
    /// Note history and trash retention: show or change the settings
    Retention(commands::trash::RetentionArgs),
    /// Files attached to notes: add, list, get, rm; cache settings
    #[command(subcommand)]
    Files(commands::files::FilesCmd),
    /// Test-suite helpers
    #[command(subcommand, hide = true)]
    Debug(commands::debug::DebugCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `outpost notes list | head`: the reader left; that is not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = match cli.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    match cli.command {
        Command::Notes(cmd) => commands::notes::run(&dir, cmd),
        Command::Notebooks(cmd) => commands::notebooks::run(&dir, cmd),
        Command::Account(cmd) => commands::account::run(&dir, cmd),
        Command::Sync(args) => commands::sync::run(&dir, args),
        Command::Serve(args) => commands::serve::run(&dir, args),
        Command::Seed(args) => commands::seed::run(&dir, args),
        Command::Status(args) => commands::status::run(&dir, args),
        Command::Outbox(cmd) => commands::outbox::run(&dir, cmd),
        Command::Policy(args) => commands::policy::run(&dir, args),
        Command::Net(cmd) => commands::net::run(&dir, cmd),
        Command::Conflicts(cmd) => commands::conflicts::run(&dir, cmd),
        Command::ConflictSim(args) => commands::conflict_sim::run(args),
        Command::Migrate(cmd) => commands::migrate::run(&dir, cmd),
        Command::Debug(cmd) => commands::debug::run(&dir, cmd),
        Command::Trash(cmd) => commands::trash::run(&dir, cmd),
        Command::Retention(args) => commands::trash::retention(&dir, args),
        Command::Files(cmd) => commands::files::run(&dir, cmd),
    }
}

/// The directory the desktop app uses (its Tauri identifier), so the CLI
/// and the app see the same store.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("app", "outpost", "outpost")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("no home directory to put the store in; pass --data-dir DIR"))
}

/// One line of a command's output ([`out!`]). A reader that left (a broken
/// pipe) ends the process quietly with exit 0, as [`main`] does for the
/// commands that return write errors; any other write error ends it with
/// exit 1 and says why. A store is crash-safe at every point (the crash
/// tests kill the CLI mid-write), so ending here loses nothing saved.
fn print_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let written = writeln!(std::io::stdout().lock(), "{args}");
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: could not write to standard output: {e}");
        std::process::exit(1);
    }
}

/// What `{:#}` prints (each cause after the one it caused, joined by
/// ": "), less the repeats: many errors put their cause's message in their
/// own as well as in `source()` (thiserror's `#[error("database: {0}")]`
/// with `#[from]`), and `{:#}` then printed one failure two or three times.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Exit codes, documented in the README:
/// 1 other, 2 usage, 3 not found, 4 invalid input, 5 key unavailable or
/// wrong passphrase (and a missing or wrong two-factor code), 6 not a store / too new / damaged, 7 decryption failed,
/// 8 server unreachable or switched offline by `outpost net` (try again
/// later), 9 server refused the request (for `account passphrase`: another
/// device changed the passphrase first), 10 sync held: it would delete many
/// notes and waits for approval, 11 the account was deleted (from another
/// device): this device no longer syncs with it, 12 `notes import` imported
/// nothing, 13 the note was deleted for good (purged from the trash): it and
/// its history cannot be brought back, 14 the account's storage on the
/// server is full (quota), 15 a notebook change refused: a cycle (a notebook
/// inside itself) or a name another notebook in the same place has.
fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|c| c.is::<commands::notes::NothingImported>()) {
        return 12;
    }
    use outpost_core::Error as E;
    use outpost_sim::scenario_file::ScenarioFileError as F;
    match err.chain().find_map(|c| c.downcast_ref::<F>()) {
        Some(F::Read { reason, .. }) if reason.kind() == std::io::ErrorKind::NotFound => return 3,
        Some(F::Read { .. }) => return 1,
        Some(F::Syntax { .. } | F::Invalid { .. }) => return 4,
        None => {}
    }
    let Some(e) = err.chain().find_map(|c| c.downcast_ref::<E>()) else {
        return 1;
    };
    match e {
        E::NoteNotFound(_) => 3,
        E::InvalidNoteId(_) | E::TooLarge { .. } | E::Invalid(_) => 4,
        E::Key(_) | E::KeyMethodMismatch { .. } => 5,
        E::NotADatabase { .. } | E::SchemaTooNew { .. } | E::Corrupt(_) | E::Migration { .. } => 6,
        E::Decrypt { .. } | E::Crypto(_) | E::Forged(_) => 7,
        E::Io { .. } | E::Db(_) => 1,
        E::Remote(r) if r.is_quota_exceeded() => 14,
        E::Remote(r) if r.is_retryable() => 8,
        E::Remote(outpost_core::remote::RemoteError::Offline) => 8,
        E::Remote(outpost_core::remote::RemoteError::AccountDeleted) => 11,
        E::Remote(outpost_core::remote::RemoteError::TotpRequired | outpost_core::remote::RemoteError::TotpInvalid) => {
            5
        }
        E::Remote(_) => 9,
        E::ConflictNotFound(_) => 3,
        E::Stale { .. } => 4,
        E::MassDeleteHeld { .. } => 10,
        E::LoggedIn { .. } => 4,
        E::KeyChanged => 9,
        E::VersionNotFound { .. } | E::VersionOfAnotherNote { .. } => 3,
        E::Purged(_) => 13,
        E::NotInTrash(_) => 4,
        E::FileNotFound(_) => 3,
        E::FileNotDownloaded { .. } => 8,
        E::KeyRotated { .. } => 5,
        E::NotebookNotFound(_) => 3,
        E::NotebookAmbiguous { .. } => 4,
        E::NotebookCycle { .. } | E::NotebookNameTaken { .. } => 15,
    }
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("password authentication failed")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("database: {0}")]
    struct Db(#[from] Refused);

    #[test]
    fn an_error_is_told_once_with_its_context() {
        let err = anyhow::Error::new(Db(Refused)).context("opening the database");
        assert_eq!(
            format!("{err:#}"),
            "opening the database: database: password authentication failed: password authentication failed"
        );
        assert_eq!(error_text(&err), "opening the database: database: password authentication failed");
        let plain = anyhow::Error::new(Refused).context("logging in").context("syncing");
        assert_eq!(error_text(&plain), format!("{plain:#}"), "nothing repeated: as {{:#}}");
    }
}
