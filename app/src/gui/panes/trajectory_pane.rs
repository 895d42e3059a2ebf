//! The Trajectory pane: the previewed trajectory's joint plots with limits, flange speed and stage bands, the shared
//! time slider (it moves the ghost in the 3D view), the safety checks, and the review: coarse or full decode,
//! velocity scaling, Reject / Approve / Send with progress. Stop (Esc) always works.

use egui::{Color32, ProgressBar, RichText, ScrollArea, Slider, Ui};
use kinedesk_models::driver::START_TOLERANCE_RAD;
use kinedesk_models::review::{ReviewState, RobotReadiness};
use kinedesk_widgets::placeholder_ui;
use kinedesk_widgets::trajectory_plots::{TrajectoryPlots, trajectory_plots_ui};

use super::PaneContext;
use crate::gui::command::Command;
use crate::gui::policy_state::VELOCITY_PERCENT_RANGE;

/// Accessibility labels of the review controls.
pub const APPROVE_LABEL: &str = "Approve";
pub const REJECT_LABEL: &str = "Reject";
pub const SEND_LABEL: &str = "Send to robot";
pub const REPLAN_LABEL: &str = "Re-plan from here";
pub const ACKNOWLEDGE_LABEL: &str = "I have looked at the warnings";
/// The fill of a button that can be pressed now (Approve, Send).
const FILL_READY: Color32 = Color32::from_rgb(30, 120, 60);
pub const MOVE_TO_START_LABEL: &str = "Move to start";
pub const VELOCITY_LABEL: &str = "Velocity scaling";
pub const COARSE_LABEL: &str = "Coarse only (goal level)";
/// Prefix of the review's state line ("Plan: approved").
pub const REVIEW_STATE_LABEL: &str = "Plan";
/// Prefix of the line that says what to do next (connect → plan → approve → send).
pub const NEXT_STEP_LABEL: &str = "Next:";

/// The one thing to do next with a plan in `state`, given why Approve and Send would be refused now.
#[must_use]
pub fn next_step(state: &ReviewState, approve_refusal: Option<&str>, send_refusal: Option<&str>) -> Option<String> {
    let text = match state {
        ReviewState::Planned => match approve_refusal {
            Some(reason) if reason.contains("warning") => format!("{reason} (below), then Approve"),
            Some(reason) => format!("this plan cannot be approved ({reason}): change the instruction and plan again"),
            None => "look over the preview (ghost arm, plots, checks), then Approve (Ctrl+Shift+A)".to_owned(),
        },
        ReviewState::Approved => match send_refusal {
            Some("no robot is connected") => {
                "connect a robot in the Arm pane (the simulated arm needs no hardware), then Send".to_owned()
            }
            Some(reason) => format!("{reason}, then Send"),
            None => "Send to robot (Ctrl+Shift+Enter); Esc stops it at any time".to_owned(),
        },
        ReviewState::Executing { .. } => return None,
        ReviewState::Completed | ReviewState::Stopped { .. } | ReviewState::Failed { .. } => {
            "Re-plan from here, or type a new instruction".to_owned()
        }
    };
    Some(format!("{NEXT_STEP_LABEL} {text}"))
}

use kinedesk_widgets::palette::{CAUTION as AMBER, DANGER as RED, OK as GREEN};

/// Review of a plan: decode, scaling.
fn plan_review_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let policy = &*context.policy;
    let Some(current) = &policy.current else { return };
    let Some(plan) = &current.plan else { return };
    ui.horizontal(|ui| {
        if plan.coarse.is_some() {
            let mut coarse = policy.show_coarse;
            if ui
                .checkbox(&mut coarse, COARSE_LABEL)
                .on_hover_text("Show what the goal-level tokens alone decode to; Send always uses the full decode")
                .changed()
            {
                context.commands.push(Command::SetCoarsePreview(coarse));
            }
        }
        let mut percent = context.policy_settings.velocity_percent;
        let label = ui.label(VELOCITY_LABEL);
        let slider = ui
            .add(Slider::new(&mut percent, VELOCITY_PERCENT_RANGE).suffix(" %"))
            .labelled_by(label.id)
            .on_hover_text("Fraction of the joints' rated speed and acceleration; slower plans are stretched in time");
        if slider.changed() {
            context.commands.push(Command::SetVelocityPercent(percent));
        }
        if current.slowdown > 1.0 + 1e-9 {
            ui.label(RichText::new(format!("runs {:.2}× slower than planned", current.slowdown)).color(AMBER));
        }
    });
}

