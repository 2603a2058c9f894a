//! The seeder's extras are really there, made the way the app makes them:
//! tombstones queued for sync, open conflicts that list and resolve,
//! failed outbox entries with the server's error that retry, a sync
//! history with a mix of passes; a second device of the same account over
//! a real in-process server, diverged; and all of it the same for the same
//! seed and different for another.

mod common;

use std::collections::BTreeSet;

use outpost_core::account;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::monitor::{self, EntryState, Outcome, PassRecord, Selection};
use outpost_core::remote::Remote;
use outpost_core::seed::{second_device, seed_with, Extras, SeedReport, SeedSpec};
use outpost_core::sync::sync_once;
use outpost_core::vault::Resolution;
use outpost_core::{Error, Vault};

/// A fixed "now" (2026-06-01), so the history is the same run after run.
const NOW: i64 = 1_780_272_000_000;
const WEEK_MS: i64 = 7 * 86_400_000;

const SPEC: SeedSpec = SeedSpec { notes: 40, size: 300, seed: 11 };
const EXTRAS: Extras = Extras { deleted: 5, conflicts: 4, failed: 3, history: 60, now_ms: NOW };

fn store() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    (dir, vault)
}

fn seeded(seed: u64) -> (tempfile::TempDir, Vault, SeedReport) {
    let (dir, mut vault) = store();
    let report = seed_with(&mut vault, SeedSpec { seed, ..SPEC }, EXTRAS, |_| {}).expect("seed");
    (dir, vault, report)
}

/// Everything the seed decides, without ids and stamps (which come from
/// the OS's random source and clock).
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    live: BTreeSet<(String, String, Vec<String>, bool)>,
    tombstones: usize,
    conflicts: BTreeSet<(String, String, String, Option<String>)>,
    failed: BTreeSet<(String, Option<String>)>,
    history: Vec<PassRecord>,
}

fn fingerprint(vault: &Vault) -> Fingerprint {
    let ids = vault.all_ids().expect("ids");
    let live = ids
        .iter()
        .filter(|(_, deleted)| !deleted)
        .map(|(id, _)| {
            let n = vault.get(*id).expect("note");
            (n.title, n.body, n.tags, n.pinned)
        })
        .collect();
    let conflicts = vault
        .conflicts(false)
        .expect("conflicts")
        .into_iter()
        .map(|c| (c.mine.title, c.mine.body, c.theirs.body, c.base_body))
        .collect();
    let failed = monitor::outbox_rows(vault.connection())
        .expect("outbox")
        .into_iter()
        .filter(|e| e.state == EntryState::Failed)
        .map(|e| (vault.get(e.note_id).expect("note").title, e.last_error))
        .collect();
    Fingerprint {
        live,
        tombstones: ids.iter().filter(|(_, deleted)| *deleted).count(),
        conflicts,
        failed,
        history: monitor::history(vault.connection()).expect("history"),
    }
}

