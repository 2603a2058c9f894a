//! The `/v1` handlers and the router that mounts them. Handlers validate,
//! call the backend with the session's user id, and count; they hold no SQL.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use futures_util::Stream;
use outpost_protocol::v1 as p;
use outpost_protocol::v1::{
    AccountKeyResponse, ChangePassphraseRequest, ChangePassphraseResponse, DeleteAccountRequest, HealthResponse,
    LoginRequest, LoginStartRequest, LoginStartResponse, PokeEvent, PullResponse, PushRequest, PushResponse,
    PushResult, RegisterRequest, RevokeOthersResponse, SessionInfo, SessionResponse, SessionToken, SessionsResponse,
    SkipRanges, SnapshotChunk, SnapshotChunkUpload, SnapshotInfo, SnapshotPutResponse, TotpDisableRequest,
    TotpEnableRequest, TotpSetupRequest, TotpSetupResponse, DEVICE_NAME_HEADER, MAX_SKIP_RANGES, MAX_SNAPSHOT_CHUNKS,
    MAX_SNAPSHOT_CHUNK_BYTES, TOTP_CODE_HEADER, TOTP_DIGITS, TOTP_STEP_SECS, VERSION,
};
use outpost_protocol::Hlc;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::auth::{self, Attempt, AuthUser};
use crate::backend::{
    Backend, ChunkPut, FileDeclaration, FileRecord, NewSession, NewUser, PassphraseChange, Poke, SessionEnded,
    SnapshotPut,
};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::wire::{Accept, Reply, Wire};
use crate::{now_ms, totp, AppState};

/// How long a log-in challenge stays valid.
const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Bounds on what registration stores; generous for any sane KDF/wrapping.
const AUTH_KEY_BYTES: std::ops::RangeInclusive<usize> = 16..=128;
const MAX_WRAPPED_KEY_BYTES: usize = 4096;
const MAX_KDF_PARAMS_BYTES: usize = 1024;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/register", post(register))
        .route("/v1/login/start", post(login_start))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/account/key", get(account_key))
        .route("/v1/account/passphrase", post(change_passphrase))
        .route("/v1/account/delete", post(delete_account))
        .route("/v1/account/totp/setup", post(totp_setup))
        .route("/v1/account/totp/enable", post(totp_enable))
        .route("/v1/account/totp/disable", post(totp_disable))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/revoke-others", post(revoke_other_sessions))
        .route("/v1/sessions/{id}", delete(revoke_session))
        .route("/v1/push", post(push))
        .route("/v1/snapshot", get(snapshot_info).post(put_snapshot_chunk))
        .route("/v1/snapshot/{cursor}/{index}", get(snapshot_chunk))
        .route("/v1/pull", get(pull))
        .route("/v1/events", get(events))
        .route("/v1/files", get(list_files))
        .route("/v1/files/{id}", put(declare_file).get(file_status).delete(drop_file))
        .route("/v1/files/{id}/chunks/{index}", put(put_chunk).get(get_chunk))
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics));
    with_error_layers(routes, state)
}

/// Everything around the routes that turns a failure outside a handler
/// into the documented JSON error: unknown paths, wrong methods, oversized
/// heads, slow handlers, panics. What fails before this (a request hyper
/// cannot parse) is answered by hyper itself: see docs/protocol.md,
/// "Errors".
fn with_error_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .layer(middleware::from_fn_with_state(state.clone(), check_head))
        .layer(middleware::from_fn_with_state(state.clone(), count_status))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            // The panic message is not logged: it could quote request data.
            tracing::error!("a request handler panicked");
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        // Spans carry method and path only, never headers (the token).
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Refuses a request head over the configured limits, before any handler
/// or extractor reads it. Tighter than hyper's own (100 headers, about
/// 400 KiB of head, 64 KiB of URI), which answer without a body; a head
/// between the two gets the JSON error.
async fn check_head(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &state.config.limits;
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > limits.max_uri_bytes {
        return ApiError::UriTooLong { limit: limits.max_uri_bytes }.into_response();
    }
    let headers = req.headers();
    // Name, value, and ": " and CRLF, as on the wire.
    let bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if headers.len() > limits.max_headers || bytes > limits.max_header_bytes {
        return ApiError::HeadersTooLarge { count: limits.max_headers, bytes: limits.max_header_bytes }.into_response();
    }
    next.run(req).await
}

/// Bounds the time until a response starts (an event stream's body goes on
/// after it). A slow database or a body trickling in ends as a retryable
/// `503 timeout`; dropping the handler rolls back any transaction it had
/// open, and a push that committed before the limit is safe to resend.
async fn time_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout { secs: limit.as_secs_f64() }.into_response(),
    }
}

async fn count_status(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    state.metrics.record_status(response.status().as_u16());
    response
}

/// `/v2/...` and friends get `unsupported_version`, anything else
/// `not_found`.
async fn fallback(uri: Uri) -> ApiError {
    let first = uri.path().trim_start_matches('/').split('/').next().unwrap_or("");
    let versioned = first.len() > 1 && first.starts_with('v') && first[1..].bytes().all(|b| b.is_ascii_digit());
    if versioned && first != "v1" {
        ApiError::UnsupportedVersion
    } else {
        ApiError::NotFound
    }
}

