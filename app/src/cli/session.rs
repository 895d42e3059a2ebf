//! `kinedesk record` (headless recording with the embedded defaults) and `kinedesk session info`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kinedesk_models::StopSignal;
use kinedesk_models::camera::synthetic::{ArmCamera, SharedJoints, TestPattern};
use kinedesk_models::camera::{CaptureHandle, spawn_capture};
use kinedesk_models::driver::{DriverCommand, DriverEvent, ExecutionPlan};
use kinedesk_models::policy::backend::{PolicyBackend, PolicyRequest};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::robot::panda;
use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};
use kinedesk_models::vocab::StageKind;
use kinedesk_sessions::episode::{SessionDir, read_episode};
use kinedesk_sessions::events::{LogSource, TimelineEvent};
use kinedesk_sessions::recorder::EpisodeMeta;
use kinedesk_sessions::session_recorder::{EpisodeEnd, SessionRecorder};

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Use the embedded defaults: the simulated arm executing a planned demonstration, and synthetic cameras (the
    /// first shows the rendered arm, the others the test pattern).
    #[arg(long)]
    pub synthetic: bool,
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::seconds_arg)]
    pub seconds: f64,
    /// Session folder (created if needed; the episode is added to it).
    #[arg(long, value_name = "SESSION")]
    pub out: PathBuf,
    /// Synthetic cameras (0 to 16).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=16))]
    pub cameras: u16,
    /// Image size in pixels (16 to 7680 × 16 to 4320).
    #[arg(long, default_value_t = 640, value_parser = clap::value_parser!(u32).range(16..=7680))]
    pub width: u32,
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u32).range(16..=4320))]
    pub height: u32,
    /// Frames per second (1 to 240).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// The task (instruction) of the episode; the arm carries it out, looping, while recording.
    #[arg(long, default_value = "move 10 cm left, then rotate it 45 degrees clockwise, then move 10 cm right")]
    pub task: String,
    /// JPEG encoder threads (1 to 16).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub encoders: u16,
}

