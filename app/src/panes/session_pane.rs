use egui::Ui;
use kinedesk_widgets::placeholder_ui;

pub fn session_pane_ui(ui: &mut Ui) {
    placeholder_ui(ui, "No session open", "Recorded episodes and their annotation timeline appear here.");
}
