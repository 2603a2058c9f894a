//! Disk faults at every write and sync, the way SQLite tests itself: the
//! store is opened through `outpost-faultvfs`, a VFS shim over the real one
//! that counts each `xWrite`, `xSync` and `xTruncate` of an operation and
//! then, run by run, fails the 1st, the 2nd, ... the last of them, once (a
//! transient error) and from then on (a dead or full disk), with an I/O
//! error, "disk full" or "read-only".
//!
//! After each fault: the call reports a clear error; the store holds the
//! whole change or none of it (note and outbox entry; pulled notes and
//! cursor); `PRAGMA integrity_check` passes; and once the fault clears the
//! same handle and a reopened store both go on working.
//!
//! Ignored tests use real file systems (a small tmpfs that fills up, a
//! read-only bind mount) and need the right to mount:
//! `crates/faultvfs/real-fs.sh` runs them in a private mount namespace.

mod common;

use outpost_core::account;
use outpost_core::error::StorageFault;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::sync_once;
use outpost_core::{Error, NoteDraft, NotePatch, Vault};
use outpost_faultvfs::{Fault, FaultVfs, Inject, Persistence};
use outpost_protocol::v1::PullResponse;
use uuid::Uuid;

const PERSISTENCES: [Persistence; 2] = [Persistence::Once, Persistence::Persistent];

fn draft(t: &str, b: &str) -> NoteDraft {
    NoteDraft { title: t.into(), body: b.into(), ..Default::default() }
}

fn body(title: &str) -> String {
    format!("{title}: {}", "a line of a note that is long enough to fill a page or two. ".repeat(80))
}

/// Copy a closed store's directory (the database file; a cleanly closed
/// WAL store has no -wal or -shm file).
fn integrity(vault: &Vault) {
    common::integrity_ok(vault.connection());
}

/// Every note with queued changes has its newest entry at the note's own
/// stamp: note row and outbox entry were written together.
fn outbox_matches_notes(vault: &Vault) {
    let outbox = vault.outbox().expect("outbox");
    for (id, deleted) in vault.all_ids().expect("ids") {
        if deleted {
            continue;
        }
        let note = vault.get(id).expect("every live note reads");
        if let Some(newest) = outbox.iter().filter(|e| e.note_id == id).max_by_key(|e| e.seq) {
            assert_eq!(newest.hlc, note.hlc, "note {id}: its outbox entry carries its latest change");
        }
    }
}

fn expected_fault(inject: Inject) -> StorageFault {
    match inject {
        Inject::IoErr => StorageFault::Io,
        Inject::DiskFull => StorageFault::DiskFull,
        Inject::ReadOnly => StorageFault::ReadOnly,
    }
}

/// The error a user sees names the problem and what to do.
fn check_error(e: &Error, inject: Inject) {
    let msg = e.to_string();
    assert_eq!(e.storage_fault(), Some(expected_fault(inject)), "{msg}");
    let (code, words) = match inject {
        Inject::IoErr => ("storage_io", "I/O error"),
        Inject::DiskFull => ("disk_full", "disk is full"),
        Inject::ReadOnly => ("read_only", "read-only"),
    };
    assert_eq!(e.code(), code, "{msg}");
    assert!(msg.contains(words) && msg.contains("not saved") && msg.contains("then try again"), "{msg}");
}

// ---- 1 and 3: a save and its outbox entry ----

/// The three kinds of save: a new note (new row, new entry), an edit of a
/// note whose entry was already sent (row updated, new entry), an edit of
/// a note with an unsent entry (row and entry updated: coalesced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Save {
    Create,
    EditSent,
    EditCoalesce,
}

const SAVES: [Save; 3] = [Save::Create, Save::EditSent, Save::EditCoalesce];

struct SaveBase {
    dir: tempfile::TempDir,
    keys: MemoryStore,
    /// Note whose outbox entry was handed to a push (frozen).
    sent: Uuid,
    /// Note with an unsent entry.
    unsent: Uuid,
}

