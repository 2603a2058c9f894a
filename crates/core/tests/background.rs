//! The background pass under a simulated mobile lifecycle: given budgets
//! from 1 s to 30 s and killed at random points (before a request is sent,
//! or after the server answered with the answer lost) 200 times while a
//! real server runs; nothing is lost and the next pass finishes the work.
//! Seeded: `OUTPOST_LIFECYCLE_SEED=N` replays a run.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::TestServer;
use outpost_core::account;
use outpost_core::background::{self, BackgroundOutcome};
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::sync::{sync_once, SyncTransport};
use outpost_core::{NoteDraft, SharedVault, Vault};
use outpost_protocol::v1::{Op, PullResponse, PushResponse};
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

/// Where a kill lands relative to the request it interrupts.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// The process dies before the request leaves.
    BeforeSend,
    /// The server committed and answered; the process dies before reading
    /// the answer.
    AfterAnswer,
}

/// The real client, with the process "killed" at request number `at`: the
/// request then never completes, and `killed` is told, so the test can
/// drop the pass there as the OS would kill it.
struct Killable {
    remote: Remote,
    at: usize,
    how: Kill,
    sent: AtomicUsize,
    killed: Arc<Notify>,
}

impl Killable {
    async fn gate<R>(&self, request: impl Future<Output = Result<R, RemoteError>>) -> Result<R, RemoteError> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        if n != self.at {
            return request.await;
        }
        if let Kill::AfterAnswer = self.how {
            let _ = request.await; // committed on the server; the answer is lost
        }
        self.killed.notify_one();
        std::future::pending().await
    }
}

impl SyncTransport for Killable {
    fn push(&self, ops: Vec<Op>) -> impl Future<Output = Result<PushResponse, RemoteError>> + Send {
        self.gate(self.remote.push(ops))
    }
    fn pull(&self, cursor: u64, limit: u32) -> impl Future<Output = Result<PullResponse, RemoteError>> + Send {
        self.gate(self.remote.pull(cursor, limit))
    }
}

async fn registered(url: &str, user: &str) -> (Vault, Remote, MemoryStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    (vault, remote, keys, dir)
}

async fn joined(url: &str, user: &str) -> (Vault, Remote, MemoryStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &keys, key).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    (vault, remote.with_token(session.token), keys, dir)
}

