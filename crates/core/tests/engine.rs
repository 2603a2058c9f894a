//! The background sync engine against a real in-process server on
//! 127.0.0.1 (and against fake servers that answer junk or never answer):
//! saves travel without a manual sync, pokes carry edits between devices,
//! switched offline sends nothing, a server that comes back is noticed by
//! the health probe, a server restored from an older backup is filled
//! again, and shutdown leaves a store that opens.
//!
//! Timeouts here only keep a broken build from hanging; no assertion
//! depends on how fast anything is. A check that something does *not*
//! happen waits first for a positive event that proves the engine had its
//! chance (a later save counted, a witness engine's passes), never for a
//! fixed time.

mod common;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use common::TestServer;
use outpost_core::account;
use outpost_core::connectivity::Connectivity;
use outpost_core::engine::{read_status_file, Engine, EngineOptions, NotesChanged, Phase, SyncStatus};
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::net::{write_control, NetMode, CONTROL_FILE};
use outpost_core::remote::Remote;
use outpost_core::vault::Account;
use outpost_core::SharedVault;
use outpost_core::{NoteDraft, NotePatch, Vault};
use outpost_protocol::v1::SessionToken;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// Long enough for a loaded CI machine; only a hang ever reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

struct Device {
    vault: SharedVault,
    remote: Remote,
    keys: MemoryStore,
    dir: tempfile::TempDir,
}

impl Device {
    fn create(&self, title: &str, body: &str) -> Uuid {
        let draft = NoteDraft { title: title.into(), body: body.into(), ..Default::default() };
        self.vault.lock().create(draft).expect("create").id
    }

    fn edit_body(&self, id: Uuid, body: &str) {
        self.vault.lock().edit(id, NotePatch { body: Some(body.into()), ..Default::default() }).expect("edit");
    }

    fn body(&self, id: Uuid) -> Option<String> {
        self.vault.lock().get(id).ok().map(|n| n.body)
    }

    fn start(&self, opts: EngineOptions) -> Engine {
        Engine::start(self.vault.clone(), self.remote.clone(), self.dir.path(), opts).expect("engine starts")
    }
}

async fn first_device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    Device { vault: SharedVault::new(vault), remote, keys, dir }
}

async fn joining_device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &keys, key).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    let remote = remote.with_token(session.token);
    Device { vault: SharedVault::new(vault), remote, keys, dir }
}

/// A device whose account points at `url` (a fake server): no real log-in.
fn device_for_fake(url: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let token = SessionToken("not-a-real-session".into());
    let account = Account { server: url.into(), username: "zed".into(), user_id: "1".into() };
    vault.set_account(&account, &token).expect("account");
    let remote = Remote::new(url).expect("remote").with_token(token);
    Device { vault: SharedVault::new(vault), remote, keys, dir }
}

/// Quick retries so the tests do not wait out real backoff; a timer so
/// long that nothing in a test can arrive by it.
fn opts() -> EngineOptions {
    EngineOptions {
        interval: Duration::from_secs(3600),
        retry_min: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        probe_min: Duration::from_millis(100),
        probe_max: Duration::from_secs(1),
        ..EngineOptions::default()
    }
}

async fn wait_status(engine: &Engine, what: &str, pred: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let mut rx = engine.status();
    let last = rx.borrow().clone();
    let found = tokio::time::timeout(PATIENCE, async { rx.wait_for(|s| pred(s)).await.map(|s| s.clone()) }).await;
    match found {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => panic!("the engine stopped while waiting for {what}"),
        Err(_) => panic!("no status with {what} (first seen: {last:?}, now: {:?})", engine.status().borrow()),
    }
}

