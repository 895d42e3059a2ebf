//! Closed-loop rollouts from the Rollout pane: chunks previewed and approved one by one, a rejected chunk pauses,
//! teleop during the pause is an intervention, Resume goes on from the new state, Esc ends it; supervised mode runs
//! inside the envelope on its own, and a rollout started while recording writes its chunks into the episode.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui::{Key, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use kinedesk::gui::panes::rollout_pane::{
    APPROVE_LABEL, REJECT_LABEL, RESUME_LABEL, ROLLOUT_INSTRUCTION_LABEL, START_LABEL, SUPERVISED_LABEL,
};
use kinedesk::{Command, KineDeskApp, Pane};
use kinedesk_models::policy::rollout::{Decision, Phase, RolloutMode};
use kinedesk_tests::*;

fn chunks(app: &KineDeskApp) -> &[kinedesk_models::policy::rollout::ChunkRecord] {
    app.rollout().rollout.as_ref().map_or(&[], |r| r.chunks())
}

fn phase(app: &KineDeskApp) -> Option<Phase> {
    app.rollout().rollout.as_ref().map(kinedesk_models::policy::rollout::Rollout::phase)
}

fn pending(app: &KineDeskApp) -> Option<usize> {
    app.rollout().rollout.as_ref().and_then(|r| r.pending()).map(|c| c.index)
}

#[test]
fn step_mode_previews_each_chunk_and_waits_for_enter_reject_pauses_and_teleop_is_an_intervention() {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    // Start is disabled without a robot, and the command layer refuses too.
    harness.state_mut().handle_command(&ctx, Command::ShowPane(Pane::Rollout));
    harness.run_steps(2);
    assert!(harness.get_by_label(START_LABEL).accesskit_node().is_disabled());
    harness.state_mut().handle_command(&ctx, Command::StartRollout("move 5 cm left".into()));
    assert!(logged(harness.state(), "A rollout needs a connected robot"));

    harness.state_mut().handle_command(&ctx, Command::ConnectSimArm);
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    let rest = harness.state().arm().live.clone().unwrap().positions;
    harness.get_by_label(ROLLOUT_INSTRUCTION_LABEL).focus();
    harness.run_steps(1);
    harness.get_by_label(ROLLOUT_INSTRUCTION_LABEL).type_text("move 6 cm left");
    harness.run_steps(1);
    harness.get_by_label(START_LABEL).click();
    run_until(&mut harness, "the first chunk", |app| pending(app) == Some(0));

    // The chunk is shown (ghost and predicted path) and nothing moves before it is approved.
    let overlay = harness.state().arm().rollout.clone().unwrap();
    assert!(overlay.ghost.as_ref().is_some_and(|g| g.joints.len() >= 2), "the pending chunk is a ghost");
    std::thread::sleep(std::time::Duration::from_millis(300));
    harness.run_steps(3);
    let live = harness.state().arm().live.clone().unwrap();
    assert!(!live.moving && kinedesk_models::driver::max_joint_offset(&live.positions, &rest) < 1e-6);
    assert_eq!(pending(harness.state()), Some(0), "still waiting");
    harness.get_by_label("Chunk 0 waiting");
    assert!(!harness.get_by_label(APPROVE_LABEL).accesskit_node().is_disabled());

    // Enter approves: the chunk runs, and the next one is asked and waits in turn.
    harness.key_press(Key::Enter);
    run_until(&mut harness, "chunk 0 executed", |app| chunks(app).first().is_some_and(|c| c.executed_steps > 0));
    assert_eq!(chunks(harness.state())[0].decision, Decision::Approved);
    run_until(&mut harness, "the second chunk", |app| pending(app) == Some(1));
    let moved = harness.state().arm().live.clone().unwrap().positions;
    assert!(kinedesk_models::driver::max_joint_offset(&moved, &rest) > 1e-3, "the approved chunk moved the arm");
    assert!(harness.state().arm().rollout.as_ref().unwrap().paths.iter().any(|(_, executed)| executed.len() > 1));

    // Backspace rejects: the rollout pauses and the operator takes over with teleop.
    harness.key_press(Key::Backspace);
    run_until(&mut harness, "the pause", |app| phase(app) == Some(Phase::Paused));
    assert_eq!(chunks(harness.state())[1].decision, Decision::Rejected);
    assert!(logged(harness.state(), "Rollout paused: chunk 1 rejected"));
    harness.get_by_label("Arm teleop").click();
    harness.run_steps(2);
    harness.event(egui::Event::ModifiersChanged(Modifiers::SHIFT));
    harness.key_down(Key::W);
    run_until(&mut harness, "the intervention", |app| app.rollout().rollout.as_ref().unwrap().interventions() == 1);
    harness.key_up(Key::W);
    harness.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    harness.run_steps(2);
    harness.state_mut().handle_command(&ctx, Command::SetTeleop(false));
    // Resume continues from the new state: the next chunk says it came after the takeover.
    harness.get_by_label(RESUME_LABEL).click();
    run_until(&mut harness, "a chunk after the takeover", |app| {
        pending(app).is_some_and(|i| chunks(app)[i].after_intervention)
    });
    harness.get_by_label(REJECT_LABEL);

    // Esc stops the arm and ends the rollout.
    harness.key_press(Key::Escape);
    run_until(&mut harness, "the rollout to stop", |app| phase(app) == Some(Phase::Stopped));
    let rollout = harness.state().rollout().rollout.as_ref().unwrap();
    assert_eq!(rollout.stop_reason().unwrap().name(), "operator_stop");
    assert!(rollout.chunks().iter().all(|c| c.decision != Decision::Pending));
    harness.get_by_label_contains("stopped: operator_stop");
}

