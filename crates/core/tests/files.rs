//! Attached files through a real in-process server: a 50 MiB file added
//! offline crosses a flaky network that cuts requests (before the server
//! sees them and after it answered) many times, resuming each time, and
//! arrives byte-identical on another device; nothing of its plaintext is on
//! the server or in either store; a chunk tampered with or cut short on the
//! server is refused, nothing of it stored, and the download resumes once
//! the server serves it right.

mod common;

use std::path::Path;

use outpost_core::account;
use outpost_core::files::transfer::{self, FilePassReport};
use outpost_core::files::FileState;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::net::{NetControl, NetMode};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::{Error, NoteDraft, Vault};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;
const STORED: &str = "outpost_file_chunks_put_total{result=\"stored\"}";
const RESENT: &str = "outpost_file_chunks_put_total{result=\"already_there\"}";

struct Device {
    vault: Vault,
    remote: Remote,
    dir: tempfile::TempDir,
}

async fn first_device(url: &str, user: &str, control: NetControl) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vault = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in")).with_net(control);
    Device { vault, remote, dir }
}

async fn joining_device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &MemoryStore::new(), key).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    let remote = remote.with_token(session.token);
    Device { vault, remote, dir }
}

fn random_with_marker(len: usize, marker: &[u8]) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut data);
    for at in [0, len / 2, len - marker.len()] {
        data[at..at + marker.len()].copy_from_slice(marker);
    }
    data
}

fn assert_no_marker(dir: &Path, marker: &[u8], what: &str) {
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(|e| e.ok()).filter(|e| e.file_type().is_file()) {
        let bytes = std::fs::read(entry.path()).expect("read");
        assert!(!bytes.windows(marker.len()).any(|w| w == marker), "{what}: plaintext in {}", entry.path().display());
    }
}

