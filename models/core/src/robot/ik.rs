//! Inverse kinematics: damped least squares with clamped task error and step size, joint limits, a null-space pull
//! toward the rest pose, and seeded random restarts when an attempt stalls.

use std::f64::consts::PI;

use glam::DAffine3;

use super::kinematics::{Jacobian, KinematicsError, Pose, fk_frames_into, pose_error};
use super::linalg::{cholesky_solve6, cholesky6, norm6};
use super::model::Robot;
use crate::rng::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct IkOptions {
    pub position_tolerance_m: f64,
    pub orientation_tolerance_rad: f64,
    /// Iterations per attempt before restarting from a new random seed.
    pub max_iterations: usize,
    /// Attempts in all (the first from the given seed, the rest from random seeds within the limits).
    pub max_attempts: usize,
    /// Damping λ of `Jᵀ (J Jᵀ + λ² I)⁻¹`.
    pub damping: f64,
    /// Largest change of any joint in one iteration (rad).
    pub max_step_rad: f64,
    /// Gain of the null-space pull toward the rest pose (0 disables it).
    pub rest_gain: f64,
    /// Seed of the random restarts, so results are reproducible.
    pub random_seed: u64,
}

impl Default for IkOptions {
    fn default() -> Self {
        Self {
            position_tolerance_m: 1e-4,
            orientation_tolerance_rad: 0.1 * PI / 180.0,
            max_iterations: 80,
            max_attempts: 40,
            damping: 1e-3,
            max_step_rad: 0.4,
            rest_gain: 0.05,
            random_seed: 0x4b69_6e65_4465_736b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct IkSolution {
    pub joints: Vec<f64>,
    /// Iterations over all attempts.
    pub iterations: usize,
    pub attempts: usize,
    pub position_error_m: f64,
    pub orientation_error_rad: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IkError {
    #[error(transparent)]
    Kinematics(#[from] KinematicsError),
    #[error(
        "target unreachable for {robot}: best attempt of {attempts} was {best_position_error_m:.4} m and \
         {best_orientation_error_deg:.2}° away (tolerance {position_tolerance_m} m, {orientation_tolerance_deg:.2}°)"
    )]
    Unreachable {
        robot: String,
        attempts: usize,
        best_position_error_m: f64,
        best_orientation_error_deg: f64,
        best_joints: Vec<f64>,
        position_tolerance_m: f64,
        orientation_tolerance_deg: f64,
    },
}

/// Solves for joints that put the flange at `target`. `seed` defaults to the robot's rest pose.
pub fn solve_ik(
    robot: &Robot,
    target: &Pose,
    seed: Option<&[f64]>,
    options: &IkOptions,
) -> Result<IkSolution, IkError> {
    let n = robot.dof();
    let seed = seed.unwrap_or(&robot.rest_pose);
    if seed.len() != n {
        return Err(KinematicsError::WrongJointCount { robot: robot.name.clone(), expected: n, got: seed.len() }.into());
    }
    let mut rng = Rng::from_state(options.random_seed);
    let mut workspace = Workspace {
        frames: Vec::with_capacity(n + 1),
        jacobian: Jacobian { columns: Vec::with_capacity(n) },
        dq: vec![0.0; n],
        pull: vec![0.0; n],
        projected: vec![0.0; n],
    };
    let mut q = robot.clamp_to_limits(seed);
    let mut best = (f64::INFINITY, f64::INFINITY, q.clone());
    let mut iterations = 0;
    for attempt in 0..options.max_attempts.max(1) {
        if attempt > 0 {
            for (value, joint) in q.iter_mut().zip(&robot.joints) {
                *value = joint.limits.lower + rng.unit() * (joint.limits.upper - joint.limits.lower);
            }
        }
        let outcome = run_attempt(robot, target, &mut q, options, &mut workspace)?;
        iterations += outcome.iterations;
        if outcome.converged {
            return Ok(IkSolution {
                joints: q,
                iterations,
                attempts: attempt + 1,
                position_error_m: outcome.position_error_m,
                orientation_error_rad: outcome.orientation_error_rad,
            });
        }
        let score = outcome.position_error_m + 0.1 * outcome.orientation_error_rad;
        if score < best.0 + 0.1 * best.1 {
            best = (outcome.position_error_m, outcome.orientation_error_rad, q.clone());
        }
    }
    Err(IkError::Unreachable {
        robot: robot.name.clone(),
        attempts: options.max_attempts.max(1),
        best_position_error_m: best.0,
        best_orientation_error_deg: best.1.to_degrees(),
        best_joints: best.2,
        position_tolerance_m: options.position_tolerance_m,
        orientation_tolerance_deg: options.orientation_tolerance_rad.to_degrees(),
    })
}

struct Workspace {
    frames: Vec<DAffine3>,
    jacobian: Jacobian,
    dq: Vec<f64>,
    pull: Vec<f64>,
    projected: Vec<f64>,
}

struct Attempt {
    converged: bool,
    iterations: usize,
    position_error_m: f64,
    orientation_error_rad: f64,
}

/// Largest task-space error acted on in one iteration: far targets are approached in a straight line
/// instead of with one huge, badly linearised step.
const MAX_POSITION_STEP_M: f64 = 0.1;
const MAX_ROTATION_STEP_RAD: f64 = 0.5;

fn run_attempt(
    robot: &Robot,
    target: &Pose,
    q: &mut [f64],
    options: &IkOptions,
    ws: &mut Workspace,
) -> Result<Attempt, KinematicsError> {
    let damping_sq = options.damping * options.damping;
    let mut position_error_m = f64::INFINITY;
    let mut orientation_error_rad = f64::INFINITY;
    for iteration in 0..options.max_iterations {
        fk_frames_into(robot, q, &mut ws.frames)?;
        let current = Pose::from_affine(&ws.frames[ws.frames.len() - 1]);
        let mut error = pose_error(&current, target);
        position_error_m = norm6(&[error[0], error[1], error[2], 0.0, 0.0, 0.0]);
        orientation_error_rad = norm6(&[error[3], error[4], error[5], 0.0, 0.0, 0.0]);
        if position_error_m <= options.position_tolerance_m
            && orientation_error_rad <= options.orientation_tolerance_rad
        {
            return Ok(Attempt { converged: true, iterations: iteration, position_error_m, orientation_error_rad });
        }
        if position_error_m > MAX_POSITION_STEP_M {
            let scale = MAX_POSITION_STEP_M / position_error_m;
            error[..3].iter_mut().for_each(|e| *e *= scale);
        }
        if orientation_error_rad > MAX_ROTATION_STEP_RAD {
            let scale = MAX_ROTATION_STEP_RAD / orientation_error_rad;
            error[3..].iter_mut().for_each(|e| *e *= scale);
        }

        ws.jacobian.fill_from_frames(robot, &ws.frames);
        let Some(l) = cholesky6(&ws.jacobian.jjt_damped(damping_sq)) else {
            break;
        };
        let y = cholesky_solve6(&l, &error);
        ws.jacobian.transpose_mul(&y, &mut ws.dq);

        // Null-space pull toward the rest pose: v − J⁺ J v, with J⁺ the damped pseudo-inverse.
        if options.rest_gain > 0.0 {
            for ((pull, rest), value) in ws.pull.iter_mut().zip(&robot.rest_pose).zip(q.iter()) {
                *pull = options.rest_gain * (rest - value);
            }
            let jv = ws.jacobian.mul(&ws.pull);
            let correction = cholesky_solve6(&l, &jv);
            ws.jacobian.transpose_mul(&correction, &mut ws.projected);
            for ((dq, pull), back) in ws.dq.iter_mut().zip(&ws.pull).zip(&ws.projected) {
                *dq += pull - back;
            }
        }

        let largest = ws.dq.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let scale = if largest > options.max_step_rad { options.max_step_rad / largest } else { 1.0 };
        for ((value, dq), joint) in q.iter_mut().zip(&ws.dq).zip(&robot.joints) {
            *value = joint.limits.clamp(*value + dq * scale);
        }
    }
    Ok(Attempt { converged: false, iterations: options.max_iterations, position_error_m, orientation_error_rad })
}

#[cfg(test)]
mod tests {
    use super::super::builtin::{panda, rm75};
    use super::super::kinematics::fk;
    use super::*;

    fn random_q(robot: &Robot, rng: &mut Rng) -> Vec<f64> {
        robot
            .joints
            .iter()
            .map(|joint| joint.limits.lower + rng.unit() * (joint.limits.upper - joint.limits.lower))
            .collect()
    }

    fn round_trip_rate(robot: &Robot, samples: usize, seed: u64) -> (usize, usize) {
        let mut rng = Rng::from_state(seed);
        let options = IkOptions::default();
        let mut solved = 0;
        for _ in 0..samples {
            let goal = random_q(robot, &mut rng);
            let start = random_q(robot, &mut rng);
            let target = fk(robot, &goal).unwrap();
            if let Ok(solution) = solve_ik(robot, &target, Some(&start), &options) {
                let reached = fk(robot, &solution.joints).unwrap();
                let error = pose_error(&reached, &target);
                assert!(norm6(&[error[0], error[1], error[2], 0.0, 0.0, 0.0]) <= 1e-4);
                assert!(norm6(&[0.0, 0.0, 0.0, error[3], error[4], error[5]]) <= options.orientation_tolerance_rad);
                assert!(solution.joints.iter().zip(&robot.joints).all(|(q, j)| j.limits.contains(*q)));
                solved += 1;
            }
        }
        (solved, samples)
    }

    #[test]
    fn panda_ik_round_trips_1000_random_reachable_poses_from_random_seeds() {
        let (solved, total) = round_trip_rate(&panda(), 1000, 0x1234_5678);
        assert!(solved * 100 >= total * 99, "solved {solved}/{total}");
    }

    #[test]
    fn rm75_ik_round_trips_random_reachable_poses() {
        let (solved, total) = round_trip_rate(&rm75(), 300, 0x8765_4321);
        assert!(solved * 100 >= total * 99, "solved {solved}/{total}");
    }

    #[test]
    fn an_unreachable_target_is_a_clear_error() {
        let robot = panda();
        let target = Pose { position_m: glam::DVec3::new(2.0, 0.0, 0.5), rotation: glam::DQuat::IDENTITY };
        let options = IkOptions { max_attempts: 3, ..IkOptions::default() };
        let error = solve_ik(&robot, &target, None, &options).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("unreachable") && message.contains("panda"), "{message}");
        let IkError::Unreachable { best_position_error_m, .. } = error else { panic!("{error:?}") };
        assert!(best_position_error_m > 0.5);
    }

    #[test]
    fn a_wrong_seed_length_is_an_error() {
        let robot = panda();
        let target = fk(&robot, &robot.rest_pose).unwrap();
        assert!(matches!(
            solve_ik(&robot, &target, Some(&[0.0; 3]), &IkOptions::default()),
            Err(IkError::Kinematics(KinematicsError::WrongJointCount { .. }))
        ));
    }

    #[test]
    fn solving_from_the_answer_takes_no_iterations() {
        let robot = panda();
        let target = fk(&robot, &robot.rest_pose).unwrap();
        let solution = solve_ik(&robot, &target, None, &IkOptions::default()).unwrap();
        assert_eq!((solution.iterations, solution.attempts), (0, 1));
    }
}
