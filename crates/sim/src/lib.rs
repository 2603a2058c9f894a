//! Many Outpost devices and a sync server in one process, under a network
//! that loses, repeats and reorders requests, with crashes and skewed
//! clocks: the deterministic simulation (`tests/simulation.rs`) and the
//! named conflict scenarios that `outpost conflict-sim` prints.
//!
//! # Layout
//! - [`transport`]: [`BackendTransport`] (a device straight onto the
//!   server's storage, no HTTP) and [`FaultyTransport`] (drops, lost
//!   answers, duplicates, delays, partitions; seeded, or scripted).
//! - [`account`]: an account devices join, on an [`InProcessServer`] or a
//!   real HTTP server on 127.0.0.1 ([`HttpServer`]); scratch directories.
//! - [`device`]: a [`Device`] (a real store, a virtual clock with skew, a
//!   faulty network; crash and restart) and a [`Cluster`] of them.
//! - [`simulation`]: the seeded random run and its checks.
//! - [`scenarios`]: the named conflict scenarios, each with what should
//!   happen and checks of what did.
//! - [`scenario_file`]: conflict scenarios written as JSON files (devices,
//!   steps, expectations), checked before they run, played like the above.
//! - [`soak`]: load and soak, many real devices against one real server
//!   process for minutes (`soak` binary, `tests/soak.rs`).
//!
//! Everything here drives the same engine the app does (`outpost-core`):
//! the same sync pass, the same store, the same merge.

#![forbid(unsafe_code)]

pub mod account;
pub mod device;
pub mod error;
pub mod scenario_file;
pub mod scenarios;
pub mod simulation;
pub mod soak;
pub mod transport;

pub use account::{BackendAccount, HttpAccount, HttpServer, InProcessServer, SimAccount};
pub use device::{Cluster, CrashPoint, Device, NoteState, Settled};
pub use error::SimError;
pub use transport::{BackendTransport, Fault, FaultCounts, FaultRates, FaultyTransport};
