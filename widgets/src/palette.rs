//! The desk's colours, by what they mean. Panes and widgets name a meaning (danger, ok, coarse level …), never a
//! literal colour, so one meaning looks the same everywhere and can be changed in one place.

use egui::Color32;
use kinedesk_core::vocab::ConstraintKind;

/// Errors, failed checks, refusals, stop markers, the record button.
pub const DANGER: Color32 = Color32::from_rgb(230, 70, 70);
/// The Stop button's fill.
pub const STOP: Color32 = Color32::from_rgb(200, 30, 30);
/// Something to look at: an unfinished episode, lost frames, a camera reconnecting, a flagged episode.
pub const WARNING: Color32 = Color32::from_rgb(240, 150, 60);
/// Waiting or changed: a plan not yet approved, a connection being made, a slowed-down plan.
pub const CAUTION: Color32 = Color32::from_rgb(230, 170, 40);
/// All is well: checks pass, connected, live state, a successful outcome, a trajectory sent.
pub const OK: Color32 = Color32::from_rgb(60, 180, 75);
/// Information: idle connections, info log lines, the normal joint bars.
pub const INFO: Color32 = Color32::from_rgb(120, 150, 200);
/// The one thing the mouse is over, linked across views.
pub const HIGHLIGHT: Color32 = Color32::from_rgb(255, 240, 60);
/// The timeline's cursor and selection.
pub const ACCENT: Color32 = Color32::from_rgb(255, 200, 60);
/// Neutral marks (events without a colour of their own) and the gripper curve.
pub const NEUTRAL: Color32 = Color32::from_gray(170);
/// What the policy said: reasoning and instruction events on the timeline.
pub const REASONING: Color32 = Color32::from_rgb(120, 170, 255);
/// A stage as the robot executed it.
pub const EXECUTED_STAGE: Color32 = Color32::from_rgb(200, 160, 60);
/// Action-level (stage) reasoning chips.
pub const STAGE_CHIP: Color32 = Color32::from_rgb(60, 80, 110);
/// Behind a camera image.
pub const CAMERA_BACKGROUND: Color32 = Color32::from_gray(12);

/// Action tokens of the coarse (goal) level.
pub const COARSE_LEVEL: Color32 = Color32::from_rgb(70, 120, 220);
/// The first and the last fine (kinematic detail) level; levels between are blended.
pub const FINE_LEVEL_FIRST: Color32 = Color32::from_rgb(60, 170, 90);
pub const FINE_LEVEL_LAST: Color32 = Color32::from_rgb(230, 140, 40);

/// The colour of fine level `index` of `count` (blended from the first to the last).
#[must_use]
pub fn fine_level(index: usize, count: usize) -> Color32 {
    let t = if count > 1 { index as f32 / (count - 1) as f32 } else { 0.0 };
    let lerp = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
    Color32::from_rgb(
        lerp(FINE_LEVEL_FIRST.r(), FINE_LEVEL_LAST.r()),
        lerp(FINE_LEVEL_FIRST.g(), FINE_LEVEL_LAST.g()),
        lerp(FINE_LEVEL_FIRST.b(), FINE_LEVEL_LAST.b()),
    )
}

/// The chip colour of an instruction-level constraint.
#[must_use]
pub fn constraint(kind: Option<ConstraintKind>) -> Color32 {
    match kind {
        Some(ConstraintKind::Object | ConstraintKind::ObjectPart) => Color32::from_rgb(120, 90, 160),
        Some(ConstraintKind::Direction) => Color32::from_rgb(50, 120, 170),
        Some(ConstraintKind::Distance) => Color32::from_rgb(40, 140, 120),
        Some(ConstraintKind::Rotation) => Color32::from_rgb(170, 100, 40),
        Some(ConstraintKind::Speed) => Color32::from_rgb(150, 70, 90),
        Some(ConstraintKind::TargetRelation) => Color32::from_rgb(90, 110, 60),
        None => Color32::from_rgb(90, 90, 100),
    }
}

/// Distinct colours for series (joints in the plots) and stage kinds (on the timeline), in order.
pub const SERIES: [Color32; 8] = [
    Color32::from_rgb(86, 156, 255),
    Color32::from_rgb(255, 140, 66),
    Color32::from_rgb(92, 200, 120),
    Color32::from_rgb(230, 90, 110),
    Color32::from_rgb(170, 120, 230),
    Color32::from_rgb(80, 200, 210),
    Color32::from_rgb(220, 200, 80),
    Color32::from_rgb(200, 200, 200),
];

/// Stage bands behind the plots, alternating, and the highlighted span.
pub const STAGE_BANDS: [Color32; 2] =
    [Color32::from_rgba_premultiplied(40, 60, 90, 40), Color32::from_rgba_premultiplied(70, 60, 30, 40)];
pub const HIGHLIGHT_FILL: Color32 = Color32::from_rgba_premultiplied(90, 85, 10, 70);
