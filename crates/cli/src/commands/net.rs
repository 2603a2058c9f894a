//! `outpost net`: the testers' network switch. It writes the control file
//! in the data directory (`network.json`), which a running app or engine
//! watches and applies within a second. `metered`, `power` and `app` set
//! the device's situation the sync policy sees (`device.json`, watched the
//! same way) over what the OS reports. It needs no key and no store, only
//! the directory, so it works while the app holds the store open, and
//! before the store exists.

use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};
use outpost_core::device::{self, DeviceOverrides, DEVICE_FILE};
use outpost_core::net::{self, NetMode, CONTROL_FILE, MAX_LATENCY_MS};
use outpost_core::policy::{AppState, Network, Power};

#[derive(Debug, Subcommand)]
pub enum NetCmd {
    /// Use the real network again (no simulated faults)
    Online,
    /// Send nothing: every request fails at once and changes stay queued
    Offline,
    /// Simulate a bad network: drop a share of requests, delay every one
    Flaky(FlakyArgs),
    /// Pretend the network is metered (mobile data) or not; `os` leaves it to the OS
    Metered {
        #[arg(value_enum)]
        state: Metered,
    },
    /// Pretend the device's power state; `os` leaves it to the OS
    Power {
        #[arg(value_enum)]
        state: PowerArg,
    },
    /// Pretend the app is in the foreground, in the background or suspended; `os` leaves it to the app
    App {
        #[arg(value_enum)]
        state: AppArg,
    },
    /// Show the network mode and device situation set for this data directory
    Show {
        /// Print the mode as JSON (the control file's form)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Metered {
    On,
    Off,
    Os,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PowerArg {
    Charging,
    Battery,
    Low,
    Saver,
    Os,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AppArg {
    Foreground,
    Background,
    Suspended,
    Os,
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
        NetCmd::Metered { state } => {
            let network = match state {
                Metered::On => Some(Network::Metered),
                Metered::Off => Some(Network::Unmetered),
                Metered::Os => None,
            };
            return set_device(dir, |o| o.network = network);
        }
        NetCmd::Power { state } => {
            let power = match state {
                PowerArg::Charging => Some(Power::Charging),
                PowerArg::Battery => Some(Power::Battery),
                PowerArg::Low => Some(Power::Low),
                PowerArg::Saver => Some(Power::Saver),
                PowerArg::Os => None,
            };
            return set_device(dir, |o| o.power = power);
        }
        NetCmd::App { state } => {
            let app = match state {
                AppArg::Foreground => Some(AppState::Foreground),
                AppArg::Background => Some(AppState::Background),
                AppArg::Suspended => Some(AppState::Suspended),
                AppArg::Os => None,
            };
            return set_device(dir, |o| o.app = app);
        }
        NetCmd::Online => NetMode::Online,
        NetCmd::Offline => NetMode::Offline,
        NetCmd::Flaky(a) => NetMode::Flaky { drop: a.drop, latency_ms: a.latency },
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    net::write_control(dir, &mode)?;
    out!("network set to {}", mode.describe());
    out!("(in {}; a running Outpost applies it within a second)", dir.join(CONTROL_FILE).display());
    Ok(())
}

/// Changes one field of the device file, keeping the others.
fn set_device(dir: &Path, change: impl FnOnce(&mut DeviceOverrides)) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let mut overrides = device::read_device(dir)?;
    change(&mut overrides);
    device::write_device(dir, &overrides)?;
    out!("device situation set to {}", describe_device(&overrides));
    out!("(in {}; a running Outpost applies it within a second)", dir.join(DEVICE_FILE).display());
    Ok(())
}

fn describe_device(o: &DeviceOverrides) -> String {
    let or_os = |v: Option<String>| v.unwrap_or_else(|| "as the OS says".to_owned());
    format!(
        "network {}, power {}, app {}",
        or_os(o.network.map(|n| format!("{n:?}").to_lowercase())),
        or_os(o.power.map(|p| format!("{p:?}").to_lowercase())),
        or_os(o.app.map(|a| format!("{a:?}").to_lowercase()))
    )
}

fn show(dir: &Path, json: bool) -> anyhow::Result<()> {
    let mode = net::read_control(dir)?;
    let overrides = device::read_device(dir)?;
    if json {
        let mut v = serde_json::to_value(&mode)?;
        // Only when a tester set something: the network mode's own form
        // otherwise, as before the device file existed.
        if !overrides.is_empty() {
            v["device"] = serde_json::to_value(overrides)?;
        }
        out!("{v}");
        return Ok(());
    }
    out!("network: {}", mode.describe());
    if !dir.join(CONTROL_FILE).exists() {
        out!("(no {CONTROL_FILE} in {}: the default)", dir.display());
    }
    out!("device: {}", describe_device(&overrides));
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
