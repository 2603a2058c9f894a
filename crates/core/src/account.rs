//! Account flows: registering a store with a sync server, and fetching an
//! account's data key on a device that joins it.
//!
//! A store syncs with one account at a time. Logging out ends the session
//! and keeps the account record, so logging in again to the same account
//! carries on where sync stood. While logged in, a store does not switch
//! to another account ([`ensure_can_register`], [`ensure_can_log_in`]);
//! once logged out it may register or log in anywhere: the new account
//! replaces the record and every note goes to it on the next sync
//! ([`Vault::set_account`]). The notes stay on the device; the old account
//! keeps its copy on its server.
//!
//! The passphrase never leaves the device. Argon2id and HKDF turn it into a
//! wrap key (wraps the data key) and an auth key (proves the user to the
//! server, which keeps only an Argon2id hash of it). The server stores the
//! wrapped data key and the KDF parameters, both useless without the
//! passphrase.
//!
//! The passphrase can be changed from any logged-in device
//! ([`change_passphrase`]): the same data key is wrapped under the new
//! passphrase (notes are not re-encrypted), the server swaps it in only if
//! no other change won meanwhile, and every other session ends unless the
//! user keeps them; other devices are asked for the new passphrase at their
//! next log-in.
//!
//! Each log-in (and registration) is a session the account can list and
//! end from any of its devices (`Remote::sessions`, `revoke_session`,
//! `revoke_other_sessions`). A device names its session with
//! [`default_device_name`] unless the caller set a name on the [`Remote`]
//! (`Remote::with_device_name`).
//!
//! The account's data key can be rotated from any logged-in device that
//! has the passphrase ([`rotate_data_key`]), for a suspected compromise of
//! the key: a new key is made here and sent wrapped under the passphrase,
//! with every older key sealed under it (a key ring: `keys::wrap_ring`),
//! through the same compare-and-swap as a passphrase change, the other
//! sessions kept. The store then seals every change with the new key and
//! re-seals its notes in the background (`Vault::reencrypt`, run by each
//! sync pass); every key stays readable everywhere. Another device meets a
//! change under a key it lacks at its next pull, stops there
//! ([`Error::KeyRotated`]), and carries on once it has the keys: a new
//! log-in, or [`fetch_keys`] with the passphrase.
//!
//! [`delete_account`] deletes the account and all its data on the server,
//! given the passphrase; the device forgets the account and keeps its
//! notes. The account's other devices are answered
//! [`RemoteError::AccountDeleted`] from then on: their sync stops for good
//! (a permanent error) and their notes stay too.

use outpost_protocol::v1::{
    Bytes, ChangePassphraseRequest, LoginRequest, RegisterRequest, SessionResponse, TotpSetupResponse,
};
use serde::{Deserialize, Serialize};

use crate::crypto::{DataKey, KeyId, KeyRing};
use crate::error::{Error, Result};
use crate::keys::{self, KdfParams, KdfPolicy, KeyError};
use crate::remote::{Remote, RemoteError};
use crate::vault::{Account, LearnedKeys, LocalRewrap, Vault};

/// What the server keeps as `kdf_params` (opaque to it): the KDF's cost and
/// salt, and the id of the data key it wraps (bound into the wrapping).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountKdf {
    key_id: u32,
    kdf: KdfParams,
}

/// Where a store stands with its account.
#[derive(Debug)]
pub enum Session {
    /// Never registered nor logged in: the notes stay on this device.
    None,
    /// Logged out of this account: unsent changes wait for the next log-in.
    LoggedOut(Account),
    /// Logged in: a client for the account's server that carries the
    /// session token. Attach a [`crate::net::NetControl`] for the testers'
    /// network switch.
    Active { account: Account, remote: Remote },
}

/// The store's session, with a client for its server when logged in: the
/// one place the account, the sealed token and the server URL meet.
pub fn session(vault: &Vault) -> Result<Session> {
    let Some(account) = vault.account()? else { return Ok(Session::None) };
    let Some(token) = vault.session_token()? else { return Ok(Session::LoggedOut(account)) };
    let remote = Remote::new(&account.server)?.with_token(token);
    Ok(Session::Active { account, remote })
}

