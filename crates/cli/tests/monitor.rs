//! The sync monitor through the real binary and a real `outpost serve`:
//! `status --history --json` after passes that succeeded, failed (the
//! server stopped) and were deferred (a metered network, with sync there
//! set to "never"), with its insights recomputed here from the records; and
//! `outbox list / retry / discard` on a change the server really rejected.
//!
//! Waits are on lines the engine prints, bounded only so a broken build
//! does not hang; never on a fixed time.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{outpost, run, run_ok, start_server, Lines};
use rand::RngCore;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(90);
const DAY: i64 = 86_400_000;

/// `outpost sync --watch --json` (the engine, headless) whose status lines
/// are collected as they come.
struct Engine {
    child: Child,
    lines: Lines,
}

impl Engine {
    fn start(dir: &Path) -> Self {
        let mut child = outpost(dir)
            .args(["sync", "--watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn outpost sync --watch");
        let lines = Lines::read(child.stdout.take().expect("stdout"));
        Engine { child, lines }
    }

    /// Waits for a status line that matches.
    fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = 0;
        loop {
            let lines = self.lines.snapshot();
            for line in &lines[seen..] {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"));
                if pred(&v) {
                    return v;
                }
            }
            seen = lines.len();
            assert!(self.lines.wait_for(seen + 1, deadline, what), "the engine ended before {what}: {lines:?}");
        }
    }

    /// Ctrl-C, and a clean exit.
    fn stop(mut self) {
        let ok = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill -INT");
        assert!(ok.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "sync --watch exits cleanly: {status:?}");
                return;
            }
            assert!(Instant::now() < deadline, "sync --watch did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `status --history --json`, with no passphrase: plaintext metadata only.
fn history(dir: &Path, extra: &[&str]) -> Value {
    let out = outpost(dir)
        .env_remove("OUTPOST_PASSPHRASE")
        .args(["status", "--history", "--json"])
        .args(extra)
        .output()
        .expect("run");
    assert!(out.status.success(), "status --history: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a count"))
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("{v} is not a time"))
}

/// Nearest rank, written again here from its definition.
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank - 1])
}

