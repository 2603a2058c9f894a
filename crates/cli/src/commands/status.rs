use std::path::Path;

use clap::Args;

use super::fmt_time;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

pub fn run(dir: &Path, args: StatusArgs) -> anyhow::Result<()> {
    let s = outpost_core::vault::peek_status(dir)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("store      {}", dir.display());
    println!("notes      {} ({} deleted)", s.notes, s.tombstones);
    println!(
        "outbox     {} pending, {} failed, {} edits coalesced{}",
        s.pending,
        s.failed,
        s.coalesced,
        s.oldest_pending_at.map(|t| format!(", oldest from {}", fmt_time(t))).unwrap_or_default()
    );
    println!("conflicts  {} open", s.open_conflicts);
    println!("server     {}", s.server.as_deref().unwrap_or("none (local only)"));
    println!("last sync  {}", s.last_sync_at.map(fmt_time).unwrap_or_else(|| "never".into()));
    println!("cursor     {}", s.cursor.as_deref().unwrap_or("-"));
    println!("schema     v{}   key: {}", s.schema_version, s.key_method);
    Ok(())
}
