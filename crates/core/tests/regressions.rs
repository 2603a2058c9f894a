//! Regression scenarios for the failures other notes apps shipped
//! (DESIGN.md, "What must always hold", items 9 to 12 and their issues).
//! Each test injects the fault that hurt the other app's users and checks
//! that Outpost does what DESIGN.md says instead.
//!
//! Failures already covered precisely elsewhere are not repeated here:
//! `tests/sync.rs` and the sim's `timeout-after-commit` scenario (a resend
//! after a lost answer), `crates/cli/tests/crash.rs` and `tests/io_faults.rs`
//! (crashes and disk faults during saves and pulls). Tests marked
//! `#[ignore = "BUG: ..."]` state designed behaviour the product does not
//! have yet; `-- --ignored` runs them. Real servers run in this process on
//! 127.0.0.1 (`common::server`); clocks are [`ManualTime`]s where the order
//! of changes matters, so no test depends on timing.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use outpost_core::clock::ManualTime;
use outpost_core::crypto::{DataKey, KeyId};
use outpost_core::keys::{KdfParams, KdfPolicy, KeyError, KeyStore, MemoryStore, Method, Slot};
use outpost_core::merge::Strategy;
use outpost_core::remote::{Remote, RemoteError};
use outpost_core::store::{self, migrate};
use outpost_core::sync::sync_once;
use outpost_core::vault::{Account, Resolution};
use outpost_core::{account, Error, NoteDraft, NotePatch, Vault};
use outpost_faultvfs::{Fault, FaultVfs, Inject, Persistence};
use outpost_protocol::v1::{Change, Encoding, Op, PushResult, SessionToken};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const PASS: &str = "correct horse battery staple";
const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

fn draft(title: &str, body: &str) -> NoteDraft {
    NoteDraft { title: title.into(), body: body.into(), ..Default::default() }
}

fn body_patch(body: &str) -> NotePatch {
    NotePatch { body: Some(body.into()), ..Default::default() }
}

fn title_patch(title: &str) -> NotePatch {
    NotePatch { title: Some(title.into()), ..Default::default() }
}

/// Real milliseconds since the Unix epoch, where the manual clocks start.
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// One device of a user: its store, its session with a server, and the key
/// store that holds its data key (kept so the store can be reopened).
struct Device {
    vault: Vault,
    remote: Remote,
    keys: MemoryStore,
    dir: tempfile::TempDir,
}

impl Device {
    fn create(&mut self, title: &str, body: &str) -> Uuid {
        self.vault.create(draft(title, body)).expect("create").id
    }

    fn edit(&mut self, id: Uuid, patch: NotePatch) {
        self.vault.edit(id, patch).expect("edit");
    }

    fn title(&self, id: Uuid) -> String {
        self.vault.get(id).expect("live note").title
    }

    fn body(&self, id: Uuid) -> String {
        self.vault.get(id).expect("live note").body
    }

    async fn sync(&mut self) -> outpost_core::sync::SyncReport {
        sync_once(&mut self.vault, &self.remote).await.expect("sync pass")
    }

    /// Live note ids, sorted.
    fn live(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.vault.list().expect("list").into_iter().map(|n| n.id).collect();
        ids.sort();
        ids
    }
}

fn open(dir: &Path, keys: &MemoryStore, time: Option<&ManualTime>) -> Vault {
    match time {
        Some(t) => Vault::open_with(dir, keys, Arc::new(t.clone())).expect("open").0,
        None => Vault::open(dir, keys).expect("open"),
    }
}

/// A device that registers `user` on the server at `url`, its wall clock
/// `time` (the system clock if `None`).
async fn first_device(url: &str, user: &str, time: Option<&ManualTime>) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut vault = open(dir.path(), &keys, time);
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    Device { vault, remote, keys, dir }
}

/// A new, empty device that logs in to `user`'s account.
async fn joining_device(url: &str, user: &str, time: Option<&ManualTime>) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, PASS, &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &keys, key).expect("open for the account");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    if time.is_some() {
        // Reopen on the device's own clock (joining uses the system one).
        drop(vault);
        vault = open(dir.path(), &keys, time);
    }
    Device { vault, remote: remote.with_token(session.token), keys, dir }
}

/// The server's latest revision and tombstone flag of every note of the
/// account behind `remote`.
async fn on_server(remote: &Remote) -> BTreeMap<Uuid, (u64, bool)> {
    let mut out = BTreeMap::new();
    let mut cursor = 0;
    loop {
        let page = remote.pull(cursor, 1000).await.expect("pull");
        for c in &page.changes {
            out.insert(c.note_id, (c.rev, c.deleted));
        }
        cursor = page.next_cursor;
        if !page.more {
            return out;
        }
    }
}

/// Wait until the server at `url` refuses connections (a stopped server
/// closes its port a moment after it is told to stop).
async fn refused(url: &str) {
    let addr = url.trim_start_matches("http://").to_owned();
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the server at {url} still accepts connections");
}

/// Every byte of every file in `dir`, by name.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

// ---- Item 9: an empty, vanished or reset server, and a stale device ----

/// Joplin #883 ("Sync is very happy to delete your notebooks"): after the
/// files of the sync target were deleted, or the app was pointed at a fresh
/// target, the next sync deleted the user's notes. Here the server a device
/// synced with disappears, then an empty server takes its place and the
/// device registers there: absence on a server is never a delete, so every
/// note stays, and nothing queued is dropped or marked failed.
#[tokio::test]
async fn an_empty_or_vanished_server_never_makes_a_device_delete_its_notes() {
    let old = common::server().await;
    let mut a = first_device(&old.url, "hana", None).await;
    let ids: Vec<Uuid> = (0..12).map(|i| a.create(&format!("note {i}"), &format!("body {i}\n"))).collect();
    a.sync().await;
    let mut b = joining_device(&old.url, "hana", None).await;
    assert_eq!(b.sync().await.pulled, 12);
    a.edit(ids[0], body_patch("body 0\nedited after the last sync\n"));

    // The server vanishes (its data with it).
    let gone = old.url.clone();
    drop(old);
    refused(&gone).await;
    for d in [&mut a, &mut b] {
        let e = sync_once(&mut d.vault, &d.remote).await.expect_err("no server");
        assert_eq!(e.code(), "network", "{e}");
        assert_eq!(d.live().len(), 12, "a vanished server deletes nothing");
    }

    // An empty server in its place (reset, or a fresh one): a registers
    // this store there and syncs.
    let fresh = common::server().await;
    let remote = Remote::new(&fresh.url).expect("remote");
    account::register_with(&mut a.vault, &remote, "hana", PASS, KdfParams::insecure_for_tests())
        .await
        .expect("register");
    a.remote = remote.with_token(a.vault.session_token().expect("token").expect("logged in"));
    let outcome = sync_once(&mut a.vault, &a.remote).await;
    let mut expect = ids.clone();
    expect.sort();
    assert_eq!(a.live(), expect, "an empty server deletes nothing ({outcome:?})");
    let s = a.vault.status().expect("status");
    assert_eq!((s.notes, s.tombstones, s.failed), (12, 0, 0), "{s:?}");
    assert_eq!(a.body(ids[0]), "body 0\nedited after the last sync\n", "the unsent edit is kept");
    // Whatever reached the empty server, no note there is a tombstone.
    assert!(on_server(&a.remote).await.values().all(|&(_, deleted)| !deleted));
}

