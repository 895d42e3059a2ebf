//! `bench recording`: the real app (embedded defaults: test-pattern cameras, the simulated arm executing a plan)
//! records an episode from the window for a while with the UI at 60 Hz, then finishes it. Reported: UI frame times
//! while recording, the longest frame while the episode is finished (written out, listed) — the UI thread must not
//! wait on the disk — and what the recorder kept of what the cameras and the arm delivered.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{Report, Summary};
use crate::gui::app::{AppOptions, KineDeskApp};
use crate::gui::camera_feeds::CameraSpec;
use crate::gui::command::Command;

/// Result of `kinedesk bench recording`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RecordingBench {
    pub feeds: usize,
    pub width: u32,
    pub height: u32,
    pub seconds: f64,
    /// UI frame CPU time (logic and drawing passes, tessellation) while recording.
    pub ui_frame_recording: Summary,
    /// UI frames from Finish until the episode is in the list, and the longest of them.
    pub frames_while_finishing: usize,
    pub longest_frame_while_finishing_ms: f64,
    /// From Finish to the episode listed (the work done off the UI thread).
    pub finish_to_listed_s: f64,
    pub frames_delivered: u64,
    pub frames_written: u64,
    pub frames_lost_by_recorder: u64,
    pub joint_states_published: u64,
    pub joint_states_written: u64,
    /// Frames the screen skipped on purpose while the recorder had priority (they were recorded).
    pub preview_frames_skipped: u64,
    pub episode_mb: f64,
}

/// Runs frames at 60 Hz until `done` holds or `limit` passes; returns each frame's time.
pub(super) fn frames_until(
    ctx: &egui::Context,
    app: &mut KineDeskApp,
    started: Instant,
    limit: Duration,
    done: impl Fn(&KineDeskApp) -> bool,
) -> Vec<Duration> {
    let period = Duration::from_secs_f64(1.0 / 60.0);
    let until = Instant::now() + limit;
    let mut next = Instant::now();
    let mut times = Vec::new();
    while !done(app) && Instant::now() < until {
        times.push(super::app_frame(ctx, app, started, Vec::new()));
        super::wait_for_next_frame(&mut next, period);
    }
    times
}

/// Records `seconds` with `feeds` test-pattern cameras of `width`×`height` at 30 fps, then finishes the episode.
pub fn bench_recording(feeds: usize, seconds: f64, width: u32, height: u32) -> anyhow::Result<RecordingBench> {
    let root = std::env::temp_dir().join(format!("kinedesk-bench-recording-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let specs =
        (0..feeds).map(|i| CameraSpec::TestPattern { name: format!("pattern {i}"), width, height, fps: 30 }).collect();
    let ctx = egui::Context::default();
    let options =
        AppOptions { cameras: Some(specs), connect_sim: true, session: Some(root.clone()), ..AppOptions::default() };
    let mut app = KineDeskApp::from_parts(&ctx, None, None, options);
    let started = Instant::now();
    frames_until(&ctx, &mut app, started, Duration::from_secs(20), |app| {
        app.arm().live.is_some() && app.session().session.is_some()
    });
    if app.arm().live.is_none() {
        bail!("the simulated arm did not connect");
    }
    // The arm moves back and forth while recording: a plan, approved and sent, again and again.
    app.handle_command(&ctx, Command::SetVelocityPercent(100));
    app.handle_command(&ctx, Command::Plan("move 10 cm left, then move 10 cm right".into()));
    frames_until(&ctx, &mut app, started, Duration::from_secs(20), |app| app.arm().preview.is_some());
    let published = |app: &KineDeskApp| -> u64 { app.cameras().feeds.iter().map(|f| f.handle.slot.published()).sum() };
    let delivered_before = published(&app);
    app.handle_command(&ctx, Command::StartRecording);
    let states_before = app.robot().map_or(0, |robot| robot.state_counts().0);
    let recording_started = Instant::now();
    let mut ui_times = Vec::new();
    while recording_started.elapsed().as_secs_f64() < seconds {
        let executing = app.arm().preview.as_ref().is_some_and(|p| p.review.is_executing());
        if !executing {
            app.handle_command(&ctx, Command::Plan("move 10 cm left, then move 10 cm right".into()));
            frames_until(&ctx, &mut app, started, Duration::from_secs(5), |app| {
                app.arm().preview.as_ref().is_some_and(|p| !p.review.state().is_finished())
            });
            app.handle_command(&ctx, Command::ApprovePlan);
            app.handle_command(&ctx, Command::SendTrajectory);
        }
        let remaining = seconds - recording_started.elapsed().as_secs_f64();
        ui_times.extend(frames_until(
            &ctx,
            &mut app,
            started,
            Duration::from_secs_f64(remaining.clamp(0.0, 1.0)),
            |_| false,
        ));
    }
    let states_after = app.robot().map_or(0, |robot| robot.state_counts().0);
    // Frames the cameras delivered while recording (those before Start are not the recorder's to keep).
    let delivered = published(&app) - delivered_before;
    let skipped: u64 = app.cameras().feeds.iter().map(|f| f.stats.display_skipped).sum();
    let finish = Instant::now();
    app.handle_command(&ctx, Command::FinishEpisode);
    let finishing = frames_until(&ctx, &mut app, started, Duration::from_secs(120), |app| {
        app.session().episodes.first().is_some_and(|row| row.finished)
    });
    let finish_to_listed_s = finish.elapsed().as_secs_f64();
    let row = app.session().episodes.first().cloned().context("the episode was not listed within 120 s")?;
    let episode = kinedesk_sessions::episode::read_episode(&row.path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let longest = finishing.iter().max().copied().unwrap_or_default();
    let result = RecordingBench {
        feeds,
        width,
        height,
        seconds,
        ui_frame_recording: Summary::millis(&ui_times).context("no frames")?,
        frames_while_finishing: finishing.len(),
        longest_frame_while_finishing_ms: longest.as_secs_f64() * 1e3,
        finish_to_listed_s,
        frames_delivered: delivered,
        frames_written: episode.frames.len() as u64,
        frames_lost_by_recorder: delivered.saturating_sub(episode.frames.len() as u64),
        joint_states_published: states_after - states_before,
        joint_states_written: episode.joints.len() as u64,
        preview_frames_skipped: skipped,
        episode_mb: std::fs::metadata(&row.path).map_or(0.0, |m| m.len() as f64 / 1e6),
    };
    let _ = std::fs::remove_dir_all(&root);
    Ok(result)
}

impl Report for RecordingBench {
    fn print_text(&self) {
        let s = &self.ui_frame_recording;
        println!(
            "Recording {} test-pattern cameras {}x{} at 30 fps and the simulated arm from the app for {:.0} s:",
            self.feeds, self.width, self.height, self.seconds
        );
        println!("  UI frame while recording: median {:.3} ms   p95 {:.3} ms   max {:.3} ms", s.median, s.p95, s.max);
        println!(
            "  finishing: {} UI frames, the longest {:.2} ms; listed {:.2} s after Finish",
            self.frames_while_finishing, self.longest_frame_while_finishing_ms, self.finish_to_listed_s
        );
        println!(
            "  frames: {} delivered, {} written ({} not in the episode); joint states: {} published, {} written",
            self.frames_delivered,
            self.frames_written,
            self.frames_lost_by_recorder,
            self.joint_states_published,
            self.joint_states_written
        );
        println!(
            "  preview frames skipped for the recorder: {}; episode {:.1} MB",
            self.preview_frames_skipped, self.episode_mb
        );
    }
}
