//! The sync server's real router (`outpost_server::app`, what `serve`
//! runs) in this process, on a SQLite database in a temporary directory
//! made once per process, driven with arbitrary requests through
//! `tower::ServiceExt::oneshot`: method, path, query, headers, token and
//! body. Bodies are either raw bytes or well-formed protocol values (so the
//! fuzzer gets past decoding into the handlers); a valid session of a real
//! account is on offer, so pushes and pulls reach the database.
//!
//! Checked on every request:
//! - no panic (libfuzzer-sys aborts on a panic even inside the server's
//!   catch-panic layer, so a caught panic is still a crash here);
//! - no 5xx: nothing a client sends is the server's fault;
//! - every error answer is the documented JSON `ErrorBody`;
//! - a request to a path that is not a route, or with a method the route
//!   does not take, is refused with 4xx, and so is a body that does not
//!   decode as the endpoint's type in the encoding its `Content-Type`
//!   names.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use outpost_protocol::v1::{
    Bytes, Encoding, ErrorBody, LoginRequest, LoginStartRequest, Op, PushRequest, RegisterRequest, SessionResponse,
};
use outpost_protocol::Hlc;
use tower::ServiceExt;
use uuid::Uuid;

/// What lives for the whole process: the runtime, the app, its database
/// directory, and the token of an account made at start.
struct World {
    rt: tokio::runtime::Runtime,
    app: Router,
    token: Mutex<String>,
    _dir: tempfile::TempDir,
    /// Keeps event streams open: dropping it would end them.
    _stop: tokio::sync::watch::Sender<bool>,
}

/// Set-up registrations come from their own addresses, so the fuzzer's
/// requests never use up their rate limit (and the other way round).
static SETUP_IP: AtomicU32 = AtomicU32::new(0x0a00_0001);

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("server.db").display());
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let app = rt.block_on(async {
            let backend = outpost_server::backend::open(&url).await.expect("the SQLite backend opens");
            outpost_server::app(backend, outpost_server::Config::new(url.clone()), stop_rx)
        });
        let token = rt.block_on(register(&app));
        World { rt, app, token: Mutex::new(token), _dir: dir, _stop: stop }
    })
}

/// Registers a fresh account through the router and returns its token.
async fn register(app: &Router) -> String {
    let n = SETUP_IP.fetch_add(1, Ordering::Relaxed);
    let req = RegisterRequest {
        username: format!("setup-{n}"),
        auth_key: Bytes(vec![7; 32]),
        wrapped_key: Bytes(vec![1; 60]),
        kdf_params: Bytes(vec![2; 16]),
    };
    let body = Encoding::Json.encode(&req).expect("a register body encodes");
    let mut request = Request::post("/v1/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a well-formed register request");
    request.extensions_mut().insert(ConnectInfo(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(n)), 40000)));
    let response = app.clone().oneshot(request).await.expect("the router is infallible");
    assert_eq!(response.status(), StatusCode::OK, "set-up registration failed");
    let bytes = response.into_body().collect().await.expect("an in-memory body").to_bytes();
    let session: SessionResponse = Encoding::Json.decode(&bytes).expect("a session answer");
    session.token.0
}

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/register"),
    ("POST", "/v1/login/start"),
    ("POST", "/v1/login"),
    ("POST", "/v1/logout"),
    ("GET", "/v1/account/key"),
    ("POST", "/v1/push"),
    ("GET", "/v1/pull"),
    ("GET", "/v1/events"),
    ("GET", "/v1/health"),
    ("GET", "/metrics"),
];