/// The review row: the plan's state, Reject / Approve, Move to start, Send, progress. Each disabled button says
/// the one thing it is waiting for; the command layer asks the same review before acting.
fn send_row_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let Some(preview) = &context.arm.preview else { return };
    let review = &preview.review;
    let readiness = RobotReadiness {
        connected: context.robot_connected,
        healthy: context.robot_health.clone(),
        joints: context.arm.live.as_ref().map(|state| state.positions.as_slice()),
    };
    let state = review.state();
    let colour = match state {
        ReviewState::Planned => AMBER,
        ReviewState::Approved | ReviewState::Executing { .. } | ReviewState::Completed => GREEN,
        ReviewState::Stopped { .. } | ReviewState::Failed { .. } => RED,
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{}: {}", REVIEW_STATE_LABEL, state.label())).color(colour))
            .on_hover_text("planned → approved → executing → completed, stopped or failed");
        let ended = matches!(state, ReviewState::Completed | ReviewState::Stopped { .. } | ReviewState::Failed { .. });
        let instruction = context.policy.current.as_ref().map(|c| c.instruction.clone()).filter(|i| !i.is_empty());
        if ended
            && review.plan_id.is_some()
            && let Some(instruction) = instruction
            && ui
                .button(RichText::new(REPLAN_LABEL).strong())
                .on_hover_text(format!("Plan \"{instruction}\" again from where the arm is now"))
                .clicked()
        {
            context.commands.push(Command::Plan(instruction));
        }
        if review.plan_id.is_some()
            && ui.button(REJECT_LABEL).on_hover_text("Discard this plan; edit the instruction and plan again").clicked()
        {
            context.commands.push(Command::RejectPlan);
        }
        let approve_refusal = review.approve_refusal();
        // Enabled actions are filled, so "can I press it?" is seen at a glance; disabled ones stay flat and faded.
        let approvable = approve_refusal.is_none() && !review.is_approved();
        let approve_button = if approvable {
            egui::Button::new(RichText::new(APPROVE_LABEL).strong().color(Color32::WHITE)).fill(FILL_READY)
        } else {
            egui::Button::new(APPROVE_LABEL)
        };
        if ui
            .add_enabled(approve_refusal.is_none(), approve_button)
            .on_hover_text("I have looked at this trajectory; allow sending it (Ctrl+Shift+A)")
            .on_disabled_hover_text(approve_refusal.unwrap_or_default())
            .clicked()
        {
            context.commands.push(Command::ApprovePlan);
        }
        let away = context.arm.offset_from_start().filter(|offset| *offset > START_TOLERANCE_RAD);
        // Only before the plan runs: after it ended, the start is behind the arm (re-plan instead).
        if let Some(offset) = away
            && matches!(state, ReviewState::Planned | ReviewState::Approved)
        {
            ui.label(RichText::new(format!("the arm is {:.1}° from the start", offset.to_degrees())).color(AMBER));
            let hint = if offset.to_degrees() > crate::gui::app::MOVE_TO_START_CONFIRM_DEG {
                "Point-to-point move at 25 % speed (asks first: it is a long move)"
            } else {
                "Point-to-point move at 25 % speed"
            };
            if ui.button(MOVE_TO_START_LABEL).on_hover_text(hint).clicked() {
                context.commands.push(Command::MoveToStart);
            }
        }
        let send_refusal = review.send_refusal(&readiness);
        let send_button = if send_refusal.is_none() {
            egui::Button::new(RichText::new(SEND_LABEL).strong().color(Color32::WHITE)).fill(FILL_READY)
        } else {
            egui::Button::new(SEND_LABEL)
        };
        let send = ui
            .add_enabled(send_refusal.is_none(), send_button)
            .on_hover_text(
                "Execute on the connected robot; its driver re-checks every limit (Ctrl+Shift+Enter). Esc stops.",
            )
            .on_disabled_hover_text(format!("Waiting for: {}", send_refusal.unwrap_or_default()));
        if send.clicked() {
            context.commands.push(Command::SendTrajectory);
        }
    });
    let approve_refusal = review.approve_refusal();
    let send_refusal = review.send_refusal(&readiness);
    if let Some(next) = next_step(state, approve_refusal.as_deref(), send_refusal.as_deref()) {
        ui.label(RichText::new(next).italics());
    }
    if let ReviewState::Executing { step, steps, .. } = review.state() {
        let fraction = *step as f32 / steps.saturating_sub(1).max(1) as f32;
        ui.add(ProgressBar::new(fraction).text(format!("executing: step {} of {steps} (Esc stops)", step + 1)));
    }
}

