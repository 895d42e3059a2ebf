//! What the Arm and Trajectory panes show: the robot model, the camera, and a trajectory being previewed.

use std::path::{Path, PathBuf};

use kinedesk_models::review::PlanReview;
use kinedesk_models::robot::{
    BuiltinRobot, CheckReport, LinkVisual, LoadedUrdf, Robot, SafetyLimits, Trajectory, check_trajectory, fk,
};
use kinedesk_widgets::arm_view::{ArmModel, ArmScene, GhostPreview, OrbitCamera, add_arm, add_ghost_trajectory};
use kinedesk_widgets::trajectory_plots::PlotSpan;

/// Where the robot model comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RobotSource {
    Builtin(BuiltinRobot),
    Urdf { path: PathBuf, tip: Option<String> },
}

/// A trajectory shown as a ghost: its review (trajectory, checks, approval, execution state) and how it is shown.
#[derive(Clone, Debug)]
pub struct TrajectoryPreview {
    pub review: PlanReview,
    /// The scrubbed time step.
    pub step: usize,
    /// Flange speed per step (m/s), for the plots.
    pub ee_speed_m_s: Vec<f64>,
    /// Action-level stages, as bands in the plots.
    pub spans: Vec<PlotSpan>,
    /// Steps to pick out in the 3D view and the plots (what the mouse is over elsewhere).
    pub highlight: Option<(usize, usize)>,
}

impl TrajectoryPreview {
    #[must_use]
    pub fn trajectory(&self) -> &Trajectory {
        &self.review.trajectory
    }

    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.review.duration_s()
    }
}

/// Joint positions, one vector per sample.
pub type JointPath = Vec<Vec<f64>>;

/// What the 3D view shows of a closed-loop rollout.
#[derive(Clone, Debug, Default)]
pub struct RolloutOverlay {
    /// The chunk waiting for approval, drawn as a ghost.
    pub ghost: Option<Trajectory>,
    /// The newest chunks first: joints as predicted (decoded from the policy's actions) and as executed.
    pub paths: Vec<(JointPath, JointPath)>,
}

/// Predicted flange paths of rollout chunks (dashed-looking cyan) and the executed path (green).
const PREDICTED_PATH: [f32; 4] = [0.3, 0.85, 1.0, 1.0];
const EXECUTED_PATH: [f32; 4] = [0.25, 0.85, 0.3, 1.0];

/// The arm panes' state.
pub struct ArmState {
    pub source: RobotSource,
    pub robot: Robot,
    /// Visual geometry from a URDF (empty for built-in robots, which are drawn procedurally).
    pub visuals: Vec<LinkVisual>,
    pub camera: OrbitCamera,
    /// Whether the wgpu arm renderer is installed.
    pub gpu: bool,
    pub preview: Option<TrajectoryPreview>,
    /// The connected robot's latest state (`None` when no robot is connected).
    pub live: Option<kinedesk_models::driver::JointState>,
    /// The teleop target being streamed, drawn as an orange ghost.
    pub teleop_target: Option<Vec<f64>>,
    /// The rollout's pending chunk and its predicted vs executed paths.
    pub rollout: Option<RolloutOverlay>,
    /// The time range the trajectory plots showed in the last frame (s).
    pub plot_x_bounds: Option<(f64, f64)>,
}

impl ArmState {
    #[must_use]
    pub fn new(kind: BuiltinRobot, gpu: bool) -> Self {
        Self {
            source: RobotSource::Builtin(kind),
            robot: kind.robot(),
            visuals: Vec::new(),
            camera: OrbitCamera::default(),
            gpu,
            preview: None,
            live: None,
            teleop_target: None,
            rollout: None,
            plot_x_bounds: None,
        }
    }

    /// How far (largest joint difference, rad) the live arm is from the previewed trajectory's start.
    #[must_use]
    pub fn offset_from_start(&self) -> Option<f64> {
        let start = self.preview.as_ref()?.trajectory().joints.first()?;
        let live = self.live.as_ref()?;
        Some(kinedesk_models::driver::max_joint_offset(start, &live.positions))
    }

    /// Joints to draw the arm at: the live state when connected, otherwise the rest pose.
    #[must_use]
    pub fn shown_joints(&self) -> &[f64] {
        self.live
            .as_ref()
            .filter(|state| state.positions.len() == self.robot.dof())
            .map_or(&self.robot.rest_pose, |state| &state.positions)
    }

    /// Switches to a built-in robot; a preview planned for another robot is dropped.
    pub fn select(&mut self, kind: BuiltinRobot) {
        if self.source != RobotSource::Builtin(kind) {
            self.source = RobotSource::Builtin(kind);
            self.robot = kind.robot();
            self.visuals.clear();
            self.preview = None;
        }
    }

