//! Note import (`outpost notes import`, `outpost_core::transfer`): the
//! Markdown parser (front matter, heading titles), the JSON Lines parser,
//! the Evernote reader and its ENML converter, the Standard Notes backup
//! parser and the date parser, from arbitrary input; and export followed
//! by import, from an arbitrary note.
//!
//! Checked:
//! - no panic on any input;
//! - a note exported as Markdown (`transfer::to_markdown`, what
//!   `outpost notes export` writes) imports back with the same title, tags,
//!   pinned flag and body, so export and import move notes between devices
//!   and apps without loss. Notes are as the store keeps them: tags
//!   trimmed, without `#`, control characters or duplicates, and a title
//!   (an empty one imports as the file's name, which this does not see).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use outpost_core::transfer::{dates, enex, parse_jsonl, parse_markdown, standard_notes, to_markdown};

#[derive(Arbitrary, Debug)]
enum Input {
    Markdown(String),
    Jsonl(String),
    Enex(Vec<u8>),
    Enml(String),
    StandardNotes(Vec<u8>),
    Date(String),
    Export { title: String, tags: Vec<String>, pinned: bool, body: String },
}

/// A tag as the store keeps it, or none.
fn stored_tag(t: &str) -> Option<String> {
    let t = t.trim().trim_start_matches('#').to_owned();
    (!t.is_empty() && !t.chars().any(char::is_control)).then_some(t)
}

fuzz_target!(|input: Input| match input {
    Input::Markdown(text) => {
        let _ = parse_markdown(&text);
    }
    Input::Jsonl(text) => {
        if let Ok(drafts) = parse_jsonl(&text) {
            // A byte order mark before the first line is not part of it.
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
            assert_eq!(drafts.len(), lines, "one note per non-blank line");
        }
    }
    Input::Enex(bytes) => {
        for item in enex::Notes::new(&bytes[..]) {
            let _ = item;
        }
    }
    Input::Enml(text) => {
        let _ = enex::enml_to_markdown(&text);
    }
    Input::StandardNotes(bytes) => {
        let _ = standard_notes::parse(&bytes);
    }
    Input::Date(text) => {
        let _ = dates::parse_date(&text);
    }
    Input::Export { title, tags, pinned, body } => {
        if title.is_empty() {
            return;
        }
        let mut kept: Vec<String> = Vec::new();
        for t in tags.iter().filter_map(|t| stored_tag(t)) {
            if !kept.contains(&t) {
                kept.push(t);
            }
        }
        let text = to_markdown(&title, &kept, pinned, &body);
        let draft = parse_markdown(&text).unwrap_or_else(|e| panic!("an exported note does not import: {e}"));
        assert_eq!(draft.title, title, "title changed by export and import");
        assert_eq!(draft.tags, kept, "tags changed by export and import");
        assert_eq!(draft.pinned, pinned, "pinned changed by export and import");
        assert_eq!(draft.body, body, "body changed by export and import");
    }
});
