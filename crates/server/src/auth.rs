//! Credentials and sessions: the Argon2id hash of the client's auth key,
//! random bearer tokens kept as SHA-256, the `AuthUser` extractor that
//! scopes every authenticated handler to one user id, and the in-memory
//! log-in rate limiter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
static KDF_SLOTS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()).min(8))));

/// Argon2id's working memory, one buffer per slot, made on first use and
/// reused ever after. Allocating 19 MiB per hash and freeing it made glibc
/// raise its mmap threshold and keep the freed memory in its arenas, so a
/// burst of log-ins left the process hundreds of MiB larger for good; with
/// reuse the memory is the slots' buffers, whatever the burst.
static KDF_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Working memory for one key derivation, lent by [`run_kdf`].
#[derive(Debug)]
pub struct KdfMemory(Vec<Block>);

impl KdfMemory {
    /// `blocks` blocks of it, grown if a hash asks for more than any before.
    fn blocks(&mut self, blocks: usize) -> &mut [Block] {
        if self.0.len() < blocks {
            self.0.resize(blocks, Block::default());
        }
        &mut self.0[..blocks]
    }
}

/// Run a key derivation (`hash_auth_key`, `verify_auth_key`) on the blocking
/// pool once a slot is free, with the slot's working memory; requests
/// beyond the slots wait their turn. The slot is held by the blocking task,
/// not the request: a request dropped mid-hash (a client gone, a time-out)
/// does not free it for another hash while this one still runs, so there
/// are never more buffers than slots.
pub async fn run_kdf<T: Send + 'static>(f: impl FnOnce(&mut KdfMemory) -> T + Send + 'static) -> Result<T, ApiError> {
    let slot = KDF_SLOTS.clone().acquire_owned().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        // A poisoned lock only means a hash panicked: the list is intact.
        let buffer = KDF_MEMORY.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        let mut memory = KdfMemory(buffer);
        let out = f(&mut memory);
        KDF_MEMORY.lock().unwrap_or_else(|p| p.into_inner()).push(memory.0);
        out
    })
    .await
    .map_err(ApiError::internal)
}

/// Argon2id (the crate's defaults: 19 MiB, 2 passes) of the auth key, as a
/// PHC string. Slow on purpose: run it through [`run_kdf`].
pub fn hash_auth_key(auth_key: &[u8], memory: &mut KdfMemory) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt_b64 = SaltString::encode_b64(&salt)?;
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon.hash_password_into_with_memory(auth_key, &salt, out, memory.blocks(params.block_count()))?)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt_b64.as_salt()),
        hash: Some(hash),
    };
    Ok(phc.to_string())
}

/// Whether `auth_key` matches the stored PHC string, computed in `memory`
/// with the string's own parameters. `Output`'s comparison is constant-time.
pub fn verify_auth_key(
    auth_key: &[u8],
    phc: &str,
    memory: &mut KdfMemory,
) -> Result<bool, argon2::password_hash::Error> {
    let parsed = PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(argon2::password_hash::Error::PhcStringField);
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon.hash_password_into_with_memory(auth_key, salt, out, memory.blocks(params.block_count()))?)
    })?;
    Ok(computed == expected)
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
        let now = crate::now_ms();
        let Some(session) = state.backend.session_user(&token_hash, now).await? else {
            // Only on the refusal path: a token of a deleted account gets
            // its own answer, so its device knows to stop for good.
            if state.backend.session_of_deleted_account(&token_hash, now).await? {
                return Err(ApiError::AccountDeleted);
            }
            return Err(ApiError::InvalidToken);
        };
        // Last seen is written at most once an interval per session: one
        // small write a minute, not one per request. A failure to write it
        // costs a stale time in the listing, never the request.
        let every = i64::try_from(state.config.last_seen_interval.as_millis()).unwrap_or(i64::MAX);
        let stale_before = now.saturating_sub(every);
        if session.last_seen_ms <= stale_before {
            if let Err(e) = state.backend.touch_session(&token_hash, now, stale_before.saturating_add(1)).await {
                tracing::warn!(error = %e, "could not record a session as seen");
            }
        }
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
///
/// O(1) per attempt and bounded memory, however many names an attacker
/// tries: each key keeps two counters (this window's and the last one's,
/// the sliding-window estimate weighs the last by how much of it still
/// overlaps), and keys live in two generations of maps. Every `window`, or
/// sooner when the current generation holds `capacity` keys, the older
/// generation is dropped whole and the current one becomes the older: at
/// most `2 * capacity` keys, and a key used within the last `window` is
/// always still there (unless a flood of new keys filled a generation
/// early, which at worst forgets some budgets sooner: that costs the
/// flooder `capacity` attempts per reset).
#[derive(Debug)]
pub struct RateLimiter {
    max_attempts: u32,
    window: Duration,
    capacity: usize,
    /// Windows are counted from here.
    epoch: Instant,
    state: Mutex<Generations>,
}

