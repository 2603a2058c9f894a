//! Markdown: a folder of `.md`/`.markdown`/`.txt` files as Obsidian and
//! Joplin export them (one file per note, optional YAML front matter,
//! sub-folders kept as a tag), or one `.md` file. A file that cannot be a
//! note (too large, not UTF-8, front matter never closed) is reported by
//! its path inside the folder and skipped.

use std::path::{Path, PathBuf};

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

/// `path` relative to the imported folder, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/")
}

fn read_text(path: &Path) -> std::result::Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| format!("unreadable: {e}"))?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("the file is {len} bytes; the limit is {MAX_FILE_BYTES} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}

fn read_markdown(root: &Path, path: &Path) -> Item {
    let at = relative(root, path);
    let parsed = read_text(path).and_then(|t| parse_markdown(&t));
    let mut draft = match parsed {
        Ok(d) => d,
        Err(reason) => return Err(Skipped { at, title: None, reason }),
    };
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
    Ok(Incoming { at, draft })
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
