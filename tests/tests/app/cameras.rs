//! Camera feeds in the window.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kinedesk::{AppOptions, Command, KineDeskApp};
use kinedesk_tests::*;

#[test]
fn camera_feeds_stream_into_textures_and_an_unplugged_one_comes_back() {
    use kinedesk::gui::camera_feeds::CameraSpec;
    let options = AppOptions {
        cameras: Some(vec![
            CameraSpec::TestPattern { name: "pattern".into(), width: 320, height: 240, fps: 30 },
            CameraSpec::Unplugging { name: "flaky".into(), frames: 10, down_ms: 300 },
        ]),
        ..AppOptions::default()
    };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    run_until(&mut harness, "frames from both feeds", |app| app.cameras().feeds.iter().all(|f| f.stats.shown > 3));
    harness.get_by_label_contains("pattern: ");
    harness.get_by_label("Cameras: 2 feeds");
    run_until(&mut harness, "the flaky feed to be lost and come back", |app| {
        let log: Vec<&str> = app.log_entries().iter().map(|e| e.message.as_str()).collect();
        log.iter().any(|m| m.contains("Camera flaky: the camera stopped delivering"))
            && log.iter().any(|m| m.contains("Camera flaky is back"))
    });
    let shown_before = harness.state().cameras().feed("pattern").unwrap().stats.shown;
    run_until(&mut harness, "more frames", |app| {
        app.cameras().feed("pattern").unwrap().stats.shown > shown_before + 10
    });
    let pattern = harness.state().cameras().feed("pattern").unwrap();
    assert_eq!(pattern.stats.texture_allocations, 1, "frames are written into the same texture");
    assert!(pattern.stats.latency_ms.iter().all(|ms| *ms < 1000.0));

    // The badge counts only what the camera lost (missing from the recording too), not frames the screen skipped.
    assert!(!pattern.badge().contains("lost") && !pattern.badge().contains("drops"), "{}", pattern.badge());
    let slot = pattern.handle.slot.clone();
    let mut skipped = (*slot.peek().unwrap()).clone();
    skipped.sequence += 6; // the camera's numbering jumps: 5 frames never arrived
    slot.publish(std::sync::Arc::new(skipped));
    run_until(&mut harness, "the loss on the badge", |app| {
        app.cameras().feed("pattern").unwrap().badge().contains("5 lost by the camera")
    });
    harness.get_by_label_contains("5 lost by the camera");
    let details = harness.state().cameras().feed("pattern").unwrap().badge_details();
    assert!(details.contains("missing from the recording") && details.contains("not drawn by the screen"), "{details}");

    let ctx = harness.ctx.clone();
    harness.state_mut().handle_command(&ctx, Command::MaximiseCamera(Some("pattern".into())));
    harness.run_steps(2);
    harness.get_by_label("Show all");
    harness.state_mut().handle_command(&ctx, Command::RemoveCamera("flaky".into()));
    harness.state_mut().handle_command(&ctx, Command::MaximiseCamera(None));
    harness.run_steps(2);
    assert_eq!(harness.state().cameras().feeds.len(), 1);
    harness.get_by_label("Cameras: 1 feeds");
}
