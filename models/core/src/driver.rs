//! The robot driver interface: what every driver (simulated arm, Realman, …) accepts and reports.
//!
//! A driver runs on its own named thread ([`spawn_driver`]). Its owner sends [`DriverCommand`]s over a bounded
//! channel; what comes back travels two ways, so that a flood of one can never push out the other:
//!
//! - **state** (100 Hz) goes into a latest-value slot ([`DriverHandle::take_state`]): lossy by design, a reader that
//!   is too slow sees only the newest state, and the slot counts how many it missed. A recorder does not read the
//!   slot: it installs a *tap* ([`DriverHandle::set_state_tap`]) that the driver thread calls with every state.
//! - **lifecycle events** ([`DriverEvent`]: connected, plan started/finished, stopped at step n, refused, halted,
//!   disconnected) go through a lossless channel: every one arrives, in order. A driver sends only a few per command.
//!
//! Stop does not travel through any queue: every driver holds the shared [`StopSignal`] and checks it on every
//! control tick. A driver executes a whole [`ExecutionPlan`] (joint segments and gripper moves) by itself, after its
//! [`SafetyGate`] has checked all of it.

mod gate;
mod plan;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use gate::SafetyGate;
pub use plan::{ExecutionPlan, PlanItem, PlanProgress, PlanRun};

use crate::channel::{BoundedReceiver, BoundedSender, SendError, Waker, bounded};
use crate::clock::Timestamp;
use crate::stop::StopSignal;
use crate::worker::WorkerExit;

/// Where a commanded joint target came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandSource {
    /// A sample of an executing plan.
    Plan { id: u64 },
    /// A point-to-point move (`MoveTo`).
    MoveTo,
    /// A streamed teleoperation target.
    Teleop,
}

/// What the driver commanded the arm at one control tick: the joint set-point it wrote (or the controller was
/// given) and the gripper command in force.
#[derive(Clone, Debug, PartialEq)]
pub struct Commanded {
    pub joints: Vec<f64>,
    /// Gripper opening commanded, 0 (closed) to 1 (open).
    pub gripper: f64,
    pub source: CommandSource,
}

/// The arm's state at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct JointState {
    pub at: Timestamp,
    pub positions: Vec<f64>,
    pub velocities: Vec<f64>,
    /// Gripper opening, 0 (closed) to 1 (open).
    pub gripper: f64,
    /// Executing a plan, moving to a point or streaming.
    pub moving: bool,
    /// What was commanded at this tick; `None` while nothing is commanded (the arm holds still).
    pub commanded: Option<Commanded>,
    /// Where the driver is in the plan it is executing.
    pub progress: Option<PlanProgress>,
}

/// What the owner (the app, a CLI tool) asks of a driver.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverCommand {
    /// Execute a whole plan: checked by the gate first (nothing moves if any part fails), then carried out item by
    /// item by the driver itself. `id` comes back in the plan's events and progress.
    ExecutePlan { id: u64, plan: ExecutionPlan },
    /// Execute `plan` as soon as the running plan `after` ends, on the same control tick (closed-loop chunks without
    /// a pause between them). The gate checks it from where `after` ends. Only drivers whose handle says
    /// [`DriverHandle::queues_plans`] take it; a plan queued after one that is not running (finished, failed,
    /// stopped), or while another is queued, is refused, and a stop drops it.
    QueuePlan { id: u64, after: u64, plan: ExecutionPlan },
    /// Move to these joints (a large point-to-point move: `movej` on a Realman) at a fraction of the velocity limits.
    MoveTo { joints: Vec<f64>, speed_fraction: f64 },
    /// Follow this joint target (teleoperation): the driver moves toward it within the velocity limits and halts
    /// if no new target arrives within [`TELEOP_WATCHDOG`].
    StreamTarget(Vec<f64>),
    /// Move the gripper to an opening between 0 (closed) and 1 (open).
    Gripper(f64),
    /// Close the connection; the thread ends.
    Disconnect,
}

