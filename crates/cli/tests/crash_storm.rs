//! Invariants 1, 2 and 4 together, across processes: a crash storm.
//!
//! A real `outpost serve` and two devices of one account, each an `outpost
//! debug write-loop --sync` process that saves notes while its background
//! engine pushes and pulls. Besides creating and editing notes, it moves
//! notes to the trash and back and restores a note's oldest version (a new
//! version with the note's first content), so history and trash run
//! through the kills too. At random moments one of the three is killed
//! with SIGKILL: a device, which is then checked and started again on the
//! same store, or the server, which is started again on the same data
//! directory and port. After every kill:
//! - the killed store passes `PRAGMA integrity_check`;
//! - a killed device holds every save it reported, each note with exactly
//!   the content of its last reported save (a pull must never roll one
//!   back); the one save in flight at the kill is there whole or not at
//!   all, and if it is there it must stay.
//!
//! Some kills are rotations of the account's data key instead: a device's
//! write-loop is stopped, `outpost account rotate-key` runs on its store
//! and is killed at a random moment (or left to finish), and the device is
//! checked and started again. A rotation cut anywhere (before the server
//! took the key, after, in the middle of re-encrypting) must leave every
//! reported save readable; the other device, which lacks the new key, sets
//! the changes under it aside, and takes the key in when it starts again.
//!
//! Kill points follow the devices' reported progress, not a clock. At the
//! end of the storm each device must hold notes of the other: sync ran
//! during the storm, not only in the final rounds.
//!
//! After the storm both devices sync until quiet and must hold the same
//! notes: every reported save with its last content, nothing else (no
//! duplicates), no failed change and no conflict (each note has one writer),
//! nothing set aside, and every note under the account's current key.
//!
//! `OUTPOST_STORM_KILLS` sets the number of kills (default 200),
//! `OUTPOST_STORM_SEED` replays a storm's kill schedule (the seed is
//! printed). The schedule, not the interleaving: the processes still race.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{outpost, Lines, PASS};
use outpost_core::keys::{KdfParams, KdfPolicy, PassphraseStore};
use outpost_core::remote::Remote;
use outpost_core::Vault;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const USER: &str = "storm";

/// Rotations of the data key in one storm, at most.
const MAX_ROTATIONS: u64 = 40;

/// Only a hung process ever reaches it.
const PATIENCE: Duration = Duration::from_secs(120);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The store's key is wrapped with cheap Argon2id parameters, so a device
/// restarts in milliseconds and the kills land in sync, not in key
/// derivation (`crash.rs` covers a kill during start-up).
fn keys() -> PassphraseStore {
    PassphraseStore::with_params(PASS, KdfParams::insecure_for_tests).expect("passphrase store")
}

/// What a note must hold: its last reported save.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    title: String,
    body: String,
}

/// The write-loop's notes, rebuilt from its output (see
/// `crates/cli/src/commands/debug.rs`).
fn created(marker: &str, n: u64) -> Content {
    Content {
        title: format!("{marker}{n} title"),
        body: format!("{marker}{n} body version {n}\n{}", "lorem ipsum dolor ".repeat(50)),
    }
}

fn edited(marker: &str, n: u64) -> String {
    format!("{marker}{n} edited body version {n}\n")
}

/// What step `n` of the write-loop does (mirrors `step_kind` in
/// `crates/cli/src/commands/debug.rs`): create, edit, trash, untrash,
/// restore the oldest version.
fn step_kind(n: u64, notes: usize, trashed: usize) -> &'static str {
    match (n % 16, notes, trashed) {
        (_, 0, _) => "saved",
        (3 | 7 | 11 | 15, _, _) => "edited",
        (5, _, _) => "trashed",
        (9, _, t) if t > 0 => "untrashed",
        (13, _, _) => "restored",
        _ => "saved",
    }
}

struct Device {
    name: &'static str,
    dir: tempfile::TempDir,
    child: Option<(Child, Lines, String)>,
    lives: u64,
    /// Every save this device reported, by note: the last one wins. Also
    /// a save that committed just before its kill, unreported.
    expected: HashMap<Uuid, Content>,
    reported: u64,
    /// Saves that committed but were killed before they were reported.
    unreported: u64,
    /// Each note as it was created: what restoring its oldest version
    /// brings back (every save is a version here: no coalescing).
    first: HashMap<Uuid, Content>,
}

