//! Warnings about a trajectory that passes every check but deserves a second look before it is approved: a joint
//! that comes close to (or ends at) a limit, a joint that swings far for a small motion of the flange (an elbow or
//! wrist flip the operator did not ask for), and a plan that passes only because it was slowed down. The panes list
//! them with the margins, and a review with warnings cannot be approved until the operator acknowledges them.

use super::{Robot, Trajectory, fk};

/// A joint within this much (rad, 5°) of a limit is worth a warning.
pub const NEAR_LIMIT_RAD: f64 = 5.0 * std::f64::consts::PI / 180.0;
/// A joint travelling more than this (rad, 45°)…
pub const LARGE_SWING_RAD: f64 = 45.0 * std::f64::consts::PI / 180.0;
/// …while the flange ends less than this (m) from where it started…
pub const SMALL_MOTION_M: f64 = 0.15;
/// …and turned less than this (rad, 30°) is a warning.
pub const SMALL_TURN_RAD: f64 = 30.0 * std::f64::consts::PI / 180.0;

/// The warnings for `trajectory` on `robot`; `slowdown` is how much it was stretched in time to meet the velocity
/// and acceleration limits at the chosen scaling (1: not at all).
#[must_use]
pub fn trajectory_warnings(robot: &Robot, trajectory: &Trajectory, slowdown: f64) -> Vec<String> {
    let mut warnings = Vec::new();
    let Some(first) = trajectory.joints.first() else { return warnings };
    for (j, joint) in robot.joints.iter().enumerate() {
        let values = trajectory.joints.iter().filter_map(|q| q.get(j).copied());
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if !(min.is_finite() && max.is_finite()) {
            continue;
        }
        let (lower, upper) = (joint.limits.lower, joint.limits.upper);
        for (margin, side) in [(min - lower, "lower"), (upper - max, "upper")] {
            if margin < NEAR_LIMIT_RAD {
                let degrees = margin.max(0.0).to_degrees();
                warnings.push(if degrees < 0.05 {
                    format!("joint {} reaches its {side} limit", j + 1)
                } else {
                    format!("joint {} comes within {degrees:.1}° of its {side} limit", j + 1)
                });
            }
        }
    }
    // Where the flange ends up against where it starts (translation and rotation), against each joint's travel: a
    // joint that swings far for a motion that barely changes the flange's pose is a flip the operator did not ask
    // for (a rotation about the flange's axis turns the flange, so it is not one).
    let ends = (fk(robot, first), trajectory.joints.last().map(|q| fk(robot, q)));
    if let (Ok(start), Some(Ok(end))) = ends {
        let moved_m = end.position_m.distance(start.position_m);
        let turned = start.rotation.angle_between(end.rotation);
        if moved_m < SMALL_MOTION_M && turned < SMALL_TURN_RAD {
            for j in 0..robot.joints.len() {
                let values = trajectory.joints.iter().filter_map(|q| q.get(j).copied());
                let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
                let travel = max - min;
                if travel > LARGE_SWING_RAD {
                    warnings.push(format!(
                        "joint {} swings {:.0}° for a {:.0} cm, {:.0}° change of the flange (an elbow or wrist flip?)",
                        j + 1,
                        travel.to_degrees(),
                        moved_m * 100.0,
                        turned.to_degrees()
                    ));
                }
            }
        }
    }
    if slowdown > 1.0 + 1e-6 {
        warnings.push(format!(
            "it passes the checks only because it was slowed {slowdown:.1}× at this velocity scaling: as planned, a \
             joint would exceed its velocity or acceleration limit"
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trajectory(robot: &Robot, change: impl Fn(usize, f64, &mut Vec<f64>)) -> Trajectory {
        let joints = (0..=20)
            .map(|k| {
                let mut q = robot.rest_pose.clone();
                change(k, f64::from(k as u32) / 20.0, &mut q);
                q
            })
            .collect();
        Trajectory { dt_s: 0.05, joints }
    }

    #[test]
    fn near_limits_flips_and_slowdowns_are_warned_and_a_plain_move_is_not() {
        let robot = crate::robot::panda();
        // A small move well inside the limits: nothing to say.
        let plain = trajectory(&robot, |_, s, q| q[1] += 0.1 * s);
        assert_eq!(trajectory_warnings(&robot, &plain, 1.0), Vec::<String>::new());
        // Joint 7 ends exactly at its upper limit.
        let upper = robot.joints[6].limits.upper;
        let at_limit = trajectory(&robot, |_, s, q| q[6] += s * (upper - q[6]));
        let warnings = trajectory_warnings(&robot, &at_limit, 1.0);
        assert!(warnings.iter().any(|w| w == "joint 7 reaches its upper limit"), "{warnings:?}");
        // Joint 1 swings 92° and back: the flange ends where it started.
        let swing = trajectory(&robot, |k, _, q| q[0] += 1.6 * (std::f64::consts::PI * k as f64 / 20.0).sin());
        let warnings = trajectory_warnings(&robot, &swing, 1.0);
        assert!(warnings.iter().any(|w| w.starts_with("joint 1 swings 92° for a 0 cm, 0° change")), "{warnings:?}");
        // Turning the flange 90° about its axis is what it looks like: no warning.
        let turn = trajectory(&robot, |_, s, q| q[6] += 1.57 * s);
        assert_eq!(trajectory_warnings(&robot, &turn, 1.0), Vec::<String>::new());
        // Slowed down to pass.
        let warnings = trajectory_warnings(&robot, &plain, 2.5);
        assert!(warnings.iter().any(|w| w.contains("slowed 2.5×")), "{warnings:?}");
    }
}
