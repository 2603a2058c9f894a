//! No note content, passphrase or session token in plaintext on disk, on
//! stores that really synced: two devices of one account through the real
//! `outpost` binary and a real `outpost serve` (debug log on). Every file of
//! both data directories (database, WAL, `sync-status.json`,
//! `network.json`, whatever else is there) and of the server's (database,
//! WAL, log) is scanned after a sync, after a conflict, and after logging
//! out. Each scan first checks that the files it must cover exist, so it
//! cannot pass by scanning nothing.
//!
//! `crates/core/tests/store.rs` scans a store that never synced, with a
//! migration backup in it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json, outpost, run_ok, start_server, Lines, PASS};
use outpost_core::keys::PassphraseStore;
use outpost_core::Vault;
use serde_json::Value;

/// Words that appear only inside notes (titles, bodies, tags, the two
/// sides of a conflict, the settled text).
const SYNCED: [&str; 4] = ["Quokkaledger", "wombat saffron lantern", "tagzircon", "marmoset orchard"];
const FROM_A: &str = "pelican tamarind";
const FROM_B: &str = "narwhal juniper";
const SETTLED: &str = "ocelot bramble";

/// The device's session token, read through the store's key.
fn token(d: &Path) -> String {
    let keys = PassphraseStore::new(PASS).expect("passphrase");
    let vault = Vault::open(d, &keys).expect("open the store");
    vault.session_token().expect("read the token").expect("logged in").0
}

fn files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Fails on the first file under `dir` that holds any of `secrets`; first
/// checks that every file in `must` is there. Returns how many were scanned.
fn scan(when: &str, dir: &Path, must: &[&str], secrets: &[String]) -> usize {
    let found = files(dir);
    for name in must {
        assert!(
            found.iter().any(|f| f.file_name().is_some_and(|n| n == *name)),
            "{when}: {name} not in {} (files: {found:?})",
            dir.display()
        );
    }
    for f in &found {
        let bytes = std::fs::read(f).expect("read a file");
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{when}: {} holds {s:?} in plaintext",
                f.display()
            );
        }
    }
    found.len()
}

/// Runs the background engine (`outpost sync --watch`) until it reports a
/// settled pass, then stops it: it leaves `sync-status.json`.
fn engine_pass(d: &Path) {
    let mut child = outpost(d)
        .args(["sync", "--watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sync --watch");
    let lines = Lines::read(child.stdout.take().expect("stdout"));
    let deadline = Instant::now() + Duration::from_secs(90);
    let settled = |l: &String| {
        serde_json::from_str::<Value>(l)
            .is_ok_and(|v| v["phase"] == "idle" && v["pending"] == 0 && v["last_success_ms"].is_i64())
    };
    let mut n = 1;
    while !lines.snapshot().iter().any(settled) {
        assert!(lines.wait_for(n, deadline, "sync --watch"), "sync --watch ended before a settled pass");
        n += 1;
    }
    // SIGTERM, as a service manager would stop it (the other tests send
    // SIGINT, as Ctrl-C does).
    let ok = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "sync --watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "sync --watch exits cleanly on SIGTERM: {status:?}");
    assert!(lines.finish().iter().any(|l| l.contains("\"stopped\"")), "the last status says stopped");
}

#[test]
fn no_plaintext_after_sync_conflict_and_logout() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let (a, b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (a, b) = (a.path(), b.path());
    let server_files = ["server.db", "server.log"];

    let id = run_ok(a, &["notes", "add", "--title", SYNCED[0], "--body", &format!("{}\nline two\n", SYNCED[1])])
        .trim()
        .to_owned();
    run_ok(a, &["notes", "add", "--title", "Second", "--body", SYNCED[3], "--tag", SYNCED[2]]);
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "nell"]);
    run_ok(a, &["sync"]);
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "nell"]);
    run_ok(b, &["sync"]);
    assert_eq!(json(b, &["notes", "show", &id, "--json"])["title"], SYNCED[0], "B got the note");
    // The testers' network switch and the engine's status file, as the app
    // leaves them.
    run_ok(b, &["net", "flaky", "--drop", "0"]);
    engine_pass(a);
    engine_pass(b);
    let tokens = [token(a), token(b)];
    assert_ne!(tokens[0], tokens[1], "one session per device");

    let mut secrets: Vec<String> = SYNCED.iter().map(|s| s.to_string()).collect();
    secrets.push(PASS.to_owned());
    secrets.extend(tokens.iter().cloned());
    let device_files = ["outpost.db", "sync-status.json"];
    let mut scanned = scan("after sync", a, &device_files, &secrets);
    scanned += scan("after sync", b, &["outpost.db", "sync-status.json", "network.json"], &secrets);
    scanned += scan("after sync", server_dir.path(), &server_files, &secrets);

    // Overlapping edits of one line: B keeps both sides in a conflict.
    run_ok(a, &["notes", "edit", &id, "--body", &format!("{FROM_A}\nline two\n")]);
    run_ok(b, &["notes", "edit", &id, "--body", &format!("{FROM_B}\nline two\n")]);
    run_ok(a, &["sync"]);
    let report = json(b, &["sync", "--json"]);
    assert_eq!(report["report"]["conflicts_opened"], 1, "{report}");
    let conflicts = json(b, &["conflicts", "list", "--json"]);
    assert_eq!(conflicts[0]["theirs"]["body"], format!("{FROM_A}\nline two\n"), "{conflicts}");
    secrets.extend([FROM_A, FROM_B].map(String::from));
    scanned += scan("after a conflict", a, &device_files, &secrets);
    scanned += scan("after a conflict", b, &device_files, &secrets);
    scanned += scan("after a conflict", server_dir.path(), &server_files, &secrets);

    // Settled with a third text, synced, then both devices log out.
    let merged = tempfile::NamedTempFile::new().expect("merged file");
    std::fs::write(merged.path(), format!("{SETTLED}\nline two\n")).expect("write");
    let conflict_id = conflicts[0]["id"].to_string();
    run_ok(b, &["conflicts", "resolve", &conflict_id, "--merged-file", merged.path().to_str().expect("utf-8")]);
    run_ok(b, &["sync"]);
    run_ok(a, &["sync"]);
    assert_eq!(json(a, &["notes", "show", &id, "--json"])["body"], format!("{SETTLED}\nline two\n"));
    drop(merged);
    secrets.push(SETTLED.to_owned());
    for d in [a, b] {
        run_ok(d, &["account", "logout"]);
        let keys = PassphraseStore::new(PASS).expect("passphrase");
        let vault = Vault::open(d, &keys).expect("open");
        assert!(vault.session_token().expect("read").is_none(), "logged out");
    }
    scanned += scan("after logging out", a, &device_files, &secrets);
    scanned += scan("after logging out", b, &device_files, &secrets);
    drop(server); // the server's last log lines are written
    scanned += scan("after logging out", server_dir.path(), &server_files, &secrets);
    let log = std::fs::read_to_string(server_dir.path().join("server.log")).expect("log");
    assert!(log.contains("listening on") && log.contains("DEBUG"), "the debug log was captured");
    eprintln!("{scanned} file scans, {} secrets each at the end, none found", secrets.len());
}
