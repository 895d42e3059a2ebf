//! A two-column table of keyboard shortcuts, for the help window.

use egui::{Grid, RichText, Ui};

/// One row: the keys (e.g. "Esc") and what they do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShortcutRow {
    pub keys: String,
    pub action: &'static str,
}

pub fn shortcut_table_ui(ui: &mut Ui, rows: &[ShortcutRow]) {
    Grid::new("shortcut_table").num_columns(2).striped(true).spacing([16.0, 6.0]).show(ui, |ui| {
        for row in rows {
            ui.label(RichText::new(&row.keys).monospace().strong());
            ui.label(row.action);
            ui.end_row();
        }
    });
}
