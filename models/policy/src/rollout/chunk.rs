//! Where chunks come from: a policy answers an observation with a chunk of actions (and, from a KineVLA-style
//! server, its reasoning and tokens). The remote policy speaks the openpi protocol in the profile's keys; the built-in
//! planner serves the loop too, planning the instruction once and then answering every observation with the next
//! steps of its plan from where the arm really is.

use std::sync::Arc;
use std::time::Duration;

use super::profile::{Observation, PolicyProfile, flag};
use crate::backend::{PolicyBackend as _, PolicyError, PolicyPlan, PolicyRequest};
use crate::builtin::BuiltinPlanner;
use crate::motion::{action_between, decode_chunks};
use crate::remote::{RemotePolicy, read_reasoning, read_tokens};
use crate::tokenizer::ActionTokenizer;
use kinedesk_core::robot::{Pose, fk};

/// One chunk as a policy sent it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chunk {
    /// `[H][dims]` in the profile's action space.
    pub actions: Vec<Vec<f64>>,
    pub instruction_level: Vec<String>,
    pub action_level: Vec<String>,
    /// Action codes (one list per token chunk), when the policy sent them.
    pub tokens: Vec<Vec<u32>>,
    /// The policy says the task is done (KineDesk extension `done`).
    pub done: bool,
    /// What the observation lacked (a camera without a feed), or how the chunk was read.
    pub notes: Vec<String>,
    /// Observation to reply, measured by the inference thread.
    pub inference: Duration,
}

/// A policy that answers observations with chunks.
pub trait ChunkPolicy: Send {
    fn describe(&self) -> String;
    fn profile(&self) -> &PolicyProfile;
    fn infer(&mut self, observation: &Observation) -> Result<Chunk, PolicyError>;
}

/// A policy server over the openpi protocol, observation and actions as `profile` says.
pub struct RemoteChunks {
    client: RemotePolicy,
    profile: PolicyProfile,
    tokenizer: Option<Arc<ActionTokenizer>>,
}

impl RemoteChunks {
    /// `tokenizer`: decodes a KineVLA server's tokens locally when their layout matches (the `kinevla` profile).
    #[must_use]
    pub fn new(client: RemotePolicy, profile: PolicyProfile, tokenizer: Option<Arc<ActionTokenizer>>) -> Self {
        Self { client, profile, tokenizer }
    }
}

impl ChunkPolicy for RemoteChunks {
    fn describe(&self) -> String {
        format!("{} ({} profile)", self.client.describe(), self.profile.name)
    }

    fn profile(&self) -> &PolicyProfile {
        &self.profile
    }

    fn infer(&mut self, observation: &Observation) -> Result<Chunk, PolicyError> {
        let (value, mut notes) = self.profile.observation(observation)?;
        let bytes = crate::msgpack::encode(&value).map_err(|e| PolicyError::Protocol(e.to_string()))?;
        let (reply, _) = self.client.exchange_observation(&bytes)?;
        let (instruction_level, action_level) = read_reasoning(&reply);
        let (tokens, layout) = read_tokens(&reply)?;
        let done = flag(&reply, "done");
        // A KineVLA server's tokens are decoded here, with the same decoder as the built-in planner, when the
        // local tokenizer has their layout; otherwise the actions it sent are used.
        let local = self.tokenizer.as_deref().filter(|t| {
            self.profile.observation.kinedesk_extension
                && !tokens.is_empty()
                && layout.as_ref() == Some(&t.config().layout())
        });
        let actions = match local {
            Some(tokenizer) => {
                notes.push("actions decoded here from the action tokens".into());
                decode_chunks(tokenizer, &tokens, tokenizer.config().levels())
                    .map_err(|e| PolicyError::Tokens(e.to_string()))?
                    .iter()
                    .map(|a| a.to_vec())
                    .collect()
            }
            None if done && crate::msgpack::get(&reply, &self.profile.action.key).is_none() => Vec::new(),
            None => self.profile.read_actions(&reply)?,
        };
        Ok(Chunk { actions, instruction_level, action_level, tokens, done, notes, inference: Duration::ZERO })
    }
}

/// The built-in planner as a closed-loop policy. The instruction is planned once, from the first observation; each
/// observation is then answered with the next steps of that plan from the point of it nearest to where the flange
/// really is (so a lagging or pushed arm is caught up, not skipped ahead), as delta end-effector actions in the
/// `kinevla` profile, the first of them correcting any drift.
pub struct BuiltinChunks {
    planner: BuiltinPlanner,
    profile: PolicyProfile,
    plan: Option<PolicyPlan>,
    /// Planned flange poses (one per sample) and where along them the arm last was.
    poses: Vec<Pose>,
    cursor: usize,
}

