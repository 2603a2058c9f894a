//! The sync monitor for the app's Sync panel: the history of passes with
//! its insights, the outbox as a person looks at it, and the two things a
//! person may do about an entry the server refused (send it again, or stop
//! sending it). The same values `outpost status --history --json` and
//! `outpost outbox list --json` print: plaintext metadata only, never a
//! note's content or title.

use outpost_core::monitor::{self, DiscardedRow, OutboxRow, Report, Selection, DEFAULT_STALE_AFTER_MS};
use outpost_core::time::now_ms;
use serde::Serialize;
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

/// The passes, newest first, and what they say (success rate, durations,
/// bytes per day, the oldest unsent change and whether it is stale, failed
/// entries), as of now.
#[tauri::command]
#[specta::specta]
pub async fn sync_history(state: State<'_, AppState>) -> IpcResult<Report> {
    state.with_vault(|v| monitor::report(v.connection(), now_ms(), DEFAULT_STALE_AFTER_MS))
}

/// The outbox in send order and the discarded entries, newest first.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct OutboxListing {
    pub entries: Vec<OutboxRow>,
    /// Kept sealed in the store; their notes kept their text here.
    pub discarded: Vec<DiscardedRow>,
}

/// Every outbox entry with its state, attempts and last error (no
/// content, no title: what `outpost outbox list` shows), and the discarded
/// ones.
#[tauri::command]
#[specta::specta]
pub async fn outbox_entries(state: State<'_, AppState>) -> IpcResult<OutboxListing> {
    state.with_vault(|v| {
        let conn = v.connection();
        Ok(OutboxListing { entries: monitor::outbox_rows(conn)?, discarded: monitor::discarded_rows(conn)? })
    })
}

/// Put a failed entry (`seq`), or every failed one (`None`), back in the
/// queue and sync now. Returns the entries put back.
#[tauri::command]
#[specta::specta]
pub async fn outbox_retry(state: State<'_, AppState>, seq: Option<i64>) -> IpcResult<Vec<i64>> {
    let sel = seq.map_or(Selection::AllFailed, Selection::Entry);
    let seqs = state.with_vault(|v| monitor::retry(v, sel, now_ms()))?;
    state.engine(|e| e.sync_now()).await;
    Ok(seqs)
}

/// Stop sending entry `seq`: it moves, sealed, among the discarded entries;
/// the note keeps its text on this device. The UI asks first. Returns the
/// entries discarded.
#[tauri::command]
#[specta::specta]
pub async fn outbox_discard(state: State<'_, AppState>, seq: i64) -> IpcResult<Vec<i64>> {
    let seqs = state.with_vault(|v| monitor::discard(v, Selection::Entry(seq), now_ms()))?;
    // The engine re-reads the outbox's counts, so the status bar follows.
    state.changed().await;
    Ok(seqs)
}
