//! The background engine on loopback against a real in-process server:
//! flushing 1,000 edits made offline when the network comes back, the time
//! from a save on one device to the note on another (debounce, push, poke,
//! pull), and what an idle engine costs.
//!
//! The server runs on its own runtime (threads named `server`), the
//! engines on another (`eng-rt`), so the idle figures count the engine's
//! threads only.
//!
//! `cargo bench -p outpost-core --bench engine`
//! (`OUTPOST_BENCH_EDITS`, `OUTPOST_BENCH_ROUNDS`, `OUTPOST_BENCH_IDLE_SECS`
//! shrink or grow it.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use outpost_core::account;
use outpost_core::engine::{Engine, EngineOptions, Phase, SyncStatus};
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::net::NetMode;
use outpost_core::policy::{AppState, Power, Situation};
use outpost_core::remote::Remote;
use outpost_core::SharedVault;
use outpost_core::{NotePatch, Vault};
use tokio::runtime::Runtime;

fn main() {
    print_context();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("eng-rt")
        .enable_all()
        .build()
        .expect("engine runtime");
    let edits = env_usize("OUTPOST_BENCH_EDITS", 1000);
    let rounds = env_usize("OUTPOST_BENCH_ROUNDS", 50);
    let idle_secs = env_usize("OUTPOST_BENCH_IDLE_SECS", 30);

    let (url, _stop, _server_dir) = start_server(&server_rt);
    let a = rt.block_on(device(&url, "alice", None));
    let b = rt.block_on(device(&url, "alice", Some(&a)));

    reconnect_flush(&rt, &a, &b, edits);
    save_to_other_device(&rt, &a, &b, rounds);
    idle(&rt, &url, idle_secs, "online, nothing to do", Situation::default());
    // What the sync policy saves a phone in a pocket: no poke stream, a
    // 15-minute timer.
    let pocket = Situation { power: Power::Battery, app: AppState::Background, ..Situation::default() };
    idle(&rt, &url, idle_secs, "in the background on battery, nothing to do", pocket);
}

struct Device {
    vault: SharedVault,
    remote: Remote,
    dir: tempfile::TempDir,
}

fn start_server(rt: &Runtime) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let dir = bench_dir("engine-server");
    let db = format!("sqlite://{}", dir.path().join("server.db").display());
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(async move {
        outpost_server::serve(listener, outpost_server::Config::new(db), async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    (url, stop, dir)
}

/// The first device registers; `join` makes a second device of its account.
async fn device(url: &str, user: &str, join: Option<&Device>) -> Device {
    let dir = bench_dir("engine-device");
    let remote = Remote::new(url).expect("remote");
    let (vault, remote) = match join {
        Some(_) => {
            let (key, session) =
                account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
            let mut v = Vault::open_for_account(dir.path(), &MemoryStore::new(), key).expect("open");
            account::remember(&mut v, &remote, user, &session).expect("remember");
            (v, remote.with_token(session.token))
        }
        None => {
            let mut v = open_vault(dir.path());
            account::register_with(&mut v, &remote, user, "pw", KdfParams::insecure_for_tests())
                .await
                .expect("register");
            let token = v.session_token().expect("token").expect("session");
            (v, remote.with_token(token))
        }
    };
    Device { vault: SharedVault::new(vault), remote, dir }
}

fn start(rt: &Runtime, d: &Device, opts: EngineOptions) -> Engine {
    let _guard = rt.enter();
    Engine::start(d.vault.clone(), d.remote.clone(), d.dir.path(), opts).expect("engine")
}

/// Waits (on the engine runtime) for a status matching `pred`.
fn wait_status(rt: &Runtime, e: &Engine, what: &str, pred: impl Fn(&SyncStatus) -> bool) {
    let mut rx = e.status();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(600), rx.wait_for(|s| pred(s)))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("engine running");
    });
}