fn seed_notes(vault: &mut Vault, prefix: &str, n: usize) {
    vault
        .batch(|w| {
            for i in 0..n {
                w.create(NoteDraft {
                    title: format!("{prefix} {i}"),
                    body: format!("{prefix} body {i}"),
                    ..Default::default()
                })?;
            }
            Ok(())
        })
        .expect("seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_two_hundred_times_the_background_pass_loses_nothing() {
    let seed: u64 =
        std::env::var("OUTPOST_LIFECYCLE_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("lifecycle seed {seed} (OUTPOST_LIFECYCLE_SEED={seed} replays the kill schedule)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let srv = TestServer::start().await;
    let (mut phone, remote, _phone_keys, _phone_dir) = registered(&srv.url, "lifecycle").await;
    let (mut laptop, laptop_remote, _laptop_keys, _laptop_dir) = joined(&srv.url, "lifecycle").await;
    // Work both ways: the phone's own notes to push (in batches of
    // BACKGROUND_PUSH_BATCH), the laptop's to pull (in pages).
    seed_notes(&mut phone, "phone", 1_200);
    seed_notes(&mut laptop, "laptop", 1_500);
    sync_once(&mut laptop, &laptop_remote).await.expect("the laptop syncs");
    let phone = SharedVault::new(phone);

    // The phone is used between runs (a few notes written, some edited) and
    // the laptop writes now and then, so every run has work to be cut in.
    let (mut phone_notes, mut laptop_notes) = (1_200, 1_500);
    let (mut kills, mut done, mut more) = (0, 0, 0);
    for run in 0..200 {
        seed_notes(&mut phone.lock(), &format!("phone run {run}"), 3);
        phone_notes += 3;
        if run % 20 == 0 {
            seed_notes(&mut laptop, &format!("laptop run {run}"), 10);
            laptop_notes += 10;
            sync_once(&mut laptop, &laptop_remote).await.expect("the laptop syncs");
        }
        let budget = Duration::from_millis(rng.gen_range(1_000..=30_000));
        let how = if rng.gen_bool(0.5) { Kill::BeforeSend } else { Kill::AfterAnswer };
        let transport = Arc::new(Killable {
            remote: remote.clone(),
            at: rng.gen_range(0..3),
            how,
            sent: AtomicUsize::new(0),
            killed: Arc::new(Notify::new()),
        });
        let killed = transport.killed.clone();
        let (vault, t) = (phone.clone(), transport.clone());
        let mut pass = tokio::spawn(async move { background::pass(&vault, &*t, budget).await });
        tokio::select! {
            _ = killed.notified() => {
                pass.abort();
                let _ = pass.await;
                kills += 1;
            }
            outcome = &mut pass => match outcome.expect("the pass task") {
                BackgroundOutcome::Done { .. } => done += 1,
                BackgroundOutcome::More => more += 1,
                other => panic!("a background pass against a running server: {other:?}"),
            },
        }
        // After every kill the store is whole (each step one transaction).
        let ok: String =
            phone.lock().connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity");
        assert_eq!(ok, "ok");
    }
    println!("lifecycle: 200 runs, {kills} killed, {done} finished, {more} out of budget");
    assert!(kills >= 100, "most runs were killed mid-pass ({kills})");
    let total = phone_notes + laptop_notes;

    // The next pass, left alone, finishes the work.
    let last = background::pass(&phone, &remote, Duration::from_secs(30)).await;
    assert!(matches!(last, BackgroundOutcome::Done { .. }), "{last:?}");
    let phone = phone.into_inner().expect("no other handle");
    let status = phone.status().expect("status");
    assert_eq!((status.pending, status.failed), (0, 0), "every change reached the server");
    assert_eq!(phone.list().expect("list").len(), total, "the phone has every note, its own and the laptop's");
    sync_once(&mut laptop, &laptop_remote).await.expect("the laptop syncs");
    let titles: std::collections::BTreeSet<String> =
        laptop.list().expect("list").into_iter().map(|n| n.title).collect();
    assert_eq!(titles.len(), total, "each note once on the laptop too");
    assert!((0..1_200).all(|i| titles.contains(&format!("phone {i}"))), "every note the phone wrote arrived");
    assert!((0..200).all(|run| titles.contains(&format!("phone run {run} 2"))), "and every one written between runs");
}

/// A budget too short for the work ends the pass cleanly with "more", and
/// the following passes finish it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_budget_says_more_and_the_next_passes_finish() {
    let srv = TestServer::start().await;
    let (mut phone, remote, _keys, _dir) = registered(&srv.url, "short-budget").await;
    seed_notes(&mut phone, "note", 600);
    // 300 ms a request: six push batches take about two seconds.
    let slow = remote
        .with_net(outpost_core::net::NetControl::new(outpost_core::net::NetMode::Flaky { drop: 0.0, latency_ms: 300 }));
    let phone = SharedVault::new(phone);
    let first = background::pass(&phone, &slow, Duration::from_secs(1)).await;
    assert_eq!(first, BackgroundOutcome::More);
    let pending_after_first = phone.lock().status().expect("status").pending;
    assert!(pending_after_first < 600, "answered batches were recorded ({pending_after_first} left)");
    let mut passes = 1;
    while !matches!(background::pass(&phone, &slow, Duration::from_secs(1)).await, BackgroundOutcome::Done { .. }) {
        passes += 1;
        assert!(passes < 20, "the work gets done pass by pass");
    }
    assert_eq!(phone.lock().status().expect("status").pending, 0);
}
