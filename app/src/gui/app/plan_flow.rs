//! The policy and preview loop inside the app: instruction → policy worker → streamed reasoning and tokens →
//! decoded trajectory checked at the chosen velocity scaling → ghost preview → approve → send (segmented at gripper
//! changes). Every plan, approval, rejection and send goes to the operator log.

use std::collections::VecDeque;
use std::sync::Arc;

use egui::Context;
use kinedesk_models::ConnectionState;
use kinedesk_models::driver::DriverCommand;
use kinedesk_models::policy::backend::{
    CameraImage, PolicyCommand, PolicyError, PolicyRequest, PolicyUpdate, spawn_policy_worker,
};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::trajectory::check_planned;
use kinedesk_models::robot::Trajectory;
use kinedesk_models::tokenizer::ActionTokenizer;
use kinedesk_widgets::LogLevel;
use kinedesk_widgets::trajectory_plots::PlotSpan;

use super::{KineDeskApp, WORKER_DRAIN_BUDGET, repaint_waker};
use crate::gui::arm_state::RobotSource;
use crate::gui::policy_state::{PlanView, PolicyChoice, VELOCITY_PERCENT_RANGE};

/// One part of an execution: a trajectory segment or a gripper move between segments.
#[derive(Clone, Debug, PartialEq)]
pub enum ExecutionItem {
    Segment { trajectory: Trajectory, first_step: usize },
    Gripper { opening: f64 },
}

/// Splits a trajectory where the gripper command changes: the arm stops, the gripper moves, the arm goes on (the
/// planner holds still for a moment after each change, so the gripper has time to close).
#[must_use]
pub fn split_at_gripper_changes(trajectory: &Trajectory, gripper: &[f64]) -> VecDeque<ExecutionItem> {
    let mut items = VecDeque::new();
    let mut first = 0;
    let samples = trajectory.joints.len();
    for k in 1..samples.min(gripper.len()) {
        if (gripper[k] > 0.0) != (gripper[k - 1] > 0.0) {
            if k - 1 > first {
                items.push_back(ExecutionItem::Segment {
                    trajectory: Trajectory { dt_s: trajectory.dt_s, joints: trajectory.joints[first..k].to_vec() },
                    first_step: first,
                });
            }
            items.push_back(ExecutionItem::Gripper { opening: if gripper[k] > 0.0 { 0.0 } else { 1.0 } });
            first = k - 1;
        }
    }
    if samples > first + 1 {
        items.push_back(ExecutionItem::Segment {
            trajectory: Trajectory { dt_s: trajectory.dt_s, joints: trajectory.joints[first..].to_vec() },
            first_step: first,
        });
    }
    items
}

impl KineDeskApp {
    fn tokenizer(&mut self) -> Option<Arc<ActionTokenizer>> {
        if self.tokenizer.is_none() {
            match ActionTokenizer::builtin() {
                Ok(tokenizer) => self.tokenizer = Some(Arc::new(tokenizer)),
                Err(error) => self
                    .startup_messages
                    .push((LogLevel::Error, format!("The built-in tokenizer weights do not load: {error}"))),
            }
        }
        self.tokenizer.clone()
    }

