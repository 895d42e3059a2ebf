//! The Rollout pane: run the policy closed loop, chunk by chunk. Mode and envelope, Start / Approve / Reject /
//! Pause / Resume / Stop, the chunk strip (one cell per chunk: decision, checks, inference time, stages), the
//! inference latency and idle gap per chunk, and one chunk's joints as predicted against as executed. The ghost of
//! the waiting chunk and the paths are drawn in the 3D view.

use egui::{Color32, RichText, TextEdit, Ui};
use kinedesk_models::policy::rollout::{ChunkRecord, Decision, Phase, RolloutMode};
use kinedesk_widgets::palette;
use kinedesk_widgets::reasoning_view::chip_ui;
use kinedesk_widgets::rollout_plots::{ChunkJoints, ChunkTimings, chunk_joints_ui, chunk_timings_ui};

use super::PaneContext;
use crate::gui::command::Command;
use crate::gui::policy_state::PolicyChoice;

/// Accessibility labels.
pub const ROLLOUT_INSTRUCTION_LABEL: &str = "Rollout instruction";
pub const START_LABEL: &str = "Start rollout";
pub const APPROVE_LABEL: &str = "Approve chunk";
pub const REJECT_LABEL: &str = "Reject chunk";
pub const PAUSE_LABEL: &str = "Pause rollout";
pub const RESUME_LABEL: &str = "Resume rollout";
pub const STOP_ROLLOUT_LABEL: &str = "Stop rollout";
pub const SUPERVISED_LABEL: &str = "Supervised";
pub const STEP_LABEL: &str = "Step";

pub fn rollout_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let plot_height = ((ui.available_height() - 260.0) / 2.0).clamp(90.0, 180.0);
    egui::ScrollArea::vertical().id_salt("rollout_pane").auto_shrink(false).show(ui, |ui| {
        rollout_ui(ui, context, plot_height);
    });
}

fn rollout_ui(ui: &mut Ui, context: &mut PaneContext<'_>, plot_height: f32) {
    settings_ui(ui, context);
    ui.separator();
    controls_ui(ui, context);
    ui.separator();
    let Some(rollout) = &context.rollout.rollout else {
        ui.label(
            RichText::new(
                "Connect a robot, type an instruction and Start: the policy runs closed loop, one chunk at a time. In \
                 Step mode every chunk waits for Approve (Enter); in Supervised mode chunks inside the envelope run \
                 on their own. Esc stops the arm at any time.",
            )
            .weak(),
        );
        return;
    };
    let mut picked = None;
    egui::ScrollArea::horizontal().id_salt("chunk_strip").stick_to_right(true).max_height(92.0).show(ui, |ui| {
        ui.horizontal(|ui| {
            for chunk in rollout.chunks() {
                let selected = context.rollout.plotted_chunk() == Some(chunk.index);
                if chunk_cell_ui(ui, chunk, selected).clicked() {
                    picked = Some(chunk.index);
                }
            }
            if rollout.inferring() {
                ui.spinner().on_hover_text("The policy is computing the next chunk");
            }
        });
    });
    let timings =
        ChunkTimings { inference_ms: &context.rollout.inference_ms, idle_gap_ms: &context.rollout.idle_gap_ms };
    ui.label(RichText::new("Inference latency and idle gap per chunk").small().strong());
    chunk_timings_ui(ui, "rollout", &timings, plot_height);
    if let Some(chunk) = context.rollout.plotted_chunk().and_then(|i| rollout.chunks().get(i)) {
        ui.label(
            RichText::new(format!(
                "Chunk {}: joints predicted (dashed) vs executed (solid), from where it starts",
                chunk.index
            ))
            .small()
            .strong(),
        );
        let joints =
            ChunkJoints { dt_s: chunk.planned.dt_s, predicted: &chunk.planned.joints, executed: &chunk.executed };
        chunk_joints_ui(ui, "rollout", &joints, plot_height);
        chunk_details_ui(ui, chunk);
    }
    if picked.is_some() {
        context.rollout.selected = picked;
    }
}

