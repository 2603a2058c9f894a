//! The sync monitor: the engine records each pass (trigger, outcome, error
//! code, bytes) against a real in-process server; the history stays within
//! its bounds under an explicit clock; the insights follow the records;
//! failed outbox entries are retried and discarded without losing the
//! change; and all of it reads without the key.
//!
//! Waits are on records appearing in the store, bounded only so a broken
//! build does not hang; no assertion depends on how fast anything is.

mod common;

use std::future::Future;
use std::time::Duration;

use common::TestServer;
use outpost_core::account;
use outpost_core::engine::{Engine, EngineOptions, Phase, SyncStatus};
use outpost_core::keys::{KdfParams, MemoryStore};
use outpost_core::monitor::{
    self, EntryState, OutboxRow, Outcome, PassRecord, Selection, Trigger, MAX_AGE_MS, MAX_PASSES,
};
use outpost_core::remote::Remote;
use outpost_core::sync::SyncReport;
use outpost_core::{NoteDraft, SharedVault, Vault};
use outpost_protocol::v1::PushResult;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(60);
const DAY: i64 = 86_400_000;
/// A fixed "now" for the clock-driven tests: 2025-01-01T00:00:00Z.
const T0: i64 = 1_735_689_600_000;

fn open() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    (dir, vault)
}

fn note(vault: &mut Vault, title: &str) -> Uuid {
    vault.create(NoteDraft { title: title.into(), body: "body text".into(), ..Default::default() }).expect("create").id
}

fn ok_pass(started_at: i64, duration_ms: u64) -> PassRecord {
    let report = SyncReport { pushed: 1, pulled: 2, bytes_sent: 100, bytes_received: 200, ..Default::default() };
    PassRecord::ok(Trigger::Timer, started_at, duration_ms, &report)
}

async fn wait_until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_status(engine: &Engine, what: &str, pred: impl Fn(&SyncStatus) -> bool) {
    let mut rx = engine.status();
    let found = tokio::time::timeout(PATIENCE, async { rx.wait_for(|s| pred(s)).await.map(|_| ()) }).await;
    assert!(matches!(found, Ok(Ok(()))), "no status with {what}: {:?}", engine.status().borrow());
}

