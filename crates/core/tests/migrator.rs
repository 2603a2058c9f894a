//! The migration generator through the library, against a temporary
//! migrations folder and a temporary declared schema: what `outpost migrate
//! new` writes applies with the migrator, keeps the rows, and leaves no
//! drift; identical schemas write nothing; what cannot be written safely is
//! refused with the reason.

use std::path::Path;

use outpost_core::store::migrate::{self, schema, Drift};
use rusqlite::Connection;

const BASE: &str = "
CREATE TABLE items (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    size TEXT
) STRICT;
CREATE INDEX items_name ON items (name);
CREATE TABLE tags (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL
) STRICT;
CREATE INDEX tags_item ON tags (item_id);
CREATE INDEX tags_tag ON tags (tag);
CREATE TABLE old_stuff (x INTEGER) STRICT;
";

/// BASE with: a new table with an index, a new nullable column, a dropped
/// index, a column type change (items.size TEXT -> INTEGER), a dropped
/// table, and other layout and comments (which are no change).
const CHANGED: &str = "
-- items.size becomes a number.
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER) STRICT;
CREATE INDEX items_name ON items (name);
CREATE TABLE tags (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    colour  TEXT            -- new, nullable
) STRICT;
CREATE INDEX tags_item ON tags (item_id);
CREATE TABLE labels (
    id    INTEGER PRIMARY KEY,
    label TEXT NOT NULL
) STRICT;
CREATE INDEX labels_label ON labels (label COLLATE NOCASE);
";

fn migrations_dir(scripts: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, sql) in scripts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{:04}_step{}.sql", i + 1, i + 1)), sql).expect("write migration");
    }
    dir
}

fn file_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).expect("read dir").count()
}

/// A store file at the schema of `dir`'s migrations, with foreign keys
/// enforced as the app's connections have them.
fn store_at(dir: &Path, db: &Path) -> Connection {
    let mut conn = Connection::open(db).expect("open store");
    conn.pragma_update(None, "foreign_keys", true).expect("foreign keys on");
    let migrations = migrate::read_dir(dir).expect("read migrations");
    migrate::migrate_up_with(&mut conn, db, &migrations).expect("migrate up");
    conn
}

#[test]
fn a_schema_change_becomes_a_migration_that_applies_keeps_rows_and_leaves_no_drift() {
    let m = migrations_dir(&[BASE]);
    let d = tempfile::tempdir().expect("tempdir");
    let db = d.path().join("t.db");
    let conn = store_at(m.path(), &db);
    conn.execute_batch(
        "INSERT INTO items (id, name, size) VALUES (1, 'a', '12'), (2, 'b', '7'), (5, 'c', NULL);
         INSERT INTO tags (item_id, tag) VALUES (1, 'x'), (2, 'y'), (2, 'z');
         INSERT INTO old_stuff VALUES (1);",
    )
    .expect("rows");
    drop(conn);

    let made = migrate::new_migration(m.path(), CHANGED, "change", false).expect("generate");
    let path = made.path.expect("a file is written");
    assert!(path.ends_with("0002_change.sql"), "{}", path.display());
    let sql = std::fs::read_to_string(&path).expect("read");
    for part in [
        "CREATE TABLE labels",
        "CREATE INDEX labels_label",
        "ALTER TABLE \"tags\" ADD COLUMN colour TEXT;",
        "DROP INDEX \"tags_tag\";",
        "DROP TABLE \"old_stuff\";",
        // The type change: the rebuild recipe, with why.
        "Rebuild table items",
        "column size changes from `TEXT` to `INTEGER`",
        "CREATE TABLE \"_outpost_new_items\"",
        "INSERT INTO \"_outpost_new_items\"",
        "DROP TABLE \"items\";",
        "ALTER TABLE \"_outpost_new_items\" RENAME TO \"items\";",
        // Its indexes are made again after it.
        "CREATE INDEX items_name ON items (name);",
    ] {
        assert!(sql.contains(part), "missing {part:?} in:\n{sql}");
    }
    assert!(made.summary.iter().any(|l| l.starts_with("rebuild table items")), "{:?}", made.summary);

    // Applied by the migrator, as `migrate up` would.
    let migrations = migrate::read_dir(m.path()).expect("read");
    let mut conn = Connection::open(&db).expect("open");
    conn.pragma_update(None, "foreign_keys", true).expect("foreign keys on");
    let backup = migrate::migrate_up_with(&mut conn, &db, &migrations).expect("the generated migration applies");
    assert!(backup.is_some(), "an existing store is backed up first");
    assert_eq!(migrate::check_with(&conn, &migrations).expect("check"), vec![], "store against migrations");
    assert_eq!(migrate::check_declared_with(&migrations, CHANGED).expect("check"), vec![], "against schema");

    // The rebuilt table kept its rows, now numbers; the rows referring to it
    // were not cascaded away when the old table was dropped.
    let items: Vec<(i64, String, Option<i64>, String)> = conn
        .prepare("SELECT id, name, size, typeof(size) FROM items ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    assert_eq!(
        items,
        vec![
            (1, "a".into(), Some(12), "integer".into()),
            (2, "b".into(), Some(7), "integer".into()),
            (5, "c".into(), None, "null".into())
        ]
    );
    let tags: i64 = conn.query_row("SELECT count(*) FROM tags WHERE colour IS NULL", [], |r| r.get(0)).expect("count");
    assert_eq!(tags, 3);
    let fk: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).expect("pragma");
    assert!(fk, "foreign keys are enforced again after migrating");
    // And the foreign key still works on the rebuilt parent.
    conn.execute("DELETE FROM items WHERE id = 2", []).expect("delete");
    let tags: i64 = conn.query_row("SELECT count(*) FROM tags", [], |r| r.get(0)).expect("count");
    assert_eq!(tags, 1, "ON DELETE CASCADE still points at the rebuilt items");

    // Nothing is left to write.
    let again = migrate::new_migration(m.path(), CHANGED, "again", false).expect("generate");
    assert!(again.path.is_none());
}

