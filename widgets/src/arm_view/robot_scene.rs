//! Scenes from robot models: the live arm, ghost arms along a planned trajectory, and the end-effector path.

use glam::{DAffine3, Vec3};
use kinedesk_models::robot::{CheckReport, KinematicsError, Robot, Trajectory, ViolationKind, fk_frames};

use super::scene::{ArmScene, Capsule, Rgba};

pub const LIVE_ARM: Rgba = [0.78, 0.80, 0.84, 1.0];
pub const GHOST_START: Rgba = [0.35, 0.55, 1.0, 0.16];
pub const GHOST_GOAL: Rgba = [0.30, 0.90, 0.45, 0.22];
pub const GHOST_SCRUB: Rgba = [0.35, 0.85, 1.0, 0.45];
pub const GHOST_SAMPLE: Rgba = [0.7, 0.7, 0.9, 0.07];
pub const FAILED_LINK: Rgba = [1.0, 0.15, 0.12, 0.85];
pub const PATH_START: Rgba = [0.25, 0.5, 1.0, 1.0];
pub const PATH_END: Rgba = [1.0, 0.6, 0.1, 1.0];

/// Adds the arm at `q`. `link_colours[i]`, where given, overrides the colour of link `i`
/// (0 is the base link, `j + 1` the link moved by joint `j`).
pub fn add_arm(
    scene: &mut ArmScene,
    robot: &Robot,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
) -> Result<(), KinematicsError> {
    add_links(scene, robot, q, colour, link_colours, 0)
}

/// Ghosts skip the base link: it never moves, and the live arm already draws it.
fn add_ghost(
    scene: &mut ArmScene,
    robot: &Robot,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
) -> Result<(), KinematicsError> {
    add_links(scene, robot, q, colour, link_colours, 1)
}

fn add_links(
    scene: &mut ArmScene,
    robot: &Robot,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
    first_link: usize,
) -> Result<(), KinematicsError> {
    let frames = fk_frames(robot, q)?;
    for (link, shapes) in robot.link_shapes.iter().enumerate().skip(first_link) {
        let frame: &DAffine3 = if link == 0 { &robot.base } else { &frames[link - 1] };
        let link_colour = link_colours.get(link).copied().flatten().unwrap_or(colour);
        for shape in shapes {
            scene.capsules.push(Capsule {
                a: frame.transform_point3(shape.from).as_vec3(),
                b: frame.transform_point3(shape.to).as_vec3(),
                radius: shape.radius_m as f32,
                color: link_colour,
            });
        }
    }
    // The flange, so the tool's position is visible.
    let flange = frames[frames.len() - 1];
    let tip = flange.transform_point3(glam::DVec3::Z * 0.04).as_vec3();
    scene.capsules.push(Capsule { a: flange.translation.as_vec3(), b: tip, radius: 0.02, color: colour });
    Ok(())
}

/// A planned trajectory to preview, scrubbed to `step`.
#[derive(Clone, Copy, Debug)]
pub struct GhostPreview<'a> {
    pub trajectory: &'a Trajectory,
    pub step: usize,
    /// Safety-check results: links of joints that fail at the scrubbed step are drawn red.
    pub report: Option<&'a CheckReport>,
    /// Faint ghosts evenly spaced along the trajectory, besides start, goal and the scrubbed pose.
    pub samples: usize,
}

/// Adds start and goal ghosts, optional sample ghosts, the scrubbed ghost (failed links in red) and the flange path
/// coloured by time from blue (start) to orange (end).
pub fn add_ghost_trajectory(
    scene: &mut ArmScene,
    robot: &Robot,
    preview: GhostPreview<'_>,
) -> Result<(), KinematicsError> {
    let steps = &preview.trajectory.joints;
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Ok(());
    };
    add_ghost(scene, robot, first, GHOST_START, &[])?;
    add_ghost(scene, robot, last, GHOST_GOAL, &[])?;
    if preview.samples > 0 && steps.len() > 2 {
        for k in 1..=preview.samples {
            let index = k * (steps.len() - 1) / (preview.samples + 1);
            add_ghost(scene, robot, &steps[index], GHOST_SAMPLE, &[])?;
        }
    }
    let step = preview.step.min(steps.len() - 1);
    let link_count = robot.link_shapes.len();
    let mut link_colours = vec![None; link_count];
    if let Some(report) = preview.report {
        for violation in report.at_step(step) {
            match (violation.kind, violation.joint) {
                (_, Some(joint)) => link_colours[(joint + 1).min(link_count - 1)] = Some(FAILED_LINK),
                (ViolationKind::Workspace | ViolationKind::Singularity | ViolationKind::Malformed, None) => {
                    link_colours.iter_mut().for_each(|colour| *colour = Some(FAILED_LINK));
                }
                _ => {}
            }
        }
    }
    add_ghost(scene, robot, &steps[step], GHOST_SCRUB, &link_colours)?;

    let mut path = Vec::with_capacity(steps.len());
    for q in steps {
        let frames = fk_frames(robot, q)?;
        path.push(frames[frames.len() - 1].translation.as_vec3());
    }
    scene.gradient_polyline(&path, PATH_START, PATH_END);
    // A marker where the scrubbed pose is on the path.
    let marker = path[step];
    scene.line(marker - Vec3::Z * 0.03, marker + Vec3::Z * 0.03, [1.0, 1.0, 1.0, 1.0]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_models::robot::{SafetyLimits, check_trajectory, panda};

    fn sweep(robot: &Robot, steps: usize) -> Trajectory {
        let joints = (0..steps)
            .map(|k| {
                let mut q = robot.rest_pose.clone();
                q[0] += 0.8 * k as f64 / (steps - 1) as f64;
                q
            })
            .collect();
        Trajectory { dt_s: 0.05, joints }
    }

    #[test]
    fn the_arm_has_one_capsule_per_link_plus_the_flange() {
        let robot = panda();
        let mut scene = ArmScene::default();
        add_arm(&mut scene, &robot, &robot.rest_pose, LIVE_ARM, &[]).unwrap();
        let links: usize = robot.link_shapes.iter().map(Vec::len).sum();
        assert_eq!(scene.capsules.len(), links + 1);
        assert!(add_arm(&mut scene, &robot, &[0.0; 3], LIVE_ARM, &[]).is_err());
    }

    #[test]
    fn failing_joints_turn_their_links_red_at_the_scrubbed_step() {
        let robot = panda();
        let mut trajectory = sweep(&robot, 20);
        trajectory.joints[10][3] = 0.2; // joint 4 above its upper limit
        let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
        let mut scene = ArmScene::default();
        let preview = GhostPreview { trajectory: &trajectory, step: 10, report: Some(&report), samples: 0 };
        add_ghost_trajectory(&mut scene, &robot, preview).unwrap();
        let red = scene.capsules.iter().filter(|c| c.color == FAILED_LINK).count();
        assert!(red >= 1, "a red link at the failing step");
        let mut clean = ArmScene::default();
        add_ghost_trajectory(&mut clean, &robot, GhostPreview { step: 2, ..preview }).unwrap();
        assert_eq!(clean.capsules.iter().filter(|c| c.color == FAILED_LINK).count(), 0);
        // 19 path segments plus the scrub marker.
        assert_eq!(clean.segments.len(), 20);
    }
}
