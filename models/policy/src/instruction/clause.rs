//! The second layer: tokens → clauses (one action each) → the facts of each clause: its verb, amounts with units,
//! speeds, directions, rotation sense and axis, frame, object, part and target relation. Every word of a clause is
//! either accounted for by one of these or refused, with the words: nothing is read past silently.

use std::ops::Range;

use glam::DVec3;

use super::lexer::{Lexeme, Token};
use super::words::{
    SPEED_WORDS, angle_unit, direction, filler, is_speed_word, length_unit, time_unit, unsupported, verb,
};
use super::{Frame, InstructionError, StageKind};

/// One clause of an instruction: its tokens and the whole text (for error spans).
pub(super) struct Clause<'a> {
    pub tokens: &'a [Token],
    pub text: &'a str,
}

impl Clause<'_> {
    pub fn span(&self) -> Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => first.span.start..last.span.end,
            _ => 0..0,
        }
    }

    pub fn word(&self, i: usize) -> Option<&str> {
        self.tokens.get(i).and_then(Token::word)
    }

    /// An error naming the words of tokens `range`.
    pub fn error(&self, range: Range<usize>, reason: impl Into<String>) -> InstructionError {
        let start = self.tokens.get(range.start).map_or(0, |t| t.span.start);
        let end = self.tokens.get(range.end.saturating_sub(1)).map_or(start, |t| t.span.end);
        InstructionError { span: start..end, phrase: self.text[start..end].to_owned(), reason: reason.into() }
    }

    pub fn whole_error(&self, reason: impl Into<String>) -> InstructionError {
        self.error(0..self.tokens.len(), reason)
    }
}

