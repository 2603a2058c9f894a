//! Attached files over loopback against a real in-process server (SQLite),
//! in one run:
//! - adding a 50 MiB file of random bytes (sealing it into the store);
//! - its upload by a device (`files::transfer::sync_files`), against a
//!   plain `curl` upload of the same bytes to the same server (1 MiB
//!   pieces as `PUT /v1/files/{id}/chunks/{i}` on one connection, after
//!   declaring the file with curl): the server's own cost, without the
//!   device's;
//! - its download on a second device and the checked read;
//! - how long a note edit takes to reach another device (push on C, pull
//!   on B) while device A uploads another 50 MiB file.
//!
//! `cargo bench -p outpost-core --bench files` (needs `curl`).

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use outpost_core::account;
use outpost_core::files::transfer::{self, FilePassReport};
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::{NoteDraft, Vault};
use rand::RngCore as _;

const MIB: usize = 1024 * 1024;

fn main() {
    print_context();
    let mb = env_usize("OUTPOST_BENCH_FILE_MIB", 50);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().expect("runtime");
    rt.block_on(run(mb));
}

struct Server {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = bench_dir("files-server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let config = outpost_server::Config::new(format!("sqlite://{}", dir.path().join("server.db").display()));
    tokio::spawn(async move {
        outpost_server::serve(listener, config, async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    Server { url, _stop: stop, _dir: dir }
}

async fn device(url: &str, user: &str, join: bool) -> (Vault, Remote, tempfile::TempDir) {
    let dir = bench_dir("files-device");
    let remote = Remote::new(url).expect("remote");
    if join {
        let (key, session) =
            account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
        let mut v = Vault::open_for_account(dir.path(), &MemoryStore::new(), key).expect("open");
        account::remember(&mut v, &remote, user, &session).expect("remember");
        (v, remote.with_token(session.token), dir)
    } else {
        let mut v = open_vault(dir.path());
        account::register_with(&mut v, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
        let token = v.session_token().expect("token").expect("session");
        (v, remote.with_token(token), dir)
    }
}

fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn rate(bytes: usize, d: Duration) -> String {
    format!("{:.1} MiB/s ({} ms)", bytes as f64 / MIB as f64 / d.as_secs_f64(), d.as_millis())
}

/// Uploads `data` with curl as 1 MiB pieces to a new file of a new
/// account, on one connection; the time of the pieces' upload only.
fn curl_upload(url: &str, data: &[u8], dir: &std::path::Path) -> Duration {
    let curl = |args: &[&str]| -> String {
        let out = Command::new("curl").args(["-sf"]).args(args).output().expect("run curl (is it installed?)");
        assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let register = outpost_protocol::v1::RegisterRequest {
        username: format!("curl-{}", uuid::Uuid::new_v4().simple()),
        auth_key: random(32).into(),
        wrapped_key: b"WRAPPED".to_vec().into(),
        kdf_params: b"{}".to_vec().into(),
    };
    let body = serde_json::to_string(&register).expect("json");
    let session =
        curl(&["-X", "POST", &format!("{url}/v1/register"), "-H", "content-type: application/json", "-d", &body]);
    let token =
        serde_json::from_str::<serde_json::Value>(&session).expect("json")["token"].as_str().expect("token").to_owned();
    let auth = format!("authorization: Bearer {token}");
    let id: String = random(32).iter().map(|b| format!("{b:02x}")).collect();
    let pieces: Vec<&[u8]> = data.chunks(MIB).collect();
    let declare = serde_json::to_string(&outpost_protocol::v1::FileDeclareRequest {
        note_id: uuid::Uuid::now_v7(),
        chunk_count: pieces.len() as u32,
        size: data.len() as u64,
        manifest: b"M".to_vec().into(),
    })
    .expect("json");
    curl(&[
        "-X",
        "PUT",
        &format!("{url}/v1/files/{id}"),
        "-H",
        &auth,
        "-H",
        "content-type: application/json",
        "-d",
        &declare,
    ]);
    let mut args: Vec<String> = vec![
        "-X".into(),
        "PUT".into(),
        "-H".into(),
        auth,
        "-H".into(),
        "content-type: application/octet-stream".into(),
    ];
    for (i, piece) in pieces.iter().enumerate() {
        let p = dir.join(format!("piece.{i}"));
        std::fs::write(&p, piece).expect("piece");
        args.extend(["-T".into(), p.display().to_string(), format!("{url}/v1/files/{id}/chunks/{i}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    curl(&args);
    t.elapsed()
}

async fn run(mb: usize) {
    let server = start().await;
    let size = mb * MIB;
    println!("\n## Attached files on loopback, SQLite backend, a {mb} MiB file of random bytes\n");
    let (mut a, ra, _da) = device(&server.url, "alice", false).await;
    let note = a.create(NoteDraft { title: "Video".into(), ..Default::default() }).expect("note").id;
    sync_once(&mut a, &ra).await.expect("notes");
    let data = random(size);

    let t = Instant::now();
    let id = a.add_file(note, "video.mp4", &data).expect("add").id;
    println!("add (seal into the store): {}", rate(size, t.elapsed()));

    let t = Instant::now();
    let up = transfer::sync_files(&Mutex::new(&mut a), &ra, transfer::Learn::Always).await.expect("upload");
    let device_up = t.elapsed();
    assert_eq!(up.chunks_sent as usize, size.div_ceil(MIB));
    let work = bench_dir("files-curl");
    let curl_up = curl_upload(&server.url, &data, work.path());
    println!("upload by the device: {}", rate(size, device_up));
    println!("upload by curl, same bytes, same server: {}", rate(size, curl_up));
    println!("device / curl: {:.0}%", 100.0 * curl_up.as_secs_f64() / device_up.as_secs_f64());

    let (mut b, rb, _db) = device(&server.url, "alice", true).await;
    sync_once(&mut b, &rb).await.expect("notes on B");
    transfer::sync_files(&Mutex::new(&mut b), &rb, transfer::Learn::Always).await.expect("metadata on B");
    let t = Instant::now();
    let mut r = FilePassReport::default();
    transfer::download(&Mutex::new(&mut b), &rb, &id, &mut r).await.expect("download");
    let down = t.elapsed();
    let t = Instant::now();
    let bytes = b.read_file(&id).expect("read");
    let read = t.elapsed();
    assert_eq!(bytes, data);
    println!("download by the second device (each chunk checked, stored sealed): {}", rate(size, down));
    println!("checked read of the whole file: {}", rate(size, read));

    // Note latency while A uploads another file of the same size.
    let (mut c, rc, _dc) = device(&server.url, "alice", true).await;
    sync_once(&mut c, &rc).await.expect("notes on C");
    sync_once(&mut b, &rb).await.expect("B up to date");
    let note2 = a.create(NoteDraft { title: "Second".into(), ..Default::default() }).expect("note").id;
    a.add_file(note2, "second.mp4", &random(size)).expect("add");
    sync_once(&mut a, &ra).await.expect("notes");
    let upload = tokio::spawn(async move {
        let t = Instant::now();
        transfer::sync_files(&Mutex::new(&mut a), &ra, transfer::Learn::Always).await.expect("second upload");
        t.elapsed()
    });
    let mut lat = Vec::new();
    let mut during = 0;
    for i in 0..20 {
        let t = Instant::now();
        let n = c.create(NoteDraft { title: format!("ping {i}"), ..Default::default() }).expect("note").id;
        sync_once(&mut c, &rc).await.expect("push");
        while b.get(n).is_err() {
            sync_once(&mut b, &rb).await.expect("pull");
        }
        lat.push(t.elapsed());
        if !upload.is_finished() {
            during += 1;
        }
        if upload.is_finished() && i >= 4 {
            break;
        }
    }
    let second = upload.await.expect("upload task");
    let s = Stats::of(&lat[..during.max(1)]);
    println!(
        "note edit on C reaching B while A uploads {mb} MiB ({during} edits during the upload, which took {} ms): \
         p50 {} ms, max {} ms",
        second.as_millis(),
        ms(s.p50),
        ms(s.max)
    );
}
