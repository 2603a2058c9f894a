//! Import and export of notes as files people already have.
//!
//! Import reads a folder of Markdown files (as Obsidian and Joplin export
//! them: one `.md` per note, optional YAML front matter with `title`,
//! `tags` and `pinned`, folders becoming a tag) or a JSON Lines file of
//! `{"title", "body", "tags"}` objects. Export writes one Markdown file
//! per note with front matter, which import reads back.
//!
//! Parsing happens before anything is written, and the whole import is one
//! transaction: a bad file aborts it with the file and line named, and the
//! store is unchanged.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{limits, NoteDraft};
use crate::vault::Vault;

/// Largest file import will read: a note body plus room for front matter.
const MAX_FILE_BYTES: u64 = limits::MAX_BODY_BYTES as u64 + 64 * 1024;

/// Parse `path` (a folder of `.md`/`.markdown`/`.txt` files, or a `.jsonl`
/// file) into drafts without touching any store.
pub fn read_drafts(path: &Path) -> Result<Vec<NoteDraft>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_markdown(path, &mut files)?;
        files.sort();
        files.iter().map(|f| read_markdown(path, f)).collect()
    } else if path.extension().is_some_and(|e| e == "jsonl" || e == "ndjson" || e == "json") {
        read_jsonl(path)
    } else if path.extension().is_some_and(|e| e == "md" || e == "markdown") {
        let parent = path.parent().unwrap_or(Path::new("."));
        Ok(vec![read_markdown(parent, path)?])
    } else {
        Err(Error::Invalid(format!(
            "{}: import takes a folder of Markdown files, a .md file or a .jsonl file",
            path.display()
        )))
    }
}

/// Import everything at `path` in one transaction; returns how many notes.
pub fn import(vault: &mut Vault, path: &Path) -> Result<usize> {
    let drafts = read_drafts(path)?;
    let n = drafts.len();
    vault.batch(|w| {
        for d in drafts {
            w.create(d)?;
        }
        Ok(())
    })?;
    Ok(n)
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

fn read_text(path: &Path) -> Result<String> {
    let len = std::fs::metadata(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?.len();
    if len > MAX_FILE_BYTES {
        return Err(Error::TooLarge { what: "file", size: len as usize, limit: MAX_FILE_BYTES as usize });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    String::from_utf8(bytes).map_err(|_| Error::Invalid(format!("{}: not UTF-8 text", path.display())))
}

fn read_markdown(root: &Path, path: &Path) -> Result<NoteDraft> {
    let text = read_text(path)?;
    let mut draft = parse_markdown(&text).map_err(|m| Error::Invalid(format!("{}: {m}", path.display())))?;
    if draft.title.is_empty() {
        draft.title = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    }
    // A sub-folder is a notebook: keep it as a tag.
    if let Some(parent) = path.parent().and_then(|p| p.strip_prefix(root).ok()) {
        let folder = parent.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
        if !folder.is_empty() && !draft.tags.contains(&folder) {
            draft.tags.push(folder);
        }
    }
    Ok(draft)
}

/// Split optional `---` front matter (`title:`, `tags:` as `[a, b]` or a
/// `- a` list, `pinned:`) from the body. Only these keys are read; others
/// are kept in the body untouched, so nothing is lost.
pub fn parse_markdown(text: &str) -> std::result::Result<NoteDraft, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut draft = NoteDraft::default();
    let body = match text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) {
        Some(rest) => {
            let end = rest.find("\n---").ok_or("front matter opened with --- is never closed")?;
            let front = &rest[..end];
            let after = &rest[end + 4..];
            let after = after.strip_prefix('\r').unwrap_or(after);
            let after = after.strip_prefix('\n').unwrap_or(after);
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
                if let Some(v) = trimmed.strip_prefix("title:") {
                    draft.title = unquote(v.trim());
                } else if let Some(v) = trimmed.strip_prefix("tags:") {
                    let v = v.trim();
                    if v.is_empty() {
                        in_tags = true;
                    } else if let Ok(tags) = serde_json::from_str::<Vec<String>>(v) {
                        // What `to_markdown` writes: a JSON array, so tags
                        // with commas, quotes or escapes come back whole.
                        draft.tags.extend(tags.into_iter().filter(|t| !t.is_empty()));
                    } else {
                        let v = v.trim_start_matches('[').trim_end_matches(']');
                        draft.tags.extend(v.split(',').map(|t| unquote(t.trim())).filter(|t| !t.is_empty()));
                    }
                } else if let Some(v) = trimmed.strip_prefix("pinned:") {
                    draft.pinned = v.trim() == "true";
                } else if !trimmed.is_empty() {
                    other.push(line);
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
                return Ok(draft);
            }
        }
    }
    draft.body = body;
    Ok(draft)
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

fn read_jsonl(path: &Path) -> Result<Vec<NoteDraft>> {
    let text = read_text(path)?;
    parse_jsonl(&text).map_err(|m| Error::Invalid(format!("{} {m}", path.display())))
}

/// One note per non-blank line, each a `{"title", "body", "tags",
/// "pinned"}` object; the error names the first bad line.
pub fn parse_jsonl(text: &str) -> std::result::Result<Vec<NoteDraft>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let draft: NoteDraft = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push(draft);
    }
    Ok(out)
}

/// Write every live note to `dir` as `<title>.md` with front matter;
/// returns how many. Existing files are never overwritten: names get a
/// numeric suffix instead.
pub fn export(vault: &Vault, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut n = 0;
    for summary in vault.list()? {
        let note = vault.get(summary.id)?;
        let stem = file_stem(&note.title);
        let mut path = dir.join(format!("{stem}.md"));
        let mut i = 1;
        while path.exists() {
            i += 1;
            path = dir.join(format!("{stem} ({i}).md"));
        }
        let text = to_markdown(&note.title, &note.tags, note.pinned, &note.body);
        std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        n += 1;
    }
    Ok(n)
}

/// One note as a Markdown file with front matter, as [`export`] writes it
/// and [`parse_markdown`] reads it back.
pub fn to_markdown(title: &str, tags: &[String], pinned: bool, body: &str) -> String {
    let tags: Vec<String> = tags.iter().map(|t| serde_json::to_string(t).unwrap_or_default()).collect();
    format!(
        "---\ntitle: {}\ntags: [{}]\npinned: {pinned}\n---\n{body}",
        serde_json::to_string(title).unwrap_or_default(),
        tags.join(", "),
    )
}

/// A file name from a title: path separators and control characters out,
/// at most 80 characters, never empty.
fn file_stem(title: &str) -> String {
    let s: String =
        title.chars().map(|c| if c.is_control() || "/\\:*?\"<>|".contains(c) { '_' } else { c }).take(80).collect();
    let s = s.trim().trim_start_matches('.').to_owned();
    if s.is_empty() {
        "Untitled".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
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
    fn heading_becomes_title() {
        let d = parse_markdown("# Trip\n\nPack boots").expect("parse");
        assert_eq!(d.title, "Trip");
        assert_eq!(d.body, "Pack boots");
    }

    #[test]
    fn unclosed_front_matter_is_an_error() {
        assert!(parse_markdown("---\ntitle: x\nbody").is_err());
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("a/b\\c:d"), "a_b_c_d");
        assert_eq!(file_stem("..."), "Untitled");
        assert_eq!(file_stem(""), "Untitled");
    }
}
