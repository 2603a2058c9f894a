//! Import and export in the app: the native folder and file pickers
//! (the dialog plugin, called from here only: the window has no dialog or
//! file-system permission), then the core's importer or exporter
//! (`outpost_core::transfer`) on a blocking thread, with progress as
//! `import-progress` events.
//!
//! Import and export take only a path the picker returned in this run
//! ([`Picked`]): the window cannot name a path of its own choosing, so a
//! page that went wrong can neither read a file into the notes nor write
//! notes to a place the user did not pick.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use outpost_core::transfer::{self, Format, ImportSummary, Progress, Skipped};
use outpost_core::SharedVault;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{IpcError, IpcResult};
use crate::state::AppState;

/// The end-to-end tests' stand-in for the native picker, which WebDriver
/// cannot drive: when set, every pick answers this path without a dialog.
pub const PICK_ENV: &str = "OUTPOST_E2E_PICK";

pub const IMPORT_PROGRESS_EVENT: &str = "import-progress";

/// What the picker is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum PickKind {
    /// A folder of Markdown files (Obsidian, Joplin).
    ImportFolder,
    /// One file: Evernote `.enex`, a Standard Notes backup, JSON Lines, Markdown.
    ImportFile,
    /// Where an export goes.
    ExportFolder,
}

/// The paths the picker returned in this run: the only ones import and
/// export accept.
#[derive(Debug, Default)]
pub struct Picked(Mutex<HashSet<PathBuf>>);

impl Picked {
    pub fn allow(&self, path: PathBuf) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(path);
    }

    /// `path` if the picker returned it.
    pub fn check(&self, path: &str) -> IpcResult<PathBuf> {
        let path = PathBuf::from(path);
        if self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(&path) {
            Ok(path)
        } else {
            Err(IpcError::new("invalid", "choose the folder or file with the app's picker first"))
        }
    }
}

/// A note an import left out (or a part of one it did not import), where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct SkippedNote {
    /// `line 12`, or a file's path inside the folder.
    pub at: String,
    pub title: Option<String>,
    pub reason: String,
}

/// What an import did, for the summary dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct ImportReport {
    /// `markdown`, `jsonl`, `enex` or `standard-notes`.
    pub format: String,
    pub imported: u64,
    /// Already in the store (same title and body): not written again.
    pub duplicates: u64,
    pub skipped: Vec<SkippedNote>,
    /// Attachments of imported notes that were not imported.
    pub left_out: Vec<SkippedNote>,
}

/// How far an import has got (after each batch of notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
pub struct ImportProgress {
    pub read: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub skipped: u64,
}

fn skipped(s: Skipped) -> SkippedNote {
    SkippedNote { at: s.at, title: s.title, reason: s.reason }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Markdown => "markdown",
        Format::Jsonl => "jsonl",
        Format::Enex => "enex",
        Format::StandardNotes => "standard-notes",
    }
}

impl From<ImportSummary> for ImportReport {
    fn from(s: ImportSummary) -> Self {
        Self {
            format: format_name(s.format).to_owned(),
            imported: s.imported,
            duplicates: s.duplicates,
            skipped: s.skipped.into_iter().map(skipped).collect(),
            left_out: s.left_out.into_iter().map(skipped).collect(),
        }
    }
}

/// Import `path` (its format found from what it is) into `vault`.
pub fn import_into(
    vault: &SharedVault,
    path: &Path,
    mut progress: impl FnMut(ImportProgress),
) -> IpcResult<ImportReport> {
    let mut v = vault.lock();
    let summary = transfer::import(&mut v, path, None, &mut |p: &Progress| {
        progress(ImportProgress { read: p.read, imported: p.imported, duplicates: p.duplicates, skipped: p.skipped })
    })?;
    Ok(summary.into())
}

/// Open the native picker; `None` when the user cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_path(app: AppHandle, picked: State<'_, Picked>, kind: PickKind) -> IpcResult<Option<String>> {
    let path = match std::env::var_os(PICK_ENV) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let dialog = app.dialog().file();
            let dialog = match kind {
                PickKind::ImportFolder => dialog.set_title("Import a folder of Markdown notes"),
                PickKind::ImportFile => dialog.set_title("Import notes from a file").add_filter(
                    "Evernote, Standard Notes, JSON Lines, Markdown",
                    &["enex", "json", "txt", "jsonl", "ndjson", "md", "markdown"],
                ),
                PickKind::ExportFolder => dialog.set_title("Export all notes to a folder"),
            };
            let chosen = tauri::async_runtime::spawn_blocking(move || match kind {
                PickKind::ImportFile => dialog.blocking_pick_file(),
                PickKind::ImportFolder | PickKind::ExportFolder => dialog.blocking_pick_folder(),
            })
            .await
            .map_err(|e| IpcError::new("internal", format!("the picker stopped: {e}")))?;
            chosen
                .map(|f| f.into_path())
                .transpose()
                .map_err(|e| IpcError::new("invalid", format!("that choice is not a local path: {e}")))?
        }
    };
    Ok(path.map(|p| {
        let text = p.to_string_lossy().into_owned();
        picked.allow(p);
        text
    }))
}