/// The client's address for rate limiting: the socket peer, or the last
/// `X-Forwarded-For` hop (the one our own proxy appended) when configured
/// to sit behind a proxy.
fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if state.config.trust_forwarded_for {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.ip()
}

fn validate_username(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > outpost_protocol::v1::MAX_USERNAME_BYTES {
        return Err(ApiError::MalformedBody("username must be 1 to 64 bytes".into()));
    }
    if name.chars().any(char::is_control) || name.trim() != name {
        return Err(ApiError::MalformedBody(
            "username must not contain control characters or surrounding spaces".into(),
        ));
    }
    Ok(())
}

fn validate_auth_key(key: &[u8]) -> Result<(), ApiError> {
    if AUTH_KEY_BYTES.contains(&key.len()) {
        Ok(())
    } else {
        Err(ApiError::MalformedBody("auth_key must be 16 to 128 bytes".into()))
    }
}

/// A wrapped data key and its KDF parameters, as registration and a
/// passphrase change store them.
fn validate_wrapping(wrapped_key: &[u8], kdf_params: &[u8]) -> Result<(), ApiError> {
    if wrapped_key.is_empty() || wrapped_key.len() > MAX_WRAPPED_KEY_BYTES {
        return Err(ApiError::MalformedBody("wrapped_key must be 1 to 4096 bytes".into()));
    }
    if kdf_params.len() > MAX_KDF_PARAMS_BYTES {
        return Err(ApiError::MalformedBody("kdf_params must be at most 1024 bytes".into()));
    }
    Ok(())
}

/// The name a device gave itself in the `Outpost-Device-Name` header,
/// decoded and sanitized; none if absent or empty after that.
fn device_name(headers: &HeaderMap) -> Option<String> {
    headers.get(DEVICE_NAME_HEADER).and_then(|v| outpost_protocol::v1::decode_device_name(v.as_bytes()))
}

async fn new_session(
    state: &AppState,
    user_id: Uuid,
    device_name: Option<String>,
    wrapped_key: Vec<u8>,
    kdf_params: Vec<u8>,
) -> Result<SessionResponse, ApiError> {
    let (token, hash) = auth::new_token();
    let now = now_ms();
    let ttl = i64::try_from(state.config.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires = now.saturating_add(ttl);
    // Random, so the public id says nothing about the token.
    let id = Uuid::new_v4();
    let session = NewSession { id, device_name, created_ms: now, expires_ms: expires };
    state.backend.create_session(&hash, user_id, &session).await?;
    Ok(SessionResponse {
        token: SessionToken(token),
        user_id,
        expires_at_ms: u64::try_from(expires).unwrap_or(0),
        wrapped_key: wrapped_key.into(),
        kdf_params: kdf_params.into(),
    })
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Accept(enc): Accept,
    Wire(req): Wire<RegisterRequest>,
) -> Result<Reply<SessionResponse>, ApiError> {
    validate_username(&req.username)?;
    validate_auth_key(req.auth_key.as_ref())?;
    validate_wrapping(req.wrapped_key.as_ref(), req.kdf_params.as_ref())?;
    state.register_limiter.check(Attempt::Register, "", client_ip(&state, peer, &headers))?;
    let auth_key = req.auth_key.0;
    let auth_hash = auth::run_kdf(move |memory| auth::hash_auth_key(&auth_key, memory))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    let user = NewUser {
        id: Uuid::now_v7(),
        username: req.username,
        auth_hash,
        wrapped_key: req.wrapped_key.0,
        kdf_params: req.kdf_params.0,
        created_ms: now_ms(),
    };
    state.backend.create_user(&user).await?;
    state.metrics.registrations.fetch_add(1, Relaxed);
    tracing::info!(user_id = %user.id, "account registered");
    let name = device_name(&headers);
    Ok(Reply(enc, new_session(&state, user.id, name, user.wrapped_key, user.kdf_params).await?))
}

async fn login_start(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Accept(enc): Accept,
    Wire(req): Wire<LoginStartRequest>,
) -> Result<Reply<LoginStartResponse>, ApiError> {
    validate_username(&req.username)?;
    limit_login(&state, &req.username, client_ip(&state, peer, &headers))?;
    // A name without an account gets what one with an account gets: KDF
    // parameters (a decoy, stable per name) and a stored challenge, after
    // the same reads and the same write; it fails at finish, as a wrong
    // passphrase does. Nothing is counted here either, since `/metrics`
    // is readable by whoever can reach it.
    let secret = decoy_secret(&state).await?;
    let kdf_params = match state.backend.find_user(&req.username).await? {
        Some(user) => user.kdf_params,
        None => auth::decoy_kdf_params(&secret, &req.username),
    };
    let challenge = auth::new_challenge();
    let now = now_ms();
    let ttl = i64::try_from(CHALLENGE_TTL.as_millis()).unwrap_or(60_000);
    state.backend.put_challenge(&req.username, &challenge, now + ttl, now).await?;
    Ok(Reply(
        enc,
        LoginStartResponse {
            kdf_params: kdf_params.into(),
            challenge: challenge.into(),
            expires_in_secs: u32::try_from(CHALLENGE_TTL.as_secs()).unwrap_or(60),
        },
    ))
}

/// The secret decoys are keyed by: read from the database once, then kept.
async fn decoy_secret(state: &AppState) -> Result<[u8; 32], ApiError> {
    let secret = state.decoy_secret.get_or_try_init(|| state.backend.server_secret(auth::DECOY_SECRET)).await?;
    Ok(*secret)
}

fn limit_login(state: &AppState, username: &str, ip: IpAddr) -> Result<(), ApiError> {
    state.login_limiter.check(Attempt::Login, username, ip).inspect_err(|_| {
        state.metrics.logins_limited.fetch_add(1, Relaxed);
    })
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Accept(enc): Accept,
    Wire(req): Wire<LoginRequest>,
) -> Result<Reply<SessionResponse>, ApiError> {
    validate_username(&req.username)?;
    validate_auth_key(req.auth_key.as_ref())?;
    limit_login(&state, &req.username, client_ip(&state, peer, &headers))?;
    let failed = |e: ApiError| {
        state.metrics.logins_failed.fetch_add(1, Relaxed);
        e
    };
    let user = state.backend.find_user(&req.username).await?;
    // The challenge is spent before the key is checked, so every guess
    // costs a fresh (rate-limited) start. Challenges are kept by name, so
    // a name without an account has them too and this step looks the same.
    if !state.backend.take_challenge(&req.username, req.challenge.as_ref(), now_ms()).await? {
        return Err(failed(ApiError::InvalidChallenge));
    }
    let auth_key = req.auth_key.0;
    // No account: the same Argon2id, against a hash of a key nobody has,
    // so this answer takes as long as a wrong passphrase's.
    let phc = user.as_ref().map_or_else(|| auth::DECOY_PHC.to_owned(), |u| u.auth_hash.clone());
    let ok = auth::run_kdf(move |memory| auth::verify_auth_key(&auth_key, &phc, memory))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(failed(ApiError::InvalidCredentials));
    };
    // The second factor, asked for only after the passphrase is right, so
    // whether an account has it on tells nothing to who lacks that. Every
    // try, right or wrong, went through the log-in limiter above.
    if let Some(record) = state.backend.totp(user.id).await?.filter(|t| t.enabled) {
        let Some(code) = headers.get(TOTP_CODE_HEADER).filter(|v| !v.is_empty()) else {
            return Err(failed(ApiError::TotpRequired));
        };
        // A header that is not text is a wrong code, not a missing one.
        let code = code.to_str().unwrap_or("");
        let step = totp::accept(&record.secret, code, state.config.clock.unix_secs(), record.last_step);
        let fresh = match step {
            Some(step) => state.backend.use_totp_step(user.id, step).await?,
            None => false,
        };
        if !fresh {
            return Err(failed(ApiError::TotpInvalid));
        }
    }
    state.metrics.logins_ok.fetch_add(1, Relaxed);
    tracing::info!(user_id = %user.id, "logged in");
    let name = device_name(&headers);
    Ok(Reply(enc, new_session(&state, user.id, name, user.wrapped_key, user.kdf_params).await?))
}

