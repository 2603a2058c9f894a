//! The one clock reading and the one retry policy of the engine.
//!
//! - [`now_ms`]: wall time in milliseconds since the Unix epoch, for
//!   timestamps that are stored or shown (status, outbox schedule,
//!   migrations). Ordering of changes never uses it: that is the hybrid
//!   logical clock's job (`crate::clock`).
//! - [`Backoff`]: exponential backoff with full jitter, used by the
//!   engine after a failed pass, by the health probe and the poke stream
//!   while the server is away, and by the outbox for each entry's retry
//!   time ([`outbox_retry_ms`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Milliseconds since the Unix epoch (0 before it, `i64::MAX` past the
/// year 292 million).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Exponential backoff with full jitter: the n-th delay is uniform in
/// `[0, min(max, min · 2ⁿ)]` (the "full jitter" of the AWS architecture
/// blog), so many devices that lost the same server do not come back in
/// step.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max: max.max(min), attempts: 0 }
    }

    /// The upper bound of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32 << self.attempts.min(20);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// The next delay, drawn at random up to [`Backoff::ceiling`]; each call
    /// doubles the ceiling until it reaches the maximum.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempts = self.attempts.saturating_add(1);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::thread_rng().gen_range(0..=ms))
    }

    /// Back to the shortest delay (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Delays drawn since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// The first retry of an outbox entry comes within a second; later ones
/// double up to five minutes.
const OUTBOX_RETRY_MIN: Duration = Duration::from_secs(1);
const OUTBOX_RETRY_MAX: Duration = Duration::from_secs(300);

/// The delay before an outbox entry that failed `attempts` times is tried
/// again: the same full-jitter backoff as the engine's, stateless because
/// the entry's attempt count lives in the store.
pub fn outbox_retry_ms(attempts: i64) -> i64 {
    let mut b = Backoff::new(OUTBOX_RETRY_MIN, OUTBOX_RETRY_MAX);
    b.attempts = u32::try_from(attempts.max(0)).unwrap_or(u32::MAX);
    i64::try_from(b.next_delay().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_full_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            let ceiling = b.ceiling();
            let d = b.next_delay();
            assert!(d <= ceiling, "{d:?} above {ceiling:?}");
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        b.reset();
        assert_eq!((b.attempts(), b.ceiling()), (0, Duration::from_secs(1)));
    }

    #[test]
    fn backoff_jitters() {
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(delays.len() > 10, "full jitter spreads the delays: {delays:?}");
    }

    #[test]
    fn a_huge_attempt_count_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_secs(5));
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.ceiling(), Duration::from_secs(5));
    }

    #[test]
    fn outbox_retries_follow_the_same_curve() {
        for _ in 0..50 {
            assert!((0..=1_000).contains(&outbox_retry_ms(0)));
            assert!((0..=4_000).contains(&outbox_retry_ms(2)));
            assert!((0..=300_000).contains(&outbox_retry_ms(i64::MAX)));
        }
        assert!((0..50).map(|_| outbox_retry_ms(10)).any(|d| d > 1_000), "jittered over the whole range");
    }

    #[test]
    fn now_is_after_2024() {
        assert!(now_ms() > 1_704_067_200_000);
    }
}
