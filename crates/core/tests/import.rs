//! Import (`outpost_core::transfer`) on real files: JSON Lines of any size
//! with bad lines among good ones, re-runs after an interruption, and the
//! formats other apps export (samples in `tests/data/import/`).

mod common;

use std::io::Write;
use std::path::Path;

use outpost_core::keys::MemoryStore;
use outpost_core::model::limits;
use outpost_core::transfer::{self, Format, ImportSummary, Progress};
use outpost_core::Vault;
use outpost_faultvfs::{Fault, FaultVfs, Inject, Persistence};

fn vault(dir: &Path) -> Vault {
    Vault::open(dir, &MemoryStore::new()).expect("open the vault")
}

fn import(vault: &mut Vault, path: &Path, format: Option<Format>) -> (ImportSummary, Vec<Progress>) {
    let mut seen = Vec::new();
    let summary = transfer::import(vault, path, format, &mut |p| seen.push(*p)).expect("import");
    (summary, seen)
}

fn line(title: &str, body: &str, tags: &[&str]) -> String {
    serde_json::json!({ "title": title, "body": body, "tags": tags }).to_string()
}

/// The regression of issue 16: a JSON Lines export larger than one note
/// may be (2 MB and more) imported whole; over-limit and malformed lines
/// are reported by number and skipped, the rest is imported.
#[test]
fn large_jsonl_imports_the_good_notes_and_reports_the_bad_lines() {
    let src = tempfile::tempdir().expect("tempdir");
    let path = src.path().join("export.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let filler = "A line of a note about the garden, the weather and the week. ".repeat(24);
    let mut good = 0;
    let mut bad_lines = Vec::new();
    let mut n = 0;
    let mut put = |f: &mut std::io::BufWriter<std::fs::File>, text: &str| {
        n += 1;
        writeln!(f, "{text}").expect("write");
        n
    };
    for i in 0..1600 {
        match i {
            100 => {
                bad_lines.push((put(&mut f, &line("huge", &"x".repeat(limits::MAX_BODY_BYTES + 1), &[])), "note body"))
            }
            400 => bad_lines.push((put(&mut f, "{\"title\": \"broken\", \"body\": "), "not valid JSON")),
            700 => bad_lines.push((put(&mut f, "{\"title\": 5, \"body\": \"\"}"), "not a note")),
            900 => bad_lines.push((put(&mut f, &line("long tag", "b", &[&"t".repeat(65)])), "tag")),
            1000 => bad_lines.push((put(&mut f, &line(&"T".repeat(limits::MAX_TITLE_BYTES + 1), "b", &[])), "title")),
            1200 => {
                put(&mut f, "   ");
            }
            _ => {}
        }
        put(&mut f, &line(&format!("Note {i}"), &format!("{i}: {filler}"), &["garden"]));
        good += 1;
    }
    // The same note twice: imported once.
    put(&mut f, &line("Note 5", &format!("5: {filler}"), &["garden"]));
    drop(f);
    let size = std::fs::metadata(&path).expect("meta").len();
    assert!(size > 3 * 1024 * 1024, "the file is larger than a note may be: {size}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (summary, progress) = import(&mut v, &path, None);
    assert_eq!(summary.format, Format::Jsonl);
    assert_eq!(summary.imported, good);
    assert_eq!(summary.duplicates, 1);
    let got: Vec<(String, bool)> = summary
        .skipped
        .iter()
        .map(|s| (s.at.clone(), bad_lines.iter().any(|(l, why)| s.at == format!("line {l}") && s.reason.contains(why))))
        .collect();
    assert_eq!(got.len(), bad_lines.len(), "{:?}", summary.skipped);
    assert!(got.iter().all(|(_, ok)| *ok), "each bad line named with its reason: {:?}", summary.skipped);
    assert_eq!(summary.skipped[0].title.as_deref(), Some("huge"), "the title of a note over a limit is reported");
    assert_eq!(v.list().expect("list").len() as u64, good);
    let hit = v.search("1599:").expect("search");
    assert_eq!(hit.len(), 1);
    assert_eq!(v.get(hit[0].note.id).expect("get").tags, vec!["garden"]);

    // Progress after each batch, ending at everything read.
    assert!(progress.len() >= (good as usize) / transfer::BATCH, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0].read < w[1].read && w[0].imported <= w[1].imported));
    let last = progress.last().expect("progress");
    assert_eq!((last.read, last.imported, last.skipped), (good + 1 + bad_lines.len() as u64, good, 5));

    // Run again: nothing new, nothing written twice.
    let (again, _) = import(&mut v, &path, Some(Format::Jsonl));
    assert_eq!((again.imported, again.duplicates, again.skipped.len()), (0, good + 1, bad_lines.len()));
    assert_eq!(v.list().expect("list").len() as u64, good);
}

