//! The robot link from the window: the simulated arm, a Realman controller, teleop, Move to start.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use kinedesk::Command;
use kinedesk::gui::panes::arm_pane::ROBOT_ADDRESS_LABEL;
use kinedesk_tests::*;

#[test]
fn the_simulated_arm_connects_executes_a_sent_trajectory_and_stops_on_esc() {
    let robot = kinedesk_models::robot::panda();
    // 4 s sweep of joint 1 from the rest pose (where the simulated arm starts).
    let joints: Vec<Vec<f64>> = (0..=400)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            q[0] += 0.4 * f64::from(k) / 400.0;
            q
        })
        .collect();
    let path = write_trajectory("sweep.json", &joints);
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    // Send is refused while nothing is connected.
    harness.state_mut().handle_command(&ctx, Command::SendTrajectory);
    assert!(logged(harness.state(), "Send refused: no trajectory is previewed"));

    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.get_by_label("Robot: sim panda");
    harness.get_by_label("Live state");

    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(path));
    finish_loads(&mut harness);
    // A trajectory file is reviewed like a plan: Send waits for the approval, and the command layer refuses too.
    assert!(harness.get_by_label("Send to robot").accesskit_node().is_disabled());
    harness.state_mut().handle_command(&ctx, Command::SendTrajectory);
    harness.run_steps(2);
    assert!(logged(harness.state(), "Send refused: it is not approved"));
    assert!(harness.state().arm().live.as_ref().is_some_and(|s| !s.moving), "nothing moved");
    harness.get_by_label("Approve").click();
    harness.run_steps(2);
    harness.get_by_label("Send to robot").click();
    run_until(&mut harness, "motion", |app| {
        app.arm().live.as_ref().is_some_and(|s| s.moving && s.positions[0] > robot.rest_pose[0] + 0.01)
    });

    harness.key_press(Key::Escape);
    run_until(&mut harness, "the stop", |app| app.arm().live.as_ref().is_some_and(|s| !s.moving));
    let held = harness.state().arm().live.clone().unwrap();
    assert!(held.velocities.iter().all(|v| *v == 0.0));
    assert!(held.positions[0] < robot.rest_pose[0] + 0.39, "stopped before the end of the sweep");
    run_until(&mut harness, "the stop report", |app| logged(app, "sim panda stopped"));
    // The review follows the driver: stopped at the step the driver reported, and no longer approved.
    let state = harness.state().arm().preview.as_ref().unwrap().review.state().clone();
    assert!(
        matches!(state, kinedesk_models::review::ReviewState::Stopped { step, steps: 401 } if step > 0 && step < 400),
        "{state:?}"
    );
    harness.get_by_label_contains("Plan: stopped at step");

    // The gripper closes on command (the simulated one moves at 100 % per second).
    harness.get_by_label("Close").click();
    run_until(&mut harness, "the gripper to close", |app| app.arm().live.as_ref().is_some_and(|s| s.gripper < 0.01));

    harness.get_by_label("Disconnect").click();
    harness.run_steps(3);
    assert!(!harness.state().robot_connected());
    harness.get_by_label("Robot: not connected");
}

#[test]
fn a_realman_controller_connects_from_the_form_and_quitting_asks_first() {
    use kinedesk_models::realman::simulator::{Faults, RealmanSimulator};
    let simulator = RealmanSimulator::start("127.0.0.1:0", kinedesk_models::robot::rm75(), Faults::default()).unwrap();
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::SelectRobot(kinedesk_models::robot::BuiltinRobot::Rm75));
    harness.run();
    let url = format!("realman://{}", simulator.address());
    let field = harness.get_by_label(ROBOT_ADDRESS_LABEL);
    assert_eq!(field.value().as_deref(), Some("realman://192.168.1.18:8080"));
    field.focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run();
    harness.get_by_label(ROBOT_ADDRESS_LABEL).type_text(&url);
    harness.run();
    assert_eq!(harness.get_by_label(ROBOT_ADDRESS_LABEL).value().as_deref(), Some(url.as_str()));
    harness.get_by_label("Connect").click();
    run_until(&mut harness, "the Realman connection", |app| app.arm().live.is_some());
    harness.get_by_label(&format!("Robot: {url}"));

    // Quit asks first while a robot is connected; "Keep running" keeps it.
    harness.state_mut().handle_command(&ctx, Command::Quit);
    harness.run_steps(2);
    assert!(harness.state().is_quit_confirmation_open());
    harness.get_by_label("Keep running").click();
    harness.run_steps(2);
    assert!(!harness.state().is_quit_confirmation_open() && harness.state().robot_connected());
    // "Stop and quit" stops and disconnects the arm.
    harness.state_mut().handle_command(&ctx, Command::Quit);
    harness.run_steps(2);
    harness.get_by_label("Stop and quit").click();
    harness.run_steps(2);
    assert!(!harness.state().robot_connected());
    assert_eq!(harness.state().stop_signal().generation(), 1);
    simulator.shutdown();
}

