//! Where the data key (DEK) lives, behind one seam: [`KeyStore`].
//!
//! - [`KeyringStore`]: the OS keyring (Secret Service, Keychain, Credential
//!   Manager). The key never touches the database.
//! - [`PassphraseStore`]: the DEK wrapped (AES-256-GCM) under a key derived
//!   from a passphrase with Argon2id and HKDF, and stored wrapped in the
//!   database's `keys` table. The same derivation gives a separate auth key
//!   for the sync server ([`AccountKeys`]).
//! - [`MemoryStore`]: a map in memory, for tests.
//!
//! Every store row also holds a check blob sealed with the DEK; an unlocked
//! key that does not open it is refused, so a keyring that hands back the
//! wrong key (a changed backend, another profile) fails closed instead of
//! writing notes under a key nobody else has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{DataKey, KeyId, KeyRing};

/// How a store's data key is unlocked. Stored in `keys.method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Keyring,
    Passphrase,
    Memory,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Keyring => "keyring",
            Method::Passphrase => "passphrase",
            Method::Memory => "memory",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keyring" => Some(Method::Keyring),
            "passphrase" => Some(Method::Passphrase),
            "memory" => Some(Method::Memory),
            _ => None,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the database keeps for one unlock method (a `keys` row, less the
/// check blob, which the store handles).
#[derive(Clone, Debug, Default)]
pub struct Slot {
    /// The DEK wrapped by a passphrase-derived key (`nonce | ct | tag`).
    pub wrapped: Option<Vec<u8>>,
    /// JSON [`KdfParams`].
    pub kdf: Option<String>,
}

/// Why a key could not be had. Every variant fails closed: the store is
/// never recreated and nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("wrong passphrase for this store (nothing was changed; try again)")]
    WrongPassphrase,
    #[error("the OS keyring is not available ({0}); set OUTPOST_PASSPHRASE or use a passphrase-protected store")]
    KeyringUnavailable(String),
    #[error(
        "the OS keyring has no key for this store (was the keyring reset, or the store copied from another machine?). \
         Nothing was changed. Restore the keyring, or open the store on a device that has its key"
    )]
    KeyringEntryMissing,
    #[error("the unlocked key is not this store's key (the keyring returned a different key). Nothing was changed")]
    WrongKey,
    #[error("the stored key data is damaged: {0}")]
    Corrupt(String),
    #[error("passphrase must not be empty")]
    EmptyPassphrase,
    /// A new passphrase (a change of passphrase) shorter than
    /// [`MIN_NEW_PASSPHRASE_CHARS`].
    #[error("the new passphrase is too short: use at least {min} characters (nothing was changed)")]
    PassphraseTooShort { min: usize },
    /// A change of passphrase whose current passphrase is wrong: it does
    /// not open the account's key, or the server refused its proof.
    #[error("the current passphrase is wrong (nothing was changed; try again)")]
    WrongCurrentPassphrase,
    /// Key-derivation parameters outside [`KdfPolicy`]: refused before any
    /// derivation, so a hostile server can neither make the passphrase
    /// cheap to guess nor stall or exhaust the device.
    #[error(
        "the server asked for a key derivation {0}. Nothing was derived or sent: a server that lowers the cost \
         could make your passphrase cheap to guess, and one that raises it without bound could stall this device. \
         Check that this is your server"
    )]
    UnsafeKdf(String),
    /// A rotation past the most keys the account's key ring holds on the
    /// server ([`MAX_OLD_KEYS`] older keys).
    #[error(
        "the account's data key was rotated {max} times already, the most its key ring holds (every old key is \
         kept so old versions stay readable); nothing was changed"
    )]
    TooManyKeys { max: usize },
}

/// The fewest characters a new passphrase may have when changing one.
/// (Registration takes any non-empty one, as it always has; the app's form
/// asks for more.)
pub const MIN_NEW_PASSPHRASE_CHARS: usize = 8;

/// Whether `new` may become the passphrase: not empty, at least
/// [`MIN_NEW_PASSPHRASE_CHARS`] characters.
pub fn check_new_passphrase(new: &str) -> Result<(), KeyError> {
    if new.is_empty() {
        return Err(KeyError::EmptyPassphrase);
    }
    if new.chars().count() < MIN_NEW_PASSPHRASE_CHARS {
        return Err(KeyError::PassphraseTooShort { min: MIN_NEW_PASSPHRASE_CHARS });
    }
    Ok(())
}