async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode, ApiError> {
    state.backend.delete_session(&user.token_hash).await?;
    state.metrics.logouts.fetch_add(1, Relaxed);
    Ok(StatusCode::NO_CONTENT)
}

fn ms_to_u64(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// `GET /v1/sessions`: the caller's account's live sessions.
async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
) -> Result<Reply<SessionsResponse>, ApiError> {
    let sessions = state.backend.list_sessions(user.user_id, &user.token_hash, now_ms()).await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionInfo {
            id: s.id,
            device_name: s.device_name,
            created_at_ms: ms_to_u64(s.created_ms),
            last_seen_at_ms: ms_to_u64(s.last_seen_ms),
            expires_at_ms: ms_to_u64(s.expires_ms),
            current: s.current,
        })
        .collect();
    Ok(Reply(enc, SessionsResponse { sessions }))
}

/// `DELETE /v1/sessions/{id}`: ends one of the caller's account's sessions
/// (its own included, as a log-out). An id that is not a UUID, unknown, or
/// another account's all get the same `404 session_not_found`.
async fn revoke_session(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::try_parse(&id).map_err(|_| ApiError::SessionNotFound)?;
    if !state.backend.revoke_session(user.user_id, id, now_ms()).await? {
        return Err(ApiError::SessionNotFound);
    }
    state.metrics.sessions_revoked.fetch_add(1, Relaxed);
    tracing::info!(user_id = %user.user_id, session_id = %id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/sessions/revoke-others`: ends every session of the caller's
/// account but the caller's own.
async fn revoke_other_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
) -> Result<Reply<RevokeOthersResponse>, ApiError> {
    let revoked = state.backend.revoke_other_sessions(user.user_id, &user.token_hash, now_ms()).await?;
    state.metrics.sessions_revoked.fetch_add(revoked, Relaxed);
    tracing::info!(user_id = %user.user_id, revoked, "other sessions revoked");
    Ok(Reply(enc, RevokeOthersResponse { revoked }))
}

async fn account_key(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
) -> Result<Reply<AccountKeyResponse>, ApiError> {
    let key = state.backend.account_key(user.user_id).await?.ok_or(ApiError::InvalidToken)?;
    Ok(Reply(
        enc,
        AccountKeyResponse {
            user_id: user.user_id,
            wrapped_key: key.wrapped_key.into(),
            kdf_params: key.kdf_params.into(),
        },
    ))
}

/// Checks a proof of the passphrase (its log-in auth key) against the
/// account's stored hash, with Argon2id as at log-in and under the log-in
/// limiter of `username`: a stolen session gives no more guesses at the
/// passphrase than logging in does. A wrong proof is `403
/// wrong_passphrase` (not 401: the session is fine).
async fn check_passphrase_proof(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    username: &str,
    auth_key: Vec<u8>,
    phc: String,
) -> Result<(), ApiError> {
    limit_login(state, username, client_ip(state, peer, headers))?;
    let ok = auth::run_kdf(move |memory| auth::verify_auth_key(&auth_key, &phc, memory))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    if !ok {
        state.metrics.logins_failed.fetch_add(1, Relaxed);
        return Err(ApiError::WrongPassphrase);
    }
    Ok(())
}

/// `POST /v1/account/passphrase`: the caller's session, proving the
/// current passphrase ([`check_passphrase_proof`]), replaces the auth key,
/// the wrapped data key and the KDF parameters, if the wrapped key it
/// names is still the account's; then ends every other session unless
/// asked not to. A wrong proof is `403 wrong_passphrase`, a lost race
/// `409 key_changed`; either way nothing changed.
async fn change_passphrase(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: AuthUser,
    Accept(enc): Accept,
    Wire(req): Wire<ChangePassphraseRequest>,
) -> Result<Reply<ChangePassphraseResponse>, ApiError> {
    validate_auth_key(req.current_auth_key.as_ref())?;
    validate_auth_key(req.auth_key.as_ref())?;
    validate_wrapping(req.wrapped_key.as_ref(), req.kdf_params.as_ref())?;
    if req.current_wrapped_key.len() > MAX_WRAPPED_KEY_BYTES {
        return Err(ApiError::MalformedBody("current_wrapped_key must be at most 4096 bytes".into()));
    }
    // The session is live, so the account is there, unless it went
    // between the token's check and this read.
    let (username, account) = state.backend.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken)?;
    check_passphrase_proof(&state, peer, &headers, &username, req.current_auth_key.0, account.auth_hash).await?;
    // Checked again inside the transaction; this spares a hash when the
    // race is already lost.
    if account.wrapped_key != req.current_wrapped_key.0 {
        return Err(ApiError::KeyChanged);
    }
    let new_auth = req.auth_key.0;
    let auth_hash = auth::run_kdf(move |memory| auth::hash_auth_key(&new_auth, memory))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string().into()))?;
    let change = PassphraseChange {
        expected_wrapped_key: req.current_wrapped_key.0,
        auth_hash,
        wrapped_key: req.wrapped_key.0,
        kdf_params: req.kdf_params.0,
        end_other_sessions: !req.keep_other_sessions,
    };
    let ended = state.backend.change_passphrase(user.user_id, &user.token_hash, &change, now_ms()).await?;
    state.metrics.sessions_revoked.fetch_add(ended, Relaxed);
    tracing::info!(user_id = %user.user_id, sessions_ended = ended, "passphrase changed");
    Ok(Reply(enc, ChangePassphraseResponse { sessions_ended: ended }))
}