/// What a driver reports through the lossless lifecycle channel.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverEvent {
    Connected {
        robot: String,
        dof: usize,
    },
    /// The plan passed the gate and started.
    PlanStarted {
        id: u64,
        steps: usize,
        items: usize,
        /// When the first sample was commanded (the driver's clock).
        at: Timestamp,
    },
    /// Every item of the plan was carried out.
    PlanFinished {
        id: u64,
        /// When the last item was done.
        at: Timestamp,
    },
    /// The plan stopped part-way for a reason other than Stop (a controller error, a limit hit while writing).
    PlanFailed {
        id: u64,
        at: PlanProgress,
        reason: String,
    },
    /// A point-to-point move arrived.
    MoveFinished,
    /// The stop signal was seen; the arm is held where it is. `plan`: where an executing plan was stopped.
    Stopped {
        generation: u64,
        plan: Option<PlanProgress>,
    },
    /// A command was refused before anything was written, with the reason (`plan`: the refused plan's id).
    Refused {
        plan: Option<u64>,
        reason: String,
    },
    /// The arm was halted by a watchdog (e.g. teleop targets stopped arriving), with the reason.
    Halted {
        reason: String,
    },
    Disconnected {
        reason: String,
    },
}

/// How close (rad, every joint) the arm must be to a trajectory's first sample for it to be executed.
pub const START_TOLERANCE_RAD: f64 = 0.01;

/// The largest per-joint difference between two joint vectors (rad).
#[must_use]
pub fn max_joint_offset(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Teleop targets must keep coming at least this often, or the driver halts the arm.
pub const TELEOP_WATCHDOG: Duration = Duration::from_millis(200);

/// Fraction of each joint's velocity limit used to follow teleop targets.
pub const TELEOP_VELOCITY_SCALE: f64 = 0.25;

/// Gripper speed assumed by the drivers: fraction of the full opening per second.
pub const GRIPPER_SPEED_PER_S: f64 = 1.0;

/// Called by the driver thread with every state it publishes (e.g. the recorder). Must not block.
pub type StateTap = Box<dyn FnMut(&JointState) + Send>;

/// The newest state, and how many were replaced before anyone took them.
#[derive(Default)]
struct StateSlot {
    latest: Mutex<Option<(u64, JointState)>>,
    published: AtomicU64,
    taken: AtomicU64,
    /// States replaced before they were taken.
    overwritten: AtomicU64,
}

/// The driver thread's side: where its state and lifecycle events go.
pub struct DriverOutputs {
    lifecycle: Sender<DriverEvent>,
    slot: Arc<StateSlot>,
    tap: Arc<Mutex<Option<StateTap>>>,
    waker: Option<Waker>,
    last_moving: bool,
}

impl DriverOutputs {
    /// Reports a lifecycle event. Never dropped; if the owner is gone there is no one to tell.
    pub fn report(&self, event: DriverEvent) {
        if self.lifecycle.send(event).is_ok()
            && let Some(waker) = &self.waker
        {
            waker();
        }
    }

    /// Publishes a state: into the latest-value slot (replacing an untaken one, counted) and to the tap.
    pub fn publish(&mut self, state: JointState) {
        if let Ok(mut tap) = self.tap.lock()
            && let Some(tap) = tap.as_mut()
        {
            tap(&state);
        }
        let moving = state.moving;
        let sequence = self.slot.published.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut latest) = self.slot.latest.lock() {
            if let Some((previous, _)) = latest.as_ref()
                && *previous > self.slot.taken.load(Ordering::Acquire)
            {
                self.slot.overwritten.fetch_add(1, Ordering::Relaxed);
            }
            *latest = Some((sequence, state));
        }
        // The owner redraws while the arm moves and once when it comes to rest; a still arm costs no frames.
        if (moving || self.last_moving)
            && let Some(waker) = &self.waker
        {
            waker();
        }
        self.last_moving = moving;
    }
}

/// What a driver's thread gets.
pub struct DriverContext {
    /// Commands with the stop generation they were sent under (see [`DriverContext::take_commands`]).
    commands: BoundedReceiver<(u64, DriverCommand)>,
    pub outputs: DriverOutputs,
    shutdown: Arc<AtomicBool>,
    stop: StopSignal,
}

impl DriverContext {
    /// The commands waiting (up to `max` of them, for at most `budget`). A command sent before the latest Stop is
    /// void — Stop cancels what was asked before it, even what the driver had not read yet — and is dropped here
    /// (a plan with a [`DriverEvent::Refused`] saying so); `Disconnect` always goes through.
    pub fn take_commands(&mut self, budget: Duration, max: usize) -> Vec<DriverCommand> {
        let mut received = Vec::new();
        self.commands.drain_within(budget, max, |item| received.push(item));
        let current = self.stop.generation();
        let mut commands = Vec::with_capacity(received.len());
        for (generation, command) in received {
            if generation == current || command == DriverCommand::Disconnect {
                commands.push(command);
            } else if let DriverCommand::ExecutePlan { id, .. } | DriverCommand::QueuePlan { id, .. } = command {
                let reason = "discarded: Stop was pressed after it was sent".to_owned();
                self.report(DriverEvent::Refused { plan: Some(id), reason });
            }
        }
        commands
    }

