//! The URDF loader against a real third-party URDF: `franka_panda/panda.urdf` from the PyPI package `pybullet`
//! (installed by `scripts/test.sh`, never copied into this repository), checked against pybullet's own forward
//! kinematics and against KineDesk's built-in DH model of the Panda.
//!
//! Without pybullet the test says so and passes, unless `KINEDESK_REQUIRE_PYBULLET=1` (set by `scripts/test.sh`,
//! so CI fails if the reference is missing).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use glam::{DQuat, DVec3};
use kinedesk_core::robot::{UrdfOptions, VisualGeometry, fk, load_urdf, panda};

/// The Python with pybullet: `KINEDESK_PYTHON` (set by scripts/test.sh) or `python3`.
fn python() -> String {
    std::env::var("KINEDESK_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn pybullet_data() -> Option<PathBuf> {
    let output = Command::new(python())
        .args(["-c", "import pybullet_data; print(pybullet_data.getDataPath())"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    Some(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

fn require_pybullet() -> Option<PathBuf> {
    let found = pybullet_data();
    if found.is_none() {
        assert!(
            std::env::var("KINEDESK_REQUIRE_PYBULLET").as_deref() != Ok("1"),
            "pybullet is required (KINEDESK_REQUIRE_PYBULLET=1) but `import pybullet_data` failed: run scripts/test.sh"
        );
        eprintln!("SKIPPED: pybullet not installed (pip install pybullet) — the URDF cross-check did not run");
    }
    found
}

fn pybullet_poses(urdf: &PathBuf, link: &str, configurations: &[Vec<f64>]) -> Vec<(DVec3, DQuat)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/pybullet_fk.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let request = serde_json::json!({ "urdf": urdf, "link": link, "configurations": configurations });
    child.stdin.take().expect("stdin").write_all(request.to_string().as_bytes()).expect("write request");
    let output = child.wait_with_output().expect("pybullet_fk.py finishes");
    assert!(output.status.success(), "pybullet_fk.py failed");
    let reply: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON reply");
    reply["poses"]
        .as_array()
        .expect("poses")
        .iter()
        .map(|pose| {
            let p: Vec<f64> = serde_json::from_value(pose["position"].clone()).expect("position");
            let q: Vec<f64> = serde_json::from_value(pose["quaternion_xyzw"].clone()).expect("quaternion");
            (DVec3::new(p[0], p[1], p[2]), DQuat::from_xyzw(q[0], q[1], q[2], q[3]))
        })
        .collect()
}

fn configurations(robot: &kinedesk_core::robot::Robot, count: usize) -> Vec<Vec<f64>> {
    let mut state = 0x5eed_u64;
    (0..count)
        .map(|_| {
            robot
                .joints
                .iter()
                .map(|joint| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                    joint.limits.lower + unit * (joint.limits.upper - joint.limits.lower)
                })
                .collect()
        })
        .collect()
}

#[test]
fn pybullet_panda_urdf_matches_pybullet_fk_and_the_builtin_model() {
    let Some(data) = require_pybullet() else { return };
    let urdf = data.join("franka_panda/panda.urdf");
    let options = UrdfOptions { load_meshes: true, ..UrdfOptions::default() };
    let loaded = load_urdf(&urdf, &options).expect("panda.urdf loads");
    assert_eq!(loaded.robot.dof(), 7, "the fingers branch off after the hand, so the default tip is the hand");
    assert_eq!(loaded.tip_link, "panda_hand");
    let meshes =
        loaded.visuals.iter().filter(|v| matches!(&v.geometry, VisualGeometry::Mesh { mesh: Some(_), .. })).count();
    assert!(meshes >= 8, "visual meshes of every link load ({meshes})");

    // Against pybullet's own FK of the same file, at 25 random configurations.
    let qs = configurations(&loaded.robot, 25);
    let reference = pybullet_poses(&urdf, "panda_hand", &qs);
    for (q, (position, rotation)) in qs.iter().zip(&reference) {
        let pose = fk(&loaded.robot, q).unwrap();
        assert!((pose.position_m - *position).length() < 1e-6, "{q:?}: {:?} vs {position:?}", pose.position_m);
        // pybullet reports orientations to about 1e-4 rad; positions agree to well under a micrometre.
        let angle = 2.0 * pose.rotation.dot(*rotation).abs().min(1.0).acos();
        assert!(angle < 1e-3, "{q:?}: orientation differs by {angle} rad");
    }

    // The flange frame (panda_link8) agrees with the built-in modified-DH model.
    let flange =
        load_urdf(&urdf, &UrdfOptions { tip_link: Some("panda_link8".into()), ..UrdfOptions::default() }).unwrap();
    let builtin = panda();
    for q in configurations(&builtin, 25) {
        let a = fk(&flange.robot, &q).unwrap();
        let b = fk(&builtin, &q).unwrap();
        assert!((a.position_m - b.position_m).length() < 1e-9);
        assert!(a.rotation.dot(b.rotation).abs() > 1.0 - 1e-9);
    }
}
