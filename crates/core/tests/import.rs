//! Import (`outpost_core::transfer`) on real files: JSON Lines of any size
//! with bad lines among good ones, re-runs after an interruption, and the
//! formats other apps export (samples in `tests/data/import/`).

use std::io::Write;
use std::path::Path;

use outpost_core::keys::MemoryStore;
use outpost_core::model::limits;
use outpost_core::transfer::{self, Format, ImportSummary, Progress};
use outpost_core::Vault;

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
