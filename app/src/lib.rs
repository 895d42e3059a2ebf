//! `kinedesk`: the desk application. Wires devices, workers and panels together.
//!
//! - [`gui`]: the window (eframe app, panes, settings, shortcuts).
//! - [`cli`]: the command line, one module per subcommand family.
//! - [`bench`]: `kinedesk bench …`, the measured figures in `docs/benchmarks.md`.
//!
//! The binary (`src/main.rs`) is a thin command line over this library, so whole-app tests in `tests/` can build the
//! real [`KineDeskApp`].

pub mod bench;
pub mod cli;
pub mod gui;

pub use gui::app::{AppOptions, FIRST_FRAME_MARKER, KineDeskApp};
pub use gui::command::Command;
pub use gui::layout::Pane;
