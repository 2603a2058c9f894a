//! Versioned, embedded schema migrations, and the generator that writes them.
//!
//! `migrations/NNNN_name.sql` files are compiled in by `build.rs`. Each runs
//! in its own transaction with its record in `_migrations` (version, name,
//! SHA-256 of the SQL, time). Before the first pending migration runs on a
//! store that already has a schema, the whole database is copied with
//! `VACUUM INTO` beside it, so a failed or faulty migration can be undone by
//! hand. A store whose schema is newer than this build is refused untouched.
//!
//! `schema.sql` declares the schema the migrations must add up to
//! ([`schema::DECLARED`]). [`new_migration`] writes the next migration from
//! the difference between what the migrations make and that declaration
//! (see [`schema`] for how it is found and written), and [`check`] /
//! [`check_declared`] report drift of a store from its migrations and of
//! the migrations from the declaration. The functions ending in `_with`
//! take the migrations (and declaration) as inputs, so tests and the
//! generator can work on a source tree; the app uses the embedded ones.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

// A sibling file, declared here so the store's module list stays as it is:
// the schema model and the generator serve the migrator alone.
pub use super::schema;

use schema::{Difference, Schema};

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

fn checksum(sql: &str) -> String {
    crate::keys::hex(&Sha256::digest(sql.as_bytes()))
}

impl Migration {
    pub fn checksum(&self) -> String {
        checksum(self.sql)
    }
}

/// A migration read from a folder of `NNNN_name.sql` files (a source
/// tree's `crates/core/migrations`, or a test's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSource {
    pub version: u32,
    pub name: String,
    pub sql: String,
}

impl From<&Migration> for MigrationSource {
    fn from(m: &Migration) -> Self {
        MigrationSource { version: m.version, name: m.name.to_owned(), sql: m.sql.to_owned() }
    }
}

/// This build's migrations as [`MigrationSource`]s.
pub fn embedded() -> Vec<MigrationSource> {
    MIGRATIONS.iter().map(MigrationSource::from).collect()
}

/// The migrations in `dir`, in order. As `build.rs` demands: named
/// `NNNN_name.sql`, numbered 1, 2, 3, ... without gaps.
pub fn read_dir(dir: &Path) -> Result<Vec<MigrationSource>> {
    let context = || format!("reading migrations in {}", dir.display());
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(context(), e))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(context(), e))?.path();
        if path.extension().is_none_or(|x| x != "sql") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        let parsed = stem.split_once('_').and_then(|(n, name)| Some((n.parse::<u32>().ok()?, name.to_owned())));
        let Some((version, name)) = parsed else {
            return Err(Error::Invalid(format!(
                "{} is not named NNNN_name.sql, as every migration must be",
                path.display()
            )));
        };
        let sql = std::fs::read_to_string(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        found.push(MigrationSource { version, name, sql });
    }
    found.sort_by_key(|m| m.version);
    for (i, m) in found.iter().enumerate() {
        if m.version as usize != i + 1 {
            return Err(Error::Invalid(format!(
                "migrations in {} must be numbered 1, 2, 3, ... without gaps or repeats; found {:04}_{} at place {}",
                dir.display(),
                m.version,
                m.name,
                i + 1
            )));
        }
    }
    Ok(found)
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
    ensure_not_newer_than(conn, latest_version())
}

