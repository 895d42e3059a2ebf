use egui::Ui;
use kinedesk_widgets::placeholder_ui;

pub fn arm_pane_ui(ui: &mut Ui) {
    placeholder_ui(
        ui,
        "No robot connected",
        "The 3D arm and any planned ghost trajectory appear here once a robot is connected.",
    );
}