#[test]
fn every_extra_is_there_as_the_app_makes_it() {
    let (_dir, mut vault, report) = seeded(SPEC.seed);
    assert_eq!(
        report,
        SeedReport { notes: 40, edits: report.edits, deleted: 5, conflicts: 4, failed: 3, history: 60 },
        "{report:?}"
    );
    let status = vault.status().expect("status");
    assert_eq!((status.notes, status.tombstones), (35, 5), "{status:?}");
    assert_eq!((status.failed, status.open_conflicts), (3, 4), "{status:?}");
    // Every note has one entry: 28 plain, 5 deletes, 4 merges; 3 failed.
    assert_eq!(status.pending, 37, "{status:?}");

    // Tombstones: deletes queued for sync like any delete.
    let outbox = monitor::outbox_rows(vault.connection()).expect("outbox");
    let deletes: Vec<_> = outbox.iter().filter(|e| e.deleted).collect();
    assert_eq!(deletes.len(), 5);
    assert!(deletes.iter().all(|e| e.state == EntryState::Pending && e.attempts == 0), "{deletes:?}");

    // Failed entries: sent once, refused for good, with the server's words.
    let failed: Vec<_> = outbox.iter().filter(|e| e.state == EntryState::Failed).collect();
    assert_eq!(failed.len(), 3);
    for e in &failed {
        assert_eq!(e.attempts, 1, "{e:?}");
        let error = e.last_error.as_deref().unwrap_or_default();
        assert!(error.contains("server refused") && error.contains("malformed_body"), "{error}");
        assert!(!vault.get(e.note_id).expect("the note is kept").title.is_empty());
    }
    let retried = monitor::retry(&mut vault, Selection::Entry(failed[0].seq), NOW).expect("retry");
    assert_eq!(retried, vec![failed[0].seq]);
    assert_eq!(vault.status().expect("status").failed, 2, "a retried entry is pending again");

    // Open conflicts, as a pull that met an unsent edit opens them.
    let conflicts = vault.conflicts(false).expect("conflicts");
    assert_eq!(conflicts.len(), 4);
    for c in &conflicts {
        assert_eq!(c.kind, "overlap", "{c:?}");
        assert!(c.resolved_at.is_none());
        let base = c.base_body.as_deref().expect("the base is known");
        assert!(c.mine.body != c.theirs.body && c.mine.body != base && c.theirs.body != base, "{c:?}");
        let note = vault.get(c.note_id).expect("note");
        assert!(note.body.contains("<<<<<<<") || note.body.contains("======="), "both sides kept: {}", note.body);
        assert_eq!(note.server_rev, None, "no server holds the other device's versions: it goes up as new");
    }
    let theirs = conflicts[0].theirs.body.clone();
    let note = vault.resolve_conflict(conflicts[0].id, Resolution::Theirs).expect("resolve");
    assert_eq!(note.body, theirs);
    assert_eq!(vault.conflicts(false).expect("conflicts").len(), 3);

    // The sync history: a mix over the last week.
    let history = monitor::history(vault.connection()).expect("history");
    assert_eq!(history.len(), 60);
    assert!(history.iter().all(|p| p.started_at < NOW && p.started_at >= NOW - WEEK_MS));
    for outcome in [Outcome::Ok, Outcome::Failed, Outcome::Deferred] {
        assert!(history.iter().any(|p| p.outcome == outcome), "no {outcome:?} pass");
    }
    let triggers: BTreeSet<_> = history.iter().map(|p| p.trigger.as_str()).collect();
    assert!(triggers.len() >= 4, "{triggers:?}");
    assert!(history.iter().filter(|p| p.outcome == Outcome::Failed).all(|p| p.error_code.is_some()));
    assert!(history.iter().any(|p| p.pushed > 0 && p.bytes_sent > 1_000));
    assert!(history.iter().any(|p| p.pulled > 0 && p.bytes_received > 1_000));
    let days: BTreeSet<_> = history.iter().map(|p| (NOW - p.started_at) / 86_400_000).collect();
    assert!(days.len() >= 5, "spread over the week: {days:?}");
}

#[test]
fn the_same_seed_makes_the_same_store_and_another_seed_another() {
    let (_a, one, _) = seeded(11);
    let (_b, again, _) = seeded(11);
    let (_c, other, _) = seeded(12);
    let (one, again, other) = (fingerprint(&one), fingerprint(&again), fingerprint(&other));
    assert_eq!(one, again);
    assert_eq!(one.conflicts.len(), 4);
    assert_ne!(one.live, other.live);
    assert_ne!(one.conflicts, other.conflicts);
    assert_ne!(one.failed, other.failed);
    assert_ne!(one.history, other.history);
}

#[test]
fn extras_do_not_change_the_notes_text() {
    let (_a, mut plain) = store();
    outpost_core::seed::seed(&mut plain, SPEC, |_| {}).expect("seed");
    let (_b, with_extras, _) = seeded(SPEC.seed);
    let titles = |v: &Vault| -> BTreeSet<String> { v.list().expect("list").into_iter().map(|s| s.title).collect() };
    let (plain, with_extras) = (titles(&plain), titles(&with_extras));
    assert_eq!(with_extras.len(), 35);
    assert!(with_extras.is_subset(&plain), "the live notes are among the plain seed's");
}

#[test]
fn what_cannot_be_made_is_refused_before_anything_is_written() {
    let (_dir, mut vault) = store();
    let too_many = Extras { deleted: 20, conflicts: 20, failed: 1, ..EXTRAS };
    let err = seed_with(&mut vault, SPEC, too_many, |_| {}).expect_err("more than the notes");
    assert!(matches!(err, Error::Invalid(_)) && err.to_string().contains("distinct notes"), "{err}");
    let err = seed_with(&mut vault, SPEC, Extras { history: 1_001, ..EXTRAS }, |_| {}).expect_err("history");
    assert!(err.to_string().contains("at most 1000"), "{err}");
    assert_eq!(vault.status().expect("status").notes, 0, "nothing written");

    // Failed entries come from a push the server refuses: with changes
    // already queued, that push would carry them too.
    outpost_core::seed::seed(&mut vault, SeedSpec { notes: 3, ..SPEC }, |_| {}).expect("seed");
    let err = seed_with(&mut vault, SPEC, Extras { failed: 1, ..Extras::default() }, |_| {}).expect_err("queued");
    assert!(err.to_string().contains("3 changes are already queued"), "{err}");
    assert_eq!(vault.status().expect("status").notes, 3, "nothing written");
}

