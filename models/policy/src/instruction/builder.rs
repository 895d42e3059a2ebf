//! The third layer: the facts of each clause → instruction-level constraints and action-level stages. Defaults are
//! stated in the constraints they fill ("0.100 m (default for lift)"); amounts out of range, a speed the planner
//! cannot reach and a direction it cannot see are refused.

use std::ops::Range;

use glam::DVec3;

use super::clause::{Clause, ClauseFacts};
use super::{
    Constraint, ConstraintKind, DEFAULT_APPROACH_M, DEFAULT_LIFT_M, DEFAULT_LOWER_M, DEFAULT_RELATION_M,
    DEFAULT_SPEED_M_S, DEFAULT_SPEED_RAD_S, Frame, InstructionError, MAX_DURATION_S, MAX_SPEED_M_S, MAX_SPEED_RAD_S,
    Motion, ParsedInstruction, Stage, StageKind,
};

pub(super) struct Builder {
    pub out: ParsedInstruction,
    pub gripper_closed: bool,
    /// Height gained since the last grasp (lowered again by "place").
    pub lifted_m: f64,
    pub object: Option<String>,
}

impl Builder {
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

    /// Checks the clause's speeds and durations, then adds its constraints and stages.
    pub fn clause(
        &mut self,
        clause: &Clause<'_>,
        mut facts: ClauseFacts,
        previous_verb: Option<StageKind>,
    ) -> Result<StageKind, InstructionError> {
        let source = clause.span();
        check_speeds(clause, &facts)?;
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
        if let Some(object) = facts.object.take().filter(|o| !matches!(o.as_str(), "gripper" | "hand")) {
            if self.object.is_none() {
                self.constraint(ConstraintKind::Object, object.clone(), source.clone());
            }
            self.object = Some(object);
        }
        if let Some(part) = &facts.part {
            self.constraint(ConstraintKind::ObjectPart, part.clone(), source.clone());
        }
        if let Some((_, label)) = &facts.speed_m_s {
            self.constraint(ConstraintKind::Speed, label.clone(), source.clone());
        } else if let Some((_, label)) = &facts.speed_rad_s {
            self.constraint(ConstraintKind::Speed, label.clone(), source.clone());
        }
        if let Some(duration) = facts.duration_s {
            self.constraint(ConstraintKind::Speed, format!("within {duration:.1} s"), source.clone());
        }
        match kind {
            StageKind::Move | StageKind::Lift | StageKind::Approach => self.translation(clause, &facts, kind, source),
            StageKind::Rotate => self.rotation(clause, &facts, source),
            StageKind::Grasp | StageKind::Release => self.gripper(clause, &facts, kind, source),
            StageKind::Place => self.place(clause, &facts, source),
            StageKind::Wait => self.wait(clause, &facts, source),
        }?;
        Ok(kind)
    }