/// Joplin #883, second scenario, and #5536 ("Changed syncing target, all
/// notebooks lost"): a device that kept its notes meets a server that lost
/// them (reset, restored from an old backup, replaced by an empty one). The
/// notes must reach that server again, so a device that joins it gets them
/// (DESIGN.md items 4 and 9). Here the server lost the account too, and the
/// device registers its store there again: the store now syncs with
/// another account, forgets what it believed the old server held and
/// queues every note (`Vault::set_account`). A server that kept the
/// account but lost changes is the next test.
#[tokio::test]
async fn a_reset_server_gets_back_the_notes_a_device_kept() {
    let old = common::server().await;
    let mut a = first_device(&old.url, "ines", None).await;
    for i in 0..5 {
        a.create(&format!("note {i}"), "kept\n");
    }
    let gone = a.create("deleted before the reset", "x\n");
    a.sync().await;
    a.vault.delete(gone).expect("delete");
    a.sync().await;
    drop(old);

    let fresh = common::server().await;
    let remote = Remote::new(&fresh.url).expect("remote");
    account::register_with(&mut a.vault, &remote, "ines", PASS, KdfParams::insecure_for_tests())
        .await
        .expect("register");
    a.remote = remote.with_token(a.vault.session_token().expect("token").expect("logged in"));
    assert_eq!(a.vault.status().expect("status").pending, 6, "every note, and the delete, queued for the new server");
    let r = a.sync().await;
    assert_eq!((r.pushed, r.push_conflicts, r.conflicts_opened), (6, 0, 0), "{r:?}");
    let mut c = joining_device(&fresh.url, "ines", None).await;
    c.sync().await;
    assert_eq!(c.live().len(), 5);
    assert_eq!(c.live(), a.live(), "the device that kept the notes filled the reset server");
    assert!(on_server(&c.remote).await[&gone].1, "the delete reached it as a tombstone");
}

/// The same failure when the server keeps the account but goes back in
/// time (restored from last night's backup): DESIGN.md items 3, 4 and 9.
/// A device that synced after the backup holds a pull cursor past the
/// restored server's sequence, which answers `cursor_out_of_range`; the
/// device's ordinary sync pass then forgets what it believed the server
/// held, sends every note again and pulls from the start. The versions the
/// restored server still has are ones the device agreed on before, so its
/// own newer versions go on top of them: no conflict, no rollback, and a
/// delete the server forgot is not undone by the old copy.
#[tokio::test]
async fn a_server_restored_from_an_older_backup_gets_back_what_a_device_kept() {
    let mut srv = common::server().await;
    let mut a = first_device(&srv.url, "noor", None).await;
    let x = a.create("Plan v1", "line one\n");
    let w = a.create("Untouched", "the same since the backup\n");
    let z = a.create("Doomed", "deleted after the backup\n");
    a.sync().await;
    let backup = srv.backup();

    // After the backup: x rewritten (a changed line and a new one), a new
    // note, a delete, and a note made, synced and deleted.
    a.edit(
        x,
        NotePatch {
            title: Some("Plan v2".into()),
            body: Some("line one, rewritten\nline two\n".into()),
            ..Default::default()
        },
    );
    let y = a.create("New", "written after the backup\n");
    a.vault.delete(z).expect("delete");
    let brief = a.create("Brief", "made and deleted after the backup\n");
    a.sync().await;
    a.vault.delete(brief).expect("delete");
    a.sync().await;

    srv.restore(&backup).await;
    let restored = on_server(&a.remote).await;
    assert_eq!(restored.keys().copied().collect::<Vec<_>>().len(), 3, "the server went back to the backup");
    assert!(!restored[&z].1, "z is live again on the server");

    // One ordinary pass, no user action.
    let r = a.sync().await;
    assert!(r.server_reset, "{r:?}");
    assert_eq!(r.requeued, 5, "every note, live or deleted: {r:?}");
    assert_eq!(r.fast_forwarded, 2, "x and z: the server's versions are older ones a had: {r:?}");
    assert_eq!((r.conflicts_opened, r.restored), (0, 0), "nothing to ask, nothing brought back: {r:?}");
    let s = a.vault.status().expect("status");
    assert_eq!((s.notes, s.tombstones, s.pending, s.failed, s.open_conflicts), (3, 2, 0, 0, 0), "{s:?}");
    assert!(a.vault.conflicts(true).expect("conflicts").is_empty(), "no conflict record either");
    assert!(a.vault.last_server_reset().expect("reset time").is_some());
    assert_eq!((a.title(x), a.body(x)), ("Plan v2".to_owned(), "line one, rewritten\nline two\n".to_owned()));

    let on = on_server(&a.remote).await;
    assert_eq!(on.len(), 5, "{on:?}");
    assert!(on[&z].1 && on[&brief].1, "both deletes are on the server: {on:?}");
    assert!(!on[&x].1 && !on[&y].1 && !on[&w].1, "{on:?}");

    // A device that joins now sees exactly what a kept.
    let mut b = joining_device(&srv.url, "noor", None).await;
    b.sync().await;
    assert_eq!(b.live(), a.live());
    assert_eq!((b.title(x), b.body(x)), ("Plan v2".to_owned(), "line one, rewritten\nline two\n".to_owned()));
    assert_eq!(b.body(y), "written after the backup\n");
    assert_eq!(b.body(w), "the same since the backup\n");
    assert!(b.vault.get(z).is_err() && b.vault.get(brief).is_err(), "deletes stay deletes");

    // And then sync is back to normal: nothing moves, no second reset.
    let again = a.sync().await;
    assert_eq!((again.pushed, again.pulled, again.server_reset), (0, 0, false), "{again:?}");
    b.edit(y, body_patch("written after the backup\nand edited on b\n"));
    b.sync().await;
    assert_eq!(a.sync().await.pulled, 1);
    assert_eq!(a.body(y), "written after the backup\nand edited on b\n");
}

