//! What persists between runs (besides eframe's own window geometry and egui's memory).

use egui::ThemePreference;
use kinedesk_models::robot::BuiltinRobot;
use kinedesk_widgets::LogFilter;

use crate::gui::layout::{Pane, default_layout};

/// The colour theme chosen by the operator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ThemeChoice {
    /// Follow the operating system.
    System,
    #[default]
    Dark,
    Light,
}

impl ThemeChoice {
    pub const ALL: [Self; 3] = [Self::System, Self::Dark, Self::Light];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::System => "System",
            Self::Dark => "Dark",
            Self::Light => "Light",
        }
    }

    #[must_use]
    pub const fn preference(self) -> ThemePreference {
        match self {
            Self::System => ThemePreference::System,
            Self::Dark => ThemePreference::Dark,
            Self::Light => ThemePreference::Light,
        }
    }

    /// Dark ↔ light (System counts as dark).
    #[must_use]
    pub const fn toggled(self) -> Self {
        match self {
            Self::System | Self::Dark => Self::Light,
            Self::Light => Self::Dark,
        }
    }
}

/// Everything KineDesk stores in eframe's storage under [`PersistedState::KEY`].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PersistedState {
    /// Bumped when the layout's shape changes incompatibly; an older layout is then replaced by the default.
    pub layout_version: u32,
    pub layout: egui_tiles::Tree<Pane>,
    pub theme: ThemeChoice,
    pub log_filter: LogFilter,
    /// The robot model shown in the arm view.
    pub robot: BuiltinRobot,
    /// A URDF robot shown instead of the built-in one (reloaded at start-up).
    pub urdf: Option<(std::path::PathBuf, Option<String>)>,
    /// The policy that plans (built-in or a server address).
    pub policy: crate::gui::policy_state::PolicyChoice,
    /// Velocity scaling for sending plans, in percent.
    pub velocity_percent: u16,
    /// Instructions typed before, most recent last.
    pub instruction_history: Vec<String>,
    /// The camera feeds (with per-device settings).
    pub cameras: Vec<crate::gui::camera_feeds::CameraSpec>,
    /// The session folder last opened.
    pub session_root: Option<std::path::PathBuf>,
}

impl PersistedState {
    pub const KEY: &'static str = "kinedesk.state";
    pub const LAYOUT_VERSION: u32 = 1;
}

impl Default for PersistedState {
    fn default() -> Self {
        Self {
            layout_version: Self::LAYOUT_VERSION,
            layout: default_layout(),
            theme: ThemeChoice::default(),
            log_filter: LogFilter::default(),
            robot: BuiltinRobot::Panda,
            urdf: None,
            policy: crate::gui::policy_state::PolicyChoice::Builtin,
            velocity_percent: crate::gui::policy_state::DEFAULT_VELOCITY_PERCENT,
            instruction_history: Vec::new(),
            cameras: crate::gui::camera_feeds::CameraSpec::defaults(),
            session_root: None,
        }
    }
}
