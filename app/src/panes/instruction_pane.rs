use egui::Ui;
use kinedesk_widgets::placeholder_ui;

pub fn instruction_pane_ui(ui: &mut Ui) {
    placeholder_ui(
        ui,
        "No policy connected",
        "Instructions, the policy's reasoning and its action tokens appear here once a policy is connected.",
    );
}