#[test]
fn supervised_mode_runs_inside_the_envelope_on_its_own_and_records_every_chunk() {
    let root = std::env::temp_dir().join(format!("kinedesk-gui-rollout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::ShowPane(Pane::Rollout));
    harness.state_mut().handle_command(&ctx, Command::ConnectSimArm);
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.get_by_label(SUPERVISED_LABEL).click();
    harness.run_steps(2);
    let settings = harness.state().settings().rollout.clone();
    assert_eq!(settings.mode, RolloutMode::Supervised);
    harness.state_mut().handle_command(
        &ctx,
        Command::SetRolloutSettings(kinedesk::gui::rollout_state::RolloutSettings { max_chunks: 3, ..settings }),
    );
    harness.state_mut().handle_command(&ctx, Command::OpenSession(root.clone()));
    harness.state_mut().handle_command(&ctx, Command::StartRecording);
    run_until(&mut harness, "the recording", |app| app.session().recording.is_some());

    harness.state_mut().handle_command(&ctx, Command::StartRollout("move 10 cm up slowly".into()));
    run_until(&mut harness, "three chunks", |app| phase(app) == Some(Phase::Stopped));
    let rollout = harness.state().rollout().rollout.as_ref().unwrap();
    assert_eq!(rollout.stop_reason().unwrap().name(), "max_chunks", "{:?}", rollout.stop_reason());
    let executed: Vec<_> = rollout.chunks().iter().filter(|c| c.executed_steps > 0).collect();
    assert_eq!(executed.len(), 3);
    assert!(executed.iter().all(|c| c.decision == Decision::AutoApproved), "no approval was asked");
    // Inference was asked while the chunk before ran, and the simulated arm queues the next chunk: it starts on the
    // tick the one before ends.
    let view = harness.state().rollout();
    assert_eq!(view.inference_ms.len(), rollout.chunks().len());
    assert_eq!(view.idle_gap_ms.len(), 2, "{:?}", view.idle_gap_ms);
    let mut gaps: Vec<f64> = view.idle_gap_ms.iter().map(|[_, ms]| *ms).collect();
    gaps.sort_by(f64::total_cmp);
    assert!(gaps[0] < 1.0 && gaps[1] < 100.0, "{gaps:?}");
    assert_eq!(view.logged, rollout.chunks().len(), "every chunk is in the recording");

    harness.state_mut().handle_command(&ctx, Command::FinishEpisode);
    run_until(&mut harness, "the episode", |app| {
        app.session().recording.is_none() && app.background_tasks().is_empty()
    });
    let session = kinedesk_sessions::episode::SessionDir::open(&root).unwrap();
    let episode = kinedesk_sessions::episode::read_episode(&session.episode_paths().unwrap()[0]).unwrap();
    let recorded: Vec<(u64, u64)> = episode
        .events
        .iter()
        .filter(|(_, e)| e["type"] == "rollout_chunk")
        .map(|(_, e)| (e["index"].as_u64().unwrap(), e["executed_steps"].as_u64().unwrap()))
        .collect();
    assert_eq!(recorded.len(), chunks(harness.state()).len(), "{recorded:?}");
    assert!(recorded.iter().filter(|(_, steps)| *steps > 0).count() == 3, "{recorded:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_policy_profile_chosen_by_browsing_is_loaded_first_and_then_used() {
    use kinedesk::gui::file_dialogs::{DialogPurpose, command_for};
    let dir = std::env::temp_dir().join(format!("kinedesk-gui-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("mine.toml");
    std::fs::write(
        &good,
        "name = \"mine\"\n[observation]\nimages = [{ key = \"cam\", camera = 0, size = 128 }]\n\
         state = [{ key = \"q\", fields = [\"joint_positions\", \"gripper_opening\"], float64 = true }]\n\
         [action]\nspace = \"absolute_joints\"\ngripper = \"opening\"\nrate_hz = 10.0\nexecute_steps = 4\ndims = 8\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n").unwrap();
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    // What the dialog's answer becomes: a bad file is refused with the reason and changes nothing.
    let before = harness.state().settings().rollout.profile.clone();
    harness.state_mut().handle_command(&ctx, command_for(DialogPurpose::PolicyProfile, bad));
    harness.run_steps(2);
    assert_eq!(harness.state().settings().rollout.profile, before);
    assert!(logged(harness.state(), "Profile not used"));
    harness.state_mut().handle_command(&ctx, command_for(DialogPurpose::PolicyProfile, good.clone()));
    harness.run_steps(2);
    assert_eq!(harness.state().settings().rollout.profile, good.display().to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}