/// Splits at separators, "then", "after that", "afterwards", "finally", and at "and" unless it sits inside a
/// number ("one hundred and eighty") or joins two directions ("forward and left").
pub(super) fn split_clauses(tokens: &[Token]) -> Vec<Range<usize>> {
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
#[derive(Debug, Default)]
pub(super) struct ClauseFacts {
    /// The action, where its verb is, and the verb as written.
    pub verb: Option<(StageKind, usize, String)>,
    pub distance: Option<(f64, Range<usize>)>,
    pub angle: Option<(f64, Range<usize>)>,
    pub speed_m_s: Option<(f64, String)>,
    pub speed_rad_s: Option<(f64, String)>,
    pub duration_s: Option<f64>,
    pub directions: Vec<(DVec3, &'static str, usize)>,
    pub sense: Option<(f64, usize)>,
    pub axis: Option<(DVec3, &'static str)>,
    pub frame: Option<Frame>,
    pub object: Option<String>,
    pub part: Option<String>,
    /// A target relation: offset direction, label, and whether it gives a direction to move in.
    pub relation: Option<(DVec3, String, bool)>,
}

/// Reads a clause, token by token, marking what each rule accounts for.
struct Reader<'c, 'a> {
    clause: &'c Clause<'a>,
    facts: ClauseFacts,
    used: Vec<bool>,
}

type Step = Result<Option<usize>, InstructionError>;

impl Reader<'_, '_> {
    fn word(&self, i: usize) -> &str {
        self.clause.word(i).unwrap_or("")
    }

    fn take(&mut self, range: Range<usize>) -> Step {
        let end = range.end.min(self.used.len());
        self.used[range.start.min(end)..end].fill(true);
        Ok(Some(end))
    }

    /// Reads a noun phrase starting at `i` (after determiners) up to a keyword; returns the words and the next index.
    fn noun_phrase(&self, mut i: usize) -> (String, usize) {
        while matches!(self.clause.word(i), Some("the" | "a" | "an" | "its" | "their" | "this" | "that")) {
            i += 1;
        }
        let mut words = Vec::new();
        while let Some(word) = self.clause.word(i) {
            let keyword = verb(word).is_some()
                || direction(word).is_some()
                || (filler(word) && word != "object")
                || is_speed_word(word)
                || unsupported(word).is_some()
                || matches!(word, "clockwise" | "counterclockwise" | "anticlockwise" | "cw" | "ccw" | "by")
                || matches!(word, "on" | "onto" | "into" | "behind" | "towards" | "toward" | "relative" | "using")
                || matches!(word, "quarter" | "half" | "full" | "whole" | "vertical" | "roll" | "pitch" | "yaw")
                || matches!(word, "x" | "y" | "z") && self.clause.word(i + 1) == Some("axis");
            if keyword {
                break;
            }
            words.push(word.to_owned());
            i += 1;
        }
        (words.join(" "), i)
    }

    fn set_verb(&mut self, kind: StageKind, at: usize) -> Result<(), InstructionError> {
        let word = self.word(at).to_owned();
        if let Some((other, other_at, other_word)) = &self.facts.verb
            && *other != kind
        {
            return Err(self.clause.error(
                *other_at..at + 1,
                format!("two actions in one step ('{other_word}' and '{word}'); separate them with 'then'"),
            ));
        }
        if self.facts.verb.is_none() {
            self.facts.verb = Some((kind, at, word));
        }
        Ok(())
    }

    fn set_speed_word(&mut self, phrase: &str, range: Range<usize>) -> Result<(), InstructionError> {
        let Some((_, name, linear, angular)) = SPEED_WORDS.iter().find(|(w, ..)| *w == phrase) else { return Ok(()) };
        if let Some((existing, label)) = &self.facts.speed_m_s
            && (*existing - linear).abs() > 1e-9
        {
            return Err(self.clause.error(range, format!("contradictory speeds: {label} and {name}")));
        }
        self.facts.speed_m_s = Some((*linear, format!("{name} ({linear:.2} m/s)")));
        self.facts.speed_rad_s = Some((*angular, format!("{name} ({:.0}°/s)", angular.to_degrees())));
        Ok(())
    }

    /// A number and its unit: a distance, an angle, a duration or a speed.
    fn amount(&mut self, i: usize, value: f64) -> Step {
        let clause = self.clause;
        let n = clause.tokens.len();
        if !value.is_finite() {
            return Err(clause.error(i..i + 1, "this number cannot be read"));
        }
        if value < 0.0 {
            return Err(clause.error(
                i..(i + 2).min(n),
                "a negative amount; say the direction instead (e.g. '5 cm right' rather than '-5 cm left')",
            ));
        }
        let next = self.word(i + 1).to_owned();
        let per_time = |reader: &Self| (reader.word(i + 2) == "per").then(|| time_unit(reader.word(i + 3)));
        if let Some(scale) = length_unit(&next) {
            return match per_time(self) {
                Some(Some(seconds)) => {
                    let speed = value * scale / seconds;
                    self.facts.speed_m_s = Some((speed, format!("{speed:.3} m/s")));
                    self.take(i..i + 4)
                }
                Some(None) => Err(clause.error(i..i + 3, "a speed needs a time unit, e.g. 5 cm/s")),
                None => {
                    if self.facts.distance.is_some() {
                        return Err(clause.error(
                            i..i + 2,
                            "two distances in one step; split them with 'then' (e.g. '5 cm left then 3 cm up')",
                        ));
                    }
                    self.facts.distance = Some((value * scale, i..i + 2));
                    self.take(i..i + 2)
                }
            };
        }
        if let Some(scale) = angle_unit(&next) {
            return match per_time(self) {
                Some(Some(seconds)) => {
                    let speed = value * scale / seconds;
                    self.facts.speed_rad_s = Some((speed, format!("{:.1}°/s", speed.to_degrees())));
                    self.take(i..i + 4)
                }
                Some(None) => Err(clause.error(i..i + 3, "a speed needs a time unit, e.g. 30 degrees/s")),
                None => {
                    if self.facts.angle.is_some() {
                        return Err(clause.error(i..i + 2, "two angles in one step; split them with 'then'"));
                    }
                    self.facts.angle = Some((value * scale, i..i + 2));
                    self.take(i..i + 2)
                }
            };
        }
        if let Some(scale) = time_unit(&next) {
            if self.facts.duration_s.is_some() {
                return Err(clause.error(i..i + 2, "two durations in one step"));
            }
            self.facts.duration_s = Some(value * scale);
            return self.take(i..i + 2);
        }
        Err(clause.error(i..(i + 2).min(n), "a number without a unit; say e.g. '5 cm', '90 degrees' or '2 seconds'"))
    }

    /// Fractions of a turn: "a quarter turn", "half a turn", "a full turn", "quarter of a turn".
    fn turn_fraction(&mut self, i: usize) -> Step {
        let fraction = match self.word(i) {
            "quarter" => 0.25,
            "half" => 0.5,
            "full" | "whole" => 1.0,
            _ => return Ok(None),
        };
        let mut j = i + 1;
        while matches!(self.word(j), "a" | "of") {
            j += 1;
        }
        if !matches!(self.word(j), "turn" | "rotation" | "revolution") {
            return Ok(None);
        }
        if self.facts.angle.is_some() {
            return Err(self.clause.error(i..j + 1, "two angles in one step; split them with 'then'"));
        }
        self.facts.angle = Some((fraction * std::f64::consts::TAU, i..j + 1));
        if i > 0 && self.word(i - 1) == "a" {
            self.used[i - 1] = true;
        }
        self.take(i..j + 1)
    }

    /// Two-word verbs and speed words.
    fn phrase(&mut self, i: usize) -> Step {
        let (word, next) = (self.word(i).to_owned(), self.word(i + 1).to_owned());
        let two_word = match (word.as_str(), next.as_str()) {
            ("pick", "up") => Some(StageKind::Lift),
            ("let", "go") => Some(StageKind::Release),
            ("set" | "put", "down") => Some(StageKind::Place),
            _ => None,
        };
        if let Some(kind) = two_word {
            self.set_verb(kind, i)?;
            return self.take(i..i + 2);
        }
        let very = format!("very {next}");
        if word == "very" && SPEED_WORDS.iter().any(|(w, ..)| *w == very) {
            self.set_speed_word(&very, i..i + 2)?;
            return self.take(i..i + 2);
        }
        if SPEED_WORDS.iter().any(|(w, ..)| *w == word) {
            self.set_speed_word(&word, i..i + 1)?;
            return self.take(i..i + 1);
        }
        Ok(None)
    }

    /// "by": an amount ("by 80 mm"), a part ("by its handle"), or a place the planner cannot see ("by the plate").
    fn by(&mut self, i: usize) -> Step {
        if self.word(i) != "by" {
            return Ok(None);
        }
        let next = self.clause.tokens.get(i + 1);
        if next.and_then(Token::number).is_some() || matches!(self.word(i + 1), "a" | "an" | "quarter" | "half") {
            // "move left by 80 mm", "rotate it by a quarter turn": 'by' only introduces the amount.
            return self.take(i..i + 1);
        }
        if matches!(self.word(i + 1), "its" | "their") {
            let (part, end) = self.noun_phrase(i + 1);
            if part.is_empty() {
                return Err(self
                    .clause
                    .error(i..(i + 2).min(self.used.len()), "'by' should name a part, e.g. 'by its handle'"));
            }
            self.facts.part = Some(part);
            return self.take(i..end);
        }
        if self.word(i + 1) == "the" {
            let (noun, end) = self.noun_phrase(i + 1);
            // "by the handle/rim/edge…" is a part; "by the plate" a place beside an object the planner cannot see.
            const PARTS: [&str; 9] = ["handle", "rim", "edge", "lid", "top", "base", "neck", "stem", "corner"];
            if noun.split(' ').next_back().is_some_and(|last| PARTS.contains(&last)) {
                self.facts.part = Some(noun);
                return self.take(i..end);
            }
            return Err(self.clause.error(
                i..end.max(i + 1),
                format!("which side of the {noun}? say 'left of', 'right of', 'in front of' or 'behind'"),
            ));
        }
        Err(self.clause.error(
            i..(i + 2).min(self.used.len()),
            "'by' what? give an amount ('by 5 cm') or a part ('by its handle')",
        ))
    }

    /// "towards"/"toward" and "away from": where they point decides the direction, or they are refused.
    fn toward(&mut self, i: usize) -> Step {
        let word = self.word(i).to_owned();
        let (start, mut j) = match word.as_str() {
            "towards" | "toward" => (i, i + 1),
            "away" if self.word(i + 1) == "from" => (i, i + 2),
            _ => return Ok(None),
        };
        let away = word == "away";
        while matches!(self.word(j), "the" | "its" | "your") {
            j += 1;
        }
        let target = self.word(j).to_owned();
        let toward_robot = matches!(target.as_str(), "robot" | "base" | "me" | "you" | "us" | "operator" | "arm");
        let side = direction(&target).filter(|(v, _)| v.z == 0.0 && !toward_robot);
        let (vector, name) = if toward_robot {
            if away { (DVec3::X, "forward") } else { (DVec3::NEG_X, "back") }
        } else if let Some((vector, name)) = side.filter(|_| !away) {
            (vector, name)
        } else if target.is_empty() || away {
            return Err(self.clause.error(
                start..(j + 1).min(self.used.len()),
                format!("'{word}' from what? say a direction (left, right, forward, back) or 'towards the robot'"),
            ));
        } else {
            let (noun, end) = self.noun_phrase(j);
            return Err(self.clause.error(
                start..end.max(j + 1).min(self.used.len()),
                format!(
                    "the planner cannot see where the {} is; give a direction and a distance instead",
                    if noun.is_empty() { target } else { noun }
                ),
            ));
        };
        self.add_direction(vector, name, i)?;
        let mut end = j + 1;
        if matches!(self.word(end), "side" | "hand") {
            end += 1;
        }
        self.take(start..end)
    }

    fn add_direction(&mut self, vector: DVec3, name: &'static str, at: usize) -> Result<(), InstructionError> {
        if let Some(&(_, other_name, other_at)) = self.facts.directions.iter().find(|(v, ..)| v.dot(vector) < -0.5) {
            return Err(self
                .clause
                .error(other_at.min(at)..at + 1, format!("contradictory directions: {other_name} and {name}")));
        }
        if !self.facts.directions.iter().any(|(v, ..)| *v == vector) {
            self.facts.directions.push((vector, name, at));
        }
        Ok(())
    }

    /// Target relations: "left of the plate", "to the right of", "in front of", "behind", "on top of", "onto".
    fn relation(&mut self, i: usize) -> Step {
        let (word, next, third) = (self.word(i).to_owned(), self.word(i + 1).to_owned(), self.word(i + 2).to_owned());
        let relation = match (word.as_str(), next.as_str(), third.as_str()) {
            ("to", "the", side @ ("left" | "right")) if self.word(i + 3) == "of" => Some((side.to_owned(), 4)),
            (side @ ("left" | "right"), "of", _) => Some((side.to_owned(), 2)),
            ("in", "front", "of") => Some(("in front of".to_owned(), 3)),
            ("behind", _, _) => Some(("behind".to_owned(), 1)),
            ("on", "top", "of") => Some(("on top of".to_owned(), 3)),
            ("onto" | "on" | "into" | "inside" | "above", _, _) if self.facts.verb.is_some() => Some((word.clone(), 1)),
            ("next", "to", _) | ("beside" | "near", _, _) => {
                let (target, _) = self.noun_phrase(i + if word == "next" { 2 } else { 1 });
                return Err(self.clause.error(
                    i..(i + 2).min(self.used.len()),
                    format!(
                        "which side of {}? say 'left of', 'right of', 'in front of' or 'behind'",
                        if target.is_empty() { "it".to_owned() } else { format!("the {target}") }
                    ),
                ));
            }
            _ => None,
        };
        let Some((name, len)) = relation else { return Ok(None) };
        let (target, end) = self.noun_phrase(i + len);
        if target.is_empty() {
            return Err(self
                .clause
                .error(i..(i + len).min(self.used.len()), format!("'{name}' what? name the target object")));
        }
        let (offset, lateral) = match name.as_str() {
            "left" => (DVec3::Y, true),
            "right" => (DVec3::NEG_Y, true),
            "in front of" => (DVec3::NEG_X, true),
            "behind" => (DVec3::X, true),
            _ => (DVec3::ZERO, false),
        };
        let label = match name.as_str() {
            "left" | "right" => format!("{name} of {target}"),
            other => format!("{other} {target}"),
        };
        self.facts.relation = Some((offset, label, lateral));
        self.take(i..end)
    }

    /// "relative to the gripper", "in the gripper frame", "in the base frame", "using the tool frame".
    fn frame(&mut self, i: usize) -> Step {
        const FRAME_WORDS: [&str; 7] = ["gripper", "tool", "hand", "base", "world", "robot", "frame"];
        let n = self.used.len();
        if !matches!(self.word(i), "relative" | "in" | "using")
            || !(i + 1..(i + 5).min(n)).any(|j| FRAME_WORDS.contains(&self.word(j)))
        {
            return Ok(None);
        }
        let window: Vec<&str> = (i + 1..(i + 5).min(n)).map(|j| self.word(j)).collect();
        let gripper = window.iter().any(|w| matches!(*w, "gripper" | "tool" | "hand"));
        self.facts.frame = Some(if gripper { Frame::Gripper } else { Frame::Base });
        let mut j = i + 1;
        while j < n && (matches!(self.word(j), "to" | "the" | "own" | "its") || FRAME_WORDS.contains(&self.word(j))) {
            j += 1;
        }
        self.take(i..j)
    }

    /// Rotation sense and axis.
    fn rotation(&mut self, i: usize) -> Step {
        let word = self.word(i).to_owned();
        let next = self.word(i + 1).to_owned();
        if matches!(word.as_str(), "clockwise" | "cw" | "counterclockwise" | "anticlockwise" | "ccw") {
            let sign = if matches!(word.as_str(), "clockwise" | "cw") { -1.0 } else { 1.0 };
            if let Some((other, at)) = self.facts.sense
                && other != sign
            {
                return Err(self.clause.error(at.min(i)..i + 1, "both clockwise and counterclockwise"));
            }
            self.facts.sense = Some((sign, i));
            return self.take(i..i + 1);
        }
        if matches!(word.as_str(), "x" | "y" | "z" | "vertical" | "roll" | "pitch" | "yaw")
            && (matches!(next.as_str(), "axis" | "") || matches!(word.as_str(), "roll" | "pitch" | "yaw" | "vertical"))
        {
            let axis = match word.as_str() {
                "x" | "roll" => (DVec3::X, "x"),
                "y" | "pitch" => (DVec3::Y, "y"),
                _ => (DVec3::Z, "z"),
            };
            // "roll" is also a verb ("roll it 30 degrees"): read it as the roll axis only when a verb exists.
            if word == "roll" && self.facts.verb.is_none() {
                self.set_verb(StageKind::Rotate, i)?;
            }
            self.facts.axis = Some(axis);
            return self.take(i..if next == "axis" { i + 2 } else { i + 1 });
        }
        Ok(None)
    }

    fn verb_or_direction(&mut self, i: usize) -> Step {
        let word = self.word(i).to_owned();
        if let Some(kind) = verb(&word) {
            self.set_verb(kind, i)?;
            if word == "lower" || word == "descend" {
                self.add_direction(DVec3::NEG_Z, "down", i)?;
            }
            return self.take(i..i + 1);
        }
        if let Some((vector, name)) = direction(&word) {
            // "lift it up": the up of a lift is not a second direction.
            if !(word == "up" && self.facts.verb.as_ref().is_some_and(|(k, ..)| *k == StageKind::Lift)) {
                self.add_direction(vector, name, i)?;
            }
            return self.take(i..i + 1);
        }
        Ok(None)
    }

    /// The object, after the verb: "the red mug", "it".
    fn object(&mut self, i: usize) -> Step {
        if !matches!(self.word(i), "the" | "a" | "an" | "this" | "that")
            || self.facts.verb.is_none()
            || self.facts.object.is_some()
        {
            return Ok(None);
        }
        let (object, end) = self.noun_phrase(i);
        if object.is_empty() {
            return Ok(None);
        }
        self.facts.object = Some(object);
        self.take(i..end)
    }

    fn read(mut self) -> Result<ClauseFacts, InstructionError> {
        let n = self.used.len();
        let mut i = 0;
        while i < n {
            if let Some(value) = self.clause.tokens[i].number() {
                i = self.amount(i, value)?.unwrap_or(i + 1);
                continue;
            }
            let word = self.word(i).to_owned();
            if let Some(reason) = unsupported(&word) {
                return Err(self.clause.error(i..i + 1, format!("'{word}': {reason}")));
            }
            let rules: [fn(&mut Self, usize) -> Step; 9] = [
                Self::turn_fraction,
                Self::phrase,
                Self::by,
                Self::toward,
                Self::relation,
                Self::frame,
                Self::rotation,
                Self::verb_or_direction,
                Self::object,
            ];
            let mut advanced = None;
            for rule in rules {
                if let Some(next) = rule(&mut self, i)? {
                    advanced = Some(next);
                    break;
                }
            }
            if let Some(next) = advanced {
                i = next.max(i + 1);
                continue;
            }
            if filler(&word) || matches!(word.as_str(), "fingers" | "jaws") {
                self.used[i] = true;
            }
            i += 1;
        }
        self.account_for_every_word()?;
        Ok(self.facts)
    }

    /// Words no rule took: the object's name right after the verb ("move cup 5 cm left") is the only place a
    /// word may stand unexplained; anything else is refused with the words, never guessed at.
    fn account_for_every_word(&mut self) -> Result<(), InstructionError> {
        let verb_at = self.facts.verb.as_ref().map(|(_, at, _)| *at);
        let mut i = 0;
        while i < self.used.len() {
            if self.used[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < self.used.len() && !self.used[i] {
                i += 1;
            }
            let words: Vec<&str> = (start..i).map(|j| self.word(j)).collect();
            if let Some(adverb) = words.iter().find(|w| w.len() > 3 && w.ends_with("ly")) {
                let at = start + words.iter().position(|w| w == adverb).unwrap_or(0);
                return Err(self.clause.error(
                    at..at + 1,
                    format!("'{adverb}' is not a speed or manner I know (slowly, quickly, gently, at 5 cm/s …)"),
                ));
            }
            match verb_at {
                None => {
                    return Err(self.clause.error(start..i, format!("'{}' is not an action I know", words.join(" "))));
                }
                Some(at) if start == at + 1 && self.facts.object.is_none() => {
                    self.facts.object = Some(words.join(" "));
                }
                Some(_) => {
                    return Err(self.clause.error(
                        start..i,
                        format!("I cannot account for '{}' here, so I will not guess what it means", words.join(" ")),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads one clause into its facts.
pub(super) fn read_clause(clause: &Clause<'_>) -> Result<ClauseFacts, InstructionError> {
    Reader { clause, facts: ClauseFacts::default(), used: vec![false; clause.tokens.len()] }.read()
}

#[cfg(test)]
#[path = "clause_tests.rs"]
mod tests;
