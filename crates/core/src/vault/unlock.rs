//! Unlocking a store: its data key from the key store (keyring or
//! passphrase), checked against the check blob before anything is
//! written; or, for a new store, a new key (or the account's) enrolled.
//! Fails closed (DESIGN.md item 10): an existing store whose key cannot be
//! had is never given a new one.

use std::path::Path;

use outpost_protocol::Hlc;
use rusqlite::{params, Connection};
use uuid::Uuid;

use crate::crypto::{self, Binding, DataKey, Field, KeyId};
use crate::error::{Error, Result};
use crate::keys::{KeyError, KeyStore, Slot};

const KEY_CHECK: &[u8] = b"outpost key check v1";

/// A `keys` row: key id, method, wrapped key, KDF parameters, check blob.
type KeyRow = (i64, String, Option<Vec<u8>>, Option<String>, Vec<u8>);

/// Unlock the store's key with `keys`, or, for a store that has never had
/// one, make and enrol a new key. Fails closed: an existing store whose key
/// cannot be had is never given a new key.
pub(super) fn unlock_or_enroll(
    conn: &Connection,
    vault_id: &str,
    keys: &dyn KeyStore,
    account_key: Option<&DataKey>,
    created: &mut bool,
) -> Result<DataKey> {
    let mut stmt = conn.prepare("SELECT key_id, method, wrapped, kdf, check_blob FROM keys")?;
    let rows: Vec<KeyRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let check_binding_id = Uuid::nil();
    let check_binding = Binding { note_id: &check_binding_id, field: Field::KeyCheck, hlc: &Hlc::ZERO };
    if rows.is_empty() {
        let notes: i64 = conn.query_row("SELECT count(*) FROM notes", [], |r| r.get(0))?;
        if notes > 0 {
            return Err(Error::Corrupt(
                "the store holds notes but no key record; refusing to make a new key (restore the store from a backup)"
                    .into(),
            ));
        }
        let key = account_key.cloned().unwrap_or_else(DataKey::generate);
        let slot = keys.enroll(vault_id, &key)?;
        let check = crypto::seal(&key, &check_binding, KEY_CHECK)?;
        conn.execute(
            "INSERT INTO keys (key_id, method, wrapped, kdf, check_blob, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key.id().0 as i64, keys.method().as_str(), slot.wrapped, slot.kdf, check, crate::time::now_ms()],
        )?;
        *created = true;
        return Ok(key);
    }
    let Some((key_id, _, wrapped, kdf, check)) = rows.iter().find(|r| r.1 == keys.method().as_str()) else {
        let stored: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        return Err(Error::KeyMethodMismatch {
            stored: stored.join(" or "),
            given: keys.method().to_string(),
            hint: "Unset OUTPOST_PASSPHRASE to use the OS keyring, or set it for a passphrase store.",
        });
    };
    let key_id = u32::try_from(*key_id).map_err(|_| Error::Corrupt("key id out of range".into()))?;
    let slot = Slot { wrapped: wrapped.clone(), kdf: kdf.clone() };
    let key = keys.unlock(vault_id, KeyId(key_id), &slot)?;
    match crypto::open(&key, &check_binding, check) {
        Ok(pt) if pt == KEY_CHECK => {}
        _ => return Err(KeyError::WrongKey.into()),
    }
    if let Some(account) = account_key {
        if account.id() != key.id() || account.expose() != key.expose() {
            return Err(Error::Invalid(
                "this device's store already holds notes under its own key, not this account's. \
                 Log in from an empty data directory (--data-dir), or register this store as its own account"
                    .into(),
            ));
        }
    }
    Ok(key)
}

/// The data directory, made private to the user (0700) where it is not.
pub(super) fn create_private_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating data directory {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    Ok(())
}
