//! The Session pane's episode browser (filter, flag, delete, restore, open) and the timeline editor for the open
//! episode (frame under the cursor, instruction, constraints, outcome, notes, stage lane, transport, trim).
//! Everything here only emits [`TimelineCommand`]s; the annotator carries them out.

use egui::{Color32, RichText, Ui};
use kinedesk_sessions::annotation::{ConstraintKind, Outcome, StageKind};
use kinedesk_widgets::palette;
use kinedesk_widgets::timeline::{Timeline, TimelineEvent, format_time};

use crate::gui::annotator::{OpenEpisode, TimelineCommand as C, filtered, saved_state, stage_color};
use crate::gui::command::Command;
use crate::gui::session_state::SessionState;

pub const EPISODE_FILTER_LABEL: &str = "Filter episodes";
pub const EPISODE_INSTRUCTION_LABEL: &str = "Episode instruction";
pub const SPLIT_LABEL: &str = "Split here";
pub const UNDO_SPLIT_LABEL: &str = "Undo split";
pub const NOTES_LABEL: &str = "Notes";
pub const CLOSE_EPISODE_LABEL: &str = "Back to the episode list";

fn ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn push(commands: &mut Vec<Command>, command: C) {
    commands.push(Command::Timeline(command));
}

/// The episode list with filter, flag, delete and open.
pub fn episode_browser_ui(
    ui: &mut Ui,
    session: &mut SessionState,
    maximised: Option<crate::gui::layout::Pane>,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let label = ui.label(EPISODE_FILTER_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.annotator.filter)
                .desired_width(200.0)
                .hint_text("text, success, failure, flagged, a stage"),
        )
        .labelled_by(label.id);
        if maximised.is_none() && ui.button("Full window").on_hover_text("Ctrl+M").clicked() {
            commands.push(Command::MaximisePane(Some(crate::gui::layout::Pane::Session)));
        }
        if let Some(name) = &session.annotator.last_deleted
            && ui.button(format!("Restore {name}")).on_hover_text("Put the episode deleted last back").clicked()
        {
            push(commands, C::RestoreDeleted);
        }
        if let Some(split) = &session.annotator.last_split
            && ui
                .button(UNDO_SPLIT_LABEL)
                .on_hover_text(format!("Put {} back whole; its two parts go to the trash", split.original))
                .clicked()
        {
            push(commands, C::UndoSplit);
        }
    });
    let rows = filtered(&session.episodes, &session.annotator.filter);
    ui.label(RichText::new(format!("{} of {} episodes", rows.len(), session.episodes.len())).strong());
    let loading = session.annotator.loading.clone();
    egui::ScrollArea::vertical().id_salt("episodes").max_height((ui.available_height() - 60.0).max(80.0)).show(
        ui,
        |ui| {
            egui::Grid::new("episode_list").striped(true).show(ui, |ui| {
                for row in rows {
                    let annotation = row.annotation.as_ref();
                    let flagged = annotation.is_some_and(|a| a.flagged);
                    let open = ui.button(format!("Open {}", row.name)).on_hover_text("Annotate on the timeline");
                    if open.clicked() {
                        push(commands, C::Open(row.name.clone()));
                        if maximised.is_none() {
                            commands.push(Command::MaximisePane(Some(crate::gui::layout::Pane::Session)));
                        }
                    }
                    let flag = if flagged {
                        RichText::new(format!("Unflag {}", row.name)).color(palette::WARNING)
                    } else {
                        RichText::new(format!("Flag {}", row.name))
                    };
                    if ui.button(flag).on_hover_text("Mark the episode for another look").clicked() {
                        push(commands, C::ToggleFlagEpisode(row.name.clone()));
                    }
                    // Flag sits between Open and Delete (a mis-click on Open never deletes); all three come first, so
                    // they are in view in a narrow pane.
                    if ui
                        .button(format!("Delete {}", row.name))
                        .on_hover_text("Move the episode to the session's trash/ folder (Restore puts it back)")
                        .clicked()
                    {
                        push(commands, C::Delete(row.name.clone()));
                    }
                    let instruction = annotation.map_or(row.task.as_str(), |a| a.instruction.as_str());
                    ui.label(instruction);
                    ui.label(format!("{} frames, {:.1} s", row.frames, row.duration_s));
                    let outcome = annotation.map_or(Outcome::Unlabelled, |a| a.outcome);
                    let color = match outcome {
                        Outcome::Success => palette::OK,
                        Outcome::Failure => palette::DANGER,
                        Outcome::Unlabelled => ui.visuals().weak_text_color(),
                    };
                    ui.label(RichText::new(outcome.label()).color(color));
                    let stages = annotation.map_or(0, |a| a.stages.len());
                    let trimmed = if annotation.is_some_and(|a| a.trim.is_some()) { ", trimmed" } else { "" };
                    ui.label(format!("{stages} stages{trimmed}"));
                    match (&row.torn_tail, row.finished, &row.annotation_error) {
                        (_, _, Some(error)) => ui.label(RichText::new(error).color(palette::DANGER)),
                        (Some(tail), _, _) => {
                            ui.label(RichText::new(format!("recovered after a crash ({tail})")).color(palette::WARNING))
                        }
                        (None, false, _) => ui.label(RichText::new("not finished (crash?)").color(palette::WARNING)),
                        (None, true, _) => ui.label("complete"),
                    };
                    ui.end_row();
                }
            });
        },
    );
    if let Some(name) = loading {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!("Opening {name}"));
        });
    }
}

