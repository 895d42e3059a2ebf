//! Bounded channels between workers and the UI.
//!
//! Every queue in KineDesk is bounded. A sender that finds the queue full does not block the producer: the item is
//! dropped and *counted*, so drops are shown to the operator instead of being silent. The receiving side drains within
//! a time budget so a flood of messages can never freeze a UI frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant};

/// Called after each successful send, e.g. `egui::Context::request_repaint`.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Why a value was not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    #[error("queue full ({capacity} items); value dropped")]
    Full { capacity: usize },
    #[error("receiver gone; value dropped")]
    Disconnected,
}

/// Sending half of a bounded channel.
pub struct BoundedSender<T> {
    tx: SyncSender<T>,
    capacity: usize,
    dropped: Arc<AtomicU64>,
    waker: Option<Waker>,
}

impl<T> Clone for BoundedSender<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), capacity: self.capacity, dropped: self.dropped.clone(), waker: self.waker.clone() }
    }
}

/// Receiving half of a bounded channel.
pub struct BoundedReceiver<T> {
    rx: Receiver<T>,
    dropped: Arc<AtomicU64>,
}

/// Creates a bounded channel holding at most `capacity` items (at least 1).
#[must_use]
pub fn bounded<T>(capacity: usize) -> (BoundedSender<T>, BoundedReceiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::sync_channel(capacity);
    let dropped = Arc::new(AtomicU64::new(0));
    (BoundedSender { tx, capacity, dropped: dropped.clone(), waker: None }, BoundedReceiver { rx, dropped })
}

impl<T> BoundedSender<T> {
    /// Attaches a waker called after each successful send.
    #[must_use]
    pub fn with_waker(mut self, waker: Waker) -> Self {
        self.waker = Some(waker);
        self
    }

    /// Sends without blocking; a full queue drops `value` and counts it.
    pub fn try_send(&self, value: T) -> Result<(), SendError> {
        match self.tx.try_send(value) {
            Ok(()) => {
                if let Some(waker) = &self.waker {
                    waker();
                }
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Full { capacity: self.capacity })
            }
            Err(TrySendError::Disconnected(_)) => Err(SendError::Disconnected),
        }
    }

    #[must_use]
    pub const fn capacity(&self) -> usize {
        self.capacity
    }
}

/// What one [`BoundedReceiver::drain_within`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub received: usize,
    /// Every sender is gone and the queue is empty.
    pub disconnected: bool,
    /// The budget ran out before the queue was empty.
    pub more_pending: bool,
}

impl<T> BoundedReceiver<T> {
    /// Hands queued items to `handle` until the queue is empty, `max_items` were taken, or `budget` is spent.
    pub fn drain_within(&self, budget: Duration, max_items: usize, mut handle: impl FnMut(T)) -> Drained {
        let deadline = Instant::now() + budget;
        let mut drained = Drained::default();
        loop {
            if drained.received >= max_items || Instant::now() >= deadline {
                drained.more_pending = true;
                return drained;
            }
            match self.rx.try_recv() {
                Ok(value) => {
                    handle(value);
                    drained.received += 1;
                }
                Err(TryRecvError::Empty) => return drained,
                Err(TryRecvError::Disconnected) => {
                    drained.disconnected = true;
                    return drained;
                }
            }
        }
    }

    /// Waits up to `timeout` for one item (for worker threads, never the UI thread).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<T> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Items dropped so far because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn full_queue_drops_and_counts() {
        let (tx, rx) = bounded::<u32>(2);
        assert!(tx.try_send(1).is_ok());
        assert!(tx.try_send(2).is_ok());
        assert_eq!(tx.try_send(3), Err(SendError::Full { capacity: 2 }));
        assert_eq!(rx.dropped(), 1);
        let mut got = Vec::new();
        let drained = rx.drain_within(Duration::from_secs(1), usize::MAX, |v| got.push(v));
        assert_eq!(got, [1, 2]);
        assert_eq!(drained, Drained { received: 2, disconnected: false, more_pending: false });
    }

    #[test]
    fn drain_respects_item_limit_and_reports_disconnect() {
        let (tx, rx) = bounded::<u32>(8);
        for i in 0..5 {
            tx.try_send(i).unwrap();
        }
        let first = rx.drain_within(Duration::from_secs(1), 3, |_| {});
        assert_eq!((first.received, first.more_pending), (3, true));
        drop(tx);
        let rest = rx.drain_within(Duration::from_secs(1), usize::MAX, |_| {});
        assert_eq!((rest.received, rest.disconnected), (2, true));
    }

    #[test]
    fn zero_budget_takes_nothing_but_says_so() {
        let (tx, rx) = bounded::<u32>(4);
        tx.try_send(7).unwrap();
        let drained = rx.drain_within(Duration::ZERO, usize::MAX, |_| {});
        assert_eq!((drained.received, drained.more_pending), (0, true));
    }

    #[test]
    fn waker_runs_on_successful_send_only() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let (tx, rx) = bounded::<u32>(1);
        let tx = tx.with_waker(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        tx.try_send(1).unwrap();
        assert!(tx.try_send(2).is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        drop(rx);
        assert_eq!(tx.try_send(3), Err(SendError::Disconnected));
    }
}
