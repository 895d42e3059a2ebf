//! Trajectory checks: what the Send command requires and every robot driver re-checks before writing.
//!
//! Each violation names the check, the time step (and joint where there is one), the value found, the limit and by
//! how much it was exceeded, so the operator sees exactly what is wrong.

use std::fmt;

use glam::DVec3;

use super::kinematics::{KinematicsError, fk_frames, manipulability};
use super::model::Robot;

/// A time-parameterised joint trajectory: `joints[k]` is the configuration at `k · dt_s`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trajectory {
    pub dt_s: f64,
    pub joints: Vec<Vec<f64>>,
}

/// An axis-aligned box in the base frame that the flange must stay inside.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Workspace {
    pub min_m: DVec3,
    pub max_m: DVec3,
}

impl Workspace {
    /// A box sized to the robot's reach, from 5 cm below the base plane upward.
    #[must_use]
    pub fn around(robot: &Robot) -> Self {
        let reach = robot.reach_m();
        let shoulder = robot.joints[0].origin.translation.z;
        Self { min_m: DVec3::new(-reach, -reach, -0.05), max_m: DVec3::new(reach, reach, shoulder + reach) }
    }

    #[must_use]
    pub fn contains(&self, point: DVec3) -> bool {
        point.cmpge(self.min_m).all() && point.cmple(self.max_m).all()
    }

    /// How far outside the box `point` is (0 inside).
    #[must_use]
    pub fn distance_outside(&self, point: DVec3) -> f64 {
        let below = (self.min_m - point).max(DVec3::ZERO);
        let above = (point - self.max_m).max(DVec3::ZERO);
        (below + above).length()
    }
}

/// The limits a trajectory is checked against.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SafetyLimits {
    /// Fraction of each joint's velocity limit allowed (e.g. 0.25 for 25 % speed).
    pub velocity_scale: f64,
    /// Fraction of each joint's acceleration limit allowed.
    pub acceleration_scale: f64,
    /// Largest change of any joint between consecutive steps (rad).
    pub max_step_rad: f64,
    pub workspace: Workspace,
    /// Smallest allowed manipulability `sqrt(det(J Jᵀ))`; below it the arm is too close to a singularity.
    pub min_manipulability: f64,
    /// The time step must lie within these (s): drivers sample a trajectory at it.
    #[serde(default = "default_dt_range")]
    pub dt_range_s: (f64, f64),
    /// The longest trajectory (s) and the most samples a trajectory may have.
    #[serde(default = "default_max_duration")]
    pub max_duration_s: f64,
    #[serde(default = "default_max_samples")]
    pub max_samples: usize,
}

/// Time steps from 1 ms (a 1 kHz controller) to 2 s (a plan slowed down twentyfold).
pub const DT_RANGE_S: (f64, f64) = (0.001, 2.0);
/// Ten minutes of motion in one trajectory.
pub const MAX_DURATION_S: f64 = 600.0;
/// Ten minutes at 1 kHz.
pub const MAX_SAMPLES: usize = 600_000;

fn default_dt_range() -> (f64, f64) {
    DT_RANGE_S
}

fn default_max_duration() -> f64 {
    MAX_DURATION_S
}

fn default_max_samples() -> usize {
    MAX_SAMPLES
}

impl SafetyLimits {
    /// Defaults for `robot`: full rated speed and acceleration, 10° per step (the Realman pass-through limit),
    /// a workspace box around its reach, and a singularity threshold of 1 % of its rest-pose manipulability.
    #[must_use]
    pub fn for_robot(robot: &Robot) -> Self {
        let rest = manipulability(robot, &robot.rest_pose).unwrap_or(0.0);
        Self {
            velocity_scale: 1.0,
            acceleration_scale: 1.0,
            max_step_rad: 10f64.to_radians(),
            workspace: Workspace::around(robot),
            min_manipulability: 0.01 * rest,
            dt_range_s: DT_RANGE_S,
            max_duration_s: MAX_DURATION_S,
            max_samples: MAX_SAMPLES,
        }
    }
}

/// Which check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    JointPosition,
    JointVelocity,
    JointAcceleration,
    StepJump,
    Workspace,
    Singularity,
    /// The flange could not follow the planned Cartesian path there (inverse kinematics found no solution).
    Unreachable,
    /// The trajectory itself is malformed (wrong joint count, non-finite values, bad time step).
    Malformed,
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub step: usize,
    pub time_s: f64,
    /// Joint index (0-based) where the check is per joint.
    pub joint: Option<usize>,
    pub value: f64,
    pub limit: f64,
    /// How far past the limit (always positive).
    pub excess: f64,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of checking a trajectory.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    pub ok: bool,
    pub violations: Vec<Violation>,
}

