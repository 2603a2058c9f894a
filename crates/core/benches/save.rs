//! Save latency on a big store: `Vault::create` and `Vault::edit` of ~2 KB
//! notes, each its own durable transaction (seal three fields, upsert the
//! note row, queue or coalesce the outbox entry, commit with fsync), on a
//! store that already holds `OUTPOST_BENCH_NOTES` (100,000) seeded notes.
//! WAL checkpoints run as in the app: on the vault's background thread
//! (`store::checkpoint`), not in the saves.
//!
//! The floor beside it is a bare durable SQLite insert of a 2 KB blob with
//! the same pragmas (WAL, `synchronous=FULL`) into a table of as many rows:
//! what any save costs before the engine does anything.
//!
//! `cargo bench -p outpost-core --bench save`; `OUTPOST_BENCH_N` (2,000)
//! sets the number of timed saves per case.

mod common;

use std::time::Instant;

use common::*;
use outpost_core::NotePatch;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rusqlite::{params, Connection, TransactionBehavior};

/// Untimed saves before each case: statement preparation and first touches.
const WARMUP: usize = 20;

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 100_000);
    let n = env_usize("OUTPOST_BENCH_N", 2_000);
    print_context();
    let dir = bench_dir("outpost-bench-save-");

    // The floor first, while the disk is quiet.
    let floor = bare_insert_floor(&dir.path().join("floor.db"), notes, n);

    let mut vault = open_vault(&dir.path().join("vault"));
    let built = seed_notes(&mut vault, notes, 2048);
    let db_bytes = std::fs::metadata(vault.path()).map(|m| m.len()).unwrap_or(0);
    println!(
        "store: {notes} seeded notes of ~2 KB built in {:.1} s (untimed below), database {} MB",
        built.as_secs_f64(),
        db_bytes / 1_000_000
    );

    let ids: Vec<_> = vault.all_ids().expect("list ids").into_iter().map(|(id, _)| id).collect();

    // create: a new note row and a new outbox entry.
    let mut drafts = drafts(WARMUP + n, 2048, 7).into_iter();
    for d in drafts.by_ref().take(WARMUP) {
        vault.create(d).expect("warm-up create");
    }
    let create = Stats::of(&time_each(drafts, |d| {
        vault.create(d).expect("create");
    }));

    // edit: a new ~2 KB body for a random seeded note; its pending outbox
    // entry is coalesced (the seeded store has never synced).
    let mut rng = StdRng::seed_from_u64(11);
    let edits: Vec<_> = bodies(WARMUP + n, 2048, 13)
        .into_iter()
        .map(|body| (ids[rng.gen_range(0..ids.len())], NotePatch { body: Some(body), ..NotePatch::default() }))
        .collect();
    let mut edits = edits.into_iter();
    for (id, p) in edits.by_ref().take(WARMUP) {
        vault.edit(id, p).expect("warm-up edit");
    }
    let edit = Stats::of(&time_each(edits, |(id, p)| {
        vault.edit(id, p).expect("edit");
    }));

    // edit, same note: autosave while typing in one note.
    let one = ids[ids.len() / 2];
    let typing: Vec<_> =
        bodies(n, 2048, 17).into_iter().map(|body| NotePatch { body: Some(body), ..NotePatch::default() }).collect();
    let autosave = Stats::of(&time_each(typing, |p| {
        vault.edit(one, p).expect("edit one note");
    }));

    // Where the time goes: the same creates and edits without the fsync
    // (synchronous=NORMAL commits to the WAL without syncing it), and the
    // sealing alone. Profiling only: the engine always runs FULL.
    vault.connection().pragma_update(None, "synchronous", "NORMAL").expect("synchronous=NORMAL");
    let no_sync_create = Stats::of(&time_each(drafts_for_profile(n), |d| {
        vault.create(d).expect("create");
    }));
    let no_sync_edit = Stats::of(&time_each(bodies(n, 2048, 19), |body| {
        let id = ids[rng.gen_range(0..ids.len())];
        vault.edit(id, NotePatch { body: Some(body), ..NotePatch::default() }).expect("edit");
    }));
    vault.connection().pragma_update(None, "synchronous", "FULL").expect("synchronous=FULL");
    // Durable again, with no checkpoint at all (neither the background
    // thread's nor SQLite's automatic one in the commit past the backstop):
    // what saves cost when the WAL only grows.
    // Its growth then counts the pages a save writes (each frame is a 4 KiB
    // page plus a 24-byte header).
    vault.pause_checkpoints(true);
    vault.connection().pragma_update(None, "wal_autocheckpoint", 0).expect("wal_autocheckpoint");
    let wal = vault.path().with_extension("db-wal");
    let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let frames = |before: u64, after: u64| after.saturating_sub(before) as f64 / (4096.0 + 24.0) / n as f64;
    vault.connection().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).expect("checkpoint");
    let w0 = wal_len();
    let no_ckpt_create = Stats::of(&time_each(drafts_for_profile(n), |d| {
        vault.create(d).expect("create");
    }));
    let w1 = wal_len();
    let no_ckpt_edit = Stats::of(&time_each(bodies(n, 2048, 29), |body| {
        let id = ids[rng.gen_range(0..ids.len())];
        vault.edit(id, NotePatch { body: Some(body), ..NotePatch::default() }).expect("edit");
    }));
    let w2 = wal_len();
    let (pages_create, pages_edit) = (frames(w0, w1), frames(w1, w2));
    vault
        .connection()
        .pragma_update(None, "wal_autocheckpoint", outpost_core::store::checkpoint::BACKSTOP_PAGES)
        .expect("wal_autocheckpoint");
    vault.pause_checkpoints(false);
    let seal = Stats::of(&time_each(drafts_for_profile(n), |d| {
        std::hint::black_box(seal_like_the_engine(&d));
    }));

    header(&format!("Save latency, store of {notes} notes, {n} timed saves per case"));
    row("bare SQLite insert, 2 KB blob (floor)", &floor);
    row("vault.create, ~2 KB note", &create);
    row("vault.edit, random note, new ~2 KB body", &edit);
    row("vault.edit, same note repeatedly (autosave)", &autosave);
    row("profile: vault.create, synchronous=NORMAL", &no_sync_create);
    row("profile: vault.edit, random, synchronous=NORMAL", &no_sync_edit);
    row("profile: vault.create, no auto-checkpoint", &no_ckpt_create);
    row("profile: vault.edit, random, no auto-checkpoint", &no_ckpt_edit);
    row("profile: seal title + body + meta only", &seal);
    println!();
    println!("WAL pages written per save: create {pages_create:.1}, edit (random note) {pages_edit:.1}");
    println!("target: p99 < 0.500 ms");
    for (case, s) in [("create", create), ("edit", edit), ("edit (autosave)", autosave)] {
        let verdict = if s.p99.as_secs_f64() < 0.5e-3 { "met" } else { "MISSED" };
        println!(
            "{case}: p99 {} ms, {verdict}; engine over floor at p50: +{} ms",
            ms(s.p99),
            ms(s.p50.saturating_sub(floor.p50))
        );
    }
}

