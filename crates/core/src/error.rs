//! The engine's error type: one enum at the library boundary, with
//! messages that tell the user what to do.

use std::path::PathBuf;

use crate::crypto::CryptoError;
use crate::keys::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is not an Outpost store (not an SQLite database, or damaged); nothing was changed", path.display())]
    NotADatabase { path: PathBuf },
    #[error(
        "this store was written by a newer Outpost (schema version {found}; this build knows up to {known}). \
         Update Outpost; nothing was changed"
    )]
    SchemaTooNew { found: u32, known: u32 },
    #[error("no note with id {0}")]
    NoteNotFound(String),
    #[error("{0:?} is not a note id (expected a UUID such as 01936f0e-8c3b-7d2a-9f1e-2b3c4d5e6f70)")]
    InvalidNoteId(String),
    #[error("the {what} is {size} bytes; the limit is {limit} bytes. Nothing was saved")]
    TooLarge { what: &'static str, size: usize, limit: usize },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("this store is unlocked by {stored}, but {given} was offered. {hint}")]
    KeyMethodMismatch { stored: String, given: String, hint: &'static str },
    #[error("note {note} could not be decrypted: {source}")]
    Decrypt { note: String, source: CryptoError },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("migration {version} ({name}) failed, the store is left at the previous version: {source}")]
    Migration { version: u32, name: String, source: rusqlite::Error },
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    #[error(
        "this sync would delete {deletes} of the {notes} notes on this device, so it stopped and deleted nothing. \
         If that is what you did on another device, approve it (`outpost sync --approve-deletes`, or Approve in \
         the app); if not, check your other devices before syncing this one"
    )]
    MassDeleteHeld { deletes: u64, notes: u64 },
    #[error("no conflict with id {0}")]
    ConflictNotFound(i64),
    #[error("note {note} changed on another device while it was being edited here; send the text the edit started from so both are kept")]
    Stale { note: String },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// A stable machine-readable code, for the CLI's exit codes and the
    /// app's IPC errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotADatabase { .. } => "not_a_database",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::NoteNotFound(_) => "note_not_found",
            Error::InvalidNoteId(_) => "invalid_note_id",
            Error::TooLarge { .. } => "too_large",
            Error::Invalid(_) => "invalid",
            Error::Key(KeyError::WrongPassphrase) => "wrong_passphrase",
            Error::Key(_) | Error::KeyMethodMismatch { .. } => "key_unavailable",
            Error::Decrypt { .. } | Error::Crypto(_) => "decrypt_failed",
            Error::Migration { .. } => "migration_failed",
            Error::Corrupt(_) => "corrupt",
            Error::Io { .. } => "io",
            Error::Db(_) => "database",
            Error::Remote(_) => "network",
            Error::MassDeleteHeld { .. } => "mass_delete_held",
            Error::ConflictNotFound(_) => "conflict_not_found",
            Error::Stale { .. } => "stale",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Error::Corrupt(format!("a stored value has the wrong type: {e}"))
    }
}
