//! The engine against a real in-process server on 127.0.0.1: a device
//! registering and another joining, lost answers resent safely, concurrent
//! edits kept side by side, forged pulls refused.

mod common;

use outpost_core::account;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::vault::Resolution;
use outpost_core::{NoteDraft, NotePatch, Vault};
use outpost_protocol::v1::{Bytes, Change, PullResponse};
use outpost_protocol::Hlc;

fn draft(t: &str, b: &str) -> NoteDraft {
    NoteDraft { title: t.into(), body: b.into(), ..Default::default() }
}

struct Device {
    vault: Vault,
    remote: Remote,
    _dir: tempfile::TempDir,
}

async fn first_device(url: &str, user: &str) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vault = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
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
    let remote = remote.with_token(session.token);
    Device { vault, remote, _dir: dir }
}

#[tokio::test]
async fn notes_travel_between_devices_and_a_lost_answer_is_resent_safely() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "alice").await;
    let n = a.vault.create(draft("Hello", "from A")).expect("create");

    // The push reaches the server, but its answer is lost.
    let batch = a.vault.take_push_batch(100).expect("batch");
    assert_eq!(batch.len(), 1);
    a.remote.push(batch.iter().map(|p| p.op.clone()).collect()).await.expect("push");
    assert_eq!(a.vault.status().expect("status").pending, 1, "not acknowledged locally");

    // The next pass resends the same op id and gets "duplicate".
    let r = sync_once(&mut a.vault, &a.remote).await.expect("sync");
    assert_eq!((r.pushed, r.duplicates), (0, 1), "{r:?}");
    assert_eq!(a.vault.status().expect("status").pending, 0);

    let mut b = joining_device(&srv.url, "alice").await;
    let r = sync_once(&mut b.vault, &b.remote).await.expect("sync");
    assert_eq!(r.pulled, 1, "exactly one copy on the server: {r:?}");
    let on_b = b.vault.get(n.id).expect("arrived");
    assert_eq!((on_b.title.as_str(), on_b.body.as_str()), ("Hello", "from A"));
    assert_eq!(on_b.sync, outpost_core::SyncBadge::Synced);

    // Round trip back, and a second pass moves nothing.
    b.vault.edit(n.id, NotePatch { body: Some("edited on B".into()), ..Default::default() }).expect("edit");
    sync_once(&mut b.vault, &b.remote).await.expect("sync");
    let r = sync_once(&mut a.vault, &a.remote).await.expect("sync");
    assert_eq!(r.pulled, 1);
    assert_eq!(a.vault.get(n.id).expect("get").body, "edited on B");
    let r = sync_once(&mut a.vault, &a.remote).await.expect("sync");
    assert_eq!((r.pushed, r.pulled), (0, 0));
}

