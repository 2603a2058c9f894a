//! `outpost status`: the store's counts (no key needed), and the sync
//! engine's live status when one runs on this data directory (the app, or
//! `outpost sync --watch`), from the file it keeps there. `--watch` is the
//! sync-status monitor: it prints again whenever either changes.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use outpost_core::connectivity::Connectivity;
use outpost_core::engine::{self, Phase, Progress, StatusError, StatusFile, SyncStatus, STATUS_FILE};
use outpost_core::net::{self, NetMode};
use outpost_core::store::DB_FILE;
use outpost_core::StoreStatus;
use serde::Serialize;

use super::fmt_time;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (with --watch: one object per line)
    #[arg(long)]
    json: bool,
    /// Keep watching: print again whenever the store or a running engine's
    /// status changes (until interrupted)
    #[arg(long)]
    watch: bool,
}

/// Without a change to look at, the monitor still looks this often (a
/// missed file event, a clock that makes "last sync" stale).
const FALLBACK_TICK: Duration = Duration::from_secs(5);
/// Bursts of file events closer than this are read once.
const COALESCE: Duration = Duration::from_millis(100);

pub fn run(dir: &Path, args: StatusArgs) -> anyhow::Result<()> {
    if args.watch {
        return watch(dir, args.json);
    }
    let s = outpost_core::vault::peek_status(dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("store      {}", dir.display());
    println!("notes      {} ({} deleted)", s.notes, s.tombstones);
    println!(
        "outbox     {} pending, {} failed, {} edits coalesced{}",
        s.pending,
        s.failed,
        s.coalesced,
        s.oldest_pending_at.map(|t| format!(", oldest from {}", fmt_time(t))).unwrap_or_default()
    );
    println!("conflicts  {} open", s.open_conflicts);
    println!("server     {}", s.server.as_deref().unwrap_or("none (local only)"));
    println!("last sync  {}", s.last_sync_at.map(fmt_time).unwrap_or_else(|| "never".into()));
    println!("cursor     {}", s.cursor.as_deref().unwrap_or("-"));
    if let Some(at) = s.server_reset_at {
        println!("restart    {} (server reset or restored, or another account: every note sent again)", fmt_time(at));
    }
    println!("schema     v{}   key: {}", s.schema_version, s.key_method);
    match net::read_control(dir) {
        Ok(mode) => println!("network    {}", mode.describe()),
        Err(e) => println!("network    {e}"),
    }
    match engine::read_status_file(dir) {
        Ok(Some(f)) if running(&f) => println!("engine     running (pid {}): {}", f.pid, describe_engine(&f.status)),
        Ok(Some(_)) | Ok(None) => println!("engine     not running"),
        Err(e) => println!("engine     {e}"),
    }
    Ok(())
}

/// One look at the store and the engine, as the monitor prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct View {
    /// An engine is syncing this store now (the app or `sync --watch`).
    engine_running: bool,
    engine_pid: Option<u32>,
    /// The engine's view; `None` when no engine runs.
    connectivity: Option<Connectivity>,
    phase: Option<Phase>,
    progress: Option<Progress>,
    next_retry_ms: Option<i64>,
    /// The testers' control file (what a starting engine would obey).
    net_mode: Option<NetMode>,
    /// The store's own counts: current whether or not an engine runs.
    notes: u64,
    pending: u64,
    failed: u64,
    open_conflicts: u64,
    last_success_ms: Option<i64>,
    /// The running engine's last error, or why the store or the status
    /// file could not be read.
    last_error: Option<StatusError>,
}

fn look(dir: &Path) -> View {
    let store: Result<StoreStatus, _> = outpost_core::vault::peek_status(dir);
    let file = engine::read_status_file(dir);
    let live = match &file {
        Ok(Some(f)) if running(f) => Some(f),
        _ => None,
    };
    let mut view = View {
        engine_running: live.is_some(),
        engine_pid: live.map(|f| f.pid),
        connectivity: live.map(|f| f.status.connectivity),
        phase: live.map(|f| f.status.phase),
        progress: live.and_then(|f| f.status.progress),
        next_retry_ms: live.and_then(|f| f.status.next_retry_ms),
        net_mode: net::read_control(dir).ok(),
        notes: 0,
        pending: 0,
        failed: 0,
        open_conflicts: 0,
        last_success_ms: live.and_then(|f| f.status.last_success_ms),
        last_error: live.and_then(|f| f.status.last_error.clone()),
    };
    match store {
        Ok(s) => {
            view.notes = s.notes;
            view.pending = s.pending;
            view.failed = s.failed;
            view.open_conflicts = s.open_conflicts;
            view.last_success_ms = view.last_success_ms.max(s.last_sync_at);
        }
        Err(e) => view.last_error = Some(local_error(e.code(), e.to_string())),
    }
    if let Err(e) = file {
        view.last_error.get_or_insert_with(|| local_error("status_file", e.to_string()));
    }
    view
}

