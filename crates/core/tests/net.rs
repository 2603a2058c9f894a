//! The simulated network against a real in-process server on 127.0.0.1:
//! offline sends nothing, a flaky network drops requests before sending
//! and after the server committed (which a resend then meets as a
//! duplicate), latency is added, and a mode switch applies to the next
//! request. Then the control file's watcher, driven by file writes.

mod common;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use outpost_core::account;
use outpost_core::keys::{KdfParams, MemoryStore};
use outpost_core::net::{self, ControlWatcher, NetControl, NetMode, CONTROL_FILE};
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::{NoteDraft, Vault};
use outpost_protocol::v1::{Op, PushResult};

/// Long enough for a loaded 2-core CI machine; only guards against hangs.
const PATIENCE: Duration = Duration::from_secs(10);

/// A registered device whose remote goes through `control`, and a second
/// remote on the same session that does not (the real network).
struct Device {
    vault: Vault,
    remote: Remote,
    plain: Remote,
    control: NetControl,
    _dir: tempfile::TempDir,
}

async fn device(url: &str, user: &str, control: NetControl) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vault = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let plain = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &plain, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let plain = plain.with_token(vault.session_token().expect("token").expect("logged in"));
    let remote = plain.clone().with_net(control.clone());
    Device { vault, remote, plain, control, _dir: dir }
}

/// One new note's change, ready to push (taken from the outbox, which
/// also hands back earlier changes that were never acknowledged).
fn new_op(d: &mut Device, title: &str) -> Op {
    let note =
        d.vault.create(NoteDraft { title: title.into(), body: "body".into(), ..Default::default() }).expect("create");
    let batch = d.vault.take_push_batch(100).expect("batch");
    batch.into_iter().map(|p| p.op).find(|op| op.note_id == note.id).expect("the new note's change is due")
}

#[tokio::test]
async fn offline_sends_nothing() {
    let srv = common::server().await;
    let mut a = device(&srv.url, "olive", NetControl::new(NetMode::Offline)).await;
    assert_eq!(a.remote.net().map(NetControl::mode), Some(NetMode::Offline));
    let op = new_op(&mut a, "never sent");
    let before = a.remote.traffic();

    let e = a.remote.push(vec![op]).await.expect_err("offline");
    assert!(matches!(e, RemoteError::Offline), "{e:?}");
    assert_eq!((e.code(), e.is_retryable()), ("offline", false));
    assert!(e.to_string().contains("outpost net online"), "says how to reconnect: {e}");
    assert!(matches!(a.remote.pull(0, 100).await, Err(RemoteError::Offline)));
    assert!(matches!(a.remote.health().await, Err(RemoteError::Offline)));
    assert!(matches!(a.remote.events().await.err(), Some(RemoteError::Offline)));
    assert_eq!(a.remote.traffic(), before, "nothing counted: nothing left the device");

    // The server never saw the push.
    let page = a.plain.pull(0, 100).await.expect("pull on the real network");
    assert!(page.changes.is_empty(), "{page:?}");
}