    /// True once the owner asked the driver to finish.
    #[must_use]
    pub fn should_stop(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Reports a lifecycle event (see [`DriverOutputs::report`]).
    pub fn report(&self, event: DriverEvent) {
        self.outputs.report(event);
    }
}

/// The owner's handle to a running driver.
pub struct DriverHandle {
    /// What the status bar calls it ("sim panda", "realman://…").
    pub name: String,
    pub stop: StopSignal,
    commands: BoundedSender<(u64, DriverCommand)>,
    lifecycle: Receiver<DriverEvent>,
    slot: Arc<StateSlot>,
    tap: Arc<Mutex<Option<StateTap>>>,
    shutdown: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
    /// The driver takes [`DriverCommand::QueuePlan`] (set by the driver that does).
    pub queues_plans: bool,
    /// The gripper opening in its states is measured (a driver without a gripper, e.g. a `ros2_control` arm's
    /// trajectory controller, clears it: recordings then say the gripper was not measured).
    pub gripper_measured: bool,
}

/// Starts a driver's `body` on a thread called `thread_name`. `waker` runs on every lifecycle event and on states
/// while the arm moves (the app passes `request_repaint`).
pub fn spawn_driver(
    thread_name: &str,
    name: String,
    stop: StopSignal,
    waker: Option<Waker>,
    body: impl FnOnce(DriverContext) + Send + 'static,
) -> std::io::Result<DriverHandle> {
    let (command_tx, command_rx) = bounded(64);
    let (lifecycle_tx, lifecycle_rx) = mpsc::channel();
    let slot = Arc::new(StateSlot::default());
    let tap: Arc<Mutex<Option<StateTap>>> = Arc::new(Mutex::new(None));
    let shutdown = Arc::new(AtomicBool::new(false));
    let context = DriverContext {
        commands: command_rx,
        outputs: DriverOutputs {
            lifecycle: lifecycle_tx,
            slot: slot.clone(),
            tap: tap.clone(),
            waker,
            last_moving: true,
        },
        shutdown: shutdown.clone(),
        stop: stop.clone(),
    };
    let join = std::thread::Builder::new().name(thread_name.to_owned()).spawn(move || body(context))?;
    Ok(DriverHandle {
        name,
        stop,
        commands: command_tx,
        lifecycle: lifecycle_rx,
        slot,
        tap,
        shutdown,
        join: Some(join),
        queues_plans: false,
        gripper_measured: true,
    })
}

impl DriverHandle {
    /// Queues a command without blocking; a full inbox is an error the caller shows.
    pub fn send(&self, command: DriverCommand) -> Result<(), SendError> {
        self.commands.try_send((self.stop.generation(), command))
    }

    /// The next lifecycle event, if one has arrived.
    #[must_use]
    pub fn try_event(&self) -> Option<DriverEvent> {
        self.lifecycle.try_recv().ok()
    }

    /// Waits up to `timeout` for the next lifecycle event (for CLI tools and tests, never the UI thread).
    #[must_use]
    pub fn recv_event_timeout(&self, timeout: Duration) -> Option<DriverEvent> {
        self.lifecycle.recv_timeout(timeout).ok()
    }

    /// Every lifecycle event that has arrived, in order.
    #[must_use]
    pub fn drain_events(&self) -> Vec<DriverEvent> {
        std::iter::from_fn(|| self.try_event()).collect()
    }

    /// The newest state if it is newer than the last one taken.
    #[must_use]
    pub fn take_state(&self) -> Option<JointState> {
        let latest = self.slot.latest.lock().ok()?;
        let (sequence, state) = latest.as_ref()?;
        if self.slot.taken.swap(*sequence, Ordering::AcqRel) == *sequence {
            return None;
        }
        Some(state.clone())
    }

    /// The newest state, whether or not it was taken before.
    #[must_use]
    pub fn latest_state(&self) -> Option<JointState> {
        self.slot.latest.lock().ok()?.as_ref().map(|(_, state)| state.clone())
    }

    /// Waits up to `timeout` for a state that `accept` accepts (polling the slot; for CLI tools and tests).
    pub fn wait_for_state(&self, timeout: Duration, mut accept: impl FnMut(&JointState) -> bool) -> Option<JointState> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(state) = self.take_state()
                && accept(&state)
            {
                return Some(state);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    /// States published so far, and how many of them were replaced before the owner took them.
    #[must_use]
    pub fn state_counts(&self) -> (u64, u64) {
        (self.slot.published.load(Ordering::Acquire), self.slot.overwritten.load(Ordering::Relaxed))
    }

    /// Installs (or removes) the function the driver thread calls with every state it publishes.
    pub fn set_state_tap(&self, tap: Option<StateTap>) {
        if let Ok(mut slot) = self.tap.lock() {
            *slot = tap;
        }
    }

    /// Asks the driver thread to finish.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
    }

