//! Honest empty states: what a pane shows when it has nothing real to show.

use egui::{Align, Layout, RichText, Ui};

/// Draws a centred empty state: a headline (e.g. "No camera connected") and a hint on how to get data in.
pub fn placeholder_ui(ui: &mut Ui, headline: &str, hint: &str) {
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space((ui.available_height() * 0.35).max(8.0));
        ui.label(RichText::new(headline).size(16.0).strong());
        ui.add_space(4.0);
        ui.label(RichText::new(hint).weak());
    });
}
