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
    /// A change from the server that opens under the key but is not as its
    /// writer made it: a delete flag the sealed content does not bear out,
    /// or an old version sent again under a new revision.
    #[error("{0}")]
    Forged(String),
    #[error("migration {version} ({name}) failed, the store is left at the previous version: {source}")]
    Migration { version: u32, name: String, source: rusqlite::Error },
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// An SQLite error. Disk trouble (full, read-only, I/O error, cannot
    /// open) gets a message that says what to do and its own
    /// [`Error::code`]; see [`Error::storage_fault`].
    #[error("{}", db_message(.0))]
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
    #[error(
        "this store is logged in as {username} on {server}; log out first (`outpost account logout`, or Log out in \
         the app) to use another account. The notes stay on this device either way"
    )]
    LoggedIn { username: String, server: String },
    /// A change of passphrase lost a race: another device changed the
    /// account's passphrase (its wrapped key) first.
    #[error(
        "the account's passphrase (or its data key) was changed meanwhile, probably on another device; nothing was \
         changed here. Sync, then try again, giving the passphrase now in force"
    )]
    KeyChanged,
    #[error(
        "note {note} has no version {version}; `outpost notes history {note}` lists its versions. Nothing was changed"
    )]
    VersionNotFound { note: String, version: String },
    #[error("version {version} is a version of note {owner}, not of note {note}; nothing was changed")]
    VersionOfAnotherNote { note: String, version: String, owner: String },
    #[error(
        "note {0} was deleted for good (the trash was emptied, or its time in the trash ran out); it and its \
         history can no longer be brought back. Nothing was changed"
    )]
    Purged(String),
    #[error("note {0} is not in the trash; nothing was changed")]
    NotInTrash(String),
    /// No attached file with that id on this device (nor, where asked, on
    /// the server for this account).
    #[error("no file with id {0} (file ids are 64 hex digits; `outpost files list NOTE_ID` shows them)")]
    FileNotFound(String),
    /// The file's bytes are not all on this device yet.
    #[error(
        "file {id} is not on this device yet ({missing} of its {chunks} chunks missing): get it while online \
         (`outpost files get`), or sync; what was downloaded is kept"
    )]
    FileNotDownloaded { id: String, missing: usize, chunks: u32 },
    /// A change sealed under a data key this device does not hold: the
    /// account's key was rotated on another device. A pulled one is set
    /// aside and applies once the key is fetched with the passphrase
    /// (`Vault::learn_keys`); nothing is lost.
    #[error(
        "a change could not be decrypted yet: it was made with data key {key_id}, which this device does not \
         have (the account's data key was changed on another device). Nothing is lost: give the account \
         passphrase to fetch the key (`outpost account keys`, or log in again) and it applies"
    )]
    KeyRotated { key_id: String },
    #[error("no notebook {0:?}; `outpost notebooks list` shows them")]
    NotebookNotFound(String),
    #[error("{name:?} could mean several notebooks: {places}; give its id or its path from the top (A/B)")]
    NotebookAmbiguous { name: String, places: String },
    #[error("notebook {name:?} cannot go under {parent:?}, which is inside it; nothing was changed")]
    NotebookCycle { name: String, parent: String },
    #[error("there is already a notebook named {name:?} {place}; nothing was changed")]
    NotebookNameTaken { name: String, place: String },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// A blob of note `note` that did not open: [`Error::KeyRotated`] when
    /// its key is one this device does not hold yet, else [`Error::Decrypt`].
    pub(crate) fn decrypt(note: String, source: CryptoError) -> Self {
        match source {
            CryptoError::UnknownKey(id) => Error::KeyRotated { key_id: format!("{id:08x}") },
            source => Error::Decrypt { note, source },
        }
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
            Error::Key(KeyError::UnsafeKdf(_)) => "unsafe_kdf",
            Error::Key(KeyError::WrongCurrentPassphrase) => "wrong_current_passphrase",
            Error::Key(KeyError::EmptyPassphrase | KeyError::PassphraseTooShort { .. }) => "weak_passphrase",
            Error::Key(_) | Error::KeyMethodMismatch { .. } => "key_unavailable",
            Error::Decrypt { .. } | Error::Crypto(_) => "decrypt_failed",
            Error::Forged(_) => "forged_change",
            Error::Migration { .. } => "migration_failed",
            Error::Corrupt(_) => "corrupt",
            Error::Io { .. } => "io",
            Error::Db(_) => match self.storage_fault() {
                Some(StorageFault::DiskFull) => "disk_full",
                Some(StorageFault::ReadOnly) => "read_only",
                Some(StorageFault::CannotOpen) => "cannot_open",
                Some(StorageFault::Io) => "storage_io",
                None => "database",
            },
            Error::Remote(crate::remote::RemoteError::AccountDeleted) => "account_deleted",
            Error::Remote(crate::remote::RemoteError::TotpRequired) => "totp_required",
            Error::Remote(crate::remote::RemoteError::TotpInvalid) => "totp_invalid",
            Error::Remote(_) => "network",
            Error::MassDeleteHeld { .. } => "mass_delete_held",
            Error::ConflictNotFound(_) => "conflict_not_found",
            Error::Stale { .. } => "stale",
            Error::LoggedIn { .. } => "logged_in",
            Error::KeyChanged => "key_changed",
            Error::VersionNotFound { .. } => "version_not_found",
            Error::VersionOfAnotherNote { .. } => "version_of_another_note",
            Error::Purged(_) => "purged",
            Error::NotInTrash(_) => "not_in_trash",
            Error::FileNotFound(_) => "file_not_found",
            Error::FileNotDownloaded { .. } => "file_not_downloaded",
            Error::KeyRotated { .. } => "key_rotated",
            Error::NotebookNotFound(_) => "notebook_not_found",
            Error::NotebookAmbiguous { .. } => "notebook_ambiguous",
            Error::NotebookCycle { .. } => "notebook_cycle",
            Error::NotebookNameTaken { .. } => "notebook_name_taken",
        }
    }
}