#[test]
fn history_shows_each_outcome_and_insights_that_match_it() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    run_ok(d, &["notes", "add", "--title", "Travels", "--body", "first"]);
    run_ok(d, &["account", "register", "--server", &server.url, "--user", "ines"]);

    // A pass that succeeds: the engine's first, pushing the note.
    let engine = Engine::start(d);
    engine.wait_for("a pass done with nothing pending", |v| {
        v["phase"] == "idle" && !v["last_success_ms"].is_null() && v["pending"] == 0
    });
    engine.stop();
    // A one-off `outpost sync` is recorded too, as someone's request.
    run_ok(d, &["sync"]);

    // The server stops; a note waits; a one-off sync and the engine's
    // first pass fail.
    drop(server);
    let waiting = run_ok(d, &["notes", "add", "--title", "Later", "--body", "second"]).trim().to_owned();
    assert!(!run(d, &["sync"]).status.success(), "the server is down");
    let engine = Engine::start(d);
    engine.wait_for("a failed pass", |v| !v["last_error"].is_null());
    engine.stop();

    // A deferred pass: on a metered network with "never" (the testers'
    // switch and the user's setting), the engine holds the note back and
    // records why.
    run_ok(d, &["policy", "--metered", "never"]);
    run_ok(d, &["net", "metered", "on"]);
    let engine = Engine::start(d);
    let held = engine.wait_for("the wait explained", |v| v["deferred"].as_str().is_some_and(|w| w.contains("metered")));
    assert_eq!(held["pending"], 1, "{held}");
    engine.stop();

    let h = history(d, &[]);
    let passes = h["passes"].as_array().expect("passes");
    let starts: Vec<i64> = passes.iter().map(|p| i(&p["started_at"])).collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first: {starts:?}");
    assert_eq!(passes[0]["outcome"], "deferred", "{h:#}");
    assert_eq!(passes[0]["reason"], "on a metered network: 1 change waits for Wi-Fi");
    assert_eq!(passes[0]["trigger"], "start");
    let failed: Vec<&Value> = passes.iter().filter(|p| p["outcome"] == "failed").collect();
    assert!(!failed.is_empty(), "{h:#}");
    assert!(failed.iter().all(|p| p["error_code"] == "unreachable" && p["bytes_received"] == 0), "{failed:?}");
    assert!(failed.iter().any(|p| p["trigger"] == "start"), "the failing engine's first pass: {failed:?}");
    assert!(failed.iter().any(|p| p["trigger"] == "sync_now"), "the failed one-off sync: {failed:?}");
    assert!(
        passes.iter().any(|p| p["trigger"] == "sync_now" && p["outcome"] == "ok"),
        "the one-off sync that worked: {h:#}"
    );
    let oldest = passes.last().expect("a pass");
    assert_eq!((&oldest["outcome"], &oldest["trigger"]), (&Value::from("ok"), &Value::from("start")), "{h:#}");
    assert!(u(&oldest["pushed"]) >= 1 && u(&oldest["bytes_sent"]) > 0, "{oldest}");
    // Plaintext metadata only.
    let text = h.to_string();
    assert!(!text.contains("Travels") && !text.contains("first") && !text.contains("second"), "{text}");

    // The insights, recomputed from the records.
    let ins = &h["insights"];
    let now = i(&h["now_ms"]);
    let count = |o: &str| passes.iter().filter(|p| p["outcome"] == o).count() as u64;
    let (ok, nfailed, deferred) = (count("ok"), count("failed"), count("deferred"));
    assert_eq!(
        (u(&ins["passes"]), u(&ins["ok"]), u(&ins["failed"]), u(&ins["deferred"])),
        (passes.len() as u64, ok, nfailed, deferred)
    );
    let rate = ins["success_rate"].as_f64().expect("rate");
    assert!((rate - ok as f64 / (ok + nfailed) as f64).abs() < 1e-9, "{rate}");
    let mut durations: Vec<u64> =
        passes.iter().filter(|p| p["outcome"] != "deferred").map(|p| u(&p["duration_ms"])).collect();
    durations.sort_unstable();
    assert_eq!(ins["median_ms"].as_u64(), percentile(&durations, 50.0));
    assert_eq!(ins["p95_ms"].as_u64(), percentile(&durations, 95.0));
    let days = ins["bytes_per_day"].as_array().expect("days");
    assert_eq!(days.len(), 7);
    let today = now.div_euclid(DAY);
    for (k, day) in days.iter().enumerate() {
        let start = (today - 6 + k as i64) * DAY;
        assert_eq!(i(&day["day_start_ms"]), start);
        let of_day = passes.iter().filter(|p| i(&p["started_at"]).div_euclid(DAY) * DAY == start);
        let (sent, received) = of_day.fold((0, 0), |(s, r), p| (s + u(&p["bytes_sent"]), r + u(&p["bytes_received"])));
        assert_eq!((u(&day["sent"]), u(&day["received"])), (sent, received), "day {k}");
    }
    // The note added while the server was away has not reached it.
    let outbox = run_ok(d, &["outbox", "list", "--json"]);
    let outbox: Value = serde_json::from_str(&outbox).expect("json");
    let entry = &outbox["entries"][0];
    assert_eq!(entry["note_id"], waiting.as_str());
    assert_eq!(ins["oldest_unsent"]["note_id"], waiting.as_str());
    assert_eq!(ins["oldest_unsent"]["created_at"], entry["created_at"]);
    assert_eq!(ins["stale"], false, "waited less than the default hour");
    assert_eq!(ins["failed_entries"], Value::Array(Vec::new()));

    // A stricter threshold: the same change is stale, and the text says so.
    assert_eq!(history(d, &["--stale-after", "0s"])["insights"]["stale"], true);
    let out = outpost(d)
        .env_remove("OUTPOST_PASSPHRASE")
        .args(["status", "--history", "--stale-after", "0s"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("WARNING: waiting longer than"), "{text}");
    assert!(text.contains("on a metered network") && text.contains("unreachable"), "{text}");
    let bad = run(d, &["status", "--history", "--stale-after", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "a bad duration is a usage error");
}

/// Replaces the sealed body of the note's queued change with 2.1 MiB of
/// noise: the server refuses the op (payload over its 2 MiB limit) as
/// invalid, so the change is marked failed, as any rejected change is.
fn make_too_large(dir: &Path, note: &str) {
    let conn = rusqlite::Connection::open(dir.join("outpost.db")).expect("open");
    let mut noise = vec![0u8; 2_200_000];
    rand::thread_rng().fill_bytes(&mut noise);
    let id = uuid::Uuid::parse_str(note).expect("uuid");
    let n = conn
        // The entry may share the note row's fields (NULL: the note's
        // current version, stored once); give it its own, with the noise.
        .execute(
            "UPDATE outbox SET title = n.title, meta = n.meta, body = ?1 FROM notes n
             WHERE n.id = outbox.note_id AND outbox.note_id = ?2",
            rusqlite::params![noise, id.as_bytes().to_vec()],
        )
        .expect("update");
    assert_eq!(n, 1);
}

fn outbox(dir: &Path) -> Value {
    let out = outpost(dir).env_remove("OUTPOST_PASSPHRASE").args(["outbox", "list", "--json"]).output().expect("run");
    assert!(out.status.success(), "outbox list needs no key: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_rejected_change_is_listed_retried_and_discarded_but_never_lost() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let d = tempfile::tempdir().expect("tempdir");
    let d = d.path();
    run_ok(d, &["account", "register", "--server", &server.url, "--user", "omar"]);
    let note = run_ok(d, &["notes", "add", "--title", "Big", "--body", "the words of the note"]).trim().to_owned();
    make_too_large(d, &note);

    let out = run(d, &["sync"]);
    assert!(!out.status.success(), "the rejection is reported");
    let list = outbox(d);
    let entry = &list["entries"][0];
    assert_eq!((&entry["state"], &entry["note_id"]), (&Value::from("failed"), &Value::from(note.as_str())), "{list}");
    assert!(entry["last_error"].as_str().is_some_and(|e| e.contains("limit")), "{entry}");
    assert!(!list.to_string().contains("the words"), "no content in the listing");
    let seq = entry["seq"].as_i64().expect("seq").to_string();
    let failed = &history(d, &[])["insights"]["failed_entries"];
    assert_eq!(failed[0]["seq"], entry["seq"], "{failed}");
    let text = run_ok(d, &["outbox", "list"]);
    assert!(text.contains("failed") && text.contains(&note), "{text}");

    // Retry needs the key; with it the entry is pending again, from zero.
    let locked = outpost(d).env_remove("OUTPOST_PASSPHRASE").args(["outbox", "retry", &seq]).output().expect("run");
    assert!(!locked.status.success(), "retry writes the store: it needs the key");
    assert_eq!(outbox(d)["entries"][0]["state"], "failed");
    run_ok(d, &["outbox", "retry", &seq]);
    let e = &outbox(d)["entries"][0];
    assert_eq!((&e["state"], &e["attempts"]), (&Value::from("pending"), &Value::from(0)), "{e}");
    assert_eq!(run(d, &["outbox", "retry", &seq]).status.code(), Some(4), "a pending entry is not retried");

    // Sent again, refused again; --all-failed puts it back.
    assert!(!run(d, &["sync"]).status.success());
    assert_eq!(outbox(d)["entries"][0]["state"], "failed");
    let said = run_ok(d, &["outbox", "retry", "--all-failed"]);
    assert!(said.contains("1 entry"), "{said}");
    assert_eq!(outbox(d)["entries"][0]["state"], "pending");

    // Discard asks first, and says what stays: nothing changes without --yes.
    let refused = run(d, &["outbox", "discard", &seq]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("--yes") && stderr.contains("keeps its text") && stderr.contains("pending"), "{stderr}");
    assert_eq!(outbox(d)["entries"].as_array().expect("entries").len(), 1);
    let said = run_ok(d, &["outbox", "discard", &seq, "--yes"]);
    assert!(said.contains("keep their text"), "{said}");
    let list = outbox(d);
    assert_eq!(list["entries"], Value::Array(Vec::new()), "{list}");
    assert_eq!(list["discarded"][0]["seq"], entry["seq"], "kept among the discarded: {list}");
    assert_eq!(list["discarded"][0]["state"], "pending");
    let shown: Value = serde_json::from_str(&run_ok(d, &["notes", "show", &note, "--json"])).expect("json");
    assert_eq!(shown["body"], "the words of the note", "the note keeps its text");
    assert_eq!(run(d, &["outbox", "discard", &seq, "--yes"]).status.code(), Some(4), "already discarded");

    // Nothing left to send, so sync succeeds; a later edit queues anew.
    run_ok(d, &["sync"]);
    run_ok(d, &["notes", "edit", &note, "--body", "edited after"]);
    assert_eq!(outbox(d)["entries"][0]["state"], "pending");
}
