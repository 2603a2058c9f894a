//! Background sync on phones: the platform glue, kept small (DESIGN.md
//! item 17). The pass itself is Rust (`outpost_core::background`, run by
//! the app's `outpost_background_sync` entry point) and is tested on the
//! desktop under a simulated lifecycle; this plugin only asks the platform
//! to run it:
//!
//! - Android (`android/`): a periodic WorkManager `Worker` (every 15
//!   minutes at best, only with a network and a battery that is not low),
//!   whose `doWork` calls the entry point through JNI and maps its answer:
//!   0 success, 1 retry (with WorkManager's backoff), 2 failure (the user
//!   must open the app).
//! - iOS (`ios/`): a `BGAppRefreshTask` registered with `BGTaskScheduler`,
//!   submitted again after every run (sooner when the pass said there is
//!   more), completing the task with the pass's answer inside the ~30 s
//!   iOS gives.
//!
//! Neither can be compiled on the machines this project is built on (no
//! Android SDK, no Xcode): ARCHITECTURE.md says what is built and tested.
//! On the desktop this plugin does nothing: the app's sync engine runs
//! while the app runs.

use std::path::PathBuf;

use tauri::plugin::{Builder, TauriPlugin};
use tauri::Runtime;

#[cfg(mobile)]
mod mobile;

/// What the platform side needs to run a pass: the store's directory (the
/// same one the app opens).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub data_dir: String,
}

impl Schedule {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Schedule { data_dir: data_dir.to_string_lossy().into_owned() }
    }
}

/// The plugin: on Android and iOS it registers the platform class and asks
/// it to schedule background passes for the store in `data_dir`.
pub fn init<R: Runtime>(data_dir: PathBuf) -> TauriPlugin<R> {
    Builder::new("background-sync")
        .setup(move |_app, _api| {
            #[cfg(mobile)]
            mobile::schedule(_api, &Schedule::new(&data_dir))?;
            #[cfg(not(mobile))]
            let _ = &data_dir;
            Ok(())
        })
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_platform_side_gets_the_directory_in_camel_case() {
        let s = super::Schedule::new(std::path::Path::new("/data/outpost"));
        assert_eq!(serde_json::to_string(&s).expect("json"), r#"{"dataDir":"/data/outpost"}"#);
    }
}
