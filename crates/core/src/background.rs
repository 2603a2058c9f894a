//! The background pass: what the platforms' schedulers (Android
//! WorkManager, iOS BackgroundTasks) run while the app is not on screen,
//! through the app's thin mobile glue. Plain Rust, so the desktop tests
//! drive it under a simulated lifecycle (budgets, kills).
//!
//! One pass within a time budget: it pushes first (what this device wrote
//! matters most, and is small), then pulls in pages, and stops cleanly a
//! margin before the budget ends. Stopping between steps is safe: every
//! local step is one transaction, and a push whose answer never came is
//! sent again next time under the same op ids. A kill at any point loses
//! nothing for the same reasons (DESIGN.md items 1 and 12).

use std::time::Duration;

use serde::Serialize;

use crate::error::{Recovery, Result};
use crate::sync::{sync_limited, Download, PassLimits, PassStep, SyncReport, SyncTransport, VaultAccess};

/// What the scheduler should do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum BackgroundOutcome {
    /// Everything was pushed and the pull drained: schedule as usual.
    Done { report: SyncReport },
    /// The budget ended with work left: run again soon.
    More,
    /// It failed for a reason that passes (no network, the server down):
    /// retry with the platform's backoff.
    Retry { code: String, message: String },
    /// Retrying will not help until the user acts (logged out, the key not
    /// available, a held mass delete): do not reschedule eagerly; the app
    /// says why when it opens.
    NeedsUser { code: String, message: String },
}

impl BackgroundOutcome {
    /// The platform's three answers: 0 done, 1 more (or retry), 2 needs
    /// the user. WorkManager maps them to success, retry and failure; iOS
    /// to completing the task and scheduling the next one sooner or later.
    pub fn code(&self) -> i32 {
        match self {
            BackgroundOutcome::Done { .. } => 0,
            BackgroundOutcome::More | BackgroundOutcome::Retry { .. } => 1,
            BackgroundOutcome::NeedsUser { .. } => 2,
        }
    }
}

/// Stop this long before the budget ends, so the platform never has to
/// kill the pass: a request in flight is abandoned at the margin.
pub fn margin(budget: Duration) -> Duration {
    (budget / 10).clamp(Duration::from_millis(100), Duration::from_secs(3))
}

/// Push batches in the background: small, so a cut-short pass still
/// leaves most of its answered batches recorded.
pub const BACKGROUND_PUSH_BATCH: usize = 100;

/// One pass of `vault` against `remote` within `budget`.
pub async fn pass<A: VaultAccess, T: SyncTransport>(vault: &A, remote: &T, budget: Duration) -> BackgroundOutcome {
    let run = budget.saturating_sub(margin(budget));
    // The platform's scheduler runs this pass under its own network
    // constraints (the glue asks for them): it downloads what waits.
    let limits = PassLimits { push_batch: BACKGROUND_PUSH_BATCH, download: Download::All };
    let observed = sync_limited(vault, remote, limits, |_: PassStep<'_>| {});
    match tokio::time::timeout(run, observed).await {
        Ok(Ok(report)) => BackgroundOutcome::Done { report },
        Ok(Err(e)) => outcome_of_error(&e),
        Err(_) => BackgroundOutcome::More,
    }
}

fn outcome_of_error(e: &crate::Error) -> BackgroundOutcome {
    let (code, message) = (e.code().to_owned(), e.to_string());
    match e.recovery() {
        Recovery::Retry | Recovery::SwitchedOff => BackgroundOutcome::Retry { code, message },
        Recovery::Held | Recovery::Permanent => BackgroundOutcome::NeedsUser { code, message },
    }
}

/// [`pass`] for a store in `data_dir` opened with `keys`: what the mobile
/// glue calls. A store with no account or logged out has nothing to do.
pub async fn pass_in(
    data_dir: &std::path::Path,
    keys: &dyn crate::keys::KeyStore,
    budget: Duration,
) -> Result<BackgroundOutcome> {
    let mut vault = crate::Vault::open(data_dir, keys)?;
    let crate::account::Session::Active { remote, .. } = crate::account::session(&vault)? else {
        return Ok(BackgroundOutcome::Done { report: SyncReport::default() });
    };
    let remote = remote.with_net(crate::net::NetControl::new(crate::net::read_control(data_dir).unwrap_or_default()));
    let vault = std::sync::Mutex::new(&mut vault);
    Ok(pass(&vault, &remote, budget).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_scales_with_the_budget() {
        assert_eq!(margin(Duration::from_secs(30)), Duration::from_secs(3));
        assert_eq!(margin(Duration::from_secs(5)), Duration::from_millis(500));
        assert_eq!(margin(Duration::from_millis(500)), Duration::from_millis(100));
    }

    #[test]
    fn codes_for_the_platforms() {
        assert_eq!(BackgroundOutcome::Done { report: SyncReport::default() }.code(), 0);
        assert_eq!(BackgroundOutcome::More.code(), 1);
        let e = crate::Error::Remote(crate::remote::RemoteError::Unreachable("down".into()));
        assert_eq!(outcome_of_error(&e).code(), 1);
        let e = crate::Error::Remote(crate::remote::RemoteError::Unauthorized("logged out".into()));
        assert!(matches!(outcome_of_error(&e), BackgroundOutcome::NeedsUser { ref code, .. } if code == "network"));
        assert_eq!(outcome_of_error(&crate::Error::MassDeleteHeld { deletes: 50, notes: 60 }).code(), 2);
    }
}
