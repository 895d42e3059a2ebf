//! `kinedesk-widgets`: reusable egui widgets for KineDesk.
//!
//! Widgets take plain data and return responses; they never reach into the app's state.
//! Naming: every function that draws ends in `_ui`.

pub mod arm_view;
pub mod log_view;
pub mod palette;
pub mod placeholder;
pub mod reasoning_view;
pub mod rollout_plots;
pub mod shortcut_table;
pub mod status_bar;
pub mod stop_button;
pub mod timeline;
pub mod toasts;
pub mod trajectory_plots;

pub use log_view::{LOG_FILTER_LABEL, LogEntry, LogFilter, LogLevel, log_view_ui};
pub use placeholder::placeholder_ui;
pub use shortcut_table::{ShortcutRow, shortcut_table_ui};
pub use status_bar::{StatusItem, status_bar_ui};
pub use stop_button::{STOP_BUTTON_LABEL, stop_button_ui};
pub use toasts::Toasts;
