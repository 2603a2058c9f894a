//! Devices of one account against a [`super::TestServer`], each on its own
//! manual clock, for the tests that need several devices and time under
//! their control (history and trash).

use std::sync::Arc;

use outpost_core::clock::ManualTime;
use outpost_core::keys::{KdfParams, KdfPolicy, MemoryStore};
use outpost_core::remote::Remote;
use outpost_core::sync::{sync_once, SyncReport};
use outpost_core::{account, Vault};

pub const PASS: &str = "correct horse battery staple";

/// One device: its store, its session and its clock.
pub struct Device {
    pub vault: Vault,
    pub remote: Remote,
    pub time: ManualTime,
    pub keys: MemoryStore,
    pub dir: tempfile::TempDir,
}

impl Device {
    pub async fn sync(&mut self) -> SyncReport {
        sync_once(&mut self.vault, &self.remote).await.expect("sync pass")
    }

    /// Move this device's clock on by `ms`.
    pub fn advance(&self, ms: u64) {
        self.time.set(self.time.now() + ms);
    }
}

/// Real milliseconds since the Unix epoch, where the manual clocks start.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// A device that registers `user` at `url`, its clock starting at `start`.
pub async fn first(url: &str, user: &str, start: u64) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(start);
    let mut vault = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("open").0;
    let remote = Remote::new(url).expect("remote");
    account::register_with(&mut vault, &remote, user, PASS, KdfParams::insecure_for_tests()).await.expect("register");
    let remote = remote.with_token(vault.session_token().expect("token").expect("logged in"));
    Device { vault, remote, time, keys, dir }
}

/// A new, empty device that logs in to `user`'s account, its clock starting
/// at `start`.
pub async fn joining(url: &str, user: &str, start: u64) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = MemoryStore::new();
    let time = ManualTime::new(start);
    let remote = Remote::new(url).expect("remote");
    let (key, session) =
        account::log_in_with(&remote, user, PASS, &KdfPolicy::insecure_for_tests()).await.expect("log in");
    let mut vault = Vault::open_for_account(dir.path(), &keys, key).expect("open for the account");
    account::remember(&mut vault, &remote, user, &session).expect("remember");
    // Reopen on the device's own clock (joining uses the system one).
    drop(vault);
    let vault = Vault::open_with(dir.path(), &keys, Arc::new(time.clone())).expect("reopen").0;
    Device { vault, remote: remote.with_token(session.token), time, keys, dir }
}
