//! The simulation's one error type.

use outpost_core::remote::RemoteError;
use outpost_server::BackendError;

/// Why setting up or driving the simulation failed (as opposed to a
/// simulated fault, which is part of the run).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("device {device}: {source}")]
    Core { device: String, source: outpost_core::Error },
    #[error("the in-process sync server: {0}")]
    Backend(#[from] BackendError),
    #[error("the sync server over HTTP: {0}")]
    Remote(#[from] RemoteError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("the account's data key from the server is not the one it registered")]
    KeyMismatch,
    #[error("device {0} is down (its store did not reopen after a crash)")]
    DeviceDown(String),
    #[error("the devices were still exchanging changes after {0} rounds of syncing every device")]
    NotSettled(usize),
    #[error("{0}")]
    Unexpected(String),
    #[error("no scenario named {0:?}; `outpost conflict-sim --list` shows them")]
    UnknownScenario(String),
}

impl SimError {
    pub(crate) fn core(device: &str) -> impl FnOnce(outpost_core::Error) -> SimError + '_ {
        move |source| SimError::Core { device: device.to_owned(), source }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SimError {
        let context = context.into();
        move |source| SimError::Io { context, source }
    }
}
