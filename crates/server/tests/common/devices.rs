//! Devices that speak the `/v1` API by hand (register, log in, list and
//! end sessions, open the event stream), for the tests of sessions and of
//! account deletion.

use std::time::Duration;

use futures_util::StreamExt as _;
use outpost_protocol::v1::{
    encode_device_name, AccountKeyResponse, ChangePassphraseRequest, ChangePassphraseResponse, Encoding, ErrorBody,
    LoginRequest, LoginStartRequest, LoginStartResponse, RegisterRequest, RevokeOthersResponse, SessionResponse,
    SessionsResponse, TotpDisableRequest, TotpEnableRequest, TotpSetupRequest, TotpSetupResponse, DEVICE_NAME_HEADER,
    TOTP_CODE_HEADER,
};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

#[derive(Clone)]
pub struct Device {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub enc: Encoding,
}

impl Device {
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("accept", self.enc.media_type())
            .bearer_auth(&self.token)
    }

    pub async fn sessions(&self) -> Result<SessionsResponse, (StatusCode, ErrorBody)> {
        let resp = self.req(Method::GET, "/v1/sessions").send().await.expect("list");
        answer(self.enc, resp).await
    }

    pub async fn revoke(&self, id: &str) -> Result<(), (StatusCode, ErrorBody)> {
        let resp = self.req(Method::DELETE, &format!("/v1/sessions/{id}")).send().await.expect("revoke");
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(error(resp).await)
    }

    pub async fn change_passphrase(
        &self,
        body: &ChangePassphraseRequest,
    ) -> Result<ChangePassphraseResponse, (StatusCode, ErrorBody)> {
        self.post("/v1/account/passphrase", body).await
    }

    /// `POST` of `body` to `path`, its answer decoded, or the error.
    pub async fn post<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<R, (StatusCode, ErrorBody)> {
        answer(self.enc, self.send_post(path, body).await).await
    }

    async fn send_post<T: serde::Serialize>(&self, path: &str, body: &T) -> reqwest::Response {
        self.req(Method::POST, path)
            .header("content-type", self.enc.media_type())
            .body(self.enc.encode(body).expect("encode"))
            .send()
            .await
            .expect(path)
    }

    /// `POST` of `body` to `path`, answered `204` (`Ok`) or an error.
    pub async fn post_no_content<T: serde::Serialize>(
        &self,
        path: &str,
        body: &T,
    ) -> Result<(), (StatusCode, ErrorBody)> {
        let resp = self.send_post(path, body).await;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        Err(error(resp).await)
    }

    pub async fn totp_setup(&self, auth_key: &[u8]) -> Result<TotpSetupResponse, (StatusCode, ErrorBody)> {
        self.post("/v1/account/totp/setup", &TotpSetupRequest { auth_key: auth_key.to_vec().into() }).await
    }

    pub async fn totp_enable(&self, code: &str) -> Result<(), (StatusCode, ErrorBody)> {
        self.post_no_content("/v1/account/totp/enable", &TotpEnableRequest { code: code.to_owned() }).await
    }

    pub async fn totp_disable(&self, auth_key: &[u8], code: &str) -> Result<(), (StatusCode, ErrorBody)> {
        let body = TotpDisableRequest { auth_key: auth_key.to_vec().into(), code: code.to_owned() };
        self.post_no_content("/v1/account/totp/disable", &body).await
    }

    pub async fn account_key(&self) -> AccountKeyResponse {
        let resp = self.req(Method::GET, "/v1/account/key").send().await.expect("account key");
        answer(self.enc, resp).await.expect("the account's key")
    }

    pub async fn revoke_others(&self) -> Result<RevokeOthersResponse, (StatusCode, ErrorBody)> {
        let resp = self.req(Method::POST, "/v1/sessions/revoke-others").send().await.expect("revoke-others");
        answer(self.enc, resp).await
    }

    /// Opens `/v1/events` and reads the poke sent on connect, so the
    /// stream is known to be live before anything is revoked.
    pub async fn open_events(&self) -> Events {
        let resp = self.req(Method::GET, "/v1/events").send().await.expect("events");
        assert_eq!(resp.status(), StatusCode::OK, "events open");
        let mut events =
            Events { stream: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))), buf: Vec::new() };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !events.buf.windows(11).any(|w| w == b"event: poke") {
            match tokio::time::timeout_at(deadline, events.stream.next()).await {
                Ok(Some(Ok(chunk))) => events.buf.extend_from_slice(&chunk),
                other => panic!("no poke on connect: {other:?}"),
            }
        }
        events
    }
}