/// Refuses to register a store that is logged in ([`Error::LoggedIn`]):
/// the user logs out first, knowingly. A store that logged out may.
pub fn ensure_can_register(vault: &Vault) -> Result<()> {
    ensure_logged_out_or(vault.account()?, vault.session_token()?.is_some(), |_| false)
}

/// Refuses to log a store in to an account other than the one it is
/// logged in to ([`Error::LoggedIn`]); logging in again to the same one
/// (a new session) is fine, and so is any account once logged out.
/// `current` and `logged_in` are the store's, as [`crate::vault::peek_account`]
/// reads them without the key.
pub fn ensure_can_log_in(current: Option<Account>, logged_in: bool, remote: &Remote, username: &str) -> Result<()> {
    ensure_logged_out_or(current, logged_in, |a| a.server == remote.base_url() && a.username == username)
}

fn ensure_logged_out_or(current: Option<Account>, logged_in: bool, same: impl Fn(&Account) -> bool) -> Result<()> {
    match current {
        Some(a) if logged_in && !same(&a) => Err(Error::LoggedIn { username: a.username, server: a.server }),
        _ => Ok(()),
    }
}

/// The environment variable that names this device's sessions, overriding
/// the host name.
pub const DEVICE_NAME_ENV: &str = "OUTPOST_DEVICE_NAME";

/// The name this device's sessions show under in the account's session
/// list: `OUTPOST_DEVICE_NAME` if set, else the host name (from the
/// environment or, on Linux and Android, the kernel), else "<os> device"
/// ("linux device", "macos device"). Never a secret: the server keeps it
/// and shows it to every device of the account.
pub fn default_device_name() -> String {
    let from_env = |var: &str| std::env::var(var).ok().and_then(|v| outpost_protocol::v1::sanitize_device_name(&v));
    from_env(DEVICE_NAME_ENV)
        .or_else(|| from_env("HOSTNAME"))
        .or_else(|| from_env("COMPUTERNAME"))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .and_then(|h| outpost_protocol::v1::sanitize_device_name(&h))
        })
        .unwrap_or_else(|| format!("{} device", std::env::consts::OS))
}

/// `remote`, naming this device with [`default_device_name`] unless it
/// names it already.
fn named(remote: &Remote) -> std::borrow::Cow<'_, Remote> {
    if remote.device_name().is_some() {
        std::borrow::Cow::Borrowed(remote)
    } else {
        std::borrow::Cow::Owned(remote.clone().with_device_name(&default_device_name()))
    }
}

/// Register `vault`'s data key as a new account on `remote`'s server, and
/// remember the session. Notes already in the store go up on the next sync
/// (they are all in the outbox).
pub async fn register(vault: &mut Vault, remote: &Remote, username: &str, passphrase: &str) -> Result<Account> {
    register_with(vault, remote, username, passphrase, KdfParams::recommended()).await
}

/// [`register`] with explicit KDF cost (tests and benchmarks use cheap ones).
pub async fn register_with(
    vault: &mut Vault,
    remote: &Remote,
    username: &str,
    passphrase: &str,
    params: KdfParams,
) -> Result<Account> {
    let req = registration(vault, username, passphrase, params)?;
    let session = named(remote).register(&req).await?;
    remember(vault, remote, username, &session)
}

/// The registration request for `vault`'s data key, with no network: the
/// app builds it holding the vault briefly, sends it without the vault, and
/// [`remember`]s the answer, so saves never wait on the server.
pub fn registration(vault: &Vault, username: &str, passphrase: &str, params: KdfParams) -> Result<RegisterRequest> {
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase.into());
    }
    let derived = keys::derive_account_keys(passphrase, &params)?;
    let (key_id, wrapped) = vault.wrap_data_key(&derived.wrap)?;
    let kdf = serde_json::to_vec(&AccountKdf { key_id, kdf: params }).map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(RegisterRequest {
        username: username.to_owned(),
        auth_key: Bytes(derived.auth.to_vec()),
        wrapped_key: Bytes(wrapped),
        kdf_params: Bytes(kdf),
    })
}

