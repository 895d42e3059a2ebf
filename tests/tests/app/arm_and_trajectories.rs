//! The arm panes: trajectory files checked and previewed, robot models, URDFs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui_kittest::kittest::Queryable;
use kinedesk::{Command, KineDeskApp};
use kinedesk_tests::*;
use kinedesk_widgets::LogLevel;

#[test]
fn a_trajectory_file_is_checked_previewed_and_scrubbed() {
    let robot = kinedesk_models::robot::panda();
    let mut joints: Vec<Vec<f64>> = (0..30)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            q[0] += 0.02 * f64::from(k);
            q
        })
        .collect();
    let good = write_trajectory("good.json", &joints);
    joints[12][3] = 0.3; // joint 4 past its upper limit
    let bad = write_trajectory("bad.json", &joints);

    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(good));
    finish_loads(&mut harness);
    assert!(harness.state().arm().preview.as_ref().unwrap().review.report.ok);
    harness.get_by_label("All safety checks pass");

    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(bad));
    finish_loads(&mut harness);
    let report = harness.state().arm().preview.as_ref().unwrap().review.report.clone();
    assert!(!report.ok);
    harness.get_by_label_contains("safety check violation(s): Send is disabled");
    // Clicking a violation scrubs the ghost to its step.
    let first = report.violations[0].clone();
    harness.get_by_label(&first.message).click();
    harness.run();
    assert_eq!(harness.state().arm().preview.as_ref().unwrap().step, first.step);

    let missing = std::env::temp_dir().join("kinedesk-no-such-file.json");
    harness.state_mut().handle_command(&ctx, Command::LoadTrajectory(missing));
    finish_loads(&mut harness);
    let last = harness.state().log_entries().back().unwrap();
    assert_eq!(last.level, LogLevel::Error);
    assert!(last.message.contains("cannot read"), "{}", last.message);
}

#[test]
fn the_robot_model_can_be_switched_and_is_remembered() {
    let ctx = egui::Context::default();
    let mut app = KineDeskApp::from_parts(&ctx, None, None, no_cameras());
    assert_eq!(app.arm().robot.name, "panda");
    app.handle_command(&ctx, Command::SelectRobot(kinedesk_models::robot::BuiltinRobot::Rm75));
    let mut storage = MemoryStorage::default();
    eframe::App::save(&mut app, &mut storage);
    let again = KineDeskApp::from_parts(&ctx, Some(&storage), None, no_cameras());
    assert_eq!(again.arm().robot.name, "rm75");
}

#[test]
fn a_urdf_robot_loads_with_its_mesh_and_a_broken_one_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("kinedesk-app-urdf-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("meshes")).unwrap();
    std::fs::write(
        dir.join("meshes/tri.stl"),
        "solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 0.1 0 0\nvertex 0 0.1 0\nendloop\nendfacet\nendsolid t\n",
    )
    .unwrap();
    let urdf = r#"<robot name="pendulum">
      <link name="base"/>
      <link name="bob"><visual><geometry><mesh filename="meshes/tri.stl"/></geometry></visual></link>
      <joint name="swing" type="revolute"><parent link="base"/><child link="bob"/><origin xyz="0 0 0.4"/>
        <axis xyz="1 0 0"/><limit lower="-1" upper="1" velocity="1" effort="1"/></joint>
    </robot>"#;
    std::fs::write(dir.join("pendulum.urdf"), urdf).unwrap();
    std::fs::write(dir.join("broken.urdf"), urdf.replace("meshes/tri.stl", "meshes/missing.stl")).unwrap();

    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::LoadUrdf { path: dir.join("pendulum.urdf"), tip: None });
    finish_loads(&mut harness);
    assert_eq!(harness.state().arm().robot.name, "pendulum");
    assert_eq!(harness.state().arm().visuals.len(), 1);
    harness.get_by_value("URDF: pendulum");

    harness.state_mut().handle_command(&ctx, Command::LoadUrdf { path: dir.join("broken.urdf"), tip: None });
    finish_loads(&mut harness);
    assert_eq!(harness.state().arm().robot.name, "pendulum", "a failed load keeps the robot shown");
    let last = harness.state().log_entries().back().unwrap();
    assert_eq!(last.level, LogLevel::Error);
    assert!(last.message.contains("missing.stl"), "{}", last.message);
    std::fs::remove_dir_all(&dir).unwrap();
}