pub async fn answer<T: serde::de::DeserializeOwned>(
    enc: Encoding,
    resp: reqwest::Response,
) -> Result<T, (StatusCode, ErrorBody)> {
    if resp.status().is_success() {
        let bytes = resp.bytes().await.expect("body");
        Ok(enc.decode(&bytes).expect("decode answer"))
    } else {
        Err(error(resp).await)
    }
}

pub async fn error(resp: reqwest::Response) -> (StatusCode, ErrorBody) {
    let status = resp.status();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(ct.starts_with("application/json"), "errors are JSON, got {ct}");
    (status, resp.json().await.expect("ErrorBody"))
}

pub struct Events {
    pub stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    pub buf: Vec<u8>,
}

impl Events {
    /// How long the stream took to end, if it did within `wait`: the bound
    /// is a timeout on reading it, not a sleep.
    pub async fn ends_within(&mut self, wait: Duration) -> Option<Duration> {
        let start = tokio::time::Instant::now();
        let deadline = start + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return Some(start.elapsed()),
                Ok(Some(Ok(_))) => continue, // keep-alives, pokes
                Err(_) => return None,
            }
        }
    }
}

pub struct Keys {
    pub username: String,
    pub auth_key: Vec<u8>,
}

pub async fn register(base: &str, enc: Encoding, name: &str, device: &str) -> (Keys, Device) {
    let keys = Keys {
        username: format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..12]),
        auth_key: (0..32).map(|_| rand::random::<u8>()).collect(),
    };
    let body = RegisterRequest {
        username: keys.username.clone(),
        auth_key: keys.auth_key.clone().into(),
        wrapped_key: b"WRAPPED".to_vec().into(),
        kdf_params: b"{}".to_vec().into(),
    };
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/v1/register"))
        .header("content-type", enc.media_type())
        .header("accept", enc.media_type())
        .header(DEVICE_NAME_HEADER, encode_device_name(device))
        .body(enc.encode(&body).expect("encode"))
        .send()
        .await
        .expect("register");
    let session: SessionResponse = answer(enc, resp).await.expect("registered");
    let device = Device { http, base: base.to_owned(), token: session.token.0, enc };
    (keys, device)
}

/// A new device logging in to `keys`'s account, naming itself `device`
/// (`None`: no header at all).
pub async fn log_in(base: &str, enc: Encoding, keys: &Keys, device: Option<&str>) -> Device {
    try_log_in(base, enc, keys, device).await.expect("logged in")
}

/// [`log_in`], or the refusal.
pub async fn try_log_in(
    base: &str,
    enc: Encoding,
    keys: &Keys,
    device: Option<&str>,
) -> Result<Device, (StatusCode, ErrorBody)> {
    try_log_in_with_code(base, enc, keys, device, None).await
}

/// [`try_log_in`], sending `totp_code` (if any) in its header at finish.
pub async fn try_log_in_with_code(
    base: &str,
    enc: Encoding,
    keys: &Keys,
    device: Option<&str>,
    totp_code: Option<&str>,
) -> Result<Device, (StatusCode, ErrorBody)> {
    let http = reqwest::Client::new();
    let post = |path: &str, body: Vec<u8>| {
        let mut r = http
            .post(format!("{base}{path}"))
            .header("content-type", enc.media_type())
            .header("accept", enc.media_type())
            .body(body);
        if let Some(name) = device {
            r = r.header(DEVICE_NAME_HEADER, encode_device_name(name));
        }
        r
    };
    let start = LoginStartRequest { username: keys.username.clone() };
    let resp = post("/v1/login/start", enc.encode(&start).expect("encode")).send().await.expect("start");
    let ls: LoginStartResponse = answer(enc, resp).await?;
    let body = LoginRequest {
        username: keys.username.clone(),
        challenge: ls.challenge,
        auth_key: keys.auth_key.clone().into(),
    };
    let mut finish = post("/v1/login", enc.encode(&body).expect("encode"));
    if let Some(code) = totp_code {
        finish = finish.header(TOTP_CODE_HEADER, code);
    }
    let resp = finish.send().await.expect("login");
    let session: SessionResponse = answer(enc, resp).await?;
    Ok(Device { http, base: base.to_owned(), token: session.token.0, enc })
}