/// `POST /v1/account/delete`: deletes the caller's account and all its
/// data, given the session and proof of the passphrase
/// ([`check_passphrase_proof`]). Every session of the account ends, event
/// streams included; its tokens are answered `410 account_deleted` from
/// then on.
async fn delete_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: AuthUser,
    Wire(req): Wire<DeleteAccountRequest>,
) -> Result<StatusCode, ApiError> {
    validate_auth_key(req.auth_key.as_ref())?;
    let (username, account) = state.backend.user_by_id(user.user_id).await?.ok_or(ApiError::AccountDeleted)?;
    check_passphrase_proof(&state, peer, &headers, &username, req.auth_key.0, account.auth_hash).await?;
    if !state.backend.delete_account(user.user_id, now_ms()).await? {
        return Err(ApiError::AccountDeleted);
    }
    state.metrics.accounts_deleted.fetch_add(1, Relaxed);
    tracing::info!(user_id = %user.user_id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/account/totp/setup`: given the session and proof of the
/// passphrase, makes a new TOTP secret, keeps it pending and returns it
/// (base32 and `otpauth://` URI). Log-in asks for codes only once
/// `/enable` confirms one. `409 totp_already_enabled` while TOTP is on.
async fn totp_setup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: AuthUser,
    Accept(enc): Accept,
    Wire(req): Wire<TotpSetupRequest>,
) -> Result<Reply<TotpSetupResponse>, ApiError> {
    validate_auth_key(req.auth_key.as_ref())?;
    let (username, account) = state.backend.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken)?;
    check_passphrase_proof(&state, peer, &headers, &username, req.auth_key.0, account.auth_hash).await?;
    let secret = totp::new_secret();
    if !state.backend.put_pending_totp(user.user_id, &secret).await? {
        return Err(ApiError::TotpAlreadyEnabled);
    }
    let (secret_base32, otpauth_uri) = totp::describe(&secret, &username);
    tracing::info!(user_id = %user.user_id, "totp secret made (pending)");
    Ok(Reply(
        enc,
        TotpSetupResponse {
            secret_base32,
            otpauth_uri,
            digits: u32::try_from(TOTP_DIGITS).unwrap_or(6),
            step_secs: TOTP_STEP_SECS,
        },
    ))
}

