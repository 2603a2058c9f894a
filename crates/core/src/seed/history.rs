//! Sync passes for the monitor's history (`outpost status --history`), as
//! a device that syncs through a week of ordinary use leaves them: mostly
//! passes that went through, woken by local changes, pokes and the timer;
//! some that failed (the server out of reach, slow or down, a session
//! expired), often followed by retries; a few not run while switched
//! offline or on a metered network.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::Result;
use crate::monitor::{self, Outcome, PassRecord, Trigger, BYTES_DAYS};
use crate::vault::Vault;

const DAY_MS: i64 = 86_400_000;

/// Record `n` passes drawn from `seed`, started over the [`BYTES_DAYS`]
/// days before `now`, oldest first. Returns how many were recorded.
pub(super) fn record(vault: &mut Vault, seed: u64, n: usize, now: i64) -> Result<usize> {
    for rec in passes(seed, n, now) {
        monitor::record(vault.connection(), &rec, now)?;
    }
    Ok(n)
}

/// The passes, oldest first.
fn passes(seed: u64, n: usize, now: i64) -> Vec<PassRecord> {
    let mut rng = StdRng::seed_from_u64(seed);
    let span = BYTES_DAYS as i64 * DAY_MS;
    let mut starts: Vec<i64> = (0..n).map(|_| now - rng.gen_range(1_000..span)).collect();
    starts.sort_unstable();
    let mut after_failure = false;
    starts
        .into_iter()
        .map(|at| {
            let rec = pass(&mut rng, at, after_failure);
            after_failure = rec.outcome == Outcome::Failed;
            rec
        })
        .collect()
}

/// Pick from `(weight, value)` pairs.
fn weighted<T: Copy>(rng: &mut StdRng, table: &[(u32, T)]) -> T {
    let total: u32 = table.iter().map(|(w, _)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (w, v) in table {
        if roll < *w {
            return *v;
        }
        roll -= w;
    }
    table[table.len() - 1].1
}

/// Milliseconds spread evenly on a log scale between `lo` and `hi`: most
/// passes are quick, a few slow.
fn log_ms(rng: &mut StdRng, lo: f64, hi: f64) -> u64 {
    rng.gen_range(lo.ln()..hi.ln()).exp().round() as u64
}

fn pass(rng: &mut StdRng, started_at: i64, after_failure: bool) -> PassRecord {
    let trigger = if after_failure && rng.gen_bool(0.6) {
        weighted(rng, &[(3, Trigger::Retry), (1, Trigger::NetworkBack)])
    } else {
        weighted(
            rng,
            &[
                (40, Trigger::LocalChange),
                (20, Trigger::Poke),
                (20, Trigger::Timer),
                (5, Trigger::NetworkBack),
                (8, Trigger::SyncNow),
                (4, Trigger::Retry),
                (3, Trigger::Start),
            ],
        )
    };
    let outcome = weighted(rng, &[(80, Outcome::Ok), (13, Outcome::Failed), (7, Outcome::Deferred)]);
    match outcome {
        Outcome::Ok => {
            let pushed = match trigger {
                Trigger::LocalChange => rng.gen_range(1..6),
                Trigger::Start | Trigger::NetworkBack | Trigger::Retry => rng.gen_range(0..15),
                _ => u64::from(rng.gen_bool(0.1)),
            };
            let pulled = match trigger {
                Trigger::Poke => rng.gen_range(1..9),
                Trigger::Start | Trigger::NetworkBack => rng.gen_range(0..40),
                _ => u64::from(rng.gen_bool(0.2)) * rng.gen_range(1..4),
            };
            // Requests and answers carry a few hundred bytes of framing;
            // each change a sealed note of one to a few kilobytes.
            let per_change = |rng: &mut StdRng| rng.gen_range(600..6_000);
            let bytes_sent = rng.gen_range(250..450) + (0..pushed).map(|_| per_change(rng)).sum::<u64>();
            let bytes_received = rng.gen_range(150..350) + (0..pulled).map(|_| per_change(rng)).sum::<u64>();
            PassRecord {
                started_at,
                duration_ms: log_ms(rng, 40.0, 2_500.0) + 30 * (pushed + pulled),
                trigger,
                pushed,
                pulled,
                bytes_sent,
                bytes_received,
                outcome,
                error_code: None,
                reason: None,
            }
        }
        Outcome::Failed => {
            let code = weighted(
                rng,
                &[(45, "unreachable"), (20, "timeout"), (12, "unavailable"), (10, "internal"), (8, "unauthorized")],
            );
            let (duration_ms, bytes_sent, bytes_received) = match code {
                // Refused at once, or no route: nothing crossed.
                "unreachable" => (log_ms(rng, 3.0, 20_000.0), 0, 0),
                "timeout" => (rng.gen_range(29_000..31_000), rng.gen_range(300..2_000), 0),
                _ => (log_ms(rng, 20.0, 800.0), rng.gen_range(250..900), rng.gen_range(120..300)),
            };
            PassRecord {
                started_at,
                duration_ms,
                trigger,
                pushed: 0,
                pulled: 0,
                bytes_sent,
                bytes_received,
                outcome,
                error_code: Some(code.to_owned()),
                reason: None,
            }
        }
        Outcome::Deferred => {
            // Worded as the engine words them (`policy::Deferral::describe`).
            let waiting = match rng.gen_range(1..8) {
                1 => "1 change waits".to_owned(),
                n => format!("{n} changes wait"),
            };
            let reason = match weighted(rng, &[(3, 0), (2, 1), (1, 2)]) {
                0 => "switched offline".to_owned(),
                1 => format!("on a metered network: {waiting} for Wi-Fi"),
                _ => format!("low battery: {waiting} for charging"),
            };
            PassRecord::deferred(trigger, started_at, reason)
        }
    }
}
