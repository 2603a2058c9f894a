//! The sync monitor: a bounded history of sync passes, what it says about
//! how sync has been going, and the outbox as a person looks at it.
//!
//! - Every pass the engine runs leaves one row in `sync_passes` (migration
//!   7): when it started, how long it took, what woke the engine, how many
//!   changes went up and came down, the bytes on the wire, how it ended and
//!   the error's stable code. Plaintext metadata only: no note content, no
//!   titles, no error messages (they may quote a server's words; the code
//!   says what kind of failure it was). Writing it is one small
//!   transaction after the pass that never fails the pass
//!   ([`record_pass`]: logged and dropped). The history keeps the last
//!   [`MAX_PASSES`] passes and nothing older than [`MAX_AGE_MS`], pruned in
//!   the same transaction.
//! - A pass can also be recorded as [`Outcome::Deferred`] with a reason:
//!   policy that decides not to run one (a metered network, a low battery)
//!   says so here; today the engine does it when switched offline.
//! - [`insights`] is pure: success rate, median and 95th percentile
//!   duration, bytes per day, the oldest change not yet on the server and
//!   whether it waited too long, failed outbox entries.
//! - Reading ([`peek_report`], [`peek_outbox`]) needs no key: like
//!   `vault::peek_status` it opens the store without unlocking it and
//!   writes nothing.
//! - [`retry`] and [`discard`] change outbox entries and take an unlocked
//!   [`Vault`]. A discarded entry is not dropped: its sealed copy moves to
//!   `outbox_discarded` in the same transaction, and the note keeps its
//!   text on this device.
//!
//! The SQL of these two tables lives here rather than in `vault`: nothing
//! else reads or writes them, and the outbox changes are two statements
//! the vault's own rules (coalescing, freezing) already allow.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Recovery, Result};
use crate::remote::Remote;
use crate::remote::Traffic;
use crate::store::{self, migrate};
use crate::sync::{SyncReport, VaultAccess};
use crate::time::now_ms;
use crate::Vault;

mod outbox;
pub use outbox::{
    discard, discarded_rows, outbox_rows, peek_outbox, retry, DiscardedRow, EntryState, OutboxRow, Selection,
};

/// The history keeps at most this many passes (the newest)...
pub const MAX_PASSES: usize = 1_000;
/// ... and none that started longer ago than this (30 days).
pub const MAX_AGE_MS: i64 = 30 * DAY_MS;
/// A change waiting longer than this for the server is called stale (1 h).
pub const DEFAULT_STALE_AFTER_MS: i64 = 60 * 60 * 1000;
/// Days in the bytes-per-day series, today included.
pub const BYTES_DAYS: usize = 7;
/// A deferred pass's reason is a short phrase, never content.
pub const MAX_REASON_BYTES: usize = 200;

const DAY_MS: i64 = 86_400_000;

/// What woke the engine for a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Trigger {
    /// A local change, after its debounce.
    LocalChange,
    /// The server announced changes to pull.
    Poke,
    /// The safety-net timer.
    Timer,
    /// The server became reachable, or the testers' switch went back on.
    NetworkBack,
    /// Someone asked ("sync now").
    SyncNow,
    /// The engine's own retry time, or an outbox entry's.
    Retry,
    /// The engine started: whatever queued while it was not running.
    Start,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::LocalChange,
        Trigger::Poke,
        Trigger::Timer,
        Trigger::NetworkBack,
        Trigger::SyncNow,
        Trigger::Retry,
        Trigger::Start,
    ];

    /// The stored (and JSON) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::LocalChange => "local_change",
            Trigger::Poke => "poke",
            Trigger::Timer => "timer",
            Trigger::NetworkBack => "network_back",
            Trigger::SyncNow => "sync_now",
            Trigger::Retry => "retry",
            Trigger::Start => "start",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::Corrupt(format!("unknown sync pass trigger {s:?}")))
    }

    /// Which of the engine's deadlines woke it: the debounce of local
    /// changes first (the most specific reason), then a retry time, else
    /// the timer. Decided before the deadlines are cleared.
    pub(crate) fn of_deadline(
        now: tokio::time::Instant,
        debounce_at: Option<tokio::time::Instant>,
        retry_at: Option<tokio::time::Instant>,
    ) -> Trigger {
        if debounce_at.is_some_and(|at| at <= now) {
            Trigger::LocalChange
        } else if retry_at.is_some_and(|at| at <= now) {
            Trigger::Retry
        } else {
            Trigger::Timer
        }
    }
}

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Outcome {
    /// Pushed until nothing was due and pulled until drained.
    Ok,
    /// Stopped by an error (its code is kept).
    Failed,
    /// Not run, by policy (its reason is kept).
    Deferred,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Deferred => "deferred",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        [Outcome::Ok, Outcome::Failed, Outcome::Deferred]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| Error::Corrupt(format!("unknown sync pass outcome {s:?}")))
    }
}