impl BuiltinChunks {
    #[must_use]
    pub fn new(planner: BuiltinPlanner) -> Self {
        let profile = PolicyProfile::builtin("kinevla").unwrap_or_else(|| unreachable!("kinevla is built in"));
        Self { planner, profile, plan: None, poses: Vec::new(), cursor: 0 }
    }

    /// The whole plan, once the first observation has been answered.
    #[must_use]
    pub fn plan(&self) -> Option<&PolicyPlan> {
        self.plan.as_ref()
    }
}

/// How far a pose is from another, for finding the arm's place along the plan (1 rad counts as 10 cm).
fn pose_distance(a: &Pose, b: &Pose) -> f64 {
    (a.position_m - b.position_m).length() + 0.1 * a.rotation.angle_between(b.rotation)
}

impl ChunkPolicy for BuiltinChunks {
    fn describe(&self) -> String {
        "built-in planner (closed loop)".into()
    }

    fn profile(&self) -> &PolicyProfile {
        &self.profile
    }

    fn infer(&mut self, observation: &Observation) -> Result<Chunk, PolicyError> {
        let here = fk(&observation.robot, &observation.joints).map_err(|e| PolicyError::Kinematics(e.to_string()))?;
        let mut chunk = Chunk::default();
        if self.plan.is_none() {
            let request = PolicyRequest {
                instruction: observation.instruction.clone(),
                robot_kind: observation.robot_kind.clone(),
                robot: observation.robot.clone(),
                joints: observation.joints.clone(),
                gripper_closed: observation.gripper_opening < 0.5,
                images: observation.images.clone(),
            };
            let plan = self.planner.plan(&request, &mut |_| {})?;
            self.poses = plan
                .full
                .ee_position_m
                .iter()
                .zip(&plan.full.ee_quaternion_xyzw)
                .map(|(p, q)| Pose {
                    position_m: glam::DVec3::from_array(*p),
                    rotation: glam::DQuat::from_xyzw(q[0], q[1], q[2], q[3]).normalize(),
                })
                .collect();
            chunk.instruction_level.clone_from(&plan.output.instruction_level);
            self.cursor = 0;
            self.plan = Some(plan);
        }
        let Some(plan) = &self.plan else { return Err(PolicyError::WorkerGone) };
        let last = self.poses.len().saturating_sub(1);
        // Where the arm is along the plan: the nearest planned pose from the last place on, within two chunks.
        let window = self.cursor..=(self.cursor + 2 * self.profile.action.execute_steps).min(last);
        self.cursor = window
            .min_by(|a, b| pose_distance(&self.poses[*a], &here).total_cmp(&pose_distance(&self.poses[*b], &here)))
            .unwrap_or(self.cursor);
        // Two chunks' worth: a chunk asked while the one before still runs drops the actions that fall in that time.
        let horizon = 2 * self.profile.action.execute_steps;
        let end = (self.cursor + horizon).min(last);
        let mut from = here;
        for k in self.cursor + 1..=end {
            let gripper = plan.full.gripper.get(k).copied().unwrap_or(-1.0);
            chunk.actions.push(action_between(&from, &self.poses[k], gripper).to_vec());
            from = self.poses[k];
        }
        chunk.done = self.cursor + self.profile.action.execute_steps >= last;
        // A plan that ends holding still (a settle, a gripper that has finished moving) has many equal poses: the
        // nearest is the first of them, so the cursor would stay there and the loop never end. Once the arm is at
        // the final pose, nothing of the plan moves any more and the gripper is as it ends, the task is done.
        let final_pose = self.poses[last];
        let closes_at_end = plan.full.gripper.get(last).is_some_and(|g| *g > 0.0);
        let settled = self.poses[self.cursor..=last].iter().all(|p| pose_distance(p, &final_pose) < 1e-3)
            && pose_distance(&here, &final_pose) < 2e-3
            && closes_at_end == (observation.gripper_opening < 0.5);
        if settled {
            chunk.actions.clear();
            chunk.done = true;
        }
        if let Some(stage) = plan.stages.iter().find(|s| s.steps.contains(&self.cursor)) {
            chunk.action_level.push(format!("{}: {}", stage.kind.name(), stage.description));
        }
        // The token chunks that cover these steps (a token chunk is `chunk_len` steps).
        let per_chunk = self.planner.tokenizer().config().chunk_len.max(1);
        let tokens = self.cursor / per_chunk..end.div_ceil(per_chunk);
        chunk.tokens = plan.output.chunks.get(tokens).map(<[Vec<u32>]>::to_vec).unwrap_or_default();
        Ok(chunk)
    }
}
