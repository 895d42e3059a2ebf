//! Closed-loop rollouts in the desk: the engine (`kinedesk_models::policy::rollout::Rollout`) is started here and
//! ticked in every logic pass with the driver's lifecycle events, so it keeps running while the window is hidden.
//! The chunks are recorded into the episode being recorded, and the pending and executing chunks are shown in the
//! 3D view (ghost, predicted and executed paths).

use std::sync::Arc;
use std::time::Duration;

use egui::Context;
use kinedesk_models::driver::DriverEvent;
use kinedesk_models::frame::FrameSlot;
use kinedesk_models::policy::backend::CameraImage;
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::rollout::{
    BuiltinChunks, ChunkPolicy, Decision, Phase, PolicyProfile, RemoteChunks, Rollout, RolloutEvent, StopReason,
};
use kinedesk_models::robot::Trajectory;
use kinedesk_widgets::LogLevel;

use super::KineDeskApp;
use crate::gui::arm_state::{RobotSource, RolloutOverlay};
use crate::gui::policy_state::PolicyChoice;

/// How often the logic pass runs while a rollout is active (the engine is ticked there).
const ROLLOUT_TICK: Duration = Duration::from_millis(10);
/// Chunks whose paths are drawn in the 3D view (the newest).
const CHUNKS_DRAWN: usize = 8;

impl KineDeskApp {
    /// Starts a rollout of the chosen policy on the connected robot.
    pub(super) fn start_rollout(&mut self, ctx: &Context, instruction: &str) {
        let instruction = instruction.trim();
        if self.rollout.active() {
            self.log_event(ctx, LogLevel::Warn, "policy", "A rollout is running: stop it first.");
            return;
        }
        if instruction.is_empty() {
            self.log_event(ctx, LogLevel::Warn, "policy", "Type the instruction the policy should carry out.");
            return;
        }
        let Some(robot) = &self.robot else {
            self.log_event(ctx, LogLevel::Warn, "policy", "A rollout needs a connected robot (Connect sim arm).");
            return;
        };
        if robot.latest_state().is_none() {
            self.log_event(ctx, LogLevel::Warn, "policy", "The robot has sent no state yet: try again in a moment.");
            return;
        }
        match self.rollout_from_settings(instruction) {
            Ok(rollout) => {
                let message = format!(
                    "Rollout of \"{instruction}\" with {} ({:?} mode, {} profile).",
                    rollout.describe(),
                    rollout.config().mode,
                    rollout.profile().name
                );
                let recording = self.session.recording.clone();
                self.rollout.begin(rollout, recording);
                self.log_event(ctx, LogLevel::Info, "policy", message);
                ctx.request_repaint();
            }
            Err(error) => self.log_event(ctx, LogLevel::Error, "policy", format!("The rollout cannot start: {error}")),
        }
    }

    fn rollout_from_settings(&mut self, instruction: &str) -> Result<Rollout, String> {
        let tokenizer = self.tokenizer().ok_or("the built-in tokenizer weights do not load")?;
        let settings = self.state.rollout.clone();
        let policy: Box<dyn ChunkPolicy> = match &self.state.policy_settings.choice {
            PolicyChoice::Builtin => Box::new(BuiltinChunks::new(BuiltinPlanner::new(tokenizer))),
            PolicyChoice::Remote { url } => {
                let profile = PolicyProfile::load(&settings.profile)?;
                let mut config = RemoteConfig::new(url);
                config.reply_timeout = Duration::from_secs(u64::from(settings.inference_timeout_s.max(1)));
                let client = RemotePolicy::new(config, Some(tokenizer.clone()));
                Box::new(RemoteChunks::new(client, profile, Some(tokenizer)))
            }
        };
        let config = settings.config(instruction, policy.profile().action.execute_steps);
        let robot_kind = match &self.arm.source {
            RobotSource::Builtin(kind) => kind.id().to_owned(),
            RobotSource::Urdf { .. } => self.arm.robot.name.clone(),
        };
        // The newest frame of each feed the profile uses, in the order the feeds are listed (the profile maps camera
        // indices); converted on the inference thread.
        let used = policy.profile().observation.images.iter().map(|key| key.camera + 1).max().unwrap_or(0);
        let slots: Vec<Arc<FrameSlot>> =
            self.cameras.feeds.iter().take(used).map(|feed| feed.handle.slot.clone()).collect();
        let images = move || {
            slots
                .iter()
                .filter_map(|slot| slot.peek())
                .map(|frame| CameraImage {
                    name: frame.source.to_string(),
                    width: frame.width,
                    height: frame.height,
                    rgb: Arc::new(frame.to_rgb()),
                })
                .collect()
        };
        Rollout::start(config, policy, Arc::new(self.arm.robot.clone()), robot_kind, Box::new(images))
    }

