//! Named worker threads that talk to the UI only through bounded channels.
//!
//! Every device (camera, robot, policy connection, recorder) runs in a [`Worker`]: it receives commands on one bounded
//! channel and reports events on another. The UI never blocks on a worker: it sends with `try_send` and drains events
//! within a time budget. A worker that panics is reported as [`WorkerExit::Panicked`] instead of taking the app down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::channel::{BoundedReceiver, BoundedSender, SendError, Waker, bounded};

/// What a worker's thread gets: its command inbox, its event outbox and the shutdown flag.
pub struct WorkerContext<Cmd, Ev> {
    pub commands: BoundedReceiver<Cmd>,
    pub events: BoundedSender<Ev>,
    shutdown: Arc<AtomicBool>,
}

impl<Cmd, Ev> WorkerContext<Cmd, Ev> {
    /// True once the owner asked the worker to finish. Loops must check it at least every few hundred milliseconds.
    #[must_use]
    pub fn should_stop(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

/// How a worker's thread ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerExit {
    Finished,
    Panicked { message: String },
}

/// The owner's handle to a worker thread.
pub struct Worker<Cmd, Ev> {
    name: String,
    commands: BoundedSender<Cmd>,
    events: BoundedReceiver<Ev>,
    shutdown: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl<Cmd: Send + 'static, Ev: Send + 'static> Worker<Cmd, Ev> {
    /// Starts `body` on a thread called `name`. `waker` runs whenever the worker emits an event
    /// (the UI passes `request_repaint`).
    pub fn spawn(
        name: impl Into<String>,
        command_capacity: usize,
        event_capacity: usize,
        waker: Option<Waker>,
        body: impl FnOnce(WorkerContext<Cmd, Ev>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let name = name.into();
        let (command_tx, command_rx) = bounded(command_capacity);
        let (event_tx, event_rx) = bounded(event_capacity);
        let event_tx = match waker {
            Some(waker) => event_tx.with_waker(waker),
            None => event_tx,
        };
        let shutdown = Arc::new(AtomicBool::new(false));
        let context = WorkerContext { commands: command_rx, events: event_tx, shutdown: shutdown.clone() };
        let join = std::thread::Builder::new().name(name.clone()).spawn(move || body(context))?;
        Ok(Self { name, commands: command_tx, events: event_rx, shutdown, join: Some(join) })
    }
}

impl<Cmd, Ev> Worker<Cmd, Ev> {
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues a command without blocking; a full inbox is an error the caller shows.
    pub fn send(&self, command: Cmd) -> Result<(), SendError> {
        self.commands.try_send(command)
    }

    /// The worker's events, for draining within a frame budget.
    #[must_use]
    pub fn events(&self) -> &BoundedReceiver<Ev> {
        &self.events
    }

    /// Asks the worker to finish (it sees [`WorkerContext::should_stop`]).
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// If the thread has ended, how; `None` while it runs (or after the exit was already taken).
    pub fn take_exit(&mut self) -> Option<WorkerExit> {
        take_thread_exit(&mut self.join)
    }

    /// Asks the worker to finish and waits up to `timeout` for it. Returns `None` if it is still running.
    pub fn shutdown_within(&mut self, timeout: Duration) -> Option<WorkerExit> {
        self.request_shutdown();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(exit) = self.take_exit() {
                return Some(exit);
            }
            if self.join.is_none() {
                return Some(WorkerExit::Finished);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl<Cmd, Ev> Drop for Worker<Cmd, Ev> {
    /// Dropping never blocks: the worker is told to stop and its thread finishes on its own.
    fn drop(&mut self) {
        self.request_shutdown();
    }
}

/// If the thread behind `join` has ended, how (and `join` is emptied); `None` while it runs or once taken.
pub(crate) fn take_thread_exit(join: &mut Option<JoinHandle<()>>) -> Option<WorkerExit> {
    if !join.as_ref().is_some_and(JoinHandle::is_finished) {
        return None;
    }
    Some(match join.take()?.join() {
        Ok(()) => WorkerExit::Finished,
        Err(payload) => WorkerExit::Panicked { message: panic_message(payload.as_ref()) },
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_worker() -> Worker<u32, (String, u32)> {
        Worker::spawn("test-echo", 4, 4, None, |ctx: WorkerContext<u32, (String, u32)>| {
            while !ctx.should_stop() {
                if let Some(value) = ctx.commands.recv_timeout(Duration::from_millis(5)) {
                    let name = std::thread::current().name().unwrap_or_default().to_owned();
                    let _ = ctx.events.try_send((name, value * 2));
                }
            }
        })
        .unwrap()
    }

    #[test]
    fn a_worker_runs_on_a_named_thread_and_answers_over_channels() {
        let mut worker = echo_worker();
        worker.send(21).unwrap();
        let answer = worker.events().recv_timeout(Duration::from_secs(5));
        assert_eq!(answer, Some(("test-echo".to_owned(), 42)));
        assert_eq!(worker.shutdown_within(Duration::from_secs(5)), Some(WorkerExit::Finished));
    }

    #[test]
    fn a_panicking_worker_is_reported_not_propagated() {
        let mut worker: Worker<(), ()> =
            Worker::spawn("test-panics", 1, 1, None, |_ctx| panic!("camera driver exploded")).unwrap();
        let exit = worker.shutdown_within(Duration::from_secs(5));
        assert_eq!(exit, Some(WorkerExit::Panicked { message: "camera driver exploded".into() }));
    }

    #[test]
    fn a_full_inbox_refuses_without_blocking() {
        let worker: Worker<u32, ()> = Worker::spawn("test-stuck", 1, 1, None, |ctx| {
            while !ctx.should_stop() {
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .unwrap();
        worker.send(1).unwrap();
        assert!(matches!(worker.send(2), Err(SendError::Full { capacity: 1 })));
    }
}
