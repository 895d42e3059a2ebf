//! The safety gate inside every driver: everything a driver is about to write is checked again here, so the command
//! layer's checks are never the only line of defence.

use super::START_TOLERANCE_RAD;
use super::plan::{ExecutionPlan, PlanItem};
use crate::robot::{CheckReport, Robot, SafetyLimits, Trajectory, check_trajectory};

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

impl SafetyGate {
    /// Checks a whole plan before anything of it moves: every joint segment passes the trajectory checks, the first
    /// starts where the arm is, each later one where the one before ended, and every gripper opening is in 0..=1.
    pub fn check_plan(&self, plan: &ExecutionPlan, current: &[f64]) -> Result<(), String> {
        if plan.items.is_empty() {
            return Err("refused: the plan is empty".to_owned());
        }
        let mut at: Vec<f64> = current.to_vec();
        for (index, item) in plan.items.iter().enumerate() {
            match item {
                PlanItem::Joints { trajectory, .. } => {
                    if trajectory.joints.is_empty() {
                        return Err(format!("refused: plan item {} has no samples", index + 1));
                    }
                    self.check_execute(trajectory, &at).map_err(|reason| {
                        if plan.items.len() == 1 { reason } else { format!("{reason} (plan item {})", index + 1) }
                    })?;
                    at.clone_from(&trajectory.joints[trajectory.joints.len() - 1]);
                }
                PlanItem::Gripper { opening } => {
                    if !opening.is_finite() || !(0.0..=1.0).contains(opening) {
                        return Err(format!(
                            "refused: plan item {}: gripper opening {opening} is not between 0 and 1",
                            index + 1
                        ));
                    }
                }
            }
        }
        Ok(())
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

    #[test]
    fn a_plan_is_checked_whole_before_anything_moves() {
        let robot = panda();
        let gate = SafetyGate::new(robot.clone());
        let rest = robot.rest_pose.clone();
        let still = |q: &Vec<f64>| Trajectory { dt_s: 0.01, joints: vec![q.clone(); 4] };
        // Joint 1 eases 0.05 rad over 1 s (well inside the limits), so the two ends differ beyond the start tolerance.
        let ease = |k: usize| {
            let s = k as f64 / 50.0;
            let mut q = rest.clone();
            q[0] += 0.05 * s * s * (3.0 - 2.0 * s);
            q
        };
        let ramp = Trajectory { dt_s: 0.02, joints: (0..=50).map(ease).collect() };
        let moved = ease(50);
        let good = ExecutionPlan {
            items: vec![
                PlanItem::Joints { trajectory: ramp, first_step: 0 },
                PlanItem::Gripper { opening: 0.0 },
                PlanItem::Joints { trajectory: still(&moved), first_step: 3 },
            ],
        };
        assert_eq!(gate.check_plan(&good, &rest), Ok(()));
        // A later segment that does not start where the one before ended is refused up front.
        let mut broken = good.clone();
        broken.items[2] = PlanItem::Joints { trajectory: still(&rest), first_step: 3 };
        let refused = gate.check_plan(&broken, &rest).unwrap_err();
        assert!(refused.contains("plan item 3"), "{refused}");
        let mut bad_gripper = good;
        bad_gripper.items[1] = PlanItem::Gripper { opening: f64::NAN };
        assert!(gate.check_plan(&bad_gripper, &rest).unwrap_err().contains("gripper opening"));
        assert!(gate.check_plan(&ExecutionPlan { items: vec![] }, &rest).is_err());
    }
}
