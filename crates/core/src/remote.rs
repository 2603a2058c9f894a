//! The client side of the /v1 sync protocol (docs/protocol.md): one
//! `reqwest` client (rustls, timeouts) that speaks postcard to the server.
//!
//! Every request funnels through `Remote::send`, which is also the fault
//! layer: with a [`NetControl`] attached (testers' `outpost net`), it
//! refuses to send while offline and, on a flaky network, adds latency and
//! drops requests, before they are sent or after the server answered.
//! Plain `http://` is refused except to this machine, so a session token
//! or a wrapped key never crosses a network unencrypted. Tokens, keys and
//! payloads are never logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use outpost_protocol::v1::{
    AccountKeyResponse, ChangePassphraseRequest, ChangePassphraseResponse, DeleteAccountRequest, Encoding, ErrorBody,
    FileDeclareRequest, FileListResponse, FileStatusResponse, HealthResponse, LoginRequest, LoginStartRequest,
    LoginStartResponse, Op, PokeEvent, PullResponse, PushRequest, PushResponse, RegisterRequest, RevokeOthersResponse,
    SessionInfo, SessionResponse, SessionToken, SessionsResponse, SkipRanges, SnapshotChunk, SnapshotChunkUpload,
    SnapshotInfo, SnapshotPutResponse, TotpDisableRequest, TotpEnableRequest, TotpSetupRequest, TotpSetupResponse,
    TOTP_CODE_HEADER,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::net::{NetControl, NetMode, MAX_LATENCY_MS};

const EVENTS_PATH: &str = "/v1/events";
/// How long one poke stream may stay open before it is reopened.
const EVENTS_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Longest silence on the poke stream before it counts as dead (the server
/// sends a keep-alive every 15 s).
const EVENTS_IDLE: Duration = Duration::from_secs(45);

/// Bytes that crossed the wire through one [`Remote`] (and its clones).
///
/// Counted: request and response bodies, plus the request line, status line
/// and every header name and value as sent and received (with ": " and
/// CRLF), which is what HTTP/1.1 puts on the wire; TCP and TLS framing are
/// not counted. Under a simulated network, a request refused offline or
/// dropped before sending counts nothing, and one dropped after the server
/// answered counts what was sent but not the lost answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub sent: u64,
    pub received: u64,
}

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("refusing plain http:// to {0}: the session and keys would cross the network unencrypted; use https://")]
    InsecureUrl(String),
    #[error("{0:?} is not a server URL (expected https://host[:port])")]
    BadUrl(String),
    #[error("cannot reach the sync server ({0}); changes stay queued and are sent when it is reachable")]
    Unreachable(String),
    #[error("the server refused the request ({status} {code}): {message}")]
    Server { status: u16, code: String, message: String },
    #[error("not logged in to the server ({0}); log in again")]
    Unauthorized(String),
    #[error("the server's answer could not be read: {0}")]
    Decode(String),
    /// The account was deleted (from this device or another): permanent.
    /// The notes stay on this device; nothing syncs with the account again.
    #[error(
        "the account was deleted (from this device or another): this device no longer syncs with it. The notes \
         stay here; register or log in to another account to sync them"
    )]
    AccountDeleted,
    /// Log-in: the passphrase is right, but the account has a second factor
    /// on and no code was given. Log in again with the authenticator's code.
    #[error("this account has two-factor log-in on: give the current 6-digit code of its authenticator app")]
    TotpRequired,
    /// The authenticator code was wrong, not current or already used (at
    /// log-in, or turning two-factor log-in on or off). Nothing changed.
    #[error("the authenticator code is wrong, not current or already used; try again with the code now shown")]
    TotpInvalid,
    /// The network control says offline; the request never left the device.
    #[error("switched offline (outpost net online to reconnect); nothing was sent")]
    Offline,
}