fn save_base() -> SaveBase {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    for i in 0..20 {
        v.create(draft(&format!("filler {i}"), &body("filler"))).expect("create");
    }
    let sent = v.create(draft("sent", &body("sent v1"))).expect("create").id;
    v.take_push_batch(100).expect("freeze every entry");
    let unsent = v.create(draft("unsent", &body("unsent v1"))).expect("create").id;
    drop(v);
    SaveBase { dir, keys, sent, unsent }
}

const NEW_TITLE: &str = "the change under test";

fn do_save(v: &mut Vault, base: &SaveBase, save: Save) -> Result<Uuid, Error> {
    let patch = || NotePatch { title: Some(NEW_TITLE.into()), body: Some(body("v2")), ..Default::default() };
    match save {
        Save::Create => v.create(draft(NEW_TITLE, &body("v2"))).map(|n| n.id),
        Save::EditSent => v.edit(base.sent, patch()).map(|n| n.id),
        Save::EditCoalesce => v.edit(base.unsent, patch()).map(|n| n.id),
    }
}

/// Whether the save under test is in the store, whole; panics on half.
fn save_landed(v: &Vault, base: &SaveBase, save: Save) -> bool {
    let notes = v.all_ids().expect("ids").len();
    let outbox = v.outbox().expect("outbox");
    let titled: Vec<_> = v.list().expect("list").into_iter().filter(|n| n.title == NEW_TITLE).map(|n| n.id).collect();
    outbox_matches_notes(v);
    match save {
        Save::Create => {
            // 22 notes and 22 entries before; one more of each after.
            let landed = notes == 23;
            assert_eq!(outbox.len(), notes, "one entry per note");
            assert_eq!(titled.len(), usize::from(landed));
            landed
        }
        Save::EditSent => {
            let entries = outbox.iter().filter(|e| e.note_id == base.sent).count();
            let landed = titled == [base.sent];
            assert_eq!(notes, 22);
            assert_eq!(entries, if landed { 2 } else { 1 }, "a sent entry is frozen; the edit queues a new one");
            landed
        }
        Save::EditCoalesce => {
            let entries: Vec<_> = outbox.iter().filter(|e| e.note_id == base.unsent).collect();
            let landed = titled == [base.unsent];
            assert_eq!((notes, entries.len()), (22, 1));
            assert_eq!(entries[0].coalesced, u32::from(landed), "the unsent entry took the edit, or did not");
            landed
        }
    }
}

/// Count the fault points of one save of each kind.
fn count_save_points(base: &SaveBase, vfs: &FaultVfs) -> Vec<(Save, u64)> {
    SAVES
        .iter()
        .map(|&save| {
            let dir = common::copy_store(base.dir.path());
            let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
            vfs.count();
            do_save(&mut v, base, save).expect("save");
            let c = vfs.counts();
            eprintln!("{save:?}: {} fault points ({c:?}): {:?}", c.points(), vfs.trace());
            assert!(c.writes > 0 && c.syncs > 0, "a durable save writes and syncs: {c:?}");
            (save, c.points())
        })
        .collect()
}

