//! The Session pane: the session folder, recording controls (Record, → finish the episode, ← discard and re-record),
//! the episode timer and counters, the episode browser (a crash-recovered episode says so), the timeline editor of
//! the episode opened from it (`annotate_ui`), and export to LeRobot v3.

use crate::gui::background_tasks::TaskKind;
use egui::{ProgressBar, RichText, Ui};
use kinedesk_widgets::palette;

use super::PaneContext;
use crate::gui::command::Command;
use crate::gui::file_dialogs::DialogPurpose;
use crate::gui::settings::{RemoteKind, RemoteTarget};

/// A Browse… button that opens the platform's file dialog for `purpose` (on a thread; the box keeps working).
pub fn browse_button(ui: &mut Ui, purpose: DialogPurpose, commands: &mut Vec<Command>) {
    if ui.button(BROWSE_LABEL).on_hover_text(purpose.title()).clicked() {
        commands.push(Command::BrowseFor(purpose));
    }
}

pub const SESSION_FOLDER_LABEL: &str = "Session folder";
/// The Browse… buttons beside the path boxes (each says what it browses for in its hover text).
pub const BROWSE_LABEL: &str = "Browse…";
pub const TASK_LABEL: &str = "Task";
pub const RECORD_LABEL: &str = "Record";
pub const FINISH_LABEL: &str = "Finish episode (Right key)";
pub const DISCARD_LABEL: &str = "Discard (Left key)";
pub const EPISODE_LIMIT_LABEL: &str = "Episode limit";
pub const RESET_TIME_LABEL: &str = "Reset time";
pub const IMPORT_LABEL: &str = "Import LeRobot dataset or rosbag";
pub const CHECK_LABEL: &str = "Check before export";
pub const PUSH_URL_LABEL: &str = "Remote";
pub const PUSH_ENDPOINT_LABEL: &str = "Endpoint";
pub const PUSH_LABEL: &str = "Push";
/// What *Push* sends: the session exported and appended to a dataset, or the session itself.
pub const PUSH_KIND_LABEL: &str = "Push as";
pub const PULL_LABEL: &str = "Pull session";
pub const CANCEL_PUSH_LABEL: &str = "Stop push";
/// The menu of remembered remote targets beside the address.
pub const REMOTE_TARGETS_LABEL: &str = "Recent…";
/// The key-hint line shown while recording.
pub const RECORDING_KEYS_HINT: &str = "Right: finish and keep the episode  ·  Left: discard it (to the trash; Undo on \
    the toast)  ·  Esc: stop the arm — the recording goes on, nothing is discarded";
/// Why the recorder loses frames and what to do about it (its queue to the disk was full).
pub const RECORDER_LOSS_HINT: &str = "The recorder's queue to the disk was full, so these frames or records were not \
    written: the disk or the JPEG encoders could not keep up. Record fewer or smaller cameras, lower their frame \
    rate, record to a faster local disk, or close other programs writing to it. The frames the screen skips are not \
    counted here.";
pub const RERUN_LIVE_LABEL: &str = "Stream to Rerun while recording";

