//! The Outpost desktop (and mobile) app: a thin Tauri shell over
//! `outpost-core`. Commands delegate to the core (`commands/`), the shell
//! keeps only the open vault and the sync engine (`state.rs`), and errors
//! cross IPC as one type with a stable code (`error.rs`). The webview never
//! sees SQL or key material: no SQL plugin, no file-system plugin.
//! The opener and dialog plugins are registered for the shell's own use
//! (links, import and export pickers); the window has no permission of theirs.

pub mod background;
pub mod commands;
pub mod error;
#[cfg(mobile)]
mod mobile;
pub mod state;

use std::path::PathBuf;

use tauri::Manager;
use tauri_specta::{collect_commands, Builder};

use crate::state::{AppState, DATA_DIR_ENV, SERVER_ENV};

/// The IPC surface, for the invoke handler and for the TypeScript bindings.
pub fn specta_builder() -> Builder<tauri::Wry> {
    use commands::*;
    Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            notes::list_notes,
            notes::note_summaries,
            notes::search_notes,
            notes::get_note,
            notes::create_note,
            notes::update_note,
            notes::delete_note,
            notes::tag_counts,
            notes::note_created_times,
            links::open_external,
            conflicts::list_conflicts,
            conflicts::resolve_conflict,
            conflicts::get_conflict_strategy,
            conflicts::set_conflict_strategy,
            sync::sync_status,
            sync::sync_now,
            sync::approve_mass_delete,
            sync::set_network,
            sync::get_sync_policy,
            sync::set_sync_policy,
            sync::get_device_situation,
            sync::set_device_situation,
            sync::start_over,
            monitor::sync_history,
            monitor::outbox_entries,
            monitor::outbox_retry,
            monitor::outbox_discard,
            account::account_info,
            account::register,
            account::log_in,
            account::log_out,
            account::list_sessions,
            account::revoke_session,
            account::revoke_other_sessions,
            account::change_passphrase,
            account::delete_account,
            app::app_info,
            app::unlock,
            app::get_settings,
            app::set_settings,
            transfer::pick_path,
            transfer::import_notes,
            transfer::export_notes,
            notebooks::list_notebooks,
            notebooks::create_notebook,
            notebooks::rename_notebook,
            notebooks::move_notebook,
            notebooks::delete_notebook,
            notebooks::move_note,
            notebooks::list_tags,
            notebooks::list_notes_by,
            history::note_versions,
            history::note_version,
            history::restore_version,
            history::trash_list,
            history::untrash_note,
            history::delete_for_good,
            history::empty_trash,
            history::get_history_settings,
            history::set_history_settings,
            files::add_file,
            files::note_files,
            files::file_info,
            files::file_counts,
            files::get_keep_all_files,
            files::set_keep_all_files,
            files::pick_save_path,
            files::save_file,
        ])
        .typ::<outpost_core::engine::SyncStatus>()
        .typ::<state::NotesChangedEvent>()
        .typ::<commands::transfer::ImportProgress>()
        .dangerously_cast_bigints_to_number()
}

/// Where the bindings live, for the UI.
pub const BINDINGS: &str = "ui/src/bindings.ts";

/// The data directory: `OUTPOST_DATA_DIR`, or the platform's (the CLI's
/// default too, so `outpost status` finds the app's store). `None` where
/// only Tauri knows it (mobile): see `data_dir`.
fn configured_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "outpost").map(|d| d.data_dir().to_path_buf())
}

fn data_dir(app: &tauri::App) -> PathBuf {
    configured_data_dir().or_else(|| app.path().app_data_dir().ok()).unwrap_or_else(|| PathBuf::from("outpost-data"))
}

