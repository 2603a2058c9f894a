//! Invariant 1: a save shown as saved survives `kill -9` at any point.
//!
//! A child `outpost debug write-loop` saves and edits notes, printing each
//! save after it returns; it is killed with SIGKILL at random moments, again
//! and again on the same store. After every kill: every reported save is
//! there and decrypts, `PRAGMA integrity_check` is ok, and the outbox holds
//! exactly one unsent entry per note carrying the note's current content.
//!
//! The kill points follow the child's progress (a random number of
//! reported saves, or none: at start-up), never a clock, so a slow machine
//! moves them nowhere.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{outpost, Lines, PASS};
use outpost_core::keys::PassphraseStore;
use outpost_core::Vault;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Only a hung child ever reaches it.
const PATIENCE: Duration = Duration::from_secs(120);

fn kills() -> usize {
    std::env::var("OUTPOST_CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(25)
}

#[test]
fn saved_notes_survive_sigkill() {
    let seed: u64 = std::env::var("OUTPOST_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (OUTPOST_CRASH_SEED={seed} replays the kill times)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut created: HashMap<Uuid, u64> = HashMap::new();
    let mut edited: HashMap<Uuid, u64> = HashMap::new();
    let keys = PassphraseStore::new(PASS).expect("passphrase");
    let mut total_reported = 0;
    let mut early_kills = 0;
    for round in 0..kills() {
        let mut child = outpost(dir.path())
            .args(["debug", "write-loop", "--marker", &format!("r{round}m")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn write-loop");
        let lines = Lines::read(child.stdout.take().expect("stdout"));
        // Kill points follow the child's progress, not a clock: one round
        // in five right after the start (during the key derivation, before
        // the store is open), the others once it has reported a random
        // number of saves, so the kill lands somewhere in the save after it.
        let after = if rng.gen_range(0..5) == 0 { 0 } else { rng.gen_range(1..=120) };
        let deadline = Instant::now() + PATIENCE;
        let alive = lines.wait_for(after, deadline, &format!("round {round}: waiting for {after} saves"));
        assert!(alive, "round {round}: write-loop stopped on its own after {} saves", lines.snapshot().len());
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let lines = lines.finish();
        if after == 0 {
            early_kills += 1;
        }
        for line in &lines {
            let mut parts = line.split_whitespace();
            let (kind, id, n) = (parts.next(), parts.next(), parts.next());
            let (Some(kind), Some(id), Some(n)) = (kind, id, n) else { continue };
            let id: Uuid = id.parse().expect("id");
            let n: u64 = n.parse().expect("n");
            total_reported += 1;
            match kind {
                "saved" => {
                    created.insert(id, n);
                }
                "edited" => {
                    let e = edited.entry(id).or_default();
                    *e = (*e).max(n);
                }
                // The trash changes no content.
                "trashed" | "untrashed" => {}
                // The note's oldest version is back (a new version): its
                // body may be older than its last edit, which is kept in
                // its history; the title is checked as before.
                "restored" => {
                    edited.remove(&id);
                }
                other => panic!("unexpected line {other}"),
            }
        }

        let vault =
            Vault::open(dir.path(), &keys).unwrap_or_else(|e| panic!("round {round}: store does not open: {e}"));
        let ok: String = vault.connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity");
        assert_eq!(ok, "ok", "round {round}");
        for (id, n) in &created {
            let note = vault.get(*id).unwrap_or_else(|e| panic!("round {round}: reported save {id} lost: {e}"));
            assert!(note.title.ends_with(&format!("m{n} title")), "round {round}: {id} has title {:?}", note.title);
        }
        for (id, n) in &edited {
            let note = vault.get(*id).expect("edited note");
            let version: u64 = note
                .body
                .split("body version ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse().ok())
                .expect("version in body");
            assert!(version >= *n, "round {round}: edit {n} of {id} lost (body has version {version})");
        }
        // The outbox matches the notes: one unsent entry per note, with the
        // note's current sealed content (its own copy, or none: the note's).
        let (notes, entries, matching): (i64, i64, i64) = vault
            .connection()
            .query_row(
                "SELECT (SELECT count(*) FROM notes), (SELECT count(*) FROM outbox),
                        (SELECT count(*) FROM outbox o JOIN notes n ON n.id = o.note_id
                          WHERE o.hlc = n.hlc AND coalesce(o.title, n.title) = n.title
                            AND coalesce(o.body, n.body) = n.body AND coalesce(o.meta, n.meta) = n.meta)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("outbox check");
        assert_eq!((entries, matching), (notes, notes), "round {round}: outbox out of step with notes");
    }
    assert!(total_reported > 50, "the child saved too little to test anything ({total_reported} saves)");
    eprintln!(
        "{} kills ({early_kills} at start-up), {} reported saves, {} notes verified",
        kills(),
        total_reported,
        created.len()
    );
}