    fn ensure_policy_worker(&mut self, ctx: &Context) -> bool {
        if self.policy_worker.is_some() {
            return true;
        }
        let Some(tokenizer) = self.tokenizer() else { return false };
        let backend: Box<dyn kinedesk_models::policy::backend::PolicyBackend> = match &self.policy.choice {
            PolicyChoice::Builtin => Box::new(BuiltinPlanner::new(tokenizer)),
            PolicyChoice::Remote { url } => Box::new(RemotePolicy::new(RemoteConfig::new(url), Some(tokenizer))),
        };
        match spawn_policy_worker(backend, Some(repaint_waker(ctx))) {
            Ok(worker) => {
                self.policy_worker = Some(worker);
                true
            }
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "policy", format!("Could not start the policy thread: {error}"));
                false
            }
        }
    }

    pub(super) fn use_policy(&mut self, ctx: &Context, choice: &PolicyChoice) {
        if let PolicyChoice::Remote { url } = &choice
            && !(url.starts_with("ws://") || url.starts_with("wss://"))
        {
            self.log_event(ctx, LogLevel::Warn, "policy", format!("{url:?} is not a ws:// or wss:// address."));
            return;
        }
        self.policy.choice = choice.clone();
        self.state.policy = choice.clone();
        // A fresh worker for the new backend; a plan in flight on the old one is dropped.
        if let Some(worker) = self.policy_worker.take() {
            worker.request_shutdown();
        }
        if let Some(current) = &mut self.policy.current
            && current.is_pending()
        {
            current.error = Some("cancelled: the policy was changed".into());
        }
        self.policy_state = match choice {
            PolicyChoice::Builtin => ConnectionState::Connected { detail: "built-in planner".into() },
            PolicyChoice::Remote { url } => ConnectionState::Idle { detail: format!("{url} (connects on Plan)") },
        };
        self.log_event(ctx, LogLevel::Info, "policy", format!("Policy: {}.", choice.label()));
    }

    pub(super) fn request_plan(&mut self, ctx: &Context, instruction: &str) {
        if self.policy.current.as_ref().is_some_and(PlanView::is_pending) {
            self.log_event(ctx, LogLevel::Warn, "policy", "A plan is still being made; wait for it or press Esc.");
            return;
        }
        if !self.ensure_policy_worker(ctx) {
            return;
        }
        let id = self.policy.next_id;
        self.policy.next_id += 1;
        self.policy.remember(instruction);
        let joints = self.arm.shown_joints().to_vec();
        let gripper_closed = self.arm.live.as_ref().is_some_and(|state| state.gripper < 0.5);
        let robot_kind = match &self.arm.source {
            RobotSource::Builtin(kind) => kind.id().to_owned(),
            RobotSource::Urdf { .. } => self.arm.robot.name.clone(),
        };
        let request = PolicyRequest {
            instruction: instruction.to_owned(),
            robot_kind,
            robot: Arc::new(self.arm.robot.clone()),
            joints,
            gripper_closed,
            // The newest frames of the first two feeds (LIBERO's agent view and wrist camera slots).
            images: self
                .cameras
                .feeds
                .iter()
                .filter_map(|feed| feed.last.as_ref())
                .take(2)
                .map(|frame| CameraImage {
                    name: frame.source.to_string(),
                    width: frame.width,
                    height: frame.height,
                    rgb: Arc::new(frame.to_rgb()),
                })
                .collect(),
        };
        let sent = self
            .policy_worker
            .as_ref()
            .map(|worker| worker.send(PolicyCommand::Plan { id, request: Box::new(request) }));
        match sent {
            Some(Ok(())) => {
                self.policy.current = Some(PlanView::new(id, instruction.to_owned()));
                self.log_event(
                    ctx,
                    LogLevel::Info,
                    "policy",
                    format!("Plan #{id} ({}): \"{instruction}\"", self.policy.choice.label()),
                );
            }
            Some(Err(error)) => {
                self.log_event(ctx, LogLevel::Error, "policy", format!("Plan not sent: {error}"));
            }
            None => {}
        }
    }

    pub(super) fn drain_policy(&mut self, ctx: &Context) {
        let mut updates = Vec::new();
        let mut exited = None;
        if let Some(worker) = &mut self.policy_worker {
            let drained = worker.events().drain_within(WORKER_DRAIN_BUDGET, 256, |update| updates.push(update));
            if drained.more_pending {
                ctx.request_repaint();
            }
            exited = worker.take_exit();
        }
        for update in updates {
            self.apply_policy_update(ctx, update);
        }
        if let Some(exit) = exited {
            self.policy_worker = None;
            self.log_event(ctx, LogLevel::Error, "policy", format!("The policy thread ended: {exit:?}"));
        }
        if self.policy.current.as_ref().is_some_and(PlanView::is_pending) {
            // Keep the elapsed-time label moving while waiting on a server.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn apply_policy_update(&mut self, ctx: &Context, update: PolicyUpdate) {
        let current_id = self.policy.current.as_ref().map(|c| c.id);
        match update {
            PolicyUpdate::Event { id, event } if Some(id) == current_id => {
                if let Some(current) = &mut self.policy.current {
                    current.apply(event);
                }
            }
            PolicyUpdate::Finished { id, result } if Some(id) == current_id => match result {
                Ok(plan) => {
                    let message = format!(
                        "Plan #{id} ready: {} stages, {} token chunks, {} samples; first reasoning {:.1} ms, preview \
                         {:.1} ms.",
                        plan.stages.len(),
                        plan.output.chunks.len(),
                        plan.full.joints.len(),
                        plan.first_reasoning.as_secs_f64() * 1000.0,
                        plan.total.as_secs_f64() * 1000.0
                    );
                    if let PolicyChoice::Remote { url } = &self.policy.choice {
                        self.policy_state = ConnectionState::Connected { detail: url.clone() };
                    }
                    if let (Some(recording), Some(current)) = (&self.session.recording, &self.policy.current) {
                        let now = kinedesk_models::Timestamp::now();
                        recording
                            .recorder
                            .event(now, &serde_json::json!({"type": "instruction", "text": current.instruction}));
                        recording.recorder.event(
                            now,
                            &serde_json::json!({
                                "type": "reasoning",
                                "instruction_level": plan.output.instruction_level,
                                "action_level": plan.output.action_level,
                                "action_tokens": plan.output.chunks,
                            }),
                        );
                    }
                    if let Some(current) = &mut self.policy.current {
                        current.instruction_level.clone_from(&plan.output.instruction_level);
                        current.action_level.clone_from(&plan.output.action_level);
                        current.chunks.clone_from(&plan.output.chunks);
                        current.plan = Some(plan);
                    }
                    self.log_event(ctx, LogLevel::Info, "policy", message);
                    self.refresh_plan_preview(ctx);
                }
                Err(error) => {
                    if matches!(error, PolicyError::Connection { .. } | PolicyError::Timeout(_)) {
                        self.policy_state = ConnectionState::Failed { reason: error.to_string() };
                    }
                    if let Some(current) = &mut self.policy.current {
                        current.error = Some(error.to_string());
                    }
                    self.log_event(ctx, LogLevel::Error, "policy", format!("Plan #{id} failed: {error}"));
                }
            },
            PolicyUpdate::BackendChanged { description } => {
                self.log_event(ctx, LogLevel::Info, "policy", format!("Policy backend: {description}."));
            }
            // Results of a plan that was replaced or cancelled.
            PolicyUpdate::Event { .. } | PolicyUpdate::Finished { .. } => {}
        }
    }

    /// Checks the current plan at the chosen decode and velocity scaling and shows it as the ghost. Any change
    /// withdraws the approval: the operator approves exactly what is shown.
    pub(super) fn refresh_plan_preview(&mut self, ctx: &Context) {
        let Some((trajectory, slowdown)) = self.policy.preview_trajectory(&self.arm.robot) else { return };
        let limits = self.policy.limits(&self.arm.robot);
        let report = check_planned(&self.arm.robot, &trajectory, &limits);
        let Some(current) = &mut self.policy.current else { return };
        let was_approved = current.approved;
        current.approved = false;
        current.slowdown = slowdown;
        let spans = current.plan.as_ref().map_or_else(Vec::new, |plan| {
            plan.stages
                .iter()
                .map(|s| PlotSpan { first: s.steps.start, last: s.steps.end, label: s.kind.name().to_owned() })
                .collect()
        });
        let decode = if self.policy.show_coarse { "coarse decode" } else { "full decode" };
        let source = format!("Plan #{} ({decode}, {} %)", current.id, self.policy.velocity_percent);
        let id = current.id;
        let ok = report.ok;
        let violations = report.violations.len();
        self.arm.preview_checked(source, trajectory.trajectory(), report, spans, Some(id));
        if was_approved {
            self.log_event(ctx, LogLevel::Info, "policy", format!("Plan #{id}: approval withdrawn (preview changed)."));
        }
        if !ok {
            self.log_event(
                ctx,
                LogLevel::Warn,
                "policy",
                format!("Plan #{id}: {violations} safety check violation(s); it cannot be sent."),
            );
        }
    }

    pub(super) fn approve_plan(&mut self, ctx: &Context) {
        let checks_ok = self.arm.preview.as_ref().is_some_and(|p| p.report.ok);
        let coarse = self.policy.show_coarse;
        let Some(current) = self.policy.current.as_mut().filter(|c| c.plan.is_some()) else {
            self.log_event(ctx, LogLevel::Warn, "policy", "Nothing to approve: plan an instruction first.");
            return;
        };
        let refusal = if !checks_ok {
            Some("its safety checks fail")
        } else if coarse {
            Some("the coarse decode is shown; switch to the full decode")
        } else {
            None
        };
        let id = current.id;
        match refusal {
            Some(reason) => {
                self.log_event(ctx, LogLevel::Warn, "policy", format!("Plan #{id} not approved: {reason}."));
            }
            None => {
                current.approved = true;
                let percent = self.policy.velocity_percent;
                self.log_event(ctx, LogLevel::Info, "policy", format!("Plan #{id} approved at {percent} % speed."));
            }
        }
    }

    pub(super) fn reject_plan(&mut self, ctx: &Context) {
        if let Some(current) = self.policy.current.take() {
            self.policy.instruction.clone_from(&current.instruction);
            if self.arm.preview.as_ref().is_some_and(|p| p.plan_id == Some(current.id)) {
                self.arm.preview = None;
            }
            self.log_event(ctx, LogLevel::Info, "policy", format!("Plan #{} rejected.", current.id));
        }
    }

    pub(super) fn set_velocity_percent(&mut self, ctx: &Context, percent: u16) {
        let percent = percent.clamp(*VELOCITY_PERCENT_RANGE.start(), *VELOCITY_PERCENT_RANGE.end());
        if percent != self.policy.velocity_percent {
            self.policy.velocity_percent = percent;
            self.state.velocity_percent = percent;
            self.refresh_plan_preview(ctx);
        }
    }

    pub(super) fn set_coarse_preview(&mut self, ctx: &Context, coarse: bool) {
        if coarse != self.policy.show_coarse {
            self.policy.show_coarse = coarse;
            self.refresh_plan_preview(ctx);
        }
    }

    /// Whether the previewed trajectory may be sent: a plan must be approved (and shown in full).
    pub(super) fn plan_send_refusal(&self) -> Option<String> {
        let preview = self.arm.preview.as_ref()?;
        let plan_id = preview.plan_id?;
        let current = self.policy.current.as_ref().filter(|c| c.id == plan_id);
        match current {
            None => Some("the plan was replaced".into()),
            Some(_) if self.policy.show_coarse => Some("the coarse decode is shown, not the full one".into()),
            Some(current) if !current.approved => Some(format!("plan #{plan_id} is not approved")),
            Some(_) => None,
        }
    }

    /// The execution items for the previewed trajectory: one segment, or several split at gripper changes.
    pub(super) fn execution_items(&self) -> VecDeque<ExecutionItem> {
        let Some(preview) = &self.arm.preview else { return VecDeque::new() };
        let gripper = preview
            .plan_id
            .and_then(|id| self.policy.current.as_ref().filter(|c| c.id == id))
            .and_then(|c| c.plan.as_ref())
            .map(|plan| plan.full.gripper.clone());
        match gripper {
            Some(gripper) => split_at_gripper_changes(&preview.trajectory, &gripper),
            None => VecDeque::from([ExecutionItem::Segment { trajectory: preview.trajectory.clone(), first_step: 0 }]),
        }
    }

    /// Sends the next queued item; a gripper move is followed at once by the next segment (the driver queues it).
    pub(super) fn advance_execution(&mut self, ctx: &Context) {
        while let Some(item) = self.execution_queue.pop_front() {
            let Some(robot) = &self.robot else {
                self.execution_queue.clear();
                return;
            };
            match item {
                ExecutionItem::Gripper { opening } => {
                    if let Err(error) = robot.worker.send(DriverCommand::Gripper(opening)) {
                        self.execution_queue.clear();
                        self.log_event(ctx, LogLevel::Error, "send", format!("Gripper command not sent: {error}"));
                        return;
                    }
                }
                ExecutionItem::Segment { trajectory, first_step } => {
                    self.execution_offset = first_step;
                    if let Err(error) = robot.worker.send(DriverCommand::Execute(trajectory)) {
                        self.execution_queue.clear();
                        self.log_event(ctx, LogLevel::Error, "send", format!("Send failed: {error}"));
                    }
                    return;
                }
            }
        }
    }

    /// Which stage or token chunk is under the mouse, as a span of steps for the plots and the 3D view.
    pub(super) fn update_highlight(&mut self) {
        self.policy.hover = std::mem::take(&mut self.policy.hover_next);
        let hover = self.policy.hover;
        let span = self.policy.current.as_ref().and_then(|current| {
            hover
                .stage
                .and_then(|stage| current.stage_steps(stage))
                .or_else(|| hover.chunk.and_then(|chunk| current.chunk_steps(chunk)))
        });
        if let Some(preview) = &mut self.arm.preview {
            let from_current =
                preview.plan_id.is_some() && preview.plan_id == self.policy.current.as_ref().map(|c| c.id);
            preview.highlight = span.filter(|_| from_current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectories_are_split_where_the_gripper_changes() {
        let joints: Vec<Vec<f64>> = (0..10).map(|k| vec![f64::from(k)]).collect();
        let trajectory = Trajectory { dt_s: 0.1, joints };
        let gripper = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0];
        let items: Vec<ExecutionItem> = split_at_gripper_changes(&trajectory, &gripper).into();
        let shape: Vec<String> = items
            .iter()
            .map(|item| match item {
                ExecutionItem::Segment { trajectory, first_step } => {
                    format!("seg {first_step}+{}", trajectory.joints.len())
                }
                ExecutionItem::Gripper { opening } => format!("grip {opening}"),
            })
            .collect();
        assert_eq!(shape, ["seg 0+3", "grip 0", "seg 2+5", "grip 1", "seg 6+4"]);
        let only: Vec<ExecutionItem> = split_at_gripper_changes(&trajectory, &[-1.0; 10]).into();
        assert_eq!(only.len(), 1);
    }
}
