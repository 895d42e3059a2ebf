//! `kinedesk fk` and `kinedesk ik`: the kinematics from the command line.

use anyhow::{Context as _, bail};
use glam::{DQuat, DVec3};
use kinedesk_models::robot::{BuiltinRobot, IkOptions, Pose, Robot, fk, solve_ik};

/// Resolves `--robot`: a built-in name (panda, rm75).
pub fn robot_from_arg(name: &str) -> anyhow::Result<Robot> {
    if let Ok(builtin) = name.parse::<BuiltinRobot>() {
        return Ok(builtin.robot());
    }
    if std::path::Path::new(name).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("urdf")) {
        bail!("{name}: loading URDF files is not supported yet; use a built-in robot (panda, rm75)");
    }
    bail!("unknown robot {name:?}; built-in robots: panda, rm75")
}

/// Parses `"a,b,c"` into numbers, naming the bad item on error.
pub fn parse_numbers(text: &str, what: &str, expected: Option<usize>) -> anyhow::Result<Vec<f64>> {
    let values = text
        .split(',')
        .map(str::trim)
        .enumerate()
        .map(|(index, item)| {
            item.parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .with_context(|| format!("{what}: item {} ({item:?}) is not a finite number", index + 1))
        })
        .collect::<anyhow::Result<Vec<f64>>>()?;
    if let Some(expected) = expected
        && values.len() != expected
    {
        bail!("{what}: expected {expected} comma-separated numbers, got {}", values.len());
    }
    Ok(values)
}

#[derive(serde::Serialize)]
struct PoseJson {
    position_m: [f64; 3],
    quaternion_xyzw: [f64; 4],
}

impl From<&Pose> for PoseJson {
    fn from(pose: &Pose) -> Self {
        Self { position_m: pose.position_m.to_array(), quaternion_xyzw: pose.quaternion_xyzw() }
    }
}

pub fn run_fk(robot: &str, joints: &str, json: bool) -> anyhow::Result<()> {
    let robot = robot_from_arg(robot)?;
    let q = parse_numbers(joints, "--joints", Some(robot.dof()))?;
    let pose = fk(&robot, &q)?;
    let out = PoseJson::from(&pose);
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let [x, y, z] = out.position_m;
        let [qx, qy, qz, qw] = out.quaternion_xyzw;
        println!("{} flange position (m): {x:.6} {y:.6} {z:.6}", robot.name);
        println!("{} flange quaternion (x y z w): {qx:.6} {qy:.6} {qz:.6} {qw:.6}", robot.name);
        for (joint, value) in robot.joints.iter().zip(&q) {
            if !joint.limits.contains(*value) {
                println!(
                    "warning: {} = {value} rad is outside its limits [{}, {}]",
                    joint.name, joint.limits.lower, joint.limits.upper
                );
            }
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct IkJson {
    joints: Vec<f64>,
    iterations: usize,
    attempts: usize,
    position_error_m: f64,
    orientation_error_deg: f64,
}

pub fn run_ik(robot: &str, position: &str, quaternion: &str, seed: Option<&str>, json: bool) -> anyhow::Result<()> {
    let robot = robot_from_arg(robot)?;
    let p = parse_numbers(position, "--position", Some(3))?;
    let q = parse_numbers(quaternion, "--quaternion-xyzw", Some(4))?;
    let rotation = DQuat::from_xyzw(q[0], q[1], q[2], q[3]);
    if (rotation.length() - 1.0).abs() > 1e-3 {
        bail!("--quaternion-xyzw must be a unit quaternion (its length is {:.6})", rotation.length());
    }
    let seed = seed.map(|text| parse_numbers(text, "--seed", Some(robot.dof()))).transpose()?;
    let target = Pose { position_m: DVec3::new(p[0], p[1], p[2]), rotation: rotation.normalize() };
    let solution = solve_ik(&robot, &target, seed.as_deref(), &IkOptions::default())?;
    let out = IkJson {
        joints: solution.joints,
        iterations: solution.iterations,
        attempts: solution.attempts,
        position_error_m: solution.position_error_m,
        orientation_error_deg: solution.orientation_error_rad.to_degrees(),
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let joints: Vec<String> = out.joints.iter().map(|v| format!("{v:.6}")).collect();
        println!("{} joints (rad): {}", robot.name, joints.join(","));
        println!(
            "error: {:.3} mm, {:.4}°, after {} iterations in {} attempt(s)",
            out.position_error_m * 1e3,
            out.orientation_error_deg,
            out.iterations,
            out.attempts
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_lists_name_the_bad_item() {
        assert_eq!(parse_numbers("1, 2.5,-3", "--x", Some(3)).unwrap(), [1.0, 2.5, -3.0]);
        let error = parse_numbers("1,abc,3", "--joints", None).unwrap_err().to_string();
        assert!(error.contains("item 2") && error.contains("abc"), "{error}");
        let error = parse_numbers("1,2", "--position", Some(3)).unwrap_err().to_string();
        assert!(error.contains("expected 3"), "{error}");
        assert!(parse_numbers("1,NaN", "--x", None).is_err());
    }

    #[test]
    fn robots_resolve_by_name() {
        assert_eq!(robot_from_arg("panda").unwrap().name, "panda");
        assert!(robot_from_arg("ur5").unwrap_err().to_string().contains("unknown robot"));
    }
}