/// Unlocks or enrols a store's data key.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    fn method(&self) -> Method;
    /// Keep `key` for store `vault_id`; returns what the database must hold.
    fn enroll(&self, vault_id: &str, key: &DataKey) -> Result<Slot, KeyError>;
    /// Unlock key `key_id` of store `vault_id` from its `slot`.
    fn unlock(&self, vault_id: &str, key_id: KeyId, slot: &Slot) -> Result<DataKey, KeyError>;
}

/// In-memory keys, shared between clones: a test double.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore(Arc<Mutex<HashMap<String, [u8; 32]>>>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every key held, raw: lets tests search files for key material.
    pub fn raw_keys(&self) -> Vec<[u8; 32]> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).values().copied().collect()
    }
}

impl KeyStore for MemoryStore {
    fn method(&self) -> Method {
        Method::Memory
    }
    fn enroll(&self, vault_id: &str, key: &DataKey) -> Result<Slot, KeyError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(vault_id.to_owned(), *key.expose());
        Ok(Slot::default())
    }
    fn unlock(&self, vault_id: &str, key_id: KeyId, _slot: &Slot) -> Result<DataKey, KeyError> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(vault_id).map(|b| DataKey::from_parts(key_id, *b)).ok_or(KeyError::KeyringEntryMissing)
    }
}

/// The OS keyring. Entry: service `outpost`, user `store:<vault id>`.
#[derive(Debug, Default, Clone)]
pub struct KeyringStore;

impl KeyringStore {
    const SERVICE: &'static str = "outpost";

    fn entry(vault_id: &str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(Self::SERVICE, &format!("store:{vault_id}")).map_err(map_keyring_err)
    }

    /// Whether a usable keyring is reachable: a throw-away probe entry is
    /// written, read back and deleted.
    pub fn probe() -> Result<(), KeyError> {
        let entry = keyring::Entry::new(Self::SERVICE, "probe").map_err(map_keyring_err)?;
        entry.set_secret(b"probe").map_err(map_keyring_err)?;
        let back = entry.get_secret().map_err(map_keyring_err)?;
        let _ = entry.delete_credential();
        if back == b"probe" {
            Ok(())
        } else {
            Err(KeyError::KeyringUnavailable("the keyring did not return what was stored".into()))
        }
    }
}

fn map_keyring_err(e: keyring::Error) -> KeyError {
    match e {
        keyring::Error::NoEntry => KeyError::KeyringEntryMissing,
        other => KeyError::KeyringUnavailable(other.to_string()),
    }
}

impl KeyStore for KeyringStore {
    fn method(&self) -> Method {
        Method::Keyring
    }
    fn enroll(&self, vault_id: &str, key: &DataKey) -> Result<Slot, KeyError> {
        Self::entry(vault_id)?.set_secret(key.expose()).map_err(map_keyring_err)?;
        Ok(Slot::default())
    }
    fn unlock(&self, vault_id: &str, key_id: KeyId, _slot: &Slot) -> Result<DataKey, KeyError> {
        let secret = Zeroizing::new(Self::entry(vault_id)?.get_secret().map_err(map_keyring_err)?);
        let bytes: [u8; 32] = secret.as_slice().try_into().map_err(|_| KeyError::WrongKey)?;
        Ok(DataKey::from_parts(key_id, bytes))
    }
}

/// Argon2id cost and salt, stored beside the wrapped key so the cost can be
/// raised later without breaking old stores.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KdfParams {
    pub alg: String,
    /// Memory in KiB.
    pub m: u32,
    pub t: u32,
    pub p: u32,
    /// Hex-encoded random salt.
    pub salt: String,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: above OWASP's Argon2id minimum
    /// (19 MiB, 2 passes), about a quarter of a second here.
    pub fn recommended() -> Self {
        Self::with_cost(64 * 1024, 3, 1)
    }

    /// Cheap parameters for tests only.
    pub fn insecure_for_tests() -> Self {
        Self::with_cost(256, 1, 1)
    }

    pub fn with_cost(m: u32, t: u32, p: u32) -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self { alg: "argon2id-v19".into(), m, t, p, salt: hex(&salt) }
    }
}

