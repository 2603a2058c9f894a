//! Notebooks, tags and the sorted list on one device: refusals that change
//! nothing, what deleting a notebook does to its notes, notebooks kept out
//! of everything that counts notes, and the Markdown export's round trip.

use outpost_core::keys::MemoryStore;
use outpost_core::transfer::{self, Format};
use outpost_core::{NoteDraft, NotePatch, NotebookFilter, SortBy, Vault};
use uuid::Uuid;

fn vault(dir: &std::path::Path) -> Vault {
    Vault::open(dir, &MemoryStore::new()).expect("open")
}

/// A clock that moves a second on every reading, so no two changes share
/// a millisecond and the orders by time are certain.
#[derive(Debug, Default)]
struct Ticking(std::sync::atomic::AtomicU64);

impl outpost_core::clock::TimeSource for Ticking {
    fn now_ms(&self) -> u64 {
        1_700_000_000_000 + self.0.fetch_add(1_000, std::sync::atomic::Ordering::SeqCst)
    }
}

fn draft(title: &str, body: &str, tags: &[&str]) -> NoteDraft {
    NoteDraft {
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pinned: false,
    }
}

#[test]
fn bad_notebook_changes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let a = v.create_notebook("A", None).expect("a").id;
    let b = v.create_notebook("B", Some(a)).expect("b").id;
    let c = v.create_notebook("C", Some(b)).expect("c").id;
    let before = (v.notebooks().expect("notebooks"), v.outbox().expect("outbox").len());

    let codes: Vec<&str> = [
        v.move_notebook(a, Some(c)).expect_err("a under its grandchild"),
        v.move_notebook(a, Some(a)).expect_err("a under itself"),
        v.create_notebook("b", Some(a)).expect_err("a name taken (case folded)"),
        v.rename_notebook(c, "  ").expect_err("empty"),
        v.rename_notebook(c, &"n".repeat(201)).expect_err("too long"),
        v.create_notebook("x/y", None).expect_err("a slash"),
        v.create_notebook("D", Some(Uuid::now_v7())).expect_err("unknown parent"),
        v.move_note(Uuid::now_v7(), Some(a)).expect_err("unknown note"),
    ]
    .iter()
    .map(|e| e.code())
    .collect();
    assert_eq!(
        codes,
        [
            "notebook_cycle",
            "notebook_cycle",
            "notebook_name_taken",
            "invalid",
            "too_large",
            "invalid",
            "notebook_not_found",
            "note_not_found"
        ]
    );
    let n = v.create(draft("Note", "b", &[])).expect("note");
    assert_eq!(v.move_note(n.id, Some(Uuid::now_v7())).expect_err("unknown notebook").code(), "notebook_not_found");
    assert_eq!(v.get(n.id).expect("get").notebook, None);
    // A notebook is not a note to the notes API, and a note not a notebook.
    assert_eq!(v.get(a).expect_err("not a note").code(), "note_not_found");
    assert_eq!(v.delete(a).expect_err("not a note").code(), "note_not_found");
    assert_eq!(
        v.edit(a, NotePatch { title: Some("x".into()), ..Default::default() }).expect_err("").code(),
        "note_not_found"
    );
    assert_eq!(v.delete_notebook(n.id).expect_err("not a notebook").code(), "notebook_not_found");
    assert_eq!((v.notebooks().expect("notebooks"), v.outbox().expect("outbox").len() - 1), before);
}

#[test]
fn deleting_a_notebook_moves_its_notes_and_notebooks_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let top = v.create_notebook("Top", None).expect("top").id;
    let mid = v.create_notebook("Mid", Some(top)).expect("mid").id;
    let low = v.create_notebook("Low", Some(mid)).expect("low").id;
    let n1 = v.create(draft("in mid", "1", &[])).expect("n1");
    let n2 = v.create(draft("in low", "2", &[])).expect("n2");
    v.move_note(n1.id, Some(mid)).expect("move");
    v.move_note(n2.id, Some(low)).expect("move");
    let done = v.delete_notebook(mid).expect("delete");
    assert_eq!((done.notes_moved, done.notebooks_moved), (1, 1));
    assert_eq!(v.get(n1.id).expect("kept").notebook, Some(top));
    assert_eq!(v.get(n2.id).expect("kept").notebook, Some(low));
    let tree: Vec<(String, u32)> = v.notebooks().expect("notebooks").into_iter().map(|n| (n.path, n.depth)).collect();
    assert_eq!(tree, [("Top".to_owned(), 0), ("Top/Low".to_owned(), 1)]);
    assert_eq!(v.list().expect("list").len(), 2, "no note deleted");

    // A notebook moving up next to one of the same name gets a number.
    let work = v.create_notebook("Work", None).expect("work").id;
    v.create_notebook("work", Some(work)).expect("inner");
    v.delete_notebook(work).expect("delete");
    let names: Vec<String> = v.notebooks().expect("notebooks").into_iter().map(|n| n.path).collect();
    assert_eq!(names, ["Top", "Top/Low", "work"]);
    let top_low = v.create_notebook("Low", None).expect("a Low at the top").id;
    v.delete_notebook(top).expect("delete top");
    let names: Vec<String> = v.notebooks().expect("notebooks").into_iter().map(|n| n.path).collect();
    assert_eq!(names, ["Low", "Low (2)", "work"]);
    assert!(v.notebooks().expect("notebooks").iter().any(|n| n.id == top_low && n.name == "Low"));
}

