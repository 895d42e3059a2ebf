//! Rerun: a session as a `.rrd` recording (or streamed live to a running viewer) with the Rerun SDK.
//!
//! One Rerun recording per episode, all in one file, on the `time` timeline (seconds from the episode's first
//! record):
//!
//! ```text
//! cameras/<name>            EncodedImage   every frame, bytes as recorded (JPEG, or PNG when imported)
//! arm/joint_<i>             Transform3D    every joint frame in the base frame (forward kinematics of the state)
//! arm/skeleton              LineStrips3D   the chain through the joint origins
//! arm/flange_path           LineStrips3D   (static) where the flange went
//! arm/trajectory_<k>        LineStrips3D   each sent trajectory's flange path, from when it was sent
//! joints/q<i>, joints/gripper Scalars      joint positions (rad) and gripper opening
//! reasoning                 TextLog        instruction-level and action-level reasoning, instructions
//! events                    TextLog        approvals, sends, stops, robot messages
//! annotation/stage          TextLog        the annotated stage, at each stage's start
//! annotation/summary        TextDocument   (static) instruction, constraints, outcome, notes
//! ```

use std::path::Path;
use std::sync::Arc;

use kinedesk_core::Timestamp;

use crate::events::{LogSource, TimelineEvent};
use kinedesk_core::robot::{BuiltinRobot, Robot, fk_frames};
use rerun::{RecordingStream, RecordingStreamBuilder};

use crate::annotation::{EpisodeAnnotation, read_annotation};
use crate::episode::{Episode, SessionDir, read_episode};

/// The Rerun application id of KineDesk recordings.
pub const APPLICATION_ID: &str = "kinedesk";

/// What a Rerun export did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RerunSummary {
    pub episodes: usize,
    pub frames: usize,
    pub joint_states: usize,
    pub text_entries: usize,
    /// The arm model used for the joint transforms (`None`: not a built-in arm, joints are logged as scalars only).
    pub arm: Option<String>,
    /// Episodes not exported, and why.
    pub left_out: Vec<crate::lerobot::LeftOut>,
}

#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("{0}")]
    Session(#[from] crate::episode::SessionError),
    #[error("Rerun: {0}")]
    Rerun(String),
    #[error("cannot export: {0}")]
    Invalid(String),
}

fn rerun_error(error: impl std::fmt::Display) -> RerunError {
    RerunError::Rerun(error.to_string())
}