fn history(vault: &SharedVault) -> Vec<PassRecord> {
    monitor::history(vault.lock().connection()).expect("history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_records_each_pass_with_its_trigger_and_outcome() {
    let mut srv = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut vault, &remote, "mo", "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    note(&mut vault, "first");
    let vault = SharedVault::new(vault);
    let opts = EngineOptions {
        interval: Duration::from_secs(3600),
        retry_min: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        probe_min: Duration::from_millis(50),
        probe_max: Duration::from_millis(200),
        status_file: false,
        ..EngineOptions::default()
    };
    let engine = Engine::start(vault.clone(), remote, dir.path(), opts).expect("engine");

    // The pass at start pushes the note.
    wait_status(&engine, "the first pass done", |s| s.last_success_ms.is_some() && s.phase == Phase::Idle).await;
    let first = history(&vault).into_iter().last().expect("a record");
    assert_eq!((first.trigger, first.outcome, first.pushed), (Trigger::Start, Outcome::Ok, 1), "{first:?}");
    assert!(first.bytes_sent > 0 && first.bytes_received > 0, "{first:?}");
    assert_eq!((first.error_code.as_deref(), first.reason.as_deref()), (None, None));

    // Asked for: a pass whose trigger says so (a poke announcing the
    // note's own push may run one of its own meanwhile).
    engine.sync_now();
    wait_until("the sync-now pass recorded", || async {
        history(&vault).iter().any(|r| r.trigger == Trigger::SyncNow && r.outcome == Outcome::Ok)
    })
    .await;

    // The server gone: the pass fails, coded, its bytes measured (none
    // answered) and the pass itself unharmed by the record.
    srv.go_down().await;
    engine.sync_now();
    wait_until("a failed pass recorded", || async {
        history(&vault).iter().any(|r| r.outcome == Outcome::Failed && r.trigger == Trigger::SyncNow)
    })
    .await;
    let failed = history(&vault).into_iter().find(|r| r.outcome == Outcome::Failed).expect("failed");
    assert_eq!(failed.error_code.as_deref(), Some("unreachable"), "{failed:?}");
    assert_eq!((failed.pushed, failed.pulled, failed.bytes_received), (0, 0, 0), "{failed:?}");

    // Back: a later pass succeeds again, found by the probe or a retry.
    srv.come_back().await;
    wait_until("an ok pass after the failure", || async {
        let h = history(&vault);
        let at = h.iter().position(|r| r.outcome == Outcome::Failed).expect("the failure is kept");
        h[..at].iter().any(|r| r.outcome == Outcome::Ok && matches!(r.trigger, Trigger::NetworkBack | Trigger::Retry))
    })
    .await;
    engine.shutdown().await;

    // Newest first, and readable without the key.
    let dir_report = monitor::peek_report(dir.path(), monitor_now(), monitor::DEFAULT_STALE_AFTER_MS).expect("peek");
    assert_eq!(dir_report.passes, history(&vault));
    assert!(dir_report.passes.windows(2).all(|w| w[0].started_at >= w[1].started_at));
}

fn monitor_now() -> i64 {
    outpost_core::time::now_ms()
}

#[test]
fn the_history_keeps_the_last_thousand_passes_of_thirty_days() {
    let (_dir, vault) = open();
    let conn = vault.connection();
    let extra = 25;
    for i in 0..(MAX_PASSES + extra) as i64 {
        monitor::record(conn, &ok_pass(T0 + i * 1000, 10), T0 + i * 1000).expect("record");
    }
    let h = monitor::history(conn).expect("history");
    assert_eq!(h.len(), MAX_PASSES);
    assert_eq!(h[0].started_at, T0 + (MAX_PASSES as i64 + extra as i64 - 1) * 1000, "the newest is kept");
    assert_eq!(h.last().expect("oldest").started_at, T0 + extra as i64 * 1000, "the oldest went first");

    // Thirty days on: everything that started before the window goes, the
    // pass exactly at its edge stays.
    let later = T0 + 40 * DAY;
    let edge = later - MAX_AGE_MS;
    monitor::record(conn, &ok_pass(edge, 10), later).expect("record");
    monitor::record(conn, &ok_pass(edge - 1, 10), later).expect("record");
    let h = monitor::history(conn).expect("history");
    assert_eq!(h.iter().map(|r| r.started_at).collect::<Vec<_>>(), [edge], "{h:?}");
}

#[test]
fn a_deferred_pass_keeps_its_reason_and_nothing_else() {
    let (_dir, vault) = open();
    let conn = vault.connection();
    monitor::record(conn, &PassRecord::deferred(Trigger::LocalChange, T0, "metered network"), T0).expect("record");
    let h = monitor::history(conn).expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].outcome, h[0].trigger), (Outcome::Deferred, Trigger::LocalChange));
    assert_eq!(h[0].reason.as_deref(), Some("metered network"));
    assert_eq!((h[0].duration_ms, h[0].bytes_sent, h[0].error_code.as_deref()), (0, 0, None));

    let long = PassRecord::deferred(Trigger::Timer, T0, "x".repeat(monitor::MAX_REASON_BYTES + 1));
    assert!(monitor::record(conn, &long, T0).is_err(), "a reason is a short phrase");
    assert_eq!(monitor::history(conn).expect("history").len(), 1, "nothing written");
}

fn entry(seq: i64, state: EntryState, created_at: i64) -> OutboxRow {
    OutboxRow {
        seq,
        note_id: Uuid::now_v7(),
        op_id: Uuid::now_v7(),
        state,
        deleted: false,
        attempts: 1,
        next_attempt_at: created_at,
        last_error: (state == EntryState::Failed).then(|| "413: payload too large".to_owned()),
        created_at,
        updated_at: created_at,
    }
}

