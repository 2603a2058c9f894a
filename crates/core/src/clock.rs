//! The hybrid logical clock that stamps every local change.
//!
//! Stamps never go backwards, even when the wall clock does (NTP steps,
//! a user fixing their date, a device restored from a backup): the clock
//! keeps the largest wall time it has issued or seen and counts past it.
//! Time comes in through [`TimeSource`] so tests can drive it.

use std::sync::{Arc, Mutex, PoisonError};

use outpost_protocol::Hlc;

/// Milliseconds since the Unix epoch. A seam for tests.
pub trait TimeSource: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> u64;
}

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// A clock tests set by hand.
#[derive(Debug, Default, Clone)]
pub struct ManualTime(Arc<std::sync::atomic::AtomicU64>);

impl ManualTime {
    pub fn new(ms: u64) -> Self {
        Self(Arc::new(ms.into()))
    }
    pub fn set(&self, ms: u64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn now(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl TimeSource for ManualTime {
    fn now_ms(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Issues monotonic stamps for one device.
#[derive(Debug)]
pub struct HlcClock {
    node: u64,
    time: Arc<dyn TimeSource>,
    last: Mutex<Hlc>,
}

impl HlcClock {
    /// A clock for device `node` that continues after `last`, the largest
    /// stamp this device has stored (so a restart never reissues a stamp).
    pub fn new(node: u64, time: Arc<dyn TimeSource>, last: Hlc) -> Self {
        Self { node, time, last: Mutex::new(last) }
    }

    pub fn node(&self) -> u64 {
        self.node
    }

    /// The wall clock, for display times (`updated_at`), never for order.
    pub fn wall_ms(&self) -> u64 {
        self.time.now_ms()
    }

    /// A new stamp, greater than every stamp issued or observed before.
    pub fn tick(&self) -> Hlc {
        let now = self.time.now_ms().min(Hlc::MAX_WALL_MS);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let next = if now > last.wall_ms { Hlc::new(now, 0, self.node) } else { Self::bump(&last, self.node) };
        *last = next;
        next
    }

    /// Take a stamp seen from another device into account, so the next local
    /// stamp orders after it (causality across devices).
    pub fn observe(&self, remote: Hlc) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if remote > *last {
            *last = Hlc::new(remote.wall_ms, remote.counter, self.node);
        }
    }

    fn bump(last: &Hlc, node: u64) -> Hlc {
        match last.counter.checked_add(1) {
            Some(c) => Hlc::new(last.wall_ms, c, node),
            // 4 billion stamps in one millisecond: borrow from the future.
            None => Hlc::new(last.wall_ms + 1, 0, node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_when_wall_clock_goes_backwards() {
        let time = ManualTime::new(1_000_000);
        let clock = HlcClock::new(7, Arc::new(time.clone()), Hlc::ZERO);
        let mut prev = clock.tick();
        for wall in [1_000_000, 999_000, 500, 1_000_001, 2_000_000, 0, 1_999_999, 2_000_000] {
            time.set(wall);
            for _ in 0..3 {
                let next = clock.tick();
                assert!(next > prev, "{next} after {prev} at wall {wall}");
                assert_eq!(next.node, 7);
                prev = next;
            }
        }
        assert_eq!(prev.wall_ms, 2_000_000, "catches up with real time again");
    }

    #[test]
    fn continues_after_stored_stamp() {
        let stored = Hlc::new(5_000, 9, 7);
        let clock = HlcClock::new(7, Arc::new(ManualTime::new(1_000)), stored);
        assert!(clock.tick() > stored);
    }

    #[test]
    fn orders_after_observed_remote_stamps() {
        let clock = HlcClock::new(1, Arc::new(ManualTime::new(1_000)), Hlc::ZERO);
        let remote = Hlc::new(86_400_000, 4, 2); // a device a day ahead
        clock.observe(remote);
        let next = clock.tick();
        assert!(next > remote);
        assert_eq!(next.node, 1);
    }

    #[test]
    fn counter_overflow_moves_to_next_millisecond() {
        let last = Hlc::new(10, u32::MAX, 1);
        let clock = HlcClock::new(1, Arc::new(ManualTime::new(5)), last);
        let next = clock.tick();
        assert_eq!(next, Hlc::new(11, 0, 1));
    }
}