fn text_field_ui(ui: &mut Ui, label: &str, value: &str, width: f32) -> Option<String> {
    let mut text = value.to_owned();
    let label = ui.label(label);
    let response = ui.add(egui::TextEdit::singleline(&mut text).desired_width(width)).labelled_by(label.id);
    response.changed().then_some(text)
}

fn header_ui(ui: &mut Ui, open: &OpenEpisode, maximised: bool, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        if ui.button(CLOSE_EPISODE_LABEL).clicked() {
            push(commands, C::Close);
            if maximised {
                commands.push(Command::MaximisePane(None));
            }
        }
        if !maximised && ui.button("Full window").on_hover_text("Ctrl+M").clicked() {
            commands.push(Command::MaximisePane(Some(crate::gui::layout::Pane::Session)));
        }
        if ui.button("Previous").on_hover_text("Previous episode (Page Up)").clicked() {
            push(commands, C::OpenAdjacent(-1));
        }
        if ui.button("Next").on_hover_text("Next episode (Page Down)").clicked() {
            push(commands, C::OpenAdjacent(1));
        }
        ui.label(RichText::new(&open.name).strong());
        ui.label(format!("{:.1} s, {} cameras", open.duration_s, open.episode.meta.cameras.len()));
        if ui.add_enabled(open.history.can_undo(), egui::Button::new("Undo")).on_hover_text("Ctrl+Z").clicked() {
            push(commands, C::Undo);
        }
        if ui.add_enabled(open.history.can_redo(), egui::Button::new("Redo")).on_hover_text("Ctrl+Shift+Z").clicked() {
            push(commands, C::Redo);
        }
        ui.label(RichText::new(saved_state(&open.history)).weak());
    });
}

