//! `outpost migrate new` and `outpost migrate check` through the real
//! binary, on a copy of the repository's migrations and a changed copy of
//! its declared schema.

mod common;

use std::path::{Path, PathBuf};

use common::{run, run_ok};

fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core")
}

/// A copy of the repository's migrations folder.
fn copy_of_migrations() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(core_dir().join("migrations")).expect("read migrations") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|x| x == "sql") {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("file name"))).expect("copy");
        }
    }
    dir
}

fn sql_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn declared() -> String {
    std::fs::read_to_string(core_dir().join("schema.sql")).expect("read schema.sql")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn new_writes_the_migration_for_a_schema_change_and_check_then_agrees() {
    let data = tempfile::tempdir().expect("tempdir");
    let d = data.path();
    let m = copy_of_migrations();
    let mdir = m.path().to_str().expect("utf-8").to_owned();
    let before = sql_files(m.path());
    let next = format!("{:04}_archive.sql", before.len() + 1);

    let s = tempfile::tempdir().expect("tempdir");
    let original = declared();
    // A new table with an index, a new nullable column on notes, and a
    // column type change on quarantine (a rebuild).
    // The new column goes last in the notes table, whatever is last now.
    let notes = original.find("CREATE TABLE notes (").expect("schema.sql declares notes");
    let close = notes + original[notes..].find("\n) STRICT;").expect("the notes table ends");
    let with_column = format!("{},\n    archived_at INTEGER{}", &original[..close], &original[close..]);
    let changed = with_column.replace("    error   TEXT NOT NULL,\n", "    error   ANY NOT NULL,\n")
        + "\nCREATE TABLE archive (note_id BLOB PRIMARY KEY, at INTEGER NOT NULL) STRICT;\n\
         CREATE INDEX archive_at ON archive (at);\n";
    assert!(changed.contains("error   ANY NOT NULL"), "the test's edit of schema.sql must apply");
    assert!(changed.contains("archived_at"), "the test's edit of schema.sql must apply");
    let schema = write(s.path(), "schema.sql", &changed);

    // Before: the migrations fall short of the declared schema.
    let out = run(d, &["migrate", "check", "--dir", &mdir, "--schema", &schema]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("table archive is declared in schema.sql, but no migration makes it"), "{text}");
    assert!(text.contains("notes.archived_at") && text.contains("quarantine.error"), "{text}");

    let out = run_ok(d, &["migrate", "new", "archive", "--dir", &mdir, "--schema", &schema]);
    assert!(out.contains(&next), "{out}");
    for line in
        ["new table archive", "new column notes.archived_at", "new index archive_at", "rebuild table quarantine"]
    {
        assert!(out.contains(line), "{line:?} not in {out}");
    }
    let sql = std::fs::read_to_string(m.path().join(&next)).expect("read the new migration");
    assert!(sql.contains("ALTER TABLE \"notes\" ADD COLUMN archived_at INTEGER;"), "{sql}");
    assert!(sql.contains("Rebuild table quarantine") && sql.contains("column error changes"), "{sql}");

    // After: no drift, and nothing more to write.
    let out = run_ok(d, &["migrate", "check", "--dir", &mdir, "--schema", &schema]);
    assert!(out.contains("make the declared schema"), "{out}");
    let out = run_ok(d, &["migrate", "new", "again", "--dir", &mdir, "--schema", &schema]);
    assert!(out.contains("no schema change") && out.contains("nothing written"), "{out}");
    assert_eq!(sql_files(m.path()).len(), before.len() + 1);

    // The generated file applies to a store the real binary made, and
    // leaves it as the declared schema says.
    run_ok(d, &["notes", "add", "--title", "kept", "--body", "safe"]);
    let conn = rusqlite::Connection::open(d.join("outpost.db")).expect("open store");
    conn.execute("INSERT INTO quarantine VALUES (1, x'00', 1, 'h', 0, x'00', 'bad', 0)", []).expect("row");
    conn.execute_batch(&format!("BEGIN; {sql} COMMIT;")).expect("the generated migration applies");
    let error: (String, String) =
        conn.query_row("SELECT error, typeof(error) FROM quarantine", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("row");
    assert_eq!(error, ("bad".to_owned(), "text".to_owned()), "the rebuilt table keeps the row as it was");
    let notes: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0)).expect("count");
    assert_eq!(notes, 1);
}

#[test]
fn no_change_writes_nothing_unless_empty_is_asked_for() {
    let data = tempfile::tempdir().expect("tempdir");
    let m = copy_of_migrations();
    let mdir = m.path().to_str().expect("utf-8").to_owned();
    let before = sql_files(m.path());
    let out = run_ok(data.path(), &["migrate", "new", "nothing", "--dir", &mdir]);
    assert!(out.contains("no schema change"), "{out}");
    assert_eq!(sql_files(m.path()), before);
    let out = run_ok(data.path(), &["migrate", "new", "by_hand", "--dir", &mdir, "--empty"]);
    let name = format!("{:04}_by_hand.sql", before.len() + 1);
    assert!(out.contains(&name) && m.path().join(&name).exists(), "{out}");
}

#[test]
fn check_passes_on_a_fresh_store_and_without_one() {
    let data = tempfile::tempdir().expect("tempdir");
    let out = run_ok(data.path(), &["migrate", "check"]);
    assert!(out.contains("no Outpost store") && out.contains("make the declared schema"), "{out}");
    run_ok(data.path(), &["notes", "add", "--title", "t"]);
    let out = run_ok(data.path(), &["migrate", "check"]);
    assert!(out.contains("the store matches migrations") && out.contains("make the declared schema"), "{out}");
}

#[test]
fn a_change_that_cannot_be_written_safely_is_refused_with_the_reason() {
    let data = tempfile::tempdir().expect("tempdir");
    let m = copy_of_migrations();
    let mdir = m.path().to_str().expect("utf-8").to_owned();
    let before = sql_files(m.path());
    let s = tempfile::tempdir().expect("tempdir");
    let changed =
        declared().replace("    at      INTEGER NOT NULL\n", "    at      INTEGER NOT NULL,\n    why TEXT NOT NULL\n");
    assert!(changed.contains("why TEXT"), "the test's edit of schema.sql must apply");
    let schema = write(s.path(), "schema.sql", &changed);
    let out = run(data.path(), &["migrate", "new", "why", "--dir", &mdir, "--schema", &schema]);
    assert_eq!(out.status.code(), Some(4), "invalid input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("new column why is NOT NULL without a DEFAULT") && err.contains("--empty"), "{err}");
    assert_eq!(sql_files(m.path()), before, "nothing written");
}

#[test]
fn a_bad_schema_file_is_a_clear_error() {
    let data = tempfile::tempdir().expect("tempdir");
    let m = copy_of_migrations();
    let mdir = m.path().to_str().expect("utf-8").to_owned();
    let s = tempfile::tempdir().expect("tempdir");
    let schema = write(s.path(), "schema.sql", "CREATE TABLE (;");
    let out = run(data.path(), &["migrate", "new", "x", "--dir", &mdir, "--schema", &schema]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema.sql) does not run"));
    let missing = s.path().join("nope.sql");
    let out = run(data.path(), &["migrate", "new", "x", "--dir", &mdir, "--schema", missing.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading the declared schema"));
}