#[test]
fn identical_schemas_write_nothing_unless_asked_for_an_empty_file() {
    let m = migrations_dir(&[BASE]);
    // The same schema, written otherwise: not a difference.
    let same = BASE
        .replace("    ", " ")
        .replace("CREATE TABLE old_stuff (x INTEGER)", "create table \"old_stuff\" (x integer)");
    let made = migrate::new_migration(m.path(), &same, "nothing", false).expect("generate");
    assert!(made.path.is_none() && made.summary.is_empty());
    assert_eq!(file_count(m.path()), 1, "nothing written");
    let made = migrate::new_migration(m.path(), &same, "by_hand", true).expect("empty");
    let path = made.path.expect("written");
    assert!(path.ends_with("0002_by_hand.sql"));
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.lines().all(|l| l.is_empty() || l.starts_with("--")), "only comments: {text}");
}

#[test]
fn a_new_not_null_column_without_default_is_refused_and_nothing_written() {
    let m = migrations_dir(&[BASE]);
    let declared = BASE.replace("size TEXT\n", "size TEXT,\n    weight INTEGER NOT NULL\n");
    assert_ne!(declared, BASE);
    let err = migrate::new_migration(m.path(), &declared, "weight", false).expect_err("refused");
    let msg = err.to_string();
    assert!(msg.contains("weight") && msg.contains("NOT NULL without a DEFAULT") && msg.contains("--empty"), "{msg}");
    assert_eq!(file_count(m.path()), 1);
}

#[test]
fn cheap_changes_stay_in_place_and_order_changes_rebuild() {
    let m = migrations_dir(&[BASE]);
    // A NOT NULL column with a constant default is added in place; a column
    // dropped with its index is dropped in place.
    let declared = BASE
        .replace("size TEXT\n", "size TEXT,\n    rank INTEGER NOT NULL DEFAULT 0\n")
        .replace("CREATE INDEX items_name ON items (name);", "")
        .replace("name TEXT NOT NULL,\n", "");
    let plan = migrate::generate(&migrate::read_dir(m.path()).expect("read"), &declared).expect("plan");
    let sql = plan.sql();
    assert!(sql.contains("ALTER TABLE \"items\" ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;"), "{sql}");
    assert!(sql.contains("ALTER TABLE \"items\" DROP COLUMN \"name\";"), "{sql}");
    assert!(!sql.contains("Rebuild"), "{sql}");

    // A new column declared before an old one cannot be appended.
    let declared = BASE.replace("name TEXT NOT NULL,", "colour TEXT,\n    name TEXT NOT NULL,");
    let plan = migrate::generate(&migrate::read_dir(m.path()).expect("read"), &declared).expect("plan");
    assert!(plan.sql().contains("ADD COLUMN can only append"), "{}", plan.sql());
}

#[test]
fn drift_between_migrations_and_declaration_is_reported() {
    let m = migrations_dir(&[BASE]);
    let migrations = migrate::read_dir(m.path()).expect("read");
    let drift = migrate::check_declared_with(&migrations, CHANGED).expect("check");
    assert!(
        drift.contains(&Drift::Declared(schema::Difference::Missing { kind: "table".into(), name: "labels".into() })),
        "{drift:?}"
    );
    assert!(
        drift.contains(&Drift::Declared(schema::Difference::Extra { kind: "index".into(), name: "tags_tag".into() })),
        "{drift:?}"
    );
    assert!(drift.iter().any(|d| d.to_string().contains("items.size")), "{drift:?}");
}