fn settings_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let mut settings = context.rollout_settings.clone();
    let remote = matches!(context.policy_settings.choice, PolicyChoice::Remote { .. });
    let running = context.rollout.active();
    ui.add_enabled_ui(!running, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Policy: {}", context.policy_settings.choice.label()))
                .on_hover_text("Chosen in the Instruction & Reasoning pane");
            ui.label("Profile:");
            let shown = if remote { settings.profile.clone() } else { "kinevla (built-in)".to_owned() };
            ui.add_enabled_ui(remote, |ui| {
                egui::ComboBox::from_id_salt("rollout_profile").selected_text(shown).show_ui(ui, |ui| {
                    for name in kinedesk_models::policy::rollout::PolicyProfile::BUILTIN {
                        ui.selectable_value(&mut settings.profile, name.to_owned(), name);
                    }
                    for (name, path) in &context.rollout.user_profiles.files {
                        ui.selectable_value(&mut settings.profile, path.clone(), name).on_hover_text(path);
                    }
                });
            })
            .response
            .on_hover_text(profiles_hint(&context.rollout.user_profiles));
            if remote {
                crate::gui::panes::session_pane::browse_button(
                    ui,
                    crate::gui::file_dialogs::DialogPurpose::PolicyProfile,
                    context.commands,
                );
            }
            ui.separator();
            ui.label("Mode:");
            ui.radio_value(&mut settings.mode, RolloutMode::Step, STEP_LABEL)
                .on_hover_text("Every chunk waits for Approve (Enter) or Reject (Backspace)");
            ui.radio_value(&mut settings.mode, RolloutMode::Supervised, SUPERVISED_LABEL)
                .on_hover_text("Chunks that pass every check and stay inside the envelope run; anything else pauses");
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Envelope:");
            ui.add(
                egui::DragValue::new(&mut settings.max_joint_speed_mrad_s)
                    .range(10..=5000)
                    .speed(10)
                    .custom_formatter(|v, _| format!("{:.2} rad/s", v / 1000.0))
                    .custom_parser(|text| {
                        text.trim_end_matches("rad/s").trim().parse::<f64>().ok().map(|v| v * 1000.0)
                    }),
            )
            .on_hover_text("Fastest joint speed a chunk may reach and still run unattended");
            ui.add(
                egui::DragValue::new(&mut settings.max_step_mrad)
                    .range(1..=1000)
                    .speed(1)
                    .custom_formatter(|v, _| format!("{:.3} rad/step", v / 1000.0))
                    .custom_parser(|text| {
                        text.trim_end_matches("rad/step").trim().parse::<f64>().ok().map(|v| v * 1000.0)
                    }),
            )
            .on_hover_text("Largest joint change between two steps that may run unattended");
            ui.separator();
            ui.label("Max chunks");
            ui.add(egui::DragValue::new(&mut settings.max_chunks).range(0..=10_000).speed(1))
                .on_hover_text("0: no limit");
            ui.label("Max s");
            ui.add(egui::DragValue::new(&mut settings.max_seconds).range(0..=3600).speed(1))
                .on_hover_text("0: no limit");
            ui.checkbox(&mut settings.ask_early, "Ask early").on_hover_text(
                "Ask for the next chunk while this one runs (after half its steps), so the arm does not wait",
            );
        });
    });
    if settings != *context.rollout_settings {
        context.commands.push(Command::SetRolloutSettings(settings));
    }
}

/// How observations are built, and where the operator's own profiles go (and which of them do not load).
fn profiles_hint(user: &crate::gui::rollout_state::UserProfiles) -> String {
    let mut text = "How observations are built and actions read for the server.".to_owned();
    if let Some(dir) = &user.dir {
        text.push_str(&format!(" Your own profiles: TOML files in {} (read at start-up).", dir.display()));
    }
    for broken in &user.broken {
        text.push_str(&format!("\nNot loaded: {broken}"));
    }
    text
}

