package app.outpost.backgroundsync

import android.app.Activity
import app.tauri.annotation.Command
import app.tauri.annotation.InvokeArg
import app.tauri.annotation.TauriPlugin
import app.tauri.plugin.Invoke
import app.tauri.plugin.Plugin

@InvokeArg
class ScheduleArgs {
    lateinit var dataDir: String
}

/// Called once per app start by the plugin's Rust side with the store's
/// directory: (re)schedules the periodic background pass.
@TauriPlugin
class BackgroundSyncPlugin(private val activity: Activity) : Plugin(activity) {
    @Command
    fun schedule(invoke: Invoke) {
        val args = invoke.parseArgs(ScheduleArgs::class.java)
        SyncWorker.schedule(activity.applicationContext, args.dataDir)
        invoke.resolve()
    }
}
