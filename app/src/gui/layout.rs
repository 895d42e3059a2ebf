//! The dockable layout: which panes exist and where they start.

use egui_tiles::{Tile, Tiles, Tree};

/// Every pane of the main window. Each appears exactly once in the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Pane {
    Cameras,
    Arm,
    Instruction,
    Trajectory,
    Session,
    Log,
    Rollout,
}

impl Pane {
    pub const ALL: [Self; 7] =
        [Self::Cameras, Self::Arm, Self::Instruction, Self::Rollout, Self::Trajectory, Self::Session, Self::Log];

    /// Tab title; also the pane's accessible label.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::Cameras => "Cameras",
            Self::Arm => "Arm (3D)",
            Self::Instruction => "Instruction & Reasoning",
            Self::Trajectory => "Trajectory",
            Self::Session => "Session / Timeline",
            Self::Log => "Log",
            Self::Rollout => "Rollout",
        }
    }
}

/// The layout a new install starts with:
/// cameras and the 3D arm on the left, instruction/rollout, trajectory and session/log on the right.
#[must_use]
pub fn default_layout() -> Tree<Pane> {
    let mut tiles = Tiles::default();
    let cameras = tiles.insert_pane(Pane::Cameras);
    let arm = tiles.insert_pane(Pane::Arm);
    let instruction = tiles.insert_pane(Pane::Instruction);
    let trajectory = tiles.insert_pane(Pane::Trajectory);
    let session = tiles.insert_pane(Pane::Session);
    let log = tiles.insert_pane(Pane::Log);
    let rollout = tiles.insert_pane(Pane::Rollout);

    let left = tiles.insert_vertical_tile(vec![cameras, arm]);
    let top_right = tiles.insert_tab_tile(vec![instruction, rollout]);
    let bottom_right = tiles.insert_tab_tile(vec![session, log]);
    let right = tiles.insert_vertical_tile(vec![top_right, trajectory, bottom_right]);
    // The Trajectory pane gets the most height: every joint's plot and the flange speed without scrolling.
    if let Some(Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(right) {
        linear.shares.set_share(top_right, 0.95);
        linear.shares.set_share(trajectory, 1.45);
        linear.shares.set_share(bottom_right, 0.8);
    }
    let root = tiles.insert_horizontal_tile(vec![left, right]);
    if let Some(Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(root) {
        linear.shares.set_share(left, 1.4);
        linear.shares.set_share(right, 1.0);
    }
    Tree::new(egui::Id::unique("kinedesk_layout"), root, tiles)
}

/// The named layouts of View → Layout: one per kind of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamedLayout {
    /// Plan, review and send: cameras and the arm beside the instruction, the trajectory and the session (the default).
    Operate,
    /// Annotate recordings: the Session / Timeline pane takes most of the window, the cameras and the arm beside it,
    /// the rest in tabs.
    Annotate,
}

impl NamedLayout {
    pub const ALL: [Self; 2] = [Self::Operate, Self::Annotate];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Operate => "Operate (plan, review, send)",
            Self::Annotate => "Annotate (timeline first)",
        }
    }

    #[must_use]
    pub fn tree(self) -> Tree<Pane> {
        match self {
            Self::Operate => default_layout(),
            Self::Annotate => annotate_layout(),
        }
    }
}

/// The Annotate layout: the Session / Timeline pane on the left at two thirds of the width; the cameras and the arm
/// on the right above tabs with the other panes.
#[must_use]
pub fn annotate_layout() -> Tree<Pane> {
    let mut tiles = Tiles::default();
    let session = tiles.insert_pane(Pane::Session);
    let cameras = tiles.insert_pane(Pane::Cameras);
    let arm = tiles.insert_pane(Pane::Arm);
    let instruction = tiles.insert_pane(Pane::Instruction);
    let trajectory = tiles.insert_pane(Pane::Trajectory);
    let rollout = tiles.insert_pane(Pane::Rollout);
    let log = tiles.insert_pane(Pane::Log);
    let others = tiles.insert_tab_tile(vec![log, instruction, trajectory, rollout]);
    let right = tiles.insert_vertical_tile(vec![cameras, arm, others]);
    let root = tiles.insert_horizontal_tile(vec![session, right]);
    if let Some(Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(root) {
        linear.shares.set_share(session, 2.0);
        linear.shares.set_share(right, 1.0);
    }
    Tree::new(egui::Id::unique("kinedesk_layout"), root, tiles)
}

/// A stored layout is usable only if every pane appears exactly once.
#[must_use]
pub fn layout_is_complete(tree: &Tree<Pane>) -> bool {
    Pane::ALL
        .iter()
        .all(|pane| tree.tiles.tiles().filter(|tile| matches!(tile, Tile::Pane(p) if p == pane)).count() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_layout_has_every_pane_once() {
        assert!(layout_is_complete(&default_layout()));
        for named in NamedLayout::ALL {
            assert!(layout_is_complete(&named.tree()), "{named:?}");
        }
    }

    #[test]
    fn a_layout_missing_a_pane_is_rejected() {
        let tree = Tree::new_tabs(egui::Id::unique("partial"), vec![Pane::Cameras, Pane::Log]);
        assert!(!layout_is_complete(&tree));
        let doubled = Tree::new_tabs(egui::Id::unique("doubled"), [Pane::ALL.as_slice(), &[Pane::Log]].concat());
        assert!(!layout_is_complete(&doubled));
    }

    #[test]
    fn the_layout_survives_a_json_round_trip() {
        let json = serde_json::to_string(&default_layout()).unwrap();
        let back: Tree<Pane> = serde_json::from_str(&json).unwrap();
        assert!(layout_is_complete(&back));
    }
}
