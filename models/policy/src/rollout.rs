//! Closed-loop rollouts: a policy is asked for a chunk of actions from a live observation, the chunk is decoded,
//! checked and (in step mode) approved, the arm executes it, and the next observation is taken: until the task is
//! done or something stops it.
//!
//! - [`profile`]: how to build a server's observation and read its actions (built-in `kinevla`, `libero`, `droid`,
//!   `aloha`, or a TOML file).
//! - [`ChunkPolicy`]: where chunks come from: [`RemoteChunks`] (any openpi-style server) or [`BuiltinChunks`] (the
//!   built-in planner, so the whole loop runs on the embedded defaults).
//! - [`decode_chunk`]: actions in any of the profile's spaces → the joint motion they stand for.
//! - [`Rollout`]: the engine its owner ticks; [`RolloutSummary`] is what `kinedesk rollout --json` prints.

mod chunk;
mod decode;
mod engine;
pub mod profile;

pub use chunk::{BuiltinChunks, Chunk, ChunkPolicy, RemoteChunks};
pub use decode::decode_chunk;
pub use engine::{
    ChunkRecord, Decision, Envelope, Phase, ROLLOUT_PLAN_IDS, Rollout, RolloutConfig, RolloutEvent, RolloutMode,
    StopReason,
};
pub use profile::{Observation, PolicyProfile};

/// What a finished rollout did (`kinedesk rollout --json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RolloutSummary {
    pub policy: String,
    pub profile: String,
    pub mode: RolloutMode,
    pub chunks: Vec<ChunkSummary>,
    pub stopped_reason: String,
    /// The reason in words (the violation, the server's message).
    pub stopped_detail: String,
    pub final_joints: Vec<f64>,
    /// How long the arm stood still between chunks (ms).
    pub idle_gap_ms: Option<GapSummary>,
    pub interventions: usize,
    pub seconds: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ChunkSummary {
    pub index: usize,
    pub inference_ms: f64,
    pub checks: Checks,
    pub outside_envelope: Vec<String>,
    pub decision: Decision,
    pub approved: bool,
    pub executed_steps: usize,
    pub idle_gap_ms: Option<f64>,
    pub instruction_level: Vec<String>,
    pub action_level: Vec<String>,
    pub tokens: Vec<Vec<u32>>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Checks {
    pub ok: bool,
    pub violations: Vec<String>,
}

#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct GapSummary {
    pub median: f64,
    pub p95: f64,
    pub max: f64,
}

impl RolloutSummary {
    /// The summary of `rollout` (stopped or not), with the arm's joints at the end.
    #[must_use]
    pub fn of(rollout: &Rollout, final_joints: Vec<f64>, seconds: f64) -> Self {
        let chunks = rollout
            .chunks()
            .iter()
            .map(|c| ChunkSummary {
                index: c.index,
                inference_ms: c.inference_ms,
                checks: Checks { ok: c.ok, violations: c.violations.clone() },
                outside_envelope: c.outside_envelope.clone(),
                decision: c.decision,
                approved: matches!(c.decision, Decision::Approved | Decision::AutoApproved),
                executed_steps: c.executed_steps,
                idle_gap_ms: c.idle_gap_ms,
                instruction_level: c.instruction_level.clone(),
                action_level: c.action_level.clone(),
                tokens: c.tokens.clone(),
                notes: c.notes.clone(),
            })
            .collect();
        let mut gaps: Vec<f64> = rollout.chunks().iter().filter_map(|c| c.idle_gap_ms).collect();
        gaps.sort_by(f64::total_cmp);
        let at = |q: f64| gaps[((gaps.len() - 1) as f64 * q).round() as usize];
        let idle_gap_ms =
            (!gaps.is_empty()).then(|| GapSummary { median: at(0.5), p95: at(0.95), max: gaps[gaps.len() - 1] });
        let (stopped_reason, stopped_detail) = rollout
            .stop_reason()
            .map_or_else(|| ("running".to_owned(), String::new()), |r| (r.name().to_owned(), r.to_string()));
        Self {
            policy: rollout.describe().to_owned(),
            profile: rollout.profile().name.clone(),
            mode: rollout.config().mode,
            chunks,
            stopped_reason,
            stopped_detail,
            final_joints,
            idle_gap_ms,
            interventions: rollout.interventions(),
            seconds,
        }
    }
}
