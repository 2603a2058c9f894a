use outpost_core::TagCount;
use outpost_core::{Note, NoteDraft, NotePatch, NoteSummary, SearchHit, Vault};
use tauri::State;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn list_notes(state: State<'_, AppState>) -> IpcResult<Vec<NoteSummary>> {
    state.with_vault(|v| v.list())
}

/// The live notes among `ids`, as the list shows them; the ids left out are
/// deleted or gone. What the UI re-reads on `notes-changed`.
#[tauri::command]
#[specta::specta]
pub async fn note_summaries(state: State<'_, AppState>, ids: Vec<String>) -> IpcResult<Vec<NoteSummary>> {
    let ids = ids.iter().map(|id| Vault::parse_id(id)).collect::<outpost_core::Result<Vec<_>>>()?;
    state.with_vault(|v| v.summaries(&ids))
}

/// The most search hits the list is given: the best by rank. Snippets are
/// made only for these, so a query matching nearly every note (a common
/// word, the first letter typed) costs what a short list costs.
const SEARCH_HITS: usize = 500;

/// A search hit with what to highlight: ranges `[start, end)` of the title
/// and of the snippet, in UTF-16 code units (how JavaScript indexes strings).
#[derive(Debug, Clone, serde::Serialize, specta::Type)]
pub struct RankedHit {
    #[serde(flatten)]
    pub hit: SearchHit,
    pub title_highlights: Vec<(u32, u32)>,
    pub snippet_highlights: Vec<(u32, u32)>,
}

#[tauri::command]
#[specta::specta]
pub async fn search_notes(state: State<'_, AppState>, query: String) -> IpcResult<Vec<RankedHit>> {
    let ranges = |hs: Vec<outpost_core::search::Highlight>| hs.into_iter().map(|h| (h.start, h.end)).collect();
    state.with_vault(|v| {
        Ok(v.search_ranked(&query, SEARCH_HITS)?
            .into_iter()
            .map(|r| RankedHit {
                hit: r.hit,
                title_highlights: ranges(r.title_highlights),
                snippet_highlights: ranges(r.snippet_highlights),
            })
            .collect())
    })
}

#[tauri::command]
#[specta::specta]
pub async fn get_note(state: State<'_, AppState>, id: String) -> IpcResult<Note> {
    state.with_vault(|v| v.get(Vault::parse_id(&id)?))
}

#[tauri::command]
#[specta::specta]
pub async fn create_note(state: State<'_, AppState>, draft: NoteDraft) -> IpcResult<Note> {
    let note = state.with_vault(|v| v.create(draft))?;
    state.changed().await;
    Ok(note)
}

/// Save an edit. `base_hlc` is the stamp of the version the editor loaded:
/// when the note changed underneath since (a sync), the edit is refused
/// with code `stale` unless `base_body` (the body the editor loaded) comes
/// too, and then the two are merged instead of one overwriting the other.
#[tauri::command]
#[specta::specta]
pub async fn update_note(
    state: State<'_, AppState>,
    id: String,
    patch: NotePatch,
    base_hlc: Option<String>,
    base_body: Option<String>,
) -> IpcResult<Note> {
    let base = match base_hlc {
        Some(h) => Some(h.parse().map_err(|_| IpcError::new("invalid", format!("{h:?} is not a clock stamp")))?),
        None => None,
    };
    let note = state.with_vault(|v| {
        let id = Vault::parse_id(&id)?;
        match base {
            Some(hlc) => v.edit_from(id, patch, hlc, base_body.as_deref()),
            None => v.edit(id, patch),
        }
    })?;
    state.changed().await;
    Ok(note)
}

/// Move a note to the trash (on every device once it syncs): it can be
/// brought back from there until the trash period runs out or the trash is
/// emptied (`history::untrash_note`, `history::delete_for_good`).
#[tauri::command]
#[specta::specta]
pub async fn delete_note(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    state.with_vault(|v| v.trash(Vault::parse_id(&id)?))?;
    state.changed().await;
    Ok(())
}

/// Every tag in use with how many notes carry it (the tag editor's
/// completion).
#[tauri::command]
#[specta::specta]
pub async fn tag_counts(state: State<'_, AppState>) -> IpcResult<Vec<TagCount>> {
    state.with_vault(|v| v.tags())
}

/// When a note was made, for sorting the list by it.
#[derive(Debug, Clone, Copy, serde::Serialize, specta::Type)]
pub struct NoteCreated {
    pub id: uuid::Uuid,
    pub created_at: i64,
}

/// Every live note's creation time (the list's "sort by created"; the
/// list itself carries only the time of the last change).
#[tauri::command]
#[specta::specta]
pub async fn note_created_times(state: State<'_, AppState>) -> IpcResult<Vec<NoteCreated>> {
    state.with_vault(|v| {
        Ok(v.created_times()?.into_iter().map(|(id, created_at)| NoteCreated { id, created_at }).collect())
    })
}
