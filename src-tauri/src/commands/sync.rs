use outpost_core::engine::SyncStatus;
use outpost_core::net::{self, NetMode};
use serde::{Deserialize, Serialize};
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

/// The network switch as the UI sends it (the control file's form).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum NetworkMode {
    Online,
    Offline,
    /// `drop` from 0 to 1, `latency_ms` up to 60,000.
    Flaky {
        drop: f64,
        latency_ms: u32,
    },
}

/// The testers' switch: online, offline, or a simulated bad network. It is
/// written to the control file too, so `outpost net` and the app agree.
#[tauri::command]
#[specta::specta]
pub async fn set_network(state: State<'_, AppState>, mode: NetworkMode) -> IpcResult<()> {
    // The control file's own parser validates (ranges, shape).
    let text = serde_json::to_string(&mode).map_err(|e| IpcError::new("invalid", e.to_string()))?;
    let mode: NetMode = net::parse_control(std::path::Path::new("the network switch"), text.as_bytes())
        .map_err(|e| IpcError::new("invalid", e.to_string()))?;
    net::write_control(&state.data_dir, &mode).map_err(|e| IpcError::new("invalid", e.to_string()))?;
    state.engine(|e| e.net().set(mode)).await;
    Ok(())
}
