//! Instruction → plan → review → approve → send, through the real window.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui::Key;
use egui_kittest::kittest::{NodeT, Queryable};
use kinedesk::gui::panes::instruction_pane::INSTRUCTION_LABEL;
use kinedesk::gui::panes::trajectory_pane::{APPROVE_LABEL, SEND_LABEL};
use kinedesk::{Command, KineDeskApp};
use kinedesk_tests::*;

#[test]
fn an_instruction_is_planned_previewed_approved_and_sent() {
    let mut harness = app_harness();
    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());

    harness.get_by_label(INSTRUCTION_LABEL).focus();
    harness.run_steps(2);
    harness.get_by_label(INSTRUCTION_LABEL).type_text("move 5 cm left, then close the gripper");
    harness.run_steps(2);
    harness.key_press(Key::Enter);
    run_until(&mut harness, "the plan", plan_finished);
    let current = harness.state().policy().current.as_ref().unwrap();
    assert!(current.error.is_none(), "{:?}", current.error);
    // Reasoning chips, stages and tokens are on screen, by label.
    harness.get_by_label("direction: left (base frame)");
    harness.get_by_label("move: left 0.050 m at 0.050 m/s");
    harness.get_by_label_contains("chunk 0: <act_c:");
    harness.get_by_label("All safety checks pass");
    assert!(harness.state().log_entries().iter().any(|e| e.message.contains("Plan #1 ready")));

    // Send stays disabled until the plan is approved (the button, and the command layer behind it); approving is
    // withdrawn when the scaling changes.
    let approved = |app: &KineDeskApp| app.arm().preview.as_ref().is_some_and(|p| p.review.is_approved());
    assert!(harness.get_by_label(SEND_LABEL).accesskit_node().is_disabled());
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::SendTrajectory);
    harness.run_steps(2);
    assert!(logged(harness.state(), "Send refused: it is not approved"));
    assert!(!harness.state().arm().preview.as_ref().unwrap().review.is_executing());
    harness.get_by_label(APPROVE_LABEL).click();
    harness.run_steps(2);
    assert!(approved(harness.state()));
    assert!(!harness.get_by_label(SEND_LABEL).accesskit_node().is_disabled());
    harness.state_mut().handle_command(&ctx, Command::SetVelocityPercent(50));
    harness.run_steps(2);
    assert!(!approved(harness.state()));
    harness.get_by_label(APPROVE_LABEL).click();
    harness.run_steps(2);

    harness.get_by_label(SEND_LABEL).click();
    run_until(&mut harness, "the arm to finish", |app| logged(app, "finished plan"));
    harness.get_by_label_contains("Plan: completed");
    let log: Vec<String> = harness.state().log_entries().iter().map(|e| e.message.clone()).collect();
    assert!(log.iter().any(|m| m.contains("approved at 50 % speed")), "{log:#?}");
    assert!(log.iter().any(|m| m.contains("1 gripper moves")), "{log:#?}");
    // The arm ended where the plan ends.
    let goal = harness.state().arm().preview.as_ref().unwrap().trajectory().joints.last().unwrap().clone();
    // The gripper was closed by the driver as part of the plan.
    assert!(harness.state().arm().live.as_ref().unwrap().gripper < 0.01);
    run_until(&mut harness, "the arm to settle", |app| {
        app.arm().live.as_ref().is_some_and(|s| kinedesk_models::driver::max_joint_offset(&goal, &s.positions) < 0.01)
    });

    // Completed: the approval is gone, Move to start is not offered (the start is behind the arm), and the main
    // action is Re-plan from here, which plans the same instruction from where the arm now is.
    use kinedesk::gui::panes::trajectory_pane::{MOVE_TO_START_LABEL, REPLAN_LABEL};
    assert!(!approved(harness.state()));
    assert!(harness.query_by_label(MOVE_TO_START_LABEL).is_none());
    harness.get_by_label(REPLAN_LABEL).click();
    run_until(&mut harness, "the new plan", |app| plan_finished(app) && app.policy().current.as_ref().unwrap().id == 2);
    let replanned = harness.state().arm().preview.as_ref().unwrap().trajectory().joints[0].clone();
    assert!(kinedesk_models::driver::max_joint_offset(&goal, &replanned) < 0.01, "re-planned from where the arm is");
    harness.get_by_label_contains("Plan: planned");
}

