//! Export a session as a LeRobot v3.0 dataset (the layout lerobot 0.6 reads): `data/chunk-000/file-NNN.parquet`
//! with many episodes per file (images embedded as the JPEG bytes recorded, no re-encoding), `meta/info.json`,
//! `meta/stats.json`, `meta/tasks.parquet`, `meta/episodes/chunk-000/file-000.parquet`, and the bi-level reasoning
//! in the `language_persistent` / `language_events` columns.
//!
//! Frames are on the dataset clock: frame k is at `timestamp = k / fps` from the first camera's first frame, `fps`
//! being the configured camera rate; every camera contributes its frame captured nearest to that instant (one
//! further than half a period away is counted as stale, per camera, in the summary and the episode metadata),
//! `observation.state` is the joint state (and gripper) at that time, and `action` is the
//! command in force at that time (the joint target and gripper command the driver reported, recorded at the control
//! rate); where nothing was commanded it is the measured state and `is_commanded` says so.

mod metadata;
mod parquet_io;
mod rows;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::annotation::read_annotation;
use crate::episode::{Episode, SessionDir, read_episode_without_images};

use metadata::*;
pub(crate) use metadata::{write_json, write_tasks_parquet};
use parquet_io::*;
pub(crate) use parquet_io::{ParquetReadError, parquet_files, read_parquet_batches};
use rows::*;

/// Bytes per data file before another file is started, between episodes (LeRobot's default aims at 100 MB files).
const DATA_FILE_BYTES: usize = 100 << 20;

/// Dataset frames converted and written at a time (one Parquet row group): what an export holds of an episode.
const ROWS_PER_GROUP: usize = 128;

/// At most this many sample images per camera are kept for the image statistics (thinned evenly as more come).
const IMAGE_SAMPLES: usize = 128;

/// Sample images of one camera, evenly spread over all offered: every `stride`-th, the stride doubling (and every
/// other sample dropped) whenever there would be more than [`IMAGE_SAMPLES`].
#[derive(Clone, Default)]
struct ImageSamples {
    stride: usize,
    offered: usize,
    images: Vec<Vec<u8>>,
}

impl ImageSamples {
    fn offer(&mut self, image: &[u8]) {
        let stride = self.stride.max(1);
        if self.offered.is_multiple_of(stride) {
            self.images.push(image.to_vec());
            if self.images.len() > IMAGE_SAMPLES {
                let mut keep = false;
                self.images.retain(|_| {
                    keep = !keep;
                    keep
                });
                self.stride = stride * 2;
            }
        }
        self.offered += 1;
    }

    fn stats(&self) -> serde_json::Value {
        image_stats(&self.images.iter().collect::<Vec<_>>())
    }
}

/// Which LeRobot dataset layout to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DatasetVersion {
    /// v3.0: many episodes per Parquet file, episode metadata in Parquet, language columns.
    #[default]
    V30,
    /// v2.1: one Parquet file per episode, JSON-lines metadata. It has no language columns, so the annotations go
    /// into `meta/episodes.jsonl` (`language_persistent` of each episode).
    V21,
}

/// How camera frames are stored in the dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImageEncoding {
    /// The JPEG bytes as recorded (no re-encoding: fastest, smallest).
    #[default]
    AsRecorded,
    /// Lossless PNG (what `lerobot` writes for image features), re-encoded on all cores.
    Png,
}

/// What to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub version: DatasetVersion,
    pub images: ImageEncoding,
    /// Cameras as MP4 video (H.264, through the system's ffmpeg) instead of images in the Parquet files.
    pub video: bool,
    /// Replace an existing output (`--force`); otherwise an existing output is refused.
    pub overwrite: bool,
    /// v3 MP4 files roll over to a new file, between episodes, once one reaches this many MB (`None`: LeRobot's
    /// default of 500 MB). An episode's frames stay in one file: v3.0 episode metadata names one file per camera.
    pub video_file_mb: Option<u64>,
}

