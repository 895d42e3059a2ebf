//! The persistent operator log: every error, warning and notable action, newest at the bottom.

use std::collections::VecDeque;

use egui::{Color32, ComboBox, RichText, ScrollArea, TextEdit, Ui};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub const ALL: [Self; 4] = [Self::Error, Self::Warn, Self::Info, Self::Debug];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warn => "WARN",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
        }
    }

    #[must_use]
    pub fn colour(self) -> Color32 {
        match self {
            Self::Error => crate::palette::DANGER,
            Self::Warn => crate::palette::CAUTION,
            Self::Info => crate::palette::INFO,
            Self::Debug => Color32::GRAY,
        }
    }
}

/// One line of the operator log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Seconds on the shared monotonic clock.
    pub time_s: f64,
    pub level: LogLevel,
    /// Where it came from (a module path or a device name).
    pub source: String,
    pub message: String,
}

/// Accessible label of the log's text filter.
pub const LOG_FILTER_LABEL: &str = "Log filter";

/// What the operator chose to see.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogFilter {
    /// Show this level and everything more severe.
    pub max_level: LogLevel,
    pub text: String,
}

impl Default for LogFilter {
    fn default() -> Self {
        Self { max_level: LogLevel::Info, text: String::new() }
    }
}

impl LogFilter {
    #[must_use]
    pub fn accepts(&self, entry: &LogEntry) -> bool {
        if entry.level > self.max_level {
            return false;
        }
        if self.text.is_empty() {
            return true;
        }
        let needle = self.text.to_lowercase();
        entry.message.to_lowercase().contains(&needle) || entry.source.to_lowercase().contains(&needle)
    }
}

/// What the operator did in the log view this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogViewResponse {
    pub clear_clicked: bool,
}

/// Draws the filter bar and the (virtualised) list of entries.
pub fn log_view_ui(ui: &mut Ui, entries: &VecDeque<LogEntry>, filter: &mut LogFilter) -> LogViewResponse {
    let mut response = LogViewResponse::default();
    ui.horizontal(|ui| {
        ComboBox::from_id_salt("log_level_filter")
            .selected_text(filter.max_level.label())
            .show_ui(ui, |ui| {
                for level in LogLevel::ALL {
                    ui.selectable_value(&mut filter.max_level, level, level.label());
                }
            })
            .response
            .on_hover_text("Show this level and more severe ones");
        let field = ui.add(TextEdit::singleline(&mut filter.text).hint_text("filter…").desired_width(160.0));
        field.widget_info(|| {
            let mut info = egui::WidgetInfo::text_edit(true, &filter.text, &filter.text, "filter…");
            info.label = Some(LOG_FILTER_LABEL.to_owned());
            info
        });
        if ui.button("Clear").on_hover_text("Remove every entry from the log view").clicked() {
            response.clear_clicked = true;
        }
        ui.label(RichText::new(format!("{} entries", entries.len())).weak());
    });
    ui.separator();

    let shown: Vec<&LogEntry> = entries.iter().filter(|entry| filter.accepts(entry)).collect();
    if shown.is_empty() {
        ui.label(RichText::new("No log entries match.").weak());
        return response;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    ScrollArea::both().auto_shrink([false, false]).stick_to_bottom(true).show_rows(
        ui,
        row_height,
        shown.len(),
        |ui, rows| {
            for entry in &shown[rows] {
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format!("{:>9.3}", entry.time_s)).monospace().weak());
                    ui.label(
                        RichText::new(format!("{:<5}", entry.level.label())).monospace().color(entry.level.colour()),
                    );
                    ui.label(RichText::new(&entry.source).monospace().weak());
                    ui.label(RichText::new(&entry.message).monospace());
                });
            }
        },
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(level: LogLevel, message: &str) -> LogEntry {
        LogEntry { time_s: 1.0, level, source: "robot".into(), message: message.into() }
    }

    #[test]
    fn filter_by_level_and_text() {
        let mut filter = LogFilter::default();
        assert!(filter.accepts(&entry(LogLevel::Error, "boom")));
        assert!(filter.accepts(&entry(LogLevel::Info, "connected")));
        assert!(!filter.accepts(&entry(LogLevel::Debug, "tick")));
        filter.max_level = LogLevel::Warn;
        assert!(!filter.accepts(&entry(LogLevel::Info, "connected")));
        filter.text = "BOOM".into();
        assert!(filter.accepts(&entry(LogLevel::Error, "boom")));
        assert!(!filter.accepts(&entry(LogLevel::Error, "other")));
        filter.text = "rob".into();
        assert!(filter.accepts(&entry(LogLevel::Error, "other")), "source matches too");
    }
}