fn note(v: &mut Vault, title: &str) -> uuid::Uuid {
    v.create(NoteDraft { title: title.into(), body: "attached below".into(), ..Default::default() }).expect("note").id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_file_added_offline_crosses_a_flaky_network_byte_identical() {
    let srv = common::server().await;
    let control = NetControl::seeded(NetMode::Offline, 15);
    let mut a = first_device(&srv.url, "alice", control.clone()).await;
    let marker = b"MARKER-50mib-file-9f3e2d1c";
    let data = random_with_marker(50 * MIB, marker);
    let n = note(&mut a.vault, "Holiday video");
    let info = a.vault.add_file(n, "holiday.mp4", &data).expect("added offline");
    assert_eq!((info.chunk_count, info.state), (50, FileState::Upload));
    let counts = a.vault.file_counts().expect("counts");
    assert_eq!(counts.upload_files, 1);
    assert!(counts.upload_bytes >= 50 * MIB as u64, "{counts:?}");

    // Offline: nothing leaves the device.
    assert!(transfer::sync_files(&std::sync::Mutex::new(&mut a.vault), &a.remote, transfer::Learn::Always)
        .await
        .is_err());
    assert_eq!(srv.metric(STORED).await, 0);

    // Reconnected over a network that loses 30% of requests, half of them
    // after the server answered: each pass goes until a request is lost,
    // and the next resumes.
    control.set(NetMode::Flaky { drop: 0.3, latency_ms: 0 });
    let mut cuts = 0;
    loop {
        let notes = sync_once(&mut a.vault, &a.remote).await;
        if notes.is_err() {
            cuts += 1;
            continue;
        }
        match transfer::sync_files(&std::sync::Mutex::new(&mut a.vault), &a.remote, transfer::Learn::Always).await {
            Ok(_) => break,
            Err(e) => {
                assert!(e.to_string().contains("simulated network drop"), "{e}");
                cuts += 1;
                assert!(cuts < 500, "the upload never finished");
            }
        }
    }
    assert!(cuts >= 3, "the connection was cut only {cuts} times");
    let (stored, resent) = (srv.metric(STORED).await, srv.metric(RESENT).await);
    assert_eq!(stored, 50, "every chunk stored once");
    // Resumed, not restarted: at most one chunk resent per cut (the one
    // whose answer was lost).
    assert!(resent <= cuts, "{resent} chunks resent over {cuts} cuts");
    let counts = a.vault.file_counts().expect("counts");
    assert_eq!((counts.upload_files, counts.upload_bytes), (0, 0));
    assert_eq!(a.vault.file_info(&info.id).expect("info").state, FileState::Synced);

    // B learns the file at sync, downloads it when asked.
    let mut b = joining_device(&srv.url, "alice").await;
    sync_once(&mut b.vault, &b.remote).await.expect("notes");
    let report = transfer::sync_files(&std::sync::Mutex::new(&mut b.vault), &b.remote, transfer::Learn::Always)
        .await
        .expect("files");
    assert_eq!((report.learnt, report.chunks_received), (1, 0), "metadata only");
    // A pass after a notes' pass that pulled nothing, with nothing to move:
    // not a single request; after one that pulled, the list again.
    let before = b.remote.traffic();
    let idle =
        transfer::sync_files(&std::sync::Mutex::new(&mut b.vault), &b.remote, transfer::Learn::IfNotesPulled(false))
            .await
            .expect("idle pass");
    assert_eq!((idle.listed, b.remote.traffic().sent), (false, before.sent), "no request");
    let after_pull =
        transfer::sync_files(&std::sync::Mutex::new(&mut b.vault), &b.remote, transfer::Learn::IfNotesPulled(true))
            .await
            .expect("pass after a pull");
    assert_eq!((after_pull.listed, after_pull.learnt), (true, 0), "listed, nothing new");
    assert!(b.remote.traffic().sent > before.sent);
    let on_b = b.vault.files_of_note(n).expect("files");
    assert_eq!((on_b[0].name.as_str(), on_b[0].local_chunks, on_b[0].size), ("holiday.mp4", 0, data.len() as u64));
    let mut got = FilePassReport::default();
    transfer::download(&std::sync::Mutex::new(&mut b.vault), &b.remote, &info.id, &mut got).await.expect("download");
    assert_eq!(got.chunks_received, 50);
    let bytes = b.vault.read_file(&info.id).expect("read");
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&data), "byte-identical");

    assert_no_marker(srv.dir(), marker, "the server's database");
    assert_no_marker(a.dir.path(), marker, "A's store");
    assert_no_marker(b.dir.path(), marker, "B's store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_or_truncated_chunk_is_refused_and_the_download_resumes() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "tim", NetControl::new(NetMode::Online)).await;
    let data = random_with_marker(2 * MIB + 500, b"MARKER-tamper");
    let n = note(&mut a.vault, "Scan");
    let id = a.vault.add_file(n, "scan.pdf", &data).expect("added").id;
    sync_once(&mut a.vault, &a.remote).await.expect("notes");
    transfer::sync_files(&std::sync::Mutex::new(&mut a.vault), &a.remote, transfer::Learn::Always)
        .await
        .expect("files");

    // The server's copy of chunk 1 gets one bit flipped, chunk 2 cut short.
    let db = rusqlite::Connection::open(srv.dir().join("server.db")).expect("server db");
    db.busy_timeout(std::time::Duration::from_secs(10)).expect("busy timeout");
    let original: Vec<(i64, Vec<u8>)> = db
        .prepare("SELECT idx, data FROM file_chunks ORDER BY idx")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(original.len(), 3);
    let mut flipped = original[1].1.clone();
    flipped[40] ^= 0x01;
    db.execute("UPDATE file_chunks SET data = ?1 WHERE idx = 1", [&flipped]).expect("tamper");
    let cut = original[2].1[..original[2].1.len() - 10].to_vec();
    db.execute("UPDATE file_chunks SET data = ?1 WHERE idx = 2", [&cut]).expect("truncate");

    let mut b = joining_device(&srv.url, "tim").await;
    sync_once(&mut b.vault, &b.remote).await.expect("notes");
    let mut r = FilePassReport::default();
    let e = transfer::download(&std::sync::Mutex::new(&mut b.vault), &b.remote, &id, &mut r)
        .await
        .expect_err("a tampered chunk");
    assert!(matches!(&e, Error::Forged(m) if m.contains("chunk 1")), "{e}");
    assert_eq!(b.vault.missing_chunks(&id).expect("missing"), vec![1, 2], "chunk 0 kept, nothing of 1 stored");
    assert!(matches!(b.vault.read_file(&id), Err(Error::FileNotDownloaded { missing: 2, .. })));

    db.execute("UPDATE file_chunks SET data = ?1 WHERE idx = 1", [&original[1].1]).expect("repair 1");
    let e = transfer::download(&std::sync::Mutex::new(&mut b.vault), &b.remote, &id, &mut r)
        .await
        .expect_err("a truncated chunk");
    assert!(matches!(&e, Error::Forged(m) if m.contains("chunk 2")), "{e}");
    assert_eq!(b.vault.missing_chunks(&id).expect("missing"), vec![2]);

    db.execute("UPDATE file_chunks SET data = ?1 WHERE idx = 2", [&original[2].1]).expect("repair 2");
    let mut resumed = FilePassReport::default();
    transfer::download(&std::sync::Mutex::new(&mut b.vault), &b.remote, &id, &mut resumed).await.expect("download");
    assert_eq!(resumed.chunks_received, 1, "only what was missing");
    assert_eq!(b.vault.read_file(&id).expect("read"), data);

    // A chunk moved to another place of the file is refused as well.
    let swapped = original[0].1.clone();
    let mut c = joining_device(&srv.url, "tim").await;
    sync_once(&mut c.vault, &c.remote).await.expect("notes");
    db.execute("UPDATE file_chunks SET data = ?1 WHERE idx = 1", [&swapped]).expect("move chunk 0 to 1");
    let e = transfer::download(&std::sync::Mutex::new(&mut c.vault), &c.remote, &id, &mut r)
        .await
        .expect_err("a moved chunk");
    assert!(matches!(&e, Error::Forged(m) if m.contains("chunk 1")), "{e}");
}