/// Fail every fault point of every kind of save, once and persistently.
fn sweep_saves(inject: Inject) -> usize {
    let base = save_base();
    let vfs = FaultVfs::register().expect("register vfs");
    let mut runs = 0;
    for (save, points) in count_save_points(&base, &vfs) {
        for at in 1..=points {
            for persistence in PERSISTENCES {
                let what = format!("{save:?}, fault point {at} of {points}, {inject:?}, {persistence:?}");
                let dir = common::copy_store(base.dir.path());
                let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
                vfs.arm(Fault { at, inject, persistence });
                let result = do_save(&mut v, &base, save);
                assert!(vfs.counts().injected >= 1, "{what}: the fault was hit");
                let err = result.expect_err(&format!("{what}: a failed write or sync fails the save"));
                check_error(&err, inject);
                if persistence == Persistence::Persistent {
                    let again = do_save(&mut v, &base, save).expect_err(&format!("{what}: still failing"));
                    check_error(&again, inject);
                }
                vfs.disarm();

                // The store, on the same handle: none of the change.
                integrity(&v);
                assert!(!save_landed(&v, &base, save), "{what}: an error means nothing was saved");
                // The same handle goes on working...
                do_save(&mut v, &base, save).unwrap_or_else(|e| panic!("{what}: save after the fault: {e}"));
                assert!(save_landed(&v, &base, save), "{what}");
                integrity(&v);
                drop(v);
                // ...and so does the store reopened, with the change.
                let mut v = Vault::open(dir.path(), &base.keys).expect("reopen");
                integrity(&v);
                assert!(save_landed(&v, &base, save), "{what}: the retried save survived reopening");
                v.create(draft("and another", "after reopening")).expect("save after reopening");
                runs += 1;
            }
        }
    }
    runs
}

#[test]
fn a_save_and_its_outbox_entry_survive_an_io_error_at_every_write_and_sync() {
    let runs = sweep_saves(Inject::IoErr);
    eprintln!("{runs} faulted saves");
}

#[test]
fn a_full_disk_at_every_write_and_sync_of_a_save_is_reported_and_recoverable() {
    let runs = sweep_saves(Inject::DiskFull);
    eprintln!("{runs} faulted saves");
}

// ---- 2: a pulled page and the cursor ----

struct PullBase {
    dir: tempfile::TempDir,
    keys: MemoryStore,
    page: PullResponse,
    /// A note this device already had, edited on the other one.
    known: Uuid,
    /// Notes new to this device.
    new: Vec<Uuid>,
    cursor_before: u64,
}

