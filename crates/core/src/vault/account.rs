//! The account a store syncs with and its session: the server, user name
//! and id in plaintext metadata, the session token sealed at rest under the
//! data key; wrapping the data key for registration.

use outpost_protocol::v1::SessionToken;
use outpost_protocol::Hlc;
use rusqlite::{Connection, TransactionBehavior};
use uuid::Uuid;

use super::replica::reset_sync_state_in;
use super::Vault;
use crate::crypto::{self, Binding, DataKey, Field};
use crate::error::{Error, Result};
use crate::keys::KeyError;
use crate::store;

/// The account this store syncs with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    pub server: String,
    pub username: String,
    pub user_id: String,
}

impl Vault {
    /// The account this store syncs with, if any (kept after logging out,
    /// so logging in again to it carries on where sync stood).
    pub fn account(&self) -> Result<Option<Account>> {
        account_in(&self.conn)
    }

    /// Remember the account and its session; the token is sealed at rest.
    ///
    /// An account other than the one this store synced with before (another
    /// server, or another user: registering after logging out) replaces it,
    /// and in the same transaction the store forgets what it believed the
    /// old server held and queues every note for the new one, as
    /// [`Vault::reset_sync_state`] does. The notes stay; the old account
    /// keeps its copy on its server.
    pub fn set_account(&mut self, account: &Account, token: &SessionToken) -> Result<()> {
        let sealed = self.seal_secret(token.0.as_bytes())?;
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let switched = account_in(&tx)?.is_some_and(|a| a.server != account.server || a.user_id != account.user_id);
        if switched {
            let reset = reset_sync_state_in(&tx, now)?;
            tracing::info!(
                requeued = reset.requeued,
                pending = reset.pending,
                "this store now syncs with another account or server: every note is queued for it"
            );
        }
        store::set_kv(&tx, "sync_state", "server", &account.server)?;
        store::set_kv(&tx, "sync_state", "username", &account.username)?;
        store::set_kv(&tx, "sync_state", "user_id", &account.user_id)?;
        store::set_kv(&tx, "sync_state", "token", &crate::keys::hex(&sealed))?;
        tx.commit()?;
        if switched {
            self.pass_deletes = 0;
        }
        Ok(())
    }

    /// The session token, if logged in.
    pub fn session_token(&self) -> Result<Option<SessionToken>> {
        let Some(hex) = store::get_kv(&self.conn, "sync_state", "token")? else { return Ok(None) };
        let blob = crate::keys::unhex(&hex).ok_or_else(|| Error::Corrupt("session token is not hex".into()))?;
        let id = Uuid::nil();
        let pt = crypto::open(&self.key, &Binding { note_id: &id, field: Field::Secret, hlc: &Hlc::ZERO }, &blob)?;
        let token = String::from_utf8(pt).map_err(|_| Error::Corrupt("session token is not text".into()))?;
        Ok(Some(SessionToken(token)))
    }

    /// Forget the session (log out). Notes, the outbox and the account's
    /// server and name stay: unsent changes are kept for the next log-in.
    /// Registering or logging in to another account afterwards replaces
    /// the record ([`Vault::set_account`]).
    pub fn clear_session(&mut self) -> Result<()> {
        self.conn.execute("DELETE FROM sync_state WHERE key = 'token'", [])?;
        Ok(())
    }

    /// Forget the account and its session, after the account was deleted
    /// on its server (`account::delete_account`). The notes stay. So that
    /// an account this store registers or logs in to later gets them all,
    /// what this store believed the deleted account held is forgotten and
    /// every note queued again, as [`Vault::reset_sync_state`] does; until
    /// then, with no account, nothing is sent. In one transaction. Returns
    /// the account forgotten, if there was one.
    pub fn forget_account(&mut self) -> Result<Option<Account>> {
        let now = self.clock.wall_ms() as i64;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let account = account_in(&tx)?;
        // Not a server reset: the time of the last real one stays as it was.
        let last_reset = store::get_kv(&tx, "sync_state", "server_reset_at")?;
        let reset = reset_sync_state_in(&tx, now)?;
        match last_reset {
            Some(at) => store::set_kv(&tx, "sync_state", "server_reset_at", &at)?,
            None => {
                tx.execute("DELETE FROM sync_state WHERE key = 'server_reset_at'", [])?;
            }
        }
        tx.execute("DELETE FROM sync_state WHERE key IN ('server', 'username', 'user_id', 'token')", [])?;
        tx.commit()?;
        self.pass_deletes = 0;
        tracing::info!(requeued = reset.requeued, "the account is forgotten; the notes stay on this device");
        Ok(account)
    }

    fn seal_secret(&self, secret: &[u8]) -> Result<Vec<u8>> {
        let id = Uuid::nil();
        Ok(crypto::seal(&self.key, &Binding { note_id: &id, field: Field::Secret, hlc: &Hlc::ZERO }, secret)?)
    }

    /// The data keys wrapped under `wrap` (a passphrase-derived key), for
    /// registering an account: the current key's id and the wrapped ring
    /// (`keys::wrap_ring`; the current key alone until a rotation).
    pub fn wrap_data_key(&self, wrap: &[u8; 32]) -> Result<(u32, Vec<u8>), KeyError> {
        Ok((self.key.current().id().0, crate::keys::wrap_ring(wrap, &self.key)?))
    }

    /// Whether `other` is one of this store's data keys (the one it writes
    /// with, or an older or newer one of its account).
    pub fn has_key(&self, other: &DataKey) -> bool {
        self.key.contains(other)
    }
}

/// The account recorded in the store, read with any connection.
pub(super) fn account_in(conn: &Connection) -> Result<Option<Account>> {
    let get = |k| store::get_kv(conn, "sync_state", k);
    Ok(match (get("server")?, get("username")?, get("user_id")?) {
        (Some(server), Some(username), Some(user_id)) => Some(Account { server, username, user_id }),
        _ => None,
    })
}
