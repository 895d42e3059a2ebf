//! Kinematic faithfulness of a plan: does the arm really move the distance, in the direction, by the angle and at
//! the speed the instruction asked for? Measured on the *decoded* joint trajectory (forward kinematics of the joints
//! the robot would be sent), stage by stage. Used by the tests and by `kinedesk bench planner`.

mod phrasings;

use glam::{DQuat, DVec3};

pub use phrasings::{Refusal, phrasings, refusals};

use super::backend::PolicyPlan;
use super::instruction::{Frame, Motion, ParsedInstruction};

/// Tolerances: position within max(3 mm, 5 %), direction within 5°, angle within 3°, axis within 5°, speed within 10 %.
pub const POSITION_TOLERANCE_M: f64 = 0.003;
pub const RELATIVE_TOLERANCE: f64 = 0.05;
pub const DIRECTION_TOLERANCE_DEG: f64 = 5.0;
pub const ANGLE_TOLERANCE_DEG: f64 = 3.0;
pub const SPEED_TOLERANCE: f64 = 0.10;

/// What one stage should do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// Net flange displacement over the stage, in the base frame (m).
    Displacement { stage: usize, vector_m: [f64; 3] },
    /// Net flange displacement in the gripper frame at the start of the stage (m).
    DisplacementInGripper { stage: usize, vector_m: [f64; 3] },
    /// Rotation over the stage: signed angle about a base-frame axis.
    Rotation { stage: usize, axis: [f64; 3], angle_deg: f64 },
    /// Rotation about an axis given in the gripper frame at the start of the stage.
    RotationInGripper { stage: usize, axis: [f64; 3], angle_deg: f64 },
    /// Average linear speed over the stage (m/s).
    LinearSpeed { stage: usize, m_s: f64 },
    /// Average angular speed over the stage (°/s).
    AngularSpeed { stage: usize, deg_s: f64 },
    /// The gripper state at the end of the stage.
    Gripper { stage: usize, closed: bool },
}

/// One instruction with what it should produce.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub instruction: &'static str,
    pub gripper_closed: bool,
    pub stages: &'static [&'static str],
    pub expect: Vec<Expect>,
}

/// The result of one expectation.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Check {
    pub what: String,
    pub expected: String,
    pub measured: String,
    pub pass: bool,
}

fn sample_pose(plan: &PolicyPlan, index: usize) -> Option<(DVec3, DQuat)> {
    let position = plan.full.ee_position_m.get(index)?;
    let q = plan.full.ee_quaternion_xyzw.get(index)?;
    Some((DVec3::from_array(*position), DQuat::from_xyzw(q[0], q[1], q[2], q[3])))
}

fn check_vector(what: String, expected: DVec3, measured: DVec3) -> Check {
    let error = (measured - expected).length();
    let tolerance = POSITION_TOLERANCE_M.max(RELATIVE_TOLERANCE * expected.length());
    let direction_deg = if expected.length() > 1e-9 && measured.length() > 1e-9 {
        expected.angle_between(measured).to_degrees()
    } else {
        0.0
    };
    Check {
        what,
        expected: format!("({:.4}, {:.4}, {:.4}) m", expected.x, expected.y, expected.z),
        measured: format!(
            "({:.4}, {:.4}, {:.4}) m, off by {:.1} mm and {direction_deg:.1}°",
            measured.x,
            measured.y,
            measured.z,
            error * 1000.0
        ),
        pass: error <= tolerance && direction_deg <= DIRECTION_TOLERANCE_DEG,
    }
}

/// The shorter of the two quaternions of a rotation (angle at most 180°).
fn shortest(rotation: DQuat) -> DQuat {
    if rotation.w < 0.0 { -rotation } else { rotation }
}

fn check_rotation(what: String, axis: DVec3, angle_deg: f64, delta: DQuat) -> Check {
    let axis = axis.normalize();
    let (mut measured_axis, measured_angle) = shortest(delta).to_axis_angle();
    // Express as a signed angle about the expected axis; a half turn either way is the same rotation.
    let mut signed = if measured_axis.dot(axis) >= 0.0 { measured_angle } else { -measured_angle };
    if (angle_deg.abs() - 180.0).abs() < 1e-9 && signed.signum() != angle_deg.signum() {
        signed = -signed;
        measured_axis = -measured_axis;
    }
    let axis_error =
        if measured_angle > 1e-6 { measured_axis.angle_between(axis * signed.signum()).to_degrees() } else { 0.0 };
    Check {
        what,
        expected: format!("{angle_deg:.1}° about ({:.2}, {:.2}, {:.2})", axis.x, axis.y, axis.z),
        measured: format!("{:.1}°, axis off by {axis_error:.1}°", signed.to_degrees()),
        pass: (signed.to_degrees() - angle_deg).abs() <= ANGLE_TOLERANCE_DEG && axis_error <= DIRECTION_TOLERANCE_DEG,
    }
}

