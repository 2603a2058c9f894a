use outpost_core::account::{self, Session};
use outpost_core::keys::{KdfParams, KdfPolicy};
use outpost_core::remote::Remote;
use outpost_core::vault::LocalRewrap;
use serde::Serialize;
use tauri::{AppHandle, State};

use crate::error::{IpcError, IpcResult};
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
/// An account with two-factor log-in on answers `totp_required` until the
/// form sends the authenticator's current code (`totp_code`), and
/// `totp_invalid` for a wrong or used one.
#[tauri::command]
#[specta::specta]
pub async fn log_in(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    username: String,
    passphrase: String,
    totp_code: Option<String>,
) -> IpcResult<AccountInfo> {
    let remote = Remote::new(&server_url)?;
    let code = totp_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let (key, session) =
        account::log_in_with_code(&remote, username.trim(), &passphrase, code, &KdfPolicy::default()).await?;
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

// Settings > Account: sessions, passphrase change, account deletion. Each
// command holds the store only for a local step, never across the network.

/// One of the account's live sessions (one per signed-in device).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AccountSession {
    pub id: uuid::Uuid,
    /// What the device called itself at log-in; `None` if it gave no name.
    pub device_name: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The last request, to within a minute.
    pub last_seen_at_ms: u64,
    /// This device's own session.
    pub current: bool,
}

/// What became of this store's own passphrase after a change.
#[derive(Debug, Clone, Copy, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LocalPassphrase {
    /// The store opens with the new passphrase from now on.
    Rewrapped,
    /// The store has a passphrase of its own: unchanged.
    Separate,
    /// The store's key is in the OS keyring: nothing to change.
    NotPassphrase,
    /// Writing the new wrapping failed: the store still opens with the old one.
    Failed,
}

#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct PassphraseChangeReport {
    /// The account's other sessions that ended (0 when kept).
    pub sessions_ended: u32,
    pub local: LocalPassphrase,
}

/// What deleting the account kept on this device.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AccountDeletedReport {
    /// Notes that stay on this device.
    pub notes_kept: u32,
}

/// The signed-in session's client: refused (code `no_account` or
/// `logged_out`) when the store has none.
fn active(state: &AppState) -> IpcResult<(outpost_core::vault::Account, Remote)> {
    match state.with_vault(|v| account::session(v))? {
        Session::Active { account, remote } => Ok((account, remote)),
        Session::LoggedOut(_) => Err(IpcError::new("logged_out", "this device is logged out: log in first")),
        Session::None => Err(IpcError::no_account()),
    }
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The account's live sessions, oldest first; `current` marks this device's.
#[tauri::command]
#[specta::specta]
pub async fn list_sessions(state: State<'_, AppState>) -> IpcResult<Vec<AccountSession>> {
    let (_, remote) = active(&state)?;
    let sessions = remote.sessions().await?;
    Ok(sessions
        .into_iter()
        .map(|s| AccountSession {
            id: s.id,
            device_name: s.device_name,
            created_at_ms: s.created_at_ms,
            last_seen_at_ms: s.last_seen_at_ms,
            current: s.current,
        })
        .collect())
}

/// Sign another device out (its session ends; its notes stay on it). An
/// unknown id is code `session_not_found`.
#[tauri::command]
#[specta::specta]
pub async fn revoke_session(state: State<'_, AppState>, id: uuid::Uuid) -> IpcResult<()> {
    let (_, remote) = active(&state)?;
    Ok(remote.revoke_session(id).await?)
}

/// Sign out every device but this one; how many were signed out.
#[tauri::command]
#[specta::specta]
pub async fn revoke_other_sessions(state: State<'_, AppState>) -> IpcResult<u32> {
    let (_, remote) = active(&state)?;
    Ok(count(remote.revoke_other_sessions().await?))
}

/// Change the account's passphrase. Codes: `wrong_current_passphrase`,
/// `weak_passphrase` (too short), `key_changed` (changed on another device
/// first), `invalid` (the same as the current one). The store is held only
/// to compare keys and, after the server took the change, to re-wrap its
/// own passphrase slot.
#[tauri::command]
#[specta::specta]
pub async fn change_passphrase(
    state: State<'_, AppState>,
    current_passphrase: String,
    new_passphrase: String,
    keep_other_sessions: bool,
) -> IpcResult<PassphraseChangeReport> {
    let (_, remote) = active(&state)?;
    let vault = state.vault()?;
    let ended = account::change_on_server(
        &remote,
        &current_passphrase,
        &new_passphrase,
        keep_other_sessions,
        |key| Ok(vault.with(|v| v.has_key(key))),
        KdfParams::recommended,
        &KdfPolicy::default(),
    )
    .await?;
    // The account's passphrase has changed whatever happens here.
    let local = state.with_vault(|v| {
        Ok(v.rewrap_passphrase_slot(&current_passphrase, &new_passphrase, KdfParams::recommended).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not re-wrap this store's key under the new passphrase");
            LocalRewrap::Failed
        }))
    })?;
    let local = match local {
        LocalRewrap::Rewrapped => LocalPassphrase::Rewrapped,
        LocalRewrap::SeparatePassphrase => LocalPassphrase::Separate,
        LocalRewrap::NotPassphrase => LocalPassphrase::NotPassphrase,
        LocalRewrap::Failed => LocalPassphrase::Failed,
    };
    Ok(PassphraseChangeReport { sessions_ended: count(ended), local })
}

/// Delete the account and everything the server keeps for it. `username`
/// must be the account's (code `username_mismatch`), `passphrase` its
/// passphrase (code `wrong_passphrase`, checked before the server is
/// asked). Then sync stops and the device forgets the account: its notes
/// stay here, signed out.
#[tauri::command]
#[specta::specta]
pub async fn delete_account(
    state: State<'_, AppState>,
    username: String,
    passphrase: String,
) -> IpcResult<AccountDeletedReport> {
    let (account, remote) = active(&state)?;
    if username.trim() != account.username {
        return Err(IpcError::new(
            "username_mismatch",
            format!("type the account's username, {}, to confirm; nothing was deleted", account.username),
        ));
    }
    account::delete_on_server(&remote, &passphrase, &KdfPolicy::default()).await?;
    state.stop_engine().await;
    let notes = state.with_vault(|v| {
        v.forget_account()?;
        Ok(v.status()?.notes)
    })?;
    Ok(AccountDeletedReport { notes_kept: count(notes) })
}