#[test]
fn notebooks_stay_out_of_lists_search_counts_and_sort_and_filter_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut v, _) =
        Vault::open_with(dir.path(), &MemoryStore::new(), std::sync::Arc::new(Ticking::default())).expect("open");
    let work = v.create_notebook("Zebra work", None).expect("work").id;
    let a = v.create(draft("banana", "zebra body", &["Fruit"])).expect("a");
    let b = v.create(draft("Apple", "text", &["fruit", "red"])).expect("b");
    let c = v.create(draft("cherry", "text", &["red"])).expect("c");
    v.edit(a.id, NotePatch { pinned: Some(true), ..Default::default() }).expect("pin");
    v.move_note(b.id, Some(work)).expect("move");
    v.edit(c.id, NotePatch { body: Some("changed".into()), ..Default::default() }).expect("touch");

    let ids = |s: Vec<outpost_core::NoteSummary>| s.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(ids(v.list().expect("list")), [a.id, c.id, b.id]);
    assert_eq!(ids(v.list_by(NotebookFilter::All, SortBy::Title).expect("title")), [a.id, b.id, c.id]);
    assert_eq!(ids(v.list_by(NotebookFilter::All, SortBy::Created).expect("created")), [a.id, c.id, b.id]);
    assert_eq!(ids(v.list_by(NotebookFilter::In(work), SortBy::Updated).expect("in")), [b.id]);
    assert_eq!(ids(v.list_by(NotebookFilter::None, SortBy::Title).expect("none")), [a.id, c.id]);
    assert_eq!(v.status().expect("status").notes, 3);

    // Search: the notebook's name is found through its notes only.
    let found = |v: &Vault, q: &str| ids(v.search(q).expect("search").into_iter().map(|h| h.note).collect());
    let mut zebra = found(&v, "zebra ");
    zebra.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(zebra, want, "a word of the body, and a word of the notebook's name");
    assert_eq!(found(&v, "notebook:\"zebra work\""), [b.id]);
    v.rename_notebook(work, "Office").expect("rename");
    assert_eq!(found(&v, "notebook:office"), [b.id], "a rename reaches the index without an edit of the note");
    assert!(found(&v, "notebook:\"zebra work\"").is_empty());

    let tags: Vec<(String, u64)> = v.tags().expect("tags").into_iter().map(|t| (t.tag, t.notes)).collect();
    assert_eq!(tags, [("Fruit".to_owned(), 2), ("red".to_owned(), 2)], "case-folded, most used first, then by name");
}