/// An import stopped part way (here: the file cut at a line) is finished
/// by importing the whole file again: only the missing notes are added.
#[test]
fn an_interrupted_import_is_finished_by_running_it_again() {
    let src = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = (0..1200).map(|i| line(&format!("n{i}"), &format!("body {i}"), &[])).collect();
    let part = src.path().join("part.jsonl");
    std::fs::write(&part, lines[..700].join("\n")).expect("write");
    let whole = src.path().join("whole.jsonl");
    std::fs::write(&whole, lines.join("\n") + "\n").expect("write");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    assert_eq!(import(&mut v, &part, None).0.imported, 700);
    let (rest, _) = import(&mut v, &whole, None);
    assert_eq!((rest.imported, rest.duplicates), (500, 700));
    assert_eq!(v.list().expect("list").len(), 1200);
}

#[test]
fn a_file_with_no_notes_imports_nothing_and_says_why() {
    let src = tempfile::tempdir().expect("tempdir");
    let path = src.path().join("bad.jsonl");
    std::fs::write(&path, "[1, 2]\n\n{\"body\": \"no title\"}\n").expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &path, None);
    assert_eq!((s.imported, s.duplicates), (0, 0));
    let at: Vec<&str> = s.skipped.iter().map(|s| s.at.as_str()).collect();
    assert_eq!(at, ["line 1", "line 3"]);
    assert!(s.skipped[1].reason.contains("missing field `title`"), "{}", s.skipped[1].reason);
    assert!(v.list().expect("list").is_empty());
}

fn sample(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name)
}

/// Every live note by title: (tags, body, created, updated).
fn by_title(v: &Vault) -> std::collections::BTreeMap<String, (Vec<String>, String, i64, i64)> {
    v.list()
        .expect("list")
        .into_iter()
        .map(|s| {
            let n = v.get(s.id).expect("get");
            (n.title, (n.tags, n.body, n.created_at, n.updated_at))
        })
        .collect()
}

/// An Obsidian vault: front matter (lists, inline lists, dates with and
/// without zone or seconds), nested folders as notebooks, `.obsidian` left
/// alone, a UTF-8 file with a byte order mark and CRLF, a UTF-16 file,
/// a Latin-1 file (reported and skipped), embedded attachments (reported,
/// the reference kept).
#[test]
fn obsidian_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &sample("obsidian"), None);
    assert_eq!(s.format, Format::Markdown);
    assert_eq!(s.imported, 5, "{s:?}");
    assert_eq!(s.skipped.len(), 1, "{s:?}");
    assert_eq!(s.skipped[0].at, "Latin1.md");
    assert!(s.skipped[0].reason.contains("not UTF-8"), "{}", s.skipped[0].reason);
    let left: Vec<(&str, &str)> = s.left_out.iter().map(|l| (l.at.as_str(), l.reason.as_str())).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left[0].0 == "Projects/Garden plan.md" && left[0].1.contains("\"../attachments/diagram.png\""), "{left:?}");
    assert!(left[1].0 == "Welcome.md" && left[1].1.contains("\"diagram.png\""), "{left:?}");

    let notes = by_title(&v);
    let welcome = &notes["Welcome"];
    assert_eq!(welcome.0, ["inbox", "reading"]);
    assert_eq!((welcome.2, welcome.3), (1_672_906_500_000, 1_676_142_153_000), "front matter dates kept");
    assert!(welcome.1.starts_with("---\naliases:\n  - Start here\n---\nThis vault"), "{:?}", welcome.1);
    assert!(welcome.1.contains("![[diagram.png]]"), "the reference stays");

    let garden = &notes["Garden plan"];
    assert_eq!(garden.0, ["garden", "outdoors"], "the folder is a notebook, not a tag");
    assert_eq!((garden.2, garden.3), (1_678_786_200_000, 1_680_364_800_000), "no zone is UTC; +02:00 applied");
    assert!(garden.1.starts_with("## Beds\n\n- [ ] Turn the compost"), "{:?}", garden.1);

    let old = &notes["Old ideas"];
    assert!(old.0.is_empty(), "nested folders: nested notebooks, not tags");
    let paths: Vec<String> = v.notebooks().expect("notebooks").into_iter().map(|n| n.path).collect();
    assert_eq!(paths, ["Projects", "Projects/Archive"]);
    let archive = v.resolve_notebook("Projects/Archive").expect("made");
    let in_archive = v.list_by(outpost_core::NotebookFilter::In(archive), Default::default()).expect("list");
    assert_eq!(in_archive.iter().map(|s| s.title.as_str()).collect::<Vec<_>>(), ["Old ideas"]);
    assert!(old.1.starts_with("A note without front matter"));
    assert!(old.3 > 1_700_000_000_000, "no date in the file: the file's own time");

    let windows = &notes["Saved on Windows"];
    assert_eq!((windows.0.as_slice(), windows.1.as_str()), (&["windows".to_owned()][..], "Line one\nLine two\n"));
    let notepad = &notes["Notepad note"];
    assert_eq!(notepad.1, "UTF-16 text: café, naïve, 東京\n");

    // Again: all there already; the bad file is still reported.
    let (again, _) = import(&mut v, &sample("obsidian"), Some(Format::Markdown));
    assert_eq!((again.imported, again.duplicates, again.skipped.len()), (0, 5, 1));
}