/// Polls `d` until note `id` has `body`; the vault is taken only briefly.
fn wait_body(d: &Device, id: uuid::Uuid, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if d.vault.lock().get(id).is_ok_and(|n| n.body == body) {
            return;
        }
        assert!(Instant::now() < deadline, "the other device never got {id}");
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn reconnect_flush(rt: &Runtime, a: &Device, b: &Device, edits: usize) {
    let opts = EngineOptions { interval: Duration::from_secs(3600), ..EngineOptions::default() };
    let (ea, eb) = (start(rt, a, opts.clone()), start(rt, b, opts));
    seed_notes(&mut a.vault.lock(), edits, 2048);
    let t = Instant::now();
    ea.local_change();
    let last = a.vault.lock().list().expect("list").iter().map(|s| s.id).max().expect("a note");
    wait_status(rt, &ea, "the first upload", |s| s.pending == 0 && s.phase == Phase::Idle);
    let up = t.elapsed();
    let body = a.vault.lock().get(last).expect("note").body;
    wait_body(b, last, &body);
    println!("\n## Engine: reconnect flush ({edits} notes of ~2 KB)\n");
    println!("first upload of {edits} new notes, from local_change() to pending = 0: {} ms", up.as_millis());
    println!("  ... and until the other device has the last of them: {} ms", t.elapsed().as_millis());

    let mut flush = Vec::new();
    let mut arrive = Vec::new();
    for round in 0..3 {
        ea.net().set(NetMode::Offline);
        wait_status(rt, &ea, "switched off", |s| s.phase == Phase::Idle);
        let ids: Vec<_> = a.vault.lock().list().expect("list").iter().map(|s| s.id).collect();
        {
            let mut v = a.vault.lock();
            for id in &ids {
                let patch = NotePatch { body: Some(format!("edited offline, round {round}")), ..Default::default() };
                v.edit(*id, patch).expect("edit");
            }
        }
        ea.local_change();
        wait_status(rt, &ea, "the edits counted", |s| s.pending as usize == ids.len());
        let t = Instant::now();
        ea.net().set(NetMode::Online);
        wait_status(rt, &ea, "the flush", |s| s.pending == 0 && s.phase == Phase::Idle);
        flush.push(t.elapsed());
        wait_body(b, last, &format!("edited offline, round {round}"));
        arrive.push(t.elapsed());
    }
    header(&format!("switch online with {edits} edits queued, 3 rounds"));
    row("until pending = 0 on the editing device", &Stats::of(&flush));
    row("until the other device has the last edit", &Stats::of(&arrive));
    rt.block_on(async {
        ea.shutdown().await;
        eb.shutdown().await;
    });
}

fn save_to_other_device(rt: &Runtime, a: &Device, b: &Device, rounds: usize) {
    let id = a.vault.lock().list().expect("list")[0].id;
    for (label, debounce) in [
        ("save on A -> note on B, debounce 300 ms (default)", Duration::from_millis(300)),
        ("save on A -> note on B, debounce 0 (the floor)", Duration::ZERO),
    ] {
        let opts = EngineOptions { debounce, interval: Duration::from_secs(3600), ..EngineOptions::default() };
        let (ea, eb) = (start(rt, a, opts.clone()), start(rt, b, opts));
        for e in [&ea, &eb] {
            wait_status(rt, e, "idle", |s| s.phase == Phase::Idle && s.pending == 0);
        }
        let mut took = Vec::new();
        for i in 0..rounds {
            let body = format!("{label}: edit {i}");
            let t = Instant::now();
            a.vault.lock().edit(id, NotePatch { body: Some(body.clone()), ..Default::default() }).expect("edit");
            ea.local_change();
            wait_body(b, id, &body);
            took.push(t.elapsed());
            // Let both settle so rounds do not overlap.
            wait_status(rt, &ea, "settled", |s| s.phase == Phase::Idle && s.pending == 0);
        }
        if debounce > Duration::ZERO {
            header(&format!("save to the other device, both engines online, {rounds} edits"));
        }
        row(label, &Stats::of(&took));
        rt.block_on(async {
            ea.shutdown().await;
            eb.shutdown().await;
        });
    }
}

/// CPU ticks (utime + stime) of each of this process's threads whose name
/// is one of `names`, by thread id.
fn cpu_ticks(names: &[&str]) -> std::collections::HashMap<String, u64> {
    let mut ticks = std::collections::HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return ticks };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        // pid (comm) state ...: the name may hold spaces, so split at ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = &stat[open + 1..close];
        if !names.contains(&comm) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; 12 and 13 here.
        let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        ticks.insert(task.file_name().to_string_lossy().into_owned(), tick(11) + tick(12));
    }
    ticks
}

