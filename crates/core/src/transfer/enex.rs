//! Evernote's `.enex` export, read as a stream of XML events (quick-xml)
//! so a file of any size imports a note at a time:
//!
//! ```xml
//! <en-export><note>
//!   <title>..</title><created>20210526T144744Z</created><updated>..</updated>
//!   <tag>..</tag>...
//!   <content><![CDATA[<en-note>ENML</en-note>]]></content>
//!   <resource><data encoding="base64">..</data><mime>image/png</mime>
//!     <resource-attributes><file-name>photo.png</file-name></resource-attributes></resource>
//! </note>...</en-export>
//! ```
//!
//! The ENML content becomes Markdown-ish text ([`enml_to_markdown`]):
//! blocks (`div`, `p`, headings, `br`) to lines, lists to `- ` / `1. `,
//! links to `[text](href)`, `en-todo` and Evernote's checklists to task
//! items, bold/italic/strike/code marks, `pre` and code blocks fenced,
//! tables to `|` rows. Attachments (`resource`) are not imported (Outpost
//! has none yet): each is reported, and the note shows where it was. A note
//! whose content is not valid ENML is reported and skipped; a file that
//! stops being XML ends the import there, with everything before kept.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::dates::parse_date;
use super::{short, Incoming, Item, Skipped};
use crate::error::{Error, Result};
use crate::model::{limits, NoteDraft};

/// The largest `<content>` read: ENML is markup around the text, so a
/// few times the body limit; beyond it the note is skipped unread.
const MAX_CONTENT_BYTES: usize = 8 * limits::MAX_BODY_BYTES;

/// The notes of the `.enex` file at `path`, one at a time.
pub fn open(path: &Path) -> Result<Notes<BufReader<File>>> {
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ok(Notes::new(BufReader::with_capacity(256 * 1024, file)))
}

/// Reads notes from ENEX; see the module docs.
#[derive(Debug)]
pub struct Notes<R> {
    reader: Reader<R>,
    buf: Vec<u8>,
    count: u64,
    done: bool,
}

/// Why reading stopped before the end.
#[derive(Debug)]
enum Stop {
    Io(std::io::Error),
    /// Not XML (or not ENEX) from here on.
    Bad(String),
}

/// Which element's text is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Title,
    Created,
    Updated,
    Tag,
    Content,
    Mime,
    FileName,
}

/// A note as read so far.
#[derive(Debug, Default)]
struct Raw {
    title: String,
    created: String,
    updated: String,
    tags: Vec<String>,
    content: String,
    content_over: bool,
    attachments: Vec<String>,
    mime: String,
    file_name: String,
}

impl<R: BufRead> Notes<R> {
    pub fn new(reader: R) -> Self {
        let mut reader = Reader::from_reader(reader);
        reader.config_mut().check_end_names = true;
        Self { reader, buf: Vec::new(), count: 0, done: false }
    }

