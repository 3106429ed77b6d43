//! The node's one reading of the wall clock. Everything below the command line and HTTP edges
//! takes `now_ms` as a parameter, or (a long-lived service) a [`Clock`] given at construction
//! (the pure crates cannot read a clock at all), so tests can pass any time and a reader sees
//! where time enters. `node/tests/layers.rs` checks that `domain/`, `import/` and `store/` never
//! name [`now_ms`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where a service reads the time: the system clock, or (tests) a time that moves only when set.
/// Clones share the time.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system clock ([`now_ms`]).
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock standing at `ms` until [`Clock::set`] moves it.
    pub fn fixed(ms: u64) -> Self {
        Clock(Some(Arc::new(AtomicU64::new(ms))))
    }

    /// Moves a fixed clock (and its clones) to `ms`; the system clock ignores it.
    pub fn set(&self, ms: u64) {
        if let Some(at) = &self.0 {
            at.store(ms, Ordering::SeqCst);
        }
    }

    /// Milliseconds since the Unix epoch by this clock.
    pub fn now_ms(&self) -> u64 {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_fixed_clock_moves_only_when_set_and_clones_share_it() {
        let clock = Clock::fixed(5);
        let other = clock.clone();
        assert_eq!(clock.now_ms(), 5);
        other.set(9);
        assert_eq!(clock.now_ms(), 9);
        assert!(Clock::system().now_ms() > 1_600_000_000_000);
    }
}
