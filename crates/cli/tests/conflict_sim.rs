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

// ---------------------------------------------------------------------------
// Scenarios written as files: `--file F`.

/// The example files shipped with `outpost-sim`, one per strategy.
const EXAMPLES: &[(&str, &str)] = &[
    ("auto-merge.json", "file-auto-merge"),
    ("last-writer-wins.json", "file-last-writer-wins"),
    ("always-ask.json", "file-always-ask"),
];

fn example(file: &str) -> String {
    format!("{}/../sim/scenarios/{file}", env!("CARGO_MANIFEST_DIR"))
}

const SMALL: &str = r#"{
  "name": "small",
  "description": "two devices, one note",
  "devices": [{ "name": "a" }, { "name": "b" }],
  "steps": [
    { "create": { "device": "a", "note": "n", "title": "T", "body": "x\n" } },
    "sync_all"
  ],
  "expect": { "converged": true, "notes": { "n": { "body": "x\n" } } }
}"#;

/// `SMALL` with `from` (which must occur exactly once) changed to `to`.
fn small_with(from: &str, to: &str) -> String {
    assert_eq!(SMALL.matches(from).count(), 1, "{from:?} is not one place in SMALL");
    SMALL.replace(from, to)
}

#[test]
fn scenario_files_for_every_strategy_run_over_http_and_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["conflict-sim".to_owned(), "--json".to_owned()];
    for (file, _) in EXAMPLES {
        args.extend(["--file".to_owned(), example(file)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(dir.path(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "conflict-sim failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(v["passed"], true, "{stdout}");
    let reports = v["scenarios"].as_array().expect("a list of scenarios");
    // Only the files run, not the built-ins.
    let names: Vec<&str> = reports.iter().map(|r| r["name"].as_str().expect("a name")).collect();
    assert_eq!(names, EXAMPLES.iter().map(|e| e.1).collect::<Vec<_>>());
    for r in reports {
        assert!(r["checks"].as_array().expect("checks").len() >= 3, "{r:#}");
    }
}

#[test]
fn a_file_with_a_wrong_expectation_is_reported_failing_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("wrong.json");
    std::fs::write(&file, small_with(r#""n": { "body": "x\n" }"#, r#""n": { "body": "y\n" }"#)).expect("write");
    let path = file.to_str().expect("a UTF-8 path");
    let out = run(dir.path(), &["conflict-sim", "--file", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("== small (NOT AS EXPECTED"), "{stdout}");
    assert!(stdout.contains(r#"FAIL note "n" on a: body: got Some("x\n"), expected Some("y\n")"#), "{stdout}");
    assert!(stdout.contains("0 of 1 scenarios behaved as expected"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("small"));
}

#[test]
fn a_built_in_and_a_file_run_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("small.json");
    std::fs::write(&file, SMALL).expect("write");
    let path = file.to_str().expect("a UTF-8 path");
    let text = run_ok(dir.path(), &["conflict-sim", "--scenario", "different-lines", "--file", path]);
    assert!(text.contains("== different-lines (as expected"), "{text}");
    assert!(text.contains("== small (as expected"), "{text}");
    assert!(text.contains("2 of 2 scenarios behaved as expected"), "{text}");
}

/// Each bad file is refused with its name and where; the good file given
/// with it does not run either.
#[test]
fn malformed_files_are_refused_clearly_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.json");
    std::fs::write(&good, SMALL).expect("write");
    let cases = [
        ("comma.json", small_with(r#"{ "name": "b" }]"#, r#"{ "name": "b" },]"#), "comma.json:4:"),
        ("typo.json", small_with(r#""title": "T""#, r#""titel": "T""#), "typo.json:6:"),
        (
            "device.json",
            small_with(r#""sync_all""#, r#"{ "sync": "c" }"#),
            "device.json: step 2: no device named \"c\"",
        ),
        (
            "note.json",
            small_with(r#""sync_all""#, r#"{ "delete": { "device": "a", "note": "m" } }"#),
            "note.json: step 2: no note named \"m\"",
        ),
    ];
    for (name, text, want) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, text).expect("write");
        let out = run(
            dir.path(),
            &["conflict-sim", "--file", good.to_str().expect("UTF-8"), "--file", bad.to_str().expect("UTF-8")],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "invalid input: {name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert!(stderr.contains("nothing was run"), "{name}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{name}: something ran");
    }
    let out = run(dir.path(), &["conflict-sim", "--file", "no-such-file.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "not found: {stderr}");
    assert!(stderr.contains("no-such-file.json: cannot read it"), "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "the reason once: {stderr}");
}

/// `--help` shows the file format, and its example runs as it says.
#[test]
fn help_shows_the_file_format_with_an_example_that_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let help = run_ok(dir.path(), &["conflict-sim", "--help"]);
    assert!(help.contains("Scenario files (--file)") && help.contains("crates/sim/scenarios/"), "{help}");
    let start = help.find("\n  {\n").expect("an example in the help") + 1;
    let end = start + help[start..].find("\n  }\n").expect("the example's end") + "\n  }\n".len();
    let file = dir.path().join("from-help.json");
    std::fs::write(&file, &help[start..end]).expect("write");
    let text = run_ok(dir.path(), &["conflict-sim", "--file", file.to_str().expect("UTF-8")]);
    assert!(text.contains("== rename-race (as expected"), "{text}");
    assert!(text.contains("1 of 1 scenarios behaved as expected"), "{text}");
    // The short help points at it.
    assert!(run_ok(dir.path(), &["conflict-sim", "-h"]).contains("--help shows their format"));
}

#[test]
fn list_shows_files_without_running_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = example("always-ask.json");
    let v: serde_json::Value =
        serde_json::from_str(&run_ok(dir.path(), &["conflict-sim", "--list", "--json", "--file", &file]))
            .expect("JSON");
    let names: Vec<&str> = v.as_array().expect("list").iter().map(|s| s["name"].as_str().expect("name")).collect();
    assert_eq!(names, ["file-always-ask"]);
    assert!(v[0]["file"].as_str().is_some_and(|f| f.ends_with("always-ask.json")), "{v:#}");
    assert!(v[0]["expected"].as_str().is_some_and(|e| e.starts_with("Each merge is clean")), "{v:#}");
}
