//! Tauri commands, grouped by domain. Each is a few lines that delegate to
//! the core through [`crate::state::AppState`]; none waits on the network
//! except account sign-in, which is what the user asked for.

pub mod account;
pub mod app;
pub mod conflicts;
pub mod files;
pub mod history;
pub mod links;
pub mod monitor;
pub mod notebooks;
pub mod notes;
pub mod sync;
pub mod transfer;