/// A restored server may already hold a newer version than the one it was
/// restored with: another device, whose last sync was before the backup,
/// edited a note on it before this device came back. That version is not
/// one this device ever had, so it is merged with the device's own through
/// the usual merge, never overwritten (DESIGN.md item 3): both edits end up
/// in the note on every device, and the user is asked about the overlap.
#[tokio::test]
async fn a_restored_server_never_has_a_newer_version_overwritten() {
    let mut srv = common::server().await;
    let mut a = first_device(&srv.url, "omar", None).await;
    let x = a.create("Shared", "line one\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "omar", None).await;
    b.sync().await;
    let backup = srv.backup();

    // a goes on after the backup (its cursor moves well past it)...
    a.edit(x, body_patch("line one\nline two from a\n"));
    let y = a.create("Later", "after the backup\n");
    a.create("Later still", "after the backup\n");
    a.sync().await;
    srv.restore(&backup).await;

    // ...b, last synced before the backup, edits x on the restored server.
    b.edit(x, body_patch("line one\nline two from b\n"));
    let rb = b.sync().await;
    assert!(!rb.server_reset, "b's cursor is within the restored server's: {rb:?}");
    assert_eq!(rb.pushed, 1, "{rb:?}");

    let ra = a.sync().await;
    assert!(ra.server_reset, "{ra:?}");
    assert_eq!(ra.fast_forwarded, 0, "b's version is not one a had: {ra:?}");
    assert_eq!(ra.conflicts_opened, 1, "{ra:?}");
    let merged = a.body(x);
    assert!(merged.contains("line two from a") && merged.contains("line two from b"), "{merged}");
    let conflict = &a.vault.conflicts(false).expect("conflicts")[0];
    assert_eq!(conflict.note_id, x);
    assert_eq!(
        (conflict.mine.body.as_str(), conflict.theirs.body.as_str()),
        ("line one\nline two from a\n", "line one\nline two from b\n")
    );

    b.sync().await;
    assert_eq!(b.body(x), merged, "both devices hold both edits");
    assert_eq!(b.body(y), "after the backup\n", "and b gets what only a had");
    assert_eq!(b.live(), a.live());
}

/// An applied push sets the note's server revision to what the server
/// answered, even below what the device believed. A server restored from
/// an older backup, unnoticed (other devices pushed past this device's
/// cursor first), numbers a note's revisions again from where the backup
/// left it. Keeping the higher believed revision (`max`, as a duplicate
/// answer rightly does) made the device skip every later change of that
/// note up to the old number: another device's edit never arrived.
#[tokio::test]
async fn an_applied_push_takes_the_servers_revision_even_below_the_old_one() {
    let mut srv = common::server().await;
    let mut a = first_device(&srv.url, "rosa", None).await;
    a.create("Pad", "before the backup\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "rosa", None).await;
    b.sync().await;
    let backup = srv.backup();

    // x reaches revision 3 after the backup.
    let x = a.create("Shared", "one\n");
    a.sync().await;
    for body in ["one\ntwo\n", "one\ntwo\nthree\n"] {
        a.edit(x, body_patch(body));
        a.sync().await;
    }
    assert_eq!(a.vault.get(x).expect("x").server_rev, Some(3));
    srv.restore(&backup).await;
    // b, synced before the backup, pushes past a's cursor: the restore goes
    // unseen by a.
    for i in 0..4 {
        b.create(&format!("From b {i}"), "after the restore\n");
    }
    assert!(!b.sync().await.server_reset);

    // The restored server has no x: a's edit is refused, sent again as new,
    // and applied as revision 1.
    a.edit(x, body_patch("one\ntwo\nthree\nfour\n"));
    let r = a.sync().await;
    assert!(!r.server_reset, "{r:?}");
    assert_eq!((r.push_conflicts, r.pushed), (1, 1), "{r:?}");
    assert_eq!(a.vault.get(x).expect("x").server_rev, Some(1), "the server's revision, as it answered");

    // b edits x (revision 2); a must get it.
    b.sync().await;
    b.edit(x, body_patch("one\ntwo\nthree\nfour\nfive from b\n"));
    b.sync().await;
    let r = a.sync().await;
    assert_eq!(r.pulled, 1, "{r:?}");
    assert_eq!(a.body(x), "one\ntwo\nthree\nfour\nfive from b\n");
    assert_eq!(a.vault.get(x).expect("x").server_rev, Some(2));
}

/// No echo never costs another device's change. The device names the seqs
/// of its own recorded pushes for the pull to leave out; a server restored
/// from an older backup, unnoticed, hands those numbers out again to other
/// devices. The server leaves a version out only if the asking session
/// wrote it, so the other device's version at a reused seq still comes.
#[tokio::test]
async fn a_reused_seq_after_an_unnoticed_restore_is_not_skipped() {
    let mut srv = common::server().await;
    let mut a = first_device(&srv.url, "sami", None).await;
    a.create("Pad", "before the backup\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "sami", None).await;
    b.sync().await;
    let backup = srv.backup();

    // a pushes x (seq 2) and records the answer, but does not pull yet.
    a.create("Lost", "after the backup\n");
    let batch = a.vault.take_push_batch(10).expect("batch");
    let resp = a.remote.push(batch.iter().map(|p| p.op.clone()).collect()).await.expect("push");
    assert!(matches!(resp.results[..], [PushResult::Applied { seq: 2, .. }]), "{resp:?}");
    a.vault.apply_push_results(&batch, &resp.results).expect("record");
    assert_eq!(a.vault.pull_skip().expect("skip").ranges(), &[(2, 2)]);

    srv.restore(&backup).await;
    // b's note gets seq 2 again.
    let y = b.create("From b", "at a reused seq\n");
    let r = b.sync().await;
    assert_eq!(r.pushed, 1, "{r:?}");
    assert_eq!(on_server(&b.remote).await[&y].0, 1);

    let r = a.sync().await;
    assert!(!r.server_reset, "a's cursor (1) is inside the restored range: {r:?}");
    assert_eq!(r.pulled, 1, "b's note at the seq a recorded as its own: {r:?}");
    assert_eq!(a.body(y), "at a reused seq\n");
    assert!(a.vault.pull_skip().expect("skip").is_empty(), "the cursor passed it");
}

/// Joplin #883 and #4223 (DESIGN.md item 9), Standard Notes forum #367 (an
/// app that had been away synced its "deficient version" to every other
/// device): a device that was away for a month comes back with an old edit
/// of a note that others changed several times since. The server refuses the
/// stale change (its base revision is old), the device merges, and every
/// newer change survives; under last-writer-wins the newer change wins by
/// clock stamp although the stale device synced last.
#[tokio::test]
async fn a_stale_device_merges_into_newer_data_instead_of_overwriting_it() {
    let srv = common::server().await;
    let t0 = now_ms();
    let (ta, ts) = (ManualTime::new(t0), ManualTime::new(t0));
    let mut a = first_device(&srv.url, "jo", Some(&ta)).await;
    let x = a.create("Plan", "one\ntwo\nthree\n");
    let y = a.create("Other", "untouched\n");
    let z = a.create("Whole", "first\n");
    a.sync().await;
    let mut s = joining_device(&srv.url, "jo", Some(&ts)).await;
    s.sync().await;
    s.vault.set_note_conflict_strategy(z, Some(Strategy::LastWriterWins)).expect("strategy");

    // The stale device's edits, then a month away.
    ts.set(t0 + MINUTE_MS);
    s.edit(x, body_patch("one\ntwo\nthree, from the stale device\n"));
    s.edit(z, NotePatch { title: Some("Stale title".into()), body: Some("stale\n".into()), ..Default::default() });

    // Meanwhile: several newer changes, each synced.
    ta.set(t0 + DAY_MS);
    a.edit(x, title_patch("Plan v2"));
    a.sync().await;
    ta.set(t0 + 2 * DAY_MS);
    a.edit(x, body_patch("ONE, newer\ntwo\nthree\n"));
    a.edit(y, body_patch("untouched until now\n"));
    a.edit(z, title_patch("Newer title"));
    a.sync().await;
    let before = on_server(&a.remote).await;
    assert_eq!(before[&x].0, 3);

    ts.set(t0 + 30 * DAY_MS);
    let r = s.sync().await;
    assert_eq!(r.push_conflicts, 2, "both stale changes were refused, not applied over newer ones: {r:?}");
    a.sync().await;
    for d in [&a, &s] {
        assert_eq!(d.title(x), "Plan v2", "the newer rename survives");
        assert_eq!(d.body(x), "ONE, newer\ntwo\nthree, from the stale device\n", "both body edits survive");
        assert_eq!(d.body(y), "untouched until now\n", "a note the stale device did not touch is not rolled back");
        assert_eq!((d.title(z), d.body(z)), ("Newer title".to_owned(), "first\n".to_owned()), "newer wins whole");
    }
    // The losing stale version of z is kept, readable, as a settled conflict.
    let history = s.vault.conflicts(true).expect("conflicts");
    let lost = history.iter().find(|c| c.note_id == z).expect("z's conflict record");
    assert_eq!((lost.kind.as_str(), lost.resolution.as_deref()), ("last_writer_wins", Some("theirs")));
    assert_eq!(lost.mine.body, "stale\n");
    let after = on_server(&a.remote).await;
    assert_eq!(after[&y], before[&y], "the stale device sent nothing for y");
    assert_eq!(after[&x].0, 4, "x: create, two edits, one merge");
}

// ---- Ordering by device clocks ----

/// Joplin #5738 ("Infinite note conflicts if client and server time is
/// different") and the many sync bugs that order changes by device wall
/// clocks. A device whose clock runs a day behind merges another device's
/// rename into its own edit (the server refused its push as a conflict).
/// The merge happens after the rename it contains, so its stamp must order
/// after that rename's: otherwise the rename is re-stamped a day old, and a
/// third device's rename made fifty minutes *earlier* wins over it.
#[tokio::test]
async fn a_merge_on_a_slow_clock_device_orders_after_the_change_it_merged() {
    let srv = common::server().await;
    let t0 = now_ms();
    let (ta, ts, tc) = (ManualTime::new(t0), ManualTime::new(t0 - DAY_MS), ManualTime::new(t0));
    let mut a = first_device(&srv.url, "kai", Some(&ta)).await;
    let x = a.create("Draft", "one\ntwo\n");
    a.sync().await;
    let mut s = joining_device(&srv.url, "kai", Some(&ts)).await;
    s.sync().await;
    let mut c = joining_device(&srv.url, "kai", Some(&tc)).await;
    c.sync().await;

    tc.set(t0 + 10 * MINUTE_MS);
    c.edit(x, title_patch("c's earlier title"));
    ta.set(t0 + 60 * MINUTE_MS);
    a.edit(x, title_patch("a's later title"));
    a.sync().await;
    let renamed = a.vault.get(x).expect("get").hlc;

    // The slow device edits the body; its push meets a's rename and merges.
    ts.set(t0 - DAY_MS + 61 * MINUTE_MS);
    s.edit(x, body_patch("one\ntwo\nthree\n"));
    let r = s.sync().await;
    assert_eq!((r.push_conflicts, r.merged), (1, 1), "{r:?}");
    let merged = s.vault.get(x).expect("get");
    assert_eq!(merged.title, "a's later title");

    tc.set(t0 + 70 * MINUTE_MS);
    c.sync().await;
    for _ in 0..2 {
        a.sync().await;
        s.sync().await;
        c.sync().await;
    }
    let titles: Vec<String> = [&a, &s, &c].iter().map(|d| d.title(x)).collect();
    assert!(titles.iter().all(|t| *t == titles[0]), "converged: {titles:?}");
    assert!(
        merged.hlc > renamed,
        "the merge is stamped {} although it contains a change stamped {renamed}; titles now {titles:?}",
        merged.hlc
    );
    assert_eq!(titles[0], "a's later title", "the later of two concurrent renames wins, by stamp");
    assert_eq!(a.body(x), "one\ntwo\nthree\n");
}

// ---- Duplicate notes from conflicts ----

/// Standard Notes forum #88, #338 and #678: a sync conflict made a
/// "conflicted copy", so notes multiplied on every device. Here two devices
/// make overlapping edits of one note (title and the same line of the body),
/// a third joins in the middle: every device ends with exactly one note, the
/// server holds one, both versions are in it and in the conflict, and
/// settling the conflict adds no note either.
#[tokio::test]
async fn conflicting_edits_never_duplicate_a_note() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "lea", None).await;
    let id = a.create("Groceries", "milk\nbread\neggs\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "lea", None).await;
    b.sync().await;

    a.edit(
        id,
        NotePatch {
            title: Some("Groceries (a)".into()),
            body: Some("milk\nrye bread\neggs\n".into()),
            ..Default::default()
        },
    );
    b.edit(
        id,
        NotePatch {
            title: Some("Groceries (b)".into()),
            body: Some("milk\nwhite bread\neggs\n".into()),
            ..Default::default()
        },
    );
    a.sync().await;
    let r = b.sync().await;
    assert_eq!((r.merged, r.conflicts_opened), (1, 1), "{r:?}");
    a.sync().await;
    let mut c = joining_device(&srv.url, "lea", None).await;
    c.sync().await;

    for (name, d) in [("a", &a), ("b", &b), ("c", &c)] {
        assert_eq!(d.vault.all_ids().expect("ids"), vec![(id, false)], "{name}: one note, no copy, no tombstone");
        let body = d.body(id);
        assert!(body.contains("rye bread") && body.contains("white bread"), "{name}: both versions kept: {body:?}");
    }
    assert_eq!(on_server(&a.remote).await.len(), 1, "one note on the server");
    let conflict = b.vault.conflicts(false).expect("conflicts").pop().expect("an open conflict on b");
    assert_eq!((conflict.note_id, conflict.mine.body.as_str()), (id, "milk\nwhite bread\neggs\n"));

    b.vault
        .resolve_conflict(conflict.id, Resolution::Merged("milk\nrye and white bread\neggs\n".into()))
        .expect("settle");
    for _ in 0..2 {
        b.sync().await;
        a.sync().await;
        c.sync().await;
    }
    for d in [&a, &b, &c] {
        assert_eq!(d.live(), vec![id]);
        assert_eq!(d.body(id), "milk\nrye and white bread\neggs\n");
        assert_eq!(d.vault.status().expect("status").open_conflicts, 0);
    }
    assert_eq!(on_server(&a.remote).await.len(), 1);
}

// ---- Item 11: signing out ----

/// Standard Notes forum #1171 ("Lost unsynced changes after signing out of
/// account"). A device with unsent changes (a new note, an edit, a delete,
/// and a change whose push was sent but never answered) signs out, tries
/// to join another account, and signs in again: nothing is dropped on the
/// way, and all of it reaches the other device.
#[tokio::test]
async fn signing_out_keeps_unsent_changes_and_they_sync_after_signing_in_again() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "mia", None).await;
    let kept = a.create("Kept", "v1\n");
    let gone = a.create("Gone", "soon deleted\n");
    let sent = a.create("Sent", "v1\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "mia", None).await;
    b.sync().await;

    let new = a.create("Written offline", "unsent\n");
    a.edit(kept, body_patch("v1\nedited offline\n"));
    a.vault.delete(gone).expect("delete");
    a.edit(sent, body_patch("v1\nsent, answer never came\n"));
    // The last edit's push leaves but is never answered (the network dies).
    let lost = a.vault.take_push_batch(100).expect("batch");
    assert_eq!(lost.len(), 4);
    assert_eq!(a.vault.status().expect("status").pending, 4);

    // Sign out: the server forgets the session, the device forgets its token.
    a.remote.logout().await.expect("log out");
    a.vault.clear_session().expect("clear session");
    assert!(a.vault.session_token().expect("token").is_none());
    let account = a.vault.account().expect("account").expect("the account is remembered");
    let e = sync_once(&mut a.vault, &Remote::new(&srv.url).expect("remote")).await.expect_err("signed out");
    assert_eq!(e.code(), "network", "{e}");
    let s = a.vault.status().expect("status");
    assert_eq!((s.pending, s.failed, s.notes, s.tombstones), (4, 0, 3, 1), "{s:?}");

    // Joining another account from this store is refused and changes nothing.
    let other = common::server().await;
    let mut stranger = first_device(&other.url, "someone-else", None).await;
    stranger.create("theirs", "x\n");
    let remote = Remote::new(&other.url).expect("remote");
    let (other_key, _) =
        account::log_in_with(&remote, "someone-else", PASS, &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let dir = a.dir.path().to_owned();
    drop(a.vault);
    let err = Vault::open_for_account(&dir, &a.keys, other_key).expect_err("another account's key is refused");
    assert!(err.to_string().contains("its own key"), "{err}");

    // Sign in again to the same account: everything goes up.
    let remote = Remote::new(&account.server).expect("remote");
    let (key, session) = account::log_in_with(&remote, &account.username, PASS, &KdfPolicy::insecure_for_tests())
        .await
        .expect("log in again");
    a.vault = Vault::open_for_account(&dir, &a.keys, key).expect("same account, same key");
    assert_eq!(a.vault.status().expect("status").pending, 4, "nothing dropped by signing out");
    account::remember(&mut a.vault, &remote, &account.username, &session).expect("remember");
    a.remote = remote.with_token(session.token);
    let r = a.sync().await;
    assert_eq!(r.pushed + r.duplicates, 4, "{r:?}");
    assert_eq!(a.vault.status().expect("status").pending, 0);

    b.sync().await;
    assert_eq!(b.body(new), "unsent\n");
    assert_eq!(b.body(kept), "v1\nedited offline\n");
    assert_eq!(b.body(sent), "v1\nsent, answer never came\n");
    assert!(b.vault.get(gone).is_err(), "the delete arrived too");
}

// ---- Corruption after a crash or a migration ----

/// Rebuild the schema-1 store a previous release would have left: undo
/// every later migration in place, data kept (as `tests/store.rs` does).
fn downgrade_to_v1(dir: &Path) {
    let conn = rusqlite::Connection::open(store::db_path(dir)).expect("raw open");
    conn.execute_batch(&common::undo_to_v1()).expect("downgrade");
    assert_eq!(migrate::status(&conn).expect("status").current, 1);
    assert!(migrate::check(&conn).expect("check").is_empty(), "a faithful v1 schema");
}

/// Signal-Desktop #7090 ("Upgrade to 7.33 corrupted database; downgrade did
/// not help") and the class of app updates that leave a half-migrated
/// store. A store of the previous schema is upgraded while the disk fails
/// at each write and sync of the upgrade in turn (as a crash or a full disk
/// would stop it there): the store is left at a whole schema version with
/// no drift, passes `PRAGMA integrity_check`, and opens afterwards with
/// every note.
#[test]
fn an_interrupted_migration_leaves_a_whole_store_that_opens_later() {
    let base = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let notes: Vec<(Uuid, String)> = {
        let mut v = Vault::open(base.path(), &keys).expect("open");
        (0..20)
            .map(|i| {
                let body = format!("note {i}: {}", "words of a note that fill a page. ".repeat(20));
                (v.create(draft(&format!("note {i}"), &body)).expect("create").id, body)
            })
            .collect()
    };
    downgrade_to_v1(base.path());

    let vfs = FaultVfs::register().expect("register the fault VFS");
    let points = {
        let dir = common::copy_store(base.path());
        vfs.count();
        drop(Vault::open_with_vfs(dir.path(), &keys, vfs.name()).expect("a clean upgrade"));
        vfs.counts().points()
    };
    assert!(points > 4, "an upgrade writes and syncs ({points} fault points)");
    let mut failed = 0;
    for at in 1..=points {
        for persistence in [Persistence::Once, Persistence::Persistent] {
            let what = format!("fault point {at} of {points}, {persistence:?}");
            let dir = common::copy_store(base.path());
            vfs.arm(Fault { at, inject: Inject::IoErr, persistence });
            // The fault stays armed through closing the store, so the
            // checkpoint on close can be the call that fails.
            match Vault::open_with_vfs(dir.path(), &keys, vfs.name()) {
                Err(e) => {
                    failed += 1;
                    assert!(!matches!(e, Error::Corrupt(_) | Error::NotADatabase { .. }), "{what}: {e}");
                }
                Ok(v) => drop(v),
            }
            assert!(vfs.counts().injected >= 1, "{what}: the fault was hit");
            vfs.disarm();
            // Left at a whole version: no half-applied migration.
            {
                let conn = rusqlite::Connection::open(store::db_path(dir.path())).expect("raw open");
                common::integrity_ok(&conn);
                let version = migrate::status(&conn).expect("status").current;
                assert!((1..=migrate::latest_version()).contains(&version), "{what}: version {version}");
                assert_eq!(migrate::check(&conn).expect("check"), vec![], "{what}: drift at version {version}");
            }
            // And it opens, upgrades and holds every note.
            let v = Vault::open(dir.path(), &keys).unwrap_or_else(|e| panic!("{what}: the store does not open: {e}"));
            assert_eq!(migrate::status(v.connection()).expect("status").current, migrate::latest_version(), "{what}");
            common::integrity_ok(v.connection());
            for (id, body) in &notes {
                assert_eq!(&v.get(*id).unwrap_or_else(|e| panic!("{what}: note lost: {e}")).body, body, "{what}");
            }
        }
    }
    assert!(failed > 0, "some faults stopped the upgrade");
    eprintln!("{} faulted upgrades over {points} fault points, {failed} reported an error", points * 2);
}

// ---- Item 10: a keyring that changed ----

/// An OS keyring stand-in: one secret per store, which a test can swap as
/// a changed keyring backend would.
#[derive(Debug, Default)]
struct FakeKeyring(Mutex<HashMap<String, DataKey>>);

impl FakeKeyring {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, DataKey>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeyStore for FakeKeyring {
    fn method(&self) -> Method {
        Method::Keyring
    }
    fn enroll(&self, vault_id: &str, key: &DataKey) -> Result<Slot, KeyError> {
        self.entries().insert(vault_id.to_owned(), key.clone());
        Ok(Slot::default())
    }
    fn unlock(&self, vault_id: &str, _key_id: KeyId, _slot: &Slot) -> Result<DataKey, KeyError> {
        self.entries().get(vault_id).cloned().ok_or(KeyError::KeyringEntryMissing)
    }
}

/// Signal-Desktop #5097 (after the key could not be used, the database was
/// recreated, empty and unencrypted) and #7005 (a changed keyring gave back
/// a key that did not decrypt, and the app came up empty). The keyring
/// entry of a store is replaced by another key, then emptied: each open
/// fails closed with a message that says what happened, and not a byte of
/// the store changes, no key is made, nothing is written in plaintext. With
/// the right key back, every note is there.
#[test]
fn a_keyring_that_changed_fails_closed_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = FakeKeyring::default();
    let secret = "a secret line that must never reach the disk in plaintext";
    let ids: Vec<Uuid> = {
        let mut v = Vault::open(dir.path(), &keyring).expect("create under the keyring");
        (0..5).map(|i| v.create(draft(&format!("note {i}"), secret)).expect("create").id).collect()
    };
    let before = snapshot(dir.path());
    let original = keyring.entries().clone();
    let (vault_id, key) = original.iter().next().expect("one entry");

    // The backend changed: the same entry name holds another key.
    keyring.entries().insert(vault_id.clone(), DataKey::from_parts(key.id(), [7u8; 32]));
    let err = Vault::open(dir.path(), &keyring).expect_err("another key");
    assert!(matches!(err, Error::Key(KeyError::WrongKey)), "{err}");
    assert_eq!(err.code(), "key_unavailable");
    assert!(err.to_string().contains("different key") && err.to_string().contains("Nothing was changed"), "{err}");
    assert_eq!(snapshot(dir.path()), before, "a refused key changes not a byte");

    // The backend lost the entry altogether.
    keyring.entries().clear();
    let err = Vault::open(dir.path(), &keyring).expect_err("no key");
    assert!(matches!(err, Error::Key(KeyError::KeyringEntryMissing)), "{err}");
    assert!(err.to_string().contains("Restore the keyring"), "says how to recover: {err}");
    assert_eq!(snapshot(dir.path()), before, "a missing key changes not a byte");
    assert!(keyring.entries().is_empty(), "no new key was enrolled");
    for (path, bytes) in &before {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds plaintext", path.display());
    }

    *keyring.entries() = original;
    let v = Vault::open(dir.path(), &keyring).expect("the right key opens the store");
    for id in ids {
        assert_eq!(v.get(id).expect("kept").body, secret);
    }
    let keys: i64 = v.connection().query_row("SELECT count(*) FROM keys", [], |r| r.get(0)).expect("keys");
    assert_eq!(keys, 1, "still the one key");
}

// ---- Truncated blobs ----

/// Joplin #4472 ("Corrupted Dropbox API attachment downloads": cut-short
/// downloads, then "some items cannot be decrypted"). The server holds two
/// changes cut short (one loses the end of its body ciphertext, which the
/// framing cannot notice; one loses its framing) beside a good one. A
/// device that pulls them stores neither, says so in its report and keeps
/// them aside, and applies the good one.
#[tokio::test]
async fn truncated_ciphertext_from_the_server_is_reported_and_never_stored() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "noa", None).await;
    let good = a.create("Good", "whole\n");
    a.sync().await;

    // A device of the account uploads two notes whose payloads were cut.
    let mut w = joining_device(&srv.url, "noa", None).await;
    let cut_tag = w.create("Cut in the body", &"body text ".repeat(50));
    let cut_frame = w.create("Cut in the framing", "short\n");
    let batch = w.vault.take_push_batch(10).expect("batch");
    let ops: Vec<_> = batch
        .iter()
        .map(|p| {
            let mut op = p.op.clone();
            let keep = if op.note_id == cut_tag { op.payload.0.len() - 16 } else { 7 };
            op.payload.0.truncate(keep);
            op
        })
        .collect();
    let results = w.remote.push(ops).await.expect("push").results;
    assert!(results.iter().all(|r| matches!(r, PushResult::Applied { .. })), "the server stores opaque bytes");

    let mut b = joining_device(&srv.url, "noa", None).await;
    let r = b.sync().await;
    assert_eq!((r.pulled, r.undecryptable), (1, 2), "reported, not counted as pulled: {r:?}");
    assert_eq!(b.vault.all_ids().expect("ids"), vec![(good, false)], "nothing stored from a cut change");
    assert_eq!(b.body(good), "whole\n");
    for id in [cut_tag, cut_frame] {
        assert!(matches!(b.vault.get(id), Err(Error::NoteNotFound(_))), "{id} is not shown as a note");
    }
    let aside = b.vault.quarantined().expect("quarantine");
    let reasons: HashMap<Uuid, &str> = aside.iter().map(|q| (q.note_id, q.error.as_str())).collect();
    assert_eq!(reasons.len(), 2, "{aside:?}");
    assert!(reasons[&cut_tag].contains("could not be decrypted"), "{}", reasons[&cut_tag]);
    assert!(reasons[&cut_frame].contains("truncated"), "{}", reasons[&cut_frame]);
    let s = b.vault.status().expect("status");
    assert_eq!((s.notes, s.pending, s.failed), (1, 0, 0), "{s:?}");
}