/// The Argon2id costs a device accepts from a server at log-in (the
/// server keeps them opaque beside the wrapped key, so it could send any).
/// The floor is OWASP's Argon2id minimum (19 MiB, 2 passes); Outpost
/// registers with more ([`KdfParams::recommended`]). The ceiling keeps a
/// phone from being made to allocate or compute without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfPolicy {
    /// Memory in KiB, at least and at most.
    pub min_m: u32,
    pub max_m: u32,
    /// Passes, at least and at most.
    pub min_t: u32,
    pub max_t: u32,
    /// Lanes at most.
    pub max_p: u32,
}

impl Default for KdfPolicy {
    fn default() -> Self {
        Self { min_m: 19 * 1024, max_m: 1024 * 1024, min_t: 2, max_t: 16, max_p: 16 }
    }
}

/// Salts shorter than this make precomputation cheap; longer ones are
/// someone's mistake or a probe.
const SALT_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

impl KdfPolicy {
    /// Accepts the cheap parameters of [`KdfParams::insecure_for_tests`].
    /// Tests and benchmarks only: a real device uses the default.
    pub fn insecure_for_tests() -> Self {
        Self { min_m: 8, min_t: 1, ..Self::default() }
    }

    /// Whether `params` are within bounds; says which one is not.
    pub fn check(&self, params: &KdfParams) -> Result<(), KeyError> {
        let fail = |what: String| Err(KeyError::UnsafeKdf(what));
        if params.alg != "argon2id-v19" {
            return fail(format!("of an unknown kind ({:?}; Outpost uses argon2id-v19)", params.alg));
        }
        if params.m < self.min_m {
            return fail(format!("with {} KiB of memory; Outpost requires at least {} KiB", params.m, self.min_m));
        }
        if params.m > self.max_m {
            return fail(format!("with {} KiB of memory; Outpost allows at most {} KiB", params.m, self.max_m));
        }
        if params.t < self.min_t {
            return fail(format!("with {} passes; Outpost requires at least {}", params.t, self.min_t));
        }
        if params.t > self.max_t {
            return fail(format!("with {} passes; Outpost allows at most {}", params.t, self.max_t));
        }
        if params.p == 0 || params.p > self.max_p {
            return fail(format!("with {} lanes; Outpost allows 1 to {}", params.p, self.max_p));
        }
        let salt = unhex(&params.salt).map(|s| s.len()).unwrap_or(0);
        if !SALT_BYTES.contains(&salt) {
            return fail(format!("with a {salt}-byte salt; Outpost requires 16 to 64 bytes"));
        }
        Ok(())
    }
}

/// The two keys one passphrase gives: one wraps the DEK, one proves the
/// user to the sync server. Neither can be computed from the other.
pub struct AccountKeys {
    pub wrap: Zeroizing<[u8; 32]>,
    pub auth: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountKeys(<redacted>)")
    }
}

/// Argon2id over the passphrase, then HKDF-SHA256 into two keys.
pub fn derive_account_keys(passphrase: &str, params: &KdfParams) -> Result<AccountKeys, KeyError> {
    if params.alg != "argon2id-v19" {
        return Err(KeyError::Corrupt(format!("unknown key derivation {:?}", params.alg)));
    }
    let salt = unhex(&params.salt).ok_or_else(|| KeyError::Corrupt("salt is not hex".into()))?;
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m, params.t, params.p, Some(32)).map_err(|e| KeyError::Corrupt(e.to_string()))?,
    );
    let mut master = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), &salt, master.as_mut())
        .map_err(|e| KeyError::Corrupt(e.to_string()))?;
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, master.as_ref());
    let mut wrap = Zeroizing::new([0u8; 32]);
    let mut auth = Zeroizing::new([0u8; 32]);
    hk.expand(b"outpost v1 wrap data key", wrap.as_mut()).map_err(|e| KeyError::Corrupt(e.to_string()))?;
    hk.expand(b"outpost v1 server auth", auth.as_mut()).map_err(|e| KeyError::Corrupt(e.to_string()))?;
    Ok(AccountKeys { wrap, auth })
}

fn wrap_aad(key_id: KeyId) -> [u8; 16] {
    let mut aad = *b"outpost-dek-\0\0\0\0";
    aad[12..].copy_from_slice(&key_id.0.to_be_bytes());
    aad
}

