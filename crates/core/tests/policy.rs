//! The sync policy driven through the testers' switches (the device file a
//! running engine watches, as `outpost net metered|power|app` writes it)
//! and the OS's reports (`Engine::set_situation`), against a real server:
//! what is sent, what waits, what the status says, and whether a poke
//! stream is open (DESIGN.md item 17).

mod common;

use std::future::Future;
use std::time::Duration;

use common::TestServer;
use outpost_core::account;
use outpost_core::device::{write_device, DeviceOverrides};
use outpost_core::engine::{Engine, EngineOptions, Phase, SyncStatus};
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::monitor::{self, Outcome};
use outpost_core::policy::{AppState, MeteredUse, Network, PolicySettings, Power, Situation, SMALL_DOWNLOAD};
use outpost_core::remote::Remote;
use outpost_core::{sync, NoteDraft, SharedVault, Vault};
use uuid::Uuid;

/// Long enough for a loaded CI machine; only a hang ever reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

struct Device {
    vault: SharedVault,
    remote: Remote,
    dir: tempfile::TempDir,
    _keys: MemoryStore,
}

async fn device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    Device { vault: SharedVault::new(vault), remote, dir, _keys: keys }
}

impl Device {
    fn create(&self, title: &str) -> Uuid {
        let draft = NoteDraft { title: title.into(), body: "body".into(), ..Default::default() };
        self.vault.lock().create(draft).expect("create").id
    }

    fn start(&self, opts: EngineOptions) -> Engine {
        Engine::start(self.vault.clone(), self.remote.clone(), self.dir.path(), opts).expect("engine starts")
    }

    fn set(&self, overrides: DeviceOverrides) {
        write_device(self.dir.path(), &overrides).expect("write the device file");
    }
}

/// A timer so long that nothing in a test arrives by it.
fn opts(policy: PolicySettings) -> EngineOptions {
    EngineOptions { interval: Duration::from_secs(3600), policy, ..EngineOptions::default() }
}

async fn on_server(remote: &Remote) -> Vec<Uuid> {
    remote.pull(0, 1000).await.expect("pull").changes.iter().map(|c| c.note_id).collect()
}

async fn wait_status(engine: &Engine, what: &str, pred: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let mut rx = engine.status();
    match tokio::time::timeout(PATIENCE, async { rx.wait_for(|s| pred(s)).await.map(|s| s.clone()) }).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => panic!("the engine stopped while waiting for {what}"),
        Err(_) => panic!("no status with {what}: {:?}", engine.status().borrow()),
    }
}

