//! The rollout engine: observe → infer → decode → check → (approve) → execute, chunk after chunk, until the task is
//! done or something stops it.
//!
//! It is a state machine its owner ticks (the app's `logic` pass, the CLI's loop), never the frame callback: it
//! reads the driver's newest state and lifecycle events, asks its own inference thread for chunks, and sends each
//! approved chunk to the driver as one checked plan. Inference runs while the arm moves: the next observation is
//! taken after `ask_after_steps` steps of the current chunk, and the next chunk is decoded from where the current one
//! will end, so a fast policy leaves no idle gap between chunks. Nothing of a chunk moves before it has passed every
//! check; a chunk that fails one stops the rollout with the violation.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::chunk::{Chunk, ChunkPolicy};
use super::decode::decode_chunk;
use super::profile::{Observation, PolicyProfile};
use crate::backend::{CameraImage, PolicyError};
use crate::trajectory::{PlannedTrajectory, check_planned};
use kinedesk_core::driver::{
    CommandSource, DriverCommand, DriverEvent, DriverHandle, ExecutionPlan, START_TOLERANCE_RAD, max_joint_offset,
};
use kinedesk_core::robot::{Robot, SafetyLimits, Workspace};

mod steps;

/// Plan ids of rollout chunks start here, apart from the desk's other plans.
pub const ROLLOUT_PLAN_IDS: u64 = 1 << 40;

/// How chunks are gated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutMode {
    /// Each chunk waits for Approve (or Reject).
    #[default]
    Step,
    /// Chunks that pass every check and stay inside the envelope run on their own; anything else pauses and asks.
    Supervised,
}

/// What the operator lets run unattended in supervised mode (on top of the robot's own limits).
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The flange must stay in this box (`None`: the robot's workspace).
    pub workspace: Option<Workspace>,
    /// Fastest joint speed (rad/s).
    pub max_joint_speed_rad_s: f64,
    /// Largest joint change between samples (rad).
    pub max_step_rad: f64,
}

impl Default for Envelope {
    fn default() -> Self {
        Self { workspace: None, max_joint_speed_rad_s: 1.0, max_step_rad: 0.1 }
    }
}

impl Envelope {
    /// Where `planned` leaves the envelope, in words (empty: inside).
    #[must_use]
    pub fn breaches(&self, planned: &PlannedTrajectory) -> Vec<String> {
        let mut out = Vec::new();
        let dt = planned.dt_s.max(1e-9);
        for (k, pair) in planned.joints.windows(2).enumerate() {
            let step = max_joint_offset(&pair[0], &pair[1]);
            if step > self.max_step_rad + 1e-12 {
                out.push(format!("step {}: a joint moves {step:.3} rad (envelope {:.3})", k + 1, self.max_step_rad));
            }
            let speed = step / dt;
            if speed > self.max_joint_speed_rad_s + 1e-9 {
                out.push(format!(
                    "step {}: a joint at {speed:.2} rad/s (envelope {:.2})",
                    k + 1,
                    self.max_joint_speed_rad_s
                ));
            }
            if out.len() >= 5 {
                break;
            }
        }
        if let Some(workspace) = &self.workspace {
            for (k, p) in planned.ee_position_m.iter().enumerate() {
                let point = glam::DVec3::from_array(*p);
                if !workspace.contains(point) {
                    out.push(format!("sample {k}: the flange at {point:.3} leaves the envelope box"));
                    break;
                }
            }
        }
        out
    }
}

/// How a rollout runs.
#[derive(Clone, Debug)]
pub struct RolloutConfig {
    pub instruction: String,
    pub mode: RolloutMode,
    pub envelope: Envelope,
    /// Stop after this many chunks have executed.
    pub max_chunks: Option<usize>,
    /// Start no chunk after this long.
    pub max_time: Option<Duration>,
    /// Ask for the next chunk once this many steps of the current one have executed (`None`: when it has finished).
    pub ask_after_steps: Option<usize>,
    /// Longest wait for a chunk before the rollout stops (the arm is held).
    pub inference_timeout: Duration,
    /// The robot's limits the chunks are checked against (the driver checks them again).
    pub limits: Option<SafetyLimits>,
}

impl RolloutConfig {
    #[must_use]
    pub fn new(instruction: impl Into<String>) -> Self {
        Self {
            instruction: instruction.into(),
            mode: RolloutMode::Step,
            envelope: Envelope::default(),
            max_chunks: None,
            max_time: None,
            ask_after_steps: None,
            inference_timeout: Duration::from_secs(30),
            limits: None,
        }
    }
}

