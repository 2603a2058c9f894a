//! Note history and the trash (issue 14): versions kept per burst of saves,
//! restoring a version as a new one, the trash hiding notes until they are
//! restored or purged, retention thinning under a test clock, bad input
//! refused with nothing changed, moved or tampered versions refused, and
//! the same on two devices through a real server.

mod common;

use std::sync::Arc;

use common::devices::{self, now_ms};
use outpost_core::clock::ManualTime;
use outpost_core::history::{HistorySettings, VersionWhy};
use outpost_core::keys::MemoryStore;
use outpost_core::{Error, NoteDraft, NotePatch, Vault};
use uuid::Uuid;

const MINUTE_MS: u64 = 60_000;
const DAY_MS: u64 = 24 * 60 * MINUTE_MS;

fn draft(title: &str, body: &str) -> NoteDraft {
    NoteDraft { title: title.into(), body: body.into(), ..Default::default() }
}

fn body(text: &str) -> NotePatch {
    NotePatch { body: Some(text.into()), ..Default::default() }
}

/// A store on a manual clock.
fn store(start: u64) -> (Vault, ManualTime, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let time = ManualTime::new(start);
    let vault = Vault::open_with(dir.path(), &MemoryStore::new(), Arc::new(time.clone())).expect("open").0;
    (vault, time, dir)
}

fn advance(time: &ManualTime, ms: u64) {
    time.set(time.now() + ms);
}

fn whys(v: &Vault, id: Uuid) -> Vec<VersionWhy> {
    v.versions(id).expect("versions").into_iter().map(|i| i.why).collect()
}

fn bodies(v: &Vault, id: Uuid) -> Vec<String> {
    v.versions(id).expect("versions").iter().map(|i| v.version(id, &i.version).expect("version").body).collect()
}

#[test]
fn a_burst_of_saves_is_one_version_and_a_pause_starts_the_next() {
    let (mut v, time, _dir) = store(now_ms());
    let n = v.create(draft("Plan", "a")).expect("create");
    for text in ["ab", "abc", "abcd"] {
        advance(&time, 30_000);
        v.edit(n.id, body(text)).expect("edit");
    }
    assert_eq!(bodies(&v, n.id), vec!["abcd"], "one burst (under 5 minutes), one version: the latest text");
    advance(&time, 5 * MINUTE_MS);
    v.edit(n.id, body("abcde")).expect("edit");
    assert_eq!(bodies(&v, n.id), vec!["abcde", "abcd"], "a burst ends 5 minutes after it began");
    let history = v.versions(n.id).expect("versions");
    assert!(history[0].current && !history[1].current);
    assert_eq!(history[0].device, history[1].device);

    // With no coalescing, every save is a version.
    v.set_history_settings(&HistorySettings { coalesce_minutes: 0, ..Default::default() }).expect("settings");
    v.edit(n.id, body("x")).expect("edit");
    v.edit(n.id, body("y")).expect("edit");
    assert_eq!(bodies(&v, n.id), vec!["y", "x", "abcde", "abcd"]);
}

#[test]
fn restoring_a_version_adds_one_and_rewrites_nothing() {
    let (mut v, time, _dir) = store(now_ms());
    let n = v.create(NoteDraft { tags: vec!["old".into()], ..draft("First title", "first body") }).expect("create");
    advance(&time, 10 * MINUTE_MS);
    v.edit(n.id, NotePatch { title: Some("Second".into()), tags: Some(vec![]), ..body("second body") }).expect("edit");
    let before = v.versions(n.id).expect("versions");
    let first = before.last().expect("first version").version.clone();

    let restored = v.restore_version(n.id, &first).expect("restore");
    assert_eq!(
        (restored.title.as_str(), restored.body.as_str(), restored.tags.clone()),
        ("First title", "first body", vec!["old".to_owned()])
    );
    let after = v.versions(n.id).expect("versions");
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[0].why, VersionWhy::Restore);
    assert_ne!(after[0].version, first, "a new version, with its own id");
    for old in &before {
        let now = after.iter().find(|i| i.version == old.version).expect("every old version stays");
        assert_eq!((now.why, now.size), (old.why, old.size));
    }
    assert_eq!(v.version(n.id, &before[0].version).expect("second").body, "second body");
    // It syncs like any edit.
    let queued = v.outbox().expect("outbox");
    assert_eq!(queued.last().map(|e| e.hlc), Some(restored.hlc));
    // An edit right after a restore starts its own version: the restore is kept.
    v.edit(n.id, body("after the restore")).expect("edit");
    assert_eq!(whys(&v, n.id)[..2], [VersionWhy::Edit, VersionWhy::Restore]);
}