#[test]
fn planning_while_the_arm_executes_says_so_and_keeps_the_running_preview() {
    let mut harness = planned_on_the_simulated_arm("move 30 cm left slowly");
    let ctx = harness.ctx.clone();
    harness.get_by_label(APPROVE_LABEL).click();
    harness.run_steps(2);
    harness.get_by_label(SEND_LABEL).click();
    run_until(&mut harness, "the execution", |app| app.arm().preview.as_ref().is_some_and(|p| p.review.is_executing()));
    let running = harness.state().arm().preview.as_ref().unwrap().review.plan_id;
    // Progress shows in the Trajectory pane and in the status bar.
    harness.run_steps(1);
    assert!(harness.get_all_by_label_contains("executing: step").count() >= 1);
    harness.get_by_label_contains("plan: step ");
    harness.state_mut().handle_command(&ctx, Command::Plan("move 5 cm up".into()));
    harness.run_steps(3);
    assert!(logged(harness.state(), "Not planned: the arm is executing"));
    assert_eq!(harness.state().arm().preview.as_ref().unwrap().review.plan_id, running, "the preview was swapped");
    harness.key_press(Key::Escape);
    run_until(&mut harness, "the stop", |app| app.arm().preview.as_ref().is_some_and(|p| !p.review.is_executing()));
    harness.get_by_label_contains("Plan: stopped at step");
    harness.get_by_label(kinedesk::gui::panes::trajectory_pane::REPLAN_LABEL);
}

#[test]
fn a_bad_instruction_is_explained_and_history_comes_back_with_the_up_arrow() {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::Plan("wiggle the mug".into()));
    run_until(&mut harness, "the plan", plan_finished);
    // In the Instruction pane, and as a toast.
    assert!(harness.get_all_by_label_contains("Plan #1 failed: cannot plan \"wiggle\"").count() >= 1);
    assert!(harness.state().arm().preview.is_none(), "nothing to preview, nothing to send");
    harness.get_by_label(INSTRUCTION_LABEL).focus();
    harness.run_steps(2);
    harness.key_press(Key::ArrowUp);
    harness.run_steps(2);
    assert_eq!(harness.get_by_label(INSTRUCTION_LABEL).value().as_deref(), Some("wiggle the mug"));
}

#[test]
fn the_plots_show_the_whole_of_each_new_plan() {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    let mut durations = Vec::new();
    for instruction in ["move 5 cm left", "move 30 cm left slowly", "move 5 cm up"] {
        harness.state_mut().handle_command(&ctx, Command::Plan(instruction.into()));
        run_until(&mut harness, "the plan", plan_finished);
        harness.run_steps(3);
        let duration = harness.state().arm().preview.as_ref().unwrap().duration_s();
        let bounds = harness.state().arm().plot_x_bounds.unwrap();
        // The time axis spans this plan, not the one before (whose bounds a constant plot id used to keep).
        assert!(
            bounds.0 <= 0.05 * duration && (duration * 0.95..=duration * 1.1).contains(&bounds.1),
            "{instruction}: {bounds:?} for {duration} s"
        );
        durations.push(duration);
    }
    assert!(durations[1] > 2.0 * durations[0], "{durations:?}");
}

#[test]
fn enter_on_an_empty_instruction_says_what_to_do() {
    use kinedesk::gui::panes::instruction_pane::{EMPTY_INSTRUCTION_NOTICE, PLAN_LABEL};
    let mut harness = app_harness();
    assert!(harness.get_by_label(PLAN_LABEL).accesskit_node().is_disabled());
    harness.get_by_label(INSTRUCTION_LABEL).focus();
    harness.run_steps(2);
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    harness.get_by_label(EMPTY_INSTRUCTION_NOTICE);
    assert!(harness.state().policy().current.is_none(), "nothing was planned");
    // Typing clears the notice and enables Plan.
    harness.get_by_label(INSTRUCTION_LABEL).focus();
    harness.run_steps(1);
    harness.get_by_label(INSTRUCTION_LABEL).type_text("move 5 cm left");
    harness.run_steps(2);
    assert!(harness.query_by_label(EMPTY_INSTRUCTION_NOTICE).is_none());
    assert!(!harness.get_by_label(PLAN_LABEL).accesskit_node().is_disabled());
}

