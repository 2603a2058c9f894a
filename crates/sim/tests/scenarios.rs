//! The named conflict scenarios of `outpost conflict-sim`, straight on the
//! server's storage (fast; the CLI's test runs them over HTTP).

use outpost_sim::scenarios::{self, ScenarioReport, SCENARIOS};
use outpost_sim::InProcessServer;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

fn explain(r: &ScenarioReport) -> String {
    let mut s = format!("scenario {} failed\nexpected: {}\nobserved:\n", r.name, r.expected);
    for line in &r.observed {
        s.push_str(&format!("  {line}\n"));
    }
    for c in r.checks.iter().filter(|c| !c.passed) {
        s.push_str(&format!("FAILED: {}: {}\n", c.what, c.detail));
    }
    s
}

macro_rules! scenario_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let rt = runtime();
                let report = rt.block_on(async {
                    let server = InProcessServer::open().await.expect("an in-process server");
                    scenarios::run(&server, $name).await.expect("a known scenario")
                });
                assert!(report.checks.len() >= 2, "{} checks nothing much: {report:?}", $name);
                assert!(report.passed, "{}", explain(&report));
            }
        )*

        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$($name),*];
            let listed: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
            assert_eq!(listed, tested);
        }
    };
}

scenario_tests! {
    same_line => "same-line",
    different_lines => "different-lines",
    title_vs_body => "title-vs-body",
    delete_vs_edit => "delete-vs-edit",
    offline_1000 => "offline-1000",
    clock_skew_ahead => "clock-skew-ahead",
    clock_skew_behind => "clock-skew-behind",
    duplicate_delivery => "duplicate-delivery",
    reordered_delivery => "reordered-delivery",
    crash_between_push_and_ack => "crash-between-push-and-ack",
    timeout_after_commit => "timeout-after-commit",
    stale_device => "stale-device",
    fresh_device_joins => "fresh-device-joins",
    mass_delete => "mass-delete",
}

#[test]
fn an_unknown_scenario_is_refused_with_a_hint() {
    let rt = runtime();
    let err = rt.block_on(async {
        let server = InProcessServer::open().await.expect("an in-process server");
        scenarios::run(&server, "no-such-thing").await.expect_err("unknown")
    });
    assert!(err.to_string().contains("--list"), "{err}");
}

// ---------------------------------------------------------------------------
// Scenarios written as files (`outpost conflict-sim --file F`).

mod files {
    use std::path::PathBuf;

    use outpost_sim::scenario_file::{self, ScenarioFile, ScenarioFileError};
    use outpost_sim::scenarios::ScenarioReport;
    use outpost_sim::InProcessServer;

    use super::{explain, runtime};

