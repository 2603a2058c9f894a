//! Markdown: a folder of `.md`/`.markdown`/`.txt` files as Obsidian and
//! Joplin export them (one file per note, optional YAML front matter,
//! sub-folders become notebooks), or one `.md` file. A file that cannot be a
//! note (too large, not UTF-8, front matter never closed) is reported by
//! its path inside the folder and skipped.

use std::path::{Path, PathBuf};

use super::dates::parse_date;
use super::{Incoming, Item, Skipped};
use crate::error::{Error, Result};
use crate::model::{limits, NoteDraft};

/// Largest file import will read: a note body plus room for front matter.
const MAX_FILE_BYTES: u64 = limits::MAX_BODY_BYTES as u64 + 64 * 1024;

/// The notes under `path` (a folder, walked in name order, or one file),
/// one file at a time.
pub fn open(path: &Path) -> Result<impl Iterator<Item = Result<Item>>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let (root, files) = if meta.is_dir() {
        let mut files = Vec::new();
        collect_markdown(path, &mut files)?;
        files.sort();
        (path.to_path_buf(), files)
    } else {
        (path.parent().unwrap_or(Path::new(".")).to_path_buf(), vec![path.to_path_buf()])
    };
    Ok(files.into_iter().map(move |f| Ok(read_markdown(&root, &f))))
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let p = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // .obsidian, .git, editor swap files
        }
        let ft = entry.file_type().map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        if ft.is_dir() {
            collect_markdown(&p, out)?;
        } else if ft.is_file() && p.extension().is_some_and(|e| e == "md" || e == "markdown" || e == "txt") {
            out.push(p);
        }
    }
    Ok(())
}

/// The folders under `root` with nothing in them (hidden entries aside),
/// as names from the top: an export's empty notebooks. A folder holding
/// only other files (attachments) is none.
pub fn empty_folders(root: &Path) -> Result<Vec<Vec<String>>> {
    fn walk(dir: &Path, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let mut empty = true;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            empty = false;
            if entry.file_type().map_err(|e| Error::io(format!("reading {}", dir.display()), e))?.is_dir() {
                at.push(name);
                walk(&entry.path(), at, out)?;
                at.pop();
            }
        }
        if empty && !at.is_empty() {
            out.push(at.clone());
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.is_dir() {
        walk(root, &mut Vec::new(), &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// `path` relative to the imported folder, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/")
}

/// A file's text: UTF-8 (a byte order mark dropped), or UTF-16 with a byte
/// order mark (Windows' "Unicode"); line ends CRLF throughout become LF.
fn read_text(path: &Path) -> std::result::Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| format!("unreadable: {e}"))?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("the file is {len} bytes; the limit is {MAX_FILE_BYTES} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    let text = decode(&bytes)?;
    let crlf = text.matches("\r\n").count();
    Ok(if crlf > 0 && crlf == text.matches('\n').count() { text.replace("\r\n", "\n") } else { text })
}

fn decode(bytes: &[u8]) -> std::result::Result<String, String> {
    let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
        if !rest.len().is_multiple_of(2) {
            return Err("not UTF-16 text (an odd number of bytes)".to_owned());
        }
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| "not UTF-16 text (a broken surrogate pair)".to_owned())
    };
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return utf16(rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!(
            "not UTF-8 text (byte {} is not; save the file as UTF-8 and import it again)",
            e.utf8_error().valid_up_to()
        )
    })
}

