//! The robot driver interface: what every driver (simulated arm, Realman, …) accepts and reports.
//!
//! A driver runs on its own named [`Worker`] thread. The UI sends [`DriverCommand`]s over a bounded channel and drains
//! [`DriverEvent`]s; Stop does not travel through that queue: every driver holds the shared [`StopSignal`] and checks
//! it on every control tick. Before anything is written to the arm, the driver passes it through its [`SafetyGate`],
//! which re-runs the `robot` checks, so the command layer's checks are not the only line of defence.

use crate::clock::Timestamp;
use crate::robot::{CheckReport, Robot, SafetyLimits, Trajectory, check_trajectory};
use crate::stop::StopSignal;
use crate::worker::Worker;

/// The arm's state at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct JointState {
    pub at: Timestamp,
    pub positions: Vec<f64>,
    pub velocities: Vec<f64>,
    /// Gripper opening, 0 (closed) to 1 (open).
    pub gripper: f64,
    /// Executing a trajectory or streaming.
    pub moving: bool,
}

/// What the UI (or a CLI tool) asks of a driver.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverCommand {
    /// Execute a time-parameterised joint trajectory from its first sample (which must match the current state).
    Execute(Trajectory),
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

/// What a driver reports.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverEvent {
    Connected {
        robot: String,
        dof: usize,
    },
    State(JointState),
    /// Progress through the trajectory being executed.
    Progress {
        step: usize,
        steps: usize,
    },
    Finished,
    /// The stop signal was seen; the arm is held where it is.
    Stopped {
        generation: u64,
    },
    /// A command was refused before anything was written, with the reason.
    Refused {
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
pub const TELEOP_WATCHDOG: std::time::Duration = std::time::Duration::from_millis(200);

/// Fraction of each joint's velocity limit used to follow teleop targets.
pub const TELEOP_VELOCITY_SCALE: f64 = 0.25;

/// The owner's handle: the worker plus the stop signal it watches.
pub struct DriverHandle {
    pub worker: Worker<DriverCommand, DriverEvent>,
    pub stop: StopSignal,
    /// What the status bar calls it ("sim panda", "realman://…").
    pub name: String,
}

/// Re-checks everything a driver is about to write.
#[derive(Clone, Debug)]
pub struct SafetyGate {
    pub robot: Robot,
    pub limits: SafetyLimits,
    /// How far the first sample of a trajectory may be from the current state (rad).
    pub start_tolerance_rad: f64,
}

impl SafetyGate {
    #[must_use]
    pub fn new(robot: Robot) -> Self {
        let limits = SafetyLimits::for_robot(&robot);
        Self { robot, limits, start_tolerance_rad: START_TOLERANCE_RAD }
    }

    /// Checks a streamed target: right length, finite, within the joint limits.
    pub fn check_target(&self, target: &[f64]) -> Result<(), String> {
        if target.len() != self.robot.dof() {
            return Err(format!("refused: target has {} joints, the robot {}", target.len(), self.robot.dof()));
        }
        for (index, (value, joint)) in target.iter().zip(&self.robot.joints).enumerate() {
            if !value.is_finite() || !joint.limits.contains(*value) {
                return Err(format!(
                    "refused: target joint {} = {value:.4} rad is outside [{:.4}, {:.4}]",
                    index + 1,
                    joint.limits.lower,
                    joint.limits.upper
                ));
            }
        }
        Ok(())
    }

    /// One control step toward `target` from `current`, each joint limited to its velocity × `scale` × `dt`.
    #[must_use]
    pub fn step_toward(&self, current: &[f64], target: &[f64], dt_s: f64, scale: f64) -> Vec<f64> {
        current
            .iter()
            .zip(target)
            .zip(&self.robot.joints)
            .map(|((q, t), joint)| {
                let max = joint.limits.velocity * scale * dt_s;
                q + (t - q).clamp(-max, max)
            })
            .collect()
    }

    /// Checks a trajectory against the limits and against where the arm is now.
    pub fn check_execute(&self, trajectory: &Trajectory, current: &[f64]) -> Result<(), String> {
        let report: CheckReport = check_trajectory(&self.robot, trajectory, &self.limits);
        if let Some(first) = report.violations.first() {
            let more = report.violations.len() - 1;
            return Err(if more == 0 {
                format!("refused: {first}")
            } else {
                format!("refused: {first} (and {more} more violation(s))")
            });
        }
        let start = &trajectory.joints[0];
        if let Some((joint, (a, b))) =
            start.iter().zip(current).enumerate().find(|(_, (a, b))| (*a - *b).abs() > self.start_tolerance_rad)
        {
            return Err(format!(
                "refused: the trajectory starts with joint {} at {a:.4} rad but the arm is at {b:.4} rad",
                joint + 1
            ));
        }
        Ok(())
    }
}

/// Helpers the driver tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::time::{Duration, Instant};

    use super::{DriverEvent, DriverHandle};
    use crate::robot::{Robot, Trajectory};

    /// Waits up to 10 s for an event `want` accepts (others are skipped); panics otherwise.
    pub(crate) fn next_event(handle: &DriverHandle, mut want: impl FnMut(&DriverEvent) -> bool) -> DriverEvent {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(event) = handle.worker.events().recv_timeout(Duration::from_millis(50))
                && want(&event)
            {
                return event;
            }
        }
        panic!("no matching event within 10 s");
    }

    /// Joint 1 swept by +0.3 rad from the rest pose over `seconds`, sampled every `dt_s`.
    pub(crate) fn sweep(robot: &Robot, seconds: f64, dt_s: f64) -> Trajectory {
        let steps = (seconds / dt_s) as usize;
        let joints = (0..=steps)
            .map(|k| {
                let mut q = robot.rest_pose.clone();
                q[0] += 0.3 * k as f64 / steps as f64;
                q
            })
            .collect();
        Trajectory { dt_s, joints }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::panda;

    #[test]
    fn the_gate_refuses_violations_and_wrong_starts() {
        let robot = panda();
        let gate = SafetyGate::new(robot.clone());
        let rest = robot.rest_pose.clone();
        let mut joints = vec![rest.clone(); 5];
        assert!(gate.check_execute(&Trajectory { dt_s: 0.01, joints: joints.clone() }, &rest).is_ok());
        joints[2][0] += 0.5; // a 0.5 rad jump in 10 ms
        let refused = gate.check_execute(&Trajectory { dt_s: 0.01, joints }, &rest).unwrap_err();
        assert!(
            refused.starts_with("refused: step 1") && refused.contains("joint 1") && refused.contains("more violation"),
            "{refused}"
        );
        let mut elsewhere = rest.clone();
        elsewhere[6] += 0.2;
        let refused =
            gate.check_execute(&Trajectory { dt_s: 0.01, joints: vec![rest.clone(); 3] }, &elsewhere).unwrap_err();
        assert!(refused.contains("joint 7"), "{refused}");
    }
}