#[test]
fn teleop_jogs_while_shift_is_held_and_esc_disarms_it() {
    let robot = kinedesk_models::robot::panda();
    let start = kinedesk_models::robot::fk(&robot, &robot.rest_pose).unwrap().position_m;
    let mut harness = app_harness();
    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.get_by_label("Arm teleop").click();
    harness.run_steps(2);
    assert!(harness.state().teleop().armed);
    harness.get_by_label(" ARMED ");
    use kinedesk::gui::panes::arm_pane::{DEADMAN_HELD, DEADMAN_RELEASED, FLANGE_LABEL};
    harness.get_by_label(DEADMAN_RELEASED);
    // The flange pose is on screen while jogging (base frame, mm).
    let shown = |harness: &egui_kittest::Harness<'_, kinedesk::KineDeskApp>| -> f64 {
        let prefix = format!("{FLANGE_LABEL} x ");
        let node = harness.get_by_label_contains(&prefix);
        let label = node.accesskit_node().label().or_else(|| node.accesskit_node().value()).unwrap();
        label.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    assert!((shown(&harness) - start.x * 1000.0).abs() < 1.0, "{} vs {}", shown(&harness), start.x * 1000.0);

    // W without Shift does nothing; with Shift held the flange moves forward (+x).
    harness.key_down(Key::W);
    harness.run_steps(5);
    assert!(harness.state().teleop().target.is_none());
    harness.key_up(Key::W);
    // Hold Shift (the dead-man key) the way the windowing system reports it, then W.
    harness.event(egui::Event::ModifiersChanged(Modifiers::SHIFT));
    harness.key_down(Key::W);
    run_until(&mut harness, "the arm to move forward", |app| {
        app.arm().live.as_ref().is_some_and(|state| {
            kinedesk_models::robot::fk(&robot, &state.positions).unwrap().position_m.x > start.x + 0.005
        })
    });
    assert!(harness.state().arm().teleop_target.is_some(), "the target is drawn while jogging");
    harness.get_by_label(DEADMAN_HELD);
    assert!(shown(&harness) > start.x * 1000.0 + 4.0, "the flange x on screen follows the arm");
    harness.key_up(Key::W);
    harness.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    harness.run_steps(2);

    harness.key_press(Key::Escape);
    harness.run_steps(2);
    assert!(!harness.state().teleop().armed, "Stop disarms teleop");
}

#[test]
fn a_trajectory_that_starts_elsewhere_needs_move_to_start_before_send() {
    let robot = kinedesk_models::robot::panda();
    let joints: Vec<Vec<f64>> = (0..=20)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            q[2] += 0.2 + 0.1 * f64::from(k) / 20.0;
            q
        })
        .collect();
    let path = write_trajectory("elsewhere.json", &joints);
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(path));
    finish_loads(&mut harness);
    harness.get_by_label_contains("from the start");
    harness.get_by_label("Approve").click();
    harness.run_steps(2);
    assert!(harness.get_by_label("Send to robot").accesskit_node().is_disabled());
    harness.state_mut().handle_command(&ctx, Command::SendTrajectory);
    harness.run_steps(2);
    assert!(logged(harness.state(), "from the start: Move to start first"), "the command layer says why");
    // An 11.5° move asks first; Cancel moves nothing.
    let start = harness.state().arm().offset_from_start().unwrap();
    harness.get_by_label("Move to start").click();
    harness.run_steps(2);
    let asked = harness.state().move_to_start_confirmation().unwrap();
    assert!((asked - start.to_degrees()).abs() < 0.5, "{asked} vs {start}");
    harness.run_steps(2);
    harness.get_by_label_contains("Move to the trajectory");
    harness.get_by_label("Cancel").click();
    harness.run_steps(5);
    assert!(harness.state().move_to_start_confirmation().is_none());
    assert!((harness.state().arm().offset_from_start().unwrap() - start).abs() < 1e-3, "Cancel moved the arm");
    harness.get_by_label("Move to start").click();
    harness.run_steps(2);
    harness.get_by_label(kinedesk::gui::app::MOVE_TO_START_CONFIRM_LABEL).click();
    run_until(&mut harness, "the arm at the start", |app| {
        app.arm().offset_from_start().is_some_and(|offset| offset < 1e-6)
    });
    harness.run_steps(2);
    assert!(!harness.get_by_label("Send to robot").accesskit_node().is_disabled());
}