/// A Joplin "Markdown + Front Matter" export, as its specification shows
/// one: notebooks as folders, dates in UTC with a space (with and without
/// seconds), a blank line after the front matter, extra keys kept, a
/// resource in `_resources` referenced by a note.
#[test]
fn joplin_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &sample("joplin"), None);
    assert_eq!((s.imported, s.skipped.len()), (3, 0), "{s:?}");
    assert_eq!(s.left_out.len(), 1, "{s:?}");
    assert_eq!(s.left_out[0].at, "Travel/Lisbon.md");
    assert_eq!(s.left_out[0].title.as_deref(), Some("Lisbon"));

    let notes = by_title(&v);
    let lisbon = &notes["Lisbon"];
    assert_eq!(lisbon.0, ["travel", "portugal"]);
    assert_eq!((lisbon.2, lisbon.3), (1_619_773_920_000, 1_619_888_040_000));
    assert!(
        lisbon.1.starts_with("---\nsource: https://joplinapp.org\nauthor: Joplin\nlatitude: 38.72225200\n"),
        "Joplin's other fields are kept: {:?}",
        lisbon.1
    );
    assert!(
        lisbon.1.contains("---\nTram 28 early"),
        "the blank line after the front matter is not body: {:?}",
        lisbon.1
    );
    let packing = &notes["Packing list"];
    assert_eq!((packing.2, packing.3), (1_619_887_200_000, 1_623_974_340_000), "minutes without seconds");
    assert!(packing.1.contains("completed?: no") && packing.1.ends_with("- [ ] Passport\n- [ ] Adapter\n"));
    let meeting = &notes["Meeting notes"];
    assert!(meeting.0.is_empty());
    let paths: Vec<String> = v.notebooks().expect("notebooks").into_iter().map(|n| n.path).collect();
    assert_eq!(paths, ["Travel", "Work"], "Joplin's notebooks; its _resources folder is none");
    assert_eq!(meeting.1, "**Decisions**\n\n1. Ship on Friday\n");
}

/// Imported notes keep their dates, but are queued now: the outbox does
/// not look years old.
#[test]
fn imported_dates_do_not_age_the_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    import(&mut v, &sample("joplin"), None);
    let oldest = v.status().expect("status").oldest_pending_at.expect("pending");
    assert!(oldest > 1_700_000_000_000, "queued at import time, not 2021: {oldest}");
}