impl Device {
    fn log(&self) -> PathBuf {
        self.dir.path().join("device.log")
    }

    fn spawn(&mut self) {
        let marker = format!("{}{}m", self.name, self.lives);
        self.lives += 1;
        let log = File::options().create(true).append(true).open(self.log()).expect("device log");
        let mut child = outpost(self.dir.path())
            .args(["--log", "info", "debug", "write-loop", "--sync", "--pause-ms", "20", "--marker", &marker])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn write-loop");
        let lines = Lines::read(child.stdout.take().expect("stdout"));
        self.child = Some((child, lines, marker));
    }

    /// Steps (saves and edits) the running life has reported so far.
    fn steps(&self) -> usize {
        self.child.as_ref().map_or(0, |(_, lines, _)| lines.snapshot().len())
    }

    /// Waits until the running life has reported `n` steps in all.
    fn wait_for_steps(&self, n: usize, when: &str) {
        let (_, lines, _) = self.child.as_ref().expect("a running device");
        let deadline = Instant::now() + PATIENCE;
        if !lines.wait_for(n, deadline, &format!("{when}: device {}", self.name)) {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            panic!("{when}: device {} stopped on its own before {n} steps:\n{log}", self.name);
        }
    }

    /// SIGKILL, then take in what the process reported before it died.
    fn kill(&mut self) {
        let (mut child, lines, marker) = self.child.take().expect("a running device");
        if let Some(status) = child.try_wait().expect("try_wait") {
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            panic!("device {} died on its own ({status}) before the kill:\n{log}", self.name);
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        // This life's creates in order: the write-loop picks the note of an
        // edit from them.
        let mut ids = Vec::new();
        let mut trashed = Vec::new();
        let mut next = 0;
        for line in lines.finish() {
            let mut parts = line.split_whitespace();
            let (Some(kind), Some(id), Some(n)) = (parts.next(), parts.next(), parts.next()) else { continue };
            let id: Uuid = id.parse().expect("note id");
            let n: u64 = n.parse().expect("step");
            assert_eq!(n, next, "device {}: steps are reported in order", self.name);
            next = n + 1;
            self.reported += 1;
            assert_eq!(kind, step_kind(n, ids.len(), trashed.len()), "device {}: step {n}", self.name);
            match kind {
                "saved" => {
                    self.expected.insert(id, created(&marker, n));
                    self.first.insert(id, created(&marker, n));
                    ids.push(id);
                }
                "edited" => {
                    let note = self.expected.get_mut(&id).expect("an edit of a note this life saved");
                    note.body = edited(&marker, n);
                }
                // The trash changes no content (the note stays readable).
                "trashed" => {
                    if !trashed.contains(&id) {
                        trashed.push(id);
                    }
                }
                "untrashed" => assert_eq!(trashed.pop(), Some(id), "device {}: step {n}", self.name),
                "restored" => {
                    let first = self.first.get(&id).expect("a note this life saved").clone();
                    self.expected.insert(id, first);
                }
                other => panic!("unexpected line {other:?}"),
            }
        }
        self.take_in_flight(&marker, next, &ids, trashed.len());
    }

    /// The step after the last reported one was in flight at the kill: its
    /// save may have committed without being reported. If it did, it is a
    /// save like any other and must survive from now on; if not, nothing of
    /// it may be there. Whatever else the store holds is checked exactly.
    fn take_in_flight(&mut self, marker: &str, n: u64, ids: &[Uuid], trashed: usize) {
        let vault = self.open();
        let kind = step_kind(n, ids.len(), trashed);
        if kind == "trashed" || kind == "untrashed" {
            return;
        }
        if kind == "restored" {
            let id = ids[(n as usize / 4) % ids.len()];
            let first = self.first.get(&id).expect("a note this life saved").clone();
            let now = vault.get(id).map(|note| Content { title: note.title, body: note.body });
            if now.as_ref().is_ok_and(|c| *c == first) && self.expected.get(&id) != Some(&first) {
                self.expected.insert(id, first);
                self.unreported += 1;
            }
        } else if kind == "edited" {
            let id = ids[(n as usize / 4) % ids.len()];
            let body = edited(marker, n);
            if vault.get(id).is_ok_and(|note| note.body == body) {
                self.expected.get_mut(&id).expect("a note this life saved").body = body;
                self.unreported += 1;
            }
        } else {
            let want = created(marker, n);
            let found: Vec<Uuid> =
                vault.list().expect("list").into_iter().filter(|s| s.title == want.title).map(|s| s.id).collect();
            assert!(found.len() <= 1, "device {}: the in-flight save is there {} times", self.name, found.len());
            if let Some(id) = found.first() {
                self.expected.insert(*id, want);
                self.unreported += 1;
            }
        }
    }

    fn open(&self) -> Vault {
        Vault::open(self.dir.path(), &keys())
            .unwrap_or_else(|e| panic!("device {}: store does not open: {e}", self.name))
    }

    /// The store is sound and holds every save this device reported.
    fn check(&self, when: &str) {
        let vault = self.open();
        integrity_ok(vault.connection(), &format!("{when}: device {}", self.name));
        for (id, want) in &self.expected {
            let note =
                vault.get(*id).unwrap_or_else(|e| panic!("{when}: device {}: reported save {id} lost: {e}", self.name));
            let got = Content { title: note.title, body: note.body };
            assert_eq!(&got, want, "{when}: device {}: note {id} is not its last reported save", self.name);
        }
    }

    /// How many of `other`'s saved notes this store holds.
    fn holds_of(&self, other: &Device) -> usize {
        let vault = self.open();
        other.expected.keys().filter(|id| vault.get(**id).is_ok()).count()
    }

    /// Every note this store holds, tombstones included.
    fn notes(&self) -> BTreeMap<Uuid, (Content, bool)> {
        let vault = self.open();
        vault
            .all_ids()
            .expect("ids")
            .into_iter()
            .map(|(id, deleted)| {
                let n = vault.get(id).unwrap_or_else(|e| panic!("device {}: note {id} unreadable: {e}", self.name));
                (id, (Content { title: n.title, body: n.body }, deleted))
            })
            .collect()
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if let Some((mut child, _, _)) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn integrity_ok(conn: &rusqlite::Connection, what: &str) {
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(ok, "ok", "{what}: integrity_check");
}

/// `outpost serve` on a fixed address (the devices know only that one),
/// on the same data directory every time.
struct Server {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    child: Option<Child>,
}

impl Server {
    fn start(&mut self) {
        let log = File::options().create(true).append(true).open(self.dir.path().join("server.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(["--log", "info", "serve", "--listen", &self.addr.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn outpost serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "outpost serve did not come back on {}", self.addr);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("a running server");
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the server died on its own ({status}) before the kill");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    fn check(&self, when: &str) {
        let db = self.dir.path().join("server.db");
        let conn = rusqlite::Connection::open(&db).expect("open server.db");
        integrity_ok(&conn, &format!("{when}: server"));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `outpost account rotate-key` on `d`'s store (its write-loop stopped),
/// killed after `kill_after`, or left to finish when that is `None`.
/// Returns whether it finished and succeeded.
fn rotate(d: &Device, kill_after: Option<Duration>) -> bool {
    let mut child = outpost(d.dir.path())
        .args(["account", "rotate-key", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rotate-key");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = child.wait_with_output().expect("rotate-key output");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "device {}: rotate-key panicked: {stderr}", d.name);
            // 8: the server was down (killed just before); nothing else.
            assert!(
                status.success() || status.code() == Some(8),
                "device {}: rotate-key failed ({status}): {stderr}",
                d.name
            );
            return status.success();
        }
        if kill_after.is_some_and(|k| started.elapsed() >= k) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            return false;
        }
        assert!(started.elapsed() < PATIENCE, "device {}: rotate-key hangs", d.name);
        // Polls the child; the kill moment is the schedule's, not a wait
        // for a condition.
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Both stores made here, with the cheap key parameters: A registers, B
/// logs in to the same account.
fn set_up_devices(url: &str) -> (Device, Device) {
    let new = |name| Device {
        name,
        dir: tempfile::tempdir().expect("tempdir"),
        child: None,
        lives: 0,
        expected: HashMap::new(),
        reported: 0,
        unreported: 0,
        first: HashMap::new(),
    };
    let (a, b) = (new("a"), new("b"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let remote = Remote::new(url).expect("remote");
    rt.block_on(async {
        let mut va = Vault::open(a.dir.path(), &keys()).expect("store a");
        // The account's parameters are the real ones (its stores' are
        // cheap): `outpost account rotate-key` and `outpost sync` refuse
        // cheaper ones, as any device would.
        outpost_core::account::register_with(&mut va, &remote, USER, PASS, KdfParams::recommended())
            .await
            .expect("register");
        let (key, session) =
            outpost_core::account::log_in_with(&remote, USER, PASS, &KdfPolicy::default()).await.expect("log in");
        let mut vb = Vault::open_for_account(b.dir.path(), &keys(), key).expect("store b");
        outpost_core::account::remember(&mut vb, &remote, USER, &session).expect("remember");
        // Every save a version of its own, so restoring the oldest one
        // brings back the note as created.
        let every_save = outpost_core::history::HistorySettings { coalesce_minutes: 0, ..Default::default() };
        va.set_history_settings(&every_save).expect("history settings");
        vb.set_history_settings(&every_save).expect("history settings");
    });
    (a, b)
}

/// `outpost sync --json` once; returns (work done, pending after).
/// What differs between the devices' notes, note by note, with what each
/// device says of its sync state: enough to tell a lost change from one
/// set aside or a conflict left open.
fn differences(
    on_a: &BTreeMap<Uuid, (Content, bool)>,
    on_b: &BTreeMap<Uuid, (Content, bool)>,
    a: &Device,
    b: &Device,
) -> String {
    let show = |n: Option<&(Content, bool)>| match n {
        None => "absent".to_owned(),
        Some((c, deleted)) => {
            format!("deleted {deleted}, title {:?}, body {} B {:?}", c.title, c.body.len(), c.body.get(..40))
        }
    };
    let mut out = String::new();
    for id in on_a.keys().chain(on_b.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (x, y) = (on_a.get(id), on_b.get(id));
        if x != y {
            out += &format!("note {id}:\n  a: {}\n  b: {}\n", show(x), show(y));
        }
    }
    for d in [a, b] {
        let status = outpost(d.dir.path()).args(["status", "--json"]).output().expect("run outpost status");
        out += &format!("device {} status: {}\n", d.name, String::from_utf8_lossy(&status.stdout).trim());
        let vault = d.open();
        let aside = vault.quarantined().expect("quarantine");
        out += &format!("device {} set aside: {aside:?}\n", d.name);
    }
    out
}

fn sync(d: &Device) -> (u64, u64) {
    let out = outpost(d.dir.path()).args(["sync", "--json"]).output().expect("run outpost sync");
    assert!(out.status.success(), "device {}: sync failed: {}", d.name, String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sync json");
    let r = &v["report"];
    let work = ["pushed", "duplicates", "pulled", "merged", "push_conflicts", "pull_conflicts"]
        .iter()
        .map(|k| r[k].as_u64().expect("a count"))
        .sum();
    (work, v["status"]["pending"].as_u64().expect("pending"))
}

#[test]
fn a_crash_storm_loses_no_save_and_the_devices_converge() {
    let kills = env_u64("OUTPOST_STORM_KILLS").unwrap_or(200);
    let seed = env_u64("OUTPOST_STORM_SEED").unwrap_or_else(rand::random);
    eprintln!("crash storm: {kills} kills, seed {seed} (OUTPOST_STORM_SEED={seed} replays the kill schedule)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut server = Server { dir: tempfile::tempdir().expect("tempdir"), addr, child: None };
    server.start();
    let (mut a, mut b) = set_up_devices(&format!("http://{addr}"));
    a.spawn();
    b.spawn();

    let mut server_kills = 0;
    let (mut rotations, mut rotations_done) = (0u64, 0u64);
    for k in 0..kills {
        let when = format!("kill {k} (seed {seed})");
        // Kill points follow progress, not a clock: the victim is killed
        // once a device has reported 0 to 19 more saves (20 ms apart), so
        // anywhere from a device's start-up to deep into its loop, and a
        // slow machine shifts nothing.
        let mut victim = rng.gen_range(0..6);
        let more = rng.gen_range(0..20);
        // The account keeps every key (at most 64): a long storm rotates
        // this often, then kills devices instead.
        if victim == 5 && rotations >= MAX_ROTATIONS {
            victim = more % 4;
        }
        // Then a random offset inside one step (a save, then the 20 ms
        // pause), so kills land inside saves as well as between them. It
        // only places the kill; nothing waits on it.
        let offset = Duration::from_micros(rng.gen_range(0..25_000));
        match victim {
            0 | 1 => {
                a.wait_for_steps(a.steps() + more, &when);
                std::thread::sleep(offset);
                a.kill();
                a.check(&when);
                a.spawn();
            }
            2 | 3 => {
                b.wait_for_steps(b.steps() + more, &when);
                std::thread::sleep(offset);
                b.kill();
                b.check(&when);
                b.spawn();
            }
            5 => {
                // A rotation of the data key, killed at a random moment
                // (a third of them run to the end).
                let d = if more % 2 == 0 { &mut a } else { &mut b };
                d.wait_for_steps(d.steps() + more, &when);
                d.kill();
                d.check(&when);
                let kill_after = (more % 3 != 0).then(|| Duration::from_micros(rng.gen_range(0..1_500_000)));
                rotations += 1;
                if rotate(d, kill_after) {
                    rotations_done += 1;
                }
                d.check(&format!("{when}, after a rotation"));
                d.spawn();
            }
            _ => {
                let d = if more % 2 == 0 { &a } else { &b };
                d.wait_for_steps(d.steps() + more, &when);
                std::thread::sleep(offset);
                server.kill();
                server_kills += 1;
                server.check(&when);
                server.start();
            }
        }
    }
    a.kill();
    b.kill();
    a.check("after the storm");
    b.check("after the storm");
    let storm = started.elapsed();
    // Sync really ran during the storm: notes reached the other device
    // through the server before the final syncs below.
    let (crossed_to_a, crossed_to_b) = (a.holds_of(&b), b.holds_of(&a));
    assert!(
        crossed_to_a > 0 && crossed_to_b > 0,
        "no sync during the storm: {crossed_to_a} of b's notes on a, {crossed_to_b} of a's on b"
    );

    // Sync until a round in which neither device has anything to do.
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= 20, "the devices do not settle after 20 sync rounds");
        let (wa, pa) = sync(&a);
        let (wb, pb) = sync(&b);
        if wa + wb + pa + pb == 0 {
            break;
        }
    }
    let (on_a, on_b) = (a.notes(), b.notes());
    assert!(on_a == on_b, "the devices differ after syncing until quiet:\n{}", differences(&on_a, &on_b, &a, &b));
    let mut want: BTreeMap<Uuid, (Content, bool)> = BTreeMap::new();
    for d in [&a, &b] {
        for (id, c) in &d.expected {
            assert!(want.insert(*id, (c.clone(), false)).is_none(), "note {id} reported by both devices");
        }
    }
    for (id, w) in &want {
        assert_eq!(on_a.get(id), Some(w), "note {id} after convergence");
    }
    assert_eq!(on_a.len(), want.len(), "notes nobody saved (duplicates?)");
    for d in [&a, &b] {
        let vault = d.open();
        let s = vault.status().expect("status");
        assert_eq!((s.pending, s.failed, s.open_conflicts), (0, 0, 0), "device {}: {s:?}", d.name);
        let keys = vault.key_status().expect("key status");
        assert_eq!(
            (keys.notes_under_old_keys, keys.missing.len(), vault.quarantined().expect("quarantine").len()),
            (0, 0, 0),
            "device {}: every note under the current key, nothing set aside: {keys:?}",
            d.name
        );
    }
    let (ka, kb) = (a.open().key_status().expect("keys"), b.open().key_status().expect("keys"));
    assert_eq!(ka.current, kb.current, "both devices write with the account's key");
    server.check("after the storm");
    assert!(a.reported > 0 && b.reported > 0, "a device saved nothing: the storm tested nothing");
    eprintln!(
        "crash storm: {rotations} key rotations ({rotations_done} ran to the end, the account holds {} keys)",
        ka.keys.len()
    );
    eprintln!(
        "crash storm: {kills} kills ({} of device a, {} of device b, {server_kills} of the server), \
         {} saves reported, {} committed unreported at a kill, {} notes; synced during the storm: {crossed_to_a} \
         of b's notes on a, {crossed_to_b} of a's on b; storm {:.1} s, converged in {rounds} sync rounds, total \
         {:.1} s",
        a.lives - 1,
        b.lives - 1,
        a.reported + b.reported,
        a.unreported + b.unreported,
        want.len(),
        storm.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
