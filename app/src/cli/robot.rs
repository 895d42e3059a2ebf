//! `kinedesk fk` and `kinedesk ik`: the kinematics from the command line.

use anyhow::{Context as _, bail};
use glam::{DQuat, DVec3};
use kinedesk_models::robot::{BuiltinRobot, IkOptions, Pose, Robot, UrdfOptions, fk, load_urdf, solve_ik};

/// Which robot a command works on: `--robot` (a built-in name or a URDF path), `--tip` and `--package-root`.
#[derive(Clone, Debug, clap::Args)]
pub struct RobotArgs {
    /// Built-in robot (panda, rm75) or the path of a URDF file.
    #[arg(long, default_value = "panda")]
    pub robot: String,
    /// With a URDF: the link used as the flange (default: the last link before the chain branches).
    #[arg(long, value_name = "LINK")]
    pub tip: Option<String>,
    /// With a URDF: where `package://` mesh paths are resolved (default: the URDF's folder).
    #[arg(long, value_name = "DIR")]
    pub package_root: Option<std::path::PathBuf>,
}

/// Resolves the robot arguments: a built-in name, or a URDF file (its warnings go to stderr).
pub fn robot_from_args(args: &RobotArgs) -> anyhow::Result<Robot> {
    if let Ok(builtin) = args.robot.parse::<BuiltinRobot>() {
        if args.tip.is_some() {
            bail!("--tip only applies to a URDF robot");
        }
        return Ok(builtin.robot());
    }
    let path = std::path::Path::new(&args.robot);
    if path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("urdf")) || path.is_file() {
        let options =
            UrdfOptions { package_root: args.package_root.clone(), tip_link: args.tip.clone(), load_meshes: false };
        let loaded = load_urdf(path, &options)?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        return Ok(loaded.robot);
    }
    bail!("unknown robot {:?}; built-in robots: panda, rm75 (or give a URDF path)", args.robot)
}

/// Resolves a robot given by name only (built-in or URDF with default tip).
pub fn robot_from_arg(name: &str) -> anyhow::Result<Robot> {
    robot_from_args(&RobotArgs { robot: name.to_owned(), tip: None, package_root: None })
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

pub fn run_fk(robot: &RobotArgs, joints: &str, json: bool) -> anyhow::Result<()> {
    let robot = robot_from_args(robot)?;
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

pub fn run_ik(
    robot: &RobotArgs,
    position: &str,
    quaternion: &str,
    seed: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let robot = robot_from_args(robot)?;
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
        let missing = robot_from_arg("/no/such/robot.urdf").unwrap_err().to_string();
        assert!(missing.contains("cannot read URDF"), "{missing}");
    }
}