    /// Read up to the end of the next `<note>`; `None` at the end of the
    /// export.
    fn next_note(&mut self) -> std::result::Result<Option<Raw>, Stop> {
        let mut raw: Option<Raw> = None;
        let mut field = Field::None;
        loop {
            self.buf.clear();
            let event = self.reader.read_event_into(&mut self.buf).map_err(|e| match e {
                quick_xml::Error::Io(e) => Stop::Io(std::io::Error::new(e.kind(), e.to_string())),
                e => Stop::Bad(e.to_string()),
            })?;
            match event {
                Event::Eof if raw.is_some() => return Err(Stop::Bad("the file ends inside a note".to_owned())),
                Event::Eof => return Ok(None),
                Event::Start(e) => match (e.local_name().as_ref(), raw.as_mut()) {
                    ("note", None) => raw = Some(Raw::default()),
                    (name, Some(r)) => {
                        field = match name {
                            "title" => Field::Title,
                            "created" => Field::Created,
                            "updated" => Field::Updated,
                            "tag" => Field::Tag,
                            "content" => Field::Content,
                            "mime" => Field::Mime,
                            "file-name" => Field::FileName,
                            _ => Field::None,
                        };
                        if field == Field::Tag {
                            r.tags.push(String::new());
                        }
                    }
                    _ => {}
                },
                Event::End(e) => {
                    field = Field::None;
                    match (e.local_name().as_ref(), raw.as_mut()) {
                        ("note", Some(_)) => return Ok(raw),
                        ("resource", Some(r)) => {
                            let name = if r.file_name.trim().is_empty() {
                                format!("unnamed {}", if r.mime.is_empty() { "file" } else { r.mime.trim() })
                            } else {
                                r.file_name.trim().to_owned()
                            };
                            r.attachments.push(name);
                            r.mime.clear();
                            r.file_name.clear();
                        }
                        _ => {}
                    }
                }
                Event::Text(t) => {
                    if let Some(r) = raw.as_mut() {
                        r.push(field, &t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(r) = raw.as_mut() {
                        r.push(field, &t.xml10_content());
                    }
                }
                Event::GeneralRef(e) => {
                    if let Some(r) = raw.as_mut() {
                        r.push(field, &entity(&e.xml10_content()));
                    }
                }
                _ => {}
            }
        }
    }
}

impl Raw {
    fn push(&mut self, field: Field, text: &str) {
        let target = match field {
            Field::None => return,
            Field::Title => &mut self.title,
            Field::Created => &mut self.created,
            Field::Updated => &mut self.updated,
            Field::Tag => match self.tags.last_mut() {
                Some(t) => t,
                None => return,
            },
            Field::Content => {
                if self.content_over || self.content.len() + text.len() > MAX_CONTENT_BYTES {
                    self.content_over = true;
                    self.content = String::new();
                    return;
                }
                &mut self.content
            }
            Field::Mime => &mut self.mime,
            Field::FileName => &mut self.file_name,
        };
        target.push_str(text);
    }

    fn into_item(self, at: String) -> Item {
        let title = self.title.trim().to_owned();
        let fail = |reason: String| Skipped { at: at.clone(), title: Some(short(&title)), reason };
        if self.content_over {
            return Err(fail(format!(
                "its content is over {MAX_CONTENT_BYTES} bytes of ENML, more than a note can hold"
            )));
        }
        let body = enml_to_markdown(&self.content).map_err(|e| fail(format!("its content is not valid ENML: {e}")))?;
        let tags = self.tags.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
        let draft = NoteDraft { title, body, tags, pinned: false };
        Ok(Incoming {
            created: parse_date(&self.created),
            updated: parse_date(&self.updated),
            attachments: self.attachments,
            ..Incoming::new(at, draft)
        })
    }
}

impl<R: BufRead> Iterator for Notes<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_note() {
            Ok(Some(raw)) => {
                self.count += 1;
                Some(Ok(raw.into_item(format!("note {}", self.count))))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(Stop::Io(e)) => {
                self.done = true;
                Some(Err(Error::io(format!("reading the export after note {}", self.count), e)))
            }
            Err(Stop::Bad(e)) => {
                // Past a syntax error nothing can be trusted: stop here.
                self.done = true;
                let at = format!("note {} (byte {})", self.count + 1, self.reader.error_position());
                Some(Ok(Err(Skipped {
                    at,
                    title: None,
                    reason: format!("the file is not valid ENEX from here on ({e}); nothing after it was read"),
                })))
            }
        }
    }
}

/// An entity reference's text: XML's five, character references, HTML's
/// named ones (`&nbsp;` as a plain space); others kept as written.
fn entity(name: &str) -> String {
    if let Some(s) = quick_xml::escape::resolve_predefined_entity(name) {
        return s.to_owned();
    }
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        if let Some(c) = code.and_then(char::from_u32) {
            return c.to_string();
        }
    }
    match name {
        // A space that does not break is a space in Markdown.
        "nbsp" => " ".to_owned(),
        _ => quick_xml::escape::resolve_html5_entity(name).map_or_else(|| format!("&{name};"), str::to_owned),
    }
}

/// What an open element will do when it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Open {
    Block,
    List,
    Item,
    /// A link: where its text starts in the line, and its target.
    Link(usize, String),
    /// A mark (`**`) and where it was opened in the line.
    Mark(&'static str, usize),
    Code,
    Crypt,
    Other,
}