/// `POST /v1/account/totp/enable`: turns TOTP on, given a current code of
/// the pending secret (proof the authenticator has it). Each try counts
/// against the log-in limiter of the account's name. `403 totp_invalid`
/// for a wrong code, `409 totp_not_set_up` without a pending secret,
/// `409 totp_already_enabled` if it is on.
async fn totp_enable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: AuthUser,
    Wire(req): Wire<TotpEnableRequest>,
) -> Result<StatusCode, ApiError> {
    let (username, _) = state.backend.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken)?;
    limit_login(&state, &username, client_ip(&state, peer, &headers))?;
    let record = match state.backend.totp(user.user_id).await? {
        None => return Err(ApiError::TotpNotSetUp),
        Some(r) if r.enabled => return Err(ApiError::TotpAlreadyEnabled),
        Some(r) => r,
    };
    let step =
        totp::accept(&record.secret, &req.code, state.config.clock.unix_secs(), None).ok_or(ApiError::TotpWrongCode)?;
    // False if a new setup replaced the secret (or another enable won)
    // since the read above: the code was for a secret no longer pending.
    if !state.backend.enable_totp(user.user_id, &record.secret, step, now_ms()).await? {
        return Err(ApiError::TotpNotSetUp);
    }
    tracing::info!(user_id = %user.user_id, "totp enabled");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/account/totp/disable`: turns TOTP off and forgets the
/// secret, given the session, proof of the passphrase and a current code
/// not used before. `403 wrong_passphrase` or `403 totp_invalid`, `409
/// totp_not_set_up` if it is off; nothing changes on any refusal.
async fn totp_disable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user: AuthUser,
    Wire(req): Wire<TotpDisableRequest>,
) -> Result<StatusCode, ApiError> {
    validate_auth_key(req.auth_key.as_ref())?;
    let (username, account) = state.backend.user_by_id(user.user_id).await?.ok_or(ApiError::InvalidToken)?;
    check_passphrase_proof(&state, peer, &headers, &username, req.auth_key.0, account.auth_hash).await?;
    let record = state.backend.totp(user.user_id).await?.filter(|r| r.enabled).ok_or(ApiError::TotpNotSetUp)?;
    let step = totp::accept(&record.secret, &req.code, state.config.clock.unix_secs(), record.last_step)
        .ok_or(ApiError::TotpWrongCode)?;
    if !state.backend.disable_totp(user.user_id, step).await? {
        // Used meanwhile by a log-in, or turned off by another device.
        return Err(ApiError::TotpWrongCode);
    }
    tracing::info!(user_id = %user.user_id, "totp disabled");
    Ok(StatusCode::NO_CONTENT)
}

async fn push(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
    Wire(req): Wire<PushRequest>,
) -> Result<Reply<PushResponse>, ApiError> {
    let limits = &state.config.limits;
    if req.ops.len() > limits.max_ops_per_push {
        return Err(ApiError::LimitExceeded(format!(
            "{} ops in one push; the most is {}",
            req.ops.len(),
            limits.max_ops_per_push
        )));
    }
    // Index of each op id's first op. Two ops with one id are a client bug
    // the op-id table cannot answer for: the second would be reported as a
    // `duplicate` of the first and its change silently dropped.
    let mut first_with_id = std::collections::HashMap::with_capacity(req.ops.len());
    for (i, op) in req.ops.iter().enumerate() {
        if let Some(&first) = first_with_id.get(&op.op_id) {
            return Err(ApiError::DuplicateOpId { first, second: i, op_id: op.op_id });
        }
        first_with_id.insert(op.op_id, i);
        if op.payload.len() > limits.max_payload_bytes {
            return Err(ApiError::LimitExceeded(format!(
                "op {i}: payload of {} bytes; the most is {}",
                op.payload.len(),
                limits.max_payload_bytes
            )));
        }
        // The stored text form holds 48 bits of milliseconds.
        if op.hlc.wall_ms > Hlc::MAX_WALL_MS {
            return Err(ApiError::MalformedBody(format!("op {i}: clock stamp out of range")));
        }
    }
    state.metrics.push_requests.fetch_add(1, Relaxed);
    if req.ops.is_empty() {
        return Ok(Reply(enc, PushResponse { results: Vec::new() }));
    }
    let results =
        state.backend.push_by(user.user_id, Some(&user.token_hash), &req.ops, state.config.quota_bytes).await?;
    for r in &results {
        let counter = match r {
            PushResult::Applied { .. } => &state.metrics.ops_applied,
            PushResult::Duplicate { .. } => &state.metrics.ops_duplicate,
            PushResult::Conflict { .. } => &state.metrics.ops_conflict,
        };
        counter.fetch_add(1, Relaxed);
    }
    Ok(Reply(enc, PushResponse { results }))
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    cursor: Option<u64>,
    limit: Option<u32>,
    /// Seqs of this device's own accepted pushes, to leave out
    /// ([`SkipRanges`]); absent for clients that predate it.
    skip: Option<String>,
}