pub fn session_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let session = &mut *context.session;
    ui.horizontal(|ui| {
        let label = ui.label(SESSION_FOLDER_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.root_text)
                .desired_width(260.0)
                .hint_text("~/kinedesk-sessions/demo"),
        )
        .labelled_by(label.id);
        let ready = !session.root_text.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Open"))
            .on_hover_text("Open the session folder, creating it if needed")
            .clicked()
        {
            context.commands.push(Command::OpenSession(session.root_text.trim().into()));
        }
        browse_button(ui, DialogPurpose::OpenSession, context.commands);
    });
    if session.session.is_none() {
        ui.label(
            RichText::new(
                "No session open: choose a folder and press Open to record demonstrations, or type a new folder and \
                 pull a session someone pushed (below).",
            )
            .weak(),
        );
        ui.separator();
        push_row_ui(ui, context);
        return;
    }
    ui.horizontal(|ui| {
        let label = ui.label(TASK_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.task)
                .desired_width(320.0)
                .hint_text("the instruction of this episode"),
        )
        .labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        let (mut limit, mut reset, mut then_record) =
            (session.episode_limit_s, session.reset_s, session.record_after_reset);
        let label = ui.label(EPISODE_LIMIT_LABEL);
        let a = ui
            .add(egui::DragValue::new(&mut limit).range(0.0..=3600.0).suffix(" s").speed(1.0))
            .labelled_by(label.id)
            .on_hover_text("The episode is finished by itself after this long (0: no limit)");
        let label = ui.label(RESET_TIME_LABEL);
        let b = ui
            .add(egui::DragValue::new(&mut reset).range(0.0..=600.0).suffix(" s").speed(1.0))
            .labelled_by(label.id)
            .on_hover_text("Time to reset the scene after each episode (0: none)");
        let c = ui.checkbox(&mut then_record, "then record the next episode");
        if a.changed() || b.changed() || c.changed() {
            context.commands.push(Command::SetEpisodeTimers {
                limit_s: limit.round() as u32,
                reset_s: reset.round() as u32,
                record_after_reset: then_record,
            });
        }
    });
    if let Some(started) = session.reset_started {
        ui.horizontal(|ui| {
            let elapsed = started.elapsed().as_secs_f64();
            let total = session.reset_s.max(0.001);
            ui.add(ProgressBar::new((elapsed / total) as f32).desired_width(240.0).text(format!(
                "RESET {:.1} s of {:.0} s",
                elapsed.min(total),
                total
            )));
            if ui.button("Skip reset").clicked() {
                context.commands.push(Command::SkipReset);
            }
        });
    }
    ui.horizontal(|ui| match &session.recording {
        None => {
            if ui.button(RichText::new(RECORD_LABEL).color(palette::DANGER)).clicked() {
                context.commands.push(Command::StartRecording);
            }
        }
        Some(recording) => {
            if ui.button(FINISH_LABEL).clicked() {
                context.commands.push(Command::FinishEpisode);
            }
            if ui.button(DISCARD_LABEL).on_hover_text("Delete this episode (to record it again)").clicked() {
                context.commands.push(Command::DiscardEpisode);
            }
            let stats = recording.stats();
            let seconds = recording.elapsed().as_secs_f64();
            ui.label(
                RichText::new(format!("REC {:02}:{:04.1}", (seconds / 60.0) as u64, seconds % 60.0))
                    .color(palette::DANGER),
            );
            let lost = stats.frames_dropped + stats.records_dropped;
            let text = format!("{} frames ({} on disk)", stats.frames_written, stats.frames_durable);
            if lost > 0 {
                ui.label(RichText::new(text).color(palette::WARNING));
                ui.label(RichText::new(format!("{lost} lost by the recorder")).color(palette::WARNING))
                    .on_hover_text(RECORDER_LOSS_HINT);
            } else {
                ui.label(text);
            }
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
        }
    });
    if session.recording.is_some() {
        // What the keys do while recording, where the operator is looking.
        ui.label(RichText::new(RECORDING_KEYS_HINT).small().color(palette::WARNING));
    }
    ui.separator();
    if let Some(open) = &session.annotator.open {
        super::annotate_ui::timeline_editor_ui(ui, open, context.maximised.is_some(), context.commands);
        return;
    }
    super::annotate_ui::episode_browser_ui(ui, session, context.maximised, context.commands);
    ui.horizontal(|ui| {
        let label = ui.label("Export as");
        egui::ComboBox::from_id_salt("export_format")
            .selected_text(session.export_format.label())
            .show_ui(ui, |ui| {
                for format in crate::gui::session_state::ExportFormat::ALL {
                    ui.selectable_value(&mut session.export_format, format, format.label());
                }
            })
            .response
            .labelled_by(label.id);
        let label = ui.label("to");
        ui.add(
            egui::TextEdit::singleline(&mut session.export_text)
                .desired_width(220.0)
                .hint_text("/path/to/new/dataset (or file.rrd)"),
        )
        .labelled_by(label.id);
        browse_button(ui, DialogPurpose::ExportDestination, context.commands);
        let running = context.tasks.is_running(TaskKind::Export);
        if ui
            .add_enabled(
                !running && !session.export_text.trim().is_empty() && !session.episodes.is_empty(),
                egui::Button::new("Export"),
            )
            .clicked()
        {
            context
                .commands
                .push(Command::ExportSession { out: session.export_text.trim().into(), format: session.export_format });
        }
    });
    check_ui(ui, session, context.tasks, context.commands);
    ui.horizontal(|ui| {
        let mut live = session.rerun_live;
        if ui
            .checkbox(&mut live, RERUN_LIVE_LABEL)
            .on_hover_text("Cameras (10 fps), joints and events of each new episode go to a running Rerun viewer too")
            .changed()
        {
            let url = if session.rerun_url.trim().is_empty() {
                crate::gui::session_state::DEFAULT_RERUN_URL.to_owned()
            } else {
                session.rerun_url.trim().to_owned()
            };
            context.commands.push(Command::SetRerunLive(live.then_some(url)));
        }
        let label = ui.label("viewer");
        ui.add(
            egui::TextEdit::singleline(&mut session.rerun_url)
                .desired_width(260.0)
                .hint_text(crate::gui::session_state::DEFAULT_RERUN_URL),
        )
        .labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        let label = ui.label(IMPORT_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.import_text)
                .desired_width(260.0)
                .hint_text("/path/to/dataset or rosbag2 folder"),
        )
        .labelled_by(label.id);
        browse_button(ui, DialogPurpose::ImportDataset, context.commands);
        let import = context.tasks.view(TaskKind::Import);
        let running = import.is_some();
        if ui.add_enabled(!running && !session.import_text.trim().is_empty(), egui::Button::new("Import")).clicked() {
            context.commands.push(Command::ImportDataset(session.import_text.trim().into()));
        }
        if let Some(task) = import {
            ui.add(
                ProgressBar::new(task.done as f32 / task.total.max(1) as f32).desired_width(160.0).show_percentage(),
            );
        }
    });
    if let Some(task) = context.tasks.view(TaskKind::Export) {
        ui.add(
            ProgressBar::new(task.done as f32 / task.total.max(1) as f32)
                .text(format!("exporting episode {} of {} to {}", task.done, task.total, task.name)),
        );
    } else {
        match &session.last_export {
            Some(Ok(message)) => {
                ui.label(message);
            }
            Some(Err(message)) => {
                ui.label(RichText::new(message).color(palette::DANGER));
            }
            None => {}
        }
    }
    push_row_ui(ui, context);
}

