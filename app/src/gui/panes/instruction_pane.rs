//! The Instruction & Reasoning pane: which policy plans, the instruction box with its history, and the policy's
//! output as it streams in — instruction-level constraints and action-level stages as chips, action tokens per
//! chunk coloured by level. Hovering a stage or a chunk highlights its span in the plots and the 3D view.

use egui::{Color32, Key, RichText, TextEdit, Ui};
use kinedesk_models::vocab::ConstraintKind;
use kinedesk_widgets::palette;
use kinedesk_widgets::reasoning_view::{TokenStrip, chip_ui, token_legend_ui, token_strip_ui};

use super::PaneContext;
use crate::gui::command::Command;
use crate::gui::policy_state::PolicyChoice;

/// Accessibility label of the instruction box.
pub const INSTRUCTION_LABEL: &str = "Instruction";
pub const PLAN_LABEL: &str = "Plan";
/// Accessibility label of the server address box.
pub const SERVER_LABEL: &str = "Server";

const EXAMPLE: &str = "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate";
/// The empty instruction box's hint: clearly a hint, not text already typed.
pub const INSTRUCTION_HINT: &str = "type an instruction here, e.g. move 5 cm left — Enter plans it";
/// What Enter (or Plan) on an empty instruction says.
pub const EMPTY_INSTRUCTION_NOTICE: &str =
    "Type an instruction first (for example: move 5 cm left, then close the gripper), then press Enter.";

fn constraint_colour(text: &str) -> Color32 {
    palette::constraint(text.split(':').next().and_then(ConstraintKind::from_name))
}

fn policy_row_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let policy = &mut *context.policy;
    let choice = &context.policy_settings.choice;
    ui.horizontal_wrapped(|ui| {
        ui.label("Policy:");
        let builtin = *choice == PolicyChoice::Builtin;
        if ui
            .selectable_label(builtin, "Built-in planner")
            .on_hover_text("A rule-based kinematic planner (not a learned model); it emits the same reasoning and tokens as a KineVLA server")
            .clicked()
            && !builtin
        {
            context.commands.push(Command::UsePolicy(PolicyChoice::Builtin));
        }
        let label = ui.label(SERVER_LABEL);
        ui.add(TextEdit::singleline(&mut policy.remote_url).desired_width(160.0).hint_text("ws://host:8000"))
            .labelled_by(label.id);
        let remote = matches!(choice, PolicyChoice::Remote { url } if *url == policy.remote_url);
        if ui.selectable_label(remote, "Use server").on_hover_text("Plan with a KineVLA server (openpi WebSocket + msgpack)").clicked() {
            context.commands.push(Command::UsePolicy(PolicyChoice::Remote { url: policy.remote_url.trim().to_owned() }));
        }
    });
}

fn instruction_row_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let policy = &mut *context.policy;
    let history = &context.policy_settings.history;
    let pending = policy.current.as_ref().is_some_and(crate::gui::policy_state::PlanView::is_pending);
    ui.horizontal(|ui| {
        let label = ui.label(INSTRUCTION_LABEL);
        let edit = ui
            .add(
                TextEdit::singleline(&mut policy.instruction)
                    .hint_text(RichText::new(INSTRUCTION_HINT).italics())
                    .desired_width((ui.available_width() - 70.0).max(120.0)),
            )
            .labelled_by(label.id)
            .on_hover_text("Enter plans; the Up and Down keys browse earlier instructions");
        let mut plan = false;
        if edit.has_focus() {
            if ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::ArrowUp)) {
                policy.browse_history(history, true);
            }
            if ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, Key::ArrowDown)) {
                policy.browse_history(history, false);
            }
        }
        if edit.changed() {
            policy.notice = None;
        }
        if edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
            plan = true;
        }
        let empty = policy.instruction.trim().is_empty();
        let ready = !empty && !pending;
        let why_not =
            if pending { "A plan is being made; wait for it (or press Esc)" } else { "Type an instruction first" };
        let button = ui
            .add_enabled(ready, egui::Button::new(PLAN_LABEL))
            .on_hover_text("Plan this instruction (Enter)")
            .on_disabled_hover_text(why_not);
        if button.clicked() {
            plan = true;
        }
        if plan && ready {
            policy.notice = None;
            context.commands.push(Command::Plan(policy.instruction.trim().to_owned()));
            edit.request_focus();
        } else if plan && empty {
            // Enter on an empty box says what to do instead of doing nothing.
            policy.notice = Some(EMPTY_INSTRUCTION_NOTICE.to_owned());
            edit.request_focus();
        }
    });
    if let Some(notice) = &policy.notice {
        ui.label(RichText::new(notice).color(palette::WARNING));
    }
}