#[tokio::test]
async fn concurrent_edits_keep_both_versions() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "bob").await;
    let n = a.vault.create(draft("Shared", "base text")).expect("create");
    sync_once(&mut a.vault, &a.remote).await.expect("sync");
    let mut b = joining_device(&srv.url, "bob").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync");

    a.vault.edit(n.id, NotePatch { body: Some("A's words".into()), ..Default::default() }).expect("edit a");
    b.vault.edit(n.id, NotePatch { body: Some("B's words".into()), ..Default::default() }).expect("edit b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let r = sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    assert_eq!(r.push_conflicts + r.pull_conflicts, 1, "{r:?}");

    assert_eq!((r.merged, r.conflicts_opened), (1, 1), "{r:?}");

    // Nothing lost: the note holds both versions between markers, and the
    // merged text went to the server, so every device converges on it.
    let both = b.vault.get(n.id).expect("get").body;
    assert!(both.contains("A's words") && both.contains("B's words") && both.contains("<<<<<<<"), "{both}");
    let s = b.vault.status().expect("status");
    assert_eq!((s.open_conflicts, s.pending), (1, 0));
    assert_eq!(b.vault.get(n.id).expect("get").sync, outpost_core::SyncBadge::Conflict);
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    assert_eq!(a.vault.get(n.id).expect("get").body, both, "A converged on the merged text");

    // The conflict shows base, mine and theirs, decrypted.
    let c = b.vault.conflicts(false).expect("conflicts").pop().expect("one open conflict");
    assert_eq!(c.kind, "overlap");
    assert_eq!(
        (c.base_body.as_deref(), c.mine.body.as_str(), c.theirs.body.as_str()),
        (Some("base text"), "B's words", "A's words")
    );
    // The stored remote version is sealed under the other device's stamp.
    let (remote_body, remote_hlc): (Vec<u8>, String) = b
        .vault
        .connection()
        .query_row("SELECT remote_body, remote_hlc FROM conflicts WHERE resolved_at IS NULL", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("conflict row");
    let hlc: Hlc = remote_hlc.parse().expect("hlc");
    let body = outpost_core::crypto::open(
        &a_key(&a.vault),
        &outpost_core::crypto::Binding { note_id: &n.id, field: outpost_core::crypto::Field::Body, hlc: &hlc },
        &remote_body,
    );
    assert_eq!(body.expect("remote version decrypts"), b"A's words");

    // Settling it is an edit that syncs; a settled conflict cannot be settled again.
    let settled = b.vault.resolve_conflict(c.id, Resolution::Theirs).expect("resolve");
    assert_eq!(settled.body, "A's words");
    assert!(b.vault.resolve_conflict(c.id, Resolution::Mine).is_err());
    assert_eq!(b.vault.status().expect("status").open_conflicts, 0);
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    assert_eq!(a.vault.get(n.id).expect("get").body, "A's words");
    assert!(b.vault.resolve_conflict(9999, Resolution::Mine).is_err());
}

#[tokio::test]
async fn different_lines_and_fields_merge_without_asking() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "erin").await;
    let n = a.vault.create(draft("Plan", "one\ntwo\nthree\n")).expect("create");
    sync_once(&mut a.vault, &a.remote).await.expect("sync");
    let mut b = joining_device(&srv.url, "erin").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync");

    let patch = |title: Option<&str>, body: &str| NotePatch {
        title: title.map(str::to_owned),
        body: Some(body.to_owned()),
        ..Default::default()
    };
    a.vault.edit(n.id, patch(Some("Plan v2"), "ONE\ntwo\nthree\n")).expect("edit a");
    b.vault.edit(n.id, patch(None, "one\ntwo\nTHREE\n")).expect("edit b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let r = sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    assert_eq!((r.merged, r.conflicts_opened), (1, 0), "{r:?}");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    for v in [&a.vault, &b.vault] {
        let got = v.get(n.id).expect("get");
        assert_eq!((got.title.as_str(), got.body.as_str()), ("Plan v2", "ONE\ntwo\nTHREE\n"));
        assert_eq!(v.status().expect("status").pending, 0);
    }
}

#[tokio::test]
async fn an_edit_beats_a_delete_and_the_note_comes_back() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "fay").await;
    let n = a.vault.create(draft("Keep me", "draft")).expect("create");
    sync_once(&mut a.vault, &a.remote).await.expect("sync");
    let mut b = joining_device(&srv.url, "fay").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync");

    a.vault.delete(n.id).expect("delete on a");
    b.vault.edit(n.id, NotePatch { body: Some("draft, finished".into()), ..Default::default() }).expect("edit b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let r = sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    assert_eq!(r.restored, 1, "{r:?}");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    for v in [&a.vault, &b.vault] {
        assert_eq!(v.get(n.id).expect("back").body, "draft, finished");
    }
    let history = b.vault.conflicts(true).expect("conflicts");
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].kind.as_str(), history[0].resolution.as_deref()), ("restored", Some("mine")));
    assert!(history[0].theirs.deleted);
}

#[tokio::test]
async fn a_mass_delete_stops_and_asks() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "gus").await;
    let ids: Vec<_> = (0..40).map(|i| a.vault.create(draft(&format!("n{i}"), "x")).expect("create").id).collect();
    sync_once(&mut a.vault, &a.remote).await.expect("sync");
    let mut b = joining_device(&srv.url, "gus").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync");

    for id in &ids[..22] {
        a.vault.delete(*id).expect("delete");
    }
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let err = sync_once(&mut b.vault, &b.remote).await.expect_err("held");
    assert_eq!(err.code(), "mass_delete_held", "{err}");
    assert_eq!(b.vault.list().expect("list").len(), 40, "nothing deleted");
    let cursor = b.vault.cursor().expect("cursor");
    b.vault.approve_mass_delete().expect("approve");
    sync_once(&mut b.vault, &b.remote).await.expect("approved");
    assert_eq!(b.vault.list().expect("list").len(), 18);
    assert!(b.vault.cursor().expect("cursor") > cursor);
    // The approval was for that pass only.
    // A few deletions pass unasked; half of what is left does not.
    a.vault.delete(ids[22]).expect("delete");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    sync_once(&mut b.vault, &b.remote).await.expect("one deletion is not a mass delete");
    assert_eq!(b.vault.list().expect("list").len(), 17);
    for id in &ids[23..32] {
        a.vault.delete(*id).expect("delete");
    }
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let err = sync_once(&mut b.vault, &b.remote).await.expect_err("held again");
    assert_eq!(err.code(), "mass_delete_held");
}