/// The same cut change met on the other path: a device pushes an edit, and
/// the server refuses it as a conflict carrying the current version, which
/// was stored cut short. Like a pulled change that does not open, it must
/// not stop the device's sync: the local edit is kept, and changes to other
/// notes still arrive.
#[tokio::test]
async fn a_cut_server_version_met_by_a_push_does_not_stop_sync() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "ros", None).await;
    let x = a.create("Shared", "v1\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "ros", None).await;
    b.sync().await;

    // Another device's edit of x reaches the server cut short (rev 2).
    let mut w = joining_device(&srv.url, "ros", None).await;
    w.sync().await;
    w.edit(x, body_patch("v1\nfrom w\n"));
    let mut op = w.vault.take_push_batch(10).expect("batch").remove(0).op;
    let keep = op.payload.0.len() - 16;
    op.payload.0.truncate(keep);
    let results = w.remote.push(vec![op]).await.expect("push").results;
    assert!(matches!(results[..], [PushResult::Applied { rev: 2, .. }]), "{results:?}");

    // b edits x (base rev 1); a creates an unrelated note.
    b.edit(x, body_patch("v1\nfrom b\n"));
    let y = a.create("Unrelated", "y\n");
    a.sync().await;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(sync_once(&mut b.vault, &b.remote).await.map(|r| r.pulled).map_err(|e| e.to_string()));
    }
    assert_eq!(b.body(x), "v1\nfrom b\n", "the local edit is kept");
    assert!(b.vault.get(y).is_ok(), "other notes still arrive; passes: {outcomes:?}");
    // b's version replaced the cut one on the server: the others get it.
    assert_eq!(b.vault.status().expect("status").pending, 0, "b's edit was sent; passes: {outcomes:?}");
    a.sync().await;
    assert_eq!(a.body(x), "v1\nfrom b\n");
}

