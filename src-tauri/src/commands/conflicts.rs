use outpost_core::merge::Strategy;
use outpost_core::vault::{ConflictView, Resolution};
use outpost_core::{Note, Vault};
use serde::Deserialize;
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

/// How the user settles a conflict.
#[derive(Debug, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolutionArg {
    Mine,
    Theirs,
    Merged { body: String },
}

#[tauri::command]
#[specta::specta]
pub async fn list_conflicts(state: State<'_, AppState>) -> IpcResult<Vec<ConflictView>> {
    state.with_vault(|v| v.conflicts(false))
}

#[tauri::command]
#[specta::specta]
pub async fn resolve_conflict(state: State<'_, AppState>, id: i32, resolution: ResolutionArg) -> IpcResult<Note> {
    let resolution = match resolution {
        ResolutionArg::Mine => Resolution::Mine,
        ResolutionArg::Theirs => Resolution::Theirs,
        ResolutionArg::Merged { body } => Resolution::Merged(body),
    };
    let note = state.with_vault(|v| v.resolve_conflict(i64::from(id), resolution))?;
    state.changed().await;
    Ok(note)
}

/// The strategy of one note (`None` when it follows the app's), or the
/// app's when `note_id` is absent.
#[tauri::command]
#[specta::specta]
pub async fn get_conflict_strategy(state: State<'_, AppState>, note_id: Option<String>) -> IpcResult<Option<Strategy>> {
    state.with_vault(|v| match note_id {
        Some(id) => v.note_conflict_strategy(Vault::parse_id(&id)?),
        None => v.conflict_strategy().map(Some),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn set_conflict_strategy(
    state: State<'_, AppState>,
    note_id: Option<String>,
    strategy: Option<Strategy>,
) -> IpcResult<()> {
    state.with_vault(|v| match note_id {
        Some(id) => v.set_note_conflict_strategy(Vault::parse_id(&id)?, strategy),
        None => v.set_conflict_strategy(strategy.unwrap_or_default()),
    })
}