async fn wait_until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Note ids the server holds for the account behind `remote`.
async fn on_server(remote: &Remote) -> Vec<Uuid> {
    let page = remote.pull(0, 1000).await.expect("pull");
    page.changes.iter().map(|c| c.note_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_reaches_the_server_without_a_manual_sync() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "alice").await;
    let engine = a.start(opts());
    wait_status(&engine, "the first pass done", |s| s.last_success_ms.is_some() && s.phase == Phase::Idle).await;

    let id = a.create("Groceries", "eggs");
    engine.local_change();
    wait_until("the server to have the note", || async { on_server(&a.remote).await == [id] }).await;
    let s = wait_status(&engine, "the save pushed", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    assert_eq!((s.connectivity, s.last_error.as_ref()), (Connectivity::Online, None), "{s:?}");

    // The status file mirrors the channel, for other processes.
    wait_until("the status file to catch up", || async {
        read_status_file(a.dir.path()).expect("readable").is_some_and(|f| f.status == *engine.status().borrow())
    })
    .await;
    engine.shutdown().await;
    let file = read_status_file(a.dir.path()).expect("readable").expect("written");
    assert_eq!((file.status.phase, file.pid), (Phase::Stopped, std::process::id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_reaches_the_other_device_by_poke() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "bob").await;
    let b = joining_device(&srv.url, "bob").await;
    // The timer is an hour: only a poke can bring the edit over.
    let (ea, eb) = (a.start(opts()), b.start(opts()));
    for e in [&ea, &eb] {
        wait_status(e, "online", |s| s.connectivity == Connectivity::Online && s.phase == Phase::Idle).await;
    }
    wait_until("both poke streams open", || async { srv.metric("outpost_event_streams").await == 2 }).await;
    let passes_before = eb.stats().passes;

    let id = a.create("Plan", "from A");
    ea.local_change();
    wait_until("B to have A's note", || async { b.body(id).as_deref() == Some("from A") }).await;
    assert!(eb.stats().passes > passes_before, "B ran a pass of its own, woken by the poke");

    b.edit_body(id, "from A, then B");
    eb.local_change();
    wait_until("A to have B's edit", || async { a.body(id).as_deref() == Some("from A, then B") }).await;
    let s = wait_status(&eb, "B settled", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    assert_eq!(s.open_conflicts, 0);
    ea.shutdown().await;
    eb.shutdown().await;
}

/// A long queue drains in the status as batches are acknowledged, not all
/// at once when the pass ends: the pending count a user watches moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pending_count_drains_batch_by_batch() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "dora").await;
    let ea = a.start(opts());
    wait_status(&ea, "online", |s| s.connectivity == Connectivity::Online && s.phase == Phase::Idle).await;
    write_control(a.dir.path(), &NetMode::Offline).expect("switch off");
    wait_status(&ea, "switched off", |s| s.connectivity == Connectivity::SwitchedOff).await;

    // Three push batches' worth (the protocol takes 500 changes a push).
    let queued = 1_100u64;
    for i in 0..queued {
        a.create(&format!("Queued {i}"), "words");
    }
    ea.local_change();
    wait_status(&ea, "all queued", |s| s.pending == queued).await;

    let mut rx = ea.status();
    let seen = tokio::spawn(async move {
        let mut partial = Vec::new();
        while rx.changed().await.is_ok() {
            let s = rx.borrow_and_update().clone();
            if s.phase == Phase::Pushing && s.pending > 0 && s.pending < queued {
                partial.push(s.pending);
            }
            if s.pending == 0 && s.phase == Phase::Idle {
                break;
            }
        }
        partial
    });
    write_control(a.dir.path(), &NetMode::Online).expect("switch on");
    let partial = tokio::time::timeout(PATIENCE, seen).await.expect("drained in time").expect("watcher");
    assert!(!partial.is_empty(), "no pending count between {queued} and 0 was published while pushing");
    assert!(partial.windows(2).all(|w| w[0] >= w[1]), "the count only goes down: {partial:?}");
    ea.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_offline_queues_and_sends_nothing_until_switched_back() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "carol").await;
    let b = joining_device(&srv.url, "carol").await;
    let (ea, eb) = (a.start(opts()), b.start(opts()));
    for e in [&ea, &eb] {
        wait_status(e, "online", |s| s.connectivity == Connectivity::Online && s.phase == Phase::Idle).await;
    }

    // `outpost net offline` from another process writes the control file.
    write_control(a.dir.path(), &NetMode::Offline).expect("switch off");
    let s = wait_status(&ea, "switched off", |s| s.connectivity == Connectivity::SwitchedOff).await;
    assert_eq!((s.net_mode, s.phase), (NetMode::Offline, Phase::Idle));
    assert_eq!(ea.net().mode(), NetMode::Offline);
    let pushes = srv.metric("outpost_push_requests_total").await;

    let passes = ea.stats().passes;
    let mut ids = Vec::new();
    for i in 1..=3u64 {
        ids.push(a.create(&format!("Offline {i}"), "queued"));
        ea.local_change();
        let s = wait_status(&ea, "the pending count to follow", |s| s.pending == i).await;
        assert_eq!((s.connectivity, s.phase), (Connectivity::SwitchedOff, Phase::Idle), "{s:?}");
    }
    // A sync now while switched off sends nothing either. The engine takes
    // its wakes in order on one task: once the save made after the sync now
    // shows in the pending count, the sync now was handled, and any pass it
    // had started would have run (and pushed) before that.
    ea.sync_now();
    ids.push(a.create("Offline 4", "queued"));
    ea.local_change();
    wait_status(&ea, "the save after the sync now counted", |s| s.pending == 4).await;
    assert_eq!(ea.stats().passes, passes, "no pass ran while switched off");
    assert_eq!(srv.metric("outpost_push_requests_total").await, pushes, "nothing reached the server");
    assert!(on_server(&b.remote).await.is_empty(), "the server holds none of the queued notes");
    assert!(ids.iter().all(|id| b.body(*id).is_none()));

    write_control(a.dir.path(), &NetMode::Online).expect("switch on");
    let s = wait_status(&ea, "drained", |s| s.pending == 0 && s.connectivity == Connectivity::Online).await;
    assert!(s.last_success_ms.is_some());
    wait_until("B to have all four", || async { ids.iter().all(|id| b.body(*id).as_deref() == Some("queued")) }).await;
    ea.shutdown().await;
    eb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_control_file_is_shown_and_sync_goes_on() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "dora").await;
    let engine = a.start(opts());
    wait_status(&engine, "online", |s| s.connectivity == Connectivity::Online).await;

    std::fs::write(a.dir.path().join(CONTROL_FILE), b"{\"mode\": \"offl").expect("corrupt the file");
    let s = wait_status(&engine, "the control file error", |s| {
        s.last_error.as_ref().is_some_and(|e| e.code == "control_file")
    })
    .await;
    assert!(s.last_error.as_ref().is_some_and(|e| e.message.contains("outpost net")), "says how to fix it: {s:?}");
    assert_eq!(s.net_mode, NetMode::Online, "the previous mode stays");

    let id = a.create("Still syncing", "yes");
    engine.local_change();
    wait_until("the server to have the note", || async { on_server(&a.remote).await == [id] }).await;
    let s = wait_status(&engine, "pushed", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    assert_eq!(s.net_mode, NetMode::Online);

    write_control(a.dir.path(), &NetMode::Online).expect("fix the file");
    wait_status(&engine, "the error cleared", |s| s.last_error.is_none()).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_comes_back_is_found_by_the_probe() {
    let mut srv = TestServer::start().await;
    let a = first_device(&srv.url, "erin").await;
    srv.go_down().await;

    let engine = a.start(opts());
    let id = a.create("Written while the server is down", "kept");
    engine.local_change();
    let s = wait_status(&engine, "offline with the error", |s| {
        s.connectivity == Connectivity::Offline && s.last_error.is_some() && s.pending == 1
    })
    .await;
    assert_eq!(s.last_error.as_ref().map(|e| e.code.as_str()), Some("unreachable"), "{s:?}");
    assert_eq!(s.phase, Phase::WaitingRetry);
    let s = wait_status(&engine, "a probe scheduled", |s| s.next_retry_ms.is_some()).await;
    assert_eq!(s.connectivity, Connectivity::Offline);

    srv.come_back().await;
    let s = wait_status(&engine, "back online and drained", |s| {
        s.connectivity == Connectivity::Online && s.pending == 0 && s.phase == Phase::Idle
    })
    .await;
    assert_eq!((s.last_error, s.next_retry_ms), (None, None));
    assert_eq!(on_server(&a.remote).await, [id]);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_mass_delete_waits_for_approval_without_retrying() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "finn").await;
    let ids: Vec<Uuid> = (0..12).map(|i| a.create(&format!("n{i}"), "x")).collect();
    let b = joining_device(&srv.url, "finn").await;
    let (ea, eb) = (a.start(opts()), b.start(opts()));
    wait_status(&ea, "A pushed", |s| s.pending == 0 && s.last_success_ms.is_some()).await;
    wait_until("B has the notes", || async { ids.iter().all(|id| b.body(*id).is_some()) }).await;

    for id in &ids[..8] {
        a.vault.lock().delete(*id).expect("delete");
    }
    ea.local_change();
    let s = wait_status(&eb, "held", |s| s.phase == Phase::Held).await;
    assert_eq!(s.last_error.as_ref().map(|e| e.code.as_str()), Some("mass_delete_held"), "{s:?}");
    assert_eq!(s.next_retry_ms, None, "no retry scheduled while held: {s:?}");
    assert!(ids.iter().all(|id| b.body(*id).is_some()), "nothing deleted on B");
    // Held means no retry by itself. A witness engine with the same backoff
    // retries a failing pass meanwhile: once it has retried several times,
    // B had every chance to retry too.
    let passes = eb.stats().passes;
    retries_of_a_witness(5).await;
    assert_eq!(eb.stats().passes, passes, "a held pass is not retried");
    assert_eq!(eb.status().borrow().phase, Phase::Held);
    // Held holds the deletions only: B's own saves still go up.
    let from_b = b.create("Written while held", "still pushed");
    eb.local_change();
    wait_until("A to get B's note", || async { a.body(from_b).as_deref() == Some("still pushed") }).await;
    let s = wait_status(&eb, "held again after the pass", |s| s.phase == Phase::Held && s.pending == 0).await;
    assert_eq!(s.last_error.as_ref().map(|e| e.code.as_str()), Some("mass_delete_held"));

    b.vault.lock().approve_mass_delete().expect("approve");
    eb.sync_now();
    let s = wait_status(&eb, "applied", |s| s.phase == Phase::Idle && s.last_error.is_none()).await;
    assert_eq!(s.pending, 0);
    assert_eq!(b.vault.lock().list().expect("list").len(), 5);
    ea.shutdown().await;
    eb.shutdown().await;
}

/// A server restored from a backup older than the device's last sync is
/// noticed and filled again by the engine on its own: the poke stream
/// comes back with a sequence below the device's cursor, the pass gets
/// `cursor_out_of_range`, starts over and sends what the server lost. No
/// user action, no manual sync, and the timer (an hour) plays no part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_server_is_noticed_and_filled_again_by_the_engine() {
    let mut srv = TestServer::start().await;
    let a = first_device(&srv.url, "rosa").await;
    let before = a.create("Before the backup", "kept\n");
    let ea = a.start(opts());
    let s = wait_status(&ea, "the first pass done", |s| s.pending == 0 && s.last_success_ms.is_some()).await;
    assert_eq!(s.server_reset_ms, None, "no reset yet: {s:?}");
    wait_until("the server to have the first note", || async { on_server(&a.remote).await == [before] }).await;
    let backup = srv.backup();

    let after = a.create("After the backup", "on the device only, once the server goes back\n");
    ea.local_change();
    wait_until("the server to have the later note", || async { on_server(&a.remote).await.contains(&after) }).await;
    wait_until("the cursor past the backup", || async { a.vault.lock().cursor().expect("cursor") >= 2 }).await;

    srv.restore(&backup).await;
    wait_until("the restored server to get the later note back", || async {
        let on = on_server(&a.remote).await;
        on.contains(&before) && on.contains(&after)
    })
    .await;
    // The status the UI gets says when the device started over.
    let s = wait_status(&ea, "settled, the reset in the status", |s| {
        s.pending == 0 && s.phase == Phase::Idle && s.last_error.is_none() && s.server_reset_ms.is_some()
    })
    .await;
    assert_eq!(s.open_conflicts, 0, "{s:?}");
    assert_eq!(s.server_reset_ms, a.vault.lock().last_server_reset().expect("reset time"));
    assert_eq!(a.vault.lock().list().expect("list").len(), 2, "nothing lost on the device");
    ea.shutdown().await;
}

