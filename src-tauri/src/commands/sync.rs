use outpost_core::device::{self, DeviceOverrides};
use outpost_core::engine::SyncStatus;
use outpost_core::net::{self, NetMode};
use outpost_core::policy::PolicySettings;
use tauri::{AppHandle, State};

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

/// The user's sync policy settings: sync on metered networks, pause on low
/// battery.
#[tauri::command]
#[specta::specta]
pub async fn get_sync_policy(state: State<'_, AppState>) -> IpcResult<PolicySettings> {
    state.with_vault(|v| v.sync_policy())
}

/// Saved in the store, and applied by a running engine at once.
#[tauri::command]
#[specta::specta]
pub async fn set_sync_policy(state: State<'_, AppState>, policy: PolicySettings) -> IpcResult<()> {
    state.with_vault(|v| v.set_sync_policy(&policy))?;
    state.engine(|e| e.set_policy(policy)).await;
    Ok(())
}

/// What a tester set of the device's situation (metered, power, app state)
/// over the OS's report; empty fields are the OS's.
#[tauri::command]
#[specta::specta]
pub async fn get_device_situation(state: State<'_, AppState>) -> IpcResult<DeviceOverrides> {
    device::read_device(&state.data_dir).map_err(|e| IpcError::new("control_file", e.to_string()))
}

/// The testers' device switch, as `outpost net metered|power|app` writes
/// it: the device file, which the engine's watcher applies within a second
/// (and `outpost net show` reads back).
#[tauri::command]
#[specta::specta]
pub async fn set_device_situation(state: State<'_, AppState>, overrides: DeviceOverrides) -> IpcResult<()> {
    device::write_device(&state.data_dir, &overrides).map_err(|e| IpcError::new("invalid", e.to_string()))
}

/// What starting over did (`outpost sync --start-over`).
#[derive(Debug, Clone, Copy, serde::Serialize, specta::Type)]
pub struct StartOver {
    /// Notes (live and deleted) queued to be sent again, as they stand.
    pub requeued: u32,
    /// Changes that were queued already, now based on whatever the server has.
    pub pending: u32,
}

/// Start over with the server: forget what this device believed the
/// server held, send every note again and pull everything
/// (`Vault::reset_sync_state`). No note changes; one the server also has
/// from elsewhere is merged as usual. The engine is stopped first, so no
/// pass is half-way through, and started again, which syncs at once.
#[tauri::command]
#[specta::specta]
pub async fn start_over(app: AppHandle, state: State<'_, AppState>) -> IpcResult<StartOver> {
    if state.engine(|_| ()).await.is_none() {
        return Err(IpcError::no_account());
    }
    state.stop_engine().await;
    let reset = state.with_vault(|v| v.reset_sync_state());
    // Started again whatever the reset did: sync must not stay off.
    let started = state.start_engine(&app).await;
    let reset = reset?;
    started?;
    Ok(StartOver {
        requeued: u32::try_from(reset.requeued).unwrap_or(u32::MAX),
        pending: u32::try_from(reset.pending).unwrap_or(u32::MAX),
    })
}
