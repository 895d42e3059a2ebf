//! Forward kinematics, the geometric Jacobian and pose errors, as pure functions over `&Robot` and `&[f64]`.

use glam::{DAffine3, DQuat, DVec3};

use super::linalg::{Mat6, Vec6, cholesky6};
use super::model::{Joint, JointKind, Robot};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KinematicsError {
    #[error("{robot} has {expected} joints but {got} joint values were given")]
    WrongJointCount { robot: String, expected: usize, got: usize },
    #[error("joint value {index} is not a finite number")]
    NotFinite { index: usize },
}

/// A pose in the base frame: position in metres and orientation as a unit quaternion.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pose {
    pub position_m: DVec3,
    pub rotation: DQuat,
}

impl Pose {
    #[must_use]
    pub fn from_affine(transform: &DAffine3) -> Self {
        let (_, rotation, translation) = transform.to_scale_rotation_translation();
        Self { position_m: translation, rotation: rotation.normalize() }
    }

    #[must_use]
    pub fn to_affine(&self) -> DAffine3 {
        DAffine3::from_rotation_translation(self.rotation, self.position_m)
    }

    /// `[x, y, z, w]` with `w ≥ 0` (the same rotation has two quaternions; this picks one).
    #[must_use]
    pub fn quaternion_xyzw(&self) -> [f64; 4] {
        let q = if self.rotation.w < 0.0 { -self.rotation } else { self.rotation };
        [q.x, q.y, q.z, q.w]
    }
}

fn check_joints(robot: &Robot, q: &[f64]) -> Result<(), KinematicsError> {
    if q.len() != robot.joints.len() {
        return Err(KinematicsError::WrongJointCount {
            robot: robot.name.clone(),
            expected: robot.joints.len(),
            got: q.len(),
        });
    }
    if let Some(index) = q.iter().position(|value| !value.is_finite()) {
        return Err(KinematicsError::NotFinite { index });
    }
    Ok(())
}

/// Transform of a joint's frame relative to its parent, after moving it to `q`.
#[inline]
fn joint_transform(joint: &Joint, q: f64) -> DAffine3 {
    let motion = match joint.kind {
        JointKind::Revolute if joint.axis == DVec3::Z => DAffine3::from_rotation_z(q),
        JointKind::Revolute => DAffine3::from_axis_angle(joint.axis, q),
        JointKind::Prismatic => DAffine3::from_translation(joint.axis * q),
    };
    joint.origin * motion
}

/// Flange pose in the base frame.
pub fn fk(robot: &Robot, q: &[f64]) -> Result<Pose, KinematicsError> {
    check_joints(robot, q)?;
    let mut transform = robot.base;
    for (joint, value) in robot.joints.iter().zip(q) {
        transform *= joint_transform(joint, *value);
    }
    Ok(Pose::from_affine(&(transform * robot.tool)))
}

/// Every joint frame (after its motion) in the base frame, then the flange: `dof + 1` transforms.
pub fn fk_frames(robot: &Robot, q: &[f64]) -> Result<Vec<DAffine3>, KinematicsError> {
    let mut frames = Vec::with_capacity(robot.joints.len() + 1);
    fk_frames_into(robot, q, &mut frames)?;
    Ok(frames)
}

pub(crate) fn fk_frames_into(robot: &Robot, q: &[f64], frames: &mut Vec<DAffine3>) -> Result<(), KinematicsError> {
    check_joints(robot, q)?;
    frames.clear();
    let mut transform = robot.base;
    for (joint, value) in robot.joints.iter().zip(q) {
        transform *= joint_transform(joint, *value);
        frames.push(transform);
    }
    frames.push(transform * robot.tool);
    Ok(())
}

/// Geometric Jacobian of the flange in the base frame: one column per joint, `[v; ω]` (linear first).
#[derive(Clone, Debug, PartialEq)]
pub struct Jacobian {
    pub columns: Vec<Vec6>,
}

impl Jacobian {
    pub(crate) fn fill_from_frames(&mut self, robot: &Robot, frames: &[DAffine3]) {
        let flange = frames[frames.len() - 1].translation;
        self.columns.clear();
        for (joint, frame) in robot.joints.iter().zip(frames) {
            let axis = frame.matrix3 * joint.axis;
            let column = match joint.kind {
                JointKind::Revolute => {
                    let v = axis.cross(flange - frame.translation);
                    [v.x, v.y, v.z, axis.x, axis.y, axis.z]
                }
                JointKind::Prismatic => [axis.x, axis.y, axis.z, 0.0, 0.0, 0.0],
            };
            self.columns.push(column);
        }
    }

