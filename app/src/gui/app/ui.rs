//! The drawing pass: menu, status bar with Stop, the panes, help, the quit confirmation, popped-out cameras and
//! toasts. Panels return commands; nothing here touches a device or the disk.

use std::time::Instant;

use egui::{Align, Context, Layout, RichText, Ui, ViewportCommand};
use kinedesk_models::Timestamp;
use kinedesk_widgets::{shortcut_table_ui, status_bar_ui, stop_button_ui};

use super::{FIRST_FRAME_MARKER, KineDeskApp, RESTORE_LAYOUT_LABEL};
use crate::gui::command::Command;
use crate::gui::layout::Pane;
use crate::gui::panes::PaneContext;
use crate::gui::settings::ThemeChoice;
use crate::gui::shortcuts::{self, STOP_KEY};

/// View → Layout (the named layouts).
pub const LAYOUT_MENU_LABEL: &str = "Layout";

/// File → Recent sessions.
pub const RECENT_SESSIONS_LABEL: &str = "Recent sessions";

/// The button that confirms a long move to the trajectory's start.
pub const MOVE_TO_START_CONFIRM_LABEL: &str = "Move the arm";

/// The title of the keyboard-shortcut window (F1).
pub const HELP_TITLE: &str = "Keyboard shortcuts";

