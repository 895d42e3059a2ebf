//! The ros2:// link against Cyclone DDS (the `cyclonedds` package from PyPI: another DDS vendor, nothing of ours):
//! a Python arm publishes `JointState` at 100 Hz (joints in its own order) and follows `JointTrajectory` the way
//! joint_trajectory_controller does, printing every trajectory it receives. Discovery is unicast on loopback.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod peer;

use std::time::{Duration, Instant};

use kinedesk_core::StopSignal;
use kinedesk_core::driver::{DriverCommand, DriverEvent, DriverHandle, ExecutionPlan};
use kinedesk_core::robot::{Trajectory, rm75};
use kinedesk_ros2::link::{Ros2LinkConfig, connect_ros2};
use peer::CycloneArm;

/// The arm's joints on the wire, in an order that is not the model's.
const WIRE_ORDER: [&str; 7] = ["joint3", "joint1", "joint2", "joint4", "joint7", "joint5", "joint6"];

fn start_in_model_order() -> Vec<f64> {
    vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
}

fn wire_start() -> Vec<f64> {
    let model = start_in_model_order();
    WIRE_ORDER.iter().map(|n| model[n.trim_start_matches("joint").parse::<usize>().unwrap() - 1]).collect()
}

/// A smooth move of `amplitude` rad on every joint over `samples` samples at 20 ms.
fn smooth_move(from: &[f64], amplitude: f64, samples: usize) -> Trajectory {
    let joints = (0..samples)
        .map(|k| {
            let s = (1.0 - (std::f64::consts::PI * k as f64 / (samples - 1) as f64).cos()) / 2.0;
            from.iter().map(|q| q + amplitude * s).collect()
        })
        .collect();
    Trajectory { dt_s: 0.02, joints }
}

fn connect(arm: &CycloneArm) -> DriverHandle {
    let config = Ros2LinkConfig { domain: Some(arm.domain), ..Ros2LinkConfig::default() };
    let handle = connect_ros2(rm75(), config, StopSignal::new(), None).unwrap();
    match handle.recv_event_timeout(Duration::from_secs(15)) {
        Some(DriverEvent::Connected { dof: 7, .. }) => handle,
        other => panic!("not connected: {other:?}\n{}", arm.stderr()),
    }
}

fn wait_event(handle: &DriverHandle, seconds: f64, want: impl Fn(&DriverEvent) -> bool) -> DriverEvent {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < deadline {
        if let Some(event) = handle.recv_event_timeout(Duration::from_millis(50))
            && want(&event)
        {
            return event;
        }
    }
    panic!("no matching event within {seconds} s");
}

