//! The stop signal: the one path that bypasses every queue.
//!
//! The UI (button, key), the watchdog and the CLI call [`StopSignal::trigger`]; every robot driver holds a clone and
//! checks it before each write and while waiting, so a stop never sits behind queued commands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Timestamp;

/// Why motion was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// The operator pressed the Stop key.
    Key,
    /// The operator clicked the Stop button.
    Button,
    /// A watchdog saw stale state or missing heartbeats.
    Watchdog,
    /// The command layer refused or aborted a trajectory.
    Safety,
    /// A command-line tool or test asked for it.
    Api,
}

impl StopReason {
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Key => "Stop key",
            Self::Button => "Stop button",
            Self::Watchdog => "watchdog",
            Self::Safety => "safety check",
            Self::Api => "API",
        }
    }
}

/// One stop, as recorded by the signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopEvent {
    /// Increments with every stop; drivers compare it with the last one they acted on.
    pub generation: u64,
    pub reason: StopReason,
    pub at: Timestamp,
}

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    last: Mutex<Option<StopEvent>>,
    changed: Condvar,
}

/// A cloneable handle to the shared stop latch.
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopSignal").field("generation", &self.generation()).finish()
    }
}

impl StopSignal {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops everything now. Wakes every thread waiting in [`Self::wait_for_stop_after`].
    pub fn trigger(&self, reason: StopReason) -> StopEvent {
        let mut last = self.inner.last.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let event = StopEvent { generation, reason, at: Timestamp::now() };
        *last = Some(event);
        self.inner.changed.notify_all();
        event
    }

    /// How many stops have happened; cheap enough to check before every write.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// The most recent stop, if any.
    #[must_use]
    pub fn last(&self) -> Option<StopEvent> {
        *self.inner.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until a stop newer than `seen_generation` happens or `timeout` passes.
    /// Drivers use this as their sleep between control ticks, so a stop wakes them at once.
    #[must_use]
    pub fn wait_for_stop_after(&self, seen_generation: u64, timeout: Duration) -> Option<StopEvent> {
        let last = self.inner.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, _) = self
            .inner
            .changed
            .wait_timeout_while(last, timeout, |last| last.is_none_or(|event| event.generation <= seen_generation))
            .unwrap_or_else(PoisonError::into_inner);
        last.filter(|event| event.generation > seen_generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn trigger_increments_generation_and_records_reason() {
        let stop = StopSignal::new();
        assert_eq!(stop.generation(), 0);
        assert!(stop.last().is_none());
        let first = stop.trigger(StopReason::Key);
        let second = stop.clone().trigger(StopReason::Watchdog);
        assert_eq!((first.generation, second.generation), (1, 2));
        assert_eq!(stop.last().map(|e| e.reason), Some(StopReason::Watchdog));
    }

    #[test]
    fn a_waiting_thread_wakes_promptly_on_stop() {
        let stop = StopSignal::new();
        let waiter = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("test-driver".into())
                .spawn(move || {
                    let started = Instant::now();
                    let event = stop.wait_for_stop_after(0, Duration::from_secs(10));
                    (event, started.elapsed())
                })
                .unwrap()
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.trigger(StopReason::Button);
        let (event, waited) = waiter.join().unwrap();
        assert_eq!(event.map(|e| e.reason), Some(StopReason::Button));
        assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    }

    #[test]
    fn waiting_times_out_without_a_new_stop() {
        let stop = StopSignal::new();
        stop.trigger(StopReason::Api);
        assert!(stop.wait_for_stop_after(1, Duration::from_millis(10)).is_none());
        assert!(stop.wait_for_stop_after(0, Duration::from_millis(10)).is_some());
    }
}
