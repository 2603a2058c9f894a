use outpost_core::{Note, NoteDraft, NotePatch, NoteSummary, SearchHit, Vault};
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn list_notes(state: State<'_, AppState>) -> IpcResult<Vec<NoteSummary>> {
    state.with_vault(|v| v.list())
}

#[tauri::command]
#[specta::specta]
pub async fn search_notes(state: State<'_, AppState>, query: String) -> IpcResult<Vec<SearchHit>> {
    state.with_vault(|v| v.search(&query))
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

#[tauri::command]
#[specta::specta]
pub async fn update_note(state: State<'_, AppState>, id: String, patch: NotePatch) -> IpcResult<Note> {
    let note = state.with_vault(|v| v.edit(Vault::parse_id(&id)?, patch))?;
    state.changed().await;
    Ok(note)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_note(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    state.with_vault(|v| v.delete(Vault::parse_id(&id)?))?;
    state.changed().await;
    Ok(())
}