fn controls_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let view = &mut *context.rollout;
    let active = view.active();
    let phase = view.rollout.as_ref().map(kinedesk_models::policy::rollout::Rollout::phase);
    let pending = view.awaiting_approval();
    ui.horizontal(|ui| {
        let label = ui.label(ROLLOUT_INSTRUCTION_LABEL);
        let edit = ui
            .add(
                TextEdit::singleline(&mut view.instruction)
                    .hint_text("pick up the cup and lift it 10 cm")
                    .desired_width((ui.available_width() - 100.0).max(120.0)),
            )
            .labelled_by(label.id);
        let ready = !active && context.robot_connected && !view.instruction.trim().is_empty();
        let start =
            ui.add_enabled(ready, egui::Button::new(START_LABEL)).on_disabled_hover_text(if context.robot_connected {
                "Type an instruction"
            } else {
                "Connect a robot first"
            });
        if start.clicked() || (ready && edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
            context.commands.push(Command::StartRollout(view.instruction.trim().to_owned()));
        }
    });
    ui.horizontal_wrapped(|ui| {
        if ui.add_enabled(pending, egui::Button::new(APPROVE_LABEL)).on_hover_text("Enter").clicked() {
            context.commands.push(Command::ApproveChunk);
        }
        if ui
            .add_enabled(pending, egui::Button::new(REJECT_LABEL))
            .on_hover_text("Backspace: the rollout pauses")
            .clicked()
        {
            context.commands.push(Command::RejectChunk);
        }
        if ui.add_enabled(phase == Some(Phase::Running), egui::Button::new(PAUSE_LABEL)).on_hover_text("P").clicked() {
            context.commands.push(Command::PauseRollout);
        }
        if ui
            .add_enabled(phase == Some(Phase::Paused), egui::Button::new(RESUME_LABEL))
            .on_hover_text("Shift+P: continue from the arm's state now")
            .clicked()
        {
            context.commands.push(Command::ResumeRollout);
        }
        let stop = egui::Button::new(RichText::new(STOP_ROLLOUT_LABEL).color(Color32::WHITE)).fill(palette::STOP);
        if ui
            .add_enabled(active, stop)
            .on_hover_text("Ends the rollout and stops the arm (Esc stops the arm too)")
            .clicked()
        {
            context.commands.push(Command::StopRollout);
        }
    });
    if let Some(rollout) = &view.rollout {
        let executed = rollout.chunks().iter().filter(|c| c.executed_steps > 0).count();
        let (text, colour) = match (rollout.phase(), rollout.stop_reason()) {
            (Phase::Running, _) if pending => ("waiting for your approval".to_owned(), palette::CAUTION),
            (Phase::Running, _) => ("running".to_owned(), palette::OK),
            (Phase::Paused, _) => ("paused: teleop may take over, then Resume".to_owned(), palette::CAUTION),
            (Phase::Stopped, Some(reason)) => (format!("stopped: {reason}"), stop_colour(reason.name())),
            (Phase::Stopped, None) => ("stopped".to_owned(), palette::NEUTRAL),
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(text).color(colour).strong());
            ui.label(format!(
                "· {} chunks, {executed} executed · {} interventions · {}",
                rollout.chunks().len(),
                rollout.interventions(),
                rollout.describe()
            ));
            if view.recording.is_some() {
                ui.label(RichText::new("REC: recorded into the episode").color(palette::DANGER));
            }
        });
    }
}

fn stop_colour(reason: &str) -> Color32 {
    match reason {
        "done" | "max_chunks" | "max_time" => palette::OK,
        "operator_stop" => palette::WARNING,
        _ => palette::DANGER,
    }
}