#[derive(Arbitrary, Debug)]
enum MethodIn {
    Get,
    Post,
    Put,
    Delete,
    Head,
    Options,
    Patch,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum PathIn {
    Route(u8),
    /// A route with something appended (`/v1/push/x`, `/v1/pull%00`).
    RouteAnd(u8, String),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum AuthIn {
    None,
    /// The live session of the set-up account.
    Valid,
    Bearer(String),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum MediaIn {
    None,
    Json,
    Postcard,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct OpIn {
    op_id: u128,
    note_id: u128,
    base_rev: u64,
    hlc: [u8; 20],
    deleted: bool,
    payload: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum BodyIn {
    Raw(Vec<u8>),
    Register { username: String, auth_key: Vec<u8>, wrapped_key: Vec<u8>, kdf_params: Vec<u8> },
    LoginStart { username: String },
    Login { username: String, challenge: Vec<u8>, auth_key: Vec<u8> },
    Push(Vec<OpIn>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: MethodIn,
    path: PathIn,
    query: Option<String>,
    auth: AuthIn,
    content_type: MediaIn,
    accept: MediaIn,
    content_length: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: BodyIn,
    /// The client address (rate limits are per address).
    ip: u8,
}

fn media(m: &MediaIn) -> Option<Vec<u8>> {
    match m {
        MediaIn::None => None,
        MediaIn::Json => Some(b"application/json".to_vec()),
        MediaIn::Postcard => Some(b"application/x-outpost+postcard".to_vec()),
        MediaIn::Raw(v) => Some(v.clone()),
    }
}

fn encode_body(body: &BodyIn, enc: Encoding) -> Vec<u8> {
    let bytes = match body {
        BodyIn::Raw(v) => return v.clone(),
        BodyIn::Register { username, auth_key, wrapped_key, kdf_params } => enc.encode(&RegisterRequest {
            username: username.clone(),
            auth_key: Bytes(auth_key.clone()),
            wrapped_key: Bytes(wrapped_key.clone()),
            kdf_params: Bytes(kdf_params.clone()),
        }),
        BodyIn::LoginStart { username } => enc.encode(&LoginStartRequest { username: username.clone() }),
        BodyIn::Login { username, challenge, auth_key } => enc.encode(&LoginRequest {
            username: username.clone(),
            challenge: Bytes(challenge.clone()),
            auth_key: Bytes(auth_key.clone()),
        }),
        BodyIn::Push(ops) => enc.encode(&PushRequest {
            ops: ops
                .iter()
                .map(|o| Op {
                    op_id: Uuid::from_u128(o.op_id),
                    note_id: Uuid::from_u128(o.note_id),
                    base_rev: o.base_rev,
                    hlc: Hlc::from_bytes(&o.hlc),
                    deleted: o.deleted,
                    payload: Bytes(o.payload.clone()),
                })
                .collect(),
        }),
    };
    bytes.expect("protocol values always encode")
}

/// Whether `body` decodes as what `path` takes, in encoding `enc`.
fn decodes_for(path: &str, enc: Encoding, body: &[u8]) -> bool {
    match path {
        "/v1/register" => enc.decode::<RegisterRequest>(body).is_ok(),
        "/v1/login/start" => enc.decode::<LoginStartRequest>(body).is_ok(),
        "/v1/login" => enc.decode::<LoginRequest>(body).is_ok(),
        "/v1/push" => enc.decode::<PushRequest>(body).is_ok(),
        _ => true,
    }
}

async fn body_bytes(response: Response<Body>) -> (axum::http::response::Parts, Vec<u8>) {
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("an in-memory body").to_bytes().to_vec();
    (parts, bytes)
}

fuzz_target!(|input: Input| {
    let w = world();
    let method = match &input.method {
        MethodIn::Get => Method::GET,
        MethodIn::Post => Method::POST,
        MethodIn::Put => Method::PUT,
        MethodIn::Delete => Method::DELETE,
        MethodIn::Head => Method::HEAD,
        MethodIn::Options => Method::OPTIONS,
        MethodIn::Patch => Method::PATCH,
        MethodIn::Other(s) => match Method::from_bytes(s.as_bytes()) {
            Ok(m) => m,
            Err(_) => return,
        },
    };
    let route = |i: &u8| ROUTES[usize::from(*i) % ROUTES.len()];
    let path = match &input.path {
        PathIn::Route(i) => route(i).1.to_owned(),
        PathIn::RouteAnd(i, tail) => format!("{}{tail}", route(i).1),
        PathIn::Raw(p) => p.clone(),
    };
    let uri = match &input.query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let token = w.token.lock().expect("token lock").clone();
    let content_type = media(&input.content_type);
    let enc = content_type
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(Encoding::from_content_type)
        .unwrap_or(Encoding::Postcard);
    let body = encode_body(&input.body, enc);

    let mut builder = Request::builder().method(method.clone()).uri(uri.as_str());
    match &input.auth {
        AuthIn::None => {}
        AuthIn::Valid => builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        AuthIn::Bearer(t) => builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
        AuthIn::Raw(v) => builder = builder.header(header::AUTHORIZATION, v.as_slice()),
    }
    if let Some(ct) = &content_type {
        builder = builder.header(header::CONTENT_TYPE, ct.as_slice());
    }
    if let Some(a) = media(&input.accept) {
        builder = builder.header(header::ACCEPT, a);
    }
    if let Some(cl) = &input.content_length {
        builder = builder.header(header::CONTENT_LENGTH, cl.as_str());
    }
    for (name, value) in &input.headers {
        builder = builder.header(name.as_str(), value.as_slice());
    }
    // What a client cannot send either (a bad URI, header name or value)
    // never reaches the router: hyper refuses it while parsing.
    let Ok(mut request) = builder.body(Body::from(body.clone())) else { return };
    let req_path = request.uri().path().to_owned();
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, input.ip)), 50000);
    request.extensions_mut().insert(ConnectInfo(peer));

    let logged_out = w.rt.block_on(async {
        let response = w.app.clone().oneshot(request).await.expect("the router is infallible");
        let status = response.status();
        assert!(!status.is_server_error(), "{method} {uri} answered {status}");
        // An event stream never ends: its status is all there is to check.
        let streaming = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        if streaming {
            assert!(status.is_success(), "an event stream with {status}");
            return false;
        }
        let (parts, bytes) = body_bytes(response).await;
        if !status.is_success() && method != Method::HEAD {
            let err: Result<ErrorBody, _> = serde_json::from_slice(&bytes);
            assert!(err.is_ok(), "{method} {uri}: {status} without a JSON error body: {:?}", String::from_utf8_lossy(&bytes));
            let ct = parts.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes());
            assert_eq!(ct, Some(&b"application/json"[..]), "{method} {uri}: error body is not labelled JSON");
        }
        match ROUTES.iter().find(|(_, p)| *p == req_path) {
            None => assert!(status.is_client_error(), "{method} {uri}: not a route, yet {status}"),
            Some((m, p)) if method.as_str() == *m || (*m == "GET" && method == Method::HEAD) => {
                let media_ok = content_type
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(Encoding::from_content_type)
                    .is_some();
                if *m == "POST" && *p != "/v1/logout" && !(media_ok && decodes_for(p, enc, &body)) {
                    assert!(status.is_client_error(), "{method} {uri}: undecodable body, yet {status}");
                }
            }
            Some(_) => assert!(status.is_client_error(), "{method} {uri}: wrong method, yet {status}"),
        }
        status.is_success() && req_path == "/v1/logout" && matches!(input.auth, AuthIn::Valid)
    });
    // The fuzzer logged the set-up session out: make a new one so later
    // inputs still reach the authenticated handlers.
    if logged_out {
        let fresh = w.rt.block_on(register(&w.app));
        *w.token.lock().expect("token lock") = fresh;
    }
});