/// One pass of the history. Times in ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PassRecord {
    pub started_at: i64,
    pub duration_ms: u64,
    pub trigger: Trigger,
    /// Changes the server applied ([`SyncReport::pushed`]); 0 for a pass
    /// that failed (a failing pass reports no counts).
    pub pushed: u64,
    /// Changes pulled and applied ([`SyncReport::pulled`]); 0 likewise.
    pub pulled: u64,
    /// Bytes on the wire (as `remote::Traffic` counts them), measured for
    /// failed passes too.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub outcome: Outcome,
    /// A failed pass: the error's stable code (`unreachable`, ...).
    pub error_code: Option<String>,
    /// A deferred pass: why it did not run.
    pub reason: Option<String>,
}

impl PassRecord {
    /// A pass that completed.
    pub fn ok(trigger: Trigger, started_at: i64, duration_ms: u64, report: &SyncReport) -> Self {
        PassRecord {
            started_at,
            duration_ms,
            trigger,
            pushed: report.pushed as u64,
            pulled: report.pulled as u64,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
            outcome: Outcome::Ok,
            error_code: None,
            reason: None,
        }
    }

    /// A pass that stopped with the error coded `code`.
    pub fn failed(trigger: Trigger, started_at: i64, duration_ms: u64, code: &str, traffic: Traffic) -> Self {
        PassRecord {
            started_at,
            duration_ms,
            trigger,
            pushed: 0,
            pulled: 0,
            bytes_sent: traffic.sent,
            bytes_received: traffic.received,
            outcome: Outcome::Failed,
            error_code: Some(code.to_owned()),
            reason: None,
        }
    }

    /// A pass that policy decided not to run at `at`, and why (a short
    /// phrase such as "metered network"; never note content).
    pub fn deferred(trigger: Trigger, at: i64, reason: impl Into<String>) -> Self {
        PassRecord {
            started_at: at,
            duration_ms: 0,
            trigger,
            pushed: 0,
            pulled: 0,
            bytes_sent: 0,
            bytes_received: 0,
            outcome: Outcome::Deferred,
            error_code: None,
            reason: Some(reason.into()),
        }
    }
}

/// Add `rec` to the history and prune it (at most [`MAX_PASSES`], nothing
/// that started before `now - MAX_AGE_MS`), in one transaction.
pub fn record(conn: &Connection, rec: &PassRecord, now: i64) -> Result<()> {
    if let Some(reason) = &rec.reason {
        if reason.len() > MAX_REASON_BYTES {
            return Err(Error::TooLarge { what: "deferral reason", size: reason.len(), limit: MAX_REASON_BYTES });
        }
    }
    let int = |v: u64| i64::try_from(v).map_err(|_| Error::Invalid(format!("{v} does not fit a sync pass record")));
    // The vault serialises its writers through `&mut self`; the engine
    // holds the shared vault's lock while this runs, and a CLI caller holds
    // the vault alone, so nothing else writes between these statements.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.prepare_cached(
        "INSERT INTO sync_passes (started_at, duration_ms, trigger, pushed, pulled, bytes_sent, bytes_received,
           outcome, error_code, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        rec.started_at,
        int(rec.duration_ms)?,
        rec.trigger.as_str(),
        int(rec.pushed)?,
        int(rec.pulled)?,
        int(rec.bytes_sent)?,
        int(rec.bytes_received)?,
        rec.outcome.as_str(),
        rec.error_code,
        rec.reason
    ])?;
    tx.prepare_cached(
        "DELETE FROM sync_passes WHERE started_at < ?1
           OR id NOT IN (SELECT id FROM sync_passes ORDER BY started_at DESC, id DESC LIMIT ?2)",
    )?
    .execute(params![now.saturating_sub(MAX_AGE_MS), MAX_PASSES as i64])?;
    tx.commit()?;
    Ok(())
}

/// The history, newest first (an empty one for a store not yet migrated
/// to schema 7: it has run no pass since).
pub fn history(conn: &Connection) -> Result<Vec<PassRecord>> {
    if !table_exists(conn, "sync_passes")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, duration_ms, trigger, pushed, pulled, bytes_sent, bytes_received, outcome, error_code,
                reason
         FROM sync_passes ORDER BY started_at DESC, id DESC",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let uint = |v: i64| u64::try_from(v).map_err(|_| Error::Corrupt(format!("negative count {v} in sync_passes")));
    while let Some(r) = rows.next()? {
        out.push(PassRecord {
            started_at: r.get(0)?,
            duration_ms: uint(r.get(1)?)?,
            trigger: Trigger::parse(&r.get::<_, String>(2)?)?,
            pushed: uint(r.get(3)?)?,
            pulled: uint(r.get(4)?)?,
            bytes_sent: uint(r.get(5)?)?,
            bytes_received: uint(r.get(6)?)?,
            outcome: Outcome::parse(&r.get::<_, String>(7)?)?,
            error_code: r.get(8)?,
            reason: r.get(9)?,
        });
    }
    Ok(out)
}