impl CheckReport {
    /// Violations on one joint at one step, e.g. to colour a link red in the ghost preview.
    pub fn at_step(&self, step: usize) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |violation| violation.step == step)
    }
}

/// Collects violations, stamping each with its time.
struct Recorder {
    violations: Vec<Violation>,
    dt_s: f64,
}

impl Recorder {
    /// Records one violation; `describe` gets the time in seconds and writes the operator's message.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        kind: ViolationKind,
        step: usize,
        joint: Option<usize>,
        value: f64,
        limit: f64,
        excess: f64,
        describe: impl FnOnce(f64) -> String,
    ) {
        let time_s = step as f64 * self.dt_s;
        let message = describe(time_s);
        self.violations.push(Violation { kind, step, time_s, joint, value, limit, excess, message });
    }

    /// Records a value past a limit: "step 7 (t = 0.350 s): joint 4 velocity 2.6 rad/s exceeds the limit …".
    #[allow(clippy::too_many_arguments)]
    fn exceeds(
        &mut self,
        kind: ViolationKind,
        step: usize,
        joint: Option<usize>,
        value: f64,
        limit: f64,
        what: &str,
        unit: &str,
    ) {
        // Position limits are signed bounds; the rate limits bound a magnitude.
        let excess =
            if kind == ViolationKind::JointPosition { (value - limit).abs() } else { value.abs() - limit.abs() };
        let subject = joint.map_or_else(String::new, |j| format!("joint {} ", j + 1));
        self.record(kind, step, joint, value, limit, excess, |time_s| {
            format!(
                "step {step} (t = {time_s:.3} s): {subject}{what} {value:.4} {unit} exceeds the limit {limit:.4} {unit} by {excess:.4} {unit}"
            )
        });
    }

    fn malformed(&mut self, step: usize, message: String) {
        self.record(ViolationKind::Malformed, step, None, 0.0, 0.0, 0.0, |_| message);
    }
}

/// Checks joint positions, velocities, accelerations, per-step jumps, the workspace box and singularity proximity.
/// An empty trajectory, a non-positive `dt_s` or a wrong joint count is reported as [`ViolationKind::Malformed`].
#[must_use]
pub fn check_trajectory(robot: &Robot, trajectory: &Trajectory, limits: &SafetyLimits) -> CheckReport {
    let dt = trajectory.dt_s;
    let mut recorder = Recorder { violations: Vec::new(), dt_s: if dt.is_finite() { dt.max(0.0) } else { 0.0 } };
    let finish =
        |recorder: Recorder| CheckReport { ok: recorder.violations.is_empty(), violations: recorder.violations };
    let (shortest, longest) = limits.dt_range_s;
    if !(dt.is_finite() && dt >= shortest && dt <= longest) {
        recorder.malformed(0, format!("time step dt_s = {dt} s is outside {shortest}–{longest} s"));
        return finish(recorder);
    }
    if trajectory.joints.is_empty() {
        recorder.malformed(0, "the trajectory has no steps".to_owned());
        return finish(recorder);
    }
    let duration = dt * trajectory.joints.len().saturating_sub(1) as f64;
    if trajectory.joints.len() > limits.max_samples || duration > limits.max_duration_s {
        recorder.malformed(
            0,
            format!(
                "{} samples over {duration:.1} s is more than a trajectory may hold ({} samples, {} s)",
                trajectory.joints.len(),
                limits.max_samples,
                limits.max_duration_s
            ),
        );
        return finish(recorder);
    }
    for (step, q) in trajectory.joints.iter().enumerate() {
        if let Err(error) = fk_frames(robot, q) {
            let message = match error {
                KinematicsError::WrongJointCount { expected, got, .. } => {
                    format!("step {step}: {got} joint values for a {expected}-joint robot")
                }
                KinematicsError::NotFinite { index } => {
                    format!("step {step}: joint {} is not a finite number", index + 1)
                }
            };
            recorder.malformed(step, message);
        }
    }
    if !recorder.violations.is_empty() {
        return finish(recorder);
    }

    let steps = &trajectory.joints;
    for (step, q) in steps.iter().enumerate() {
        for (j, (value, joint)) in q.iter().zip(&robot.joints).enumerate() {
            if *value < joint.limits.lower {
                recorder.exceeds(
                    ViolationKind::JointPosition,
                    step,
                    Some(j),
                    *value,
                    joint.limits.lower,
                    "position",
                    "rad",
                );
            } else if *value > joint.limits.upper {
                recorder.exceeds(
                    ViolationKind::JointPosition,
                    step,
                    Some(j),
                    *value,
                    joint.limits.upper,
                    "position",
                    "rad",
                );
            }
        }
        if step > 0 {
            let previous = &steps[step - 1];
            for (j, ((now, before), joint)) in q.iter().zip(previous).zip(&robot.joints).enumerate() {
                let jump = now - before;
                if jump.abs() > limits.max_step_rad {
                    recorder.exceeds(
                        ViolationKind::StepJump,
                        step,
                        Some(j),
                        jump,
                        limits.max_step_rad,
                        "step change",
                        "rad",
                    );
                }
                let velocity = jump / dt;
                let velocity_limit = joint.limits.velocity * limits.velocity_scale;
                if velocity.abs() > velocity_limit {
                    recorder.exceeds(
                        ViolationKind::JointVelocity,
                        step,
                        Some(j),
                        velocity,
                        velocity_limit,
                        "velocity",
                        "rad/s",
                    );
                }
            }
        }
        // The arm starts and ends at rest: before the first sample and after the last it holds still, so a
        // trajectory that starts (or stops) moving at full speed in one step is an acceleration violation too.
        if steps.len() > 1 {
            let before = &steps[step.saturating_sub(1)];
            let after = &steps[(step + 1).min(steps.len() - 1)];
            for (j, joint) in robot.joints.iter().enumerate() {
                let acceleration = (after[j] - 2.0 * q[j] + before[j]) / (dt * dt);
                let limit = joint.limits.acceleration * limits.acceleration_scale;
                if acceleration.abs() > limit {
                    recorder.exceeds(
                        ViolationKind::JointAcceleration,
                        step,
                        Some(j),
                        acceleration,
                        limit,
                        "acceleration",
                        "rad/s²",
                    );
                }
            }
        }
        if let Ok(frames) = fk_frames(robot, q) {
            let flange = frames[frames.len() - 1].translation;
            let outside = limits.workspace.distance_outside(flange);
            if outside > 0.0 {
                recorder.record(ViolationKind::Workspace, step, None, outside, 0.0, outside, |time_s| {
                    format!(
                        "step {step} (t = {time_s:.3} s): flange at ({:.3}, {:.3}, {:.3}) m is {outside:.4} m outside the workspace box",
                        flange.x, flange.y, flange.z
                    )
                });
            }
        }
        if let Ok(m) = manipulability(robot, q)
            && m < limits.min_manipulability
        {
            let minimum = limits.min_manipulability;
            recorder.record(ViolationKind::Singularity, step, None, m, minimum, minimum - m, |time_s| {
                format!("step {step} (t = {time_s:.3} s): too close to a singularity (manipulability {m:.5}, minimum {minimum:.5})")
            });
        }
    }
    finish(recorder)
}