/// Average speed within 10 %; or slower only because the stage was padded to whole action chunks (`padding_s`):
/// the motion itself took the asked time, the chunk's last steps hold still.
fn check_speed(what: String, expected: f64, amount: f64, duration_s: f64, padding_s: f64, unit: &str) -> Check {
    let measured = amount / duration_s.max(1e-9);
    let asked_duration = amount / expected.abs().max(1e-12);
    let padded = measured <= expected && duration_s <= asked_duration + padding_s + 1e-9;
    Check {
        what,
        expected: format!("{expected:.4} {unit}"),
        measured: format!("{measured:.4} {unit}"),
        pass: (measured - expected).abs() <= SPEED_TOLERANCE * expected.abs() || padded,
    }
}

/// Checks `plan` against `case`: the stage names first, then every expectation.
#[must_use]
pub fn evaluate_case(case: &Case, plan: &PolicyPlan) -> Vec<Check> {
    let names: Vec<&str> = plan.stages.iter().map(|s| s.kind.name()).collect();
    let mut checks = vec![Check {
        what: "stages".into(),
        expected: case.stages.join(", "),
        measured: names.join(", "),
        pass: names == case.stages,
    }];
    checks.extend(evaluate(&case.expect, plan));
    checks
}

/// What a plan read from `parsed` must do, stage by stage: each motion's displacement or rotation, its average
/// speed, and each gripper state. The built-in planner checks every plan against this before handing it out.
#[must_use]
pub fn expectations(parsed: &ParsedInstruction) -> Vec<Expect> {
    let mut expect = Vec::new();
    for (stage, planned) in parsed.stages.iter().enumerate() {
        match planned.motion {
            Motion::Translate { direction, distance_m, frame, speed_m_s } => {
                let vector_m = (direction * distance_m).to_array();
                expect.push(match frame {
                    Frame::Base => Expect::Displacement { stage, vector_m },
                    Frame::Gripper => Expect::DisplacementInGripper { stage, vector_m },
                });
                expect.push(Expect::LinearSpeed { stage, m_s: speed_m_s });
            }
            Motion::Rotate { axis, angle_rad, frame, speed_rad_s } => {
                let (axis, angle_deg) = (axis.to_array(), angle_rad.to_degrees());
                expect.push(match frame {
                    Frame::Base => Expect::Rotation { stage, axis, angle_deg },
                    Frame::Gripper => Expect::RotationInGripper { stage, axis, angle_deg },
                });
                expect.push(Expect::AngularSpeed { stage, deg_s: speed_rad_s.to_degrees() });
            }
            Motion::Gripper { close } => expect.push(Expect::Gripper { stage, closed: close }),
            Motion::Hold { .. } => {}
        }
    }
    expect
}

/// Checks `plan` against each expectation.
#[must_use]
pub fn evaluate(expectations: &[Expect], plan: &PolicyPlan) -> Vec<Check> {
    let mut checks = Vec::new();
    // A stage is padded to whole action chunks: at most one chunk of steps holds still at its end.
    let chunk_steps = plan.actions.len().checked_div(plan.output.chunks.len()).unwrap_or(1).max(1);
    let padding_s = chunk_steps as f64 * plan.action_dt_s;
    for expect in expectations {
        let stage_index = match expect {
            Expect::Displacement { stage, .. }
            | Expect::DisplacementInGripper { stage, .. }
            | Expect::Rotation { stage, .. }
            | Expect::RotationInGripper { stage, .. }
            | Expect::LinearSpeed { stage, .. }
            | Expect::AngularSpeed { stage, .. }
            | Expect::Gripper { stage, .. } => *stage,
        };
        let Some(span) = plan.stages.get(stage_index) else {
            checks.push(Check {
                what: format!("stage {stage_index}"),
                expected: "present".into(),
                measured: "missing".into(),
                pass: false,
            });
            continue;
        };
        let (Some((p0, q0)), Some((p1, q1))) = (sample_pose(plan, span.steps.start), sample_pose(plan, span.steps.end))
        else {
            continue;
        };
        let duration = span.steps.len() as f64 * plan.action_dt_s;
        let label = |what: &str| format!("stage {stage_index} ({}) {what}", span.kind.name());
        checks.push(match *expect {
            Expect::Displacement { vector_m, .. } => {
                check_vector(label("displacement"), DVec3::from_array(vector_m), p1 - p0)
            }
            Expect::DisplacementInGripper { vector_m, .. } => {
                check_vector(label("displacement (gripper frame)"), q0 * DVec3::from_array(vector_m), p1 - p0)
            }
            Expect::Rotation { axis, angle_deg, .. } => {
                check_rotation(label("rotation"), DVec3::from_array(axis), angle_deg, q1 * q0.inverse())
            }
            Expect::RotationInGripper { axis, angle_deg, .. } => check_rotation(
                label("rotation (gripper frame)"),
                q0 * DVec3::from_array(axis),
                angle_deg,
                q1 * q0.inverse(),
            ),
            Expect::LinearSpeed { m_s, .. } => {
                check_speed(label("average speed"), m_s, (p1 - p0).length(), duration, padding_s, "m/s")
            }
            Expect::AngularSpeed { deg_s, .. } => check_speed(
                label("average angular speed"),
                deg_s,
                shortest(q1 * q0.inverse()).to_axis_angle().1.to_degrees(),
                duration,
                padding_s,
                "°/s",
            ),
            Expect::Gripper { closed, .. } => {
                let value = plan.full.gripper.get(span.steps.end).copied().unwrap_or(0.0);
                Check {
                    what: label("gripper"),
                    expected: if closed { "closed" } else { "open" }.into(),
                    measured: if value > 0.0 { "closed" } else { "open" }.into(),
                    pass: (value > 0.0) == closed,
                }
            }
        });
    }
    checks
}

