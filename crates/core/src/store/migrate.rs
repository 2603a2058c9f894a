//! Versioned, embedded schema migrations.
//!
//! `migrations/NNNN_name.sql` files are compiled in by `build.rs`. Each runs
//! in its own transaction with its record in `_migrations` (version, name,
//! SHA-256 of the SQL, time). Before the first pending migration runs on a
//! store that already has a schema, the whole database is copied with
//! `VACUUM INTO` beside it, so a failed or faulty migration can be undone by
//! hand. A store whose schema is newer than this build is refused untouched.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// All migrations of this build, in order.
pub const MIGRATIONS: &[Migration] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema version this build writes.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Migration {
    pub fn checksum(&self) -> String {
        crate::keys::hex(&Sha256::digest(self.sql.as_bytes()))
    }
}

/// An applied migration as recorded in a store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub version: u32,
    pub name: String,
    pub checksum: String,
    pub applied_at: i64,
}

/// Where a store stands against this build's migrations.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub current: u32,
    pub latest: u32,
    pub applied: Vec<Applied>,
    pub pending: Vec<(u32, String)>,
}

const BOOTSTRAP: &str = "CREATE TABLE IF NOT EXISTS _migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT";

fn applied(conn: &Connection) -> Result<Vec<Applied>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT version, name, checksum, applied_at FROM _migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| {
        Ok(Applied { version: r.get(0)?, name: r.get(1)?, checksum: r.get(2)?, applied_at: r.get(3)? })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Applied and pending migrations of the store behind `conn`.
pub fn status(conn: &Connection) -> Result<Status> {
    let applied = applied(conn)?;
    let current = applied.last().map_or(0, |a| a.version);
    let pending = MIGRATIONS.iter().filter(|m| m.version > current).map(|m| (m.version, m.name.to_owned())).collect();
    Ok(Status { current, latest: latest_version(), applied, pending })
}

/// Refuse a store written by a newer build, before anything is changed.
pub fn ensure_not_newer(conn: &Connection) -> Result<u32> {
    let current = status(conn)?.current;
    if current > latest_version() {
        return Err(Error::SchemaTooNew { found: current, known: latest_version() });
    }
    Ok(current)
}

/// Bring the store at `db_path` up to the latest schema. Returns the path
/// of the backup taken, if any migration ran on an existing schema.
pub fn migrate_up(conn: &mut Connection, db_path: &Path) -> Result<Option<PathBuf>> {
    migrate_to(conn, db_path, latest_version())
}

/// Apply pending migrations up to and including `target` (tests use this to
/// build stores of older versions).
pub fn migrate_to(conn: &mut Connection, db_path: &Path, target: u32) -> Result<Option<PathBuf>> {
    let current = ensure_not_newer(conn)?;
    let pending: Vec<&Migration> = MIGRATIONS.iter().filter(|m| m.version > current && m.version <= target).collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let backup = if current > 0 { Some(backup(conn, db_path, current)?) } else { None };
    conn.execute_batch(BOOTSTRAP)?;
    for m in pending {
        tracing::info!(version = m.version, name = m.name, "applying migration");
        let tx = conn.transaction()?;
        let wrap = |source| Error::Migration { version: m.version, name: m.name.to_owned(), source };
        tx.execute_batch(m.sql).map_err(wrap)?;
        tx.execute(
            "INSERT INTO _migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![m.version, m.name, m.checksum(), crate::time::now_ms()],
        )
        .map_err(wrap)?;
        tx.pragma_update(None, "user_version", m.version).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(backup)
}

/// `VACUUM INTO` a consistent copy beside the store:
/// `outpost.db.backup-v{version}-{unix ms}`. It holds ciphertext only, like
/// the store itself.
fn backup(conn: &Connection, db_path: &Path, version: u32) -> Result<PathBuf> {
    let name = format!(
        "{}.backup-v{version}-{}",
        db_path.file_name().and_then(|n| n.to_str()).unwrap_or("outpost.db"),
        crate::time::now_ms()
    );
    let target = db_path.with_file_name(name);
    let target_str =
        target.to_str().ok_or_else(|| Error::Invalid(format!("backup path {} is not UTF-8", target.display())))?;
    conn.execute("VACUUM INTO ?1", [target_str])?;
    tracing::info!(path = %target.display(), "backed up store before migrating");
    Ok(target)
}

/// One difference between a store's schema and what its migrations make.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Drift {
    /// In the migrations, not in the store.
    Missing { kind: String, name: String },
    /// In the store, not in the migrations.
    Extra { kind: String, name: String },
    /// Present in both, defined differently.
    Changed { kind: String, name: String, expected: String, actual: String },
    /// An applied migration's file was edited after it ran.
    EditedMigration { version: u32, name: String },
    /// An applied migration this build does not have.
    UnknownMigration { version: u32, name: String },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::Missing { kind, name } => write!(f, "missing {kind} {name}"),
            Drift::Extra { kind, name } => write!(f, "unexpected {kind} {name} (not made by any migration)"),
            Drift::Changed { kind, name, expected, actual } => {
                write!(f, "{kind} {name} differs\n  expected: {expected}\n  actual:   {actual}")
            }
            Drift::EditedMigration { version, name } => {
                write!(f, "migration {version} ({name}) was edited after it was applied: add a new migration instead")
            }
            Drift::UnknownMigration { version, name } => {
                write!(f, "applied migration {version} ({name}) is unknown to this build")
            }
        }
    }
}