    fn example(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)
    }

    fn play(file: &ScenarioFile) -> ScenarioReport {
        runtime().block_on(async {
            let server = InProcessServer::open().await.expect("an in-process server");
            scenario_file::run_file(&server, file).await.expect("a run")
        })
    }

    fn play_example(name: &str, strategy: &str) {
        let file = scenario_file::load(&example(name)).expect("the shipped example parses");
        assert!(file.strategies().contains(strategy), "{name} does not use {strategy}: {:?}", file.strategies());
        let report = play(&file);
        assert!(report.checks.len() >= 3, "{name} checks nothing much: {report:?}");
        assert!(report.passed, "{}", explain(&report));
    }

    #[test]
    fn example_auto_merge_passes() {
        play_example("auto-merge.json", "auto_merge");
    }

    #[test]
    fn example_last_writer_wins_passes() {
        play_example("last-writer-wins.json", "last_writer_wins");
    }

    #[test]
    fn example_always_ask_passes() {
        play_example("always-ask.json", "always_ask");
    }

    /// Every `.json` file shipped in `scenarios/` (not only the three
    /// above) parses and passes, and together they cover every strategy.
    #[test]
    fn the_shipped_examples_pass_and_cover_every_strategy() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut covered = std::collections::BTreeSet::new();
        let mut played = 0;
        for entry in std::fs::read_dir(&dir).expect("the scenarios folder") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let file = scenario_file::load(&path).unwrap_or_else(|e| panic!("{e}"));
            covered.extend(file.strategies());
            let report = play(&file);
            assert!(report.passed, "{}", explain(&report));
            played += 1;
        }
        assert!(played >= 3, "only {played} example files");
        assert_eq!(covered.into_iter().collect::<Vec<_>>(), ["always_ask", "auto_merge", "last_writer_wins"]);
    }

    /// The example in `scenarios/README.md` (the format's documentation)
    /// parses and behaves as it says.
    #[test]
    fn the_readme_example_passes() {
        let readme = std::fs::read_to_string(example("README.md")).expect("scenarios/README.md");
        let start = readme.find("```json\n").expect("a ```json block in the README") + "```json\n".len();
        let len = readme[start..].find("```").expect("the block's end");
        let file = scenario_file::parse(&readme[start..start + len], "README.md").unwrap_or_else(|e| panic!("{e}"));
        let report = play(&file);
        assert!(report.passed, "{}", explain(&report));
        // Durations are reported the way the file writes them.
        assert!(
            report.observed.iter().any(|l| l == "device phone, clock 1h behind, strategy last_writer_wins"),
            "{report:?}"
        );
    }

    const SMALL: &str = r#"{
  "name": "small",
  "description": "two devices, one note",
  "devices": [{ "name": "a" }, { "name": "b" }],
  "steps": [
    { "create": { "device": "a", "note": "n", "title": "T", "body": "x\n" } },
    "sync_all"
  ],
  "expect": { "converged": true, "notes": { "n": { "body": "x\n" } }, "open_conflicts": { "b": 0 } }
}"#;

    /// `SMALL` with `from` (which must occur exactly once) changed to `to`.
    fn small_with(from: &str, to: &str) -> String {
        assert_eq!(SMALL.matches(from).count(), 1, "{from:?} is not one place in SMALL");
        SMALL.replace(from, to)
    }

    #[test]
    fn a_small_file_passes_and_a_wrong_expectation_fails() {
        let ok = scenario_file::parse(SMALL, "small.json").expect("parses");
        let report = play(&ok);
        assert!(report.passed, "{}", explain(&report));

        let wrong = small_with(r#""n": { "body": "x\n" }"#, r#""n": { "body": "y\n" }"#);
        let report = play(&scenario_file::parse(&wrong, "wrong.json").expect("parses"));
        assert!(!report.passed, "a wrong expectation passed: {report:?}");
        let failed: Vec<&str> = report.checks.iter().filter(|c| !c.passed).map(|c| c.what.as_str()).collect();
        assert_eq!(failed, [r#"note "n" on a: body"#, r#"note "n" on b: body"#], "{report:?}");
    }

    #[test]
    fn a_step_that_cannot_run_fails_the_scenario() {
        // Resolving a conflict that is not there: the run stops, reported.
        let text =
            small_with(r#""sync_all""#, r#""sync_all", { "resolve": { "device": "b", "note": "n", "keep": "mine" } }"#);
        let report = play(&scenario_file::parse(&text, "f.json").expect("parses"));
        assert!(!report.passed);
        assert!(report.checks.iter().any(|c| c.detail.contains("no open conflict")), "{report:?}");
    }

    fn refused(text: &str) -> String {
        let err = scenario_file::parse(text, "bad.json").expect_err("refused");
        let msg = err.to_string();
        assert!(msg.starts_with("bad.json:"), "{msg}");
        msg
    }

    #[test]
    fn malformed_json_is_refused_with_line_and_column() {
        // A trailing comma in the device list, on line 4.
        let text = small_with(r#"{ "name": "b" }]"#, r#"{ "name": "b" },]"#);
        let err = scenario_file::parse(&text, "bad.json").expect_err("refused");
        assert!(matches!(err, ScenarioFileError::Syntax { line: 4, .. }), "{err:?}");
        let msg = refused("{\n  \"name\": \"x\",\n  \"devices\": [\n");
        assert!(msg.starts_with("bad.json:4:"), "{msg}");
    }

    #[test]
    fn unknown_fields_and_steps_are_refused_with_line_and_column() {
        let msg = refused(&small_with(r#""title": "T""#, r#""titel": "T""#));
        assert!(msg.starts_with("bad.json:6:") && msg.contains("titel"), "{msg}");
        let msg = refused(&small_with(r#""sync_all""#, r#""sync_everything""#));
        assert!(msg.starts_with("bad.json:7:") && msg.contains("sync_everything"), "{msg}");
        let msg = refused(&small_with(r#""expect""#, r#""expected_outcome""#));
        assert!(msg.contains("expected_outcome"), "{msg}");
    }

    #[test]
    fn unknown_devices_and_notes_are_refused_naming_the_step() {
        let msg = refused(&small_with(r#""sync_all""#, r#""sync_all", { "sync": "c" }"#));
        assert!(msg.contains("step 3") && msg.contains("\"c\"") && msg.contains("devices: a, b"), "{msg}");
        let msg = refused(&small_with(r#""sync_all""#, r#"{ "delete": { "device": "a", "note": "m" } }"#));
        assert!(msg.contains("step 2") && msg.contains("\"m\""), "{msg}");
        let msg = refused(&small_with(r#""open_conflicts": { "b": 0 }"#, r#""open_conflicts": { "z": 0 }"#));
        assert!(msg.contains("expect.open_conflicts") && msg.contains("\"z\""), "{msg}");
        let msg = refused(&small_with(r#""notes": { "n""#, r#""notes": { "q""#));
        assert!(msg.contains("expect.notes.q"), "{msg}");
    }

    #[test]
    fn steps_on_a_note_before_it_exists_are_refused() {
        let text =
            small_with(r#"{ "create""#, r#"{ "edit": { "device": "b", "note": "n", "body": "early" } }, { "create""#);
        let msg = refused(&text);
        assert!(msg.contains("step 1") && msg.contains("has been created"), "{msg}");
    }

    #[test]
    fn bad_values_are_refused_naming_where() {
        let msg = refused(&small_with(r#"{ "name": "b" }"#, r#"{ "name": "b", "strategy": "coin-toss" }"#));
        assert!(msg.contains("device 2") && msg.contains("coin_toss"), "{msg}");
        let msg = refused(&small_with(r#"{ "name": "b" }"#, r#"{ "name": "b", "clock_skew": "soon" }"#));
        assert!(msg.contains("device 2") && msg.contains("clock_skew"), "{msg}");
        let msg =
            refused(&small_with(r#""sync_all""#, r#"{ "resolve": { "device": "a", "note": "n", "keep": "both" } }"#));
        assert!(msg.contains("step 2") && msg.contains("both"), "{msg}");
        let msg = refused(&small_with(r#""sync_all""#, r#"{ "edit": { "device": "a", "note": "n" } }"#));
        assert!(msg.contains("step 2") && msg.contains("changes nothing"), "{msg}");
        let msg = refused(&small_with(r#"{ "name": "b" }"#, r#"{ "name": "a" }"#));
        assert!(msg.contains("twice"), "{msg}");
        let msg = refused(&small_with(
            r#""expect": { "converged": true, "notes": { "n": { "body": "x\n" } }, "open_conflicts": { "b": 0 } }"#,
            r#""expect": {}"#,
        ));
        assert!(msg.contains("nothing is expected"), "{msg}");
        let msg = refused(&small_with(r#""n": { "body": "x\n" }"#, r#""n": {}"#));
        assert!(msg.contains("expect.notes.n") && msg.contains("nothing is expected of the note"), "{msg}");
        let msg = refused(&small_with(r#""n": { "body": "x\n" }"#, r#""n": { "devices": [], "body": "x\n" }"#));
        assert!(msg.contains("expect.notes.n") && msg.contains("devices is empty"), "{msg}");
    }

    #[test]
    fn durations_are_checked_with_a_hint() {
        // A value of the wrong kind: where, and what to write instead.
        let msg = refused(&small_with(r#"{ "name": "b" }"#, r#"{ "name": "b", "clock_skew": true }"#));
        assert!(msg.starts_with("bad.json:4:") && msg.contains(r#"a duration like "+1d""#), "{msg}");
        let msg = refused(&small_with(r#"{ "name": "b" }"#, r#"{ "name": "b", "clock_skew": "-400d" }"#));
        assert!(msg.contains("device 2") && msg.contains("-400d is more than a year"), "{msg}");
        let msg = refused(&small_with(r#""sync_all""#, r#"{ "wait": 9223372036854775807 }"#));
        assert!(msg.contains("step 2") && msg.contains("more than a year"), "{msg}");
        let msg = refused(&small_with(r#""sync_all""#, r#"{ "wait": "-1s" }"#));
        assert!(msg.contains("step 2") && msg.contains("time only goes forward"), "{msg}");
        // Within bounds, each way of writing one is accepted.
        for ok in [r#""+1d""#, r#""-3h""#, r#""90m""#, r#""15s""#, r#""250ms""#, "-1500"] {
            let text = small_with(r#"{ "name": "b" }"#, &format!(r#"{{ "name": "b", "clock_skew": {ok} }}"#));
            scenario_file::parse(&text, "ok.json").unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = scenario_file::load(&example("no-such-file.json")).expect_err("missing");
        let msg = err.to_string();
        assert!(msg.contains("no-such-file.json: cannot read it: "), "{msg}");
        // The reason is in the message once, not again as a source.
        assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    }
}
