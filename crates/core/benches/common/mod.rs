//! What the engine's bench targets share: where the stores go, realistic
//! note content, percentiles and the plain table they print.
//!
//! Every bench target includes this module and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use outpost_core::keys::MemoryStore;
use outpost_core::seed::{self, SeedSpec};
use outpost_core::{NoteDraft, Vault};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Stores live on the real disk (fsync cost is what the save bench
/// measures): in cargo's per-target temp dir, or in `OUTPOST_BENCH_DIR`.
pub fn bench_dir(label: &str) -> tempfile::TempDir {
    let parent = std::env::var_os("OUTPOST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&parent).expect("create the bench directory");
    tempfile::Builder::new().prefix(label).tempdir_in(&parent).expect("make a temp dir for the store")
}

/// A number from the environment, so quick runs can shrink a bench.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A vault with an in-memory key in data directory `dir`.
pub fn open_vault(dir: &std::path::Path) -> Vault {
    Vault::open(dir, &MemoryStore::new()).expect("open the vault")
}

/// Fill `vault` with `notes` seeded notes of about `size` bytes (the CLI's
/// `outpost seed`); returns how long it took.
pub fn seed_notes(vault: &mut Vault, notes: usize, size: usize) -> Duration {
    let t = Instant::now();
    seed::seed(vault, SeedSpec { notes, size, seed: 1 }, |_| {}).expect("seed the store");
    t.elapsed()
}

/// Markdown bodies of about `size` bytes, made before any timing starts.
pub fn bodies(n: usize, size: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| seed::body(&mut rng, size)).collect()
}

/// New notes of about `size` bytes with a short title and a tag or two.
pub fn drafts(n: usize, size: usize, seed: u64) -> Vec<NoteDraft> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    bodies(n, size, seed)
        .into_iter()
        .enumerate()
        .map(|(i, body)| NoteDraft {
            title: format!("Bench note {i}: weekly review of the garden project"),
            body,
            tags: ["work", "ideas", "todo"][..rng.gen_range(1..=2)].iter().map(|s| (*s).to_owned()).collect(),
            pinned: false,
        })
        .collect()
}

/// Order statistics of a set of timings (nearest rank).
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl Stats {
    pub fn of(samples: &[Duration]) -> Self {
        assert!(!samples.is_empty(), "no samples");
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        let total: Duration = s.iter().sum();
        Self {
            n: s.len(),
            min: s[0],
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: s[s.len() - 1],
            mean: total / s.len() as u32,
        }
    }
}

/// Time `f` once per item.
pub fn time_each<T>(items: impl IntoIterator<Item = T>, mut f: impl FnMut(T)) -> Vec<Duration> {
    items
        .into_iter()
        .map(|item| {
            let t = Instant::now();
            f(item);
            t.elapsed()
        })
        .collect()
}

/// Milliseconds with three decimals: the unit of every table.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Print the header of a latency table in milliseconds.
pub fn header(title: &str) {
    table_header(title, "ms");
}

/// Print the header of a latency table in microseconds.
pub fn header_us(title: &str) {
    table_header(title, "µs");
}

fn table_header(title: &str, unit: &str) {
    println!();
    println!("## {title}");
    println!();
    let c = |q: &str| format!("{q} {unit}");
    println!(
        "| {:<50} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        "case",
        "n",
        c("min"),
        c("p50"),
        c("p90"),
        c("p99"),
        c("max"),
        c("mean")
    );
    println!("|{:-<52}|{:->8}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|", "", "", "", "", "", "", "", "");
}

/// One row of a latency table in milliseconds.
pub fn row(case: &str, s: &Stats) {
    table_row(case, s, ms);
}

/// One row of a latency table in microseconds.
pub fn row_us(case: &str, s: &Stats) {
    table_row(case, s, |d| format!("{:.2}", d.as_secs_f64() * 1e6));
}

fn table_row(case: &str, s: &Stats, f: impl Fn(Duration) -> String) {
    println!(
        "| {:<50} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        case,
        s.n,
        f(s.min),
        f(s.p50),
        f(s.p90),
        f(s.p99),
        f(s.max),
        f(s.mean)
    );
}

/// What the machine was doing: benches on a shared box are noisy.
pub fn print_context() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
}

/// `OUTPOST_BENCH_CORPUS=real`: the notes are real prose
/// (`outpost_corpus`, the Python documentation split into notes) instead of
/// generated text; unset or `generated`: generated text.
pub fn real_corpus() -> bool {
    match std::env::var("OUTPOST_BENCH_CORPUS").as_deref() {
        Ok("real") => true,
        Ok("generated") | Ok("") | Err(_) => false,
        Ok(other) => panic!("OUTPOST_BENCH_CORPUS={other:?}: use \"real\" or \"generated\""),
    }
}

/// `n` notes of real prose: the corpus's first `n` when it holds that many,
/// else the corpus gone round as often as needed (`outpost_corpus::scaled`:
/// 100,000 notes repeat each of its ~11,000 notes about nine times, which
/// flatters any index that stores a word once). Prints what was used.
pub fn real_notes(n: usize) -> Vec<outpost_corpus::Note> {
    let all = outpost_corpus::load(1).unwrap_or_else(|e| panic!("{e}"));
    let notes = if n <= all.len() { all[..n].to_vec() } else { outpost_corpus::scaled(&all, n) };
    println!(
        "corpus: real prose, {} (from {} distinct notes, each used {:.1} times on average)",
        outpost_corpus::stats(&notes),
        all.len(),
        n as f64 / all.len() as f64
    );
    notes
}

/// Write `notes` as JSON Lines (what `transfer::import` reads).
pub fn write_jsonl<T: serde::Serialize>(path: &std::path::Path, notes: impl IntoIterator<Item = T>) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create the file"));
    for n in notes {
        serde_json::to_writer(&mut f, &n).expect("write a line");
        f.write_all(b"\n").expect("write a line");
    }
    f.flush().expect("flush");
}
