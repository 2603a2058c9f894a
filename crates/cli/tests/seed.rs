//! `outpost seed` through the real binary: the extras are what the other
//! commands show and act on (conflicts list and resolve, outbox list and
//! retry, status --history), `--devices 2` makes a second device over a
//! real `outpost serve`, and a store without an account is told what to do.

mod common;

use common::{json, run, run_ok, start_server, titles};
use serde_json::Value;

#[test]
fn the_extras_are_what_the_other_commands_show() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let out = run_ok(
        dir,
        &[
            "seed",
            "--notes",
            "30",
            "--size",
            "400",
            "--seed",
            "4",
            "--deleted",
            "3",
            "--conflicts",
            "2",
            "--failed",
            "2",
            "--history",
            "25",
        ],
    );
    assert!(out.contains("seeded 30 notes") && out.contains("2 with an open conflict"), "{out}");

    let status = json(dir, &["status", "--json"]);
    assert_eq!(status["notes"].as_u64(), Some(27), "{status}");
    assert_eq!(status["tombstones"].as_u64(), Some(3), "{status}");
    assert_eq!(status["failed"].as_u64(), Some(2), "{status}");
    assert_eq!(status["open_conflicts"].as_u64(), Some(2), "{status}");

    let conflicts = json(dir, &["conflicts", "list", "--json"]);
    let conflicts = conflicts.as_array().expect("array");
    assert_eq!(conflicts.len(), 2);
    let id = conflicts[0]["id"].as_i64().expect("id").to_string();
    run_ok(dir, &["conflicts", "resolve", &id, "--mine"]);
    assert_eq!(json(dir, &["conflicts", "list", "--json"]).as_array().map(Vec::len), Some(1));

    let outbox = json(dir, &["outbox", "list", "--json"]);
    let failed: Vec<&Value> =
        outbox["entries"].as_array().expect("entries").iter().filter(|e| e["state"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{outbox}");
    for e in &failed {
        let error = e["last_error"].as_str().unwrap_or_default();
        assert!(error.contains("400 malformed_body"), "{error}");
    }
    let seq = failed[0]["seq"].as_i64().expect("seq").to_string();
    run_ok(dir, &["outbox", "retry", &seq]);
    assert_eq!(json(dir, &["status", "--json"])["failed"].as_u64(), Some(1));

    let history = json(dir, &["status", "--history", "--json"]);
    let passes = history["passes"].as_array().expect("passes");
    assert_eq!(passes.len(), 25);
    let outcomes: std::collections::BTreeSet<&str> = passes.iter().filter_map(|p| p["outcome"].as_str()).collect();
    assert!(outcomes.contains("ok") && outcomes.len() >= 2, "{outcomes:?}");
    assert!(history["insights"]["success_rate"].as_f64().is_some_and(|r| r > 0.5 && r < 1.0), "{history}");
}

#[test]
fn asking_for_more_than_the_notes_or_a_second_device_without_an_account_says_what_to_do() {
    let d = tempfile::tempdir().expect("tempdir");
    let second = tempfile::tempdir().expect("tempdir");
    let out = run(d.path(), &["seed", "--notes", "5", "--deleted", "3", "--conflicts", "3"]);
    assert_eq!(out.status.code(), Some(4), "invalid input");
    assert!(String::from_utf8_lossy(&out.stderr).contains("distinct notes"));

    let second_dir = second.path().to_str().expect("utf-8 path");
    let out = run(d.path(), &["seed", "--notes", "5", "--devices", "2", "--second-dir", second_dir]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outpost account register"), "{err}");
    let status = json(d.path(), &["status", "--json"]);
    assert_eq!(status["notes"].as_u64(), Some(0), "nothing seeded: {status}");

    // A directory with no store yet is told the same, and left alone.
    let fresh = tempfile::tempdir().expect("tempdir");
    let out = run(fresh.path(), &["seed", "--devices", "2", "--second-dir", second_dir]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("outpost account register"));
    assert_eq!(std::fs::read_dir(fresh.path()).expect("read dir").count(), 0, "no store was created");

    let out = run(d.path(), &["seed", "--notes", "5", "--devices", "2"]);
    assert_eq!(out.status.code(), Some(2), "usage: --second-dir is required");
}

#[test]
fn devices_2_makes_a_second_device_of_the_account_that_has_diverged() {
    let srv_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(srv_dir.path());
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    run_ok(a.path(), &["account", "register", "--server", &server.url, "--user", "alice"]);
    let b_dir = b.path().join("device-2");
    let b_arg = b_dir.to_str().expect("utf-8 path");
    let out = json(
        a.path(),
        &[
            "seed",
            "--notes",
            "25",
            "--size",
            "300",
            "--seed",
            "9",
            "--deleted",
            "2",
            "--conflicts",
            "1",
            "--devices",
            "2",
            "--second-dir",
            b_arg,
            "--json",
        ],
    );
    let second = &out["second_device"];
    assert_eq!(second["second"]["pulled"].as_u64(), Some(25), "{out}");
    assert_eq!(second["edited"].as_u64(), Some(2), "{out}");

    // The second device is signed in to the same account, holds the
    // first's notes and its own unsynced changes.
    let account = json(&b_dir, &["account", "show", "--json"]);
    assert_eq!(account["account"]["username"], "alice");
    assert_eq!(account["logged_in"], true);
    let status_b = json(&b_dir, &["status", "--json"]);
    assert_eq!(status_b["notes"].as_u64(), Some(23 - 1 + 2), "{status_b}");
    assert_eq!(status_b["pending"].as_u64(), Some(2 + 1 + 2), "{status_b}");
    let status_a = json(a.path(), &["status", "--json"]);
    assert_eq!(status_a["pending"].as_u64(), Some(0), "{status_a}");
    assert_eq!(status_a["open_conflicts"].as_u64(), Some(1), "{status_a}");

    // Syncing brings them together.
    run_ok(&b_dir, &["sync"]);
    run_ok(a.path(), &["sync"]);
    assert_eq!(titles(a.path()), titles(&b_dir));

    // Run again: the second device is used as it is (already signed in).
    let out = run_ok(a.path(), &["seed", "--notes", "3", "--seed", "10", "--devices", "2", "--second-dir", b_arg]);
    assert!(out.contains("second device in"), "{out}");
}