async fn wait_until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn deferred_with(s: &SyncStatus, words: &str) -> bool {
    s.deferred.as_deref().is_some_and(|d| d.contains(words))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_low_battery_nothing_is_sent_and_charging_drains_it() {
    let srv = TestServer::start().await;
    let a = device(&srv.url, "lowbat").await;
    a.set(DeviceOverrides { power: Some(Power::Low), ..Default::default() });
    let engine = a.start(opts(PolicySettings::default()));
    let id = a.create("Written on 5%");
    engine.local_change();
    // The engine saw the change (it counts it) and says why it waits.
    let s = wait_status(&engine, "the wait explained", |s| {
        s.pending == 1 && deferred_with(s, "low battery: 1 change waits for charging")
    })
    .await;
    assert_eq!((s.phase, s.progress), (Phase::Idle, None), "{s:?}");
    assert_eq!(engine.stats().passes, 0, "no pass ran");
    assert!(on_server(&a.remote).await.is_empty(), "nothing was sent");
    assert_eq!(srv.metric("outpost_event_streams").await, 0, "no poke stream either");
    // The history says once that the policy held it back, and why: the
    // debounced wake records it, a later wake of the same spell does not.
    let deferred = || {
        let history = monitor::history(a.vault.lock().connection()).expect("history");
        history.into_iter().filter(|r| r.outcome == Outcome::Deferred).collect::<Vec<_>>()
    };
    wait_until("the held pass in the history", || async { !deferred().is_empty() }).await;
    let wakeups = engine.stats().wakeups;
    engine.local_change();
    wait_until("the next change's debounce to pass", || async { engine.stats().wakeups >= wakeups + 2 }).await;
    let deferred = deferred();
    assert_eq!(deferred.len(), 1, "one record per held spell: {deferred:?}");
    assert_eq!(deferred[0].reason.as_deref(), Some("low battery: 1 change waits for charging"));

    a.set(DeviceOverrides { power: Some(Power::Charging), ..Default::default() });
    wait_until("the note to reach the server", || async { on_server(&a.remote).await == [id] }).await;
    let s = wait_status(&engine, "drained", |s| s.pending == 0 && s.deferred.is_none()).await;
    assert_eq!(s.last_error, None);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_metered_network_the_settings_decide() {
    let srv = TestServer::start().await;
    // "Never": the change waits for Wi-Fi, and the status says so.
    let a = device(&srv.url, "metered-never").await;
    a.set(DeviceOverrides { network: Some(Network::Metered), ..Default::default() });
    let never = PolicySettings { metered: MeteredUse::Never, ..PolicySettings::default() };
    let engine = a.start(opts(never));
    let id = a.create("On the train");
    engine.local_change();
    wait_status(&engine, "the wait explained", |s| deferred_with(s, "on a metered network: 1 change waits for Wi-Fi"))
        .await;
    assert_eq!(engine.stats().passes, 0);
    assert!(on_server(&a.remote).await.is_empty());
    a.set(DeviceOverrides { network: Some(Network::Unmetered), ..Default::default() });
    wait_until("Wi-Fi sends it", || async { on_server(&a.remote).await == [id] }).await;
    engine.shutdown().await;

    // "Small changes only" (the default): notes sync on mobile data.
    let b = device(&srv.url, "metered-small").await;
    b.set(DeviceOverrides { network: Some(Network::Metered), ..Default::default() });
    let engine = b.start(opts(PolicySettings::default()));
    let id = b.create("Also on the train");
    engine.local_change();
    wait_until("the note to sync on mobile data", || async { on_server(&b.remote).await == [id] }).await;
    let s = wait_status(&engine, "idle", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    assert_eq!(s.deferred, None, "notes do not wait: {s:?}");
    engine.shutdown().await;
}

/// An engine in the background on battery keeps no connection open; back
/// in the foreground (the OS's report, as the shell or the mobile glue
/// sends it) it opens one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_background_on_battery_no_poke_stream_is_open() {
    let srv = TestServer::start().await;
    let a = device(&srv.url, "idle").await;
    let on_battery = Situation { power: Power::Battery, app: AppState::Background, ..Situation::default() };
    let engine = a.start(EngineOptions { situation: on_battery, ..opts(PolicySettings::default()) });
    // It still syncs (its catch-up pass at start), just without pokes.
    wait_status(&engine, "the first pass", |s| s.last_success_ms.is_some() && s.phase == Phase::Idle).await;
    assert_eq!(srv.metric("outpost_event_streams").await, 0, "no stream in the background on battery");

    engine.set_situation(Situation { app: AppState::Foreground, ..on_battery });
    wait_until("a stream in the foreground", || async { srv.metric("outpost_event_streams").await == 1 }).await;
    // A tester's override wins over the OS: power saver closes it again.
    a.set(DeviceOverrides { power: Some(Power::Saver), ..Default::default() });
    wait_until("the stream closed in power saver", || async { srv.metric("outpost_event_streams").await == 0 }).await;
    engine.shutdown().await;
}

/// A new device of `user`'s account (logged in, nothing pulled yet).
async fn joining(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &keys, key).expect("open for the account");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    Device { vault: SharedVault::new(vault), remote: remote.with_token(session.token), dir, _keys: keys }
}

/// On a metered network with "small changes only", a large download (a new
/// device's first one) is large work: it waits for Wi-Fi, and the status
/// says so, while this device's own changes still go up and small
/// downloads still come down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_metered_network_a_large_first_download_waits_for_wi_fi() {
    let srv = TestServer::start().await;
    let a = device(&srv.url, "bootstrap").await;
    let backlog = SMALL_DOWNLOAD as usize + 50;
    for i in 0..backlog {
        a.create(&format!("Note {i}"));
    }
    sync::sync_shared(&a.vault, &a.remote).await.expect("the first device uploads");

    let b = joining(&srv.url, "bootstrap").await;
    let notes = || b.vault.lock().list().expect("list").len();
    b.set(DeviceOverrides { network: Some(Network::Metered), ..Default::default() });
    let engine = b.start(opts(PolicySettings::default()));
    let s = wait_status(&engine, "the large download waiting", |s| {
        deferred_with(s, "on a metered network: a large download waits for Wi-Fi") && s.phase == Phase::Idle
    })
    .await;
    assert_eq!(s.last_error, None, "{s:?}");
    assert_eq!(notes(), SMALL_DOWNLOAD as usize, "the one page asked for, and no more");

    // This device's own writing still goes up, and the download still waits.
    let passes = engine.stats().passes;
    let mine = b.create("Written on mobile data");
    engine.local_change();
    wait_until("the new note to reach the server", || async { on_server(&b.remote).await.contains(&mine) }).await;
    wait_status(&engine, "the push pass done", |s| s.pending == 0 && s.phase == Phase::Idle).await;
    assert!(engine.stats().passes > passes);
    assert_eq!(notes(), SMALL_DOWNLOAD as usize + 1, "nothing more came down");
    let s = engine.status().borrow().clone();
    assert!(deferred_with(&s, "a large download waits for Wi-Fi"), "{s:?}");

    // Wi-Fi: the rest comes down, and the status no longer waits.
    b.set(DeviceOverrides { network: Some(Network::Unmetered), ..Default::default() });
    wait_until("everything on this device", || async { notes() == backlog + 1 }).await;
    wait_status(&engine, "nothing waits", |s| s.deferred.is_none() && s.phase == Phase::Idle).await;

    engine.shutdown().await;

    // A small first download (an account with a few notes) comes down on
    // mobile data: only a large one waits.
    let c = device(&srv.url, "small-account").await;
    for i in 0..3 {
        c.create(&format!("Note {i}"));
    }
    sync::sync_shared(&c.vault, &c.remote).await.expect("upload");
    let d = joining(&srv.url, "small-account").await;
    d.set(DeviceOverrides { network: Some(Network::Metered), ..Default::default() });
    let engine = d.start(opts(PolicySettings::default()));
    let s = wait_status(&engine, "the first pass", |s| s.last_success_ms.is_some() && s.phase == Phase::Idle).await;
    assert_eq!(s.deferred, None, "small downloads do not wait: {s:?}");
    assert_eq!(d.vault.lock().list().expect("list").len(), 3);
    engine.shutdown().await;
}
