use egui::{Color32, ProgressBar, RichText, ScrollArea, Slider, Ui};
use kinedesk_widgets::placeholder_ui;

use kinedesk_models::driver::START_TOLERANCE_RAD;

use super::PaneContext;
use crate::command::Command;

pub fn trajectory_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let Some(preview) = &context.arm.preview else {
        placeholder_ui(
            ui,
            "No trajectory planned",
            "Joint plots, speeds and safety checks of a planned trajectory appear here.",
        );
        return;
    };
    let steps = preview.trajectory.joints.len();
    ui.horizontal(|ui| {
        ui.label(RichText::new(&preview.source).strong());
        ui.label(format!("{steps} steps, dt {:.3} s, {:.2} s", preview.trajectory.dt_s, preview.duration_s()));
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
    if preview.report.ok {
        ui.horizontal(|ui| {
            ui.label(RichText::new("All safety checks pass").color(Color32::from_rgb(60, 180, 75)));
            let away = context.arm.offset_from_start().filter(|offset| *offset > START_TOLERANCE_RAD);
            if let Some(offset) = away {
                ui.label(
                    RichText::new(format!("the arm is {:.1}° from the start", offset.to_degrees()))
                        .color(Color32::from_rgb(230, 170, 40)),
                );
                if ui.button("Move to start").on_hover_text("Point-to-point move at 25 % speed").clicked() {
                    context.commands.push(Command::MoveToStart);
                }
            }
            let send = ui
                .add_enabled(context.robot_connected && away.is_none(), egui::Button::new("Send to robot"))
                .on_hover_text("Execute on the connected robot; its driver re-checks every limit. Esc stops.")
                .on_disabled_hover_text("Connect a robot first (Arm pane), and move it to the start");
            if send.clicked() {
                context.commands.push(Command::SendTrajectory);
            }
        });
        if let Some((step, steps)) = context.arm.execution {
            let fraction = step as f32 / steps.saturating_sub(1).max(1) as f32;
            ui.add(ProgressBar::new(fraction).text(format!("executing: step {step} of {steps} (Esc stops)")));
        }
        return;
    }
    ui.label(
        RichText::new(format!("{} safety check violation(s): Send would be refused", preview.report.violations.len()))
            .color(Color32::from_rgb(230, 70, 70)),
    );
    ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        for violation in preview.report.violations.iter().take(200) {
            if ui.selectable_label(violation.step == preview.step, &violation.message).clicked() {
                context.commands.push(Command::ScrubTrajectory(violation.step));
            }
        }
    });
}
