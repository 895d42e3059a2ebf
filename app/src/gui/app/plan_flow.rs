//! The policy and preview loop inside the app: instruction → policy worker → streamed reasoning and tokens →
//! decoded trajectory checked at the chosen velocity scaling → ghost preview with its review → approve (the send
//! itself is in `robot_link`). Every plan, approval and rejection goes to the operator log.

use std::ops::Range;
use std::sync::Arc;

use egui::Context;
use kinedesk_models::ConnectionState;
use kinedesk_models::policy::backend::{
    CameraImage, PolicyCommand, PolicyError, PolicyRequest, PolicyUpdate, spawn_policy_worker,
};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::trajectory::check_planned;
use kinedesk_models::tokenizer::ActionTokenizer;
use kinedesk_models::vocab::StageKind;
use kinedesk_sessions::events::TimelineEvent;
use kinedesk_widgets::LogLevel;
use kinedesk_widgets::trajectory_plots::PlotSpan;

use super::{KineDeskApp, WORKER_DRAIN_BUDGET, repaint_waker};
use crate::gui::arm_state::RobotSource;
use crate::gui::policy_state::{PlanView, PolicyChoice, VELOCITY_PERCENT_RANGE};

impl KineDeskApp {
    pub(super) fn tokenizer(&mut self) -> Option<Arc<ActionTokenizer>> {
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
        let backend: Box<dyn kinedesk_models::policy::backend::PolicyBackend> = match &self.state.policy_settings.choice
        {
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
        self.state.policy_settings.choice = choice.clone();
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
        if let Some(review) = self.arm.preview.as_ref().map(|p| &p.review).filter(|r| r.is_executing()) {
            // A new plan would replace the preview under the running execution: say so instead of swapping it.
            let message = format!(
                "Not planned: the arm is executing {} ({}). Stop it (Esc) or let it finish, then plan again.",
                review.source,
                review.state().label()
            );
            self.log_event(ctx, LogLevel::Warn, "policy", message);
            return;
        }
        if !self.ensure_policy_worker(ctx) {
            return;
        }
        let id = self.policy.next_id;
        self.policy.next_id += 1;
        self.state.policy_settings.remember(instruction);
        self.policy.history_cursor = None;
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
                    format!("Plan #{id} ({}): \"{instruction}\"", self.state.policy_settings.choice.label()),
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
                    if let PolicyChoice::Remote { url } = &self.state.policy_settings.choice {
                        self.policy_state = ConnectionState::Connected { detail: url.clone() };
                    }
                    if let (Some(recording), Some(current)) = (&self.session.recording, &self.policy.current) {
                        recording
                            .event(&TimelineEvent::Instruction { text: current.instruction.clone(), source: None });
                        recording.event(&TimelineEvent::Reasoning {
                            instruction_level: plan.output.instruction_level.clone(),
                            action_level: plan.output.action_level.clone(),
                            action_tokens: plan.output.chunks.clone(),
                        });
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
            // Results of a plan that was replaced or cancelled.
            PolicyUpdate::Event { .. } | PolicyUpdate::Finished { .. } => {}
        }
    }

    /// Checks the current plan at the chosen decode and velocity scaling and shows it as the ghost, with a new
    /// review: any change withdraws the approval, so the operator approves exactly what is shown.
    pub(super) fn refresh_plan_preview(&mut self, ctx: &Context) {
        let limits = self.state.policy_settings.limits(&self.arm.robot);
        let Some((trajectory, slowdown)) = self.policy.preview_trajectory(&self.arm.robot, &limits) else { return };
        let report = check_planned(&self.arm.robot, &trajectory, &limits);
        if self.arm.preview.as_ref().is_some_and(|p| p.review.is_executing()) {
            self.log_event(
                ctx,
                LogLevel::Warn,
                "policy",
                "The plan being executed stays on screen until it ends; the new preview replaces it then.",
            );
        }
        let Some(current) = &mut self.policy.current else { return };
        current.slowdown = slowdown;
        let spans = current.plan.as_ref().map_or_else(Vec::new, |plan| {
            plan.stages
                .iter()
                .map(|s| PlotSpan { first: s.steps.start, last: s.steps.end, label: s.kind.name().to_owned() })
                .collect()
        });
        let decode = if self.policy.show_coarse { "coarse decode" } else { "full decode" };
        let source = format!("Plan #{} ({decode}, {} %)", current.id, self.state.policy_settings.velocity_percent);
        let id = current.id;
        let gripper = current.plan.as_ref().map(|plan| plan.full.gripper.clone());
        let was_approved =
            self.arm.preview.as_ref().is_some_and(|p| p.review.plan_id == Some(id) && p.review.is_approved());
        let ok = report.ok;
        let violations = report.violations.len();
        if self.arm.preview.as_ref().is_some_and(|p| p.review.is_executing()) {
            return;
        }
        let preview = self.arm.preview_checked(source, trajectory.trajectory(), report, spans, Some(id), slowdown);
        preview.review.gripper = gripper;
        if self.policy.show_coarse {
            preview.review.blocker = Some("the coarse decode is shown; switch to the full decode".to_owned());
        }
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

    /// Approves what is previewed, if its review allows it.
    pub(super) fn approve_plan(&mut self, ctx: &Context) {
        let percent = self.state.policy_settings.velocity_percent;
        let Some(preview) = &mut self.arm.preview else {
            self.log_event(ctx, LogLevel::Warn, "policy", "Nothing to approve: plan an instruction first.");
            return;
        };
        let source = preview.review.source.clone();
        match preview.review.approve() {
            Ok(()) => self.log_event(ctx, LogLevel::Info, "policy", format!("{source} approved at {percent} % speed.")),
            Err(reason) => self.log_event(ctx, LogLevel::Warn, "policy", format!("{source} not approved: {reason}.")),
        }
    }

    pub(super) fn acknowledge_warnings(&mut self, ctx: &Context) {
        let Some(preview) = &mut self.arm.preview else { return };
        if preview.review.warnings.is_empty() {
            return;
        }
        preview.review.acknowledge_warnings();
        let message = format!(
            "{}: {} warning(s) acknowledged: {}.",
            preview.review.source,
            preview.review.warnings.len(),
            preview.review.warnings.join("; ")
        );
        self.log_event(ctx, LogLevel::Info, "policy", message);
    }

    pub(super) fn reject_plan(&mut self, ctx: &Context) {
        if let Some(current) = self.policy.current.take() {
            self.policy.instruction.clone_from(&current.instruction);
            if self
                .arm
                .preview
                .as_ref()
                .is_some_and(|p| p.review.plan_id == Some(current.id) && !p.review.is_executing())
            {
                self.arm.preview = None;
            }
            self.log_event(ctx, LogLevel::Info, "policy", format!("Plan #{} rejected.", current.id));
        }
    }

    pub(super) fn set_velocity_percent(&mut self, ctx: &Context, percent: u16) {
        let percent = percent.clamp(*VELOCITY_PERCENT_RANGE.start(), *VELOCITY_PERCENT_RANGE.end());
        if percent != self.state.policy_settings.velocity_percent {
            self.state.policy_settings.velocity_percent = percent;
            self.refresh_plan_preview(ctx);
        }
    }

    pub(super) fn set_coarse_preview(&mut self, ctx: &Context, coarse: bool) {
        if coarse != self.policy.show_coarse {
            self.policy.show_coarse = coarse;
            self.refresh_plan_preview(ctx);
        }
    }

    /// The plan steps (trajectory samples) each stage of policy plan `plan_id` covers, for following its
    /// execution. Sample k follows action k-1, so a stage of actions a..b covers samples a+1..b+1 (the first also
    /// the start sample).
    pub(super) fn plan_stage_steps(&self, plan_id: Option<u64>) -> Option<Vec<(StageKind, Range<usize>)>> {
        let current = self.policy.current.as_ref().filter(|c| Some(c.id) == plan_id)?;
        let plan = current.plan.as_ref()?;
        Some(
            plan.stages
                .iter()
                .enumerate()
                .map(|(index, stage)| {
                    let start = if index == 0 { 0 } else { stage.steps.start + 1 };
                    (stage.kind, start..stage.steps.end + 1)
                })
                .collect(),
        )
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
            let from_current = preview.review.plan_id.is_some()
                && preview.review.plan_id == self.policy.current.as_ref().map(|c| c.id);
            preview.highlight = span.filter(|_| from_current);
        }
    }
}
