//! `outpost status`: the store's counts (no key needed), and the sync
//! engine's live status when one runs on this data directory (the app, or
//! `outpost sync --watch`), from the file it keeps there. `--watch` is the
//! sync-status monitor: it prints again whenever either changes, with the
//! insights line of the pass history. `--history` prints that history
//! (newest first) and its insights (`outpost_core::monitor`); no key
//! needed either.

use std::io::Write as _;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use outpost_core::connectivity::Connectivity;
use outpost_core::engine::{self, Phase, Progress, StatusError, StatusFile, SyncStatus, STATUS_FILE};
use outpost_core::monitor::{self, Insights, Outcome, PassRecord};
use outpost_core::net::{self, NetMode};
use outpost_core::store::DB_FILE;
use outpost_core::time::now_ms;
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
    /// The sync passes this store ran (the last 1,000, 30 days at most),
    /// newest first, and what they say: success rate, median and p95
    /// duration, bytes per day, the oldest change not yet on the server,
    /// failed outbox entries
    #[arg(long, conflicts_with = "watch")]
    history: bool,
    /// With --history or --watch: warn when a change has waited longer than
    /// this for the server (such as 30m, 1h, 2d)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration_ms)]
    stale_after: i64,
}

/// Without a change to look at, the monitor still looks this often (a
/// missed file event, a clock that makes "last sync" stale).
const FALLBACK_TICK: Duration = Duration::from_secs(5);
/// Bursts of file events closer than this are read once.
const COALESCE: Duration = Duration::from_millis(100);

pub fn run(dir: &Path, args: StatusArgs) -> anyhow::Result<()> {
    if args.watch {
        return watch(dir, args.json, args.stale_after);
    }
    if args.history {
        return history(dir, args.json, args.stale_after);
    }
    let s = outpost_core::vault::peek_status(dir)?;
    let files = outpost_core::vault::peek_file_counts(dir)?;
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("files".into(), serde_json::to_value(files)?);
        }
        out!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    out!("store      {}", dir.display());
    out!("notes      {} ({} deleted)", s.notes, s.tombstones);
    out!(
        "outbox     {} pending, {} failed, {} edits coalesced{}",
        s.pending,
        s.failed,
        s.coalesced,
        s.oldest_pending_at.map(|t| format!(", oldest from {}", fmt_time(t))).unwrap_or_default()
    );
    out!("conflicts  {} open", s.open_conflicts);
    out!(
        "files      {} to upload ({} B), {} to download ({} B), {} B cached",
        files.upload_files,
        files.upload_bytes,
        files.download_files,
        files.download_bytes,
        files.cached_bytes
    );
    out!("server     {}", s.server.as_deref().unwrap_or("none (local only)"));
    out!("last sync  {}", s.last_sync_at.map(fmt_time).unwrap_or_else(|| "never".into()));
    out!("cursor     {}", s.cursor.as_deref().unwrap_or("-"));
    if let Some(at) = s.server_reset_at {
        out!("restart    {} (server reset or restored, or another account: every note sent again)", fmt_time(at));
    }
    out!("schema     v{}   key: {}", s.schema_version, s.key_method);
    match net::read_control(dir) {
        Ok(mode) => out!("network    {}", mode.describe()),
        Err(e) => out!("network    {e}"),
    }
    match engine::read_status_file(dir) {
        Ok(Some(f)) if running(&f) => out!("engine     running (pid {}): {}", f.pid, describe_engine(&f.status)),
        Ok(Some(_)) | Ok(None) => out!("engine     not running"),
        Err(e) => out!("engine     {e}"),
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
    /// What the pass history and the outbox say (`None` if unreadable).
    insights: Option<Insights>,
}

fn look(dir: &Path, stale_after: i64) -> View {
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
        insights: None,
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
    match monitor::peek_report(dir, now_ms(), stale_after) {
        Ok(report) => view.insights = Some(report.insights),
        Err(e) => {
            view.last_error.get_or_insert_with(|| local_error(e.code(), e.to_string()));
        }
    }
    view
}

