//! `outpost net`: the testers' network switch through the real binary. It
//! writes the control file without a key or a store, refuses bad values
//! without touching the file, and a watcher in another process (here, the
//! test's) picks the change up.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{outpost, run, run_ok, snapshot};
use outpost_core::net::{ControlWatcher, NetControl, NetMode, CONTROL_FILE};

fn control_json(dir: &Path) -> serde_json::Value {
    let out = run_ok(dir, &["net", "show", "--json"]);
    serde_json::from_str(out.trim()).expect("show --json prints JSON")
}

#[test]
fn set_then_show_round_trips() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    assert_eq!(control_json(dir), serde_json::json!({"mode": "online"}), "no file: online");

    let out = run_ok(dir, &["net", "offline"]);
    assert!(out.contains("network set to offline"), "{out}");
    assert_eq!(control_json(dir), serde_json::json!({"mode": "offline"}));
    assert!(run_ok(dir, &["net", "show"]).starts_with("network: offline"));

    let out = run_ok(dir, &["net", "flaky", "--drop", "0.25", "--latency", "150"]);
    assert!(out.contains("25% of requests dropped, 150 ms added"), "{out}");
    assert_eq!(control_json(dir), serde_json::json!({"mode": "flaky", "drop": 0.25, "latency_ms": 150}));
    run_ok(dir, &["net", "flaky", "--drop", "10%"]);
    assert_eq!(control_json(dir), serde_json::json!({"mode": "flaky", "drop": 0.1, "latency_ms": 0}));

    run_ok(dir, &["net", "online"]);
    assert_eq!(control_json(dir), serde_json::json!({"mode": "online"}));
}

#[test]
fn needs_no_key_and_no_store() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path().join("not-yet");
    let out = outpost(&dir).env_remove("OUTPOST_PASSPHRASE").args(["net", "offline"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files: Vec<_> = snapshot(&dir).into_iter().map(|(p, _)| p).collect();
    assert_eq!(files, [dir.join(CONTROL_FILE)], "only the control file; no store was made");
}

#[test]
fn bad_values_are_refused_and_leave_the_file_alone() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    run_ok(dir, &["net", "flaky", "--drop", "0.5", "--latency", "10"]);
    let before = snapshot(dir);
    for (args, needle) in [
        (&["net", "flaky", "--drop", "2.0"][..], "between 0 and 1"),
        (&["net", "flaky", "--drop", "-0.5"], "between 0 and 1"),
        (&["net", "flaky", "--drop", "often"], "not a number"),
        (&["net", "flaky", "--latency", "-5"], "cannot be negative"),
        (&["net", "flaky", "--latency", "60001"], "at most 60000"),
        (&["net", "flaky", "--latency", "1.5"], "whole number"),
        (&["net", "sideways"], "unrecognized subcommand"),
    ] {
        let out = run(dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(snapshot(dir), before, "{args:?} changed the directory");
    }
}

#[test]
fn a_broken_control_file_is_reported_and_can_be_rewritten() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    std::fs::write(dir.join(CONTROL_FILE), "{\"mode\": \"offline\",\n \"drop\": }").expect("write");
    let out = run(dir, &["net", "show"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("line 2") && err.contains("outpost net"), "{err}");
    run_ok(dir, &["net", "online"]);
    assert_eq!(control_json(dir), serde_json::json!({"mode": "online"}));
}

/// What a running app does: watch the directory while `outpost net` runs
/// as another process.
#[tokio::test]
async fn a_watcher_in_another_process_follows_the_command() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let control = NetControl::new(NetMode::Online);
    let (_watcher, errors) = ControlWatcher::start(dir, control.clone()).expect("watch");
    let mut rx = control.subscribe();
    for (args, want) in [
        (&["net", "offline"][..], NetMode::Offline),
        (&["net", "flaky", "--drop", "0.5", "--latency", "5"], NetMode::Flaky { drop: 0.5, latency_ms: 5 }),
        (&["net", "online"], NetMode::Online),
    ] {
        run_ok(dir, args);
        let seen = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|m| *m == want)).await;
        assert!(seen.is_ok(), "{args:?}: mode stayed {:?}", control.mode());
    }
    assert_eq!(*errors.borrow(), None);
}

/// The device switches: each sets one field of `device.json`, keeps the
/// others, `os` hands a field back to the OS, and `net show` reads them.
#[test]
fn device_switches_set_what_the_policy_sees() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    run_ok(dir, &["net", "metered", "on"]);
    let out = run_ok(dir, &["net", "power", "low"]);
    assert!(out.contains("network metered, power low, app as the OS says"), "{out}");
    assert_eq!(
        control_json(dir),
        serde_json::json!({"mode": "online", "device": {"network": "metered", "power": "low"}})
    );
    run_ok(dir, &["net", "metered", "os"]);
    run_ok(dir, &["net", "app", "background"]);
    assert_eq!(
        control_json(dir),
        serde_json::json!({"mode": "online", "device": {"power": "low", "app": "background"}})
    );
    assert!(run_ok(dir, &["net", "show"]).contains("device: network as the OS says, power low, app background"));

    // A bad value is refused by the parser and changes nothing.
    let before = std::fs::read(dir.join("device.json")).expect("device file");
    let out = run(dir, &["net", "power", "nuclear"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert_eq!(std::fs::read(dir.join("device.json")).expect("device file"), before);
}

/// The user's policy settings live in the store and round-trip.
#[test]
fn policy_settings_round_trip() {
    let home = tempfile::tempdir().expect("tempdir");
    let dir = home.path();
    let shown = run_ok(dir, &["policy", "--json"]);
    let defaults: serde_json::Value = serde_json::from_str(shown.trim()).expect("json");
    assert_eq!(defaults, serde_json::json!({"metered": "small_changes_only", "pause_on_low_battery": true}));
    let out = run_ok(dir, &["policy", "--metered", "never", "--low-battery", "sync"]);
    assert!(out.contains("on metered networks: nothing syncs until Wi-Fi; on low battery: sync goes on"), "{out}");
    let shown: serde_json::Value = serde_json::from_str(run_ok(dir, &["policy", "--json"]).trim()).expect("json");
    assert_eq!(shown, serde_json::json!({"metered": "never", "pause_on_low_battery": false}));
}
