use super::*;
use kinedesk_core::robot::panda;
use std::sync::Arc;

fn observation() -> Observation {
    let robot = Arc::new(panda());
    Observation {
        instruction: "lift the mug".into(),
        joints: robot.rest_pose.clone(),
        robot,
        robot_kind: "panda".into(),
        gripper_opening: 1.0,
        images: vec![CameraImage { name: "front".into(), width: 4, height: 2, rgb: Arc::new(vec![200; 24]) }],
    }
}

#[test]
fn builtin_profiles_build_the_keys_their_servers_read() {
    let droid = PolicyProfile::builtin("droid").unwrap();
    droid.check_robot(&panda()).unwrap();
    let (value, notes) = droid.observation(&observation()).unwrap();
    let joints = NdArray::from_value(get(&value, "observation/joint_position").unwrap()).unwrap();
    assert_eq!(joints.shape, [7]);
    let gripper = NdArray::from_value(get(&value, "observation/gripper_position").unwrap()).unwrap();
    assert_eq!(gripper.to_f64().unwrap(), [0.0], "open gripper: closed fraction 0");
    let image = NdArray::from_value(get(&value, "observation/exterior_image_1_left").unwrap()).unwrap();
    assert_eq!(image.shape, [224, 224, 3]);
    // Padded: a 4×2 image fills the middle half of the square; the rest is black.
    assert_eq!(image.data[0], 0);
    assert_eq!(image.data[(112 * 224 + 112) * 3], 200);
    assert_eq!(notes, ["observation/wrist_image_left: no camera 1 (sent black)"]);

    let libero = PolicyProfile::builtin("libero").unwrap();
    let (value, _) = libero.observation(&observation()).unwrap();
    let state = NdArray::from_value(get(&value, "observation/state").unwrap()).unwrap();
    assert_eq!(state.shape, [8]);
    let values = state.to_f64().unwrap();
    assert!((values[6] - 0.04).abs() < 1e-6 && (values[7] + 0.04).abs() < 1e-6, "{values:?}");

    // ALOHA's 14-D state does not fit a single 7-DoF arm: refused, saying why.
    let error = PolicyProfile::builtin("aloha").unwrap().check_robot(&panda()).unwrap_err();
    assert!(error.contains("14 values wide"), "{error}");
    let (value, _) = PolicyProfile::builtin("aloha").unwrap().observation(&observation()).unwrap();
    let nested = get(get(&value, "images").unwrap(), "cam_high").unwrap();
    assert_eq!(NdArray::from_value(nested).unwrap().shape, [3, 224, 224]);
}

#[test]
fn actions_are_read_with_their_shape_and_values_checked() {
    let droid = PolicyProfile::builtin("droid").unwrap();
    let actions = |rows: usize, cols: usize, value: f32| {
        result_map(vec![("actions", NdArray::from_f32(vec![rows, cols], &vec![value; rows * cols]).to_value())])
    };
    assert_eq!(droid.read_actions(&actions(10, 8, 0.1)).unwrap().len(), 10);
    for (bad, expected) in [
        (actions(10, 7, 0.1), "expects [H, 8]"),
        (actions(9, 8, 0.1), "expects 10"),
        (actions(10, 8, f32::NAN), "non-finite"),
        (result_map(vec![("other", Value::from(1))]), "no \"actions\""),
    ] {
        let error = droid.read_actions(&bad).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn profiles_load_from_toml_with_their_values_checked() {
    let dir = std::env::temp_dir().join(format!("kinedesk-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mine.toml");
    let text = r#"
name = "mine"
[observation]
images = [{ key = "cam", camera = 0, size = 128 }]
state = [{ key = "q", fields = ["joint_positions", "gripper_opening"], float64 = true }]
[action]
space = "absolute_joints"
gripper = "opening"
rate_hz = 10.0
execute_steps = 4
dims = 8
"#;
    std::fs::write(&file, text).unwrap();
    let profile = PolicyProfile::load(file.to_str().unwrap()).unwrap();
    assert_eq!((profile.name.as_str(), profile.action.execute_steps), ("mine", 4));
    profile.check_robot(&panda()).unwrap();
    std::fs::write(&file, text.replace("rate_hz = 10.0", "rate_hz = 0.0")).unwrap();
    assert!(PolicyProfile::load(file.to_str().unwrap()).unwrap_err().contains("rate_hz"));
    std::fs::write(&file, text.replace("dims = 8", "dims = 8\nspeed = 3")).unwrap();
    assert!(PolicyProfile::load(file.to_str().unwrap()).unwrap_err().contains("speed"));
    assert!(PolicyProfile::load("nonesuch").unwrap_err().contains("neither a built-in profile"));
    std::fs::remove_dir_all(&dir).unwrap();
}
