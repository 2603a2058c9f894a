//! Import: a JSON Lines file of `OUTPOST_BENCH_NOTES` (10,000) notes of
//! ~2 KB (about 21 MB, larger than the 14 MB export of issue 16) into a
//! fresh store with `transfer::import`, wall time and peak memory,
//! `OUTPOST_BENCH_RUNS` (5) runs; then the same file again into the
//! filled store (every note a duplicate: the cost of a re-run).
//!
//! `OUTPOST_BENCH_CORPUS=real`: the notes are real prose instead
//! (`outpost_corpus`: the first `OUTPOST_BENCH_NOTES` notes of the Python
//! documentation split into notes; `scripts/corpus-deps.sh` installs it).
//!
//! `cargo bench -p outpost-core --bench import`

mod common;

use std::time::Instant;

use common::*;
use outpost_core::transfer::{self, Format};

/// Peak resident memory since the last [`reset_peak`], in MiB (Linux).
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Start a new peak (Linux: `clear_refs` 5 resets VmHWM).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 10_000);
    let runs = env_usize("OUTPOST_BENCH_RUNS", 5);
    print_context();
    let src = bench_dir("outpost-bench-import-src-");
    let path = src.path().join("notes.jsonl");
    let real = real_corpus();
    if real {
        write_jsonl(&path, real_notes(notes));
    } else {
        write_jsonl(&path, drafts(notes, 2048, 11));
    }
    let what = if real { "real notes" } else { "notes of ~2 KB" };
    let size = std::fs::metadata(&path).expect("file").len();

    let mut fresh = Vec::new();
    let mut again = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..runs {
        let dir = bench_dir("outpost-bench-import-");
        let mut vault = open_vault(dir.path());
        reset_peak();
        let t = Instant::now();
        let s = transfer::import(&mut vault, &path, Some(Format::Jsonl), &mut |_| {}).expect("import");
        fresh.push(t.elapsed());
        peaks.extend(peak_mib());
        assert_eq!(s.imported as usize, notes, "every note imported");
        let t = Instant::now();
        let s = transfer::import(&mut vault, &path, Some(Format::Jsonl), &mut |_| {}).expect("import again");
        again.push(t.elapsed());
        assert_eq!(s.duplicates as usize, notes, "every note already there");
    }
    let fresh = Stats::of(&fresh);
    header(&format!("Import of {notes} {what} from JSON Lines ({:.1} MB), {runs} runs", size as f64 / 1e6));
    row(&format!("transfer::import into a fresh store, {notes} notes"), &fresh);
    row(&format!("the same file again ({notes} duplicates)"), &Stats::of(&again));
    println!();
    println!("notes per second (median): {:.0}", notes as f64 / fresh.p50.as_secs_f64());
    if let Some(max) = peaks.iter().copied().reduce(f64::max) {
        println!("peak resident memory during an import (process, max of runs): {max:.1} MiB");
    }
}