#[tokio::test]
async fn dropping_everything_loses_requests_before_and_answers_after() {
    let srv = common::server().await;
    let flaky = NetMode::Flaky { drop: 1.0, latency_ms: 0 };
    let mut a = device(&srv.url, "fred", NetControl::seeded(flaky, 42)).await;
    let (mut before_drops, mut after_drops) = (0, 0);
    for i in 0..24 {
        let op = new_op(&mut a, &format!("note {i}"));
        let t0 = a.remote.traffic();
        let e = a.remote.push(vec![op.clone()]).await.expect_err("every call dropped");
        let t1 = a.remote.traffic();
        let RemoteError::Unreachable(why) = &e else { panic!("a drop looks like a lost network: {e:?}") };
        assert!(e.is_retryable());

        // Resending the same op on the real network tells what the server saw.
        let resent = a.plain.push(vec![op]).await.expect("resend").results;
        if why.contains("before reaching the server") {
            before_drops += 1;
            assert_eq!(t1, t0, "a request lost before sending counts nothing");
            assert!(matches!(resent[..], [PushResult::Applied { .. }]), "server never saw it: {resent:?}");
        } else if why.contains("answer was lost") {
            after_drops += 1;
            assert!(t1.sent > t0.sent, "the request went out");
            assert_eq!(t1.received, t0.received, "the lost answer is not counted");
            assert!(matches!(resent[..], [PushResult::Duplicate { .. }]), "server committed it: {resent:?}");
        } else {
            panic!("unexpected drop message: {why}");
        }
    }
    assert!(before_drops > 0 && after_drops > 0, "both kinds of drop: {before_drops} before, {after_drops} after");
    for _ in 0..5 {
        assert!(matches!(a.remote.pull(0, 10).await, Err(RemoteError::Unreachable(_))));
        assert!(matches!(a.remote.health().await, Err(RemoteError::Unreachable(_))));
    }
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let srv = common::server().await;
    let mut a = device(&srv.url, "lara", NetControl::new(NetMode::Flaky { drop: 0.0, latency_ms: 300 })).await;
    let op = new_op(&mut a, "slow");
    let t = Instant::now();
    let r = a.remote.push(vec![op]).await.expect("push without drops");
    assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
    assert!(matches!(r.results[..], [PushResult::Applied { .. }]));
    let t = Instant::now();
    assert_eq!(a.remote.pull(0, 10).await.expect("pull").changes.len(), 1);
    assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_flaky_network_with_no_faults_is_the_real_one() {
    let srv = common::server().await;
    let mut a = device(&srv.url, "nora", NetControl::new(NetMode::Flaky { drop: 0.0, latency_ms: 0 })).await;
    for i in 0..10 {
        let op = new_op(&mut a, &format!("n{i}"));
        let t0 = a.remote.traffic();
        let r = a.remote.push(vec![op]).await.expect("push");
        assert!(matches!(r.results[..], [PushResult::Applied { .. }]), "{r:?}");
        let t1 = a.remote.traffic();
        assert!(t1.sent > t0.sent && t1.received > t0.received, "traffic counted as online");
    }
    assert_eq!(a.remote.pull(0, 100).await.expect("pull").changes.len(), 10);
    // Counted as on the real network: the same pull costs the same bytes.
    let token = a.vault.session_token().expect("token").expect("logged in");
    let online = Remote::new(&srv.url).expect("remote").with_token(token.clone());
    let no_faults = NetMode::Flaky { drop: 0.0, latency_ms: 0 };
    let flaky = Remote::new(&srv.url).expect("remote").with_token(token).with_net(NetControl::new(no_faults));
    let (x, y) = (online.pull(0, 100).await.expect("pull"), flaky.pull(0, 100).await.expect("pull"));
    assert_eq!(x, y);
    assert_eq!(online.traffic(), flaky.traffic());
}

#[tokio::test]
async fn a_switch_applies_to_the_next_request() {
    let srv = common::server().await;
    let mut a = device(&srv.url, "sam", NetControl::new(NetMode::Online)).await;
    let clone = a.remote.clone();
    let op = new_op(&mut a, "first");
    a.remote.push(vec![op]).await.expect("online");

    a.control.set(NetMode::Offline);
    let op = new_op(&mut a, "second");
    assert!(matches!(a.remote.push(vec![op.clone()]).await, Err(RemoteError::Offline)));
    assert!(matches!(clone.pull(0, 10).await, Err(RemoteError::Offline)), "clones share the control");

    a.control.set(NetMode::Flaky { drop: 1.0, latency_ms: 0 });
    assert!(matches!(a.remote.pull(0, 10).await, Err(RemoteError::Unreachable(_))));

    a.control.set(NetMode::Online);
    let r = a.remote.push(vec![op]).await.expect("back online");
    assert!(matches!(r.results[..], [PushResult::Applied { .. }]), "the offline push never arrived: {r:?}");
    assert_eq!(clone.pull(0, 10).await.expect("pull").changes.len(), 2);
}

#[tokio::test]
async fn an_open_poke_stream_ends_when_switched_offline() {
    let srv = common::server().await;
    let a = device(&srv.url, "pia", NetControl::new(NetMode::Online)).await;
    let mut events = Box::pin(a.remote.events().await.expect("stream opens online"));
    a.control.set(NetMode::Offline);
    let item = tokio::time::timeout(PATIENCE, events.next()).await.expect("ends promptly");
    assert!(matches!(item, Some(Err(RemoteError::Offline))), "{item:?}");
    let after = tokio::time::timeout(PATIENCE, events.next()).await.expect("ends promptly");
    assert!(after.is_none(), "then the stream is over: {after:?}");
    assert!(matches!(a.remote.events().await.err(), Some(RemoteError::Offline)), "and does not reopen");
}

async fn mode_becomes(control: &NetControl, want: NetMode) {
    let mut rx = control.subscribe();
    let seen = tokio::time::timeout(PATIENCE, rx.wait_for(|m| *m == want)).await;
    assert!(seen.is_ok(), "mode never became {want:?}; it is {:?}", control.mode());
}

async fn error_becomes(errors: &mut tokio::sync::watch::Receiver<Option<String>>, some: bool) -> Option<String> {
    let seen = tokio::time::timeout(PATIENCE, errors.wait_for(|e| e.is_some() == some)).await.is_ok();
    let now = errors.borrow().clone();
    assert!(seen, "error never became {}: {now:?}", if some { "set" } else { "clear" });
    now
}

#[tokio::test]
async fn the_watcher_applies_the_control_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control = NetControl::new(NetMode::Online);
    let (watcher, mut errors) = ControlWatcher::start(dir.path(), control.clone()).expect("watch");
    assert_eq!((control.mode(), errors.borrow().clone()), (NetMode::Online, None), "no file: online");

    net::write_control(dir.path(), &NetMode::Offline).expect("write");
    mode_becomes(&control, NetMode::Offline).await;

    // A broken hand edit keeps the mode and says why.
    std::fs::write(dir.path().join(CONTROL_FILE), "{\"mode\": \"offline\",,}").expect("write garbage");
    let err = error_becomes(&mut errors, true).await.expect("an error");
    assert!(err.contains("line 1") && err.contains(CONTROL_FILE), "{err}");
    assert_eq!(control.mode(), NetMode::Offline, "kept");
    // So does an out-of-range value.
    std::fs::write(dir.path().join(CONTROL_FILE), "{\"mode\":\"flaky\",\"drop\":3}").expect("write");
    let mut errs = errors.clone();
    let seen = tokio::time::timeout(PATIENCE, errs.wait_for(|e| e.as_deref().is_some_and(|e| e.contains("drop"))));
    assert!(seen.await.is_ok(), "out-of-range published: {:?}", errors.borrow().clone());
    assert_eq!(control.mode(), NetMode::Offline, "kept");

    // Fixing the file (a plain overwrite, as an editor does) clears it.
    let flaky = NetMode::Flaky { drop: 0.5, latency_ms: 20 };
    std::fs::write(dir.path().join(CONTROL_FILE), "{\"mode\":\"flaky\",\"drop\":0.5,\"latency_ms\":20}\n")
        .expect("fix");
    mode_becomes(&control, flaky).await;
    assert_eq!(error_becomes(&mut errors, false).await, None);

    // Deleting the file is online again.
    std::fs::remove_file(dir.path().join(CONTROL_FILE)).expect("rm");
    mode_becomes(&control, NetMode::Online).await;

    // Other files in the directory do not matter.
    std::fs::write(dir.path().join("notes.db"), b"x").expect("write other");
    drop(watcher);
}

