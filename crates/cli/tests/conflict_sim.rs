//! `outpost conflict-sim`: the real binary plays every named scenario
//! against the sync server it starts in-process, over HTTP.

mod common;

use common::{outpost, run, run_ok};

/// The scenarios DESIGN.md's testers' toolkit asks for.
const SCENARIOS: &[&str] = &[
    "same-line",
    "different-lines",
    "title-vs-body",
    "delete-vs-edit",
    "offline-1000",
    "clock-skew-ahead",
    "clock-skew-behind",
    "duplicate-delivery",
    "reordered-delivery",
    "crash-between-push-and-ack",
    "timeout-after-commit",
    "stale-device",
    "fresh-device-joins",
    "mass-delete",
];

#[test]
fn every_scenario_runs_over_http_and_behaves_as_expected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = outpost(dir.path()).args(["conflict-sim", "--json"]).output().expect("run outpost");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "conflict-sim failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(v["passed"], true, "{stdout}");
    let reports = v["scenarios"].as_array().expect("a list of scenarios");
    let names: Vec<&str> = reports.iter().map(|r| r["name"].as_str().expect("a name")).collect();
    assert_eq!(names, SCENARIOS);
    for r in reports {
        assert_eq!(r["passed"], true, "{}: {r:#}", r["name"]);
        let checks = r["checks"].as_array().expect("checks");
        assert!(checks.len() >= 2, "{} checks too little: {r:#}", r["name"]);
        assert!(checks.iter().all(|c| c["passed"] == true), "{r:#}");
        assert!(!r["expected"].as_str().unwrap_or_default().is_empty(), "{r:#}");
        assert!(!r["observed"].as_array().expect("observed").is_empty(), "{r:#}");
    }
    // The store directory is not touched: the devices live in scratch space.
    assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0);
}

#[test]
fn one_scenario_prints_what_should_and_did_happen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = run_ok(dir.path(), &["conflict-sim", "--scenario", "same-line"]);
    assert!(text.contains("== same-line (as expected"), "{text}");
    assert!(text.contains("expected: The second device to sync merges"), "{text}");
    assert!(text.contains("what happened:"), "{text}");
    assert!(text.contains("1 of 1 scenarios behaved as expected"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn list_names_every_scenario_without_running_any() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v: serde_json::Value =
        serde_json::from_str(&run_ok(dir.path(), &["conflict-sim", "--list", "--json"])).expect("JSON");
    let names: Vec<&str> = v.as_array().expect("list").iter().map(|s| s["name"].as_str().expect("name")).collect();
    assert_eq!(names, SCENARIOS);
}

#[test]
fn an_unknown_scenario_is_a_usage_error_that_lists_the_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["conflict-sim", "--scenario", "no-such-thing"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("same-line") && err.contains("mass-delete"), "{err}");
}