/// The dataset doctor before export: a button that checks what the export would write, and its report.
fn check_ui(
    ui: &mut egui::Ui,
    session: &crate::gui::session_state::SessionState,
    tasks: &crate::gui::session_state::SessionTasks,
    commands: &mut Vec<Command>,
) {
    use kinedesk_sessions::dataset_doctor::Severity;
    let check = tasks.view(TaskKind::Check);
    ui.horizontal(|ui| {
        let enabled = check.is_none() && !session.episodes.is_empty() && session.recording.is_none();
        let button = ui.add_enabled(enabled, egui::Button::new(CHECK_LABEL)).on_hover_text(
            "Run the dataset doctor on what a LeRobot export of this session would write: timestamp gaps, stale and \
             frozen frames, constant dimensions, jumps beyond the joint limits, episodes left out, missing annotations, \
             unconfirmed stages",
        );
        if button.clicked() {
            commands.push(Command::CheckSession);
        }
        if let Some(task) = &check {
            ui.add(
                ProgressBar::new(task.done as f32 / task.total.max(1) as f32)
                    .desired_width(200.0)
                    .text(format!("checking episode {} of {}", task.done, task.total)),
            );
        }
    });
    let Some(report) = &session.last_check else { return };
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            ui.label(RichText::new(format!("The session could not be checked: {error}")).color(palette::DANGER));
            return;
        }
    };
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, notes) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
    let colour = match (errors, warnings) {
        (0, 0) => palette::OK,
        (0, _) => palette::WARNING,
        _ => palette::DANGER,
    };
    let title = format!(
        "Check: {} episodes, {} frames at {} fps: {errors} error(s), {warnings} warning(s), {notes} note(s)",
        report.episodes, report.frames, report.fps
    );
    egui::CollapsingHeader::new(RichText::new(title).color(colour))
        .id_salt("session_check_report")
        .default_open(errors + warnings > 0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().max_height(160.0).id_salt("session_check_findings").show(ui, |ui| {
                let mut findings: Vec<_> = report.findings.iter().collect();
                findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
                for finding in findings {
                    let (mark, colour) = match finding.severity {
                        Severity::Error => ("error", palette::DANGER),
                        Severity::Warning => ("warning", palette::WARNING),
                        Severity::Info => ("note", ui.visuals().weak_text_color()),
                    };
                    let episode = finding.episode.map_or_else(String::new, |e| format!(" episode {e}:"));
                    ui.label(
                        RichText::new(format!("{mark} [{}]{episode} {}", finding.check, finding.message)).color(colour),
                    );
                }
            });
        });
}