#[cfg(test)]
mod tests {
    use super::super::builtin::panda;
    use super::*;

    fn smooth_trajectory(robot: &Robot) -> Trajectory {
        let start = robot.rest_pose.clone();
        let joints = (0..=50)
            .map(|k| {
                let s = k as f64 / 50.0;
                let blend = 3.0 * s * s - 2.0 * s * s * s;
                start.iter().enumerate().map(|(j, q)| if j == 0 { q + 0.5 * blend } else { *q }).collect()
            })
            .collect();
        Trajectory { dt_s: 0.05, joints }
    }

    #[test]
    fn a_smooth_trajectory_passes() {
        let robot = panda();
        let report = check_trajectory(&robot, &smooth_trajectory(&robot), &SafetyLimits::for_robot(&robot));
        assert!(report.ok, "{:#?}", report.violations);
    }

    #[test]
    fn each_violation_names_its_step_joint_and_amount() {
        let robot = panda();
        let limits = SafetyLimits::for_robot(&robot);
        let mut trajectory = smooth_trajectory(&robot);
        // Joint 4 pushed past its upper limit (-0.0698) at step 10.
        trajectory.joints[10][3] = 0.1;
        let report = check_trajectory(&robot, &trajectory, &limits);
        assert!(!report.ok);
        let position = report.violations.iter().find(|v| v.kind == ViolationKind::JointPosition).unwrap();
        assert_eq!((position.step, position.joint), (10, Some(3)));
        assert!((position.excess - 0.1698).abs() < 1e-9);
        assert!(position.message.contains("joint 4") && position.message.contains("step 10"), "{}", position.message);
        // The same spike is also a jump, a velocity and an acceleration violation.
        for kind in [ViolationKind::StepJump, ViolationKind::JointVelocity, ViolationKind::JointAcceleration] {
            assert!(report.violations.iter().any(|v| v.kind == kind && v.joint == Some(3)), "{kind:?}");
        }
    }