    /// `J Jᵀ + damping² I`.
    #[must_use]
    pub fn jjt_damped(&self, damping_sq: f64) -> Mat6 {
        let mut a = [[0.0; 6]; 6];
        for column in &self.columns {
            for i in 0..6 {
                for j in 0..=i {
                    a[i][j] += column[i] * column[j];
                }
            }
        }
        for i in 0..6 {
            a[i][i] += damping_sq;
            for j in 0..i {
                a[j][i] = a[i][j];
            }
        }
        a
    }

    /// `J · dq`.
    #[must_use]
    pub fn mul(&self, dq: &[f64]) -> Vec6 {
        let mut out = [0.0; 6];
        for (column, value) in self.columns.iter().zip(dq) {
            for i in 0..6 {
                out[i] += column[i] * value;
            }
        }
        out
    }

    /// `Jᵀ · y`, written into `out`.
    pub fn transpose_mul(&self, y: &Vec6, out: &mut [f64]) {
        for (slot, column) in out.iter_mut().zip(&self.columns) {
            *slot = (0..6).map(|i| column[i] * y[i]).sum();
        }
    }
}

/// The flange Jacobian at `q`.
pub fn jacobian(robot: &Robot, q: &[f64]) -> Result<Jacobian, KinematicsError> {
    let frames = fk_frames(robot, q)?;
    let mut jacobian = Jacobian { columns: Vec::with_capacity(robot.joints.len()) };
    jacobian.fill_from_frames(robot, &frames);
    Ok(jacobian)
}

/// Yoshikawa manipulability `sqrt(det(J Jᵀ))`; near zero at a singularity.
pub fn manipulability(robot: &Robot, q: &[f64]) -> Result<f64, KinematicsError> {
    let jacobian = jacobian(robot, q)?;
    Ok(cholesky6(&jacobian.jjt_damped(0.0)).map_or(0.0, |l| (0..6).map(|i| l[i][i]).product()))
}

/// Error from `current` to `target` as `[dx, dy, dz, rx, ry, rz]`: position difference and the rotation vector
/// (axis × angle, base frame) that turns `current` into `target`.
#[must_use]
pub fn pose_error(current: &Pose, target: &Pose) -> Vec6 {
    let dp = target.position_m - current.position_m;
    let mut dq = target.rotation * current.rotation.conjugate();
    if dq.w < 0.0 {
        dq = -dq;
    }
    let v = DVec3::new(dq.x, dq.y, dq.z);
    let sin_half = v.length();
    let rot = if sin_half < 1e-12 { v * 2.0 } else { v * (2.0 * sin_half.atan2(dq.w) / sin_half) };
    [dp.x, dp.y, dp.z, rot.x, rot.y, rot.z]
}

#[cfg(test)]
mod tests {
    use super::super::builtin::panda;
    use super::*;
    use std::f64::consts::{FRAC_PI_2, PI};

    /// Independent reference: the modified-DH product written out with plain 4×4 matrices.
    fn dh_reference(q: &[f64]) -> [[f64; 4]; 4] {
        let table = [
            (0.0, 0.333, 0.0),
            (0.0, 0.0, -FRAC_PI_2),
            (0.0, 0.316, FRAC_PI_2),
            (0.0825, 0.0, FRAC_PI_2),
            (-0.0825, 0.384, -FRAC_PI_2),
            (0.0, 0.0, FRAC_PI_2),
            (0.088, 0.0, FRAC_PI_2),
            (0.0, 0.107, 0.0),
        ];
        let mul = |a: [[f64; 4]; 4], b: [[f64; 4]; 4]| {
            let mut c = [[0.0; 4]; 4];
            for i in 0..4 {
                for j in 0..4 {
                    c[i][j] = (0..4).map(|k| a[i][k] * b[k][j]).sum();
                }
            }
            c
        };
        let mut t = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        for (i, (a, d, alpha)) in table.iter().enumerate() {
            let theta = q.get(i).copied().unwrap_or(0.0);
            let (st, ct) = theta.sin_cos();
            let (sa, ca) = alpha.sin_cos();
            // Craig's closed form of RotX(alpha) TransX(a) RotZ(theta) TransZ(d).
            let step = [
                [ct, -st, 0.0, *a],
                [st * ca, ct * ca, -sa, -d * sa],
                [st * sa, ct * sa, ca, d * ca],
                [0.0, 0.0, 0.0, 1.0],
            ];
            t = mul(t, step);
        }
        t
    }

