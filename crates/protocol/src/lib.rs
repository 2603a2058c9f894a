//! Wire types shared by the Outpost client (`outpost-core`) and the sync
//! server. Nothing in this crate does I/O.
//!
//! # Layout
//! - [`hlc`]: the hybrid logical clock stamp carried by every change. Its
//!   byte form is authenticated as AEAD associated data, so it is frozen.
//! - [`v1`]: the `/v1` sync API's requests, responses and their two
//!   encodings (JSON and postcard). `docs/protocol.md` is its written spec.

#![forbid(unsafe_code)]

pub mod hlc;
pub mod v1;

pub use hlc::{Hlc, HlcParseError};
