//! The deterministic simulation (DESIGN.md, "Tests, in layers" 5): five
//! devices of one user and a server in this process, random steps under a
//! faulty network, crashes and skewed clocks, then healing and the checks
//! of `outpost_sim::simulation`.
//!
//! - `OUTPOST_SIM_SEEDS` (default 1000): seeds to run; `OUTPOST_SIM_START`
//!   (default 0): the first one.
//! - `OUTPOST_SIM_OPS` (default 300): most steps in one run.
//! - `OUTPOST_SIM_THREADS` (default: the CPUs): runs side by side.
//! - `OUTPOST_SIM_FAULTS` (e.g. `0.1`): the chance of each kind of network
//!   fault per request, instead of the default few percent.
//! - A failure prints its seed and how to replay it:
//!   `OUTPOST_SIM_SEED=N cargo test -p outpost-sim --test simulation replay -- --ignored --nocapture`
//!   (`OUTPOST_SIM_TRACE=1` prints every step as it runs).
//!
//! Seeds that fail and are fixed stay below as named tests. None has failed
//! yet: besides these 1,000, seeds 1,000 to 4,000, 1,500 seeds with 15% of
//! each fault, and 350 seeds of 1,000 to 1,500 steps were run by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use outpost_sim::simulation::{run_seed, SimConfig, SimFailure, SimStats};
use outpost_sim::{FaultRates, InProcessServer};

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// Run seeds `start..start + count` on `threads` threads, each with its own
/// server; returns the summed stats and the failures.
fn run_seeds(start: u64, count: u64, config: &SimConfig, threads: usize) -> (SimStats, Vec<SimFailure>) {
    let next = AtomicU64::new(start);
    let total = Mutex::new(SimStats::default());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let rt = runtime();
                let server = rt.block_on(InProcessServer::open()).expect("an in-process server");
                loop {
                    let seed = next.fetch_add(1, Ordering::SeqCst);
                    if seed >= start + count || failures.lock().expect("lock").len() >= 3 {
                        break;
                    }
                    match rt.block_on(run_seed(&server, seed, config)) {
                        Ok(stats) => total.lock().expect("lock").add(&stats),
                        Err(f) => failures.lock().expect("lock").push(f),
                    }
                }
            });
        }
    });
    (total.into_inner().expect("lock"), failures.into_inner().expect("lock"))
}

fn config_from_env(max_ops: usize) -> SimConfig {
    let mut config = SimConfig { max_ops, ..SimConfig::default() };
    if let Ok(v) = std::env::var("OUTPOST_SIM_FAULTS") {
        let p: f64 = v.trim().parse().unwrap_or_else(|_| panic!("OUTPOST_SIM_FAULTS={v:?} is not a number"));
        assert!((0.0..=0.25).contains(&p), "OUTPOST_SIM_FAULTS is a chance per fault kind, 0 to 0.25");
        config.rates = FaultRates { drop_request: p, drop_answer: p, duplicate: p, hold: p };
    }
    config
}

fn assert_passes(seed: u64, max_ops: usize) -> SimStats {
    let config = config_from_env(max_ops);
    let rt = runtime();
    let server = rt.block_on(InProcessServer::open()).expect("an in-process server");
    rt.block_on(run_seed(&server, seed, &config)).unwrap_or_else(|f| panic!("{f}"))
}

#[test]
fn many_seeds_converge_and_lose_nothing() {
    let start = env_u64("OUTPOST_SIM_START", 0);
    let count = env_u64("OUTPOST_SIM_SEEDS", 1000);
    let max_ops = env_u64("OUTPOST_SIM_OPS", 300) as usize;
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let threads = env_u64("OUTPOST_SIM_THREADS", cpus).max(1) as usize;
    let config = config_from_env(max_ops);
    let began = Instant::now();
    let (stats, failures) = run_seeds(start, count, &config, threads);
    let took = began.elapsed();
    eprintln!(
        "simulation: {} seeds ({start}..{}) of up to {max_ops} steps on {threads} threads in {:.1} s",
        stats.runs,
        start + count,
        took.as_secs_f64()
    );
    eprintln!("{}", serde_json::to_string_pretty(&stats).expect("stats as JSON"));
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        panic!("{} seed(s) failed: {:?}", failures.len(), failures.iter().map(|f| f.seed).collect::<Vec<_>>());
    }
    assert_eq!(stats.runs, count);
    // The runs must have met what the checks are about; a simulation that
    // never conflicts or crashes proves nothing.
    if count >= 200 {
        for (what, n) in [
            ("merges", stats.merged),
            ("conflicts opened", stats.conflicts_opened),
            ("conflicts settled", stats.conflicts_settled),
            ("deleted notes restored by an edit", stats.restored),
            ("crashes after a push", stats.crashes_after_push),
            ("answers lost after commit", stats.dropped_answers),
            ("duplicate requests", stats.duplicated_requests),
            ("duplicates acknowledged", stats.duplicates_acknowledged),
            ("held requests delivered late", stats.held_released),
            ("mass deletes held", stats.mass_delete_holds),
            ("notes moved to the trash", stats.trashed),
            ("notes back from the trash", stats.untrashed),
            ("versions restored", stats.versions_restored),
            ("trash emptied", stats.trash_emptied),
        ] {
            assert!(n > 0, "no {what} in {count} runs: the simulation no longer exercises them");
        }
    }
}

#[test]
#[ignore = "manual: replays one seed: OUTPOST_SIM_SEED=N cargo test -p outpost-sim --test simulation replay -- --ignored"]
fn replay() {
    let seed = env_u64("OUTPOST_SIM_SEED", u64::MAX);
    assert_ne!(seed, u64::MAX, "set OUTPOST_SIM_SEED to the seed to replay");
    let stats = assert_passes(seed, env_u64("OUTPOST_SIM_OPS", 300) as usize);
    eprintln!("{}", serde_json::to_string_pretty(&stats).expect("stats as JSON"));
}