/// Why a rollout ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    MaxChunks,
    MaxTime,
    /// The policy said the task is done.
    Done,
    /// A chunk failed a check; nothing of it moved.
    CheckFailed {
        violation: String,
    },
    /// Stop (Esc) or the Stop button.
    OperatorStop,
    ServerError {
        message: String,
    },
    Timeout {
        waited_ms: u64,
    },
    /// The driver failed, refused or disconnected.
    RobotError {
        message: String,
    },
}

impl StopReason {
    /// The short name used in `--json` (`stopped_reason`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::MaxChunks => "max_chunks",
            Self::MaxTime => "max_time",
            Self::Done => "done",
            Self::CheckFailed { .. } => "check_failed",
            Self::OperatorStop => "operator_stop",
            Self::ServerError { .. } => "server_error",
            Self::Timeout { .. } => "timeout",
            Self::RobotError { .. } => "robot_error",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CheckFailed { violation } => write!(f, "check_failed: {violation}"),
            Self::ServerError { message } | Self::RobotError { message } => write!(f, "{}: {message}", self.name()),
            Self::Timeout { waited_ms } => write!(f, "timeout: no chunk after {waited_ms} ms"),
            other => f.write_str(other.name()),
        }
    }
}

/// What became of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Waiting for the operator.
    Pending,
    Approved,
    /// Inside the envelope in supervised mode: ran without asking.
    AutoApproved,
    Rejected,
    /// Failed a check: not sent.
    Refused,
    /// Computed before a pause; the state changed since, so it was not used.
    Discarded,
    /// No actions to run (the policy said the task is done).
    Empty,
}

/// One chunk of a rollout, as shown in the chunk strip and written to the recording.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChunkRecord {
    pub index: usize,
    pub inference_ms: f64,
    pub ok: bool,
    pub violations: Vec<String>,
    /// Where it leaves the envelope (supervised mode pauses on these).
    pub outside_envelope: Vec<String>,
    pub decision: Decision,
    /// Steps of the chunk sent, and how many the driver carried out.
    pub planned_steps: usize,
    pub executed_steps: usize,
    pub instruction_level: Vec<String>,
    pub action_level: Vec<String>,
    pub tokens: Vec<Vec<u32>>,
    pub notes: Vec<String>,
    pub done: bool,
    /// How long the arm stood still between the chunk before and this one (ms, the driver's clock from the end of
    /// one to the start of the other), when a chunk ran before it.
    pub idle_gap_ms: Option<f64>,
    /// The operator took over (teleop) during the pause before this chunk.
    pub after_intervention: bool,
    #[serde(skip)]
    pub plan_id: Option<u64>,
    /// The motion the chunk stands for (the ghost), from where it starts.
    #[serde(skip)]
    pub planned: PlannedTrajectory,
    /// The joints as they were executed (sampled from the driver's states), with when (s since the driver started
    /// the chunk, on its clock).
    #[serde(skip)]
    pub executed: Vec<(f64, Vec<f64>)>,
}

/// What a tick saw happen.
#[derive(Clone, Debug, PartialEq)]
pub enum RolloutEvent {
    /// A chunk arrived and was checked (index into [`Rollout::chunks`]).
    Proposed(usize),
    Started {
        index: usize,
        plan_id: u64,
    },
    Finished {
        index: usize,
        steps: usize,
    },
    Paused(String),
    Resumed,
    /// The operator moved the arm during a pause (the first teleop command of the pause).
    Intervention,
    Stopped(StopReason),
}

/// Where the rollout is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Running,
    Paused,
    Stopped,
}

/// What the inference thread is asked: an observation, and the joints and gripper command the chunk will start from.
struct Request {
    observation: Observation,
    start: (Vec<f64>, f64),
    /// Actions at the front of the chunk that fall while the chunk before still runs (asked `skip` steps before it
    /// ends): they are dropped, as their time has passed when this chunk starts.
    skip: usize,
}

/// What it answers: the chunk, decoded from the start and checked there, off the owner's thread.
struct Reply {
    chunk: Chunk,
    steps: usize,
    planned: PlannedTrajectory,
    violations: Vec<String>,
    outside_envelope: Vec<String>,
}

/// The inference thread: one observation in, one decoded and checked chunk (or error) out.
struct Inference {
    requests: Sender<Request>,
    replies: Receiver<Result<Reply, PolicyError>>,
}

/// What the inference thread needs to decode and check a chunk.
struct Checker {
    profile: PolicyProfile,
    robot: Arc<Robot>,
    limits: SafetyLimits,
    envelope: Envelope,
}