    #[test]
    fn panda_fk_matches_the_dh_table_at_several_configurations() {
        let robot = panda();
        let configurations = [
            [0.0; 7],
            robot.rest_pose.clone().try_into().unwrap(),
            [0.3, -0.5, 0.2, -2.0, 0.4, 1.8, -0.7],
            [-2.5, 1.5, -2.7, -0.1, 2.7, 3.5, 2.8],
            [1.0, 0.2, -1.0, -1.2, -2.0, 0.5, 0.0],
        ];
        for q in configurations {
            let pose = fk(&robot, &q).unwrap();
            let reference = dh_reference(&q);
            for axis in 0..3 {
                assert!((pose.position_m[axis] - reference[axis][3]).abs() < 1e-12, "{q:?}");
            }
            let rotation = glam::DMat3::from_quat(pose.rotation);
            for i in 0..3 {
                for j in 0..3 {
                    assert!((rotation.col(j)[i] - reference[i][j]).abs() < 1e-9, "{q:?} R[{i}][{j}]");
                }
            }
        }
    }

    #[test]
    fn panda_known_poses() {
        let robot = panda();
        // All zeros: the flange sits 0.088 m forward, 0.926 m up.
        let zero = fk(&robot, &[0.0; 7]).unwrap();
        assert!((zero.position_m - DVec3::new(0.088, 0.0, 0.926)).length() < 1e-9);
        // Ready pose: flange about 0.307 m forward, 0.590 m up, pointing down.
        let ready = fk(&robot, &robot.rest_pose).unwrap();
        assert!((ready.position_m - DVec3::new(0.3069, 0.0, 0.5903)).length() < 1e-3, "{:?}", ready.position_m);
        let z_axis = ready.rotation * DVec3::Z;
        assert!(z_axis.dot(-DVec3::Z) > 0.999, "flange z {z_axis:?}");
    }

    #[test]
    fn the_jacobian_matches_finite_differences() {
        let robot = panda();
        let q = [0.3, -0.5, 0.2, -2.0, 0.4, 1.8, -0.7];
        let jacobian = jacobian(&robot, &q).unwrap();
        let base = fk(&robot, &q).unwrap();
        let h = 1e-7;
        for joint in 0..7 {
            let mut moved = q;
            moved[joint] += h;
            let error = pose_error(&base, &fk(&robot, &moved).unwrap());
            for row in 0..6 {
                let numeric = error[row] / h;
                assert!((numeric - jacobian.columns[joint][row]).abs() < 1e-5, "J[{row}][{joint}]");
            }
        }
    }

    #[test]
    fn wrong_inputs_are_errors_not_panics() {
        let robot = panda();
        assert!(matches!(fk(&robot, &[0.0; 6]), Err(KinematicsError::WrongJointCount { expected: 7, got: 6, .. })));
        let mut q = [0.0; 7];
        q[3] = f64::NAN;
        assert_eq!(fk(&robot, &q), Err(KinematicsError::NotFinite { index: 3 }));
    }

    #[test]
    fn pose_error_is_zero_for_equal_poses_and_a_rotation_vector_otherwise() {
        let a = Pose { position_m: DVec3::ZERO, rotation: DQuat::IDENTITY };
        let b = Pose { position_m: DVec3::X, rotation: DQuat::from_rotation_z(PI / 2.0) };
        assert_eq!(pose_error(&a, &a), [0.0; 6]);
        let e = pose_error(&a, &b);
        assert!((e[0] - 1.0).abs() < 1e-12 && (e[5] - PI / 2.0).abs() < 1e-12);
        // Antipodal quaternions are the same rotation.
        let flipped = Pose { rotation: -b.rotation, ..b };
        assert!(pose_error(&b, &flipped).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn manipulability_drops_at_a_singularity() {
        let robot = panda();
        let stretched = manipulability(&robot, &[0.0, 0.0, 0.0, -0.0698, 0.0, 0.0, 0.0]).unwrap();
        let ready = manipulability(&robot, &robot.rest_pose).unwrap();
        assert!(stretched < 0.2 * ready, "stretched {stretched} ready {ready}");
    }
}
