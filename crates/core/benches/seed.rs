//! Seeding: `seed::seed` of `OUTPOST_BENCH_NOTES` (10,000) notes of ~2 KB
//! (what `outpost seed --notes 10000 --size 2048` does, less the progress
//! bar) into a fresh store, wall time, `OUTPOST_BENCH_RUNS` (5) runs.
//!
//! `cargo bench -p outpost-core --bench seed`

mod common;

use std::time::Instant;

use common::*;

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 10_000);
    let runs = env_usize("OUTPOST_BENCH_RUNS", 5);
    print_context();
    let mut open = Vec::new();
    let mut seeding = Vec::new();
    let mut edits = 0;
    for _ in 0..runs {
        let dir = bench_dir("outpost-bench-seed-");
        let t = Instant::now();
        let mut vault = open_vault(dir.path());
        open.push(t.elapsed());
        let t = Instant::now();
        edits =
            outpost_core::seed::seed(&mut vault, outpost_core::seed::SeedSpec { notes, size: 2048, seed: 1 }, |_| {})
                .expect("seed");
        seeding.push(t.elapsed());
    }
    // Profiling: the same number of ~2 KB notes created in batches of 500
    // (as the seeder batches) but without edit histories, which make up
    // most of the seeder's writes.
    let mut plain = Vec::new();
    for _ in 0..runs {
        let dir = bench_dir("outpost-bench-seed-");
        let mut vault = open_vault(dir.path());
        let drafts = drafts(notes, 2048, 31);
        let t = Instant::now();
        let mut drafts = drafts.into_iter().peekable();
        while drafts.peek().is_some() {
            let chunk: Vec<_> = drafts.by_ref().take(500).collect();
            vault
                .batch(|w| {
                    for d in chunk {
                        w.create(d)?;
                    }
                    Ok(())
                })
                .expect("create a batch");
        }
        plain.push(t.elapsed());
    }
    let seeding = Stats::of(&seeding);
    header(&format!("Seeding {notes} notes of ~2 KB into a fresh store ({edits} edits on top), {runs} runs"));
    row("Vault::open of a new store (migrations, key)", &Stats::of(&open));
    row(&format!("seed::seed, {notes} notes"), &seeding);
    row(&format!("profile: {notes} creates, no edits, batches of 500"), &Stats::of(&plain));
    println!();
    let verdict = if seeding.p50.as_secs_f64() < 3.0 { "met" } else { "MISSED" };
    println!("target: seed < 3 s: median {:.2} s, {verdict}", seeding.p50.as_secs_f64());
}
