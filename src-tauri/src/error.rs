//! The one error type that crosses IPC: a stable `code` the UI can branch on
//! and a `message` it can show. Built from the core's errors, whose
//! messages already tell the user what to do.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    pub code: String,
    pub message: String,
}

impl IpcError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into() }
    }

    pub fn locked() -> Self {
        Self::new("locked", "the store is locked: enter its passphrase first")
    }

    pub fn no_account() -> Self {
        Self::new("no_account", "this device has no account yet: register or log in in Settings to sync")
    }
}

impl From<outpost_core::Error> for IpcError {
    fn from(e: outpost_core::Error) -> Self {
        let code = match &e {
            // The network error's own code says more (offline, unreachable, ...).
            outpost_core::Error::Remote(r) => r.code().to_owned(),
            other => other.code().to_owned(),
        };
        Self { code, message: e.to_string() }
    }
}

impl From<outpost_core::remote::RemoteError> for IpcError {
    fn from(e: outpost_core::remote::RemoteError) -> Self {
        Self { code: e.code().to_owned(), message: e.to_string() }
    }
}

pub type IpcResult<T> = Result<T, IpcError>;
