//! The kinematic chain and its limits.

use glam::{DAffine3, DVec3};

/// How a joint moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum JointKind {
    /// Rotation about `axis` by `q` radians.
    Revolute,
    /// Translation along `axis` by `q` metres.
    Prismatic,
}

/// Limits of one joint, in radians (metres for prismatic joints) and seconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JointLimits {
    pub lower: f64,
    pub upper: f64,
    pub velocity: f64,
    pub acceleration: f64,
}

impl JointLimits {
    #[must_use]
    pub fn contains(&self, q: f64) -> bool {
        (self.lower..=self.upper).contains(&q)
    }

    #[must_use]
    pub fn clamp(&self, q: f64) -> f64 {
        q.clamp(self.lower, self.upper)
    }

    #[must_use]
    pub fn mid(&self) -> f64 {
        0.5 * (self.lower + self.upper)
    }
}

/// Procedural geometry of a link, in the link's own frame, used when no meshes are available.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkShape {
    /// Segment the capsule follows, in the link frame.
    pub from: DVec3,
    pub to: DVec3,
    pub radius_m: f64,
}

/// One actuated joint: a fixed transform from the previous link, then motion about/along `axis`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Joint {
    pub name: String,
    pub kind: JointKind,
    /// Fixed transform from the previous link's frame to this joint's frame (before its motion).
    pub origin: DAffine3,
    /// Unit axis in the joint's frame.
    pub axis: DVec3,
    pub limits: JointLimits,
}

/// Why a robot description is not usable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RobotError {
    #[error("robot has no actuated joints")]
    NoJoints,
    #[error("joint {joint} ({name}) has a zero-length axis")]
    ZeroAxis { joint: usize, name: String },
    #[error("joint {joint} ({name}) has lower limit {lower} above upper limit {upper}")]
    InvertedLimits { joint: usize, name: String, lower: f64, upper: f64 },
    #[error("joint {joint} ({name}) has a non-positive velocity or acceleration limit")]
    BadRateLimit { joint: usize, name: String },
    #[error("rest pose has {got} values for {expected} joints")]
    RestPoseLength { expected: usize, got: usize },
}

/// A serial arm: base transform, joints, flange (tool) transform, rest pose and link geometry.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Robot {
    pub name: String,
    /// World → first joint's parent frame.
    pub base: DAffine3,
    pub joints: Vec<Joint>,
    /// Last joint's frame → flange.
    pub tool: DAffine3,
    /// Preferred posture, used by IK's null-space term and as the default start.
    pub rest_pose: Vec<f64>,
    /// Geometry per link: index 0 is the base link, index `i + 1` moves with joint `i`.
    pub link_shapes: Vec<Vec<LinkShape>>,
}

impl Robot {
    /// Builds a robot and checks it: axes non-zero, limits ordered, rates positive, rest pose sized.
    /// Link geometry is derived from the chain (a capsule from each joint to the next).
    pub fn new(
        name: impl Into<String>,
        base: DAffine3,
        mut joints: Vec<Joint>,
        tool: DAffine3,
        rest_pose: Vec<f64>,
    ) -> Result<Self, RobotError> {
        if joints.is_empty() {
            return Err(RobotError::NoJoints);
        }
        for (index, joint) in joints.iter_mut().enumerate() {
            let length = joint.axis.length();
            if length < 1e-12 || !length.is_finite() {
                return Err(RobotError::ZeroAxis { joint: index, name: joint.name.clone() });
            }
            joint.axis /= length;
            let limits = joint.limits;
            if limits.lower > limits.upper || !limits.lower.is_finite() || !limits.upper.is_finite() {
                return Err(RobotError::InvertedLimits {
                    joint: index,
                    name: joint.name.clone(),
                    lower: limits.lower,
                    upper: limits.upper,
                });
            }
            if limits.velocity <= 0.0 || limits.acceleration <= 0.0 {
                return Err(RobotError::BadRateLimit { joint: index, name: joint.name.clone() });
            }
        }
        if rest_pose.len() != joints.len() {
            return Err(RobotError::RestPoseLength { expected: joints.len(), got: rest_pose.len() });
        }
        let link_shapes = procedural_shapes(&joints, tool);
        Ok(Self { name: name.into(), base, joints, tool, rest_pose, link_shapes })
    }