#[test]
fn markdown_export_round_trips_notes_tags_and_notebooks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let work = v.create_notebook("Work", None).expect("work").id;
    let deep = v.create_notebook("Deep", Some(work)).expect("deep").id;
    v.create_notebook("Empty", None).expect("empty");
    let n1 = v.create(draft("Top note", "at the top\n", &["a"])).expect("n1");
    let n2 = v.create(draft("Work note", "in work\n", &["b", "c"])).expect("n2");
    let n3 = v.create(draft("Deep note", "deep down\n", &[])).expect("n3");
    v.move_note(n2.id, Some(work)).expect("move");
    v.move_note(n3.id, Some(deep)).expect("move");
    let _ = n1;

    let out = tempfile::tempdir().expect("tempdir");
    assert_eq!(transfer::export(&v, out.path()).expect("export"), 3);
    assert!(out.path().join("Work/Deep/Deep note.md").is_file());
    assert!(out.path().join("Empty").is_dir());

    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut w = vault(dir2.path());
    let summary = transfer::import(&mut w, out.path(), Some(Format::Markdown), &mut |_| {}).expect("import");
    assert_eq!(summary.imported, 3, "{summary:?}");
    let shape = |v: &Vault| {
        let books = v.notebooks().expect("notebooks");
        let path = |id: Option<Uuid>| id.and_then(|id| books.iter().find(|b| b.id == id)).map(|b| b.path.clone());
        let mut notes: Vec<(String, String, Vec<String>, Option<String>)> = v
            .list()
            .expect("list")
            .into_iter()
            .map(|s| {
                let n = v.get(s.id).expect("get");
                (n.title, n.body, n.tags, path(n.notebook))
            })
            .collect();
        notes.sort();
        let mut paths: Vec<String> = books.iter().map(|b| b.path.clone()).collect();
        paths.sort();
        (notes, paths)
    };
    let (notes, paths) = shape(&w);
    assert_eq!(paths, ["Empty", "Work", "Work/Deep"], "every notebook, the empty one too");
    assert_eq!(shape(&v).0, notes);

    // One notebook alone: its notes at the top of the folder, its
    // sub-notebooks below.
    let one = tempfile::tempdir().expect("tempdir");
    assert_eq!(transfer::export_notebook(&v, one.path(), Some(work)).expect("export"), 2);
    assert!(one.path().join("Work note.md").is_file() && one.path().join("Deep/Deep note.md").is_file());
    assert!(!one.path().join("Top note.md").exists());
}

/// The mass-delete rail counts notes: deleting notebooks (whose notes move
/// up, none deleted) on another device is not a mass delete.
#[test]
fn deleted_notebooks_do_not_trip_the_mass_delete_rail() {
    let key = || outpost_core::crypto::DataKey::from_parts(outpost_core::crypto::KeyId(3), [0x33; 32]);
    let (da, db) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let mut a = Vault::open_for_account(da.path(), &MemoryStore::new(), key()).expect("open a");
    let mut b = Vault::open_for_account(db.path(), &MemoryStore::new(), key()).expect("open b");
    let mut seq = 0u64;
    let mut hand_over = |from: &mut Vault, to: &mut Vault| {
        let batch = from.take_push_batch(500).expect("batch");
        let changes: Vec<_> = batch
            .iter()
            .map(|p| {
                seq += 1;
                outpost_protocol::v1::Change {
                    seq,
                    note_id: p.op.note_id,
                    rev: seq,
                    hlc: p.op.hlc,
                    deleted: p.op.deleted,
                    payload: p.op.payload.clone(),
                }
            })
            .collect();
        // The server took them all.
        let results: Vec<_> =
            changes.iter().map(|c| outpost_protocol::v1::PushResult::Applied { rev: c.rev, seq: c.seq }).collect();
        from.apply_push_results(&batch, &results).expect("answers");
        to.apply_pull_page(&outpost_protocol::v1::PullResponse { changes, next_cursor: seq, more: false })
            .expect("pulled")
    };
    let books: Vec<Uuid> = (0..12).map(|i| a.create_notebook(&format!("nb{i}"), None).expect("nb").id).collect();
    a.create(draft("one note", "b", &[])).expect("note");
    hand_over(&mut a, &mut b);
    assert_eq!(b.notebooks().expect("notebooks").len(), 12);
    for id in books {
        a.delete_notebook(id).expect("delete");
    }
    hand_over(&mut a, &mut b);
    assert!(b.notebooks().expect("notebooks").is_empty(), "applied, not held");
    assert_eq!(b.list().expect("list").len(), 1);
}

/// A seeded store gets a notebook tree with its notes filed in it; refused
/// beyond the bound, nothing written.
#[test]
fn seeded_notebooks_file_the_notes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let spec = outpost_core::seed::SeedSpec { notes: 40, size: 200, seed: 5 };
    outpost_core::seed::seed(&mut v, spec, |_| {}).expect("seed");
    assert_eq!(outpost_core::seed::file_notes(&mut v, 201, 5).expect_err("too many").code(), "invalid");
    assert!(v.notebooks().expect("notebooks").is_empty());
    let filed = outpost_core::seed::file_notes(&mut v, 20, 5).expect("file");
    let books = v.notebooks().expect("notebooks");
    assert_eq!(books.len(), 20);
    assert!(books.iter().any(|b| b.depth > 0), "some nested");
    let in_books: u64 = books.iter().map(|b| b.notes).sum();
    let loose = v.list_by(NotebookFilter::None, SortBy::Updated).expect("loose").len() as u64;
    assert_eq!((in_books, in_books + loose), (filed as u64, 40));
    assert!(filed > 20 && filed < 40, "about four in five: {filed}");
}
