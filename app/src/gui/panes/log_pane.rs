use egui::Ui;
use kinedesk_widgets::log_view_ui;

use super::PaneContext;
use crate::gui::command::Command;

pub fn log_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    if log_view_ui(ui, context.log, context.log_filter).clear_clicked {
        context.commands.push(Command::ClearLog);
    }
}
