//! Notebooks and tags for the sidebar and the tag editor: the tree, its
//! changes, moving a note, tags with counts, and the list by notebook and
//! order. Each delegates to the core (`crates/core/src/vault/notebooks.rs`).

use outpost_core::vault::NotebookDeleted;
use outpost_core::{Note, NoteSummary, Notebook, NotebookFilter, SortBy, TagCount, Vault};
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

fn parse_opt(id: Option<String>) -> outpost_core::Result<Option<uuid::Uuid>> {
    id.map(|s| Vault::parse_id(&s)).transpose()
}

/// Every notebook in tree order (depth first, siblings by name), with
/// depth, path and the notes directly in each.
#[tauri::command]
#[specta::specta]
pub async fn list_notebooks(state: State<'_, AppState>) -> IpcResult<Vec<Notebook>> {
    state.with_vault(|v| v.notebooks())
}

#[tauri::command]
#[specta::specta]
pub async fn create_notebook(state: State<'_, AppState>, name: String, parent: Option<String>) -> IpcResult<Notebook> {
    let nb = state.with_vault(|v| v.create_notebook(&name, parse_opt(parent)?))?;
    state.changed().await;
    Ok(nb)
}

#[tauri::command]
#[specta::specta]
pub async fn rename_notebook(state: State<'_, AppState>, id: String, name: String) -> IpcResult<Notebook> {
    let nb = state.with_vault(|v| v.rename_notebook(Vault::parse_id(&id)?, &name))?;
    state.changed().await;
    Ok(nb)
}

/// Move a notebook under `parent` (`null`: to the top); a move inside
/// itself is refused with code `notebook_cycle`.
#[tauri::command]
#[specta::specta]
pub async fn move_notebook(state: State<'_, AppState>, id: String, parent: Option<String>) -> IpcResult<Notebook> {
    let nb = state.with_vault(|v| v.move_notebook(Vault::parse_id(&id)?, parse_opt(parent)?))?;
    state.changed().await;
    Ok(nb)
}

/// Delete a notebook: its notes and notebooks move up to its parent.
#[tauri::command]
#[specta::specta]
pub async fn delete_notebook(state: State<'_, AppState>, id: String) -> IpcResult<NotebookDeleted> {
    let done = state.with_vault(|v| v.delete_notebook(Vault::parse_id(&id)?))?;
    state.changed().await;
    Ok(done)
}

/// Put a note in a notebook (`null`: in none).
#[tauri::command]
#[specta::specta]
pub async fn move_note(state: State<'_, AppState>, id: String, notebook: Option<String>) -> IpcResult<Note> {
    let note = state.with_vault(|v| v.move_note(Vault::parse_id(&id)?, parse_opt(notebook)?))?;
    state.changed().await;
    Ok(note)
}

/// Tags in use with how many notes carry each, most used first.
#[tauri::command]
#[specta::specta]
pub async fn list_tags(state: State<'_, AppState>) -> IpcResult<Vec<TagCount>> {
    state.with_vault(|v| v.tags())
}

/// The notes list narrowed to a notebook and in an order, pinned first.
#[tauri::command]
#[specta::specta]
pub async fn list_notes_by(
    state: State<'_, AppState>,
    filter: NotebookFilter,
    sort: SortBy,
) -> IpcResult<Vec<NoteSummary>> {
    state.with_vault(|v| v.list_by(filter, sort))
}
