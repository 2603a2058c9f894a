//! What an attacker probing a running server would try (issue 13), against
//! a real server on 127.0.0.1, on SQLite always and on PostgreSQL when
//! `OUTPOST_TEST_PG_URL` is set (see `build.rs` and `story.rs`):
//!
//! - a log-in for a name without an account answers like one for a name
//!   with one (status, body, stable decoy parameters across restarts);
//!   the time each takes is printed (`--nocapture`), not asserted;
//! - an event stream ends when its session is logged out (on any instance)
//!   or expires, and only that session's stream.

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
