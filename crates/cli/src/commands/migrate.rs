use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use outpost_core::store::{self, migrate, migrate::schema};

use super::fmt_time;

/// Where `migrate new` looks by default: the repository root.
const SOURCE_MIGRATIONS: &str = "crates/core/migrations";
const SOURCE_SCHEMA: &str = "crates/core/schema.sql";

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Applied and pending migrations of the store
    Status,
    /// Apply pending migrations (backs the store up first)
    Up,
    /// Write the next migration: the SQL from what the migrations make to schema.sql
    New {
        name: String,
        /// The migrations folder
        #[arg(long, default_value = SOURCE_MIGRATIONS)]
        dir: PathBuf,
        /// The declared schema [default: the schema.sql this binary was built with]
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Write an empty migration to fill in by hand, whatever the difference
        #[arg(long)]
        empty: bool,
    },
    /// Report drift: the store against its migrations, the migrations against schema.sql
    Check {
        /// Check this migrations folder against the declared schema, instead of the built-in migrations
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Check against this declared schema instead of the built-in schema.sql
        #[arg(long)]
        schema: Option<PathBuf>,
    },
}

pub fn run(dir: &Path, cmd: MigrateCmd) -> anyhow::Result<()> {
    match cmd {
        MigrateCmd::New { name, dir: mdir, schema, empty } => new(&name, &mdir, schema.as_deref(), empty),
        MigrateCmd::Check { dir: mdir, schema } => check(dir, mdir.as_deref(), schema.as_deref()),
        MigrateCmd::Status | MigrateCmd::Up => {
            let path = store::db_path(dir);
            if !path.exists() {
                anyhow::bail!("no Outpost store in {}", dir.display());
            }
            let mut conn = store::connect(&path)?;
            if let MigrateCmd::Status = cmd {
                let s = migrate::status(&conn)?;
                out!("schema version {} (this build: {})", s.current, s.latest);
                for a in &s.applied {
                    out!("  applied  {:04} {}  at {}", a.version, a.name, fmt_time(a.applied_at));
                }
                for (v, n) in &s.pending {
                    out!("  pending  {v:04} {n}");
                }
                if s.current > s.latest {
                    return Err(outpost_core::Error::SchemaTooNew { found: s.current, known: s.latest }.into());
                }
            } else {
                match migrate::migrate_up(&mut conn, &path).context("migrating")? {
                    Some(backup) => {
                        out!("migrated to version {}; backup at {}", migrate::latest_version(), backup.display())
                    }
                    None => out!("up to date (version {})", migrate::status(&conn)?.current),
                }
            }
            Ok(())
        }
    }
}

fn read_schema(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading the declared schema {}", path.display()))
}

/// The declared schema `migrate new` works from: `--schema`, else the one
/// built in. Run in the repository after editing schema.sql, a binary built
/// before the edit would write the migration for the old declaration, so
/// it refuses when the source tree's file is not the one it carries.
fn declared_for_new(schema_arg: Option<&Path>, mdir: &Path) -> anyhow::Result<String> {
    if let Some(path) = schema_arg {
        return read_schema(path);
    }
    let source = Path::new(SOURCE_SCHEMA);
    if mdir == Path::new(SOURCE_MIGRATIONS) && source.exists() && read_schema(source)? != schema::DECLARED {
        anyhow::bail!(
            "{SOURCE_SCHEMA} is not the schema this binary was built with; rebuild first \
             (`cargo run -p outpost-cli -- migrate new ...`) or pass --schema {SOURCE_SCHEMA}"
        );
    }
    Ok(schema::DECLARED.to_owned())
}

fn new(name: &str, mdir: &Path, schema_arg: Option<&Path>, empty: bool) -> anyhow::Result<()> {
    let declared = declared_for_new(schema_arg, mdir)?;
    let made = migrate::new_migration(mdir, &declared, name, empty)?;
    match made.path {
        None => out!(
            "no schema change: the migrations in {} already make the declared schema; nothing written \
             (pass --empty for a migration to write by hand)",
            mdir.display()
        ),
        Some(path) => {
            out!("created {}; review it, then rebuild: it is embedded on the next build", path.display());
            for line in &made.summary {
                out!("  {line}");
            }
        }
    }
    Ok(())
}

fn check(dir: &Path, mdir: Option<&Path>, schema_arg: Option<&Path>) -> anyhow::Result<()> {
    let declared = match schema_arg {
        Some(p) => read_schema(p)?,
        None => schema::DECLARED.to_owned(),
    };
    let migrations = match mdir {
        Some(d) => migrate::read_dir(d)?,
        None => migrate::embedded(),
    };
    let mut drift = Vec::new();
    let path = store::db_path(dir);
    if path.exists() {
        // The store is what this build wrote: it is held to the built-in
        // migrations whatever --dir says.
        let conn = store::connect(&path)?;
        let found = migrate::check(&conn)?;
        if found.is_empty() {
            out!("no drift: the store matches migrations 1..{}", migrate::status(&conn)?.current);
        }
        drift.extend(found);
    } else {
        out!("no Outpost store in {}: only the migrations are checked", dir.display());
    }
    let declared_drift = migrate::check_declared_with(&migrations, &declared)?;
    if declared_drift.is_empty() {
        out!("no drift: migrations 1..{} make the declared schema", migrations.last().map_or(0, |m| m.version));
    }
    let hint = !declared_drift.is_empty();
    drift.extend(declared_drift);
    for d in &drift {
        out!("drift: {d}");
    }
    if hint {
        out!("(to bring the migrations to schema.sql, run `outpost migrate new NAME` in the repository)");
    }
    if !drift.is_empty() {
        anyhow::bail!("{} schema differences found", drift.len());
    }
    Ok(())
}
