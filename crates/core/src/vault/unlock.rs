//! Unlocking a store: its data key from the key store (keyring or
//! passphrase), checked against the check blob before anything is
//! written; or, for a new store, a new key (or the account's) enrolled.
//! Fails closed (DESIGN.md item 10): an existing store whose key cannot be
//! had is never given a new one.

use std::path::Path;

use outpost_protocol::Hlc;
use rusqlite::{params, Connection, OptionalExtension as _};
use uuid::Uuid;

use crate::crypto::{self, Binding, DataKey, Field, KeyId, KeyRing};
use crate::error::{Error, Result};
use crate::keys::{KdfParams, KeyError, KeyStore, Method, PassphraseStore, Slot};

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
    account_key: Option<&KeyRing>,
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
        // A new store of an account is unlocked with the account's current
        // key; its older ones are kept beside it (`keyring::load`).
        let key = account_key.map(|r| r.current().clone()).unwrap_or_else(DataKey::generate);
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
    // The account's keys must include this store's (or, after a rotation,
    // the store holds one of the account's keys; `keyring::load` checks).
    if let Some(account) = account_key {
        if !account.contains(&key) && !super::keyring::holds_any(conn, &key, account)? {
            return Err(Error::Invalid(
                "this device's store already holds notes under its own key, not this account's. \
                 Log in from an empty data directory (--data-dir), or register this store as its own account"
                    .into(),
            ));
        }
    }
    Ok(key)
}

/// What a change of passphrase did to the store's own key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalRewrap {
    /// The store is opened with the passphrase, and now with the new one.
    Rewrapped,
    /// The store is opened with a passphrase of its own (not the
    /// account's): left as it is.
    SeparatePassphrase,
    /// The store is not opened with a passphrase (the OS keyring): there
    /// is nothing to re-wrap.
    NotPassphrase,
    /// The store is opened with the passphrase, but writing its new
    /// wrapping failed (a full disk): it still opens with the old one.
    Failed,
}

impl super::Vault {
    /// After the account's passphrase changed from `current` to `new`: if
    /// this store is opened with a passphrase and that passphrase is
    /// `current`, wrap its data key under `new` (with fresh `params`), so
    /// the store opens with the same passphrase as the account. A store
    /// with a passphrase of its own, or on the keyring, is left alone. One
    /// statement: the slot is the old wrapping or the new one, never
    /// neither.
    pub fn rewrap_passphrase_slot(
        &mut self,
        current: &str,
        new: &str,
        params: fn() -> KdfParams,
    ) -> Result<LocalRewrap> {
        if self.method != Method::Passphrase {
            return Ok(LocalRewrap::NotPassphrase);
        }
        let row: Option<(i64, Option<Vec<u8>>, Option<String>)> = self
            .conn
            .query_row("SELECT key_id, wrapped, kdf FROM keys WHERE method = ?1", [Method::Passphrase.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((key_id, wrapped, kdf)) = row else { return Ok(LocalRewrap::NotPassphrase) };
        let key_id = u32::try_from(key_id).map_err(|_| Error::Corrupt("key id out of range".into()))?;
        let vault_id = crate::store::get_kv(&self.conn, "settings", "vault_id")?.unwrap_or_default();
        let slot = Slot { wrapped, kdf };
        match PassphraseStore::new(current)?.unlock(&vault_id, KeyId(key_id), &slot) {
            Ok(key) if key.id() == self.root && self.key.contains(&key) => {}
            Ok(_) => return Err(KeyError::WrongKey.into()),
            Err(KeyError::WrongPassphrase) => return Ok(LocalRewrap::SeparatePassphrase),
            Err(e) => return Err(e.into()),
        }
        let root = self.key.get(self.root).ok_or_else(|| Error::Corrupt("the store's own key is missing".into()))?;
        let slot = PassphraseStore::with_params(new, params)?.enroll(&vault_id, root)?;
        self.conn.execute(
            "UPDATE keys SET wrapped = ?1, kdf = ?2 WHERE method = ?3 AND key_id = ?4",
            params![slot.wrapped, slot.kdf, Method::Passphrase.as_str(), i64::from(key_id)],
        )?;
        Ok(LocalRewrap::Rewrapped)
    }
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
