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
    // The WAL must start empty for its frames to be these saves' alone. A
    // TRUNCATE checkpoint does not truncate while the (now paused)
    // checkpoint thread still reads; it answers busy instead, so ask again.
    // (The pages used to be counted by the WAL file's growth, which is
    // wrong when the truncation did not happen: the file then already
    // has the length of an earlier, longer generation of frames.)
    let emptied = (0..500).any(|_| {
        let busy: i64 =
            vault.connection().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).expect("checkpoint");
        busy == 0 || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            false
        }
    });
    assert!(emptied, "the WAL could not be emptied before counting pages");
    let no_ckpt_create = Stats::of(&time_each(drafts_for_profile(n), |d| {
        vault.create(d).expect("create");
    }));
    let no_ckpt_edit = Stats::of(&time_each(bodies(n, 2048, 29), |body| {
        let id = ids[rng.gen_range(0..ids.len())];
        vault.edit(id, NotePatch { body: Some(body), ..NotePatch::default() }).expect("edit");
    }));
    let (pages_create, pages_edit, by_btree) = pages_by_btree(vault.connection(), &wal, n);
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
    for (case, pages) in ["create", "edit (random note)"].iter().zip(&by_btree) {
        let parts: Vec<String> = pages.iter().map(|(name, p)| format!("{name} {p:.2}")).collect();
        println!("  {case}, by b-tree: {}", parts.join(", "));
    }
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

/// WAL pages per save, and which b-trees they belong to: the WAL at `wal`
/// holds `n` creates and then `n` edits, one commit each (it was emptied
/// before them and not checkpointed since), read frame by frame. A page
/// is named by SQLite's `dbstat` (the table or index whose b-tree holds
/// it, overflow pages included; page 1 is `sqlite_schema`'s, and holds the
/// database header); a page no b-tree holds now is `(free)`. Returns the
/// pages per create and per edit, and per case the b-trees by pages per
/// save, most first. Untimed.
type PagesPerSave = (f64, f64, Vec<Vec<(String, f64)>>);
fn pages_by_btree(conn: &Connection, wal: &std::path::Path, n: usize) -> PagesPerSave {
    let bytes = std::fs::read(wal).expect("read the WAL");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    let page_size = be(&bytes[8..12]) as usize;
    let salt = &bytes[16..24];
    // Frames: a 24-byte header (page number, the database size if it ends
    // a commit, else 0; the WAL's salts) and the page.
    let mut commits: Vec<Vec<u32>> = vec![Vec::new()];
    let mut at = 32;
    while at + 24 + page_size <= bytes.len() && &bytes[at + 8..at + 16] == salt {
        commits.last_mut().expect("a commit").push(be(&bytes[at..at + 4]));
        if be(&bytes[at + 4..at + 8]) != 0 {
            commits.push(Vec::new());
        }
        at += 24 + page_size;
    }
    assert_eq!(commits.len() - 1, 2 * n, "the WAL holds one commit per save");
    let per_save = |case: &[Vec<u32>]| case.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    let (create, edit) = (per_save(&commits[..n]), per_save(&commits[n..2 * n]));
    let owner: std::collections::HashMap<u32, String> = conn
        .prepare("SELECT pageno, name FROM dbstat")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("dbstat (SQLITE_ENABLE_DBSTAT_VTAB, as libsqlite3-sys builds it)");
    let by_btree = commits[..2 * n]
        .chunks(n)
        .map(|case| {
            let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
            for page in case.iter().flatten() {
                *count.entry(owner.get(page).map_or("(free)", String::as_str)).or_default() += 1;
            }
            let mut v: Vec<(String, f64)> =
                count.into_iter().map(|(name, c)| (name.to_owned(), c as f64 / n as f64)).collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v
        })
        .collect();
    (create, edit, by_btree)
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
