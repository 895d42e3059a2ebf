//! Recording episodes from the app, and the results of the session's background tasks. The recorder is fed by the
//! devices' own threads (camera taps, the driver's state tap); here the app starts and ends episodes and watches
//! that the recorder keeps up: when it falls behind, the screen gives way (fewer preview frames), never the data.

use std::time::{Duration, Instant};

use egui::Context;
use kinedesk_models::ConnectionState;
use kinedesk_sessions::events::TimelineEvent;
use kinedesk_sessions::recorder::EpisodeMeta;
use kinedesk_sessions::session_recorder::EpisodeEnd;
use kinedesk_widgets::LogLevel;

use super::KineDeskApp;
use crate::gui::command::Command;
use crate::gui::session_state::TaskOutput;

/// Recorder backlog (fraction of its encode queue) above which the camera previews slow down.
const BACKLOG_THROTTLE: f32 = 0.25;
/// Backlog below which the previews go back to full rate.
const BACKLOG_RECOVERED: f32 = 0.05;

/// The button on the toast after a discard.
pub const UNDO_DISCARD_LABEL: &str = "Undo discard";
/// The toast action that puts the discarded episode back.
pub(super) const TOAST_UNDO_DISCARD: u64 = 1;

impl KineDeskApp {
    pub(super) fn recorder_state(&self) -> ConnectionState {
        match (&self.session.session, &self.session.recording) {
            (_, Some(recording)) => {
                ConnectionState::Connected { detail: format!("recording {:.0} s", recording.elapsed().as_secs_f64()) }
            }
            (Some(session), None) => {
                ConnectionState::Idle { detail: format!("{} (not recording)", session.root.display()) }
            }
            (None, None) => ConnectionState::Idle { detail: "no session open".to_owned() },
        }
    }

    pub(super) fn start_recording(&mut self, ctx: &Context) {
        self.session.reset_started = None;
        let task = if self.session.task.trim().is_empty() {
            self.policy.current.as_ref().map(|c| c.instruction.clone()).unwrap_or_default()
        } else {
            self.session.task.trim().to_owned()
        };
        let meta = EpisodeMeta {
            task: task.clone(),
            robot: self.arm.robot.name.clone(),
            joint_names: self.arm.robot.joints.iter().map(|j| j.name.clone()).collect(),
            cameras: self.cameras.feeds.iter().map(|f| f.spec.name().to_owned()).collect(),
            // The dataset clock runs at the first camera's configured rate, not at a running estimate of it (frames
            // it drops show as such in the export instead of stretching every timestamp after them).
            fps: self.cameras.feeds.first().map_or(30.0, |f| f.spec.fps()),
            unmeasured: self
                .robot
                .as_ref()
                .filter(|driver| !driver.gripper_measured)
                .map(|_| vec!["gripper".to_owned()])
                .unwrap_or_default(),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        };
        match self.session.start(&meta, &self.cameras, self.robot.as_ref()) {
            Ok(path) => {
                if let Some(recording) = &self.session.recording
                    && !task.is_empty()
                {
                    recording.event(&TimelineEvent::Instruction { text: task, source: None });
                }
                self.log_event(ctx, LogLevel::Info, "session", format!("Recording {}.", path.display()));
            }
            Err(error) => self.log_event(ctx, LogLevel::Warn, "session", format!("Cannot record: {error}")),
        }
    }