/// Log in to an existing account: returns the account's data keys (for a
/// joining device's store: the current key, and the older ones after a
/// rotation) and the session. The server's key-derivation
/// parameters must be within [`KdfPolicy::default`].
pub async fn log_in(remote: &Remote, username: &str, passphrase: &str) -> Result<(KeyRing, SessionResponse)> {
    log_in_with(remote, username, passphrase, &KdfPolicy::default()).await
}

/// [`log_in`] under another policy (tests that register with cheap costs).
/// Parameters outside `policy` are refused before anything is derived.
pub async fn log_in_with(
    remote: &Remote,
    username: &str,
    passphrase: &str,
    policy: &KdfPolicy,
) -> Result<(KeyRing, SessionResponse)> {
    log_in_with_code(remote, username, passphrase, None, policy).await
}

/// [`log_in_with`] with the current code of the account's authenticator
/// app (two-factor log-in), if the caller has one. An account with
/// two-factor log-in on refuses a log-in without a code with
/// [`RemoteError::TotpRequired`] (only once the passphrase is right), and a
/// wrong, stale or used code with [`RemoteError::TotpInvalid`]; either way
/// log in again, with a code. Accounts without it ignore the code.
pub async fn log_in_with_code(
    remote: &Remote,
    username: &str,
    passphrase: &str,
    totp_code: Option<&str>,
    policy: &KdfPolicy,
) -> Result<(KeyRing, SessionResponse)> {
    let start = remote.login_start(username).await?;
    let kdf: AccountKdf = serde_json::from_slice(&start.kdf_params.0)
        .map_err(|e| Error::Corrupt(format!("the server's key parameters for {username}: {e}")))?;
    policy.check(&kdf.kdf)?;
    let derived = keys::derive_account_keys(passphrase, &kdf.kdf)?;
    let req = LoginRequest {
        username: username.to_owned(),
        challenge: start.challenge,
        auth_key: Bytes(derived.auth.to_vec()),
    };
    let session = match named(remote).login_with_code(&req, totp_code).await {
        Ok(s) => s,
        Err(RemoteError::Unauthorized(_)) => return Err(KeyError::WrongPassphrase.into()),
        Err(e) => return Err(e.into()),
    };
    let ring = keys::unwrap_ring(&derived.wrap, KeyId(kdf.key_id), &session.wrapped_key.0)?;
    Ok((ring, session))
}

/// Store the account and session in `vault`.
pub fn remember(vault: &mut Vault, remote: &Remote, username: &str, session: &SessionResponse) -> Result<Account> {
    let account = Account {
        server: remote.base_url().to_owned(),
        username: username.to_owned(),
        user_id: session.user_id.to_string(),
    };
    vault.set_account(&account, &session.token)?;
    Ok(account)
}

/// What a change of passphrase did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PassphraseChanged {
    /// The account's other sessions that ended (0 when kept).
    pub sessions_ended: u64,
    /// What became of this store's own passphrase slot.
    pub local: LocalRewrap,
}

/// Change the account's passphrase from `current` to `new`, from this
/// logged-in store. Proves `current` to the server (the auth key, derived
/// with the account's current parameters, which must be within
/// [`KdfPolicy::default`]), wraps the store's data key (the same key: notes
/// are not re-encrypted) under `new` with a fresh salt and this device's
/// own cost ([`KdfParams::recommended`]), and sends it; the server applies
/// it only if the wrapped key is still the one this device read. Every
/// other session of the account ends unless `keep_sessions`. A store
/// opened with `current` as its passphrase is then re-wrapped under `new`
/// too ([`Vault::rewrap_passphrase_slot`]).
///
/// Errors, with nothing changed: [`KeyError::EmptyPassphrase`] or
/// [`KeyError::PassphraseTooShort`] for `new`,
/// [`KeyError::WrongCurrentPassphrase`], [`Error::KeyChanged`] when another
/// device changed the passphrase first, [`KeyError::UnsafeKdf`] for
/// parameters outside the policy, and the server's refusals.
pub async fn change_passphrase(
    vault: &mut Vault,
    remote: &Remote,
    current: &str,
    new: &str,
    keep_sessions: bool,
) -> Result<PassphraseChanged> {
    change_passphrase_with(vault, remote, current, new, keep_sessions, KdfParams::recommended, &KdfPolicy::default())
        .await
}

