//! Tauri's build step: reads `tauri.conf.json` beside the root Cargo.toml,
//! the capabilities in `src-tauri/capabilities/`, and declares the app's
//! commands so each needs an explicit permission (nothing is allowed by
//! default).

const COMMANDS: &[&str] = &[
    // notes
    "list_notes",
    "note_summaries",
    "search_notes",
    "get_note",
    "create_note",
    "update_note",
    "delete_note",
    "tag_counts",
    "note_created_times",
    // links
    "open_external",
    // conflicts
    "list_conflicts",
    "resolve_conflict",
    "get_conflict_strategy",
    "set_conflict_strategy",
    // sync
    "sync_status",
    "sync_now",
    "approve_mass_delete",
    "set_network",
    "get_sync_policy",
    "set_sync_policy",
    "get_device_situation",
    "set_device_situation",
    "start_over",
    // sync monitor
    "sync_history",
    "outbox_entries",
    "outbox_retry",
    "outbox_discard",
    // account
    "account_info",
    "register",
    "log_in",
    "log_out",
    "list_sessions",
    "revoke_session",
    "revoke_other_sessions",
    "change_passphrase",
    "delete_account",
    // app
    "app_info",
    "unlock",
    "get_settings",
    "set_settings",
    // import and export
    "pick_path",
    "import_notes",
    "export_notes",
    // notebooks
    "list_notebooks",
    "create_notebook",
    "rename_notebook",
    "move_notebook",
    "delete_notebook",
    "move_note",
    "list_tags",
    "list_notes_by",
    // history and trash
    "note_versions",
    "note_version",
    "restore_version",
    "trash_list",
    "untrash_note",
    "delete_for_good",
    "empty_trash",
    "get_history_settings",
    "set_history_settings",
    // attached files
    "add_file",
    "note_files",
    "file_info",
    "file_counts",
    "get_keep_all_files",
    "set_keep_all_files",
    "pick_save_path",
    "save_file",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/permissions");
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*").app_manifest(
            tauri_build::AppManifest::new().commands(COMMANDS).permissions_path_pattern("src-tauri/permissions/**/*"),
        );
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
