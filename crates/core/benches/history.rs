//! Note history: what 1,000 edits of one ~2 KB note cost in store size
//! under the default retention, and the save latency of those edits, for
//! three paces of editing on a manual clock: a typing burst (a save every
//! 10 s, coalesced into one version per 5 minutes), an edit an hour (every
//! save a version, 42 days: the oldest thinned to one a day), and an edit
//! a day (1,000 days: thinned to one a week). Each edit is a new ~2 KB
//! body (the worst case for history: nothing shared between versions).
//!
//! `cargo bench -p outpost-core --bench history`. Save latency on a large
//! store is the save bench's (history is always on).

mod common;

use std::sync::Arc;

use common::*;
use outpost_core::clock::ManualTime;
use outpost_core::keys::MemoryStore;
use outpost_core::{NoteDraft, NotePatch, Vault};

const EDITS: usize = 1_000;

fn main() {
    print_context();
    let dir = bench_dir("outpost-bench-history-");
    println!(
        "| pace | versions kept | history (sealed bytes) | store file | store without history | save p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, step_ms) in
        [("a save every 10 s", 10_000u64), ("an edit an hour", 3_600_000), ("an edit a day", 86_400_000)]
    {
        let path = dir.path().join(label.replace(' ', "-"));
        let time = ManualTime::new(1_750_000_000_000);
        let mut vault = Vault::open_with(&path, &MemoryStore::new(), Arc::new(time.clone())).expect("open").0;
        let note = vault
            .create(NoteDraft { title: "Garden plan".into(), body: bodies(1, 2048, 1).remove(0), ..Default::default() })
            .expect("create");
        let edits = bodies(EDITS, 2048, 7);
        let mut samples = Vec::with_capacity(EDITS);
        for body in edits {
            time.set(time.now() + step_ms);
            let t = std::time::Instant::now();
            vault.edit(note.id, NotePatch { body: Some(body), ..Default::default() }).expect("edit");
            samples.push(t.elapsed());
            // Housekeeping as the engine does it after a sync pass.
            vault.housekeep_if_due().expect("housekeep");
        }
        vault.housekeep().expect("housekeep");
        let s = Stats::of(&samples);
        let conn = vault.connection();
        let (kept, bytes): (i64, i64) = conn
            .query_row("SELECT count(*), coalesce(sum(size), 0) FROM versions", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("versions");
        let file = |v: &Vault| -> u64 {
            v.connection().execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);").expect("vacuum");
            std::fs::metadata(v.path()).map(|m| m.len()).unwrap_or(0)
        };
        let with = file(&vault);
        vault.connection().execute("DELETE FROM versions", []).expect("drop history");
        let without = file(&vault);
        println!(
            "| {label} | {kept} | {} KB | {} KB | {} KB | {} / {} |",
            bytes / 1000,
            with / 1000,
            without / 1000,
            ms(s.p50),
            ms(s.p99)
        );
    }
}