impl Checker {
    fn check(&self, mut chunk: Chunk, start: &(Vec<f64>, f64), skip: usize) -> Reply {
        let skip = skip.min(chunk.actions.len());
        if skip > 0 {
            chunk.notes.push(format!("the first {skip} actions fall while the chunk before still runs: skipped"));
        }
        let steps = self.profile.action.execute_steps.min(chunk.actions.len() - skip);
        let mut reply = Reply {
            chunk,
            steps,
            planned: PlannedTrajectory::default(),
            violations: Vec::new(),
            outside_envelope: Vec::new(),
        };
        if steps == 0 {
            return reply;
        }
        let actions = &reply.chunk.actions[skip..];
        match decode_chunk(&self.profile, &self.robot, &start.0, start.1, actions, steps) {
            Ok(planned) => {
                let report = check_planned(&self.robot, &planned, &self.limits);
                reply.violations.extend(report.violations.iter().take(5).map(|v| v.message.clone()));
                reply.outside_envelope = self.envelope.breaches(&planned);
                reply.planned = planned;
            }
            Err(error) => reply.violations.push(error.to_string()),
        }
        reply
    }
}

impl Inference {
    fn spawn(
        mut policy: Box<dyn ChunkPolicy>,
        checker: Checker,
        mut images: Box<dyn FnMut() -> Vec<CameraImage> + Send>,
    ) -> std::io::Result<Self> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (outbox, replies) = mpsc::channel();
        std::thread::Builder::new().name("kinedesk-rollout-policy".into()).spawn(move || {
            while let Ok(mut request) = inbox.recv() {
                let started = Instant::now();
                request.observation.images = images();
                let result = policy.infer(&request.observation).map(|mut chunk| {
                    chunk.inference = started.elapsed();
                    checker.check(chunk, &request.start, request.skip)
                });
                if outbox.send(result).is_err() {
                    break;
                }
            }
        })?;
        Ok(Self { requests, replies })
    }
}

struct InFlight {
    since: Instant,
    /// Asked before a pause: the state has changed since, so the reply is not used.
    stale: bool,
}

struct Executing {
    index: usize,
    plan_id: u64,
    asked_next: bool,
    /// When the driver started it (its clock), once it said so.
    started: Option<kinedesk_core::Timestamp>,
}

/// A closed-loop rollout on one robot.
pub struct Rollout {
    config: RolloutConfig,
    profile: PolicyProfile,
    robot: Arc<Robot>,
    robot_kind: String,
    limits: SafetyLimits,
    describe: String,
    inference: Inference,
    /// The request out to the policy, if one is.
    in_flight: Option<InFlight>,
    chunks: Vec<ChunkRecord>,
    /// The chunk waiting to run (pending approval, or approved and waiting for the arm).
    waiting: Option<usize>,
    executing: Option<Executing>,
    /// The next chunk, sent to a driver that queues plans: it starts on the tick the executing one ends.
    queued: Option<Executing>,
    phase: Phase,
    stopped: Option<StopReason>,
    started: Instant,
    /// When the driver finished the last chunk (its clock).
    last_finished: Option<kinedesk_core::Timestamp>,
    /// The operator took over during the current pause.
    intervened: bool,
    interventions: usize,
    /// The stop signal's generation when the rollout started: any stop since ends it, before anything more is sent.
    stop_generation: Option<u64>,
}

impl Rollout {
    /// Starts a rollout of `policy` on the robot `driver` drives (`robot_kind`: its name for the observation).
    /// `images` gives the camera images of an observation (in the profile's camera order); it is called on the
    /// inference thread as each request arrives there, so image conversion never holds up the owner's thread.
    pub fn start(
        config: RolloutConfig,
        policy: Box<dyn ChunkPolicy>,
        robot: Arc<Robot>,
        robot_kind: String,
        images: Box<dyn FnMut() -> Vec<CameraImage> + Send>,
    ) -> Result<Self, String> {
        let profile = policy.profile().clone();
        profile.check_robot(&robot)?;
        let describe = policy.describe();
        let limits = config.limits.clone().unwrap_or_else(|| SafetyLimits::for_robot(&robot));
        let checker = Checker {
            profile: profile.clone(),
            robot: robot.clone(),
            limits: limits.clone(),
            envelope: config.envelope.clone(),
        };
        let inference =
            Inference::spawn(policy, checker, images).map_err(|e| format!("cannot start the policy thread: {e}"))?;
        Ok(Self {
            config,
            profile,
            robot,
            robot_kind,
            limits,
            describe,
            inference,
            in_flight: None,
            chunks: Vec::new(),
            waiting: None,
            executing: None,
            queued: None,
            phase: Phase::Running,
            stopped: None,
            started: Instant::now(),
            last_finished: None,
            intervened: false,
            interventions: 0,
            stop_generation: None,
        })
    }

