//! Decoded actions → a joint trajectory the robot can follow, with the end-effector path and the checks.
//!
//! Each step's flange pose is solved by inverse kinematics seeded with the previous step's joints, so the joint
//! path is continuous. Where no solution exists the best attempt is kept and the step is reported as unreachable
//! (the preview shows it red; Send stays disabled).

use glam::DVec3;

use super::motion::{Action, apply_action};
use kinedesk_core::robot::{
    CheckReport, IkError, IkOptions, Pose, Robot, SafetyLimits, Trajectory, Violation, ViolationKind, check_trajectory,
    fk, solve_ik,
};

/// A joint trajectory with what the end effector and gripper do along it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedTrajectory {
    pub dt_s: f64,
    pub joints: Vec<Vec<f64>>,
    /// Flange positions from forward kinematics of `joints` (what the arm will really do).
    pub ee_position_m: Vec<[f64; 3]>,
    pub ee_quaternion_xyzw: Vec<[f64; 4]>,
    /// Gripper command per sample: −1 open, +1 closed.
    pub gripper: Vec<f64>,
    /// Samples where inverse kinematics found no solution, with how far the best attempt was (m).
    #[serde(default)]
    pub unreachable: Vec<(usize, f64)>,
}

impl PlannedTrajectory {
    #[must_use]
    pub fn trajectory(&self) -> Trajectory {
        Trajectory { dt_s: self.dt_s, joints: self.joints.clone() }
    }

    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.dt_s * self.joints.len().saturating_sub(1) as f64
    }

    /// End-effector speed per step (m/s), one fewer than there are samples.
    #[must_use]
    pub fn ee_speed_m_s(&self) -> Vec<f64> {
        self.ee_position_m
            .windows(2)
            .map(|w| (DVec3::from_array(w[1]) - DVec3::from_array(w[0])).length() / self.dt_s.max(1e-9))
            .collect()
    }
}

/// Inverse kinematics for following a path: small steps from a close seed, so one attempt without restarts.
fn tracking_options() -> IkOptions {
    IkOptions { max_attempts: 1, max_iterations: 60, rest_gain: 0.0, ..IkOptions::default() }
}

/// Follows `actions` from `start_joints`: the flange path is the actions applied to the start pose.
pub fn trajectory_from_actions(
    robot: &Robot,
    start_joints: &[f64],
    start_gripper: f64,
    actions: &[Action],
    dt_s: f64,
) -> Result<PlannedTrajectory, kinedesk_core::robot::KinematicsError> {
    let start = fk(robot, start_joints)?;
    let mut out = PlannedTrajectory { dt_s, ..PlannedTrajectory::default() };
    let mut joints = start_joints.to_vec();
    let mut target = start;
    push_sample(robot, &mut out, &joints, start_gripper)?;
    let tracking = tracking_options();
    let fallback = IkOptions { max_attempts: 8, ..IkOptions::default() };
    for (step, action) in actions.iter().enumerate() {
        target = apply_action(&target, action);
        let solved = solve_ik(robot, &target, Some(&joints), &tracking)
            .or_else(|_| solve_ik(robot, &target, Some(&joints), &fallback));
        match solved {
            Ok(solution) => joints = solution.joints,
            Err(IkError::Unreachable { best_joints, best_position_error_m, .. }) => {
                joints = best_joints;
                out.unreachable.push((step + 1, best_position_error_m));
            }
            Err(IkError::Kinematics(error)) => return Err(error),
        }
        push_sample(robot, &mut out, &joints, action[6])?;
    }
    Ok(out)
}

/// A planned trajectory from joint samples (with the gripper command per sample: −1 open, +1 closed), its flange
/// path from forward kinematics.
pub fn planned_from_joints(
    robot: &Robot,
    dt_s: f64,
    joints: &[Vec<f64>],
    gripper: &[f64],
) -> Result<PlannedTrajectory, kinedesk_core::robot::KinematicsError> {
    let mut out = PlannedTrajectory { dt_s, ..PlannedTrajectory::default() };
    for (sample, command) in joints.iter().zip(gripper.iter().chain(std::iter::repeat(&-1.0))) {
        push_sample(robot, &mut out, sample, *command)?;
    }
    Ok(out)
}