#[test]
fn insights_follow_the_records() {
    let now = T0 + 12 * 3_600_000; // noon
    let mut recs = vec![
        ok_pass(now - 1000, 40),
        ok_pass(now - DAY, 10),
        ok_pass(now - 2 * DAY, 30),
        ok_pass(now - 6 * DAY, 20),
        // Eight days ago: in the rates, not in the bytes of the last week.
        ok_pass(now - 8 * DAY, 50),
        PassRecord::failed(Trigger::Retry, now - 2000, 1000, "unreachable", Default::default()),
        PassRecord::deferred(Trigger::Poke, now - 3000, "battery low"),
    ];
    recs[0].bytes_sent = 5_000;
    let entries = [entry(7, EntryState::Failed, now - 3 * 3_600_000), entry(9, EntryState::Pending, now - 60_000)];

    let i = monitor::insights(&recs, &entries, now, monitor::DEFAULT_STALE_AFTER_MS);
    assert_eq!((i.passes, i.ok, i.failed, i.deferred), (7, 5, 1, 1));
    assert_eq!(i.success_rate, Some(5.0 / 6.0));
    // Durations of passes that ran, sorted: 10 20 30 40 50 1000.
    assert_eq!((i.median_ms, i.p95_ms), (Some(30), Some(1000)));
    let days: Vec<(i64, u64, u64)> = i.bytes_per_day.iter().map(|d| (d.day_start_ms, d.sent, d.received)).collect();
    assert_eq!(
        days,
        [
            (T0 - 6 * DAY, 100, 200),
            (T0 - 5 * DAY, 0, 0),
            (T0 - 4 * DAY, 0, 0),
            (T0 - 3 * DAY, 0, 0),
            (T0 - 2 * DAY, 100, 200),
            (T0 - DAY, 100, 200),
            (T0, 5_000, 200),
        ]
    );
    let oldest = i.oldest_unsent.expect("oldest");
    assert_eq!((oldest.seq, oldest.state), (7, EntryState::Failed));
    assert!(i.stale, "three hours is more than one");
    assert_eq!(i.failed_entries, [entries[0].clone()]);

    let lenient = monitor::insights(&recs, &entries, now, 4 * 3_600_000);
    assert!(!lenient.stale);
    let empty = monitor::insights(&[], &[], now, monitor::DEFAULT_STALE_AFTER_MS);
    assert_eq!((empty.success_rate, empty.median_ms, empty.oldest_unsent, empty.stale), (None, None, None, false));
}

/// Marks the note's outbox entry failed as a rejecting server leaves it
/// (`Vault::record_push_failure` with a permanent error).
fn fail_entry(vault: &Vault, id: Uuid) -> i64 {
    let conn = vault.connection();
    conn.execute(
        "UPDATE outbox SET state = 'failed', attempts = 1, base_rev = 0, last_error = '413: payload too large'
         WHERE note_id = ?1",
        [id.as_bytes()],
    )
    .expect("mark failed");
    conn.query_row("SELECT seq FROM outbox WHERE note_id = ?1", [id.as_bytes()], |r| r.get(0)).expect("seq")
}

#[test]
fn a_failed_entry_is_retried_and_a_discarded_one_is_kept() {
    let (dir, mut vault) = open();
    let rejected = note(&mut vault, "rejected");
    let waiting = note(&mut vault, "waiting");
    let seq = fail_entry(&vault, rejected);

    let report = monitor::peek_report(dir.path(), T0, monitor::DEFAULT_STALE_AFTER_MS).expect("report");
    assert_eq!(report.insights.failed_entries.len(), 1);
    assert_eq!(report.insights.failed_entries[0].last_error.as_deref(), Some("413: payload too large"));

    // Retry: pending again, attempts reset, due now; the op id stays.
    let op_before = monitor::outbox_rows(vault.connection()).expect("rows")[0].op_id;
    assert_eq!(monitor::retry(&mut vault, Selection::Entry(seq), T0).expect("retry"), [seq]);
    let row = monitor::outbox_rows(vault.connection()).expect("rows").into_iter().find(|r| r.seq == seq).expect("row");
    assert_eq!((row.state, row.attempts, row.next_attempt_at, row.op_id), (EntryState::Pending, 0, T0, op_before));
    assert!(monitor::retry(&mut vault, Selection::Entry(seq), T0).is_err(), "not failed any more");
    assert!(monitor::retry(&mut vault, Selection::AllFailed, T0).is_err(), "nothing failed");
    assert!(monitor::retry(&mut vault, Selection::Entry(999), T0).is_err(), "no such entry");

    // Failed again, then all failed at once.
    fail_entry(&vault, rejected);
    assert_eq!(monitor::retry(&mut vault, Selection::AllFailed, T0).expect("retry all"), [seq]);

    // Discard: the entry leaves the outbox, its sealed copy is kept, the
    // note keeps its text, and the other note's entry is untouched.
    let sealed = |conn: &rusqlite::Connection, table: &str| -> Vec<u8> {
        // An outbox entry of the note's current version holds no copy: the
        // note row has it.
        let sql =
            format!("SELECT coalesce(t.body, n.body) FROM {table} t JOIN notes n ON n.id = t.note_id WHERE t.seq = ?1");
        conn.query_row(&sql, [seq], |r| r.get(0)).expect("body")
    };
    let body_before = sealed(vault.connection(), "outbox");
    assert_eq!(monitor::discard(&mut vault, Selection::Note(rejected), T0 + 1).expect("discard"), [seq]);
    let rows = monitor::outbox_rows(vault.connection()).expect("rows");
    assert_eq!(rows.iter().map(|r| r.note_id).collect::<Vec<_>>(), [waiting]);
    assert_eq!(sealed(vault.connection(), "outbox_discarded"), body_before);
    assert_eq!(vault.get(rejected).expect("note").body, "body text");
    let discarded = monitor::discarded_rows(vault.connection()).expect("discarded");
    assert_eq!((discarded.len(), discarded[0].seq, discarded[0].discarded_at), (1, seq, T0 + 1));
    assert!(monitor::discard(&mut vault, Selection::Entry(seq), T0).is_err(), "already gone");

    // A later edit queues a new change as usual.
    vault.edit(rejected, outpost_core::NotePatch { body: Some("again".into()), ..Default::default() }).expect("edit");
    assert_eq!(monitor::outbox_rows(vault.connection()).expect("rows").len(), 2);
}

