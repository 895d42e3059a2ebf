//! The built-in arms, from the kinematic facts in `shared/reference/robots.md`.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
use std::str::FromStr;

use glam::{DAffine3, DVec3};

use super::model::{Joint, JointKind, JointLimits, Robot};

/// Arms KineDesk knows without a URDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BuiltinRobot {
    /// Franka Emika Panda (the Kine-LIBERO / LIBERO arm).
    Panda,
    /// Realman RM75 (the Kine-Realman-75 arm).
    Rm75,
}

impl BuiltinRobot {
    pub const ALL: [Self; 2] = [Self::Panda, Self::Rm75];

    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::Panda => "panda",
            Self::Rm75 => "rm75",
        }
    }

    #[must_use]
    pub fn robot(self) -> Robot {
        match self {
            Self::Panda => panda(),
            Self::Rm75 => rm75(),
        }
    }
}

impl FromStr for BuiltinRobot {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "panda" | "franka" | "franka-panda" | "fr3" => Ok(Self::Panda),
            "rm75" | "realman" | "realman-rm75" | "rm-75" => Ok(Self::Rm75),
            other => Err(format!("unknown built-in robot {other:?}; known: panda, rm75 (or give a URDF path)")),
        }
    }
}

/// Modified (Craig) DH: `T = RotX(alpha) · TransX(a) · RotZ(theta) · TransZ(d)`.
/// `RotZ(theta)` and `TransZ(d)` commute, so the fixed part is `RotX(alpha) · TransX(a) · TransZ(d)`
/// and the joint rotates about its local Z.
fn mdh_origin(a: f64, d: f64, alpha: f64) -> DAffine3 {
    DAffine3::from_rotation_x(alpha) * DAffine3::from_translation(DVec3::new(a, 0.0, d))
}

struct DhRow {
    a: f64,
    d: f64,
    alpha: f64,
    lower: f64,
    upper: f64,
    velocity: f64,
    acceleration: f64,
}

fn dh_robot(name: &str, rows: &[DhRow], flange_d: f64, rest_pose: Vec<f64>) -> Robot {
    let joints = rows
        .iter()
        .enumerate()
        .map(|(index, row)| Joint {
            name: format!("joint{}", index + 1),
            kind: JointKind::Revolute,
            origin: mdh_origin(row.a, row.d, row.alpha),
            axis: DVec3::Z,
            limits: JointLimits {
                lower: row.lower,
                upper: row.upper,
                velocity: row.velocity,
                acceleration: row.acceleration,
            },
        })
        .collect();
    let tool = DAffine3::from_translation(DVec3::new(0.0, 0.0, flange_d));
    Robot::new(name, DAffine3::IDENTITY, joints, tool, rest_pose).expect("built-in robot tables are valid")
}

/// Franka Emika Panda: modified DH table, joint position and velocity limits from the reference;
/// acceleration limits from Franka's published datasheet (15, 7.5, 10, 12.5, 15, 20, 20 rad/s²).
/// Rest pose: the common "ready" pose.
#[must_use]
pub fn panda() -> Robot {
    let rows = [
        DhRow { a: 0.0, d: 0.333, alpha: 0.0, lower: -2.8973, upper: 2.8973, velocity: 2.175, acceleration: 15.0 },
        DhRow { a: 0.0, d: 0.0, alpha: -FRAC_PI_2, lower: -1.7628, upper: 1.7628, velocity: 2.175, acceleration: 7.5 },
        DhRow {
            a: 0.0,
            d: 0.316,
            alpha: FRAC_PI_2,
            lower: -2.8973,
            upper: 2.8973,
            velocity: 2.175,
            acceleration: 10.0,
        },
        DhRow {
            a: 0.0825,
            d: 0.0,
            alpha: FRAC_PI_2,
            lower: -3.0718,
            upper: -0.0698,
            velocity: 2.175,
            acceleration: 12.5,
        },
        DhRow {
            a: -0.0825,
            d: 0.384,
            alpha: -FRAC_PI_2,
            lower: -2.8973,
            upper: 2.8973,
            velocity: 2.61,
            acceleration: 15.0,
        },
        DhRow { a: 0.0, d: 0.0, alpha: FRAC_PI_2, lower: -0.0175, upper: 3.7525, velocity: 2.61, acceleration: 20.0 },
        DhRow { a: 0.088, d: 0.0, alpha: FRAC_PI_2, lower: -2.8973, upper: 2.8973, velocity: 2.61, acceleration: 20.0 },
    ];
    dh_robot("panda", &rows, 0.107, vec![0.0, -FRAC_PI_4, 0.0, -3.0 * FRAC_PI_4, 0.0, FRAC_PI_2, FRAC_PI_4])
}

/// Realman RM75: 7 revolute joints in a shoulder–elbow–wrist layout with the public link offsets
/// (0.2405 m base to shoulder, 0.256 m, 0.210 m, 0.144 m to the flange) and the public URDF's position limits.
/// The reference gives no velocity or acceleration limits; 180°/s (the controller's pass-through limit) and
/// a conservative 5 rad/s² are used. The modified-DH axes follow the Panda's alternation without its offsets.
#[must_use]
pub fn rm75() -> Robot {
    let deg = PI / 180.0;
    let v = 180.0 * deg;
    let acc = 5.0;
    let row = |d: f64, alpha: f64, limit_deg: f64| DhRow {
        a: 0.0,
        d,
        alpha,
        lower: -limit_deg * deg,
        upper: limit_deg * deg,
        velocity: v,
        acceleration: acc,
    };
    let rows = [
        row(0.2405, 0.0, 178.0),
        row(0.0, -FRAC_PI_2, 130.0),
        row(0.256, FRAC_PI_2, 178.0),
        row(0.0, -FRAC_PI_2, 135.0),
        row(0.210, FRAC_PI_2, 178.0),
        row(0.0, -FRAC_PI_2, 128.0),
        row(0.0, FRAC_PI_2, 360.0),
    ];
    dh_robot("rm75", &rows, 0.144, RM75_REST_POSE.to_vec())
}

/// RM75 posture with the flange 0.35 m in front of the base and 0.35 m up, pointing down
/// (found with `kinedesk ik --robot rm75 --position 0.35,0,0.35 --quaternion-xyzw 0,1,0,0`).
const RM75_REST_POSE: [f64; 7] = [0.0, 0.5984, 0.0, 0.7712, 0.0, 1.772, 0.0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!("Panda".parse::<BuiltinRobot>(), Ok(BuiltinRobot::Panda));
        assert_eq!("realman-rm75".parse::<BuiltinRobot>(), Ok(BuiltinRobot::Rm75));
        assert!("ur5".parse::<BuiltinRobot>().unwrap_err().contains("unknown built-in robot"));
    }

    #[test]
    fn the_rm75_rest_pose_holds_the_flange_down_in_front() {
        let robot = rm75();
        let pose = crate::robot::fk(&robot, &robot.rest_pose).unwrap();
        assert!((pose.position_m - DVec3::new(0.35, 0.0, 0.35)).length() < 1e-3, "{:?}", pose.position_m);
        assert!((pose.rotation * DVec3::Z).dot(-DVec3::Z) > 0.999);
    }

    #[test]
    fn built_in_robots_have_seven_joints_and_rest_poses_within_limits() {
        for kind in BuiltinRobot::ALL {
            let robot = kind.robot();
            assert_eq!(robot.dof(), 7, "{}", kind.id());
            for (q, joint) in robot.rest_pose.iter().zip(&robot.joints) {
                assert!(joint.limits.contains(*q), "{} {} rest {q}", kind.id(), joint.name);
            }
        }
    }
}