#[tokio::test]
async fn the_watcher_starts_from_the_file_and_keeps_the_mode_if_it_is_bad() {
    let dir = tempfile::tempdir().expect("tempdir");
    net::write_control(dir.path(), &NetMode::Offline).expect("write");
    let control = NetControl::new(NetMode::Online);
    let (_w, errors) = ControlWatcher::start(dir.path(), control.clone()).expect("watch");
    assert_eq!(control.mode(), NetMode::Offline, "read at start, before start returns");
    assert_eq!(*errors.borrow(), None);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(CONTROL_FILE), "").expect("empty file");
    let control = NetControl::new(NetMode::Flaky { drop: 0.1, latency_ms: 1 });
    let (_w, errors) = ControlWatcher::start(dir.path(), control.clone()).expect("watch");
    assert_eq!(control.mode(), NetMode::Flaky { drop: 0.1, latency_ms: 1 }, "kept");
    let err = errors.borrow().clone().expect("error published at start");
    assert!(err.contains("empty"), "{err}");

    let missing = dir.path().join("missing");
    assert!(matches!(ControlWatcher::start(&missing, NetControl::default()), Err(net::ControlError::Watch { .. })));
}

#[tokio::test]
async fn a_burst_of_writes_settles_on_the_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let control = NetControl::new(NetMode::Online);
    let (_w, _errors) = ControlWatcher::start(dir.path(), control.clone()).expect("watch");
    for i in 0..50u64 {
        net::write_control(dir.path(), &NetMode::Flaky { drop: 0.0, latency_ms: i }).expect("write");
    }
    net::write_control(dir.path(), &NetMode::Offline).expect("write");
    mode_becomes(&control, NetMode::Offline).await;
}

/// The connectivity watcher's probe: the health endpoint answers JSON, and
/// the client reads it.
#[tokio::test]
async fn the_health_probe_reads_the_servers_answer() {
    let srv = common::server().await;
    let health = Remote::new(&srv.url).expect("remote").health().await.expect("health answers");
    assert_eq!(health.status, "ok");
}
