//! Unit tests of the ros2:// link's pure parts: addresses, joint matching, the messages it publishes.

use super::*;

#[test]
fn urls_name_the_topics() {
    assert_eq!(Ros2LinkConfig::from_url("ros2://").unwrap(), Ros2LinkConfig::default());
    let config =
        Ros2LinkConfig::from_url("ros2://?state=/arm/joint_states&command=arm_controller/joint_trajectory").unwrap();
    assert_eq!(config.state_topic, "/arm/joint_states");
    assert_eq!(config.command_topic, "/arm_controller/joint_trajectory");
    assert_eq!(Ros2LinkConfig::from_url(&config.url()).unwrap(), config);
    assert!(Ros2LinkConfig::from_url("ros2://host:1").unwrap_err().contains("no host"));
    let on_7 = Ros2LinkConfig::from_url("ros2://?domain=7").unwrap();
    assert_eq!((on_7.domain, on_7.url().as_str()), (Some(7), "ros2://?domain=7"));
    assert!(Ros2LinkConfig::from_url("ros2://?domain=300").is_err());
    assert!(Ros2LinkConfig::from_url("ros2://?speed=1").unwrap_err().contains("unknown parameter"));
    assert!(Ros2LinkConfig::from_url("realman://x:1").is_err());
}

#[test]
fn joints_are_matched_by_name_and_missing_ones_named() {
    let model: Vec<String> = ["j1", "j2", "j3"].map(String::from).to_vec();
    let message = JointStateMsg {
        name: ["finger", "j3", "j1", "j2"].map(String::from).to_vec(),
        position: vec![9.0, 3.0, 1.0, 2.0],
        velocity: vec![0.0, 0.3, 0.1],
        ..Default::default()
    };
    let map = JointMap::new(&model, &message.name).unwrap();
    assert_eq!(map.apply(&message).unwrap(), (vec![1.0, 2.0, 3.0], vec![0.1, 0.0, 0.3]));
    let error = JointMap::new(&model, &["j1".to_owned(), "elbow".to_owned()]).unwrap_err();
    assert!(error.contains("j2, j3") && error.contains("not in the model: elbow"), "{error}");
}

#[test]
fn a_trajectory_is_published_after_its_first_sample_with_increasing_times() {
    let trajectory = Trajectory { dt_s: 0.1, joints: vec![vec![0.0], vec![0.1], vec![0.2]] };
    let message = trajectory_message(&["j".to_owned()], &trajectory);
    let times: Vec<f64> = message.points.iter().map(|p| p.time_from_start.as_secs_f64()).collect();
    assert_eq!(times.len(), 2);
    assert!((times[0] - 0.1).abs() < 1e-9 && (times[1] - 0.2).abs() < 1e-9);
    assert_eq!(message.points[1].positions, vec![0.2]);
    let hold = hold_message(&["j".to_owned()], &[0.5]);
    assert_eq!(hold.points.len(), 1);
    assert_eq!(hold.points[0].time_from_start, Time { sec: 0, nanosec: 50_000_000 });
    assert!((sample_at(&trajectory, 0.15)[0] - 0.15).abs() < 1e-12);
}
