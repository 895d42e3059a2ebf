//! What persists between runs (besides eframe's own window geometry and egui's memory).

use egui::ThemePreference;
use kinedesk_models::robot::BuiltinRobot;
use kinedesk_widgets::LogFilter;

use crate::gui::arm_state::RobotSource;
use crate::gui::layout::{Pane, default_layout};
use crate::gui::policy_state::PolicySettings;

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

/// Everything KineDesk stores in eframe's storage under [`PersistedState::KEY`]: the one place settings live. The
/// app reads and changes them here; nothing keeps a copy to be mirrored back.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PersistedState {
    /// Bumped when the layout's shape changes incompatibly; an older layout is then replaced by the default.
    pub layout_version: u32,
    pub layout: egui_tiles::Tree<Pane>,
    pub theme: ThemeChoice,
    pub log_filter: LogFilter,
    /// The robot model shown in the arm view (a URDF is reloaded at start-up).
    pub robot_source: RobotSource,
    /// The policy, its velocity scaling and the instructions typed before.
    pub policy_settings: PolicySettings,
    /// The camera feeds (with per-device settings), written from the running feeds when saved.
    pub cameras: Vec<crate::gui::camera_feeds::CameraSpec>,
    /// The session folder last opened (reopened at start-up when it is still there).
    pub session_root: Option<std::path::PathBuf>,
    /// Session folders opened lately, newest first (File → Recent sessions).
    #[serde(default)]
    pub recent_sessions: Vec<std::path::PathBuf>,
    /// How closed-loop rollouts run (mode, envelope, limits, profile).
    pub rollout: crate::gui::rollout_state::RolloutSettings,
}

impl PersistedState {
    pub const KEY: &'static str = "kinedesk.state";
    /// 2: the Rollout pane.
    pub const LAYOUT_VERSION: u32 = 2;
}

impl Default for PersistedState {
    fn default() -> Self {
        Self {
            layout_version: Self::LAYOUT_VERSION,
            layout: default_layout(),
            theme: ThemeChoice::default(),
            log_filter: LogFilter::default(),
            robot_source: RobotSource::Builtin(BuiltinRobot::Panda),
            policy_settings: PolicySettings::default(),
            cameras: crate::gui::camera_feeds::CameraSpec::defaults(),
            session_root: None,
            recent_sessions: Vec::new(),
            rollout: crate::gui::rollout_state::RolloutSettings::default(),
        }
    }
}