    #[must_use]
    pub fn chunks(&self) -> &[ChunkRecord] {
        &self.chunks
    }

    #[must_use]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    #[must_use]
    pub fn stop_reason(&self) -> Option<&StopReason> {
        self.stopped.as_ref()
    }

    #[must_use]
    pub fn config(&self) -> &RolloutConfig {
        &self.config
    }

    #[must_use]
    pub fn profile(&self) -> &PolicyProfile {
        &self.profile
    }

    /// The policy, as the log names it.
    #[must_use]
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The chunk waiting for the operator, if one is.
    #[must_use]
    pub fn pending(&self) -> Option<&ChunkRecord> {
        self.waiting.map(|i| &self.chunks[i]).filter(|c| c.decision == Decision::Pending)
    }

    /// The chunk the arm is executing.
    #[must_use]
    pub fn executing(&self) -> Option<&ChunkRecord> {
        self.executing.as_ref().map(|e| &self.chunks[e.index])
    }

    /// Times the operator took over.
    #[must_use]
    pub fn interventions(&self) -> usize {
        self.interventions
    }

    /// Is an inference request out?
    #[must_use]
    pub fn inferring(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Approves the pending chunk (it starts at the next tick, once the arm is free).
    pub fn approve(&mut self) -> bool {
        match self.waiting.map(|i| &mut self.chunks[i]) {
            Some(chunk) if chunk.decision == Decision::Pending => {
                chunk.decision = Decision::Approved;
                if self.phase == Phase::Paused {
                    self.phase = Phase::Running;
                }
                true
            }
            _ => false,
        }
    }

    /// Rejects the pending chunk; the rollout pauses (take over, then resume, or stop).
    pub fn reject(&mut self) -> Option<RolloutEvent> {
        let index = self.waiting.filter(|i| self.chunks[*i].decision == Decision::Pending)?;
        self.chunks[index].decision = Decision::Rejected;
        self.waiting = None;
        Some(self.pause_with(format!("chunk {index} rejected")))
    }

    /// Pauses: the chunk executing finishes, nothing new starts; the operator may take over.
    pub fn pause(&mut self) -> Option<RolloutEvent> {
        (self.phase == Phase::Running).then(|| self.pause_with("paused by the operator".into()))
    }

    fn pause_with(&mut self, reason: String) -> RolloutEvent {
        self.phase = Phase::Paused;
        self.intervened = false;
        RolloutEvent::Paused(reason)
    }

    /// Continues from the arm's state now: a chunk computed before the pause is not used.
    pub fn resume(&mut self) -> Option<RolloutEvent> {
        if self.phase != Phase::Paused {
            return None;
        }
        if let Some(index) = self.waiting.take() {
            self.chunks[index].decision = Decision::Discarded;
        }
        // A reply still in flight was asked from the old state too.
        if let Some(request) = &mut self.in_flight {
            request.stale = true;
        }
        self.phase = Phase::Running;
        Some(RolloutEvent::Resumed)
    }

    /// Ends the rollout (the owner stops the arm: the stop signal is its to trigger).
    pub fn stop(&mut self, reason: StopReason) -> Option<RolloutEvent> {
        if self.phase == Phase::Stopped {
            return None;
        }
        self.phase = Phase::Stopped;
        if let Some(index) = self.waiting.take()
            && self.chunks[index].decision == Decision::Pending
        {
            self.chunks[index].decision = Decision::Discarded;
        }
        self.stopped = Some(reason.clone());
        Some(RolloutEvent::Stopped(reason))
    }

    /// One step of the loop. `events`: the driver's lifecycle events since the last tick (the owner drains them).
    pub fn tick(&mut self, driver: &DriverHandle, events: &[DriverEvent]) -> Vec<RolloutEvent> {
        let mut out = Vec::new();
        if self.phase == Phase::Stopped {
            return out;
        }
        // Esc reaches the driver directly; the rollout sees it here too, before it could send another chunk.
        let generation = driver.stop.generation();
        if *self.stop_generation.get_or_insert(generation) != generation {
            self.executing = None;
            self.queued = None;
            out.extend(self.stop(StopReason::OperatorStop));
            return out;
        }
        self.follow_driver(driver, events, &mut out);
        if self.phase == Phase::Stopped {
            return out;
        }
        self.receive_chunk(&mut out);
        if self.phase == Phase::Stopped {
            return out;
        }
        self.start_waiting_chunk(driver, &mut out);
        if self.phase == Phase::Stopped {
            return out;
        }
        self.ask_for_next(driver, &mut out);
        out
    }
}
