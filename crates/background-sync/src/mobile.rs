//! Registering the Kotlin or Swift class and asking it to schedule.

use tauri::plugin::PluginApi;
use tauri::Runtime;

use crate::Schedule;

#[cfg(target_os = "android")]
const PLUGIN_IDENTIFIER: &str = "app.outpost.backgroundsync";

#[cfg(target_os = "ios")]
tauri::ios_plugin_binding!(init_plugin_background_sync);

pub(crate) fn schedule<R: Runtime, C: serde::de::DeserializeOwned>(
    api: PluginApi<R, C>,
    schedule: &Schedule,
) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(target_os = "android")]
    let handle = api.register_android_plugin(PLUGIN_IDENTIFIER, "BackgroundSyncPlugin")?;
    #[cfg(target_os = "ios")]
    let handle = api.register_ios_plugin(init_plugin_background_sync)?;
    handle.run_mobile_plugin::<()>("schedule", schedule.clone())?;
    Ok(())
}
