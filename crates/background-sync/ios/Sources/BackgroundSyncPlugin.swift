import BackgroundTasks
import Foundation
import SwiftRs
import Tauri
import UIKit
import WebKit

// The app's Rust entry point (src-tauri/src/mobile.rs), linked into the
// same binary: one budgeted pass; 0 done, 1 more or retry, 2 the user must
// open the app.
@_silgen_name("outpost_background_sync")
func outpost_background_sync(_ dataDir: UnsafePointer<CChar>) -> Int32

class ScheduleArgs: Decodable {
    let dataDir: String
}

/// Registers a BGAppRefreshTask (its identifier must be listed under
/// BGTaskSchedulerPermittedIdentifiers in the app's Info.plist, with the
/// "fetch" background mode) and keeps one submitted.
class BackgroundSyncPlugin: Plugin {
    static let taskIdentifier = "app.outpost.notes.sync"
    /// The usual wait between passes; iOS decides the real time.
    static let interval: TimeInterval = 15 * 60
    /// After a pass that ran out of budget with work left.
    static let soon: TimeInterval = 60

    private static var dataDir: String?
    private static var registered = false

    @objc public func schedule(_ invoke: Invoke) throws {
        let args = try invoke.parseArgs(ScheduleArgs.self)
        BackgroundSyncPlugin.dataDir = args.dataDir
        // Registering twice is an error in BGTaskScheduler.
        if !BackgroundSyncPlugin.registered {
            BackgroundSyncPlugin.registered = BGTaskScheduler.shared.register(
                forTaskWithIdentifier: BackgroundSyncPlugin.taskIdentifier,
                using: nil
            ) { task in
                guard let refresh = task as? BGAppRefreshTask else {
                    task.setTaskCompleted(success: false)
                    return
                }
                BackgroundSyncPlugin.run(refresh)
            }
        }
        BackgroundSyncPlugin.submit(after: BackgroundSyncPlugin.interval)
        invoke.resolve()
    }

    static func submit(after seconds: TimeInterval) {
        let request = BGAppRefreshTaskRequest(identifier: taskIdentifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: seconds)
        do {
            try BGTaskScheduler.shared.submit(request)
        } catch {
            Logger.error("background sync not scheduled: \(error)")
        }
    }

    static func run(_ task: BGAppRefreshTask) {
        // The next one first, so a pass the system cuts short still has a
        // successor.
        submit(after: interval)
        guard let dir = dataDir else {
            task.setTaskCompleted(success: false)
            return
        }
        // The pass stops itself a margin before its 25 s budget; iOS's
        // expiration (about 30 s) needs nothing more from us than an
        // answer, which the pass gives in time.
        task.expirationHandler = {}
        DispatchQueue.global(qos: .utility).async {
            let code = dir.withCString { outpost_background_sync($0) }
            if code == 1 {
                submit(after: soon)
            }
            task.setTaskCompleted(success: code != 2)
        }
    }
}

@_cdecl("init_plugin_background_sync")
func initPlugin() -> Plugin {
    return BackgroundSyncPlugin()
}