/// When the file was last written, in milliseconds since the Unix epoch.
fn modified_ms(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    i64::try_from(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()
}

fn read_markdown(root: &Path, path: &Path) -> Item {
    let at = relative(root, path);
    let parsed = read_text(path).and_then(|t| parse_note(&t));
    let Parsed { mut draft, created, updated } = match parsed {
        Ok(p) => p,
        Err(reason) => return Err(Skipped { at, title: None, reason }),
    };
    if draft.title.is_empty() {
        draft.title = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    }
    // A sub-folder is a notebook (nested folders, nested notebooks).
    let notebook: Vec<String> = path
        .parent()
        .and_then(|p| p.strip_prefix(root).ok())
        .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let attachments = attachments(&draft.body);
    // No date in the front matter (Obsidian): the file's own.
    let updated = updated.or_else(|| if created.is_none() { modified_ms(path) } else { None });
    Ok(Incoming { created, updated, attachments, notebook, ..Incoming::new(at, draft) })
}

/// Local files a note embeds or links to that are not notes: Obsidian's
/// `![[photo.png]]` and `[[file.pdf]]`, Markdown's `![](../_resources/x.png)`
/// and `[x](files/x.pdf)` (Joplin). Web links and links to other notes
/// are not attachments.
pub fn attachments(body: &str) -> Vec<String> {
    let target_of = |t: &str| -> String {
        let t = t.split(['#', '|', '?']).next().unwrap_or("").trim();
        t.strip_prefix('<').and_then(|n| n.strip_suffix('>')).unwrap_or(t).to_owned()
    };
    let is_file = |target: &str| {
        let ext = Path::new(target).extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        !target.is_empty()
            && !target.contains("://")
            && !target.starts_with("mailto:")
            && !target.starts_with(':')
            && ext.is_some_and(|e| e != "md" && e != "markdown" && !e.is_empty() && e.len() <= 5)
    };
    let mut out: Vec<String> = Vec::new();
    let mut found = |raw: &str| {
        let t = target_of(raw);
        if is_file(&t) && !out.contains(&t) {
            out.push(t);
        }
    };
    let mut rest = body;
    while let Some(i) = rest.find("[[") {
        let after = &rest[i + 2..];
        let Some(end) = after.find("]]") else { break };
        if !after[..end].contains('\n') {
            found(&after[..end]);
        }
        rest = &after[end + 2..];
    }
    let mut rest = body;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        let Some(end) = after.find(')') else { break };
        found(after[..end].split_whitespace().next().unwrap_or(""));
        rest = &after[end + 1..];
    }
    out
}

/// A Markdown note and the dates its front matter gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub draft: NoteDraft,
    /// `created` (or `date`), in milliseconds since the Unix epoch.
    pub created: Option<i64>,
    /// `updated` (or `modified`, `lastmod`).
    pub updated: Option<i64>,
}

/// [`parse_note`] without the dates.
pub fn parse_markdown(text: &str) -> std::result::Result<NoteDraft, String> {
    parse_note(text).map(|p| p.draft)
}

/// Split optional `---` front matter from the body. Read: `title:`,
/// `tags:` (`[a, b]`, a JSON array, a `- a` list, or `a, b` / `a b`),
/// `pinned:`, and the dates `created:`/`date:` and
/// `updated:`/`modified:`/`lastmod:`. Other keys (Joplin's `source`,
/// `author`, `latitude`..., Obsidian's `aliases`) and a date that does not
/// parse stay in the body as front matter, so nothing is lost. One blank
/// line after the closing `---` (Joplin, and [`super::to_markdown`]) is
/// not part of the body. A first line `# heading` is the title when the
/// front matter gives none.
pub fn parse_note(text: &str) -> std::result::Result<Parsed, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Parsed::default();
    let draft = &mut out.draft;
    let body = match text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) {
        Some(rest) => {
            let end = rest.find("\n---").ok_or("front matter opened with --- is never closed")?;
            let front = &rest[..end];
            let after = &rest[end + 4..];
            let after = after.strip_prefix('\r').unwrap_or(after);
            let after = after.strip_prefix('\n').unwrap_or(after);
            let after = after.strip_prefix("\r\n").or_else(|| after.strip_prefix('\n')).unwrap_or(after);
            let mut other = Vec::new();
            let mut in_tags = false;
            for line in front.lines() {
                let trimmed = line.trim();
                if in_tags {
                    if let Some(tag) = trimmed.strip_prefix("- ") {
                        draft.tags.push(unquote(tag));
                        continue;
                    }
                    in_tags = false;
                }
                let (key, value) = trimmed.split_once(':').map_or((trimmed, ""), |(k, v)| (k.trim(), v.trim()));
                match key {
                    "title" => draft.title = unquote(value),
                    "tags" | "tag" if value.is_empty() => in_tags = true,
                    "tags" | "tag" => {
                        if let Ok(tags) = serde_json::from_str::<Vec<String>>(value) {
                            // What `to_markdown` writes: a JSON array, so tags
                            // with commas, quotes or escapes come back whole.
                            draft.tags.extend(tags.into_iter().filter(|t| !t.is_empty()));
                        } else if value.starts_with('[') || value.contains(',') {
                            let v = value.trim_start_matches('[').trim_end_matches(']');
                            draft.tags.extend(v.split(',').map(|t| unquote(t.trim())).filter(|t| !t.is_empty()));
                        } else {
                            // Obsidian: `tags: a b` (a tag has no spaces).
                            draft.tags.extend(value.split_whitespace().map(unquote));
                        }
                    }
                    "pinned" => draft.pinned = value == "true",
                    "created" | "date" if out.created.is_none() && parse_date(value).is_some() => {
                        out.created = parse_date(value);
                    }
                    "updated" | "modified" | "lastmod" if out.updated.is_none() && parse_date(value).is_some() => {
                        out.updated = parse_date(value);
                    }
                    _ if !trimmed.is_empty() => other.push(line),
                    _ => {}
                }
            }
            if other.is_empty() {
                after.to_owned()
            } else {
                format!("---\n{}\n---\n{after}", other.join("\n"))
            }
        }
        None => text.to_owned(),
    };
    if draft.title.is_empty() {
        // Joplin and many others: the first `# heading` is the title.
        if let Some(first) = body.lines().next() {
            if let Some(h) = first.strip_prefix("# ") {
                draft.title = h.trim().to_owned();
                draft.body = body.lines().skip(1).collect::<Vec<_>>().join("\n").trim_start_matches('\n').to_owned();
                return Ok(out);
            }
        }
    }
    draft.body = body;
    Ok(out)
}

