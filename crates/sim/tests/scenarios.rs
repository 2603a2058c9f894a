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
