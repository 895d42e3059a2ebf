//! English kinematic instructions → instruction-level constraints and action-level stages.
//!
//! This is the front half of the built-in *rule-based* planner (not a learned model). It understands:
//! - stage sequences split by `then`, `and`, `after that`, `finally`, commas and semicolons;
//! - actions: approach, grasp/grab/close, lift/raise/pick up, lower, move/slide/push/shift/carry, rotate/turn/twist,
//!   tilt, place/put/set down, release/open/let go/drop, wait/pause;
//! - directions relative to the robot base (x forward, y left, z up) or to the gripper (`relative to the gripper`,
//!   `in the gripper frame`);
//! - distances with units (mm, cm, m, inches, feet; digits or number words), angles (degrees, radians, `a quarter
//!   turn`, `half a turn`), rotation sense (clockwise/counterclockwise, as seen from above or along the axis) and axis
//!   (`about the x axis`, roll/pitch/yaw, vertical);
//! - speeds (`slowly`, `quickly`, `at 5 cm/s`, `at 30 degrees per second`, `in 3 seconds`);
//! - the object (`the mug`), its part (`by its handle`) and target relations (`left of the plate`, `in front of`,
//!   `behind`, `on top of`).
//!
//! What it does not understand it says, with the words; it never guesses silently. Every word of an instruction is
//! accounted for (as an action, an amount, a direction, a speed, a frame, the object, its part or a target) or the
//! instruction is refused with the words it could not account for. Negations, repetitions, exceptions, conditions
//! and negative amounts are refused with the reason. Where a default is used (lift height, the distance implied by
//! "left of the plate", which the planner cannot see) the reasoning says so.
//!
//! Three layers, each with its own tests: [`lexer`] (text → tokens), [`clause`] (tokens → clauses → facts, every
//! word accounted for) and [`builder`] (facts → constraints and stages); [`words`] is the vocabulary.

use std::fmt;
use std::ops::Range;

mod builder;
mod clause;
mod lexer;
mod words;

use glam::DVec3;
pub use kinedesk_core::vocab::{ConstraintKind, StageKind};

/// Default heights and distances the planner uses when the instruction leaves them out (always reported).
pub const DEFAULT_LIFT_M: f64 = 0.10;
pub const DEFAULT_APPROACH_M: f64 = 0.05;
pub const DEFAULT_RELATION_M: f64 = 0.10;
pub const DEFAULT_LOWER_M: f64 = 0.05;

/// The fastest the planner will go, and the longest a stage may take.
pub const MAX_SPEED_M_S: f64 = 0.5;
pub const MAX_SPEED_RAD_S: f64 = std::f64::consts::PI;
pub const MAX_DURATION_S: f64 = 120.0;
/// Longest instruction read, in characters: a paragraph; longer text is not one plan's instruction.
pub const MAX_INSTRUCTION_CHARS: usize = 1000;
/// Most stages in one plan.
pub const MAX_STAGES: usize = 32;
/// Longest plan, all stages together (s): the command layer's longest trajectory.
pub const MAX_PLAN_S: f64 = 600.0;
/// Speed when none is asked for.
pub const DEFAULT_SPEED_M_S: f64 = 0.05;
/// 30°/s.
pub const DEFAULT_SPEED_RAD_S: f64 = 0.523_598_775_598_298_8;

/// The frame a direction or rotation axis is given in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    Base,
    Gripper,
}

impl Frame {
    fn name(self) -> &'static str {
        match self {
            Self::Base => "base frame",
            Self::Gripper => "gripper frame",
        }
    }
}

/// What the end effector does in a stage.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    /// Move `distance_m` along the unit vector `direction` (in `frame`) at `speed_m_s` on average.
    Translate { direction: DVec3, distance_m: f64, frame: Frame, speed_m_s: f64 },
    /// Rotate by `angle_rad` (right-handed) about the unit `axis` (in `frame`) at `speed_rad_s` on average.
    Rotate { axis: DVec3, angle_rad: f64, frame: Frame, speed_rad_s: f64 },
    /// Open or close the gripper.
    Gripper { close: bool },
    /// Hold still.
    Hold { duration_s: f64 },
}

/// One action-level stage, with the part of the instruction it came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    pub kind: StageKind,
    pub motion: Motion,
    /// Byte range of the instruction text this stage was read from.
    pub source: Range<usize>,
    /// What the stage does, in words (shown as action-level reasoning).
    pub description: String,
}

/// One instruction-level constraint, e.g. `distance: 0.050 m`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Constraint {
    pub kind: ConstraintKind,
    pub value: String,
    pub source: Range<usize>,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.value)
    }
}

/// An instruction read into constraints and stages.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParsedInstruction {
    pub constraints: Vec<Constraint>,
    pub stages: Vec<Stage>,
}

/// Why an instruction could not be read: the words, where they are, and what would work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot plan \"{phrase}\": {reason}")]
pub struct InstructionError {
    pub span: Range<usize>,
    pub phrase: String,
    pub reason: String,
}

