//! `outpost sync`: one pass, or (`--watch`) the background engine run
//! headless until interrupted: a device with no window.

use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use outpost_core::account::{self, Session};
use outpost_core::engine::{Engine, EngineOptions, SyncStatus};
use outpost_core::files::transfer;
use outpost_core::net::{self, NetControl, NetMode};
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::store::DB_FILE;
use outpost_core::{SharedVault, Vault};

use super::status::describe_engine;
use crate::stop::StopSignals;
use crate::unlock::open_vault;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Print JSON (with --watch: one status object per line)
    #[arg(long)]
    json: bool,
    /// Keep syncing in the background until interrupted (Ctrl-C or
    /// SIGTERM), printing a line whenever the sync status changes
    #[arg(long)]
    watch: bool,
    /// Apply the deletions a held sync stopped at (the mass-delete rail)
    #[arg(long)]
    approve_deletes: bool,
    /// Start over with the server: forget what this device believed it
    /// held and send every note again, then pull everything. Sync does this
    /// by itself when the server answers that it does not know this
    /// device's position; use it after a server was restored from a backup
    /// if other devices synced with the restored server first. No note
    /// changes; one the server also has from elsewhere is merged
    #[arg(long)]
    start_over: bool,
    /// Ask the server for its list of attached files even if no note
    /// changed (otherwise it is asked for only after changes came in)
    #[arg(long)]
    files: bool,
}

pub fn run(dir: &Path, args: SyncArgs) -> anyhow::Result<()> {
    // The testers' switch first: switched offline, nothing may be sent,
    // and nothing needs unlocking to say so.
    let mode = net::read_control(dir)?;
    if mode == NetMode::Offline && !args.watch {
        return Err(outpost_core::Error::Remote(RemoteError::Offline).into());
    }
    let mut vault = open_vault(dir)?;
    let (account, remote) = match account::session(&vault)? {
        Session::Active { account, remote } => (account, remote),
        Session::None => {
            bail!("this store has no account: `outpost account register` or `outpost account login` first")
        }
        Session::LoggedOut(account) => {
            bail!("logged out of {} on {}: `outpost account login` first", account.username, account.server)
        }
    };
    if args.approve_deletes {
        vault.approve_mass_delete()?;
    }
    if args.start_over {
        let reset = vault.reset_sync_state()?;
        eprintln!(
            "starting over with {}: {} notes queued again, {} queued changes re-based",
            account.server, reset.requeued, reset.pending
        );
    }
    // Under the same network control as the app, so a flaky mode applies.
    let remote = remote.with_net(NetControl::new(mode));
    if args.watch {
        return watch(dir, vault, remote, args.json);
    }
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let mut result = rt.block_on(outpost_core::monitor::sync_once_recorded(&mut vault, &remote));
    // Another device rotated the account's data key: its changes wait aside
    // (or a merge stopped at one). With the passphrase at hand, fetch the
    // keys (the changes aside apply) and go on, once; else say how.
    let rotated = matches!(&result, Err(outpost_core::Error::KeyRotated { .. }));
    if rotated || (result.is_ok() && !vault.missing_keys()?.is_empty()) {
        match std::env::var(crate::unlock::PASSPHRASE_ENV) {
            Ok(pass) => {
                let policy = outpost_core::keys::KdfPolicy::default();
                let learned = rt.block_on(account::fetch_keys(&mut vault, &remote, &pass, &policy))?;
                eprintln!(
                    "the account's data key was changed on another device: fetched {} new keys, {} changes set \
                     aside for it applied",
                    learned.added, learned.replayed
                );
                result = rt.block_on(outpost_core::monitor::sync_once_recorded(&mut vault, &remote));
            }
            Err(_) if !rotated => eprintln!(
                "warning: the account's data key was changed on another device; changes made with it wait on \
                 this device until you fetch it with the passphrase: `outpost account keys`"
            ),
            Err(_) => {}
        }
    }
    let report = match result {
        Err(e @ outpost_core::Error::Remote(RemoteError::AccountDeleted)) => {
            // For good: forget it, so this store may register or log in
            // elsewhere without a log-out the server can no longer answer.
            vault.forget_account()?;
            let kept = vault.status()?.pending;
            return Err(anyhow::Error::from(e).context(format!(
                "{} on {} was deleted; this store forgot it and keeps its notes ({kept} queued for an account \
                 you register or log in to later)",
                account.username, account.server
            )));
        }
        other => other?,
    };
    // Files after notes: a large upload never holds a note back. What
    // fails here is reported after the notes' summary; done work is kept.
    // The server's list of files only after changes came in (or with
    // "keep all files"): a pass that moved nothing makes no file request.
    let learn = transfer::Learn::IfNotesPulled(report.pulled > 0 || args.files);
    let files = rt.block_on(transfer::sync_files(&std::sync::Mutex::new(&mut vault), &remote, learn));
    let status = vault.status()?;
    let file_counts = vault.file_counts()?;
    if args.json {
        let (files_report, files_error) = match &files {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.to_string())),
        };
        out!(
            "{}",
            serde_json::json!({ "report": report, "status": status, "files": files_report,
                "files_error": files_error, "file_counts": file_counts })
        );
    } else {
        if report.server_reset {
            out!(
                "the server did not know this device's sync position (it was reset, or restored from an older \
                 backup): {} notes were sent again and sync started over",
                report.requeued
            );
        }
        out!(
            "pushed {} ({} already there), pulled {}, in {} ms; {} B sent, {} B received",
            report.pushed,
            report.duplicates,
            report.pulled,
            report.elapsed_ms,
            report.bytes_sent,
            report.bytes_received
        );
        if report.from_snapshot {
            out!("this device started from the account's snapshot (its notes compressed together), then pulled what came after");
        }
        if report.snapshot_uploaded {
            out!("uploaded a new snapshot of the account for new devices to start from");
        }
        if status.pending > 0 || status.failed > 0 || status.open_conflicts > 0 {
            out!(
                "still here: {} pending, {} failed, {} conflicts (both versions kept; see `outpost status`)",
                status.pending,
                status.failed,
                status.open_conflicts
            );
        }
    }
    if let Ok(f) = &files {
        if !args.json && (f.chunks_sent > 0 || f.chunks_received > 0 || f.declared > 0 || f.removed > 0) {
            out!(
                "files: {} chunks sent ({} B), {} received ({} B), {} declared, {} removed",
                f.chunks_sent,
                f.bytes_sent,
                f.chunks_received,
                f.bytes_received,
                f.declared,
                f.removed
            );
        }
    }
    if report.rejected > 0 {
        bail!("the server rejected {} changes; they are marked failed and kept", report.rejected);
    }
    files.map(drop).map_err(|e| {
        anyhow::Error::from(e).context(format!(
            "notes synced; files stopped ({} files, {} B still to upload; the next sync resumes)",
            file_counts.upload_files, file_counts.upload_bytes
        ))
    })
}

