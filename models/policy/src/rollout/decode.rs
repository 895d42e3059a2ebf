//! A chunk's actions → the joint trajectory the arm would follow, in whatever action space the profile names. The
//! trajectory starts at the joints the chunk will start from, so the checks see the whole motion, the step into the
//! first action included.

use glam::{DQuat, DVec3};

use super::profile::{ActionSpace, PolicyProfile};
use crate::backend::PolicyError;
use crate::motion::{Action, action_between};
use crate::trajectory::{PlannedTrajectory, planned_from_joints, trajectory_from_actions};
use kinedesk_core::robot::{Pose, Robot, fk};

/// Follows the first `steps` actions of a chunk from `start_joints` (with the gripper at `start_gripper`: −1 open,
/// +1 closed).
pub fn decode_chunk(
    profile: &PolicyProfile,
    robot: &Robot,
    start_joints: &[f64],
    start_gripper: f64,
    actions: &[Vec<f64>],
    steps: usize,
) -> Result<PlannedTrajectory, PolicyError> {
    let action = &profile.action;
    let dt = profile.dt_s();
    let rows = &actions[..steps.min(actions.len())];
    let gripper = |row: &[f64]| action.gripper.to_command(row.last().copied().unwrap_or(-1.0));
    let kinematics = |e: kinedesk_core::robot::KinematicsError| PolicyError::Kinematics(e.to_string());
    let dof = robot.dof();
    let width = |row: &[f64], needed: usize| {
        if row.len() < needed {
            Err(PolicyError::Protocol(format!("an action has {} values, {needed} are needed", row.len())))
        } else {
            Ok(())
        }
    };
    match action.space {
        ActionSpace::DeltaEe => {
            let mut converted: Vec<Action> = Vec::with_capacity(rows.len());
            for row in rows {
                width(row, 7)?;
                let (p, r) = (action.position_scale, action.rotation_scale);
                converted.push([row[0] * p, row[1] * p, row[2] * p, row[3] * r, row[4] * r, row[5] * r, gripper(row)]);
            }
            trajectory_from_actions(robot, start_joints, start_gripper, &converted, dt).map_err(kinematics)
        }
        ActionSpace::AbsoluteEe => {
            let mut from = fk(robot, start_joints).map_err(kinematics)?;
            let mut converted: Vec<Action> = Vec::with_capacity(rows.len());
            for row in rows {
                width(row, 7)?;
                let position = DVec3::new(row[0], row[1], row[2]) * action.position_scale;
                let rotation = DQuat::from_scaled_axis(DVec3::new(row[3], row[4], row[5]) * action.rotation_scale);
                let to = Pose { position_m: position, rotation };
                converted.push(action_between(&from, &to, gripper(row)));
                from = to;
            }
            trajectory_from_actions(robot, start_joints, start_gripper, &converted, dt).map_err(kinematics)
        }
        ActionSpace::AbsoluteJoints | ActionSpace::JointVelocities => {
            let mut joints = vec![start_joints.to_vec()];
            let mut commands = vec![start_gripper];
            for row in rows {
                width(row, dof + 1)?;
                let next: Vec<f64> = if action.space == ActionSpace::AbsoluteJoints {
                    row[..dof].to_vec()
                } else {
                    let previous = joints.last().map_or(start_joints, Vec::as_slice);
                    previous.iter().zip(&row[..dof]).map(|(q, v)| q + v * dt).collect()
                };
                joints.push(next);
                commands.push(gripper(row));
            }
            planned_from_joints(robot, dt, &joints, &commands).map_err(kinematics)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_core::robot::panda;

    #[test]
    fn each_action_space_decodes_to_the_motion_it_stands_for() {
        let robot = panda();
        let start = robot.rest_pose.clone();
        let flange = |joints: &[f64]| fk(&robot, joints).unwrap().position_m;

        // LIBERO units: 0.2 × 0.05 m = 1 cm a step to the left (+y), 5 steps.
        let libero = PolicyProfile::builtin("libero").unwrap();
        let rows = vec![vec![0.0, 0.2, 0.0, 0.0, 0.0, 0.0, -1.0]; 5];
        let planned = decode_chunk(&libero, &robot, &start, -1.0, &rows, 5).unwrap();
        assert_eq!(planned.joints.len(), 6, "the start and one sample per step");
        let moved = flange(planned.joints.last().unwrap()) - flange(&start);
        assert!((moved - DVec3::new(0.0, 0.05, 0.0)).length() < 1e-3, "{moved}");
        assert!((planned.dt_s - 0.05).abs() < 1e-12);

        // DROID: joint 1 at 0.3 rad/s for 8 of 10 steps at 15 Hz; the gripper closes (closed fraction 0.9).
        let droid = PolicyProfile::builtin("droid").unwrap();
        let mut row = vec![0.0; 8];
        row[0] = 0.3;
        row[7] = 0.9;
        let planned = decode_chunk(&droid, &robot, &start, -1.0, &vec![row; 10], 8).unwrap();
        assert_eq!(planned.joints.len(), 9);
        let turned = planned.joints[8][0] - start[0];
        assert!((turned - 0.3 * 8.0 / 15.0).abs() < 1e-9, "{turned}");
        assert_eq!(planned.gripper[0], -1.0);
        assert!(planned.gripper[1..].iter().all(|g| *g == 1.0));

        // Too narrow for the space.
        let error = decode_chunk(&droid, &robot, &start, -1.0, &[vec![0.0; 3]], 1).unwrap_err();
        assert!(error.to_string().contains("3 values, 8 are needed"), "{error}");
    }
}