/// Seal `key` under `wrap`: `nonce (12) | ciphertext | tag (16)`.
pub fn wrap_key(wrap: &[u8; 32], key: &DataKey) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(wrap.into());
    let aad = wrap_aad(key.id());
    let mut out = nonce.to_vec();
    // Encrypting 32 bytes cannot exceed AES-GCM's length limit.
    if let Ok(ct) = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: key.expose(), aad: &aad }) {
        out.extend_from_slice(&ct);
    }
    out
}

/// Open a key sealed by [`wrap_key`]; a wrong passphrase fails here.
pub fn unwrap_key(wrap: &[u8; 32], key_id: KeyId, wrapped: &[u8]) -> Result<DataKey, KeyError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(KeyError::Corrupt("wrapped key has the wrong length".into()));
    }
    let cipher = Aes256Gcm::new(wrap.into());
    let aad = wrap_aad(key_id);
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&wrapped[..12]), Payload { msg: &wrapped[12..], aad: &aad })
            .map_err(|_| KeyError::WrongPassphrase)?,
    );
    let bytes: [u8; 32] = pt.as_slice().try_into().map_err(|_| KeyError::Corrupt("bad key length".into()))?;
    Ok(DataKey::from_parts(key_id, bytes))
}

// A key ring for the server: after a data-key rotation the account's
// wrapped key is the current key wrapped as above (60 bytes), followed by
// each older key sealed under the current one:
//
//     key id (4, BE) | nonce (12) | ciphertext (32) | tag (16)
//
// so the passphrase opens the current key, and the current key the old
// ones; a holder of an old key learns nothing of the newer ones.

/// Bytes of a key wrapped by [`wrap_key`] or sealed by [`seal_key_under`].
const WRAPPED_LEN: usize = 12 + 32 + 16;
/// Bytes of one old key in a wrapped key ring.
const RING_ENTRY_LEN: usize = 4 + WRAPPED_LEN;
/// The most bytes a wrapped key may have on the server (its limit).
pub const MAX_WRAPPED_RING_BYTES: usize = 4096;
/// The most older keys a wrapped ring holds within that limit (63).
pub const MAX_OLD_KEYS: usize = (MAX_WRAPPED_RING_BYTES - WRAPPED_LEN) / RING_ENTRY_LEN;

fn old_key_aad(key_id: KeyId, under: KeyId) -> [u8; 24] {
    let mut aad = *b"outpost-old-key-\0\0\0\0\0\0\0\0";
    aad[16..20].copy_from_slice(&key_id.0.to_be_bytes());
    aad[20..].copy_from_slice(&under.0.to_be_bytes());
    aad
}

/// Seal data key `key` under data key `under`: `nonce (12) | ciphertext |
/// tag (16)`, bound to both ids.
pub fn seal_key_under(under: &DataKey, key: &DataKey) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(under.expose().into());
    let aad = old_key_aad(key.id(), under.id());
    let mut out = nonce.to_vec();
    // Encrypting 32 bytes cannot exceed AES-GCM's length limit.
    if let Ok(ct) = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: key.expose(), aad: &aad }) {
        out.extend_from_slice(&ct);
    }
    out
}

/// Open data key `key_id` sealed by [`seal_key_under`] under `under`.
pub fn open_key_under(under: &DataKey, key_id: KeyId, sealed: &[u8]) -> Result<DataKey, KeyError> {
    if sealed.len() != WRAPPED_LEN {
        return Err(KeyError::Corrupt("a sealed data key has the wrong length".into()));
    }
    let cipher = Aes256Gcm::new(under.expose().into());
    let aad = old_key_aad(key_id, under.id());
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(&sealed[..12]), Payload { msg: &sealed[12..], aad: &aad })
            .map_err(|_| KeyError::Corrupt(format!("data key {:08x} does not open under its key", key_id.0)))?,
    );
    let bytes: [u8; 32] = pt.as_slice().try_into().map_err(|_| KeyError::Corrupt("bad key length".into()))?;
    Ok(DataKey::from_parts(key_id, bytes))
}

