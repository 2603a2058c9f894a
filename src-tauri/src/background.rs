//! One sync pass with no window: what the platforms' background schedulers
//! (Android WorkManager, iOS BackgroundTasks) run, through `mobile.rs`.
//! The pass itself is the core's (`outpost_core::background`), tested on
//! the desktop under a simulated lifecycle; only the entry points that the
//! platform code calls are mobile-only.

use std::path::Path;
use std::time::Duration;

use outpost_core::background::{self, BackgroundOutcome};
use outpost_core::keys::KeyStore;

/// Open the store in `data_dir` with `keys`, and run one pass within
/// `budget` (iOS gives a background task about 30 s): pushes first, pulls
/// in pages, stops a margin before the budget ends
/// (`outpost_core::background`). Cut short or killed, it leaves the store
/// consistent and the next pass carries on.
pub async fn one_pass(
    data_dir: &Path,
    keys: &dyn KeyStore,
    budget: Duration,
) -> outpost_core::Result<BackgroundOutcome> {
    background::pass_in(data_dir, keys, budget).await
}

#[cfg(test)]
mod tests {
    use outpost_core::keys::MemoryStore;

    #[tokio::test]
    async fn a_store_without_an_account_has_nothing_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = MemoryStore::new();
        {
            let mut v = outpost_core::Vault::open(dir.path(), &keys).expect("open");
            v.create(outpost_core::NoteDraft { title: "t".into(), ..Default::default() }).expect("create");
        }
        let r = super::one_pass(dir.path(), &keys, std::time::Duration::from_secs(5)).await.expect("pass");
        assert_eq!(r, outpost_core::background::BackgroundOutcome::Done { report: Default::default() });
        let v = outpost_core::Vault::open(dir.path(), &keys).expect("reopen");
        assert_eq!(v.status().expect("status").pending, 1, "the note waits for an account");
    }
}
