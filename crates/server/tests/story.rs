//! One story of the `/v1` API, told against a real server on 127.0.0.1 with
//! a real HTTP client, on every backend: SQLite always, PostgreSQL when
//! `OUTPOST_TEST_PG_URL` is set (`scripts/pg-test-env.sh` prints one);
//! without it the PostgreSQL tests show as ignored with the reason
//! "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set", except under
//! CI (`CI=true`), where they fail instead (see `build.rs`).
//!
//! Besides the story, each backend gets a device's view of secrecy
//! (`no_secret_reaches_*`): notes sealed on the client, and the server's
//! log and stored data checked for every secret the devices sent it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt as _;
use outpost_protocol::v1::{
    AccountKeyResponse, Bytes, Encoding, ErrorBody, LoginRequest, LoginStartRequest, LoginStartResponse, Op,
    PullResponse, PushRequest, PushResponse, PushResult, SessionResponse,
};
use outpost_protocol::Hlc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

mod common;
use common::{captured_logs, pg_url, start};

/// Whether the server's database may hold a secret. None may be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// Tokens, auth keys, plaintext: never stored.
    Never,
    /// Opaque to the server and stored as given, but perhaps overwritten
    /// since (a payload of an older version).
    Maybe,
    /// Opaque to the server and stored as given: must be found, which also
    /// shows that the scan of the database reads what it should.
    Always,
}

/// Something a device hands the server that must not leak, in every form
/// a log line or a database dump could show it in.
#[derive(Clone, Debug)]
struct Secret {
    /// What it is, for failure messages (which never show the secret).
    what: String,
    kept: Kept,
    /// Raw bytes, base64 (standard and URL-safe, unpadded), hex (lower and
    /// upper case, as PostgreSQL dumps `bytea`), and Rust's `Debug` of a
    /// byte vector; each as Latin-1 text (see `latin1`).
    forms: Vec<String>,
}

/// Bytes as text of one char per byte, so `str::contains` (fast) finds a
/// byte string in a byte string exactly, whether or not either is UTF-8.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The secrets a story handed the server.
#[derive(Default)]
struct Secrets(Mutex<Vec<Secret>>);

impl Secrets {
    fn add(&self, what: impl Into<String>, kept: Kept, raw: &[u8]) {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        assert!(raw.len() >= 16, "a secret short enough to turn up by chance");
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let debug = format!("{raw:?}");
        let forms = vec![
            latin1(raw),
            STANDARD_NO_PAD.encode(raw),
            URL_SAFE_NO_PAD.encode(raw),
            hex.to_uppercase(),
            hex,
            debug.trim_start_matches('[').trim_end_matches(']').to_owned(),
        ];
        self.0.lock().expect("lock").push(Secret { what: what.into(), kept, forms });
    }

    /// A bearer token: its text, and the bytes it encodes.
    fn add_token(&self, what: &str, token: &str) {
        self.add(what, Kept::Never, token.as_bytes());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).expect("a token is base64url");
        self.add(format!("{what} (decoded)"), Kept::Never, &raw);
    }

    fn all(&self) -> Vec<Secret> {
        self.0.lock().expect("lock").clone()
    }
}

/// Fails if a log shows any secret in any form.
fn assert_not_logged(log: &[u8], secrets: &[Secret], place: &str) {
    let text = latin1(log);
    for s in secrets {
        assert!(!s.forms.iter().any(|f| text.contains(f.as_str())), "{place} shows {}", s.what);
    }
}

/// Fails if what a database holds shows a secret it must never keep, or
/// lacks one it must keep as given.
fn assert_stored_rightly(stored: &[u8], secrets: &[Secret], place: &str) {
    let text = latin1(stored);
    let mut kept = 0;
    for s in secrets {
        let found = s.forms.iter().any(|f| text.contains(f.as_str()));
        match s.kept {
            Kept::Never => assert!(!found, "{place} holds {}", s.what),
            Kept::Always => {
                assert!(found, "{place} lacks {}, which the server keeps as given", s.what);
                kept += 1;
            }
            Kept::Maybe => {}
        }
    }
    assert!(kept > 0, "{place}: nothing it must hold was checked, so its absences prove nothing");
}

/// Everything the database behind `url` holds, as bytes to search. SQLite:
/// the database file, its WAL and shared-memory index, as they are on disk.
/// PostgreSQL: every row of every table of the schema, as text (`bytea` in
/// hex).
async fn stored_bytes(url: &str) -> Vec<u8> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut all = std::fs::read(path).expect("the database file");
        for suffix in ["-wal", "-shm"] {
            if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                all.extend(more);
            }
        }
        return all;
    }
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect to PostgreSQL to read its tables");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    assert!(tables.iter().any(|t| t == "notes"), "the server's tables, found: {tables:?}");
    let mut all = Vec::new();
    for table in tables {
        let sql = format!("SELECT t::text FROM \"{table}\" t");
        let rows: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&mut conn).await.expect("dump a table");
        for row in rows {
            all.extend_from_slice(row.as_bytes());
            all.push(b'\n');
        }
    }
    conn.close().await.expect("close");
    all
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    enc: Encoding,
}

struct Account {
    client: Client,
    username: String,
    keys: AccountKeys,
    session: SessionResponse,
}

/// What a device derives from the passphrase and hands the server at
/// registration.
#[derive(Clone)]
struct AccountKeys {
    auth_key: Vec<u8>,
    wrapped_key: Vec<u8>,
    kdf_params: Vec<u8>,
}

