//! One streaming interface for every policy: a request (instruction, camera images, robot state, robot kind) yields
//! events — instruction-level reasoning, action-level reasoning, action tokens per chunk, the decoded trajectory —
//! and ends with the plan or an error. The built-in planner and the remote KineVLA client both implement it, and
//! both go through [`finish_plan`], so their output is decoded and checked the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::instruction::InstructionError;
use super::motion::{Action, StageSpan, decode_chunks};
use super::tokens::{PolicyOutput, TokenLayout};
use super::trajectory::{PlannedTrajectory, trajectory_from_actions};
use crate::tokenizer::ActionTokenizer;
use kinedesk_core::channel::Waker;
use kinedesk_core::robot::Robot;
use kinedesk_core::{Worker, WorkerContext};

/// An RGB camera image (row-major, 3 bytes a pixel) as a policy gets it.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraImage {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub rgb: Arc<Vec<u8>>,
}

/// What to plan.
#[derive(Clone, Debug)]
pub struct PolicyRequest {
    pub instruction: String,
    /// `panda`, `rm75` or a URDF robot's name.
    pub robot_kind: String,
    pub robot: Arc<Robot>,
    pub joints: Vec<f64>,
    pub gripper_closed: bool,
    pub images: Vec<CameraImage>,
}

/// Everything a plan produced.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyPlan {
    /// Reasoning and action codes, as a remote KineVLA would send them.
    pub output: PolicyOutput,
    /// How the codes are laid out (`None` when a server sent only actions).
    pub layout: Option<TokenLayout>,
    /// Which steps each action-level stage covers (known for the built-in planner).
    pub stages: Vec<StageSpan>,
    /// Decoded actions (every level), one per step.
    pub actions: Vec<Action>,
    pub action_dt_s: f64,
    /// The trajectory of the full decode.
    pub full: PlannedTrajectory,
    /// The trajectory of the coarse (goal-level) decode alone, when there are tokens.
    pub coarse: Option<PlannedTrajectory>,
    /// Time from the request to the first reasoning event and to the finished plan.
    pub first_reasoning: Duration,
    pub total: Duration,
    /// Which backend made it ("built-in planner", "ws://…").
    pub source: String,
}

/// What a policy reports while it works.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyEvent {
    /// Instruction-level reasoning: constraints (direction, distance, rotation, speed, part, relation).
    InstructionLevel(Vec<String>),
    /// Action-level reasoning: the stages.
    ActionLevel(Vec<String>),
    /// The codes of one action chunk.
    ActionTokens { chunk: usize, codes: Vec<u32> },
}

/// Why a plan failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Instruction(#[from] InstructionError),
    #[error("action tokens: {0}")]
    Tokens(String),
    #[error("kinematics: {0}")]
    Kinematics(String),
    #[error("cannot reach the policy server {url}: {message}")]
    Connection { url: String, message: String },
    #[error("the policy server sent a malformed reply: {0}")]
    Protocol(String),
    #[error("the policy server reported an error: {0}")]
    Server(String),
    #[error("the policy server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the policy worker is gone")]
    WorkerGone,
    /// The decoded plan does not do what the instruction asked (checked on every built-in plan).
    #[error("the plan would not do what was asked, so it is refused: {0}")]
    Unfaithful(String),
}

/// A policy: the built-in planner or a remote server.
pub trait PolicyBackend: Send {
    /// What to call it in the UI and the log.
    fn describe(&self) -> String;

    /// Plans `request`, calling `emit` with reasoning and tokens as they arrive.
    fn plan(&mut self, request: &PolicyRequest, emit: &mut dyn FnMut(PolicyEvent)) -> Result<PolicyPlan, PolicyError>;
}

/// Parts of a plan before it is decoded into joint space.
pub struct PlanParts {
    pub output: PolicyOutput,
    pub layout: Option<TokenLayout>,
    pub stages: Vec<StageSpan>,
    /// Actions to use when there are no tokens (a plain openpi server).
    pub actions: Vec<Action>,
    pub action_dt_s: f64,
    /// What the decoded plan must do (from the instruction as read); checked before the plan is handed out.
    /// Empty when the planner does not know (a server's plan).
    pub expect: Vec<crate::faithfulness::Expect>,
}