pub fn instruction_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    policy_row_ui(ui, context);
    instruction_row_ui(ui, context);
    let policy = &mut *context.policy;
    let Some(current) = &policy.current else {
        ui.add_space(8.0);
        ui.label(RichText::new("Type a kinematic instruction and press Enter. For example:").weak());
        ui.label(RichText::new(EXAMPLE).italics().weak());
        return;
    };
    ui.separator();
    match (&current.plan, &current.error) {
        (_, Some(error)) => {
            ui.label(RichText::new(format!("Plan #{} failed: {error}", current.id)).color(palette::DANGER));
        }
        (Some(plan), None) => {
            ui.label(format!(
                "Plan #{} by {}: first reasoning after {:.1} ms, preview after {:.1} ms",
                current.id,
                plan.source,
                plan.first_reasoning.as_secs_f64() * 1000.0,
                plan.total.as_secs_f64() * 1000.0
            ));
        }
        (None, None) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Planning #{} … {:.1} s", current.id, current.requested.elapsed().as_secs_f64()));
            });
        }
    }
    let hover = policy.hover;
    let stage_under_cursor = hover.stage.or_else(|| hover.step.and_then(|s| current.stage_at(s)));
    let chunk_under_cursor = hover.chunk.or_else(|| hover.step.and_then(|s| current.chunk_at(s)));
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        if !current.instruction_level.is_empty() {
            ui.label(RichText::new("Instruction level").strong());
            ui.horizontal_wrapped(|ui| {
                for line in &current.instruction_level {
                    chip_ui(ui, line, constraint_colour(line), false);
                }
            });
        }
        if !current.action_level.is_empty() {
            ui.label(RichText::new("Action level").strong());
            ui.horizontal_wrapped(|ui| {
                for (index, line) in current.action_level.iter().enumerate() {
                    let response = chip_ui(ui, line, palette::STAGE_CHIP, stage_under_cursor == Some(index));
                    if response.hovered() {
                        policy.hover_next.stage = Some(index);
                    }
                }
            });
        }
        if !current.chunks.is_empty() {
            let layout = current.plan.as_ref().and_then(|p| p.layout.clone());
            let levels = layout
                .as_ref()
                .map_or_else(|| current.chunks[0].len(), kinedesk_models::policy::tokens::TokenLayout::levels);
            let coarse = layout.as_ref().map_or(1, |l| l.coarse_levels);
            let names: Vec<String> = match &layout {
                Some(layout) => (0..levels).map(|l| layout.level_name(l)).collect(),
                None => (0..levels).map(|l| if l == 0 { "c".to_owned() } else { format!("f{l}") }).collect(),
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("Action tokens: {} chunks", current.chunks.len())).strong());
                token_legend_ui(ui, &names, coarse);
            });
            let strip = TokenStrip {
                chunks: &current.chunks,
                level_names: &names,
                coarse_levels: coarse,
                highlight: chunk_under_cursor,
                max_chunks: 400,
            };
            if let Some(chunk) = token_strip_ui(ui, &strip) {
                policy.hover_next.chunk = Some(chunk);
            }
        } else if current.plan.is_some() {
            ui.label(RichText::new("The policy sent actions without tokens.").weak());
        }
    });
}