#[test]
fn bad_history_input_is_refused_and_changes_nothing() {
    let (mut v, _time, _dir) = store(now_ms());
    let a = v.create(draft("A", "a")).expect("create");
    let b = v.create(draft("B", "b")).expect("create");
    let of_b = v.versions(b.id).expect("versions")[0].version.clone();
    let snapshot = |v: &Vault| {
        let c = v.connection();
        let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).expect("count");
        (q("SELECT count(*) FROM versions"), q("SELECT count(*) FROM outbox"), v.get(a.id).expect("a").hlc)
    };
    let was = snapshot(&v);

    let err = v.restore_version(a.id, &of_b).expect_err("another note's version");
    assert!(matches!(err, Error::VersionOfAnotherNote { .. }), "{err}");
    assert!(err.to_string().contains(&b.id.to_string()), "{err}");
    let missing = "0000000000ff-00000000-0000000000000001";
    let err = v.version(a.id, missing).expect_err("missing");
    assert_eq!(err.code(), "version_not_found", "{err}");
    let err = v.restore_version(a.id, "yesterday").expect_err("not a version id");
    assert_eq!(err.code(), "invalid", "{err}");
    let err = v.versions(Uuid::now_v7()).expect_err("unknown note");
    assert_eq!(err.code(), "note_not_found", "{err}");
    let err = v.untrash(a.id).expect_err("not in the trash");
    assert_eq!(err.code(), "not_in_trash", "{err}");
    assert_eq!(snapshot(&v), was, "nothing changed");

    // A note deleted for good: its history went with it, and nothing of it
    // can be restored.
    v.trash(b.id).expect("trash");
    assert_eq!(v.empty_trash().expect("empty"), 1);
    for err in [
        v.restore_version(b.id, &of_b).expect_err("purged"),
        v.untrash(b.id).expect_err("purged"),
        v.versions(b.id).expect_err("purged"),
    ] {
        assert_eq!(err.code(), "purged", "{err}");
    }
    let left: i64 = v
        .connection()
        .query_row("SELECT count(*) FROM versions WHERE note_id = ?1", [b.id.as_bytes()], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 0, "a purge takes the note's history");
}

#[test]
fn a_moved_or_tampered_version_is_refused() {
    let (mut v, time, _dir) = store(now_ms());
    let a = v.create(draft("A", "secret a")).expect("create");
    let b = v.create(draft("B", "secret b")).expect("create");
    let va = v.versions(a.id).expect("versions")[0].version.clone();
    // Move a's version under note b (as a hostile copy would).
    v.connection()
        .execute("UPDATE versions SET note_id = ?1 WHERE note_id = ?2", [b.id.as_bytes(), a.id.as_bytes()])
        .expect("move");
    let err = v.version(b.id, &va).expect_err("moved");
    assert_eq!(err.code(), "decrypt_failed", "{err}");
    let err = v.restore_version(b.id, &va).expect_err("moved");
    assert_eq!(err.code(), "decrypt_failed", "{err}");
    assert_eq!(v.get(b.id).expect("b").body, "secret b", "nothing restored");

    // b's current version names the note row's fields (it holds no copy):
    // under another stamp they do not open.
    let current = v.get(b.id).expect("b").hlc.to_string();
    v.connection()
        .execute(
            "UPDATE versions SET hlc = '0000000000fe-00000000-0000000000000001' WHERE note_id = ?1 AND hlc = ?2",
            rusqlite::params![b.id.as_bytes(), current],
        )
        .expect("restamp the current version");
    let err = v.version(b.id, "0000000000fe-00000000-0000000000000001").expect_err("restamped current");
    assert_eq!(err.code(), "decrypt_failed");
    v.connection()
        .execute(
            "UPDATE versions SET hlc = ?2 WHERE note_id = ?1 AND hlc = '0000000000fe-00000000-0000000000000001'",
            rusqlite::params![b.id.as_bytes(), current],
        )
        .expect("stamp back");

    // A later edit: b's first version gets its own copy of the fields.
    advance(&time, 10 * MINUTE_MS);
    v.edit(b.id, body("secret b, later")).expect("edit");
    assert_eq!(v.version(b.id, &current).expect("first version").body, "secret b");

    // Flip a byte of that version.
    let vb = current;
    let conn = v.connection();
    let mut blob: Vec<u8> = conn
        .query_row(
            "SELECT body FROM versions WHERE note_id = ?1 AND hlc = ?2",
            rusqlite::params![b.id.as_bytes(), vb],
            |r| r.get(0),
        )
        .expect("read");
    *blob.last_mut().expect("not empty") ^= 1;
    conn.execute(
        "UPDATE versions SET body = ?3 WHERE note_id = ?1 AND hlc = ?2",
        rusqlite::params![b.id.as_bytes(), vb, blob],
    )
    .expect("tamper");
    assert_eq!(v.version(b.id, &vb).expect_err("tampered").code(), "decrypt_failed");
    // Relabel a version under another stamp: refused too.
    v.connection()
        .execute(
            "UPDATE versions SET hlc = '0000000000ff-00000000-0000000000000001' WHERE note_id = ?1 AND hlc = ?2",
            rusqlite::params![b.id.as_bytes(), vb],
        )
        .expect("restamp");
    let err = v.version(b.id, "0000000000ff-00000000-0000000000000001").expect_err("restamped");
    assert_eq!(err.code(), "decrypt_failed");
}

