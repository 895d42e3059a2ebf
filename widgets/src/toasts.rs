//! Transient notifications in the bottom-right corner. Every toast is also in the persistent log.

use std::collections::VecDeque;

use egui::{Align2, Area, Context, Frame, Id, Order, RichText, vec2};

use crate::log_view::LogLevel;

#[derive(Clone, Debug, PartialEq)]
struct Toast {
    level: LogLevel,
    text: String,
    /// `egui::InputState::time` at which it disappears.
    expires_at: f64,
    /// A button on the toast (e.g. "Undo"): its label and what [`Toasts::show`] returns when it is clicked.
    action: Option<(String, u64)>,
}

/// A small stack of toasts; at most [`Toasts::MAX_VISIBLE`] are shown, the oldest go first.
#[derive(Clone, Debug, Default)]
pub struct Toasts {
    items: VecDeque<Toast>,
}

impl Toasts {
    pub const MAX_VISIBLE: usize = 5;

    /// How long a toast of this level stays up, in seconds.
    #[must_use]
    pub const fn lifetime_s(level: LogLevel) -> f64 {
        match level {
            LogLevel::Error => 10.0,
            LogLevel::Warn => 7.0,
            LogLevel::Info | LogLevel::Debug => 4.0,
        }
    }

    /// Adds a toast; `now` is `egui::InputState::time`.
    pub fn push(&mut self, level: LogLevel, text: impl Into<String>, now: f64) {
        self.items.push_back(Toast {
            level,
            text: text.into(),
            expires_at: now + Self::lifetime_s(level),
            action: None,
        });
        while self.items.len() > Self::MAX_VISIBLE {
            self.items.pop_front();
        }
    }

    /// Adds a toast with a button (`label`, e.g. "Undo"); [`Toasts::show`] returns `action` when it is clicked. It
    /// stays up twice as long as a plain one, so there is time to use it.
    pub fn push_with_action(&mut self, level: LogLevel, text: impl Into<String>, label: &str, action: u64, now: f64) {
        let expires_at = now + 2.0 * Self::lifetime_s(level);
        self.items.push_back(Toast { level, text: text.into(), expires_at, action: Some((label.to_owned(), action)) });
        while self.items.len() > Self::MAX_VISIBLE {
            self.items.pop_front();
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Draws the live toasts above everything else, `bottom_margin` points above the bottom edge. Returns the action
    /// of a toast whose button was clicked (that toast is then gone).
    pub fn show(&mut self, ctx: &Context, bottom_margin: f32) -> Option<u64> {
        let now = ctx.input(|input| input.time);
        self.items.retain(|toast| toast.expires_at > now);
        let next_expiry = self.items.iter().map(|toast| toast.expires_at).reduce(f64::min)?;
        ctx.request_repaint_after(std::time::Duration::from_secs_f64((next_expiry - now).max(0.05)));

        let mut dismissed = None;
        let mut acted = None;
        Area::new(Id::unique("kinedesk_toasts"))
            .order(Order::Foreground)
            .anchor(Align2::RIGHT_BOTTOM, vec2(-12.0, -bottom_margin))
            .interactable(true)
            .show(ctx, |ui| {
                for (index, toast) in self.items.iter().enumerate() {
                    Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(420.0);
                        ui.horizontal(|ui| {
                            ui.label(RichText::new(toast.level.label()).strong().color(toast.level.colour()));
                            ui.label(&toast.text);
                            if let Some((label, action)) = &toast.action
                                && ui.button(label).clicked()
                            {
                                acted = Some(*action);
                                dismissed = Some(index);
                            }
                            if ui.small_button("x").on_hover_text("Dismiss").clicked() {
                                dismissed = Some(index);
                            }
                        });
                    });
                    ui.add_space(4.0);
                }
            });
        if let Some(index) = dismissed {
            self.items.remove(index);
        }
        acted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_toasts_are_kept() {
        let mut toasts = Toasts::default();
        for i in 0..8 {
            toasts.push(LogLevel::Info, format!("toast {i}"), 0.0);
        }
        assert_eq!(toasts.len(), Toasts::MAX_VISIBLE);
        assert_eq!(toasts.items.front().map(|t| t.text.as_str()), Some("toast 3"));
    }

    #[test]
    fn errors_stay_longer_than_info() {
        assert!(Toasts::lifetime_s(LogLevel::Error) > Toasts::lifetime_s(LogLevel::Info));
    }
}
