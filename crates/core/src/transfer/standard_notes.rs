//! Standard Notes' backup file, decrypted ("Download backup", without
//! encryption): one JSON object whose `items` hold notes, tags and the
//! app's own records.
//!
//! ```json
//! {"version": "004", "items": [
//!   {"uuid": "n1", "content_type": "Note", "created_at": "2021-04-30T09:12:00.000Z",
//!    "updated_at": "...", "content": {"title": "..", "text": "..", "trashed": false,
//!    "appData": {"org.standardnotes.sn": {"pinned": true}}}},
//!   {"uuid": "t1", "content_type": "Tag", "content": {"title": "travel",
//!    "references": [{"uuid": "n1", "content_type": "Note"},
//!                   {"uuid": "t0", "content_type": "Tag", "reference_type": "TagToParentTag"}]}}
//! ]}
//! ```
//!
//! A note takes the tags whose `references` name it; a nested tag is named
//! by its path (`parent/child`). Notes in the trash and deleted items are
//! reported and skipped; an encrypted backup is refused with what to do.
//! The file is one JSON document, so it is read whole (the notes are then
//! written in batches like any import).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::dates::parse_date;
use super::{short, Incoming, Item, Skipped};
use crate::error::{Error, Result};
use crate::model::NoteDraft;

#[derive(Debug, Deserialize)]
struct Backup {
    items: Vec<SnItem>,
}

#[derive(Debug, Deserialize)]
struct SnItem {
    #[serde(default)]
    uuid: String,
    #[serde(default)]
    content_type: String,
    #[serde(default)]
    content: Value,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    deleted: bool,
}

/// The notes of the backup at `path`.
pub fn open(path: &Path) -> Result<std::vec::IntoIter<Result<Item>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let items = parse(bytes).map_err(|m| Error::Invalid(format!("{}: {m}", path.display())))?;
    Ok(items.into_iter().map(Ok).collect::<Vec<_>>().into_iter())
}

/// The notes of a backup, in the order of the file.
pub fn parse(bytes: &[u8]) -> std::result::Result<Vec<Item>, String> {
    let backup: Backup = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a Standard Notes backup (a JSON object with \"items\"): {e}"))?;
    if backup.items.iter().any(|i| i.content_type == "Note" && i.content.is_string()) {
        return Err("this Standard Notes backup is encrypted. In Standard Notes, download a decrypted \
                    backup (Preferences, Backups, \"Decrypted\") and import that file"
            .to_owned());
    }
    let tags = tag_names(&backup.items);
    // Note uuid -> its tags, in the order of the file.
    let mut tags_of: HashMap<&str, Vec<String>> = HashMap::new();
    for item in backup.items.iter().filter(|i| i.content_type == "Tag" && !i.deleted) {
        let Some(name) = tags.get(item.uuid.as_str()) else { continue };
        for r in references(&item.content) {
            if r.get("content_type").and_then(Value::as_str) == Some("Note") {
                if let Some(uuid) = r.get("uuid").and_then(Value::as_str) {
                    tags_of.entry(uuid).or_default().push(name.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut n = 0;
    for item in backup.items.iter().filter(|i| i.content_type == "Note") {
        n += 1;
        let at = format!("note {n} ({})", item.uuid);
        let c = &item.content;
        let title = c.get("title").and_then(Value::as_str).unwrap_or("").to_owned();
        let text = c.get("text").and_then(Value::as_str).unwrap_or("").to_owned();
        let skip =
            |reason: &str| Err(Skipped { at: at.clone(), title: Some(short(&title)), reason: reason.to_owned() });
        if item.deleted {
            out.push(skip("deleted in Standard Notes"));
            continue;
        }
        if c.get("trashed").and_then(Value::as_bool) == Some(true) {
            out.push(skip("in Standard Notes' trash"));
            continue;
        }
        let app = c.get("appData").and_then(|a| a.get("org.standardnotes.sn"));
        let pinned = [c.get("pinned"), app.and_then(|a| a.get("pinned"))]
            .into_iter()
            .flatten()
            .any(|p| p.as_bool() == Some(true));
        let updated = app
            .and_then(|a| a.get("client_updated_at"))
            .and_then(Value::as_str)
            .or(item.updated_at.as_deref())
            .and_then(parse_date);
        let title = if title.trim().is_empty() { "Untitled".to_owned() } else { title };
        let draft =
            NoteDraft { title, body: text, tags: tags_of.remove(item.uuid.as_str()).unwrap_or_default(), pinned };
        out.push(Ok(Incoming {
            created: item.created_at.as_deref().and_then(parse_date),
            updated,
            ..Incoming::new(at, draft)
        }));
    }
    Ok(out)
}

fn references(content: &Value) -> impl Iterator<Item = &Value> {
    content.get("references").and_then(Value::as_array).into_iter().flatten()
}

/// Each tag's name, with its parents' (`parent/child`) where nested.
fn tag_names(items: &[SnItem]) -> HashMap<&str, String> {
    let tags: Vec<&SnItem> = items.iter().filter(|i| i.content_type == "Tag" && !i.deleted).collect();
    let own: HashMap<&str, &str> = tags
        .iter()
        .map(|t| (t.uuid.as_str(), t.content.get("title").and_then(Value::as_str).unwrap_or("").trim()))
        .collect();
    let parent: HashMap<&str, &str> = tags
        .iter()
        .filter_map(|t| {
            let p = references(&t.content).find(|r| {
                r.get("content_type").and_then(Value::as_str) == Some("Tag")
                    && r.get("reference_type").and_then(Value::as_str) == Some("TagToParentTag")
            })?;
            Some((t.uuid.as_str(), p.get("uuid").and_then(Value::as_str)?))
        })
        .collect();
    own.iter()
        .filter(|(_, name)| !name.is_empty())
        .map(|(&uuid, &name)| {
            let mut path = vec![name];
            let mut at = uuid;
            // A cycle of parents stops at the first repeat.
            let mut seen = vec![uuid];
            while let Some(&p) = parent.get(at) {
                if seen.contains(&p) {
                    break;
                }
                seen.push(p);
                if let Some(&pn) = own.get(p).filter(|n| !n.is_empty()) {
                    path.push(pn);
                }
                at = p;
            }
            path.reverse();
            (uuid, path.join("/"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_and_foreign_files_are_refused() {
        let enc =
            br#"{"version":"004","keyParams":{},"items":[{"uuid":"a","content_type":"Note","content":"004:abc"}]}"#;
        assert!(parse(enc).expect_err("encrypted").contains("decrypted"));
        assert!(parse(b"[1,2]").expect_err("foreign").contains("not a Standard Notes backup"));
    }

    #[test]
    fn nested_tags_and_a_parent_cycle() {
        let json = br#"{"items":[
          {"uuid":"n","content_type":"Note","content":{"title":"x","text":"y"}},
          {"uuid":"a","content_type":"Tag","content":{"title":"a","references":[
             {"uuid":"b","content_type":"Tag","reference_type":"TagToParentTag"},{"uuid":"n","content_type":"Note"}]}},
          {"uuid":"b","content_type":"Tag","content":{"title":"b","references":[
             {"uuid":"a","content_type":"Tag","reference_type":"TagToParentTag"}]}}]}"#;
        let items = parse(json).expect("parse");
        let note = items[0].as_ref().expect("note");
        assert_eq!(note.draft.tags, ["b/a"]);
    }
}
