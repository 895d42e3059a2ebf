//! The runtime shape: what must keep running does not depend on the window being drawn. These tests run the real
//! app the way eframe runs it while the window is minimised — logic passes only, never a `ui` pass — and for
//! stretches not even that.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use egui::RawInput;
use kinedesk::gui::camera_feeds::CameraSpec;
use kinedesk::{AppOptions, Command, KineDeskApp};
use kinedesk_models::driver::{ExecutionPlan, PlanItem};
use kinedesk_models::review::ReviewState;
use kinedesk_sessions::episode::read_episode;

/// One logic pass, as eframe makes it while the window is hidden (no egui pass, no drawing).
fn logic_pass(ctx: &egui::Context, app: &mut KineDeskApp) {
    let _ = ctx.run_logic(&RawInput::default(), |ctx| app.logic(ctx));
}

fn logic_until(ctx: &egui::Context, app: &mut KineDeskApp, what: &str, done: impl Fn(&KineDeskApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {:#?}", app.log_entries());
        logic_pass(ctx, app);
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_plan_with_gripper_moves_finishes_and_every_state_is_recorded_while_the_window_is_minimised() {
    let root = std::env::temp_dir().join(format!("kinedesk-minimised-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ctx = egui::Context::default();
    let options = AppOptions {
        cameras: Some(vec![CameraSpec::TestPattern { name: "pattern".into(), width: 96, height: 72, fps: 30 }]),
        connect_sim: true,
        session: Some(root.clone()),
        ..AppOptions::default()
    };
    let mut app = KineDeskApp::from_parts(&ctx, None, None, options);
    logic_until(&ctx, &mut app, "the arm and the session", |app| {
        app.arm().live.is_some() && app.session().session.is_some()
    });
    app.handle_command(&ctx, Command::SetVelocityPercent(100));
    let instruction = "move down 5 cm, close the gripper, then lift 10 cm, move 10 cm left and open the gripper";
    app.handle_command(&ctx, Command::Plan(instruction.into()));
    logic_until(&ctx, &mut app, "the plan's preview", |app| app.arm().preview.is_some());
    let plan: ExecutionPlan = app.arm().preview.as_ref().unwrap().review.execution_plan();
    let segments = plan.items.iter().filter(|item| matches!(item, PlanItem::Joints { .. })).count();
    assert!(segments >= 3 && plan.gripper_moves() == 2, "{segments} segments, {} gripper moves", plan.gripper_moves());
    let duration = plan.duration_s();

    app.handle_command(&ctx, Command::StartRecording);
    assert!(app.session().recording.is_some());
    let (published_before, _) = app.robot().unwrap().state_counts();
    app.handle_command(&ctx, Command::ApprovePlan);
    app.handle_command(&ctx, Command::SendTrajectory);
    assert!(app.arm().preview.as_ref().unwrap().review.is_executing());

    // Minimised, and more: no pass of any kind for the whole plan. The driver sequences it alone (three segments,
    // two gripper moves) and its state tap feeds the recorder.
    std::thread::sleep(Duration::from_secs_f64(duration + 4.0));
    let robot = app.robot().unwrap();
    let state = robot.latest_state().unwrap();
    assert!(!state.moving && state.progress.is_none(), "the plan finished without the UI: {state:?}");
    let goal = app.arm().preview.as_ref().unwrap().trajectory().joints.last().unwrap().clone();
    assert!(kinedesk_models::driver::max_joint_offset(&goal, &state.positions) < 1e-6);
    assert!(state.gripper > 0.99, "opened again at the end");

    // The first logic pass after it sees every lifecycle event in order: the review is completed.
    logic_pass(&ctx, &mut app);
    assert_eq!(app.arm().preview.as_ref().unwrap().review.state(), &ReviewState::Completed);
    let (published_after, _) = app.robot().unwrap().state_counts();
    app.handle_command(&ctx, Command::FinishEpisode);
    logic_until(&ctx, &mut app, "the episode in the list", |app| app.session().episodes.len() == 1);

    let episode = read_episode(&app.session().episodes[0].path).unwrap();
    let published = published_after - published_before;
    let recorded = episode.joints.len() as u64;
    // Every state the driver published while the tap was installed is in the log (the tap was installed before
    // the first count and removed after the second, so at most a couple more).
    assert!(recorded >= published && recorded <= published + 5, "recorded {recorded} of {published} published");
    assert!(recorded as f64 >= 95.0 * duration, "{recorded} states for {duration:.1} s at 100 Hz");
    let lowest = episode.joints.iter().map(|j| j.gripper).fold(1.0, f64::min);
    assert!(lowest < 0.01, "the gripper closed during the plan (lowest opening {lowest})");
    // What was commanded is recorded beside what happened, and the stages as the robot executed them.
    assert!(episode.actions.len() as f64 >= 95.0 * duration, "{} commanded actions", episode.actions.len());
    let executed =
        episode.events.iter().filter(|(_, e)| e.get("type").and_then(|t| t.as_str()) == Some("stage_executed")).count();
    assert!(executed >= 4, "{executed} executed stages recorded");
    std::fs::remove_dir_all(&root).unwrap();
}
