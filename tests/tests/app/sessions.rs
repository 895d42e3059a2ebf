//! Recording, annotating, exporting and importing from the Session pane.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kinedesk::{AppOptions, Command, KineDeskApp, Pane};
use kinedesk_tests::*;

#[test]
fn an_episode_is_recorded_from_the_session_pane_and_exported() {
    use kinedesk::gui::camera_feeds::CameraSpec;
    let root = std::env::temp_dir().join(format!("kinedesk-gui-session-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = AppOptions {
        cameras: Some(vec![CameraSpec::TestPattern { name: "pattern".into(), width: 160, height: 120, fps: 30 }]),
        connect_sim: true,
        ..AppOptions::default()
    };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.state_mut().handle_command(&ctx, Command::ShowPane(Pane::Session));
    harness.state_mut().handle_command(&ctx, Command::OpenSession(root.join("session")));
    harness.run_steps(2);
    harness.get_by_label(kinedesk::gui::panes::session_pane::TASK_LABEL).focus();
    harness.run_steps(1);
    harness.get_by_label(kinedesk::gui::panes::session_pane::TASK_LABEL).type_text("wave hello");
    harness.run_steps(1);
    // With the rerun CLI at hand (scripts/test.sh), the episode also streams live to a headless Rerun server.
    let rerun = std::env::var("KINEDESK_RERUN").ok().filter(|r| std::path::Path::new(r).is_file());
    let live = root.join("live.rrd");
    let port = 20_876 + (std::process::id() % 1000) as u16;
    let mut server = rerun.as_ref().map(|rerun| {
        std::fs::create_dir_all(&root).unwrap();
        // In its own process group: the `rerun` entry point may be a wrapper that starts the real binary.
        use std::os::unix::process::CommandExt as _;
        let child = std::process::Command::new(rerun)
            .args(["--port", &port.to_string(), "--save"])
            .arg(&live)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        harness.get_by_label(kinedesk::gui::panes::session_pane::RERUN_LIVE_LABEL);
        let ctx = harness.ctx.clone();
        harness
            .state_mut()
            .handle_command(&ctx, Command::SetRerunLive(Some(format!("rerun+http://127.0.0.1:{port}/proxy"))));
        child
    });
    harness.get_by_label(kinedesk::gui::panes::session_pane::RECORD_LABEL).click();
    run_until(&mut harness, "a second of recording", |app| {
        app.session().recording.as_ref().is_some_and(|r| r.stats().frames_written >= 25)
    });
    harness.get_by_label("Recorder: recording 1 s");
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::FinishEpisode);
    run_until(&mut harness, "the finished episode in the list", |app| app.session().episodes.len() == 1);
    let episodes = &harness.state().session().episodes;
    assert!(episodes[0].finished && episodes[0].frames >= 25 && episodes[0].task == "wave hello", "{episodes:?}");
    harness.get_by_label("complete");

    // Checked before export: the doctor on what the export would write, its report in the pane.
    harness.get_by_label(kinedesk::gui::panes::session_pane::CHECK_LABEL).click_accesskit();
    run_until(&mut harness, "the session check", |app| app.session().last_check.is_some());
    let report = harness.state().session().last_check.clone().unwrap().unwrap();
    assert_eq!((report.episodes, report.errors()), (1, 0), "{report:?}");
    assert!(report.frames >= 25, "{report:?}");
    harness.get_by_label_contains("Check: 1 episodes");
    harness.state_mut().handle_command(
        &ctx,
        Command::ExportSession {
            out: root.join("dataset"),
            format: kinedesk::gui::session_state::ExportFormat::LeRobotV3,
        },
    );
    run_until(&mut harness, "the export", |app| app.session().last_export.is_some());
    harness.get_by_label_contains("Exported 1 episodes");
    assert!(root.join("dataset/meta/info.json").is_file());
    harness.state_mut().handle_command(
        &ctx,
        Command::ExportSession {
            out: root.join("session.rrd"),
            format: kinedesk::gui::session_state::ExportFormat::Rerun,
        },
    );
    run_until(&mut harness, "the Rerun export", |app| app.session().last_export.is_some());
    harness.get_by_label_contains("Exported 1 episodes");
    assert!(root.join("session.rrd").metadata().unwrap().len() > 1000);
    if let (Some(rerun), Some(server)) = (&rerun, server.as_mut()) {
        let mut received = String::new();
        for _ in 0..50 {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let stats = std::process::Command::new(rerun).args(["rrd", "stats"]).arg(&live).output().unwrap();
            received = String::from_utf8_lossy(&stats.stdout).into_owned();
            if received.contains("/cameras/pattern:") && received.contains("/joints/q1:") {
                break;
            }
        }
        let _ = std::process::Command::new("kill").arg("--").arg(format!("-{}", server.id())).status();
        let _ = server.kill();
        let _ = server.wait();
        for entity in ["/cameras/pattern:", "/joints/q1:", "/arm/skeleton:"] {
            assert!(received.contains(entity), "live logging did not deliver {entity}:\n{received}");
        }
    } else if required("KINEDESK_REQUIRE_PYTHON_PEERS") {
        panic!("the rerun CLI is required here (KINEDESK_RERUN) but was not found: live logging was not checked");
    } else {
        eprintln!("SKIPPED (loudly): no rerun CLI (KINEDESK_RERUN) — live logging was not checked");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn an_episode_is_annotated_on_the_timeline_with_keys_saved_and_deleted_safely() {
    use kinedesk::gui::annotator::TimelineCommand as T;
    use kinedesk::gui::panes::annotate_ui::{CLOSE_EPISODE_LABEL, NOTES_LABEL};
    use kinedesk_sessions::annotation::{Outcome, annotation_path, load_annotation};

    let root = std::env::temp_dir().join(format!("kinedesk-gui-annotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    kinedesk_tests::record_synthetic(&root, 2.0, "move 10 cm left");
    let log = root.join("episodes/episode_000000.kdlog");
    let options = AppOptions { session: Some(root.clone()), ..no_cameras() };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    run_until(&mut harness, "the session", |app| app.session().episodes.len() == 1);
    // Delete is not beside Open (Flag is between them).
    let (open, flag) =
        (harness.get_by_label("Open episode_000000").rect(), harness.get_by_label("Flag episode_000000").rect());
    let delete = harness.get_by_label("Delete episode_000000").rect();
    assert!(open.right() < flag.left() && flag.right() < delete.left(), "{open:?} {flag:?} {delete:?}");
    harness.get_by_label("Open episode_000000").click();
    run_until(&mut harness, "the episode on the timeline", |app| app.session().annotator.open.is_some());
    assert_eq!(harness.state().maximised_pane(), Some(Pane::Session), "annotating gets the whole window");
    harness.get_by_label(kinedesk_widgets::timeline::TIMELINE_LABEL);
    let open = |app: &KineDeskApp| {
        let open = app.session().annotator.open.as_ref().unwrap();
        (open.cursor_s, open.history.current.clone())
    };
    // Seeded from what was recorded: the task as the instruction, the reasoning as constraints.
    let (_, seeded) = open(harness.state());
    assert_eq!(seeded.instruction, "move 10 cm left");
    assert!(seeded.constraints.direction.contains("left"), "{seeded:?}");

    // Keyboard-first: the arrows step frames here (they finish/discard only while recording).
    harness.key_press(Key::ArrowRight);
    harness.run_steps(2);
    let (cursor, _) = open(harness.state());
    assert!((cursor - 1.0 / 30.0).abs() < 1e-6, "{cursor}");
    assert!(harness.state().session().recording.is_none());
    let ctx = harness.ctx.clone();
    // Key presses are handled in the next frame, so each gets one.
    harness.state_mut().handle_command(&ctx, Command::Timeline(T::SeekMs(500)));
    harness.key_press(Key::I);
    harness.run_steps(1);
    harness.state_mut().handle_command(&ctx, Command::Timeline(T::SeekMs(1200)));
    for key in [Key::O, Key::Num2, Key::Y] {
        harness.key_press(key);
        harness.run_steps(1);
    }
    let (_, annotation) = open(harness.state());
    let grasp = annotation.stages.iter().find(|s| s.stage.name() == "grasp").expect("a grasp stage");
    assert!((grasp.start_s - 0.5).abs() < 1e-9 && (grasp.end_s - 1.2).abs() < 1e-9, "{grasp:?}");
    assert_eq!(annotation.outcome, Outcome::Success);

    harness.get_by_label(NOTES_LABEL).focus();
    harness.run_steps(1);
    harness.get_by_label(NOTES_LABEL).type_text("slipped once");
    harness.run_steps(2);
    harness.key_press(Key::Escape); // leaves the text box (and is the Stop key: nothing moves here)
    harness.run_steps(2);
    assert_eq!(open(harness.state()).1.notes, "slipped once");
    harness.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    harness.run_steps(2);
    assert_eq!(open(harness.state()).1.notes, "", "the typed text is one undo step");
    harness.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    harness.run_steps(2);
    assert_eq!(open(harness.state()).1.notes, "slipped once");

    // Autosave: the file on disk follows without any save command.
    run_until(&mut harness, "the autosave", |_| {
        load_annotation(&log).ok().flatten().is_some_and(|a| a.notes == "slipped once" && a.outcome == Outcome::Success)
    });

    // Deleting moves the episode to the trash; Restore puts it back with its annotation.
    harness.get_by_label(CLOSE_EPISODE_LABEL).click();
    harness.run_steps(3);
    assert_eq!(harness.state().maximised_pane(), None);
    harness.get_by_label("Delete episode_000000").click();
    run_until(&mut harness, "the list without it", |app| app.session().episodes.is_empty());
    let messages: Vec<String> = harness.state().log_entries().iter().map(|e| e.message.clone()).collect();
    assert!(!log.exists() && root.join("trash/episode_000000.kdlog").exists(), "{messages:#?}");
    assert!(harness.state().session().episodes.is_empty());
    harness.get_by_label("Restore episode_000000.kdlog").click();
    run_until(&mut harness, "the list with it again", |app| app.session().episodes.len() == 1);
    assert!(log.exists() && annotation_path(&log).exists());
    let row = &harness.state().session().episodes[0];
    assert_eq!(row.annotation.as_ref().map(|a| a.outcome), Some(Outcome::Success));

    // Split at the cursor (1.0 s, inside the grasp stage): two new episodes with the annotation split with them;
    // Undo split puts the original back.
    use kinedesk::gui::panes::annotate_ui::{SPLIT_LABEL, UNDO_SPLIT_LABEL};
    harness.get_by_label("Open episode_000000").click();
    run_until(&mut harness, "the episode on the timeline", |app| app.session().annotator.open.is_some());
    harness.state_mut().handle_command(&ctx, Command::Timeline(T::SeekMs(1000)));
    harness.run_steps(2);
    harness.get_by_label(SPLIT_LABEL).click_accesskit();
    run_until(&mut harness, "the two parts listed", |app| {
        app.session().annotator.last_split.is_some() && app.session().episodes.len() == 2
    });
    let names: Vec<String> = harness.state().session().episodes.iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["episode_000001", "episode_000002"]);
    assert!(!log.exists() && root.join("trash/episode_000000.kdlog").exists());
    let part = |n: u32| load_annotation(&root.join(format!("episodes/episode_00000{n}.kdlog"))).unwrap().unwrap();
    let grasp = |a: &kinedesk_sessions::annotation::EpisodeAnnotation| {
        let g = a.stages.iter().find(|s| s.stage.name() == "grasp").unwrap();
        ((g.start_s * 1e3).round() / 1e3, (g.end_s * 1e3).round() / 1e3)
    };
    // The second part's clock starts at its first record, a few ms after the cut.
    let (first, second) = (grasp(&part(1)), grasp(&part(2)));
    assert!(first == (0.5, 1.0) && second.0 == 0.0 && (0.18..=0.2).contains(&second.1), "{first:?} {second:?}");
    assert_eq!(part(2).notes, "slipped once");
    let rows = &harness.state().session().episodes;
    assert!(rows[0].frames + rows[1].frames >= 55 && rows.iter().all(|r| r.finished), "{rows:?}");
    harness.get_by_label(UNDO_SPLIT_LABEL).click_accesskit();
    run_until(&mut harness, "the original back", |app| {
        app.session().episodes.len() == 1 && app.session().episodes[0].name == "episode_000000"
    });
    assert_eq!(load_annotation(&log).unwrap().map(|a| grasp(&a)), Some((0.5, 1.2)));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn episodes_end_by_themselves_the_reset_counts_down_and_the_next_one_starts() {
    use kinedesk::gui::camera_feeds::CameraSpec;
    use kinedesk_sessions::annotation::load_annotation;

    let root = std::env::temp_dir().join(format!("kinedesk-gui-timers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = AppOptions {
        cameras: Some(vec![CameraSpec::TestPattern { name: "pattern".into(), width: 96, height: 72, fps: 30 }]),
        session: Some(root.clone()),
        ..AppOptions::default()
    };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the session", |app| app.session().session.is_some());
    harness.get_by_label(kinedesk::gui::panes::session_pane::EPISODE_LIMIT_LABEL);
    harness
        .state_mut()
        .handle_command(&ctx, Command::SetEpisodeTimers { limit_s: 1, reset_s: 1, record_after_reset: true });
    harness.state_mut().handle_command(&ctx, Command::StartRecording);
    run_until(&mut harness, "the episode to end by itself", |app| {
        app.session().recording.is_none() && app.session().episodes.len() == 1
    });
    assert!(harness.state().session().reset_started.is_some(), "the reset countdown runs");
    harness.get_by_label_contains("RESET");
    run_until(&mut harness, "the next episode to start after the reset", |app| app.session().recording.is_some());
    harness
        .state_mut()
        .handle_command(&ctx, Command::SetEpisodeTimers { limit_s: 0, reset_s: 0, record_after_reset: false });
    harness.state_mut().handle_command(&ctx, Command::FinishEpisode);
    run_until(&mut harness, "both episodes in the list", |app| app.session().episodes.len() == 2);
    assert!(harness.state().session().reset_started.is_none(), "no reset when the reset time is 0");
    let first = &harness.state().session().episodes[0];
    assert!((0.9..2.0).contains(&first.duration_s), "the limit ended it after about a second: {first:?}");

    // Flagging from the list writes the annotation without opening the episode.
    harness.key_press_modifiers(Modifiers::COMMAND, Key::M); // the Session pane over the whole window
    harness.run_steps(2);
    assert_eq!(harness.state().maximised_pane(), Some(Pane::Session));
    harness.get_by_label("Flag episode_000001").click();
    let log = root.join("episodes/episode_000001.kdlog");
    run_until(&mut harness, "the flag on disk", |_| load_annotation(&log).ok().flatten().is_some_and(|a| a.flagged));
    harness.get_by_label("Unflag episode_000001").click();
    run_until(&mut harness, "the flag off on disk", |_| {
        load_annotation(&log).ok().flatten().is_some_and(|a| !a.flagged)
    });
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_lerobot_dataset_is_imported_from_the_session_pane_and_opens_on_the_timeline() {
    let root = std::env::temp_dir().join(format!("kinedesk-gui-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    kinedesk_tests::record_synthetic(&root.join("recorded"), 1.5, "move 10 cm up");
    kinedesk_sessions::lerobot::export_lerobot_v3(&root.join("recorded"), &root.join("dataset"), |_, _| {}).unwrap();

    let options = AppOptions { session: Some(root.join("annotating")), ..no_cameras() };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the session", |app| app.session().session.is_some());
    harness.state_mut().handle_command(&ctx, Command::MaximisePane(Some(Pane::Session)));
    harness.run_steps(2);
    harness.get_by_label(kinedesk::gui::panes::session_pane::IMPORT_LABEL).focus();
    harness.run_steps(1);
    harness
        .get_by_label(kinedesk::gui::panes::session_pane::IMPORT_LABEL)
        .type_text(root.join("dataset").to_str().unwrap());
    harness.run_steps(1);
    harness.get_by_label("Import").click();
    run_until(&mut harness, "the import", |app| app.session().episodes.len() == 1);
    let log: Vec<String> = harness.state().log_entries().iter().map(|e| e.message.clone()).collect();
    assert!(log.iter().any(|m| m.starts_with("Imported 1 episodes")), "{log:#?}");
    assert_eq!(harness.state().session().episodes[0].task, "move 10 cm up");
    harness.get_by_label("Open episode_000000").click();
    run_until(&mut harness, "the imported episode on the timeline", |app| app.session().annotator.open.is_some());
    let open = harness.state().session().annotator.open.as_ref().unwrap();
    assert!(open.curves.iter().any(|c| c.name == "action 1"), "actions are plotted too");
    assert!(!open.thumbnails.is_empty());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_rosbag_is_imported_from_the_session_pane_and_opens_on_the_timeline() {
    let Some(python) = crate::ros2_peers::python_with("rosbags") else { return };
    let root = std::env::temp_dir().join(format!("kinedesk-gui-rosbag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let bag = root.join("bag");
    let written = std::process::Command::new(python)
        .arg(crate::ros2_peers::peer_script("write_bag.py"))
        .arg(&bag)
        .args(["--seconds", "2"])
        .output()
        .unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));

    let options = AppOptions { session: Some(root.join("annotating")), ..no_cameras() };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the session", |app| app.session().session.is_some());
    harness.state_mut().handle_command(&ctx, Command::MaximisePane(Some(Pane::Session)));
    harness.run_steps(2);
    let label = kinedesk::gui::panes::session_pane::IMPORT_LABEL;
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.get_by_label(label).type_text(bag.to_str().unwrap());
    harness.run_steps(1);
    harness.get_by_label("Import").click();
    run_until(&mut harness, "the rosbag import", |app| app.session().episodes.len() == 1);
    let log: Vec<String> = harness.state().log_entries().iter().map(|e| e.message.clone()).collect();
    assert!(log.iter().any(|m| m.starts_with("Imported 1 episodes, 60 frames")), "{log:#?}");
    assert!(log.iter().any(|m| m.contains("not recorded: commanded actions, gripper")), "{log:#?}");
    harness.get_by_label("Open episode_000000").click();
    run_until(&mut harness, "the imported bag on the timeline", |app| app.session().annotator.open.is_some());
    let open = harness.state().session().annotator.open.as_ref().unwrap();
    // The bag's joint names, in its order; no gripper curve (a JointState has no gripper: not measured).
    let names: Vec<&str> = open.curves.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[..3], ["joint3", "joint1", "joint2"], "{names:?}");
    assert!(!names.contains(&"gripper"), "{names:?}");
    assert!(!open.thumbnails.is_empty());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn while_recording_the_keys_are_shown_esc_keeps_recording_and_a_discard_can_be_undone() {
    use kinedesk::gui::camera_feeds::CameraSpec;
    use kinedesk::gui::panes::session_pane::{RECORD_LABEL, RECORDING_KEYS_HINT};
    let root = std::env::temp_dir().join(format!("kinedesk-gui-discard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = AppOptions {
        cameras: Some(vec![CameraSpec::TestPattern { name: "pattern".into(), width: 96, height: 72, fps: 30 }]),
        connect_sim: true,
        session: Some(root.clone()),
        ..AppOptions::default()
    };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the simulated arm", |app| app.arm().live.is_some());
    harness.state_mut().handle_command(&ctx, Command::ShowPane(Pane::Session));
    harness.run_steps(2);
    assert!(harness.query_by_label(RECORDING_KEYS_HINT).is_none());
    harness.get_by_label(RECORD_LABEL).click();
    run_until(&mut harness, "frames recorded", |app| {
        app.session().recording.as_ref().is_some_and(|r| r.stats().frames_written >= 10)
    });
    harness.get_by_label(RECORDING_KEYS_HINT);
    // Esc stops the arm, not the recording, and says so.
    harness.key_press(Key::Escape);
    harness.run_steps(3);
    assert!(harness.state().session().recording.is_some(), "Esc must not end the recording");
    assert!(logged(harness.state(), "The recording goes on"));
    // Left discards: to the trash, with Undo on the toast.
    harness.key_press(Key::ArrowLeft);
    run_until(&mut harness, "the discard", |app| {
        app.session().recording.is_none() && app.session().annotator.last_deleted.is_some()
    });
    let trashed = root.join("trash/episode_000000.kdlog");
    run_until(&mut harness, "the log in the trash", |_| trashed.exists());
    harness.get_by_label(kinedesk::gui::app::UNDO_DISCARD_LABEL).click();
    run_until(&mut harness, "the episode back", |app| app.session().episodes.len() == 1);
    assert!(root.join("episodes/episode_000000.kdlog").exists() && !trashed.exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_last_session_comes_back_after_a_restart_and_is_in_recent_sessions() {
    use egui_kittest::kittest::NodeT as _;
    let root = std::env::temp_dir().join(format!("kinedesk-gui-reopen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let ctx = egui::Context::default();
    let mut first = KineDeskApp::from_parts(&ctx, None, None, no_cameras());
    first.handle_command(&ctx, Command::OpenSession(root.join("a")));
    first.handle_command(&ctx, Command::OpenSession(root.join("b")));
    let mut storage = MemoryStorage::default();
    eframe::App::save(&mut first, &mut storage);

    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(|cc| KineDeskApp::from_parts(&cc.egui_ctx, Some(&storage), None, no_cameras()));
    run_until(&mut harness, "the last session open", |app| {
        app.session().session.as_ref().is_some_and(|s| s.root == root.join("b"))
    });
    // File → Recent sessions lists both, newest first; choosing one opens it.
    harness.get_by_label("File").click();
    harness.run_steps(2);
    harness.get_by_label(kinedesk::gui::app::RECENT_SESSIONS_LABEL).hover();
    harness.run_steps(2);
    for label in
        ["Open session…", "Open trajectory…", "Open URDF…", "Export session to…", "Import LeRobot dataset or rosbag…"]
    {
        harness.get_by_label(label);
    }
    let a = root.join("a").display().to_string();
    let b = root.join("b").display().to_string();
    let (top_a, top_b) = (harness.get_by_label(&a).rect().top(), harness.get_by_label(&b).rect().top());
    assert!(top_b < top_a, "newest first");
    harness.get_by_label(&a).click();
    run_until(&mut harness, "session a open", |app| {
        app.session().session.as_ref().is_some_and(|s| s.root == root.join("a"))
    });
    let _ = harness.get_by_label(kinedesk::gui::panes::session_pane::SESSION_FOLDER_LABEL).accesskit_node();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn browse_opens_the_file_dialog_on_a_thread_and_the_window_keeps_running() {
    let mut harness = app_harness();
    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::ShowPane(Pane::Session));
    harness.run_steps(2);
    harness.get_by_label(kinedesk::gui::panes::session_pane::BROWSE_LABEL).click();
    harness.run_steps(1);
    // Headless there is no desktop portal: the dialog thread answers "nothing chosen" and the log says to type the
    // path; meanwhile the window kept drawing frames.
    let frames_before = harness.state().frame_count();
    run_until(&mut harness, "the dialog's answer", |app| logged(app, "Open a session folder: nothing chosen"));
    assert!(harness.state().frame_count() > frames_before);
    assert!(logged(harness.state(), "type the path into the box instead"));
}