/// Reads `text` into constraints and stages. `gripper_closed` is the gripper's state before the first stage.
pub fn parse_instruction(text: &str, gripper_closed: bool) -> Result<ParsedInstruction, InstructionError> {
    let whole = |reason: String| InstructionError { span: 0..text.len(), phrase: shorten(text), reason };
    let chars = text.chars().count();
    if chars > MAX_INSTRUCTION_CHARS {
        return Err(whole(format!(
            "the instruction is {chars} characters long (at most {MAX_INSTRUCTION_CHARS}); give it in parts"
        )));
    }
    let tokens = lexer::lex(text);
    if tokens.iter().all(|t| t.lexeme == lexer::Lexeme::Separator) {
        return Err(InstructionError {
            span: 0..text.len(),
            phrase: text.to_owned(),
            reason: "the instruction is empty; try e.g. 'lift the mug 10 cm, then rotate it 90 degrees clockwise'"
                .into(),
        });
    }
    let mut builder =
        builder::Builder { out: ParsedInstruction::default(), gripper_closed, lifted_m: 0.0, object: None };
    let mut previous_verb = None;
    for range in clause::split_clauses(&tokens) {
        let clause = clause::Clause { tokens: &tokens[range], text };
        let facts = clause::read_clause(&clause)?;
        previous_verb = Some(builder.clause(&clause, facts, previous_verb)?);
        if builder.out.stages.len() > MAX_STAGES {
            return Err(whole(format!("the instruction has more than {MAX_STAGES} motions; give it in parts")));
        }
    }
    let total: f64 = builder.out.stages.iter().map(|stage| stage.motion.nominal_duration_s()).sum();
    if total > MAX_PLAN_S {
        return Err(whole(format!(
            "together the motions would take {total:.0} s, longer than one plan may take ({MAX_PLAN_S:.0} s); give it \
             in parts"
        )));
    }
    Ok(builder.out)
}

/// The instruction as quoted in an error: the first 80 characters of a long one.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(80).collect::<String>())
    }
}

impl Motion {
    /// How long the motion takes at its asked speed (gripper moves counted as 1 s; the planner adds ramps).
    #[must_use]
    pub fn nominal_duration_s(&self) -> f64 {
        match *self {
            Self::Translate { distance_m, speed_m_s, .. } => distance_m.abs() / speed_m_s.max(1e-9),
            Self::Rotate { angle_rad, speed_rad_s, .. } => angle_rad.abs() / speed_rad_s.max(1e-9),
            Self::Gripper { .. } => 1.0,
            Self::Hold { duration_s } => duration_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(text: &str) -> Vec<String> {
        parse_instruction(text, false).unwrap().stages.into_iter().map(|s| s.description).collect()
    }

    #[test]
    fn instructions_too_long_for_one_plan_are_refused_at_once() {
        let started = std::time::Instant::now();
        let many = vec!["move 1 cm left"; 1000].join(", then ");
        let error = parse_instruction(&many, false).unwrap_err();
        assert!(error.reason.contains("characters long"), "{error}");
        assert!(error.phrase.chars().count() <= 81, "the error quotes the start, not 20 kB");
        let forty = vec!["move 1 cm left"; 40].join(", then ");
        assert!(forty.len() <= MAX_INSTRUCTION_CHARS);
        let error = parse_instruction(&forty, false).unwrap_err();
        assert!(error.reason.contains("more than 32 motions"), "{error}");
        let slow = ["move 10 cm left at 1 mm/s"; 7].join(", then ");
        let error = parse_instruction(&slow, false).unwrap_err();
        assert!(error.reason.contains("longer than one plan may take"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn a_whole_instruction_becomes_constraints_and_stages() {
        let parsed = parse_instruction(
            "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate",
            false,
        )
        .unwrap();
        let constraints: Vec<String> = parsed.constraints.iter().map(ToString::to_string).collect();
        assert!(constraints.contains(&"object: mug".to_owned()), "{constraints:?}");
        assert!(constraints.contains(&"object part: handle".to_owned()), "{constraints:?}");
        assert!(constraints.iter().any(|c| c.starts_with("rotation: 90° clockwise about z")), "{constraints:?}");
        assert!(constraints.iter().any(|c| c.starts_with("target relation: left of plate")), "{constraints:?}");
        let kinds: Vec<&str> = parsed.stages.iter().map(|s| s.kind.name()).collect();
        assert_eq!(kinds, ["grasp", "lift", "rotate", "move", "place", "release"]);
    }

    #[test]
    fn amounts_by_and_a_unit_plan_exactly_what_was_asked() {
        assert_eq!(stages("move left by 80 mm"), ["move: left 0.080 m at 0.050 m/s"]);
        assert_eq!(stages("move a centimetre up"), ["move: up 0.010 m at 0.050 m/s"]);
        assert_eq!(stages("lift it by two inches"), ["lift: up 0.051 m at 0.050 m/s"]);
        assert_eq!(stages("rotate it clockwise by 60 degrees"), ["rotate: 60° clockwise about z at 30°/s"]);
        assert_eq!(stages("slide it towards the right side by 3 cm"), ["move: right 0.030 m at 0.050 m/s"]);
    }

    #[test]
    fn what_cannot_be_done_as_asked_is_refused() {
        for (text, reason) in [
            ("move -5 cm left", "negative amount"),
            ("rotate -90 degrees clockwise", "negative amount"),
            ("move 5 cm left in 1 ms", "faster than the planner goes"),
            ("rotate 90 degrees clockwise in 10 ms", "faster than the planner goes"),
            ("move 5 cm left at 2 m/s", "out of range"),
            ("move 5 cm towards the plate", "cannot see where the plate is"),
            ("move 3 m left", "out of range"),
            ("", "empty"),
        ] {
            let error = parse_instruction(text, false).unwrap_err();
            assert!(error.reason.contains(reason), "{text:?}: {error}");
            assert!(!error.to_string().contains("byte"), "errors quote the words, not byte offsets: {error}");
        }
    }
}