type LimitKey = (Attempt, String, IpAddr);

#[derive(Debug)]
struct Generations {
    current: HashMap<LimitKey, Counter>,
    previous: HashMap<LimitKey, Counter>,
    current_since: Instant,
}

/// Attempts of one key in window number `window` and the one before it.
#[derive(Clone, Copy, Debug)]
struct Counter {
    window: u64,
    count: u32,
    before: u32,
}

/// Keys tracked per generation by default: 100,000 keys of at most a
/// 64-byte name come to some tens of MiB in the worst case.
pub const LIMITER_CAPACITY: usize = 100_000;

impl RateLimiter {
    pub fn new(max_attempts: u32, window: Duration) -> Self {
        Self::with_capacity(max_attempts, window, LIMITER_CAPACITY)
    }

    pub fn with_capacity(max_attempts: u32, window: Duration, capacity: usize) -> Self {
        let now = Instant::now();
        Self {
            max_attempts,
            // A zero window would divide by zero below.
            window: window.max(Duration::from_millis(1)),
            capacity: capacity.max(1),
            epoch: now,
            state: Mutex::new(Generations { current: HashMap::new(), previous: HashMap::new(), current_since: now }),
        }
    }

    /// Records an attempt, or refuses it with the seconds until one is
    /// allowed again.
    pub fn check(&self, kind: Attempt, username: &str, ip: IpAddr) -> Result<(), ApiError> {
        self.check_at(kind, username, ip, Instant::now())
    }

    fn check_at(&self, kind: Attempt, username: &str, ip: IpAddr, now: Instant) -> Result<(), ApiError> {
        let window_ms = self.window.as_millis().max(1);
        let since_epoch = now.saturating_duration_since(self.epoch).as_millis();
        let index = u64::try_from(since_epoch / window_ms).unwrap_or(u64::MAX);
        // How far into its window `now` is, 0.0 to 1.0.
        let into = (since_epoch % window_ms) as f64 / window_ms as f64;
        // A poisoned lock only means another request panicked mid-update;
        // the maps are still usable.
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if now.saturating_duration_since(g.current_since) >= self.window || g.current.len() >= self.capacity {
            g.previous = std::mem::take(&mut g.current);
            g.current_since = now;
        }
        let key = (kind, username.to_owned(), ip);
        let mut counter = match g.current.remove(&key) {
            Some(c) => c,
            None => g.previous.remove(&key).unwrap_or(Counter { window: index, count: 0, before: 0 }),
        };
        counter = match index.saturating_sub(counter.window) {
            0 => counter,
            1 => Counter { window: index, count: 0, before: counter.count },
            _ => Counter { window: index, count: 0, before: 0 },
        };
        let estimate = f64::from(counter.before) * (1.0 - into) + f64::from(counter.count);
        let max = f64::from(self.max_attempts);
        let result = if estimate + 1.0 > max {
            // Allowed again once the estimate leaves room for one: where,
            // in windows from this one's start. If this window's count
            // leaves room, once the last one's weight has slid down far
            // enough; if not, in the next window, once this one's has.
            let room = max - 1.0 - f64::from(counter.count);
            let at = if room >= 0.0 {
                1.0 - room / f64::from(counter.before.max(1))
            } else {
                1.0 + (1.0 - (max - 1.0).max(0.0) / f64::from(counter.count.max(1)))
            };
            let wait = self.window.mul_f64((at - into).max(0.0));
            Err(ApiError::RateLimited { retry_after_secs: wait.as_secs().max(1) })
        } else {
            counter.count = counter.count.saturating_add(1);
            Ok(())
        };
        g.current.insert(key, counter);
        result
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.current.len() + g.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_key_hash_verifies_only_the_key() {
        let mut memory = KdfMemory(Vec::new());
        let phc = hash_auth_key(b"0123456789abcdef0123456789abcdef", &mut memory).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_auth_key(b"0123456789abcdef0123456789abcdef", &phc, &mut memory).expect("verify"));
        assert!(!verify_auth_key(b"0123456789abcdef0123456789abcdeX", &phc, &mut memory).expect("verify"));
        // The same as the argon2 crate's own hashing and verification, so
        // hashes stored before the buffers were reused still verify.
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let theirs = Argon2::default()
            .hash_password(b"another key of 32 bytes, or so..", &SaltString::generate(&mut rand::rngs::OsRng))
            .expect("hash")
            .to_string();
        assert!(verify_auth_key(b"another key of 32 bytes, or so..", &theirs, &mut memory).expect("verify"));
        let parsed = PasswordHash::new(&phc).expect("PHC");
        assert!(Argon2::default().verify_password(b"0123456789abcdef0123456789abcdef", &parsed).is_ok());
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
        let mut memory = KdfMemory(Vec::new());
        let real = hash_auth_key(b"0123456789abcdef0123456789abcdef", &mut memory).expect("hash");
        let real = PasswordHash::new(&real).expect("a PHC string");
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.version, real.version);
        assert_eq!(decoy.params, real.params);
        assert_eq!(decoy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert_eq!(decoy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_auth_key(&[0; 32], DECOY_PHC, &mut memory).expect("verify"));
    }

