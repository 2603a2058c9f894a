//! Note history and the trash for the app's history panel and Trash view:
//! a note's versions, one version decrypted, restoring one (a new version),
//! the notes in the trash, bringing one back, deleting one for good,
//! emptying the trash, and the retention settings. Each delegates to the
//! core (`crates/core/src/vault/history.rs`); the app's Delete moves a note
//! to the trash (`notes::delete_note`).

use outpost_core::history::{HistorySettings, NoteVersion, TrashedNote, VersionInfo};
use outpost_core::{Error, Note, Vault};
use tauri::State;
use uuid::Uuid;

use crate::error::IpcResult;
use crate::state::AppState;

/// The versions of a note this device holds, newest first.
#[tauri::command]
#[specta::specta]
pub async fn note_versions(state: State<'_, AppState>, id: String) -> IpcResult<Vec<VersionInfo>> {
    state.with_vault(|v| v.versions(Vault::parse_id(&id)?))
}

/// One version of a note, decrypted (codes `version_not_found`,
/// `version_of_another_note`, `purged`).
#[tauri::command]
#[specta::specta]
pub async fn note_version(state: State<'_, AppState>, id: String, version: String) -> IpcResult<NoteVersion> {
    state.with_vault(|v| v.version(Vault::parse_id(&id)?, &version))
}

/// Bring a version back: it becomes a new version of the note, synced like
/// any edit; no version is changed or removed.
#[tauri::command]
#[specta::specta]
pub async fn restore_version(state: State<'_, AppState>, id: String, version: String) -> IpcResult<Note> {
    let note = state.with_vault(|v| v.restore_version(Vault::parse_id(&id)?, &version))?;
    state.changed().await;
    Ok(note)
}

/// The notes in the trash, most recently trashed first.
#[tauri::command]
#[specta::specta]
pub async fn trash_list(state: State<'_, AppState>) -> IpcResult<Vec<TrashedNote>> {
    state.with_vault(|v| v.trash_list())
}

/// Bring a note back from the trash (code `not_in_trash` if it is not there).
#[tauri::command]
#[specta::specta]
pub async fn untrash_note(state: State<'_, AppState>, id: String) -> IpcResult<Note> {
    let note = state.with_vault(|v| v.untrash(Vault::parse_id(&id)?))?;
    state.changed().await;
    Ok(note)
}

/// Delete a note in the trash for good, on every device once it syncs.
/// A note not in the trash is refused (code `not_in_trash`): the app
/// deletes only from the trash.
#[tauri::command]
#[specta::specta]
pub async fn delete_for_good(state: State<'_, AppState>, id: String) -> IpcResult<()> {
    state.with_vault(|v| delete_trashed(v, Vault::parse_id(&id)?))?;
    state.changed().await;
    Ok(())
}

/// Delete every note in the trash for good; how many.
#[tauri::command]
#[specta::specta]
pub async fn empty_trash(state: State<'_, AppState>) -> IpcResult<u32> {
    let n = state.with_vault(|v| v.empty_trash())?;
    state.changed().await;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

#[tauri::command]
#[specta::specta]
pub async fn get_history_settings(state: State<'_, AppState>) -> IpcResult<HistorySettings> {
    state.with_vault(|v| v.history_settings())
}

/// Saved in the store; refused (code `invalid`) when they make no sense.
#[tauri::command]
#[specta::specta]
pub async fn set_history_settings(state: State<'_, AppState>, settings: HistorySettings) -> IpcResult<()> {
    state.with_vault(|v| v.set_history_settings(&settings))
}

/// Tombstone note `id` if it is in the trash; otherwise change nothing.
fn delete_trashed(v: &mut Vault, id: Uuid) -> outpost_core::Result<()> {
    if !v.trash_list()?.iter().any(|t| t.id == id) {
        // A live note out of the trash, or one already gone: say which.
        v.get(id)?;
        return Err(Error::NotInTrash(id.to_string()));
    }
    v.delete(id)
}

#[cfg(test)]
mod tests {
    use outpost_core::history::VersionWhy;
    use outpost_core::keys::MemoryStore;
    use outpost_core::{NoteDraft, NotePatch};

    use super::*;

    fn vault(dir: &std::path::Path) -> Vault {
        Vault::open(dir, &MemoryStore::new()).expect("open")
    }

    /// What the app's Delete does (`trash`) keeps the note in the trash
    /// with its history; deleting for good is refused for a live note and
    /// works from the trash.
    #[test]
    fn delete_moves_to_the_trash_and_only_the_trash_deletes_for_good() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = vault(dir.path());
        let keep =
            v.create(NoteDraft { title: "keep".into(), body: "one".into(), ..Default::default() }).expect("create");
        let gone = v.create(NoteDraft { title: "gone".into(), ..Default::default() }).expect("create").id;

        let e = delete_trashed(&mut v, keep.id).expect_err("a live note is not deleted for good");
        assert_eq!(e.code(), "not_in_trash");
        assert_eq!(v.get(keep.id).expect("still there").title, "keep");

        v.trash(keep.id).expect("trash");
        v.trash(gone).expect("trash");
        assert!(v.list().expect("list").is_empty(), "trashed notes leave the list");
        assert_eq!(v.trash_list().expect("trash").len(), 2);
        assert!(!v.versions(keep.id).expect("history kept").is_empty());

        v.untrash(keep.id).expect("untrash");
        assert_eq!(v.list().expect("list")[0].title, "keep");
        delete_trashed(&mut v, gone).expect("deleted for good");
        assert!(v.trash_list().expect("trash").is_empty());
        assert_eq!(delete_trashed(&mut v, gone).expect_err("gone").code(), "note_not_found");
    }

    /// Every capability file is enabled in tauri.conf.json: one left out
    /// there (as `history` was at first) refuses all its commands at run
    /// time, which `every_command_has_one_permission` does not see.
    #[test]
    fn every_capability_file_is_enabled() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let conf: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).expect("conf")).expect("json");
        let enabled: Vec<&str> = conf["app"]["security"]["capabilities"]
            .as_array()
            .expect("app.security.capabilities")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        for entry in std::fs::read_dir(root.join("src-tauri/capabilities")).expect("capabilities") {
            let file: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(entry.expect("entry").path()).expect("read"))
                    .expect("json");
            let id = file["identifier"].as_str().expect("identifier");
            assert!(enabled.contains(&id), "capability {id} is not in tauri.conf.json's app.security.capabilities");
        }
        assert!(enabled.contains(&"history"));
    }

    /// Restoring an older version makes a new version with its text.
    #[test]
    fn restoring_a_version_makes_a_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = vault(dir.path());
        v.set_history_settings(&HistorySettings { coalesce_minutes: 0, ..Default::default() }).expect("settings");
        let id = v.create(NoteDraft { title: "t".into(), body: "first".into(), ..Default::default() }).expect("c").id;
        v.edit(id, NotePatch { body: Some("second".into()), ..Default::default() }).expect("edit");
        let before = v.versions(id).expect("versions");
        let oldest = before.last().expect("a version").version.clone();
        assert_eq!(v.version(id, &oldest).expect("version").body, "first");

        let note = v.restore_version(id, &oldest).expect("restore");
        assert_eq!(note.body, "first");
        let after = v.versions(id).expect("versions");
        assert_eq!(after.len(), before.len() + 1, "a new version, none rewritten");
        assert_eq!(after[0].why, VersionWhy::Restore);
        assert!(after[0].current);
        assert_eq!(v.version(id, "nonsense").expect_err("bad id").code(), "invalid");
    }
}
