//! Plain note types handed to callers (CLI, app, tests). Plaintext lives
//! only in these values, in memory.

use outpost_protocol::Hlc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Limits on note content, checked before anything is written.
pub mod limits {
    /// 1 MiB of UTF-8 per body: a long book chapter; larger text is not a note.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// Titles are one line in the list.
    pub const MAX_TITLE_BYTES: usize = 1024;
    pub const MAX_TAGS: usize = 64;
    pub const MAX_TAG_BYTES: usize = 64;
    /// A notebook's name: one line in the sidebar and one folder name in
    /// an export (most file systems allow 255 bytes).
    pub const MAX_NOTEBOOK_NAME_BYTES: usize = 200;
}

/// A decrypted note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Note {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub pinned: bool,
    /// Milliseconds since the Unix epoch (wall clock, for display).
    pub created_at: i64,
    pub updated_at: i64,
    /// Clock stamp of the last change: the order of changes.
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub hlc: Hlc,
    /// The server's revision, once it has the note.
    pub server_rev: Option<i64>,
    pub deleted: bool,
    pub sync: SyncBadge,
    /// The notebook the note is in, as stored; `None` (or a notebook that
    /// was deleted meanwhile on another device) shows as no notebook.
    #[serde(default)]
    pub notebook: Option<Uuid>,
}

/// One line of the notes list: titles only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NoteSummary {
    pub id: Uuid,
    pub title: String,
    pub pinned: bool,
    pub updated_at: i64,
    pub sync: SyncBadge,
}

/// A search hit: the summary and a short excerpt around the first match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    #[serde(flatten)]
    pub note: NoteSummary,
    pub snippet: String,
}

/// Where a note stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum SyncBadge {
    /// The server has this version.
    Synced,
    /// A local change waits in the outbox.
    Pending,
    /// The server rejected a change; the user must look.
    Failed,
    /// Overlapping edits wait for the user.
    Conflict,
}

/// A new note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NoteDraft {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pinned: bool,
}

/// A change to a note: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotePatch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
    pub pinned: Option<bool>,
}

impl NotePatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.body.is_none() && self.tags.is_none() && self.pinned.is_none()
    }
}

/// The sealed `meta` field: everything about a note except title and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub pinned: bool,
    pub created: i64,
    pub updated: i64,
    /// In the trash since (ms since the epoch); absent when not. Left out
    /// of the JSON when absent, so notes never trashed seal as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<i64>,
    /// A merge result's own input that no server holds (the merging
    /// device's side), carried so every device keeps both inputs of a
    /// merge in its history. Only in merge results; left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<CarriedVersion>,
    /// For a note, its notebook; for a notebook, its parent. Absent: at
    /// the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook: Option<Uuid>,
    /// What the record is. Sealed with the rest, so the server cannot tell
    /// a notebook from a note; absent in every note written before
    /// notebooks existed.
    #[serde(default, skip_serializing_if = "RecordKind::is_note")]
    pub kind: RecordKind,
}

/// What a record of the note stream is. Stored in the sealed meta, and
/// beside it in plaintext on the device (`notes.kind`) so lists, counts
/// and search leave notebooks out without decrypting anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RecordKind {
    #[default]
    Note,
    Notebook,
}

impl RecordKind {
    pub(crate) fn is_note(&self) -> bool {
        *self == RecordKind::Note
    }

    /// The `notes.kind` column.
    pub(crate) fn code(self) -> i64 {
        match self {
            RecordKind::Note => 0,
            RecordKind::Notebook => 1,
        }
    }
}

/// A notebook as the sidebar and `outpost notebooks list` show it, in
/// tree order (depth first, siblings by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Notebook {
    pub id: Uuid,
    pub name: String,
    /// The parent as shown: a parent that is gone, or a cycle broken at
    /// this notebook, shows at the top.
    pub parent: Option<Uuid>,
    /// 0 at the top.
    pub depth: u32,
    /// Names from the top down, joined by `/`.
    pub path: String,
    /// Live notes directly in it.
    pub notes: u64,
}

/// A notebook and its sub-notebooks (`outpost notebooks list --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotebookNode {
    pub id: Uuid,
    pub name: String,
    pub notes: u64,
    pub children: Vec<NotebookNode>,
}

/// A tag and how many live notes carry it (completion in the tag editor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TagCount {
    pub tag: String,
    pub notes: u64,
}

/// The order of the notes list; pinned notes come first in each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum SortBy {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Most recently made first.
    Created,
    /// By title, A to Z (case and accents folded).
    Title,
}

impl std::str::FromStr for SortBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "updated" => Ok(SortBy::Updated),
            "created" => Ok(SortBy::Created),
            "title" => Ok(SortBy::Title),
            other => Err(format!("{other:?} is not a sort order (updated, created, title)")),
        }
    }
}

/// Which notes the list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum NotebookFilter {
    /// Every note.
    #[default]
    All,
    /// Notes in no notebook (or in one that is gone).
    None,
    /// Notes directly in this notebook.
    In(Uuid),
}

/// A version carried inside a merge result's sealed meta: its stamp and
/// its three fields exactly as sealed under that stamp (the payload
/// framing, base64), so it opens only as that version of that note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CarriedVersion {
    pub hlc: String,
    pub sealed: String,
}

/// What `outpost status` reports about a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StoreStatus {
    pub notes: u64,
    pub tombstones: u64,
    /// Outbox entries waiting to be sent.
    pub pending: u64,
    /// Outbox entries the server rejected.
    pub failed: u64,
    /// Edits folded into pending entries instead of adding new ones.
    pub coalesced: u64,
    /// Wall time of the oldest pending entry, if any.
    pub oldest_pending_at: Option<i64>,
    pub open_conflicts: u64,
    pub last_sync_at: Option<i64>,
    /// When this store last found its server reset or restored from an
    /// older backup (or switched account) and sent every note again.
    pub server_reset_at: Option<i64>,
    pub cursor: Option<String>,
    pub server: Option<String>,
    pub schema_version: u32,
    pub key_method: String,
}

/// One outbox entry, as `status` and the sync engine see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: i64,
    pub op_id: Uuid,
    pub note_id: Uuid,
    pub hlc: Hlc,
    pub base_rev: Option<i64>,
    pub deleted: bool,
    pub failed: bool,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub coalesced: u32,
}