/// The instructions we wrote to measure the built-in planner (start: the robot's rest pose).
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn suite() -> Vec<Case> {
    use Expect::{
        AngularSpeed as W, Displacement as D, DisplacementInGripper as G, Gripper as Grip, LinearSpeed as V,
        Rotation as R, RotationInGripper as RG,
    };
    let inch = 0.0254;
    vec![
        Case {
            instruction: "move 10 cm left",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.1, 0.0] }, V { stage: 0, m_s: 0.05 }],
        },
        Case {
            instruction: "move the gripper 5 cm forward slowly",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.05, 0.0, 0.0] }, V { stage: 0, m_s: 0.02 }],
        },
        Case {
            instruction: "lift the mug 15 cm",
            gripper_closed: false,
            stages: &["grasp", "lift"],
            expect: vec![Grip { stage: 0, closed: true }, D { stage: 1, vector_m: [0.0, 0.0, 0.15] }],
        },
        Case {
            instruction: "lower it 3 cm",
            gripper_closed: true,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.0, -0.03] }],
        },
        Case {
            instruction: "move 2 inches to the right",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, -2.0 * inch, 0.0] }],
        },
        Case {
            instruction: "rotate it 90 degrees clockwise",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -90.0 }, W { stage: 0, deg_s: 30.0 }],
        },
        Case {
            instruction: "turn it a quarter turn counterclockwise",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 90.0 }],
        },
        Case {
            instruction: "rotate 45° clockwise about the x axis",
            gripper_closed: false,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [1.0, 0.0, 0.0], angle_deg: -45.0 }],
        },
        Case {
            instruction: "move 8 cm back quickly",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [-0.08, 0.0, 0.0] }, V { stage: 0, m_s: 0.10 }],
        },
        Case {
            instruction: "move 5 cm up and 5 cm left",
            gripper_closed: false,
            stages: &["move", "move"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.0, 0.05] }, D { stage: 1, vector_m: [0.0, 0.05, 0.0] }],
        },
        Case {
            instruction: "slide it forward 0.1 m at 4 cm/s",
            gripper_closed: true,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.1, 0.0, 0.0] }, V { stage: 0, m_s: 0.04 }],
        },
        Case {
            instruction: "rotate it thirty degrees counterclockwise at 15 degrees per second",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 30.0 }, W { stage: 0, deg_s: 15.0 }],
        },
        Case {
            instruction: "move 6 cm down in 3 seconds",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.0, -0.06] }, V { stage: 0, m_s: 0.02 }],
        },
        Case {
            instruction: "pick up the cup, then move it 10 cm to the right",
            gripper_closed: false,
            stages: &["grasp", "lift", "move"],
            expect: vec![
                Grip { stage: 0, closed: true },
                D { stage: 1, vector_m: [0.0, 0.0, 0.10] },
                D { stage: 2, vector_m: [0.0, -0.10, 0.0] },
            ],
        },
        Case {
            instruction: "tilt it forward 20 degrees",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 1.0, 0.0], angle_deg: 20.0 }],
        },
        Case {
            instruction: "move forward and left 10 cm",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.070_710_678, 0.070_710_678, 0.0] }],
        },
        Case {
            instruction: "lift the bottle by its neck 12 cm slowly, then rotate it 180 degrees counterclockwise, then put it down",
            gripper_closed: false,
            stages: &["grasp", "lift", "rotate", "place", "release"],
            expect: vec![
                D { stage: 1, vector_m: [0.0, 0.0, 0.12] },
                V { stage: 1, m_s: 0.02 },
                R { stage: 2, axis: [0.0, 0.0, 1.0], angle_deg: 180.0 },
                D { stage: 3, vector_m: [0.0, 0.0, -0.12] },
                Grip { stage: 4, closed: false },
            ],
        },
        Case {
            instruction: "move 50 mm left, then wait 1 second, then move 50 mm right",
            gripper_closed: false,
            stages: &["move", "wait", "move"],
            expect: vec![
                D { stage: 0, vector_m: [0.0, 0.05, 0.0] },
                D { stage: 1, vector_m: [0.0, 0.0, 0.0] },
                D { stage: 2, vector_m: [0.0, -0.05, 0.0] },
            ],
        },
        Case {
            instruction: "rotate the gripper 60 degrees clockwise relative to the gripper",
            gripper_closed: false,
            stages: &["rotate"],
            expect: vec![RG { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -60.0 }],
        },
        Case {
            instruction: "move 4 cm forward in the gripper frame",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![G { stage: 0, vector_m: [0.04, 0.0, 0.0] }],
        },
        Case {
            instruction: "place it left of the plate",
            gripper_closed: true,
            stages: &["move", "place", "release"],
            expect: vec![
                D { stage: 0, vector_m: [0.0, 0.10, 0.0] },
                D { stage: 1, vector_m: [0.0, 0.0, -0.05] },
                Grip { stage: 2, closed: false },
            ],
        },
        Case {
            instruction: "grasp the handle then lift it 5 cm",
            gripper_closed: false,
            stages: &["grasp", "lift"],
            expect: vec![Grip { stage: 0, closed: true }, D { stage: 1, vector_m: [0.0, 0.0, 0.05] }],
        },
        Case {
            instruction: "move 10 centimetres to the left very slowly",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.10, 0.0] }, V { stage: 0, m_s: 0.01 }],
        },
        Case {
            instruction: "rotate it ninety degrees clockwise, then move it 7 cm forward",
            gripper_closed: true,
            stages: &["rotate", "move"],
            expect: vec![
                R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -90.0 },
                D { stage: 1, vector_m: [0.07, 0.0, 0.0] },
            ],
        },
        Case {
            instruction: "raise it one hundred and twenty millimeters",
            gripper_closed: true,
            stages: &["lift"],
            expect: vec![D { stage: 0, vector_m: [0.0, 0.0, 0.12] }],
        },
        Case {
            instruction: "release the mug",
            gripper_closed: true,
            stages: &["release"],
            expect: vec![Grip { stage: 0, closed: false }],
        },
        Case {
            instruction: "move twenty-five mm right",
            gripper_closed: false,
            stages: &["move"],
            expect: vec![D { stage: 0, vector_m: [0.0, -0.025, 0.0] }],
        },
        Case {
            instruction: "turn it right 45 degrees",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: -45.0 }],
        },
        Case {
            instruction: "rotate it 0.5 radians counterclockwise",
            gripper_closed: true,
            stages: &["rotate"],
            expect: vec![R { stage: 0, axis: [0.0, 0.0, 1.0], angle_deg: 0.5_f64.to_degrees() }],
        },
        Case {
            instruction: "move it 3 cm left, then 3 cm forward, then 3 cm right",
            gripper_closed: true,
            stages: &["move", "move", "move"],
            expect: vec![
                D { stage: 0, vector_m: [0.0, 0.03, 0.0] },
                D { stage: 1, vector_m: [0.03, 0.0, 0.0] },
                D { stage: 2, vector_m: [0.0, -0.03, 0.0] },
            ],
        },
        Case {
            instruction: "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate",
            gripper_closed: false,
            stages: &["grasp", "lift", "rotate", "move", "place", "release"],
            expect: vec![
                D { stage: 1, vector_m: [0.0, 0.0, 0.10] },
                R { stage: 2, axis: [0.0, 0.0, 1.0], angle_deg: -90.0 },
                D { stage: 3, vector_m: [0.0, 0.10, 0.0] },
                V { stage: 3, m_s: 0.02 },
                D { stage: 4, vector_m: [0.0, 0.0, -0.10] },
                Grip { stage: 5, closed: false },
            ],
        },
    ]
}
