//! Instructions in phrasings the first suite did not have, written after a review measured the planner on
//! instructions it had never seen: amounts introduced by "by", "a"/"an" as one, number words and decimals, units,
//! "towards"/"away from", frames, durations and speeds. Each either plans faithfully (checked on the decoded joint
//! trajectory like [`super::suite`]) or is refused with the words it could not account for.

use super::{Case, Expect};

/// An instruction the planner must refuse: the words it names and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub instruction: &'static str,
    /// The words the refusal quotes (`None`: the refusal is about the whole plan, not some words).
    pub words: Option<&'static str>,
    /// Part of the reason it gives.
    pub reason: &'static str,
}

/// Phrasings that must be planned faithfully (start: the rest pose).
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn phrasings() -> Vec<Case> {
    use Expect::{
        Displacement as D, DisplacementInGripper as G, Gripper as Grip, LinearSpeed as V, Rotation as R,
        RotationInGripper as RG,
    };
    let inch = 0.0254;
    let case = |instruction, gripper_closed, stages, expect| Case { instruction, gripper_closed, stages, expect };
    vec![
        case("move left by 80 mm", false, &["move"], vec![D { stage: 0, vector_m: [0.0, 0.08, 0.0] }]),
        case(
            "move the block to the right by 6 cm",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, -0.06, 0.0] }],
        ),
        case("lift it by 7 centimetres", true, &["lift"], vec![D { stage: 0, vector_m: [0.0, 0.0, 0.07] }]),
        case(
            "rotate the cup clockwise by 60 degrees",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -60.0 }],
        ),
        case(
            "turn it counterclockwise by a quarter turn",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 90.0 }],
        ),
        case("move a centimetre up", false, &["move"], vec![D { stage: 0, vector_m: [0.0, 0.0, 0.01] }]),
        case("lower it an inch", true, &["move"], vec![D { stage: 0, vector_m: [0.0, 0.0, -inch] }]),
        case("move an inch forward", false, &["move"], vec![D { stage: 0, vector_m: [inch, 0.0, 0.0] }]),
        case(
            "slide the cup towards the left side 5 cm",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, 0.05, 0.0] }],
        ),
        case("push it towards the robot by 4 cm", false, &["move"], vec![D { stage: 0, vector_m: [-0.04, 0.0, 0.0] }]),
        case("move it away from the robot 6 cm", false, &["move"], vec![D { stage: 0, vector_m: [0.06, 0.0, 0.0] }]),
        case("move it towards the right 3 cm", false, &["move"], vec![D { stage: 0, vector_m: [0.0, -0.03, 0.0] }]),
        case(
            "shift the box sixty millimetres to the left",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, 0.06, 0.0] }],
        ),
        case("move it 12.5 cm forward", false, &["move"], vec![D { stage: 0, vector_m: [0.125, 0.0, 0.0] }]),
        case("move it 0.05 metres down", false, &["move"], vec![D { stage: 0, vector_m: [0.0, 0.0, -0.05] }]),
        case(
            "go 3 centimeters right slowly",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, -0.03, 0.0] }, V { stage: 0, m_s: 0.02 }],
        ),
        case(
            "move it forty five millimetres back",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [-0.045, 0.0, 0.0] }],
        ),
        case(
            "rotate it 1.2 radians clockwise",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -68.754_935 }],
        ),
        case(
            "spin the cup half a turn counterclockwise",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 180.0 }],
        ),
        case(
            "twist it twenty degrees clockwise about the z axis",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -20.0 }],
        ),
        case(
            "roll the gripper 45 degrees counterclockwise",
            false,
            &["rotate"],
            vec![R { stage: 0, axis: [1.0, 0.0, 0.0], angle_deg: 45.0 }],
        ),
        case(
            "rotate it 30 degrees counterclockwise about the y axis",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 1.0, 0.0], angle_deg: 30.0 }],
        ),
        case(
            "tilt it back 15 degrees",
            true,
            &["rotate"],
            vec![R { stage: 0, axis: [0.0, 1.0, 0.0], angle_deg: -15.0 }],
        ),
        case(
            "move 4 cm left in 2 seconds",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, 0.04, 0.0] }, V { stage: 0, m_s: 0.02 }],
        ),
        case(
            "move it 9 cm forward at 3 cm/s",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.09, 0.0, 0.0] }, V { stage: 0, m_s: 0.03 }],
        ),
        case(
            "lift the mug 8 cm, then move it 6 cm right",
            false,
            &["grasp", "lift", "move"],
            vec![
                Grip { stage: 0, closed: true },
                D { stage: 1, vector_m: [0.0, 0.0, 0.08] },
                D { stage: 2, vector_m: [0.0, -0.06, 0.0] },
            ],
        ),
        case(
            "grab the bottle, lift it by 5 cm, then put it down",
            false,
            &["grasp", "lift", "place", "release"],
            vec![
                Grip { stage: 0, closed: true },
                D { stage: 1, vector_m: [0.0, 0.0, 0.05] },
                D { stage: 2, vector_m: [0.0, 0.0, -0.05] },
                Grip { stage: 3, closed: false },
            ],
        ),
        case(
            "move up 3 cm and then left 4 cm",
            false,
            &["move", "move"],
            vec![D { stage: 0, vector_m: [0.0, 0.0, 0.03] }, D { stage: 1, vector_m: [0.0, 0.04, 0.0] }],
        ),
        case(
            "move the gripper 5 cm left relative to the gripper",
            false,
            &["move"],
            vec![G { stage: 0, vector_m: [0.0, 0.05, 0.0] }],
        ),
        case(
            "move 3 cm forward using the gripper frame",
            false,
            &["move"],
            vec![G { stage: 0, vector_m: [0.03, 0.0, 0.0] }],
        ),
        case(
            "rotate 45 degrees counterclockwise in the gripper frame",
            false,
            &["rotate"],
            vec![RG { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 45.0 }],
        ),
        case(
            "wait 2 seconds then move 5 cm up",
            false,
            &["wait", "move"],
            vec![D { stage: 1, vector_m: [0.0, 0.0, 0.05] }],
        ),
        case("open the gripper", true, &["release"], vec![Grip { stage: 0, closed: false }]),
        case("close the gripper", false, &["grasp"], vec![Grip { stage: 0, closed: true }]),
        case("move two inches left", false, &["move"], vec![D { stage: 0, vector_m: [0.0, 2.0 * inch, 0.0] }]),
        case(
            "move it 10 cm left very slowly",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, 0.1, 0.0] }, V { stage: 0, m_s: 0.01 }],
        ),
        case(
            "move 5 cm forward and 5 cm up",
            false,
            &["move", "move"],
            vec![D { stage: 0, vector_m: [0.05, 0.0, 0.0] }, D { stage: 1, vector_m: [0.0, 0.0, 0.05] }],
        ),
        case("please move the cup 7 cm backwards", false, &["move"], vec![D { stage: 0, vector_m: [-0.07, 0.0, 0.0] }]),
        case("move 6 cm leftward", false, &["move"], vec![D { stage: 0, vector_m: [0.0, 0.06, 0.0] }]),
        case(
            "pick up the block by its edge and move it 5 cm left",
            false,
            &["grasp", "lift", "move"],
            vec![
                Grip { stage: 0, closed: true },
                D { stage: 1, vector_m: [0.0, 0.0, 0.10] },
                D { stage: 2, vector_m: [0.0, 0.05, 0.0] },
            ],
        ),
        case(
            "rotate it by 90 degrees counterclockwise, then lower it by 2 cm",
            true,
            &["rotate", "move"],
            vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 90.0 }, D { stage: 1, vector_m: [0.0, 0.0, -0.02] }],
        ),
        case(
            "move it 10 cm left at 0.1 m/s",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, 0.1, 0.0] }, V { stage: 0, m_s: 0.1 }],
        ),
        case(
            "raise it 4 cm quickly",
            true,
            &["lift"],
            vec![D { stage: 0, vector_m: [0.0, 0.0, 0.04] }, V { stage: 0, m_s: 0.1 }],
        ),
        case(
            "move it exactly 25 mm to the right",
            false,
            &["move"],
            vec![D { stage: 0, vector_m: [0.0, -0.025, 0.0] }],
        ),
    ]
}

