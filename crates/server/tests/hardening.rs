//! What an attacker probing a running server would try (issue 13), against
//! a real server on 127.0.0.1, on SQLite always and on PostgreSQL when
//! `OUTPOST_TEST_PG_URL` is set (see `build.rs` and `story.rs`):
//!
//! - a log-in for a name without an account answers like one for a name
//!   with one (status, body, stable decoy parameters across restarts);
//!   the time each takes is printed (`--nocapture`), not asserted;
//! - an event stream ends when its session is logged out (on any instance)
//!   or expires, and only that session's stream;
//! - a push past the account's storage quota is refused whole, and one
//!   that shrinks an account over its quota is not;
//! - every error is the documented JSON body, sent over raw TCP so no
//!   client library tidies anything up; where hyper answers before the
//!   app can (a head it cannot parse), exactly what it sends, as
//!   docs/protocol.md states it.

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt as _;
use outpost_server::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

mod common;
use common::{pg_url, start_with};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(v.as_str().expect("a base64 string")).expect("base64")
}

fn unique(name: &str) -> String {
    format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("server.db").display())
}

/// POSTs JSON; the status and the body as JSON.
async fn post(http: &reqwest::Client, base: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let resp = http.post(format!("{base}{path}")).json(body).send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.expect("a JSON body"))
}