async fn pull(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
    query: Result<Query<PullQuery>, QueryRejection>,
) -> Result<Reply<PullResponse>, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError::InvalidQuery(format!("{}; cursor and limit are unsigned integers", e.body_text())))?;
    let limits = &state.config.limits;
    let limit = q.limit.unwrap_or(limits.default_pull_limit);
    if limit == 0 || limit > limits.max_pull_limit {
        return Err(ApiError::InvalidQuery(format!("limit must be 1 to {}", limits.max_pull_limit)));
    }
    let skip = SkipRanges::parse(q.skip.as_deref().unwrap_or("")).map_err(|e| {
        ApiError::InvalidQuery(format!("{e}; skip is up to {MAX_SKIP_RANGES} ranges N or N-M, ascending"))
    })?;
    let own = (!skip.is_empty()).then_some((&user.token_hash, &skip));
    let page =
        state.backend.pull_skipping(user.user_id, q.cursor.unwrap_or(0), limit, limits.max_page_bytes, own).await?;
    state.metrics.pull_requests.fetch_add(1, Relaxed);
    state.metrics.pull_changes.fetch_add(page.changes.len() as u64, Relaxed);
    Ok(Reply(enc, page))
}

/// `GET /v1/snapshot`: the account's newest complete bootstrap snapshot.
async fn snapshot_info(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
) -> Result<Reply<SnapshotInfo>, ApiError> {
    let s = state.backend.snapshot(user.user_id).await?.ok_or(ApiError::NoSnapshot)?;
    Ok(Reply(enc, SnapshotInfo { cursor: s.cursor, chunks: s.chunks, bytes: s.bytes }))
}

/// `POST /v1/snapshot`: one chunk of a snapshot a device uploads.
async fn put_snapshot_chunk(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
    Wire(req): Wire<SnapshotChunkUpload>,
) -> Result<Reply<SnapshotPutResponse>, ApiError> {
    if req.of == 0 || req.of > MAX_SNAPSHOT_CHUNKS || req.index >= req.of {
        return Err(ApiError::MalformedBody(format!(
            "a snapshot has 1 to {MAX_SNAPSHOT_CHUNKS} chunks and index is below of (got index {} of {})",
            req.index, req.of
        )));
    }
    if req.data.is_empty() || req.data.len() > MAX_SNAPSHOT_CHUNK_BYTES {
        return Err(ApiError::LimitExceeded(format!(
            "a snapshot chunk holds 1 to {MAX_SNAPSHOT_CHUNK_BYTES} bytes (got {})",
            req.data.len()
        )));
    }
    match state.backend.put_snapshot_chunk(user.user_id, req.cursor, req.index, req.of, &req.data.0, now_ms()).await? {
        SnapshotPut::Stored { complete } => Ok(Reply(enc, SnapshotPutResponse { complete })),
        SnapshotPut::Stale => Err(ApiError::SnapshotStale),
        SnapshotPut::CursorOutOfRange { latest } => Err(ApiError::CursorOutOfRange { cursor: req.cursor, latest }),
    }
}

/// `GET /v1/snapshot/{cursor}/{index}`: one chunk.
async fn snapshot_chunk(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
    path: Result<Path<(u64, u32)>, axum::extract::rejection::PathRejection>,
) -> Result<Reply<SnapshotChunk>, ApiError> {
    let Path((cursor, index)) =
        path.map_err(|e| ApiError::InvalidQuery(format!("{}; the path is /v1/snapshot/CURSOR/INDEX", e.body_text())))?;
    let data = state.backend.snapshot_chunk(user.user_id, cursor, index).await?.ok_or(ApiError::NoSnapshot)?;
    Ok(Reply(enc, SnapshotChunk { data: data.into() }))
}

/// A file id from the path: 64 hex characters. Anything else names no
/// file of any account.
fn file_id(s: &str) -> Result<[u8; p::FILE_ID_BYTES], ApiError> {
    p::parse_file_id(s).ok_or(ApiError::FileNotFound)
}

fn chunk_index(s: &str) -> Result<u32, ApiError> {
    s.parse().map_err(|_| ApiError::InvalidQuery(format!("{s:?} is not a chunk index (an unsigned integer)")))
}

fn file_entry(r: FileRecord) -> (p::FileEntry, Vec<u32>) {
    let entry = p::FileEntry {
        file_id: p::file_id_hex(&r.file_id),
        chunk_count: r.chunk_count,
        size: r.size,
        stored_chunks: u32::try_from(r.have.len()).unwrap_or(u32::MAX),
        manifest: r.manifest.into(),
        notes: r.notes,
    };
    (entry, r.have)
}

async fn list_files(
    State(state): State<AppState>,
    user: AuthUser,
    Accept(enc): Accept,
) -> Result<Reply<p::FileListResponse>, ApiError> {
    let files = state.backend.files(user.user_id).await?;
    Ok(Reply(enc, p::FileListResponse { files: files.into_iter().map(|r| file_entry(r).0).collect() }))
}