/// A fake server on 127.0.0.1 that answers every request with `answer`.
async fn fake_server(answer: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    url
}

fn http_answer(declared_len: usize, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {declared_len}\r\nconnection: close\r\n\r\n",
        Encoding::Postcard.media_type()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The same failure one layer down: the answer to a pull is cut short, by
/// a proxy that ends the body early (declared length honest, content cut)
/// or by a connection that dies mid-body (fewer bytes than declared). The
/// pass fails with an error; nothing is stored, the cursor stays, and no
/// sync is recorded as done.
#[tokio::test]
async fn a_pull_answer_cut_short_is_an_error_and_changes_nothing() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "oli", None).await;
    for i in 0..3 {
        a.create(&format!("note {i}"), &"a line of text\n".repeat(20));
    }
    a.sync().await;
    let page = a.remote.pull(0, 100).await.expect("a real page");
    let whole = Encoding::Postcard.encode(&page).expect("encode");

    let half = &whole[..whole.len() / 2];
    for (what, answer) in
        [("cut body, honest length", http_answer(half.len(), half)), ("short body", http_answer(whole.len(), half))]
    {
        let url = fake_server(answer).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = MemoryStore::new();
        let mut vault = Vault::open(dir.path(), &keys).expect("open");
        let token = SessionToken("not-a-real-session".into());
        let account = Account { server: url.clone(), username: "oli".into(), user_id: "1".into() };
        vault.set_account(&account, &token).expect("account");
        let remote = Remote::new(&url).expect("remote").with_token(token);

        let err = sync_once(&mut vault, &remote).await.expect_err(what);
        assert!(matches!(err, Error::Remote(RemoteError::Decode(_) | RemoteError::Unreachable(_))), "{what}: {err:?}");
        assert_eq!(vault.cursor().expect("cursor"), 0, "{what}: the cursor stays");
        assert!(vault.all_ids().expect("ids").is_empty(), "{what}: nothing stored");
        assert_eq!(vault.status().expect("status").last_sync_at, None, "{what}: no sync recorded as done");
    }
}

