//! Which key store opens a data directory.
//!
//! 1. `OUTPOST_PASSPHRASE` set: the passphrase store, no prompt.
//! 2. An existing store records how it is unlocked: a passphrase store
//!    prompts; a keyring store uses the keyring and fails closed (never a
//!    new key) if the keyring is unreachable.
//! 3. A new store: the OS keyring if one answers, else a passphrase chosen
//!    at a prompt (typed twice).

use std::path::Path;

use anyhow::{bail, Context};
use outpost_core::keys::{KeyStore, KeyringStore, PassphraseStore};
use outpost_core::Vault;

pub const PASSPHRASE_ENV: &str = "OUTPOST_PASSPHRASE";
/// The new passphrase for `outpost account passphrase`, without a prompt.
pub const NEW_PASSPHRASE_ENV: &str = "OUTPOST_NEW_PASSPHRASE";

pub fn open_vault(dir: &Path) -> anyhow::Result<Vault> {
    let keys = key_store(dir)?;
    let (vault, report) = Vault::open_with(dir, keys.as_ref(), std::sync::Arc::new(outpost_core::clock::SystemTime))
        .with_context(|| format!("opening the store in {}", dir.display()))?;
    if let Some(b) = report.backup {
        eprintln!("migrated the store; the previous version is backed up at {}", b.display());
    }
    if report.created {
        eprintln!("created a new store in {} (key: {})", dir.display(), keys.method());
    }
    Ok(vault)
}

pub fn key_store(dir: &Path) -> anyhow::Result<Box<dyn KeyStore>> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Box::new(PassphraseStore::new(p)?));
    }
    let methods = outpost_core::vault::key_methods(dir)?;
    if methods.iter().any(|m| m == "keyring") {
        return Ok(Box::new(KeyringStore));
    }
    if methods.iter().any(|m| m == "passphrase") {
        let p = prompt("Passphrase for this store: ")?;
        return Ok(Box::new(PassphraseStore::new(p)?));
    }
    if !methods.is_empty() {
        bail!("this store is unlocked by {}, which this command line cannot use", methods.join(", "));
    }
    match KeyringStore::probe() {
        Ok(()) => Ok(Box::new(KeyringStore)),
        Err(e) => {
            eprintln!("No OS keyring is available ({e}).\nChoose a passphrase to protect this store; it cannot be recovered if lost.");
            let p = prompt("New passphrase: ")?;
            let again = prompt("Repeat passphrase: ")?;
            if p != again {
                bail!("the passphrases differ; nothing was created");
            }
            Ok(Box::new(PassphraseStore::new(p)?))
        }
    }
}

fn prompt(text: &str) -> anyhow::Result<String> {
    rpassword::prompt_password(text)
        .with_context(|| format!("cannot ask for a passphrase (no terminal?); set {PASSPHRASE_ENV} instead"))
}

/// The account passphrase: `OUTPOST_PASSPHRASE`, or asked for (twice when
/// choosing one).
pub fn account_passphrase(confirm: bool) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(p);
    }
    let p = prompt("Account passphrase: ")?;
    if confirm && prompt("Repeat passphrase: ")? != p {
        bail!("the passphrases differ; nothing was changed");
    }
    Ok(p)
}

/// The account's current passphrase, for a change: `OUTPOST_PASSPHRASE`,
/// or asked for.
pub fn current_account_passphrase() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(p);
    }
    prompt("Current passphrase: ")
}

/// The new account passphrase for a change: `OUTPOST_NEW_PASSPHRASE`, or
/// asked for twice.
pub fn new_account_passphrase() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(NEW_PASSPHRASE_ENV) {
        return Ok(p);
    }
    let p = rpassword::prompt_password("New passphrase: ")
        .with_context(|| format!("cannot ask for the new passphrase (no terminal?); set {NEW_PASSPHRASE_ENV}"))?;
    let again = rpassword::prompt_password("Repeat new passphrase: ")
        .with_context(|| format!("cannot ask for the new passphrase (no terminal?); set {NEW_PASSPHRASE_ENV}"))?;
    if p != again {
        bail!("the passphrases differ; nothing was changed");
    }
    Ok(p)
}