impl RemoteError {
    /// Worth trying again later, unchanged.
    pub fn is_retryable(&self) -> bool {
        match self {
            RemoteError::Unreachable(_) => true,
            RemoteError::Server { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// The account's storage on the server is full: the changes are fine
    /// and must wait (never be marked failed) until space is freed.
    pub fn is_quota_exceeded(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::QUOTA_EXCEEDED)
    }

    /// The account has no file with that id (another account's included).
    pub fn is_file_not_found(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::FILE_NOT_FOUND)
    }

    /// The server does not know the pull cursor sent: it is past the
    /// account's latest change, so the server was reset or restored from an
    /// older backup (or the cursor is another server's).
    pub fn is_cursor_out_of_range(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::CURSOR_OUT_OF_RANGE)
    }

    /// The account has no live session with the id given (or it is
    /// another account's: the server does not say which).
    pub fn is_session_not_found(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::SESSION_NOT_FOUND)
    }

    /// `POST /v1/account/passphrase` or `/v1/account/delete` was refused:
    /// the proof of the passphrase is wrong.
    pub fn is_wrong_passphrase(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::WRONG_PASSPHRASE)
    }

    /// A passphrase change named a wrapped key that is no longer the
    /// account's: another change won.
    pub fn is_key_changed(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::KEY_CHANGED)
    }

    /// Two-factor log-in is on already (setting up a new secret needs it
    /// turned off first).
    pub fn is_totp_already_enabled(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::TOTP_ALREADY_ENABLED)
    }

    /// Two-factor log-in is not set up (enable without a setup first, or
    /// disable while it is off).
    pub fn is_snapshot_stale(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::SNAPSHOT_STALE)
    }

    pub fn is_totp_not_set_up(&self) -> bool {
        matches!(self, RemoteError::Server { code, .. } if code == outpost_protocol::v1::error_code::TOTP_NOT_SET_UP)
    }

    /// A stable code for the CLI and the app.
    pub fn code(&self) -> &str {
        match self {
            RemoteError::InsecureUrl(_) => "insecure_url",
            RemoteError::BadUrl(_) => "bad_url",
            RemoteError::Unreachable(_) => "unreachable",
            RemoteError::Server { code, .. } => code,
            RemoteError::Unauthorized(_) => "unauthorized",
            RemoteError::Decode(_) => "decode",
            RemoteError::AccountDeleted => outpost_protocol::v1::error_code::ACCOUNT_DELETED,
            RemoteError::TotpRequired => outpost_protocol::v1::error_code::TOTP_REQUIRED,
            RemoteError::TotpInvalid => outpost_protocol::v1::error_code::TOTP_INVALID,
            RemoteError::Offline => "offline",
        }
    }
}

/// A handle on one sync server, cheap to clone.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    http: reqwest::Client,
    token: Option<SessionToken>,
    traffic: Arc<(AtomicU64, AtomicU64)>,
    /// The testers' network mode, read afresh for every request; `None`
    /// is the real network, untouched.
    net: Option<NetControl>,
    /// Sent at register and log-in (`Outpost-Device-Name`), so the
    /// account's session list can tell this device apart. Sanitized.
    device_name: Option<String>,
}

/// What the simulated network does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// The request is lost on the way: the server never sees it.
    BeforeSending,
    /// The server got it and answered; the answer is lost on the way back.
    AfterAnswer,
}

impl Remote {
    /// Refuses anything but `https://`, except `http://` to a loopback host.
    pub fn new(server_url: &str) -> Result<Self, RemoteError> {
        let url = reqwest::Url::parse(server_url.trim()).map_err(|_| RemoteError::BadUrl(server_url.to_owned()))?;
        let host = url.host_str().ok_or_else(|| RemoteError::BadUrl(server_url.to_owned()))?.to_owned();
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => return Err(RemoteError::InsecureUrl(host)),
            _ => return Err(RemoteError::BadUrl(server_url.to_owned())),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(RemoteError::BadUrl(server_url.to_owned()));
        }
        let base = url.as_str().trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("outpost/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::Unreachable(e.to_string()))?;
        Ok(Self { base, http, token: None, traffic: Arc::default(), net: None, device_name: None })
    }

    pub fn with_token(mut self, token: SessionToken) -> Self {
        self.token = Some(token);
        self
    }

    /// Names this device to the server at register and log-in (see
    /// [`crate::account::default_device_name`]); sanitized as the server
    /// would, and dropped if nothing is left.
    pub fn with_device_name(mut self, name: &str) -> Self {
        self.device_name = outpost_protocol::v1::sanitize_device_name(name);
        self
    }

