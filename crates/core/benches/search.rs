//! Search with the in-memory index over a store of `OUTPOST_BENCH_NOTES`
//! (10,000) seeded ~2 KB notes: the index build (decrypting every note
//! once), its memory, then query latency through `Vault::search` with the
//! index built, and the first query after one note changed (the
//! incremental refresh). `vault.search` builds every hit (snippet
//! included); `vault.search_ranked(q, 50)` ranks every match but builds
//! only the first 50, as a list shows them.
//!
//! `OUTPOST_BENCH_CORPUS=real`: the store holds real prose instead
//! (`outpost_corpus`, put in through a JSON Lines import, untimed), with
//! queries of its words; above the corpus's ~11,000 notes it goes round
//! again (100,000 notes: each note about nine times).
//!
//! `cargo bench -p outpost-core --bench search`; `OUTPOST_BENCH_RUNS` (50)
//! sets the runs per query.

mod common;

use std::time::Instant;

use common::*;
use outpost_core::NotePatch;

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let notes = env_usize("OUTPOST_BENCH_NOTES", 10_000);
    let runs = env_usize("OUTPOST_BENCH_RUNS", 50);
    print_context();
    let dir = bench_dir("outpost-bench-search-");
    let mut vault = open_vault(dir.path());
    let real = real_corpus();
    if real {
        let file = dir.path().join("corpus.jsonl");
        write_jsonl(&file, real_notes(notes));
        let t = Instant::now();
        let s =
            outpost_core::transfer::import(&mut vault, &file, Some(outpost_core::transfer::Format::Jsonl), &mut |_| {})
                .expect("import the corpus");
        assert_eq!(s.imported as usize, notes, "every corpus note imported");
        println!("store: {notes} real notes imported in {:.1} s (untimed)", t.elapsed().as_secs_f64());
    } else {
        let built = seed_notes(&mut vault, notes, 2048);
        println!("store: {notes} seeded notes of ~2 KB built in {:.1} s (untimed)", built.as_secs_f64());
    }

    let rss_before = rss_kib();
    let t = Instant::now();
    let decrypted = vault.refresh_index().expect("build the index");
    let build = t.elapsed();
    let rss_after = rss_kib();
    let (indexed, words) = vault.index_size();
    assert_eq!((decrypted, indexed), (notes, notes), "every note indexed");
    println!(
        "index build: {:.1} ms for {indexed} notes, {words} distinct words; RSS grew {:.1} MiB",
        build.as_secs_f64() * 1e3,
        (rss_after.saturating_sub(rss_before)) as f64 / 1024.0
    );

    header(&format!("search, {notes} notes, index built"));
    // Generated notes draw on a small vocabulary; the real ones are the
    // Python documentation (tags: the part it came from).
    let queries: &[&str] = if real {
        &["socket", "event loop", "zebra", "iter", "\"context manager\"", "tag:library", "socket is:pinned"]
    } else {
        &["lantern", "harbour compass", "zebra", "harb", "\"the harbour\"", "tag:work", "lantern is:pinned"]
    };
    for &query in queries {
        let hits = vault.search(query).expect("search").len();
        let s = Stats::of(&time_each(0..runs, |_| {
            std::hint::black_box(vault.search(query).expect("search"));
        }));
        row(&format!("vault.search({query:?}), {hits} hits"), &s);
        let s = Stats::of(&time_each(0..runs, |_| {
            std::hint::black_box(vault.search_ranked(query, 50).expect("search"));
        }));
        row(&format!("  search_ranked({query:?}, 50): the first 50"), &s);
    }

    // One note edited between queries: the refresh reads the stamps and
    // decrypts that one note.
    let ids: Vec<_> = vault.all_ids().expect("ids").into_iter().map(|(id, _)| id).collect();
    let mut samples = Vec::new();
    for i in 0..runs.min(20) {
        let id = ids[i * 97 % ids.len()];
        let patch = NotePatch { body: Some(format!("edited zebra body {i}")), ..Default::default() };
        vault.edit(id, patch).expect("edit");
        let t = Instant::now();
        let hits = vault.search("zebra").expect("search");
        samples.push(t.elapsed());
        assert!(hits.iter().any(|h| h.note.id == id), "the edit is found");
    }
    row("vault.search(\"zebra\") after one edit", &Stats::of(&samples));
}
