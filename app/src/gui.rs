//! The desk window: the app (`app`: frame logic, drawing, command handling), the panes and their state, settings,
//! keyboard shortcuts and the workers the window owns (file loader, gamepad).

pub mod annotator;
pub mod app;
pub mod arm_state;
pub mod background_tasks;
pub mod camera_feeds;
pub mod command;
pub mod file_dialogs;
pub mod gamepad;
pub mod layout;
pub mod loader;
pub mod panes;
pub mod policy_state;
pub mod rollout_state;
pub mod session_state;
pub mod settings;
pub mod shortcuts;
pub mod teleop;