pub fn trajectory_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    if context.arm.preview.is_none() {
        placeholder_ui(
            ui,
            "No trajectory planned",
            "Plan an instruction (Instruction pane) or open a trajectory file: joint plots, speeds and the safety \
             checks appear here.",
        );
        return;
    }
    let from_plan = context.arm.preview.as_ref().is_some_and(|p| p.review.plan_id.is_some());
    if from_plan {
        plan_review_ui(ui, context);
    }
    let Some(preview) = &context.arm.preview else { return };
    let trajectory = preview.trajectory();
    let steps = trajectory.joints.len();
    ui.horizontal(|ui| {
        ui.label(RichText::new(&preview.review.source).strong());
        ui.label(format!("{steps} samples, dt {:.3} s, {:.2} s", trajectory.dt_s, preview.duration_s()));
        if ui.small_button("Clear").on_hover_text("Stop previewing this trajectory").clicked() {
            context.commands.push(Command::ClearTrajectory);
        }
    });
    let mut step = preview.step;
    ui.spacing_mut().slider_width = (ui.available_width() - 160.0).max(120.0);
    let slider = Slider::new(&mut step, 0..=steps.saturating_sub(1))
        .text("step")
        .custom_formatter(|value, _| format!("{} (t = {:.2} s)", value as usize, value * trajectory.dt_s));
    if ui.add(slider).changed() {
        context.commands.push(Command::ScrubTrajectory(step));
    }
    let report = &preview.review.report;
    let warnings = &preview.review.warnings;
    if report.ok && warnings.is_empty() {
        ui.label(RichText::new("All safety checks pass").color(GREEN));
    } else if report.ok {
        // Passing is not the same as fine: what deserves a look is amber, and must be acknowledged to approve.
        ui.label(
            RichText::new(format!("All safety checks pass, with {} warning(s):", warnings.len())).color(AMBER).strong(),
        );
        for warning in warnings {
            ui.label(RichText::new(format!("• {warning}")).color(AMBER));
        }
        if preview.review.warnings_pending() {
            if ui
                .button(ACKNOWLEDGE_LABEL)
                .on_hover_text("Approve stays disabled until the warnings have been looked at")
                .clicked()
            {
                context.commands.push(Command::AcknowledgeWarnings);
            }
        } else {
            ui.label(RichText::new("warnings acknowledged").weak());
        }
    } else {
        ui.label(
            RichText::new(format!(
                "{} safety check violation(s): Send is disabled and the robot would refuse it",
                report.violations.len()
            ))
            .color(RED),
        );
        ScrollArea::vertical().id_salt("violations").max_height(90.0).show(ui, |ui| {
            for violation in report.violations.iter().take(200) {
                if ui.selectable_label(violation.step == preview.step, &violation.message).clicked() {
                    context.commands.push(Command::ScrubTrajectory(violation.step));
                }
            }
        });
    }
    send_row_ui(ui, context);
    let Some(preview) = &context.arm.preview else { return };
    let limits: Vec<(f64, f64)> =
        context.arm.robot.joints.iter().map(|joint| (joint.limits.lower, joint.limits.upper)).collect();
    let highlight = preview.highlight;
    let data = TrajectoryPlots {
        key: preview_key(preview),
        dt_s: preview.trajectory().dt_s,
        joints: &preview.trajectory().joints,
        limits: &limits,
        ee_speed_m_s: &preview.ee_speed_m_s,
        step: preview.step,
        spans: &preview.spans,
        highlight,
    };
    let response = ScrollArea::vertical()
        .id_salt("plots")
        .auto_shrink([false, false])
        .show(ui, |ui| trajectory_plots_ui(ui, "trajectory", &data))
        .inner;
    if let Some(step) = response.hovered_step {
        context.policy.hover_next.step = Some(step);
    }
    if let Some(step) = response.clicked_step {
        context.commands.push(Command::ScrubTrajectory(step));
    }
    context.arm.plot_x_bounds = response.x_bounds;
}

/// Which trajectory a preview shows, for the plots: where it came from, its plan and its length.
fn preview_key(preview: &crate::gui::arm_state::TrajectoryPreview) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    preview.review.source.hash(&mut hasher);
    preview.review.plan_id.hash(&mut hasher);
    preview.trajectory().joints.len().hash(&mut hasher);
    preview.trajectory().dt_s.to_bits().hash(&mut hasher);
    hasher.finish()
}
