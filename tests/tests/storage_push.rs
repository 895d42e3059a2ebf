//! Pushing a session to object storage from the window (moto, PyPI `moto[server]`, as the S3 server). A test binary
//! of its own: the storage credentials come from the process environment, set here before anything else runs.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kinedesk::gui::panes::session_pane::{
    CANCEL_PUSH_LABEL, PULL_LABEL, PUSH_ENDPOINT_LABEL, PUSH_KIND_LABEL, PUSH_LABEL, PUSH_URL_LABEL,
    REMOTE_TARGETS_LABEL, SESSION_FOLDER_LABEL,
};
use kinedesk::gui::settings::RemoteKind;
use kinedesk::{AppOptions, Command as AppCommand, KineDeskApp, Pane};
use kinedesk_tests::{no_cameras, run_until};

/// The peer helpers of `models/ros2/tests` (the Python with a module).
#[path = "../../models/ros2/tests/peer/mod.rs"]
mod peers;

#[test]
fn a_session_is_pushed_from_the_session_pane_without_blocking_the_window() {
    let Some(python) = peers::python_with("moto.server, boto3") else { return };
    // SAFETY: the only test of this binary, before any thread of its own starts.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_ENDPOINT_URL");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut moto = Command::new(&python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let bucket = format!(
        "import boto3; boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='testing', \
         aws_secret_access_key='testing', region_name='us-east-1').create_bucket(Bucket='lab')"
    );
    assert!(Command::new(&python).args(["-c", &bucket]).status().unwrap().success());

    let root = std::env::temp_dir().join(format!("kinedesk-gui-push-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    kinedesk_tests::record_synthetic(&root.join("session"), 1.5, "move 10 cm up");
    let options = AppOptions { session: Some(root.join("session")), ..no_cameras() };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    let ctx = harness.ctx.clone();
    run_until(&mut harness, "the session", |app| app.session().episodes.len() == 1);
    harness.state_mut().handle_command(&ctx, AppCommand::MaximisePane(Some(Pane::Session)));
    harness.run_steps(2);
    for (label, text) in [(PUSH_URL_LABEL, "s3://lab/shared"), (PUSH_ENDPOINT_LABEL, endpoint.as_str())] {
        harness.get_by_label(label).focus();
        harness.run_steps(1);
        harness.get_by_label(label).type_text(text);
        harness.run_steps(1);
    }
    harness.get_by_label(PUSH_LABEL).click();
    // The window keeps drawing while the push runs on its task.
    let started = Instant::now();
    run_until(&mut harness, "the push", |app| app.session().last_push.is_some());
    assert!(started.elapsed() < Duration::from_secs(120));
    let result = harness.state().session().last_push.clone().unwrap();
    assert!(
        result
            .as_ref()
            .is_ok_and(|r| r.message.starts_with("Pushed 1 episodes") && r.message.ends_with("1 episodes there now")),
        "{result:?}"
    );
    // The dataset is there for any desk to pull.
    let pulled = kinedesk_storage::pull(
        "s3://lab/shared",
        &root.join("pulled"),
        &kinedesk_storage::RemoteOptions { endpoint: Some(endpoint.clone()), ..Default::default() },
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(pulled.episodes, 1);
    let options = kinedesk_storage::RemoteOptions { endpoint: Some(endpoint.clone()), ..Default::default() };

    // The session itself (logs + annotations) goes to another prefix, for an annotator elsewhere.
    harness.get_by_label(PUSH_URL_LABEL).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label(PUSH_URL_LABEL).type_text("s3://lab/sessions/desk1");
    harness.run_steps(1);
    harness.get_by_label(PUSH_KIND_LABEL).click();
    harness.run_steps(2);
    harness.get_by_label(RemoteKind::Session.label()).click();
    harness.run_steps(2);
    assert_eq!(harness.state().session().push_kind, RemoteKind::Session);
    let before = harness.state().session().last_push.clone();
    harness.get_by_label(PUSH_LABEL).click();
    run_until(&mut harness, "the session push", |app| app.session().last_push != before);
    let result = harness.state().session().last_push.clone().unwrap();
    assert!(result.as_ref().is_ok_and(|r| r.message.contains("2 file(s) sent")), "{result:?}");
    // The annotator pulls it, annotates, pushes back ...
    let annotator = root.join("annotator");
    kinedesk_storage::session::pull_session("s3://lab/sessions/desk1", &annotator, &options, &|_, _| {}).unwrap();
    let log = annotator.join("episodes/episode_000000.kdlog");
    let annotation = kinedesk_sessions::annotation::EpisodeAnnotation {
        instruction: "move 10 cm up, slowly".into(),
        ..Default::default()
    };
    kinedesk_sessions::annotation::save_annotation(&log, &annotation).unwrap();
    let defaults = kinedesk_storage::PushOptions { journal_dir: root.join("journal"), ..Default::default() };
    kinedesk_storage::session::push_session(&annotator, "s3://lab/sessions/desk1", &options, &defaults, &|_, _| {})
        .unwrap();
    // ... and the desk pulls the annotation into its open session from the pane.
    let before = harness.state().session().last_push.clone();
    harness.get_by_label(PULL_LABEL).click();
    run_until(&mut harness, "the pull", |app| app.session().last_push != before);
    let result = harness.state().session().last_push.clone().unwrap();
    assert!(result.as_ref().is_ok_and(|r| r.message.contains("1 file(s) fetched")), "{result:?}");
    let desk_log = root.join("session/episodes/episode_000000.kdlog");
    let got = kinedesk_sessions::annotation::read_annotation(&desk_log).unwrap().unwrap();
    assert_eq!(got.instruction, "move 10 cm up, slowly");
    // Stop push: a large file (15 parts of 8 MiB) is on its way; the parts in flight finish, the push stops and says
    // how to go on; Push again sends the rest.
    let big: Vec<u8> = (0..120_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(root.join("session/episodes/camera-calibration.bin"), &big).unwrap();
    let before = harness.state().session().last_push.clone();
    harness.get_by_label(PUSH_LABEL).click();
    run_until(&mut harness, "the push under way", |app| {
        app.background_tasks().iter().any(|t| t.done > 0 && t.done < t.total)
    });
    harness.get_by_label(CANCEL_PUSH_LABEL).click();
    run_until(&mut harness, "the stopped push", |app| app.session().last_push != before);
    let stopped = harness.state().session().last_push.clone().unwrap();
    assert!(stopped.as_ref().is_err_and(|e| e.contains("interrupted") && e.contains("push again")), "{stopped:?}");
    let before = harness.state().session().last_push.clone();
    harness.get_by_label(PUSH_LABEL).click();
    run_until(&mut harness, "the push continued", |app| app.session().last_push != before);
    let done = harness.state().session().last_push.clone().unwrap();
    assert!(done.as_ref().is_ok_and(|r| r.message.contains("1 file(s) sent")), "{done:?}");
    let sent_mb: f64 = done
        .as_ref()
        .unwrap()
        .message
        .split(" file(s) sent (")
        .nth(1)
        .unwrap()
        .split(" MB")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent_mb < 120.0 - 8.0, "the parts up before the stop were not sent again: {sent_mb} MB");
    std::fs::remove_file(root.join("session/episodes/camera-calibration.bin")).unwrap();
    // Both places are remembered (newest first) for the Recent… menu, without credentials.
    let remembered: Vec<_> =
        harness.state().settings().remote_targets.iter().map(|t| (t.url.clone(), t.kind)).collect();
    assert_eq!(
        remembered,
        [
            ("s3://lab/sessions/desk1".to_owned(), RemoteKind::Session),
            ("s3://lab/shared".to_owned(), RemoteKind::Dataset)
        ]
    );
    // Picking one from Recent… fills the address, endpoint and kind.
    harness.get_by_label(REMOTE_TARGETS_LABEL).click();
    harness.run_steps(2);
    harness.get_by_label_contains("s3://lab/shared").click();
    harness.run_steps(2);
    let session = harness.state().session();
    assert_eq!((session.push_url.as_str(), session.push_kind), ("s3://lab/shared", RemoteKind::Dataset));
    assert_eq!(session.push_endpoint, endpoint);
    // The session changed since its first push (the annotator's annotation came back): pushed as a dataset again, it
    // replaces its earlier push — the shared dataset still has its one episode, not two.
    let before = harness.state().session().last_push.clone();
    harness.get_by_label(PUSH_LABEL).click();
    run_until(&mut harness, "the second dataset push", |app| app.session().last_push != before);
    let again = harness.state().session().last_push.clone().unwrap();
    assert!(
        again.as_ref().is_ok_and(|r| r.message.contains("replacing this session's earlier push (1 episodes)")
            && r.message.ends_with("1 episodes there now")),
        "{again:?}"
    );
    let pulled = kinedesk_storage::pull("s3://lab/shared", &root.join("pulled-again"), &options, &|_, _| {}).unwrap();
    assert_eq!((pulled.parts, pulled.episodes), (1, 1));
    // A push to a bucket that does not exist fails with the reason, shown in the pane.
    harness.get_by_label(PUSH_URL_LABEL).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.get_by_label(PUSH_URL_LABEL).type_text("s3://no-such-bucket/x");
    harness.run_steps(1);
    harness.get_by_label(PUSH_LABEL).click();
    run_until(&mut harness, "the failed push", |app| app.session().last_push.as_ref().is_some_and(Result::is_err));
    let failed = harness.state().session().last_push.clone().unwrap();
    assert!(failed.as_ref().is_err_and(|e| e.contains("no such bucket")), "{failed:?}");
    // Shown in the pane and the log.
    assert!(harness.query_all_by_label_contains("Failed: ").count() >= 1);
    assert!(harness.query_all_by_label_contains("Push failed: ").count() >= 1);

    // On another machine with no session open: Pull session creates the folder typed in the pane and opens it.
    let fresh = root.join("pulled-here");
    let mut other = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, no_cameras()));
    let other_ctx = other.ctx.clone();
    other.state_mut().handle_command(&other_ctx, AppCommand::MaximisePane(Some(Pane::Session)));
    other.run_steps(2);
    assert!(other.state().session().session.is_none());
    for (label, text) in [
        (SESSION_FOLDER_LABEL, fresh.to_str().unwrap()),
        (PUSH_URL_LABEL, "s3://lab/sessions/desk1"),
        (PUSH_ENDPOINT_LABEL, endpoint.as_str()),
    ] {
        other.get_by_label(label).focus();
        other.run_steps(1);
        other.get_by_label(label).type_text(text);
        other.run_steps(1);
    }
    other.get_by_label(PULL_LABEL).click();
    run_until(&mut other, "the pulled session open", |app| {
        app.session().session.as_ref().is_some_and(|s| s.root == fresh) && app.session().episodes.len() == 1
    });
    let got = kinedesk_sessions::annotation::read_annotation(&fresh.join("episodes/episode_000000.kdlog"));
    assert_eq!(got.unwrap().unwrap().instruction, "move 10 cm up, slowly");
    let _ = moto.kill();
    let _ = moto.wait();
    std::fs::remove_dir_all(&root).unwrap();
}
