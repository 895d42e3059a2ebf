//! One monotonic clock for every stream.
//!
//! Camera frames, robot states, policy events and recorder entries are all stamped with a [`Timestamp`]
//! taken from the same process-wide epoch, so recording, replay and preview line up without conversion.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The instant the clock started (the first time anything asked for the time).
fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the process-wide monotonic epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Timestamp {
    nanos: u64,
}

impl Timestamp {
    /// The current time on the shared clock.
    #[must_use]
    pub fn now() -> Self {
        Self::from_instant(Instant::now())
    }

    /// Converts an [`Instant`] (for example a capture time reported by a driver) onto the shared clock.
    /// Instants from before the epoch map to zero.
    #[must_use]
    pub fn from_instant(instant: Instant) -> Self {
        let since = instant.saturating_duration_since(epoch());
        Self { nanos: u64::try_from(since.as_nanos()).unwrap_or(u64::MAX) }
    }

    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Seconds since the epoch, for display and plots.
    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        Duration::from_nanos(self.nanos).as_secs_f64()
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_monotonic_across_threads() {
        let a = Timestamp::now();
        let b = std::thread::spawn(Timestamp::now).join().unwrap();
        let c = Timestamp::now();
        assert!(a <= b && b <= c, "{a:?} {b:?} {c:?}");
    }

    #[test]
    fn instants_map_onto_the_same_clock() {
        let before = Timestamp::now();
        let instant = Instant::now();
        let after = Timestamp::now();
        let mapped = Timestamp::from_instant(instant);
        assert!(before <= mapped && mapped <= after);
        // An instant before the epoch saturates instead of wrapping.
        let long_ago = epoch().checked_sub(Duration::from_millis(1));
        if let Some(long_ago) = long_ago {
            assert_eq!(Timestamp::from_instant(long_ago), Timestamp::from_nanos(0));
        }
    }

    #[test]
    fn differences_saturate() {
        let a = Timestamp::from_nanos(5_000);
        let b = Timestamp::from_nanos(2_000);
        assert_eq!(a.saturating_since(b), Duration::from_nanos(3_000));
        assert_eq!(b.saturating_since(a), Duration::ZERO);
        assert!((Timestamp::from_nanos(1_500_000_000).as_secs_f64() - 1.5).abs() < 1e-12);
    }
}