/// The engine, headless: runs until SIGINT or SIGTERM, then shuts down
/// cleanly (an abandoned request is resent next time, safely).
fn watch(dir: &Path, vault: Vault, remote: Remote, json: bool) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        // Before the engine starts and before the first line: a Ctrl-C
        // from then on stops it cleanly.
        let mut stop = StopSignals::listen()?;
        let opts = EngineOptions { policy: vault.sync_policy()?, ..EngineOptions::default() };
        let engine = Engine::start(SharedVault::new(vault), remote, dir, opts)?;
        tokio::spawn(engine.situation_handle().follow_os());
        // Other processes (`outpost notes add`) write the same store: a
        // write to it wakes the engine like a save in the app would. The
        // engine's own writes wake it too, and find nothing to send.
        let (store_tx, mut store_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let _store_watch = watch_store(dir, store_tx)?;
        let mut status = engine.status();
        print_status(&status.borrow_and_update(), json)?;
        loop {
            tokio::select! {
                () = stop.recv() => break,
                r = status.changed() => {
                    if r.is_err() {
                        break;
                    }
                    print_status(&status.borrow_and_update(), json)?;
                }
                Some(()) = store_rx.recv() => engine.local_change(),
            }
        }
        engine.shutdown().await;
        // The last status (stopped), so a reader of the output sees the end.
        if status.has_changed().unwrap_or(true) {
            print_status(&status.borrow_and_update(), json)?;
        }
        Ok(())
    })
}

fn print_status(s: &SyncStatus, json: bool) -> anyhow::Result<()> {
    if json {
        out!("{}", serde_json::to_string(s)?);
    } else {
        out!("{}", describe_engine(s));
    }
    Ok(())
}

/// Watches the store's write-ahead log, where every committed write lands
/// first: one message per burst of writes.
fn watch_store(dir: &Path, tx: tokio::sync::mpsc::UnboundedSender<()>) -> anyhow::Result<notify::RecommendedWatcher> {
    use notify::event::ModifyKind;
    use notify::{EventKind, Watcher};
    let wal = format!("{DB_FILE}-wal");
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Data written; not a reader opening the store (which creates and
        // chmods the log, and removes it as the last one out).
        let write = matches!(event.kind, EventKind::Modify(ModifyKind::Data(_)));
        if write && event.paths.iter().any(|p| p.file_name().is_some_and(|n| n == wal.as_str())) {
            let _ = tx.send(());
        }
    })
    .context("watching the store for changes")?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .with_context(|| format!("watching {} for changes", dir.display()))?;
    Ok(watcher)
}
