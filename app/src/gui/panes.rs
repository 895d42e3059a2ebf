//! The panes of the main window, one module each, and the `egui_tiles` behaviour that draws them.

pub mod annotate_ui;
pub mod arm_pane;
pub mod cameras_pane;
pub mod instruction_pane;
mod log_pane;
pub mod rollout_pane;
pub mod session_pane;
pub mod trajectory_pane;

use std::collections::VecDeque;

use egui::{Ui, WidgetText};
use egui_tiles::{SimplificationOptions, TileId, UiResponse};
use kinedesk_widgets::{LogEntry, LogFilter};

use crate::gui::arm_state::ArmState;
use crate::gui::command::Command;
use crate::gui::layout::Pane;

/// What panes may read this frame, and where they put the commands they emit.
pub struct PaneContext<'a> {
    pub robot_connected: bool,
    pub teleop: &'a crate::gui::teleop::Teleop,
    pub log: &'a VecDeque<LogEntry>,
    pub log_filter: &'a mut LogFilter,
    pub arm: &'a mut ArmState,
    pub policy: &'a mut crate::gui::policy_state::PolicyState,
    /// The persisted policy settings (changed only through commands).
    pub policy_settings: &'a crate::gui::policy_state::PolicySettings,
    /// Whether the connected robot is healthy and where it is, for the review's Send readiness.
    pub robot_health: Result<(), String>,
    /// The background tasks (export, import, listing), for their progress.
    pub tasks: &'a crate::gui::session_state::SessionTasks,
    pub cameras: &'a crate::gui::camera_feeds::CameraFeeds,
    pub session: &'a mut crate::gui::session_state::SessionState,
    pub commands: &'a mut Vec<Command>,
    /// The pane shown over the whole window, if any.
    pub maximised: Option<Pane>,
    /// The closed-loop rollout and its settings (changed only through commands).
    pub rollout: &'a mut crate::gui::rollout_state::RolloutView,
    pub rollout_settings: &'a crate::gui::rollout_state::RolloutSettings,
    /// Object storage pushed to or pulled from lately (newest first).
    pub remote_targets: &'a [crate::gui::settings::RemoteTarget],
}

impl egui_tiles::Behavior<Pane> for PaneContext<'_> {
    fn pane_ui(&mut self, ui: &mut Ui, _tile_id: TileId, pane: &mut Pane) -> UiResponse {
        egui::Frame::new().inner_margin(6.0).show(ui, |ui| {
            ui.set_min_size(ui.available_size());
            match pane {
                Pane::Cameras => cameras_pane::cameras_pane_ui(ui, self),
                Pane::Arm => arm_pane::arm_pane_ui(ui, self),
                Pane::Instruction => instruction_pane::instruction_pane_ui(ui, self),
                Pane::Trajectory => trajectory_pane::trajectory_pane_ui(ui, self),
                Pane::Session => session_pane::session_pane_ui(ui, self),
                Pane::Log => log_pane::log_pane_ui(ui, self),
                Pane::Rollout => rollout_pane::rollout_pane_ui(ui, self),
            }
        });
        UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> WidgetText {
        pane.title().into()
    }

    fn simplification_options(&self) -> SimplificationOptions {
        SimplificationOptions { all_panes_must_have_tabs: true, ..SimplificationOptions::default() }
    }

    fn is_tab_closable(&self, _tiles: &egui_tiles::Tiles<Pane>, _tile_id: TileId) -> bool {
        false
    }
}
