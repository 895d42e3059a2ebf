//! `kinedesk ros2 state|topics` and `kinedesk send --robot ros2://` against a Cyclone DDS arm (PyPI `cyclonedds`):
//! the command-line contract other tools rely on.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::process::Command;

fn kinedesk(domain: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kinedesk"));
    command.env("ROS_DOMAIN_ID", domain.to_string());
    command
}

const WIRE: [&str; 7] = ["joint2", "joint1", "joint3", "joint4", "joint5", "joint6", "joint7"];
const WIRE_START: [f64; 7] = [0.2, 0.1, 0.3, 0.4, 0.5, 0.6, 0.7];

fn write_plan(name: &str, from: &[f64], amplitude: f64, samples: usize) -> std::path::PathBuf {
    let joints: Vec<Vec<f64>> = (0..samples)
        .map(|k| {
            let s = (1.0 - (std::f64::consts::PI * k as f64 / (samples - 1) as f64).cos()) / 2.0;
            from.iter().map(|q| q + amplitude * s).collect()
        })
        .collect();
    let path = std::env::temp_dir().join(format!("kinedesk-ros2-{}-{name}.json", std::process::id()));
    std::fs::write(&path, serde_json::json!({"dt_s": 0.02, "joints": joints}).to_string()).unwrap();
    path
}

#[test]
fn ros2_state_topics_and_send_follow_the_command_line_contract() {
    let Some(arm) = crate::ros2_peers::CycloneArm::start(&WIRE, &WIRE_START, &[]) else { return };
    // The latest state as it arrives, names in the arm's order.
    let state = kinedesk(arm.domain).args(["ros2", "state", "--json"]).output().unwrap();
    assert!(state.status.success(), "{}", String::from_utf8_lossy(&state.stderr));
    let state: serde_json::Value = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(state["names"], serde_json::json!(WIRE));
    assert_eq!(state["positions"], serde_json::json!(WIRE_START));
    assert!(state["stamp_s"].as_f64().unwrap() > 1.7e9, "{state}");
    // What is discovered, with types.
    let topics = kinedesk(arm.domain).args(["ros2", "topics", "--seconds", "2", "--json"]).output().unwrap();
    assert!(topics.status.success(), "{}", String::from_utf8_lossy(&topics.stderr));
    let topics: Vec<serde_json::Value> = serde_json::from_slice(&topics.stdout).unwrap();
    let find = |name: &str| topics.iter().find(|t| t["topic"] == name).cloned().unwrap_or_default();
    assert_eq!(find("/joint_states")["type"], "sensor_msgs/msg/JointState", "{topics:?}");
    assert_eq!(find("/joint_states")["publishers"], 1);
    let command = find("/joint_trajectory_controller/joint_trajectory");
    assert_eq!(
        (command["type"].as_str(), command["subscribers"].as_u64()),
        (Some("trajectory_msgs/msg/JointTrajectory"), Some(1))
    );

    // A plan that fails the checks publishes nothing and exits non-zero with the reason.
    let model_start = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
    let too_fast = write_plan("fast", &model_start, 1.0, 5);
    let refused =
        kinedesk(arm.domain).args(["send", "--robot", "ros2://", "--trajectory"]).arg(&too_fast).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("safety check"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A checked plan is published and `send` exits 0 once the arm's published state reaches its end.
    let plan = write_plan("ok", &model_start, 0.1, 41);
    let sent = kinedesk(arm.domain).args(["send", "--robot", "ros2://", "--trajectory"]).arg(&plan).output().unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let received = arm.trajectories();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["trajectory"]["points"].as_array().unwrap().len(), 40);
    let after = kinedesk(arm.domain).args(["ros2", "state", "--json"]).output().unwrap();
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    let q1 = after["positions"][1].as_f64().unwrap();
    assert!((q1 - 0.2).abs() < 0.011, "joint1 ends near 0.1 + 0.1: {after}");
    let _ = std::fs::remove_file(too_fast);
    let _ = std::fs::remove_file(plan);
}

#[test]
fn send_to_an_arm_that_falls_silent_fails_with_the_watchdog_reason() {
    let Some(arm) = crate::ros2_peers::CycloneArm::start(&WIRE, &WIRE_START, &["--stop-publishing-after", "3"]) else {
        return;
    };
    // A slow plan (8 s): the arm stops publishing during it.
    let plan = write_plan("slow", &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], 0.1, 401);
    let url = format!("ros2://?domain={}", arm.domain);
    let sent = Command::new(env!("CARGO_BIN_EXE_kinedesk"))
        .args(["send", "--robot", &url, "--trajectory"])
        .arg(&plan)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(!sent.status.success() && stderr.contains("watchdog") && stderr.contains("500 ms"), "{stderr}");
    let _ = std::fs::remove_file(plan);
}
