//! `outpost net`: the testers' network switch. It writes the control file
//! in the data directory (`network.json`), which a running app or engine
//! watches and applies within a second. It needs no key and no store, only
//! the directory, so it works while the app holds the store open, and
//! before the store exists.

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};
use outpost_core::net::{self, NetMode, CONTROL_FILE, MAX_LATENCY_MS};

#[derive(Debug, Subcommand)]
pub enum NetCmd {
    /// Use the real network again (no simulated faults)
    Online,
    /// Send nothing: every request fails at once and changes stay queued
    Offline,
    /// Simulate a bad network: drop a share of requests, delay every one
    Flaky(FlakyArgs),
    /// Show the network mode set for this data directory
    Show {
        /// Print the mode as JSON (the control file's form)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct FlakyArgs {
    /// Probability that a request is lost, 0 to 1 (0.3 or 30%). A lost
    /// request either never reaches the server or loses its answer.
    #[arg(long, value_name = "P", default_value = "0", value_parser = parse_drop, allow_hyphen_values = true)]
    drop: f64,
    /// Milliseconds added to every request, 0 to 60000
    #[arg(long, value_name = "MS", default_value = "0", value_parser = parse_latency, allow_hyphen_values = true)]
    latency: u64,
}

pub fn run(dir: &Path, cmd: NetCmd) -> anyhow::Result<()> {
    let mode = match cmd {
        NetCmd::Show { json } => return show(dir, json),
        NetCmd::Online => NetMode::Online,
        NetCmd::Offline => NetMode::Offline,
        NetCmd::Flaky(a) => NetMode::Flaky { drop: a.drop, latency_ms: a.latency },
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    net::write_control(dir, &mode)?;
    println!("network set to {}", mode.describe());
    println!("(in {}; a running Outpost applies it within a second)", dir.join(CONTROL_FILE).display());
    Ok(())
}

fn show(dir: &Path, json: bool) -> anyhow::Result<()> {
    let mode = net::read_control(dir)?;
    if json {
        println!("{}", serde_json::to_string(&mode)?);
        return Ok(());
    }
    println!("network: {}", mode.describe());
    if !dir.join(CONTROL_FILE).exists() {
        println!("(no {CONTROL_FILE} in {}: the default)", dir.display());
    }
    Ok(())
}

/// `0.3`, `1`, or `30%`.
fn parse_drop(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(p) => (p.trim_end(), 100.0),
        None => (t, 1.0),
    };
    let p =
        number.parse::<f64>().map_err(|_| format!("{s:?} is not a number; give a probability such as 0.3 or 30%"))?
            / scale;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("the drop probability must be between 0 and 1 (0% to 100%), not {s}"));
    }
    Ok(p)
}

fn parse_latency(s: &str) -> Result<u64, String> {
    let ms = s.trim().parse::<i128>().map_err(|_| format!("{s:?} is not a whole number of milliseconds"))?;
    if ms < 0 {
        return Err(format!("latency cannot be negative ({ms} ms); give 0 to {MAX_LATENCY_MS}"));
    }
    u64::try_from(ms)
        .ok()
        .filter(|&ms| ms <= MAX_LATENCY_MS)
        .ok_or_else(|| format!("latency must be at most {MAX_LATENCY_MS} ms (one minute), not {ms}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_drop() {
        assert_eq!(parse_drop("0.3"), Ok(0.3));
        assert_eq!(parse_drop("30%"), Ok(0.3));
        assert_eq!(parse_drop(" 1 "), Ok(1.0));
        assert_eq!(parse_drop("0"), Ok(0.0));
        for bad in ["2.0", "-0.1", "101%", "NaN", "inf", "lots", ""] {
            assert!(parse_drop(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_latency() {
        assert_eq!(parse_latency("0"), Ok(0));
        assert_eq!(parse_latency("60000"), Ok(60_000));
        for bad in ["-5", "60001", "1.5", "99999999999999999999999", "soon"] {
            assert!(parse_latency(bad).is_err(), "{bad}");
        }
        assert!(parse_latency("-5").expect_err("negative").contains("negative"));
    }
}
