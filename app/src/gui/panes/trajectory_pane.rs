//! The Trajectory pane: the previewed trajectory's joint plots with limits, flange speed and stage bands, the shared
//! time slider (it moves the ghost in the 3D view), the safety checks, and the review: coarse or full decode,
//! velocity scaling, Reject / Approve / Send with progress. Stop (Esc) always works.

use egui::{Color32, ProgressBar, RichText, ScrollArea, Slider, Ui};
use kinedesk_models::driver::START_TOLERANCE_RAD;
use kinedesk_widgets::placeholder_ui;
use kinedesk_widgets::trajectory_plots::{TrajectoryPlots, trajectory_plots_ui};

use super::PaneContext;
use crate::gui::command::Command;
use crate::gui::policy_state::VELOCITY_PERCENT_RANGE;

/// Accessibility labels of the review controls.
pub const APPROVE_LABEL: &str = "Approve";
pub const REJECT_LABEL: &str = "Reject";
pub const SEND_LABEL: &str = "Send to robot";
pub const VELOCITY_LABEL: &str = "Velocity scaling";
pub const COARSE_LABEL: &str = "Coarse only (goal level)";

const GREEN: Color32 = Color32::from_rgb(60, 180, 75);
const AMBER: Color32 = Color32::from_rgb(230, 170, 40);
const RED: Color32 = Color32::from_rgb(230, 70, 70);

/// Review of a plan: decode, scaling, approval.
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
        let mut percent = policy.velocity_percent;
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

/// The Send row: approval, move to start, send, progress.
fn send_row_ui(ui: &mut Ui, context: &mut PaneContext<'_>, checks_ok: bool, from_plan: bool) {
    let approved = context.policy.current.as_ref().is_some_and(|c| c.approved);
    let coarse = from_plan && context.policy.show_coarse;
    ui.horizontal(|ui| {
        if from_plan {
            if ui.button(REJECT_LABEL).on_hover_text("Discard this plan; edit the instruction and plan again").clicked()
            {
                context.commands.push(Command::RejectPlan);
            }
            let can_approve = checks_ok && !coarse && !approved;
            if ui
                .add_enabled(can_approve, egui::Button::new(APPROVE_LABEL))
                .on_hover_text("I have looked at this plan; allow sending it")
                .on_disabled_hover_text(if approved {
                    "Approved"
                } else if coarse {
                    "Switch to the full decode to approve"
                } else {
                    "Every check must pass first"
                })
                .clicked()
            {
                context.commands.push(Command::ApprovePlan);
            }
            if approved {
                ui.label(RichText::new("approved").color(GREEN));
            }
        }
        let away = context.arm.offset_from_start().filter(|offset| *offset > START_TOLERANCE_RAD);
        if let Some(offset) = away {
            ui.label(RichText::new(format!("the arm is {:.1}° from the start", offset.to_degrees())).color(AMBER));
            if ui.button("Move to start").on_hover_text("Point-to-point move at 25 % speed").clicked() {
                context.commands.push(Command::MoveToStart);
            }
        }
        let allowed = checks_ok && context.robot_connected && away.is_none() && (!from_plan || (approved && !coarse));
        let send = ui
            .add_enabled(allowed, egui::Button::new(SEND_LABEL))
            .on_hover_text("Execute on the connected robot; its driver re-checks every limit. Esc stops.")
            .on_disabled_hover_text("Needs: every check passing, the plan approved, a connected robot at the start");
        if send.clicked() {
            context.commands.push(Command::SendTrajectory);
        }
    });
    if let Some((step, steps)) = context.arm.execution {
        let fraction = step as f32 / steps.saturating_sub(1).max(1) as f32;
        ui.add(ProgressBar::new(fraction).text(format!("executing: step {step} of {steps} (Esc stops)")));
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
    let from_plan = context.arm.preview.as_ref().is_some_and(|p| p.plan_id.is_some());
    if from_plan {
        plan_review_ui(ui, context);
    }
    let Some(preview) = &context.arm.preview else { return };
    let steps = preview.trajectory.joints.len();
    ui.horizontal(|ui| {
        ui.label(RichText::new(&preview.source).strong());
        ui.label(format!("{steps} samples, dt {:.3} s, {:.2} s", preview.trajectory.dt_s, preview.duration_s()));
        if ui.small_button("Clear").on_hover_text("Stop previewing this trajectory").clicked() {
            context.commands.push(Command::ClearTrajectory);
        }
    });
    let mut step = preview.step;
    ui.spacing_mut().slider_width = (ui.available_width() - 160.0).max(120.0);
    let slider = Slider::new(&mut step, 0..=steps.saturating_sub(1))
        .text("step")
        .custom_formatter(|value, _| format!("{} (t = {:.2} s)", value as usize, value * preview.trajectory.dt_s));
    if ui.add(slider).changed() {
        context.commands.push(Command::ScrubTrajectory(step));
    }
    let checks_ok = preview.report.ok;
    if checks_ok {
        ui.label(RichText::new("All safety checks pass").color(GREEN));
    } else {
        ui.label(
            RichText::new(format!(
                "{} safety check violation(s): Send is disabled and the robot would refuse it",
                preview.report.violations.len()
            ))
            .color(RED),
        );
        ScrollArea::vertical().id_salt("violations").max_height(90.0).show(ui, |ui| {
            for violation in preview.report.violations.iter().take(200) {
                if ui.selectable_label(violation.step == preview.step, &violation.message).clicked() {
                    context.commands.push(Command::ScrubTrajectory(violation.step));
                }
            }
        });
    }
    send_row_ui(ui, context, checks_ok, from_plan);
    let Some(preview) = &context.arm.preview else { return };
    let limits: Vec<(f64, f64)> =
        context.arm.robot.joints.iter().map(|joint| (joint.limits.lower, joint.limits.upper)).collect();
    let highlight = preview.highlight;
    let data = TrajectoryPlots {
        dt_s: preview.trajectory.dt_s,
        joints: &preview.trajectory.joints,
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
}