    #[test]
    fn tokens_are_43_chars_and_hash_stably() {
        let (t, h) = new_token();
        assert_eq!(t.len(), 43);
        assert_eq!(token_hash(&t), h);
        assert_ne!(new_token().0, t);
    }

    #[test]
    fn limiter_slides_and_forgets() {
        let minute = Duration::from_secs(60);
        let l = RateLimiter::new(2, minute);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = l.epoch;
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        assert!(l.check_at(Attempt::Login, "a", ip, at(0)).is_ok());
        assert!(l.check_at(Attempt::Login, "a", ip, at(1)).is_ok());
        match l.check_at(Attempt::Login, "a", ip, at(2)) {
            // The next window starts at 60 s, where the last one still
            // weighs in fully; half of it is gone at 90 s.
            Err(ApiError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, 88),
            other => panic!("{other:?}"),
        }
        assert!(l.check_at(Attempt::Login, "a", ip, at(61)).is_err(), "the last window still counts");
        assert!(l.check_at(Attempt::Login, "a", ip, at(91)).is_ok(), "half of it has slid out");
        // Two windows later the key is gone from memory, not only allowed.
        assert!(l.check_at(Attempt::Login, "b", ip, at(95)).is_ok());
        assert_eq!(l.tracked(), 2);
        assert!(l.check_at(Attempt::Login, "c", ip, at(160)).is_ok());
        assert!(l.check_at(Attempt::Login, "c", ip, at(230)).is_ok());
        assert_eq!(l.tracked(), 1, "keys idle for two windows are dropped");
    }

    #[test]
    fn limiter_memory_is_bounded_however_many_names() {
        let l = RateLimiter::with_capacity(3, Duration::from_secs(60), 1000);
        let ip: IpAddr = [10, 0, 0, 1].into();
        // A flood of names within one window.
        for i in 0..10_000 {
            assert!(l.check(Attempt::Login, &format!("name-{i}"), ip).is_ok());
            assert!(l.tracked() <= 2 * 1000, "at most two generations of 1000");
        }
        // A name in use is still limited while the flood goes on, until
        // the flood has filled two generations (its cost).
        for _ in 0..3 {
            assert!(l.check(Attempt::Login, "victim", ip).is_ok());
        }
        assert!(l.check(Attempt::Login, "victim", ip).is_err());
        for i in 0..500 {
            assert!(l.check(Attempt::Login, &format!("more-{i}"), ip).is_ok());
        }
        assert!(l.check(Attempt::Login, "victim", ip).is_err(), "still remembered");
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