/// Phrasings that must be refused, with the words and the reason.
#[must_use]
pub fn refusals() -> Vec<Refusal> {
    let refusal = |instruction, words, reason| Refusal { instruction, words, reason };
    vec![
        refusal("move -5 cm left", Some("-5 cm"), "negative amount"),
        refusal("rotate -90 degrees clockwise", Some("-90 degrees"), "negative amount"),
        refusal("move minus 5 cm left", Some("minus"), "negative amounts"),
        refusal("move 5 cm left twice", Some("twice"), "repetitions"),
        refusal("don't move left", Some("don't"), "negations"),
        refusal("move 5 cm left but not too fast", Some("but"), "exceptions"),
        refusal("move 5 cm left except if it is blocked", Some("except"), "exceptions"),
        refusal("move it towards the plate 5 cm", Some("towards the plate"), "cannot see where the plate is"),
        refusal("move 5 cm left in 1 ms", Some("move 5 cm left in 1 ms"), "faster than the planner goes"),
        refusal("move 2 m left at 0.0001 mm/s", Some("move 2 m left at 0.0001 mm/s"), "longer than a stage"),
        refusal("move the cup a bit left", Some("bit"), "account for"),
        refusal("move it 5 cm left until it touches the plate", Some("until"), "conditions"),
        refusal("wiggle the mug", Some("wiggle"), "not an action"),
        refusal("move 5 left", Some("5 left"), "without a unit"),
        refusal("place it next to the plate", Some("next to"), "which side"),
        refusal("put it by the plate", Some("by the plate"), "which side of the plate"),
        refusal("move it 5 cm left stealthily", Some("stealthily"), "not a speed"),
        refusal("move 3 m left", Some("move 3 m left"), "out of range"),
        refusal("rotate it 90 degrees", Some("rotate it 90 degrees"), "clockwise or counterclockwise"),
        refusal("move 5 cm left and right", Some("left and right"), "contradictory"),
        refusal("move it a quarter of a metre left", Some("quarter"), "account for"),
        refusal("move it 5 cm left or right", Some("or"), "alternatives"),
        refusal("turn left", Some("turn left"), "how far"),
        // Its steps would be over 50 standard deviations from the fitted actions: the tokenizer refuses them.
        refusal("move 10 cm left at 0.5 m/s", None, "than the action tokens can represent"),
        // A small roll whose decoded axis is 6° off (tolerance 5°): the plan's own check refuses it.
        refusal("roll the gripper 15 degrees counterclockwise", None, "would not do what was asked"),
    ]
}
