//! The status bar: the state of each connection, at a glance.

use egui::{Color32, RichText, Ui};
use kinedesk_core::{ConnectionState, DeviceKind};

/// One entry of the status bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusItem {
    pub device: DeviceKind,
    pub state: ConnectionState,
}

fn state_colour(state: &ConnectionState) -> Color32 {
    match state {
        ConnectionState::Connected { .. } => crate::palette::OK,
        ConnectionState::Idle { .. } => crate::palette::INFO,
        ConnectionState::Connecting { .. } => crate::palette::CAUTION,
        ConnectionState::Failed { .. } => crate::palette::DANGER,
        ConnectionState::NotConnected => Color32::GRAY,
    }
}

/// Draws each connection as a coloured dot, its name and a one-line summary; hovering shows the full state.
pub fn status_bar_ui(ui: &mut Ui, items: &[StatusItem]) {
    for item in items {
        let colour = state_colour(&item.state);
        let summary = item.state.summary();
        let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 4.5, colour);
        ui.label(RichText::new(format!("{}: {summary}", item.device)).small())
            .on_hover_text(format!("{}: {summary}", item.device));
        ui.separator();
    }
}