impl KineDeskApp {
    /// The drawing pass: the whole window, and the commands it emitted carried out. `eframe::App::ui` calls this
    /// (after the logic pass); it does no disk or device work.
    pub fn show(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.frame_bookkeeping(&ctx);
        self.update_cameras(&ctx);
        self.update_highlight();

        // Quitting while a robot is connected needs a confirmation (and then stops the arm first).
        if ctx.input(|input| input.viewport().close_requested()) && self.robot.is_some() && !self.quit_confirmed() {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
            self.confirm_quit = true;
        }
        let mut commands = Vec::new();
        let scopes = shortcuts::ActiveScopes {
            recording: self.session.recording.is_some(),
            annotating: self.session.annotator.open.is_some()
                && self.session.recording.is_none()
                && !self.teleop.armed
                && !self.rollout.active(),
            rolling_out: self.rollout.active(),
            approving: self.rollout.awaiting_approval(),
        };
        commands.extend(shortcuts::commands_from_keys(&ctx, self.state.theme, scopes));
        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar_ui(ui, &mut commands));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui, &mut commands));
        egui::CentralPanel::default().show(ui, |ui| {
            let robot_health = self.robot_readiness().healthy;
            let mut panes = PaneContext {
                robot_connected: self.robot.is_some(),
                robot_health,
                policy_settings: &self.state.policy_settings,
                tasks: &self.tasks,
                teleop: &self.teleop,
                log: &self.log,
                log_filter: &mut self.state.log_filter,
                arm: &mut self.arm,
                policy: &mut self.policy,
                cameras: &self.cameras,
                session: &mut self.session,
                commands: &mut commands,
                maximised: self.maximised_pane,
                rollout: &mut self.rollout,
                rollout_settings: &self.state.rollout,
                remote_targets: &self.state.remote_targets,
            };
            match self.maximised_pane.and_then(|pane| Some((pane, self.state.layout.tiles.find_pane(&pane)?))) {
                Some((mut pane, tile)) => {
                    use egui_tiles::Behavior as _;
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(pane.title()).strong());
                        if ui.button(RESTORE_LAYOUT_LABEL).on_hover_text("Ctrl+M").clicked() {
                            panes.commands.push(Command::MaximisePane(None));
                        }
                    });
                    ui.separator();
                    let _ = panes.pane_ui(ui, tile, &mut pane);
                }
                None => self.state.layout.ui(&mut panes, ui),
            }
        });
        // Below the menu bar, clear of the status bar (where Stop is), scrolling when the window is short.
        let height = ctx.content_rect().height();
        egui::Window::new(HELP_TITLE)
            .open(&mut self.show_help)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_TOP, [0.0, 36.0])
            .max_height((height - 130.0).max(120.0))
            .show(&ctx, |ui| {
                egui::ScrollArea::vertical().id_salt("shortcut_help").show(ui, |ui| {
                    shortcut_table_ui(ui, &shortcuts::help_rows(ui.ctx()));
                });
            });
        if let Some(offset) = self.confirm_move_to_start {
            egui::Modal::new(egui::Id::unique("confirm_move_to_start")).show(&ctx, |ui| {
                ui.heading("Move to the trajectory's start?");
                ui.label(format!(
                    "The arm travels up to {offset:.1}° (largest joint), point to point at 25 % speed, without a \
                     preview of the path. Esc stops it."
                ));
                ui.horizontal(|ui| {
                    if ui.button(MOVE_TO_START_CONFIRM_LABEL).clicked() {
                        commands.push(Command::ConfirmMoveToStart(true));
                    }
                    if ui.button("Cancel").clicked() {
                        commands.push(Command::ConfirmMoveToStart(false));
                    }
                });
            });
        }
        if self.confirm_quit {
            egui::Modal::new(egui::Id::unique("confirm_quit")).show(&ctx, |ui| {
                ui.heading("Quit KineDesk?");
                let name = self.robot.as_ref().map_or_else(String::new, |robot| robot.name.clone());
                ui.label(format!("{name} is connected. Quitting stops the arm and disconnects it."));
                ui.horizontal(|ui| {
                    if ui.button("Stop and quit").clicked() {
                        commands.push(Command::ConfirmQuit(true));
                    }
                    if ui.button("Keep running").clicked() {
                        commands.push(Command::ConfirmQuit(false));
                    }
                });
            });
        }
        self.popped_out_cameras_ui(&ctx, &mut commands);
        if let Some(action) = self.toasts.show(&ctx, 40.0)
            && action == super::recording::TOAST_UNDO_DISCARD
        {
            commands.push(Command::Timeline(crate::gui::annotator::TimelineCommand::RestoreDeleted));
        }

        for command in commands {
            self.handle_command(&ctx, command);
        }
        self.last_frame_cpu = started.elapsed();
    }

    /// Takes the newest camera frames into their textures and reports feeds lost or back; the rendered arm view
    /// follows the arm shown.
    fn update_cameras(&mut self, ctx: &Context) {
        if let Ok(mut joints) = self.cameras.joints.lock() {
            joints.clear();
            joints.extend_from_slice(self.arm.shown_joints());
        }
        for (level, message) in self.cameras.update(ctx) {
            self.log_event(ctx, level, "camera", message);
        }
    }

    /// Feeds popped out into their own windows.
    fn popped_out_cameras_ui(&self, ctx: &Context, commands: &mut Vec<Command>) {
        for name in &self.cameras.popped_out {
            let Some(feed) = self.cameras.feed(name) else { continue };
            let id = egui::ViewportId::from_hash_of(("kinedesk_camera", name));
            let builder = egui::ViewportBuilder::default()
                .with_title(format!("KineDesk camera: {name}"))
                .with_inner_size([660.0, 520.0]);
            ctx.show_viewport_immediate(id, builder, |ui, _class| {
                egui::CentralPanel::default().show(ui, |ui| crate::gui::panes::cameras_pane::popped_out_ui(ui, feed));
                if ui.ctx().input(|i| i.viewport().close_requested()) {
                    commands.push(Command::PopOutCamera { name: name.clone(), out: false });
                }
            });
        }
    }

    /// A quit was confirmed (the robot is already disconnected then, so this is only true in between).
    fn quit_confirmed(&self) -> bool {
        self.robot.is_none()
    }

    fn frame_bookkeeping(&mut self, ctx: &Context) {
        if self.frame_index == 1 && self.options.report_first_frame {
            // The first frame has been painted and presented before the second one starts.
            println!("{FIRST_FRAME_MARKER}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        if let Some(limit) = self.options.exit_after_frames {
            if self.frame_index + 1 >= limit {
                ctx.send_viewport_cmd(ViewportCommand::Close);
            } else {
                ctx.request_repaint();
            }
        }
        self.frame_index += 1;
    }

    fn menu_bar_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                use crate::gui::file_dialogs::DialogPurpose as D;
                for (label, purpose) in [
                    ("Open session…", D::OpenSession),
                    ("Open trajectory…", D::OpenTrajectory),
                    ("Open URDF…", D::OpenUrdf),
                    ("Export session to…", D::ExportDestination),
                    ("Import LeRobot dataset or rosbag…", D::ImportDataset),
                ] {
                    if ui.button(label).clicked() {
                        commands.push(Command::BrowseFor(purpose));
                        if matches!(purpose, D::ExportDestination | D::ImportDataset) {
                            commands.push(Command::ShowPane(Pane::Session));
                        }
                    }
                }
                ui.menu_button(RECENT_SESSIONS_LABEL, |ui| {
                    if self.state.recent_sessions.is_empty() {
                        ui.label(egui::RichText::new("none yet").weak());
                    }
                    for path in &self.state.recent_sessions {
                        if ui.button(path.display().to_string()).clicked() {
                            commands.push(Command::OpenSession(path.clone()));
                            commands.push(Command::ShowPane(Pane::Session));
                        }
                    }
                });
                ui.separator();
                if ui.button("Quit").clicked() {
                    commands.push(Command::Quit);
                }
            });
            ui.menu_button("View", |ui| {
                for pane in Pane::ALL {
                    if ui.button(pane.title()).clicked() {
                        commands.push(Command::ShowPane(pane));
                    }
                }
                ui.separator();
                ui.menu_button(LAYOUT_MENU_LABEL, |ui| {
                    for named in crate::gui::layout::NamedLayout::ALL {
                        if ui.button(named.label()).clicked() {
                            commands.push(Command::UseLayout(named));
                        }
                    }
                });
                if ui.button("Reset layout").clicked() {
                    commands.push(Command::ResetLayout);
                }
                ui.menu_button("Theme", |ui| {
                    for theme in ThemeChoice::ALL {
                        if ui.radio(self.state.theme == theme, theme.label()).clicked() {
                            commands.push(Command::SetTheme(theme));
                        }
                    }
                });
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts").clicked() {
                    commands.push(Command::ToggleShortcutHelp);
                }
                ui.label(RichText::new(format!("KineDesk {}", env!("CARGO_PKG_VERSION"))).weak());
            });
        });
    }

    fn status_bar_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            let stop_key = ui.ctx().format_shortcut(&egui::KeyboardShortcut::new(egui::Modifiers::NONE, STOP_KEY));
            if stop_button_ui(ui, &stop_key).clicked() {
                commands.push(Command::Stop { reason: kinedesk_models::StopReason::Button });
            }
            ui.label(RichText::new(stop_key).small().weak());
            ui.separator();
            status_bar_ui(ui, &self.status_items());
            // The plan's progress is here too, whichever pane is in front.
            if let Some(kinedesk_models::review::ReviewState::Executing { step, steps, .. }) =
                self.arm.preview.as_ref().map(|p| p.review.state())
            {
                let fraction = *step as f32 / steps.saturating_sub(1).max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(170.0)
                        .text(format!("plan: step {} of {steps}", step + 1)),
                )
                .on_hover_text("The plan being executed (Esc stops)");
            }
            for task in self.tasks.views() {
                let fraction = task.done as f32 / task.total.max(1) as f32;
                ui.add(egui::ProgressBar::new(fraction).desired_width(140.0).text(format!(
                    "{} {}",
                    task.kind.label(),
                    if task.total > 0 { format!("{}/{}", task.done, task.total) } else { String::new() }
                )))
                .on_hover_text(task.name);
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                ui.label(RichText::new(format!("UI {:.1} ms", self.last_frame_cpu.as_secs_f64() * 1e3)).small().weak())
                    .on_hover_text("CPU time of the previous frame's UI code");
                if let Some(event) = self.stop.last() {
                    let ago = Timestamp::now().saturating_since(event.at).as_secs_f64();
                    ui.label(RichText::new(format!("last stop {ago:.0} s ago")).small());
                }
            });
        });
    }
}
