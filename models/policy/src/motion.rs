//! Stages → end-effector actions in the LIBERO format, and those actions → action tokens and back.
//!
//! An action is one control step: `[dx, dy, dz, rx, ry, rz, gripper]` with the position change in metres and the
//! orientation change as a rotation vector in radians, both in the robot's base frame (`R_next = exp(r) · R`), and
//! the gripper command −1 (open) or +1 (closed). This is what the tokenizer is trained on.

use std::ops::Range;

use glam::{DQuat, DVec3};

use super::instruction::{Frame, Motion, ParsedInstruction, StageKind};
use crate::tokenizer::data::{DT_S, profile_dt};
use crate::tokenizer::{ActionTokenizer, TokenizerError};
use kinedesk_core::robot::Pose;

/// Control period of planned actions (20 Hz, as LIBERO).
pub const PLAN_DT_S: f64 = DT_S;
/// How long the arm holds still while the gripper opens or closes.
pub const GRIPPER_S: f64 = 0.5;

pub type Action = [f64; 7];

/// Which steps a stage covers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageSpan {
    pub kind: StageKind,
    pub description: String,
    /// Action steps (step `k` moves from sample `k` to sample `k + 1`).
    pub steps: Range<usize>,
    /// Byte range of the instruction it came from.
    pub source: Range<usize>,
}

/// Planned actions with the stage each step belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionPlan {
    pub dt_s: f64,
    pub actions: Vec<Action>,
    pub stages: Vec<StageSpan>,
}

fn gripper_value(closed: bool) -> f64 {
    if closed { 1.0 } else { -1.0 }
}

/// Turns stages into per-step actions from `start`, each motion with a minimum-jerk profile at the asked speed.
#[must_use]
pub fn plan_actions(parsed: &ParsedInstruction, start: &Pose, gripper_closed: bool, dt_s: f64) -> ActionPlan {
    let mut actions: Vec<Action> = Vec::new();
    let mut stages = Vec::new();
    let mut gripper = gripper_value(gripper_closed);
    let mut rotation = start.rotation;
    for stage in &parsed.stages {
        let first = actions.len();
        match stage.motion {
            Motion::Translate { direction, distance_m, frame, speed_m_s } => {
                let world = if frame == Frame::Gripper { rotation * direction } else { direction };
                for dp in profile_dt((world * distance_m).to_array(), speed_m_s, dt_s) {
                    actions.push([dp[0], dp[1], dp[2], 0.0, 0.0, 0.0, gripper]);
                }
            }
            Motion::Rotate { axis, angle_rad, frame, speed_rad_s } => {
                let world = if frame == Frame::Gripper { rotation * axis } else { axis };
                for dr in profile_dt((world * angle_rad).to_array(), speed_rad_s, dt_s) {
                    rotation = (DQuat::from_scaled_axis(DVec3::from_array(dr)) * rotation).normalize();
                    actions.push([0.0, 0.0, 0.0, dr[0], dr[1], dr[2], gripper]);
                }
            }
            Motion::Gripper { close } => {
                gripper = gripper_value(close);
                let steps = (GRIPPER_S / dt_s).round().max(1.0) as usize;
                actions.extend(std::iter::repeat_n([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, gripper], steps));
            }
            Motion::Hold { duration_s } => {
                let steps = (duration_s / dt_s).round().max(1.0) as usize;
                actions.extend(std::iter::repeat_n([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, gripper], steps));
            }
        }
        stages.push(StageSpan {
            kind: stage.kind,
            description: stage.description.clone(),
            steps: first..actions.len(),
            source: stage.source.clone(),
        });
    }
    ActionPlan { dt_s, actions, stages }
}

/// Applies one action to a pose.
#[must_use]
pub fn apply_action(pose: &Pose, action: &Action) -> Pose {
    let dr = DVec3::new(action[3], action[4], action[5]);
    Pose {
        position_m: pose.position_m + DVec3::new(action[0], action[1], action[2]),
        rotation: (DQuat::from_scaled_axis(dr) * pose.rotation).normalize(),
    }
}