fn ensure_not_newer_than(conn: &Connection, latest: u32) -> Result<u32> {
    let current = applied(conn)?.last().map_or(0, |a| a.version);
    if current > latest {
        return Err(Error::SchemaTooNew { found: current, known: latest });
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
    let list: Vec<(u32, &str, &str)> = MIGRATIONS.iter().map(|m| (m.version, m.name, m.sql)).collect();
    apply(conn, db_path, &list, target)
}

/// [`migrate_up`] with the migrations given (read with [`read_dir`]), not
/// this build's: for tests of migrations that are not embedded yet.
pub fn migrate_up_with(
    conn: &mut Connection,
    db_path: &Path,
    migrations: &[MigrationSource],
) -> Result<Option<PathBuf>> {
    let list: Vec<(u32, &str, &str)> =
        migrations.iter().map(|m| (m.version, m.name.as_str(), m.sql.as_str())).collect();
    apply(conn, db_path, &list, u32::MAX)
}

fn apply(conn: &mut Connection, db_path: &Path, list: &[(u32, &str, &str)], target: u32) -> Result<Option<PathBuf>> {
    let latest = list.last().map_or(0, |m| m.0);
    let current = ensure_not_newer_than(conn, latest)?;
    let pending: Vec<&(u32, &str, &str)> = list.iter().filter(|m| m.0 > current && m.0 <= target).collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let backup = if current > 0 { Some(backup(conn, db_path, current)?) } else { None };
    conn.execute_batch(BOOTSTRAP)?;
    // Foreign keys off while migrations run, as SQLite's table-rebuild
    // recipe requires: with them on, dropping a table that others refer to
    // deletes their rows (ON DELETE CASCADE) or fails. The pragma is a
    // no-op inside a transaction, so it is switched here, around them, and
    // each migration checks the keys itself before it commits.
    let enforce: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    if enforce {
        conn.pragma_update(None, "foreign_keys", false)?;
    }
    let result = run_pending(conn, &pending, enforce);
    if enforce {
        let restored = conn.pragma_update(None, "foreign_keys", true);
        result?;
        restored?;
    } else {
        result?;
    }
    Ok(backup)
}

fn run_pending(conn: &mut Connection, pending: &[&(u32, &str, &str)], check_keys: bool) -> Result<()> {
    for &&(version, name, sql) in pending {
        tracing::info!(version, name, "applying migration");
        let tx = conn.transaction()?;
        let wrap = |source| Error::Migration { version, name: name.to_owned(), source };
        tx.execute_batch(sql).map_err(wrap)?;
        if check_keys {
            let broken: Option<(String, String)> = tx
                .query_row("SELECT \"table\", parent FROM pragma_foreign_key_check LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(wrap)?;
            if let Some((table, parent)) = broken {
                return Err(wrap(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("a row of {table} refers to a row of {parent} that is not there")),
                )));
            }
        }
        tx.execute(
            "INSERT INTO _migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![version, name, checksum(sql), crate::time::now_ms()],
        )
        .map_err(wrap)?;
        tx.pragma_update(None, "user_version", version).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
    }
    Ok(())
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

/// One difference found by `migrate check`.
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
    /// The migrations do not make the schema `schema.sql` declares
    /// (expected: the declaration; actual: the migrations).
    Declared(Difference),
}

impl From<Difference> for Drift {
    fn from(d: Difference) -> Self {
        match d {
            Difference::Missing { kind, name } => Drift::Missing { kind, name },
            Difference::Extra { kind, name } => Drift::Extra { kind, name },
            Difference::Changed { kind, name, expected, actual } => Drift::Changed { kind, name, expected, actual },
        }
    }
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
            Drift::Declared(Difference::Missing { kind, name }) => {
                write!(f, "{kind} {name} is declared in schema.sql, but no migration makes it")
            }
            Drift::Declared(Difference::Extra { kind, name }) => {
                write!(f, "{kind} {name} is made by the migrations, but schema.sql does not declare it")
            }
            Drift::Declared(Difference::Changed { kind, name, expected, actual }) => write!(
                f,
                "{kind} {name} differs between schema.sql and the migrations\n  schema.sql: {expected}\n  \
                 migrations: {actual}"
            ),
        }
    }
}

/// Compare the store's actual schema with what its applied migrations
/// produce on an empty database, and applied migrations with this build's.
pub fn check(conn: &Connection) -> Result<Vec<Drift>> {
    check_with(conn, &embedded())
}

/// [`check`] against the migrations given instead of this build's.
pub fn check_with(conn: &Connection, migrations: &[MigrationSource]) -> Result<Vec<Drift>> {
    let mut drift = Vec::new();
    let applied = applied(conn)?;
    for a in &applied {
        match migrations.iter().find(|m| m.version == a.version) {
            Some(m) if checksum(&m.sql) != a.checksum => {
                drift.push(Drift::EditedMigration { version: a.version, name: a.name.clone() })
            }
            Some(_) => {}
            None => drift.push(Drift::UnknownMigration { version: a.version, name: a.name.clone() }),
        }
    }
    let version = applied.last().map_or(0, |a| a.version);
    let expected = schema_of_migrations(migrations.iter().filter(|m| m.version <= version))?;
    let actual = Schema::read(conn)?;
    drift.extend(schema::diff(&expected, &actual).into_iter().map(Drift::from));
    Ok(drift)
}

