//! Sync over loopback against a real in-process server: initial sync of a
//! fresh device, one changed note, a queued backlog, and many devices at
//! once. SQLite always; PostgreSQL too when `OUTPOST_TEST_PG_URL` is set
//! (`scripts/pg-test-env.sh` prints one).
//!
//! `cargo bench -p outpost-core --bench sync`
//! `OUTPOST_BENCH_CORPUS=real cargo bench -p outpost-core --bench sync`:
//! notes of real prose (`outpost-corpus`; `scripts/corpus-deps.sh`) instead
//! of the generated 2 KB ones.
//! `OUTPOST_BENCH_ONLY=devices`: only the many-devices phase (to profile
//! the server under load).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use outpost_core::account;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::{sync_once, WithoutSnapshots};
use outpost_core::{NotePatch, Vault};
use outpost_protocol::v1::{Bytes, Op};
use outpost_protocol::Hlc;

fn main() {
    print_context();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let notes = env_usize("OUTPOST_BENCH_NOTES", 10_000);
    let devices = env_usize("OUTPOST_BENCH_DEVICES", 100);
    let mut backends = vec![("sqlite", None)];
    if let Ok(url) = std::env::var("OUTPOST_TEST_PG_URL") {
        backends.push(("postgres", Some(url)));
    } else {
        println!("\nPostgreSQL: SKIPPED (OUTPOST_TEST_PG_URL not set)");
    }
    for (name, pg) in backends {
        rt.block_on(bench_backend(name, pg, notes, devices));
    }
}