// ---- Item 12: a double apply after a timeout ----

/// The classic double apply (a request retried after a timeout although the
/// server had committed it), in the case the basic tests do not reach:
/// between the lost answer and the resend, another device changed the same
/// note. The resend is recognised by its op id (not refused as a conflict
/// and merged again), so the appended line is there once, everywhere.
#[tokio::test]
async fn a_push_resent_after_a_lost_answer_applies_once_after_another_device_moved_on() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "pia", None).await;
    let id = a.create("Log", "first\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "pia", None).await;
    b.sync().await;

    a.edit(id, body_patch("first\nsecond\n"));
    let batch = a.vault.take_push_batch(10).expect("batch");
    let answer = a.remote.push(batch.iter().map(|p| p.op.clone()).collect()).await.expect("committed");
    assert!(matches!(answer.results[..], [PushResult::Applied { rev: 2, .. }]), "{answer:?}");
    // ... and the answer is lost: a still has the change queued.
    assert_eq!(a.vault.status().expect("status").pending, 1);

    b.sync().await;
    assert_eq!(b.body(id), "first\nsecond\n");
    b.edit(id, body_patch("first\nsecond\nthird\n"));
    b.sync().await;

    let r = a.sync().await;
    assert_eq!((r.pushed, r.duplicates, r.push_conflicts, r.merged), (0, 1, 0, 0), "{r:?}");
    b.sync().await;
    for d in [&a, &b] {
        assert_eq!(d.body(id), "first\nsecond\nthird\n", "each line once");
        let s = d.vault.status().expect("status");
        assert_eq!((s.pending, s.open_conflicts), (0, 0));
    }
    assert_eq!(on_server(&a.remote).await[&id], (3, false), "create, a's edit once, b's edit");
}