type SchemaObject = (String, String, String); // (type, name, normalised sql)

fn schema(conn: &Connection) -> Result<Vec<SchemaObject>> {
    let mut stmt = conn.prepare(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master
         WHERE name NOT LIKE 'sqlite_%' AND name != '_migrations' ORDER BY type, name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, name, sql) = row?;
        out.push((kind, name, normalise(&sql)));
    }
    Ok(out)
}

/// Collapse whitespace and drop `--` comments, so formatting is not drift.
fn normalise(sql: &str) -> String {
    let no_comments: Vec<&str> = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect();
    no_comments.join(" ").split_whitespace().collect::<Vec<_>>().join(" ").replace("( ", "(").replace(" )", ")")
}

/// Compare the store's actual schema with what its applied migrations
/// produce on an empty database, and applied migrations with this build's.
pub fn check(conn: &Connection) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    let applied = applied(conn)?;
    for a in &applied {
        match MIGRATIONS.iter().find(|m| m.version == a.version) {
            Some(m) if m.checksum() != a.checksum => {
                drift.push(Drift::EditedMigration { version: a.version, name: a.name.clone() })
            }
            Some(_) => {}
            None => drift.push(Drift::UnknownMigration { version: a.version, name: a.name.clone() }),
        }
    }
    let version = applied.last().map_or(0, |a| a.version);
    let mut reference = Connection::open_in_memory()?;
    {
        let tx = reference.transaction()?;
        for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
            tx.execute_batch(m.sql)?;
        }
        tx.commit()?;
    }
    let expected = schema(&reference)?;
    let actual = schema(conn)?;
    for (kind, name, sql) in &expected {
        match actual.iter().find(|(k, n, _)| k == kind && n == name) {
            None => drift.push(Drift::Missing { kind: kind.clone(), name: name.clone() }),
            Some((_, _, a)) if a != sql => drift.push(Drift::Changed {
                kind: kind.clone(),
                name: name.clone(),
                expected: sql.clone(),
                actual: a.clone(),
            }),
            Some(_) => {}
        }
    }
    for (kind, name, _) in &actual {
        if !expected.iter().any(|(k, n, _)| k == kind && n == name) {
            drift.push(Drift::Extra { kind: kind.clone(), name: name.clone() });
        }
    }
    Ok(drift)
}

/// Create `NNNN_name.sql` in `dir` (the source tree's `crates/core/migrations`)
/// with the next free number. For developers; the new file is embedded on the
/// next build.
pub fn new_migration_file(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(Error::Invalid(format!("migration name {name:?} must be lower-case letters, digits and _")));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    let mut max = 0u32;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if let Some(n) = file.strip_suffix(".sql").and_then(|s| s.split('_').next()).and_then(|n| n.parse::<u32>().ok())
        {
            max = max.max(n);
        }
    }
    let path = dir.join(format!("{:04}_{name}.sql", max + 1));
    let text = format!(
        "-- Outpost local store, schema version {}: {name}.\n-- Never edit this file once it has been applied anywhere; add a new one.\n\n",
        max + 1
    );
    std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_numbered_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1);
        }
        assert!(latest_version() >= 1);
    }

    #[test]
    fn fresh_store_has_no_drift_and_edits_are_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).expect("open");
        assert_eq!(migrate_up(&mut conn, &path).expect("migrate"), None, "no backup of an empty store");
        assert_eq!(check(&conn).expect("check"), vec![]);
        conn.execute_batch("CREATE TABLE stray (x); DROP INDEX notes_list;").expect("tamper");
        let drift = check(&conn).expect("check");
        assert!(drift.contains(&Drift::Extra { kind: "table".into(), name: "stray".into() }), "{drift:?}");
        assert!(drift.contains(&Drift::Missing { kind: "index".into(), name: "notes_list".into() }), "{drift:?}");
        conn.execute("UPDATE _migrations SET checksum = 'x' WHERE version = 1", []).expect("edit");
        assert!(check(&conn).expect("check").contains(&Drift::EditedMigration { version: 1, name: "init".into() }));
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).expect("open");
        migrate_up(&mut conn, &path).expect("migrate");
        conn.execute("INSERT INTO _migrations VALUES (?1, 'future', 'x', 0)", [latest_version() + 1]).expect("insert");
        let err = migrate_up(&mut conn, &path).expect_err("must refuse");
        assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
    }

    #[test]
    fn new_migration_file_takes_next_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("0001_init.sql"), "").expect("write");
        std::fs::write(dir.path().join("0002_more.sql"), "").expect("write");
        let p = new_migration_file(dir.path(), "add_trash").expect("new");
        assert!(p.ends_with("0003_add_trash.sql"), "{}", p.display());
        assert!(new_migration_file(dir.path(), "Bad Name").is_err());
    }

    #[test]
    fn normalise_ignores_layout_and_comments() {
        assert_eq!(
            normalise("CREATE TABLE t (\n  a INT, -- note\n  b INT\n)"),
            normalise("CREATE TABLE t (a INT, b INT)")
        );
    }
}