/// The KDF parameters a device registers (`AccountKdf` in
/// `crates/core/src/account.rs`), with a random key id and salt.
fn device_kdf_params() -> Vec<u8> {
    let salt: String = (0..16).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let key_id: u32 = rand::random();
    format!(r#"{{"key_id":{key_id},"kdf":{{"alg":"argon2id-v19","m":65536,"t":3,"p":1,"salt":"{salt}"}}}}"#)
        .into_bytes()
}

/// A JSON value with every leaf replaced by its type: two bodies of one
/// shape map to the same value.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

/// KDF parameters' text with the key id and salt blanked out.
fn template(params: &[u8]) -> String {
    let v: Value = serde_json::from_slice(params).expect("JSON");
    let text = String::from_utf8(params.to_vec()).expect("UTF-8");
    let salt = v["kdf"]["salt"].as_str().expect("a salt");
    text.replacen(&format!(r#""key_id":{}"#, v["key_id"]), r#""key_id":K"#, 1).replacen(salt, "S", 1)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A log-in start for a name without an account: the same status and
/// body shape as for one with an account, decoy KDF parameters shaped like
/// a device's, stable per name and across a restart, different per name;
/// the finish fails like a wrong passphrase. Timing medians printed.
async fn unknown_names_look_like_known_ones(url: &str, backend: &str) {
    let mut config = Config::new(url);
    // Hundreds of starts per name for the timing figures.
    config.login_attempts = 1_000_000;
    let server = start_with(config.clone()).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();

    let known = unique("known");
    let kdf = device_kdf_params();
    let (status, _) = post(
        &http,
        &base,
        "/v1/register",
        &json!({"username": known, "auth_key": b64(&[5; 32]), "wrapped_key": b64(b"wrapped"), "kdf_params": b64(&kdf)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "register");
    let unknown = unique("unknown");

    let start = |name: &str| {
        let (http, base, body) = (http.clone(), base.clone(), json!({ "username": name }));
        async move { post(&http, &base, "/v1/login/start", &body).await }
    };
    let (ks, kb) = start(&known).await;
    let (us, ub) = start(&unknown).await;
    assert_eq!((ks, us), (StatusCode::OK, StatusCode::OK), "both starts succeed");
    assert_eq!(shape(&kb), shape(&ub), "one body shape");
    assert_eq!(unb64(&kb["kdf_params"]), kdf, "a known name gets its own parameters");
    assert_eq!(unb64(&kb["challenge"]).len(), unb64(&ub["challenge"]).len(), "challenges of one length");
    assert_eq!(kb["expires_in_secs"], ub["expires_in_secs"]);
    let decoy = unb64(&ub["kdf_params"]);
    let known_params: Value = serde_json::from_slice(&kdf).expect("JSON");
    let decoy_params: Value = serde_json::from_slice(&decoy).expect("decoy parameters are JSON");
    assert_eq!(shape(&known_params), shape(&decoy_params), "decoy parameters shaped like a device's");
    assert_eq!(decoy_params["kdf"]["salt"].as_str().map(str::len), Some(32), "a 16-byte hex salt");
    assert_eq!(template(&kdf), template(&decoy), "the same text but for key id and salt");
    let (_, again) = start(&unknown).await;
    assert_eq!(unb64(&again["kdf_params"]), decoy, "the same decoy each time");
    assert_ne!(again["challenge"], ub["challenge"], "a fresh challenge each time");
    let (_, other) = start(&unique("unknown")).await;
    assert_ne!(unb64(&other["kdf_params"]), decoy, "another name, another decoy");

    // The finish: a wrong key for the known name and any key for the
    // unknown one fail alike; each challenge then is spent alike.
    let finish = |name: &str, challenge: &Value| {
        let body = json!({"username": name, "challenge": challenge, "auth_key": b64(&[9; 32])});
        let (http, base) = (http.clone(), base.clone());
        async move { post(&http, &base, "/v1/login", &body).await }
    };
    let (_, kb) = start(&known).await;
    let (_, ub) = start(&unknown).await;
    let known_fail = finish(&known, &kb["challenge"]).await;
    let unknown_fail = finish(&unknown, &ub["challenge"]).await;
    assert_eq!(known_fail.0, StatusCode::UNAUTHORIZED);
    assert_eq!(known_fail, unknown_fail, "one failure, status and body");
    assert_eq!(known_fail.1["code"], "invalid_credentials");
    let known_replay = finish(&known, &kb["challenge"]).await;
    assert_eq!(known_replay, finish(&unknown, &ub["challenge"]).await, "a spent challenge, either way");
    assert_eq!(known_replay.1["code"], "invalid_challenge");

    // Timing, interleaved so drift hits both alike. Printed only: a
    // shared test machine's clock is no basis for a pass or a fail.
    const STARTS: usize = 300;
    const FINISHES: usize = 20;
    let (mut known_starts, mut unknown_starts) = (Vec::new(), Vec::new());
    for _ in 0..STARTS {
        for (name, times) in [(&known, &mut known_starts), (&unknown, &mut unknown_starts)] {
            let t = Instant::now();
            let (status, _) = start(name).await;
            times.push(t.elapsed());
            assert_eq!(status, StatusCode::OK);
        }
    }
    let (mut known_finishes, mut unknown_finishes) = (Vec::new(), Vec::new());
    for _ in 0..FINISHES {
        for (name, times) in [(&known, &mut known_finishes), (&unknown, &mut unknown_finishes)] {
            let (_, b) = start(name).await;
            let t = Instant::now();
            let (status, _) = finish(name, &b["challenge"]).await;
            times.push(t.elapsed());
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    println!(
        "{backend}: login/start median over {STARTS}: known {:?}, unknown {:?}; \
         login (wrong key) median over {FINISHES}: known {:?}, unknown {:?}",
        median(known_starts),
        median(unknown_starts),
        median(known_finishes),
        median(unknown_finishes),
    );

    // A restart keeps the secret, so the decoy does not change.
    server.stop().await;
    let server = start_with(config).await;
    let (status, after) = post(&http, &server.base, "/v1/login/start", &json!({ "username": unknown })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unb64(&after["kdf_params"]), decoy, "the same decoy after a restart");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_names_look_like_known_ones_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    unknown_names_look_like_known_ones(&sqlite_url(&dir), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn unknown_names_look_like_known_ones_on_postgres() {
    let url = pg_url("unknown_names_look_like_known_ones_on_postgres").await;
    unknown_names_look_like_known_ones(&url, "postgres").await;
}

// ---------------------------------------------------------------------------
// Event streams and the sessions they were opened with.

struct Events {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buf: String,
}

impl Events {
    async fn open(base: &str, token: &str) -> Events {
        let resp =
            reqwest::Client::new().get(format!("{base}/v1/events")).bearer_auth(token).send().await.expect("events");
        assert_eq!(resp.status(), StatusCode::OK);
        Events { stream: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))), buf: String::new() }
    }

    /// The next poke's seq; fails if none comes within `wait`.
    async fn next_poke(&mut self, wait: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let v: Value = serde_json::from_str(data).expect("poke json");
                    return v["seq"].as_u64().expect("seq");
                }
                continue; // keep-alive comment
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("no poke within {wait:?}: {other:?}"),
            }
        }
    }

    /// Waits for the stream to end; when it did. Fails past `bound`, which
    /// is a bound on a hang, not the figure: that is printed.
    async fn end(&mut self, bound: Duration) -> Instant {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return Instant::now(),
                Ok(Some(Ok(_))) => continue,
                Err(_) => panic!("the event stream did not end within {bound:?}"),
            }
        }
    }
}

async fn register(http: &reqwest::Client, base: &str) -> (String, Value) {
    let name = unique("streamer");
    let (status, session) = post(
        http,
        base,
        "/v1/register",
        &json!({"username": name, "auth_key": b64(&[6; 32]), "wrapped_key": b64(b"wrapped"), "kdf_params": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "register: {session}");
    (name, session)
}

async fn log_in(http: &reqwest::Client, base: &str, name: &str) -> Value {
    let (_, ls) = post(http, base, "/v1/login/start", &json!({ "username": name })).await;
    let (status, session) = post(
        http,
        base,
        "/v1/login",
        &json!({"username": name, "challenge": ls["challenge"], "auth_key": b64(&[6; 32])}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "log in: {session}");
    session
}

fn token(session: &Value) -> String {
    session["token"].as_str().expect("a token").to_owned()
}

async fn push_one(http: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    let op = json!({"op_id": Uuid::now_v7(), "note_id": Uuid::now_v7(), "base_rev": 0,
        "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": false, "payload": "AAH/"});
    let resp = http.post(format!("{base}/v1/push")).bearer_auth(token).json(&json!({ "ops": [op] })).send().await;
    resp.expect("push").status()
}

async fn logout(http: &reqwest::Client, base: &str, token: &str) {
    let resp = http.post(format!("{base}/v1/logout")).bearer_auth(token).send().await.expect("logout");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

/// The bound on a stream that should end: generous, since a loaded test
/// machine is slow; the figures printed say how long it really took.
const HANG: Duration = Duration::from_secs(10);

/// `others`: base URLs of more instances on the same database; a stream
/// opened on each ends when the session is logged out on the first.
async fn streams_end_with_their_session(url: &str, backend: &str, others: &[&str]) {
    let http = reqwest::Client::new();
    let server = start_with(Config::new(url)).await;
    let base = server.base.clone();
    let (name, first) = register(&http, &base).await;
    let second = log_in(&http, &base, &name).await;
    let (first, second) = (token(&first), token(&second));

    let mut keeps = Events::open(&base, &first).await;
    let mut ends = Events::open(&base, &second).await;
    let mut elsewhere = Vec::new();
    for other in others {
        elsewhere.push(Events::open(other, &second).await);
    }
    keeps.next_poke(HANG).await;
    ends.next_poke(HANG).await;
    for e in &mut elsewhere {
        e.next_poke(HANG).await;
    }
    let sent = Instant::now();
    logout(&http, &base, &second).await;
    let took = ends.end(HANG).await - sent;
    let mut figures = format!("{backend}: stream ended {took:?} after the log-out was sent");
    for e in &mut elsewhere {
        let took = e.end(HANG).await - sent;
        figures.push_str(&format!(", {took:?} on another instance"));
    }
    println!("{figures}");
    // The other session's stream lives on and still hears pushes.
    assert_eq!(push_one(&http, &base, &first).await, StatusCode::OK);
    assert_eq!(keeps.next_poke(HANG).await, 1, "the other session's stream still pokes");
    server.stop().await;

    // Expiry: a session of a second ends its stream when it expires.
    let mut config = Config::new(url);
    config.session_ttl = Duration::from_secs(2);
    let server = start_with(config).await;
    let (_, session) = register(&http, &server.base).await;
    let expires_at_ms = session["expires_at_ms"].as_u64().expect("expires_at_ms");
    let mut expiring = Events::open(&server.base, &token(&session)).await;
    expiring.next_poke(HANG).await;
    expiring.end(HANG).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let late = i128::try_from(now).expect("ms") - i128::from(expires_at_ms);
    println!("{backend}: stream ended {late} ms after its session expired");
    let after = http.get(format!("{}/v1/pull", server.base)).bearer_auth(token(&session)).send().await.expect("pull");
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the session has expired");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_end_with_their_session_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    streams_end_with_their_session(&sqlite_url(&dir), "sqlite", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn streams_end_with_their_session_on_postgres() {
    let url = pg_url("streams_end_with_their_session_on_postgres").await;
    let other = start_with(Config::new(&url)).await;
    streams_end_with_their_session(&url, "postgres", &[&other.base]).await;
    other.stop().await;
}

// ---------------------------------------------------------------------------
// Errors over raw TCP.

/// A raw HTTP/1.1 exchange: writes `request`, reads until the server
/// closes. Status, head and body.
async fn raw(addr: &str, request: &[u8]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything (an
    // oversized head): a failed write is then no failure of the test.
    let _ = conn.write_all(request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(HANG, conn.read_to_end(&mut answer)).await.expect("the server answers and closes");
    // A reset after the answer (unread request bytes) is fine too.
    if let Err(e) = read {
        assert!(!answer.is_empty(), "no answer: {e}");
    }
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, head, answer[split + 4..].to_vec())
}

/// Fails unless the answer is the JSON error `code` with `status`.
fn assert_json_error(case: &str, (status, head, body): &(u16, String, Vec<u8>), want_status: u16, code: &str) {
    assert_eq!(*status, want_status, "{case}: {head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{case}: {head}");
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|e| panic!("{case}: not JSON ({e}): {body:?}"));
    assert_eq!(v["code"], code, "{case}: {v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {v}");
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "{case}: only code and message: {v}");
}

/// Fails unless hyper's own answer: `status`, no body, connection closed
/// (`raw` read to the end, so it was).
fn assert_bare(case: &str, (status, head, body): &(u16, String, Vec<u8>), want_status: u16) {
    assert_eq!(*status, want_status, "{case}: {head}");
    assert!(body.is_empty(), "{case}: a body after all: {body:?}");
    let mut names: Vec<String> =
        head.lines().skip(1).map(|l| l.split(':').next().unwrap_or("").to_ascii_lowercase()).collect();
    names.sort();
    assert_eq!(names, ["connection", "content-length", "date"], "{case}: {head}");
    assert!(head.to_ascii_lowercase().contains("content-length: 0"), "{case}: {head}");
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_error_is_json_or_hypers_bare_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let mut config = Config::new(&url);
    config.request_timeout = Duration::from_secs(1);
    let server = start_with(config).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();
    let (_, session) = register(&http, &server.base).await;
    let token = token(&session);

    // What reaches the app: JSON, whatever went wrong.
    assert_json_error("unknown route", &raw(&addr, &get("/nothing", "")).await, 404, "not_found");
    assert_json_error("unknown version", &raw(&addr, &get("/v2/pull", "")).await, 404, "unsupported_version");
    let delete = b"DELETE /v1/push HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    assert_json_error("wrong method", &raw(&addr, delete).await, 405, "method_not_allowed");
    let big = format!(
        "POST /v1/login/start HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        9 * 1024 * 1024
    );
    assert_json_error("body too large", &raw(&addr, big.as_bytes()).await, 413, "body_too_large");
    let text = b"POST /v1/login/start HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n\
        Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    assert_json_error("unsupported media type", &raw(&addr, text).await, 415, "unsupported_media_type");
    let many: String = (0..70).map(|i| format!("X-Pad-{i}: x\r\n")).collect();
    assert_json_error("70 headers", &raw(&addr, &get("/v1/health", &many)).await, 431, "headers_too_large");
    let long = format!("X-Pad: {}\r\n", "x".repeat(40 * 1024));
    assert_json_error("a 40 KiB header", &raw(&addr, &get("/v1/health", &long)).await, 431, "headers_too_large");
    let path = format!("/v1/health?pad={}", "x".repeat(10 * 1024));
    assert_json_error("a 10 KiB URI", &raw(&addr, &get(&path, "")).await, 414, "uri_too_long");

    // A handler that cannot finish in time: the database's write lock is
    // held from outside, so the push waits on it.
    {
        use sqlx::Connection as _;
        let mut blocker = sqlx::SqliteConnection::connect(&url).await.expect("a second connection");
        sqlx::query("BEGIN IMMEDIATE").execute(&mut blocker).await.expect("take the write lock");
        // One op, so the push needs the write lock (an empty one does not).
        let body = json!({"ops": [{"op_id": Uuid::now_v7(), "note_id": Uuid::now_v7(), "base_rev": 0,
            "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": false, "payload": ""}]})
        .to_string();
        let push = format!(
            "POST /v1/push HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        assert_json_error("a handler past the time limit", &raw(&addr, push.as_bytes()).await, 503, "timeout");
        sqlx::query("ROLLBACK").execute(&mut blocker).await.expect("release the write lock");
    }
    // Nothing of the timed-out push was stored, and the server serves on.
    let pull = http.get(format!("{}/v1/pull", server.base)).bearer_auth(&token).send().await.expect("pull");
    let page: Value = pull.json().await.expect("JSON");
    assert_eq!(page["changes"], json!([]), "the timed-out push applied nothing");

    // What hyper refuses before the app sees a request: its own bare
    // answer, then it closes the connection (docs/protocol.md, "Errors").
    assert_bare("a bad request line", &raw(&addr, b"GARBAGE\r\n\r\n").await, 400);
    assert_bare("a bad version", &raw(&addr, b"GET / HTTP/7.0\r\nHost: t\r\n\r\n").await, 400);
    assert_bare("a bad header line", &raw(&addr, b"GET / HTTP/1.1\r\nHost t\r\n\r\n").await, 400);
    let bad_length = b"POST /v1/login/start HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n{}";
    assert_bare("an invalid Content-Length", &raw(&addr, bad_length).await, 400);
    let bad_coding = b"POST /v1/login/start HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: zip\r\n\r\n{}";
    assert_bare("an unknown Transfer-Encoding", &raw(&addr, bad_coding).await, 400);
    let lots: String = (0..120).map(|i| format!("X-Pad-{i}: x\r\n")).collect();
    assert_bare("120 headers", &raw(&addr, &get("/v1/health", &lots)).await, 431);
    let huge = format!("X-Pad: {}\r\n", "x".repeat(512 * 1024));
    assert_bare("a 512 KiB header", &raw(&addr, &get("/v1/health", &huge)).await, 431);
    let path = format!("/v1/health?pad={}", "x".repeat(70 * 1024));
    assert_bare("a 70 KiB URI", &raw(&addr, &get(&path, "")).await, 414);
    let health = http.get(format!("{}/v1/health", server.base)).send().await.expect("health");
    assert_eq!(health.status(), StatusCode::OK, "still serving");
    server.stop().await;
}

// ---------------------------------------------------------------------------
// The storage quota.

fn note_op(note_id: Uuid, base_rev: u64, len: usize, deleted: bool) -> Value {
    json!({"op_id": Uuid::now_v7(), "note_id": note_id, "base_rev": base_rev,
        "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": deleted, "payload": b64(&vec![7; len])})
}

async fn push_ops(http: &reqwest::Client, base: &str, token: &str, ops: Vec<Value>) -> (StatusCode, Value) {
    let resp = http.post(format!("{base}/v1/push")).bearer_auth(token).json(&json!({ "ops": ops })).send().await;
    let resp = resp.expect("push");
    (resp.status(), resp.json().await.expect("JSON"))
}

/// Payload bytes of the notes a pull from 0 returns.
async fn stored(http: &reqwest::Client, base: &str, token: &str) -> usize {
    let page: Value = http
        .get(format!("{base}/v1/pull?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .expect("pull")
        .json()
        .await
        .expect("JSON");
    page["changes"].as_array().expect("changes").iter().map(|c| unb64(&c["payload"]).len()).sum()
}

async fn quota_holds(url: &str) {
    let http = reqwest::Client::new();
    let mut config = Config::new(url);
    config.quota_bytes = 1000;
    let server = start_with(config.clone()).await;
    let base = server.base.clone();
    let (_, session) = register(&http, &base).await;
    let token = token(&session);
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());

    let (status, _) = push_ops(&http, &base, &token, vec![note_op(a, 0, 600, false)]).await;
    assert_eq!(status, StatusCode::OK);
    // One op that fits and one that does not: neither is applied.
    let (status, err) =
        push_ops(&http, &base, &token, vec![note_op(b, 0, 300, false), note_op(c, 0, 300, false)]).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("quota_exceeded")), "{err}");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("1000") && m.contains("nothing")), "{err}");
    assert_eq!(stored(&http, &base, &token).await, 600, "nothing of the refused push was applied");
    // Replacing a version frees its bytes: an edit to 100 bytes, then new
    // notes up to the quota exactly.
    let (status, _) = push_ops(&http, &base, &token, vec![note_op(a, 1, 100, false)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) =
        push_ops(&http, &base, &token, vec![note_op(b, 0, 450, false), note_op(c, 0, 450, false)]).await;
    assert_eq!(status, StatusCode::OK, "{err}");
    assert_eq!(stored(&http, &base, &token).await, 1000);
    server.stop().await;

    // The operator lowers the quota below what the account holds: growing
    // is refused, shrinking (a delete) is not.
    config.quota_bytes = 500;
    let server = start_with(config).await;
    let base = server.base.clone();
    let (status, err) = push_ops(&http, &base, &token, vec![note_op(Uuid::now_v7(), 0, 1, false)]).await;
    assert_eq!((status, err["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("quota_exceeded")), "{err}");
    let (status, err) = push_ops(&http, &base, &token, vec![note_op(b, 1, 0, true)]).await;
    assert_eq!(status, StatusCode::OK, "a delete is allowed over the quota: {err}");
    assert_eq!(stored(&http, &base, &token).await, 550);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_holds_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    quota_holds(&sqlite_url(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn quota_holds_on_postgres() {
    quota_holds(&pg_url("quota_holds_on_postgres").await).await;
}