/// The data key of a vault, through the only door tests have: wrap it
/// under a known key and unwrap it.
fn a_key(v: &Vault) -> outpost_core::crypto::DataKey {
    let wrap = [5u8; 32];
    let (id, wrapped) = v.wrap_data_key(&wrap).expect("wrap");
    outpost_core::keys::unwrap_key(&wrap, outpost_core::crypto::KeyId(id), &wrapped).expect("unwrap")
}

#[test]
fn forged_or_repeated_pulls_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Vault::open(dir.path(), &MemoryStore::new()).expect("open");
    let forged = PullResponse {
        changes: vec![Change {
            seq: 1,
            note_id: uuid::Uuid::now_v7(),
            rev: 1,
            hlc: Hlc::new(1, 0, 1),
            deleted: false,
            payload: Bytes(
                outpost_core::payload::Sealed { title: vec![1; 40], meta: vec![2; 40], body: vec![3; 40] }.encode(),
            ),
        }],
        next_cursor: 1,
        more: false,
    };
    let note = v.create(draft("mine", "kept")).expect("create");
    let out = v.apply_pull_page(&forged).expect("the rest of sync goes on");
    assert_eq!((out.applied, out.undecryptable), (0, 1));
    assert_eq!(v.cursor().expect("cursor"), 1, "set aside, not retried forever");
    assert_eq!(v.all_ids().expect("ids"), vec![(note.id, false)], "nothing stored from it");
    let q = v.quarantined().expect("quarantine");
    assert_eq!((q.len(), q[0].note_id), (1, forged.changes[0].note_id));
    assert!(q[0].error.contains("decrypt"), "{}", q[0].error);

    // Garbage framing and a forged change aimed at an existing note: set
    // aside too; the note is untouched.
    let garbage = PullResponse {
        changes: vec![
            Change { seq: 2, payload: Bytes(vec![9, 9]), ..forged.changes[0].clone() },
            Change { seq: 3, note_id: note.id, rev: 7, ..forged.changes[0].clone() },
        ],
        next_cursor: 3,
        more: false,
    };
    assert_eq!(v.apply_pull_page(&garbage).expect("applied").undecryptable, 2);
    assert_eq!(v.get(note.id).expect("kept").body, "kept");
    // A repeat of a page already applied changes nothing.
    assert_eq!(v.apply_pull_page(&garbage).expect("repeat"), Default::default());
    assert_eq!(v.quarantined().expect("quarantine").len(), 3);
}

/// A page big enough to be checked on several threads: every change keeps
/// its own verdict, in order. Three tampered changes (first, middle,
/// last) are set aside; every other note is stored and opens.
#[tokio::test]
async fn a_large_page_is_checked_change_by_change() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "petra").await;
    a.vault
        .batch(|w| {
            for i in 0..300 {
                w.create(draft(&format!("Note {i}"), &format!("body {i} {}", "words ".repeat(i % 40))))?;
            }
            Ok(())
        })
        .expect("create");
    sync_once(&mut a.vault, &a.remote).await.expect("push");
    let mut b = joining_device(&srv.url, "petra").await;
    let mut page = b.remote.pull(0, 500).await.expect("pull");
    assert_eq!(page.changes.len(), 300);
    let tampered = [0usize, 150, 299];
    for &i in &tampered {
        let last = page.changes[i].payload.0.len() - 1;
        page.changes[i].payload.0[last] ^= 1;
    }
    let out = b.vault.apply_pull_page(&page).expect("applied");
    assert_eq!((out.applied, out.undecryptable), (297, 3), "{out:?}");
    let aside: Vec<i64> = b.vault.quarantined().expect("quarantine").iter().map(|q| q.seq).collect();
    let expected: Vec<i64> = tampered.iter().map(|&i| page.changes[i].seq as i64).collect();
    assert_eq!(aside, expected, "exactly the tampered ones, each by its own seq");
    let stored: std::collections::HashSet<_> = b.vault.all_ids().expect("ids").into_iter().map(|(id, _)| id).collect();
    for (i, c) in page.changes.iter().enumerate() {
        assert_eq!(stored.contains(&c.note_id), !tampered.contains(&i), "change {i}");
        if !tampered.contains(&i) {
            let note = b.vault.get(c.note_id).expect("opens");
            assert_eq!(note.body, a.vault.get(c.note_id).expect("on A").body);
        }
    }
}

