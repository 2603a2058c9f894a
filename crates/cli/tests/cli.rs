//! The `outpost` command line: commands, exit codes and bad input.

mod common;

use common::{outpost, run, run_ok, snapshot};

#[test]
fn add_edit_show_list_search_rm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = run_ok(d, &["notes", "add", "--title", "Shopping", "--body", "milk and bread", "--tag", "home"])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 36, "prints the new id: {id:?}");
    run_ok(d, &["notes", "edit", &id, "--body", "milk, bread and cheese", "--pin"]);
    let show: serde_json::Value = serde_json::from_str(&run_ok(d, &["notes", "show", &id, "--json"])).expect("json");
    assert_eq!(show["body"], "milk, bread and cheese");
    assert_eq!(show["tags"][0], "home");
    assert_eq!(show["pinned"], true);
    assert_eq!(show["sync"], "pending");
    let list: serde_json::Value = serde_json::from_str(&run_ok(d, &["notes", "list", "--json"])).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(run_ok(d, &["notes", "list"]).contains("Shopping"));
    let hits: serde_json::Value =
        serde_json::from_str(&run_ok(d, &["notes", "search", "CHEESE", "--json"])).expect("json");
    assert_eq!(hits[0]["id"], id.as_str());
    let status: serde_json::Value = serde_json::from_str(&run_ok(d, &["status", "--json"])).expect("json");
    assert_eq!(
        (status["notes"].as_u64(), status["pending"].as_u64(), status["coalesced"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    run_ok(d, &["notes", "rm", "--for-good", &id]);
    assert_eq!(run(d, &["notes", "show", &id]).status.code(), Some(3));
    let status: serde_json::Value = serde_json::from_str(&run_ok(d, &["status", "--json"])).expect("json");
    assert_eq!((status["notes"].as_u64(), status["tombstones"].as_u64()), (Some(0), Some(1)));
}

#[test]
fn status_needs_no_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_ok(dir.path(), &["notes", "add", "--title", "t"]);
    let out = outpost(dir.path()).env_remove("OUTPOST_PASSPHRASE").args(["status"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 pending"));
}

/// (name, arguments, passphrase override, exit code, message part)
type Case<'a> = (&'a str, Vec<&'a str>, Option<&'a str>, i32, &'a str);

/// Each bad input: a clear message, its exit code, and not a byte changed.
#[test]
fn bad_inputs_give_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = run_ok(d, &["notes", "add", "--title", "keep me", "--body", "safe"]).trim().to_owned();
    let big = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(big.path(), "x".repeat(1024 * 1024 + 1)).expect("write");
    let big_path = big.path().to_str().expect("utf-8 path").to_owned();
    let missing = "0193f2a1-0000-7000-8000-000000000000";
    let cases: Vec<Case<'_>> = vec![
        ("wrong passphrase", vec!["notes", "list"], Some("wrong"), 5, "wrong passphrase"),
        ("missing id", vec!["notes", "show", missing], None, 3, "no note with id"),
        ("malformed id", vec!["notes", "edit", "nope", "--title", "x"], None, 4, "is not a note id"),
        (
            "oversized body",
            vec!["notes", "add", "--title", "big", "--body-file", &big_path],
            None,
            4,
            "limit is 1048576 bytes",
        ),
        ("oversized edit", vec!["notes", "edit", &id, "--body-file", &big_path], None, 4, "limit is 1048576 bytes"),
        ("nothing to edit", vec!["notes", "edit", &id], None, 1, "nothing to change"),
        ("rm missing", vec!["notes", "rm", missing], None, 3, "no note with id"),
    ];
    for (name, args, pass, code, msg) in cases {
        let before = snapshot(d);
        let mut cmd = outpost(d);
        if let Some(p) = pass {
            cmd.env("OUTPOST_PASSPHRASE", p);
        }
        let out = cmd.args(&args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(stderr.contains(msg), "{name}: message {stderr:?} lacks {msg:?}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(snapshot(d), before, "{name} changed the store");
    }
    assert!(run_ok(d, &["notes", "show", &id]).contains("safe"));
}

#[test]
fn corrupt_and_foreign_files_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("outpost.db"),
        b"this is a text file, not a database at all, padded out..................................................",
    )
    .expect("write");
    let before = snapshot(d);
    let out = run(d, &["notes", "list"]);
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an Outpost store"));
    assert_eq!(snapshot(d), before);

    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run_ok(d, &["notes", "add", "--title", "t"]);
    let conn = rusqlite::Connection::open(d.join("outpost.db")).expect("raw");
    conn.execute("INSERT INTO _migrations VALUES (999, 'future', 'x', 0)", []).expect("future");
    drop(conn);
    let before = snapshot(d);
    let out = run(d, &["notes", "list"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer Outpost"));
    let out = run(d, &["migrate", "up"]);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(snapshot(d), before);
}

#[test]
fn tampered_note_exits_7_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = run_ok(d, &["notes", "add", "--title", "t", "--body", "b"]).trim().to_owned();
    let conn = rusqlite::Connection::open(d.join("outpost.db")).expect("raw");
    conn.execute("UPDATE notes SET body = CAST(substr(body, 1, length(body) - 1) || x'00' AS BLOB)", [])
        .expect("tamper");
    drop(conn);
    let out = run(d, &["notes", "show", &id]);
    assert_eq!(out.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&id) && stderr.contains("tampered"), "{stderr}");
}

#[test]
fn import_export_round_trip() {
    let src = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(src.path().join("Travel")).expect("mkdir");
    std::fs::create_dir_all(src.path().join(".obsidian")).expect("mkdir");
    std::fs::write(src.path().join(".obsidian/app.json"), "{}").expect("write");
    std::fs::write(src.path().join("groceries.md"), "---\ntitle: Groceries\ntags: [home]\n---\n- milk\n- eggs\n")
        .expect("write");
    std::fs::write(src.path().join("Travel/Lisbon.md"), "# Lisbon trip\n\nTram 28 early.\n").expect("write");
    std::fs::write(src.path().join("plain.md"), "Just text, no front matter.\n").expect("write");
    let jsonl = src.path().join("more.jsonl");
    std::fs::write(
        &jsonl,
        "{\"title\":\"From JSON\",\"body\":\"b\",\"tags\":[\"x\"]}\n\n{\"title\":\"Second\",\"body\":\"c\"}\n",
    )
    .expect("write");

    let a = tempfile::tempdir().expect("tempdir");
    assert!(run_ok(a.path(), &["notes", "import", src.path().to_str().expect("utf-8")]).contains("imported 3 notes"));
    assert!(run_ok(a.path(), &["notes", "import", jsonl.to_str().expect("utf-8")]).contains("imported 2 notes"));
    let hits: serde_json::Value =
        serde_json::from_str(&run_ok(a.path(), &["notes", "search", "tram", "--json"])).expect("json");
    assert_eq!(hits[0]["title"], "Lisbon trip");
    let note: serde_json::Value =
        serde_json::from_str(&run_ok(a.path(), &["notes", "show", hits[0]["id"].as_str().expect("id"), "--json"]))
            .expect("json");
    assert_eq!(note["tags"], serde_json::json!([]), "folders become notebooks, not tags");
    let travel = run_ok(a.path(), &["notebooks", "list"]);
    assert!(travel.contains("Travel (1)"), "{travel}");
    assert_eq!(run_ok(a.path(), &["notes", "list", "--notebook", "travel"]).lines().count(), 1);

    let out = tempfile::tempdir().expect("tempdir");
    assert!(run_ok(a.path(), &["notes", "export", out.path().to_str().expect("utf-8")]).contains("exported 5 notes"));
    let b = tempfile::tempdir().expect("tempdir");
    run_ok(b.path(), &["notes", "import", out.path().to_str().expect("utf-8")]);
    let notes = |d: &std::path::Path| -> Vec<(String, String, serde_json::Value, bool, String)> {
        let books: serde_json::Value =
            serde_json::from_str(&run_ok(d, &["notebooks", "list", "--json"])).expect("json");
        let book = |id: &serde_json::Value| -> String {
            books
                .as_array()
                .expect("array")
                .iter()
                .find(|b| &b["id"] == id)
                .map(|b| b["name"].to_string())
                .unwrap_or_default()
        };
        let list: serde_json::Value = serde_json::from_str(&run_ok(d, &["notes", "list", "--json"])).expect("json");
        let mut v: Vec<_> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|s| {
                let n: serde_json::Value =
                    serde_json::from_str(&run_ok(d, &["notes", "show", s["id"].as_str().expect("id"), "--json"]))
                        .expect("json");
                (
                    n["title"].as_str().unwrap_or_default().to_owned(),
                    n["body"].as_str().unwrap_or_default().to_owned(),
                    n["tags"].clone(),
                    n["pinned"] == true,
                    book(&n["notebook"]),
                )
            })
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    assert_eq!(notes(a.path()), notes(b.path()), "export then import keeps title, body, tags, pin and notebook");
}

/// Notebooks from the command line: a tree, notes moved and tagged in one
/// edit, the list filtered and sorted; each bad change a clear message, its
/// exit code, and not a byte changed.
#[test]
fn notebooks_commands_and_their_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let work = run_ok(d, &["notebooks", "create", "Work"]).trim().to_owned();
    run_ok(d, &["notebooks", "create", "Projects", "--parent", "Work"]);
    run_ok(d, &["notebooks", "create", "Home"]);
    let b = run_ok(d, &["notes", "add", "--title", "beta"]).trim().to_owned();
    let a = run_ok(d, &["notes", "add", "--title", "Alpha"]).trim().to_owned();
    run_ok(d, &["notes", "edit", &b, "--notebook", "Work/Projects", "--tag", "t1", "--tag", "t2"]);
    run_ok(d, &["notes", "edit", &a, "--notebook", &work]);
    let tree: serde_json::Value = serde_json::from_str(&run_ok(d, &["notebooks", "list", "--json"])).expect("json");
    assert_eq!(tree[1]["name"], "Work");
    assert_eq!(
        (tree[1]["children"][0]["name"].as_str(), tree[1]["children"][0]["notes"].as_u64()),
        (Some("Projects"), Some(1))
    );
    let note: serde_json::Value = serde_json::from_str(&run_ok(d, &["notes", "show", &b, "--json"])).expect("json");
    assert_eq!(note["tags"], serde_json::json!(["t1", "t2"]));
    let titles = |args: &[&str]| -> Vec<String> {
        run_ok(d, args).lines().map(|l| l.rsplit("  ").next().unwrap_or_default().to_owned()).collect()
    };
    assert_eq!(titles(&["notes", "list", "--sort", "title"]), ["Alpha", "beta"]);
    assert_eq!(titles(&["notes", "list", "--notebook", "Work"]), ["Alpha"]);
    assert!(run_ok(d, &["notes", "tags"]).contains("1  t1"));

    let long = "n".repeat(201);
    let cases: Vec<Case<'_>> = vec![
        ("cycle", vec!["notebooks", "move", "Work", "--parent", "Projects"], None, 15, "inside it"),
        ("name taken", vec!["notebooks", "create", "work"], None, 15, "already a notebook named"),
        ("rename onto a taken name", vec!["notebooks", "rename", "Home", "WORK"], None, 15, "already a notebook"),
        ("name too long", vec!["notebooks", "create", &long], None, 4, "limit is 200 bytes"),
        ("unknown notebook", vec!["notes", "edit", &a, "--notebook", "Nowhere"], None, 3, "no notebook \"Nowhere\""),
        ("unknown parent", vec!["notebooks", "create", "X", "--parent", "Nowhere"], None, 3, "no notebook"),
        ("bad sort", vec!["notes", "list", "--sort", "size"], None, 2, "not a sort order"),
        ("neither parent nor root", vec!["notebooks", "move", "Home"], None, 2, "--parent"),
    ];
    for (name, args, _, code, msg) in cases {
        let before = snapshot(d);
        let out = outpost(d).args(&args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(stderr.contains(msg), "{name}: message {stderr:?} lacks {msg:?}");
        assert_eq!(snapshot(d), before, "{name} changed the store");
    }

    run_ok(d, &["notebooks", "move", "Projects", "--root"]);
    run_ok(d, &["notebooks", "rename", "Projects", "Ideas"]);
    assert!(run_ok(d, &["notebooks", "delete", "Work"]).contains("1 notes and 0 notebooks moved up"));
    assert_eq!(titles(&["notes", "list", "--no-notebook", "--sort", "title"]), ["Alpha"]);
    assert_eq!(titles(&["notes", "list", "--notebook", "Ideas"]), ["beta"]);
}

