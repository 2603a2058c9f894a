//! The Outpost engine: everything the app, the CLI, the tests and the
//! benchmarks share. No Tauri in here.
//!
//! # Layout
//! - [`vault`]: the notes API (create, edit, delete, get, list, search,
//!   status) over the encrypted store; every change and its outbox entry in
//!   one transaction.
//! - [`store`]: the SQLite connection (WAL, `synchronous=FULL`) and the
//!   embedded, versioned migrations with a backup before each run.
//! - [`crypto`]: compress-then-AES-256-GCM sealing of note fields, bound to
//!   note id, field and clock stamp.
//! - [`keys`]: the key-store seam (OS keyring, passphrase, memory) and the
//!   Argon2id + HKDF derivation of the wrap and auth keys.
//! - [`clock`]: the hybrid logical clock that stamps every change.
//! - [`account`]: registering with a sync server; fetching the data key on a
//!   joining device.
//! - [`background`]: one sync pass within a time budget, for the
//!   platforms' background schedulers.
//! - [`sync`]: one full sync pass (push until nothing is due, pull until
//!   drained).
//! - [`engine`]: the background sync task: woken by local changes, pokes,
//!   the network coming back, a timer and "sync now"; publishes a
//!   [`engine::SyncStatus`].
//! - [`connectivity`]: online / offline / switched off, from real
//!   requests, the testers' switch and a health probe with backoff.
//! - [`model`]: plain note types and content limits.
//! - [`monitor`]: the bounded history of sync passes, its insights, and
//!   the outbox as a person looks at it (list, retry, discard).
//! - [`notebooks`]: the notebook tree (records of the note stream):
//!   effective parents, cycles broken the same way on every device, names.
//! - [`net`]: the testers' network control (online, offline, flaky) and
//!   the watcher of its control file; `remote` enforces it.
//! - [`policy`]: what sync does in the device's situation (network cost,
//!   power, app state) under the user's settings; [`device`]: that
//!   situation, with what a tester set on top.
//! - [`payload`]: a note's sealed fields framed as one opaque op payload.
//! - [`remote`]: the /v1 protocol client (reqwest, rustls, postcard).
//! - [`seed`]: deterministic, realistic notes for testers and benchmarks.
//! - [`time`]: the wall clock in milliseconds and the one full-jitter
//!   backoff every retry uses.
//! - [`transfer`]: import from Markdown folders and JSON Lines; export.

#![forbid(unsafe_code)]

pub mod account;
pub mod background;
pub mod clock;
pub mod connectivity;
pub mod crypto;
pub mod device;
pub mod engine;
pub mod error;
pub mod files;
pub mod history;
pub mod keys;
pub mod merge;
pub mod model;
pub mod monitor;
pub mod net;
pub mod notebooks;
pub mod payload;
pub mod policy;
pub mod remote;
pub mod search;
pub mod seed;
pub mod snapshot;
pub mod store;
pub mod sync;
pub mod time;
pub mod transfer;
pub mod vault;

pub use error::{Error, Recovery, Result};
pub use model::{Note, NoteDraft, NotePatch, NoteSummary, SearchHit, StoreStatus, SyncBadge};
pub use model::{Notebook, NotebookFilter, NotebookNode, SortBy, TagCount};
pub use vault::{SharedVault, Vault, Writer};