/// A well-formed HTTP answer whose body is not the protocol.
const JUNK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 16\r\n\
                      connection: close\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";

/// A fake server on 127.0.0.1 that answers every request with `answer`
/// (or, with `None`, reads the request and never answers).
async fn fake_server(answer: Option<&'static [u8]>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                match answer {
                    Some(bytes) => {
                        let _ = sock.write_all(bytes).await;
                        let _ = sock.shutdown().await;
                    }
                    None => {
                        // Hold the connection open, answering nothing.
                        let _ = sock.read(&mut buf).await;
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            });
        }
    });
    url
}

/// Reopens the store after the engine is gone, with the same key.
fn reopen(d: Device) -> (Vault, tempfile::TempDir) {
    let Device { vault, keys, dir, .. } = d;
    drop(vault.into_inner().expect("the engine let go of the vault"));
    (Vault::open(dir.path(), &keys).expect("the store opens"), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_answer_is_an_error_and_nothing_local_is_lost() {
    let url = fake_server(Some(JUNK)).await;
    let a = device_for_fake(&url);
    let id = a.create("Precious", "do not lose me");
    let engine = a.start(opts());
    engine.local_change();
    let s = wait_status(&engine, "a decode error", |s| {
        s.last_error.as_ref().is_some_and(|e| e.code == "decode") && s.phase == Phase::WaitingRetry
    })
    .await;
    assert!(s.next_retry_ms.is_some(), "{s:?}");
    assert_eq!((s.pending, s.failed), (1, 0), "kept, not marked failed: {s:?}");
    // It keeps trying with backoff, and the error stays shown.
    wait_until("a retry", || async { engine.stats().passes >= 3 }).await;
    engine.shutdown().await;

    let (vault, _dir) = reopen(a);
    assert_eq!(vault.get(id).expect("still here").body, "do not lose me");
    let outbox = vault.outbox().expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert!(!outbox[0].failed, "a junk answer never marks a change failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_http_junk_is_an_error_and_nothing_local_is_lost() {
    let url = fake_server(Some(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage")).await;
    let a = device_for_fake(&url);
    let id = a.create("Precious too", "keep");
    let engine = a.start(opts());
    engine.local_change();
    let s = wait_status(&engine, "an error", |s| s.last_error.is_some() && s.phase == Phase::WaitingRetry).await;
    assert_eq!(s.pending, 1, "{s:?}");
    engine.shutdown().await;
    let (vault, _dir) = reopen(a);
    assert_eq!(vault.get(id).expect("still here").body, "keep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_a_hanging_request_and_the_store_opens() {
    let url = fake_server(None).await;
    let a = device_for_fake(&url);
    let id = a.create("In flight", "when the app closed");
    let engine = a.start(opts());
    let mut status = engine.status();
    wait_status(&engine, "a push in flight", |s| s.phase == Phase::Pushing).await;

    tokio::time::timeout(PATIENCE, engine.shutdown()).await.expect("shutdown returns");
    let last = status.borrow_and_update().clone();
    assert_eq!(last.phase, Phase::Stopped, "the last status says stopped");
    // Abandoned, not waited out: a request that ran into the client's 30 s
    // timeout would have left its error in the status.
    assert_eq!(last.last_error, None, "the hanging request was abandoned: {last:?}");
    assert_eq!(read_status_file(a.dir.path()).expect("read").expect("file").status.phase, Phase::Stopped);

    let (vault, _dir) = reopen(a);
    assert_eq!(vault.get(id).expect("still here").body, "when the app closed");
    let outbox = vault.outbox().expect("outbox");
    assert_eq!((outbox.len(), outbox[0].failed), (1, false), "still queued, sent again next time");
    assert_status_file_only(_dir.path());
}

/// The engine leaves its status file behind and no temporary files.
fn assert_status_file_only(dir: &Path) {
    let stray: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_engine_sleeps() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "gail").await;
    let engine = a.start(opts());
    wait_status(&engine, "idle", |s| s.phase == Phase::Idle && s.last_success_ms.is_some()).await;
    wait_until("the poke stream open", || async { srv.metric("outpost_event_streams").await == 1 }).await;
    // The stream's first poke (seq 0 on an empty account: "pull anyway")
    // makes the second pass, after the one at start: count from there.
    wait_until("the pass the first poke asks for", || async { engine.stats().passes >= 2 }).await;
    wait_status(&engine, "idle after it", |s| s.phase == Phase::Idle).await;
    let before = engine.stats();
    // A witness on the same account whose timer fires every 100 ms: once it
    // has run many timer passes, a polling engine would have too.
    let w = joining_device(&srv.url, "gail").await;
    let witness = w.start(EngineOptions { interval: Duration::from_millis(100), ..opts() });
    let start = witness.stats().passes;
    wait_until("twenty timer passes of the witness", || async { witness.stats().passes >= start + 20 }).await;
    witness.shutdown().await;
    let after = engine.stats();
    // No polling: an idle engine wakes for the timer (an hour here) and
    // pokes (the witness pushes nothing, so it makes none); a generous
    // bound that a busy loop would blow through.
    assert!(after.wakeups - before.wakeups <= 5, "{before:?} -> {after:?}");
    assert_eq!(after.passes, before.passes, "no pass without a reason");
    engine.shutdown().await;
}

/// Waits until an engine whose every pass fails (its server answers junk)
/// has retried `n` times with the test backoff (`opts()`): the time any
/// engine with that backoff needs to retry.
async fn retries_of_a_witness(n: u64) {
    let w = device_for_fake(&fake_server(Some(JUNK)).await);
    w.create("witness", "retries");
    let witness = w.start(opts());
    wait_until("the witness's retries", || async { witness.stats().passes > n }).await;
    witness.shutdown().await;
}

/// Each pass tells its subscribers which notes it touched: the pushing
/// device hears of its pushed note (its badge), the other device of the
/// note it pulled; a note no pass touched since is never named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_names_the_notes_it_changed() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "nora").await;
    let b = joining_device(&srv.url, "nora").await;
    let untouched = b.create("Only on B", "synced before anyone listens");
    let (ea, eb) = (a.start(opts()), b.start(opts()));
    eb.local_change();
    // Settled on both sides before anyone listens.
    wait_until("A to have B's note", || async { a.body(untouched).is_some() }).await;
    wait_status(&eb, "B's note pushed", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    let (mut on_a, mut on_b) = (ea.notes_changed(), eb.notes_changed());

    let id = a.create("Plan", "from A");
    ea.local_change();
    async fn naming(rx: &mut tokio::sync::broadcast::Receiver<NotesChanged>, id: Uuid) -> NotesChanged {
        loop {
            let c = rx.recv().await.expect("the engine is running");
            if c.ids.contains(&id) {
                return c;
            }
        }
    }
    let from_a = tokio::time::timeout(PATIENCE, naming(&mut on_a, id)).await.expect("A named its pushed note");
    let from_b = tokio::time::timeout(PATIENCE, naming(&mut on_b, id)).await.expect("B named the note it pulled");
    for c in [&from_a, &from_b] {
        assert!(!c.ids.contains(&untouched), "a note the pass did not touch is not named: {c:?}");
    }
    assert_eq!(b.body(id).as_deref(), Some("from A"));
    ea.shutdown().await;
    eb.shutdown().await;
}

/// An account deleted from one device: a wrong passphrase first deletes
/// nothing; then the other device's engine learns of it with no action
/// there (its poke stream ends, cannot reopen, and the pass it triggers is
/// answered `account_deleted`), stops for good with the status saying so,
/// and keeps its notes, one written afterwards included (queued, never
/// sent, never marked failed). The deleting device forgets the account and
/// keeps its notes too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_stops_the_other_device_for_good_and_both_keep_their_notes() {
    let srv = TestServer::start().await;
    let a = first_device(&srv.url, "gwen").await;
    let shared = a.create("Shared", "on both");
    let b = joining_device(&srv.url, "gwen").await;
    let (ea, eb) = (a.start(opts()), b.start(opts()));
    wait_status(&ea, "A pushed", |s| s.pending == 0 && s.last_success_ms.is_some()).await;
    wait_until("B has the note", || async { b.body(shared).is_some() }).await;
    ea.shutdown().await;

    let policy = KdfPolicy::insecure_for_tests();
    let wrong = account::delete_on_server(&a.remote, "not pw", &policy).await.expect_err("wrong");
    assert_eq!(wrong.code(), "wrong_passphrase", "{wrong}");
    assert_eq!(a.remote.sessions().await.expect("sessions").len(), 2, "a wrong passphrase deletes nothing");
    account::delete_on_server(&a.remote, "pw", &policy).await.expect("deleted");
    {
        let mut va = a.vault.lock();
        assert_eq!(va.forget_account().expect("forget").map(|a| a.username).as_deref(), Some("gwen"));
        assert_eq!(va.account().expect("account"), None, "A forgot the account");
        assert!(va.session_token().expect("token").is_none());
        assert_eq!(va.get(shared).expect("A keeps its note").body, "on both");
    }

    let s = wait_status(&eb, "B stopped by the deletion", |s| {
        s.phase == Phase::Stopped && s.last_error.as_ref().is_some_and(|e| e.code == "account_deleted")
    })
    .await;
    assert_eq!(s.next_retry_ms, None, "no retry planned: {s:?}");
    assert!(s.last_error.as_ref().is_some_and(|e| e.message.contains("deleted")), "{s:?}");
    let later = b.create("Written after", "stays here");
    eb.local_change();
    let passes = eb.stats().passes;
    retries_of_a_witness(5).await;
    assert_eq!(eb.stats().passes, passes, "a deleted account is not retried");
    let s = eb.status().borrow().clone();
    assert_eq!(s.phase, Phase::Stopped);
    assert_eq!(s.last_error.as_ref().map(|e| e.code.as_str()), Some("account_deleted"));
    assert_eq!(b.body(shared).as_deref(), Some("on both"), "B keeps the synced note");
    assert_eq!(b.body(later).as_deref(), Some("stays here"), "and the one written after");
    let counts = b.vault.lock().status().expect("status");
    assert_eq!((counts.pending, counts.failed), (1, 0), "queued, never marked failed");
    eb.shutdown().await;
}