fn fields_ui(ui: &mut Ui, open: &OpenEpisode, commands: &mut Vec<Command>) {
    let annotation = &open.history.current;
    ui.horizontal(|ui| {
        if let Some(text) = text_field_ui(ui, EPISODE_INSTRUCTION_LABEL, &annotation.instruction, 320.0) {
            push(commands, C::SetInstruction(text));
        }
    });
    for pair in ConstraintKind::ALL.chunks(2) {
        ui.horizontal(|ui| {
            for field in pair {
                let mut label = field.name().to_owned();
                label[..1].make_ascii_uppercase();
                let mut text = annotation.constraints.get(*field).to_owned();
                let label = ui.add_sized([92.0, 18.0], egui::Label::new(label));
                let edit = ui.add(egui::TextEdit::singleline(&mut text).desired_width(170.0)).labelled_by(label.id);
                if edit.changed() {
                    push(commands, C::SetConstraint(*field, text));
                }
            }
        });
    }
    ui.horizontal(|ui| {
        for (outcome, key) in [(Outcome::Success, "Y"), (Outcome::Failure, "N"), (Outcome::Unlabelled, "")] {
            let mut label = outcome.label().to_owned();
            label[..1].make_ascii_uppercase();
            let button = ui.selectable_label(annotation.outcome == outcome, label);
            let button = if key.is_empty() { button } else { button.on_hover_text(format!("Key {key}")) };
            if button.clicked() {
                push(commands, C::SetOutcome(outcome));
            }
        }
        if ui.selectable_label(annotation.flagged, "Flag").on_hover_text("Key F").clicked() {
            push(commands, C::ToggleFlag);
        }
    });
    ui.horizontal(|ui| {
        if let Some(text) = text_field_ui(ui, NOTES_LABEL, &annotation.notes, 420.0) {
            push(commands, C::SetNotes(text));
        }
    });
}

fn frame_ui(ui: &mut Ui, open: &OpenEpisode, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        for (index, name) in open.episode.meta.cameras.iter().enumerate() {
            if ui.selectable_label(open.camera == index, name).clicked() {
                push(commands, C::ShowCamera(index));
            }
        }
    });
    let size = egui::vec2(ui.available_width().min(280.0), ui.available_width().min(280.0) * 0.75);
    match &open.frame {
        Some(((camera, index), texture)) if *camera == open.camera => {
            ui.add(egui::Image::new(texture).fit_to_exact_size(size));
            let time = open.frame_at_cursor(*camera).map_or(0.0, |(_, f)| open.seconds(f.time));
            ui.label(RichText::new(format!("frame {index} at {}", format_time(time))).weak());
        }
        _ => {
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
            ui.painter().text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "decoding",
                egui::FontId::proportional(12.0),
                ui.visuals().weak_text_color(),
            );
        }
    }
    if let Some(joints) = open.joints_at_cursor() {
        let degrees: Vec<String> = joints.iter().map(|q| format!("{:.0}", q.to_degrees())).collect();
        ui.label(RichText::new(format!("joints (deg): {}", degrees.join(" "))).weak());
    }
}

fn transport_ui(ui: &mut Ui, open: &OpenEpisode, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        let play = if open.playing { "Pause" } else { "Play" };
        if ui.button(play).on_hover_text("Space").clicked() {
            push(commands, C::TogglePlay);
        }
        if ui.button("Frame back").on_hover_text("Left").clicked() {
            push(commands, C::Step(-1));
        }
        if ui.button("Frame forward").on_hover_text("Right").clicked() {
            push(commands, C::Step(1));
        }
        if ui.selectable_label(open.looping, "Loop").on_hover_text("L: loop the selection").clicked() {
            push(commands, C::ToggleLoop);
        }
        ui.separator();
        if ui.button("In").on_hover_text("I: the selection starts at the cursor").clicked() {
            push(commands, C::MarkIn);
        }
        if ui.button("Out").on_hover_text("O: the selection ends at the cursor").clicked() {
            push(commands, C::MarkOut);
        }
        if ui.add_enabled(open.selection.is_some(), egui::Button::new("Trim to selection")).on_hover_text("T").clicked()
        {
            push(commands, C::TrimToSelection);
        }
        if open.history.current.trim.is_some() && ui.button("Clear trim").clicked() {
            push(commands, C::ClearTrim);
        }
        let inside = open.cursor_s > 0.0 && open.cursor_s < open.duration_s;
        if ui
            .add_enabled(inside, egui::Button::new(SPLIT_LABEL))
            .on_hover_text(
                "Split the episode in two at the cursor: two new episodes, the annotation split with them, the \
                 original to the trash (Undo split puts it back)",
            )
            .clicked()
        {
            push(commands, C::SplitAtCursor);
        }
        ui.separator();
        if ui.button("Zoom in").on_hover_text("+ or scroll").clicked() {
            push(commands, C::Zoom(1));
        }
        if ui.button("Zoom out").on_hover_text("-").clicked() {
            push(commands, C::Zoom(-1));
        }
        if ui.button("Whole episode").on_hover_text("0 or double-click").clicked() {
            push(commands, C::ZoomFit);
        }
        let selection = open
            .selection
            .map_or_else(String::new, |(a, b)| format!("selected {} to {}", format_time(a), format_time(b)));
        ui.label(
            RichText::new(format!("{} / {}  {selection}", format_time(open.cursor_s), format_time(open.duration_s)))
                .monospace(),
        );
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Label the selection:");
        for (index, stage) in StageKind::KINEVLA.iter().enumerate() {
            let button = egui::Button::new(RichText::new(format!("{} {stage}", index + 1)).color(Color32::WHITE))
                .fill(stage_color(stage.name()).gamma_multiply(0.8));
            if ui.add(button).clicked() {
                push(commands, C::LabelStage(stage.name().to_owned()));
            }
        }
        let custom_id = egui::Id::unique("custom_stage");
        let mut custom: String = ui.data_mut(|d| d.get_temp(custom_id).unwrap_or_default());
        let label = ui.label("custom");
        let field = ui.add(egui::TextEdit::singleline(&mut custom).desired_width(90.0)).labelled_by(label.id);
        if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && !custom.trim().is_empty() {
            push(commands, C::LabelStage(custom.trim().to_owned()));
        }
        ui.data_mut(|d| d.insert_temp(custom_id, custom));
        if ui.button("Remove stage").on_hover_text("Delete: the stage under the cursor").clicked() {
            push(commands, C::RemoveStageAtCursor);
        }
    });
}