#[test]
fn the_built_in_migrations_make_the_built_in_declared_schema() {
    assert_eq!(migrate::check_declared().expect("check"), vec![]);
    let d = tempfile::tempdir().expect("tempdir");
    let db = d.path().join("t.db");
    let mut conn = outpost_core::store::connect(&db).expect("connect");
    migrate::migrate_up(&mut conn, &db).expect("migrate");
    assert_eq!(migrate::check(&conn).expect("check"), vec![]);
    // And generating from them writes nothing.
    let plan = migrate::generate(&migrate::embedded(), schema::DECLARED).expect("plan");
    assert!(plan.is_empty(), "{}", plan.sql());
}

/// Apply the generated migration from `base` to `declared` on a store
/// holding `rows`; no drift after. Returns the SQL and the store.
fn generate_and_apply(base: &str, declared: &str, rows: &str) -> (String, Connection, tempfile::TempDir) {
    let m = migrations_dir(&[base]);
    let d = tempfile::tempdir().expect("tempdir");
    let db = d.path().join("t.db");
    store_at(m.path(), &db).execute_batch(rows).expect("rows");
    let made = migrate::new_migration(m.path(), declared, "change", false).expect("generate");
    let sql = std::fs::read_to_string(made.path.expect("written")).expect("read");
    let migrations = migrate::read_dir(m.path()).expect("read");
    let mut conn = Connection::open(&db).expect("open");
    conn.pragma_update(None, "foreign_keys", true).expect("foreign keys on");
    migrate::migrate_up_with(&mut conn, &db, &migrations).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    assert_eq!(migrate::check_with(&conn, &migrations).expect("check"), vec![], "{sql}");
    assert_eq!(migrate::check_declared_with(&migrations, declared).expect("check"), vec![], "{sql}");
    (sql, conn, d)
}

#[test]
fn rebuilds_keep_counters_views_and_triggers_and_cover_what_alter_cannot() {
    let base = "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT, b INT);
        CREATE TABLE c (pid INTEGER REFERENCES p (id) ON DELETE CASCADE, v TEXT);
        CREATE INDEX p_lower ON p (lower(a));
        CREATE VIEW pv AS SELECT id, a FROM p;
        CREATE TRIGGER p_ins AFTER INSERT ON p BEGIN INSERT INTO c (pid, v) VALUES (new.id, 'auto'); END;
        CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT);
        CREATE TABLE u (id INTEGER PRIMARY KEY);
        CREATE TABLE t (a INT);";
    // p: a column moved and a UNIQUE added; w becomes WITHOUT ROWID; t gets
    // a column whose foreign key is a table constraint, which ADD COLUMN
    // cannot express.
    let declared = "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT, b INT, a TEXT UNIQUE);
        CREATE TABLE c (pid INTEGER REFERENCES p (id) ON DELETE CASCADE, v TEXT);
        CREATE INDEX p_lower ON p (lower(a));
        CREATE VIEW pv AS SELECT id, a FROM p;
        CREATE TRIGGER p_ins AFTER INSERT ON p BEGIN INSERT INTO c (pid, v) VALUES (new.id, 'auto'); END;
        CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
        CREATE TABLE u (id INTEGER PRIMARY KEY);
        CREATE TABLE t (a INT, d INT, FOREIGN KEY (d) REFERENCES u (id));";
    let rows = "INSERT INTO p (a, b) VALUES ('x', 1), ('y', 2); DELETE FROM p WHERE id = 2;
        INSERT INTO w VALUES ('k', 'v'); INSERT INTO t VALUES (7);";
    let (sql, conn, _dir) = generate_and_apply(base, declared, rows);
    for part in ["Rebuild table p", "ADD COLUMN can only append", "Rebuild table w", "WITHOUT ROWID", "Rebuild table t"]
    {
        assert!(sql.contains(part), "missing {part:?} in:\n{sql}");
    }
    // The AUTOINCREMENT counter survived: id 2 is never handed out again.
    conn.execute("INSERT INTO p (a, b) VALUES ('z', 3)", []).expect("insert");
    let id: i64 = conn.query_row("SELECT id FROM p WHERE a = 'z'", [], |r| r.get(0)).expect("id");
    assert_eq!(id, 3);
    // The trigger is back and fires; the child rows of the rebuilt p are kept.
    let autos: i64 = conn.query_row("SELECT count(*) FROM c WHERE v = 'auto'", [], |r| r.get(0)).expect("count");
    assert_eq!(autos, 2, "one kept from before (the other left with p's row 2), one from the insert above");
    let kept: (String, i64) = conn
        .query_row("SELECT a, b FROM pv JOIN p USING (id, a) WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("row");
    assert_eq!(kept, ("x".to_owned(), 1));
    let t: i64 = conn.query_row("SELECT a FROM t", [], |r| r.get(0)).expect("row of t");
    assert_eq!(t, 7);
}
