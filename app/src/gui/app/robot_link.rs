//! The robot link inside the app: connecting a driver, taking its lifecycle events (lossless) and newest state,
//! and sending the reviewed plan. The driver sequences the plan itself; the app only follows along.

use egui::Context;
use kinedesk_models::ConnectionState;
use kinedesk_models::driver::{DriverCommand, DriverEvent, DriverHandle};
use kinedesk_models::realman::client::{RealmanConfig, address_from_url, connect_realman};
use kinedesk_models::review::RobotReadiness;
use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};
use kinedesk_ros2::link::{Ros2LinkConfig, connect_ros2};
use kinedesk_sessions::events::TimelineEvent;
use kinedesk_widgets::LogLevel;

use super::{KineDeskApp, repaint_waker};

/// Speed of Move to start, as a fraction of the joints' rated speed.
const MOVE_TO_START_SPEED: f64 = 0.25;

impl KineDeskApp {
    pub(super) fn connect_sim_arm(&mut self, ctx: &Context) {
        if self.robot.is_some() {
            self.disconnect_robot(ctx, "reconnecting");
        }
        let started =
            spawn_sim_arm(self.arm.robot.clone(), self.stop.clone(), SimArmConfig::default(), Some(repaint_waker(ctx)));
        self.attach_driver(ctx, started, "simulated arm");
    }

    /// Connects the robot at `url`: `ros2://[?state=…&command=…]` or `realman://host:port` (or `host:port`).
    pub(super) fn connect_address(&mut self, ctx: &Context, url: &str) {
        if url.trim().starts_with("ros2:") {
            self.connect_ros2(ctx, url.trim());
        } else {
            self.connect_realman(ctx, url);
        }
    }