#[tokio::test]
async fn a_push_pokes_the_other_devices() {
    use futures_util::StreamExt as _;
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "dana").await;
    let b = joining_device(&srv.url, "dana").await;
    let mut pokes = Box::pin(b.remote.events().await.expect("event stream"));
    // The stream opens with the current sequence, so a device that was away
    // knows at once whether to pull.
    // Deadlines only catch a hang; how fast a poke arrives is measured by
    // the engine benchmark (BENCHMARKS.md), not asserted here.
    let patience = std::time::Duration::from_secs(60);
    let first = tokio::time::timeout(patience, pokes.next()).await.expect("first poke");
    assert_eq!(first.expect("item").expect("poke"), 0);
    a.vault.create(draft("Ping", "pong")).expect("create");
    sync_once(&mut a.vault, &a.remote).await.expect("sync");
    let poke = tokio::time::timeout(patience, pokes.next())
        .await
        .expect("a poke after the push")
        .expect("stream open")
        .expect("poke");
    assert_eq!(poke, 1, "the poke carries the new sequence number");
}

/// Notebooks travel like notes; a rename on one device and a move of a
/// note (and an edit of its tags) on the other both survive; deleting a
/// notebook on one device moves its notes up on every device.
#[tokio::test]
async fn notebooks_and_tags_sync_and_merge_across_devices() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "nora").await;
    let work = a.vault.create_notebook("Work", None).expect("notebook").id;
    let home = a.vault.create_notebook("Home", None).expect("notebook").id;
    let n = a.vault.create(draft("Plan", "body")).expect("create");
    a.vault.move_note(n.id, Some(work)).expect("move");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let mut b = joining_device(&srv.url, "nora").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    assert_eq!(b.vault.get(n.id).expect("get").notebook, Some(work));
    assert_eq!(b.vault.list().expect("list").len(), 1, "notebooks are not notes");
    assert_eq!(b.vault.status().expect("status").notes, 1);

    // A renames Work; B moves the note to Home and tags it.
    a.vault.rename_notebook(work, "Office").expect("rename");
    b.vault
        .batch(|w| {
            w.edit(n.id, NotePatch { tags: Some(vec!["urgent".into()]), ..Default::default() })?;
            w.move_note(n.id, Some(home))
        })
        .expect("move and tag");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    for v in [&a.vault, &b.vault] {
        let names: Vec<(String, u64)> =
            v.notebooks().expect("notebooks").into_iter().map(|n| (n.name, n.notes)).collect();
        assert_eq!(names, [("Home".to_owned(), 1), ("Office".to_owned(), 0)]);
        let note = v.get(n.id).expect("get");
        assert_eq!((note.notebook, note.tags.as_slice()), (Some(home), &["urgent".to_owned()][..]));
        assert_eq!(v.tags().expect("tags")[0].tag, "urgent");
        assert!(v.conflicts(true).expect("conflicts").is_empty());
    }

    // Both rename Office at once: the later rename wins everywhere, and no
    // conflict is opened for a notebook, whatever the strategy.
    b.vault.set_conflict_strategy(outpost_core::merge::Strategy::AlwaysAsk).expect("strategy");
    a.vault.rename_notebook(work, "Office A").expect("rename a");
    next_millisecond();
    b.vault.rename_notebook(work, "Office B").expect("rename b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let on_a = a.vault.notebook(work).expect("on a").name;
    assert_eq!(on_a, b.vault.notebook(work).expect("on b").name);
    assert_eq!(on_a, "Office B");
    assert!(b.vault.conflicts(true).expect("conflicts").is_empty());

    // Deleting Home on A moves the note to the top on both.
    let done = a.vault.delete_notebook(home).expect("delete");
    assert_eq!(done.notes_moved, 1);
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    let note = b.vault.get(n.id).expect("the note is kept");
    assert_eq!(note.notebook, None);
    assert_eq!(b.vault.notebooks().expect("notebooks").len(), 1);
}