/// Compare what this build's migrations make with the schema it declares
/// (`schema.sql`): they must be the same, or a migration is missing.
pub fn check_declared() -> Result<Vec<Drift>> {
    check_declared_with(&embedded(), schema::DECLARED)
}

/// [`check_declared`] for the migrations and declaration given.
pub fn check_declared_with(migrations: &[MigrationSource], declared: &str) -> Result<Vec<Drift>> {
    let made = schema_of_migrations(migrations)?;
    let wanted = schema::declared_schema(declared)?;
    Ok(schema::diff(&wanted, &made).into_iter().map(Drift::Declared).collect())
}

/// The schema `migrations` make on an empty database.
pub fn schema_of_migrations<'a>(migrations: impl IntoIterator<Item = &'a MigrationSource>) -> Result<Schema> {
    let labelled: Vec<(String, &str)> =
        migrations.into_iter().map(|m| (format!("migration {:04}_{}", m.version, m.name), m.sql.as_str())).collect();
    schema::schema_of_scripts(labelled.iter().map(|(l, s)| (l.as_str(), *s)))
}

/// The SQL that takes the schema `migrations` make to the one `declared`
/// declares; empty when they are the same. Errors name a change that
/// cannot be written safely.
pub fn generate(migrations: &[MigrationSource], declared: &str) -> Result<schema::Plan> {
    let made = schema_of_migrations(migrations)?;
    let wanted = schema::declared_schema(declared)?;
    if wanted.is_empty() {
        // An empty declaration is far likelier a wrong path than a wish to
        // drop every table.
        return Err(Error::Invalid("the declared schema is empty; nothing would be left of the store".into()));
    }
    schema::generate(&made, &wanted)
}

/// What [`new_migration`] did.
#[derive(Debug, Clone)]
pub struct NewMigration {
    /// The file written; `None` when there was nothing to write.
    pub path: Option<PathBuf>,
    /// One line per change in it.
    pub summary: Vec<String>,
}

/// Write the next migration into `dir` (the source tree's
/// `crates/core/migrations`): the SQL that turns what the migrations there
/// make into the schema `declared` declares. Nothing is written when they
/// are already the same, unless `empty` asks for an empty file to write by
/// hand (then it is written whatever the difference). The new file is
/// embedded on the next build.
pub fn new_migration(dir: &Path, declared: &str, name: &str, empty: bool) -> Result<NewMigration> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(Error::Invalid(format!("migration name {name:?} must be lower-case letters, digits and _")));
    }
    let migrations = read_dir(dir)?;
    let version = migrations.last().map_or(0, |m| m.version) + 1;
    let path = dir.join(format!("{version:04}_{name}.sql"));
    let mut text = format!("-- Outpost local store, schema version {version}: {name}.\n");
    let summary = if empty {
        text.push_str("-- Never edit this file once it has been applied anywhere; add a new one.\n\n");
        Vec::new()
    } else {
        let plan = generate(&migrations, declared)?;
        if plan.is_empty() {
            return Ok(NewMigration { path: None, summary: Vec::new() });
        }
        text.push_str(
            "-- Written by `outpost migrate new` from schema.sql; review it before committing.\n\
             -- Never edit this file once it has been applied anywhere; add a new one.\n\n",
        );
        text.push_str(&plan.sql());
        plan.summary
    };
    // create_new: never overwrite a migration someone just wrote.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(NewMigration { path: Some(path), summary })
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
    fn the_migrations_make_the_declared_schema() {
        assert_eq!(check_declared().expect("check"), vec![]);
    }

    #[test]
    fn foreign_keys_are_back_on_after_migrating() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "foreign_keys", true).expect("fk on");
        migrate_up(&mut conn, &path).expect("migrate");
        let on: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).expect("pragma");
        assert!(on);
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
    fn empty_migration_takes_next_number_and_names_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("0001_init.sql"), "").expect("write");
        std::fs::write(dir.path().join("0002_more.sql"), "").expect("write");
        let made = new_migration(dir.path(), schema::DECLARED, "add_trash", true).expect("new");
        let p = made.path.expect("written");
        assert!(p.ends_with("0003_add_trash.sql"), "{}", p.display());
        assert!(new_migration(dir.path(), schema::DECLARED, "Bad Name", true).is_err());
        std::fs::write(dir.path().join("0005_gap.sql"), "").expect("write");
        let err = new_migration(dir.path(), schema::DECLARED, "x", true).expect_err("gap");
        assert!(err.to_string().contains("without gaps"), "{err}");
    }
}