/// `ring` for the server: its current key wrapped under `wrap` (a
/// passphrase-derived key), then each older key sealed under the current
/// one. A ring without old keys is exactly [`wrap_key`]'s output.
pub fn wrap_ring(wrap: &[u8; 32], ring: &KeyRing) -> Result<Vec<u8>, KeyError> {
    if ring.others().len() > MAX_OLD_KEYS {
        return Err(KeyError::TooManyKeys { max: MAX_OLD_KEYS });
    }
    let mut out = wrap_key(wrap, ring.current());
    for old in ring.others() {
        out.extend_from_slice(&old.id().0.to_be_bytes());
        out.extend_from_slice(&seal_key_under(ring.current(), old));
    }
    Ok(out)
}

/// Open a ring made by [`wrap_ring`] (or a single key made by
/// [`wrap_key`]) whose current key is `key_id`. A wrong passphrase fails
/// here; so does a ring whose old keys do not open under its current key.
pub fn unwrap_ring(wrap: &[u8; 32], key_id: KeyId, wrapped: &[u8]) -> Result<KeyRing, KeyError> {
    if wrapped.len() < WRAPPED_LEN || !(wrapped.len() - WRAPPED_LEN).is_multiple_of(RING_ENTRY_LEN) {
        return Err(KeyError::Corrupt("wrapped key has the wrong length".into()));
    }
    let mut ring = KeyRing::new(unwrap_key(wrap, key_id, &wrapped[..WRAPPED_LEN])?);
    for entry in wrapped[WRAPPED_LEN..].chunks_exact(RING_ENTRY_LEN) {
        let id = KeyId(u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]));
        let old = open_key_under(ring.current(), id, &entry[4..])?;
        if !ring.insert(old) {
            return Err(KeyError::Corrupt(format!("the account's key ring holds key {:08x} twice", id.0)));
        }
    }
    Ok(ring)
}

/// A passphrase that unwraps the DEK kept (wrapped) in the database.
pub struct PassphraseStore {
    passphrase: Zeroizing<String>,
    /// Cost for newly enrolled keys; unlocking uses the stored parameters.
    new_params: fn() -> KdfParams,
}

impl std::fmt::Debug for PassphraseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PassphraseStore(<redacted>)")
    }
}

impl PassphraseStore {
    pub fn new(passphrase: impl Into<String>) -> Result<Self, KeyError> {
        Self::with_params(passphrase, KdfParams::recommended)
    }

    pub fn with_params(passphrase: impl Into<String>, new_params: fn() -> KdfParams) -> Result<Self, KeyError> {
        let passphrase = Zeroizing::new(passphrase.into());
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        Ok(Self { passphrase, new_params })
    }
}

impl KeyStore for PassphraseStore {
    fn method(&self) -> Method {
        Method::Passphrase
    }
    fn enroll(&self, _vault_id: &str, key: &DataKey) -> Result<Slot, KeyError> {
        let params = (self.new_params)();
        let keys = derive_account_keys(&self.passphrase, &params)?;
        let kdf = serde_json::to_string(&params).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        Ok(Slot { wrapped: Some(wrap_key(&keys.wrap, key)), kdf: Some(kdf) })
    }
    fn unlock(&self, _vault_id: &str, key_id: KeyId, slot: &Slot) -> Result<DataKey, KeyError> {
        let (Some(wrapped), Some(kdf)) = (&slot.wrapped, &slot.kdf) else {
            return Err(KeyError::Corrupt("passphrase slot without a wrapped key".into()));
        };
        let params: KdfParams = serde_json::from_str(kdf).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        let keys = derive_account_keys(&self.passphrase, &params)?;
        unwrap_key(&keys.wrap, key_id, wrapped)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kdf_policy_bounds_every_cost() {
        let p = KdfPolicy::default();
        assert!(p.check(&KdfParams::recommended()).is_ok());
        assert!(p.check(&KdfParams::insecure_for_tests()).is_err());
        assert!(KdfPolicy::insecure_for_tests().check(&KdfParams::insecure_for_tests()).is_ok());
        let base = KdfParams::recommended();
        for bad in [
            KdfParams { m: 19 * 1024 - 1, ..base.clone() },
            KdfParams { m: 1024 * 1024 + 1, ..base.clone() },
            KdfParams { t: 1, ..base.clone() },
            KdfParams { t: 17, ..base.clone() },
            KdfParams { p: 0, ..base.clone() },
            KdfParams { p: 17, ..base.clone() },
            KdfParams { salt: "00".repeat(15), ..base.clone() },
            KdfParams { salt: "00".repeat(65), ..base.clone() },
            KdfParams { salt: "not hex".into(), ..base.clone() },
            KdfParams { alg: "scrypt".into(), ..base.clone() },
        ] {
            assert!(matches!(p.check(&bad), Err(KeyError::UnsafeKdf(_))), "{bad:?}");
        }
        assert!(p.check(&KdfParams { m: 19 * 1024, t: 2, p: 1, ..base }).is_ok(), "the floor itself is allowed");
    }

    use super::*;

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let key = DataKey::generate();
        let good = PassphraseStore::with_params("correct horse", KdfParams::insecure_for_tests).expect("store");
        let slot = good.enroll("v", &key).expect("enroll");
        let back = good.unlock("v", key.id(), &slot).expect("unlock");
        assert_eq!(back.expose(), key.expose());
        let bad = PassphraseStore::with_params("battery staple", KdfParams::insecure_for_tests).expect("store");
        assert!(matches!(bad.unlock("v", key.id(), &slot), Err(KeyError::WrongPassphrase)));
    }

