//! The server's memory comes back after a burst of log-ins: each Argon2id
//! verification needs 19 MiB, and the server reuses one buffer per KDF slot
//! instead of allocating per hash (`run_kdf` in `src/auth.rs`).
//!
//! A binary of its own, with one test, because it reads the resident size
//! of the whole process (`/proc/self/status`), which other tests running
//! beside it would disturb. It prints the figures:
//! `cargo test -p outpost-server --test memory -- --nocapture`.

#![cfg(target_os = "linux")]

use std::time::Duration;

use base64::Engine as _;
use outpost_server::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;
use common::start_with;

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in kB")
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = http.post(url).json(&body).send().await.expect("send");
    let status = resp.status();
    (status, resp.json().await.expect("JSON"))
}

/// One log-in, start and finish, with the right key.
async fn log_in(http: reqwest::Client, base: String, name: String) {
    let (_, start) = post(&http, format!("{base}/v1/login/start"), json!({ "username": name })).await;
    let body = json!({"username": name, "challenge": start["challenge"], "auth_key": b64(&[3; 32])});
    let (status, answer) = post(&http, format!("{base}/v1/login"), body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_comes_back_after_a_burst_of_log_ins() {
    const BURSTS: usize = 6;
    const PER_BURST: usize = 50;
    const BOUND_MIB: u64 = 64;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(format!("sqlite://{}", dir.path().join("server.db").display()));
    config.login_attempts = 1_000_000;
    config.request_timeout = Duration::from_secs(600);
    let server = start_with(config).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let name = "memory-probe".to_owned();
    let (status, _) = post(
        &http,
        format!("{base}/v1/register"),
        json!({"username": name, "auth_key": b64(&[3; 32]), "wrapped_key": b64(b"wrapped"), "kdf_params": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // One log-in first, so what every later one reuses (connections,
    // statement caches, the first KDF buffer) is in the idle figure.
    log_in(http.clone(), base.clone(), name.clone()).await;
    let idle = rss_kib();
    let mut peak = idle;
    for _ in 0..BURSTS {
        let burst: Vec<_> =
            (0..PER_BURST).map(|_| tokio::spawn(log_in(http.clone(), base.clone(), name.clone()))).collect();
        for task in burst {
            task.await.expect("a log-in");
        }
        peak = peak.max(rss_kib());
    }
    let after = rss_kib();
    println!(
        "RSS: idle {} MiB; after {} log-ins in bursts of {PER_BURST}: peak {} MiB, idle again {} MiB (+{} MiB)",
        idle / 1024,
        BURSTS * PER_BURST,
        peak / 1024,
        after / 1024,
        after.saturating_sub(idle) / 1024,
    );
    assert!(
        after.saturating_sub(idle) < BOUND_MIB * 1024,
        "the burst left {} MiB behind (idle {} MiB, after {} MiB)",
        after.saturating_sub(idle) / 1024,
        idle / 1024,
        after / 1024
    );
    server.stop().await;
}
