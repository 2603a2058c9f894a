//! What the server's test binaries share: a real server on 127.0.0.1 with
//! its log captured, and the PostgreSQL URL (see `build.rs`). Each binary
//! uses part of it, hence `dead_code` allowed here.

#![allow(dead_code)]

pub mod devices;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use outpost_server::{serve, Config};
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------
// Captured logs: everything the server logs, at debug, goes here so the
// story can check that no token, key or payload ever reaches a log.

#[derive(Clone)]
pub struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs() -> &'static LogBuf {
    static LOGS: OnceLock<LogBuf> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,reqwest=info,rustls=info")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        buf
    })
}

pub fn captured_logs() -> Vec<u8> {
    logs().0.lock().expect("log lock").clone()
}

// ---------------------------------------------------------------------------
// A running server and a small client.

pub struct Server {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), outpost_server::ServeError>>,
}

pub async fn start(url: &str) -> Server {
    start_with(Config::new(url)).await
}

/// [`start`] with a configuration of the test's own.
pub async fn start_with(config: Config) -> Server {
    start_serving(config, None).await
}

/// [`start_with`] on a backend the test opened and keeps using beside the
/// server (a SQLite file takes one open backend at a time).
pub async fn start_on(config: Config, backend: std::sync::Arc<dyn outpost_server::backend::Backend>) -> Server {
    start_serving(config, Some(backend)).await
}

async fn start_serving(
    config: Config,
    backend: Option<std::sync::Arc<dyn outpost_server::backend::Backend>>,
) -> Server {
    logs();
    let url = config.database_url.clone();
    let url = url.as_str();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let stopped = async {
        let _ = rx.await;
    };
    let mut task = match backend {
        Some(backend) => tokio::spawn(outpost_server::serve_on(listener, backend, config, stopped)),
        None => tokio::spawn(serve(listener, config, stopped)),
    };
    // The socket listens already, so this request waits in its backlog
    // until the server has migrated and accepts; if the server gives up
    // first, it closes the socket and the request fails.
    let health = tokio::time::timeout(Duration::from_secs(60), reqwest::get(format!("{base}/v1/health")));
    let where_ = redact(url);
    tokio::select! {
        answer = health => {
            let answer = answer.unwrap_or_else(|_| panic!("the server on {where_} did not answer within 60 s"));
            match answer {
                Ok(r) => assert_eq!(r.status(), StatusCode::OK, "health of the server on {where_}"),
                Err(e) => {
                    let ended = tokio::time::timeout(Duration::from_secs(30), &mut task).await;
                    panic!("the server on {where_} did not come up: {e}; it ended with {ended:?}");
                }
            }
        }
        ended = &mut task => panic!("the server on {where_} stopped before serving: {ended:?}"),
    }
    Server { base, stop: Some(tx), task }
}

/// `url` with its password, if it has one, as `***`: for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Server {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let res = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown within 10 s")
            .expect("serve task");
        res.expect("serve returned an error");
    }
}

/// The PostgreSQL URL for the test `group`, checked reachable. Reached
/// only when the tests are built to run (see `build.rs`).
pub async fn pg_url(group: &str) -> String {
    let Some(url) = std::env::var("OUTPOST_TEST_PG_URL").ok().filter(|u| !u.is_empty()) else {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{group}: PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset (CI=true makes this a failure)");
        }
        panic!(
            "{group}: PostgreSQL tests cannot run: OUTPOST_TEST_PG_URL is unset now but was set (or CI=true) when \
             they were built; set it, or rebuild to skip them"
        );
    };
    use sqlx::Connection as _;
    match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&url)).await {
        Ok(Ok(conn)) => conn.close().await.expect("close"),
        Ok(Err(e)) => {
            // sqlx's messages do not quote the URL; redact anyway, should
            // one ever do.
            let mut message = e.to_string();
            if let Some(password) = password_of(&url) {
                message = message.replace(password, "***");
            }
            panic!("{group}: PostgreSQL at {} cannot be reached: {message}", redact(&url));
        }
        Err(_) => panic!("{group}: PostgreSQL at {} did not answer within 10 s", redact(&url)),
    }
    url
}

pub fn password_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password).filter(|p| !p.is_empty())
}