/// The timeline editor of the open episode: transport and timeline first (they are what is used most), then the
/// frame under the cursor beside the annotation fields, all in a scroll area so a small pane still reaches them.
pub fn timeline_editor_ui(ui: &mut Ui, open: &OpenEpisode, maximised: bool, commands: &mut Vec<Command>) {
    header_ui(ui, open, maximised, commands);
    egui::ScrollArea::vertical().id_salt("timeline_editor").auto_shrink([false, false]).show(ui, |ui| {
        transport_ui(ui, open, commands);
        timeline_ui(ui, open, commands);
        ui.separator();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_max_width(280.0);
                frame_ui(ui, open, commands);
            });
            ui.vertical(|ui| fields_ui(ui, open, commands));
        });
    });
}

fn timeline_ui(ui: &mut Ui, open: &OpenEpisode, commands: &mut Vec<Command>) {
    let lanes = open.lanes();
    let thumbnails: Vec<_> = open.thumbnails.iter().map(|(t, texture, size)| (*t, texture.id(), *size)).collect();
    let timeline = Timeline {
        duration_s: open.duration_s,
        cursor_s: open.cursor_s,
        selection: open.selection,
        trim: open.history.current.trim,
        view: open.view,
        thumbnails: &thumbnails,
        curves: &open.curves,
        lanes: &lanes,
    };
    for event in timeline.ui(ui) {
        match event {
            TimelineEvent::Seek(t) => push(commands, C::SeekMs(ms(t))),
            TimelineEvent::Select(a, b) => push(commands, C::SelectMs(ms(a), ms(b))),
            TimelineEvent::View(a, b) => push(commands, C::ViewMs(ms(a), ms(b))),
            TimelineEvent::SegmentClicked(0, index) => {
                if let Some(stage) = open.history.current.stages.get(index) {
                    push(commands, C::SelectMs(ms(stage.start_s), ms(stage.end_s)));
                }
            }
            TimelineEvent::SegmentClicked(..) => {}
        }
    }
    ui.label(
        RichText::new(
            "Space play, Left/Right step (Shift: 1 s), I/O select, 1-7 label, Del remove, T trim, Y/N outcome, F flag, \
             Ctrl+Z undo. Shift+drag selects; scroll zooms.",
        )
        .weak()
        .small(),
    );
}
