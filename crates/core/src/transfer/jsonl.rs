//! JSON Lines: one `{"title", "body", "tags", "pinned"}` object per line
//! (`body`, `tags` and `pinned` optional; `created`/`created_at` and
//! `updated`/`updated_at` as milliseconds since the Unix epoch or an RFC
//! 3339 date kept when given), read a line at a time so a file of any size
//! imports in flat memory.
//! A line that is not such an object, or too long to be one note, is
//! reported with its number and skipped.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::dates::parse_date;
use super::{Incoming, Item, Skipped};
use crate::error::{Error, Result};
use crate::model::{limits, NoteDraft};

/// The longest line that can still hold one note: every limit at its
/// largest, every byte escaped as `\u0000` (6 bytes), and room for the
/// keys. Longer lines are skipped without being held in memory.
pub const MAX_LINE_BYTES: usize =
    6 * (limits::MAX_BODY_BYTES + limits::MAX_TITLE_BYTES + limits::MAX_TAGS * limits::MAX_TAG_BYTES) + 64 * 1024;

/// The notes of the JSON Lines file at `path`, one at a time.
pub fn open(path: &Path) -> Result<Lines<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(Lines::new(BufReader::with_capacity(256 * 1024, file), path.display().to_string()))
}

/// Reads notes from JSON Lines; see the module docs.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    name: String,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    /// `name` names the input in I/O errors.
    pub fn new(reader: R, name: String) -> Self {
        Self { reader, name, line: 0, buf: Vec::new(), done: false }
    }

    /// The next line into `buf` without its end of line, holding at most
    /// [`MAX_LINE_BYTES`] of it; returns the line's full length, or `None`
    /// at the end of the input.
    fn next_line(&mut self) -> std::io::Result<Option<usize>> {
        self.buf.clear();
        let (mut total, mut any, mut over) = (0usize, false, false);
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (chunk, end) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], Some(i + 1)),
                None => (avail, None),
            };
            if !over && self.buf.len() + chunk.len() <= MAX_LINE_BYTES {
                self.buf.extend_from_slice(chunk);
            } else {
                over = true;
                self.buf.clear();
            }
            total += chunk.len();
            let used = end.unwrap_or(chunk.len());
            self.reader.consume(used);
            if end.is_some() {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(any.then_some(total))
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let len = match self.next_line() {
                Ok(Some(len)) => len,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(format!("reading {} after line {}", self.name, self.line), e)));
                }
            };
            self.line += 1;
            let at = format!("line {}", self.line);
            if len > MAX_LINE_BYTES {
                let reason = format!("the line is {len} bytes, longer than any note can be ({MAX_LINE_BYTES} bytes)");
                return Some(Ok(Err(Skipped { at, title: None, reason })));
            }
            let mut text: &[u8] = &self.buf;
            if self.line == 1 {
                text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(match parse_line(text) {
                Ok(line) => Ok(line.into_incoming(at)),
                Err((title, reason)) => Err(Skipped { at, title, reason }),
            }));
        }
        None
    }
}

/// One line of the file.
#[derive(Debug, Deserialize)]
struct Line {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    pinned: bool,
    #[serde(default, alias = "created_at")]
    created: Option<When>,
    #[serde(default, alias = "updated_at")]
    updated: Option<When>,
}

/// A date: milliseconds since the Unix epoch, or text [`parse_date`] reads
/// (a date it cannot read is left out, not the note).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum When {
    Ms(i64),
    Text(String),
}

impl When {
    fn ms(&self) -> Option<i64> {
        match self {
            When::Ms(ms) => Some(*ms),
            When::Text(t) => parse_date(t),
        }
    }
}

impl Line {
    fn into_incoming(self, at: String) -> Incoming {
        let (created, updated) = (self.created.and_then(|w| w.ms()), self.updated.and_then(|w| w.ms()));
        let draft = NoteDraft { title: self.title, body: self.body, tags: self.tags, pinned: self.pinned };
        Incoming { created, updated, ..Incoming::new(at, draft) }
    }
}

/// One line as a note; else the title if one could be read, and why not.
fn parse_line(text: &[u8]) -> std::result::Result<Line, (Option<String>, String)> {
    serde_json::from_slice::<Line>(text).map_err(|e| {
        let title = serde_json::from_slice::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(super::short));
        (title, reason(&e))
    })
}

/// serde_json's message without its "at line 1 column N" (every line is
/// line 1 to it), with the column kept.
fn reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
    match e.classify() {
        serde_json::error::Category::Io => format!("unreadable: {msg}"),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {msg} (column {})", e.column())
        }
        serde_json::error::Category::Data => format!("not a note: {msg} (column {})", e.column()),
    }
}

/// Every note of a JSON Lines text, or the first line that is not one
/// (for checking a file by hand; import itself skips such lines).
pub fn parse_jsonl(text: &str) -> std::result::Result<Vec<NoteDraft>, String> {
    let mut out = Vec::new();
    for item in Lines::new(text.as_bytes(), "the text".to_owned()) {
        match item.map_err(|e| e.to_string())? {
            Ok(note) => out.push(note.draft),
            Err(skip) => return Err(format!("{}: {}", skip.at, skip.reason)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &[u8]) -> Vec<Item> {
        Lines::new(text, "t".into()).map(|i| i.expect("readable")).collect()
    }

    #[test]
    fn lines_are_numbered_and_bad_ones_reported() {
        let got = items(
            b"\xef\xbb\xbf{\"title\":\"a\",\"body\":\"b\"}\r\n\n{\"title\": 5}\nnot json\n{\"title\":\"t\",\"body\":\"x\"}",
        );
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().map(|n| (n.at.as_str(), n.draft.title.as_str())), Ok(("line 1", "a")));
        let bad = got[1].as_ref().expect_err("bad type");
        assert_eq!(bad.at, "line 3");
        assert!(bad.reason.starts_with("not a note: invalid type"), "{}", bad.reason);
        assert!(!bad.reason.contains("line 1"), "{}", bad.reason);
        let bad = got[2].as_ref().expect_err("not json");
        assert_eq!(bad.at, "line 4");
        assert!(bad.reason.starts_with("not valid JSON"), "{}", bad.reason);
        assert_eq!(got[3].as_ref().map(|n| n.draft.body.as_str()), Ok("x"), "last line without a newline");
    }

    #[test]
    fn an_overlong_line_is_skipped_without_being_held() {
        let mut text = b"{\"title\":\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        text.extend_from_slice(b"\"}\n{\"title\":\"next\",\"body\":\"\"}\n");
        let mut lines = Lines::new(&text[..], "t".into());
        let first = lines.next().expect("item").expect("readable").expect_err("too long");
        assert_eq!(first.at, "line 1");
        assert!(first.reason.contains("longer than any note"), "{}", first.reason);
        assert!(lines.buf.capacity() <= MAX_LINE_BYTES * 2, "the long line was not buffered whole");
        let next = lines.next().expect("item").expect("readable").expect("note");
        assert_eq!((next.at.as_str(), next.draft.title.as_str()), ("line 2", "next"));
        assert!(lines.next().is_none());
    }

    #[test]
    fn parse_jsonl_names_the_first_bad_line() {
        assert_eq!(parse_jsonl("{\"title\":\"a\",\"body\":\"\"}\n\n").map(|v| v.len()), Ok(1));
        let e = parse_jsonl("{\"title\":\"a\",\"body\":\"\"}\n{}\n").expect_err("bad");
        assert!(e.starts_with("line 2: not a note"), "{e}");
    }
}
