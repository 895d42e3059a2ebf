use egui::Ui;
use kinedesk_widgets::placeholder_ui;

pub fn trajectory_pane_ui(ui: &mut Ui) {
    placeholder_ui(
        ui,
        "No trajectory planned",
        "Joint plots, speeds and safety checks of a planned trajectory appear here.",
    );
}
