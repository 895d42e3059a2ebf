use egui::Ui;
use kinedesk_widgets::placeholder_ui;

pub fn cameras_pane_ui(ui: &mut Ui) {
    placeholder_ui(ui, "No camera connected", "Live camera feeds appear here once a camera source is connected.");
}
