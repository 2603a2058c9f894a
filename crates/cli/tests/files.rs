//! Attached files through the real binary (`outpost files`, `outpost sync`,
//! `outpost serve`): round trip between devices byte for byte, one copy of
//! a file added twice, no plaintext on the server or in either store, bad
//! input, another account's id, and a device killed with SIGKILL in the
//! middle of an upload and of a download that resumes where it stopped.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json, outpost, run, run_ok, snapshot, start_server, Server};
use rand::RngCore;
use sha2::{Digest, Sha256};

const STORED: &str = "outpost_file_chunks_put_total{result=\"stored\"}";
const RESENT: &str = "outpost_file_chunks_put_total{result=\"already_there\"}";
const SERVED: &str = "outpost_file_chunks_served_total";

/// Random bytes (incompressible, like photos) with `marker` at a few
/// places, written to `path`.
fn write_file(path: &Path, len: usize, marker: &[u8]) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut data);
    for at in [0, len / 3, len / 2, len - marker.len()] {
        data[at..at + marker.len()].copy_from_slice(marker);
    }
    std::fs::write(path, &data).expect("write the file");
    data
}

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// No file under `dir` holds `marker`.
fn assert_no_marker(dir: &Path, marker: &[u8], what: &str) {
    for (path, bytes) in snapshot(dir) {
        assert!(!contains(&bytes, marker), "{what}: plaintext of the file in {}", path.display());
    }
}

fn note(dir: &Path, title: &str) -> String {
    run_ok(dir, &["notes", "add", "--title", title, "--body", "see attached"]).trim().to_owned()
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("exit code")
}