#[test]
fn the_trash_hides_a_note_until_it_is_restored_or_emptied() {
    let (mut v, time, _dir) = store(now_ms());
    let keep = v.create(draft("Keep", "wombat words")).expect("create");
    let n = v.create(draft("Groceries", "wombat food")).expect("create");
    advance(&time, MINUTE_MS);
    v.trash(n.id).expect("trash");
    v.trash(n.id).expect("trashing twice changes nothing");
    let ids = |v: &Vault| v.list().expect("list").into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(&v), vec![keep.id], "not in the list");
    assert_eq!(v.search("wombat").expect("search").len(), 1, "not in search");
    assert!(v.summaries(&[n.id]).expect("summaries").is_empty());
    let trash = v.trash_list().expect("trash");
    assert_eq!(trash.len(), 1);
    assert_eq!((trash[0].id, trash[0].title.as_str()), (n.id, "Groceries"));
    assert_eq!(trash[0].purge_at - trash[0].trashed_at, 30 * DAY_MS as i64);
    assert_eq!(v.get(n.id).expect("still readable").body, "wombat food");
    assert_eq!(whys(&v, n.id)[0], VersionWhy::Trash);

    let back = v.untrash(n.id).expect("untrash");
    assert_eq!(back.body, "wombat food");
    assert_eq!(ids(&v).len(), 2);
    assert_eq!(v.search("wombat").expect("search").len(), 2);
    assert!(v.trash_list().expect("trash").is_empty());
    assert_eq!(whys(&v, n.id)[..2], [VersionWhy::Untrash, VersionWhy::Trash]);

    // Emptying the trash is the real delete: a tombstone queued to sync.
    v.trash(n.id).expect("trash");
    assert_eq!(v.empty_trash().expect("empty"), 1);
    assert_eq!(v.get(n.id).expect_err("gone").code(), "note_not_found");
    assert!(v.all_ids().expect("ids").contains(&(n.id, true)));
    assert!(v.outbox().expect("outbox").iter().any(|e| e.note_id == n.id && e.deleted));
    assert_eq!(v.empty_trash().expect("empty again"), 0);
}

#[test]
fn the_trash_purges_after_its_period_and_thinning_is_deterministic() {
    let start = now_ms();
    let run = || {
        let (mut v, time, dir) = store(start);
        v.set_history_settings(&HistorySettings { coalesce_minutes: 0, ..Default::default() }).expect("settings");
        let n = v.create(draft("Diary", "day 0")).expect("create");
        let t = v.create(draft("Old", "to the trash")).expect("create");
        v.trash(t.id).expect("trash");
        // Four saves a day for 200 days.
        for day in 1..=200u64 {
            for q in 0..4 {
                advance(&time, 6 * 60 * MINUTE_MS);
                v.edit(n.id, body(&format!("day {day}.{q}"))).expect("edit");
            }
            if day == 29 {
                assert_eq!(v.housekeep().expect("housekeep").purged, 0, "29 days in the trash");
            }
        }
        let done = v.housekeep().expect("housekeep");
        assert_eq!(done.purged, 1, "past 30 days in the trash: deleted for good");
        assert_eq!(v.versions(t.id).expect_err("purged").code(), "purged");
        let kept: Vec<i64> = v.versions(n.id).expect("versions").iter().map(|i| i.at).collect();
        (kept, done.versions_dropped, v, dir)
    };
    let (first, dropped, v, _dir) = run();
    let (second, dropped_again, _v2, _dir2) = run();
    assert_eq!(first, second, "the same saves under the same clock keep the same versions");
    assert_eq!(dropped, dropped_again);
    let now = v.versions(v.list().expect("list")[0].id).expect("versions")[0].at;
    let age = |at: &i64| (now - at) as u64 / DAY_MS;
    assert_eq!(first.iter().filter(|at| age(at) < 30).count(), 30 * 4, "everything of the last 30 days");
    let daily: Vec<_> = first.iter().filter(|at| (31..90).contains(&age(at))).collect();
    let days: std::collections::HashSet<u64> = daily.iter().map(|at| **at as u64 / DAY_MS).collect();
    assert_eq!(daily.len(), days.len(), "one a day up to 90 days");
    assert!(first.iter().filter(|at| age(at) > 91).count() <= 17, "one a week beyond");
    assert!(dropped > 400, "{dropped}");
}