impl AccountKeys {
    /// Random stand-ins, marked so a leak would be recognised.
    fn random() -> Self {
        Self {
            auth_key: (0..32).map(|_| rand::random::<u8>()).collect(),
            wrapped_key: format!("WRAPPEDKEY-{}", Uuid::new_v4()).into_bytes(),
            kdf_params: format!("argon2id;m=65536;t=3;salt={}", Uuid::new_v4()).into_bytes(),
        }
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

impl Client {
    fn new(base: &str, enc: Encoding) -> Self {
        Self { http: reqwest::Client::new(), base: base.to_owned(), token: None, enc }
    }

    fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..self.clone() }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).header("accept", self.enc.media_type());
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    async fn call<T: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&T>,
    ) -> Result<R, (StatusCode, ErrorBody)> {
        let mut r = self.req(method, path);
        if let Some(b) = body {
            r = r.header("content-type", self.enc.media_type()).body(self.enc.encode(b).expect("encode"));
        }
        let resp = r.send().await.expect("send");
        let status = resp.status();
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = resp.bytes().await.expect("body");
        if status.is_success() {
            assert_eq!(ct, self.enc.media_type(), "answer in the negotiated encoding");
            Ok(self.enc.decode(&bytes).expect("decode answer"))
        } else {
            assert!(ct.starts_with("application/json"), "errors are JSON, got {ct}");
            Err((status, serde_json::from_slice(&bytes).expect("ErrorBody")))
        }
    }

    async fn register(base: &str, enc: Encoding, name: &str, secrets: &Secrets) -> Account {
        Self::register_with(base, enc, name, AccountKeys::random(), secrets).await
    }

    async fn register_with(base: &str, enc: Encoding, name: &str, keys: AccountKeys, secrets: &Secrets) -> Account {
        secrets.add(format!("{name}'s auth key"), Kept::Never, &keys.auth_key);
        secrets.add(format!("{name}'s wrapped key"), Kept::Always, &keys.wrapped_key);
        secrets.add(format!("{name}'s KDF parameters"), Kept::Always, &keys.kdf_params);
        let client = Client::new(base, enc);
        let body = outpost_protocol::v1::RegisterRequest {
            username: name.to_owned(),
            auth_key: keys.auth_key.clone().into(),
            wrapped_key: keys.wrapped_key.clone().into(),
            kdf_params: keys.kdf_params.clone().into(),
        };
        let session: SessionResponse = client.call(Method::POST, "/v1/register", Some(&body)).await.expect("register");
        secrets.add_token(&format!("{name}'s first token"), session.token.as_str());
        Account { client: client.with_token(session.token.as_str()), username: name.to_owned(), keys, session }
    }

    /// Logs in on a new device: `login/start`, then `login` with the
    /// challenge and the account's auth key.
    async fn log_in(&self, username: &str, auth_key: &[u8]) -> Result<SessionResponse, (StatusCode, ErrorBody)> {
        let start = LoginStartRequest { username: username.to_owned() };
        let ls: LoginStartResponse = self.call(Method::POST, "/v1/login/start", Some(&start)).await?;
        let body =
            LoginRequest { username: username.to_owned(), challenge: ls.challenge, auth_key: auth_key.to_vec().into() };
        self.call(Method::POST, "/v1/login", Some(&body)).await
    }

    async fn push(&self, ops: Vec<Op>) -> Vec<PushResult> {
        let r: PushResponse = self.call(Method::POST, "/v1/push", Some(&PushRequest { ops })).await.expect("push");
        r.results
    }

    async fn pull(&self, cursor: u64, limit: u32) -> PullResponse {
        self.call::<(), _>(Method::GET, &format!("/v1/pull?cursor={cursor}&limit={limit}"), None).await.expect("pull")
    }

    /// Every change from `cursor` on, page by page.
    async fn pull_all(&self, mut cursor: u64) -> (Vec<outpost_protocol::v1::Change>, u64) {
        let mut all = Vec::new();
        loop {
            let page = self.pull(cursor, 1000).await;
            all.extend(page.changes);
            cursor = page.next_cursor;
            if !page.more {
                return (all, cursor);
            }
        }
    }
}

fn op(note_id: Uuid, base_rev: u64, payload: &[u8]) -> Op {
    Op {
        op_id: Uuid::now_v7(),
        note_id,
        base_rev,
        hlc: Hlc::new(1_730_000_000_000, 0, 7),
        deleted: false,
        payload: Bytes(payload.to_vec()),
    }
}

// ---------------------------------------------------------------------------
// Server-sent events.

struct Events {
    stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buf: String,
}

impl Events {
    async fn open(client: &Client) -> Events {
        let resp = client.req(Method::GET, "/v1/events").send().await.expect("events");
        assert_eq!(resp.status(), StatusCode::OK);
        Events { stream: Box::pin(resp.bytes_stream().map(|r| r.map(|b| b.to_vec()))), buf: String::new() }
    }

    /// The next poke's seq, or None if none comes within `wait`.
    async fn next_poke(&mut self, wait: Duration) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if frame.lines().any(|l| l == "event: poke") {
                    let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).expect("data line");
                    let v: Value = serde_json::from_str(data).expect("poke json");
                    return v["seq"].as_u64();
                }
                continue; // keep-alive comment
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(e))) => panic!("event stream failed: {e}"),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Reads pokes until one with `seq`, each within `wait`. Earlier pokes
    /// may come first: on PostgreSQL the notification of a push made just
    /// before the stream opened can reach the stream after its poke on
    /// connect has already carried that push's seq.
    async fn poke_reaching(&mut self, seq: u64, wait: Duration) -> Option<u64> {
        loop {
            match self.next_poke(wait).await {
                Some(s) if s < seq => continue,
                other => return other,
            }
        }
    }

    /// True when the stream ends within `wait` (server shut down).
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(None) | Ok(Some(Err(_))) => return true,
                Ok(Some(Ok(_))) => continue,
                Err(_) => return false,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The story.