/// Decodes the tokens (every level, and coarse alone) with `tokenizer`, or takes the plain actions, and follows
/// them in joint space from the request's state.
pub fn finish_plan(
    parts: PlanParts,
    tokenizer: Option<&ActionTokenizer>,
    request: &PolicyRequest,
    started: Instant,
    first_reasoning: Duration,
    source: String,
) -> Result<PolicyPlan, PolicyError> {
    let start_gripper = if request.gripper_closed { 1.0 } else { -1.0 };
    let follow = |actions: &[Action]| {
        trajectory_from_actions(&request.robot, &request.joints, start_gripper, actions, parts.action_dt_s)
            .map_err(|e| PolicyError::Kinematics(e.to_string()))
    };
    let (actions, coarse) = match (tokenizer, parts.output.chunks.is_empty()) {
        (Some(tokenizer), false) => {
            let levels = tokenizer.config().levels();
            let full = decode_chunks(tokenizer, &parts.output.chunks, levels)
                .map_err(|e| PolicyError::Tokens(e.to_string()))?;
            let coarse = decode_chunks(tokenizer, &parts.output.chunks, tokenizer.config().coarse_levels)
                .map_err(|e| PolicyError::Tokens(e.to_string()))?;
            (full, Some(follow(&coarse)?))
        }
        _ => (parts.actions.clone(), None),
    };
    let full = follow(&actions)?;
    let expect = parts.expect;
    let plan = PolicyPlan {
        output: parts.output,
        layout: parts.layout,
        stages: parts.stages,
        actions,
        action_dt_s: parts.action_dt_s,
        full,
        coarse,
        first_reasoning,
        total: started.elapsed(),
        source,
    };
    // The plan must do what was asked, or it is refused: never a shorter move or a slower turn without a word.
    if let Some(failed) = crate::faithfulness::evaluate(&expect, &plan).into_iter().find(|check| !check.pass) {
        return Err(PolicyError::Unfaithful(format!(
            "{}: asked {}, the arm would do {}",
            failed.what, failed.expected, failed.measured
        )));
    }
    Ok(plan)
}

/// Work for the policy thread.
#[derive(Debug)]
pub enum PolicyCommand {
    Plan { id: u64, request: Box<PolicyRequest> },
}

impl std::fmt::Debug for dyn PolicyBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What the policy thread reports, tagged with the request id.
#[derive(Debug)]
pub enum PolicyUpdate {
    Event { id: u64, event: PolicyEvent },
    Finished { id: u64, result: Result<Box<PolicyPlan>, PolicyError> },
}

/// Starts the policy thread with `backend`. Reasoning and tokens stream back as they are produced.
pub fn spawn_policy_worker(
    backend: Box<dyn PolicyBackend>,
    waker: Option<Waker>,
) -> std::io::Result<Worker<PolicyCommand, PolicyUpdate>> {
    Worker::spawn("kinedesk-policy", 4, 256, waker, move |ctx| run_policy(&ctx, backend))
}

fn run_policy(ctx: &WorkerContext<PolicyCommand, PolicyUpdate>, mut backend: Box<dyn PolicyBackend>) {
    while !ctx.should_stop() {
        let Some(command) = ctx.commands.recv_timeout(Duration::from_millis(100)) else { continue };
        match command {
            PolicyCommand::Plan { id, request } => {
                let mut emit = |event| {
                    // Reasoning is small and the queue deep; a full queue means the UI is gone or stuck, and the
                    // final plan carries everything anyway.
                    let _ = ctx.events.try_send(PolicyUpdate::Event { id, event });
                };
                let result = backend.plan(&request, &mut emit).map(Box::new);
                let _ = ctx.events.try_send(PolicyUpdate::Finished { id, result });
            }
        }
    }
}