#[test]
fn a_plan_that_ends_at_a_joint_limit_is_amber_and_needs_its_warning_acknowledged_before_approve() {
    use kinedesk::gui::panes::trajectory_pane::{ACKNOWLEDGE_LABEL, APPROVE_LABEL};
    let robot = kinedesk_models::robot::panda();
    let upper = robot.joints[6].limits.upper;
    // 5 s, smooth (within the velocity and acceleration limits): only the end is a concern.
    let joints: Vec<Vec<f64>> = (0..=100)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            let s = (1.0 - (std::f64::consts::PI * f64::from(k) / 100.0).cos()) / 2.0;
            q[6] += s * (upper - q[6]);
            q
        })
        .collect();
    let path = write_trajectory("to-the-limit.json", &joints);
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(path));
    finish_loads(&mut harness);
    harness.run_steps(2);
    harness.get_by_label_contains("All safety checks pass, with 1 warning(s)");
    harness.get_by_label("• joint 7 reaches its upper limit");
    assert!(harness.get_by_label(APPROVE_LABEL).accesskit_node().is_disabled());
    // The command layer refuses too, with the reason.
    harness.state_mut().handle_command(&ctx, Command::ApprovePlan);
    harness.run_steps(2);
    assert!(logged(harness.state(), "acknowledge the 1 warning(s) first"));
    harness.get_by_label(ACKNOWLEDGE_LABEL).click();
    harness.run_steps(2);
    assert!(logged(harness.state(), "warning(s) acknowledged: joint 7 reaches its upper limit"));
    harness.get_by_label(APPROVE_LABEL).click();
    harness.run_steps(2);
    assert!(harness.state().arm().preview.as_ref().unwrap().review.is_approved());
}

#[test]
fn a_ros2_arm_connects_from_the_form_and_its_camera_topic_shows() {
    use kinedesk::gui::panes::cameras_pane::{ADD_CAMERA_LABEL, ROS2_TOPIC_LABEL};
    let wire = ["joint2", "joint1", "joint3", "joint4", "joint5", "joint6", "joint7"];
    let start = [0.2, 0.1, 0.3, 0.4, 0.5, 0.6, 0.7];
    let Some(arm) = crate::ros2_peers::CycloneArm::start(&wire, &start, &["--image-topic", "rt/camera/image_raw"])
    else {
        return;
    };
    let mut harness = app_harness_with(no_cameras());
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::SelectRobot(kinedesk_models::robot::BuiltinRobot::Rm75));
    harness.run();
    // The camera is added from the Cameras pane's menu: a topic box (its domain after it).
    harness.get_by_label(ADD_CAMERA_LABEL).click();
    harness.run();
    harness.get_by_label(ROS2_TOPIC_LABEL).focus();
    harness.run();
    harness.get_by_label(ROS2_TOPIC_LABEL).type_text(&format!("/camera/image_raw?domain={}", arm.domain));
    harness.run();
    harness.get_by_label("Add topic").click();
    harness.run();
    // The topic's images arrive through the same feed path as any camera (64×48 rgb8 from the peer).
    run_until(&mut harness, "a frame from the ROS 2 image topic", |app| {
        app.cameras().feeds.first().and_then(|f| f.last.as_ref()).is_some_and(|f| f.width == 64 && f.height == 48)
    });
    // The arm connects from the address box, its joints read in the model's order.
    let url = format!("ros2://?domain={}", arm.domain);
    harness.get_by_label(ROBOT_ADDRESS_LABEL).focus();
    harness.run();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.run();
    harness.get_by_label(ROBOT_ADDRESS_LABEL).type_text(&url);
    harness.run();
    harness.get_by_label("Connect").click();
    run_until(&mut harness, "the ROS 2 arm's state", |app| app.arm().live.is_some());
    let positions = harness.state().arm().live.as_ref().unwrap().positions.clone();
    for (q, expected) in positions.iter().zip([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]) {
        assert!((q - expected).abs() < 1e-9, "{positions:?}");
    }
    harness.get_by_label(&format!("Robot: {url}"));
    harness.state_mut().handle_command(&ctx, Command::DisconnectRobot);
    harness.run_steps(2);
}
