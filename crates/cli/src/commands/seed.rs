use std::path::Path;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outpost_core::seed::{seed, SeedSpec};

use crate::unlock::open_vault;

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// How many notes
    #[arg(long, default_value_t = 1000)]
    notes: usize,
    /// Typical body size in bytes (bodies range from a quarter to twice this)
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Random seed: the same seed gives the same notes
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(dir: &Path, args: SeedArgs) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let bar = ProgressBar::new(args.notes as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} seeding [{bar:30}] {pos}/{len} notes ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let start = Instant::now();
    let edits = seed(&mut vault, SeedSpec { notes: args.notes, size: args.size, seed: args.seed }, |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    println!("seeded {} notes ({} extra edits, coalesced in the outbox) in {:.2?}", args.notes, edits, start.elapsed());
    Ok(())
}
