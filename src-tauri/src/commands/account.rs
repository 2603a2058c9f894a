use outpost_core::account::{self, Session};
use outpost_core::keys::KdfParams;
use outpost_core::remote::Remote;
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::IpcResult;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AccountInfo {
    /// The account's server, or the one the run command offers.
    pub server_url: Option<String>,
    pub username: Option<String>,
    pub logged_in: bool,
}

/// What logging out kept on this device.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct LogOutReport {
    /// Unsent changes: they stay here and go up after the next log-in.
    pub pending: u32,
}

#[tauri::command]
#[specta::specta]
pub async fn account_info(state: State<'_, AppState>) -> IpcResult<AccountInfo> {
    let (account, token) = state.with_vault(|v| Ok((v.account()?, v.session_token()?)))?;
    Ok(AccountInfo {
        server_url: account.as_ref().map(|a| a.server.clone()).or_else(|| state.default_server.clone()),
        username: account.map(|a| a.username),
        logged_in: token.is_some(),
    })
}

/// Make this store an account on `server_url`; its notes go up at once.
/// Refused (code `logged_in`) while signed in to an account.
#[tauri::command]
#[specta::specta]
pub async fn register(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    username: String,
    passphrase: String,
) -> IpcResult<AccountInfo> {
    let remote = Remote::new(&server_url)?;
    // Refused only while signed in; after logging out, a new account takes
    // this store's notes (the old account keeps its copy).
    let req = state.with_vault(|v| {
        account::ensure_can_register(v)?;
        account::registration(v, username.trim(), &passphrase, KdfParams::recommended())
    })?;
    let session = remote.register(&req).await?;
    state.with_vault(|v| account::remember(v, &remote, username.trim(), &session))?;
    state.start_engine(&app).await?;
    account_info(state).await
}

/// Join an existing account from this device. A device with nothing of its
/// own yet takes the account's key; one holding its own notes is refused.
#[tauri::command]
#[specta::specta]
pub async fn log_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    username: String,
    passphrase: String,
) -> IpcResult<AccountInfo> {
    let remote = Remote::new(&server_url)?;
    let (key, session) = account::log_in(&remote, username.trim(), &passphrase).await?;
    let vault = state.adopt_account_key(key).await?;
    {
        let mut v = vault.lock();
        account::remember(&mut v, &remote, username.trim(), &session)?;
    }
    state.start_engine(&app).await?;
    account_info(state).await
}

/// Forget the session on this device. Unsent changes stay and are counted.
#[tauri::command]
#[specta::specta]
pub async fn log_out(state: State<'_, AppState>) -> IpcResult<LogOutReport> {
    state.stop_engine().await;
    // A server URL that no longer parses still lets the device log out.
    if let Ok(Session::Active { remote, .. }) = state.with_vault(|v| account::session(v)) {
        // Best effort: the session also expires on the server.
        if let Err(e) = remote.logout().await {
            tracing::info!(error = %e, "the server did not hear the log-out; the session expires there");
        }
    }
    let pending = state.with_vault(|v| {
        v.clear_session()?;
        Ok(v.status()?.pending)
    })?;
    Ok(LogOutReport { pending: u32::try_from(pending).unwrap_or(u32::MAX) })
}