/// [`change_passphrase`] with explicit new costs and policy (tests that
/// register with cheap ones).
pub async fn change_passphrase_with(
    vault: &mut Vault,
    remote: &Remote,
    current: &str,
    new: &str,
    keep_sessions: bool,
    new_params: fn() -> KdfParams,
    policy: &KdfPolicy,
) -> Result<PassphraseChanged> {
    let ended =
        change_on_server(remote, current, new, keep_sessions, |key| Ok(vault.has_key(key)), new_params, policy).await?;
    // The account's passphrase has changed by now, whatever happens here:
    // a store that cannot take its new wrapping keeps opening with the
    // old passphrase, and says so, rather than reporting the change failed.
    let local = vault.rewrap_passphrase_slot(current, new, new_params).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not re-wrap this store's key under the new passphrase");
        LocalRewrap::Failed
    });
    Ok(PassphraseChanged { sessions_ended: ended, local })
}

/// The server half of [`change_passphrase_with`], with no vault: the app
/// runs it without holding the store (saves never wait on the server),
/// asking `is_store_key` (which holds the store only for that) whether the
/// account's key is the store's, then re-wraps the store's own passphrase
/// slot with [`Vault::rewrap_passphrase_slot`]. Returns how many other
/// sessions ended. Same checks and errors as [`change_passphrase`].
pub async fn change_on_server(
    remote: &Remote,
    current: &str,
    new: &str,
    keep_sessions: bool,
    is_store_key: impl FnOnce(&DataKey) -> Result<bool>,
    new_params: fn() -> KdfParams,
    policy: &KdfPolicy,
) -> Result<u64> {
    keys::check_new_passphrase(new)?;
    if current.is_empty() {
        return Err(KeyError::WrongCurrentPassphrase.into());
    }
    if new == current {
        return Err(Error::Invalid("the new passphrase is the current one; nothing was changed".into()));
    }
    let params = new_params();
    // Both costs are checked before anything is derived: the server's (it
    // could be hostile) and this device's own (a build's mistake).
    policy.check(&params)?;
    // Checked here first: a wrong passphrase never reaches the server, and
    // the key the server holds must be this store's, which is what is
    // wrapped anew.
    let Proven { wrapped_key: current_wrapped_key, auth: current_auth, ring } =
        match prove_on_device(remote, current, policy).await {
            Err(Error::Key(KeyError::WrongPassphrase)) => return Err(KeyError::WrongCurrentPassphrase.into()),
            other => other?,
        };
    if !is_store_key(ring.current())? {
        return Err(Error::Invalid(
            "the account's data key is not this store's key, so this store cannot change the account's \
             passphrase; nothing was changed"
                .into(),
        ));
    }
    let derived = keys::derive_account_keys(new, &params)?;
    // The same keys as the store's (checked above), wrapped under `new`.
    let wrapped = keys::wrap_ring(&derived.wrap, &ring)?;
    let kdf_params = serde_json::to_vec(&AccountKdf { key_id: ring.current().id().0, kdf: params })
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let req = ChangePassphraseRequest {
        current_auth_key: Bytes(current_auth),
        current_wrapped_key: Bytes(current_wrapped_key),
        auth_key: Bytes(derived.auth.to_vec()),
        wrapped_key: Bytes(wrapped),
        kdf_params: Bytes(kdf_params),
        keep_other_sessions: keep_sessions,
    };
    match remote.change_passphrase(&req).await {
        Ok(done) => Ok(done.sessions_ended),
        Err(e) if e.is_wrong_passphrase() => Err(KeyError::WrongCurrentPassphrase.into()),
        Err(e) if e.is_key_changed() => Err(Error::KeyChanged),
        Err(e) => Err(e.into()),
    }
}

