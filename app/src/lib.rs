//! `kinedesk`: the desk application. Wires devices, workers and panels together.
//!
//! The binary (`src/main.rs`) is a thin command line over this library, so whole-app tests in `tests/` can build the
//! real [`KineDeskApp`].

pub mod annotator;
pub mod app;
pub mod arm_state;
pub mod bench;
pub mod camera_bench;
pub mod camera_feeds;
pub mod cli;
pub mod command;
pub mod gamepad;
pub mod layout;
pub mod loader;
pub mod panes;
pub mod policy_bench;
pub mod policy_cli;
pub mod policy_state;
pub mod robot_cli;
pub mod robot_link_cli;
pub mod session_cli;
pub mod session_state;
pub mod settings;
pub mod shortcuts;
pub mod teleop;
pub mod tokenizer_cli;

pub use app::{AppOptions, FIRST_FRAME_MARKER, KineDeskApp};
pub use command::Command;
pub use layout::Pane;