fn unique(name: &str) -> String {
    format!("{name}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

async fn story(url: &str) -> Secrets {
    let secrets = Secrets::default();
    let server = start(url).await;
    let base = server.base.clone();

    // Health needs no token.
    let health: Value = reqwest::get(format!("{base}/v1/health")).await.expect("health").json().await.expect("json");
    assert_eq!(health, json!({"status": "ok", "version": 1}));

    // --- Accounts: register, log in, replayed log-in, log out.
    let alice = Client::register(&base, Encoding::Json, &unique("alice"), &secrets).await;
    let bob = Client::register(&base, Encoding::Postcard, &unique("bob"), &secrets).await;
    let again = Client::new(&base, Encoding::Json)
        .call::<_, SessionResponse>(
            Method::POST,
            "/v1/register",
            Some(&json!({"username": alice.username, "auth_key": b64(&[1; 32]), "wrapped_key": "AA==", "kdf_params": ""})),
        )
        .await;
    assert_eq!(again.expect_err("taken").1.code, "username_taken");

    let anon = Client::new(&base, Encoding::Json);
    let start_login = |name: String| {
        let anon = anon.clone();
        async move {
            anon.call::<_, LoginStartResponse>(Method::POST, "/v1/login/start", Some(&json!({ "username": name })))
                .await
                .expect("login start")
        }
    };
    let ls = start_login(alice.username.clone()).await;
    assert_eq!(ls.kdf_params.as_ref(), alice.keys.kdf_params, "log-in starts with the account's KDF parameters");
    let login_body = json!({"username": alice.username, "challenge": b64(ls.challenge.as_ref()),
        "auth_key": b64(&alice.keys.auth_key)});
    let second: SessionResponse = anon.call(Method::POST, "/v1/login", Some(&login_body)).await.expect("login");
    secrets.add_token("alice's second token", second.token.as_str());
    assert_eq!(second.user_id, alice.session.user_id);
    assert_eq!(second.wrapped_key, alice.session.wrapped_key);
    // The same log-in request again: refused, whoever sends it.
    let replay = anon.call::<_, SessionResponse>(Method::POST, "/v1/login", Some(&login_body)).await;
    let replay = replay.expect_err("replay");
    assert_eq!((replay.0, replay.1.code.as_str()), (StatusCode::UNAUTHORIZED, "invalid_challenge"));
    // A wrong key with a fresh challenge.
    let ls = start_login(alice.username.clone()).await;
    let wrong = anon
        .call::<_, SessionResponse>(
            Method::POST,
            "/v1/login",
            Some(&json!({"username": alice.username, "challenge": b64(ls.challenge.as_ref()), "auth_key": b64(&[9; 32])})),
        )
        .await;
    assert_eq!(wrong.expect_err("wrong key").1.code, "invalid_credentials");
    // A challenge issued to alice does not log bob in.
    let ls = start_login(alice.username.clone()).await;
    let cross = anon
        .call::<_, SessionResponse>(
            Method::POST,
            "/v1/login",
            Some(&json!({"username": bob.username, "challenge": b64(ls.challenge.as_ref()), "auth_key": b64(&bob.keys.auth_key)})),
        )
        .await;
    assert_eq!(cross.expect_err("foreign challenge").1.code, "invalid_challenge");
    // A name without an account starts like one with (stable decoy
    // parameters, a challenge) and fails at finish as a wrong key does
    // (tests/hardening.rs looks closer).
    let nobody = unique("nobody");
    let ls = start_login(nobody.clone()).await;
    assert_eq!(start_login(nobody.clone()).await.kdf_params, ls.kdf_params, "decoy parameters are stable");
    let unknown = anon
        .call::<_, SessionResponse>(
            Method::POST,
            "/v1/login",
            Some(&json!({"username": nobody, "challenge": b64(ls.challenge.as_ref()), "auth_key": b64(&[9; 32])})),
        )
        .await;
    assert_eq!(unknown.expect_err("no such account").1.code, "invalid_credentials");

    let device2 = alice.client.with_token(second.token.as_str());
    let key: AccountKeyResponse = device2.call::<(), _>(Method::GET, "/v1/account/key", None).await.expect("key");
    assert_eq!(key.wrapped_key, alice.session.wrapped_key);
    let out = device2.req(Method::POST, "/v1/logout").send().await.expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = device2.call::<(), AccountKeyResponse>(Method::GET, "/v1/account/key", None).await;
    assert_eq!(after.expect_err("logged out").1.code, "invalid_token");
    // The first device's session is untouched.
    alice.client.call::<(), AccountKeyResponse>(Method::GET, "/v1/account/key", None).await.expect("still in");

    // --- Push: applied, duplicate, conflict; replayed batches.
    let a = &alice.client;
    let n1 = Uuid::now_v7();
    let marker1 = format!("PAYLOADMARKER-{}", Uuid::new_v4());
    let marker2 = format!("PAYLOADMARKER-{}", Uuid::new_v4());
    secrets.add("a payload, since overwritten", Kept::Maybe, marker1.as_bytes());
    secrets.add("a payload, since deleted", Kept::Maybe, marker2.as_bytes());
    let op1 = op(n1, 0, marker1.as_bytes());
    let op2 = op(n1, 1, marker2.as_bytes());
    let first = a.push(vec![op1.clone(), op2.clone()]).await;
    assert_eq!(first, vec![PushResult::Applied { rev: 1, seq: 1 }, PushResult::Applied { rev: 2, seq: 2 }]);
    // The whole batch again (a lost answer, retried): same answers, no change.
    let replay = a.push(vec![op1.clone(), op2.clone()]).await;
    assert_eq!(replay, vec![PushResult::Duplicate { rev: 1, seq: 1 }, PushResult::Duplicate { rev: 2, seq: 2 }]);
    let (changes, cursor) = a.pull_all(0).await;
    assert_eq!(changes.len(), 1, "one row per note: its latest version");
    assert_eq!((changes[0].note_id, changes[0].rev, changes[0].seq), (n1, 2, 2));
    assert_eq!(changes[0].payload.as_ref(), marker2.as_bytes(), "payload returned exactly as given");
    assert_eq!(cursor, 2);
    // Stale base_rev: conflict carrying the server's version.
    let stale = op(n1, 1, b"stale edit");
    let ghost = op(Uuid::now_v7(), 5, b"edit of a note the server never had");
    let recreate = op(n1, 0, b"new note with an existing id");
    let conflicts = a.push(vec![stale.clone(), ghost.clone(), recreate.clone()]).await;
    match &conflicts[0] {
        PushResult::Conflict { current: Some(c) } => {
            assert_eq!((c.note_id, c.rev, c.seq, c.deleted), (n1, 2, 2, false));
            assert_eq!(c.payload.as_ref(), marker2.as_bytes());
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(conflicts[1], PushResult::Conflict { current: None });
    assert!(matches!(conflicts[2], PushResult::Conflict { current: Some(_) }));
    assert_eq!(a.push(vec![stale, ghost, recreate]).await, conflicts, "replayed conflicts: same answers");
    assert!(a.pull(cursor, 10).await.changes.is_empty(), "conflicts wrote nothing");
    // A tombstone, and two ops on one new note in one batch; postcard.
    let pc = Client { enc: Encoding::Postcard, ..a.clone() };
    let n2 = Uuid::now_v7();
    let mut del = op(n1, 2, b"");
    del.deleted = true;
    let res = pc.push(vec![del, op(n2, 0, b"x"), op(n2, 1, b"y")]).await;
    assert_eq!(
        res,
        vec![
            PushResult::Applied { rev: 3, seq: 3 },
            PushResult::Applied { rev: 1, seq: 4 },
            PushResult::Applied { rev: 2, seq: 5 }
        ]
    );
    let json_page = a.pull(0, 100).await;
    let pc_page = pc.pull(0, 100).await;
    assert_eq!(json_page, pc_page, "both encodings carry the same page");
    assert_eq!(json_page.changes.iter().map(|c| (c.seq, c.deleted)).collect::<Vec<_>>(), vec![(3, true), (5, false)]);
    assert!(a.pull(0, 1).await.more);
    let alice_cursor = json_page.next_cursor;

    // --- Isolation: bob's token against every endpoint never touches alice.
    let b = &bob.client;
    assert!(b.pull(0, 1000).await.changes.is_empty(), "bob reads none of alice's notes");
    let foreign = b.call::<(), PullResponse>(Method::GET, &format!("/v1/pull?cursor={alice_cursor}"), None).await;
    assert_eq!(foreign.expect_err("alice's cursor").1.code, "cursor_out_of_range");
    let bk: AccountKeyResponse = b.call::<(), _>(Method::GET, "/v1/account/key", None).await.expect("bob key");
    assert_eq!(bk.user_id, bob.session.user_id);
    assert_ne!(bk.wrapped_key, alice.session.wrapped_key);
    // Alice's op id and note id, from bob: neither a duplicate of hers nor
    // a write to her note; it lands in bob's own space.
    let mut spoof = op1.clone();
    spoof.payload = Bytes(b"bob's".to_vec());
    assert_eq!(b.push(vec![spoof]).await, vec![PushResult::Applied { rev: 1, seq: 1 }]);
    assert_eq!(b.push(vec![op(n2, 2, b"bob edits alice's n2")]).await, vec![PushResult::Conflict { current: None }]);
    assert_eq!(a.pull(0, 100).await, json_page, "alice's notes unchanged by bob");
    // Pokes: each user's stream hears only that user's pushes.
    let mut a_events = Events::open(a).await;
    let mut b_events = Events::open(b).await;
    assert_eq!(a_events.next_poke(Duration::from_secs(5)).await, Some(alice_cursor), "poke on connect");
    assert_eq!(b_events.next_poke(Duration::from_secs(5)).await, Some(1));
    assert_eq!(
        b.push(vec![op(Uuid::now_v7(), 0, b"bob's second")]).await,
        vec![PushResult::Applied { rev: 1, seq: 2 }]
    );
    assert_eq!(b_events.poke_reaching(2, Duration::from_secs(5)).await, Some(2));
    assert_eq!(a_events.next_poke(Duration::from_millis(500)).await, None, "bob's push pokes no one of alice's");
    let kept = format!("PAYLOADMARKER-KEPT-{}", Uuid::new_v4());
    secrets.add("the latest payload of a note", Kept::Always, kept.as_bytes());
    let kept_note = Uuid::now_v7();
    assert_eq!(
        a.push(vec![op(kept_note, 0, kept.as_bytes())]).await,
        vec![PushResult::Applied { rev: 1, seq: alice_cursor + 1 }]
    );
    assert_eq!(a_events.poke_reaching(alice_cursor + 1, Duration::from_secs(5)).await, Some(alice_cursor + 1));
    assert_eq!(b_events.next_poke(Duration::from_millis(500)).await, None, "alice's push pokes no one of bob's");
    let alice_cursor = alice_cursor + 1;
    // Bob logging out ends bob's session, and only his: his token is
    // refused from then on, everywhere; alice's still works.
    let out = b.req(Method::POST, "/v1/logout").send().await.expect("bob logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT, "bob's logout");
    assert!(b_events.ends_within(Duration::from_secs(10)).await, "bob's stream ends with his session");
    for (method, path) in [(Method::GET, "/v1/pull"), (Method::GET, "/v1/account/key"), (Method::POST, "/v1/logout")] {
        let after = b.req(method, path).send().await.expect("bob after logout");
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "{path} after bob's logout");
        let err: ErrorBody = after.json().await.expect("ErrorBody");
        assert_eq!(err.code, "invalid_token", "{path} after bob's logout");
    }
    let after = b.call::<_, PushResponse>(Method::POST, "/v1/push", Some(&PushRequest { ops: vec![] })).await;
    assert_eq!(after.expect_err("bob's push after logout").1.code, "invalid_token");
    let page = a.pull(alice_cursor - 1, 10).await;
    assert_eq!(
        page.changes.iter().map(|c| (c.note_id, c.seq)).collect::<Vec<_>>(),
        vec![(kept_note, alice_cursor)],
        "alice's session outlives bob's logout"
    );

    // --- Bad input: each a 4xx JSON error; the server keeps serving and
    // nothing is written.
    bad_inputs(&base, a, &alice.username, alice_cursor).await;
    assert!(a.pull(alice_cursor, 10).await.changes.is_empty(), "bad input wrote nothing");

    // --- Log-in rate limit: per username and address.
    let dave = Client::register(&base, Encoding::Json, &unique("dave"), &secrets).await;
    let mut limited = false;
    for _ in 0..12 {
        let r = anon
            .call::<_, LoginStartResponse>(Method::POST, "/v1/login/start", Some(&json!({"username": dave.username})))
            .await;
        if let Err((status, body)) = r {
            assert_eq!((status, body.code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
            limited = true;
            break;
        }
    }
    assert!(limited, "log-in attempts are rate limited");
    start_login(alice.username.clone()).await; // another username is unaffected

    // --- Gap-free, exactly-once pulls under concurrent writers.
    let carol = Client::register(&base, Encoding::Postcard, &unique("carol"), &secrets).await;
    concurrent_writers_and_pullers(&carol.client).await;

    // --- Metrics.
    let metrics = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("outpost_push_ops_total{result=\"applied\"}"), "{metrics}");
    assert!(metrics.contains("outpost_event_streams 1"), "alice's stream, bob's ended: {metrics}");

    // --- What the database holds while serving (on SQLite, its WAL too).
    assert_stored_rightly(&stored_bytes(url).await, &secrets.all(), "the database while serving");

    // --- Graceful shutdown ends open event streams; data survives restart.
    server.stop().await;
    assert!(a_events.ends_within(Duration::from_secs(5)).await);
    let server = start(url).await;
    let again = Client { base: server.base.clone(), ..a.clone() };
    assert_eq!(again.pull(0, 1000).await.next_cursor, alice_cursor, "sessions and notes survive a restart");
    server.stop().await;
    secrets
}

async fn bad_inputs(base: &str, a: &Client, alice: &str, alice_cursor: u64) {
    let token = a.token.clone().expect("token");
    let many_ops: Vec<Value> = (0..501)
        .map(|_| {
            json!({"op_id": Uuid::now_v7(), "note_id": Uuid::now_v7(), "base_rev": 0,
                   "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": false, "payload": ""})
        })
        .collect();
    let fat_op = json!({"ops": [{"op_id": Uuid::now_v7(), "note_id": Uuid::now_v7(), "base_rev": 0,
        "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": false,
        "payload": b64(&vec![0u8; 2 * 1024 * 1024 + 1])}]});
    // Two new notes under one op id: each op alone would apply.
    let shared_op_id = Uuid::now_v7();
    let twice: Vec<Value> = (0..2)
        .map(|_| {
            json!({"op_id": shared_op_id, "note_id": Uuid::now_v7(), "base_rev": 0,
                   "hlc": "0193f2a1b2c3-00000000-1a2b3c4d5e6f7081", "deleted": false, "payload": "AAH/"})
        })
        .collect();
    let json_ct = Some("application/json");
    let pc_ct = Some("application/x-outpost+postcard");
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Method, String, Option<&str>, Option<&str>, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", Method::POST, "/v1/push".into(), Some(&token), json_ct, b"{\"ops\": [".to_vec(), 400, "malformed_body"),
        ("wrong type", Method::POST, "/v1/push".into(), Some(&token), json_ct, br#"{"ops": "x"}"#.to_vec(), 400, "malformed_body"),
        ("negative base_rev", Method::POST, "/v1/push".into(), Some(&token), json_ct,
            format!(r#"{{"ops":[{{"op_id":"{}","note_id":"{}","base_rev":-1,"hlc":"0193f2a1b2c3-00000000-1a2b3c4d5e6f7081","deleted":false,"payload":""}}]}}"#, Uuid::now_v7(), Uuid::now_v7()).into_bytes(), 400, "malformed_body"),
        ("bad clock stamp", Method::POST, "/v1/push".into(), Some(&token), json_ct,
            format!(r#"{{"ops":[{{"op_id":"{}","note_id":"{}","base_rev":0,"hlc":"yesterday","deleted":false,"payload":""}}]}}"#, Uuid::now_v7(), Uuid::now_v7()).into_bytes(), 400, "malformed_body"),
        ("invalid UTF-8", Method::POST, "/v1/login/start".into(), None, json_ct, b"{\"username\": \"\xff\xfe\"}".to_vec(), 400, "malformed_body"),
        ("missing field", Method::POST, "/v1/register".into(), None, json_ct, br#"{"username": "x"}"#.to_vec(), 400, "malformed_body"),
        ("empty username", Method::POST, "/v1/register".into(), None, json_ct,
            br#"{"username": "", "auth_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "wrapped_key": "AA==", "kdf_params": ""}"#.to_vec(), 400, "malformed_body"),
        ("short auth key", Method::POST, "/v1/register".into(), None, json_ct,
            br#"{"username": "shorty", "auth_key": "AA==", "wrapped_key": "AA==", "kdf_params": ""}"#.to_vec(), 400, "malformed_body"),
        ("no content type", Method::POST, "/v1/push".into(), Some(&token), None, br#"{"ops": []}"#.to_vec(), 415, "unsupported_media_type"),
        ("text/plain", Method::POST, "/v1/push".into(), Some(&token), Some("text/plain"), br#"{"ops": []}"#.to_vec(), 415, "unsupported_media_type"),
        ("garbage postcard", Method::POST, "/v1/push".into(), Some(&token), pc_ct, vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 400, "malformed_body"),
        ("trailing postcard bytes", Method::POST, "/v1/push".into(), Some(&token), pc_ct, vec![0, 0], 400, "malformed_body"),
        ("too many ops", Method::POST, "/v1/push".into(), Some(&token), json_ct, serde_json::to_vec(&json!({"ops": many_ops})).expect("json"), 413, "limit_exceeded"),
        ("one op id twice", Method::POST, "/v1/push".into(), Some(&token), json_ct, serde_json::to_vec(&json!({"ops": twice})).expect("json"), 400, "duplicate_op_id"),
        ("payload too large", Method::POST, "/v1/push".into(), Some(&token), json_ct, serde_json::to_vec(&fat_op).expect("json"), 413, "limit_exceeded"),
        ("negative cursor", Method::GET, "/v1/pull?cursor=-1".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("non-numeric cursor", Method::GET, "/v1/pull?cursor=abc".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("zero limit", Method::GET, "/v1/pull?limit=0".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("limit too big", Method::GET, "/v1/pull?limit=1001".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("skip backwards", Method::GET, "/v1/pull?skip=9-3".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("skip overlapping", Method::GET, "/v1/pull?skip=1-4,4".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("skip not a number", Method::GET, "/v1/pull?skip=1,x".into(), Some(&token), None, vec![], 400, "invalid_query"),
        ("skip too many ranges", Method::GET, format!("/v1/pull?skip={}", (0..65).map(|i| (i * 2).to_string()).collect::<Vec<_>>().join(",")),
            Some(&token), None, vec![], 400, "invalid_query"),
        ("cursor ahead", Method::GET, format!("/v1/pull?cursor={}", alice_cursor + 1), Some(&token), None, vec![], 400, "cursor_out_of_range"),
        ("cursor past i64", Method::GET, "/v1/pull?cursor=18446744073709551615".into(), Some(&token), None, vec![], 400, "cursor_out_of_range"),
        ("no token", Method::GET, "/v1/pull".into(), None, None, vec![], 401, "missing_token"),
        ("basic auth", Method::GET, "/v1/account/key".into(), Some("BASIC"), None, vec![], 401, "missing_token"),
        ("unknown token", Method::GET, "/v1/pull".into(), Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None, vec![], 401, "invalid_token"),
        ("short token", Method::POST, "/v1/push".into(), Some("x"), json_ct, br#"{"ops": []}"#.to_vec(), 401, "invalid_token"),
        ("no token on events", Method::GET, "/v1/events".into(), None, None, vec![], 401, "missing_token"),
        ("no token on logout", Method::POST, "/v1/logout".into(), None, None, vec![], 401, "missing_token"),
        ("unknown version", Method::GET, "/v2/pull".into(), Some(&token), None, vec![], 404, "unsupported_version"),
        ("unknown endpoint", Method::GET, "/v1/nothing".into(), None, None, vec![], 404, "not_found"),
        ("wrong method", Method::GET, "/v1/push".into(), Some(&token), None, vec![], 405, "method_not_allowed"),
        ("empty log-in", Method::POST, "/v1/login".into(), None, json_ct, b"{}".to_vec(), 400, "malformed_body"),
        ("never-issued challenge", Method::POST, "/v1/login".into(), None, json_ct,
            serde_json::to_vec(&json!({"username": alice, "challenge": b64(&[7; 32]), "auth_key": b64(&[7; 32])})).expect("json"),
            401, "invalid_challenge"),
    ];
    let http = reqwest::Client::new();
    for (name, method, path, token, ct, body, status, code) in cases {
        let mut r = http.request(method, format!("{base}{path}"));
        match token {
            Some("BASIC") => r = r.header("authorization", "Basic dXNlcjpwYXNz"),
            Some(t) => r = r.bearer_auth(t),
            None => {}
        }
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let resp = r.body(body).send().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(resp.status().as_u16(), status, "{name}");
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(ct.starts_with("application/json"), "{name}: error content type {ct}");
        let err: ErrorBody = resp.json().await.unwrap_or_else(|e| panic!("{name}: body is not ErrorBody: {e}"));
        assert_eq!(err.code, code, "{name}: {}", err.message);
        assert!(!err.message.is_empty(), "{name}");
        // Still serving.
        let h = http.get(format!("{base}/v1/health")).send().await.expect("health");
        assert_eq!(h.status(), StatusCode::OK, "server still serving after {name}");
    }
    oversized_body_is_refused_before_it_is_read(base, &token).await;
    let h = http.get(format!("{base}/v1/health")).send().await.expect("health");
    assert_eq!(h.status(), StatusCode::OK, "server still serving after an oversized body");
}

/// The server refuses a body whose declared length is over the limit
/// before reading it. Sent by hand: an HTTP client still writing 9 MiB when
/// the 413 arrives may see the connection reset instead of the answer.
async fn oversized_body_is_refused_before_it_is_read(base: &str, token: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        9 * 1024 * 1024
    );
    conn.write_all(head.as_bytes()).await.expect("send head");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("the server answers without waiting for the body")
        .expect("read answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "oversized body: {answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/json"), "{answer}");
    assert!(answer.contains("\"body_too_large\""), "oversized body: {answer}");
}

/// 8 writers × 500 ops (each op a new note, so every change stays its own
/// row) on one account while 3 pullers pull concurrently: every puller ends
/// with seq 1..=4000 exactly once, in order, cursors only ever moving up.
async fn concurrent_writers_and_pullers(c: &Client) {
    const WRITERS: usize = 8;
    const OPS: usize = 500;
    const BATCH: usize = 10;
    const TOTAL: u64 = (WRITERS * OPS) as u64;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for batch in 0..OPS / BATCH {
                    let ops: Vec<Op> =
                        (0..BATCH).map(|i| op(Uuid::now_v7(), 0, format!("w{w} b{batch} i{i}").as_bytes())).collect();
                    ids.extend(ops.iter().map(|o| o.note_id));
                    let res = c.push(ops).await;
                    assert!(res.iter().all(|r| matches!(r, PushResult::Applied { rev: 1, .. })), "{res:?}");
                }
                ids
            })
        })
        .collect();
    let pullers: Vec<_> = (0..3u32)
        .map(|p| {
            let c = c.clone();
            tokio::spawn(async move {
                let mut cursor = 0u64;
                let mut seqs = Vec::new();
                let mut notes = Vec::new();
                let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
                while cursor < TOTAL {
                    assert!(tokio::time::Instant::now() < deadline, "puller {p} stuck at {cursor}");
                    let page = c.pull(cursor, 37 + 50 * p).await;
                    let mut prev = cursor;
                    for ch in &page.changes {
                        assert!(ch.seq > prev, "puller {p}: seq {} after {prev}", ch.seq);
                        prev = ch.seq;
                    }
                    assert!(page.next_cursor >= cursor, "cursor went back");
                    cursor = page.next_cursor;
                    seqs.extend(page.changes.iter().map(|ch| ch.seq));
                    notes.extend(page.changes.iter().map(|ch| ch.note_id));
                    if !page.more {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                (seqs, notes)
            })
        })
        .collect();
    let mut all_ids = HashSet::new();
    for w in writers {
        all_ids.extend(w.await.expect("writer"));
    }
    assert_eq!(all_ids.len() as u64, TOTAL);
    for p in pullers {
        let (seqs, notes) = p.await.expect("puller");
        assert_eq!(seqs, (1..=TOTAL).collect::<Vec<_>>(), "gap-free, exactly once, in order");
        let got: HashSet<Uuid> = notes.into_iter().collect();
        assert_eq!(got, all_ids, "every change seen");
    }
}

// ---------------------------------------------------------------------------
// Secrecy as a device sees it: notes sealed on the device, the passphrase
// never sent, and what the server keeps and logs checked for every secret.

/// Seals as a device would, for this test: a SHA-256 keystream under a
/// fresh random nonce. Not the client's AES-256-GCM (this crate does not
/// depend on the client), but as opaque to the server: the bytes look
/// random and hold nothing of the plaintext.
fn seal(key: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = rand::random();
    let mut sealed = nonce.to_vec();
    sealed.extend(plaintext.iter().zip(keystream(key, &nonce)).map(|(p, k)| p ^ k));
    sealed
}

fn unseal(key: &[u8; 32], sealed: &[u8]) -> Vec<u8> {
    let (nonce, body) = sealed.split_at(12);
    body.iter().zip(keystream(key, nonce)).map(|(c, k)| c ^ k).collect()
}

fn keystream<'a>(key: &'a [u8; 32], nonce: &'a [u8]) -> impl Iterator<Item = u8> + 'a {
    use sha2::Digest as _;
    (0u64..).flat_map(move |block| {
        sha2::Sha256::new().chain_update(key).chain_update(nonce).chain_update(block.to_le_bytes()).finalize()
    })
}

/// Derives what a device derives from a passphrase: a key that wraps the
/// data key and an auth key for the server, on separate branches.
fn derive(passphrase: &str, branch: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::new().chain_update(branch).chain_update(passphrase).finalize().into()
}

/// Two devices of one account write, edit, delete and conflict over sealed
/// notes; then neither the server's log nor its database shows a token, an
/// auth key, anything derived from the passphrase that it does not keep by
/// design, or a word of the notes. What it keeps by design (wrapped key,
/// KDF parameters, sealed payloads) it keeps exactly as given and never
/// logs. Returns the secrets, for the caller's checks after shutdown.
async fn sealed_notes(url: &str) -> Secrets {
    let secrets = Secrets::default();
    let server = start(url).await;
    let base = server.base.clone();

    let passphrase = format!("PASSPHRASE-{}", Uuid::new_v4());
    secrets.add("the passphrase", Kept::Never, passphrase.as_bytes());
    let wrap_key = derive(&passphrase, "wrap");
    let data_key: [u8; 32] = rand::random();
    secrets.add("the data key", Kept::Never, &data_key);
    let keys = AccountKeys {
        auth_key: derive(&passphrase, "auth").to_vec(),
        wrapped_key: seal(&wrap_key, &data_key),
        kdf_params: format!("argon2id;m=65536;t=3;salt={}", Uuid::new_v4()).into_bytes(),
    };
    let name = unique("frank");
    let one = Client::register_with(&base, Encoding::Postcard, &name, keys.clone(), &secrets).await;
    // A second device knows only the passphrase: it logs in, unwraps the
    // data key, and syncs in the other encoding.
    let anon = Client::new(&base, Encoding::Json);
    let session = anon.log_in(&name, &derive(&passphrase, "auth")).await.expect("log in on a second device");
    secrets.add_token("the second device's token", session.token.as_str());
    let unwrapped = unseal(&derive(&passphrase, "wrap"), session.wrapped_key.as_ref());
    assert_eq!(unwrapped, data_key, "the second device unwraps the data key");
    let two = anon.with_token(session.token.as_str());

    // Notes: each title and body marked, sealed, pushed from either device.
    let mut plaintexts = std::collections::HashMap::new();
    let mut ops = Vec::new();
    for i in 0..12 {
        let text = format!("TITLE-{} \n BODY-{} words of note {i}", Uuid::new_v4(), Uuid::new_v4());
        secrets.add(format!("the plaintext of note {i}"), Kept::Never, text.as_bytes());
        let note = op(Uuid::now_v7(), 0, &seal(&data_key, text.as_bytes()));
        // Notes 0 and 1 are edited and deleted below: their first payloads
        // are overwritten then.
        let kept = if i < 2 { Kept::Maybe } else { Kept::Always };
        secrets.add(format!("the sealed payload of note {i}"), kept, note.payload.as_ref());
        plaintexts.insert(note.note_id, text);
        ops.push(note);
    }
    let (first, second) = ops.split_at(6);
    for (device, batch) in [(&one.client, first), (&two, second)] {
        let results = device.push(batch.to_vec()).await;
        assert!(results.iter().all(|r| matches!(r, PushResult::Applied { rev: 1, .. })), "{results:?}");
    }
    // An edit, a delete (sealing an empty note), and a stale edit that
    // conflicts and comes back with the server's version.
    let edited = ops[0].note_id;
    let text = format!("TITLE-{} \n BODY-{} edited", Uuid::new_v4(), Uuid::new_v4());
    secrets.add("the plaintext of an edit", Kept::Never, text.as_bytes());
    let edit = op(edited, 1, &seal(&data_key, text.as_bytes()));
    secrets.add("the sealed payload of an edit", Kept::Always, edit.payload.as_ref());
    let mut delete = op(ops[1].note_id, 1, &seal(&data_key, b""));
    delete.deleted = true;
    assert_eq!(
        two.push(vec![edit, delete]).await,
        vec![PushResult::Applied { rev: 2, seq: 13 }, PushResult::Applied { rev: 2, seq: 14 }]
    );
    plaintexts.insert(edited, text.clone());
    plaintexts.insert(ops[1].note_id, String::new());
    let stale = op(edited, 1, &seal(&data_key, b"a stale edit"));
    match one.client.push(vec![stale]).await.as_slice() {
        [PushResult::Conflict { current: Some(c) }] => {
            assert_eq!(unseal(&data_key, c.payload.as_ref()), text.as_bytes(), "the conflict carries the latest");
        }
        other => panic!("expected a conflict with the server's version, got {other:?}"),
    }
    // Both devices read back exactly what was sealed.
    for device in [&one.client, &two] {
        let (changes, cursor) = device.pull_all(0).await;
        assert_eq!(cursor, 14);
        assert_eq!(changes.len(), plaintexts.len());
        for c in changes {
            let plain = String::from_utf8(unseal(&data_key, c.payload.as_ref())).expect("UTF-8");
            assert_eq!(Some(&plain), plaintexts.get(&c.note_id), "note {} round trip", c.note_id);
        }
    }
    // The second device logs out; its token is refused from then on.
    let out = two.req(Method::POST, "/v1/logout").send().await.expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = two.call::<(), PullResponse>(Method::GET, "/v1/pull", None).await;
    assert_eq!(after.expect_err("logged out").1.code, "invalid_token");

    assert_stored_rightly(&stored_bytes(url).await, &secrets.all(), "the database while serving");
    server.stop().await;
    secrets
}

/// The checks after a story's server has stopped (so everything it logged
/// is in the capture): the log shows no secret, the database keeps only
/// what it may.
async fn check_secrets_after(url: &str, secrets: &Secrets) {
    let secrets = secrets.all();
    let log = captured_logs();
    // The capture works (else the next check proves nothing).
    assert!(String::from_utf8_lossy(&log).contains("serving /v1"), "the server's log is captured");
    assert_not_logged(&log, &secrets, "the server's log");
    assert_stored_rightly(&stored_bytes(url).await, &secrets, "the database after shutdown");
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("nested").join("server.db");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn story_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let secrets = story(&url).await;
    check_secrets_after(&url, &secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_the_log_or_the_database_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let secrets = sealed_notes(&url).await;
    check_secrets_after(&url, &secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn story_on_postgres() {
    let url = pg_url("story_on_postgres").await;
    let secrets = story(&url).await;
    check_secrets_after(&url, &secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn no_secret_reaches_the_log_or_the_database_on_postgres() {
    let url = pg_url("no_secret_reaches_the_log_or_the_database_on_postgres").await;
    let secrets = sealed_notes(&url).await;
    check_secrets_after(&url, &secrets).await;
}

/// Two instances on one PostgreSQL: a device on each sees the other's
/// changes, and a poke from one instance reaches a device on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(outpost_pg_tests), ignore = "SKIPPED: PostgreSQL tests, OUTPOST_TEST_PG_URL not set")]
async fn two_instances_on_postgres() {
    let url = pg_url("two_instances_on_postgres").await;
    let secrets = Secrets::default();
    let one = start(&url).await;
    let two = start(&url).await;
    let acct = Client::register(&one.base, Encoding::Postcard, &unique("erin"), &secrets).await;
    let on_one = acct.client.clone();
    let on_two = Client { base: two.base.clone(), ..acct.client.clone() };
    let mut events_two = Events::open(&on_two).await;
    let mut events_one = Events::open(&on_one).await;
    assert_eq!(events_two.next_poke(Duration::from_secs(5)).await, Some(0));
    assert_eq!(events_one.next_poke(Duration::from_secs(5)).await, Some(0));

    let n = Uuid::now_v7();
    assert_eq!(on_one.push(vec![op(n, 0, b"from one")]).await, vec![PushResult::Applied { rev: 1, seq: 1 }]);
    assert_eq!(events_two.next_poke(Duration::from_secs(5)).await, Some(1), "poke crossed instances");
    let page = on_two.pull(0, 10).await;
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.changes[0].payload.as_ref(), b"from one");

    assert_eq!(on_two.push(vec![op(n, 1, b"from two")]).await, vec![PushResult::Applied { rev: 2, seq: 2 }]);
    let mut got = BTreeSet::new();
    while let Some(seq) = events_one.next_poke(Duration::from_secs(5)).await {
        got.insert(seq);
        if seq == 2 {
            break;
        }
    }
    assert!(got.contains(&2), "poke from two reached one: {got:?}");
    assert_eq!(on_one.pull(1, 10).await.changes[0].payload.as_ref(), b"from two");
    one.stop().await;
    two.stop().await;
}
