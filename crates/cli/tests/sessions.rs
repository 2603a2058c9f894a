//! `outpost account sessions` and `outpost account revoke`, through the real
//! binary against a real `outpost serve`: devices show with their names,
//! one is revoked by id and then refused, `--others` keeps this device's,
//! another account's session id is "not found" (3) and ends nothing, and
//! mistakes exit as main.rs's table says.

mod common;

use common::{outpost, run, run_ok, start_server};
use serde_json::Value;

fn sessions(dir: &std::path::Path) -> Vec<Value> {
    let out = run_ok(dir, &["account", "sessions", "--json"]);
    serde_json::from_str::<Value>(&out).expect("JSON").as_array().expect("an array").clone()
}

fn id_named(list: &[Value], name: &str) -> String {
    list.iter().find(|s| s["device_name"] == name).unwrap_or_else(|| panic!("no session named {name} in {list:?}"))
        ["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn code_and_stderr(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = run(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code(), stderr)
}

#[test]
fn list_and_revoke_sessions_from_the_command_line() {
    let server_dir = tempfile::tempdir().expect("server dir");
    let server = start_server(server_dir.path());
    let (laptop, phone, tablet, bob) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
        tempfile::tempdir().expect("c"),
        tempfile::tempdir().expect("d"),
    );
    let (laptop, phone, tablet, bob) = (laptop.path(), phone.path(), tablet.path(), bob.path());
    let url = server.url.as_str();

    run_ok(laptop, &["account", "register", "--server", url, "--user", "alice", "--device-name", "Alice's laptop"]);
    run_ok(phone, &["account", "login", "--server", url, "--user", "alice", "--device-name", "Zoë's phone"]);
    // The name from the environment when no flag is given.
    let out = outpost(tablet)
        .env("OUTPOST_DEVICE_NAME", "tablet")
        .args(["account", "login", "--server", url, "--user", "alice"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    run_ok(bob, &["account", "register", "--server", url, "--user", "bob", "--device-name", "bob's box"]);

    // The listing: alice's three devices, named, this one marked; none of bob's.
    let list = sessions(laptop);
    let names: Vec<_> = list.iter().map(|s| s["device_name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["Alice's laptop", "Zoë's phone", "tablet"], "{list:?}");
    let current: Vec<_> = list.iter().map(|s| s["current"].as_bool().expect("current")).collect();
    assert_eq!(current, [true, false, false]);
    assert!(list.iter().all(|s| s["last_seen_at_ms"].as_u64() >= s["created_at_ms"].as_u64()));
    let table = run_ok(laptop, &["account", "sessions"]);
    let laptop_row = table.lines().find(|l| l.contains("Alice's laptop")).expect("the laptop's row");
    assert!(laptop_row.contains("this device"), "{table}");
    let phone_row = table.lines().find(|l| l.contains("Zoë's phone")).expect("the phone's row");
    assert!(!phone_row.contains("this device"), "{table}");
    let (phone_id, laptop_id) = (id_named(&list, "Zoë's phone"), id_named(&list, "Alice's laptop"));
    assert!(phone_row.starts_with(&phone_id), "{table}");

    // Bob names alice's phone session: not found (3), and the phone lives on.
    let (code, stderr) = code_and_stderr(bob, &["account", "revoke", &phone_id]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("no session"), "{stderr}");
    assert_eq!(sessions(phone).len(), 3, "bob ended nothing");

    // Mistakes: no target or both (usage, 2), not an id (4), an unknown
    // id (3), this device's own session (4: that is `logout`).
    assert_eq!(code_and_stderr(laptop, &["account", "revoke"]).0, Some(2));
    assert_eq!(code_and_stderr(laptop, &["account", "revoke", &phone_id, "--others"]).0, Some(2));
    assert_eq!(code_and_stderr(laptop, &["account", "revoke", "not-an-id"]).0, Some(4));
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(code_and_stderr(laptop, &["account", "revoke", &unknown]).0, Some(3));
    let (code, stderr) = code_and_stderr(laptop, &["account", "revoke", &laptop_id]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("outpost account logout"), "{stderr}");
    assert_eq!(sessions(laptop).len(), 3, "no mistake ended anything");

    // Revoke the phone by id: it is refused from then on (9, log in again).
    let said = run_ok(laptop, &["account", "revoke", &phone_id]);
    assert!(said.contains("Zoë's phone"), "{said}");
    let (code, stderr) = code_and_stderr(phone, &["account", "sessions"]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(stderr.contains("log in again"), "{stderr}");
    let left: Vec<_> = sessions(laptop).iter().map(|s| s["device_name"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(left, ["Alice's laptop", "tablet"]);

    // --others: the tablet goes, the laptop stays, bob is untouched.
    let said = run_ok(laptop, &["account", "revoke", "--others"]);
    assert!(said.contains("revoked 1 other session"), "{said}");
    assert_eq!(code_and_stderr(tablet, &["account", "sessions"]).0, Some(9));
    let kept = sessions(laptop);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["id"], laptop_id.as_str());
    assert_eq!(sessions(bob).len(), 1, "bob's session is his own business");
    let said = run_ok(laptop, &["account", "revoke", "--others"]);
    assert!(said.contains("no other sessions"), "{said}");

    // A store that is not logged in says so.
    let nowhere = tempfile::tempdir().expect("e");
    run_ok(nowhere.path(), &["notes", "add", "--title", "local only"]);
    let (code, stderr) = code_and_stderr(nowhere.path(), &["account", "sessions"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("not logged in"), "{stderr}");
}
