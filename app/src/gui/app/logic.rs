//! The logic pass: everything that must keep running whether or not the window is drawn. eframe calls it before
//! every frame and, while the window is hidden or minimised, whenever a worker asks for a repaint.

use std::time::{Duration, Instant};

use egui::{Context, Key};
use kinedesk_models::driver::DriverCommand;
use kinedesk_widgets::LogLevel;

use super::{KineDeskApp, WORKER_DRAIN_BUDGET};
use crate::gui::gamepad::GamepadEvent;
use crate::gui::teleop::JogKeys;

impl KineDeskApp {
    /// One logic pass: worker results, the robot's events and state, the policy, teleop, the timeline editor,
    /// episode timers, background tasks, and the commands queued for it. Draws nothing.
    pub fn logic(&mut self, ctx: &Context) {
        for (level, message) in std::mem::take(&mut self.startup_messages) {
            self.log_event(ctx, level, "app", message);
        }
        self.drain_workers(ctx);
        self.drain_robot(ctx);
        self.drain_policy(ctx);
        self.teleop_pass(ctx);
        self.session.annotator.tick(ctx);
        for (level, message) in std::mem::take(&mut self.session.annotator.messages) {
            self.log_event(ctx, level, "timeline", message);
        }
        self.episode_timers(ctx);
        self.apply_task_results(ctx);
        self.apply_file_dialog(ctx);
        self.recorder_health(ctx);
        for command in std::mem::take(&mut self.pending_commands) {
            self.handle_command(ctx, command);
        }
    }

    /// Takes what the loader and gamepad threads reported, within a time budget.
    fn drain_workers(&mut self, ctx: &Context) {
        let mut results = Vec::new();
        if let Some(loader) = &mut self.loader {
            let drained = loader.events().drain_within(WORKER_DRAIN_BUDGET, 4, |result| results.push(result));
            if drained.more_pending {
                ctx.request_repaint();
            }
            if let Some(exit) = loader.take_exit() {
                self.loader = None;
                self.startup_messages.push((LogLevel::Error, format!("The file loader thread stopped: {exit:?}")));
            }
        }
        for result in results {
            self.apply_load_result(ctx, result);
        }

        let mut pad_events = Vec::new();
        if let Some(gamepad) = &mut self.gamepad {
            gamepad.events().drain_within(WORKER_DRAIN_BUDGET, 64, |event| pad_events.push(event));
            if gamepad.take_exit().is_some() {
                self.gamepad = None;
            }
        }
        for event in pad_events {
            match event {
                GamepadEvent::Connected(name) => {
                    let message = format!("Gamepad connected: {name} (hold LB or RB to jog).");
                    self.log_event(ctx, LogLevel::Info, "gamepad", message);
                }
                GamepadEvent::Disconnected(name) => {
                    self.gamepad_state = None;
                    self.log_event(ctx, LogLevel::Warn, "gamepad", format!("Gamepad disconnected: {name}."));
                }
                GamepadEvent::State(state) => self.gamepad_state = Some((state, Instant::now())),
                GamepadEvent::Unavailable(reason) => {
                    self.log_event(ctx, LogLevel::Info, "gamepad", format!("Gamepads cannot be read here: {reason}."));
                }
            }
        }
    }

    /// The episode length limit and the reset countdown between episodes.
    fn episode_timers(&mut self, ctx: &Context) {
        let limit = self.session.episode_limit_s;
        if limit > 0.0 && self.session.recording.as_ref().is_some_and(|r| r.elapsed().as_secs_f64() >= limit) {
            self.log_event(ctx, LogLevel::Info, "session", format!("Episode time ({limit:.0} s) is up."));
            self.pending_commands.push(crate::gui::command::Command::FinishEpisode);
            ctx.request_repaint();
        } else if limit > 0.0 && self.session.recording.is_some() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if let Some(started) = self.session.reset_started {
            if started.elapsed().as_secs_f64() >= self.session.reset_s {
                self.session.reset_started = None;
                if self.session.record_after_reset {
                    self.log_event(ctx, LogLevel::Info, "session", "Reset time is over: recording the next episode.");
                    self.pending_commands.push(crate::gui::command::Command::StartRecording);
                    ctx.request_repaint();
                } else {
                    self.log_event(ctx, LogLevel::Info, "session", "Reset time is over: press Record (Ctrl+R).");
                }
            } else {
                ctx.request_repaint_after(Duration::from_millis(100));
            }
        }
    }

    /// Streams a jog target while the dead-man key (or gamepad button) and a motion key are held. Keys count only
    /// while the window has the keyboard focus: a minimised or unfocused window jogs nothing.
    fn teleop_pass(&mut self, ctx: &Context) {
        let focused = ctx.input(|input| input.focused && input.viewport().minimized != Some(true));
        let typing = ctx.egui_wants_keyboard_input() || !focused;
        if self.teleop.armed && !typing {
            ctx.input(|input| {
                for (index, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7]
                    .into_iter()
                    .enumerate()
                {
                    if input.key_pressed(key) && input.modifiers.is_none() && index < self.arm.robot.dof() {
                        self.teleop.joint = index;
                    }
                }
                if input.key_pressed(Key::OpenBracket) {
                    self.teleop.speed = self.teleop.speed.saturating_sub(1);
                }
                if input.key_pressed(Key::CloseBracket) {
                    self.teleop.speed = (self.teleop.speed + 1).min(crate::gui::teleop::SPEEDS.len() - 1);
                }
            });
        }
        // Keyboard first; otherwise a fresh gamepad reading with its dead-man button held.
        let gamepad = self
            .gamepad_state
            .as_ref()
            .filter(|(_, at)| at.elapsed() < kinedesk_models::driver::TELEOP_WATCHDOG)
            .and_then(|(state, _)| state.jog());
        let keys = if typing { gamepad } else { ctx.input(JogKeys::read).or(gamepad) };
        let (Some(robot), Some(live)) = (&self.robot, &self.arm.live) else {
            self.teleop.target = None;
            self.arm.teleop_target = None;
            return;
        };
        let (now, frame_dt) = ctx.input(|input| (input.time, f64::from(input.predicted_dt)));
        match self.teleop.step(&self.arm.robot, &live.positions, keys, now, frame_dt) {
            Ok(Some(target)) => {
                if let Err(error) = robot.send(DriverCommand::StreamTarget(target)) {
                    log::warn!(target: "kinedesk", "teleop target dropped: {error}");
                }
                // Keep frames coming while jogging, so targets stream at ~50 Hz.
                ctx.request_repaint_after(Duration::from_millis(20));
            }
            Ok(None) => {}
            Err(error) => self.log_event(ctx, LogLevel::Warn, "teleop", error),
        }
        self.arm.teleop_target = self.teleop.target.clone();
    }

    /// A closed file dialog's answer: the command its path means, or a hint when nothing came back.
    fn apply_file_dialog(&mut self, ctx: &Context) {
        use crate::gui::file_dialogs::{DialogAnswer, command_for};
        match self.file_dialogs.poll() {
            Some(DialogAnswer::Chosen(purpose, path)) => self.pending_commands.push(command_for(purpose, path)),
            Some(DialogAnswer::NothingChosen(purpose)) => self.log_event(
                ctx,
                LogLevel::Info,
                "app",
                format!(
                    "{}: nothing chosen. If no dialog appeared, this desktop has no file-dialog portal \
                     (xdg-desktop-portal): type the path into the box instead.",
                    purpose.title()
                ),
            ),
            None => {}
        }
    }
}