/// A real page from a real server: device A registers and creates a note,
/// device B joins and syncs it, then A edits it and creates two more; B
/// pulls that page but does not apply it.
async fn pull_base() -> PullBase {
    let srv = common::server().await;
    let dir_a = tempfile::tempdir().expect("tempdir");
    let mut a = Vault::open(dir_a.path(), &MemoryStore::new()).expect("open a");
    let remote_a = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut a, &remote_a, "alice", "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote_a = remote_a.with_token(a.session_token().expect("token").expect("logged in"));
    let known = a.create(draft("known", &body("known v1"))).expect("create").id;
    sync_once(&mut a, &remote_a).await.expect("sync a");

    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let remote_b = Remote::new(&srv.url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote_b, "alice", "pw", &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut b = Vault::open_for_account(dir.path(), &keys, key).expect("open b");
    account::remember(&mut b, &remote_b, "alice", &session).expect("remember");
    let remote_b = remote_b.with_token(session.token);
    sync_once(&mut b, &remote_b).await.expect("sync b");
    assert_eq!(b.get(known).expect("known arrived").title, "known");

    a.edit(known, NotePatch { title: Some("known, edited".into()), ..Default::default() }).expect("edit");
    let new = vec![
        a.create(draft("new 1", &body("new 1"))).expect("create").id,
        a.create(draft("new 2", &body("new 2"))).expect("create").id,
    ];
    sync_once(&mut a, &remote_a).await.expect("sync a");
    let cursor_before = b.cursor().expect("cursor");
    let page = remote_b.pull(cursor_before, 100).await.expect("pull");
    assert_eq!(page.changes.len(), 3, "{page:?}");
    assert!(page.next_cursor > cursor_before);
    drop(b);
    PullBase { dir, keys, page, known, new, cursor_before }
}

/// Whether the page is applied, whole (notes and cursor); panics on half.
fn page_landed(v: &Vault, base: &PullBase) -> bool {
    integrity(v);
    let cursor = v.cursor().expect("cursor");
    let known = v.get(base.known).expect("known note").title;
    let new: Vec<bool> = base.new.iter().map(|id| v.get(*id).is_ok()).collect();
    let landed = cursor == base.page.next_cursor;
    if landed {
        assert_eq!((known.as_str(), new.as_slice()), ("known, edited", &[true, true][..]), "cursor moved: all applied");
    } else {
        assert_eq!(cursor, base.cursor_before);
        assert_eq!((known.as_str(), new.as_slice()), ("known", &[false, false][..]), "cursor kept: nothing applied");
    }
    assert!(v.outbox().expect("outbox").is_empty(), "a pull queues nothing");
    let bases: i64 = v.connection().query_row("SELECT count(*) FROM merge_base", [], |r| r.get(0)).expect("bases");
    assert_eq!(bases, if landed { 3 } else { 1 }, "one merge base per note");
    landed
}

fn sweep_pull(base: &PullBase, inject: Inject) -> usize {
    let vfs = FaultVfs::register().expect("register vfs");
    let points = {
        let dir = common::copy_store(base.dir.path());
        let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
        vfs.count();
        let out = v.apply_pull_page(&base.page).expect("apply");
        assert_eq!(out.applied, 3, "{out:?}");
        let c = vfs.counts();
        eprintln!("apply pulled page: {} fault points ({c:?}): {:?}", c.points(), vfs.trace());
        c.points()
    };
    let mut runs = 0;
    for at in 1..=points {
        for persistence in PERSISTENCES {
            let what = format!("pulled page, fault point {at} of {points}, {inject:?}, {persistence:?}");
            let dir = common::copy_store(base.dir.path());
            let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
            vfs.arm(Fault { at, inject, persistence });
            let err = v.apply_pull_page(&base.page).expect_err(&format!("{what}: fails"));
            assert!(vfs.counts().injected >= 1, "{what}: the fault was hit");
            check_error(&err, inject);
            if persistence == Persistence::Persistent {
                v.apply_pull_page(&base.page).expect_err(&format!("{what}: still failing"));
            }
            vfs.disarm();
            assert!(!page_landed(&v, base), "{what}: an error means nothing was applied");

            // The retry applies the page, exactly once.
            let out = v.apply_pull_page(&base.page).unwrap_or_else(|e| panic!("{what}: retry: {e}"));
            assert_eq!((out.applied, out.skipped, out.conflicts), (3, 0, 0), "{what}: {out:?}");
            assert!(page_landed(&v, base), "{what}");
            let again = v.apply_pull_page(&base.page).expect("a repeat");
            assert_eq!((again.applied, again.skipped), (0, 0), "{what}: below the cursor, nothing applies twice");
            drop(v);
            let v = Vault::open(dir.path(), &base.keys).expect("reopen");
            assert!(page_landed(&v, base), "{what}: applied after reopening");
            assert_eq!(v.status().expect("status").notes, 3);
            runs += 1;
        }
    }
    runs
}

#[tokio::test]
async fn a_pulled_page_and_its_cursor_survive_a_fault_at_every_write_and_sync() {
    let base = pull_base().await;
    let runs = sweep_pull(&base, Inject::IoErr) + sweep_pull(&base, Inject::DiskFull);
    eprintln!("{runs} faulted pulls");
}

// ---- 3b: starting over with a server that was reset ----

/// A synced store about to find its server reset: six notes synced (one
/// since deleted), one of them edited and not sent, and one change set
/// aside under the old server's sequence numbers.
struct ResetBase {
    dir: tempfile::TempDir,
    keys: MemoryStore,
    cursor: u64,
    bases: i64,
}

async fn reset_base() -> ResetBase {
    let srv = common::server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let mut v = Vault::open(dir.path(), &keys).expect("open");
    let remote = Remote::new(&srv.url).expect("remote");
    account::register_with(&mut v, &remote, "rita", "pw", KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(v.session_token().expect("token").expect("logged in"));
    let ids: Vec<Uuid> = (0..6)
        .map(|i| v.create(draft(&format!("note {i}"), &body(&format!("note {i}")))).expect("create").id)
        .collect();
    sync_once(&mut v, &remote).await.expect("sync");
    v.delete(ids[0]).expect("delete");
    sync_once(&mut v, &remote).await.expect("sync");
    v.edit(ids[1], NotePatch { title: Some("edited, not sent".into()), ..Default::default() }).expect("edit");
    v.connection()
        .execute(
            "INSERT INTO quarantine (seq, note_id, rev, hlc, deleted, payload, error, at)
             VALUES (3, ?1, 1, '000000000001-00000000-0000000000000001', 0, x'00', 'test', 0)",
            [Uuid::now_v7().as_bytes()],
        )
        .expect("a change set aside");
    let cursor = v.cursor().expect("cursor");
    let bases: i64 = v.connection().query_row("SELECT count(*) FROM merge_base", [], |r| r.get(0)).expect("bases");
    assert_eq!((cursor > 0, bases, v.outbox().expect("outbox").len()), (true, 6, 1));
    ResetBase { dir, keys, cursor, bases }
}

/// Whether the reset is done, whole; panics on half of one.
fn reset_landed(v: &Vault, base: &ResetBase) -> bool {
    integrity(v);
    let count = |sql: &str| -> i64 { v.connection().query_row(sql, [], |r| r.get(0)).expect(sql) };
    let cursor = v.cursor().expect("cursor");
    let (bases, revs) =
        (count("SELECT count(*) FROM merge_base"), count("SELECT count(*) FROM notes WHERE server_rev IS NOT NULL"));
    let aside = count("SELECT min(seq) FROM quarantine");
    let outbox = v.outbox().expect("outbox");
    let reset_at = v.last_server_reset().expect("reset time");
    assert_eq!(count("SELECT count(*) FROM notes"), 6, "no note is touched");
    if cursor == 0 {
        assert_eq!((bases, revs, aside < 0, reset_at.is_some()), (0, 0, true, true), "cursor at 0: all reset");
        let mut queued: Vec<Uuid> = outbox.iter().map(|e| e.note_id).collect();
        queued.sort();
        queued.dedup();
        assert_eq!((outbox.len(), queued.len()), (6, 6), "every note queued once: {outbox:?}");
        assert!(outbox.iter().all(|e| e.base_rev.is_none()), "none based on the old server's revisions");
        assert_eq!(count("SELECT count(*) FROM agreed_stamps"), 7, "every agreed version is remembered (note 0: two)");
        true
    } else {
        assert_eq!(cursor, base.cursor);
        assert_eq!((bases, revs, aside, reset_at), (base.bases, 6, 3, None), "cursor kept: nothing reset");
        assert_eq!(outbox.len(), 1, "only the unsent edit queued");
        false
    }
}

fn sweep_reset(base: &ResetBase, inject: Inject) -> usize {
    let vfs = FaultVfs::register().expect("register vfs");
    let points = {
        let dir = common::copy_store(base.dir.path());
        let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
        vfs.count();
        let out = v.reset_sync_state().expect("reset");
        assert_eq!((out.requeued, out.pending), (5, 1), "{out:?}");
        let c = vfs.counts();
        eprintln!("reset sync state: {} fault points ({c:?})", c.points());
        c.points()
    };
    let mut runs = 0;
    for at in 1..=points {
        for persistence in PERSISTENCES {
            let what = format!("sync reset, fault point {at} of {points}, {inject:?}, {persistence:?}");
            let dir = common::copy_store(base.dir.path());
            let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
            vfs.arm(Fault { at, inject, persistence });
            let err = v.reset_sync_state().expect_err(&format!("{what}: fails"));
            assert!(vfs.counts().injected >= 1, "{what}: the fault was hit");
            check_error(&err, inject);
            vfs.disarm();
            assert!(!reset_landed(&v, base), "{what}: an error means nothing was reset");
            v.reset_sync_state().unwrap_or_else(|e| panic!("{what}: retry: {e}"));
            assert!(reset_landed(&v, base), "{what}");
            drop(v);
            let v = Vault::open(dir.path(), &base.keys).expect("reopen");
            assert!(reset_landed(&v, base), "{what}: reset after reopening");
            runs += 1;
        }
    }
    runs
}

/// Starting over with a reset server (forget merge bases and server
/// revisions, queue every note, cursor to 0) is one transaction: a crash
/// or a full disk at any write or sync of it leaves the store as it was,
/// never half reset (a cursor at 0 with bases the restored server does not
/// have, or notes never queued).
#[tokio::test]
async fn a_sync_reset_is_whole_or_absent_after_a_fault_at_every_write_and_sync() {
    let base = reset_base().await;
    let runs = sweep_reset(&base, Inject::IoErr) + sweep_reset(&base, Inject::DiskFull);
    eprintln!("{runs} faulted resets");
}

// ---- 4: a read-only data directory ----

#[test]
fn a_store_that_turns_read_only_refuses_saves_clearly_and_still_reads() {
    let base = save_base();
    let vfs = FaultVfs::register().expect("register vfs");
    for inject in [Inject::ReadOnly, Inject::IoErr] {
        // SQLITE_READONLY, and EROFS on an open file (which SQLite's unix
        // VFS reports as an I/O error), from the first write on.
        let dir = common::copy_store(base.dir.path());
        let mut v = Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()).expect("open");
        let before = v.list().expect("list");
        vfs.arm(Fault { at: 1, inject, persistence: Persistence::Persistent });
        for save in SAVES {
            let err = do_save(&mut v, &base, save).expect_err("read-only");
            check_error(&err, inject);
        }
        // Reading needs no write: the notes are all there.
        assert_eq!(v.list().expect("list while read-only"), before);
        assert_eq!(v.get(base.sent).expect("get while read-only").title, "sent");
        assert_eq!(v.search("unsent").expect("search").len(), 1);
        vfs.disarm();
        integrity(&v);
        for save in SAVES {
            assert!(!save_landed(&v, &base, save));
        }
        v.create(draft("writable again", "yes")).expect("saves once writable");
    }
}

/// Every file of the store opens read-only (what the unix VFS does on a
/// read-only mount). SQLite may still read a cleanly closed WAL store then
/// (it keeps the shared memory in the heap), so the store either refuses to
/// open with a clear error, or opens, reads, and refuses a save clearly;
/// either way not a byte changes. (On a real read-only bind mount it
/// refuses to open: `a_really_read_only_data_directory_...`.)
#[test]
fn a_store_whose_files_open_read_only_is_refused_clearly_and_changes_nothing() {
    let base = save_base();
    let vfs = FaultVfs::register().expect("register vfs");
    let dir = common::copy_store(base.dir.path());
    // Closed cleanly (the copy was taken with the base store open): the
    // last connection checkpoints and removes the -wal file.
    drop(Vault::open(dir.path(), &base.keys).expect("open the copy"));
    assert!(!dir.path().join("outpost.db-wal").exists(), "a cleanly closed store has no -wal file");
    let before = std::fs::read(dir.path().join("outpost.db")).expect("read");
    vfs.set_read_only(true);
    let err = match Vault::open_with_vfs(dir.path(), &base.keys, vfs.name()) {
        Err(err) => err,
        Ok(mut v) => {
            assert_eq!(v.status().expect("reads").notes, 22);
            v.create(draft("nowhere to go", "words")).expect_err("a save on a read-only store fails")
        }
    };
    vfs.set_read_only(false);
    assert!(
        matches!(err.storage_fault(), Some(StorageFault::CannotOpen | StorageFault::ReadOnly)),
        "{}: {err}",
        err.code()
    );
    let msg = err.to_string();
    assert!(msg.contains("writable"), "the message says what to do: {msg}");
    assert_eq!(std::fs::read(dir.path().join("outpost.db")).expect("read"), before, "nothing changed");
    let v = Vault::open(dir.path(), &base.keys).expect("opens once writable");
    assert_eq!(v.status().expect("status").notes, 22);
}

// ---- real file systems (need the right to mount) ----

/// A mount that is undone on drop.
struct Mount(std::path::PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = std::process::Command::new("mount").args(args).output().expect("run mount");
        assert!(
            out.status.success(),
            "mount {args:?} failed (these tests need the right to mount; run crates/faultvfs/real-fs.sh as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn random_body(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len / 2];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
#[ignore = "group real-fs: mounts a 4 MiB tmpfs, needs the right to mount (crates/faultvfs/real-fs.sh)"]
fn a_really_full_disk_refuses_a_save_clearly_and_saves_again_when_space_returns() {
    let mnt = tempfile::tempdir().expect("tempdir");
    Mount::run(&["-t", "tmpfs", "-o", "size=4m", "tmpfs", &mnt.path().to_string_lossy()]);
    let _mount = Mount(mnt.path().to_path_buf());
    let dir = mnt.path().join("data");
    let keys = MemoryStore::new();
    let mut v = Vault::open(&dir, &keys).expect("open");
    // Most of the space goes to a file that can be deleted later.
    let filler = mnt.path().join("filler");
    std::fs::write(&filler, vec![7u8; 2 * 1024 * 1024]).expect("filler");
    let mut saved = Vec::new();
    let err = loop {
        match v.create(draft(&format!("note {}", saved.len()), &random_body(64 * 1024))) {
            Ok(n) => saved.push(n.id),
            Err(e) => break e,
        }
        assert!(saved.len() < 100, "4 MiB must fill up");
    };
    eprintln!("disk full after {} notes: {err}", saved.len());
    assert_eq!(err.storage_fault(), Some(StorageFault::DiskFull), "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    integrity(&v);
    assert_eq!(v.all_ids().expect("ids").len(), saved.len(), "every note reported saved is there, no more");
    outbox_matches_notes(&v);
    std::fs::remove_file(&filler).expect("free space");
    v.create(draft("after", &random_body(64 * 1024))).expect("saves again when space returns");
    drop(v);
    let v = Vault::open(&dir, &keys).expect("reopen");
    integrity(&v);
    assert_eq!(v.all_ids().expect("ids").len(), saved.len() + 1);
}

#[test]
#[ignore = "group real-fs: bind-mounts a directory read-only, needs the right to mount (crates/faultvfs/real-fs.sh)"]
fn a_really_read_only_data_directory_is_refused_clearly_and_left_unchanged() {
    let base = save_base();
    let ro = tempfile::tempdir().expect("tempdir");
    let (src, dst) = (base.dir.path().to_string_lossy().into_owned(), ro.path().to_string_lossy().into_owned());
    Mount::run(&["--bind", &src, &dst]);
    let _mount = Mount(ro.path().to_path_buf());
    Mount::run(&["-o", "remount,ro,bind", &dst]);
    let before = std::fs::read(base.dir.path().join("outpost.db")).expect("read");
    let result = Vault::open(ro.path(), &base.keys);
    match &result {
        Ok(_) => eprintln!("opened read-only"),
        Err(e) => eprintln!("open on a read-only mount: {} ({e})", e.code()),
    }
    let err = result.expect_err("a read-only data directory cannot hold a WAL store");
    assert!(
        matches!(err.storage_fault(), Some(StorageFault::CannotOpen | StorageFault::ReadOnly)),
        "{}: {err}",
        err.code()
    );
    assert_eq!(std::fs::read(base.dir.path().join("outpost.db")).expect("read"), before, "nothing changed");
}
