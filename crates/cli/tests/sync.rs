//! Two devices of one user, and a second user, through the real `outpost`
//! binary against a real `outpost serve` on 127.0.0.1.

mod common;

use std::path::Path;

use common::{json, outpost, run, run_ok, start_server, start_server_on, titles};

#[test]
fn two_devices_sync_through_outpost_serve_and_users_stay_apart() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let (a, b, c) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"), tempfile::tempdir().expect("c"));
    let (a, b, c) = (a.path(), b.path(), c.path());

    // Device A holds notes before it has an account; registering uploads them.
    let first =
        run_ok(a, &["notes", "add", "--title", "Before the account", "--body", "offline words"]).trim().to_owned();
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "alice"]);
    run_ok(a, &["notes", "add", "--title", "After registering", "--body", "more words", "--tag", "t"]);
    let report = json(a, &["sync", "--json"]);
    assert_eq!(report["report"]["pushed"], 2, "{report}");
    assert_eq!(report["status"]["pending"], 0, "{report}");

    // Device B: an empty data directory joins the account and gets both.
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "alice"]);
    let report = json(b, &["sync", "--json"]);
    assert_eq!(report["report"]["pulled"], 2, "{report}");
    assert_eq!(titles(b), titles(a));
    let on_b = json(b, &["notes", "show", &first, "--json"]);
    assert_eq!(on_b["body"], "offline words");
    assert_eq!(on_b["sync"], "synced");

    // An edit and a delete on B reach A.
    run_ok(b, &["notes", "edit", &first, "--body", "edited on B"]);
    let second = json(b, &["notes", "search", "more", "--json"])[0]["id"].as_str().expect("id").to_owned();
    run_ok(b, &["notes", "rm", &second]);
    run_ok(b, &["sync"]);
    run_ok(a, &["sync"]);
    assert_eq!(json(a, &["notes", "show", &first, "--json"])["body"], "edited on B");
    assert_eq!(titles(a), vec!["Before the account".to_owned()]);
    // Syncing again changes nothing and sends almost nothing.
    let again = json(a, &["sync", "--json"]);
    assert_eq!((again["report"]["pushed"].as_u64(), again["report"]["pulled"].as_u64()), (Some(0), Some(0)));

    // A second account's device sees none of alice's notes.
    run_ok(c, &["notes", "add", "--title", "Bob's own"]);
    run_ok(c, &["account", "register", "--server", &server.url, "--user", "bob"]);
    run_ok(c, &["sync"]);
    assert_eq!(titles(c), vec!["Bob's own".to_owned()]);
    run_ok(a, &["sync"]);
    assert_eq!(titles(a), vec!["Before the account".to_owned()]);

    // The wrong passphrase cannot join alice's account.
    let d = tempfile::tempdir().expect("d");
    let out = outpost(d.path())
        .env("OUTPOST_PASSPHRASE", "not alice's")
        .args(["account", "login", "--server", &server.url, "--user", "alice"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!d.path().join("outpost.db").exists(), "nothing created on a failed log-in");

    // The server's files (database, WAL, its debug log) hold ciphertext only:
    // none of the words put in notes, nor the passphrase.
    let markers = [
        "offline words",
        "Before the account",
        "After registering",
        "more words",
        "edited on B",
        "Bob's own",
        common::PASS,
    ];
    let mut scanned = 0;
    for entry in walkdir::WalkDir::new(server_dir.path()).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read server file");
            for m in markers {
                assert!(!bytes.windows(m.len()).any(|w| w == m.as_bytes()), "{} holds {m:?}", entry.path().display());
            }
            scanned += 1;
        }
    }
    assert!(scanned >= 2, "server database and log scanned ({scanned} files)");
    let log = std::fs::read_to_string(server_dir.path().join("server.log")).expect("log");
    assert!(log.contains("listening on"), "the log was captured: {log}");

    // Logging out with unsent changes warns and keeps them.
    run_ok(a, &["notes", "add", "--title", "Unsent"]);
    let out = run(a, &["account", "logout"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 changes are not on the server yet"));
    assert!(titles(a).contains(&"Unsent".to_owned()));
    assert!(!run(a, &["sync"]).status.success(), "sync needs a session");
}

#[test]
fn sync_without_a_server_fails_and_keeps_everything() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let a = tempfile::tempdir().expect("a");
    let a = a.path();
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "carol"]);
    drop(server); // the server goes away
    run_ok(a, &["notes", "add", "--title", "Written offline"]);
    let out = run(a, &["sync"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let status = json(a, &["status", "--json"]);
    assert_eq!(status["pending"], 1);
    assert_eq!(titles(a), vec!["Written offline".to_owned()]);
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let a = tempfile::tempdir().expect("a");
    let out = run(a.path(), &["account", "register", "--server", "http://example.com", "--user", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn overlapping_edits_are_listed_and_settled_through_the_cli() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let (a, b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (a, b) = (a.path(), b.path());
    let id = run_ok(a, &["notes", "add", "--title", "Shared", "--body", "line one\nline two\n"]).trim().to_owned();
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "cleo"]);
    run_ok(a, &["sync"]);
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "cleo"]);
    run_ok(b, &["sync"]);
    assert_eq!(json(b, &["conflicts", "list", "--json"]), serde_json::json!([]));

    run_ok(a, &["notes", "edit", &id, "--body", "line one from A\nline two\n"]);
    run_ok(b, &["notes", "edit", &id, "--body", "line one from B\nline two\n"]);
    run_ok(a, &["sync"]);
    let report = json(b, &["sync", "--json"]);
    assert_eq!(report["report"]["conflicts_opened"], 1, "{report}");
    assert_eq!(report["status"]["pending"], 0, "the merged text was pushed: {report}");

    let list = json(b, &["conflicts", "list", "--json"]);
    let c = &list.as_array().expect("array")[0];
    assert_eq!((c["kind"].as_str(), c["note_id"].as_str()), (Some("overlap"), Some(id.as_str())), "{list}");
    assert_eq!(c["mine"]["body"], "line one from B\nline two\n");
    assert_eq!(c["theirs"]["body"], "line one from A\nline two\n");
    let body = json(b, &["notes", "show", &id, "--json"])["body"].as_str().expect("body").to_owned();
    assert!(body.contains("from A") && body.contains("from B"), "both kept in the note: {body}");

    // Settle with an edited merge from a file; it syncs to A.
    let conflict_id = c["id"].to_string();
    let merged = b.join("merged.md");
    std::fs::write(&merged, "line one from A and B\nline two\n").expect("write");
    let out = run(b, &["conflicts", "resolve", &conflict_id]);
    assert_eq!(out.status.code(), Some(2), "a choice is required: {out:?}");
    let out = run(b, &["conflicts", "resolve", "999", "--mine"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no conflict with id 999"), "{out:?}");
    run_ok(b, &["conflicts", "resolve", &conflict_id, "--merged-file", merged.to_str().expect("utf-8 path")]);
    assert_eq!(json(b, &["conflicts", "list", "--json"]), serde_json::json!([]));
    run_ok(b, &["sync"]);
    run_ok(a, &["sync"]);
    assert_eq!(json(a, &["notes", "show", &id, "--json"])["body"], "line one from A and B\nline two\n");
    let settled = json(b, &["conflicts", "list", "--all", "--json"]);
    assert_eq!(settled[0]["resolution"], "merged", "{settled}");
}

/// Logging out ends the session and keeps the account record. Registering
/// afterwards (here on another server) moves the store to the new account:
/// every note, synced or not, goes up to it, and the old account keeps its
/// copy. Logging in to the old account again later moves it back the same
/// way. While logged in, switching is refused with a clear message and
/// changes nothing.
#[test]
fn register_after_logout_moves_the_store_to_the_new_account() {
    let (d1, d2) = (tempfile::tempdir().expect("d1"), tempfile::tempdir().expect("d2"));
    let (s1, s2) = (start_server(d1.path()), start_server(d2.path()));
    let (a, b, c) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"), tempfile::tempdir().expect("c"));
    let (a, b, c) = (a.path(), b.path(), c.path());

    run_ok(a, &["notes", "add", "--title", "Kept", "--body", "synced to the first server"]);
    run_ok(a, &["account", "register", "--server", &s1.url, "--user", "alice"]);
    run_ok(a, &["sync"]);
    run_ok(a, &["notes", "add", "--title", "Unsent", "--body", "never reached the first server"]);

    // Logged in: another account is refused, before any request.
    for args in [
        ["account", "register", "--server", s2.url.as_str(), "--user", "alice"],
        ["account", "login", "--server", s2.url.as_str(), "--user", "alice"],
    ] {
        let out = run(a, &args);
        assert_eq!(out.status.code(), Some(4), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("logged in as alice") && stderr.contains("log out first"), "{stderr}");
    }
    assert_eq!(run_ok(a, &["account", "show"]).trim(), format!("alice on {} (logged in)", s1.url));

    run_ok(a, &["account", "logout"]);
    let out = run_ok(a, &["account", "register", "--server", &s2.url, "--user", "alice"]);
    assert!(out.contains(&format!("moved from alice on {}", s1.url)), "{out}");
    assert!(out.contains("2 changes will go up"), "both notes, the synced one too: {out}");
    assert_eq!(run_ok(a, &["account", "show"]).trim(), format!("alice on {} (logged in)", s2.url));
    let report = json(a, &["sync", "--json"]);
    assert_eq!(report["report"]["pushed"], 2, "{report}");
    assert!(run_ok(a, &["status"]).contains("restart "), "the status says sync started over");

    // A device joining the new account gets both; the old one kept its copy.
    run_ok(b, &["account", "login", "--server", &s2.url, "--user", "alice"]);
    run_ok(b, &["sync"]);
    assert_eq!(titles(b), vec!["Kept".to_owned(), "Unsent".to_owned()]);
    run_ok(c, &["account", "login", "--server", &s1.url, "--user", "alice"]);
    run_ok(c, &["sync"]);
    assert_eq!(titles(c), vec!["Kept".to_owned()]);

    // Back to the first account: logging in there moves the store back,
    // and what it lacked goes up (the note it had is not duplicated).
    run_ok(a, &["account", "logout"]);
    let out = run_ok(a, &["account", "login", "--server", &s1.url, "--user", "alice"]);
    assert!(out.contains(&format!("moved from alice on {}", s2.url)), "{out}");
    run_ok(a, &["sync"]);
    run_ok(c, &["sync"]);
    assert_eq!(titles(c), vec!["Kept".to_owned(), "Unsent".to_owned()]);
    assert_eq!(titles(a), titles(c));
    let s = json(a, &["status", "--json"]);
    assert_eq!((s["pending"].as_u64(), s["open_conflicts"].as_u64()), (Some(0), Some(0)), "{s}");
}

/// A consistent copy of a running `outpost serve`'s database, as a nightly
/// backup would take it.
fn backup_server(server_dir: &Path) -> tempfile::TempDir {
    let backup = tempfile::tempdir().expect("tempdir");
    let conn =
        rusqlite::Connection::open_with_flags(server_dir.join("server.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the server's database");
    let to = backup.path().join("server.db");
    conn.execute("VACUUM INTO ?1", [to.to_str().expect("utf-8 path")]).expect("vacuum into");
    backup
}

/// The server stopped, its database replaced by `backup`, started again on
/// the same address: a server restored from a backup.
fn restore_server(server: common::Server, server_dir: &Path, backup: &Path) -> common::Server {
    let addr = server.addr;
    drop(server);
    for name in ["server.db", "server.db-wal", "server.db-shm"] {
        let _ = std::fs::remove_file(server_dir.join(name));
    }
    std::fs::copy(backup.join("server.db"), server_dir.join("server.db")).expect("copy the backup in");
    start_server_on(server_dir, addr)
}

/// A server restored from a backup, through the real binaries. Device A
/// synced after the backup; device B, last synced before it, writes to the
/// restored server first, so A's cursor is back inside the server's range
/// and A cannot tell (the limit docs/protocol.md states): its sync moves
/// nothing, and the server and B lack A's edit. `outpost sync --start-over`
/// on A sends everything again and pulls everything: both devices converge
/// with both changes, and nothing was lost on the way.
#[test]
fn sync_start_over_recovers_a_restore_the_device_could_not_see() {
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server = start_server(server_dir.path());
    let (a, b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let (a, b) = (a.path(), b.path());
    let x = run_ok(a, &["notes", "add", "--title", "Plan", "--body", "v1"]).trim().to_owned();
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "uma"]);
    run_ok(a, &["sync"]);
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "uma"]);
    run_ok(b, &["sync"]);
    let backup = backup_server(server_dir.path());

    run_ok(a, &["notes", "edit", &x, "--body", "v2, after the backup"]);
    run_ok(a, &["sync"]);
    let server = restore_server(server, server_dir.path(), backup.path());
    run_ok(b, &["notes", "add", "--title", "From B", "--body", "written on the restored server"]);
    run_ok(b, &["sync"]);

    let unseen = json(a, &["sync", "--json"]);
    assert_eq!(unseen["report"]["server_reset"], false, "A's cursor is inside the range again: {unseen}");
    assert_eq!(titles(a), vec!["Plan".to_owned()], "and it missed B's note");

    let out = outpost(a).args(["sync", "--start-over", "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("starting over"), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["report"]["fast_forwarded"], 1, "the server's v1 is one A had: {report}");
    assert_eq!(report["status"]["open_conflicts"], 0, "{report}");
    run_ok(b, &["sync"]);
    for d in [a, b] {
        assert_eq!(titles(d), vec!["From B".to_owned(), "Plan".to_owned()]);
        assert_eq!(json(d, &["notes", "show", &x, "--json"])["body"], "v2, after the backup");
    }
    drop(server);
}