    /// One tick of the rollout with the driver's events of this pass; logs what happened, records settled chunks,
    /// and keeps the logic pass coming while the rollout is active.
    pub(super) fn rollout_pass(&mut self, ctx: &Context, events: &[DriverEvent]) {
        let Some(rollout) = &mut self.rollout.rollout else { return };
        if rollout.phase() == Phase::Stopped {
            return;
        }
        let happened = match &self.robot {
            Some(robot) => rollout.tick(robot, events),
            None => rollout
                .stop(StopReason::RobotError { message: "the robot disconnected".to_owned() })
                .into_iter()
                .collect(),
        };
        for event in &happened {
            self.rollout.note(event);
            self.log_rollout_event(ctx, event);
        }
        let stopped = self.rollout.rollout.as_ref().is_some_and(|r| r.phase() == Phase::Stopped);
        self.rollout.log_chunks(stopped);
        if stopped {
            self.rollout.recording = None;
        } else {
            ctx.request_repaint_after(ROLLOUT_TICK);
        }
        self.arm.rollout = self.rollout.rollout.as_ref().map(overlay);
    }

    fn log_rollout_event(&mut self, ctx: &Context, event: &RolloutEvent) {
        let Some(rollout) = &self.rollout.rollout else { return };
        let (level, message) = match event {
            RolloutEvent::Proposed(index) => {
                let chunk = &rollout.chunks()[*index];
                let verdict = match chunk.decision {
                    Decision::Pending => "waiting for Approve (Enter) or Reject (Backspace)".to_owned(),
                    Decision::AutoApproved => "inside the envelope: runs".to_owned(),
                    Decision::Refused => format!("FAILED its checks: {}", chunk.violations.join("; ")),
                    Decision::Empty => "no actions: the policy says the task is done".to_owned(),
                    other => format!("{other:?}"),
                };
                let level = if chunk.ok { LogLevel::Info } else { LogLevel::Error };
                (
                    level,
                    format!(
                        "Chunk {index}: {} steps, inference {:.0} ms; {verdict}.",
                        chunk.planned_steps, chunk.inference_ms
                    ),
                )
            }
            RolloutEvent::Started { .. } | RolloutEvent::Finished { .. } => return,
            RolloutEvent::Paused(why) => (
                LogLevel::Warn,
                format!("Rollout paused: {why}. Take over with teleop, then Resume (Shift+P) or Stop."),
            ),
            RolloutEvent::Resumed => (LogLevel::Info, "Rollout resumed from the arm's state.".to_owned()),
            RolloutEvent::Intervention => {
                (LogLevel::Info, "The operator took over (recorded as an intervention).".to_owned())
            }
            RolloutEvent::Stopped(reason) => {
                let level = match reason {
                    StopReason::Done | StopReason::MaxChunks | StopReason::MaxTime => LogLevel::Info,
                    StopReason::OperatorStop => LogLevel::Warn,
                    _ => LogLevel::Error,
                };
                let executed = rollout.chunks().iter().filter(|c| c.executed_steps > 0).count();
                (level, format!("Rollout stopped ({reason}) after {executed} executed chunks."))
            }
        };
        self.log_event(ctx, level, "policy", message);
    }

    /// Approve, reject, pause, resume and stop.
    pub(super) fn rollout_control(&mut self, ctx: &Context, command: &crate::gui::command::Command) {
        use crate::gui::command::Command;
        let Some(rollout) = &mut self.rollout.rollout else {
            self.log_event(ctx, LogLevel::Warn, "policy", "No rollout is running.");
            return;
        };
        let mut nothing_waiting = false;
        let event = match command {
            Command::ApproveChunk => {
                nothing_waiting = !rollout.approve();
                None
            }
            Command::RejectChunk => rollout.reject(),
            Command::PauseRollout => rollout.pause(),
            Command::ResumeRollout => rollout.resume(),
            Command::StopRollout => rollout.stop(StopReason::OperatorStop),
            _ => None,
        };
        if nothing_waiting {
            self.log_event(ctx, LogLevel::Warn, "policy", "No chunk is waiting for approval.");
        }
        if matches!(command, Command::StopRollout) {
            // The arm stops as with Esc: the chunk executing does not finish.
            self.handle_command(ctx, Command::Stop { reason: kinedesk_models::StopReason::Button });
        }
        if let Some(event) = event {
            self.rollout.note(&event);
            self.log_rollout_event(ctx, &event);
        }
        ctx.request_repaint();
    }
}

/// What the 3D view draws of a rollout: the pending chunk as a ghost, and the newest chunks' predicted and executed
/// joints.
fn overlay(rollout: &Rollout) -> RolloutOverlay {
    let ghost = rollout.pending().map(|c| Trajectory { dt_s: c.planned.dt_s, joints: c.planned.joints.clone() });
    let paths = rollout
        .chunks()
        .iter()
        .filter(|c| !c.executed.is_empty() || c.decision == Decision::Pending)
        .rev()
        .take(CHUNKS_DRAWN)
        .map(|c| (c.planned.joints.clone(), c.executed.iter().map(|(_, q)| q.clone()).collect()))
        .collect();
    RolloutOverlay { ghost, paths }
}