fn local_error(code: &str, message: String) -> StatusError {
    StatusError { code: code.to_owned(), message, at_ms: now_ms() }
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
fn watch(dir: &Path, json: bool, stale_after: i64) -> anyhow::Result<()> {
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
    let mut out = std::io::stdout().lock();
    loop {
        let view = look(dir, stale_after);
        if last.as_ref() != Some(&view) {
            if json {
                writeln!(out, "{}", serde_json::to_string(&view)?)?;
            } else {
                writeln!(out, "{}", describe_view(&view))?;
                if let Some(insights) = &view.insights {
                    writeln!(out, "  {}", describe_insights(insights, now_ms()))?;
                }
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
    let now = fmt_time(now_ms());
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
    if let Some(why) = &s.deferred {
        line.push_str(&format!("; waiting: {why}"));
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

/// `status --history`: the passes, newest first, then the insights.
fn history(dir: &Path, json: bool, stale_after: i64) -> anyhow::Result<()> {
    let report = monitor::peek_report(dir, now_ms(), stale_after)?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    if report.passes.is_empty() {
        writeln!(out, "no sync pass recorded yet (the engine records its passes: the app, `outpost sync --watch`)")?;
    }
    for p in &report.passes {
        writeln!(out, "{}", describe_pass(p))?;
    }
    let i = &report.insights;
    writeln!(out, "insights  {}", describe_insights(i, report.now_ms))?;
    let days: Vec<String> = i
        .bytes_per_day
        .iter()
        .map(|d| format!("{} {}/{}", &fmt_time(d.day_start_ms)[..10], bytes(d.sent), bytes(d.received)))
        .collect();
    writeln!(out, "per day   (sent/received) {}", days.join(", "))?;
    for e in &i.failed_entries {
        writeln!(
            out,
            "failed    entry {} of note {}, {} attempts: {}",
            e.seq,
            e.note_id,
            e.attempts,
            e.last_error.as_deref().unwrap_or("no error recorded")
        )?;
    }
    Ok(())
}

fn describe_pass(p: &PassRecord) -> String {
    let what = match p.outcome {
        Outcome::Ok => format!(
            "pushed {}, pulled {}; {} sent, {} received",
            p.pushed,
            p.pulled,
            bytes(p.bytes_sent),
            bytes(p.bytes_received)
        ),
        Outcome::Failed => format!(
            "{}; {} sent, {} received",
            p.error_code.as_deref().unwrap_or("unknown error"),
            bytes(p.bytes_sent),
            bytes(p.bytes_received)
        ),
        Outcome::Deferred => p.reason.clone().unwrap_or_default(),
    };
    format!(
        "{}  {:<12}  {:<8}  {:>7} ms  {what}",
        fmt_time(p.started_at),
        p.trigger.as_str(),
        p.outcome.as_str(),
        p.duration_ms
    )
}

/// The insights line: what `--history` ends with and `--watch` repeats.
pub fn describe_insights(i: &Insights, now: i64) -> String {
    let mut parts = Vec::new();
    let rate = i.success_rate.map(|r| format!(", {:.0}% ok", r * 100.0)).unwrap_or_default();
    parts.push(format!("{} passes ({} ok, {} failed, {} deferred){rate}", i.passes, i.ok, i.failed, i.deferred));
    if let (Some(median), Some(p95)) = (i.median_ms, i.p95_ms) {
        parts.push(format!("median {median} ms, p95 {p95} ms"));
    }
    let total: u64 = i.bytes_per_day.iter().map(|d| d.sent + d.received).sum();
    let days = i.bytes_per_day.len().max(1) as u64;
    parts.push(format!("{}/day over {days} days", bytes(total / days)));
    match &i.oldest_unsent {
        Some(u) => {
            let age = monitor::describe_age(now.saturating_sub(u.created_at));
            let warning = if i.stale {
                format!(" (WARNING: waiting longer than {})", monitor::describe_age(i.stale_after_ms))
            } else {
                String::new()
            };
            parts.push(format!("oldest unsent change {age} old{warning}"));
        }
        None => parts.push("nothing unsent".to_owned()),
    }
    if !i.failed_entries.is_empty() {
        parts.push(format!("{} failed (`outpost outbox list`)", i.failed_entries.len()));
    }
    parts.join("; ")
}

fn bytes(n: u64) -> String {
    match n {
        0..=9_999 => format!("{n} B"),
        10_000..=9_999_999 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// `30s`, `15m`, `1h`, `2d` (or `500ms`) as milliseconds.
fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| format!("{s:?} is not a duration such as 30m, 1h or 2d"))?;
    let scale = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m, h or d (such as 30m, 1h, 2d)")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("2d"), Ok(172_800_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert!(parse_duration_ms("1 week").is_err());
        assert!(parse_duration_ms("h").is_err());
        assert!(parse_duration_ms("").is_err());
    }
}
