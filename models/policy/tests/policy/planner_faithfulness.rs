//! The built-in planner against the instructions in `policy::faithfulness::suite`, measured on the decoded joint
//! trajectory; and its reasoning stream and error messages.
#![allow(clippy::unwrap_used)]

use kinedesk_core::robot::{SafetyLimits, panda};
use kinedesk_policy::backend::{PolicyBackend, PolicyEvent};
use kinedesk_policy::builtin::BuiltinPlanner;
use kinedesk_policy::faithfulness::{Case, evaluate_case, phrasings, refusals, suite};
use kinedesk_policy::trajectory::check_planned;

use super::request;

/// Plans every case and checks it on the decoded joint trajectory; returns what failed.
fn failures_of(cases: &[Case]) -> Vec<String> {
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let plan = match planner.plan(&request(case.instruction, case.gripper_closed), &mut |_| {}) {
            Ok(plan) => plan,
            Err(error) => {
                failures.push(format!("{:?}: {error}", case.instruction));
                continue;
            }
        };
        let robot = panda();
        let report = check_planned(&robot, &plan.full, &SafetyLimits::for_robot(&robot));
        if !report.ok {
            failures.push(format!("{:?}: checks fail: {:?}", case.instruction, report.violations.first()));
        }
        for check in evaluate_case(case, &plan).into_iter().filter(|c| !c.pass) {
            failures.push(format!(
                "{:?}: {} expected {} measured {}",
                case.instruction, check.what, check.expected, check.measured
            ));
        }
    }
    failures
}

#[test]
fn every_instruction_in_the_suite_is_followed_within_tolerance() {
    let cases = suite();
    let failures = failures_of(&cases);
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn new_phrasings_are_planned_faithfully_or_refused_with_the_words() {
    let cases = phrasings();
    let failures = failures_of(&cases);
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().unwrap();
    for refusal in refusals() {
        let Err(error) = planner.plan(&request(refusal.instruction, false), &mut |_| {}) else {
            panic!("{:?} was planned; it must be refused ({})", refusal.instruction, refusal.reason);
        };
        let error = error.to_string();
        if let Some(words) = refusal.words {
            assert!(error.contains(&format!("\"{words}\"")), "{:?}: {error}", refusal.instruction);
        }
        assert!(error.contains(refusal.reason), "{:?}: {error}", refusal.instruction);
    }
    // The whole suite: at least 80 instructions, each either followed or refused.
    assert!(suite().len() + cases.len() + refusals().len() >= 80);
}

#[test]
fn reasoning_streams_before_tokens_and_tokens_before_the_plan() {
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().unwrap();
    let mut events = Vec::new();
    let plan = planner
        .plan(&request("lift the mug by its handle, rotate it 90° clockwise", false), &mut |e| events.push(e))
        .unwrap();
    assert!(matches!(events[0], PolicyEvent::InstructionLevel(ref c) if c.contains(&"object part: handle".to_owned())));
    assert!(matches!(events[1], PolicyEvent::ActionLevel(ref s) if s.len() == 3));
    let chunks = events.iter().filter(|e| matches!(e, PolicyEvent::ActionTokens { .. })).count();
    assert_eq!(chunks, plan.output.chunks.len());
    let layout = plan.layout.clone().unwrap();
    assert!(plan.output.chunks.iter().all(|c| c.len() == layout.tokens_per_chunk()));
    // The coarse decode exists and differs from the full one.
    let coarse = plan.coarse.as_ref().unwrap();
    assert_eq!(coarse.joints.len(), plan.full.joints.len());
    assert_ne!(coarse.ee_position_m, plan.full.ee_position_m);
}

#[test]
fn what_is_not_understood_is_said_with_the_words() {
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().unwrap();
    for (instruction, words, reason) in [
        ("wiggle the mug", "wiggle", "not an action"),
        ("move left", "move left", "how far"),
        ("rotate it 90 degrees", "rotate it 90 degrees", "clockwise or counterclockwise"),
        ("move 5 cm left and right", "left and right", "contradictory"),
        ("move 5 left", "5 left", "without a unit"),
        ("place it next to the plate", "next to", "which side"),
        ("move it 5 cm left stealthily", "stealthily", "not a speed"),
        ("lift it slowly quickly", "quickly", "contradictory speeds"),
        ("", "", "empty"),
    ] {
        let error = planner.plan(&request(instruction, false), &mut |_| {}).unwrap_err().to_string();
        assert!(error.contains(&format!("\"{words}\"")), "{instruction:?}: {error}");
        assert!(error.contains(reason), "{instruction:?}: {error}");
    }
}

mod fuzz {
    use kinedesk_policy::instruction::parse_instruction;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "move",
        "lift",
        "rotate",
        "turn",
        "place",
        "put",
        "down",
        "up",
        "left",
        "right",
        "of",
        "the",
        "mug",
        "5",
        "cm",
        "90",
        "degrees",
        "°",
        "clockwise",
        "then",
        "and",
        ",",
        "slowly",
        "at",
        "per",
        "second",
        "a",
        "quarter",
        "by",
        "its",
        "handle",
        "x",
        "axis",
        "relative",
        "to",
        "gripper",
        "hundred",
        "forty-five",
        "in",
        "front",
        "wait",
        "1.5",
        ".",
        "/",
        "s",
        "very",
        "tilt",
        "pick",
        "let",
        "go",
        "next",
        "behind",
        "on",
        "top",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_is_read_or_explained_never_a_panic(text in "\\PC{0,80}") {
            match parse_instruction(&text, false) {
                Ok(parsed) => prop_assert!(parsed.stages.iter().all(|s| s.source.end <= text.len())),
                Err(error) => prop_assert!(error.span.end <= text.len() && !error.reason.is_empty()),
            }
        }

        #[test]
        fn word_soup_is_read_or_explained_never_a_panic(words in proptest::collection::vec(0..WORDS.len(), 0..16)) {
            let text = words.iter().map(|i| WORDS[*i]).collect::<Vec<_>>().join(" ");
            match parse_instruction(&text, true) {
                Ok(parsed) => prop_assert!(parsed.stages.iter().all(|s| s.source.end <= text.len())),
                Err(error) => prop_assert!(error.span.end <= text.len() && text.is_char_boundary(error.span.start)),
            }
        }
    }
}

#[test]
fn absurd_speeds_and_durations_are_refused() {
    use kinedesk_policy::instruction::parse_instruction;
    for text in ["move 5 cm left at 0 cm/s", "move 5 cm left at 30 m/s", "wait 100000 seconds", "move 5 cm up in 0 s"] {
        let error = parse_instruction(text, false).unwrap_err();
        assert!(error.reason.contains("out of range"), "{text}: {error}");
    }
}