/// LeRobot's default size of a v3 video file before the next episode goes into a new one.
pub const VIDEO_FILE_MB: u64 = 500;

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ExportSummary {
    pub episodes: usize,
    pub frames: usize,
    pub data_files: usize,
    pub bytes: u64,
    /// Episodes whose log had a torn tail (exported up to it).
    pub recovered_episodes: usize,
    /// Episodes that were not exported, and why (a damaged log, an unreadable annotation, other cameras or joints
    /// than the first episode, no frames).
    pub left_out: Vec<LeftOut>,
    /// Episodes exported without damaged stretches of their logs (what was skipped).
    pub salvaged: Vec<LeftOut>,
    /// Cameras that had no fresh frame for some dataset frames (dropped or late frames; the nearest was used).
    pub stale_frames: Vec<StaleFrames>,
}

/// A camera that missed dataset frames in an episode.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StaleFrames {
    pub episode: String,
    pub camera: String,
    /// Dataset frames without a frame of this camera within half a period.
    pub stale: u64,
    /// Dataset frames of the episode.
    pub frames: u64,
}

/// An episode an export left out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeftOut {
    pub episode: String,
    pub reason: String,
}

impl LeftOut {
    pub(crate) fn new(path: &Path, reason: impl std::fmt::Display) -> Self {
        let episode = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into());
        Self { episode, reason: reason.to_string() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Session(#[from] crate::episode::SessionError),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("cannot export: {0}")]
    Invalid(String),
}

fn io_error(path: &Path, error: &dyn std::fmt::Display) -> ExportError {
    ExportError::Io { path: path.display().to_string(), message: error.to_string() }
}

/// Exports every episode of `session` into the LeRobot v3.0 dataset folder `out` (which must not exist yet), with
/// the JPEG frames as recorded.
pub fn export_lerobot_v3(
    session: &Path,
    out: &Path,
    progress: impl FnMut(usize, usize),
) -> Result<ExportSummary, ExportError> {
    export_lerobot(session, out, ExportOptions::default(), progress)
}

/// The layout of the first episode, which every other episode must share.
struct Layout {
    cameras: Vec<String>,
    joints: Vec<String>,
    fps: f64,
    robot: String,
    sizes: Vec<(u32, u32)>,
    /// State entries some episode did not measure (see [`crate::recorder::EpisodeMeta::unmeasured`]).
    unmeasured: Vec<String>,
}

/// Exports every episode of `session` into the LeRobot dataset folder `out` (which must not exist yet, unless
/// `options.overwrite`). Episodes are read one at a time; a trimmed or annotated episode is exported as its
/// annotation says; an episode that cannot be exported whole is left out and listed in the summary. The dataset is
/// written beside `out` and moved into place when complete; the session is only read.
pub fn export_lerobot(
    session: &Path,
    out: &Path,
    options: ExportOptions,
    progress: impl FnMut(usize, usize),
) -> Result<ExportSummary, ExportError> {
    let dir = SessionDir::open(session)?;
    let paths = dir.episode_paths()?;
    if paths.is_empty() {
        return Err(ExportError::Invalid(format!("{} has no episodes", session.display())));
    }
    let staged =
        crate::output::StagedOutput::prepare(&[session], out, options.overwrite).map_err(ExportError::Invalid)?;
    let summary = write_dataset(&paths, staged.path(), options, progress)?;
    staged.commit().map_err(ExportError::Invalid)?;
    Ok(summary)
}

fn write_dataset(
    paths: &[std::path::PathBuf],
    out: &Path,
    options: ExportOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<ExportSummary, ExportError> {
    let ffmpeg = if options.video {
        Some(crate::video::find_ffmpeg().ok_or_else(|| {
            ExportError::Invalid(
                "MP4 video needs ffmpeg on the PATH (apt-get install ffmpeg) or KINEDESK_FFMPEG; export with images \
                 instead"
                    .into(),
            )
        })?)
    } else {
        None
    };
    // v3: one MP4 per camera for the whole export, episodes one after another (located by timestamps).
    let mut videos: Vec<crate::video::VideoWriter> = Vec::new();
    let mut summary = ExportSummary::default();
    let mut tasks: BTreeMap<String, i64> = BTreeMap::new();
    let mut episodes_meta: Vec<serde_json::Value> = Vec::new();
    let mut all_states: Vec<Vec<f32>> = Vec::new();
    let mut all_actions: Vec<Vec<f32>> = Vec::new();
    let mut all_flags: Vec<[f32; 3]> = Vec::new();
    let mut image_samples: Vec<ImageSamples> = Vec::new();
    let mut layout: Option<Layout> = None;
    let mut index = 0i64;
    let mut file_index = 0usize;
    let mut video_file = 0usize;
    let video_file_bytes = options.video_file_mb.unwrap_or(VIDEO_FILE_MB) << 20;
    // v3: the data file being written; episodes go into it until it passes DATA_FILE_BYTES.
    let mut data_file: Option<DataWriter> = None;
    // The next episode is read on another thread while this one is converted and written; episodes are read
    // without their images (those are read from the log a stretch at a time), so memory does not grow with length.
    std::thread::scope(|scope| -> Result<(), ExportError> {
        let (sender, episodes) = std::sync::mpsc::sync_channel::<Result<Episode, ExportError>>(0);
        let to_read = paths;
        scope.spawn(move || {
            for path in to_read {
                if sender.send(read_episode_without_images(path).map_err(ExportError::from)).is_err() {
                    break;
                }
            }
        });
        for (position, path) in paths.iter().enumerate() {
            progress(position, paths.len());
            let episode = match episodes.recv() {
                Ok(Ok(episode)) => episode,
                Ok(Err(error)) => {
                    summary.left_out.push(LeftOut::new(path, error));
                    continue;
                }
                Err(_) => return Err(ExportError::Invalid("the episode reader stopped".into())),
            };
            // An annotation that cannot be read leaves the episode out: exporting it without would drop the
            // operator's labels and trim. The file is left as it is (an export only reads the session).
            let annotation = match read_annotation(path) {
                Ok(annotation) => annotation,
                Err(error) => {
                    summary.left_out.push(LeftOut::new(path, error));
                    continue;
                }
            };
            let names: Vec<String> = episode.meta.cameras.iter().map(|c| c.replace(' ', "_")).collect();
            match &layout {
                None => {
                    image_samples = vec![ImageSamples::default(); names.len()];
                    let sizes = (0..names.len())
                        .map(|c| episode.camera_frames(c as u16).next().map_or((0, 0), |f| (f.width, f.height)))
                        .collect();
                    layout = Some(Layout {
                        cameras: names.clone(),
                        joints: episode.meta.joint_names.clone(),
                        fps: dataset_fps(episode.meta.fps),
                        robot: episode.meta.robot.clone(),
                        sizes,
                        unmeasured: Vec::new(),
                    });
                }
                Some(first) if first.cameras != names || first.joints != episode.meta.joint_names => {
                    summary.left_out.push(LeftOut::new(
                        path,
                        "other cameras or joints than the first episode; export it separately",
                    ));
                    continue;
                }
                Some(first) if (first.fps - dataset_fps(episode.meta.fps)).abs() > 1e-6 => {
                    summary.left_out.push(LeftOut::new(
                        path,
                        format!(
                            "recorded at {} frames/s, the first episode at {}; export it separately",
                            dataset_fps(episode.meta.fps),
                            first.fps
                        ),
                    ));
                    continue;
                }
                Some(_) => {}
            }
            if let Some(layout) = layout.as_mut() {
                for entry in &episode.meta.unmeasured {
                    if !layout.unmeasured.contains(entry) {
                        layout.unmeasured.push(entry.clone());
                    }
                }
            }
            let Some(current) = &layout else { continue };
            let task = annotation
                .as_ref()
                .map(|a| a.instruction.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| episode.meta.task.clone());
            let next_task = tasks.len() as i64;
            let task_index = *tasks.entry(task.clone()).or_insert(next_task);
            let episode_index = summary.episodes;
            let Some(mut clock) =
                EpisodeClock::new(&episode, annotation.as_ref(), episode_index as i64, index, task_index)?
            else {
                summary.left_out.push(LeftOut::new(path, "no camera frames (in the kept span)"));
                continue;
            };
            let length = clock.frames_total as i64;
            let from = index;
            index += length;

            // Where this episode's rows go: v3 the shared data file, v2.1 a file of its own.
            let data_index = file_index;
            let file = match options.version {
                DatasetVersion::V30 => out.join(format!("data/chunk-000/file-{file_index:03}.parquet")),
                DatasetVersion::V21 => {
                    out.join(format!("data/chunk-{:03}/episode_{episode_index:06}.parquet", episode_index / CHUNK_SIZE))
                }
            };
            let mut episode_file: Option<DataWriter> = None;
            let fps = current.fps;
            let mut episode_videos = Vec::new();
            if let Some(ffmpeg) = &ffmpeg {
                if options.version == DatasetVersion::V30 && videos.is_empty() {
                    for (camera, (width, height)) in current.cameras.iter().zip(&current.sizes) {
                        let file =
                            out.join(format!("videos/observation.images.{camera}/chunk-000/file-{video_file:03}.mp4"));
                        videos.push(
                            crate::video::VideoWriter::start(ffmpeg, &file, *width, *height, fps)
                                .map_err(|e| io_error(&file, &e))?,
                        );
                    }
                }
                if options.version == DatasetVersion::V21 {
                    for (camera, (width, height)) in current.cameras.iter().zip(&current.sizes) {
                        let file = out.join(format!(
                            "videos/chunk-{:03}/observation.images.{camera}/episode_{episode_index:06}.mp4",
                            episode_index / CHUNK_SIZE
                        ));
                        episode_videos.push(
                            crate::video::VideoWriter::start(ffmpeg, &file, *width, *height, fps)
                                .map_err(|e| io_error(&file, &e))?,
                        );
                    }
                }
            }
            let video_starts: Vec<u64> = videos.iter().map(|w| w.frames).collect();

            // The episode a stretch of rows at a time: converted, written as a row group, let go.
            let image_cameras: &[String] = if options.video { &[] } else { &current.cameras };
            let mut states: Vec<Vec<f32>> = Vec::with_capacity(clock.frames_total);
            let mut actions: Vec<Vec<f32>> = Vec::with_capacity(clock.frames_total);
            let mut flags: Vec<[f32; 3]> = Vec::with_capacity(clock.frames_total);
            let mut episode_images = vec![ImageSamples::default(); current.cameras.len()];
            let mut persistent = Vec::new();
            // Rows are made (images read from the log, re-encoded for PNG) on another thread while the previous
            // stretch is written: making and writing overlap.
            let png = options.images == ImageEncoding::Png;
            let stale = std::thread::scope(|stretches| -> Result<Vec<u64>, ExportError> {
                let (sender, made) = std::sync::mpsc::sync_channel::<Result<Vec<Row>, ExportError>>(1);
                let maker = stretches.spawn(move || {
                    for stretch in (0..clock.frames_total).step_by(ROWS_PER_GROUP) {
                        let rows = clock.rows(stretch..stretch + ROWS_PER_GROUP).and_then(|mut rows| {
                            if png {
                                transcode_png(&mut rows)?;
                            }
                            Ok(rows)
                        });
                        let failed = rows.is_err();
                        if sender.send(rows).is_err() || failed {
                            break;
                        }
                    }
                    clock.stale
                });
                for rows in made {
                    let rows = rows?;
                    for row in &rows {
                        states.push(row.state.clone());
                        actions.push(row.action.clone());
                        flags.push(row.flags());
                        for (c, image) in row.images.iter().enumerate() {
                            if let Some(samples) = episode_images.get_mut(c) {
                                samples.offer(image);
                            }
                            if let Some(samples) = image_samples.get_mut(c) {
                                samples.offer(image);
                            }
                        }
                    }
                    if persistent.is_empty() {
                        persistent = rows.first().map(|r| r.persistent.clone()).unwrap_or_default();
                    }
                    let writers =
                        if options.version == DatasetVersion::V30 { &mut videos } else { &mut episode_videos };
                    if !writers.is_empty() {
                        write_video_frames(writers, &rows)?;
                    }
                    let batch = data_batch(&rows, image_cameras, current.joints.len() + 1, options)?;
                    let writer = match options.version {
                        DatasetVersion::V30 => &mut data_file,
                        DatasetVersion::V21 => &mut episode_file,
                    };
                    match writer {
                        Some(writer) => writer.write(&batch)?,
                        None => *writer = Some(DataWriter::create(&file, &batch, None)?),
                    }
                }
                maker.join().map_err(|_| ExportError::Invalid("the row maker panicked".into()))
            })?;
            for (camera, stale) in names.iter().zip(&stale) {
                if *stale > 0 {
                    summary.stale_frames.push(StaleFrames {
                        episode: LeftOut::new(path, "").episode,
                        camera: camera.clone(),
                        stale: *stale,
                        frames: length as u64,
                    });
                }
            }

            let mut meta = json!({
                "episode_index": episode_index,
                "tasks": [task],
                "length": length,
                "data/chunk_index": 0,
                "data/file_index": data_index,
                "dataset_from_index": from,
                "dataset_to_index": index,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
            });
            for (camera, stale) in names.iter().zip(&stale) {
                meta[format!("kinedesk/stale_frames/observation.images.{camera}")] = json!(stale);
            }
            let state_refs: Vec<&[f32]> = states.iter().map(Vec::as_slice).collect();
            let action_refs: Vec<&[f32]> = actions.iter().map(Vec::as_slice).collect();
            let mut features =
                vec![("observation.state", vector_stats(&state_refs)), ("action", vector_stats(&action_refs))];
            for (i, name) in FLAG_FEATURES.iter().enumerate() {
                features.push((name, flag_stats(&flags, i)));
            }
            let mut episode_stats = json!({});
            for (name, stats) in features {
                for key in ["min", "max", "mean", "std", "count"] {
                    meta[format!("stats/{name}/{key}")] = stats[key].clone();
                }
                episode_stats[name] = stats;
            }
            all_states.extend(states);
            all_actions.extend(actions);
            all_flags.extend(flags);
            if episode.torn_tail.is_some() {
                summary.recovered_episodes += 1;
            }
            if !episode.skipped.is_empty() {
                let bytes: u64 = episode.skipped.iter().map(|s| s.bytes).sum();
                summary.salvaged.push(LeftOut::new(
                    path,
                    format!("{} damaged stretch(es), {bytes} bytes, skipped; the rest exported", episode.skipped.len()),
                ));
            }
            summary.frames += length as usize;
            summary.episodes += 1;
            if ffmpeg.is_some() {
                let writers = if options.version == DatasetVersion::V30 { &videos } else { &episode_videos };
                let starts = if options.version == DatasetVersion::V30 { video_starts } else { vec![0; writers.len()] };
                for ((camera, writer), start) in current.cameras.iter().zip(writers.iter()).zip(starts) {
                    let key = format!("videos/observation.images.{camera}");
                    meta[format!("{key}/chunk_index")] = json!(0);
                    let file = if options.version == DatasetVersion::V30 { video_file } else { 0 };
                    meta[format!("{key}/file_index")] = json!(file);
                    meta[format!("{key}/from_timestamp")] = json!(start as f64 / fps);
                    meta[format!("{key}/to_timestamp")] = json!(writer.frames as f64 / fps);
                }
                for writer in episode_videos {
                    writer.finish().map_err(|e| io_error(out, &e))?;
                }
            }
            match options.version {
                DatasetVersion::V30 => {
                    episodes_meta.push(meta);
                    // Files roll over between episodes (lerobot gives each episode one data file and one video
                    // file per camera).
                    if data_file.as_ref().is_some_and(|f| f.bytes() > DATA_FILE_BYTES as u64) {
                        summary.bytes += data_file.take().map_or(Ok(0), DataWriter::finish)?;
                        file_index += 1;
                    }
                    if videos.iter().any(|w| w.bytes() >= video_file_bytes) {
                        for writer in videos.drain(..) {
                            writer.finish().map_err(|e| io_error(out, &e))?;
                        }
                        video_file += 1;
                    }
                }
                DatasetVersion::V21 => {
                    for (camera, samples) in current.cameras.iter().zip(&episode_images) {
                        episode_stats[format!("observation.images.{camera}")] = samples.stats();
                    }
                    let persistent: Vec<serde_json::Value> = persistent
                        .iter()
                        .map(|l| json!({"role": l.role, "content": l.content, "style": l.style, "timestamp": l.timestamp}))
                        .collect();
                    summary.bytes += episode_file.take().map_or(Ok(0), DataWriter::finish)?;
                    summary.data_files += 1;
                    episodes_meta.push(json!({
                        "episode_index": episode_index,
                        "tasks": [task],
                        "length": length,
                        "language_persistent": persistent,
                        "stats": episode_stats,
                    }));
                }
            }
        }
        Ok(())
    })?;
    if let Some(writer) = data_file.take() {
        summary.bytes += writer.finish()?;
        file_index += 1;
    }
    let reasons = || summary.left_out.iter().map(|l| format!("{}: {}", l.episode, l.reason)).collect::<Vec<_>>();
    let (Some(layout), true) = (layout, summary.episodes > 0) else {
        return Err(ExportError::Invalid(format!("no episode could be exported ({})", reasons().join("; "))));
    };
    for writer in videos {
        writer.finish().map_err(|e| io_error(out, &e))?;
    }
    match options.version {
        DatasetVersion::V30 => {
            summary.data_files = file_index;
            write_metadata(out, &summary, &tasks, &episodes_meta, &layout, options)?;
        }
        DatasetVersion::V21 => write_metadata_v21(out, &summary, &tasks, &episodes_meta, &layout, options)?,
    }
    let states: Vec<&[f32]> = all_states.iter().map(Vec::as_slice).collect();
    let actions: Vec<&[f32]> = all_actions.iter().map(Vec::as_slice).collect();
    let mut stats = json!({"observation.state": vector_stats(&states), "action": vector_stats(&actions)});
    for (i, name) in FLAG_FEATURES.iter().enumerate() {
        stats[*name] = flag_stats(&all_flags, i);
    }
    for (camera, samples) in layout.cameras.iter().zip(&image_samples) {
        stats[format!("observation.images.{camera}")] = samples.stats();
    }
    write_json(&out.join("meta/stats.json"), &stats)?;
    progress(paths.len(), paths.len());
    Ok(summary)
}

/// Writes `batch` as the Parquet file `path` (images stored as the dataset tools expect), with an optional key-value
/// pair in the file's metadata; for the dataset editor.
pub(crate) fn write_parquet_file(
    path: &Path,
    batch: &arrow_array::RecordBatch,
    metadata: Option<(String, String)>,
) -> Result<(), ExportError> {
    write_parquet(path, batch, metadata).map(|_| ())
}

/// The rate of the dataset clock for an episode recorded at `fps` (the configured camera rate); logs without a
/// sensible one get LeRobot's usual 30. Whole frames per second: `info.json` holds an integer.
pub(super) fn dataset_fps(fps: f64) -> f64 {
    if fps.is_finite() && fps >= 1.0 { fps.round() } else { 30.0 }
}

/// Feeds each camera's frames of `rows` to its video, one thread per camera.
fn write_video_frames(writers: &mut [crate::video::VideoWriter], rows: &[Row]) -> Result<(), ExportError> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = writers
            .iter_mut()
            .enumerate()
            .map(|(camera, writer)| {
                scope.spawn(move || -> std::io::Result<()> {
                    for row in rows {
                        writer.push_encoded(row.images.get(camera).map_or(&[][..], Vec::as_slice))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for job in jobs {
            job.join()
                .map_err(|_| ExportError::Invalid("a video encoder thread panicked".into()))?
                .map_err(|e| ExportError::Invalid(format!("video: {e}")))?;
        }
        Ok(())
    })
}