/// JSON Lines dates: milliseconds (`created_at`, as `notes show --json`
/// writes) or RFC 3339 text; a date in the future is taken as now, and a
/// date that does not parse is left out (not the note).
#[test]
fn jsonl_dates() {
    let src = tempfile::tempdir().expect("tempdir");
    let path = src.path().join("dated.jsonl");
    let lines = [
        r#"{"title":"ms","body":"a","created_at":1619773920000,"updated_at":1619888040000}"#,
        r#"{"title":"text","body":"b","created":"2021-04-30 09:12:00Z","updated":"2021-05-01T18:54:00+02:00"}"#,
        r#"{"title":"future","body":"c","created":"2999-01-01T00:00:00Z"}"#,
        r#"{"title":"unreadable date","body":"d","created":"last Tuesday"}"#,
    ];
    std::fs::write(&path, lines.join("\n")).expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    assert_eq!(import(&mut v, &path, None).0.imported, 4);
    let notes = by_title(&v);
    assert_eq!((notes["ms"].2, notes["ms"].3), (1_619_773_920_000, 1_619_888_040_000));
    assert_eq!((notes["text"].2, notes["text"].3), (1_619_773_920_000, 1_619_888_040_000));
    for t in ["future", "unreadable date"] {
        assert!(notes[t].2 >= before && notes[t].2 < 2_000_000_000_000, "{t}: {}", notes[t].2);
        assert_eq!(notes[t].2, notes[t].3);
    }
}

/// An Evernote export with two notes (one with its ENML in CDATA, one
/// escaped), tags, dates, a resource (reported, not imported), checklists,
/// lists, links and HTML entities.
#[test]
fn evernote_enex() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &sample("evernote/Travel.enex"), None);
    assert_eq!(s.format, Format::Enex);
    assert_eq!((s.imported, s.skipped.len()), (2, 0), "{s:?}");
    assert_eq!(s.left_out.len(), 1, "{s:?}");
    assert_eq!((s.left_out[0].at.as_str(), s.left_out[0].title.as_deref()), ("note 1", Some("Lisbon & Porto")));
    assert!(s.left_out[0].reason.contains("\"tram.jpg\""), "{}", s.left_out[0].reason);

    let notes = by_title(&v);
    let lisbon = &notes["Lisbon & Porto"];
    assert_eq!(lisbon.0, ["travel", "portugal"]);
    assert_eq!((lisbon.2, lisbon.3), (1_619_773_920_000, 1_619_888_040_000));
    assert_eq!(
        lisbon.1,
        "Tram 28 early, before the crowds.\n\n## Packing\n- [x] Passport\n- [ ] Adapter\n- Lisbon: **3 nights**\n\
         - Porto: 2 nights\nTickets: [CP trains](https://www.cp.pt/)\n[attachment not imported: image/jpeg]\n"
    );
    let reading = &notes["Reading list"];
    assert_eq!(reading.0, ["books"]);
    assert_eq!(reading.1, "1. The Name of the Rose\n2. Invisible Cities\nCafé reading — weekends\n");
    assert_eq!((reading.2, reading.3), (1_662_976_800_000, 1_662_982_200_000));
}

/// Bad ENEX: a note whose ENML is broken is reported and skipped, the
/// others imported; a file cut off mid-note keeps what came before and
/// says where it stopped.
#[test]
fn malformed_enex() {
    let src = tempfile::tempdir().expect("tempdir");
    let note = |title: &str, enml: &str| {
        format!("<note><title>{title}</title><content><![CDATA[<en-note>{enml}</en-note>]]></content></note>")
    };
    let text = format!(
        "<?xml version=\"1.0\"?><en-export>{}{}{}<note><title>cut",
        note("good one", "<div>fine</div>"),
        note("broken", "<div>never closed"),
        note("good two", "<div>also fine</div>"),
    );
    let path = src.path().join("bad.enex");
    std::fs::write(&path, text).expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &path, None);
    assert_eq!(s.imported, 2, "{s:?}");
    assert_eq!(s.skipped.len(), 2, "{s:?}");
    assert_eq!((s.skipped[0].at.as_str(), s.skipped[0].title.as_deref()), ("note 2", Some("broken")));
    assert!(s.skipped[0].reason.contains("not valid ENML"), "{}", s.skipped[0].reason);
    assert!(s.skipped[1].at.starts_with("note 4"), "{:?}", s.skipped[1]);
    assert!(s.skipped[1].reason.contains("not valid ENEX from here on"), "{}", s.skipped[1].reason);
    let titles: Vec<String> = by_title(&v).into_keys().collect();
    assert_eq!(titles, ["good one", "good two"]);
}

