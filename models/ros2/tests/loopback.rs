//! Two of the desk's own participants on one domain: what one publishes the other reads (the DDS layer and the
//! codec together, no peer needed).

use std::time::{Duration, Instant};

use kinedesk_ros2::msg::{JointTrajectoryMsg, JointTrajectoryPoint, Time};
use kinedesk_ros2::node::{Qos, Ros2Node};

#[test]
fn a_trajectory_published_by_one_participant_arrives_at_another() {
    let domain = 100 + (std::process::id() % 100) as u16;
    let a = Ros2Node::on_domain(domain).unwrap();
    let b = Ros2Node::on_domain(domain).unwrap();
    let mut reader = b.subscribe::<JointTrajectoryMsg>("/loop/joint_trajectory", Qos::Command { depth: 10 }).unwrap();
    let mut writer = a.publish::<JointTrajectoryMsg>("/loop/joint_trajectory", Qos::Command { depth: 10 }).unwrap();
    assert!(writer.wait_for_reader(Duration::from_secs(10)), "no reader matched");
    let message = JointTrajectoryMsg {
        joint_names: vec!["j1".into(), "j2".into()],
        points: vec![JointTrajectoryPoint {
            positions: vec![0.5, -0.5],
            time_from_start: Time::from_secs_f64(0.25),
            ..Default::default()
        }],
        ..Default::default()
    };
    writer.write(message.clone()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(received) = reader.next(Duration::from_millis(100)).unwrap() {
            assert_eq!(received.message, message);
            return;
        }
    }
    panic!("nothing arrived");
}