    /// Approach, lift and move: a straight line with a direction and a distance (or a stated default).
    fn translation(
        &mut self,
        clause: &Clause<'_>,
        facts: &ClauseFacts,
        kind: StageKind,
        source: Range<usize>,
    ) -> Result<(), InstructionError> {
        let frame = facts.frame.unwrap_or(Frame::Base);
        let direction_sum: DVec3 = facts.directions.iter().map(|(v, ..)| *v).sum();
        let (direction, what, distance, default_note) = match kind {
            StageKind::Lift => {
                if facts.directions.iter().any(|(v, ..)| v.z < 0.0) {
                    return Err(clause.whole_error("'lift' goes up; did you mean 'lower'?"));
                }
                let d = if facts.directions.is_empty() { DVec3::Z } else { (direction_sum + DVec3::Z).normalize() };
                let name = if facts.directions.is_empty() {
                    "up".to_owned()
                } else {
                    format!("up and {}", direction_name(&facts.directions))
                };
                (d, name, facts.distance.as_ref().map(|(d, _)| *d), Some(DEFAULT_LIFT_M))
            }
            StageKind::Approach => {
                let d = if facts.directions.is_empty() { DVec3::NEG_Z } else { direction_sum.normalize() };
                let name = if facts.directions.is_empty() { "down".into() } else { direction_name(&facts.directions) };
                (d, name, facts.distance.as_ref().map(|(d, _)| *d), Some(DEFAULT_APPROACH_M))
            }
            _ => {
                let lowering = facts.verb.as_ref().is_some_and(|(_, _, w)| w == "lower" || w == "descend");
                if let Some((offset, label, lateral)) = facts.relation.clone() {
                    // "move it left of the plate": the planner cannot see the plate, so it moves the default
                    // distance toward that side, and says so.
                    self.constraint(ConstraintKind::TargetRelation, label.clone(), source.clone());
                    if lateral && facts.directions.is_empty() {
                        (offset, label, facts.distance.as_ref().map(|(d, _)| *d), None)
                    } else {
                        return Err(clause.whole_error(format!(
                            "'{label}' gives no direction I can move in; use left of, right of, in front of or behind"
                        )));
                    }
                } else if facts.directions.is_empty() {
                    return Err(clause.whole_error("which way? add a direction (left, right, forward, back, up, down)"));
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
                self.constraint(ConstraintKind::Distance, format!("{d:.3} m"), source.clone());
                d
            }
            (None, Some(default)) => {
                self.constraint(
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
            self.constraint(
                ConstraintKind::Distance,
                format!("{DEFAULT_RELATION_M:.3} m (default: the planner cannot see where the target is)"),
                source.clone(),
            );
        }
        self.constraint(ConstraintKind::Direction, format!("{what} ({})", frame.name()), source.clone());
        if kind == StageKind::Lift && !self.gripper_closed && self.object.is_some() {
            self.stage(
                StageKind::Grasp,
                Motion::Gripper { close: true },
                source.clone(),
                "grasp: close the gripper (the planner assumes it is at the object)".into(),
            );
        }
        let speed = speed_for(facts, distance, DEFAULT_SPEED_M_S, false);
        check_implied_speed(clause, distance, speed, false)?;
        self.translate(kind, direction * distance, frame, speed, source, &what);
        Ok(())
    }

    fn rotation(
        &mut self,
        clause: &Clause<'_>,
        facts: &ClauseFacts,
        source: Range<usize>,
    ) -> Result<(), InstructionError> {
        let frame = facts.frame.unwrap_or(Frame::Base);
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
            return Err(clause
                .whole_error("which way? say clockwise or counterclockwise (as seen from above / along the axis)"));
        };
        let signed = sense * angle.abs();
        if angle.abs() > std::f64::consts::TAU + 1e-9 {
            return Err(clause.whole_error("more than a full turn; the wrist cannot do that in one step"));
        }
        let sense_name = if sense < 0.0 { "clockwise" } else { "counterclockwise" };
        self.constraint(
            ConstraintKind::Rotation,
            format!("{:.0}° {sense_name} about {axis_name} ({})", angle.abs().to_degrees(), frame.name()),
            source.clone(),
        );
        let speed = speed_for(facts, angle, DEFAULT_SPEED_RAD_S, true);
        check_implied_speed(clause, angle, speed, true)?;
        let description = format!(
            "rotate: {:.0}° {sense_name} about {axis_name} at {:.0}°/s{}",
            angle.abs().to_degrees(),
            speed.to_degrees(),
            if frame == Frame::Gripper { " (gripper frame)" } else { "" }
        );
        self.stage(
            StageKind::Rotate,
            Motion::Rotate { axis, angle_rad: signed, frame, speed_rad_s: speed },
            source,
            description,
        );
        Ok(())
    }

    fn gripper(
        &mut self,
        clause: &Clause<'_>,
        facts: &ClauseFacts,
        kind: StageKind,
        source: Range<usize>,
    ) -> Result<(), InstructionError> {
        let close = kind == StageKind::Grasp;
        if facts.distance.is_some() || facts.angle.is_some() || !facts.directions.is_empty() {
            return Err(clause.whole_error(format!(
                "'{}' opens or closes the gripper and takes no distance or direction",
                facts.verb.as_ref().map_or("grasp", |(_, _, w)| w.as_str())
            )));
        }
        let description = if close { "grasp: close the gripper" } else { "release: open the gripper" };
        self.stage(kind, Motion::Gripper { close }, source, description.into());
        Ok(())
    }

    fn place(
        &mut self,
        clause: &Clause<'_>,
        facts: &ClauseFacts,
        source: Range<usize>,
    ) -> Result<(), InstructionError> {
        let direction_sum: DVec3 = facts.directions.iter().map(|(v, ..)| *v).sum();
        let speed = speed_for(facts, DEFAULT_RELATION_M, DEFAULT_SPEED_M_S, false);
        check_implied_speed(clause, DEFAULT_RELATION_M, speed, false)?;
        if let Some((offset, label, lateral)) = facts.relation.clone() {
            self.constraint(ConstraintKind::TargetRelation, label.clone(), source.clone());
            if lateral {
                let distance = facts.distance.as_ref().map_or(DEFAULT_RELATION_M, |(d, _)| *d);
                self.constraint(
                    ConstraintKind::Distance,
                    if facts.distance.is_some() {
                        format!("{distance:.3} m")
                    } else {
                        format!("{distance:.3} m (default: the planner cannot see where the target is)")
                    },
                    source.clone(),
                );
                self.constraint(ConstraintKind::Direction, format!("{label} (base frame)"), source.clone());
                self.translate(StageKind::Move, offset * distance, Frame::Base, speed, source.clone(), &label);
            }
        } else if !(facts.directions.is_empty() || facts.distance.is_none() && direction_sum == DVec3::NEG_Z) {
            let Some((distance, _)) = facts.distance else {
                return Err(clause.whole_error("how far? add a distance such as '10 cm'"));
            };
            let what = direction_name(&facts.directions);
            self.constraint(ConstraintKind::Direction, format!("{what} (base frame)"), source.clone());
            self.constraint(ConstraintKind::Distance, format!("{distance:.3} m"), source.clone());
            self.translate(
                StageKind::Move,
                direction_sum.normalize() * distance,
                Frame::Base,
                speed,
                source.clone(),
                &what,
            );
        }
        let down = if self.lifted_m > 1e-6 { self.lifted_m } else { DEFAULT_LOWER_M };
        let what = if self.lifted_m > 1e-6 { "down by the height lifted" } else { "down (default)" };
        self.translate(StageKind::Place, DVec3::NEG_Z * down, Frame::Base, speed, source.clone(), what);
        self.stage(StageKind::Release, Motion::Gripper { close: false }, source, "release: open the gripper".into());
        Ok(())
    }

    fn wait(&mut self, clause: &Clause<'_>, facts: &ClauseFacts, source: Range<usize>) -> Result<(), InstructionError> {
        let Some(duration) = facts.duration_s else {
            return Err(clause.whole_error("how long? add a time such as '2 seconds'"));
        };
        self.stage(StageKind::Wait, Motion::Hold { duration_s: duration }, source, format!("wait: {duration:.1} s"));
        Ok(())
    }
}

fn direction_name(directions: &[(DVec3, &'static str, usize)]) -> String {
    directions.iter().map(|(_, name, _)| *name).collect::<Vec<_>>().join(" and ")
}

/// The average speed for moving `amount`: from a duration ("in 2 seconds"), a speed ("at 5 cm/s", "slowly") or the
/// default.
fn speed_for(facts: &ClauseFacts, amount: f64, default: f64, angular: bool) -> f64 {
    if let Some(duration) = facts.duration_s.filter(|d| *d > 0.0) {
        return amount.abs() / duration;
    }
    let chosen = if angular { facts.speed_rad_s.as_ref() } else { facts.speed_m_s.as_ref() };
    chosen.map_or(default, |(s, _)| *s)
}

/// Speeds and durations the planner can do; anything else is refused, not clamped.
fn check_speeds(clause: &Clause<'_>, facts: &ClauseFacts) -> Result<(), InstructionError> {
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
    Ok(())
}

/// The speed a duration implies must be within the caps too ("5 cm in 1 ms" would be 50 m/s), and the motion must
/// end within the longest stage ("2 m at 0.0001 mm/s" would take 231 days).
fn check_implied_speed(clause: &Clause<'_>, amount: f64, speed: f64, angular: bool) -> Result<(), InstructionError> {
    let duration_s = amount.abs() / speed;
    if speed > 0.0 && duration_s > MAX_DURATION_S {
        return Err(clause.whole_error(format!(
            "at that speed it would take {duration_s:.0} s, longer than a stage may take ({MAX_DURATION_S:.0} s)"
        )));
    }
    let (cap, unit, shown) =
        if angular { (MAX_SPEED_RAD_S, "°/s", speed.to_degrees()) } else { (MAX_SPEED_M_S, "m/s", speed) };
    let cap_shown = if angular { cap.to_degrees() } else { cap };
    if speed.is_finite() && speed > 0.0 && speed <= cap + 1e-12 {
        Ok(())
    } else {
        Err(clause.whole_error(format!(
            "that is {shown:.3} {unit}, faster than the planner goes (up to {cap_shown:.3} {unit}); allow more time"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruction::lexer::lex;

    fn build(text: &str, gripper_closed: bool) -> Result<Vec<String>, InstructionError> {
        let tokens = lex(text);
        let mut builder = Builder { out: ParsedInstruction::default(), gripper_closed, lifted_m: 0.0, object: None };
        let mut previous = None;
        for range in super::super::clause::split_clauses(&tokens) {
            let clause = Clause { tokens: &tokens[range], text };
            let facts = super::super::clause::read_clause(&clause)?;
            previous = Some(builder.clause(&clause, facts, previous)?);
        }
        Ok(builder.out.stages.into_iter().map(|s| s.description).collect())
    }

    #[test]
    fn defaults_are_stated_and_a_lift_of_an_object_grasps_it_first() {
        assert_eq!(
            build("lift the mug", false).unwrap(),
            ["grasp: close the gripper (the planner assumes it is at the object)", "lift: up 0.100 m at 0.050 m/s"]
        );
        assert_eq!(build("lift it 5 cm", true).unwrap(), ["lift: up 0.050 m at 0.050 m/s"]);
        assert_eq!(build("move 5 cm up and 3 cm left", false).unwrap().len(), 2, "the second keeps the verb");
    }

    #[test]
    fn durations_become_speeds_within_the_caps_and_the_longest_stage() {
        assert_eq!(build("move 6 cm down in 3 seconds", false).unwrap(), ["move: down 0.060 m at 0.020 m/s"]);
        assert!(build("move 5 cm left in 1 ms", false).unwrap_err().reason.contains("faster than"));
        assert!(build("move 2 m left at 0.0001 mm/s", false).unwrap_err().reason.contains("longer than a stage"));
        assert!(
            build("rotate 90 degrees clockwise at 0.001 degrees per second", false)
                .unwrap_err()
                .reason
                .contains("longer")
        );
        assert!(build("slowly", false).unwrap_err().reason.contains("speed on its own"));
    }
}
