//! `outpost notes history|show --version|restore`, `outpost trash` and
//! `outpost retention` through the real binary: what they print, and bad
//! input refused with its exit code and the store unchanged.

mod common;

use std::process::Stdio;

use common::{json, outpost, run, run_ok, snapshot, titles};

#[test]
fn history_show_and_restore_a_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Every save a version of its own (no 5-minute bursts in a test).
    let settings = json(d, &["retention", "--coalesce-minutes", "0", "--json"]);
    assert_eq!(settings["coalesce_minutes"], 0);
    assert_eq!(settings["trash_days"], 30);
    let id = run_ok(d, &["notes", "add", "--title", "Plan", "--body", "first words"]).trim().to_owned();
    run_ok(d, &["notes", "edit", &id, "--body", "second words"]);

    let history = json(d, &["notes", "history", &id, "--json"]);
    let versions = history.as_array().expect("array");
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!((versions[0]["why"].as_str(), versions[0]["current"].as_bool()), (Some("edit"), Some(true)));
    assert_eq!(versions[0]["device"], versions[1]["device"]);
    assert!(versions[1]["size"].as_u64().is_some_and(|s| s > 0));
    let first = versions[1]["version"].as_str().expect("version id").to_owned();
    let text = run_ok(d, &["notes", "history", &id]);
    assert!(text.contains(&first) && text.contains("(current)"), "{text}");

    let old = json(d, &["notes", "show", &id, "--version", &first, "--json"]);
    assert_eq!((old["body"].as_str(), old["version"].as_str()), (Some("first words"), Some(first.as_str())));
    assert!(run_ok(d, &["notes", "show", &id, "--version", &first]).contains("first words"));

    run_ok(d, &["notes", "restore", &id, "--version", &first]);
    assert_eq!(json(d, &["notes", "show", &id, "--json"])["body"], "first words");
    let after = json(d, &["notes", "history", &id, "--json"]);
    assert_eq!(after.as_array().map(Vec::len), Some(3), "a new version; none rewritten");
    assert_eq!(after[0]["why"], "restore");
    assert_eq!(after[2]["version"].as_str(), Some(first.as_str()));
}

#[test]
fn the_trash_lists_restores_and_empties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let keep = run_ok(d, &["notes", "add", "--title", "Keep"]).trim().to_owned();
    let gone = run_ok(d, &["notes", "add", "--title", "Old list", "--body", "eggs"]).trim().to_owned();
    run_ok(d, &["notes", "rm", &gone]);
    assert_eq!(titles(d), vec!["Keep".to_owned()]);
    assert!(json(d, &["notes", "search", "eggs", "--json"]).as_array().expect("hits").is_empty());
    let trash = json(d, &["trash", "list", "--json"]);
    assert_eq!(trash[0]["id"].as_str(), Some(gone.as_str()), "{trash}");
    assert!(run_ok(d, &["trash", "list"]).contains("Old list"));

    run_ok(d, &["trash", "restore", &gone]);
    assert_eq!(titles(d), vec!["Keep".to_owned(), "Old list".to_owned()]);
    assert!(run_ok(d, &["trash", "list"]).contains("the trash is empty"));

    // Emptying asks first; no answer, nothing deleted.
    run_ok(d, &["notes", "rm", &gone]);
    let before = snapshot(d);
    let out = outpost(d).args(["trash", "empty"]).stdin(Stdio::null()).output().expect("run");
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was deleted"));
    assert_eq!(snapshot(d), before);

    // Offline or not, emptying is local: the deletes wait in the outbox.
    run_ok(d, &["net", "offline"]);
    let pending = json(d, &["status", "--json"])["pending"].as_u64().expect("pending");
    let said = run_ok(d, &["trash", "empty", "--yes"]);
    assert!(said.contains("deleted 1 notes for good"), "{said}");
    let status = json(d, &["status", "--json"]);
    assert_eq!(status["tombstones"], 1);
    assert!(status["pending"].as_u64().expect("pending") >= pending);
    assert_eq!(titles(d), vec!["Keep".to_owned()]);
    let _ = keep;
}

#[test]
fn bad_history_and_trash_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let a = run_ok(d, &["notes", "add", "--title", "A", "--body", "a"]).trim().to_owned();
    let b = run_ok(d, &["notes", "add", "--title", "B", "--body", "b"]).trim().to_owned();
    let purged = run_ok(d, &["notes", "add", "--title", "P", "--body", "p"]).trim().to_owned();
    let of_b = json(d, &["notes", "history", &b, "--json"])[0]["version"].as_str().expect("id").to_owned();
    let of_p = json(d, &["notes", "history", &purged, "--json"])[0]["version"].as_str().expect("id").to_owned();
    run_ok(d, &["notes", "rm", "--for-good", &purged]);
    let missing_version = "0000000000ff-00000000-0000000000000001";
    let missing_note = "0193f2a1-0000-7000-8000-000000000000";
    type Case<'a> = (&'a str, Vec<&'a str>, i32, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("another note's version", vec!["notes", "restore", &a, "--version", &of_b], 3, "is a version of note"),
        ("another note's version shown", vec!["notes", "show", &a, "--version", &of_b], 3, "not of note"),
        ("missing version", vec!["notes", "restore", &a, "--version", missing_version], 3, "has no version"),
        ("not a version id", vec!["notes", "show", &a, "--version", "yesterday"], 4, "is not a version id"),
        ("history of no note", vec!["notes", "history", missing_note], 3, "no note with id"),
        ("restore a purged note", vec!["notes", "restore", &purged, "--version", &of_p], 13, "deleted for good"),
        ("history of a purged note", vec!["notes", "history", &purged], 13, "deleted for good"),
        ("untrash a purged note", vec!["trash", "restore", &purged], 13, "deleted for good"),
        ("untrash a note not there", vec!["trash", "restore", &a], 4, "is not in the trash"),
        ("untrash no note", vec!["trash", "restore", missing_note], 3, "no note with id"),
        ("odd retention", vec!["retention", "--keep-all-days", "100", "--daily-until-days", "5"], 4, "at least"),
    ];
    for (name, args, code, msg) in cases {
        let before = snapshot(d);
        let out = run(d, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(stderr.contains(msg), "{name}: message {stderr:?} lacks {msg:?}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(snapshot(d), before, "{name} changed the store");
    }
    assert_eq!(json(d, &["notes", "show", &a, "--json"])["body"], "a");
}