/// The versions of note `id` on a device, by reason, as their bodies.
fn history_of(v: &Vault, id: Uuid) -> Vec<(VersionWhy, String)> {
    v.versions(id)
        .expect("versions")
        .iter()
        .map(|i| (i.why, v.version(id, &i.version).expect("version opens").body))
        .collect()
}

#[tokio::test]
async fn an_overlapping_edit_keeps_both_inputs_and_the_merge_in_history_on_both_devices() {
    let srv = common::server().await;
    let start = now_ms();
    let mut a = devices::first(&srv.url, "alice", start).await;
    let n = a.vault.create(draft("Trip", "pack\nbook\nleave\n")).expect("create");
    a.sync().await;
    let mut b = devices::joining(&srv.url, "alice", start).await;
    b.sync().await;

    // Past the 5-minute burst, so A's edit does not fold into its first save.
    a.advance(10 * MINUTE_MS);
    b.advance(10 * MINUTE_MS);
    a.vault.edit(n.id, body("pack\nbook the train from A\nleave\n")).expect("edit on A");
    b.vault.edit(n.id, body("pack\nbook the ferry from B\nleave\n")).expect("edit on B");
    a.sync().await;
    b.sync().await; // B's push is refused; B merges (an overlap) and sends the result
    a.sync().await;
    b.sync().await;

    let merged = a.vault.get(n.id).expect("on A").body;
    assert_eq!(merged, b.vault.get(n.id).expect("on B").body, "converged");
    assert!(merged.contains("train from A") && merged.contains("ferry from B"), "{merged}");
    for (device, v) in [("A", &a.vault), ("B", &b.vault)] {
        let h = history_of(v, n.id);
        let has = |text: &str| h.iter().any(|(_, b)| b == text);
        assert!(has("pack\nbook the train from A\nleave\n"), "{device}: A's input missing: {h:?}");
        assert!(has("pack\nbook the ferry from B\nleave\n"), "{device}: B's input missing: {h:?}");
        assert!(has(&merged), "{device}: the merge result missing: {h:?}");
        assert!(has("pack\nbook\nleave\n"), "{device}: the version before missing: {h:?}");
    }
    let on_b: Vec<VersionWhy> = history_of(&b.vault, n.id).into_iter().map(|(w, _)| w).collect();
    assert!(on_b.contains(&VersionWhy::Merge) && on_b.contains(&VersionWhy::MergeInput), "{on_b:?}");
    let on_a: Vec<VersionWhy> = history_of(&a.vault, n.id).into_iter().map(|(w, _)| w).collect();
    assert!(on_a.contains(&VersionWhy::Remote) && on_a.contains(&VersionWhy::MergeInput), "{on_a:?}");
}

#[tokio::test]
async fn a_delete_on_one_device_is_in_the_others_trash_and_comes_back_from_there() {
    let srv = common::server().await;
    let start = now_ms();
    let mut a = devices::first(&srv.url, "alice", start).await;
    let n = a.vault.create(draft("Recipe", "flour, water")).expect("create");
    a.sync().await;
    let mut b = devices::joining(&srv.url, "alice", start).await;
    b.sync().await;

    a.vault.trash(n.id).expect("delete on A");
    a.sync().await;
    b.sync().await;
    assert!(b.vault.list().expect("list").is_empty(), "gone from B's list");
    let trash = b.vault.trash_list().expect("trash");
    assert_eq!(trash.iter().map(|t| t.id).collect::<Vec<_>>(), vec![n.id], "in B's trash");

    b.vault.untrash(n.id).expect("restored on B");
    b.sync().await;
    a.sync().await;
    assert_eq!(a.vault.list().expect("list").iter().map(|s| s.id).collect::<Vec<_>>(), vec![n.id], "back on A");
    assert!(a.vault.trash_list().expect("trash").is_empty());
    assert_eq!(a.vault.get(n.id).expect("note").body, "flour, water");

    // Trashed again and left there: past the trash period, the first
    // device to keep house deletes it for good, and so does everyone.
    a.vault.trash(n.id).expect("trash again");
    a.sync().await;
    b.sync().await;
    a.advance(31 * DAY_MS);
    assert_eq!(a.vault.housekeep().expect("housekeep").purged, 1);
    a.sync().await;
    b.sync().await;
    for v in [&mut a.vault, &mut b.vault] {
        assert!(v.trash_list().expect("trash").is_empty());
        assert_eq!(v.untrash(n.id).expect_err("purged").code(), "purged");
        let left: i64 = v
            .connection()
            .query_row("SELECT count(*) FROM versions WHERE note_id = ?1", [n.id.as_bytes()], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 0, "no version of it is left");
    }
}