struct Device {
    vault: Vault,
    remote: Remote,
    _dir: tempfile::TempDir,
}

async fn first_device(url: &str, user: &str) -> Device {
    let (dir, mut vault) = store();
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    Device { vault, remote, _dir: dir }
}

async fn joining_device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &MemoryStore::new(), key).expect("open");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    Device { vault, remote: remote.with_token(session.token), _dir: dir }
}

type Content = BTreeSet<(String, String)>;

fn content(vault: &Vault) -> Content {
    vault
        .list()
        .expect("list")
        .into_iter()
        .map(|s| {
            let n = vault.get(s.id).expect("note");
            (n.title, n.body)
        })
        .collect()
}

/// Two devices of `user`, the first seeded with `seed`, the second made
/// by the seeder. Returns both and what the second device did.
async fn two_devices(url: &str, user: &str, seed: u64) -> (Device, Device, outpost_core::seed::SecondDevice) {
    let mut a = first_device(url, user).await;
    let extras = Extras { deleted: 3, conflicts: 2, failed: 2, history: 5, now_ms: NOW };
    seed_with(&mut a.vault, SeedSpec { notes: 30, size: 300, seed }, extras, |_| {}).expect("seed");
    let mut b = joining_device(url, user).await;
    let report = second_device(&mut a.vault, &a.remote, &mut b.vault, &b.remote, seed, 300).await.expect("second");
    (a, b, report)
}

#[tokio::test]
async fn a_second_device_gets_the_notes_over_a_real_server_and_diverges() {
    let srv = common::server().await;
    let (mut a, mut b, report) = two_devices(&srv.url, "alice", 5).await;

    // The first device sent everything but its refused changes; its
    // conflicts stay open for the user, its failed entries failed.
    let s = a.vault.status().expect("status");
    assert_eq!((s.pending, s.failed, s.open_conflicts), (0, 2, 2), "{s:?} {report:?}");
    assert_eq!(report.first.rejected, 0, "failed entries are not sent again by themselves");

    // The second device holds what reached the server: 30 notes, less 3
    // deleted, less 2 whose changes the server refused; then it edited
    // 2 (one in ten), deleted 1 and made 2, none of it synced.
    assert_eq!(report.second.pulled, 30 - 2, "{report:?}");
    assert_eq!((report.edited, report.deleted, report.created), (2, 1, 2), "{report:?}");
    let sb = b.vault.status().expect("status");
    assert_eq!((sb.notes, sb.pending, sb.failed), (25 - 1 + 2, 5, 0), "{sb:?}");
    let (ca, cb) = (content(&a.vault), content(&b.vault));
    assert_eq!(cb.difference(&ca).count(), 2 + 2, "edited and made on the second device only");
    assert_eq!(ca.difference(&cb).count(), 2 + 2 + 1, "the first device's refused, edited and deleted notes");
    assert_eq!(
        b.vault.list().expect("list").iter().filter(|n| n.title.ends_with("(second device)")).count(),
        1,
        "every third edit renames its note"
    );

    // Real devices of one account: syncing brings them together.
    let b_before = cb;
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let (ca, cb) = (content(&a.vault), content(&b.vault));
    assert_eq!(
        ca.difference(&cb).count(),
        2,
        "only the refused notes stay on the first device alone: {:#?} {:#?}",
        ca.difference(&cb).map(|n| &n.0).collect::<Vec<_>>(),
        cb.difference(&ca).map(|n| &n.0).collect::<Vec<_>>()
    );
    assert!(cb.is_subset(&ca));

    // The same seed makes the same second device for another account.
    let (_c, d, again) = two_devices(&srv.url, "bob", 5).await;
    assert_eq!((again.edited, again.deleted, again.created), (report.edited, report.deleted, report.created));
    assert_eq!(content(&d.vault), b_before);
}
