//! Live sessions kept in memory, for a backend that is the only writer of
//! its database (SQLite: one file, one server process), so every request's
//! token check need not be a statement.
//!
//! Exact, not a time-limited copy: every session that ends (log-out,
//! revocation, a passphrase change ending the others, account deletion)
//! ends through this process, which drops it here right after the commit
//! that ended it, before answering; expiry is checked against the stored
//! expiry on every use. A look-up that read the database before a session
//! ended and would store what it read after the drop stores nothing: each
//! drop moves a generation, and a look-up stores only if none moved since
//! it began.
//!
//! Not for PostgreSQL: there other instances end sessions too, and would
//! reach this one only through notifications that can be late or lost.

use std::collections::HashMap;
use std::sync::Mutex;

use super::LiveSession;

/// Sessions kept at most; at the limit the cache starts again empty (the
/// next requests read their sessions again).
const CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub(super) struct SessionCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<[u8; 32], LiveSession>,
    /// Moves at every drop; see [`SessionCache::store`].
    generation: u64,
}

/// Where a look-up began, to store what it read ([`SessionCache::store`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticket(u64);

impl SessionCache {
    /// The session of `token_hash` if it is kept and live at `now_ms`;
    /// otherwise a ticket to store what the database says.
    pub(super) fn get(&self, token_hash: &[u8; 32], now_ms: i64) -> Result<LiveSession, Ticket> {
        let mut inner = self.lock();
        match inner.live.get(token_hash) {
            Some(s) if s.expires_ms > now_ms => Ok(*s),
            Some(_) => {
                inner.live.remove(token_hash);
                Err(Ticket(inner.generation))
            }
            None => Err(Ticket(inner.generation)),
        }
    }

    /// Keeps `session`, read from the database after `ticket` was taken,
    /// unless a session was dropped since (it could be this one).
    pub(super) fn store(&self, ticket: Ticket, token_hash: [u8; 32], session: LiveSession) {
        let mut inner = self.lock();
        if inner.generation != ticket.0 {
            return;
        }
        if inner.live.len() >= CAPACITY {
            inner.live.clear();
        }
        inner.live.insert(token_hash, session);
    }

    /// Records a last-seen time written to the database.
    pub(super) fn seen(&self, token_hash: &[u8; 32], now_ms: i64) {
        if let Some(s) = self.lock().live.get_mut(token_hash) {
            s.last_seen_ms = s.last_seen_ms.max(now_ms);
        }
    }

    /// Forgets sessions that ended: call after the commit that ended them
    /// and before anyone is told.
    pub(super) fn drop_ended<'a>(&self, token_hashes: impl IntoIterator<Item = &'a [u8; 32]>) {
        let mut inner = self.lock();
        inner.generation = inner.generation.wrapping_add(1);
        for hash in token_hashes {
            inner.live.remove(hash);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it cannot leave the map half-changed in a
        // way that matters: every entry is a whole session.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_ms: i64) -> LiveSession {
        LiveSession { user_id: uuid::Uuid::now_v7(), expires_ms, last_seen_ms: 0 }
    }

    #[test]
    fn a_stored_session_is_served_until_it_expires() {
        let cache = SessionCache::default();
        let ticket = cache.get(&[1; 32], 0).expect_err("empty");
        let s = session(100);
        cache.store(ticket, [1; 32], s);
        assert_eq!(cache.get(&[1; 32], 99).ok(), Some(s));
        assert!(cache.get(&[1; 32], 100).is_err(), "expired");
        assert!(cache.get(&[1; 32], 50).is_err(), "an expired session was dropped");
    }

    #[test]
    fn an_ended_session_is_gone_at_once() {
        let cache = SessionCache::default();
        let ticket = cache.get(&[1; 32], 0).expect_err("empty");
        cache.store(ticket, [1; 32], session(100));
        cache.drop_ended(&[[1; 32]]);
        assert!(cache.get(&[1; 32], 0).is_err());
    }

    #[test]
    fn a_look_up_that_raced_an_end_stores_nothing() {
        let cache = SessionCache::default();
        // The look-up began (and read the session as live) ...
        let ticket = cache.get(&[1; 32], 0).expect_err("empty");
        // ... the session ended and was dropped meanwhile ...
        cache.drop_ended(&[[1; 32]]);
        // ... so what it read is not kept.
        cache.store(ticket, [1; 32], session(100));
        assert!(cache.get(&[1; 32], 0).is_err());
    }

    #[test]
    fn last_seen_moves_forward_only() {
        let cache = SessionCache::default();
        let ticket = cache.get(&[1; 32], 0).expect_err("empty");
        cache.store(ticket, [1; 32], session(1_000));
        cache.seen(&[1; 32], 500);
        cache.seen(&[1; 32], 400);
        assert_eq!(cache.get(&[1; 32], 0).map(|s| s.last_seen_ms).ok(), Some(500));
    }
}
