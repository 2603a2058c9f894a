use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
use crate::state::{AppState, Lock};

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppInfo {
    /// `open`, or what the UI must ask for before anything else works.
    pub lock: Lock,
    pub data_dir: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct Settings {
    /// `system`, `light` or `dark`.
    pub theme: String,
}

#[tauri::command]
#[specta::specta]
pub async fn app_info(state: State<'_, AppState>) -> IpcResult<AppInfo> {
    Ok(AppInfo {
        lock: state.settled_lock_state().await,
        data_dir: state.data_dir.display().to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// Open a passphrase store, or create one with this passphrase where there
/// is no OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn unlock(app: AppHandle, state: State<'_, AppState>, passphrase: String) -> IpcResult<AppInfo> {
    state.unlock(&passphrase)?;
    state.start_engine(&app).await?;
    app_info(state).await
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(state: State<'_, AppState>) -> IpcResult<Settings> {
    let theme = state.with_vault(|v| v.preference("theme"))?.unwrap_or_else(|| "system".to_owned());
    Ok(Settings { theme })
}

#[tauri::command]
#[specta::specta]
pub async fn set_settings(state: State<'_, AppState>, settings: Settings) -> IpcResult<()> {
    if !["system", "light", "dark"].contains(&settings.theme.as_str()) {
        return Err(IpcError::new("invalid", format!("{:?} is not a theme (system, light, dark)", settings.theme)));
    }
    state.with_vault(|v| v.set_preference("theme", &settings.theme))
}
