//! One sync pass with no window: what the platforms' background schedulers
//! (Android WorkManager, iOS BackgroundTasks) run, through `mobile.rs`.
//! Plain Rust, so desktop tests cover it; only the entry points that the
//! platform code calls are mobile-only.

use std::path::Path;
use std::time::Duration;

use outpost_core::account::{self, Session};
use outpost_core::keys::KeyStore;
use outpost_core::sync::{sync_once, SyncReport};
use outpost_core::Vault;

/// Open the store in `data_dir` with `keys`, and run one full pass within
/// `budget` (iOS gives a background task about 30 s). A pass cut short by
/// the budget leaves the store consistent: every step is one transaction,
/// and unanswered pushes are re-sent next time under the same op ids.
pub async fn one_pass(data_dir: &Path, keys: &dyn KeyStore, budget: Duration) -> outpost_core::Result<SyncReport> {
    let mut vault = Vault::open(data_dir, keys)?;
    let Session::Active { remote, .. } = account::session(&vault)? else {
        return Ok(SyncReport::default()); // local only, or logged out: nothing to do
    };
    match tokio::time::timeout(budget, sync_once(&mut vault, &remote)).await {
        Ok(report) => report,
        Err(_) => Err(outpost_core::Error::Invalid(format!(
            "the background pass ran out of its {} s; it goes on next time",
            budget.as_secs()
        ))),
    }
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
        assert_eq!(r, Default::default());
        let v = outpost_core::Vault::open(dir.path(), &keys).expect("reopen");
        assert_eq!(v.status().expect("status").pending, 1, "the note waits for an account");
    }
}