#[test]
fn a_cyclone_arm_is_read_in_model_order_and_a_sent_plan_arrives_whole() {
    let Some(arm) = CycloneArm::start(&WIRE_ORDER, &wire_start(), &[]) else { return };
    let handle = connect(&arm);
    // No gripper on this link: recordings say so instead of storing the placeholder as measured.
    assert!(!handle.gripper_measured);
    let state = handle.wait_for_state(Duration::from_secs(5), |_| true).expect("a state");
    for (q, expected) in state.positions.iter().zip(start_in_model_order()) {
        assert!((q - expected).abs() < 1e-12, "{:?}", state.positions);
    }

    // A plan that fails the gate publishes nothing.
    let too_fast = Trajectory { dt_s: 0.02, joints: vec![start_in_model_order(), vec![1.5; 7]] };
    handle.send(DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(too_fast) }).unwrap();
    let refused = wait_event(&handle, 5.0, |e| matches!(e, DriverEvent::Refused { .. }));
    assert!(matches!(refused, DriverEvent::Refused { plan: Some(1), .. }), "{refused:?}");

    // A checked plan arrives whole: the model's joint names, every sample after the first, at k · dt.
    let plan = smooth_move(&start_in_model_order(), 0.2, 51);
    handle.send(DriverCommand::ExecutePlan { id: 2, plan: ExecutionPlan::single(plan.clone()) }).unwrap();
    wait_event(&handle, 10.0, |e| matches!(e, DriverEvent::PlanFinished { id: 2, .. }));
    let received = arm.trajectories();
    assert_eq!(received.len(), 1, "the refused plan must not have been published: {received:?}");
    let trajectory = &received[0]["trajectory"];
    let names: Vec<String> = serde_json::from_value(trajectory["joint_names"].clone()).unwrap();
    assert_eq!(names, (1..=7).map(|i| format!("joint{i}")).collect::<Vec<_>>());
    let points = trajectory["points"].as_array().unwrap();
    assert_eq!(points.len(), plan.joints.len() - 1);
    for (k, point) in points.iter().enumerate() {
        let positions: Vec<f64> = serde_json::from_value(point["positions"].clone()).unwrap();
        // (Exact on the wire; the JSON hop to this test may differ in the last bit.)
        for (a, b) in positions.iter().zip(&plan.joints[k + 1]) {
            assert!((a - b).abs() < 1e-12, "point {k}: {positions:?}");
        }
        let t = point["time_from_start"].as_f64().unwrap();
        assert!((t - (k + 1) as f64 * plan.dt_s).abs() < 1e-6, "point {k} at {t}");
    }
    // The desk saw the arm arrive (in model order) through the peer's JointState.
    let end = handle.latest_state().unwrap().positions;
    for (q, expected) in end.iter().zip(plan.joints.last().unwrap()) {
        assert!((q - expected).abs() < 0.011, "{end:?}");
    }

    // Stop during a plan publishes one point at the measured position, 50 ms ahead: the controller holds there.
    let from = handle.latest_state().unwrap().positions;
    let long = smooth_move(&from, -0.3, 151);
    handle.send(DriverCommand::ExecutePlan { id: 3, plan: ExecutionPlan::single(long) }).unwrap();
    wait_event(&handle, 5.0, |e| matches!(e, DriverEvent::PlanStarted { id: 3, .. }));
    std::thread::sleep(Duration::from_millis(800));
    handle.stop.trigger(kinedesk_core::stop::StopReason::Api);
    let stopped = wait_event(&handle, 5.0, |e| matches!(e, DriverEvent::Stopped { .. }));
    assert!(matches!(stopped, DriverEvent::Stopped { plan: Some(_), .. }), "{stopped:?}");
    let measured = handle.latest_state().unwrap().positions;
    let deadline = Instant::now() + Duration::from_secs(5);
    let hold = loop {
        let all = arm.trajectories();
        if all.len() >= 3 {
            break all[2]["trajectory"].clone();
        }
        assert!(Instant::now() < deadline, "no hold message: {all:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let points = hold["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{hold}");
    assert!((points[0]["time_from_start"].as_f64().unwrap() - 0.05).abs() < 1e-6);
    let positions: Vec<f64> = serde_json::from_value(points[0]["positions"].clone()).unwrap();
    for (held, q) in positions.iter().zip(&measured) {
        // The arm moved on for at most a state period or two after the hold was computed.
        assert!((held - q).abs() < 0.02, "held {positions:?} measured {measured:?}");
    }
    let _ = handle.send(DriverCommand::Disconnect);
}

#[test]
fn an_arm_that_falls_silent_is_halted_by_the_watchdog() {
    let Some(arm) = CycloneArm::start(&WIRE_ORDER, &wire_start(), &["--stop-publishing-after", "4"]) else {
        return;
    };
    let handle = connect(&arm);
    let halted = wait_event(&handle, 10.0, |e| matches!(e, DriverEvent::Halted { .. }));
    let DriverEvent::Halted { reason } = halted else { unreachable!() };
    assert!(reason.contains("500 ms") && reason.contains("/joint_states"), "{reason}");
    // Commands are refused while no state comes.
    handle.send(DriverCommand::MoveTo { joints: start_in_model_order(), speed_fraction: 0.25 }).unwrap();
    let refused = wait_event(&handle, 5.0, |e| matches!(e, DriverEvent::Refused { .. }));
    let DriverEvent::Refused { reason, .. } = refused else { unreachable!() };
    assert!(reason.contains("halted"), "{reason}");
    let _ = handle.send(DriverCommand::Disconnect);
}

#[test]
fn a_model_whose_joints_the_arm_lacks_is_refused_naming_them() {
    let names = ["shoulder", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"];
    let Some(arm) = CycloneArm::start(&names, &[0.0; 7], &[]) else { return };
    let config = Ros2LinkConfig { domain: Some(arm.domain), ..Ros2LinkConfig::default() };
    let handle = connect_ros2(rm75(), config, StopSignal::new(), None).unwrap();
    match handle.recv_event_timeout(Duration::from_secs(15)) {
        Some(DriverEvent::Disconnected { reason }) => {
            assert!(reason.contains("joint1") && reason.contains("not in the model: shoulder"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