/// Starts recording a headless rollout into `session`: the driver's every state (with what was commanded) through
/// a tap, the instruction as the first event. No cameras (the headless rollout has none).
pub fn start_rollout_recording(
    session: &std::path::Path,
    robot: &kinedesk_models::robot::Robot,
    instruction: &str,
    driver: &kinedesk_models::driver::DriverHandle,
) -> anyhow::Result<Arc<SessionRecorder>> {
    let dir = SessionDir::open_or_create(session, &robot.name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.next_episode_path().map_err(|e| anyhow::anyhow!("{e}"))?;
    let meta = EpisodeMeta {
        task: instruction.to_owned(),
        robot: robot.name.clone(),
        joint_names: robot.joints.iter().map(|j| j.name.clone()).collect(),
        cameras: Vec::new(),
        // The control rate of the states (the dataset rate of a recording without cameras).
        fps: 100.0,
        unmeasured: if driver.gripper_measured { Vec::new() } else { vec!["gripper".to_owned()] },
        started_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    let recorder =
        SessionRecorder::start(&path, &meta, None).with_context(|| format!("cannot record into {}", path.display()))?;
    recorder.event(&TimelineEvent::Instruction { text: instruction.to_owned(), source: None });
    driver.set_state_tap(Some(recorder.state_tap()));
    eprintln!("recording {}", path.display());
    Ok(recorder)
}

/// Records one episode headless and prints progress every second (`… durable N frames` is what a crash keeps).
pub fn run_record(args: &RecordArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.synthetic, "only --synthetic recording is available headless (embedded defaults)");
    let robot = panda();
    // The demonstration: plan the task once and execute it (forward, then backward, and so on) while recording. The
    // driver carries out each whole plan, gripper moves included. Planned before anything is created: a task that
    // cannot be planned leaves no empty episode behind.
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = PolicyRequest {
        instruction: args.task.clone(),
        robot_kind: "panda".into(),
        robot: Arc::new(robot.clone()),
        joints: robot.rest_pose.clone(),
        gripper_closed: false,
        images: Vec::new(),
    };
    let plan = planner.plan(&request, &mut |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    let forward_trajectory = plan.full.trajectory();
    let forward = ExecutionPlan::with_gripper_changes(&forward_trajectory, &plan.full.gripper);
    let mut backward_trajectory = forward_trajectory.clone();
    backward_trajectory.joints.reverse();
    let backward_gripper: Vec<f64> = plan.full.gripper.iter().rev().copied().collect();
    let backward = ExecutionPlan::with_gripper_changes(&backward_trajectory, &backward_gripper);
    let stages: Vec<(StageKind, std::ops::Range<usize>)> = plan
        .stages
        .iter()
        .enumerate()
        .map(|(index, stage)| (stage.kind, if index == 0 { 0 } else { stage.steps.start + 1 }..stage.steps.end + 1))
        .collect();
    let session = SessionDir::open_or_create(&args.out, &robot.name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = session.next_episode_path().map_err(|e| anyhow::anyhow!("{e}"))?;

    let stop = StopSignal::new();
    let arm = spawn_sim_arm(robot.clone(), stop.clone(), SimArmConfig::default(), None)?;
    let joints: SharedJoints = Arc::new(std::sync::Mutex::new(robot.rest_pose.clone()));
    let mut cameras: Vec<CaptureHandle> = Vec::new();
    for index in 0..usize::from(args.cameras) {
        let (w, h, fps) = (args.width, args.height, f64::from(args.fps));
        let name = if index == 0 { "arm".to_owned() } else { format!("pattern{index}") };
        let make: kinedesk_models::camera::SourceFactory = if index == 0 {
            let (robot, joints, name) = (robot.clone(), joints.clone(), name.clone());
            Box::new(move || Box::new(ArmCamera::new(name, robot, joints, w, h, fps)))
        } else {
            let name = name.clone();
            Box::new(move || Box::new(TestPattern::new(name, w, h, fps)))
        };
        cameras.push(spawn_capture(&name, make, None)?);
    }
    let meta = EpisodeMeta {
        task: args.task.clone(),
        robot: robot.name.clone(),
        joint_names: robot.joints.iter().map(|j| j.name.clone()).collect(),
        cameras: cameras.iter().map(|c| c.name.clone()).collect(),
        fps: f64::from(args.fps),
        unmeasured: Vec::new(),
        started_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    let recorder = SessionRecorder::start_with_encoders(&path, &meta, None, usize::from(args.encoders))
        .with_context(|| format!("cannot record into {}", path.display()))?;
    // Every frame goes to the recorder from its capture thread, every joint state from the driver's thread (the
    // newest-value slots are for displays); the rendered arm camera follows the states too.
    for (index, camera) in cameras.iter().enumerate() {
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        camera.set_tap(Some(recorder.camera_tap(index, camera.name.clone())));
    }
    let mut record_state = recorder.state_tap();
    let shown = joints.clone();
    arm.set_state_tap(Some(Box::new(move |state| {
        if let Ok(mut shared) = shown.lock() {
            shared.clone_from(&state.positions);
        }
        record_state(state);
    })));
    println!("recording episode {} for {:.1} s", path.display(), args.seconds);

    recorder.event(&TimelineEvent::Instruction { text: args.task.clone(), source: None });
    recorder.event(&TimelineEvent::Reasoning {
        instruction_level: plan.output.instruction_level.clone(),
        action_level: plan.output.action_level.clone(),
        action_tokens: plan.output.chunks.clone(),
    });
    let mut execution = 1;
    let send = |id: u64, plan: &ExecutionPlan, trajectory: &kinedesk_models::robot::Trajectory, forward: bool| {
        recorder.event(&TimelineEvent::Trajectory {
            source: format!("built-in planner ({})", if forward { "forward" } else { "backward" }),
            dt_s: trajectory.dt_s,
            joints: trajectory.joints.clone(),
        });
        if forward {
            recorder.track_stages(id, stages.clone());
        }
        arm.send(DriverCommand::ExecutePlan { id, plan: plan.clone() }).map_err(|e| anyhow::anyhow!("{e}"))
    };
    send(execution, &forward, &forward_trajectory, true)?;
    let mut going_forward = true;

    let started = Instant::now();
    let mut last_report = Instant::now();
    while started.elapsed().as_secs_f64() < args.seconds {
        if let Some(event) = arm.recv_event_timeout(Duration::from_millis(20)) {
            match event {
                DriverEvent::PlanFinished { .. } => {
                    going_forward = !going_forward;
                    execution += 1;
                    let (next, trajectory) =
                        if going_forward { (&forward, &forward_trajectory) } else { (&backward, &backward_trajectory) };
                    send(execution, next, trajectory, going_forward)?;
                }
                DriverEvent::Refused { reason, .. }
                | DriverEvent::Halted { reason }
                | DriverEvent::PlanFailed { reason, .. } => {
                    recorder.event(&TimelineEvent::Log { source: LogSource::Robot, message: reason });
                }
                _ => {}
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let s = recorder.stats();
            println!(
                "t={:.1} s: {} frames written, {} durable, {} dropped; {} records; rss {:.1} MB",
                started.elapsed().as_secs_f64(),
                s.frames_written,
                s.frames_durable,
                s.frames_dropped,
                s.records_written,
                resident_mb()
            );
            let _ = std::io::stdout().flush();
            if let Some(error) = recorder.error() {
                anyhow::bail!("recording failed: {error}");
            }
        }
    }
    stop.trigger(kinedesk_models::StopReason::Button);
    // Let the stopped state reach the recorder, then let go of the taps.
    let _ = arm.wait_for_state(Duration::from_secs(1), |state| !state.moving);
    for camera in &cameras {
        camera.set_tap(None);
    }
    arm.set_state_tap(None);
    let delivered: u64 = cameras.iter().map(|c| c.slot.published()).sum();
    let source_gaps: u64 =
        cameras.iter().map(|c| c.slot.counters.source_gaps.load(std::sync::atomic::Ordering::Relaxed)).sum();
    let (_, stats) = recorder.finish(EpisodeEnd::Keep).map_err(anyhow::Error::msg)?;
    println!(
        "done: {} frames written of {delivered} delivered by the cameras ({} dropped by the recorder, {} skipped by \
         the sources), {} records, {:.1} MB in {}",
        stats.frames_written,
        stats.frames_dropped,
        source_gaps,
        stats.records_written,
        stats.bytes_written as f64 / 1e6,
        path.display()
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct SessionInfoArgs {
    pub session: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// Lists a session's episodes: frames per camera, joint states, events, duration, and any torn tail.
pub fn run_session_info(args: &SessionInfoArgs) -> anyhow::Result<()> {
    let session = SessionDir::open(&args.session).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rows = Vec::new();
    for path in session.episode_paths().map_err(|e| anyhow::anyhow!("{e}"))? {
        match read_episode(&path) {
            Ok(episode) => {
                let (start, end) = episode.span();
                let frames: Vec<usize> =
                    (0..episode.meta.cameras.len()).map(|c| episode.camera_frames(c as u16).count()).collect();
                rows.push(serde_json::json!({
                    "episode": path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "task": episode.meta.task,
                    "cameras": episode.meta.cameras,
                    "frames_per_camera": frames,
                    "frames": episode.frames.len(),
                    "joint_states": episode.joints.len(),
                    "events": episode.events.len(),
                    "duration_s": end.saturating_since(start).as_secs_f64(),
                    "finished": episode.end.is_some(),
                    "torn_tail": episode.torn_tail,
                    "skipped": episode.skipped.iter().map(|s| serde_json::json!({"at": s.at, "bytes": s.bytes, "reason": s.reason})).collect::<Vec<_>>(),
                }));
            }
            Err(error) => {
                rows.push(serde_json::json!({"episode": path.display().to_string(), "error": error.to_string()}));
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for row in rows {
            println!("{row}");
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// lerobot-v3 (Parquet, many episodes a file, language annotations), lerobot-v2.1 (a Parquet file per
    /// episode, JSON-lines metadata) or rrd (a Rerun recording: cameras, arm transforms, trajectories, reasoning).
    #[arg(long, default_value = "lerobot-v3")]
    pub format: String,
    /// jpeg: the frames as recorded; png: re-encoded losslessly (what the lerobot package writes).
    #[arg(long, default_value = "jpeg")]
    pub images: String,
    /// Cameras as MP4 video (H.264 through the system's ffmpeg) instead of images in the Parquet files.
    #[arg(long)]
    pub video: bool,
    /// With --video: start a new MP4 file (between episodes) once one reaches this size, as lerobot does.
    #[arg(long, value_name = "MB", default_value_t = kinedesk_sessions::lerobot::VIDEO_FILE_MB)]
    pub video_file_mb: u64,
    /// With --format rrd: stream to a running Rerun viewer instead of a file (e.g.
    /// rerun+http://127.0.0.1:9876/proxy).
    #[arg(long, value_name = "URL")]
    pub connect: Option<String>,
    pub session: PathBuf,
    /// The dataset folder (or .rrd file) to create.
    #[arg(required_unless_present = "connect")]
    pub out: Option<PathBuf>,
    /// Replace OUT if it exists (it is replaced only once the new export is complete).
    #[arg(long)]
    pub force: bool,
}

/// A progress bar for a long job counted in `unit`s.
pub(crate) fn progress_bar(message: &'static str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit}"))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// Parses `--format` and `--images`.
pub fn export_options(
    format: &str,
    images: &str,
    video: bool,
) -> anyhow::Result<kinedesk_sessions::lerobot::ExportOptions> {
    use kinedesk_sessions::lerobot::{DatasetVersion, ExportOptions, ImageEncoding};
    let version = match format {
        "lerobot-v3" | "lerobot-v3.0" => DatasetVersion::V30,
        "lerobot-v2.1" => DatasetVersion::V21,
        other => anyhow::bail!("unknown format {other:?}: choose lerobot-v3, lerobot-v2.1 or rrd"),
    };
    let images = match images {
        "jpeg" | "jpg" => ImageEncoding::AsRecorded,
        "png" => ImageEncoding::Png,
        other => anyhow::bail!("unknown image encoding {other:?}: choose jpeg or png"),
    };
    Ok(ExportOptions { version, images, video, ..ExportOptions::default() })
}

/// Exports a session with a progress bar.
pub fn run_export(args: &ExportArgs) -> anyhow::Result<()> {
    if args.format == "rrd" {
        return run_export_rerun(args);
    }
    anyhow::ensure!(args.connect.is_none(), "--connect streams to a Rerun viewer: use it with --format rrd");
    let out = args.out.clone().context("name the dataset folder to create")?;
    let options = kinedesk_sessions::lerobot::ExportOptions {
        overwrite: args.force,
        video_file_mb: Some(args.video_file_mb),
        ..export_options(&args.format, &args.images, args.video)?
    };
    let started = Instant::now();
    let bar = progress_bar("exporting", "episodes");
    let summary = kinedesk_sessions::lerobot::export_lerobot(&args.session, &out, options, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    println!(
        "exported {} episodes, {} frames ({} recovered after a crash) to {} in {:.2} s ({:.1} MB of data)",
        summary.episodes,
        summary.frames,
        summary.recovered_episodes,
        out.display(),
        started.elapsed().as_secs_f64(),
        summary.bytes as f64 / 1e6
    );
    report_left_out(&summary.left_out);
    for salvaged in &summary.salvaged {
        eprintln!("note: {}: {}", salvaged.episode, salvaged.reason);
    }
    for stale in &summary.stale_frames {
        eprintln!(
            "note: {}: camera {} had no fresh frame for {} of {} dataset frames (the nearest frame was used; counted \
             in the episode metadata as kinedesk/stale_frames)",
            stale.episode, stale.camera, stale.stale, stale.frames
        );
    }
    Ok(())
}

/// Lists on stderr the episodes an export left out (the export itself succeeded with the others).
fn report_left_out(left_out: &[kinedesk_sessions::lerobot::LeftOut]) {
    if !left_out.is_empty() {
        eprintln!("warning: {} episode(s) left out:", left_out.len());
        for episode in left_out {
            eprintln!("  {}: {}", episode.episode, episode.reason);
        }
    }
}

/// `kinedesk export --format rrd SESSION OUT.rrd` (or `--connect URL`), with a progress bar.
fn run_export_rerun(args: &ExportArgs) -> anyhow::Result<()> {
    use kinedesk_sessions::rerun_export::{RerunTarget, export_rerun};
    let target = match (&args.connect, &args.out) {
        (Some(url), _) => RerunTarget::Viewer(url),
        (None, Some(out)) => RerunTarget::File(out),
        (None, None) => anyhow::bail!("name the .rrd file to create, or --connect a running viewer"),
    };
    let started = Instant::now();
    let bar = progress_bar("logging to Rerun", "episodes");
    let summary = export_rerun(&args.session, &target, args.force, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let whereto = match target {
        RerunTarget::File(out) => out.display().to_string(),
        RerunTarget::Viewer(url) => url.to_owned(),
    };
    println!(
        "logged {} episodes to {whereto} in {:.2} s: {} camera frames, {} joint states{}, {} text entries",
        summary.episodes,
        started.elapsed().as_secs_f64(),
        summary.frames,
        summary.joint_states,
        summary.arm.map_or_else(
            || " (no built-in arm: joints as scalars only)".to_owned(),
            |arm| format!(" with {arm} transforms")
        ),
        summary.text_entries
    );
    report_left_out(&summary.left_out);
    Ok(())
}

/// `kinedesk import lerobot DATASET SESSION`, with a progress bar.
pub fn run_import(dataset: &std::path::Path, session: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = progress_bar("importing", "data files");
    let summary = kinedesk_sessions::lerobot_import::import_lerobot(dataset, session, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "imported {} episodes, {} frames (LeRobot {}, cameras: {}; {} with annotations) into {} in {:.2} s",
            summary.episodes,
            summary.frames,
            summary.version,
            if summary.cameras.is_empty() { "none".to_owned() } else { summary.cameras.join(", ") },
            summary.annotated,
            session.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if !summary.skipped_videos.is_empty() {
        eprintln!(
            "note: video features are not imported (KineDesk imports image features): {}",
            summary.skipped_videos.join(", ")
        );
    }
    Ok(())
}

/// This process's resident memory (Linux), to show that recording does not grow.
#[must_use]
pub fn resident_mb() -> f64 {
    proc_status_mb("VmRSS")
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS`, `VmHWM` for the peak…) in MB; 0 where there is
/// none (not Linux).
#[must_use]
pub fn proc_status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
