//! Carrying out commands: the one place where buttons, shortcuts, start-up options and tests act on the app.

use std::time::Duration;

use egui::{Context, ViewportCommand};
use egui_tiles::Tile;
use kinedesk_models::driver::DriverCommand;
use kinedesk_sessions::session_recorder::EpisodeEnd;
use kinedesk_widgets::LogLevel;

use super::{COMMAND_HISTORY_CAPACITY, KineDeskApp, expand_home, repaint_waker};
use crate::gui::command::Command;
use crate::gui::layout::default_layout;
use crate::gui::loader::LoadJob;

/// How many session folders File → Recent sessions keeps.
pub const RECENT_SESSIONS: usize = 8;

/// A move to the trajectory's start longer than this (largest joint, degrees) asks before it goes.
pub const MOVE_TO_START_CONFIRM_DEG: f64 = 5.0;

impl KineDeskApp {
    /// Carries out one command. Buttons, shortcuts and tests all end up here.
    pub fn handle_command(&mut self, ctx: &Context, command: Command) {
        self.command_history.push_back(command.clone());
        while self.command_history.len() > COMMAND_HISTORY_CAPACITY {
            self.command_history.pop_front();
        }
        match command {
            Command::Stop { reason } => {
                let event = self.stop.trigger(reason);
                self.teleop.disarm();
                let what = match &self.robot {
                    Some(robot) => format!("{} told to stop", robot.name),
                    None => "no robot is connected, so nothing was moving".to_owned(),
                };
                let mut message = format!("STOP by {} (stop #{}): {what}.", reason.label(), event.generation);
                if self.session.recording.is_some() {
                    message += " The recording goes on (Right keeps the episode, Left discards it).";
                }
                self.log_event(ctx, LogLevel::Warn, "stop", message);
            }
            Command::ConnectSimArm => self.connect_sim_arm(ctx),
            Command::SetTeleop(armed) => {
                if armed && self.robot.is_none() {
                    self.log_event(ctx, LogLevel::Warn, "teleop", "Teleop needs a connected robot.");
                } else if armed {
                    self.teleop.armed = true;
                    self.log_event(
                        ctx,
                        LogLevel::Info,
                        "teleop",
                        "Teleop armed: hold Shift and W/S A/D R/F (U/O I/K J/L to rotate).",
                    );
                } else {
                    self.teleop.disarm();
                }
            }
            Command::Gripper(opening) => match &self.robot {
                Some(robot) => {
                    if let Err(error) = robot.send(DriverCommand::Gripper(opening.fraction())) {
                        self.log_event(ctx, LogLevel::Error, "robot", format!("Gripper command not sent: {error}"));
                    }
                }
                None => self.log_event(ctx, LogLevel::Warn, "robot", "The gripper needs a connected robot."),
            },
            Command::SetJogMode(mode) => self.teleop.mode = mode,
            Command::SetJogSpeed(speed) => self.teleop.speed = speed.min(crate::gui::teleop::SPEEDS.len() - 1),
            Command::SetJogJoint(joint) => self.teleop.joint = joint.min(self.arm.robot.dof().saturating_sub(1)),
            Command::ConnectRobot(url) => self.connect_address(ctx, &url),
            Command::ConfirmQuit(quit) => {
                self.confirm_quit = false;
                if quit {
                    self.stop.trigger(kinedesk_models::StopReason::Button);
                    self.disconnect_robot(ctx, "KineDesk is closing");
                    ctx.send_viewport_cmd(ViewportCommand::Close);
                }
            }
            Command::DisconnectRobot => self.disconnect_robot(ctx, "disconnected by the operator"),
            Command::SendTrajectory => self.send_trajectory(ctx),
            Command::MoveToStart => {
                let offset = self.arm.offset_from_start().map_or(0.0, f64::to_degrees);
                if offset > MOVE_TO_START_CONFIRM_DEG {
                    self.confirm_move_to_start = Some(offset);
                } else {
                    self.move_to_start(ctx);
                }
            }
            Command::ConfirmMoveToStart(go) => {
                if self.confirm_move_to_start.take().is_some() && go {
                    self.move_to_start(ctx);
                }
            }
            Command::ToggleShortcutHelp => self.show_help = !self.show_help,
            Command::ShowPane(pane) => {
                self.state.layout.make_active(|_, tile| matches!(tile, Tile::Pane(p) if *p == pane));
            }
            // Maximising the pane that is already maximised restores the layout (so one key toggles).
            Command::MaximisePane(pane) => {
                self.maximised_pane = if pane == self.maximised_pane { None } else { pane };
            }
            Command::UseLayout(named) => {
                self.state.layout = named.tree();
                self.maximised_pane = None;
                self.log_event(ctx, LogLevel::Info, "layout", format!("Layout: {}.", named.label()));
            }
            Command::ResetLayout => {
                self.state.layout = default_layout();
                self.log_event(ctx, LogLevel::Info, "layout", "Layout reset to the default.");
            }
            Command::SetTheme(theme) => {
                self.state.theme = theme;
                ctx.set_theme(theme.preference());
            }
            Command::ClearLog => self.log.clear(),
            Command::Quit => {
                if self.robot.is_some() {
                    self.confirm_quit = true;
                } else {
                    ctx.send_viewport_cmd(ViewportCommand::Close);
                }
            }
            Command::SelectRobot(kind) => {
                if self.robot.is_some() && self.arm.source != crate::gui::arm_state::RobotSource::Builtin(kind) {
                    self.disconnect_robot(ctx, "the robot model changed");
                }
                self.arm.select(kind);
                self.state.robot_source = self.arm.source.clone();
            }
            Command::LoadUrdf { path, tip } => self.queue_load(ctx, LoadJob::Urdf { path, tip }),
            Command::LoadTrajectory(path) => self.queue_load(ctx, LoadJob::Trajectory(path)),
            Command::BrowseFor(purpose) => {
                let start = self.state.session_root.as_deref().map(expand_home).and_then(|p| {
                    if purpose == crate::gui::file_dialogs::DialogPurpose::OpenSession {
                        p.parent().map(Into::into)
                    } else {
                        Some(p)
                    }
                });
                if let Err(error) = self.file_dialogs.open(purpose, start, ctx) {
                    self.log_event(ctx, LogLevel::Warn, "app", error);
                }
            }
            Command::SetExportDestination(path) => self.session.export_text = path.display().to_string(),
            Command::SetImportSource(path) => self.session.import_text = path.display().to_string(),
            Command::SetRolloutProfile(path) => {
                let text = path.display().to_string();
                match kinedesk_models::policy::rollout::PolicyProfile::load(&text) {
                    Ok(_) => {
                        self.state.rollout.profile = text.clone();
                        self.log_event(ctx, LogLevel::Info, "policy", format!("Rollout profile: {text}"));
                    }
                    Err(error) => {
                        self.log_event(ctx, LogLevel::Error, "policy", format!("Profile not used: {error}"));
                    }
                }
            }
            Command::ScrubTrajectory(step) => {
                if let Some(preview) = &mut self.arm.preview {
                    preview.step = step.min(preview.trajectory().joints.len().saturating_sub(1));
                }
            }
            Command::ClearTrajectory => self.arm.preview = None,
            Command::Plan(instruction) => self.request_plan(ctx, &instruction),
            Command::UsePolicy(choice) => self.use_policy(ctx, &choice),
            Command::ApprovePlan => self.approve_plan(ctx),
            Command::AcknowledgeWarnings => self.acknowledge_warnings(ctx),
            Command::RejectPlan => self.reject_plan(ctx),
            Command::SetCoarsePreview(coarse) => self.set_coarse_preview(ctx, coarse),
            Command::SetVelocityPercent(percent) => self.set_velocity_percent(ctx, percent),
            Command::AddCamera(spec) => {
                let name = spec.name().to_owned();
                match self.cameras.add(spec, &self.arm.robot, Some(repaint_waker(ctx))) {
                    Ok(()) => self.log_event(ctx, LogLevel::Info, "camera", format!("Camera {name} added.")),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "camera", error),
                }
            }
            Command::RemoveCamera(name) => {
                if self.cameras.remove(&name).is_some() {
                    self.log_event(ctx, LogLevel::Info, "camera", format!("Camera {name} removed."));
                }
            }
            Command::MaximiseCamera(name) => self.cameras.maximised = name,
            Command::PopOutCamera { name, out } => {
                self.cameras.popped_out.retain(|n| *n != name);
                if out && self.cameras.feed(&name).is_some() {
                    self.cameras.popped_out.push(name);
                }
            }
            Command::SetCameraSetting { camera, setting, value } => {
                self.cameras.set_setting(&camera, &setting, value);
            }
            Command::FindCameras => self.cameras.find_devices(Some(repaint_waker(ctx))),
            Command::OpenSession(path) => {
                match self.session.open(&expand_home(&path), &self.arm.robot.name, &mut self.tasks) {
                    Ok(()) => {
                        self.state.session_root = Some(path.clone());
                        self.state.recent_sessions.retain(|p| *p != path);
                        self.state.recent_sessions.insert(0, path.clone());
                        self.state.recent_sessions.truncate(RECENT_SESSIONS);
                        self.log_event(ctx, LogLevel::Info, "session", format!("Session {} open.", path.display()));
                    }
                    Err(error) => self.log_event(ctx, LogLevel::Error, "session", error),
                }
            }
            Command::StartRecording => self.start_recording(ctx),
            Command::FinishEpisode => self.stop_recording(ctx, EpisodeEnd::Keep),
            Command::DiscardEpisode => self.stop_recording(ctx, EpisodeEnd::Discard),
            Command::Timeline(command) => match self.session.timeline(ctx, command, &mut self.tasks) {
                Ok(Some(message)) => self.log_event(ctx, LogLevel::Info, "timeline", message),
                Ok(None) => {}
                Err(error) => self.log_event(ctx, LogLevel::Warn, "timeline", error),
            },
            Command::SetEpisodeTimers { limit_s, reset_s, record_after_reset } => {
                self.session.episode_limit_s = f64::from(limit_s);
                self.session.reset_s = f64::from(reset_s);
                self.session.record_after_reset = record_after_reset;
            }
            Command::PushSession(target) => {
                let shown = kinedesk_storage::redact(target.url.trim());
                let what = target.kind;
                match self.session.start_push(target, &mut self.tasks) {
                    Ok(()) => {
                        let message = format!("Pushing the session to {shown} as a {}", what.label());
                        self.log_event(ctx, LogLevel::Info, "session", message);
                    }
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
                }
            }
            Command::PullSession(target) => {
                let shown = kinedesk_storage::redact(target.url.trim());
                let folder = expand_home(std::path::Path::new(self.session.root_text.trim()));
                match self.session.start_pull(target, &folder, &mut self.tasks) {
                    Ok(()) => self.log_event(ctx, LogLevel::Info, "session", format!("Pulling the session at {shown}")),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
                }
            }
            Command::CancelPush => {
                if let Some(cancel) = &self.session.push_cancel {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    let message = "Stopping the push: the parts in flight finish; Push again continues from there";
                    self.log_event(ctx, LogLevel::Info, "session", message.to_owned());
                }
            }
            Command::ImportDataset(path) => match self.session.start_import(expand_home(&path), &mut self.tasks) {
                Ok(()) => self.log_event(ctx, LogLevel::Info, "session", format!("Importing {}", path.display())),
                Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
            },
            Command::SkipReset => {
                if let Some(started) = self.session.reset_started {
                    self.session.reset_started =
                        Some(started.checked_sub(Duration::from_secs_f64(self.session.reset_s)).unwrap_or(started));
                }
            }
            Command::SetRerunLive(url) => {
                self.session.rerun_live = url.is_some();
                if let Some(url) = url {
                    self.session.rerun_url = url;
                }
                if self.session.recording.is_some() {
                    self.log_event(ctx, LogLevel::Info, "session", "Rerun live logging applies from the next episode.");
                }
            }
            Command::CheckSession => {
                self.session.last_check = None;
                match self.session.start_check(&mut self.tasks) {
                    Ok(()) => self.log_event(ctx, LogLevel::Info, "session", "Checking the session before export."),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
                }
            }
            Command::ExportSession { out, format } => {
                self.session.last_export = None;
                match self.session.start_export(expand_home(&out), format, &mut self.tasks) {
                    Ok(()) => self.log_event(
                        ctx,
                        LogLevel::Info,
                        "session",
                        format!("Exporting to {} ({}).", out.display(), format.label()),
                    ),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
                }
            }
            Command::StartRollout(instruction) => self.start_rollout(ctx, &instruction),
            command @ (Command::ApproveChunk
            | Command::RejectChunk
            | Command::PauseRollout
            | Command::ResumeRollout
            | Command::StopRollout) => self.rollout_control(ctx, &command),
            Command::SetRolloutSettings(settings) => self.state.rollout = settings,
        }
    }
}
