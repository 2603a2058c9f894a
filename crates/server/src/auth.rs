//! Credentials and sessions: the Argon2id hash of the client's auth key,
//! random bearer tokens kept as SHA-256, the `AuthUser` extractor that
//! scopes every authenticated handler to one user id, and the in-memory
//! log-in rate limiter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;
use crate::AppState;

/// Bytes of randomness in a session token and a log-in challenge.
pub const TOKEN_BYTES: usize = 32;

/// A new session token (to hand out once) and its hash (to store).
pub fn new_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

/// Sessions are looked up by this: a leaked sessions table logs no one in.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn new_challenge() -> Vec<u8> {
    let mut raw = vec![0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    raw
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts` under `key` (at most
/// one SHA-256 block, 64 bytes). By hand over `sha2`, to add no dependency
/// for twenty lines; checked against RFC 4231's vectors below.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    debug_assert!(key.len() <= 64, "longer keys are hashed first; none here is");
    let mut block = [0u8; 64];
    block[..key.len().min(64)].copy_from_slice(&key[..key.len().min(64)]);
    let mut inner = Sha256::new().chain_update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    Sha256::new().chain_update(block.map(|b| b ^ 0x5c)).chain_update(inner.finalize()).finalize().into()
}

/// The server secret (`server_secrets` row) that keys decoy parameters.
pub const DECOY_SECRET: &str = "login_decoy";

/// What `login/start` hands out for a username with no account: KDF
/// parameters shaped exactly like those an Outpost device registers
/// (`AccountKdf` in `crates/core/src/account.rs`: JSON, fields in that
/// order, the recommended cost of 64 MiB and 3 passes, a random 32-bit key
/// id and a 16-byte hex salt), with the key id and salt taken from
/// HMAC(server secret, username). So the answer is the same on every call
/// and every instance, across restarts, and cannot be told from a real
/// account's without the secret. A change to the device's format must be
/// made here too, or unknown names show again.
pub fn decoy_kdf_params(secret: &[u8; 32], username: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct AccountKdf {
        key_id: u32,
        kdf: KdfParams,
    }
    #[derive(serde::Serialize)]
    struct KdfParams {
        alg: &'static str,
        m: u32,
        t: u32,
        p: u32,
        salt: String,
    }
    let mac = hmac_sha256(secret, &[b"outpost login decoy v1\0", username.as_bytes()]);
    let key_id = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]);
    let salt = mac[4..20].iter().map(|b| format!("{b:02x}")).collect();
    let params = AccountKdf { key_id, kdf: KdfParams { alg: "argon2id-v19", m: 64 * 1024, t: 3, p: 1, salt } };
    // Plain integers and strings: encoding cannot fail.
    serde_json::to_vec(&params).unwrap_or_default()
}

/// An Argon2id PHC string of a random key nobody knows, in the same
/// parameters as every stored hash (the crate's defaults): a log-in for a
/// name with no account verifies against it, so it takes as long as a
/// wrong passphrase and fails the same way.
pub const DECOY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$+MAAPWjnXruDu6roeagRig$LiJEeonskwUlSY/ly1m6t/xsN/vJzQljKjfLXWPXhIE";

/// Argon2id runs at most this many at once: one per core, at most 8. Each
/// takes 19 MiB and a core for tens of milliseconds; unbounded, a burst of
/// log-ins (100 devices at once in the soak test) ran dozens side by side,
/// starved other requests, and left the allocator holding over a gigabyte.
static KDF_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()).min(8)));

/// Run a key derivation (`hash_auth_key`, `verify_auth_key`) on the blocking
/// pool once a slot is free; requests beyond the slots wait their turn.
pub async fn run_kdf<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let _slot = KDF_SLOTS.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) of the auth key, as a
/// PHC string. Slow on purpose: run it on the blocking pool.
pub fn hash_auth_key(auth_key: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(auth_key, &salt)?.to_string())
}

/// Whether `auth_key` matches the stored PHC string. Constant-time compare
/// inside the argon2 crate.
pub fn verify_auth_key(auth_key: &[u8], phc: &str) -> Result<bool, argon2::password_hash::Error> {
    let parsed = PasswordHash::new(phc)?;
    match Argon2::default().verify_password(auth_key, &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The user a request's bearer token belongs to. Handlers that take this
/// can only name that user's data: the id comes from the session, never
/// from the request.
#[derive(Clone, Copy, Debug)]
pub struct AuthUser {
    pub user_id: Uuid,
    /// For log-out. A hash, so logging this struct cannot leak the token.
    pub token_hash: [u8; 32],
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(AUTHORIZATION).ok_or(ApiError::MissingToken)?;
        let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(ApiError::MissingToken)?
            .trim();
        // Cheap shape check before touching the database.
        if token.len() != 43 {
            return Err(ApiError::InvalidToken);
        }
        let token_hash = token_hash(token);
        let session = state.backend.session_user(&token_hash, crate::now_ms()).await?.ok_or(ApiError::InvalidToken)?;
        Ok(AuthUser { user_id: session.user_id, token_hash })
    }
}

/// Which budget an attempt draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attempt {
    /// `POST /v1/login/start` and `POST /v1/login`, per username and address.
    Login,
    /// `POST /v1/register`, per address (each one costs an Argon2id hash).
    Register,
}

/// A sliding-window limiter of attempts per (kind, username, address).
///
/// In memory, per instance: behind a load balancer with N instances the
/// effective limit is up to N times the configured one. Good enough to stop
/// online guessing (the auth key is a high-entropy derived key, so guessing
/// it is hopeless anyway; this mostly guards the Argon2id CPU cost).
#[derive(Debug)]
pub struct RateLimiter {
    max_attempts: u32,
    window: Duration,
    attempts: Mutex<HashMap<(Attempt, String, IpAddr), Vec<Instant>>>,
}

/// Past this many tracked keys, stale ones are swept on the next attempt.
const SWEEP_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(max_attempts: u32, window: Duration) -> Self {
        Self { max_attempts, window, attempts: Mutex::new(HashMap::new()) }
    }

    /// Records an attempt, or refuses it with the seconds until one is
    /// allowed again.
    pub fn check(&self, kind: Attempt, username: &str, ip: IpAddr) -> Result<(), ApiError> {
        let now = Instant::now();
        let window = self.window;
        // A poisoned lock only means another request panicked mid-update;
        // the map is still usable.
        let mut map = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, v| v.last().is_some_and(|t| now.duration_since(*t) < window));
        }
        let entry = map.entry((kind, username.to_owned(), ip)).or_default();
        entry.retain(|t| now.duration_since(*t) < window);
        if entry.len() >= self.max_attempts as usize {
            let oldest = entry.first().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Err(ApiError::RateLimited { retry_after_secs: wait.as_secs().max(1) });
        }
        entry.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_key_hash_verifies_only_the_key() {
        let phc = hash_auth_key(b"0123456789abcdef0123456789abcdef").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_auth_key(b"0123456789abcdef0123456789abcdef", &phc).expect("verify"));
        assert!(!verify_auth_key(b"0123456789abcdef0123456789abcdeX", &phc).expect("verify"));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let hex = |b: [u8; 32]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        // Test cases 1 and 2.
        assert_eq!(
            hex(hmac_sha256(&[0x0b; 20], &[b"Hi ", b"There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn decoys_are_stable_per_name_and_secret_and_shaped_like_a_device_s() {
        let secret = [7u8; 32];
        let a = decoy_kdf_params(&secret, "alice");
        assert_eq!(a, decoy_kdf_params(&secret, "alice"));
        assert_ne!(a, decoy_kdf_params(&secret, "alicf"));
        assert_ne!(a, decoy_kdf_params(&[8u8; 32], "alice"));
        let text = String::from_utf8(a).expect("UTF-8");
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert!(text.starts_with("{\"key_id\":"), "{text}");
        assert!(text.contains(",\"kdf\":{\"alg\":\"argon2id-v19\",\"m\":65536,\"t\":3,\"p\":1,\"salt\":\""), "{text}");
        assert_eq!(v["kdf"]["salt"].as_str().map(str::len), Some(32));
    }

    #[test]
    fn the_decoy_hash_costs_what_a_real_one_does() {
        let decoy = PasswordHash::new(DECOY_PHC).expect("a PHC string");
        let real = hash_auth_key(b"0123456789abcdef0123456789abcdef").expect("hash");
        let real = PasswordHash::new(&real).expect("a PHC string");
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(decoy.params, real.params);
        assert_eq!(decoy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_auth_key(&[0; 32], DECOY_PHC).expect("verify"));
    }

    #[test]
    fn tokens_are_43_chars_and_hash_stably() {
        let (t, h) = new_token();
        assert_eq!(t.len(), 43);
        assert_eq!(token_hash(&t), h);
        assert_ne!(new_token().0, t);
    }

    #[test]
    fn limiter_refuses_past_the_budget_per_key() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert!(l.check(Attempt::Login, "a", ip).is_ok());
        assert!(l.check(Attempt::Login, "a", ip).is_ok());
        assert!(matches!(l.check(Attempt::Login, "a", ip), Err(ApiError::RateLimited { .. })));
        assert!(l.check(Attempt::Login, "b", ip).is_ok());
        assert!(l.check(Attempt::Register, "a", ip).is_ok());
    }
}