/// WebKitGTK's renderer: the app turns off the DMA-BUF renderer unless the
/// user's environment says otherwise (`WEBKIT_DISABLE_DMABUF_RENDERER=0`
/// turns it back on). WebKitGTK then paints through its older path, which
/// works on every Linux graphics stack; the DMA-BUF one leaves windows blank
/// or aborts on some (NVIDIA, some Wayland compositors, machines without a
/// GPU), and with software rendering it held about 70 MB more in the web
/// process with 10,000 notes listed (BENCHMARKS.md, "Desktop app").
/// A notes app gains nothing from its zero-copy page flips.
#[cfg(target_os = "linux")]
fn choose_webkit_renderer() -> Option<&'static str> {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if std::env::var_os(VAR).is_some() {
        return None;
    }
    // Called first thing in `run`, before GTK, WebKit or any other thread
    // starts, so nothing reads the environment concurrently.
    std::env::set_var(VAR, "1");
    Some(VAR)
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    #[cfg(target_os = "linux")]
    let renderer = choose_webkit_renderer();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OUTPOST_LOG").unwrap_or_else(|_| "warn,outpost=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    #[cfg(target_os = "linux")]
    if let Some(var) = renderer {
        tracing::debug!("{var}=1 (the environment did not set it)");
    }
    // Open the store (Argon2id for a passphrase, a keyring call) on its own
    // thread from the first moment, while GTK, the window and the webview
    // start: `app_info` waits for it, so the UI's first question gets the
    // answer, and the list can follow at once.
    let early_dir = configured_data_dir();
    let mut early_open = early_dir.clone().and_then(|dir| {
        std::thread::Builder::new().name("open-store".into()).spawn(move || state::open_at_start(&dir)).ok()
    });
    let builder = specta_builder();
    let result = tauri::Builder::default()
        // Both used from Rust only (commands::links, commands::transfer);
        // no capability gives the window their own commands.
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(commands::transfer::Picked::default())
        // Images in the preview: decrypted in memory and answered to the
        // webview (commands::files::serve_file); the CSP allows this scheme
        // for img-src only.
        .register_asynchronous_uri_scheme_protocol(commands::files::PROTOCOL, commands::files::protocol_handler)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            let dir = early_dir.clone().unwrap_or_else(|| data_dir(app));
            app.manage(AppState::new(dir.clone(), std::env::var(SERVER_ENV).ok()));
            // Phones: the platform's scheduler runs background passes on
            // this store (crates/background-sync; nothing on the desktop).
            app.handle().plugin(tauri_plugin_background_sync::init(dir.clone()))?;
            let early = early_open.take();
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let opening = tauri::async_runtime::spawn_blocking(move || match early {
                    Some(thread) => thread.join().map_err(|_| "the thread opening it stopped".to_owned()),
                    None => Ok(state::open_at_start(&dir)),
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r);
                let state = handle.state::<AppState>();
                let lock = match opening {
                    Ok(start) => state.settle(start),
                    Err(e) => {
                        state.open_failed(format!(
                            "Outpost could not open its store ({e}). Restart it; the store is unchanged."
                        ));
                        state.lock_state()
                    }
                };
                tracing::info!(dir = %state.data_dir.display(), ?lock, "store");
                if let Err(e) = state.start_engine(&handle).await {
                    tracing::warn!(error = %e, "sync did not start");
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Outpost could not start: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use specta_typescript::Typescript;

    /// Every command the UI can call is declared in build.rs (so it needs a
    /// permission) and allowed by exactly one capability: a command missing
    /// there is refused at run time, which no other test would notice.
    #[test]
    fn every_command_has_one_permission() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let bindings = std::fs::read_to_string(root.join(super::BINDINGS)).expect("bindings");
        let build = std::fs::read_to_string(root.join("src-tauri/build.rs")).expect("build.rs");
        let mut capabilities = String::new();
        for entry in std::fs::read_dir(root.join("src-tauri/capabilities")).expect("capabilities") {
            capabilities += &std::fs::read_to_string(entry.expect("entry").path()).expect("capability");
        }
        let commands: Vec<&str> =
            bindings.split("__TAURI_INVOKE(\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        assert!(commands.len() > 20, "found the commands in the bindings: {commands:?}");
        for c in commands {
            assert!(build.contains(&format!("\"{c}\"")), "{c} is not declared in src-tauri/build.rs");
            let permission = format!("\"allow-{}\"", c.replace('_', "-"));
            assert_eq!(capabilities.matches(&permission).count(), 1, "{c}: {permission} in exactly one capability");
        }
    }

    /// The committed TypeScript bindings match the Rust commands and types.
    /// `OUTPOST_UPDATE_BINDINGS=1 cargo test -p outpost-app bindings` rewrites them.
    #[test]
    fn bindings_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let committed = root.join(super::BINDINGS);
        let fresh = tempfile::NamedTempFile::new().expect("temp file");
        super::specta_builder()
            .export(Typescript::default().header("// Generated from the Rust commands by tauri-specta; do not edit.\n// Regenerate: OUTPOST_UPDATE_BINDINGS=1 cargo test -p outpost-app bindings\n"), fresh.path())
            .expect("export bindings");
        let fresh = std::fs::read_to_string(fresh.path()).expect("read");
        assert!(fresh.contains("export const commands"), "the export produced bindings");
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        if old != fresh && std::env::var_os("OUTPOST_UPDATE_BINDINGS").is_some() {
            // Rewritten on request, and still reported: the run that
            // rewrites them is not the run that checks them.
            std::fs::write(&committed, &fresh).expect("write bindings");
            panic!("{} was stale and has been rewritten; run the test again to check it", super::BINDINGS);
        }
        assert!(
            old == fresh,
            "{} is stale: run OUTPOST_UPDATE_BINDINGS=1 cargo test -p outpost-app bindings",
            super::BINDINGS
        );
    }
}