    #[test]
    fn time_steps_and_lengths_outside_the_limits_are_refused_before_anything_else() {
        let robot = panda();
        let limits = SafetyLimits::for_robot(&robot);
        let rest = robot.rest_pose.clone();
        for dt_s in [1e-30, 1e-4, 2.5, 1e9, 1e300, f64::INFINITY, f64::NAN, -0.01, 0.0] {
            let report = check_trajectory(&robot, &Trajectory { dt_s, joints: vec![rest.clone(); 3] }, &limits);
            assert!(!report.ok && report.violations[0].kind == ViolationKind::Malformed, "dt {dt_s}");
        }
        let long = Trajectory { dt_s: 0.5, joints: vec![rest.clone(); 1300] };
        assert!(check_trajectory(&robot, &long, &limits).violations[0].message.contains("more than a trajectory"));
        assert!(check_trajectory(&robot, &Trajectory { dt_s: 0.5, joints: vec![rest; 10] }, &limits).ok);
    }

    #[test]
    fn a_velocity_step_from_rest_or_to_rest_is_an_acceleration_violation() {
        // Two samples 60 ms apart: from rest to 2.83 rad/s in one step (the RM75 allows 5 rad/s²).
        let robot = crate::robot::rm75();
        let q0 = vec![0.0, 0.5984, 0.0, 0.7712, 0.0, 1.772, 0.0];
        let mut q1 = q0.clone();
        q1[0] = 0.17;
        let report = check_trajectory(
            &robot,
            &Trajectory { dt_s: 0.06, joints: vec![q0, q1] },
            &SafetyLimits::for_robot(&robot),
        );
        assert!(!report.ok);
        let kinds: Vec<_> = report.violations.iter().map(|v| (v.kind, v.step)).collect();
        assert!(kinds.contains(&(ViolationKind::JointAcceleration, 0)), "starting from rest: {kinds:?}");
        assert!(kinds.contains(&(ViolationKind::JointAcceleration, 1)), "coming to rest: {kinds:?}");
        // Easing in and out passes.
        let eased: Vec<Vec<f64>> = (0..=60)
            .map(|k| {
                let s = f64::from(k) / 60.0;
                let mut q = vec![0.0, 0.5984, 0.0, 0.7712, 0.0, 1.772, 0.0];
                q[0] = 0.17 * s * s * (3.0 - 2.0 * s);
                q
            })
            .collect();
        let report =
            check_trajectory(&robot, &Trajectory { dt_s: 0.02, joints: eased }, &SafetyLimits::for_robot(&robot));
        assert!(report.ok, "{:?}", report.violations.first());
    }

    #[test]
    fn velocity_scaling_tightens_the_check() {
        let robot = panda();
        let trajectory = smooth_trajectory(&robot);
        let slow = SafetyLimits { velocity_scale: 0.01, ..SafetyLimits::for_robot(&robot) };
        let report = check_trajectory(&robot, &trajectory, &slow);
        assert!(report.violations.iter().all(|v| v.kind == ViolationKind::JointVelocity), "{:#?}", report.violations);
        assert!(!report.ok);
    }

    #[test]
    fn workspace_and_singularity_are_checked() {
        let robot = panda();
        let mut limits = SafetyLimits::for_robot(&robot);
        limits.workspace.max_m.z = 0.5;
        let trajectory = Trajectory { dt_s: 0.1, joints: vec![robot.rest_pose.clone()] };
        let report = check_trajectory(&robot, &trajectory, &limits);
        let outside = report.violations.iter().find(|v| v.kind == ViolationKind::Workspace).unwrap();
        assert!((outside.excess - 0.0903).abs() < 1e-3, "{}", outside.message);

        let stretched = vec![0.0, 0.0, 0.0, -0.0698, 0.0, 0.0, 0.0];
        let report = check_trajectory(
            &robot,
            &Trajectory { dt_s: 0.1, joints: vec![stretched] },
            &SafetyLimits::for_robot(&robot),
        );
        assert!(report.violations.iter().any(|v| v.kind == ViolationKind::Singularity), "{:#?}", report.violations);
    }

    #[test]
    fn malformed_trajectories_are_reported_not_panicked_on() {
        let robot = panda();
        let limits = SafetyLimits::for_robot(&robot);
        for trajectory in [
            Trajectory { dt_s: 0.0, joints: vec![robot.rest_pose.clone()] },
            Trajectory { dt_s: 0.1, joints: vec![] },
            Trajectory { dt_s: 0.1, joints: vec![vec![0.0; 3]] },
            Trajectory { dt_s: 0.1, joints: vec![vec![f64::NAN; 7]] },
        ] {
            let report = check_trajectory(&robot, &trajectory, &limits);
            assert!(!report.ok);
            assert_eq!(report.violations[0].kind, ViolationKind::Malformed, "{:?}", report.violations[0]);
        }
    }
}