/// The poses visited by `actions` from `start` (one more than there are actions).
#[must_use]
pub fn integrate_actions(start: &Pose, actions: &[Action]) -> Vec<Pose> {
    let mut poses = Vec::with_capacity(actions.len() + 1);
    poses.push(*start);
    let mut pose = *start;
    for action in actions {
        pose = apply_action(&pose, action);
        poses.push(pose);
    }
    poses
}

/// The action that moves `from` to `to`.
#[must_use]
pub fn action_between(from: &Pose, to: &Pose, gripper: f64) -> Action {
    let dp = to.position_m - from.position_m;
    let mut delta = to.rotation * from.rotation.inverse();
    if delta.w < 0.0 {
        delta = -delta;
    }
    let dr = delta.to_scaled_axis();
    [dp.x, dp.y, dp.z, dr.x, dr.y, dr.z, gripper]
}

/// Action tokens for a plan and what they decode to.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenizedPlan {
    /// Codes per chunk (`positions × levels`, position-major).
    pub chunks: Vec<Vec<u32>>,
    /// The actions the tokens decode to with every level.
    pub full: Vec<Action>,
    /// The actions the coarse (goal) levels alone decode to.
    pub coarse: Vec<Action>,
}

fn check_action_dim(tokenizer: &ActionTokenizer) -> Result<(), TokenizerError> {
    let dim = tokenizer.config().action_dim;
    if dim == 7 {
        Ok(())
    } else {
        Err(TokenizerError::Config(format!(
            "the planner writes 7-D actions (delta xyz, rotation vector, gripper); this tokenizer expects {dim}"
        )))
    }
}

/// Encodes planned actions into tokens, chunk by chunk, closing the loop on what the tokens decode to: each chunk
/// is planned from where the decoded motion so far ends, so quantisation error does not pile up along the path.
/// The plan is padded with still steps to a whole number of chunks.
pub fn tokenize_actions(
    tokenizer: &ActionTokenizer,
    start: &Pose,
    planned: &[Action],
) -> Result<TokenizedPlan, TokenizerError> {
    check_action_dim(tokenizer)?;
    let chunk_len = tokenizer.config().chunk_len;
    let mut padded = planned.to_vec();
    let hold = padded.last().map_or(-1.0, |a| a[6]);
    while padded.is_empty() || !padded.len().is_multiple_of(chunk_len) {
        padded.push([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, hold]);
    }
    let targets = integrate_actions(start, &padded);
    let mut decoded_pose = *start;
    let mut chunks = Vec::with_capacity(padded.len() / chunk_len);
    let mut full = Vec::with_capacity(padded.len());
    for (index, chunk) in padded.chunks(chunk_len).enumerate() {
        let base = index * chunk_len;
        let mut wanted: Vec<f32> = Vec::with_capacity(chunk_len * 7);
        for (j, action) in chunk.iter().enumerate() {
            let from = if j == 0 { decoded_pose } else { targets[base + j] };
            let corrected = action_between(&from, &targets[base + j + 1], action[6]);
            wanted.extend(corrected.iter().map(|v| *v as f32));
        }
        let (codes, actions) = encode_refined(tokenizer, &wanted)?;
        for action in &actions {
            decoded_pose = apply_action(&decoded_pose, action);
        }
        full.extend(actions);
        chunks.push(codes);
    }
    let coarse = decode_chunks(tokenizer, &chunks, tokenizer.config().coarse_levels)?;
    Ok(TokenizedPlan { chunks, full, coarse })
}

/// Re-encodings per chunk in [`encode_refined`].
const REFINE_ITERATIONS: usize = 3;