/// A bad line is named and skipped; the rest is imported (exit 0). An
/// input with nothing importable exits 12 and changes nothing.
#[test]
fn bad_import_lines_are_named_and_skipped() {
    let src = tempfile::tempdir().expect("tempdir");
    let f = src.path().join("bad.jsonl");
    std::fs::write(&f, "{\"title\":\"ok\",\"body\":\"b\"}\n{\"title\": 5}\n").expect("write");
    let d = tempfile::tempdir().expect("tempdir");
    run_ok(d.path(), &["notes", "add", "--title", "existing"]);
    let out = run(d.path(), &["notes", "import", f.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("imported 1 notes") && stdout.contains("skipped line 2"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("read 2: 1 imported"), "progress on stderr");

    let json: serde_json::Value =
        serde_json::from_str(&run_ok(d.path(), &["notes", "import", f.to_str().expect("utf-8"), "--json"]))
            .expect("json");
    assert_eq!((json["imported"].as_u64(), json["duplicates"].as_u64()), (Some(0), Some(1)), "{json}");
    assert_eq!(json["skipped"][0]["at"], "line 2");

    let none = src.path().join("none.jsonl");
    std::fs::write(&none, "{\"title\": 5}\nnot json\n").expect("write");
    let before = snapshot(d.path());
    let out = run(d.path(), &["notes", "import", none.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(12), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could be imported"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped line 1"));
    assert_eq!(snapshot(d.path()), before);
}

/// Every format through the command line, from the core's sample
/// exports: the summary as JSON, `--format` over a name that says nothing,
/// and a path that is not there.
#[test]
fn import_each_format() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/data/import");
    let d = tempfile::tempdir().expect("tempdir");
    let summary = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["notes", "import"];
        all.extend_from_slice(args);
        all.push("--json");
        serde_json::from_str(&run_ok(d.path(), &all)).expect("json summary")
    };
    let path = |p: &str| samples.join(p).to_str().expect("utf-8").to_owned();
    let s = summary(&[&path("obsidian")]);
    assert_eq!((s["format"].as_str(), s["imported"].as_u64()), (Some("markdown"), Some(5)), "{s}");
    assert_eq!(s["skipped"][0]["at"], "Latin1.md");
    let s = summary(&[&path("joplin")]);
    assert_eq!(s["imported"].as_u64(), Some(3), "{s}");
    let s = summary(&[&path("evernote/Travel.enex")]);
    assert_eq!((s["format"].as_str(), s["imported"].as_u64()), (Some("enex"), Some(2)), "{s}");
    assert!(s["left_out"][0]["reason"].as_str().unwrap_or_default().contains("tram.jpg"), "{s}");
    let s = summary(&[&path("standard-notes/backup.json")]);
    assert_eq!((s["format"].as_str(), s["imported"].as_u64()), (Some("standard-notes"), Some(2)), "{s}");
    assert!(s["skipped"][0]["reason"].as_str().unwrap_or_default().contains("trash"), "{s}");
    let list: serde_json::Value = serde_json::from_str(&run_ok(d.path(), &["notes", "list", "--json"])).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(12));

    // A backup under a name that says nothing: --format says what it is.
    let src = tempfile::tempdir().expect("tempdir");
    let odd = src.path().join("export.data");
    std::fs::write(&odd, "{\"title\":\"odd\",\"body\":\"x\"}\n").expect("write");
    let out = run(d.path(), &["notes", "import", odd.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(4), "an unknown extension without --format is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
    let s = summary(&[odd.to_str().expect("utf-8"), "--format", "jsonl"]);
    assert_eq!(s["imported"].as_u64(), Some(1), "{s}");
    let missing = src.path().join("not-there.jsonl");
    let out = run(d.path(), &["notes", "import", missing.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-there.jsonl"));
}

#[test]
fn seed_is_deterministic_and_realistic() {
    let titles = |seed: &str| {
        let d = tempfile::tempdir().expect("tempdir");
        assert!(run_ok(d.path(), &["seed", "--notes", "300", "--size", "1500", "--seed", seed])
            .contains("seeded 300 notes"));
        let list: serde_json::Value =
            serde_json::from_str(&run_ok(d.path(), &["notes", "list", "--json"])).expect("json");
        let status: serde_json::Value = serde_json::from_str(&run_ok(d.path(), &["status", "--json"])).expect("json");
        assert_eq!(status["pending"].as_u64(), Some(300), "one entry per note, edits coalesced");
        assert!(status["coalesced"].as_u64().unwrap_or(0) > 100, "some notes have long edit histories");
        let mut t: Vec<String> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|n| n["title"].as_str().unwrap_or_default().to_owned())
            .collect();
        t.sort();
        t
    };
    let a = titles("7");
    assert_eq!(a, titles("7"));
    assert_ne!(a, titles("8"));
}

#[test]
fn migrate_commands() {
    let d = tempfile::tempdir().expect("tempdir");
    run_ok(d.path(), &["notes", "add", "--title", "t"]);
    let s = run_ok(d.path(), &["migrate", "status"]);
    assert!(s.contains("applied  0001 init") && s.contains("0003 conflict_remote_fields"), "{s}");
    assert!(run_ok(d.path(), &["migrate", "check"]).contains("no drift"));
    assert!(run_ok(d.path(), &["migrate", "up"]).contains("up to date"));
    let conn = rusqlite::Connection::open(d.path().join("outpost.db")).expect("raw");
    conn.execute_batch("CREATE TABLE sneaky (x); DROP INDEX outbox_note;").expect("drift");
    drop(conn);
    let out = run(d.path(), &["migrate", "check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unexpected table sneaky") && text.contains("missing index outbox_note"), "{text}");
    let m = tempfile::tempdir().expect("tempdir");
    std::fs::write(m.path().join("0001_init.sql"), "").expect("write");
    let out = run_ok(d.path(), &["migrate", "new", "add_trash", "--dir", m.path().to_str().expect("utf-8")]);
    assert!(out.contains("0002_add_trash.sql") && m.path().join("0002_add_trash.sql").exists());
}

/// `outpost ... | head`: a reader that leaves early is not an error. The
/// read end is closed before the command writes a byte, so every write
/// meets a broken pipe: each listing stops quietly with exit 0, no panic.
#[test]
fn listings_stop_quietly_when_the_reader_leaves() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let id = run_ok(d, &["notes", "add", "--title", "piped", "--body", "text"]).trim().to_owned();
    run_ok(d, &["notes", "edit", &id, "--body", "more text"]);
    for args in [
        vec!["notes", "list"],
        vec!["outbox", "list"],
        vec!["outbox", "list", "--json"],
        vec!["status", "--history"],
        vec!["status"],
        vec!["conflicts", "list", "--all"],
        vec!["trash", "list"],
        vec!["retention"],
        vec!["policy"],
        vec!["migrate", "status"],
    ] {
        let mut child =
            outpost(d).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn outpost");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for outpost");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "`outpost {}`: {:?}, stderr: {stderr}", args.join(" "), out.status);
        assert!(!stderr.contains("panicked"), "`outpost {}` panicked: {stderr}", args.join(" "));
    }
}