/// Import what the picker returned (a folder or a file), off the async
/// workers; `import-progress` events follow it.
#[tauri::command]
#[specta::specta]
pub async fn import_notes(
    app: AppHandle,
    state: State<'_, AppState>,
    picked: State<'_, Picked>,
    path: String,
) -> IpcResult<ImportReport> {
    let path = picked.check(&path)?;
    let vault = state.vault()?;
    let report = tauri::async_runtime::spawn_blocking(move || {
        import_into(&vault, &path, |p| {
            if let Err(e) = app.emit(IMPORT_PROGRESS_EVENT, p) {
                tracing::debug!(error = %e, "import progress not sent");
            }
        })
    })
    .await
    .map_err(|e| IpcError::new("internal", format!("the import stopped: {e}")))??;
    state.changed().await;
    Ok(report)
}

/// Export every note to the folder the picker returned, one Markdown file
/// with front matter each (import reads them back); how many.
#[tauri::command]
#[specta::specta]
pub async fn export_notes(state: State<'_, AppState>, picked: State<'_, Picked>, path: String) -> IpcResult<u64> {
    let path = picked.check(&path)?;
    let vault = state.vault()?;
    let n = tauri::async_runtime::spawn_blocking(move || transfer::export(&vault.lock(), &path))
        .await
        .map_err(|e| IpcError::new("internal", format!("the export stopped: {e}")))??;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use outpost_core::keys::MemoryStore;
    use outpost_core::{NoteDraft, Vault};

    use super::*;

    #[test]
    fn only_picked_paths_are_taken() {
        let picked = Picked::default();
        assert_eq!(picked.check("/tmp/x").expect_err("not picked").code, "invalid");
        picked.allow(PathBuf::from("/tmp/x"));
        assert_eq!(picked.check("/tmp/x").expect("picked"), PathBuf::from("/tmp/x"));
        assert!(picked.check("/tmp/x/../y").is_err(), "only the very path");
    }

    /// A folder with good notes and one over the limit: the good ones are
    /// imported with progress, the other is reported with its reason; an
    /// export writes them back as Markdown that imports as duplicates.
    #[test]
    fn a_folder_imports_with_progress_and_a_summary_and_exports_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = SharedVault::new(Vault::open(&dir.path().join("store"), &MemoryStore::new()).expect("open"));
        vault.lock().create(NoteDraft { title: "already here".into(), ..Default::default() }).expect("create");
        let src = dir.path().join("vault");
        std::fs::create_dir_all(src.join("Projects")).expect("mkdir");
        std::fs::write(src.join("Plan.md"), "---\ntags: [work]\n---\n\nThe plan.").expect("write");
        std::fs::write(src.join("Projects/Garden.md"), "Beans and [[Plan]].").expect("write");
        std::fs::write(src.join("Huge.md"), "x".repeat(outpost_core::model::limits::MAX_BODY_BYTES + 10))
            .expect("write");

        let mut seen = Vec::new();
        let report = import_into(&vault, &src, |p| seen.push(p)).expect("import");
        assert_eq!(report.format, "markdown");
        assert_eq!(report.imported, 2, "{report:?}");
        assert_eq!(report.skipped.len(), 1, "{report:?}");
        assert!(report.skipped[0].at.contains("Huge.md"), "{report:?}");
        assert!(!report.skipped[0].reason.is_empty());
        assert_eq!(seen.last().map(|p| (p.read, p.imported, p.skipped)), Some((3, 2, 1)), "{seen:?}");
        let titles: Vec<String> = vault.lock().list().expect("list").into_iter().map(|s| s.title).collect();
        assert!(titles.contains(&"Plan".to_owned()) && titles.contains(&"Garden".to_owned()), "{titles:?}");

        let out = dir.path().join("export");
        let n = transfer::export(&vault.lock(), &out).expect("export");
        assert_eq!(n, 3);
        let again = import_into(&vault, &out, |_| {}).expect("import the export");
        assert_eq!((again.imported, again.duplicates), (0, 3), "{again:?}");
    }
}
