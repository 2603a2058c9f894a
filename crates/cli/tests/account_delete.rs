//! `outpost account delete`, through the real binary against a real
//! `outpost serve`: it asks for the username unless `--yes`, deletes the
//! account on the server, and leaves the notes on every device; the other
//! device's next sync exits 11 (account deleted), forgets the account and
//! keeps its notes, unsent ones included; the name can be registered again.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use common::{json, outpost, run, run_ok, start_server, titles};

/// `outpost account delete` with `input` on its standard input.
fn delete_typing(dir: &Path, input: &str) -> Output {
    let mut child = outpost(dir)
        .args(["account", "delete"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("type");
    child.wait_with_output().expect("wait")
}

fn stderr(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!s.contains("panicked"), "{s}");
    s
}

#[test]
fn delete_the_account_from_one_device_and_the_other_keeps_its_notes() {
    let server_dir = tempfile::tempdir().expect("server dir");
    let server = start_server(server_dir.path());
    let (laptop, phone) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (laptop, phone) = (laptop.path(), phone.path());
    let url = server.url.as_str();

    run_ok(laptop, &["notes", "add", "--title", "Shared", "--body", "both devices"]);
    run_ok(laptop, &["account", "register", "--server", url, "--user", "alice"]);
    run_ok(laptop, &["sync"]);
    run_ok(phone, &["account", "login", "--server", url, "--user", "alice"]);
    run_ok(phone, &["sync"]);
    assert_eq!(titles(phone), ["Shared"]);
    // A change on the phone that never reaches the server.
    run_ok(phone, &["notes", "add", "--title", "Phone only"]);

    // Not confirmed: the wrong name, or nothing typed (no terminal and no
    // --yes): invalid input (4), nothing deleted.
    for typed in ["bob\n", ""] {
        let out = delete_typing(laptop, typed);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{typed:?}: {err}");
        assert!(err.contains("nothing was deleted"), "{err}");
    }
    assert_eq!(json(laptop, &["account", "sessions", "--json"]).as_array().map(Vec::len), Some(2), "still there");

    // Confirmed by typing the name: deleted; the laptop forgets the account
    // and keeps its note.
    let out = delete_typing(laptop, "alice\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("deleted the account alice"), "{said}");
    assert_eq!(json(laptop, &["account", "show", "--json"])["account"], serde_json::Value::Null);
    assert_eq!(titles(laptop), ["Shared"], "the laptop keeps its notes");
    let out = run(laptop, &["account", "delete", "--yes"]);
    assert_ne!(out.status.code(), Some(0), "nothing left to delete");
    assert!(stderr(&out).contains("no account"), "{}", stderr(&out));

    // The phone's next sync: account deleted (11), and it keeps its notes,
    // the unsent one included; it forgets the account.
    let out = run(phone, &["sync"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(11), "{err}");
    assert!(err.contains("was deleted") && err.contains("keeps its notes"), "{err}");
    assert_eq!(titles(phone), ["Phone only", "Shared"]);
    assert_eq!(json(phone, &["account", "show", "--json"])["account"], serde_json::Value::Null);

    // The name is free: the phone registers it anew and every note goes up.
    run_ok(phone, &["account", "register", "--server", url, "--user", "alice"]);
    let report = json(phone, &["sync", "--json"]);
    assert_eq!(report["report"]["pushed"], 2, "{report}");
    // --yes deletes without asking (a script's way).
    let out = outpost(phone).args(["account", "delete", "--yes"]).stdin(Stdio::null()).output().expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(titles(phone), ["Phone only", "Shared"]);
}
