//! `outpost account passphrase`, through the real binary against a real
//! `outpost serve`: a new passphrase that will not do is refused (4) and
//! changes nothing; a change logs the other devices out (unless
//! `--keep-sessions`), this store opens with the new passphrase only, the
//! old one logs in nowhere, and a new device logs in with the new one and
//! gets every note.

mod common;

use std::path::Path;
use std::process::Output;

use common::{outpost, run_ok, start_server, PASS};

const NEW: &str = "a brand new passphrase";
const NEWER: &str = "an even newer passphrase";

/// `outpost args` in `dir`, with `passphrase` as OUTPOST_PASSPHRASE (the
/// store's and the account's current one) and `new` as
/// OUTPOST_NEW_PASSPHRASE.
fn with(dir: &Path, passphrase: &str, new: Option<&str>, args: &[&str]) -> Output {
    let mut c = outpost(dir);
    c.env("OUTPOST_PASSPHRASE", passphrase).args(args);
    match new {
        Some(n) => c.env("OUTPOST_NEW_PASSPHRASE", n),
        None => c.env_remove("OUTPOST_NEW_PASSPHRASE"),
    };
    let out = c.output().expect("run outpost");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn code(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn change_the_passphrase_from_the_command_line() {
    let server_dir = tempfile::tempdir().expect("server dir");
    let server = start_server(server_dir.path());
    let (laptop, phone, tablet) =
        (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"), tempfile::tempdir().expect("c"));
    let (laptop, phone, tablet) = (laptop.path(), phone.path(), tablet.path());
    let url = server.url.as_str();
    run_ok(laptop, &["account", "register", "--server", url, "--user", "alice", "--device-name", "laptop"]);
    run_ok(phone, &["account", "login", "--server", url, "--user", "alice", "--device-name", "phone"]);
    run_ok(laptop, &["notes", "add", "--title", "before the change"]);
    run_ok(laptop, &["sync"]);

    // A new passphrase that will not do: invalid input (4), nothing changed.
    for bad in ["short", "", PASS] {
        let (status, stderr) = code(&with(laptop, PASS, Some(bad), &["account", "passphrase"]));
        assert_eq!(status, Some(4), "{bad:?}: {stderr}");
    }
    let (status, stderr) = code(&with(laptop, PASS, Some("short"), &["account", "passphrase"]));
    assert!(stderr.contains("at least 8 characters"), "{stderr}");
    assert_eq!(status, Some(4));
    ok(with(phone, PASS, None, &["account", "sessions"]));

    // The change: the phone is logged out, the laptop stays, its store
    // opens with the new passphrase only.
    let said = ok(with(laptop, PASS, Some(NEW), &["account", "passphrase"]));
    assert!(said.contains("changed the passphrase of alice"), "{said}");
    assert!(said.contains("1 other device was logged out"), "{said}");
    assert!(said.contains("this store now opens with the new passphrase"), "{said}");
    let (status, stderr) = code(&with(laptop, PASS, None, &["notes", "list"]));
    assert_eq!(status, Some(5), "the old passphrase no longer opens the store: {stderr}");
    ok(with(laptop, NEW, None, &["notes", "add", "--title", "after the change"]));
    ok(with(laptop, NEW, None, &["sync"]));
    let (status, stderr) = code(&with(phone, PASS, None, &["account", "sessions"]));
    assert_eq!(status, Some(9), "the phone's session ended: {stderr}");

    // The old passphrase logs in nowhere (5); the new one does, and the
    // new device gets every note.
    let (status, stderr) = code(&with(tablet, PASS, None, &["account", "login", "--server", url, "--user", "alice"]));
    assert_eq!(status, Some(5), "the old passphrase: {stderr}");
    ok(with(tablet, NEW, None, &["account", "login", "--server", url, "--user", "alice"]));
    ok(with(tablet, NEW, None, &["sync"]));
    let listed = ok(with(tablet, NEW, None, &["notes", "list"]));
    assert!(listed.contains("before the change") && listed.contains("after the change"), "{listed}");

    // --keep-sessions: the tablet stays logged in.
    let said = ok(with(laptop, NEW, Some(NEWER), &["account", "passphrase", "--keep-sessions"]));
    assert!(said.contains("other devices stay logged in"), "{said}");
    ok(with(tablet, NEW, None, &["account", "sessions"]));
    ok(with(tablet, NEW, None, &["sync"]));
    ok(with(laptop, NEWER, None, &["sync"]));

    // A store that is not logged in says so and changes nothing.
    let nowhere = tempfile::tempdir().expect("d");
    run_ok(nowhere.path(), &["notes", "add", "--title", "local only"]);
    let (status, stderr) = code(&with(nowhere.path(), PASS, Some(NEW), &["account", "passphrase"]));
    assert_ne!(status, Some(0));
    assert!(stderr.contains("not logged in"), "{stderr}");
}