/// Encodes one chunk, then re-encodes it with the decoding error added back (a few times), keeping the codes whose
/// decoding is closest to `wanted` (in units of the action standard deviations). This makes up for the encoder's
/// error on motions that are rare in the training data (tilts, slow rotations about a horizontal axis).
fn encode_refined(tokenizer: &ActionTokenizer, wanted: &[f32]) -> Result<(Vec<u32>, Vec<Action>), TokenizerError> {
    let std = &tokenizer.config().action_std;
    let levels = tokenizer.config().levels();
    let mut query = wanted.to_vec();
    let mut best: Option<(f64, Vec<u32>, Vec<Action>)> = None;
    for _ in 0..REFINE_ITERATIONS {
        let codes = tokenizer.encode(std::slice::from_ref(&query))?.remove(0);
        let actions = decode_chunks(tokenizer, std::slice::from_ref(&codes), levels)?;
        let mut error = 0.0;
        for (k, action) in actions.iter().enumerate() {
            // The gripper is snapped to ±1 and is not part of the refinement.
            for d in 0..6 {
                let i = k * 7 + d;
                let diff = action[d] - f64::from(wanted[i]);
                error += (diff / f64::from(std[d].max(1e-9))).powi(2);
                query[i] -= diff as f32;
            }
        }
        if best.as_ref().is_none_or(|(e, ..)| error < *e) {
            best = Some((error, codes, actions));
        }
    }
    let (_, codes, actions) = best.ok_or_else(|| TokenizerError::Input("no refinement ran".into()))?;
    Ok((codes, actions))
}

/// Decodes chunks of codes into actions using the first `levels` levels. Gripper values are snapped to ±1.
pub fn decode_chunks(
    tokenizer: &ActionTokenizer,
    chunks: &[Vec<u32>],
    levels: usize,
) -> Result<Vec<Action>, TokenizerError> {
    check_action_dim(tokenizer)?;
    if chunks.is_empty() {
        return Ok(Vec::new());
    }
    let decoded = tokenizer.decode(chunks, levels)?;
    Ok(decoded
        .iter()
        .flat_map(|chunk| chunk.chunks_exact(7))
        .map(|a| {
            let gripper = if a[6] >= 0.0 { 1.0 } else { -1.0 };
            [
                f64::from(a[0]),
                f64::from(a[1]),
                f64::from(a[2]),
                f64::from(a[3]),
                f64::from(a[4]),
                f64::from(a[5]),
                gripper,
            ]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruction::parse_instruction;

    fn start() -> Pose {
        Pose { position_m: DVec3::new(0.4, 0.0, 0.4), rotation: DQuat::from_rotation_x(std::f64::consts::PI) }
    }

    #[test]
    fn planned_actions_cover_the_asked_distance_and_angle() {
        let parsed =
            parse_instruction("move 10 cm left, then rotate it 90 degrees clockwise, then open the gripper", true)
                .unwrap();
        let plan = plan_actions(&parsed, &start(), true, PLAN_DT_S);
        assert_eq!(plan.stages.len(), 3);
        let poses = integrate_actions(&start(), &plan.actions);
        let end = poses.last().unwrap();
        assert!((end.position_m - (start().position_m + DVec3::new(0.0, 0.1, 0.0))).length() < 1e-9);
        let turned = end.rotation * start().rotation.inverse();
        let (axis, angle) = turned.to_axis_angle();
        assert!((angle - std::f64::consts::FRAC_PI_2).abs() < 1e-9, "{angle}");
        assert!((axis - DVec3::NEG_Z).length() < 1e-9, "{axis}");
        assert_eq!(plan.actions.last().unwrap()[6], -1.0);
        // 10 cm at 5 cm/s on average: 2 s at 20 Hz.
        assert_eq!(plan.stages[0].steps.len(), 40);
    }

    #[test]
    fn action_between_inverts_apply_action() {
        let a = start();
        let b = apply_action(&a, &[0.01, -0.02, 0.005, 0.1, -0.05, 0.2, 1.0]);
        let back = action_between(&a, &b, 1.0);
        let again = apply_action(&a, &back);
        assert!((again.position_m - b.position_m).length() < 1e-12);
        assert!(again.rotation.angle_between(b.rotation) < 1e-9);
    }
}