    fn connect_ros2(&mut self, ctx: &Context, url: &str) {
        let config = match Ros2LinkConfig::from_url(url) {
            Ok(config) => config,
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "robot", error);
                return;
            }
        };
        if self.robot.is_some() {
            self.disconnect_robot(ctx, "reconnecting");
        }
        let started = connect_ros2(self.arm.robot.clone(), config, self.stop.clone(), Some(repaint_waker(ctx)));
        if self.attach_driver(ctx, started, "ROS 2 link") {
            let name = self.robot.as_ref().map(|robot| robot.name.clone()).unwrap_or_default();
            self.log_event(ctx, LogLevel::Info, "robot", format!("Connecting to {name} (waiting for its JointState)…"));
        }
    }

    fn connect_realman(&mut self, ctx: &Context, url: &str) {
        let address = match address_from_url(url.trim()) {
            Ok(address) => address,
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "robot", error);
                return;
            }
        };
        if self.robot.is_some() {
            self.disconnect_robot(ctx, "reconnecting");
        }
        let config = RealmanConfig::new(address);
        let started = connect_realman(self.arm.robot.clone(), config, self.stop.clone(), Some(repaint_waker(ctx)));
        if self.attach_driver(ctx, started, "Realman driver") {
            let name = self.robot.as_ref().map(|robot| robot.name.clone()).unwrap_or_default();
            self.log_event(ctx, LogLevel::Info, "robot", format!("Connecting to {name}…"));
        }
    }

    /// Takes a freshly started driver (its first events say how the connection went), or reports why it did not
    /// start. A recording under way starts taking its states at once. Returns whether it started.
    fn attach_driver(&mut self, ctx: &Context, started: std::io::Result<DriverHandle>, what: &str) -> bool {
        match started {
            Ok(handle) => {
                if let Some(recording) = &self.session.recording {
                    handle.set_state_tap(Some(recording.state_tap()));
                }
                self.robot_state = ConnectionState::Connecting { target: handle.name.clone() };
                self.robot = Some(handle);
                true
            }
            Err(error) => {
                self.robot_state = ConnectionState::Failed { reason: error.to_string() };
                self.log_event(ctx, LogLevel::Error, "robot", format!("Could not start the {what}: {error}"));
                false
            }
        }
    }

    pub(super) fn disconnect_robot(&mut self, ctx: &Context, why: &str) {
        self.teleop.disarm();
        if let Some(robot) = self.robot.take() {
            robot.set_state_tap(None);
            // The driver thread ends on its own; dropping the handle never blocks the UI.
            let _ = robot.send(DriverCommand::Disconnect);
            self.log_event(ctx, LogLevel::Info, "robot", format!("{} disconnected: {why}.", robot.name));
            let event = DriverEvent::Disconnected { reason: why.to_owned() };
            if let Some(preview) = &mut self.arm.preview {
                preview.review.driver_event(&event);
            }
        }
        self.arm.live = None;
        self.robot_state = ConnectionState::NotConnected;
    }

    /// Every lifecycle event the driver sent (none is ever dropped), then its newest state.
    /// The rollout, if one runs, is ticked with the same events.
    pub(super) fn drain_robot(&mut self, ctx: &Context) {
        let Some(robot) = &mut self.robot else {
            self.rollout_pass(ctx, &[]);
            return;
        };
        let events = robot.drain_events();
        let exit = robot.take_exit();
        let state = robot.take_state();
        if self.rollout.active() {
            self.rollout_pass(ctx, &events);
        }
        for event in events {
            self.apply_driver_event(ctx, event);
        }
        if let Some(state) = state {
            if let (Some(preview), Some(progress)) = (&mut self.arm.preview, state.progress) {
                preview.review.progress(progress);
            }
            self.arm.live = Some(state);
        }
        if let Some(exit) = exit
            && self.robot.is_some()
        {
            self.robot = None;
            self.arm.live = None;
            self.robot_state = ConnectionState::Failed { reason: format!("driver thread ended: {exit:?}") };
            self.log_event(ctx, LogLevel::Error, "robot", format!("The robot driver thread ended: {exit:?}"));
        }
    }

    fn apply_driver_event(&mut self, ctx: &Context, event: DriverEvent) {
        let name = self.robot.as_ref().map(|robot| robot.name.clone()).unwrap_or_default();
        let changed = self.arm.preview.as_mut().is_some_and(|preview| preview.review.driver_event(&event));
        if changed && let Some(preview) = &self.arm.preview {
            let line = format!("{}: {}.", preview.review.source, preview.review.state().label());
            let level = if preview.review.state().is_finished() && !matches!(event, DriverEvent::PlanFinished { .. }) {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            self.log_event(ctx, level, "send", line);
        }
        match event {
            DriverEvent::Connected { robot, dof } => {
                self.robot_state = ConnectionState::Connected { detail: name.clone() };
                self.log_event(ctx, LogLevel::Info, "robot", format!("Connected to {name} ({robot}, {dof} joints)."));
            }
            DriverEvent::PlanStarted { id, steps, items, .. } => {
                let message = format!("{name} started plan {id} ({steps} steps, {items} items).");
                self.log_event(ctx, LogLevel::Info, "robot", message);
            }
            DriverEvent::PlanFinished { id, .. } => {
                self.log_event(ctx, LogLevel::Info, "robot", format!("{name} finished plan {id}."));
            }
            DriverEvent::MoveFinished => {
                self.log_event(ctx, LogLevel::Info, "robot", format!("{name} reached the target."));
            }
            DriverEvent::PlanFailed { id, at, reason } => {
                let message = format!("{name}: plan {id} failed at step {} of {}: {reason}", at.step + 1, at.steps);
                self.log_event(ctx, LogLevel::Error, "robot", message);
            }
            DriverEvent::Stopped { generation, plan } => {
                let at = plan.map_or_else(String::new, |p| format!(" at step {} of {}", p.step + 1, p.steps));
                self.log_event(ctx, LogLevel::Warn, "robot", format!("{name} stopped (stop #{generation}){at}."));
            }
            DriverEvent::Refused { reason, .. } => {
                self.log_event(ctx, LogLevel::Error, "robot", format!("{name}: {reason}"));
            }
            DriverEvent::Halted { reason } => self.log_event(ctx, LogLevel::Warn, "robot", format!("{name}: {reason}")),
            DriverEvent::Disconnected { reason } => {
                self.teleop.disarm();
                if let Some(robot) = self.robot.take() {
                    robot.set_state_tap(None);
                }
                self.arm.live = None;
                self.robot_state = ConnectionState::Failed { reason: reason.clone() };
                self.log_event(ctx, LogLevel::Error, "robot", format!("{name} disconnected: {reason}"));
            }
        }
    }

    /// What the review needs to know of the robot.
    pub(super) fn robot_readiness(&self) -> RobotReadiness<'_> {
        RobotReadiness {
            connected: self.robot.is_some(),
            healthy: if self.robot_state.is_healthy() { Ok(()) } else { Err(self.robot_state.summary()) },
            joints: self.arm.live.as_ref().map(|state| state.positions.as_slice()),
        }
    }

    /// Sends the previewed plan to the robot if its review allows it (the same rules the Send button shows); the
    /// driver checks it whole again and carries it out by itself, gripper moves included.
    pub(super) fn send_trajectory(&mut self, ctx: &Context) {
        let refusal = match &self.arm.preview {
            None => Some("no trajectory is previewed".to_owned()),
            Some(preview) => preview.review.send_refusal(&self.robot_readiness()),
        };
        if let Some(reason) = refusal {
            self.log_event(ctx, LogLevel::Warn, "send", format!("Send refused: {reason}."));
            return;
        }
        let stages = self.plan_stage_steps(self.arm.preview.as_ref().and_then(|p| p.review.plan_id));
        let (Some(robot), Some(preview)) = (&self.robot, &mut self.arm.preview) else { return };
        let id = self.next_execution_id;
        self.next_execution_id += 1;
        let plan = preview.review.execution_plan();
        let (steps, gripper_moves) = (plan.steps(), plan.gripper_moves());
        let robot_name = robot.name.clone();
        if let Err(error) = robot.send(DriverCommand::ExecutePlan { id, plan }) {
            self.log_event(ctx, LogLevel::Error, "send", format!("Send failed: {error}"));
            return;
        }
        preview.review.sent(id, steps);
        let review = &preview.review;
        let message = format!(
            "Sent {} to {robot_name} as plan {id} ({} samples, {:.2} s{}).",
            review.source,
            review.trajectory.joints.len(),
            review.duration_s(),
            if gripper_moves > 0 { format!(", {gripper_moves} gripper moves") } else { String::new() }
        );
        if let Some(recording) = &self.session.recording {
            // The trajectory itself goes on the recording's timeline (Rerun exports draw it as the planned path),
            // and the recorder follows the driver through the plan's stages.
            recording.event(&TimelineEvent::Trajectory {
                source: review.source.clone(),
                dt_s: review.trajectory.dt_s,
                joints: review.trajectory.joints.clone(),
            });
            if let Some(stages) = stages {
                recording.track_stages(id, stages);
            }
        }
        self.log_event(ctx, LogLevel::Info, "send", message);
    }

    /// Moves the arm point to point to where the previewed trajectory starts.
    pub(super) fn move_to_start(&mut self, ctx: &Context) {
        let start = self.arm.preview.as_ref().and_then(|preview| preview.trajectory().joints.first().cloned());
        match (&self.robot, start) {
            (Some(robot), Some(joints)) => {
                match robot.send(DriverCommand::MoveTo { joints, speed_fraction: MOVE_TO_START_SPEED }) {
                    Ok(()) => {
                        let message =
                            format!("Moving to the trajectory's start at {:.0} % speed.", MOVE_TO_START_SPEED * 100.0);
                        self.log_event(ctx, LogLevel::Info, "send", message);
                    }
                    Err(error) => self.log_event(ctx, LogLevel::Error, "send", format!("Move not sent: {error}")),
                }
            }
            _ => self.log_event(
                ctx,
                LogLevel::Warn,
                "send",
                "Move to start needs a connected robot and a previewed trajectory.",
            ),
        }
    }
}