/// Where the recording goes.
pub enum RerunTarget<'a> {
    /// A new `.rrd` file.
    File(&'a Path),
    /// A running viewer or server, e.g. `rerun+http://127.0.0.1:9876/proxy`.
    Viewer(&'a str),
}

/// The arm model a recording was made with, if KineDesk has it built in.
fn arm_for(episode: &Episode) -> Option<Robot> {
    episode.meta.robot.parse::<BuiltinRobot>().ok().map(BuiltinRobot::robot)
}

/// Exports every episode of `session` to Rerun. A file is written beside its name and moved into place when
/// complete; it replaces an existing file only when `overwrite`. Episodes that cannot be read are left out and
/// listed; a trimmed episode is logged as its annotation keeps it.
pub fn export_rerun(
    session: &Path,
    target: &RerunTarget<'_>,
    overwrite: bool,
    mut progress: impl FnMut(usize, usize),
) -> Result<RerunSummary, RerunError> {
    let dir = SessionDir::open(session)?;
    let paths = dir.episode_paths()?;
    if paths.is_empty() {
        return Err(RerunError::Invalid(format!("{} has no episodes", session.display())));
    }
    let staged = match target {
        RerunTarget::File(out) => {
            Some(crate::output::StagedOutput::prepare(&[session], out, overwrite).map_err(RerunError::Invalid)?)
        }
        RerunTarget::Viewer(_) => None,
    };
    let mut summary = RerunSummary::default();
    // Each episode is its own Rerun recording; for a file they all go through one shared file sink, so the `.rrd`
    // holds one stream with a recording per episode.
    let file_sink = match &staged {
        Some(staged) => Some(Arc::new(rerun::sink::FileSink::new(staged.path()).map_err(rerun_error)?)),
        None => None,
    };
    for (position, path) in paths.iter().enumerate() {
        progress(position, paths.len());
        // An episode that cannot be read whole, or whose annotation cannot, is left out and listed.
        let read = read_episode(path)
            .map_err(|e| e.to_string())
            .and_then(|episode| Ok((episode, read_annotation(path).map_err(|e| e.to_string())?)));
        let (episode, annotation) = match read {
            Ok(read) => read,
            Err(reason) => {
                summary.left_out.push(crate::lerobot::LeftOut::new(path, reason));
                continue;
            }
        };
        let name = path.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let builder = RecordingStreamBuilder::new(APPLICATION_ID).recording_name(name);
        let stream = match (target, &file_sink) {
            (RerunTarget::Viewer(url), _) => builder.connect_grpc_opts(*url).map_err(rerun_error)?,
            (RerunTarget::File(_), Some(sink)) => {
                let stream = builder.buffered().map_err(rerun_error)?;
                stream.set_sink(Box::new(SharedFileSink(sink.clone())));
                stream
            }
            (RerunTarget::File(_), None) => return Err(RerunError::Invalid("no file sink".into())),
        };
        log_episode(&stream, &episode, annotation.as_ref(), &mut summary)?;
        stream.flush_blocking().map_err(rerun_error)?;
        summary.episodes += 1;
    }
    if summary.episodes == 0 {
        let reasons: Vec<String> = summary.left_out.iter().map(|l| format!("{}: {}", l.episode, l.reason)).collect();
        return Err(RerunError::Invalid(format!("no episode could be exported ({})", reasons.join("; "))));
    }
    if let Some(sink) = file_sink {
        rerun::sink::LogSink::flush_blocking(sink.as_ref(), std::time::Duration::from_secs(60)).map_err(rerun_error)?;
        // The footer is written when the last reference to the sink goes.
        drop(sink);
    }
    if let Some(staged) = staged {
        staged.commit().map_err(RerunError::Invalid)?;
    }
    progress(paths.len(), paths.len());
    Ok(summary)
}

/// A file sink several recording streams write into.
struct SharedFileSink(Arc<rerun::sink::FileSink>);

impl rerun::sink::LogSink for SharedFileSink {
    fn send(&self, msg: rerun::log::LogMsg) {
        rerun::sink::LogSink::send(self.0.as_ref(), msg);
    }

    fn flush_blocking(&self, timeout: std::time::Duration) -> Result<(), rerun::sink::SinkFlushError> {
        rerun::sink::LogSink::flush_blocking(self.0.as_ref(), timeout)
    }

    fn defers_finalization_to_shutdown(&self) -> bool {
        true
    }
}

fn point(v: glam::DVec3) -> [f32; 3] {
    [v.x as f32, v.y as f32, v.z as f32]
}

/// Logs one episode into `stream`.
pub fn log_episode(
    stream: &RecordingStream,
    episode: &Episode,
    annotation: Option<&EpisodeAnnotation>,
    summary: &mut RerunSummary,
) -> Result<(), RerunError> {
    let arm = arm_for(episode);
    summary.arm = arm.as_ref().map(|r| r.name.clone());
    // Time 0 is the episode's first record (`span` walks every record, so it is taken once).
    let origin = episode.span().0;
    let seconds = |time: Timestamp| time.saturating_since(origin).as_secs_f64();
    // A trimmed episode is logged as the annotation keeps it (times stay those of the whole episode).
    let trim = annotation.and_then(|a| a.trim);
    let kept_s = |s: f64| trim.is_none_or(|(from, to)| s >= from && s <= to);
    let kept = |time: Timestamp| kept_s(seconds(time));
    stream.log_static("/", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP()).map_err(rerun_error)?;

    // Static: the whole flange path, and the annotation summary.
    if let Some(robot) = &arm {
        let path: Vec<[f32; 3]> = episode
            .joints
            .iter()
            .filter(|j| kept(j.time))
            .filter_map(|j| fk_frames(robot, &j.positions).ok()?.last().map(|f| point(f.translation)))
            .collect();
        if path.len() > 1 {
            stream
                .log_static("arm/flange_path", &rerun::LineStrips3D::new([path]).with_colors([0xFFB4_3CFF_u32]))
                .map_err(rerun_error)?;
        }
    }
    if let Some(annotation) = annotation {
        let mut text = format!("# {}\n\n", annotation.instruction);
        for line in annotation.constraints.lines() {
            text.push_str(&format!("- {line}\n"));
        }
        text.push_str(&format!("\noutcome: {}\n", annotation.outcome.label()));
        if let Some((from, to)) = annotation.trim {
            text.push_str(&format!("\ntrimmed to {from:.2}–{to:.2} s\n"));
        }
        if !annotation.notes.is_empty() {
            text.push_str(&format!("\nnotes: {}\n", annotation.notes));
        }
        stream
            .log_static(
                "annotation/summary",
                &rerun::TextDocument::new(text).with_media_type(rerun::MediaType::markdown()),
            )
            .map_err(rerun_error)?;
    }

    for frame in episode.frames.iter().filter(|f| kept(f.time)) {
        stream.set_duration_secs("time", seconds(frame.time));
        let name =
            episode.meta.cameras.get(usize::from(frame.camera)).cloned().unwrap_or_else(|| frame.camera.to_string());
        stream
            .log(
                format!("cameras/{}", name.replace(' ', "_")),
                &rerun::EncodedImage::from_file_contents(frame.jpeg.clone()),
            )
            .map_err(rerun_error)?;
        summary.frames += 1;
    }

    for state in episode.joints.iter().filter(|j| kept(j.time)) {
        stream.set_duration_secs("time", seconds(state.time));
        for (i, q) in state.positions.iter().enumerate() {
            stream.log(format!("joints/q{}", i + 1), &rerun::Scalars::single(*q)).map_err(rerun_error)?;
        }
        stream.log("joints/gripper", &rerun::Scalars::single(state.gripper)).map_err(rerun_error)?;
        if let Some(robot) = &arm
            && let Ok(frames) = fk_frames(robot, &state.positions)
        {
            for (i, frame) in frames.iter().enumerate() {
                let rotation = glam::DQuat::from_mat3(&frame.matrix3);
                let quaternion = rerun::Quaternion::from_xyzw([
                    rotation.x as f32,
                    rotation.y as f32,
                    rotation.z as f32,
                    rotation.w as f32,
                ]);
                let entity =
                    if i + 1 == frames.len() { "arm/flange".to_owned() } else { format!("arm/joint_{}", i + 1) };
                stream
                    .log(entity, &rerun::Transform3D::from_translation_rotation(point(frame.translation), quaternion))
                    .map_err(rerun_error)?;
            }
            let mut chain: Vec<[f32; 3]> = vec![point(robot.base.translation)];
            chain.extend(frames.iter().map(|f| point(f.translation)));
            stream.log("arm/skeleton", &rerun::LineStrips3D::new([chain])).map_err(rerun_error)?;
        }
        summary.joint_states += 1;
    }

    let mut trajectories = 0;
    for (time, event) in episode.events.iter().filter(|(time, _)| kept(*time)) {
        stream.set_duration_secs("time", seconds(*time));
        match TimelineEvent::from_json(event) {
            Some(TimelineEvent::Reasoning { instruction_level, action_level, .. }) => {
                for (level, lines) in [("instruction-level", instruction_level), ("action-level", action_level)] {
                    if !lines.is_empty() {
                        let text = format!("{level}: {}", lines.join("; "));
                        stream.log("reasoning", &rerun::TextLog::new(text).with_level("INFO")).map_err(rerun_error)?;
                        summary.text_entries += 1;
                    }
                }
            }
            Some(TimelineEvent::Instruction { text, .. }) => {
                let text = format!("instruction: {text}");
                stream.log("reasoning", &rerun::TextLog::new(text).with_level("INFO")).map_err(rerun_error)?;
                summary.text_entries += 1;
            }
            Some(TimelineEvent::Trajectory { joints, .. }) => {
                let Some(robot) = &arm else { continue };
                let path: Vec<[f32; 3]> = joints
                    .iter()
                    .filter_map(|q| fk_frames(robot, q).ok()?.last().map(|f| point(f.translation)))
                    .collect();
                if path.len() > 1 {
                    trajectories += 1;
                    stream
                        .log(
                            format!("arm/trajectory_{trajectories}"),
                            &rerun::LineStrips3D::new([path]).with_colors([0x50C8_78FF_u32]),
                        )
                        .map_err(rerun_error)?;
                }
            }
            known => {
                let level = if matches!(known, Some(TimelineEvent::Log { source: LogSource::Stop, .. })) {
                    "WARN"
                } else {
                    "INFO"
                };
                let text = known.map_or_else(|| event.to_string(), |known| known.summary());
                stream.log("events", &rerun::TextLog::new(text).with_level(level)).map_err(rerun_error)?;
                summary.text_entries += 1;
            }
        }
    }
    if let Some(annotation) = annotation {
        for stage in annotation.stages.iter().filter(|stage| kept_s(stage.start_s)) {
            stream.set_duration_secs("time", stage.start_s);
            stream
                .log("annotation/stage", &rerun::TextLog::new(format!("stage: {}", stage.stage)).with_level("INFO"))
                .map_err(rerun_error)?;
            summary.text_entries += 1;
        }
    }
    Ok(())
}

/// Live logging of a recording to a running Rerun viewer: camera frames (every `frame_stride`-th, as RGBA images),
/// joint states (scalars and, for a built-in arm, joint transforms) and timeline events, on the `time` timeline
/// (seconds since the recording started). The SDK batches and sends on its own threads; a viewer that is not
/// running costs nothing but a warning from the SDK.
pub struct LiveLogger {
    stream: RecordingStream,
    origin: Timestamp,
    arm: Option<Robot>,
    frame_stride: u64,
}

impl LiveLogger {
    /// Connects to `url` (e.g. `rerun+http://127.0.0.1:9876/proxy`); the connection itself is made in the
    /// background.
    pub fn connect(url: &str, name: &str, robot: &str, frame_stride: u64) -> Result<Self, RerunError> {
        let stream = RecordingStreamBuilder::new(APPLICATION_ID)
            .recording_name(name.to_owned())
            .connect_grpc_opts(url.to_owned())
            .map_err(rerun_error)?;
        stream.log_static("/", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP()).map_err(rerun_error)?;
        Ok(Self {
            stream,
            origin: Timestamp::now(),
            arm: robot.parse::<BuiltinRobot>().ok().map(BuiltinRobot::robot),
            frame_stride: frame_stride.max(1),
        })
    }

    fn at(&self, time: Timestamp) {
        self.stream.set_duration_secs("time", time.saturating_since(self.origin).as_secs_f64());
    }

    /// A camera frame (only every `frame_stride`-th of each camera is sent).
    pub fn frame(&self, camera: &str, frame: &kinedesk_core::frame::Frame) {
        if !frame.sequence.is_multiple_of(self.frame_stride) {
            return;
        }
        self.at(frame.captured);
        let image = rerun::Image::from_rgba32(frame.rgba.as_ref().clone(), [frame.width, frame.height]);
        let _ = self.stream.log(format!("cameras/{}", camera.replace(' ', "_")), &image);
    }

    /// A joint state.
    pub fn joint_state(&self, time: Timestamp, positions: &[f64], gripper: f64) {
        self.at(time);
        for (i, q) in positions.iter().enumerate() {
            let _ = self.stream.log(format!("joints/q{}", i + 1), &rerun::Scalars::single(*q));
        }
        let _ = self.stream.log("joints/gripper", &rerun::Scalars::single(gripper));
        if let Some(robot) = &self.arm
            && let Ok(frames) = fk_frames(robot, positions)
        {
            let mut chain: Vec<[f32; 3]> = vec![point(robot.base.translation)];
            chain.extend(frames.iter().map(|f| point(f.translation)));
            let _ = self.stream.log("arm/skeleton", &rerun::LineStrips3D::new([chain]));
        }
    }

    /// A timeline event (instruction, reasoning, send, stop, …) as text.
    pub fn event(&self, time: Timestamp, event: &TimelineEvent) {
        self.at(time);
        let entity = match event {
            TimelineEvent::Reasoning { .. }
            | TimelineEvent::Instruction { .. }
            | TimelineEvent::Log { source: LogSource::Policy, .. } => "reasoning",
            _ => "events",
        };
        let level = if matches!(event, TimelineEvent::Log { source: LogSource::Stop, .. }) { "WARN" } else { "INFO" };
        let _ = self.stream.log(entity, &rerun::TextLog::new(event.summary()).with_level(level));
    }

    /// Sends what is buffered (waits at most a few seconds).
    pub fn flush(&self) -> Result<(), RerunError> {
        self.stream.flush_with_timeout(std::time::Duration::from_secs(3)).map_err(rerun_error)
    }
}