    /// Ends the episode: taps off now, the rest (writing out, the end record, moving a discarded one to the
    /// trash) on a background task whose result comes back through `apply_task_results`.
    pub(super) fn stop_recording(&mut self, ctx: &Context, end: EpisodeEnd) {
        self.cameras.preview_stride = 1;
        match self.session.stop(&self.cameras, self.robot.as_ref(), end, &mut self.tasks) {
            Ok(Some(path)) => {
                let what = match end {
                    EpisodeEnd::Keep => "Saving",
                    EpisodeEnd::Discard => "Discarding (to the session's trash)",
                };
                self.log_event(ctx, LogLevel::Info, "session", format!("{what} {}…", path.display()));
                if self.session.reset_s > 0.0 {
                    self.session.reset_started = Some(Instant::now());
                }
            }
            Ok(None) => self.log_event(ctx, LogLevel::Info, "session", "Not recording."),
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "session", format!("Recording did not end cleanly: {error}"));
            }
        }
    }

    /// Results of the background tasks that finished since the last pass.
    pub(super) fn apply_task_results(&mut self, ctx: &Context) {
        for output in self.tasks.poll() {
            match output {
                TaskOutput::EpisodeList { root, rows } => self.session.apply_listing(&root, rows),
                TaskOutput::EpisodeFinished { path, end, result } => {
                    match result {
                        Ok(stats) => {
                            let what = match end {
                                EpisodeEnd::Keep => "Saved",
                                EpisodeEnd::Discard => "Discarded (moved to the trash)",
                            };
                            let lost = stats.frames_dropped + stats.records_dropped;
                            let message = format!(
                                "{what} {}: {} frames, {} records, {lost} lost by the recorder.",
                                path.display(),
                                stats.frames_written,
                                stats.records_written,
                            );
                            let level = if lost > 0 { LogLevel::Warn } else { LogLevel::Info };
                            self.log_event(ctx, level, "session", message);
                            if end == EpisodeEnd::Discard {
                                // Discarding is one key: it can be undone from the toast or the episode list.
                                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                                self.session.annotator.last_deleted = name.clone();
                                let text = format!(
                                    "Discarded {} (moved to the session's trash).",
                                    name.as_deref().unwrap_or("the episode")
                                );
                                let now = ctx.input(|input| input.time);
                                self.toasts.push_with_action(
                                    LogLevel::Info,
                                    text,
                                    UNDO_DISCARD_LABEL,
                                    TOAST_UNDO_DISCARD,
                                    now,
                                );
                            }
                            if lost > 0 {
                                let hint = crate::gui::panes::session_pane::RECORDER_LOSS_HINT;
                                self.log_event(ctx, LogLevel::Warn, "session", hint);
                            }
                        }
                        Err(error) => {
                            let message = format!("{} did not end cleanly: {error}", path.display());
                            self.log_event(ctx, LogLevel::Error, "session", message);
                        }
                    }
                    self.session.refresh(&mut self.tasks);
                }
                TaskOutput::Exported { out, result } => {
                    let message = match &result {
                        Ok(done) => {
                            let mut message = format!(
                                "Exported {} episodes, {} frames to {}",
                                done.episodes,
                                done.frames,
                                out.display()
                            );
                            if !done.left_out.is_empty() {
                                message += &format!("; left out {}: {}", done.left_out.len(), done.left_out.join("; "));
                            }
                            if !done.notes.is_empty() {
                                message += &format!("; {}", done.notes.join("; "));
                            }
                            message
                        }
                        Err(error) => format!("Export to {} failed: {error}", out.display()),
                    };
                    let level = match &result {
                        Ok(done) if done.left_out.is_empty() && done.notes.is_empty() => LogLevel::Info,
                        Ok(_) => LogLevel::Warn,
                        Err(_) => LogLevel::Error,
                    };
                    self.log_event(ctx, level, "session", message.clone());
                    self.session.last_export = Some(if result.is_ok() { Ok(message) } else { Err(message) });
                }
                TaskOutput::Split { at_s, result } => {
                    match result {
                        Ok(split) => {
                            let name = |p: &std::path::Path| {
                                p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                            };
                            let message = format!(
                                "Split {} at {at_s:.2} s into {} and {} (Undo split puts it back).",
                                split.original.trim_end_matches(".kdlog"),
                                name(&split.first),
                                name(&split.second)
                            );
                            self.log_event(ctx, LogLevel::Info, "session", message);
                            self.session.annotator.last_split = Some(split);
                        }
                        Err(error) => self.log_event(ctx, LogLevel::Error, "session", format!("Split failed: {error}")),
                    }
                    self.session.refresh(&mut self.tasks);
                }
                TaskOutput::Transferred { target, pull, opened, result } => {
                    match &result {
                        Ok(report) => {
                            self.log_event(ctx, LogLevel::Info, "session", report.message.clone());
                            if let Some(warning) = &report.warning {
                                self.log_event(ctx, LogLevel::Warn, "session", warning.clone());
                            }
                            // Remembered without any `user:password@` an endpoint may carry.
                            let mut target = target;
                            target.endpoint = kinedesk_storage::redact(&target.endpoint);
                            self.state.remote_targets.retain(|t| t.url != target.url || t.kind != target.kind);
                            self.state.remote_targets.insert(0, target);
                            self.state.remote_targets.truncate(crate::gui::settings::REMOTE_TARGETS);
                            match opened {
                                // Pulled into a new folder: it is the session now.
                                Some(folder) => self.handle_command(ctx, Command::OpenSession(folder)),
                                None => self.session.refresh(&mut self.tasks),
                            }
                        }
                        Err(error) => {
                            let message = format!("{} failed: {error}", if pull { "Pull" } else { "Push" });
                            self.log_event(ctx, LogLevel::Error, "session", message);
                        }
                    }
                    self.session.last_push = Some(result);
                }
                TaskOutput::Checked { result } => {
                    use kinedesk_sessions::dataset_doctor::Severity;
                    let (level, message) = match &result {
                        Ok(report) => {
                            let count = |s| report.findings.iter().filter(|f| f.severity == s).count();
                            let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
                            let level = match (errors, warnings) {
                                (0, 0) => LogLevel::Info,
                                (0, _) => LogLevel::Warn,
                                _ => LogLevel::Error,
                            };
                            let message = format!(
                                "Session check: {} episodes, {} frames: {errors} error(s), {warnings} warning(s), {} \
                                 note(s) (details in the Session pane).",
                                report.episodes,
                                report.frames,
                                count(Severity::Info)
                            );
                            (level, message)
                        }
                        Err(error) => (LogLevel::Error, format!("The session could not be checked: {error}")),
                    };
                    self.log_event(ctx, level, "session", message);
                    self.session.last_check = Some(result);
                }
                TaskOutput::Imported { dataset, result } => {
                    match result {
                        Ok(done) => {
                            let message = format!(
                                "Imported {} episodes, {} frames from {}.",
                                done.episodes,
                                done.frames,
                                dataset.display()
                            );
                            self.log_event(ctx, LogLevel::Info, "session", message);
                            for note in done.notes {
                                self.log_event(ctx, LogLevel::Info, "session", note);
                            }
                        }
                        Err(error) => {
                            self.log_event(ctx, LogLevel::Error, "session", format!("Import failed: {error}"));
                        }
                    }
                    self.session.refresh(&mut self.tasks);
                }
            }
        }
        if !self.tasks.views().is_empty() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    /// The recorder has priority over the screen: while its encode queue backs up, the camera previews show only
    /// every third frame (the recording keeps every frame), and the operator is told once.
    pub(super) fn recorder_health(&mut self, ctx: &Context) {
        let Some(recording) = &self.session.recording else { return };
        let backlog = recording.backlog();
        if let Some(error) = recording.error() {
            self.log_event(ctx, LogLevel::Error, "session", format!("Recording failed: {error}; finishing it."));
            self.stop_recording(ctx, EpisodeEnd::Keep);
            return;
        }
        if backlog > BACKLOG_THROTTLE && self.cameras.preview_stride == 1 {
            self.cameras.preview_stride = 3;
            self.log_event(
                ctx,
                LogLevel::Warn,
                "camera",
                format!(
                    "The recorder is falling behind ({:.0} % of its queue): camera previews now show every third \
                     frame so every frame is recorded. Close other programs or record fewer cameras if this persists.",
                    backlog * 100.0
                ),
            );
        } else if backlog < BACKLOG_RECOVERED && self.cameras.preview_stride > 1 {
            self.cameras.preview_stride = 1;
            self.log_event(
                ctx,
                LogLevel::Info,
                "camera",
                "The recorder caught up: camera previews at full rate again.",
            );
        }
        ctx.request_repaint_after(Duration::from_millis(100));
    }
}