/// Bytes of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DayBytes {
    /// The day's first millisecond (UTC).
    pub day_start_ms: i64,
    pub sent: u64,
    pub received: u64,
}

/// The oldest change not yet on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Unsent {
    pub seq: i64,
    pub note_id: Uuid,
    pub state: EntryState,
    /// When the change was made.
    pub created_at: i64,
}

/// What the history and the outbox say, as of a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Insights {
    /// Passes in the history, by outcome.
    pub passes: u64,
    pub ok: u64,
    pub failed: u64,
    pub deferred: u64,
    /// `ok / (ok + failed)`: deferred passes were not attempts. `None`
    /// without any attempt.
    pub success_rate: Option<f64>,
    /// Nearest-rank median and 95th percentile of the durations of passes
    /// that ran (ok or failed).
    pub median_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// The last [`BYTES_DAYS`] UTC days, oldest first, today last.
    pub bytes_per_day: Vec<DayBytes>,
    /// The oldest outbox entry (pending or failed): the change that has
    /// waited longest for the server.
    pub oldest_unsent: Option<Unsent>,
    /// Waiting longer than this makes it stale.
    pub stale_after_ms: i64,
    pub stale: bool,
    /// Entries the server rejected, with their last error.
    pub failed_entries: Vec<OutboxRow>,
}

/// Insights from `records` (any order) and the outbox `entries` at `now`.
pub fn insights(records: &[PassRecord], entries: &[OutboxRow], now: i64, stale_after_ms: i64) -> Insights {
    let count = |o: Outcome| records.iter().filter(|r| r.outcome == o).count() as u64;
    let (ok, failed, deferred) = (count(Outcome::Ok), count(Outcome::Failed), count(Outcome::Deferred));
    let mut durations: Vec<u64> =
        records.iter().filter(|r| r.outcome != Outcome::Deferred).map(|r| r.duration_ms).collect();
    durations.sort_unstable();
    let today = now.div_euclid(DAY_MS);
    let bytes_per_day = (0..BYTES_DAYS as i64)
        .rev()
        .map(|back| {
            let day = today - back;
            let of_day = records.iter().filter(|r| r.started_at.div_euclid(DAY_MS) == day);
            let (sent, received) =
                of_day.fold((0u64, 0u64), |(s, r), rec| (s + rec.bytes_sent, r + rec.bytes_received));
            DayBytes { day_start_ms: day * DAY_MS, sent, received }
        })
        .collect();
    let oldest = entries.iter().min_by_key(|e| (e.created_at, e.seq));
    let stale = oldest.is_some_and(|e| now.saturating_sub(e.created_at) > stale_after_ms);
    Insights {
        passes: records.len() as u64,
        ok,
        failed,
        deferred,
        success_rate: (ok + failed > 0).then(|| ok as f64 / (ok + failed) as f64),
        median_ms: nearest_rank(&durations, 50),
        p95_ms: nearest_rank(&durations, 95),
        bytes_per_day,
        oldest_unsent: oldest.map(|e| Unsent {
            seq: e.seq,
            note_id: e.note_id,
            state: e.state,
            created_at: e.created_at,
        }),
        stale_after_ms,
        stale,
        failed_entries: entries.iter().filter(|e| e.state == EntryState::Failed).cloned().collect(),
    }
}

/// The nearest-rank `p`-th percentile of `sorted`: the smallest value with
/// at least `p`% of the values at or below it.
pub fn nearest_rank(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// `outpost status --history`: the history, newest first, and its
/// insights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Report {
    /// The moment the insights are computed for.
    pub now_ms: i64,
    pub passes: Vec<PassRecord>,
    pub insights: Insights,
}

/// [`Report`] of the store behind `conn`.
pub fn report(conn: &Connection, now: i64, stale_after_ms: i64) -> Result<Report> {
    let passes = history(conn)?;
    let entries = outbox_rows(conn)?;
    let insights = insights(&passes, &entries, now, stale_after_ms);
    Ok(Report { now_ms: now, passes, insights })
}

/// [`report`] of the store in `dir`, without its key.
pub fn peek_report(dir: &Path, now: i64, stale_after_ms: i64) -> Result<Report> {
    report(&open_without_key(dir)?, now, stale_after_ms)
}