/// A decrypted Standard Notes backup: notes with their tags (a nested one
/// by its path), pin and dates; the trashed note reported and skipped; the
/// app's own items ignored. Found by looking, not by the extension.
#[test]
fn standard_notes_backup() {
    let src = tempfile::tempdir().expect("tempdir");
    // Standard Notes names its backups "... .txt".
    let path = src.path().join("Standard Notes Backup and Import File.txt");
    std::fs::copy(sample("standard-notes/backup.json"), &path).expect("copy");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let (s, _) = import(&mut v, &path, None);
    assert_eq!(s.format, Format::StandardNotes);
    assert_eq!(s.imported, 2, "{s:?}");
    assert_eq!(s.skipped.len(), 1, "{s:?}");
    assert_eq!(s.skipped[0].title.as_deref(), Some("Old draft"));
    assert!(s.skipped[0].reason.contains("trash"));

    let notes = by_title(&v);
    let lisbon = &notes["Lisbon"];
    assert_eq!(
        (lisbon.0.as_slice(), lisbon.1.as_str()),
        (&["travel".to_owned()][..], "Tram 28 early.\n\n- [ ] Passport")
    );
    assert_eq!((lisbon.2, lisbon.3), (1_619_773_920_000, 1_619_888_040_000));
    let pinned: Vec<bool> = v.list().expect("list").iter().map(|n| n.pinned).collect();
    assert_eq!(pinned, [true, false], "Lisbon is pinned");
    let standup = &notes["Standup"];
    assert_eq!(standup.0, ["work/meetings"]);
    assert_eq!((standup.2, standup.3), (1_664_611_200_000, 1_664_697_600_000));
}

#[test]
fn an_encrypted_standard_notes_backup_is_refused_with_what_to_do() {
    let src = tempfile::tempdir().expect("tempdir");
    let path = src.path().join("backup.json");
    std::fs::write(
        &path,
        r#"{"version":"004","keyParams":{"identifier":"a@b.c","version":"004"},"items":[{"uuid":"x","content_type":"Note","content":"004:abc:def"}]}"#,
    )
    .expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = vault(dir.path());
    let err = transfer::import(&mut v, &path, None, &mut |_| {}).expect_err("encrypted");
    assert!(err.to_string().contains("download a decrypted"), "{err}");
    assert!(v.list().expect("list").is_empty());
}

/// A disk that fills up part way through an import: the import fails with
/// the disk's error, the store holds whole batches only (every note with
/// its outbox entry, integrity intact), and running the import again once
/// there is room adds exactly the notes that are missing.
#[test]
fn a_disk_fault_mid_import_leaves_whole_batches_and_a_rerun_finishes() {
    let src = tempfile::tempdir().expect("tempdir");
    let path = src.path().join("notes.jsonl");
    let notes = 2 * transfer::BATCH + 200;
    let text: Vec<String> =
        (0..notes).map(|i| line(&format!("n{i}"), &format!("body {i} {}", "x".repeat(300)), &[])).collect();
    std::fs::write(&path, text.join("\n")).expect("write");
    let keys = MemoryStore::new();
    let vfs = FaultVfs::register().expect("register vfs");
    let points = {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open_with_vfs(dir.path(), &keys, vfs.name()).expect("open");
        vfs.count();
        import(&mut v, &path, None);
        vfs.counts().points()
    };
    let mut partial = Vec::new();
    for at in [points / 4, points / 2, points * 3 / 4, points - 1] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open_with_vfs(dir.path(), &keys, vfs.name()).expect("open");
        vfs.arm(Fault { at, inject: Inject::DiskFull, persistence: Persistence::Persistent });
        let err = transfer::import(&mut v, &path, None, &mut |_| {}).expect_err("the disk is full");
        vfs.disarm();
        assert_eq!(err.code(), "disk_full", "{err}");
        let kept = v.list().expect("list").len();
        assert_eq!(kept % transfer::BATCH, 0, "fault at {at}/{points}: whole batches only, {kept} notes");
        assert_eq!(v.outbox().expect("outbox").len(), kept, "each kept note has its outbox entry");
        common::integrity_ok(v.connection());
        let (rest, _) = import(&mut v, &path, None);
        assert_eq!((rest.imported as usize, rest.duplicates as usize), (notes - kept, kept), "fault at {at}");
        assert_eq!(v.list().expect("list").len(), notes);
        partial.push(kept);
    }
    assert!(partial.iter().any(|&k| k > 0), "some fault came after a batch was written: {partial:?}");
}
