//! `kinedesk-tests`: workspace-level integration tests (whole-app `egui_kittest` runs and end-to-end flows).
//!
//! The tests live in `tests/tests/*.rs`, one file per area of the desk; this library holds what they share.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // helpers for tests: a failed step is a failed test

use std::collections::HashMap;

use egui_kittest::Harness;
use kinedesk::{AppOptions, KineDeskApp};

/// An in-memory stand-in for eframe's on-disk storage, to test what the app saves and restores.
#[derive(Default, Debug, Clone)]
pub struct MemoryStorage {
    pub values: HashMap<String, String>,
}

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.values.insert(key.to_owned(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.values.remove(key);
    }

    fn flush(&mut self) {}
}

/// The real app in a 1280×800 harness, without camera feeds.
#[must_use]
pub fn app_harness() -> Harness<'static, KineDeskApp> {
    app_harness_with(no_cameras())
}

/// The real app in a 1280×800 harness with these start-up options.
#[must_use]
pub fn app_harness_with(options: AppOptions) -> Harness<'static, KineDeskApp> {
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_eframe(|cc| KineDeskApp::new(cc, options));
    harness.run();
    harness
}

/// Records a session of one synthetic episode (one 96×72 camera at 30 fps) into `out`, as `kinedesk record
/// --synthetic` does.
pub fn record_synthetic(out: &std::path::Path, seconds: f64, task: &str) {
    kinedesk::cli::session::run_record(&kinedesk::cli::session::RecordArgs {
        synthetic: true,
        seconds,
        out: out.to_owned(),
        cameras: 1,
        width: 96,
        height: 72,
        fps: 30,
        task: task.into(),
        encoders: 1,
    })
    .unwrap();
}

/// Start-up options without camera feeds, so every frame of these tests is deterministic.
#[must_use]
pub fn no_cameras() -> AppOptions {
    AppOptions { cameras: Some(Vec::new()), ..AppOptions::default() }
}

/// Steps the app (worker results arrive between frames) until `done` holds, for at most 20 s.
pub fn run_until(harness: &mut Harness<'static, KineDeskApp>, what: &str, done: impl Fn(&KineDeskApp) -> bool) {
    for _ in 0..2000 {
        harness.step();
        if done(harness.state()) {
            // A connected robot streams state, so the UI need not settle; a few frames apply what arrived.
            harness.run_steps(3);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let log: Vec<String> = harness.state().log_entries().iter().map(|e| e.message.clone()).collect();
    panic!("timed out waiting for {what}; the log says:\n{log:#?}");
}

/// Steps the app until the loader thread's results have been applied.
pub fn finish_loads(harness: &mut Harness<'static, KineDeskApp>) {
    run_until(harness, "the loader", |app| app.loads_in_flight() == 0);
}

/// Whether the tab titled `title` is the one shown in its group.
#[must_use]
pub fn is_tab_selected(harness: &Harness<'_, KineDeskApp>, title: &str) -> bool {
    use egui_kittest::kittest::{NodeT, Queryable};
    harness.get_by_label(title).accesskit_node().toggled() == Some(egui::accesskit::Toggled::True)
}

/// Writes a trajectory file into this process's scratch folder.
#[must_use]
pub fn write_trajectory(name: &str, joints: &[Vec<f64>]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kinedesk-app-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let json = serde_json::json!({ "dt_s": 0.05, "joints": joints });
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// Whether the current plan has finished (with a result or an error).
#[must_use]
pub fn plan_finished(app: &KineDeskApp) -> bool {
    app.policy().current.as_ref().is_some_and(|c| !c.is_pending())
}

/// Whether the operator log holds a line containing `text`.
#[must_use]
pub fn logged(app: &KineDeskApp, text: &str) -> bool {
    app.log_entries().iter().any(|e| e.message.contains(text))
}

/// Whether a peer tool is required here (CI sets the variable): then a missing one fails the test.
#[must_use]
pub fn required(variable: &str) -> bool {
    std::env::var_os(variable).is_some_and(|v| v == "1")
}