/// A front-matter value: a JSON string (what `to_markdown` writes, escapes
/// and all), else a single- or double-quoted or bare YAML-ish value.
fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.starts_with('"') {
        if let Ok(v) = serde_json::from_str::<String>(s) {
            return v;
        }
    }
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::to_markdown;
    use super::*;

    #[test]
    fn front_matter_is_read() {
        let d = parse_markdown("---\ntitle: \"Groceries\"\ntags: [home, 'food']\npinned: true\n---\n- milk\n")
            .expect("parse");
        assert_eq!(d.title, "Groceries");
        assert_eq!(d.tags, vec!["home", "food"]);
        assert!(d.pinned);
        assert_eq!(d.body, "- milk\n");
    }

    #[test]
    fn yaml_list_tags_and_unknown_keys_are_kept() {
        let d = parse_markdown("---\ntags:\n  - a\n  - b\naliases: x\n---\nbody").expect("parse");
        assert_eq!(d.tags, vec!["a", "b"]);
        assert_eq!(d.body, "---\naliases: x\n---\nbody");
    }

    /// Found by fuzzing (`notes_import`): quotes, backslashes, control
    /// characters and commas came back escaped or split.
    #[test]
    fn exported_titles_and_tags_with_escapes_come_back_whole() {
        let title = "a \"quoted\" title \\ with \u{2} and, a comma";
        let tags = vec!["one, two".to_owned(), "say \"hi\"".to_owned()];
        let d = parse_markdown(&to_markdown(title, &tags, true, "body\n")).expect("parse");
        assert_eq!(d.title, title);
        assert_eq!(d.tags, tags);
        assert!(d.pinned);
        assert_eq!(d.body, "body\n");
    }

    #[test]
    fn one_blank_line_after_front_matter_is_not_body() {
        assert_eq!(parse_markdown("---\ntitle: a\n---\n\n\nbody").expect("parse").body, "\nbody");
        assert_eq!(parse_markdown("---\r\ntitle: a\r\n---\r\n\r\nbody").expect("parse").body, "body");
        assert_eq!(parse_markdown(&to_markdown("t", &[], false, "\n\nx")).expect("parse").body, "\n\nx");
    }

    #[test]
    fn dates_and_obsidian_tags() {
        let p = parse_note("---\ntags: a b #c\ndate: 2021-05-26\nmodified: nonsense\n---\nx").expect("parse");
        assert_eq!(p.draft.tags, ["a", "b", "#c"]);
        assert_eq!((p.created, p.updated), (Some(1_621_987_200_000), None));
        assert_eq!(p.draft.body, "---\nmodified: nonsense\n---\nx", "an unreadable date is kept in the body");
    }

    #[test]
    fn attachments_are_local_files_only() {
        let body = "![[a.png]] [[Note]] [[b.pdf|B]] ![x](../_resources/c.jpg \"t\") [w](https://e.org/d.png) \
                    [n](Other%20note.md) ![[a.png]] [m](mailto:x@y.z)";
        assert_eq!(attachments(body), ["a.png", "b.pdf", "../_resources/c.jpg"]);
    }

    #[test]
    fn heading_becomes_title() {
        let d = parse_markdown("# Trip\n\nPack boots").expect("parse");
        assert_eq!(d.title, "Trip");
        assert_eq!(d.body, "Pack boots");
    }

    #[test]
    fn unclosed_front_matter_is_an_error() {
        assert!(parse_markdown("---\ntitle: x\nbody").is_err());
    }
}