/// The store in `dir`, opened as `vault::peek_status` does: not created,
/// not migrated, refused if newer than this build; nothing is written.
fn open_without_key(dir: &Path) -> Result<Connection> {
    let path = store::db_path(dir);
    if !path.exists() {
        return Err(Error::Invalid(format!("no Outpost store in {}", dir.display())));
    }
    let conn = store::connect(&path)?;
    migrate::ensure_not_newer(&conn)?;
    Ok(conn)
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn uuid(b: &[u8]) -> Result<Uuid> {
    Uuid::from_slice(b).map_err(|_| Error::Corrupt("an outbox id is not 16 bytes".into()))
}

/// A pass being timed by the engine: taken just before it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassWatch {
    trigger: Trigger,
    started_at: i64,
    started: std::time::Instant,
    before: Traffic,
}

impl PassWatch {
    pub(crate) fn start(trigger: Trigger, traffic: Traffic) -> Self {
        PassWatch { trigger, started_at: now_ms(), started: std::time::Instant::now(), before: traffic }
    }
}

/// The engine's record of a pass that ended with `result`, `traffic` being
/// the remote's counters now. Never fails: the pass's outcome matters more
/// than its record, so an error here is logged and dropped.
pub(crate) fn record_pass<A: VaultAccess>(vault: &A, watch: PassWatch, result: &Result<SyncReport>, traffic: Traffic) {
    let duration_ms = u64::try_from(watch.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let rec = match result {
        Ok(report) => PassRecord::ok(watch.trigger, watch.started_at, duration_ms, report),
        // Switched offline by the user or a tester: nothing was tried.
        Err(e) if e.recovery() == Recovery::SwitchedOff => {
            PassRecord::deferred(watch.trigger, watch.started_at, "switched offline")
        }
        Err(e) => {
            let code = match e {
                Error::Remote(r) => r.code(),
                e => e.code(),
            };
            let spent = Traffic {
                sent: traffic.sent.saturating_sub(watch.before.sent),
                received: traffic.received.saturating_sub(watch.before.received),
            };
            PassRecord::failed(watch.trigger, watch.started_at, duration_ms, code, spent)
        }
    };
    if let Err(e) = vault.with(|v| record(v.connection(), &rec, now_ms())) {
        tracing::warn!(error = %e, "the sync pass was not recorded in the history");
    }
}

/// One pass of a vault this caller holds alone (`outpost sync`), recorded
/// in the history as someone's request, as the engine records its own.
pub async fn sync_once_recorded(vault: &mut Vault, remote: &Remote) -> Result<SyncReport> {
    let watch = PassWatch::start(Trigger::SyncNow, remote.traffic());
    let result = crate::sync::sync_once(vault, remote).await;
    record_pass(&std::sync::Mutex::new(vault), watch, &result, remote.traffic());
    result
}

/// How long ago `at` was, for people (`3 h`, `2 d`, `45 s`).
pub fn describe_age(ms: i64) -> String {
    let d = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    let s = d.as_secs();
    match s {
        0..=89 => format!("{s} s"),
        90..=5_399 => format!("{} min", (s + 30) / 60),
        5_400..=172_799 => format!("{} h", (s + 1_800) / 3_600),
        _ => format!("{} d", (s + 43_200) / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 50), Some(50));
        assert_eq!(nearest_rank(&v, 95), Some(95));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank(&[1, 2], 50), Some(1));
        assert_eq!(nearest_rank(&[1, 2, 3], 50), Some(2));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    #[test]
    fn names_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()).expect("parse"), t);
            assert_eq!(serde_json::to_value(t).expect("json"), t.as_str());
        }
        for o in [Outcome::Ok, Outcome::Failed, Outcome::Deferred] {
            assert_eq!(Outcome::parse(o.as_str()).expect("parse"), o);
        }
    }

    #[test]
    fn deadlines_name_their_trigger() {
        let now = tokio::time::Instant::now();
        let past = Some(now - Duration::from_millis(1));
        let future = Some(now + Duration::from_secs(1));
        assert_eq!(Trigger::of_deadline(now, past, past), Trigger::LocalChange);
        assert_eq!(Trigger::of_deadline(now, future, past), Trigger::Retry);
        assert_eq!(Trigger::of_deadline(now, None, future), Trigger::Timer);
    }

    #[test]
    fn selections_parse() {
        assert_eq!(Selection::parse(" 12 ").expect("seq"), Selection::Entry(12));
        let id = Uuid::now_v7();
        assert_eq!(Selection::parse(&id.to_string()).expect("note"), Selection::Note(id));
        assert!(Selection::parse("twelve").is_err());
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(describe_age(12_000), "12 s");
        assert_eq!(describe_age(30 * 60_000), "30 min");
        assert_eq!(describe_age(3 * 3_600_000), "3 h");
        assert_eq!(describe_age(3 * DAY_MS), "3 d");
        assert_eq!(describe_age(-5), "0 s");
    }
}