/// Waits until `metric` reaches `n` (the server's real progress), within
/// a bound.
fn wait_metric(server: &Server, metric: &str, n: u64, what: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = server.metric(metric);
        if v >= n {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {metric} stayed at {v}, below {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn files_travel_once_encrypted_and_bad_input_changes_nothing() {
    let srv = tempfile::tempdir().expect("server dir");
    let server = start_server(srv.path());
    let (a, b, c, work) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
        tempfile::tempdir().expect("c"),
        tempfile::tempdir().expect("work"),
    );
    let (a, b, c, work) = (a.path(), b.path(), c.path(), work.path());
    let marker = b"MARKER-a5c1e0-attached-file-plaintext";

    // Added offline, before any account: a photo in two notes.
    let first = note(a, "Trip");
    let second = note(a, "Trip again");
    let photo = work.join("photo.png");
    let data = write_file(&photo, 3 * 1024 * 1024 + 100, marker);
    let added = json(a, &["files", "add", &first, photo.to_str().expect("utf-8"), "--json"]);
    let id = added["id"].as_str().expect("id").to_owned();
    assert_eq!((added["chunk_count"].as_u64(), added["state"].as_str()), (Some(4), Some("upload")));
    let again = run_ok(a, &["files", "add", &second, photo.to_str().expect("utf-8")]);
    assert_eq!(again.trim(), id, "the same bytes get the same id");
    let body = json(a, &["notes", "show", &first, "--json"])["body"].as_str().expect("body").to_owned();
    assert!(body.contains(&format!("![photo.png](outpost-file:{id})")), "{body}");
    let status = json(a, &["status", "--json"]);
    assert_eq!(status["files"]["upload_files"], 1, "{status}");
    assert!(status["files"]["upload_bytes"].as_u64().expect("bytes") > 3 * 1024 * 1024, "{status}");

    run_ok(a, &["account", "register", "--server", &server.url, "--user", "alice"]);
    let report = json(a, &["sync", "--json"]);
    assert_eq!(report["files"]["chunks_sent"], 4, "{report}");
    assert_eq!(report["file_counts"]["upload_files"], 0, "{report}");
    // Stored once, though two notes reference it; a second sync sends nothing.
    assert_eq!(server.metric(STORED), 4);
    let report = json(a, &["sync", "--json"]);
    assert_eq!(report["files"]["chunks_sent"], 0, "{report}");
    // Nothing came in and nothing is left to move: no file request at all.
    assert_eq!(report["files"]["listed"], false, "{report}");
    assert_eq!(report["report"]["pulled"], 0, "{report}");
    assert_eq!((server.metric(STORED), server.metric(RESENT)), (4, 0));

    // B: notes and the file's metadata come at sync; bytes when asked.
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "alice"]);
    run_ok(b, &["sync"]);
    let listed = json(b, &["files", "list", &first, "--json"]);
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    assert_eq!((listed[0]["name"].as_str(), listed[0]["local_chunks"].as_u64()), (Some("photo.png"), Some(0)));
    assert_eq!(json(b, &["files", "list", &second, "--json"])[0]["id"], id.as_str());
    let out = work.join("got.png");
    run_ok(b, &["files", "get", &id, "--out", out.to_str().expect("utf-8")]);
    assert_eq!(sha(&std::fs::read(&out).expect("read")), sha(&data), "byte-identical on B");
    // Offline now, the cached (sealed) chunks still serve it.
    run_ok(b, &["net", "offline"]);
    let out2 = work.join("again.png");
    run_ok(b, &["files", "get", &id, "--out", out2.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(&out2).expect("read"), data);
    run_ok(b, &["net", "online"]);

    // Plaintext nowhere but where the user asked for it.
    assert_no_marker(srv.path(), marker, "server database, WAL or log");
    assert_no_marker(a, marker, "device A's store");
    assert_no_marker(b, marker, "device B's store");

    // Bad input: clear errors, nothing changed.
    let before = snapshot(a);
    let big = work.join("big.bin");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(100 * 1024 * 1024 + 1).expect("sparse file");
    let over = run(a, &["files", "add", &first, big.to_str().expect("utf-8")]);
    assert_eq!(code(&over), 4, "{}", String::from_utf8_lossy(&over.stderr));
    assert!(String::from_utf8_lossy(&over.stderr).contains("limit is 104857600"), "{over:?}");
    let missing = run(a, &["files", "add", &first, work.join("nope").to_str().expect("utf-8")]);
    assert_ne!(code(&missing), 0);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"), "{missing:?}");
    let dir_as_file = run(a, &["files", "add", &first, work.to_str().expect("utf-8")]);
    assert_eq!(code(&dir_as_file), 4, "{dir_as_file:?}");
    let no_note = run(a, &["files", "add", "01936f0e-8c3b-7d2a-9f1e-2b3c4d5e6f70", photo.to_str().expect("utf-8")]);
    assert_eq!(code(&no_note), 3, "{no_note:?}");
    assert_eq!(code(&run(a, &["files", "get", "xyz", "--out", "x"])), 4);
    let unknown = "ab".repeat(32);
    let out3 = work.join("unknown");
    assert_eq!(code(&run(a, &["files", "get", &unknown, "--out", out3.to_str().expect("utf-8")])), 3);
    assert!(!out3.exists());
    assert_eq!(snapshot(a), before, "refused input changed the store");

    // Another account cannot get alice's file by its id: 404, like no id.
    run_ok(c, &["account", "register", "--server", &server.url, "--user", "bob"]);
    let theirs = work.join("theirs");
    let stolen = run(c, &["files", "get", &id, "--out", theirs.to_str().expect("utf-8")]);
    assert_eq!(code(&stolen), 3, "{}", String::from_utf8_lossy(&stolen.stderr));
    assert!(!theirs.exists());

    // Removing the file takes its references out of both notes.
    let rm = run_ok(a, &["files", "rm", &id]);
    assert!(rm.contains("2 notes edited"), "{rm}");
    let body = json(a, &["notes", "show", &first, "--json"])["body"].as_str().expect("body").to_owned();
    assert!(!body.contains(&id), "{body}");
    let report = json(a, &["sync", "--json"]);
    assert_eq!(report["files"]["removed"], 1, "{report}");
    assert_eq!(json(a, &["files", "list", &first, "--json"]), serde_json::json!([]));
}

#[test]
fn a_device_killed_mid_upload_and_mid_download_resumes_where_it_stopped() {
    let srv = tempfile::tempdir().expect("server dir");
    let server = start_server(srv.path());
    let (a, b, work) =
        (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"), tempfile::tempdir().expect("w"));
    let (a, b, work) = (a.path(), b.path(), work.path());
    let id_note = note(a, "Big one");
    let path = work.join("video.mp4");
    let data = write_file(&path, 12 * 1024 * 1024 + 5, b"MARKER-kill-test");
    let id = run_ok(a, &["files", "add", &id_note, path.to_str().expect("utf-8")]).trim().to_owned();
    let chunks = 13;
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "alice"]);

    // Upload: each request slowed so the kill lands in the middle.
    run_ok(a, &["net", "flaky", "--latency", "150"]);
    let mut child = outpost(a).arg("sync").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn sync");
    wait_metric(&server, STORED, 4, "upload");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let at_kill = server.metric(STORED);
    assert!(at_kill < chunks, "the kill came too late to prove anything ({at_kill} chunks stored)");
    run_ok(a, &["net", "online"]);
    let report = json(a, &["sync", "--json"]);
    // The resumed upload sent only what the server lacked.
    assert_eq!(report["files"]["chunks_sent"].as_u64(), Some(chunks - at_kill), "{report}");
    assert_eq!((server.metric(STORED), server.metric(RESENT)), (chunks, 0));

    // Download on B: killed in the middle, no file at PATH, resumed.
    run_ok(b, &["account", "login", "--server", &server.url, "--user", "alice"]);
    run_ok(b, &["sync"]);
    run_ok(b, &["net", "flaky", "--latency", "150"]);
    let out = work.join("got.mp4");
    let mut child = outpost(b)
        .args(["files", "get", &id, "--out", out.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn get");
    wait_metric(&server, SERVED, 4, "download");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let served = server.metric(SERVED);
    assert!(served < chunks, "the kill came too late to prove anything ({served} chunks served)");
    assert!(!out.exists(), "a killed download left a file at PATH");
    let listed = json(b, &["files", "list", &id_note, "--json"]);
    let kept = listed[0]["local_chunks"].as_u64().expect("local chunks");
    assert!(kept + 1 >= served && kept >= 3, "chunks downloaded before the kill were kept: {kept} of {served}");
    run_ok(b, &["net", "online"]);
    run_ok(b, &["files", "get", &id, "--out", out.to_str().expect("utf-8")]);
    assert_eq!(server.metric(SERVED), served + (chunks - kept), "only the missing chunks were downloaded again");
    assert_eq!(sha(&std::fs::read(&out).expect("read")), sha(&data));
    let leftovers: Vec<_> = std::fs::read_dir(work)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".outpost-partial-"))
        .collect();
    // A kill leaves the hidden temporary file (the OS cannot remove it for
    // a dead process); never a partial file at PATH.
    assert!(leftovers.len() <= 1, "{leftovers:?}");
}

