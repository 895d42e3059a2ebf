//! Tests of `clause`.

use super::*;
use crate::instruction::lexer::lex;

fn facts(text: &str) -> Result<ClauseFacts, InstructionError> {
    let tokens = lex(text);
    read_clause(&Clause { tokens: &tokens, text })
}

fn clauses(text: &str) -> Vec<String> {
    let tokens = lex(text);
    split_clauses(&tokens)
        .into_iter()
        .map(|r| {
            let clause = Clause { tokens: &tokens[r], text };
            text[clause.span()].to_owned()
        })
        .collect()
}

#[test]
fn clauses_split_at_then_and_commas_but_not_inside_numbers_or_directions() {
    assert_eq!(clauses("lift it, then move 5 cm left"), ["lift it", "move 5 cm left"]);
    assert_eq!(
        clauses("rotate one hundred and eighty degrees clockwise"),
        ["rotate one hundred and eighty degrees clockwise"]
    );
    assert_eq!(clauses("move 5 cm forward and left"), ["move 5 cm forward and left"]);
    assert_eq!(clauses("grasp it and lift it after that place it"), ["grasp it", "lift it", "place it"]);
}

#[test]
fn amounts_introduced_by_by_and_one_written_as_a() {
    let f = facts("move left by 80 mm").unwrap();
    assert!((f.distance.unwrap().0 - 0.08).abs() < 1e-12);
    assert_eq!(f.directions[0].1, "left");
    let f = facts("rotate it clockwise by 60 degrees").unwrap();
    assert!((f.angle.unwrap().0.to_degrees() - 60.0).abs() < 1e-9);
    let f = facts("move a centimetre up").unwrap();
    assert!((f.distance.unwrap().0 - 0.01).abs() < 1e-12);
    let f = facts("lift the mug by its handle").unwrap();
    assert_eq!((f.part.as_deref(), f.object.as_deref()), (Some("handle"), Some("mug")));
    assert!(facts("put it by the plate").unwrap_err().reason.contains("which side of the plate"));
}

#[test]
fn towards_points_where_it_says_or_is_refused() {
    let f = facts("slide the cup towards the left side 5 cm").unwrap();
    assert_eq!(f.directions.iter().map(|d| d.1).collect::<Vec<_>>(), ["left"]);
    let f = facts("move it towards the robot 5 cm").unwrap();
    assert_eq!(f.directions[0].1, "back");
    let f = facts("move it away from the robot 5 cm").unwrap();
    assert_eq!(f.directions[0].1, "forward");
    let error = facts("move it towards the plate 5 cm").unwrap_err();
    assert!(error.reason.contains("cannot see where the plate is"), "{error}");
}

#[test]
fn signs_negations_repetitions_and_stray_words_are_refused_with_the_words() {
    let error = facts("move -5 cm left").unwrap_err();
    assert!(error.phrase == "-5 cm" && error.reason.contains("negative amount"), "{error}");
    for (text, word, reason) in [
        ("move minus 5 cm left", "minus", "negative amounts"),
        ("do not move 5 cm left", "not", "negations"),
        ("move 5 cm left twice", "twice", "repetitions"),
        ("move 5 cm left except slowly", "except", "exceptions"),
        ("move 5 cm left until it touches", "until", "conditions"),
    ] {
        let error = facts(text).unwrap_err();
        assert_eq!(error.phrase, word, "{text}");
        assert!(error.reason.contains(reason), "{text}: {error}");
    }
    let error = facts("move the mug 5 cm left zebra").unwrap_err();
    assert!(error.reason.contains("account for"), "{error}");
    let error = facts("move it 5 cm left stealthily").unwrap_err();
    assert_eq!(error.phrase, "stealthily");
}

#[test]
fn speeds_frames_and_rotation_words() {
    let f = facts("move 10 cm forward at 2 cm/s in the gripper frame").unwrap();
    assert!((f.speed_m_s.unwrap().0 - 0.02).abs() < 1e-12);
    assert_eq!(f.frame, Some(Frame::Gripper));
    let f = facts("rotate a quarter turn counterclockwise about the x axis").unwrap();
    assert!((f.angle.unwrap().0 - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    assert_eq!((f.sense.unwrap().0, f.axis.unwrap().1), (1.0, "x"));
    assert!(facts("turn it 90 degrees clockwise and counterclockwise").is_err());
    assert!(facts("lift it slowly quickly").unwrap_err().reason.contains("contradictory speeds"));
}