    /// Shows a loaded URDF robot (see `loader`). Returns the loader's warnings.
    pub fn show_urdf(&mut self, path: &Path, tip: Option<String>, loaded: LoadedUrdf) -> Vec<String> {
        self.source = RobotSource::Urdf { path: path.to_owned(), tip };
        self.robot = loaded.robot;
        self.visuals = loaded.visuals;
        self.preview = None;
        // Frame the new model: URDFs come in every size.
        if let Some((centre, radius)) = self.scene(true).bounds() {
            self.camera = OrbitCamera::default();
            self.camera.frame(centre, radius * 1.2);
        }
        loaded.warnings
    }

    /// A short name for the model shown.
    #[must_use]
    pub fn label(&self) -> String {
        match &self.source {
            RobotSource::Builtin(BuiltinRobot::Panda) => "Franka Panda".to_owned(),
            RobotSource::Builtin(BuiltinRobot::Rm75) => "Realman RM75".to_owned(),
            RobotSource::Urdf { .. } => format!("URDF: {}", self.robot.name),
        }
    }

    fn model(&self) -> ArmModel<'_> {
        ArmModel { robot: &self.robot, visuals: &self.visuals }
    }

    /// Checks `trajectory` against this robot's limits and shows it as a ghost.
    pub fn preview(&mut self, source: impl Into<String>, trajectory: Trajectory) -> &TrajectoryPreview {
        let report = check_trajectory(&self.robot, &trajectory, &SafetyLimits::for_robot(&self.robot));
        self.preview_checked(source, trajectory, report, Vec::new(), None, 1.0)
    }

    /// Shows a trajectory that has been checked already (a plan, checked at the chosen velocity scaling, stretched
    /// `slowdown` times to meet it). The scrubbed step is kept when the same plan is shown again (another decode or
    /// scaling). What passes but deserves a look becomes the review's warnings.
    pub fn preview_checked(
        &mut self,
        source: impl Into<String>,
        trajectory: Trajectory,
        report: CheckReport,
        spans: Vec<PlotSpan>,
        plan_id: Option<u64>,
        slowdown: f64,
    ) -> &mut TrajectoryPreview {
        let warnings = if report.ok {
            kinedesk_models::robot::trajectory_warnings(&self.robot, &trajectory, slowdown)
        } else {
            Vec::new()
        };
        let same_plan = self.preview.as_ref().is_some_and(|p| plan_id.is_some() && p.review.plan_id == plan_id);
        let step = match &self.preview {
            Some(previous) if same_plan => previous.step.min(trajectory.joints.len().saturating_sub(1)),
            _ => 0,
        };
        // A new trajectory brings the view to its motion (the same plan at another scaling keeps the view).
        if !same_plan && let Some((centre, radius)) = motion_bounds(&self.robot, &trajectory) {
            self.camera.frame(centre, radius);
        }
        let ee_speed_m_s = flange_speeds(&self.robot, &trajectory);
        let mut review = PlanReview::new(source.into(), plan_id, trajectory, report);
        review.warnings = warnings;
        self.preview.insert(TrajectoryPreview { review, step, ee_speed_m_s, spans, highlight: None })
    }

    /// The scene: floor, the model at its rest pose, and the ghost trajectory if one is previewed.
    #[must_use]
    pub fn scene(&self, dark: bool) -> ArmScene {
        let (background, grid) = if dark {
            ([0.09, 0.10, 0.12, 1.0], [0.5, 0.5, 0.55, 0.35])
        } else {
            ([0.93, 0.94, 0.95, 1.0], [0.3, 0.3, 0.35, 0.35])
        };
        let mut scene = ArmScene::with_floor(background, grid);
        let model_colour = if dark { [0.78, 0.80, 0.84, 1.0] } else { [0.55, 0.57, 0.62, 1.0] };
        // Built-in rest poses are within limits, so this cannot fail; an error would leave the scene empty.
        let _ = add_arm(&mut scene, self.model(), self.shown_joints(), model_colour, &[]);
        if let Some(target) = &self.teleop_target {
            let _ = add_arm(&mut scene, self.model(), target, [1.0, 0.55, 0.1, 0.35], &[]);
        }
        if let Some(preview) = &self.preview
            && preview
                .review
                .report
                .violations
                .iter()
                .all(|v| v.kind != kinedesk_models::robot::ViolationKind::Malformed)
        {
            let ghost = GhostPreview {
                trajectory: &preview.review.trajectory,
                step: preview.step,
                report: Some(&preview.review.report),
                samples: 4,
                highlight: preview.highlight,
            };
            let _ = add_ghost_trajectory(&mut scene, self.model(), ghost);
        }
        if let Some(overlay) = &self.rollout {
            self.add_rollout(&mut scene, overlay);
        }
        scene
    }

    /// The pending chunk as a ghost (no samples: chunks are short) and each chunk's predicted and executed paths.
    fn add_rollout(&self, scene: &mut ArmScene, overlay: &RolloutOverlay) {
        if let Some(trajectory) = &overlay.ghost {
            let ghost =
                GhostPreview { trajectory, step: trajectory.joints.len(), report: None, samples: 0, highlight: None };
            let _ = add_ghost_trajectory(scene, self.model(), ghost);
        }
        let flange = |joints: &[Vec<f64>]| -> Vec<glam::Vec3> {
            joints.iter().filter_map(|q| fk(&self.robot, q).ok()).map(|pose| pose.position_m.as_vec3()).collect()
        };
        for (predicted, executed) in &overlay.paths {
            scene.gradient_polyline(&flange(predicted), PREDICTED_PATH, PREDICTED_PATH);
            scene.gradient_polyline(&flange(executed), EXECUTED_PATH, EXECUTED_PATH);
        }
    }
}

