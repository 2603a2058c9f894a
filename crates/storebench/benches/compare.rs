//! sqlx against rusqlite on the engine's schema (see the crate docs).
//!
//! Save path: `OUTPOST_BENCH_N` (2,000) durable saves per case and crate on
//! a store that already holds `OUTPOST_BENCH_NOTES` (100,000) notes, each
//! with a pending outbox entry; "create" saves a new note (row insert,
//! outbox insert), "update" a random existing one (row update, outbox entry
//! coalesced). The two crates write to two identical copies and take turns
//! op by op, so background load hits both alike.
//!
//! List path: ids and sealed titles of a 10,000-note store in list order,
//! `OUTPOST_BENCH_RUNS` (50) runs per crate, taking turns.
//!
//! `cargo bench -p outpost-storebench`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use outpost_storebench::rusqlite_store::RusqliteStore;
use outpost_storebench::sqlx_store::SqlxStore;
use outpost_storebench::{build, Gen, Save};

/// Untimed saves and lists before each case.
const WARMUP: usize = 20;
const LIST_NOTES: usize = 10_000;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Order statistics, nearest rank.
struct Stats {
    n: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
}

impl Stats {
    fn of(samples: &[Duration]) -> Self {
        let mut s = samples.to_vec();
        s.sort_unstable();
        let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        Self {
            n: s.len(),
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: s[s.len() - 1],
            mean: s.iter().sum::<Duration>() / s.len() as u32,
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn row(case: &str, s: &Stats) {
    println!(
        "| {:<36} | {:>5} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        case,
        s.n,
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
        ms(s.mean)
    );
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// p50 of `a` relative to `b`, as "a is x% slower/faster".
fn compare(what: &str, a_name: &str, a: &Stats, b_name: &str, b: &Stats) {
    for (q, x, y) in [("p50", a.p50, b.p50), ("p99", a.p99, b.p99)] {
        let r = x.as_secs_f64() / y.as_secs_f64();
        let (winner, factor) = if r > 1.0 { (b_name, r) } else { (a_name, 1.0 / r) };
        println!(
            "{what} {q}: {a_name} {} ms, {b_name} {} ms: {winner} wins by {:.0}%",
            ms(x),
            ms(y),
            (factor - 1.0) * 100.0
        );
    }
}

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 100_000);
    let n = env_usize("OUTPOST_BENCH_N", 2_000);
    let runs = env_usize("OUTPOST_BENCH_RUNS", 50);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));

    let parent = std::env::var_os("OUTPOST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&parent).expect("create the bench directory");
    let dir = tempfile::Builder::new().prefix("outpost-storebench-").tempdir_in(&parent).expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");

    // Two identical stores for the save path, one for the list path.
    let t = Instant::now();
    let (rs_path, sx_path, list_path) =
        (dir.path().join("rusqlite.db"), dir.path().join("sqlx.db"), dir.path().join("list.db"));
    let ids = build(&rs_path, notes, 1).expect("build the rusqlite store");
    let ids2 = build(&sx_path, notes, 1).expect("build the sqlx store");
    assert_eq!(ids.len(), ids2.len());
    build(&list_path, LIST_NOTES, 2).expect("build the list store");
    println!("stores: 2 x {notes} notes and 1 x {LIST_NOTES} built in {:.1} s (untimed)", t.elapsed().as_secs_f64());

    let mut rs = RusqliteStore::open(&rs_path).expect("open with rusqlite");
    let mut sx = rt.block_on(SqlxStore::open(&sx_path)).expect("open with sqlx");

    // The same saves for both; creates use new v7 ids, updates pick
    // random existing notes (the two stores hold the same ids).
    let mut gen = Gen::new(9);
    let creates: Vec<Save> = (0..WARMUP + n).map(|_| gen.save(None)).collect();
    let updates: Vec<Save> = (0..WARMUP + n)
        .map(|_| {
            let i = gen.pick(ids.len());
            gen.save(Some(ids[i]))
        })
        .collect();

    let mut results = Vec::new();
    for (case, saves) in [("create", &creates), ("update", &updates)] {
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (i, s) in saves.iter().enumerate() {
            let ta = timed(|| rs.save(s).expect("rusqlite save"));
            let tb = timed(|| rt.block_on(sx.save(s)).expect("sqlx save"));
            if i >= WARMUP {
                a.push(ta);
                b.push(tb);
            }
        }
        results.push((case, Stats::of(&a), Stats::of(&b)));
    }
    drop(rs);
    drop(sx);

    let rs = RusqliteStore::open(&list_path).expect("open the list store with rusqlite");
    let mut sx = rt.block_on(SqlxStore::open(&list_path)).expect("open the list store with sqlx");
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    for i in 0..WARMUP.min(5) + runs {
        let mut got = (0, 0);
        let ta = timed(|| got.0 = rs.list().expect("rusqlite list").len());
        let tb = timed(|| got.1 = rt.block_on(sx.list()).expect("sqlx list").len());
        assert_eq!(got, (LIST_NOTES, LIST_NOTES), "both list every note");
        if i >= WARMUP.min(5) {
            la.push(ta);
            lb.push(tb);
        }
    }
    let (la, lb) = (Stats::of(&la), Stats::of(&lb));

    println!();
    println!("## sqlx 0.8 vs rusqlite 0.32: save on a {notes}-note store, list of {LIST_NOTES}");
    println!();
    println!(
        "| {:<36} | {:>5} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} |",
        "case", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"
    );
    println!("|{:-<38}|{:->7}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|", "", "", "", "", "", "", "");
    for (case, a, b) in &results {
        row(&format!("save ({case}), rusqlite"), a);
        row(&format!("save ({case}), sqlx"), b);
    }
    row(&format!("list {LIST_NOTES} titles, rusqlite"), &la);
    row(&format!("list {LIST_NOTES} titles, sqlx"), &lb);
    println!();
    for (case, a, b) in &results {
        compare(&format!("save ({case})"), "rusqlite", a, "sqlx", b);
    }
    compare("list", "rusqlite", &la, "sqlx", &lb);
}