    /// The name sent at register and log-in, if any.
    pub fn device_name(&self) -> Option<&str> {
        self.device_name.as_deref()
    }

    /// Puts this remote (and its clones made afterwards) under a network
    /// control: offline and flaky modes apply from the next request on.
    pub fn with_net(mut self, control: NetControl) -> Self {
        self.net = Some(control);
        self
    }

    pub fn net(&self) -> Option<&NetControl> {
        self.net.as_ref()
    }

    /// Normalised, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn traffic(&self) -> Traffic {
        Traffic { sent: self.traffic.0.load(Ordering::Relaxed), received: self.traffic.1.load(Ordering::Relaxed) }
    }

    /// The server's health. Always JSON (load balancers read it too), so it
    /// is decoded as such whatever the client asked for.
    pub async fn health(&self) -> Result<HealthResponse, RemoteError> {
        let resp = self.send::<()>(Method::GET, "/v1/health", None, false).await?;
        let bytes = self.finish(resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| RemoteError::Decode(format!("health: {e}")))
    }

    pub async fn register(&self, req: &RegisterRequest) -> Result<SessionResponse, RemoteError> {
        self.call(Method::POST, "/v1/register", Some(req), false).await
    }

    pub async fn login_start(&self, username: &str) -> Result<LoginStartResponse, RemoteError> {
        let req = LoginStartRequest { username: username.to_owned() };
        self.call(Method::POST, "/v1/login/start", Some(&req), false).await
    }

    pub async fn login(&self, req: &LoginRequest) -> Result<SessionResponse, RemoteError> {
        self.login_with_code(req, None).await
    }

    /// [`Remote::login`] with the account's current TOTP code, if any (sent
    /// in the `Outpost-Totp-Code` header; servers and accounts without
    /// TOTP ignore it). An account with TOTP on answers
    /// [`RemoteError::TotpRequired`] without one, [`RemoteError::TotpInvalid`]
    /// for a wrong, stale or used one.
    pub async fn login_with_code(
        &self,
        req: &LoginRequest,
        totp_code: Option<&str>,
    ) -> Result<SessionResponse, RemoteError> {
        let extra = totp_code.map(|code| (TOTP_CODE_HEADER, code));
        let resp = self.send_with(Method::POST, "/v1/login", Some(req), false, extra).await?;
        let bytes = self.finish(resp).await?;
        Encoding::Postcard.decode(&bytes).map_err(|e| RemoteError::Decode(e.to_string()))
    }

    /// Starts setting up two-factor log-in: a new secret from the server,
    /// pending until [`Remote::totp_enable`]. `auth_key` proves the
    /// passphrase (see `account::totp_setup`).
    pub async fn totp_setup(&self, auth_key: Vec<u8>) -> Result<TotpSetupResponse, RemoteError> {
        let req = TotpSetupRequest { auth_key: auth_key.into() };
        self.call(Method::POST, "/v1/account/totp/setup", Some(&req), true).await
    }

    /// Turns two-factor log-in on with a current code of the pending secret.
    pub async fn totp_enable(&self, code: &str) -> Result<(), RemoteError> {
        let req = TotpEnableRequest { code: code.to_owned() };
        let resp = self.send(Method::POST, "/v1/account/totp/enable", Some(&req), true).await?;
        self.finish(resp).await.map(drop)
    }

    /// Turns two-factor log-in off, given proof of the passphrase and a
    /// current code.
    pub async fn totp_disable(&self, auth_key: Vec<u8>, code: &str) -> Result<(), RemoteError> {
        let req = TotpDisableRequest { auth_key: auth_key.into(), code: code.to_owned() };
        let resp = self.send(Method::POST, "/v1/account/totp/disable", Some(&req), true).await?;
        self.finish(resp).await.map(drop)
    }

    pub async fn logout(&self) -> Result<(), RemoteError> {
        let resp = self.send::<()>(Method::POST, "/v1/logout", None, true).await?;
        self.finish(resp).await.map(drop)
    }

    /// The account's live sessions, oldest first; `current` marks this one.
    pub async fn sessions(&self) -> Result<Vec<SessionInfo>, RemoteError> {
        let list: SessionsResponse = self.call::<(), _>(Method::GET, "/v1/sessions", None, true).await?;
        Ok(list.sessions)
    }

    /// Ends one of the account's sessions (this one included, which is a
    /// log-out). An id the account does not have is
    /// [`RemoteError::is_session_not_found`].
    pub async fn revoke_session(&self, id: uuid::Uuid) -> Result<(), RemoteError> {
        let resp = self.send::<()>(Method::DELETE, &format!("/v1/sessions/{id}"), None, true).await?;
        self.finish(resp).await.map(drop)
    }

    /// Ends every session of the account but this one; how many ended.
    pub async fn revoke_other_sessions(&self) -> Result<u64, RemoteError> {
        let r: RevokeOthersResponse =
            self.call::<(), _>(Method::POST, "/v1/sessions/revoke-others", None, true).await?;
        Ok(r.revoked)
    }

    /// Deletes the account and all its data on the server, given the
    /// passphrase's auth key (see `account::delete_account`). A wrong one
    /// is [`RemoteError::is_wrong_passphrase`].
    pub async fn delete_account(&self, auth_key: Vec<u8>) -> Result<(), RemoteError> {
        let req = DeleteAccountRequest { auth_key: auth_key.into() };
        let resp = self.send(Method::POST, "/v1/account/delete", Some(&req), true).await?;
        self.finish(resp).await.map(drop)
    }

    pub async fn account_key(&self) -> Result<AccountKeyResponse, RemoteError> {
        self.call::<(), _>(Method::GET, "/v1/account/key", None, true).await
    }

    /// Changes the account's passphrase (`POST /v1/account/passphrase`;
    /// `account::change_passphrase` builds the request). A wrong proof is
    /// [`RemoteError::is_wrong_passphrase`], a lost race
    /// [`RemoteError::is_key_changed`].
    pub async fn change_passphrase(
        &self,
        req: &ChangePassphraseRequest,
    ) -> Result<ChangePassphraseResponse, RemoteError> {
        self.call(Method::POST, "/v1/account/passphrase", Some(req), true).await
    }

    pub async fn push(&self, ops: Vec<Op>) -> Result<PushResponse, RemoteError> {
        self.call(Method::POST, "/v1/push", Some(&PushRequest { ops }), true).await
    }

    pub async fn pull(&self, cursor: u64, limit: u32) -> Result<PullResponse, RemoteError> {
        self.call::<(), _>(Method::GET, &format!("/v1/pull?cursor={cursor}&limit={limit}"), None, true).await
    }

    /// [`Remote::pull`] with the seqs of this device's own pushes to leave
    /// out (`skip`; nothing added when empty). A server older than the
    /// parameter ignores it and sends everything.
    pub async fn pull_skipping(&self, cursor: u64, limit: u32, skip: &SkipRanges) -> Result<PullResponse, RemoteError> {
        if skip.is_empty() {
            return self.pull(cursor, limit).await;
        }
        let path = format!("/v1/pull?cursor={cursor}&limit={limit}&skip={}", skip.to_query());
        self.call::<(), _>(Method::GET, &path, None, true).await
    }

    /// The account's bootstrap snapshot (`GET /v1/snapshot`); `None` when
    /// it has none (or the server is older than snapshots).
    pub async fn snapshot_info(&self) -> Result<Option<SnapshotInfo>, RemoteError> {
        match self.call::<(), SnapshotInfo>(Method::GET, "/v1/snapshot", None, true).await {
            Ok(info) => Ok(Some(info)),
            Err(RemoteError::Server { code, .. })
                if code == outpost_protocol::v1::error_code::NO_SNAPSHOT
                    || code == outpost_protocol::v1::error_code::NOT_FOUND =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// One chunk of the snapshot at `cursor` (`GET /v1/snapshot/{cursor}/{index}`).
    pub async fn snapshot_chunk(&self, cursor: u64, index: u32) -> Result<Vec<u8>, RemoteError> {
        let chunk: SnapshotChunk =
            self.call::<(), _>(Method::GET, &format!("/v1/snapshot/{cursor}/{index}"), None, true).await?;
        Ok(chunk.data.0)
    }

    /// Uploads one chunk of a snapshot (`POST /v1/snapshot`); a snapshot
    /// at a higher cursor on the server is [`RemoteError::is_snapshot_stale`].
    pub async fn put_snapshot_chunk(&self, upload: &SnapshotChunkUpload) -> Result<SnapshotPutResponse, RemoteError> {
        self.call(Method::POST, "/v1/snapshot", Some(upload), true).await
    }

    // Attached files (`/v1/files`, docs/protocol.md "Files").

    /// Every file of the account.
    pub async fn list_files(&self) -> Result<FileListResponse, RemoteError> {
        self.call::<(), _>(Method::GET, "/v1/files", None, true).await
    }

    /// Declares file `id` of a note (idempotent); the answer says which
    /// chunks the server holds. A full account is
    /// [`RemoteError::is_quota_exceeded`].
    pub async fn declare_file(&self, id: &str, req: &FileDeclareRequest) -> Result<FileStatusResponse, RemoteError> {
        self.call(Method::PUT, &format!("/v1/files/{id}"), Some(req), true).await
    }

    /// The account's file `id` and the chunks the server holds; another
    /// account's id is [`RemoteError::is_file_not_found`], like no id.
    pub async fn file_status(&self, id: &str) -> Result<FileStatusResponse, RemoteError> {
        self.call::<(), _>(Method::GET, &format!("/v1/files/{id}"), None, true).await
    }

    /// Drops every note's reference to the file: the server deletes it at
    /// its garbage collection after a grace period.
    pub async fn drop_file(&self, id: &str) -> Result<(), RemoteError> {
        let resp = self.send::<()>(Method::DELETE, &format!("/v1/files/{id}"), None, true).await?;
        self.finish(resp).await.map(drop)
    }

    /// Uploads one sealed chunk (resending one the server holds is fine).
    pub async fn put_chunk(&self, id: &str, index: u32, sealed: Vec<u8>) -> Result<(), RemoteError> {
        let path = format!("/v1/files/{id}/chunks/{index}");
        let body = Some((sealed, outpost_protocol::v1::FILE_CHUNK_MEDIA_TYPE));
        let resp = self.send_encoded(Method::PUT, &path, body, true, None).await?;
        self.finish(resp).await.map(drop)
    }

    /// Downloads one sealed chunk, as the server holds it (check it!).
    pub async fn get_chunk(&self, id: &str, index: u32) -> Result<Vec<u8>, RemoteError> {
        let resp = self.send::<()>(Method::GET, &format!("/v1/files/{id}/chunks/{index}"), None, true).await?;
        self.finish(resp).await
    }

    /// Server-sent pokes: yields the sequence number of each poke until the
    /// stream ends or breaks. Opening it is one request under the network
    /// control (refused offline, delayed or dropped when flaky); an open
    /// stream ends with [`RemoteError::Offline`] when the control switches
    /// offline.
    pub async fn events(&self) -> Result<impl Stream<Item = Result<u64, RemoteError>> + Send + 'static, RemoteError> {
        let resp = self.send::<()>(Method::GET, EVENTS_PATH, None, true).await?;
        let resp = self.check(resp).await?;
        let net = self.net.as_ref().map(NetControl::subscribe);
        if net.as_ref().is_some_and(|rx| *rx.borrow() == NetMode::Offline) {
            return Err(RemoteError::Offline);
        }
        let traffic = self.traffic.clone();
        let bytes = resp.bytes_stream();
        let state = (bytes, String::new(), net, false);
        Ok(futures_util::stream::unfold(state, move |(mut bytes, mut buf, mut net, ended)| {
            let traffic = traffic.clone();
            async move {
                if ended {
                    return None;
                }
                loop {
                    // Switched offline: nothing more arrives, not even a
                    // poke already on its way.
                    if net.as_ref().is_some_and(|rx| *rx.borrow() == NetMode::Offline) {
                        return Some((Err(RemoteError::Offline), (bytes, buf, net, true)));
                    }
                    // One SSE event ends with a blank line.
                    if let Some(end) = buf.find("\n\n") {
                        let event: String = buf.drain(..end + 2).collect();
                        let data: String = event
                            .lines()
                            .filter_map(|l| l.strip_prefix("data:"))
                            .map(str::trim_start)
                            .collect::<Vec<_>>()
                            .join("\n");
                        if data.is_empty() {
                            continue; // a comment or keep-alive
                        }
                        let item = serde_json::from_str::<PokeEvent>(&data)
                            .map(|p| p.seq)
                            .map_err(|e| RemoteError::Decode(format!("poke event: {e}")));
                        return Some((item, (bytes, buf, net, false)));
                    }
                    // The server sends a keep-alive every 15 s: a longer
                    // silence is a dead connection, so end and let the
                    // caller reopen.
                    let next = async {
                        match tokio::time::timeout(EVENTS_IDLE, bytes.next()).await {
                            Ok(chunk) => chunk.map(|r| r.map_err(Some)),
                            Err(_) => Some(Err(None)),
                        }
                    };
                    let chunk = match net.as_mut() {
                        Some(rx) => tokio::select! {
                            chunk = next => chunk,
                            changed = rx.changed() => {
                                // The control is gone: nothing can switch it any more.
                                if changed.is_err() {
                                    net = None;
                                }
                                continue; // the check at the top sees the new mode
                            }
                        },
                        None => next.await,
                    };
                    match chunk {
                        Some(Ok(chunk)) => {
                            traffic.1.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                            buf.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
                        }
                        Some(Err(Some(e))) => {
                            return Some((Err(RemoteError::Unreachable(e.to_string())), (bytes, buf, net, false)))
                        }
                        Some(Err(None)) => {
                            let e = RemoteError::Unreachable(format!(
                                "the server's event stream was silent for {} s",
                                EVENTS_IDLE.as_secs()
                            ));
                            return Some((Err(e), (bytes, buf, net, true)));
                        }
                        None => return None,
                    }
                }
            }
        }))
    }

    /// Every request goes through here (and `Remote::send`).
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        auth: bool,
    ) -> Result<T, RemoteError> {
        let resp = self.send(method, path, body, auth).await?;
        let bytes = self.finish(resp).await?;
        Encoding::Postcard.decode(&bytes).map_err(|e| RemoteError::Decode(e.to_string()))
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        auth: bool,
    ) -> Result<reqwest::Response, RemoteError> {
        self.send_with(method, path, body, auth, None).await
    }

    /// [`Remote::send`] with one more header (`extra`: name and value).
    async fn send_with<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        auth: bool,
        extra: Option<(&str, &str)>,
    ) -> Result<reqwest::Response, RemoteError> {
        let body = match body {
            Some(b) => Some((
                Encoding::Postcard.encode(b).map_err(|e| RemoteError::Decode(e.to_string()))?,
                Encoding::Postcard.media_type(),
            )),
            None => None,
        };
        self.send_encoded(method, path, body, auth, extra).await
    }

    /// [`Remote::send_with`] with the body already encoded (its bytes and
    /// media type): postcard, or a file chunk's raw bytes.
    async fn send_encoded(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str)>,
        auth: bool,
        extra: Option<(&str, &str)>,
    ) -> Result<reqwest::Response, RemoteError> {
        // The mode is read per request, so a switch applies to the next one.
        let mode = self.net.as_ref().map(NetControl::mode).unwrap_or_default();
        if mode == NetMode::Offline {
            return Err(RemoteError::Offline);
        }
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url).header("accept", Encoding::Postcard.media_type());
        if auth {
            let token = self.token.as_ref().ok_or_else(|| RemoteError::Unauthorized("no session".into()))?;
            req = req.bearer_auth(&token.0);
        }
        // Only where a session begins: the name belongs to the session.
        if let (Some(name), "/v1/register" | "/v1/login") = (&self.device_name, path) {
            let value = outpost_protocol::v1::encode_device_name(name);
            req = req.header(outpost_protocol::v1::DEVICE_NAME_HEADER, value);
        }
        if let Some((name, value)) = extra {
            req = req.header(name, value);
        }
        let mut body_len = 0;
        if let Some((bytes, media_type)) = body {
            body_len = bytes.len();
            req = req.header("content-type", media_type).body(bytes);
        }
        if path == EVENTS_PATH {
            // The poke stream stays open: the client's whole-request timeout
            // would cut it every 30 s. Silence is caught per read instead
            // (`EVENTS_IDLE`).
            req = req.timeout(EVENTS_LIFETIME);
        }
        let req = req.build().map_err(|e| RemoteError::BadUrl(e.to_string()))?;
        let lost =
            match (mode, &self.net) {
                (NetMode::Flaky { drop, latency_ms }, Some(control)) => {
                    tokio::time::sleep(Duration::from_millis(latency_ms.min(MAX_LATENCY_MS))).await;
                    // `drop` may be anything a caller set; NaN and values
                    // below 0 never drop, 1 and above always do.
                    (control.draw() < drop).then(|| {
                        if control.draw() < 0.5 {
                            Loss::BeforeSending
                        } else {
                            Loss::AfterAnswer
                        }
                    })
                }
                _ => None,
            };
        if lost == Some(Loss::BeforeSending) {
            return Err(RemoteError::Unreachable(
                "simulated network drop (outpost net flaky): the request was lost before reaching the server".into(),
            ));
        }
        let head = method.as_str().len() + 1 + path.len() + " HTTP/1.1\r\n".len() + headers_len(req.headers()) + 2;
        self.traffic.0.fetch_add((head + body_len) as u64, Ordering::Relaxed);
        let resp = self.http.execute(req).await.map_err(|e| RemoteError::Unreachable(describe(&e)))?;
        if lost == Some(Loss::AfterAnswer) {
            // The server has done the work (a push is committed); the
            // device never hears of it, as when a connection dies late.
            return Err(RemoteError::Unreachable(
                "simulated network drop (outpost net flaky): the server answered but the answer was lost".into(),
            ));
        }
        Ok(resp)
    }

    /// Check the status and read the whole body, counting what came back.
    async fn finish(&self, resp: reqwest::Response) -> Result<Vec<u8>, RemoteError> {
        let resp = self.check(resp).await?;
        let bytes = resp.bytes().await.map_err(|e| RemoteError::Unreachable(describe(&e)))?;
        self.traffic.1.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.to_vec())
    }

    async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response, RemoteError> {
        let head = "HTTP/1.1 200 OK\r\n".len() + headers_len(resp.headers()) + 2;
        self.traffic.1.fetch_add(head as u64, Ordering::Relaxed);
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        self.traffic.1.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let body: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        let (code, message) = match body {
            Some(b) => (b.code, b.message),
            None => (status.as_str().to_owned(), status.canonical_reason().unwrap_or("error").to_owned()),
        };
        if status == StatusCode::GONE && code == outpost_protocol::v1::error_code::ACCOUNT_DELETED {
            return Err(RemoteError::AccountDeleted);
        }
        // Before the 401 below: these are not a lost session.
        if code == outpost_protocol::v1::error_code::TOTP_REQUIRED {
            return Err(RemoteError::TotpRequired);
        }
        if code == outpost_protocol::v1::error_code::TOTP_INVALID {
            return Err(RemoteError::TotpInvalid);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(RemoteError::Unauthorized(message));
        }
        Err(RemoteError::Server { status: status.as_u16(), code, message })
    }
}

fn headers_len(h: &reqwest::header::HeaderMap) -> usize {
    h.iter().map(|(k, v)| k.as_str().len() + 2 + v.len() + 2).sum()
}

/// reqwest's errors say little at the top; the cause is further down.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(matches!(Remote::new("http://example.com"), Err(RemoteError::InsecureUrl(_))));
        assert!(matches!(Remote::new("http://10.0.0.1:8787"), Err(RemoteError::InsecureUrl(_))));
        assert!(matches!(Remote::new("ftp://127.0.0.1"), Err(RemoteError::BadUrl(_))));
        assert!(matches!(Remote::new("not a url"), Err(RemoteError::BadUrl(_))));
        for ok in ["http://127.0.0.1:8787/", "http://localhost:1", "http://[::1]:9", "https://sync.example.org"] {
            assert!(Remote::new(ok).is_ok(), "{ok}");
        }
        assert_eq!(Remote::new("https://sync.example.org/").expect("url").base_url(), "https://sync.example.org");
    }
}
