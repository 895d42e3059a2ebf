//! Scenes from robot models: the live arm, ghost arms along a planned trajectory, and the end-effector path.

use glam::{DAffine3, DMat4, DVec3, Vec3};
use kinedesk_core::robot::{
    CheckReport, KinematicsError, LinkVisual, Robot, Trajectory, ViolationKind, VisualGeometry, fk_frames,
};

use super::scene::{ArmScene, Capsule, MeshDraw, Rgba};

/// A robot model to draw: the kinematic chain plus its visual geometry (empty for procedural capsules).
#[derive(Clone, Copy, Debug)]
pub struct ArmModel<'a> {
    pub robot: &'a Robot,
    pub visuals: &'a [LinkVisual],
}

pub const LIVE_ARM: Rgba = [0.78, 0.80, 0.84, 1.0];
pub const GHOST_START: Rgba = [0.35, 0.55, 1.0, 0.16];
pub const GHOST_GOAL: Rgba = [0.30, 0.90, 0.45, 0.22];
pub const GHOST_SCRUB: Rgba = [0.35, 0.85, 1.0, 0.45];
pub const GHOST_SAMPLE: Rgba = [0.7, 0.7, 0.9, 0.07];
pub const FAILED_LINK: Rgba = [1.0, 0.15, 0.12, 0.85];
pub const PATH_START: Rgba = [0.25, 0.5, 1.0, 1.0];
pub const PATH_END: Rgba = [1.0, 0.6, 0.1, 1.0];
/// The highlighted span (stage or token chunk under the mouse) and its end pose.
pub const HIGHLIGHT: Rgba = [1.0, 0.95, 0.2, 1.0];
pub const GHOST_HIGHLIGHT: Rgba = [1.0, 0.95, 0.2, 0.28];

/// Adds the arm at `q`. `link_colours[i]`, where given, overrides the colour of link `i`
/// (0 is the base link, `j + 1` the link moved by joint `j`).
pub fn add_arm(
    scene: &mut ArmScene,
    model: ArmModel<'_>,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
) -> Result<(), KinematicsError> {
    add_links(scene, model, q, colour, link_colours, 0)
}

/// Ghosts skip the base link: it never moves, and the live arm already draws it.
fn add_ghost(
    scene: &mut ArmScene,
    model: ArmModel<'_>,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
) -> Result<(), KinematicsError> {
    add_links(scene, model, q, colour, link_colours, 1)
}