// Data-key rotation.

/// What a data-key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The key changes were sealed with before (8 hex digits).
    pub old_key: String,
    /// The account's new key, which changes are sealed with from now on.
    pub new_key: String,
    /// This finished a rotation cut short before its answer came (a crash,
    /// a lost connection): the server had the new key already.
    pub resumed: bool,
    /// Keys the account holds now, the new one included.
    pub keys: usize,
    /// Live notes still sealed under older keys, to re-encrypt
    /// ([`Vault::reencrypt`]; every sync pass does).
    pub to_reencrypt: u64,
}

/// Rotate the account's data key from this logged-in store, given the
/// passphrase (checked here first, as for a deletion): a new key is made
/// and kept here, then sent wrapped under the passphrase (fresh salt, this
/// device's cost) with every older key sealed under it; the server swaps it
/// in only if the wrapped key is still the one read here, and keeps the
/// other sessions. The store then seals changes with the new key; its
/// notes are re-sealed by [`Vault::reencrypt`] (the caller, or the next
/// sync pass), and sync like any edit.
///
/// Errors, with nothing changed: [`KeyError::WrongPassphrase`],
/// [`Error::KeyChanged`] when another device changed the passphrase or the
/// key first (sync, then try again), [`KeyError::UnsafeKdf`] for
/// parameters outside the policy, and the server's refusals. A request
/// whose answer is lost keeps the new key here as pending: running the
/// rotation again finishes it (the server has it) or sends the same key.
pub async fn rotate_data_key(vault: &mut Vault, remote: &Remote, passphrase: &str) -> Result<Rotation> {
    rotate_data_key_with(vault, remote, passphrase, KdfParams::recommended, &KdfPolicy::default()).await
}

/// [`rotate_data_key`] with explicit new costs and policy (tests that
/// register with cheap ones).
pub async fn rotate_data_key_with(
    vault: &mut Vault,
    remote: &Remote,
    passphrase: &str,
    new_params: fn() -> KdfParams,
    policy: &KdfPolicy,
) -> Result<Rotation> {
    let params = new_params();
    policy.check(&params)?;
    let Proven { wrapped_key, auth, ring } = prove_on_device(remote, passphrase, policy).await?;
    let old_key = vault.key_ring().current().id();
    let pending = vault.pending_rotation()?;
    // The account's keys must be this store's; any this store lacks
    // (another device's rotation) are taken in first.
    vault.learn_keys(&ring)?;
    if pending == Some(ring.current().id()) {
        // The server took this store's new key, but the answer never came.
        return rotation(vault, old_key, true);
    }
    let new = vault.rotation_key()?;
    let mut new_ring = KeyRing::new(new.clone());
    for key in vault.key_ring().iter().filter(|k| k.id() != new.id()) {
        new_ring.insert(key.clone());
    }
    let derived = keys::derive_account_keys(passphrase, &params)?;
    let wrapped = keys::wrap_ring(&derived.wrap, &new_ring)?;
    let kdf_params = serde_json::to_vec(&AccountKdf { key_id: new.id().0, kdf: params })
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let req = ChangePassphraseRequest {
        current_auth_key: Bytes(auth),
        current_wrapped_key: Bytes(wrapped_key),
        auth_key: Bytes(derived.auth.to_vec()),
        wrapped_key: Bytes(wrapped),
        kdf_params: Bytes(kdf_params),
        keep_other_sessions: true,
    };
    match remote.change_passphrase(&req).await {
        Ok(_) => {
            vault.learn_keys(&new_ring)?;
            rotation(vault, old_key, false)
        }
        // Refused: the server did not take the key, so it is forgotten.
        Err(e) if matches!(e, RemoteError::Server { .. }) && !e.is_retryable() => {
            vault.abandon_rotation_key(new.id())?;
            Err(if e.is_wrong_passphrase() {
                KeyError::WrongPassphrase.into()
            } else if e.is_key_changed() {
                Error::KeyChanged
            } else {
                e.into()
            })
        }
        // No answer: the server may have taken it. Kept as pending.
        Err(e) => Err(e.into()),
    }
}