    #[test]
    fn wrap_and_auth_keys_differ_and_depend_on_salt() {
        let p1 = KdfParams::insecure_for_tests();
        let p2 = KdfParams::insecure_for_tests();
        let a = derive_account_keys("pw", &p1).expect("derive");
        let b = derive_account_keys("pw", &p2).expect("derive");
        assert_ne!(*a.wrap, *a.auth);
        assert_ne!(*a.wrap, *b.wrap);
        let again = derive_account_keys("pw", &p1).expect("derive");
        assert_eq!(*a.wrap, *again.wrap);
    }

    #[test]
    fn a_new_passphrase_needs_eight_characters() {
        assert!(matches!(check_new_passphrase(""), Err(KeyError::EmptyPassphrase)));
        assert!(matches!(check_new_passphrase("seven77"), Err(KeyError::PassphraseTooShort { min: 8 })));
        // Characters, not bytes: seven of them in fourteen bytes is short.
        assert!(matches!(check_new_passphrase("ééééééé"), Err(KeyError::PassphraseTooShort { .. })));
        assert!(check_new_passphrase("eight888").is_ok());
        assert!(check_new_passphrase("éééééééé").is_ok());
    }

    #[test]
    fn a_wrapped_ring_opens_with_every_key_and_a_lone_key_is_a_ring_of_one() {
        let wrap = [9u8; 32];
        let (k1, k2, k3) = (DataKey::generate(), DataKey::generate(), DataKey::generate());
        let lone = wrap_key(&wrap, &k1);
        let one = unwrap_ring(&wrap, k1.id(), &lone).expect("a lone key");
        assert!(one.contains(&k1) && one.others().is_empty());
        let mut ring = KeyRing::new(k3.clone());
        assert!(ring.insert(k1.clone()) && ring.insert(k2.clone()));
        let wrapped = wrap_ring(&wrap, &ring).expect("wrap");
        assert_eq!(wrapped.len(), WRAPPED_LEN + 2 * RING_ENTRY_LEN);
        let back = unwrap_ring(&wrap, k3.id(), &wrapped).expect("unwrap");
        assert_eq!(back.current().id(), k3.id());
        assert!(back.contains(&k1) && back.contains(&k2) && back.contains(&k3));
        assert!(matches!(unwrap_ring(&[8u8; 32], k3.id(), &wrapped), Err(KeyError::WrongPassphrase)));
        let mut tampered = wrapped.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(unwrap_ring(&wrap, k3.id(), &tampered), Err(KeyError::Corrupt(_))));
        assert!(matches!(unwrap_ring(&wrap, k3.id(), &wrapped[..wrapped.len() - 1]), Err(KeyError::Corrupt(_))));
        // A full ring fits the server's limit; one more key does not.
        let mut full = KeyRing::new(DataKey::generate());
        while full.others().len() < MAX_OLD_KEYS {
            full.insert(DataKey::generate());
        }
        assert!(wrap_ring(&wrap, &full).expect("a full ring").len() <= MAX_WRAPPED_RING_BYTES);
        full.insert(DataKey::generate());
        assert!(matches!(wrap_ring(&wrap, &full), Err(KeyError::TooManyKeys { max: 63 })));
    }

    #[test]
    fn empty_passphrase_is_refused() {
        assert!(matches!(PassphraseStore::new(""), Err(KeyError::EmptyPassphrase)));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