/// Where a trajectory's motion happens: the centre of the flange path's bounding box and a radius that shows the
/// path with the forearm around it (at least 0.22 m, so a short move is not framed so tight the arm leaves the view).
fn motion_bounds(robot: &Robot, trajectory: &Trajectory) -> Option<(glam::Vec3, f32)> {
    let stride = (trajectory.joints.len() / 200).max(1);
    let points: Vec<glam::DVec3> = trajectory
        .joints
        .iter()
        .step_by(stride)
        .filter_map(|q| fk(robot, q).ok().map(|pose| pose.position_m))
        .collect();
    let first = *points.first()?;
    let (lo, hi) = points.iter().fold((first, first), |(lo, hi), p| (lo.min(*p), hi.max(*p)));
    let centre = (lo + hi) * 0.5;
    let radius = ((hi - lo).length() * 0.5 + 0.12).max(0.22);
    Some((centre.as_vec3(), radius as f32 * 1.3))
}

/// Flange speed per step (m/s); empty where forward kinematics fails (wrong joint count).
fn flange_speeds(robot: &Robot, trajectory: &Trajectory) -> Vec<f64> {
    let positions: Option<Vec<glam::DVec3>> =
        trajectory.joints.iter().map(|q| fk(robot, q).ok().map(|pose| pose.position_m)).collect();
    let dt = trajectory.dt_s.max(1e-9);
    positions.map_or_else(Vec::new, |p| p.windows(2).map(|w| (w[1] - w[0]).length() / dt).collect())
}

/// Reads a trajectory file: `{"dt_s": 0.05, "joints": [[q1..q7], ...]}` (other keys are ignored, so the
/// `trajectory` object of `kinedesk plan --json` works too, as does a whole plan with a `trajectory` key).
pub fn load_trajectory(path: &Path) -> Result<Trajectory, String> {
    let meta = std::fs::metadata(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_TRAJECTORY_FILE_BYTES {
        return Err(format!(
            "cannot read {}: not a regular file of at most {} MB (the longest trajectory the command layer takes)",
            path.display(),
            MAX_TRAJECTORY_FILE_BYTES >> 20
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    trajectory_from_str(&text).map_err(|error| format!("{} {error}", path.display()))
}

/// Largest trajectory file read: 600 000 samples of 7 joints written out in full are about 90 MB.
pub const MAX_TRAJECTORY_FILE_BYTES: u64 = 256 << 20;

/// A trajectory from the text of a trajectory file (see [`load_trajectory`]); the error reads after a file name.
pub fn trajectory_from_str(text: &str) -> Result<Trajectory, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| format!("is not valid JSON: {error}"))?;
    let object = value.get("trajectory").unwrap_or(&value);
    serde_json::from_value(object.clone()).map_err(|error| {
        format!("is not a trajectory (expected {{\"dt_s\": seconds, \"joints\": [[...], ...]}}): {error}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectories_load_from_files_with_clear_errors() {
        let dir = std::env::temp_dir().join(format!("kinedesk-traj-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"trajectory": {"dt_s": 0.1, "joints": [[0,0,0,-1,0,1,0]]}, "other": 1}"#).unwrap();
        assert_eq!(load_trajectory(&good).unwrap().joints.len(), 1);
        let bad = dir.join("bad.json");
        std::fs::write(&bad, "{ nope").unwrap();
        assert!(load_trajectory(&bad).unwrap_err().contains("not valid JSON"));
        std::fs::write(&bad, r#"{"dt_s": "fast"}"#).unwrap();
        assert!(load_trajectory(&bad).unwrap_err().contains("is not a trajectory"));
        assert!(load_trajectory(&dir.join("missing.json")).unwrap_err().contains("cannot read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn switching_robots_drops_the_preview() {
        let mut state = ArmState::new(BuiltinRobot::Panda, false);
        let rest = state.robot.rest_pose.clone();
        state.preview("test", Trajectory { dt_s: 0.1, joints: vec![rest.clone(), rest] });
        assert!(state.preview.as_ref().unwrap().review.report.ok);
        state.select(BuiltinRobot::Rm75);
        assert!(state.preview.is_none());
        assert_eq!(state.robot.name, "rm75");
        assert_eq!(state.label(), "Realman RM75");
    }
}
