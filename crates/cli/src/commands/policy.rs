//! `outpost policy`: the user's sync policy settings (sync on metered
//! networks, pause on low battery), kept in the store. `outpost sync
//! --watch` and the app read them when their engine starts; the app's
//! Settings change them live. The situation they apply to comes from the
//! OS, or from `outpost net metered|power|app` for testers.

use std::path::Path;

use clap::{Args, ValueEnum};
use outpost_core::policy::{MeteredUse, PolicySettings};

use crate::unlock::open_vault;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Sync on metered networks (mobile data): always, small (notes only;
    /// large work waits for Wi-Fi) or never
    #[arg(long, value_enum)]
    metered: Option<MeteredArg>,
    /// On low battery: pause (changes wait for charging) or sync
    #[arg(long, value_enum)]
    low_battery: Option<LowBattery>,
    /// Print the settings as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MeteredArg {
    Always,
    Small,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LowBattery {
    Pause,
    Sync,
}

pub fn run(dir: &Path, args: PolicyArgs) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let mut policy = vault.sync_policy()?;
    let changed = args.metered.is_some() || args.low_battery.is_some();
    if let Some(m) = args.metered {
        policy.metered = match m {
            MeteredArg::Always => MeteredUse::Always,
            MeteredArg::Small => MeteredUse::SmallChangesOnly,
            MeteredArg::Never => MeteredUse::Never,
        };
    }
    if let Some(l) = args.low_battery {
        policy.pause_on_low_battery = matches!(l, LowBattery::Pause);
    }
    if changed {
        vault.set_sync_policy(&policy)?;
    }
    if args.json {
        out!("{}", serde_json::to_string(&policy)?);
    } else {
        out!("{}", describe(&policy));
        if changed {
            out!("(saved; a running `outpost sync --watch` applies it when it starts again)");
        }
    }
    Ok(())
}

fn describe(p: &PolicySettings) -> String {
    let metered = match p.metered {
        MeteredUse::Always => "everything syncs",
        MeteredUse::SmallChangesOnly => "notes sync, large work waits for Wi-Fi",
        MeteredUse::Never => "nothing syncs until Wi-Fi",
    };
    let battery = if p.pause_on_low_battery { "sync pauses" } else { "sync goes on" };
    format!("on metered networks: {metered}; on low battery: {battery}")
}
