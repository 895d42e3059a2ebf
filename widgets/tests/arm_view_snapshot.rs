//! The arm view rendered for real on wgpu (lavapipe on CI): live arm, ghost trajectory, a failing link in red.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kinedesk_core::robot::{SafetyLimits, Trajectory, check_trajectory, panda};
use kinedesk_widgets::arm_view::{
    ARM_VIEW_LABEL, ArmModel, ArmScene, ArmViewRenderer, GhostPreview, OrbitCamera, add_arm, add_ghost_trajectory,
    arm_view_ui,
};

struct ArmViewApp {
    camera: OrbitCamera,
    scene: ArmScene,
    gpu: bool,
}

impl eframe::App for ArmViewApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            arm_view_ui(ui, &mut self.camera, &self.scene, self.gpu);
        });
    }
}

/// A reach forward and down from the ready pose, with joint 4 pushed past its limit half-way.
fn ghost_scene() -> ArmScene {
    let robot = panda();
    let mut joints = Vec::new();
    for k in 0..40 {
        let s = k as f64 / 39.0;
        let mut q = robot.rest_pose.clone();
        q[0] += 0.9 * s;
        q[1] += 0.5 * s;
        q[3] += 0.4 * s;
        joints.push(q);
    }
    joints[20][3] = 0.3;
    let trajectory = Trajectory { dt_s: 0.05, joints };
    let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
    assert!(!report.ok);
    let mut scene = ArmScene::with_floor([0.09, 0.10, 0.12, 1.0], [0.5, 0.5, 0.55, 0.35]);
    add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &robot.rest_pose, [0.78, 0.80, 0.84, 1.0], &[])
        .unwrap();
    add_ghost_trajectory(
        &mut scene,
        ArmModel { robot: &robot, visuals: &[] },
        GhostPreview { trajectory: &trajectory, step: 20, report: Some(&report), samples: 4, highlight: None },
    )
    .unwrap();
    scene
}

#[test]
fn the_arm_view_renders_a_ghost_trajectory_on_wgpu() {
    let mut harness = Harness::builder().wgpu().with_size([640.0, 420.0]).build_eframe(|cc| {
        let render_state = cc.wgpu_render_state.as_ref().expect("the wgpu test renderer provides a render state");
        ArmViewRenderer::install(render_state);
        ArmViewApp { camera: OrbitCamera::default(), scene: ghost_scene(), gpu: true }
    });
    harness.run();
    harness.get_by_label(ARM_VIEW_LABEL);
    harness.snapshot("arm_view_ghost_trajectory");
}

#[test]
fn the_live_arm_alone_renders_on_wgpu() {
    let robot = panda();
    let mut scene = ArmScene::with_floor([0.09, 0.10, 0.12, 1.0], [0.5, 0.5, 0.55, 0.35]);
    add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &robot.rest_pose, [0.78, 0.80, 0.84, 1.0], &[])
        .unwrap();
    let mut harness = Harness::builder().wgpu().with_size([400.0, 300.0]).build_eframe(|cc| {
        ArmViewRenderer::install(cc.wgpu_render_state.as_ref().expect("wgpu render state"));
        ArmViewApp { camera: OrbitCamera::default(), scene, gpu: true }
    });
    harness.run();
    harness.snapshot("arm_view_live_arm");
}

#[test]
fn dragging_orbits_the_camera() {
    let mut harness = Harness::builder().with_size([400.0, 300.0]).build_eframe(|_cc| ArmViewApp {
        camera: OrbitCamera::default(),
        scene: ghost_scene(),
        gpu: false,
    });
    harness.run();
    let before = harness.state().camera;
    let view = harness.get_by_label(ARM_VIEW_LABEL).rect();
    harness.drag_at(view.center());
    harness.run();
    for step in 1..=6 {
        harness.hover_at(view.center() + egui::vec2(10.0 * step as f32, 0.0));
        harness.run();
    }
    harness.drop_at(view.center() + egui::vec2(60.0, 0.0));
    harness.run();
    let after = harness.state().camera;
    assert!((after.yaw_rad - before.yaw_rad).abs() > 0.1, "yaw {} -> {}", before.yaw_rad, after.yaw_rad);
    harness.get_by_label("The 3D view needs the wgpu renderer.");
}
