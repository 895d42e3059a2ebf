//! The always-visible Stop button.

use egui::{Button, Color32, CornerRadius, Response, RichText, Ui, vec2};

/// Accessible label of the Stop button (what screen readers and `egui_kittest` find it by).
pub const STOP_BUTTON_LABEL: &str = "Stop";

/// Draws the big red Stop button. `shortcut` is shown in its tooltip (e.g. "Esc").
/// Returns the button's response; the caller turns a click into a stop command.
pub fn stop_button_ui(ui: &mut Ui, shortcut: &str) -> Response {
    let text = RichText::new(STOP_BUTTON_LABEL).strong().size(16.0).color(Color32::WHITE);
    ui.add(Button::new(text).fill(crate::palette::STOP).corner_radius(CornerRadius::same(4)).min_size(vec2(88.0, 26.0)))
        .on_hover_text(format!("Stop all motion now ({shortcut}). Works from anywhere, even while typing."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;

    #[test]
    fn the_stop_button_is_found_by_label_and_reports_clicks() {
        let mut clicks = 0;
        {
            let mut harness = Harness::new_ui(|ui| {
                if stop_button_ui(ui, "Esc").clicked() {
                    clicks += 1;
                }
            });
            harness.get_by_label(STOP_BUTTON_LABEL).click();
            harness.run();
        }
        assert_eq!(clicks, 1);
    }
}