async fn declare_file(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Accept(enc): Accept,
    Wire(req): Wire<p::FileDeclareRequest>,
) -> Result<Reply<p::FileStatusResponse>, ApiError> {
    let id = file_id(&id)?;
    // Every limit before anything is written.
    if req.chunk_count == 0 || req.chunk_count > p::MAX_FILE_CHUNKS {
        return Err(ApiError::LimitExceeded(format!(
            "a file has 1 to {} chunks; this one declares {}",
            p::MAX_FILE_CHUNKS,
            req.chunk_count
        )));
    }
    if req.size > p::MAX_FILE_SEALED_BYTES || req.size > u64::from(req.chunk_count) * p::MAX_FILE_CHUNK_BYTES as u64 {
        return Err(ApiError::LimitExceeded(format!(
            "a file of {} sealed bytes in {} chunks is over the limit ({} MiB of plaintext per file, {} bytes per chunk)",
            req.size,
            req.chunk_count,
            p::MAX_FILE_BYTES / (1024 * 1024),
            p::MAX_FILE_CHUNK_BYTES
        )));
    }
    if req.manifest.0.len() > p::MAX_FILE_MANIFEST_BYTES {
        return Err(ApiError::LimitExceeded(format!(
            "a file's manifest is at most {} bytes; this one is {}",
            p::MAX_FILE_MANIFEST_BYTES,
            req.manifest.0.len()
        )));
    }
    let declaration = FileDeclaration {
        file_id: &id,
        note_id: req.note_id,
        chunk_count: req.chunk_count,
        size: req.size,
        manifest: &req.manifest.0,
    };
    let record = state.backend.declare_file(user.user_id, &declaration, state.config.file_quota_bytes).await?;
    let (file, have) = file_entry(record);
    Ok(Reply(enc, p::FileStatusResponse { file, have }))
}

async fn file_status(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Accept(enc): Accept,
) -> Result<Reply<p::FileStatusResponse>, ApiError> {
    let id = file_id(&id)?;
    let record = state.backend.file(user.user_id, &id).await?.ok_or(ApiError::FileNotFound)?;
    let (file, have) = file_entry(record);
    Ok(Reply(enc, p::FileStatusResponse { file, have }))
}

async fn drop_file(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = file_id(&id)?;
    if state.backend.drop_file(user.user_id, &id, now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::FileNotFound)
    }
}

async fn put_chunk(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, index)): Path<(String, String)>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let id = file_id(&id)?;
    let index = chunk_index(&index)?;
    let limit = p::MAX_FILE_CHUNK_BYTES;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    let body = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| ApiError::BodyTooLarge { limit })?;
    if body.is_empty() {
        return Err(ApiError::MalformedBody("a chunk is never empty".into()));
    }
    match state.backend.put_chunk(user.user_id, &id, index, &body).await? {
        ChunkPut::Stored => {
            state.metrics.file_chunks_stored.fetch_add(1, Relaxed);
            Ok(StatusCode::NO_CONTENT)
        }
        ChunkPut::AlreadyThere => {
            state.metrics.file_chunks_resent.fetch_add(1, Relaxed);
            Ok(StatusCode::NO_CONTENT)
        }
        ChunkPut::NoFile => Err(ApiError::FileNotFound),
        ChunkPut::OutOfRange { chunk_count } => {
            Err(ApiError::InvalidQuery(format!("chunk index {index} is not below the file's {chunk_count} chunks")))
        }
        ChunkPut::OverSize { size } => Err(ApiError::LimitExceeded(format!(
            "this chunk would take the file past the {size} sealed bytes it was declared with"
        ))),
    }
}

async fn get_chunk(
    State(state): State<AppState>,
    user: AuthUser,
    Path((id, index)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = file_id(&id)?;
    let index = chunk_index(&index)?;
    match state.backend.chunk(user.user_id, &id, index).await? {
        Some(data) => {
            state.metrics.file_chunks_served.fetch_add(1, Relaxed);
            let mut r = data.into_response();
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(p::FILE_CHUNK_MEDIA_TYPE),
            );
            Ok(r)
        }
        None if state.backend.file(user.user_id, &id).await?.is_some() => Err(ApiError::ChunkNotFound(index)),
        None => Err(ApiError::FileNotFound),
    }
}

/// Counts an open event stream for as long as it lives.
struct StreamGuard(Arc<Metrics>);

impl StreamGuard {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.event_streams.fetch_add(1, Relaxed);
        Self(metrics)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.event_streams.fetch_sub(1, Relaxed);
    }
}

struct EventState {
    user_id: Uuid,
    token_hash: [u8; 32],
    pokes: broadcast::Receiver<Poke>,
    /// Log-outs: the stream ends when its own session's comes by.
    ends: broadcast::Receiver<SessionEnded>,
    /// When the session expires: the stream ends then too.
    expires_ms: i64,
    deadline: tokio::time::Instant,
    backend: Arc<dyn Backend>,
    shutdown: watch::Receiver<bool>,
    /// The poke sent on connect, so a device catches up on what it missed
    /// while disconnected (and knows the stream is live).
    first: Option<u64>,
    guard: StreamGuard,
}

/// What an event stream does next.
enum Step {
    Send(u64),
    Skip,
    /// A log-out may have gone unheard: ask the database.
    Recheck,
    /// The timer fired: end if the session has expired, else set it again.
    Timer,
    End,
}

