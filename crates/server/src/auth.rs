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
        let user_id = state.backend.session_user(&token_hash, crate::now_ms()).await?.ok_or(ApiError::InvalidToken)?;
        Ok(AuthUser { user_id, token_hash })
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