/// Polls `check` until it holds, within a bound (a real condition, not a
/// sleep standing in for one).
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_engine_uploads_files_in_their_own_task_and_a_note_passes_a_large_upload() {
    use outpost_core::engine::{Engine, EngineOptions};
    use outpost_core::SharedVault;
    let srv = common::server().await;
    // 80 ms on every request: the 20 chunks take at least 1.6 s.
    let control = NetControl::new(NetMode::Flaky { drop: 0.0, latency_ms: 80 });
    let a = first_device(&srv.url, "eve", control.clone()).await;
    let mut b = joining_device(&srv.url, "eve").await;
    let data = random_with_marker(20 * MIB, b"MARKER-engine");
    let shared = SharedVault::new(a.vault);
    let n = shared.lock().create(NoteDraft { title: "Film".into(), ..Default::default() }).expect("note").id;
    let id = shared.lock().add_file(n, "film.mkv", &data).expect("add").id;
    let opts =
        EngineOptions { status_file: false, debounce: std::time::Duration::from_millis(20), ..Default::default() };
    let engine = Engine::start(shared.clone(), a.remote.clone(), a.dir.path(), opts).expect("engine");
    engine.local_change();
    wait_until("the upload to start", || async { srv.metric(STORED).await >= 2 }).await;

    // A note saved now reaches B while the upload goes on.
    let late = shared.lock().create(NoteDraft { title: "Written during the upload".into(), ..Default::default() });
    let late = late.expect("note").id;
    engine.local_change();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(std::time::Instant::now() < deadline, "the note never reached B");
        sync_once(&mut b.vault, &b.remote).await.expect("pull on B");
        if b.vault.get(late).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let stored_when_the_note_arrived = srv.metric(STORED).await;
    assert!(stored_when_the_note_arrived < 20, "the note waited for the whole upload");
    wait_until("the whole upload", || async { srv.metric(STORED).await == 20 }).await;
    wait_until("the file synced", || async {
        shared.lock().file_info(&id).map(|i| i.state == FileState::Synced).unwrap_or(false)
    })
    .await;
    engine.shutdown().await;
    let mut r = FilePassReport::default();
    transfer::download(&std::sync::Mutex::new(&mut b.vault), &b.remote, &id, &mut r).await.expect("download");
    assert_eq!(b.vault.read_file(&id).expect("read"), data);
}
