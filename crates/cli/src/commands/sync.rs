use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use outpost_core::remote::Remote;

use crate::unlock::open_vault;

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[arg(long)]
    json: bool,
}

/// One full pass: push until the outbox has nothing due, pull until drained.
pub fn run(dir: &Path, args: SyncArgs) -> anyhow::Result<()> {
    let mut vault = open_vault(dir)?;
    let Some(account) = vault.account()? else {
        bail!("this store has no account: `outpost account register` or `outpost account login` first");
    };
    let Some(token) = vault.session_token()? else {
        bail!("logged out of {} on {}: `outpost account login` first", account.username, account.server);
    };
    let remote = Remote::new(&account.server)?.with_token(token);
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let report = rt.block_on(outpost_core::sync::sync_once(&mut vault, &remote))?;
    let status = vault.status()?;
    if args.json {
        println!("{}", serde_json::json!({ "report": report, "status": status }));
    } else {
        println!(
            "pushed {} ({} already there), pulled {}, in {} ms; {} B sent, {} B received",
            report.pushed,
            report.duplicates,
            report.pulled,
            report.elapsed_ms,
            report.bytes_sent,
            report.bytes_received
        );
        if status.pending > 0 || status.failed > 0 || status.open_conflicts > 0 {
            println!(
                "still here: {} pending, {} failed, {} conflicts (both versions kept; see `outpost status`)",
                status.pending, status.failed, status.open_conflicts
            );
        }
    }
    if report.rejected > 0 {
        bail!("the server rejected {} changes; they are marked failed and kept", report.rejected);
    }
    Ok(())
}