fn local_error(code: &str, message: String) -> StatusError {
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    StatusError { code: code.to_owned(), message, at_ms }
}

/// Whether the process that wrote the status file still runs it. Where
/// processes cannot be looked up, a file that does not say stopped is
/// taken as running.
fn running(f: &StatusFile) -> bool {
    if f.status.phase == Phase::Stopped {
        return false;
    }
    if f.pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(f.pid.to_string()).exists()
}

/// The sync-status monitor: prints a line now and whenever the view
/// changes. File events wake it; a slow tick covers anything they miss.
fn watch(dir: &Path, json: bool) -> anyhow::Result<()> {
    use notify::event::ModifyKind;
    use notify::{EventKind, Watcher};
    let (tx, rx) = mpsc::channel::<()>();
    let wal = format!("{DB_FILE}-wal");
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else {
            let _ = tx.send(());
            return;
        };
        // Writes to the store land in its write-ahead log first; the status
        // file is replaced by a rename.
        // Only data written counts: opening the store (as this monitor
        // does) creates, chmods and, as the last one out, removes the log.
        let relevant = event.paths.iter().any(|p| {
            p.file_name().is_some_and(|n| {
                (n == STATUS_FILE && !matches!(event.kind, EventKind::Access(_)))
                    || (n == wal.as_str() && matches!(event.kind, EventKind::Modify(ModifyKind::Data(_))))
            })
        });
        if relevant {
            let _ = tx.send(());
        }
    })
    .context("watching the store for changes")?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {} for changes", dir.display()))?;

    let mut last = None;
    loop {
        let view = look(dir);
        if last.as_ref() != Some(&view) {
            if json {
                println!("{}", serde_json::to_string(&view)?);
            } else {
                println!("{}", describe_view(&view));
            }
            last = Some(view);
        }
        match rx.recv_timeout(FALLBACK_TICK) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the file watcher stopped"),
        }
        // A save or a pass arrives as several events: read once after them.
        let quiet_until = Instant::now() + COALESCE;
        while let Ok(()) = rx.recv_timeout(quiet_until.saturating_duration_since(Instant::now())) {}
    }
}

fn describe_view(v: &View) -> String {
    let now = fmt_time(local_error("", String::new()).at_ms);
    let engine = match (v.connectivity, v.phase) {
        (Some(c), Some(p)) => {
            format!("{}, {}{}", connectivity_word(c), phase_word(p, v.progress), retry(v.next_retry_ms))
        }
        _ => "no engine running".to_owned(),
    };
    let mut line = format!(
        "{now}  {engine}; {} pending, {} failed, {} conflicts; last sync {}",
        v.pending,
        v.failed,
        v.open_conflicts,
        v.last_success_ms.map(fmt_time).unwrap_or_else(|| "never".into())
    );
    if !v.engine_running {
        if let Some(mode @ (NetMode::Offline | NetMode::Flaky { .. })) = &v.net_mode {
            line.push_str(&format!("; network set to {}", mode.describe()));
        }
    }
    if let Some(e) = &v.last_error {
        line.push_str(&format!("; error ({}): {}", e.code, e.message));
    }
    line
}

/// One line for a sync status: what `sync --watch` prints.
pub fn describe_engine(s: &SyncStatus) -> String {
    let mut line = format!(
        "{}  {}, {}{}; {} pending, {} failed, {} conflicts; last sync {}",
        fmt_time(s.updated_ms),
        connectivity_word(s.connectivity),
        phase_word(s.phase, s.progress),
        retry(s.next_retry_ms),
        s.pending,
        s.failed,
        s.open_conflicts,
        s.last_success_ms.map(fmt_time).unwrap_or_else(|| "never".into())
    );
    if let NetMode::Flaky { .. } = s.net_mode {
        line.push_str(&format!("; network {}", s.net_mode.describe()));
    }
    if let Some(e) = &s.last_error {
        line.push_str(&format!("; error ({}): {}", e.code, e.message));
    }
    line
}

fn connectivity_word(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Online => "online",
        Connectivity::Offline => "offline (server unreachable)",
        Connectivity::SwitchedOff => "switched offline",
        Connectivity::Unknown => "connecting",
    }
}

fn phase_word(p: Phase, progress: Option<Progress>) -> String {
    let word = match p {
        Phase::Idle => "idle",
        Phase::Pushing => "pushing",
        Phase::Pulling => "pulling",
        Phase::WaitingRetry => "waiting to retry",
        Phase::Held => "held: waiting for approval",
        Phase::Stopped => "stopped",
    };
    match progress {
        Some(Progress { done, total }) if total > 0 && matches!(p, Phase::Pushing | Phase::Pulling) => {
            format!("{word} {done}/{total}")
        }
        _ => word.to_owned(),
    }
}

fn retry(next: Option<i64>) -> String {
    next.map(|t| format!(" (next try {})", fmt_time(t))).unwrap_or_default()
}