    /// If the driver's thread has ended, how; `None` while it runs (or after the exit was already taken).
    pub fn take_exit(&mut self) -> Option<WorkerExit> {
        crate::worker::take_thread_exit(&mut self.join)
    }
}

impl Drop for DriverHandle {
    /// Dropping never blocks: the driver is told to stop and its thread finishes on its own.
    fn drop(&mut self) {
        self.request_shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(moving: bool) -> JointState {
        JointState {
            at: Timestamp::now(),
            positions: vec![0.0],
            velocities: vec![0.0],
            gripper: 1.0,
            moving,
            commanded: None,
            progress: None,
        }
    }

    #[test]
    fn commands_sent_before_a_stop_are_void_even_if_not_yet_read() {
        let stop = StopSignal::new();
        let (go, wait) = mpsc::channel::<()>();
        let handle = spawn_driver("kinedesk-test-driver", "test".into(), stop.clone(), None, move |mut ctx| {
            let _ = wait.recv();
            let taken = ctx.take_commands(Duration::from_millis(10), 16);
            let ids: Vec<String> = taken
                .iter()
                .map(|c| match c {
                    DriverCommand::ExecutePlan { id, .. } => id.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            ctx.report(DriverEvent::Halted { reason: ids.join(",") });
        })
        .unwrap();
        let plan = |id| DriverCommand::ExecutePlan { id, plan: ExecutionPlan::default() };
        handle.send(plan(1)).unwrap();
        stop.trigger(crate::stop::StopReason::Key);
        handle.send(plan(2)).unwrap();
        handle.send(DriverCommand::Disconnect).unwrap();
        go.send(()).unwrap();
        let refused = handle.recv_event_timeout(Duration::from_secs(2));
        assert_eq!(
            refused,
            Some(DriverEvent::Refused {
                plan: Some(1),
                reason: "discarded: Stop was pressed after it was sent".into()
            })
        );
        assert_eq!(
            handle.recv_event_timeout(Duration::from_secs(2)),
            Some(DriverEvent::Halted { reason: "2,Disconnect".into() }),
            "the plan sent after Stop goes through"
        );
    }

    #[test]
    fn no_lifecycle_event_is_lost_under_a_flood_of_states() {
        let handle = spawn_driver("test-flood", "flood".into(), StopSignal::new(), None, |mut ctx| {
            for round in 0..200_u64 {
                for _ in 0..500 {
                    ctx.outputs.publish(state(true));
                }
                ctx.report(DriverEvent::PlanFinished { id: round, at: Timestamp::now() });
            }
        })
        .unwrap();
        let mut finished = Vec::new();
        while let Some(event) = handle.recv_event_timeout(Duration::from_secs(10)) {
            if let DriverEvent::PlanFinished { id, .. } = event {
                finished.push(id);
            }
            if finished.len() == 200 {
                break;
            }
        }
        assert_eq!(finished, (0..200).collect::<Vec<_>>(), "every Finished arrives, in order");
        let (published, overwritten) = handle.state_counts();
        assert_eq!(published, 100_000);
        assert!(overwritten > 0 && overwritten < published, "the slot counts what the reader missed");
        assert!(handle.take_state().is_some() && handle.take_state().is_none(), "a state is taken once");
        assert!(handle.latest_state().is_some());
    }

    #[test]
    fn the_tap_sees_every_state_the_slot_only_the_newest() {
        let seen = Arc::new(AtomicU64::new(0));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let handle = spawn_driver("test-tap", "tap".into(), StopSignal::new(), None, move |mut ctx| {
            let _ = go_rx.recv();
            for _ in 0..1000 {
                ctx.outputs.publish(state(false));
            }
            ctx.report(DriverEvent::MoveFinished);
        })
        .unwrap();
        let counter = seen.clone();
        handle.set_state_tap(Some(Box::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })));
        go_tx.send(()).unwrap();
        assert_eq!(handle.recv_event_timeout(Duration::from_secs(10)), Some(DriverEvent::MoveFinished));
        assert_eq!(seen.load(Ordering::Relaxed), 1000);
        assert_eq!(handle.state_counts(), (1000, 999));
    }
}
