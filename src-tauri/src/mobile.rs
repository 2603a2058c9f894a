//! The Android and iOS entry points that differ from the desktop. Built
//! only for mobile targets (`cfg(mobile)`), which this repository's CI
//! cannot build (no Android NDK or Xcode here): see ARCHITECTURE.md.
//!
//! - Keys: iOS keeps the data key in the Keychain through the `keyring`
//!   crate's Apple backend, as macOS does. Android has no backend in
//!   `keyring` 3, so the store there is opened with its passphrase (asked
//!   once per app start); an Android Keystore store is future work.
//! - Background sync: the platform scheduler (a WorkManager `Worker` on
//!   Android, through the JNI function below; a `BGAppRefreshTask` on iOS,
//!   directly; both in crates/background-sync) calls
//!   `outpost_background_sync` with the app's data directory; it runs one budgeted pass
//!   (`background.rs`, `outpost_core::background`) and returns 0 when the
//!   pass completed, 1 when there is more to do or it should be retried
//!   later, 2 when it cannot run until the user acts (the scheduler then
//!   stops asking eagerly). On Android the store is behind its passphrase,
//!   which a background worker does not have: it answers 2 and the app
//!   syncs when it is opened (an Android Keystore key store would lift
//!   this; it is not built).

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::time::Duration;

/// The answer that tells the scheduler not to retry eagerly.
const NEEDS_USER: i32 = 2;

/// iOS gives a refresh task about 30 s; stay well inside it.
const BUDGET: Duration = Duration::from_secs(25);

/// Called by the platform's background scheduler. Never panics across the
/// FFI boundary.
///
/// # Safety
/// `data_dir` must be a valid NUL-terminated UTF-8 path.
#[no_mangle]
pub unsafe extern "C" fn outpost_background_sync(data_dir: *const c_char) -> i32 {
    if data_dir.is_null() {
        return NEEDS_USER;
    }
    // SAFETY: the caller passes a valid NUL-terminated string (see above).
    let Ok(dir) = unsafe { CStr::from_ptr(data_dir) }.to_str() else { return NEEDS_USER };
    let dir = PathBuf::from(dir);
    let run = std::panic::catch_unwind(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        #[cfg(target_os = "ios")]
        let keys: Box<dyn outpost_core::keys::KeyStore> = Box::new(outpost_core::keys::KeyringStore);
        // Android: the key is behind the passphrase, which a background
        // worker does not have: the user must open the app.
        #[cfg(not(target_os = "ios"))]
        let keys: Box<dyn outpost_core::keys::KeyStore> = return Some(NEEDS_USER);
        Some(match rt.block_on(crate::background::one_pass(&dir, keys.as_ref(), BUDGET)) {
            Ok(outcome) => outcome.code(),
            // The store would not open (the keychain locked before first
            // unlock, a damaged store): the app says why when opened.
            Err(_) => NEEDS_USER,
        })
    });
    match run {
        Ok(Some(code)) => code,
        // A runtime that would not start: worth another try.
        Ok(None) => 1,
        Err(_) => NEEDS_USER,
    }
}

/// The Android worker's native method
/// (`app.outpost.backgroundsync.SyncWorker.nativeBackgroundSync`).
#[cfg(target_os = "android")]
#[no_mangle]
pub extern "system" fn Java_app_outpost_backgroundsync_SyncWorker_nativeBackgroundSync(
    mut env: jni::JNIEnv<'_>,
    _class: jni::objects::JClass<'_>,
    data_dir: jni::objects::JString<'_>,
) -> jni::sys::jint {
    let Ok(dir) = env.get_string(&data_dir) else { return NEEDS_USER };
    let Ok(dir) = std::ffi::CString::new(String::from(dir)) else { return NEEDS_USER };
    // SAFETY: a valid NUL-terminated string, alive for the call.
    unsafe { outpost_background_sync(dir.as_ptr()) }
}
