//! The Android and iOS entry points that differ from the desktop. Built
//! only for mobile targets (`cfg(mobile)`), which this repository's CI
//! cannot build (no Android NDK or Xcode here): see ARCHITECTURE.md.
//!
//! - Keys: iOS keeps the data key in the Keychain through the `keyring`
//!   crate's Apple backend, as macOS does. Android has no backend in
//!   `keyring` 3, so the store there is opened with its passphrase (asked
//!   once per app start); an Android Keystore store is future work.
//! - Background sync: the platform scheduler (a WorkManager `Worker` on
//!   Android, a `BGAppRefreshTask` on iOS) calls `outpost_background_sync`
//!   with the app's data directory; it runs one pass (`background.rs`) and
//!   returns 0 when the pass completed, 1 when it should be retried later.
//!   On Android it always answers 1 for now: the worker cannot unlock a
//!   passphrase store.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;
use std::time::Duration;

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
        return 1;
    }
    // SAFETY: the caller passes a valid NUL-terminated string (see above).
    let Ok(dir) = unsafe { CStr::from_ptr(data_dir) }.to_str() else { return 1 };
    let dir = PathBuf::from(dir);
    let run = std::panic::catch_unwind(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        #[cfg(target_os = "ios")]
        let keys: Box<dyn outpost_core::keys::KeyStore> = Box::new(outpost_core::keys::KeyringStore);
        // Android: the key is behind the passphrase, which a background
        // worker does not have; report "retry later" until an Android
        // Keystore store exists.
        #[cfg(not(target_os = "ios"))]
        let keys: Box<dyn outpost_core::keys::KeyStore> = return None;
        rt.block_on(crate::background::one_pass(&dir, keys.as_ref(), BUDGET)).ok()
    });
    match run {
        Ok(Some(_)) => 0,
        _ => 1,
    }
}