fn rotation(vault: &Vault, old_key: KeyId, resumed: bool) -> Result<Rotation> {
    let ring = vault.key_ring();
    Ok(Rotation {
        old_key: format!("{:08x}", old_key.0),
        new_key: format!("{:08x}", ring.current().id().0),
        resumed,
        keys: ring.iter().count(),
        to_reencrypt: vault.notes_under_old_keys()?,
    })
}

/// The account's data keys, unwrapped with `passphrase` (checked on the
/// device; parameters within `policy`), with no vault: what a device needs
/// after another device rotated the key ([`Error::KeyRotated`]). The app
/// runs it without holding the store, then [`Vault::learn_keys`].
pub async fn account_keys(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<KeyRing> {
    Ok(prove_on_device(remote, passphrase, policy).await?.ring)
}

/// The id of the account's current data key, as the server holds it (no
/// passphrase needed): a store whose current key differs has a rotation to
/// take in ([`fetch_keys`]) or to finish.
pub async fn server_key_id(remote: &Remote) -> Result<KeyId> {
    let account = remote.account_key().await?;
    let kdf: AccountKdf = serde_json::from_slice(&account.kdf_params.0)
        .map_err(|e| Error::Corrupt(format!("the server's key parameters for this account: {e}")))?;
    Ok(KeyId(kdf.key_id))
}

/// Fetch the account's data keys with `passphrase` and take them into
/// `vault` ([`account_keys`], then [`Vault::learn_keys`]): after another
/// device rotated the key, this store reads and writes with the new one.
/// A rotation of this store's own that was cut short is finished too.
pub async fn fetch_keys(
    vault: &mut Vault,
    remote: &Remote,
    passphrase: &str,
    policy: &KdfPolicy,
) -> Result<LearnedKeys> {
    let ring = account_keys(remote, passphrase, policy).await?;
    vault.learn_keys(&ring)
}

// Account deletion.

/// Deletes the account `remote`'s session belongs to, with everything the
/// server keeps for it, after checking `passphrase`; then `vault` forgets
/// the account and its session ([`Vault::forget_account`]). The notes stay
/// on this device, every one queued again, and wait: with no account
/// nothing syncs until this store registers or logs in somewhere.
///
/// A wrong passphrase is [`KeyError::WrongPassphrase`], found on the device
/// (it does not unwrap the account's key) before the server is asked, and
/// deletes nothing. An account deleted already (from another device) is
/// forgotten here all the same. Returns the account forgotten.
pub async fn delete_account(vault: &mut Vault, remote: &Remote, passphrase: &str) -> Result<Account> {
    delete_account_with(vault, remote, passphrase, &KdfPolicy::default()).await
}

/// [`delete_account`] under another KDF policy (tests with cheap costs).
pub async fn delete_account_with(
    vault: &mut Vault,
    remote: &Remote,
    passphrase: &str,
    policy: &KdfPolicy,
) -> Result<Account> {
    let Some(account) = vault.account()? else {
        return Err(Error::Invalid("this store has no account to delete".into()));
    };
    delete_on_server(remote, passphrase, policy).await?;
    vault.forget_account()?;
    Ok(account)
}

/// The server half of [`delete_account_with`], with no vault: the app
/// runs it without holding the store (saves never wait on the server),
/// then calls [`Vault::forget_account`]. Checks `passphrase` against the
/// account's wrapped key, then sends the deletion with the auth key derived
/// under the account's own parameters. An account deleted already is
/// success: what was asked for is done.
pub async fn delete_on_server(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<()> {
    match prove_and_delete(remote, passphrase, policy).await {
        Ok(()) | Err(Error::Remote(RemoteError::AccountDeleted)) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn prove_and_delete(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<()> {
    let auth_key = passphrase_proof(remote, passphrase, policy).await?;
    match remote.delete_account(auth_key).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_wrong_passphrase() => Err(KeyError::WrongPassphrase.into()),
        Err(e) => Err(e.into()),
    }
}

/// The auth key that proves `passphrase` to the server for the account of
/// `remote`'s session, derived under the account's own parameters, after
/// checking it here: it must unwrap the account's key, so a wrong one is
/// [`KeyError::WrongPassphrase`], costs the server nothing and spends no
/// log-in attempt.
async fn passphrase_proof(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<Vec<u8>> {
    Ok(prove_on_device(remote, passphrase, policy).await?.auth)
}

/// What checking a passphrase on the device against the account's key
/// gives: the wrapped key as the server holds it now, the auth key that
/// proves the passphrase, and the data keys it unwrapped.
struct Proven {
    wrapped_key: Vec<u8>,
    auth: Vec<u8>,
    ring: KeyRing,
}

/// Reads the account's wrapped key and parameters, checks the parameters
/// against `policy` before deriving anything (the server could be
/// hostile), and unwraps the key with `passphrase`: a wrong one is
/// [`KeyError::WrongPassphrase`], found here.
async fn prove_on_device(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<Proven> {
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase.into());
    }
    let account = remote.account_key().await?;
    let kdf: AccountKdf = serde_json::from_slice(&account.kdf_params.0)
        .map_err(|e| Error::Corrupt(format!("the server's key parameters for this account: {e}")))?;
    policy.check(&kdf.kdf)?;
    let derived = keys::derive_account_keys(passphrase, &kdf.kdf)?;
    let ring = keys::unwrap_ring(&derived.wrap, KeyId(kdf.key_id), &account.wrapped_key.0)?;
    Ok(Proven { wrapped_key: account.wrapped_key.0, auth: derived.auth.to_vec(), ring })
}

// Two-factor log-in (TOTP, RFC 6238). The server keeps the secret and
// checks the codes; the device only relays them.

/// Starts turning on two-factor log-in for the account of `remote`'s
/// session, after checking `passphrase` (as [`delete_account`] does): the
/// server makes a secret and returns it (base32 and `otpauth://` URI) for
/// the user's authenticator app. Nothing is asked at log-in until
/// [`totp_enable`] confirms a code. A wrong passphrase is
/// [`KeyError::WrongPassphrase`]; an account that has it on already is
/// [`RemoteError::is_totp_already_enabled`].
pub async fn totp_setup(remote: &Remote, passphrase: &str, policy: &KdfPolicy) -> Result<TotpSetupResponse> {
    let auth_key = passphrase_proof(remote, passphrase, policy).await?;
    match remote.totp_setup(auth_key).await {
        Ok(setup) => Ok(setup),
        Err(e) if e.is_wrong_passphrase() => Err(KeyError::WrongPassphrase.into()),
        Err(e) => Err(e.into()),
    }
}

/// Turns two-factor log-in on, with a current code of the secret
/// [`totp_setup`] gave. A wrong code is [`RemoteError::TotpInvalid`].
pub async fn totp_enable(remote: &Remote, code: &str) -> Result<()> {
    Ok(remote.totp_enable(code).await?)
}

/// Turns two-factor log-in off, given the passphrase and a current code.
/// A wrong passphrase is [`KeyError::WrongPassphrase`], a wrong code
/// [`RemoteError::TotpInvalid`]; either way nothing changed.
pub async fn totp_disable(remote: &Remote, passphrase: &str, code: &str, policy: &KdfPolicy) -> Result<()> {
    let auth_key = passphrase_proof(remote, passphrase, policy).await?;
    match remote.totp_disable(auth_key, code).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_wrong_passphrase() => Err(KeyError::WrongPassphrase.into()),
        Err(e) => Err(e.into()),
    }
}
