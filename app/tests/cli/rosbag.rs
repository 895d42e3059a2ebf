//! `kinedesk import rosbag` on bags written by `rosbags` (PyPI: a pure-Python rosbag2 writer nobody here wrote):
//! frame counts, joint values and timestamps as written, then the export loaded by the real `lerobot` package.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::Path;
use std::process::Command;

fn kinedesk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kinedesk"))
}

/// The Python with `rosbags` (KINEDESK_PYTHON), or `None` (loudly) where it is not installed and not required.
fn rosbags_python() -> Option<String> {
    crate::ros2_peers::python_with("rosbags, numpy, PIL")
}

fn write_bag(python: &str, out: &Path, args: &[&str]) -> serde_json::Value {
    let script = crate::ros2_peers::peer_script("write_bag.py");
    let written = Command::new(python).arg(script).arg(out).args(args).output().unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    serde_json::from_slice(&written.stdout).unwrap()
}

/// The joint values the writer used: 0.1·k + 0.2·sin(0.5·t + k) for jointk at t seconds after its start.
fn expected_position(name: &str, t: f64) -> f64 {
    let k: f64 = name.trim_start_matches("joint").parse().unwrap();
    0.1 * k + 0.2 * (0.5 * t + k).sin()
}

#[test]
fn a_rosbag_imports_with_its_frames_joints_and_times_and_exports_to_lerobot() {
    let Some(python) = rosbags_python() else { return };
    let root = std::env::temp_dir().join(format!("kinedesk-rosbag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let bag = root.join("bag");
    let cameras = "/cam/left/compressed,/cam/right/compressed";
    let written = write_bag(&python, &bag, &["--seconds", "4", "--cameras", cameras, "--extra-topic"]);
    let session = root.join("session");
    let import = kinedesk()
        .args(["import", "rosbag"])
        .arg(&bag)
        .arg(&session)
        .args(["--task", "wave at the camera", "--json"])
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&import.stdout).unwrap();
    assert_eq!(summary["joint_states"], written["states"]);
    assert_eq!(summary["frames"], 240);
    assert_eq!(summary["fps"], 30.0);
    assert_eq!(summary["cameras"][0]["frames"], 120);
    assert_eq!(summary["cameras"][1]["name"], "cam_right_compressed");
    assert_eq!(summary["skipped_topics"][0]["topic"], "/notes");
    assert_eq!(summary["unmeasured"], serde_json::json!(["gripper"]));

    // The session reports it as any other: frames per camera, joint states.
    let info = kinedesk().args(["session", "info"]).arg(&session).arg("--json").output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info[0]["frames_per_camera"], serde_json::json!([120, 120]));
    assert_eq!(info[0]["joint_states"], 400);
    assert_eq!(info[0]["task"], "wave at the camera");

    // Joint values as written, in the bag's joint order, at the header stamps (3 ms before the log times).
    let episode = kinedesk_sessions::episode::read_episode(&session.join("episodes/episode_000000.kdlog")).unwrap();
    let names: Vec<String> = serde_json::from_value(written["joints"].clone()).unwrap();
    assert_eq!(episode.meta.joint_names, names);
    assert_eq!(episode.meta.unmeasured, vec!["gripper".to_owned()]);
    let start_s = written["start_ns"].as_u64().unwrap() as f64 * 1e-9;
    assert!((episode.meta.started_unix_s - start_s).abs() < 1e-3);
    for (k, state) in episode.joints.iter().enumerate().step_by(37) {
        // The episode's zero is the first logged message (state 0 at its log time); stamps are 3 ms earlier.
        let t = state.time.as_nanos() as f64 * 1e-9 - 1.0;
        assert!((t - (k as f64 * 0.01 - 0.003)).abs() < 1e-9, "state {k} at {t}");
        for (name, q) in names.iter().zip(&state.positions) {
            assert!((q - expected_position(name, t)).abs() < 1e-12, "{name} at state {k}");
        }
    }
    let left: Vec<_> = episode.camera_frames(0).collect();
    assert_eq!(left.len(), 120);
    let t10 = left[10].time.as_nanos() as f64 * 1e-9 - 1.0;
    assert!((t10 - (10.0 / 30.0 + 0.0005 - 0.003)).abs() < 1e-6, "{t10}");

    // Exported to LeRobot, the real lerobot package loads it.
    let dataset = root.join("dataset");
    let export = kinedesk().args(["export", "--format", "lerobot-v3"]).arg(&session).arg(&dataset).output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let info = std::fs::read_to_string(dataset.join("meta/info.json")).unwrap();
    assert!(info.contains("Not measured in (some of) these episodes, written as 0 there: gripper"), "{info}");
    match std::env::var("KINEDESK_LEROBOT_PYTHON") {
        Ok(lerobot) => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessions/tests/python/check_with_lerobot.py");
            let checked = Command::new(&lerobot).arg(script).arg(&dataset).output().unwrap();
            assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
            let found: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
            assert_eq!(found["episodes"], 1);
            assert_eq!(found["fps"], 30);
            assert_eq!(found["task"], "wave at the camera");
            assert_eq!(found["image_shapes"]["observation.images.cam_left_compressed"], serde_json::json!([3, 48, 64]));
            // Nothing was commanded in a bag of states and images: no action pretends otherwise.
            assert_eq!(found["commanded_share"], 0.0);
            let frames = found["frames"].as_u64().unwrap();
            assert!((119..=121).contains(&frames), "{frames}");
        }
        Err(_) => {
            assert!(
                std::env::var("KINEDESK_REQUIRE_LEROBOT").as_deref() != Ok("1"),
                "the lerobot package is required (KINEDESK_REQUIRE_LEROBOT=1)"
            );
            eprintln!("SKIPPED: no Python with lerobot — the rosbag export was not loaded in lerobot");
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_topics_wrong_types_and_other_storage_are_clear_errors_that_leave_nothing() {
    let Some(python) = rosbags_python() else { return };
    let root = std::env::temp_dir().join(format!("kinedesk-rosbag-errors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let bag = root.join("bag");
    write_bag(&python, &bag, &["--seconds", "1"]);
    let session = root.join("session");
    let fails = |args: &[&str], expected: &str| {
        let out = kinedesk().args(["import", "rosbag"]).arg(&bag).arg(&session).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!session.exists(), "a failed import left {}", session.display());
    };
    fails(&["--camera", "/cam/missing"], "no topic /cam/missing in the bag; it has /camera/image_raw/compressed");
    fails(&["--joint-states", "/camera/image_raw/compressed"], "is sensor_msgs/msg/CompressedImage, not");
    fails(&["--camera", "/joint_states"], "--camera /joint_states is sensor_msgs/msg/JointState");
    // A sqlite3 bag is named as such.
    let sqlite = root.join("sqlite_bag");
    std::fs::create_dir_all(&sqlite).unwrap();
    std::fs::write(sqlite.join("sqlite_bag_0.db3"), b"SQLite format 3\0").unwrap();
    let out = kinedesk().args(["import", "rosbag"]).arg(&sqlite).arg(&session).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite3"), "{}", String::from_utf8_lossy(&out.stderr));
    // A damaged bag (cut in half) is an error naming the file, and leaves nothing either.
    let mcap = std::fs::read_dir(&bag)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .unwrap();
    let bytes = std::fs::read(&mcap).unwrap();
    std::fs::write(&mcap, &bytes[..bytes.len() / 2]).unwrap();
    fails(&[], "bag.mcap is not a rosbag2 MCAP bag KineDesk can read: MCAP file ended in the middle of a record");
    std::fs::remove_dir_all(&root).unwrap();
}
