//! A real sync server for the core's integration tests: `outpost_server::serve`
//! on 127.0.0.1 with a throw-away SQLite database, stopped on drop.
#![allow(dead_code)]

use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn server() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = outpost_server::Config::new(format!("sqlite://{}", dir.path().join("server.db").display()));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        outpost_server::serve(listener, config, async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    TestServer { url: format!("http://{addr}"), stop: Some(tx), _dir: dir }
}
