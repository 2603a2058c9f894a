//! [`ApiError`]: every way a request fails, and the one place that turns a
//! failure into a status and an [`ErrorBody`]. Internal errors are logged
//! here and reach the client only as `internal`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use outpost_protocol::v1::{error_code as code, ErrorBody};

use crate::backend::BackendError;

/// A request that failed. The `Display` text is the client-facing message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedBody(String),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("cursor {cursor} is past this account's latest change ({latest}): it belongs to another account or server; pull from 0")]
    CursorOutOfRange { cursor: u64, latest: u64 },
    #[error("Content-Type must be application/json or application/x-outpost+postcard")]
    UnsupportedMediaType,
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}; nothing of this push was applied: delete notes or ask the server's operator for more room")]
    QuotaExceeded(BackendError),
    #[error("ops {first} and {second} of this push share op_id {op_id}: every op of a batch needs its own op_id; nothing was applied")]
    DuplicateOpId { first: usize, second: usize, op_id: uuid::Uuid },
    #[error("send the session token as `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("the session token is unknown, logged out or expired: log in again")]
    InvalidToken,
    #[error("wrong username or passphrase")]
    InvalidCredentials,
    #[error("the log-in challenge was already used, has expired or was never issued: start the log-in again")]
    InvalidChallenge,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("that username is taken")]
    UsernameTaken,
    #[error("the passphrase given to prove it is you is wrong; nothing was changed")]
    WrongPassphrase,
    #[error(
        "this session's account was deleted; the notes on this device stay there. Register or log in to sync again"
    )]
    AccountDeleted,
    #[error("this account has no session with that id (it may have ended already); list them with GET /v1/sessions")]
    SessionNotFound,
    #[error("the account's passphrase was changed meanwhile (by another device?); nothing was changed: try again, giving the passphrase now in force as the current one")]
    KeyChanged,
    #[error(
        "this account asks for a second factor: log in again with the current 6-digit code of its authenticator app"
    )]
    TotpRequired,
    #[error("the authenticator code is wrong, not current or already used: log in again with the code now shown")]
    TotpInvalid,
    #[error("the authenticator code is wrong, not current or already used; nothing was changed: try again with the code now shown")]
    TotpWrongCode,
    #[error("two-factor log-in is already on for this account; turn it off before setting up a new secret")]
    TotpAlreadyEnabled,
    #[error("two-factor log-in is not set up for this account (enable needs a setup first; disable needs it on)")]
    TotpNotSetUp,
    #[error("this account has no bootstrap snapshot here (or not that one any more); pull from 0")]
    NoSnapshot,
    #[error("the account has a snapshot at a higher cursor; this one is not needed")]
    SnapshotStale,
    #[error("the request's headers exceed {count} headers or {bytes} bytes")]
    HeadersTooLarge { count: usize, bytes: usize },
    #[error("the request's path and query exceed {limit} bytes")]
    UriTooLong { limit: usize },
    #[error("the server did not answer within {secs} s; try again (a resent push is safe)")]
    Timeout { secs: f64 },
    #[error("this server speaks protocol version 1 only, under /v1")]
    UnsupportedVersion,
    #[error("no such endpoint")]
    NotFound,
    #[error("this account has no file with that id")]
    FileNotFound,
    #[error("chunk {0} of this file has not been uploaded (yet)")]
    ChunkNotFound(u32),
    #[error("{0}; nothing of this file was stored: delete files or ask the server's operator for more room")]
    FileQuotaExceeded(BackendError),
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("the database is not answering; try again later")]
    Unavailable,
    /// Anything else: logged with its cause, sent as a bare `internal`.
    #[error("internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MalformedBody(_) => (StatusCode::BAD_REQUEST, code::MALFORMED_BODY),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, code::INVALID_QUERY),
            ApiError::CursorOutOfRange { .. } => (StatusCode::BAD_REQUEST, code::CURSOR_OUT_OF_RANGE),
            ApiError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, code::UNSUPPORTED_MEDIA_TYPE),
            ApiError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, code::BODY_TOO_LARGE),
            ApiError::LimitExceeded(_) => (StatusCode::PAYLOAD_TOO_LARGE, code::LIMIT_EXCEEDED),
            ApiError::QuotaExceeded(_) => (StatusCode::PAYLOAD_TOO_LARGE, code::QUOTA_EXCEEDED),
            ApiError::DuplicateOpId { .. } => (StatusCode::BAD_REQUEST, code::DUPLICATE_OP_ID),
            ApiError::MissingToken => (StatusCode::UNAUTHORIZED, code::MISSING_TOKEN),
            ApiError::InvalidToken => (StatusCode::UNAUTHORIZED, code::INVALID_TOKEN),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, code::INVALID_CREDENTIALS),
            ApiError::InvalidChallenge => (StatusCode::UNAUTHORIZED, code::INVALID_CHALLENGE),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, code::RATE_LIMITED),
            ApiError::UsernameTaken => (StatusCode::CONFLICT, code::USERNAME_TAKEN),
            ApiError::SessionNotFound => (StatusCode::NOT_FOUND, code::SESSION_NOT_FOUND),
            ApiError::WrongPassphrase => (StatusCode::FORBIDDEN, code::WRONG_PASSPHRASE),
            ApiError::KeyChanged => (StatusCode::CONFLICT, code::KEY_CHANGED),
            ApiError::AccountDeleted => (StatusCode::GONE, code::ACCOUNT_DELETED),
            ApiError::TotpRequired => (StatusCode::UNAUTHORIZED, code::TOTP_REQUIRED),
            ApiError::TotpInvalid => (StatusCode::UNAUTHORIZED, code::TOTP_INVALID),
            // 403, not 401: the session is fine, as for a wrong passphrase.
            ApiError::TotpWrongCode => (StatusCode::FORBIDDEN, code::TOTP_INVALID),
            ApiError::TotpAlreadyEnabled => (StatusCode::CONFLICT, code::TOTP_ALREADY_ENABLED),
            ApiError::TotpNotSetUp => (StatusCode::CONFLICT, code::TOTP_NOT_SET_UP),
            ApiError::NoSnapshot => (StatusCode::NOT_FOUND, code::NO_SNAPSHOT),
            ApiError::SnapshotStale => (StatusCode::CONFLICT, code::SNAPSHOT_STALE),
            ApiError::HeadersTooLarge { .. } => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, code::HEADERS_TOO_LARGE),
            ApiError::UriTooLong { .. } => (StatusCode::URI_TOO_LONG, code::URI_TOO_LONG),
            // 5xx, not 408: devices retry a 5xx, while most 4xx mark an
            // outbox entry failed for good.
            ApiError::Timeout { .. } => (StatusCode::SERVICE_UNAVAILABLE, code::TIMEOUT),
            ApiError::UnsupportedVersion => (StatusCode::NOT_FOUND, code::UNSUPPORTED_VERSION),
            ApiError::NotFound => (StatusCode::NOT_FOUND, code::NOT_FOUND),
            ApiError::FileNotFound => (StatusCode::NOT_FOUND, code::FILE_NOT_FOUND),
            ApiError::ChunkNotFound(_) => (StatusCode::NOT_FOUND, code::CHUNK_NOT_FOUND),
            // Its own status: 413 says "this request is too large", while a
            // full account needs room, not a smaller request.
            ApiError::FileQuotaExceeded(_) => (StatusCode::INSUFFICIENT_STORAGE, code::QUOTA_EXCEEDED),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, code::METHOD_NOT_ALLOWED),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL),
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::UsernameTaken => ApiError::UsernameTaken,
            BackendError::KeyChanged => ApiError::KeyChanged,
            BackendError::AccountDeleted => ApiError::AccountDeleted,
            BackendError::CursorOutOfRange { cursor, latest } => ApiError::CursorOutOfRange { cursor, latest },
            e @ BackendError::QuotaExceeded { .. } => ApiError::QuotaExceeded(e),
            e @ BackendError::FileQuotaExceeded { .. } => ApiError::FileQuotaExceeded(e),
            BackendError::Database(sqlx::Error::PoolTimedOut) => ApiError::Unavailable,
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            // The cause goes to the log only. Backend and sqlx errors carry
            // SQL text and database messages, never bound values, so no
            // payload, key or token reaches the log through them.
            ApiError::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            ApiError::Unavailable => tracing::warn!("database unavailable"),
            ApiError::Timeout { .. } => tracing::warn!("a request timed out"),
            _ => tracing::debug!(code, "request refused"),
        }
        let body = ErrorBody { code: code.to_owned(), message: self.to_string() };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
