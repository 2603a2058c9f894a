use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use outpost_core::store::{self, migrate};

use super::fmt_time;

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Applied and pending migrations of the store
    Status,
    /// Apply pending migrations (backs the store up first)
    Up,
    /// Create the next migration file in the source tree
    New {
        name: String,
        /// The migrations folder
        #[arg(long, default_value = "crates/core/migrations")]
        dir: PathBuf,
    },
    /// Compare the store's schema with what its migrations produce
    Check,
}

pub fn run(dir: &Path, cmd: MigrateCmd) -> anyhow::Result<()> {
    if let MigrateCmd::New { name, dir: mdir } = cmd {
        let path = migrate::new_migration_file(&mdir, &name)?;
        println!("created {}; it is embedded on the next build", path.display());
        return Ok(());
    }
    let path = store::db_path(dir);
    if !path.exists() {
        anyhow::bail!("no Outpost store in {}", dir.display());
    }
    let mut conn = store::connect(&path)?;
    match cmd {
        MigrateCmd::Status => {
            let s = migrate::status(&conn)?;
            println!("schema version {} (this build: {})", s.current, s.latest);
            for a in &s.applied {
                println!("  applied  {:04} {}  at {}", a.version, a.name, fmt_time(a.applied_at));
            }
            for (v, n) in &s.pending {
                println!("  pending  {v:04} {n}");
            }
            if s.current > s.latest {
                return Err(outpost_core::Error::SchemaTooNew { found: s.current, known: s.latest }.into());
            }
        }
        MigrateCmd::Up => match migrate::migrate_up(&mut conn, &path).context("migrating")? {
            Some(backup) => {
                println!("migrated to version {}; backup at {}", migrate::latest_version(), backup.display())
            }
            None => println!("up to date (version {})", migrate::status(&conn)?.current),
        },
        MigrateCmd::Check => {
            let drift = migrate::check(&conn)?;
            if drift.is_empty() {
                println!("no drift: the schema matches migrations 1..{}", migrate::status(&conn)?.current);
            } else {
                for d in &drift {
                    println!("drift: {d}");
                }
                anyhow::bail!("{} schema differences found", drift.len());
            }
        }
        MigrateCmd::New { .. } => {}
    }
    Ok(())
}
