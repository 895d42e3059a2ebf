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
//! What it does not understand it says, with the words and where they are; it never guesses silently. Where a
//! default is used (lift height, the distance implied by "left of the plate", which the planner cannot see) the
//! reasoning says so.

use std::fmt;
use std::ops::Range;

use glam::DVec3;
pub use kinedesk_core::vocab::{ConstraintKind, StageKind};

/// Default heights and distances the planner uses when the instruction leaves them out (always reported).
pub const DEFAULT_LIFT_M: f64 = 0.10;
pub const DEFAULT_APPROACH_M: f64 = 0.05;
pub const DEFAULT_RELATION_M: f64 = 0.10;
pub const DEFAULT_LOWER_M: f64 = 0.05;

/// Named speeds: (words, name, linear m/s, angular rad/s: 7.5, 15, 30 or 60 °/s).
const SPEED_WORDS: &[(&str, &str, f64, f64)] = &[
    ("very slowly", "very slow", 0.01, 0.130_899_693_899_574_7),
    ("very slow", "very slow", 0.01, 0.130_899_693_899_574_7),
    ("slowly", "slow", 0.02, 0.261_799_387_799_149_4),
    ("slow", "slow", 0.02, 0.261_799_387_799_149_4),
    ("gently", "slow", 0.02, 0.261_799_387_799_149_4),
    ("carefully", "slow", 0.02, 0.261_799_387_799_149_4),
    ("quickly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("fast", "fast", 0.10, 1.047_197_551_196_597_7),
    ("rapidly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("swiftly", "fast", 0.10, 1.047_197_551_196_597_7),
    ("normally", "normal", 0.05, 0.523_598_775_598_298_8),
];
/// The fastest the planner will go, and the longest a stage may take.
pub const MAX_SPEED_M_S: f64 = 0.5;
pub const MAX_SPEED_RAD_S: f64 = std::f64::consts::PI;
pub const MAX_DURATION_S: f64 = 120.0;
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
#[error("cannot plan \"{phrase}\" (at byte {}): {reason}", span.start)]
pub struct InstructionError {
    pub span: Range<usize>,
    pub phrase: String,
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum Lexeme {
    Number(f64),
    Word(String),
    Separator,
}

#[derive(Clone, Debug)]
struct Token {
    lexeme: Lexeme,
    span: Range<usize>,
}

impl Token {
    fn word(&self) -> Option<&str> {
        match &self.lexeme {
            Lexeme::Word(word) => Some(word),
            _ => None,
        }
    }
}

fn lex(text: &str) -> Vec<Token> {
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| bytes.get(i).map_or(text.len(), |(at, _)| *at);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (start, c) = bytes[i];
        if c.is_ascii_digit() || (c == '.' && bytes.get(i + 1).is_some_and(|(_, d)| d.is_ascii_digit())) {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].1.is_ascii_digit()
                    || (bytes[j].1 == '.' && bytes.get(j + 1).is_some_and(|(_, d)| d.is_ascii_digit())))
            {
                j += 1;
            }
            let literal = &text[start..end_of(j)];
            let value = literal.parse::<f64>().unwrap_or(f64::NAN);
            tokens.push(Token { lexeme: Lexeme::Number(value), span: start..end_of(j) });
            i = j;
        } else if c.is_alphabetic() || c == '\'' {
            let mut j = i;
            while j < bytes.len() && (bytes[j].1.is_alphabetic() || bytes[j].1 == '\'' || bytes[j].1 == '-') {
                j += 1;
            }
            let raw = text[start..end_of(j)].trim_end_matches('-').to_lowercase();
            let raw = raw.trim_end_matches("'s").replace('\'', "");
            // Split hyphenated number words ("forty-five") but keep "counter-clockwise" whole.
            let parts: Vec<&str> = raw.split('-').filter(|p| !p.is_empty()).collect();
            if parts.len() > 1 && parts.iter().all(|p| number_word(p).is_some()) {
                let mut offset = start;
                for part in parts {
                    tokens.push(Token { lexeme: Lexeme::Word(part.to_owned()), span: offset..offset + part.len() });
                    offset += part.len() + 1;
                }
            } else {
                tokens.push(Token { lexeme: Lexeme::Word(raw.replace('-', "")), span: start..end_of(j) });
            }
            i = j;
        } else if matches!(c, ',' | ';' | '.' | '!' | '\n') {
            tokens.push(Token { lexeme: Lexeme::Separator, span: start..end_of(i + 1) });
            i += 1;
        } else if c == '/' {
            tokens.push(Token { lexeme: Lexeme::Word("per".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c == '°' {
            tokens.push(Token { lexeme: Lexeme::Word("degrees".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c == '"' && matches!(tokens.last(), Some(Token { lexeme: Lexeme::Number(_), .. })) {
            tokens.push(Token { lexeme: Lexeme::Word("inches".into()), span: start..end_of(i + 1) });
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            tokens.push(Token { lexeme: Lexeme::Word(c.to_string()), span: start..end_of(i + 1) });
            i += 1;
        }
    }
    merge_number_words(&tokens)
}

fn number_word(word: &str) -> Option<f64> {
    const SMALL: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(i) = SMALL.iter().position(|w| *w == word) {
        return Some(i as f64);
    }
    if let Some(i) = TENS.iter().position(|w| *w == word) {
        return Some(20.0 + 10.0 * i as f64);
    }
    match word {
        "hundred" => Some(100.0),
        _ => None,
    }
}

/// "forty five" → 45, "one hundred and eighty" → 180, "a hundred" → 100.
fn merge_number_words(tokens: &[Token]) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let starts_number = tokens[i].word().and_then(number_word).is_some()
            || (tokens[i].word() == Some("a") && tokens.get(i + 1).and_then(Token::word) == Some("hundred"));
        if !starts_number {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        let start = tokens[i].span.start;
        let mut end = tokens[i].span.end;
        let mut total = 0.0;
        let mut current = 0.0_f64;
        let mut j = i;
        while j < tokens.len() {
            let word = tokens[j].word().unwrap_or("");
            if word == "a" && j == i {
                current = 1.0;
            } else if word == "hundred" {
                current = current.max(1.0) * 100.0;
                total += current;
                current = 0.0;
            } else if word == "and"
                && j > i
                && tokens.get(j + 1).and_then(Token::word).and_then(number_word).is_some()
                && total > 0.0
            {
                // "one hundred and eighty"
            } else if let Some(value) = number_word(word).filter(|v| *v < 100.0) {
                // "forty five": a unit after a ten; otherwise a new number starts.
                if current > 0.0 && !(current >= 20.0 && current % 10.0 == 0.0 && value < 10.0) {
                    break;
                }
                current += value;
            } else {
                break;
            }
            end = tokens[j].span.end;
            j += 1;
        }
        out.push(Token { lexeme: Lexeme::Number(total + current), span: start..end });
        i = j;
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Vocabulary

fn verb(word: &str) -> Option<StageKind> {
    Some(match word {
        "approach" | "reach" => StageKind::Approach,
        "grasp" | "grab" | "grip" | "close" | "seize" | "pinch" | "clamp" => StageKind::Grasp,
        "lift" | "raise" | "pick" | "hoist" | "elevate" => StageKind::Lift,
        "rotate" | "turn" | "twist" | "spin" | "tilt" | "roll" => StageKind::Rotate,
        "move" | "slide" | "shift" | "push" | "pull" | "carry" | "bring" | "drag" | "nudge" | "translate" | "go"
        | "lower" | "descend" | "take" => StageKind::Move,
        "place" | "put" | "set" | "deposit" => StageKind::Place,
        "release" | "open" | "drop" | "let" | "ungrasp" => StageKind::Release,
        "wait" | "pause" | "hold" => StageKind::Wait,
        _ => return None,
    })
}

/// A base-frame direction word: x forward, y left, z up.
fn direction(word: &str) -> Option<(DVec3, &'static str)> {
    Some(match word {
        "left" | "leftward" | "leftwards" => (DVec3::Y, "left"),
        "right" | "rightward" | "rightwards" => (DVec3::NEG_Y, "right"),
        "forward" | "forwards" | "ahead" | "away" | "outward" | "outwards" => (DVec3::X, "forward"),
        "back" | "backward" | "backwards" | "toward" | "towards" | "inward" | "inwards" => (DVec3::NEG_X, "back"),
        "up" | "upward" | "upwards" | "higher" => (DVec3::Z, "up"),
        "down" | "downward" | "downwards" => (DVec3::NEG_Z, "down"),
        _ => return None,
    })
}

fn length_unit(word: &str) -> Option<f64> {
    Some(match word {
        "mm" | "millimeter" | "millimeters" | "millimetre" | "millimetres" => 0.001,
        "cm" | "centimeter" | "centimeters" | "centimetre" | "centimetres" | "cms" => 0.01,
        "m" | "meter" | "meters" | "metre" | "metres" => 1.0,
        "in" | "inch" | "inches" => 0.0254,
        "ft" | "foot" | "feet" => 0.3048,
        _ => return None,
    })
}

fn angle_unit(word: &str) -> Option<f64> {
    Some(match word {
        "degree" | "degrees" | "deg" | "degs" => std::f64::consts::PI / 180.0,
        "radian" | "radians" | "rad" | "rads" => 1.0,
        "turn" | "turns" | "revolution" | "revolutions" => std::f64::consts::TAU,
        _ => return None,
    })
}

fn time_unit(word: &str) -> Option<f64> {
    Some(match word {
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" | "millisecond" | "milliseconds" => 0.001,
        "min" | "minute" | "minutes" => 60.0,
        _ => return None,
    })
}

/// Words that carry no meaning for the planner.
fn filler(word: &str) -> bool {
    matches!(
        word,
        "the"
            | "a"
            | "an"
            | "it"
            | "its"
            | "them"
            | "this"
            | "that"
            | "please"
            | "now"
            | "to"
            | "of"
            | "by"
            | "with"
            | "from"
            | "and"
            | "then"
            | "again"
            | "object"
            | "gripper"
            | "hand"
            | "arm"
            | "robot"
            | "end"
            | "effector"
            | "about"
            | "around"
            | "axis"
            | "its own"
            | "own"
            | "so"
            | "is"
            | "in"
            | "for"
            | "over"
            | "at"
            | "speed"
            | "rate"
            | "per"
            | "sideways"
            | "distance"
            | "more"
            | "up"
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Clauses

struct Clause<'a> {
    tokens: &'a [Token],
    text: &'a str,
}

impl Clause<'_> {
    fn span(&self) -> Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => first.span.start..last.span.end,
            _ => 0..0,
        }
    }

    fn word(&self, i: usize) -> Option<&str> {
        self.tokens.get(i).and_then(Token::word)
    }

    fn error(&self, range: Range<usize>, reason: impl Into<String>) -> InstructionError {
        let start = self.tokens.get(range.start).map_or(0, |t| t.span.start);
        let end = self.tokens.get(range.end.saturating_sub(1)).map_or(start, |t| t.span.end);
        InstructionError { span: start..end, phrase: self.text[start..end].to_owned(), reason: reason.into() }
    }

    fn whole_error(&self, reason: impl Into<String>) -> InstructionError {
        self.error(0..self.tokens.len(), reason)
    }
}

/// Splits at separators, "then", "after that", "afterwards", "finally", and at "and" unless it sits inside a
/// number ("one hundred and eighty") or joins two directions ("forward and left").
fn split_clauses(tokens: &[Token]) -> Vec<Range<usize>> {
    let mut clauses = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < tokens.len() {
        let word = tokens[i].word();
        let next = tokens.get(i + 1).and_then(Token::word);
        let split_len = match (&tokens[i].lexeme, word) {
            (Lexeme::Separator, _) | (_, Some("then" | "afterwards" | "finally" | "afterward")) => 1,
            (_, Some("after")) if next == Some("that") || next == Some("this") => 2,
            (_, Some("and")) => {
                let prev = i.checked_sub(1).and_then(|p| tokens[p].word());
                let joins_directions = prev.and_then(direction).is_some() && next.and_then(direction).is_some();
                if joins_directions { 0 } else { 1 }
            }
            _ => 0,
        };
        if split_len > 0 {
            if start < i {
                clauses.push(start..i);
            }
            start = i + split_len;
            i += split_len;
        } else {
            i += 1;
        }
    }
    if start < tokens.len() {
        clauses.push(start..tokens.len());
    }
    clauses
}

/// The quantities and words found in one clause.
#[derive(Default)]
struct ClauseFacts {
    verb: Option<(StageKind, usize, String)>,
    distance: Option<(f64, Range<usize>)>,
    angle: Option<(f64, Range<usize>)>,
    speed_m_s: Option<(f64, String)>,
    speed_rad_s: Option<(f64, String)>,
    duration_s: Option<f64>,
    directions: Vec<(DVec3, &'static str, usize)>,
    sense: Option<(f64, usize)>,
    axis: Option<(DVec3, &'static str)>,
    frame: Option<Frame>,
    object: Option<String>,
    part: Option<String>,
    relation: Option<(DVec3, String, bool)>,
    mentions_gripper: bool,
}

/// Reads a noun phrase starting at `i` (after determiners) up to a keyword; returns the words and the next index.
fn noun_phrase(clause: &Clause<'_>, mut i: usize) -> (String, usize) {
    while matches!(clause.word(i), Some("the" | "a" | "an" | "its" | "their")) {
        i += 1;
    }
    let mut words = Vec::new();
    while let Some(word) = clause.word(i) {
        let keyword = verb(word).is_some()
            || direction(word).is_some()
            || filler(word) && !matches!(word, "object")
            || SPEED_WORDS.iter().any(|(w, ..)| w.split(' ').next() == Some(word))
            || matches!(word, "clockwise" | "counterclockwise" | "anticlockwise" | "on" | "onto" | "into" | "behind")
            || matches!(word, "quarter" | "half" | "full" | "whole" | "vertical" | "roll" | "pitch" | "yaw")
            || matches!(word, "x" | "y" | "z") && clause.word(i + 1) == Some("axis");
        if keyword {
            break;
        }
        words.push(word.to_owned());
        i += 1;
    }
    (words.join(" "), i)
}

fn read_clause(clause: &Clause<'_>) -> Result<ClauseFacts, InstructionError> {
    let mut facts = ClauseFacts::default();
    let n = clause.tokens.len();
    let mut used = vec![false; n];
    let mut i = 0;
    while i < n {
        let token = &clause.tokens[i];
        let word = token.word().unwrap_or("");
        let next = clause.word(i + 1).unwrap_or("");
        // Numbers with their units.
        if let Lexeme::Number(value) = token.lexeme {
            if !value.is_finite() {
                return Err(clause.error(i..i + 1, "this number cannot be read"));
            }
            if let Some(scale) = length_unit(next) {
                let per_time = (clause.word(i + 2) == Some("per")).then(|| clause.word(i + 3).and_then(time_unit));
                match per_time {
                    Some(Some(seconds)) => {
                        let speed = value * scale / seconds;
                        facts.speed_m_s = Some((speed, format!("{speed:.3} m/s")));
                        used[i..i + 4].fill(true);
                        i += 4;
                    }
                    Some(None) => return Err(clause.error(i..i + 3, "a speed needs a time unit, e.g. 5 cm/s")),
                    None => {
                        if facts.distance.is_some() && facts.verb.is_some() {
                            return Err(clause.error(
                                i..i + 2,
                                "two distances in one step; split them with 'then' (e.g. '5 cm left then 3 cm up')",
                            ));
                        }
                        facts.distance = Some((value * scale, i..i + 2));
                        used[i..i + 2].fill(true);
                        i += 2;
                    }
                }
                continue;
            }
            if let Some(scale) = angle_unit(next) {
                let per_time = (clause.word(i + 2) == Some("per")).then(|| clause.word(i + 3).and_then(time_unit));
                match per_time {
                    Some(Some(seconds)) => {
                        let speed = value * scale / seconds;
                        facts.speed_rad_s = Some((speed, format!("{:.1}°/s", speed.to_degrees())));
                        used[i..i + 4].fill(true);
                        i += 4;
                    }
                    Some(None) => return Err(clause.error(i..i + 3, "a speed needs a time unit, e.g. 30 degrees/s")),
                    None => {
                        if facts.angle.is_some() {
                            return Err(clause.error(i..i + 2, "two angles in one step; split them with 'then'"));
                        }
                        facts.angle = Some((value * scale, i..i + 2));
                        used[i..i + 2].fill(true);
                        i += 2;
                    }
                }
                continue;
            }
            if let Some(scale) = time_unit(next) {
                facts.duration_s = Some(value * scale);
                used[i..i + 2].fill(true);
                i += 2;
                continue;
            }
            return Err(clause
                .error(i..(i + 2).min(n), "a number without a unit; say e.g. '5 cm', '90 degrees' or '2 seconds'"));
        }
        // Fractions of a turn: "a quarter turn", "half a turn", "a full turn", "quarter of a turn".
        if matches!(word, "quarter" | "half" | "full" | "whole") {
            let fraction = match word {
                "quarter" => 0.25,
                "half" => 0.5,
                _ => 1.0,
            };
            let mut j = i + 1;
            while matches!(clause.word(j), Some("a" | "of")) {
                j += 1;
            }
            if matches!(clause.word(j), Some("turn" | "rotation" | "revolution")) {
                facts.angle = Some((fraction * std::f64::consts::TAU, i..j + 1));
                used[i..=j].fill(true);
                if i > 0 && clause.word(i - 1) == Some("a") {
                    used[i - 1] = true;
                }
                i = j + 1;
                continue;
            }
        }
        // Multi-word phrases first.
        if word == "pick" && next == "up" || word == "let" && next == "go" {
            set_verb(clause, &mut facts, if word == "pick" { StageKind::Lift } else { StageKind::Release }, i)?;
            used[i..i + 2].fill(true);
            i += 2;
            continue;
        }
        if matches!(word, "set" | "put") && next == "down" {
            set_verb(clause, &mut facts, StageKind::Place, i)?;
            used[i..i + 2].fill(true);
            i += 2;
            continue;
        }
        if word == "very" && SPEED_WORDS.iter().any(|(w, ..)| *w == format!("very {next}")) {
            set_speed_word(clause, &mut facts, &format!("very {next}"), i..i + 2)?;
            used[i..i + 2].fill(true);
            i += 2;
            continue;
        }
        if SPEED_WORDS.iter().any(|(w, ..)| *w == word) {
            set_speed_word(clause, &mut facts, word, i..i + 1)?;
            used[i] = true;
            i += 1;
            continue;
        }
        // Object part: "by its handle", "by the rim".
        if word == "by" && matches!(next, "its" | "the" | "their") {
            let (part, end) = noun_phrase(clause, i + 1);
            if part.is_empty() {
                return Err(clause.error(i..(i + 2).min(n), "'by' should name a part, e.g. 'by its handle'"));
            }
            facts.part = Some(part);
            used[i..end].fill(true);
            i = end;
            continue;
        }
        // Target relations.
        let relation = match (word, next, clause.word(i + 2)) {
            ("to", "the", Some(side @ ("left" | "right"))) if clause.word(i + 3) == Some("of") => Some((side, 4)),
            (side @ ("left" | "right"), "of", _) => Some((side, 2)),
            ("in", "front", Some("of")) => Some(("in front of", 3)),
            ("behind", _, _) => Some(("behind", 1)),
            ("on", "top", Some("of")) => Some(("on top of", 3)),
            ("onto" | "on" | "into" | "inside" | "above", _, _) if facts.verb.is_some() => Some((word, 1)),
            ("next", "to", _) | ("beside" | "near" | "by", _, _) => {
                let (target, _) = noun_phrase(clause, i + if word == "next" { 2 } else { 1 });
                return Err(clause.error(
                    i..(i + 2).min(n),
                    format!(
                        "which side of {}? say 'left of', 'right of', 'in front of' or 'behind'",
                        if target.is_empty() { "it".to_owned() } else { format!("the {target}") }
                    ),
                ));
            }
            _ => None,
        };
        if let Some((name, len)) = relation {
            let (target, end) = noun_phrase(clause, i + len);
            if target.is_empty() {
                return Err(clause.error(i..(i + len).min(n), format!("'{name}' what? name the target object")));
            }
            let (offset, lateral) = match name {
                "left" => (DVec3::Y, true),
                "right" => (DVec3::NEG_Y, true),
                "in front of" => (DVec3::NEG_X, true),
                "behind" => (DVec3::X, true),
                _ => (DVec3::ZERO, false),
            };
            let label = match name {
                "left" | "right" => format!("{name} of {target}"),
                other => format!("{other} {target}"),
            };
            facts.relation = Some((offset, label, lateral));
            used[i..end].fill(true);
            i = end;
            continue;
        }
        if (word == "relative" || word == "in" || word == "using")
            && clause.tokens[i + 1..]
                .iter()
                .take(4)
                .any(|t| matches!(t.word(), Some("gripper" | "tool" | "hand" | "base" | "world" | "robot" | "frame")))
        {
            // "relative to the gripper", "in the gripper frame", "in the base frame"
            let window: Vec<&str> = (i + 1..(i + 5).min(n)).filter_map(|j| clause.word(j)).collect();
            let frame = if window.iter().any(|w| matches!(*w, "gripper" | "tool" | "hand")) {
                Frame::Gripper
            } else {
                Frame::Base
            };
            facts.frame = Some(frame);
            let mut j = i + 1;
            while j < n
                && matches!(
                    clause.word(j),
                    Some("to" | "the" | "gripper" | "tool" | "hand" | "base" | "world" | "robot" | "frame" | "own")
                )
            {
                j += 1;
            }
            used[i..j].fill(true);
            i = j;
            continue;
        }
        // Rotation sense and axis.
        if matches!(word, "clockwise" | "cw") || matches!(word, "counterclockwise" | "anticlockwise" | "ccw") {
            let sign = if matches!(word, "clockwise" | "cw") { -1.0 } else { 1.0 };
            if let Some((other, at)) = facts.sense
                && other != sign
            {
                return Err(clause.error(at.min(i)..i + 1, "both clockwise and counterclockwise"));
            }
            facts.sense = Some((sign, i));
            used[i] = true;
            i += 1;
            continue;
        }
        if matches!(word, "x" | "y" | "z" | "vertical" | "roll" | "pitch" | "yaw")
            && (matches!(next, "axis" | "") || matches!(word, "roll" | "pitch" | "yaw" | "vertical"))
        {
            let axis = match word {
                "x" | "roll" => (DVec3::X, "x"),
                "y" | "pitch" => (DVec3::Y, "y"),
                _ => (DVec3::Z, "z"),
            };
            // "roll" is also a verb ("roll it 30 degrees"): read it as the roll axis only when a verb exists.
            if word == "roll" && facts.verb.is_none() {
                set_verb(clause, &mut facts, StageKind::Rotate, i)?;
            }
            facts.axis = Some(axis);
            used[i] = true;
            if next == "axis" {
                used[i + 1] = true;
                i += 1;
            }
            i += 1;
            continue;
        }
        if let Some(kind) = verb(word) {
            // "open"/"close" the gripper; "turn left" is a rotation; "lower" is a move down.
            set_verb(clause, &mut facts, kind, i)?;
            if word == "lower" || word == "descend" {
                facts.directions.push((DVec3::NEG_Z, "down", i));
            }
            used[i] = true;
            i += 1;
            continue;
        }
        if let Some((vector, name)) = direction(word) {
            if word == "up" && facts.verb.as_ref().is_some_and(|(k, ..)| *k == StageKind::Lift) {
                used[i] = true;
                i += 1;
                continue;
            }
            if let Some(&(_, other_name, at)) = facts.directions.iter().find(|(v, ..)| v.dot(vector) < -0.5) {
                return Err(clause.error(at..i + 1, format!("contradictory directions: {other_name} and {name}")));
            }
            facts.directions.push((vector, name, i));
            used[i] = true;
            i += 1;
            continue;
        }
        if matches!(word, "gripper" | "fingers" | "jaws" | "hand") {
            facts.mentions_gripper = true;
            used[i] = true;
            i += 1;
            continue;
        }
        if matches!(word, "the" | "a" | "an" | "it" | "its" | "them" | "this" | "that")
            && facts.verb.is_some()
            && facts.object.is_none()
        {
            let (object, end) = noun_phrase(clause, i);
            if !object.is_empty() {
                facts.object = Some(object);
                used[i..end].fill(true);
                i = end;
                continue;
            }
        }
        if filler(word) {
            used[i] = true;
            i += 1;
            continue;
        }
        i += 1;
    }
    // Words nothing understood: adverbs are reported (they would change the motion); other words are taken as
    // the object's description when they follow the verb.
    for (index, token) in clause.tokens.iter().enumerate() {
        if used[index] {
            continue;
        }
        let word = token.word().unwrap_or("");
        if word.len() > 3 && word.ends_with("ly") {
            return Err(clause.error(
                index..index + 1,
                format!("'{word}' is not a speed or manner I know (slowly, quickly, gently, at 5 cm/s …)"),
            ));
        }
        if facts.verb.as_ref().is_none_or(|(_, at, _)| index < *at) && !filler(word) {
            return Err(clause.error(index..index + 1, format!("'{word}' is not an action I know")));
        }
    }
    Ok(facts)
}

fn set_verb(clause: &Clause<'_>, facts: &mut ClauseFacts, kind: StageKind, at: usize) -> Result<(), InstructionError> {
    let word = clause.word(at).unwrap_or("").to_owned();
    if let Some((other, other_at, other_word)) = &facts.verb
        && *other != kind
    {
        // "close" after "gripper" etc. are fine duplicates of the same kind; different kinds are two actions.
        return Err(clause.error(
            *other_at..at + 1,
            format!("two actions in one step ('{other_word}' and '{word}'); separate them with 'then'"),
        ));
    }
    if facts.verb.is_none() {
        facts.verb = Some((kind, at, word));
    }
    Ok(())
}

fn set_speed_word(
    clause: &Clause<'_>,
    facts: &mut ClauseFacts,
    phrase: &str,
    range: Range<usize>,
) -> Result<(), InstructionError> {
    let Some((_, name, linear, angular)) = SPEED_WORDS.iter().find(|(w, ..)| *w == phrase) else {
        return Ok(());
    };
    if let Some((existing, label)) = &facts.speed_m_s
        && (*existing - linear).abs() > 1e-9
    {
        return Err(clause.error(range, format!("contradictory speeds: {label} and {name}")));
    }
    facts.speed_m_s = Some((*linear, format!("{name} ({linear:.2} m/s)")));
    facts.speed_rad_s = Some((*angular, format!("{name} ({:.0}°/s)", angular.to_degrees())));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Instruction → constraints and stages

struct Builder<'a> {
    text: &'a str,
    out: ParsedInstruction,
    gripper_closed: bool,
    /// Height gained since the last grasp (lowered again by "place").
    lifted_m: f64,
    object: Option<String>,
}

impl Builder<'_> {
    fn constraint(&mut self, kind: ConstraintKind, value: String, source: Range<usize>) {
        if !self.out.constraints.iter().any(|c| c.kind == kind && c.value == value) {
            self.out.constraints.push(Constraint { kind, value, source });
        }
    }

    fn stage(&mut self, kind: StageKind, motion: Motion, source: Range<usize>, description: String) {
        match motion {
            Motion::Gripper { close } => {
                self.gripper_closed = close;
                if close {
                    self.lifted_m = 0.0;
                }
            }
            Motion::Translate { direction, distance_m, frame: Frame::Base, .. } => {
                self.lifted_m += direction.z * distance_m;
            }
            _ => {}
        }
        self.out.stages.push(Stage { kind, motion, source, description });
    }

    /// A straight move of `vector` (direction × distance, in `frame`).
    fn translate(
        &mut self,
        kind: StageKind,
        vector: DVec3,
        frame: Frame,
        speed: f64,
        source: Range<usize>,
        what: &str,
    ) {
        let distance_m = vector.length();
        let direction = vector / distance_m.max(1e-12);
        let description = format!(
            "{}: {what} {:.3} m at {:.3} m/s{}",
            kind.name(),
            distance_m,
            speed,
            if frame == Frame::Gripper { " (gripper frame)" } else { "" }
        );
        self.stage(kind, Motion::Translate { direction, distance_m, frame, speed_m_s: speed }, source, description);
    }
}

fn direction_name(directions: &[(DVec3, &'static str, usize)]) -> String {
    directions.iter().map(|(_, name, _)| *name).collect::<Vec<_>>().join(" and ")
}

fn speed_for(facts: &ClauseFacts, amount: f64, default: f64, angular: bool) -> f64 {
    if let Some(duration) = facts.duration_s.filter(|d| *d > 0.0) {
        return amount.abs() / duration;
    }
    let chosen = if angular { facts.speed_rad_s.as_ref() } else { facts.speed_m_s.as_ref() };
    chosen.map_or(default, |(s, _)| *s)
}

/// Reads `text` into constraints and stages. `gripper_closed` is the gripper's state before the first stage.
pub fn parse_instruction(text: &str, gripper_closed: bool) -> Result<ParsedInstruction, InstructionError> {
    let tokens = lex(text);
    if tokens.iter().all(|t| t.lexeme == Lexeme::Separator) {
        return Err(InstructionError {
            span: 0..text.len(),
            phrase: text.to_owned(),
            reason: "the instruction is empty; try e.g. 'lift the mug 10 cm, then rotate it 90 degrees clockwise'"
                .into(),
        });
    }
    let mut builder = Builder { text, out: ParsedInstruction::default(), gripper_closed, lifted_m: 0.0, object: None };
    let mut previous_verb: Option<StageKind> = None;
    for range in split_clauses(&tokens) {
        let clause = Clause { tokens: &tokens[range], text };
        let mut facts = read_clause(&clause)?;
        let source = clause.span();
        if let Some((speed, label)) = &facts.speed_m_s
            && !(*speed > 0.0 && *speed <= MAX_SPEED_M_S)
        {
            return Err(clause.whole_error(format!("a speed of {label} is out of range (up to {MAX_SPEED_M_S} m/s)")));
        }
        if let Some((speed, label)) = &facts.speed_rad_s
            && !(*speed > 0.0 && *speed <= MAX_SPEED_RAD_S)
        {
            return Err(clause.whole_error(format!(
                "a speed of {label} is out of range (up to {:.0}°/s)",
                MAX_SPEED_RAD_S.to_degrees()
            )));
        }
        if let Some(duration) = facts.duration_s
            && !(duration > 0.0 && duration <= MAX_DURATION_S)
        {
            return Err(clause.whole_error(format!("{duration} s is out of range (up to {MAX_DURATION_S} s)")));
        }
        let kind = match (&facts.verb, previous_verb) {
            (Some((kind, ..)), _) => *kind,
            // "move 5 cm left and 3 cm up": the second step keeps the first one's verb.
            (None, Some(previous @ (StageKind::Move | StageKind::Rotate | StageKind::Lift)))
                if facts.distance.is_some() || facts.angle.is_some() || !facts.directions.is_empty() =>
            {
                previous
            }
            (None, _) => {
                if facts.speed_m_s.is_some() && facts.distance.is_none() && facts.directions.is_empty() {
                    // "… then place it, slowly": a trailing speed applies to the previous stage.
                    return Err(clause.whole_error("a speed on its own; put it with the action, e.g. 'lift it slowly'"));
                }
                return Err(clause.whole_error(
                    "no action I know here (approach, grasp, lift, lower, move, rotate, tilt, place, release, wait)",
                ));
            }
        };
        previous_verb = Some(kind);
        if let Some(object) = facts.object.take().filter(|o| !matches!(o.as_str(), "gripper" | "hand")) {
            if builder.object.is_none() {
                builder.constraint(ConstraintKind::Object, object.clone(), source.clone());
            }
            builder.object = Some(object);
        }
        if let Some(part) = &facts.part {
            builder.constraint(ConstraintKind::ObjectPart, part.clone(), source.clone());
        }
        if let Some((_, label)) = &facts.speed_m_s {
            builder.constraint(ConstraintKind::Speed, label.clone(), source.clone());
        } else if let Some((_, label)) = &facts.speed_rad_s {
            builder.constraint(ConstraintKind::Speed, label.clone(), source.clone());
        }
        if let Some(duration) = facts.duration_s {
            builder.constraint(ConstraintKind::Speed, format!("within {duration:.1} s"), source.clone());
        }
        let frame = facts.frame.unwrap_or(Frame::Base);
        let direction_sum: DVec3 = facts.directions.iter().map(|(v, ..)| *v).sum();
        match kind {
            StageKind::Move | StageKind::Lift | StageKind::Approach => {
                let (direction, what, distance, default_note) = match kind {
                    StageKind::Lift => {
                        if facts.directions.iter().any(|(v, ..)| v.z < 0.0) {
                            return Err(clause.whole_error("'lift' goes up; did you mean 'lower'?"));
                        }
                        let d =
                            if facts.directions.is_empty() { DVec3::Z } else { (direction_sum + DVec3::Z).normalize() };
                        let name = if facts.directions.is_empty() {
                            "up".to_owned()
                        } else {
                            format!("up and {}", direction_name(&facts.directions))
                        };
                        (d, name, facts.distance.as_ref().map(|(d, _)| *d), Some(DEFAULT_LIFT_M))
                    }
                    StageKind::Approach => {
                        let d = if facts.directions.is_empty() { DVec3::NEG_Z } else { direction_sum.normalize() };
                        let name =
                            if facts.directions.is_empty() { "down".into() } else { direction_name(&facts.directions) };
                        (d, name, facts.distance.as_ref().map(|(d, _)| *d), Some(DEFAULT_APPROACH_M))
                    }
                    _ => {
                        let lowering = facts.verb.as_ref().is_some_and(|(_, _, w)| w == "lower" || w == "descend");
                        if let Some((offset, label, lateral)) = facts.relation.clone() {
                            // "move it left of the plate": the planner cannot see the plate, so it moves the default
                            // distance toward that side, and says so.
                            builder.constraint(ConstraintKind::TargetRelation, label.clone(), source.clone());
                            if lateral && facts.directions.is_empty() {
                                (offset, label, facts.distance.as_ref().map(|(d, _)| *d), None)
                            } else {
                                return Err(clause.whole_error(format!(
                                    "'{label}' gives no direction I can move in; use left of, right of, in front of or behind"
                                )));
                            }
                        } else if facts.directions.is_empty() {
                            return Err(
                                clause.whole_error("which way? add a direction (left, right, forward, back, up, down)")
                            );
                        } else {
                            let note = lowering.then_some(DEFAULT_LOWER_M);
                            (
                                direction_sum.normalize(),
                                direction_name(&facts.directions),
                                facts.distance.as_ref().map(|(d, _)| *d),
                                note,
                            )
                        }
                    }
                };
                let distance = match (distance, default_note) {
                    (Some(d), _) => {
                        builder.constraint(ConstraintKind::Distance, format!("{d:.3} m"), source.clone());
                        d
                    }
                    (None, Some(default)) => {
                        builder.constraint(
                            ConstraintKind::Distance,
                            format!("{default:.3} m (default for {})", kind.name()),
                            source.clone(),
                        );
                        default
                    }
                    (None, None) if facts.relation.is_some() => DEFAULT_RELATION_M,
                    (None, None) => {
                        return Err(clause.whole_error("how far? add a distance such as '5 cm' or '2 inches'"));
                    }
                };
                if distance <= 0.0 || distance > 2.0 {
                    return Err(clause.whole_error(format!("a distance of {distance:.3} m is out of range (0–2 m)")));
                }
                if facts.relation.is_some() && facts.distance.is_none() {
                    builder.constraint(
                        ConstraintKind::Distance,
                        format!("{DEFAULT_RELATION_M:.3} m (default: the planner cannot see where the target is)"),
                        source.clone(),
                    );
                }
                builder.constraint(ConstraintKind::Direction, format!("{what} ({})", frame.name()), source.clone());
                if kind == StageKind::Lift && !builder.gripper_closed && builder.object.is_some() {
                    builder.stage(
                        StageKind::Grasp,
                        Motion::Gripper { close: true },
                        source.clone(),
                        "grasp: close the gripper (the planner assumes it is at the object)".into(),
                    );
                }
                let speed = speed_for(&facts, distance, DEFAULT_SPEED_M_S, false);
                builder.translate(kind, direction * distance, frame, speed, source, &what);
            }
            StageKind::Rotate => {
                let Some((angle, _)) = facts.angle else {
                    return Err(clause.whole_error("how far? add an angle such as '90 degrees' or 'a quarter turn'"));
                };
                let tilt = facts.verb.as_ref().is_some_and(|(_, _, w)| w == "tilt");
                // Sense: explicit clockwise/counterclockwise, or "turn left/right" about the vertical, or a tilt
                // direction (tilt forward pitches the gripper toward +x).
                let (axis, axis_name, sense) = match (facts.axis, tilt) {
                    (Some((axis, name)), _) => (axis, name, facts.sense.map(|(s, _)| s)),
                    (None, true) => {
                        let side = facts.directions.first().map(|(v, ..)| *v);
                        match side {
                            Some(v) if v.x.abs() > 0.5 => (DVec3::Y, "y", Some(v.x.signum())),
                            Some(v) if v.y.abs() > 0.5 => (DVec3::X, "x", Some(-v.y.signum())),
                            _ => (DVec3::Y, "y", facts.sense.map(|(s, _)| s)),
                        }
                    }
                    (None, false) => {
                        let side = facts.directions.iter().find(|(v, ..)| v.y.abs() > 0.5).map(|(v, ..)| v.y.signum());
                        (DVec3::Z, "z", facts.sense.map(|(s, _)| s).or(side))
                    }
                };
                if !tilt && facts.directions.iter().any(|(v, ..)| v.y.abs() < 0.5) && facts.axis.is_none() {
                    return Err(clause.whole_error(
                        "a rotation with an up/down/forward/back direction; say the axis ('about the x axis') or use 'tilt'",
                    ));
                }
                let Some(sense) = sense else {
                    return Err(clause.whole_error(
                        "which way? say clockwise or counterclockwise (as seen from above / along the axis)",
                    ));
                };
                let signed = sense * angle.abs();
                if angle.abs() > std::f64::consts::TAU + 1e-9 {
                    return Err(clause.whole_error("more than a full turn; the wrist cannot do that in one step"));
                }
                let sense_name = if sense < 0.0 { "clockwise" } else { "counterclockwise" };
                builder.constraint(
                    ConstraintKind::Rotation,
                    format!("{:.0}° {sense_name} about {axis_name} ({})", angle.abs().to_degrees(), frame.name()),
                    source.clone(),
                );
                let speed = speed_for(&facts, angle, DEFAULT_SPEED_RAD_S, true);
                let description = format!(
                    "rotate: {:.0}° {sense_name} about {axis_name} at {:.0}°/s{}",
                    angle.abs().to_degrees(),
                    speed.to_degrees(),
                    if frame == Frame::Gripper { " (gripper frame)" } else { "" }
                );
                builder.stage(
                    StageKind::Rotate,
                    Motion::Rotate { axis, angle_rad: signed, frame, speed_rad_s: speed },
                    source,
                    description,
                );
            }
            StageKind::Grasp | StageKind::Release => {
                let close = kind == StageKind::Grasp;
                if facts.distance.is_some() || facts.angle.is_some() || !facts.directions.is_empty() {
                    return Err(clause.whole_error(format!(
                        "'{}' opens or closes the gripper and takes no distance or direction",
                        facts.verb.as_ref().map_or("grasp", |(_, _, w)| w.as_str())
                    )));
                }
                let description = if close { "grasp: close the gripper" } else { "release: open the gripper" };
                builder.stage(kind, Motion::Gripper { close }, source, description.into());
            }
            StageKind::Place => {
                let speed = speed_for(&facts, DEFAULT_RELATION_M, DEFAULT_SPEED_M_S, false);
                if let Some((offset, label, lateral)) = facts.relation.clone() {
                    builder.constraint(ConstraintKind::TargetRelation, label.clone(), source.clone());
                    if lateral {
                        let distance = facts.distance.as_ref().map_or(DEFAULT_RELATION_M, |(d, _)| *d);
                        builder.constraint(
                            ConstraintKind::Distance,
                            if facts.distance.is_some() {
                                format!("{distance:.3} m")
                            } else {
                                format!("{distance:.3} m (default: the planner cannot see where the target is)")
                            },
                            source.clone(),
                        );
                        builder.constraint(ConstraintKind::Direction, format!("{label} (base frame)"), source.clone());
                        builder.translate(
                            StageKind::Move,
                            offset * distance,
                            Frame::Base,
                            speed,
                            source.clone(),
                            &label,
                        );
                    }
                } else if !(facts.directions.is_empty() || facts.distance.is_none() && direction_sum == DVec3::NEG_Z) {
                    let Some((distance, _)) = facts.distance else {
                        return Err(clause.whole_error("how far? add a distance such as '10 cm'"));
                    };
                    let what = direction_name(&facts.directions);
                    builder.constraint(ConstraintKind::Direction, format!("{what} (base frame)"), source.clone());
                    builder.constraint(ConstraintKind::Distance, format!("{distance:.3} m"), source.clone());
                    builder.translate(
                        StageKind::Move,
                        direction_sum.normalize() * distance,
                        Frame::Base,
                        speed,
                        source.clone(),
                        &what,
                    );
                }
                let down = if builder.lifted_m > 1e-6 { builder.lifted_m } else { DEFAULT_LOWER_M };
                let what = if builder.lifted_m > 1e-6 { "down by the height lifted" } else { "down (default)" };
                builder.translate(StageKind::Place, DVec3::NEG_Z * down, Frame::Base, speed, source.clone(), what);
                builder.stage(
                    StageKind::Release,
                    Motion::Gripper { close: false },
                    source,
                    "release: open the gripper".into(),
                );
            }
            StageKind::Wait => {
                let Some(duration) = facts.duration_s else {
                    return Err(clause.whole_error("how long? add a time such as '2 seconds'"));
                };
                builder.stage(
                    StageKind::Wait,
                    Motion::Hold { duration_s: duration },
                    source,
                    format!("wait: {duration:.1} s"),
                );
            }
        }
    }
    let _ = builder.text;
    Ok(builder.out)
}