/// Markdown-ish text from ENML; see the module docs.
pub fn enml_to_markdown(enml: &str) -> std::result::Result<String, String> {
    let mut w = Md::default();
    let mut reader = Reader::from_str(enml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match event {
            Event::Eof => break,
            Event::Start(e) => {
                let open = w.start(&e, &stack);
                stack.push(open);
            }
            Event::Empty(e) => {
                let open = w.start(&e, &stack);
                w.end(open);
            }
            Event::End(_) => {
                let open = stack.pop().ok_or("a closing tag without its opening one")?;
                w.end(open);
            }
            Event::Text(t) => w.text(&t.xml10_content(), &stack),
            Event::CData(t) => w.text(&t.xml10_content(), &stack),
            Event::GeneralRef(e) => w.text(&entity(&e.xml10_content()), &stack),
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("the content ends before its elements are closed".to_owned());
    }
    w.flush(false);
    Ok(w.finish())
}

/// The text being written: finished lines and the current one.
#[derive(Debug, Default)]
struct Md {
    out: String,
    line: String,
    /// Open lists: ordered, and the next number.
    lists: Vec<(bool, usize)>,
    /// Inside `pre` or a code block: text as it is.
    code: usize,
    /// The line holds only a list marker or quote sign this long: a block
    /// opening inside the item does not end it.
    prefix: Option<usize>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> String {
    match e.try_get_attribute(name) {
        Ok(Some(a)) => a
            .normalized_value_with(quick_xml::XmlVersion::Implicit1_0, 1, quick_xml::escape::resolve_predefined_entity)
            .map(|v| v.into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

impl Md {
    /// End the current line; `hard` (a `br`) ends it even when empty.
    fn flush(&mut self, hard: bool) {
        if !hard && self.prefix == Some(self.line.len()) {
            return;
        }
        self.prefix = None;
        let line = self.line.trim_end();
        if !line.is_empty() || hard {
            self.out.push_str(line);
            self.out.push('\n');
        }
        self.line.clear();
    }

    fn start(&mut self, e: &BytesStart<'_>, stack: &[Open]) -> Open {
        let name = e.local_name();
        let name = name.as_ref().to_ascii_lowercase();
        let style = attr(e, "style").replace(' ', "");
        if stack.contains(&Open::Crypt) {
            return Open::Other;
        }
        match name.as_str() {
            "div" if style.contains("-en-codeblock:true") => {
                self.flush(false);
                self.out.push_str("```\n");
                self.code += 1;
                Open::Code
            }
            "pre" => {
                self.flush(false);
                self.out.push_str("```\n");
                self.code += 1;
                Open::Code
            }
            "div" | "p" | "blockquote" | "tr" | "en-note" | "section" | "article" | "center" | "address" => {
                self.flush(false);
                if name == "blockquote" {
                    self.line.push_str("> ");
                    self.prefix = Some(self.line.len());
                }
                Open::Block
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush(false);
                let level = name[1..].parse().unwrap_or(1);
                self.line.push_str(&"#".repeat(level));
                self.line.push(' ');
                Open::Block
            }
            "ul" | "ol" => {
                self.flush(false);
                self.lists.push((name == "ol", 1));
                Open::List
            }
            "li" => {
                self.flush(false);
                let depth = self.lists.len().max(1);
                let indent = "  ".repeat(depth - 1);
                let marker = match self.lists.last_mut() {
                    Some((true, n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_owned(),
                };
                self.line.push_str(&indent);
                self.line.push_str(&marker);
                // Evernote's newer checklists: <li style="--en-checked:true">.
                if style.contains("--en-checked:true") {
                    self.line.push_str("[x] ");
                } else if style.contains("--en-checked:false") {
                    self.line.push_str("[ ] ");
                }
                self.prefix = Some(self.line.len());
                Open::Item
            }
            "br" => {
                self.flush(true);
                Open::Other
            }
            "hr" => {
                self.flush(false);
                self.out.push_str("---\n");
                Open::Other
            }
            "td" | "th" => {
                if !self.line.is_empty() {
                    self.line.push_str(" | ");
                }
                Open::Other
            }
            "en-todo" => {
                let mark = if attr(e, "checked") == "true" { "[x] " } else { "[ ] " };
                if !self.line.trim_end().ends_with('-') || self.line.trim().is_empty() {
                    self.line.push_str("- ");
                }
                self.line.push_str(mark);
                Open::Other
            }
            "en-media" => {
                let kind = attr(e, "type");
                self.line
                    .push_str(&format!("[attachment not imported: {}]", if kind.is_empty() { "file" } else { &kind }));
                Open::Other
            }
            "en-crypt" => {
                self.line.push_str("[encrypted text not imported]");
                Open::Crypt
            }
            "a" => Open::Link(self.line.len(), attr(e, "href")),
            "b" | "strong" => self.mark("**"),
            "i" | "em" => self.mark("*"),
            "s" | "strike" | "del" => self.mark("~~"),
            "code" if self.code == 0 => self.mark("`"),
            _ => Open::Other,
        }
    }

    fn mark(&mut self, m: &'static str) -> Open {
        self.line.push_str(m);
        Open::Mark(m, self.line.len())
    }

    fn end(&mut self, open: Open) {
        match open {
            Open::Block => self.flush(false),
            // An item with nothing in it leaves no marker behind.
            Open::Item if self.prefix == Some(self.line.len()) => {
                self.line.clear();
                self.prefix = None;
            }
            Open::Item => self.flush(false),
            Open::List => {
                self.flush(false);
                self.lists.pop();
            }
            Open::Code => {
                self.flush(false);
                self.code = self.code.saturating_sub(1);
                self.out.push_str("```\n");
            }
            Open::Link(at, href) => {
                // (A block inside the link ended the line: the text is gone.)
                if let Some(text) = self.line.get(at..).map(|t| t.trim().to_owned()) {
                    if !href.is_empty() && text != href {
                        self.line.truncate(at);
                        let text = if text.is_empty() { href.clone() } else { text };
                        self.line.push_str(&format!("[{text}]({href})"));
                    }
                }
            }
            Open::Mark(m, at) => {
                // An empty mark (<b></b>) leaves nothing behind.
                if self.line.len() == at && self.line.ends_with(m) {
                    self.line.truncate(at - m.len());
                } else if !self.line.trim().is_empty() {
                    self.line.push_str(m);
                }
            }
            Open::Crypt | Open::Other => {}
        }
    }

    fn text(&mut self, text: &str, stack: &[Open]) {
        if stack.contains(&Open::Crypt) {
            return;
        }
        if self.code > 0 {
            // Code keeps its lines; each becomes a line of the fence.
            let mut parts = text.split('\n');
            if let Some(first) = parts.next() {
                self.line.push_str(first);
            }
            for part in parts {
                self.out.push_str(&self.line);
                self.out.push('\n');
                self.line = part.to_owned();
            }
            return;
        }
        // HTML: runs of white space are one space.
        let mut prev_space = self.line.is_empty() || self.line.ends_with(' ');
        for c in text.chars() {
            if c.is_whitespace() {
                if !prev_space {
                    self.line.push(' ');
                }
                prev_space = true;
            } else {
                self.line.push(c);
                prev_space = false;
            }
        }
    }

    fn finish(self) -> String {
        // At most one blank line in a row; none at the ends.
        let mut out = String::with_capacity(self.out.len());
        let mut blank = 0;
        for line in self.out.lines() {
            if line.trim().is_empty() {
                blank += 1;
                if blank > 1 || out.is_empty() {
                    continue;
                }
            } else {
                blank = 0;
            }
            out.push_str(line);
            out.push('\n');
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enml_becomes_markdown() {
        let enml = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE en-note SYSTEM "http://xml.evernote.com/pub/enml2.dtd">
<en-note><div>First   line&nbsp;&amp; more</div><div><br/></div><h2>Plan</h2>
<ul><li><div>one</div></li><li><div>two <b>bold</b> <i>it</i></div><ol><li>a</li><li>b</li></ol></li></ul>
<div><en-todo checked="true"/>done</div><div><en-todo/>open</div>
<ul style="--en-todo:true;"><li style="--en-checked:false;"><div>newer style</div></li><li></li></ul>
<div>See <a href="https://evernote.com">the site</a> or <a href="https://x.org">https://x.org</a>.</div>
<en-media hash="f03c1c2d96bc67eda02968c8b5af9008" type="image/png"/>
<div style="--en-codeblock:true;"><div>fn main() {</div><div>    x</div><div>}</div></div>
<table><tr><td>a</td><td>b</td></tr></table><en-crypt cipher="AES">c2VjcmV0</en-crypt></en-note>"#;
        let md = enml_to_markdown(enml).expect("valid ENML");
        assert_eq!(
            md,
            "First line & more\n\n## Plan\n- one\n- two **bold** *it*\n  1. a\n  2. b\n- [x] done\n- [ ] open\n\
             - [ ] newer style\nSee [the site](https://evernote.com) or https://x.org.\n\
             [attachment not imported: image/png]\n```\nfn main() {\n    x\n}\n```\na | b\n\
             [encrypted text not imported]\n"
        );
    }

    #[test]
    fn bad_enml_is_an_error() {
        assert!(enml_to_markdown("<en-note><div>open</en-note>").is_err());
        assert!(enml_to_markdown("<en-note><div>never closed").is_err());
    }
}