    #[must_use]
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// Sum of the distances between consecutive joint origins and the flange: an upper bound on reach.
    #[must_use]
    pub fn reach_m(&self) -> f64 {
        self.joints.iter().skip(1).map(|joint| joint.origin.translation.length()).sum::<f64>()
            + self.tool.translation.length()
    }

    /// Clamps every joint into its limits.
    #[must_use]
    pub fn clamp_to_limits(&self, q: &[f64]) -> Vec<f64> {
        q.iter().zip(&self.joints).map(|(value, joint)| joint.limits.clamp(*value)).collect()
    }
}

/// One capsule per link from its joint to the next joint (or the flange); radius shrinks toward the wrist.
fn procedural_shapes(joints: &[Joint], tool: DAffine3) -> Vec<Vec<LinkShape>> {
    let n = joints.len();
    let radius = |index: usize| 0.06 - 0.025 * (index as f64 / n.max(1) as f64);
    let mut shapes = Vec::with_capacity(n + 1);
    shapes.push(vec![LinkShape { from: DVec3::ZERO, to: joints[0].origin.translation, radius_m: 0.07 }]);
    for index in 0..n {
        let next = joints.get(index + 1).map_or(tool.translation, |joint| joint.origin.translation);
        let mut link = Vec::new();
        if next.length() > 1e-6 {
            link.push(LinkShape { from: DVec3::ZERO, to: next, radius_m: radius(index) });
        } else {
            // Co-located joints (a spherical wrist): a small sphere marks the joint.
            link.push(LinkShape { from: DVec3::ZERO, to: DVec3::ZERO, radius_m: radius(index) });
        }
        shapes.push(link);
    }
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joint(axis: DVec3, lower: f64, upper: f64) -> Joint {
        Joint {
            name: "j".into(),
            kind: JointKind::Revolute,
            origin: DAffine3::from_translation(DVec3::Z * 0.1),
            axis,
            limits: JointLimits { lower, upper, velocity: 1.0, acceleration: 1.0 },
        }
    }

    #[test]
    fn bad_descriptions_are_rejected_with_the_joint_named() {
        let ok = Robot::new("r", DAffine3::IDENTITY, vec![joint(DVec3::Z, -1.0, 1.0)], DAffine3::IDENTITY, vec![0.0]);
        assert!(ok.is_ok());
        let zero =
            Robot::new("r", DAffine3::IDENTITY, vec![joint(DVec3::ZERO, -1.0, 1.0)], DAffine3::IDENTITY, vec![0.0]);
        assert_eq!(zero.unwrap_err(), RobotError::ZeroAxis { joint: 0, name: "j".into() });
        let inverted =
            Robot::new("r", DAffine3::IDENTITY, vec![joint(DVec3::Z, 1.0, -1.0)], DAffine3::IDENTITY, vec![0.0]);
        assert!(matches!(inverted, Err(RobotError::InvertedLimits { joint: 0, .. })));
        let rest = Robot::new("r", DAffine3::IDENTITY, vec![joint(DVec3::Z, -1.0, 1.0)], DAffine3::IDENTITY, vec![]);
        assert_eq!(rest.unwrap_err(), RobotError::RestPoseLength { expected: 1, got: 0 });
        assert_eq!(
            Robot::new("r", DAffine3::IDENTITY, vec![], DAffine3::IDENTITY, vec![]).unwrap_err(),
            RobotError::NoJoints
        );
    }

    #[test]
    fn axes_are_normalised() {
        let robot =
            Robot::new("r", DAffine3::IDENTITY, vec![joint(DVec3::Z * 3.0, -1.0, 1.0)], DAffine3::IDENTITY, vec![0.0])
                .unwrap();
        assert!((robot.joints[0].axis.length() - 1.0).abs() < 1e-12);
        assert_eq!(robot.link_shapes.len(), 2);
    }
}