fn decision_colour(chunk: &ChunkRecord) -> Color32 {
    match chunk.decision {
        Decision::Pending => palette::CAUTION,
        Decision::Approved | Decision::AutoApproved => palette::OK,
        Decision::Refused => palette::DANGER,
        Decision::Rejected => palette::WARNING,
        Decision::Discarded | Decision::Empty => palette::NEUTRAL,
    }
}

fn decision_text(decision: Decision) -> &'static str {
    match decision {
        Decision::Pending => "waiting",
        Decision::Approved => "approved",
        Decision::AutoApproved => "auto",
        Decision::Rejected => "rejected",
        Decision::Refused => "refused",
        Decision::Discarded => "discarded",
        Decision::Empty => "done",
    }
}

/// One cell of the chunk strip; clicking it plots that chunk.
fn chunk_cell_ui(ui: &mut Ui, chunk: &ChunkRecord, selected: bool) -> egui::Response {
    let colour = decision_colour(chunk);
    let stroke = if selected { egui::Stroke::new(2.0, palette::HIGHLIGHT) } else { egui::Stroke::new(1.0, colour) };
    let inner = egui::Frame::new().stroke(stroke).corner_radius(4.0).inner_margin(4.0).show(ui, |ui| {
        ui.set_width(92.0);
        ui.vertical(|ui| {
            ui.label(
                RichText::new(format!("#{} {}", chunk.index, decision_text(chunk.decision))).color(colour).strong(),
            );
            ui.label(RichText::new(format!("{:.0} ms · {} steps", chunk.inference_ms, chunk.planned_steps)).small());
            let checks = if chunk.ok { "checks ok".to_owned() } else { format!("FAILED {}", chunk.violations.len()) };
            let mut line = checks;
            if chunk.after_intervention {
                line.push_str(" · after takeover");
            }
            if !chunk.outside_envelope.is_empty() {
                line.push_str(" · outside");
            }
            ui.label(RichText::new(line).small().color(if chunk.ok { palette::OK } else { palette::DANGER }));
            if let Some(stage) = chunk.action_level.first() {
                ui.label(RichText::new(stage).small().weak());
            }
        });
    });
    let response = inner.response.interact(egui::Sense::click());
    let summary = format!("Chunk {} {}", chunk.index, decision_text(chunk.decision));
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &summary));
    response.on_hover_ui(|ui| {
        ui.label(format!("executed {} of {} steps", chunk.executed_steps, chunk.planned_steps));
        if let Some(gap) = chunk.idle_gap_ms {
            ui.label(format!("idle gap before it: {gap:.1} ms"));
        }
        for violation in chunk.violations.iter().chain(&chunk.outside_envelope) {
            ui.label(RichText::new(violation).color(palette::DANGER));
        }
    })
}

/// Reasoning, tokens, checks and notes of one chunk.
fn chunk_details_ui(ui: &mut Ui, chunk: &ChunkRecord) {
    ui.horizontal_wrapped(|ui| {
        for constraint in &chunk.instruction_level {
            chip_ui(ui, constraint, palette::REASONING.gamma_multiply(0.6), false);
        }
        for stage in &chunk.action_level {
            chip_ui(ui, stage, palette::STAGE_CHIP, false);
        }
    });
    if !chunk.tokens.is_empty() {
        let tokens: Vec<String> =
            chunk.tokens.iter().map(|levels| levels.iter().map(u32::to_string).collect::<Vec<_>>().join("·")).collect();
        ui.label(RichText::new(format!("tokens (coarse·fine...): {}", tokens.join("  "))).small().monospace());
    }
    for violation in &chunk.violations {
        ui.label(RichText::new(format!("failed: {violation}")).small().color(palette::DANGER));
    }
    for breach in &chunk.outside_envelope {
        ui.label(RichText::new(format!("outside the envelope: {breach}")).small().color(palette::WARNING));
    }
    for note in &chunk.notes {
        ui.label(RichText::new(note).small().weak());
    }
}