fn push_sample(
    robot: &Robot,
    out: &mut PlannedTrajectory,
    joints: &[f64],
    gripper: f64,
) -> Result<(), kinedesk_core::robot::KinematicsError> {
    let pose: Pose = fk(robot, joints)?;
    out.joints.push(joints.to_vec());
    out.ee_position_m.push(pose.position_m.to_array());
    out.ee_quaternion_xyzw.push(pose.quaternion_xyzw());
    out.gripper.push(gripper);
    Ok(())
}

/// The safety checks plus one violation per unreachable sample.
#[must_use]
pub fn check_planned(robot: &Robot, planned: &PlannedTrajectory, limits: &SafetyLimits) -> CheckReport {
    let mut report = check_trajectory(robot, &planned.trajectory(), limits);
    for &(step, error_m) in &planned.unreachable {
        let time_s = step as f64 * planned.dt_s;
        report.violations.push(Violation {
            kind: ViolationKind::Unreachable,
            step,
            time_s,
            joint: None,
            value: error_m,
            limit: 1e-4,
            excess: error_m,
            message: format!(
                "step {step} (t = {time_s:.3} s): the flange cannot reach the planned pose (best {:.1} mm away)",
                error_m * 1000.0
            ),
        });
    }
    report.violations.sort_by_key(|v| v.step);
    report.ok = report.violations.is_empty();
    report
}

/// How much slower than planned the trajectory must run so joint speeds and accelerations stay within `limits`
/// (1 when it already does). Retiming keeps the path and stretches the time step.
#[must_use]
pub fn slowdown_for_limits(robot: &Robot, planned: &PlannedTrajectory, limits: &SafetyLimits) -> f64 {
    let dt = planned.dt_s.max(1e-9);
    let mut factor = 1.0_f64;
    let joints = &planned.joints;
    for k in 1..joints.len() {
        for (j, joint) in robot.joints.iter().enumerate() {
            let velocity = (joints[k][j] - joints[k - 1][j]).abs() / dt;
            let limit = joint.limits.velocity * limits.velocity_scale;
            if limit > 0.0 {
                factor = factor.max(velocity / limit);
            }
            if k + 1 < joints.len() {
                let acceleration = (joints[k + 1][j] - 2.0 * joints[k][j] + joints[k - 1][j]).abs() / (dt * dt);
                let limit = joint.limits.acceleration * limits.acceleration_scale;
                if limit > 0.0 {
                    factor = factor.max((acceleration / limit).sqrt());
                }
            }
        }
    }
    // A little margin so the retimed trajectory passes the same checks with rounding.
    if factor > 1.0 { factor * 1.02 } else { 1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_core::robot::panda;

    #[test]
    fn a_straight_move_is_followed_within_a_tenth_of_a_millimetre() {
        let robot = panda();
        let actions: Vec<Action> = (0..40).map(|_| [0.0, 0.0025, 0.0, 0.0, 0.0, 0.0, -1.0]).collect();
        let planned = trajectory_from_actions(&robot, &robot.rest_pose, -1.0, &actions, 0.05).unwrap();
        assert_eq!(planned.joints.len(), 41);
        assert!(planned.unreachable.is_empty());
        let start = DVec3::from_array(planned.ee_position_m[0]);
        let end = DVec3::from_array(planned.ee_position_m[40]);
        assert!(((end - start) - DVec3::new(0.0, 0.1, 0.0)).length() < 2e-4, "{:?}", end - start);
        let report = check_planned(&robot, &planned, &SafetyLimits::for_robot(&robot));
        assert!(report.ok, "{:?}", report.violations);
        assert!((slowdown_for_limits(&robot, &planned, &SafetyLimits::for_robot(&robot)) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_unreachable_path_is_reported_not_hidden() {
        let robot = panda();
        // Two metres forward: far beyond the Panda's reach.
        let actions: Vec<Action> = (0..20).map(|_| [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0]).collect();
        let planned = trajectory_from_actions(&robot, &robot.rest_pose, -1.0, &actions, 0.05).unwrap();
        assert!(!planned.unreachable.is_empty());
        let report = check_planned(&robot, &planned, &SafetyLimits::for_robot(&robot));
        assert!(!report.ok);
        assert!(
            report.violations.iter().any(|v| v.kind == ViolationKind::Unreachable && v.message.contains("mm away"))
        );
    }
}
