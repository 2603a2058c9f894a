use outpost_core::engine::SyncStatus;
use outpost_core::net::{self, NetMode};
use tauri::State;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// Where sync stands now (the same value `sync-status` events carry).
#[tauri::command]
#[specta::specta]
pub async fn sync_status(state: State<'_, AppState>) -> IpcResult<SyncStatus> {
    if let Some(s) = state.engine(|e| e.status().borrow().clone()).await {
        return Ok(s);
    }
    // No engine (no account yet, or logged out): the store's own counts.
    let s = state.with_vault(|v| v.status())?;
    Ok(SyncStatus::local_only(&s, net::read_control(&state.data_dir).unwrap_or(NetMode::Online)))
}

#[tauri::command]
#[specta::specta]
pub async fn sync_now(state: State<'_, AppState>) -> IpcResult<()> {
    state.engine(|e| e.sync_now()).await.ok_or_else(IpcError::no_account)
}

/// The user looked at a held mass delete and wants it applied.
#[tauri::command]
#[specta::specta]
pub async fn approve_mass_delete(state: State<'_, AppState>) -> IpcResult<()> {
    state.with_vault(|v| v.approve_mass_delete())?;
    state.engine(|e| e.sync_now()).await;
    Ok(())
}

/// The testers' switch: online, offline, or a simulated bad network. It is
/// written to the control file too, so `outpost net` and the app agree.
#[tauri::command]
#[specta::specta]
pub async fn set_network(state: State<'_, AppState>, mode: NetMode) -> IpcResult<()> {
    // `mode` went through the control file's own checks (ranges, shape) as
    // it was deserialised.
    net::write_control(&state.data_dir, &mode).map_err(|e| IpcError::new("invalid", e.to_string()))?;
    state.engine(|e| e.net().set(mode)).await;
    Ok(())
}
