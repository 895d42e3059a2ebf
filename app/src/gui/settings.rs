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
    /// Object storage pushed to or pulled from lately, newest first (the Session pane's *Recent…* beside *Remote*).
    #[serde(default)]
    pub remote_targets: Vec<RemoteTarget>,
}

/// What goes to object storage: the session exported as a LeRobot dataset (appended: many desks, one dataset), or
/// the session itself (episode logs and annotations, for an annotator elsewhere).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RemoteKind {
    #[default]
    Dataset,
    Session,
}

impl RemoteKind {
    pub const ALL: [Self; 2] = [Self::Dataset, Self::Session];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Dataset => "dataset (LeRobot, appended)",
            Self::Session => "session (logs + annotations)",
        }
    }
}

/// A remembered place in object storage (never with credentials: those stay in the environment or AWS profiles).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RemoteTarget {
    /// `s3://BUCKET/PREFIX`, `gs://…` or `az://…`.
    pub url: String,
    /// An S3-compatible or Azure endpoint; empty: the provider's own.
    pub endpoint: String,
    pub kind: RemoteKind,
}

/// How many remote targets are remembered.
pub const REMOTE_TARGETS: usize = 8;

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
            remote_targets: Vec::new(),
        }
    }
}