fn poke_event(seq: u64) -> Event {
    // PokeEvent is two plain fields: encoding cannot fail.
    let data = serde_json::to_string(&PokeEvent { seq }).unwrap_or_else(|_| format!("{{\"seq\":{seq}}}"));
    Event::default().event("poke").data(data)
}

/// When an event stream's timer should next fire for a session expiring
/// at `expires_ms`: then, or in a day if that is sooner, so a session of
/// any length (`Config::session_ttl` is the operator's) never overflows an
/// `Instant`.
fn expiry_timer(expires_ms: i64) -> tokio::time::Instant {
    const DAY_MS: u64 = 24 * 3600 * 1000;
    let left = u64::try_from(expires_ms.saturating_sub(now_ms())).unwrap_or(0).min(DAY_MS);
    tokio::time::Instant::now() + Duration::from_millis(left)
}

/// `GET /v1/events`: a server-sent event stream of this user's pokes, for
/// as long as the session lives: it ends at shutdown, when the session is
/// logged out (on any instance) or when it expires.
async fn events(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the sequence: a change committing between
    // the two is then seen by one or the other, never by neither. The same
    // for log-outs: one between the token's check and this subscription is
    // caught by checking the session once more after it.
    let ends = state.backend.session_ends();
    let pokes = state.backend.subscribe();
    let session = state.backend.session_user(&user.token_hash, now_ms()).await?.ok_or(ApiError::InvalidToken)?;
    let seq = state.backend.latest_seq(user.user_id).await?;
    let st = EventState {
        user_id: user.user_id,
        token_hash: user.token_hash,
        pokes,
        ends,
        expires_ms: session.expires_ms,
        deadline: expiry_timer(session.expires_ms),
        backend: state.backend.clone(),
        shutdown: state.shutdown.clone(),
        first: Some(seq),
        guard: StreamGuard::new(state.metrics.clone()),
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        if let Some(seq) = st.first.take() {
            st.guard.0.pokes_sent.fetch_add(1, Relaxed);
            return Some((Ok(poke_event(seq)), st));
        }
        loop {
            // The select only decides; `st` is moved out after it ends.
            let step = tokio::select! {
                // Ends the stream so graceful shutdown does not wait on it.
                _ = st.shutdown.wait_for(|stop| *stop) => Step::End,
                () = tokio::time::sleep_until(st.deadline) => Step::Timer,
                end = st.ends.recv() => match end {
                    Ok(SessionEnded { token_hash: Some(h) }) if h == st.token_hash => Step::End,
                    Ok(SessionEnded { token_hash: Some(_) }) => Step::Skip,
                    Ok(SessionEnded { token_hash: None }) | Err(broadcast::error::RecvError::Lagged(_)) => Step::Recheck,
                    Err(broadcast::error::RecvError::Closed) => Step::End,
                },
                poke = st.pokes.recv() => match poke {
                    Ok(p) if p.user_id.is_none_or(|u| u == st.user_id) => Step::Send(p.seq),
                    Ok(_) => Step::Skip,
                    // Missed some: which users is unknown, so poke anyway.
                    Err(broadcast::error::RecvError::Lagged(_)) => Step::Send(0),
                    Err(broadcast::error::RecvError::Closed) => Step::End,
                },
            };
            match step {
                Step::End => return None,
                Step::Skip => continue,
                Step::Timer if now_ms() >= st.expires_ms => return None,
                Step::Timer => {
                    st.deadline = expiry_timer(st.expires_ms);
                    continue;
                }
                Step::Recheck => match st.backend.session_user(&st.token_hash, now_ms()).await {
                    Ok(Some(_)) => continue,
                    // Gone, or the database cannot say: end, and let the
                    // device's reconnect find out.
                    Ok(None) | Err(_) => return None,
                },
                // The timer ends the stream at expiry; this also holds if
                // the timer and a poke race.
                Step::Send(_) if now_ms() >= st.expires_ms => return None,
                Step::Send(seq) => {
                    st.guard.0.pokes_sent.fetch_add(1, Relaxed);
                    return Some((Ok(poke_event(seq)), st));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(state.config.keep_alive)))
}

async fn health(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.backend.ping()).await;
    let (status, word) = match ping {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database failed");
            (StatusCode::SERVICE_UNAVAILABLE, "degraded")
        }
        Err(_) => {
            tracing::warn!("health check: database timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "degraded")
        }
    };
    (status, axum::Json(HealthResponse { status: word.into(), version: VERSION })).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    /// A panic in a handler is the JSON `internal` error, and the message
    /// (which could quote request data) is neither sent nor logged.
    #[tokio::test]
    async fn a_panicking_handler_answers_json_500() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("server.db").display());
        let backend = crate::backend::open(&url).await.expect("backend");
        let (_stop, shutdown) = watch::channel(false);
        let state = AppState::new(backend, Config::new(url), shutdown);
        let routes = Router::new().route(
            "/v1/panic",
            get(|| async {
                if true {
                    panic!("SECRET-IN-PANIC");
                }
                StatusCode::OK
            }),
        );
        let app = with_error_layers(routes, state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"GET /v1/panic HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await.expect("send");
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.expect("read");
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 500"), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["code"], "internal");
        assert!(!answer.contains("SECRET-IN-PANIC"), "the panic message stays inside");
    }
}