struct Server {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start(pg: Option<String>) -> Server {
    let dir = bench_dir("sync-server");
    let db = match pg {
        Some(url) => {
            reset_pg(&url).await;
            url
        }
        None => format!("sqlite://{}", dir.path().join("server.db").display()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let mut config = outpost_server::Config::new(db);
    // 100 devices register from one address within a second.
    config.register_attempts = 10_000;
    config.login_attempts = 10_000;
    tokio::spawn(async move {
        outpost_server::serve(listener, config, async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    Server { url, _stop: stop, _dir: dir }
}

/// Empty the bench's PostgreSQL database so runs do not pile up.
async fn reset_pg(url: &str) {
    use sqlx::Executor as _;
    let pool = sqlx::PgPool::connect(url).await.expect("connect to PostgreSQL");
    pool.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;").await.expect("reset schema");
}

async fn device(url: &str, user: &str, join: bool) -> (Vault, Remote, tempfile::TempDir) {
    let dir = bench_dir("sync-device");
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

fn payload_bytes(v: &Vault) -> u64 {
    v.connection()
        .query_row("SELECT coalesce(sum(length(title) + length(meta) + length(body)), 0) FROM notes", [], |r| r.get(0))
        .expect("sum")
}

async fn bench_backend(name: &str, pg: Option<String>, notes: usize, devices: usize) {
    let server = start(pg).await;
    println!("\n## Sync on loopback, {name} backend\n");
    // For profiling the server under load: the many-devices phase alone.
    if std::env::var("OUTPOST_BENCH_ONLY").is_ok_and(|v| v == "devices") {
        many_devices(&server.url, devices).await;
        return;
    }
    let (mut a, ra, _da) = device(&server.url, "alice", false).await;
    let real = std::env::var("OUTPOST_BENCH_CORPUS").is_ok_and(|v| v == "real");
    if real {
        let corpus = outpost_corpus::load(1).expect("the real-prose corpus (scripts/corpus-deps.sh)");
        let drafts = outpost_corpus::scaled(&corpus, notes);
        println!("notes: {} (real prose, outpost-corpus)", outpost_corpus::stats(&drafts));
        for batch in drafts.chunks(500) {
            a.batch(|w| {
                for n in batch {
                    w.create(outpost_core::NoteDraft {
                        title: n.title.clone(),
                        body: n.body.clone(),
                        tags: n.tags.clone(),
                        pinned: false,
                    })?;
                }
                Ok(())
            })
            .expect("create the corpus's notes");
        }
    } else {
        println!("notes: {notes} generated notes of about 2 KB (seed 1)");
        seed_notes(&mut a, notes, 2048);
    }
    // The first device's first pass: its notes go up, then (a full pass
    // with the cursor far past any snapshot) it makes and uploads one.
    let t = Instant::now();
    let up = sync_once(&mut a, &ra).await.expect("first push");
    println!(
        "push of {notes} new notes from the first device: {} ms, {} B sent (snapshot uploaded: {})",
        t.elapsed().as_millis(),
        up.bytes_sent,
        up.snapshot_uploaded
    );

    // Initial sync of a fresh device pulling note by note (no snapshot).
    let (mut c, rc, _dc) = device(&server.url, "alice", true).await;
    let t = Instant::now();
    let r = sync_once(&mut c, &WithoutSnapshots(&rc)).await.expect("initial sync without a snapshot");
    let took = t.elapsed();
    assert_eq!((r.pulled, r.from_snapshot), (notes, false));
    println!(
        "initial sync of {notes} notes to a fresh device, note by note: {:.3} s; {} B received, {} B sent",
        took.as_secs_f64(),
        r.bytes_received,
        r.bytes_sent
    );
    drop(c);

    // Initial sync of a fresh device.
    let (mut b, rb, _db) = device(&server.url, "alice", true).await;
    let t = Instant::now();
    let r = sync_once(&mut b, &rb).await.expect("initial sync");
    let took = t.elapsed();
    assert_eq!(r.pulled, notes);
    println!("(the next device started from the snapshot: {}; {} B received)", r.from_snapshot, r.bytes_received);
    let payload = payload_bytes(&b);
    // (from a snapshot the payloads are sealed here, so this compares the
    // wire with what the device stores.)
    let wire = r.bytes_sent + r.bytes_received;
    let sample = b.list().expect("list")[notes / 2].id;
    b.get(sample).expect("a pulled note decrypts");
    println!(
        "initial sync of {notes} notes to a fresh device: {:.3} s; {} B on the wire for {} B of encrypted payload ({:+.1}%)",
        took.as_secs_f64(),
        wire,
        payload,
        (wire as f64 / payload as f64 - 1.0) * 100.0
    );

    // Where the time goes: the same pages pulled again without applying
    // them (server, transport and decoding only).
    let t = Instant::now();
    let (mut cursor, mut pages) = (0, 0);
    loop {
        let page = rb.pull(cursor, outpost_protocol::v1::MAX_PULL_LIMIT).await.expect("pull");
        pages += 1;
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    println!(
        "  of which pulling the {pages} pages alone (server + loopback + decoding): {:.3} s; applying them locally: the rest",
        t.elapsed().as_secs_f64()
    );

    // One changed note among them.
    let id = a.list().expect("list")[0].id;
    let mut push_t = Vec::new();
    let mut pull_t = Vec::new();
    let (mut push_b, mut pull_b) = (0, 0);
    for i in 0..20 {
        a.edit(
            id,
            NotePatch { body: Some(format!("{} changed {i}", "a line of text\n".repeat(120))), ..Default::default() },
        )
        .expect("edit");
        let t = Instant::now();
        let r = sync_once(&mut a, &ra).await.expect("push one");
        push_t.push(t.elapsed());
        push_b = r.bytes_sent + r.bytes_received;
        let t = Instant::now();
        let r = sync_once(&mut b, &rb).await.expect("pull one");
        pull_t.push(t.elapsed());
        pull_b = r.bytes_sent + r.bytes_received;
        assert_eq!(r.pulled, 1);
    }
    header("one changed note among the store, 20 rounds");
    row("sync pass on the editing device (push + empty pull)", &Stats::of(&push_t));
    row("sync pass on the other device (empty push + pull)", &Stats::of(&pull_t));
    println!("\nbytes on the wire per pass: editing device {push_b} B, other device {pull_b} B (requests and answers, headers included)");

    // A backlog of 1,000 queued edits.
    let ids: Vec<_> = a.list().expect("list").into_iter().take(1000).map(|s| s.id).collect();
    for (i, id) in ids.iter().enumerate() {
        a.edit(*id, NotePatch { title: Some(format!("Edited offline {i}")), ..Default::default() }).expect("edit");
    }
    let t = Instant::now();
    let r = sync_once(&mut a, &ra).await.expect("push backlog");
    println!("\npush of {} queued edits: {} ms ({} B sent)", r.pushed, t.elapsed().as_millis(), r.bytes_sent);

    many_devices(&server.url, devices).await;
}

/// `devices` devices (each its own account), each pushing a new ~2 KB note
/// and pulling, 20 rounds, all at once.
async fn many_devices(url: &str, devices: usize) {
    const ROUNDS: usize = 20;
    let mut remotes = Vec::new();
    for d in 0..devices {
        let (v, r, dir) = device(url, &format!("load{d}"), false).await;
        drop(v);
        remotes.push((r, dir));
    }
    let cpu_before = process_cpu();
    let started = Instant::now();
    let latencies = Arc::new(std::sync::Mutex::new((Vec::<Duration>::new(), Vec::<Duration>::new())));
    let mut tasks = Vec::new();
    for (d, (r, _)) in remotes.iter().enumerate() {
        let r = r.clone();
        let lat = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mut cursor = 0;
            let (mut pushes, mut pulls) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
            for i in 0..ROUNDS {
                let op = Op {
                    op_id: uuid::Uuid::now_v7(),
                    note_id: uuid::Uuid::now_v7(),
                    base_rev: 0,
                    hlc: Hlc::new(1_800_000_000_000 + i as u64, 0, d as u64),
                    deleted: false,
                    payload: Bytes(vec![(d % 251) as u8; 2048]),
                };
                let t = Instant::now();
                r.push(vec![op]).await.expect("push");
                pushes.push(t.elapsed());
                let t = Instant::now();
                let page = r.pull(cursor, 500).await.expect("pull");
                pulls.push(t.elapsed());
                cursor = page.next_cursor;
            }
            let mut lat = lat.lock().expect("lock");
            lat.0.extend(pushes);
            lat.1.extend(pulls);
        }));
    }
    for t in tasks {
        t.await.expect("device task");
    }
    let elapsed = started.elapsed();
    let (pushes, pulls) = latencies.lock().expect("lock").clone();
    let lat: Vec<Duration> = pushes.iter().chain(&pulls).copied().collect();
    header(&format!("{devices} devices at once, {ROUNDS} rounds of push one note + pull"));
    row("request latency (push or pull)", &Stats::of(&lat));
    row("  of which pushes", &Stats::of(&pushes));
    row("  of which pulls", &Stats::of(&pulls));
    println!(
        "\n{} requests in {:.2} s: {:.0} requests/s, {:.0} pushed ops/s",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        (devices * ROUNDS) as f64 / elapsed.as_secs_f64()
    );
    // CPU per request of this process (server and clients, not a
    // PostgreSQL server), which load from other processes does not skew
    // as much as the times above.
    if let (Some(a), Some(b)) = (cpu_before, process_cpu()) {
        let cpu = b.saturating_sub(a);
        println!(
            "process CPU: {:.2} s, {:.0} µs a request",
            cpu.as_secs_f64(),
            cpu.as_micros() as f64 / lat.len() as f64
        );
    }
}

/// User and system CPU time of this process so far (Linux; `None`
/// elsewhere): fields 14 and 15 of `/proc/self/stat`, in ticks of 10 ms.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