#[test]
fn a_full_account_keeps_the_file_queued_and_says_so() {
    let srv = tempfile::tempdir().expect("server dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let server = common::start_server_with(srv.path(), addr, &["--file-quota-mib", "1"]);
    let (a, work) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("w"));
    let (a, work) = (a.path(), work.path());
    let n = note(a, "Too big for the account");
    let path = work.join("scan.pdf");
    write_file(&path, 2 * 1024 * 1024, b"MARKER-quota");
    let id = run_ok(a, &["files", "add", &n, path.to_str().expect("utf-8")]).trim().to_owned();
    run_ok(a, &["account", "register", "--server", &server.url, "--user", "alice"]);
    let out = run(a, &["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 14, "{stderr}");
    assert!(stderr.contains("quota_exceeded") && stderr.contains("notes synced"), "{stderr}");
    assert_eq!(server.metric(STORED), 0, "nothing of the file stored");
    let status = json(a, &["status", "--json"]);
    assert_eq!((status["pending"].as_u64(), status["files"]["upload_files"].as_u64()), (Some(0), Some(1)), "{status}");
    // Still queued, whole; removing it frees the queue.
    run_ok(a, &["files", "rm", &id]);
    run_ok(a, &["sync"]);
    assert_eq!(json(a, &["status", "--json"])["files"]["upload_files"], 0);
}