fn add_links(
    scene: &mut ArmScene,
    model: ArmModel<'_>,
    q: &[f64],
    colour: Rgba,
    link_colours: &[Option<Rgba>],
    first_link: usize,
) -> Result<(), KinematicsError> {
    let robot = model.robot;
    let frames = fk_frames(robot, q)?;
    for (link, shapes) in robot.link_shapes.iter().enumerate().skip(first_link) {
        let frame: &DAffine3 = if link == 0 { &robot.base } else { &frames[link - 1] };
        let link_colour = link_colours.get(link).copied().flatten().unwrap_or(colour);
        let mut visuals = model.visuals.iter().filter(|visual| visual.link == link).peekable();
        if visuals.peek().is_some() {
            for visual in visuals {
                add_visual(scene, &(*frame * visual.origin), &visual.geometry, link_colour);
            }
            continue;
        }
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

/// Draws one URDF visual at `pose`: meshes as they are, primitives as capsules of the same extent.
fn add_visual(scene: &mut ArmScene, pose: &DAffine3, geometry: &VisualGeometry, colour: Rgba) {
    let capsule = |scene: &mut ArmScene, a: DVec3, b: DVec3, radius: f64| {
        scene.capsules.push(Capsule {
            a: pose.transform_point3(a).as_vec3(),
            b: pose.transform_point3(b).as_vec3(),
            radius: radius as f32,
            color: colour,
        });
    };
    match geometry {
        VisualGeometry::Mesh { mesh: Some(mesh), .. } => {
            scene.meshes.push(MeshDraw { mesh: mesh.clone(), model: DMat4::from(*pose).as_mat4(), color: colour });
        }
        // A mesh reference that was resolved but not loaded: nothing to draw.
        VisualGeometry::Mesh { mesh: None, .. } => {}
        VisualGeometry::Sphere { radius_m } => capsule(scene, DVec3::ZERO, DVec3::ZERO, *radius_m),
        VisualGeometry::Cylinder { radius_m, length_m } => {
            let half = DVec3::Z * (length_m * 0.5 - radius_m).max(0.0);
            capsule(scene, -half, half, *radius_m);
        }
        VisualGeometry::Box { size_m } => {
            // Along the longest side, as thick as the mean of the other two.
            let axis = if size_m.x >= size_m.y && size_m.x >= size_m.z {
                DVec3::X
            } else if size_m.y >= size_m.z {
                DVec3::Y
            } else {
                DVec3::Z
            };
            let long = size_m.dot(axis);
            let radius = (size_m.element_sum() - long) * 0.25;
            let half = axis * (long * 0.5 - radius).max(0.0);
            capsule(scene, -half, half, radius);
        }
    }
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
    /// A span of steps to pick out (the stage or token chunk under the mouse): its path is drawn bright, with a
    /// ghost where it ends.
    /// `(first, last)` step.
    pub highlight: Option<(usize, usize)>,
}

/// Adds start and goal ghosts, optional sample ghosts, the scrubbed ghost (failed links in red) and the flange path
/// coloured by time from blue (start) to orange (end).
pub fn add_ghost_trajectory(
    scene: &mut ArmScene,
    model: ArmModel<'_>,
    preview: GhostPreview<'_>,
) -> Result<(), KinematicsError> {
    let robot = model.robot;
    let steps = &preview.trajectory.joints;
    let (Some(first), Some(last)) = (steps.first(), steps.last()) else {
        return Ok(());
    };
    add_ghost(scene, model, first, GHOST_START, &[])?;
    add_ghost(scene, model, last, GHOST_GOAL, &[])?;
    if preview.samples > 0 && steps.len() > 2 {
        for k in 1..=preview.samples {
            let index = k * (steps.len() - 1) / (preview.samples + 1);
            add_ghost(scene, model, &steps[index], GHOST_SAMPLE, &[])?;
        }
    }
    let step = preview.step.min(steps.len() - 1);
    let link_count = robot.link_shapes.len();
    let mut link_colours = vec![None; link_count];
    if let Some(report) = preview.report {
        for violation in report.at_step(step) {
            match (violation.kind, violation.joint) {
                (_, Some(joint)) => link_colours[(joint + 1).min(link_count - 1)] = Some(FAILED_LINK),
                (
                    ViolationKind::Workspace
                    | ViolationKind::Singularity
                    | ViolationKind::Unreachable
                    | ViolationKind::Malformed,
                    None,
                ) => {
                    link_colours.iter_mut().for_each(|colour| *colour = Some(FAILED_LINK));
                }
                _ => {}
            }
        }
    }
    add_ghost(scene, model, &steps[step], GHOST_SCRUB, &link_colours)?;

    let mut path = Vec::with_capacity(steps.len());
    for q in steps {
        let frames = fk_frames(robot, q)?;
        path.push(frames[frames.len() - 1].translation.as_vec3());
    }
    scene.gradient_polyline(&path, PATH_START, PATH_END);
    // A marker where the scrubbed pose is on the path.
    if let Some((first, last)) = preview.highlight {
        let end = last.min(path.len() - 1);
        let start = first.min(end);
        if end > start {
            scene.gradient_polyline(&path[start..=end], HIGHLIGHT, HIGHLIGHT);
            for point in [path[start], path[end]] {
                scene.line(point - Vec3::Z * 0.02, point + Vec3::Z * 0.02, HIGHLIGHT);
            }
            add_ghost(scene, model, &steps[end], GHOST_HIGHLIGHT, &[])?;
        }
    }
    let marker = path[step];
    scene.line(marker - Vec3::Z * 0.03, marker + Vec3::Z * 0.03, [1.0, 1.0, 1.0, 1.0]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_core::robot::{SafetyLimits, check_trajectory, panda};

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
        add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &robot.rest_pose, LIVE_ARM, &[]).unwrap();
        let links: usize = robot.link_shapes.iter().map(Vec::len).sum();
        assert_eq!(scene.capsules.len(), links + 1);
        assert!(add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &[0.0; 3], LIVE_ARM, &[]).is_err());
    }

    #[test]
    fn urdf_visuals_replace_the_procedural_capsules_of_their_link() {
        use kinedesk_core::robot::TriangleMesh;
        use std::sync::Arc;
        let robot = panda();
        let mesh = Arc::new(TriangleMesh {
            positions: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            normals: vec![[0.0, 0.0, 1.0]; 3],
            indices: vec![0, 1, 2],
        });
        let visuals = vec![
            LinkVisual {
                link: 3,
                urdf_link: "link3".into(),
                origin: DAffine3::IDENTITY,
                geometry: VisualGeometry::Mesh { path: "link3.stl".into(), mesh: Some(mesh.clone()) },
                rgba: None,
            },
            LinkVisual {
                link: 0,
                urdf_link: "base".into(),
                origin: DAffine3::IDENTITY,
                geometry: VisualGeometry::Box { size_m: DVec3::new(0.2, 0.1, 0.1) },
                rgba: None,
            },
        ];
        let mut scene = ArmScene::default();
        add_arm(&mut scene, ArmModel { robot: &robot, visuals: &visuals }, &robot.rest_pose, LIVE_ARM, &[]).unwrap();
        assert_eq!(scene.meshes.len(), 1);
        assert!(Arc::ptr_eq(&scene.meshes[0].mesh, &mesh));
        // Link 3's mesh sits at joint 3's frame.
        let frames = fk_frames(&robot, &robot.rest_pose).unwrap();
        let placed = scene.meshes[0].model.w_axis.truncate();
        assert!((placed - frames[2].translation.as_vec3()).length() < 1e-5);
        // The box became one capsule along X (0.2 long, radius 0.05); links 0 and 3 have no procedural capsule.
        let links: usize = robot.link_shapes.iter().map(Vec::len).sum();
        assert_eq!(scene.capsules.len(), links - 2 + 1 + 1);
        let packed = super::super::gpu_scene::GpuScene::pack(&scene, glam::Mat4::IDENTITY);
        assert_eq!(packed.mesh_batches.len(), 1);
        assert_eq!(packed.mesh_batches[0].instances, 0..1);
    }

    #[test]
    fn failing_joints_turn_their_links_red_at_the_scrubbed_step() {
        let robot = panda();
        let mut trajectory = sweep(&robot, 20);
        trajectory.joints[10][3] = 0.2; // joint 4 above its upper limit
        let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
        let mut scene = ArmScene::default();
        let preview =
            GhostPreview { trajectory: &trajectory, step: 10, report: Some(&report), samples: 0, highlight: None };
        add_ghost_trajectory(&mut scene, ArmModel { robot: &robot, visuals: &[] }, preview).unwrap();
        let red = scene.capsules.iter().filter(|c| c.color == FAILED_LINK).count();
        assert!(red >= 1, "a red link at the failing step");
        let mut clean = ArmScene::default();
        add_ghost_trajectory(&mut clean, ArmModel { robot: &robot, visuals: &[] }, GhostPreview { step: 2, ..preview })
            .unwrap();
        assert_eq!(clean.capsules.iter().filter(|c| c.color == FAILED_LINK).count(), 0);
        // 19 path segments plus the scrub marker.
        assert_eq!(clean.segments.len(), 20);
    }
}