/// A push in flight while the user discards its newest entry and edits
/// the note again: the new entry takes a new number (a number never comes
/// back), and the answer to the push, recorded in a later transaction,
/// settles only the entries it was for.
/// `answer` records it one way: stored, or refused for good.
fn answer_after_a_discard_and_a_new_edit(answer: impl FnOnce(&mut Vault, &[outpost_core::vault::PendingOp])) {
    let (_dir, mut vault) = open();
    let first = note(&mut vault, "first");
    let second = note(&mut vault, "second");
    let batch = vault.take_push_batch(10).expect("batch");
    assert_eq!(batch.len(), 2);
    let top = batch.iter().find(|p| p.op.note_id == second).expect("second's entry").seq;
    assert_eq!(monitor::discard(&mut vault, Selection::Entry(top), T0).expect("discard"), [top]);
    vault.edit(second, outpost_core::NotePatch { body: Some("kept".into()), ..Default::default() }).expect("edit");
    let queued = monitor::outbox_rows(vault.connection()).expect("rows");
    let again = queued.iter().find(|r| r.note_id == second).expect("the edit is queued");
    assert!(again.seq > top, "a number never comes back");
    let new_op = again.op_id;

    answer(&mut vault, &batch);

    let rows = monitor::outbox_rows(vault.connection()).expect("rows");
    let after = rows.iter().find(|r| r.note_id == second).expect("the new edit is still queued");
    assert_eq!((after.op_id, after.state, after.attempts), (new_op, EntryState::Pending, 0));
    assert!(rows.iter().all(|r| r.note_id != first || r.state == EntryState::Failed), "first's entry was answered");
}

#[test]
fn a_push_answer_settles_its_own_entries_not_the_edit_queued_after_a_discard() {
    answer_after_a_discard_and_a_new_edit(|vault, batch| {
        let results: Vec<_> = (1..=2).map(|i| PushResult::Applied { rev: 1, seq: i }).collect();
        vault.apply_push_results(batch, &results).expect("record answers");
    });
    answer_after_a_discard_and_a_new_edit(|vault, batch| {
        vault.record_push_failure(batch, "400: invalid", false).expect("record failure");
    });
}

#[test]
fn history_and_outbox_read_without_the_key_and_hold_no_content() {
    let (dir, mut vault) = open();
    note(&mut vault, "Secret title");
    monitor::record(vault.connection(), &PassRecord::deferred(Trigger::Start, T0, "metered network"), T0)
        .expect("record");
    drop(vault);
    let report = monitor::peek_report(dir.path(), T0, monitor::DEFAULT_STALE_AFTER_MS).expect("report");
    assert_eq!(report.passes.len(), 1);
    let (entries, discarded) = monitor::peek_outbox(dir.path()).expect("outbox");
    assert_eq!((entries.len(), discarded.len()), (1, 0));
    let text = serde_json::to_string(&(report, entries)).expect("json");
    assert!(!text.contains("Secret") && !text.contains("body text"), "{text}");

    let none = tempfile::tempdir().expect("tempdir");
    assert!(monitor::peek_report(none.path(), T0, 0).is_err(), "no store, no history");
    assert!(!none.path().join("outpost.db").exists(), "nothing created");
}
