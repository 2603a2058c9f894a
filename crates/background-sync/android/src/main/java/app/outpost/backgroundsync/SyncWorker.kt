package app.outpost.backgroundsync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.Worker
import androidx.work.WorkerParameters
import androidx.work.workDataOf
import java.util.concurrent.TimeUnit

/// One background pass, run by WorkManager when the device has a network
/// and its battery is not low. The pass is the app's Rust code
/// (`outpost_background_sync`); it stops itself well inside its budget and
/// answers 0 done, 1 more or retry, 2 the user must open the app.
class SyncWorker(context: Context, params: WorkerParameters) : Worker(context, params) {
    override fun doWork(): Result {
        val dir = inputData.getString(KEY_DATA_DIR) ?: return Result.failure()
        return when (nativeBackgroundSync(dir)) {
            0 -> Result.success()
            1 -> Result.retry()
            else -> Result.failure()
        }
    }

    companion object {
        private const val KEY_DATA_DIR = "data_dir"
        private const val WORK_NAME = "outpost-background-sync"

        init {
            // WorkManager may start the process with no activity, before
            // Tauri loaded the app's library: load it here (a no-op if it
            // is loaded already).
            System.loadLibrary("outpost_app")
        }

        @JvmStatic
        private external fun nativeBackgroundSync(dataDir: String): Int

        fun schedule(context: Context, dataDir: String) {
            val constraints = Constraints.Builder()
                .setRequiredNetworkType(NetworkType.CONNECTED)
                .setRequiresBatteryNotLow(true)
                .build()
            val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
                .setConstraints(constraints)
                .setInputData(workDataOf(KEY_DATA_DIR to dataDir))
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(WORK_NAME, ExistingPeriodicWorkPolicy.UPDATE, request)
        }
    }
}