/// Object storage: where the session goes (or comes from), what is pushed, the transfer's progress, and how the last
/// one ended. Remembered targets are one click away; credentials never appear here.
fn push_row_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let session = &mut *context.session;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(PUSH_URL_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.push_url)
                .desired_width(200.0)
                .hint_text("s3://bucket/prefix, gs://…, az://…"),
        )
        .labelled_by(label.id);
        ui.menu_button(REMOTE_TARGETS_LABEL, |ui| {
            if context.remote_targets.is_empty() {
                ui.label("Nothing pushed or pulled yet");
            }
            for target in context.remote_targets {
                let endpoint =
                    if target.endpoint.is_empty() { String::new() } else { format!("  ({})", target.endpoint) };
                let text = format!("{}{endpoint} — {}", target.url, target.kind.label());
                if ui.button(text).clicked() {
                    session.push_url.clone_from(&target.url);
                    session.push_endpoint.clone_from(&target.endpoint);
                    session.push_kind = target.kind;
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text("Places pushed to or pulled from lately (credentials are never kept)");
        let label = ui.label(PUSH_ENDPOINT_LABEL);
        ui.add(
            egui::TextEdit::singleline(&mut session.push_endpoint)
                .desired_width(150.0)
                .hint_text("provider's, or https://minio…"),
        )
        .labelled_by(label.id);
        let label = ui.label(PUSH_KIND_LABEL);
        egui::ComboBox::from_id_salt("push-kind")
            .selected_text(session.push_kind.label())
            .show_ui(ui, |ui| {
                for kind in RemoteKind::ALL {
                    ui.selectable_value(&mut session.push_kind, kind, kind.label());
                }
            })
            .response
            .labelled_by(label.id);
        let pushing = context.tasks.view(TaskKind::Push);
        let pulling = context.tasks.view(TaskKind::Pull);
        let idle = pushing.is_none() && pulling.is_none();
        let address = kinedesk_storage::parse_url(session.push_url.trim()).is_ok();
        let target = || RemoteTarget {
            url: session.push_url.trim().to_owned(),
            endpoint: session.push_endpoint.trim().to_owned(),
            kind: session.push_kind,
        };
        let hover = match session.push_kind {
            RemoteKind::Dataset => {
                "Export the session (LeRobot v3) and add its episodes to the dataset at this address. Credentials come \
                 from the environment (AWS_*, GOOGLE_*, AZURE_*) or the AWS profile (AWS_PROFILE, ~/.aws). Run it \
                 again after a failure or a stop: it continues where it stopped."
            }
            RemoteKind::Session => {
                "Send the session's episode logs and annotations (only what changed since the last push or pull; \
                 nothing there is overwritten), so an annotator elsewhere can pull it."
            }
        };
        if ui
            .add_enabled(idle && address && session.session.is_some(), egui::Button::new(PUSH_LABEL))
            .on_hover_text(hover)
            .clicked()
        {
            context.commands.push(Command::PushSession(target()));
        }
        let pull_hover = "Get the session at this address: into the open session (only what changed there; what \
            changed here is kept), or, with none open, into the folder typed above, which is then opened";
        if ui.add_enabled(idle && address, egui::Button::new(PULL_LABEL)).on_hover_text(pull_hover).clicked() {
            context.commands.push(Command::PullSession(target()));
        }
        if let Some(task) = pushing.as_ref().or(pulling.as_ref()) {
            ui.add(
                ProgressBar::new(task.done as f32 / task.total.max(1) as f32).desired_width(160.0).show_percentage(),
            );
        }
        if pushing.is_some()
            && ui.button(CANCEL_PUSH_LABEL).on_hover_text("The parts in flight finish; Push again continues").clicked()
        {
            context.commands.push(Command::CancelPush);
        }
    });
    match &session.last_push {
        Some(Ok(report)) => {
            ui.label(RichText::new(&report.message).color(palette::OK));
            if let Some(warning) = &report.warning {
                ui.label(RichText::new(warning).color(palette::WARNING));
            }
        }
        Some(Err(error)) => {
            ui.label(RichText::new(format!("Failed: {error}")).color(palette::DANGER));
        }
        None => {}
    }
}
