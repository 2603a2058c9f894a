//! Reading a store of `OUTPOST_BENCH_NOTES` (10,000) seeded ~2 KB notes:
//! `Vault::list` (decrypts every title) and `Vault::search` (since issue
//! 16 through the in-memory index, which the first, untimed call builds;
//! `benches/search.rs` measures search in detail).
//!
//! `cargo bench -p outpost-core --bench read`; `OUTPOST_BENCH_RUNS` (50)
//! sets the number of list runs; search runs a fifth as often.

mod common;

use common::*;

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 10_000);
    let runs = env_usize("OUTPOST_BENCH_RUNS", 50);
    print_context();
    let dir = bench_dir("outpost-bench-read-");
    let mut vault = open_vault(dir.path());
    let built = seed_notes(&mut vault, notes, 2048);
    println!("store: {notes} seeded notes of ~2 KB built in {:.1} s (untimed)", built.as_secs_f64());

    // One untimed run of each: statement preparation, pages into the cache.
    let listed = vault.list().expect("list").len();
    assert_eq!(listed, notes, "every seeded note is listed");
    let list = Stats::of(&time_each(0..runs, |_| {
        std::hint::black_box(vault.list().expect("list"));
    }));

    let search_runs = (runs / 5).max(1);
    let mut searches = Vec::new();
    for query in ["lantern", "harbour compass", "zebra"] {
        let hits = vault.search(query).expect("search").len();
        let s = Stats::of(&time_each(0..search_runs, |_| {
            std::hint::black_box(vault.search(query).expect("search"));
        }));
        searches.push((format!("vault.search({query:?}), {hits} hits"), s));
    }

    // Where list time goes (profiling only, not the engine's settings):
    // the list query's rows without decryption, with and without the
    // per-row sync-badge subqueries, then the list again with the database
    // mapped into memory (no read() per page) and with a page cache that
    // holds the whole table (SQLite's default is 2 MB).
    let conn = vault.connection();
    let scan = |sql: &str| {
        let mut stmt = conn.prepare(sql).expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        let mut bytes = 0;
        while let Some(r) = rows.next().expect("row") {
            bytes += r.get_ref(4).expect("title").as_blob().expect("blob").len();
        }
        bytes
    };
    let plain = "SELECT n.id, n.hlc, n.pinned, n.updated_at, n.title FROM notes n WHERE n.deleted = 0
                 ORDER BY n.pinned DESC, n.updated_at DESC";
    let badged = format!(
        "SELECT n.id, n.hlc, n.pinned, n.updated_at, n.title, {BADGE_SQL} FROM notes n WHERE n.deleted = 0
         ORDER BY n.pinned DESC, n.updated_at DESC"
    );
    let scan_plain = Stats::of(&time_each(0..runs, |_| {
        std::hint::black_box(scan(plain));
    }));
    let scan_badged = Stats::of(&time_each(0..runs, |_| {
        std::hint::black_box(scan(&badged));
    }));
    // The badges from one pass over the outbox and conflicts indexes into
    // a map, then the plain query: a cheaper way to the same list.
    let badge_map = || {
        let mut map = std::collections::HashMap::new();
        let mut stmt = conn
            .prepare("SELECT note_id, max(CASE state WHEN 'failed' THEN 2 ELSE 1 END) FROM outbox GROUP BY note_id")
            .expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        while let Some(r) = rows.next().expect("row") {
            map.insert(r.get::<_, Vec<u8>>(0).expect("id"), r.get::<_, i64>(1).expect("badge"));
        }
        let mut stmt =
            conn.prepare("SELECT DISTINCT note_id FROM conflicts WHERE resolved_at IS NULL").expect("prepare");
        let mut rows = stmt.query([]).expect("query");
        while let Some(r) = rows.next().expect("row") {
            map.insert(r.get::<_, Vec<u8>>(0).expect("id"), 3);
        }
        map
    };
    let scan_mapped = Stats::of(&time_each(0..runs, |_| {
        let map = badge_map();
        std::hint::black_box((map.len(), scan(plain)));
    }));
    conn.pragma_update(None, "mmap_size", 1i64 << 30).expect("mmap_size");
    vault.list().expect("list");
    let list_mmap = Stats::of(&time_each(0..runs, |_| {
        std::hint::black_box(vault.list().expect("list"));
    }));
    let conn = vault.connection();
    conn.pragma_update(None, "mmap_size", 0).expect("mmap_size");
    conn.pragma_update(None, "cache_size", -262_144).expect("cache_size");
    vault.list().expect("list");
    let list_cache = Stats::of(&time_each(0..runs, |_| {
        std::hint::black_box(vault.list().expect("list"));
    }));
    let pages: i64 = vault.connection().query_row("PRAGMA page_count", [], |r| r.get(0)).expect("page_count");

    header(&format!("Reading a store of {notes} notes ({} MB)", pages * 4096 / 1_000_000));
    row(&format!("vault.list, {listed} titles"), &list);
    for (case, s) in &searches {
        row(case, s);
    }
    row("profile: list query, no badge, no decryption", &scan_plain);
    row("profile: list query with badges, no decryption", &scan_badged);
    row("profile: badges from one outbox pass + plain query", &scan_mapped);
    row("profile: vault.list, mmap_size = 1 GiB", &list_mmap);
    row("profile: vault.list, cache_size = 256 MiB (warm)", &list_cache);
    println!();
    let verdict = if list.p50.as_secs_f64() < 30e-3 { "met" } else { "MISSED" };
    println!("target: list < 30 ms: median {} ms, p99 {} ms, {verdict}", ms(list.p50), ms(list.p99));
}

/// The engine's per-row sync badge (`BADGE_SQL` in `crates/core/src/vault.rs`).
const BADGE_SQL: &str = "CASE
    WHEN EXISTS (SELECT 1 FROM conflicts c WHERE c.note_id = n.id AND c.resolved_at IS NULL) THEN 3
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id AND o.state = 'failed') THEN 2
    WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.note_id = n.id) THEN 1
    ELSE 0 END";