/// The ticks spent between two readings: by the threads alive at the
/// second (a thread that started meanwhile counts whole), and how many of
/// the first had ended (a runtime's idle worker does: their time after the
/// first reading is lost, so the figure is a floor).
fn ticks_between(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> (u64, usize) {
    let spent = after.iter().map(|(tid, t)| t.saturating_sub(before.get(tid).copied().unwrap_or(0))).sum();
    let ended = before.keys().filter(|tid| !after.contains_key(*tid)).count();
    (spent, ended)
}

fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn idle(rt: &Runtime, url: &str, secs: usize, what: &str, situation: Situation) {
    let user = format!("idle-{}", what.len());
    let d = rt.block_on(device(url, &user, None));
    // A store with something in it, so the server's sequence is not 0
    // (a poke with 0 means "unknown: pull anyway").
    seed_notes(&mut d.vault.lock(), 10, 2048);
    let e = start(rt, &d, EngineOptions { situation, ..EngineOptions::default() });
    wait_status(rt, &e, "idle", |s| s.phase == Phase::Idle && s.pending == 0 && s.last_success_ms.is_some());
    std::thread::sleep(Duration::from_secs(2));
    let threads = ["eng-rt", "outpost-net-con", "notify-rs inoti"];
    let requests0 = rt.block_on(server_responses(url));
    let (ticks0, stats0, t) = (cpu_ticks(&threads), e.stats(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs as u64));
    let (ticks1, stats1, took) = (cpu_ticks(&threads), e.stats(), t.elapsed());
    // Both devices of the other benches are shut down: every request the
    // server answered meanwhile came from this engine.
    // The first metrics request is counted too, after it answered.
    let requests = rt.block_on(server_responses(url)) - requests0 - 1;
    let hz = clock_ticks_per_second();
    let (ticks, ended) = ticks_between(&ticks0, &ticks1);
    let cpu_ms = ticks * 1000 / hz;
    let per_min = |n: u64| n as f64 * 60.0 / took.as_secs_f64();
    println!("\n## Idle engine ({what}) over {:.0} s\n", took.as_secs_f64());
    let ended =
        if ended > 0 { format!("; {ended} threads ended meanwhile, their time not counted") } else { String::new() };
    println!(
        "CPU time of the engine's threads: {cpu_ms} ms ({:.2} ms per minute; clock tick {} ms{ended})",
        cpu_ms as f64 * 60.0 / took.as_secs_f64(),
        1000 / hz
    );
    println!(
        "engine wake-ups: {} ({:.1} per minute); sync passes: {} ({:.1} per minute)",
        stats1.wakeups - stats0.wakeups,
        per_min(stats1.wakeups - stats0.wakeups),
        stats1.passes - stats0.passes,
        per_min(stats1.passes - stats0.passes)
    );
    println!(
        "requests the server answered: {requests} ({:.1} per minute: the poke stream reopening, the timer's passes)",
        per_min(requests)
    );
    rt.block_on(e.shutdown());
}

/// HTTP responses the server has sent so far, from its metrics.
async fn server_responses(url: &str) -> u64 {
    let text = reqwest::get(format!("{url}/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with("outpost_http_responses_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