/// `n` durable inserts of a 2 KB random blob (ciphertext does not
/// compress) into a table that already holds `rows` of them.
fn bare_insert_floor(path: &std::path::Path, rows: usize, n: usize) -> Stats {
    let mut conn = Connection::open(path).expect("open the floor database");
    conn.pragma_update(None, "journal_mode", "WAL").expect("WAL");
    conn.pragma_update(None, "synchronous", "FULL").expect("synchronous=FULL");
    conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL) STRICT", []).expect("create table");
    let mut rng = StdRng::seed_from_u64(3);
    let mut blob = vec![0u8; 2048];
    let t = Instant::now();
    let tx = conn.transaction().expect("begin");
    {
        let mut stmt = tx.prepare("INSERT INTO blobs (data) VALUES (?1)").expect("prepare");
        for _ in 0..rows {
            rng.fill_bytes(&mut blob);
            stmt.execute([&blob]).expect("fill");
        }
    }
    tx.commit().expect("commit the fill");
    println!("floor table: {rows} rows of 2 KB filled in {:.1} s (untimed)", t.elapsed().as_secs_f64());
    let blobs: Vec<Vec<u8>> = (0..WARMUP + n)
        .map(|_| {
            rng.fill_bytes(&mut blob);
            blob.clone()
        })
        .collect();
    let mut insert = move |b: Vec<u8>| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
        tx.prepare_cached("INSERT INTO blobs (data) VALUES (?1)")
            .expect("prepare")
            .execute(params![b])
            .expect("insert");
        tx.commit().expect("commit");
    };
    let mut blobs = blobs.into_iter();
    for b in blobs.by_ref().take(WARMUP) {
        insert(b);
    }
    let stats = Stats::of(&time_each(blobs, &mut insert));
    // Pages per insert, counted as for the engine below (untimed).
    let wal = path.with_extension("db-wal");
    let wal_len = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    insert_conn_checkpoint(path);
    let before = wal_len();
    for _ in 0..200 {
        rng.fill_bytes(&mut blob);
        insert(blob.clone());
    }
    let pages = wal_len().saturating_sub(before) as f64 / (4096.0 + 24.0) / 200.0;
    println!("floor: {pages:.1} WAL pages per insert");
    stats
}

/// Truncate the WAL of the database at `path` (from a second connection).
fn insert_conn_checkpoint(path: &std::path::Path) {
    let conn = Connection::open(path).expect("open for checkpoint");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).expect("checkpoint");
}

fn drafts_for_profile(n: usize) -> Vec<outpost_core::NoteDraft> {
    drafts(n, 2048, 23)
}

/// The three `crypto::seal` calls a create makes, with a fresh id and a
/// stamp, and the meta JSON the engine seals (tags, pinned, two times).
fn seal_like_the_engine(d: &outpost_core::NoteDraft) -> usize {
    use outpost_core::crypto::{seal, Binding, DataKey, Field};
    thread_local!(static KEY: DataKey = DataKey::generate());
    let id = uuid::Uuid::now_v7();
    let hlc = outpost_protocol::Hlc::new(1_700_000_000_000, 0, 42);
    let meta = format!(r#"{{"tags":{:?},"pinned":false,"created":1700000000000,"updated":1700000000000}}"#, d.tags);
    KEY.with(|key| {
        let b = |field| Binding { note_id: &id, field, hlc: &hlc };
        seal(key, &b(Field::Title), d.title.as_bytes()).expect("seal").len()
            + seal(key, &b(Field::Body), d.body.as_bytes()).expect("seal").len()
            + seal(key, &b(Field::Meta), meta.as_bytes()).expect("seal").len()
    })
}
