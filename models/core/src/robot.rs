//! Robot models: the kinematic chain, joint limits, procedural link geometry, built-in arms,
//! forward/inverse kinematics and the trajectory safety checks the command layer enforces.
//!
//! Everything here is a pure function over `&Robot` and a joint vector; nothing holds a mutable chain.

mod builtin;
// Matrix code indexes rows and columns as the maths does; iterator rewrites read worse.
#[allow(clippy::needless_range_loop)]
mod ik;
#[allow(clippy::needless_range_loop)]
mod kinematics;
#[allow(clippy::needless_range_loop)]
mod linalg;
mod model;
mod safety;
mod urdf;
mod warnings;

pub use builtin::{BuiltinRobot, panda, rm75};
pub use ik::{IkError, IkOptions, IkSolution, solve_ik};
pub use kinematics::{Jacobian, KinematicsError, Pose, fk, fk_frames, jacobian, manipulability, pose_error};
pub use model::{Joint, JointKind, JointLimits, LinkShape, Robot, RobotError};
pub use safety::{CheckReport, SafetyLimits, Trajectory, Violation, ViolationKind, Workspace, check_trajectory};
pub use urdf::{LinkVisual, LoadedUrdf, TriangleMesh, UrdfError, UrdfOptions, VisualGeometry, load_urdf};
pub use warnings::{LARGE_SWING_RAD, NEAR_LIMIT_RAD, SMALL_MOTION_M, SMALL_TURN_RAD, trajectory_warnings};