/// Every change the server holds for `note`, oldest first, as a token
/// holder (a compromised server, a stolen session) can read them.
async fn history(remote: &Remote, note: Uuid) -> Vec<Change> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let page = remote.pull(cursor, 500).await.expect("pull");
        out.extend(page.changes.iter().filter(|c| c.note_id == note).cloned());
        if !page.more {
            break;
        }
        cursor = page.next_cursor;
    }
    out
}

/// A token holder re-sends a change as if a device had made it.
async fn push_as(remote: &Remote, from: &Change, base_rev: u64, deleted: bool) -> u64 {
    let op = Op {
        op_id: Uuid::now_v7(),
        note_id: from.note_id,
        base_rev,
        hlc: from.hlc,
        deleted,
        payload: from.payload.clone(),
    };
    match remote.push(vec![op]).await.expect("push").results[..] {
        [PushResult::Applied { rev, .. }] => rev,
        ref other => panic!("the server should store it: {other:?}"),
    }
}

/// The delete flag travels beside the ciphertext, so a server (or anyone
/// with a session token) could flip it on a note's genuine payload and
/// every device would delete the note. A delete seals an empty title and
/// body, which only the key's holder can make: a flipped flag is set
/// aside and the note kept.
#[tokio::test]
async fn a_delete_flag_set_by_the_server_on_a_notes_content_deletes_nothing() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "ivy", None).await;
    let x = a.create("Keep me", "every word of it\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "ivy", None).await;
    b.sync().await;

    let latest = history(&a.remote, x).await.pop().expect("x on the server");
    let rev = push_as(&a.remote, &latest, latest.rev, true).await;
    assert_eq!(on_server(&a.remote).await[&x], (rev, true), "the server holds the forged tombstone");

    for d in [&mut a, &mut b] {
        let r = d.sync().await;
        assert_eq!(r.undecryptable, 1, "set aside: {r:?}");
        assert_eq!(d.body(x), "every word of it\n", "the note is kept");
        let aside = d.vault.quarantined().expect("quarantine");
        assert!(aside.iter().any(|q| q.note_id == x && q.error.contains("marked deleted")), "{aside:?}");
    }
    // A real delete still travels.
    a.vault.delete(x).expect("delete");
    a.sync().await;
    let r = b.sync().await;
    assert_eq!(r.undecryptable, 0, "{r:?}");
    assert!(matches!(b.vault.get(x), Err(Error::NoteNotFound(_))), "a device's own delete applies");
}