/// Two devices each put one notebook under the other before syncing: both
/// moves were allowed where they were made, and every device then shows
/// the same tree with the cycle broken at the later move.
#[tokio::test]
async fn concurrent_moves_that_make_a_cycle_resolve_the_same_everywhere() {
    let srv = common::server().await;
    let mut a = first_device(&srv.url, "otto").await;
    let x = a.vault.create_notebook("X", None).expect("x").id;
    let y = a.vault.create_notebook("Y", None).expect("y").id;
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let mut b = joining_device(&srv.url, "otto").await;
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");

    a.vault.move_notebook(x, Some(y)).expect("x under y on a");
    next_millisecond();
    b.vault.move_notebook(y, Some(x)).expect("y under x on b (later)");
    // Locally the cycle is refused.
    let refused = a.vault.move_notebook(y, Some(x)).expect_err("a cycle");
    assert_eq!(refused.code(), "notebook_cycle");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    let tree = |v: &Vault| -> Vec<(String, Option<uuid::Uuid>, u32)> {
        v.notebooks().expect("notebooks").into_iter().map(|n| (n.name, n.parent, n.depth)).collect()
    };
    assert_eq!(tree(&a.vault), tree(&b.vault));
    // B's move was the later one: Y is at the top, X under it (A's move).
    assert_eq!(tree(&a.vault), [("Y".to_owned(), None, 0), ("X".to_owned(), Some(y), 1)]);
    // Renaming the broken one settles it where it is shown.
    b.vault.rename_notebook(y, "Why").expect("rename");
    sync_once(&mut b.vault, &b.remote).await.expect("sync b");
    sync_once(&mut a.vault, &a.remote).await.expect("sync a");
    assert_eq!(tree(&a.vault), [("Why".to_owned(), None, 0), ("X".to_owned(), Some(y), 1)]);
    assert_eq!(tree(&a.vault), tree(&b.vault));
}

/// Wait (at most a second) until the wall clock has moved past the current
/// millisecond, so the next change on any device of this process is
/// stamped after every change made before (the devices share the clock).
fn next_millisecond() {
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis();
    let (start, deadline) = (now(), std::time::Instant::now() + std::time::Duration::from_secs(1));
    while now() <= start {
        assert!(std::time::Instant::now() < deadline, "the wall clock did not move for a second");
        std::hint::spin_loop();
    }
}

/// A transport that cannot pull ahead: every page is pulled when the pass
/// gets to it.
struct InTurn<'a>(&'a Remote);

impl outpost_core::sync::SyncTransport for InTurn<'_> {
    fn push(
        &self,
        ops: Vec<outpost_protocol::v1::Op>,
    ) -> impl std::future::Future<Output = Result<outpost_protocol::v1::PushResponse, outpost_core::remote::RemoteError>>
           + Send {
        self.0.push(ops)
    }
    fn pull(
        &self,
        cursor: u64,
        limit: u32,
    ) -> impl std::future::Future<Output = Result<PullResponse, outpost_core::remote::RemoteError>> + Send {
        self.0.pull(cursor, limit)
    }
}

/// A long download asks for each page while the one before is applied
/// (`pull_ahead`), and for each page once: as many pulls as a pass that
/// pulls in turn, and the same notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_page_is_fetched_while_one_is_applied_and_asked_for_once() {
    let srv = common::TestServer::with_config(|c| c.limits.max_page_bytes = 4 * 1024).await;
    let start = common::devices::now_ms();
    let mut a = common::devices::first(&srv.url, "ahead", start).await;
    a.vault
        .batch(|w| {
            for i in 0..40_u64 {
                // Numbers that do not compress away: about 1 KB sealed.
                let body = (0..200_u64).map(|k| ((i * 7_919 + k * 104_729) * 2_654_435_761 % 1_000_003).to_string());
                w.create(NoteDraft {
                    title: format!("n{i}"),
                    body: body.collect::<Vec<_>>().join(" "),
                    ..Default::default()
                })?;
            }
            Ok(())
        })
        .expect("notes");
    a.sync().await;

    let mut ahead = common::devices::joining(&srv.url, "ahead", start).await;
    let before = srv.metric("outpost_pull_requests_total").await;
    let got = sync_once(&mut ahead.vault, &outpost_core::sync::WithoutSnapshots(&ahead.remote)).await.expect("pass");
    let pulls_ahead = srv.metric("outpost_pull_requests_total").await - before;

    let mut in_turn = common::devices::joining(&srv.url, "ahead", start).await;
    let before = srv.metric("outpost_pull_requests_total").await;
    let got_in_turn = sync_once(&mut in_turn.vault, &InTurn(&in_turn.remote)).await.expect("pass");
    let pulls_in_turn = srv.metric("outpost_pull_requests_total").await - before;

    assert_eq!((got.pulled, got_in_turn.pulled), (40, 40));
    assert!(pulls_in_turn >= 5, "the download takes several pages ({pulls_in_turn})");
    assert_eq!(pulls_ahead, pulls_in_turn, "each page asked for once");
    assert_eq!(common::contents(&ahead.vault), common::contents(&a.vault));
    assert_eq!(common::contents(&in_turn.vault), common::contents(&a.vault));
}