/// What a failed sync pass means for the next one: the engine's retry
/// policy, by the kind of error rather than by its code string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The user or a tester switched the network off: wait for the switch.
    SwitchedOff,
    /// It may pass (the server down or busy, an unreadable answer, a busy
    /// database, an error this version does not know): try again with
    /// backoff, never in a busy loop, never given up on silently.
    Retry,
    /// A pass would delete many notes: it waits for the user's approval.
    Held,
    /// Retrying cannot fix it (logged out, a refused request, a key that
    /// cannot be had, a damaged or newer store): stop until the user acts.
    Permanent,
}

impl Error {
    pub fn recovery(&self) -> Recovery {
        use crate::remote::RemoteError;
        match self {
            Error::Remote(RemoteError::Offline) => Recovery::SwitchedOff,
            Error::Remote(r) if r.is_retryable() => Recovery::Retry,
            // An answer that cannot be read (a captive portal, a proxy's
            // error page, a half-upgraded server) may read fine later.
            Error::Remote(RemoteError::Decode(_)) => Recovery::Retry,
            // Among them the account deleted (from another device): for
            // good, so the engine stops and says so; the notes stay.
            Error::Remote(_) => Recovery::Permanent,
            Error::MassDeleteHeld { .. } => Recovery::Held,
            Error::Key(_)
            | Error::KeyRotated { .. }
            | Error::KeyMethodMismatch { .. }
            | Error::NotADatabase { .. }
            | Error::SchemaTooNew { .. }
            | Error::Migration { .. }
            | Error::Corrupt(_) => Recovery::Permanent,
            _ => Recovery::Retry,
        }
    }

    /// Whether retrying cannot fix this: the user must act first.
    pub fn is_permanent(&self) -> bool {
        self.recovery() == Recovery::Permanent
    }
}

/// Disk trouble behind a database error. Every write is one transaction,
/// so when one of these stops it, nothing of that change was stored and
/// the store keeps its last committed state (`crates/core/tests/io_faults.rs`
/// checks this at every write and sync of a save and of a pulled page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// `SQLITE_FULL`: no space left on the device (or a quota).
    DiskFull,
    /// `SQLITE_READONLY`: the file or its file system is read-only.
    ReadOnly,
    /// `SQLITE_CANTOPEN`: a file of the store cannot be opened or created
    /// (read-only or missing data directory, no permission).
    CannotOpen,
    /// `SQLITE_IOERR_*`: the operating system reported an I/O error.
    Io,
}

impl Error {
    /// The disk trouble behind this error, if it is one.
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            Error::Db(e) => storage_fault(e),
            _ => None,
        }
    }
}

fn storage_fault(e: &rusqlite::Error) -> Option<StorageFault> {
    match e.sqlite_error_code()? {
        rusqlite::ErrorCode::DiskFull => Some(StorageFault::DiskFull),
        rusqlite::ErrorCode::ReadOnly => Some(StorageFault::ReadOnly),
        rusqlite::ErrorCode::CannotOpen => Some(StorageFault::CannotOpen),
        rusqlite::ErrorCode::SystemIoFailure => Some(StorageFault::Io),
        _ => None,
    }
}

fn db_message(e: &rusqlite::Error) -> String {
    match storage_fault(e) {
        Some(StorageFault::DiskFull) => "the disk is full, so this change was not saved; the store keeps its last \
             saved state. Free some disk space, then try again"
            .to_owned(),
        Some(StorageFault::ReadOnly) => "the store cannot be written: its disk or folder is read-only, so this \
             change was not saved. Make the data directory writable (or choose another one), then try again"
            .to_owned(),
        Some(StorageFault::CannotOpen) => "the store's files cannot be opened or created (a read-only or missing \
             data directory, or no permission); nothing was changed. Check that the data directory exists and is \
             writable"
            .to_owned(),
        Some(StorageFault::Io) => format!(
            "the disk reported an I/O error ({e}), so this change was not saved; the store keeps its last saved \
             state. Check the disk, then try again"
        ),
        None => format!("database error: {e}"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Error::Corrupt(format!("a stored value has the wrong type: {e}"))
    }
}
