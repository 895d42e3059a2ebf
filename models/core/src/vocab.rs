//! The words KineVLA's bi-level reasoning is made of, shared by the policy, the sessions and the UI: the
//! action-level stage kinds and the instruction-level constraint kinds. Each has one name used in reasoning text,
//! annotations and exports, so a stage planned by the policy, drawn on the timeline and exported as a LeRobot
//! `subtask` is the same value everywhere.

use std::fmt;

/// What a stage of the action-level reasoning does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    Approach,
    Grasp,
    Lift,
    Rotate,
    Move,
    Place,
    Release,
    /// Holding still (the planner's "wait"); not one of the paper's seven stages.
    Wait,
}

impl StageKind {
    /// Every kind, the paper's seven in their usual order first.
    pub const ALL: [Self; 8] =
        [Self::Approach, Self::Grasp, Self::Lift, Self::Rotate, Self::Move, Self::Place, Self::Release, Self::Wait];
    /// The seven stages of KineVLA's action-level reasoning (annotation keys 1–7).
    pub const KINEVLA: [Self; 7] =
        [Self::Approach, Self::Grasp, Self::Lift, Self::Rotate, Self::Move, Self::Place, Self::Release];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Approach => "approach",
            Self::Grasp => "grasp",
            Self::Lift => "lift",
            Self::Rotate => "rotate",
            Self::Move => "move",
            Self::Place => "place",
            Self::Release => "release",
            Self::Wait => "wait",
        }
    }

    /// The kind with this name (case and surrounding space ignored).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL.into_iter().find(|kind| kind.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for StageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A stage's label: one of the known kinds, or a name an annotator typed. Stored as its plain name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StageLabel {
    Kind(StageKind),
    Custom(String),
}

impl StageLabel {
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Kind(kind) => kind.name(),
            Self::Custom(name) => name,
        }
    }

    #[must_use]
    pub fn kind(&self) -> Option<StageKind> {
        match self {
            Self::Kind(kind) => Some(*kind),
            Self::Custom(_) => None,
        }
    }
}

impl From<String> for StageLabel {
    fn from(name: String) -> Self {
        StageKind::from_name(&name).map_or_else(|| Self::Custom(name.trim().to_owned()), Self::Kind)
    }
}

impl From<&str> for StageLabel {
    fn from(name: &str) -> Self {
        Self::from(name.to_owned())
    }
}

impl From<StageKind> for StageLabel {
    fn from(kind: StageKind) -> Self {
        Self::Kind(kind)
    }
}

impl From<StageLabel> for String {
    fn from(label: StageLabel) -> Self {
        label.name().to_owned()
    }
}

impl fmt::Display for StageLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Kinds of instruction-level constraint: the paper's six plus the object itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    Object,
    ObjectPart,
    Direction,
    Distance,
    Rotation,
    Speed,
    TargetRelation,
}

impl ConstraintKind {
    /// Every kind: the object, then the paper's six in the order reasoning lists them.
    pub const ALL: [Self; 7] = [
        Self::Object,
        Self::Direction,
        Self::Distance,
        Self::Rotation,
        Self::Speed,
        Self::ObjectPart,
        Self::TargetRelation,
    ];
    /// The six kinds an annotation holds as fields (the object is the instruction's own subject).
    pub const ANNOTATED: [Self; 6] =
        [Self::Direction, Self::Distance, Self::Rotation, Self::Speed, Self::ObjectPart, Self::TargetRelation];

    /// The key used in reasoning text (`distance: 0.050 m`) and in exports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::ObjectPart => "object part",
            Self::Direction => "direction",
            Self::Distance => "distance",
            Self::Rotation => "rotation",
            Self::Speed => "speed",
            Self::TargetRelation => "target relation",
        }
    }

    /// The kind with this key; `object_part` and `orientation` (the paper's word for rotation) are accepted too.
    #[must_use]
    pub fn from_name(key: &str) -> Option<Self> {
        let key = key.trim().to_ascii_lowercase().replace('_', " ");
        if key == "orientation" {
            return Some(Self::Rotation);
        }
        Self::ALL.into_iter().find(|kind| kind.name() == key)
    }
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_custom_labels_stay_custom() {
        for kind in StageKind::ALL {
            assert_eq!(StageKind::from_name(kind.name()), Some(kind));
            assert_eq!(StageLabel::from(kind.name().to_uppercase()), StageLabel::Kind(kind));
        }
        assert_eq!(StageLabel::from("wipe"), StageLabel::Custom("wipe".into()));
        let json = serde_json::to_string(&vec![StageLabel::Kind(StageKind::Lift), "wipe".into()]).unwrap();
        assert_eq!(json, r#"["lift","wipe"]"#);
        for kind in ConstraintKind::ALL {
            assert_eq!(ConstraintKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ConstraintKind::from_name("object_part"), Some(ConstraintKind::ObjectPart));
        assert_eq!(ConstraintKind::from_name("Orientation"), Some(ConstraintKind::Rotation));
        assert_eq!(ConstraintKind::from_name("colour"), None);
    }
}