#[test]
fn approve_and_send_have_shortcuts_that_the_command_layer_still_checks() {
    use egui::Modifiers;
    let ctrl_shift = Modifiers::COMMAND | Modifiers::SHIFT;
    let mut harness = planned_on_the_simulated_arm("move 5 cm left");
    // Send before approval: the shortcut reaches the command layer, which refuses.
    harness.key_press_modifiers(ctrl_shift, Key::Enter);
    harness.run_steps(2);
    assert!(logged(harness.state(), "Send refused: it is not approved"));
    harness.key_press_modifiers(ctrl_shift, Key::A);
    harness.run_steps(2);
    assert!(harness.state().arm().preview.as_ref().unwrap().review.is_approved());
    harness.key_press_modifiers(ctrl_shift, Key::Enter);
    run_until(&mut harness, "the arm to finish", |app| logged(app, "finished plan"));
    harness.get_by_label_contains("Plan: completed");
}

#[test]
fn the_3d_view_is_framed_on_each_new_plan_s_motion() {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    for instruction in ["move 30 cm left", "move 20 cm up"] {
        harness.state_mut().handle_command(&ctx, Command::Plan(instruction.into()));
        run_until(&mut harness, "the plan", plan_finished);
        harness.run_steps(2);
        let app = harness.state();
        let robot = &app.arm().robot;
        let path: Vec<glam::DVec3> = app
            .arm()
            .preview
            .as_ref()
            .unwrap()
            .trajectory()
            .joints
            .iter()
            .map(|q| kinedesk_models::robot::fk(robot, q).unwrap().position_m)
            .collect();
        let (lo, hi) = path.iter().fold((path[0], path[0]), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
        let centre = ((lo + hi) * 0.5).as_vec3();
        let camera = &app.arm().camera;
        assert!(
            camera.target.distance(centre) < 0.01,
            "{instruction}: looking at {:?}, the motion is at {centre:?}",
            camera.target
        );
        // Close enough that the motion fills the view, far enough to see the forearm around it.
        assert!((0.5..2.0).contains(&camera.distance_m), "{instruction}: {} m", camera.distance_m);
    }
}

/// The app with the simulated arm connected and `instruction` planned by the built-in planner.
fn planned_on_the_simulated_arm(instruction: &str) -> egui_kittest::Harness<'static, KineDeskApp> {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.state_mut().handle_command(&ctx, Command::Plan(instruction.into()));
    run_until(&mut harness, "the plan", plan_finished);
    harness
}

#[test]
fn the_next_step_is_always_said_plan_approve_connect_send() {
    use kinedesk::gui::panes::trajectory_pane::NEXT_STEP_LABEL;
    let next = |harness: &egui_kittest::Harness<'static, KineDeskApp>| {
        let node = harness.get_by_label_contains(NEXT_STEP_LABEL);
        node.accesskit_node().label().or_else(|| node.accesskit_node().value()).unwrap_or_default()
    };
    // Planned before any robot is connected: look, then approve.
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::Plan("move 5 cm left".into()));
    run_until(&mut harness, "the plan", plan_finished);
    harness.run_steps(2);
    assert!(
        next(&harness).contains("look over the preview") && next(&harness).contains("Approve"),
        "{}",
        next(&harness)
    );
    harness.get_by_label(APPROVE_LABEL).click();
    harness.run_steps(2);
    // Approved, no robot: connect one.
    assert!(next(&harness).contains("connect a robot in the Arm pane"), "{}", next(&harness));
    harness.get_by_label("Connect simulated arm").click();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.run_steps(2);
    assert!(next(&harness).contains("Send to robot (Ctrl+Shift+Enter)"), "{}", next(&harness));
    harness.get_by_label(SEND_LABEL).click();
    run_until(&mut harness, "the plan executed", |app| {
        app.arm()
            .preview
            .as_ref()
            .is_some_and(|p| matches!(p.review.state(), kinedesk_models::review::ReviewState::Completed))
    });
    harness.run_steps(2);
    assert!(next(&harness).contains("Re-plan from here"), "{}", next(&harness));
}