/// A token holder who kept an old version of a note sends it again as the
/// newest revision: without a check every device would roll the note back.
/// Its stamp is older than the version the devices hold, which no writer
/// can produce (each stamps after the version it replaces).
#[tokio::test]
async fn an_old_version_sent_again_does_not_roll_a_note_back() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "eli", None).await;
    let x = a.create("Plan", "first draft\n");
    a.sync().await;
    // The server answers only a note's latest version: keep this one.
    let old = history(&a.remote, x).await.pop().expect("x on the server");
    a.edit(x, body_patch("final text\n"));
    a.sync().await;
    let mut b = joining_device(&srv.url, "eli", None).await;
    b.sync().await;
    assert_eq!(b.body(x), "final text\n");

    let latest = history(&a.remote, x).await.pop().expect("x on the server");
    assert!(latest.rev > old.rev && latest.hlc > old.hlc, "{old:?} then {latest:?}");
    push_as(&a.remote, &old, latest.rev, false).await;

    for d in [&mut a, &mut b] {
        let r = d.sync().await;
        assert_eq!(r.undecryptable, 1, "set aside: {r:?}");
        assert_eq!(d.body(x), "final text\n", "not rolled back");
        let aside = d.vault.quarantined().expect("quarantine");
        assert!(aside.iter().any(|q| q.note_id == x && q.error.contains("older than")), "{aside:?}");
    }
    // Later genuine edits go on as usual.
    b.edit(x, body_patch("final text\nand one more line\n"));
    b.sync().await;
    a.sync().await;
    assert_eq!(a.body(x), "final text\nand one more line\n");
}

// ---- A change the server refused for good is still this device's work ----

/// An edit whose push the server refused for good (marked failed, shown to
/// the user) is an edit the server does not hold. A later version of the
/// same note from another device must merge with it, not overwrite it: the
/// words written here stay, and the merge goes up in its place. The same
/// for a delete from the other device: the unsent edit wins.
#[tokio::test]
async fn a_pull_merges_into_a_note_whose_change_the_server_refused_instead_of_overwriting_it() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "noor", None).await;
    let edited = a.create("Edited", "first line\nsecond line\nthird line\nfourth line\n");
    let deleted = a.create("Deleted", "keep me\n");
    a.sync().await;
    let mut b = joining_device(&srv.url, "noor", None).await;
    b.sync().await;

    // On A, two edits the server refuses for good (as it refuses an invalid
    // change): they stay, failed, with their error.
    a.edit(edited, body_patch("first line, written on A\nsecond line\nthird line\nfourth line\n"));
    a.edit(deleted, body_patch("keep me\nand what A added\n"));
    let batch = a.vault.take_push_batch(100).expect("batch");
    assert_eq!(batch.len(), 2);
    a.vault.record_push_failure(&batch, "400 invalid_change: refused", false).expect("record the refusal");
    assert_eq!(a.vault.status().expect("status").failed, 2);

    // B edits another line of one note and deletes the other.
    b.edit(edited, body_patch("first line\nsecond line\nthird line\nfourth line, written on B\n"));
    b.vault.delete(deleted).expect("delete");
    b.sync().await;

    a.sync().await;
    assert_eq!(
        a.body(edited),
        "first line, written on A\nsecond line\nthird line\nfourth line, written on B\n",
        "merged, A's words kept"
    );
    assert_eq!(a.body(deleted), "keep me\nand what A added\n", "the unsent edit beats the delete");
    let s = a.vault.status().expect("status");
    assert_eq!((s.failed, s.pending, s.open_conflicts), (0, 2, 0), "the merges replaced the refused entries: {s:?}");
    a.sync().await;
    assert_eq!(a.vault.status().expect("status").pending, 0, "and went up");

    b.sync().await;
    assert_eq!(b.body(edited), "first line, written on A\nsecond line\nthird line\nfourth line, written on B\n");
    assert_eq!(b.body(deleted), "keep me\nand what A added\n");
}
