//! Export a session as a LeRobot v3.0 dataset (the layout lerobot 0.6 reads): `data/chunk-000/file-NNN.parquet`
//! with many episodes per file (images embedded as the JPEG bytes recorded, no re-encoding), `meta/info.json`,
//! `meta/stats.json`, `meta/tasks.parquet`, `meta/episodes/chunk-000/file-000.parquet`, and the bi-level reasoning
//! in the `language_persistent` / `language_events` columns.
//!
//! Frames follow the first camera: frame k is its k-th frame, `timestamp = k / fps`; every other camera contributes
//! its frame nearest in time, `observation.state` is the joint state (and gripper) at that time, and `action` is the
//! state of the next frame (position control).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    Array as _, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray,
};
use arrow_schema::{DataType, Field, Fields, Schema};
use kinedesk_core::Timestamp;

use crate::events::TimelineEvent;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde_json::json;

use crate::annotation::{EpisodeAnnotation, load_annotation};
use crate::episode::{Episode, SessionDir, read_episode};

/// Rows per data file before another file is started (LeRobot's default aims at 100 MB files).
const DATA_FILE_BYTES: usize = 100 << 20;

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
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ExportSummary {
    pub episodes: usize,
    pub frames: usize,
    pub data_files: usize,
    pub bytes: u64,
    /// Episodes whose log had a torn tail (exported up to it).
    pub recovered_episodes: usize,
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

/// One dataset frame, assembled from an episode.
struct Row {
    timestamp: f32,
    frame_index: i64,
    episode_index: i64,
    index: i64,
    task_index: i64,
    state: Vec<f32>,
    action: Vec<f32>,
    images: Vec<Vec<u8>>,
    persistent: Vec<Language>,
    events: Vec<Language>,
}

#[derive(Clone)]
struct Language {
    role: String,
    content: String,
    style: String,
    timestamp: f32,
    camera: Option<String>,
}

fn nearest<T>(items: &[T], time: Timestamp, at: impl Fn(&T) -> Timestamp) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    let index = items.partition_point(|item| at(item) < time);
    let candidates = [index.checked_sub(1), (index < items.len()).then_some(index)];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|i| {
            let t = at(&items[*i]);
            if t > time { t.saturating_since(time) } else { time.saturating_since(t) }
        })
        .map(|i| &items[i])
}

/// The language annotations of an episode: the operator's annotation when there is one (constraints as a `motion`
/// row, the stage list as a `plan` row, each stage segment as a `subtask` row from its start), otherwise the
/// reasoning the policy gave while recording; instructions as `task_aug`; operator actions and other timeline
/// events as `interjection` events on the frame where they happened.
fn language(
    episode: &Episode,
    start: Timestamp,
    annotation: Option<&EpisodeAnnotation>,
) -> (Vec<Language>, Vec<(Timestamp, Language)>) {
    let mut persistent = Vec::new();
    let mut events = Vec::new();
    let seconds = |t: Timestamp| t.saturating_since(start).as_secs_f64() as f32;
    let row = |role: &str, content: String, style: &str, timestamp: f32| Language {
        role: role.into(),
        content,
        style: style.into(),
        timestamp,
        camera: None,
    };
    if let Some(annotation) = annotation {
        let origin = episode.span().0;
        // Annotation times count from the episode's first record; the export counts from its first kept frame.
        let offset = origin.as_nanos() as f64 / 1e9 - start.as_nanos() as f64 / 1e9;
        let constraints = annotation.constraints.lines();
        if !constraints.is_empty() {
            persistent.push(row("assistant", constraints.join("; "), "motion", 0.0));
        }
        // Only stage spans that were measured (executed) or drawn by an operator become labels.
        let stages: Vec<_> = annotation.stages.iter().filter(|s| s.source.exported()).collect();
        if !stages.is_empty() {
            let plan: Vec<&str> = stages.iter().map(|s| s.stage.name()).collect();
            persistent.push(row("assistant", plan.join(", "), "plan", 0.0));
        }
        for stage in stages {
            let at = (stage.start_s + offset).max(0.0) as f32;
            persistent.push(row("assistant", stage.stage.name().to_owned(), "subtask", at));
        }
    }
    for (time, raw) in &episode.events {
        match TimelineEvent::from_json(raw) {
            Some(TimelineEvent::Reasoning { instruction_level, action_level, .. }) if annotation.is_none() => {
                if !instruction_level.is_empty() {
                    persistent.push(row("assistant", instruction_level.join("; "), "motion", seconds(*time)));
                }
                if !action_level.is_empty() {
                    persistent.push(row("assistant", action_level.join("; "), "plan", seconds(*time)));
                }
            }
            // Not language: the reasoning when an annotation replaces it, sent trajectories (joint arrays) and
            // executed stage spans (they are in the events as recorded).
            Some(
                TimelineEvent::Reasoning { .. }
                | TimelineEvent::Trajectory { .. }
                | TimelineEvent::StageExecuted { .. },
            ) => {}
            Some(TimelineEvent::Instruction { text, .. }) => {
                persistent.push(row("user", text, "task_aug", seconds(*time)));
            }
            Some(TimelineEvent::Log { .. }) | None => {
                events.push((*time, row("user", raw.to_string(), "interjection", seconds(*time))));
            }
        }
    }
    (persistent, events)
}

/// The dataset frames of an episode (only those inside the annotation's trim, if it has one).
fn rows_for(
    episode: &Episode,
    annotation: Option<&EpisodeAnnotation>,
    episode_index: i64,
    first_index: i64,
    task_index: i64,
) -> Vec<Row> {
    let cameras = episode.meta.cameras.len().max(1);
    let origin = episode.span().0;
    let kept = |time: Timestamp| {
        annotation.and_then(|a| a.trim).is_none_or(|(from, to)| {
            let s = time.saturating_since(origin).as_secs_f64();
            s >= from && s <= to
        })
    };
    let master: Vec<_> = episode.camera_frames(0).filter(|f| kept(f.time)).collect();
    let others: Vec<Vec<_>> = (1..cameras).map(|c| episode.camera_frames(c as u16).cloned().collect()).collect();
    let Some(start) = master.first().map(|f| f.time) else { return Vec::new() };
    let (persistent, events) = language(episode, start, annotation);
    let state_at = |time: Timestamp| -> Vec<f32> {
        nearest(&episode.joints, time, |j| j.time).map_or_else(Vec::new, |j| {
            j.positions.iter().map(|v| *v as f32).chain(std::iter::once(j.gripper as f32)).collect()
        })
    };
    let dof = episode.meta.joint_names.len() + 1;
    let fps = episode.meta.fps.max(1e-3);
    let mut rows = Vec::with_capacity(master.len());
    for (k, frame) in master.iter().enumerate() {
        let mut state = state_at(frame.time);
        state.resize(dof, 0.0);
        let mut action = master.get(k + 1).map_or_else(|| state.clone(), |next| state_at(next.time));
        action.resize(dof, 0.0);
        let mut images = vec![frame.jpeg.clone()];
        for frames in &others {
            images.push(nearest(frames, frame.time, |f| f.time).map(|f| f.jpeg.clone()).unwrap_or_default());
        }
        let period = 1.0 / fps;
        let now = k as f64 * period;
        let frame_events = events
            .iter()
            .filter(|(t, _)| {
                let s = t.saturating_since(start).as_secs_f64();
                s >= now && s < now + period || (k == 0 && *t < start)
            })
            .map(|(_, l)| l.clone())
            .collect();
        rows.push(Row {
            timestamp: now as f32,
            frame_index: k as i64,
            episode_index,
            index: first_index + k as i64,
            task_index,
            state,
            action,
            images,
            persistent: persistent.clone(),
            events: frame_events,
        });
    }
    rows
}

fn language_fields(with_timestamp: bool) -> Fields {
    let mut fields = vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, false),
        Field::new("style", DataType::Utf8, false),
    ];
    if with_timestamp {
        fields.push(Field::new("timestamp", DataType::Float32, false));
    }
    fields.push(Field::new("camera", DataType::Utf8, true));
    fields.push(Field::new("tool_calls", tool_calls_type(), true));
    Fields::from(fields)
}

/// `tool_calls`: a list of JSON strings (always null here: KineDesk records no tool calls).
fn tool_calls_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn language_column(rows: &[Row], persistent: bool) -> Result<ArrayRef, ExportError> {
    let items: Vec<&Language> =
        rows.iter().flat_map(|r| if persistent { r.persistent.iter() } else { r.events.iter() }).collect();
    let fields = language_fields(persistent);
    let strings = |f: &dyn Fn(&Language) -> Option<String>| -> ArrayRef {
        Arc::new(items.iter().map(|l| f(l)).collect::<StringArray>())
    };
    let mut columns: Vec<ArrayRef> = vec![
        strings(&|l| Some(l.role.clone())),
        strings(&|l| Some(l.content.clone())),
        strings(&|l| Some(l.style.clone())),
    ];
    if persistent {
        columns.push(Arc::new(items.iter().map(|l| l.timestamp).collect::<Float32Array>()));
    }
    columns.push(strings(&|l| l.camera.clone()));
    columns.push(arrow_array::new_null_array(&tool_calls_type(), items.len()));
    let values =
        StructArray::try_new(fields.clone(), columns, None).map_err(|e| ExportError::Invalid(e.to_string()))?;
    let mut offsets = vec![0i32];
    for row in rows {
        let n = if persistent { row.persistent.len() } else { row.events.len() };
        offsets.push(offsets.last().copied().unwrap_or(0) + n as i32);
    }
    let field = Arc::new(Field::new("item", DataType::Struct(fields), false));
    let list = ListArray::try_new(field, arrow_buffer::OffsetBuffer::new(offsets.into()), Arc::new(values), None)
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    Ok(Arc::new(list))
}

fn fixed_list(values: Vec<f32>, width: usize) -> Result<ArrayRef, ExportError> {
    let field = Arc::new(Field::new("item", DataType::Float32, false));
    let array = FixedSizeListArray::try_new(field, width as i32, Arc::new(Float32Array::from(values)), None)
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    Ok(Arc::new(array))
}

fn image_fields() -> Fields {
    Fields::from(vec![Field::new("bytes", DataType::Binary, true), Field::new("path", DataType::Utf8, true)])
}

fn data_batch(
    rows: &[Row],
    cameras: &[String],
    dof: usize,
    options: ExportOptions,
) -> Result<RecordBatch, ExportError> {
    let extension = if options.images == ImageEncoding::Png { "png" } else { "jpg" };
    let float_list = |name: &str| {
        Field::new(
            name,
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), dof as i32),
            false,
        )
    };
    let mut fields = vec![float_list("observation.state"), float_list("action")];
    let mut columns: Vec<ArrayRef> = vec![
        fixed_list(rows.iter().flat_map(|r| r.state.iter().copied()).collect(), dof)?,
        fixed_list(rows.iter().flat_map(|r| r.action.iter().copied()).collect(), dof)?,
    ];
    for (c, camera) in cameras.iter().enumerate() {
        let mut bytes = BinaryBuilder::new();
        let mut paths = StringBuilder::new();
        for row in rows {
            bytes.append_value(row.images.get(c).map_or(&[][..], Vec::as_slice));
            paths.append_value(format!("frame_{:06}.{extension}", row.index));
        }
        let image =
            StructArray::try_new(image_fields(), vec![Arc::new(bytes.finish()), Arc::new(paths.finish())], None)
                .map_err(|e| ExportError::Invalid(e.to_string()))?;
        fields.push(Field::new(format!("observation.images.{camera}"), DataType::Struct(image_fields()), false));
        columns.push(Arc::new(image));
    }
    fields.push(Field::new("timestamp", DataType::Float32, false));
    columns.push(Arc::new(rows.iter().map(|r| r.timestamp).collect::<Float32Array>()));
    for (name, get) in [
        ("frame_index", (|r: &Row| r.frame_index) as fn(&Row) -> i64),
        ("episode_index", |r: &Row| r.episode_index),
        ("index", |r: &Row| r.index),
        ("task_index", |r: &Row| r.task_index),
    ] {
        fields.push(Field::new(name, DataType::Int64, false));
        columns.push(Arc::new(rows.iter().map(get).collect::<Int64Array>()));
    }
    let language = if options.version == DatasetVersion::V30 {
        &[("language_persistent", true), ("language_events", false)][..]
    } else {
        &[]
    };
    for (name, persistent) in language.iter().copied() {
        let item = Field::new("item", DataType::Struct(language_fields(persistent)), false);
        fields.push(Field::new(name, DataType::List(Arc::new(item)), false));
        columns.push(language_column(rows, persistent)?);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| ExportError::Invalid(e.to_string()))
}

fn write_parquet(path: &Path, batch: &RecordBatch, metadata: Option<(String, String)>) -> Result<u64, ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
    }
    let file = File::create(path).map_err(|e| io_error(path, &e))?;
    let mut schema = batch.schema().as_ref().clone();
    if let Some((key, value)) = metadata {
        schema = schema.with_metadata(std::collections::HashMap::from([(key, value)]));
    }
    // Encoded images (JPEG, PNG) do not compress and never repeat: no Snappy, no dictionary, no statistics for
    // their bytes, which would only cost time.
    let mut props = WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY);
    for field in schema.fields() {
        if let DataType::Struct(children) = field.data_type()
            && children.iter().any(|c| c.name() == "bytes")
        {
            let column = parquet::schema::types::ColumnPath::new(vec![field.name().clone(), "bytes".to_owned()]);
            props = props
                .set_column_compression(column.clone(), parquet::basic::Compression::UNCOMPRESSED)
                .set_column_dictionary_enabled(column.clone(), false)
                .set_column_statistics_enabled(column, parquet::file::properties::EnabledStatistics::None);
        }
    }
    let props = props.build();
    let mut writer =
        ArrowWriter::try_new(file, Arc::new(schema.clone()), Some(props)).map_err(|e| io_error(path, &e))?;
    let batch = batch.clone().with_schema(Arc::new(schema)).map_err(|e| io_error(path, &e))?;
    writer.write(&batch).map_err(|e| io_error(path, &e))?;
    writer.close().map_err(|e| io_error(path, &e))?;
    Ok(std::fs::metadata(path).map_err(|e| io_error(path, &e))?.len())
}

/// Re-encodes every frame of `rows` as PNG on all cores, at zlib level 2 of the zlib-rs backend: files within about
/// 10 % of the size `lerobot`'s image writer gets with Pillow at level 1, at about the speed of level 1.
fn transcode_png(rows: &mut [Row]) -> Result<(), ExportError> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let per_thread = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks_mut(per_thread)
            .map(|chunk| {
                scope.spawn(move || -> Result<(), String> {
                    for row in chunk {
                        for image in &mut row.images {
                            if image.is_empty() {
                                continue;
                            }
                            let rgb = image::load_from_memory(image).map_err(|e| e.to_string())?.into_rgb8();
                            let mut png = Vec::with_capacity(image.len() * 4);
                            image::ImageEncoder::write_image(
                                image::codecs::png::PngEncoder::new_with_quality(
                                    &mut png,
                                    image::codecs::png::CompressionType::Level(2),
                                    image::codecs::png::FilterType::Adaptive,
                                ),
                                rgb.as_raw(),
                                rgb.width(),
                                rgb.height(),
                                image::ExtendedColorType::Rgb8,
                            )
                            .map_err(|e| e.to_string())?;
                            *image = png;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| ExportError::Invalid("an image encoder thread panicked".into()))?
                .map_err(|e| ExportError::Invalid(format!("cannot re-encode a frame as PNG: {e}")))?;
        }
        Ok(())
    })
}

/// min / max / mean / std / count of vectors.
fn vector_stats(values: &[&[f32]]) -> serde_json::Value {
    let width = values.first().map_or(0, |v| v.len());
    let mut min = vec![f64::INFINITY; width];
    let mut max = vec![f64::NEG_INFINITY; width];
    let mut sum = vec![0.0; width];
    let mut sq = vec![0.0; width];
    for v in values {
        for (i, x) in v.iter().enumerate().take(width) {
            let x = f64::from(*x);
            min[i] = min[i].min(x);
            max[i] = max[i].max(x);
            sum[i] += x;
            sq[i] += x * x;
        }
    }
    let n = values.len().max(1) as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let std: Vec<f64> = sq.iter().zip(&mean).map(|(s, m)| (s / n - m * m).max(0.0).sqrt()).collect();
    json!({"min": min, "max": max, "mean": mean, "std": std, "count": [values.len()]})
}

/// Per-channel image statistics in [0, 1] (shape [3, 1, 1]) from a sample of frames.
fn image_stats(jpegs: &[&Vec<u8>]) -> serde_json::Value {
    let mut min = [1.0f64; 3];
    let mut max = [0.0f64; 3];
    let mut sum = [0.0f64; 3];
    let mut sq = [0.0f64; 3];
    let mut n = 0.0;
    let step = (jpegs.len() / 20).max(1);
    for jpeg in jpegs.iter().step_by(step) {
        let Ok(image) = image::load_from_memory(jpeg) else { continue };
        let rgb = image.to_rgb8();
        for pixel in rgb.pixels().step_by(7) {
            for c in 0..3 {
                let v = f64::from(pixel.0[c]) / 255.0;
                min[c] = min[c].min(v);
                max[c] = max[c].max(v);
                sum[c] += v;
                sq[c] += v * v;
            }
            n += 1.0;
        }
    }
    let n = f64::max(n, 1.0);
    let shape = |v: [f64; 3]| v.iter().map(|x| json!([[x]])).collect::<Vec<_>>();
    let mean = sum.map(|s| s / n);
    let std = [0, 1, 2].map(|c| (sq[c] / n - mean[c] * mean[c]).max(0.0).sqrt());
    json!({"min": shape(min), "max": shape(max), "mean": shape(mean), "std": shape(std), "count": [jpegs.len()]})
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
}

/// Exports every episode of `session` into the LeRobot dataset folder `out` (which must not exist yet). Episodes
/// are read one at a time; a trimmed or annotated episode is exported as its annotation says.
pub fn export_lerobot(
    session: &Path,
    out: &Path,
    options: ExportOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<ExportSummary, ExportError> {
    let dir = SessionDir::open(session)?;
    if out.exists() {
        return Err(ExportError::Invalid(format!("{} exists; choose a new folder", out.display())));
    }
    let paths = dir.episode_paths()?;
    if paths.is_empty() {
        return Err(ExportError::Invalid(format!("{} has no episodes", session.display())));
    }
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
    let mut pending: Vec<Row> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut episodes_meta: Vec<serde_json::Value> = Vec::new();
    let mut all_states: Vec<Vec<f32>> = Vec::new();
    let mut all_actions: Vec<Vec<f32>> = Vec::new();
    let mut image_samples: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut layout: Option<Layout> = None;
    let mut index = 0i64;
    let mut file_index = 0usize;
    let data_path = |file: usize| out.join(format!("data/chunk-000/file-{file:03}.parquet"));
    let flush = |rows: &mut Vec<Row>, file: &mut usize, layout: &Layout| -> Result<u64, ExportError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let image_cameras: &[String] = if options.video { &[] } else { &layout.cameras };
        let batch = data_batch(rows, image_cameras, layout.joints.len() + 1, options)?;
        let bytes = write_parquet(&data_path(*file), &batch, None)?;
        rows.clear();
        *file += 1;
        Ok(bytes)
    };
    // The next episode is read on another thread while this one is converted and written (at most two in memory).
    std::thread::scope(|scope| -> Result<(), ExportError> {
        let (sender, episodes) = std::sync::mpsc::sync_channel::<Result<Episode, ExportError>>(0);
        let to_read = &paths;
        scope.spawn(move || {
            for path in to_read {
                if sender.send(read_episode(path).map_err(ExportError::from)).is_err() {
                    break;
                }
            }
        });
        for (position, path) in paths.iter().enumerate() {
            progress(position, paths.len());
            let episode = episodes.recv().map_err(|_| ExportError::Invalid("the episode reader stopped".into()))??;
            if episode.torn_tail.is_some() {
                summary.recovered_episodes += 1;
            }
            let names: Vec<String> = episode.meta.cameras.iter().map(|c| c.replace(' ', "_")).collect();
            match &layout {
                None => {
                    image_samples = vec![Vec::new(); names.len()];
                    let sizes = (0..names.len())
                        .map(|c| episode.camera_frames(c as u16).next().map_or((0, 0), |f| (f.width, f.height)))
                        .collect();
                    layout = Some(Layout {
                        cameras: names.clone(),
                        joints: episode.meta.joint_names.clone(),
                        fps: episode.meta.fps,
                        robot: episode.meta.robot.clone(),
                        sizes,
                    });
                }
                Some(first) if first.cameras != names || first.joints != episode.meta.joint_names => {
                    return Err(ExportError::Invalid(format!(
                        "{} has other cameras or joints than the first episode; export them separately",
                        path.display()
                    )));
                }
                Some(_) => {}
            }
            // An annotation that cannot be read stops the export: exporting without it would lose the operator's work.
            let annotation = load_annotation(path).map_err(|e| ExportError::Invalid(e.to_string()))?;
            let task = annotation
                .as_ref()
                .map(|a| a.instruction.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| episode.meta.task.clone());
            let next_task = tasks.len() as i64;
            let task_index = *tasks.entry(task.clone()).or_insert(next_task);
            let mut rows = rows_for(&episode, annotation.as_ref(), summary.episodes as i64, index, task_index);
            if rows.is_empty() {
                continue;
            }
            if options.images == ImageEncoding::Png {
                transcode_png(&mut rows)?;
            }
            let episode_index = summary.episodes;
            let length = rows.len() as i64;
            let from = index;
            index += length;
            let states: Vec<&[f32]> = rows.iter().map(|r| r.state.as_slice()).collect();
            let actions: Vec<&[f32]> = rows.iter().map(|r| r.action.as_slice()).collect();
            let mut meta = json!({
                "episode_index": episode_index,
                "tasks": [task],
                "length": length,
                "data/chunk_index": 0,
                "data/file_index": file_index,
                "dataset_from_index": from,
                "dataset_to_index": index,
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
            });
            let mut episode_stats = json!({});
            for (name, stats) in [("observation.state", vector_stats(&states)), ("action", vector_stats(&actions))] {
                for key in ["min", "max", "mean", "std", "count"] {
                    meta[format!("stats/{name}/{key}")] = stats[key].clone();
                }
                episode_stats[name] = stats;
            }
            all_states.extend(rows.iter().map(|r| r.state.clone()));
            all_actions.extend(rows.iter().map(|r| r.action.clone()));
            let mut episode_images: Vec<Vec<&Vec<u8>>> = vec![Vec::new(); image_samples.len()];
            for row in rows.iter().step_by(10) {
                for (c, image) in row.images.iter().enumerate() {
                    if let Some(samples) = image_samples.get_mut(c) {
                        samples.push(image.clone());
                    }
                    if let Some(samples) = episode_images.get_mut(c) {
                        samples.push(image);
                    }
                }
            }
            summary.frames += rows.len();
            summary.episodes += 1;
            let Some(current) = &layout else { continue };
            if let Some(ffmpeg) = &ffmpeg {
                let fps = current.fps.max(1.0);
                let mut episode_videos = Vec::new();
                if options.version == DatasetVersion::V30 && videos.is_empty() {
                    for (camera, (width, height)) in current.cameras.iter().zip(&current.sizes) {
                        let file = out.join(format!("videos/observation.images.{camera}/chunk-000/file-000.mp4"));
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
                let writers = if options.version == DatasetVersion::V30 { &mut videos } else { &mut episode_videos };
                let starts: Vec<u64> = writers.iter().map(|w| w.frames).collect();
                write_video_frames(writers, &rows)?;
                for ((camera, writer), start) in current.cameras.iter().zip(writers.iter()).zip(starts) {
                    let key = format!("videos/observation.images.{camera}");
                    meta[format!("{key}/chunk_index")] = json!(0);
                    meta[format!("{key}/file_index")] = json!(0);
                    meta[format!("{key}/from_timestamp")] = json!(start as f64 / fps);
                    meta[format!("{key}/to_timestamp")] = json!(writer.frames as f64 / fps);
                }
                for writer in episode_videos {
                    writer.finish().map_err(|e| io_error(out, &e))?;
                }
            }
            match options.version {
                DatasetVersion::V30 => {
                    pending_bytes +=
                        rows.iter().map(|r| r.images.iter().map(Vec::len).sum::<usize>() + 64).sum::<usize>();
                    episodes_meta.push(meta);
                    pending.extend(rows);
                    if pending_bytes > DATA_FILE_BYTES {
                        summary.bytes += flush(&mut pending, &mut file_index, current)?;
                        pending_bytes = 0;
                    }
                }
                DatasetVersion::V21 => {
                    for (camera, samples) in current.cameras.iter().zip(&episode_images) {
                        episode_stats[format!("observation.images.{camera}")] = image_stats(samples);
                    }
                    let persistent: Vec<serde_json::Value> = rows[0]
                            .persistent
                            .iter()
                            .map(|l| json!({"role": l.role, "content": l.content, "style": l.style, "timestamp": l.timestamp}))
                            .collect();
                    let image_cameras: &[String] = if options.video { &[] } else { &current.cameras };
                    let batch = data_batch(&rows, image_cameras, current.joints.len() + 1, options)?;
                    let file = out.join(format!(
                        "data/chunk-{:03}/episode_{episode_index:06}.parquet",
                        episode_index / CHUNK_SIZE
                    ));
                    summary.bytes += write_parquet(&file, &batch, None)?;
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
    let Some(layout) = layout else {
        return Err(ExportError::Invalid("no episode could be read".into()));
    };
    if summary.episodes == 0 {
        return Err(ExportError::Invalid("every episode is empty after trimming".into()));
    }
    for writer in videos {
        writer.finish().map_err(|e| io_error(out, &e))?;
    }
    match options.version {
        DatasetVersion::V30 => {
            summary.bytes += flush(&mut pending, &mut file_index, &layout)?;
            summary.data_files = file_index;
            write_metadata(out, &summary, &tasks, &episodes_meta, &layout, options)?;
        }
        DatasetVersion::V21 => write_metadata_v21(out, &summary, &tasks, &episodes_meta, &layout, options)?,
    }
    let states: Vec<&[f32]> = all_states.iter().map(Vec::as_slice).collect();
    let actions: Vec<&[f32]> = all_actions.iter().map(Vec::as_slice).collect();
    let mut stats = json!({"observation.state": vector_stats(&states), "action": vector_stats(&actions)});
    for (camera, samples) in layout.cameras.iter().zip(&image_samples) {
        let refs: Vec<&Vec<u8>> = samples.iter().collect();
        stats[format!("observation.images.{camera}")] = image_stats(&refs);
    }
    write_json(&out.join("meta/stats.json"), &stats)?;
    progress(paths.len(), paths.len());
    Ok(summary)
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

/// Episodes per chunk folder (LeRobot's default).
const CHUNK_SIZE: usize = 1000;

/// The features of `info.json`.
fn features_json(layout: &Layout, language: bool, video: bool) -> serde_json::Value {
    let names: Vec<String> = layout.joints.iter().cloned().chain(std::iter::once("gripper".into())).collect();
    let scalar = |dtype: &str| json!({"dtype": dtype, "shape": [1], "names": null});
    let mut features = json!({
        "observation.state": {"dtype": "float32", "shape": [names.len()], "names": names},
        "action": {"dtype": "float32", "shape": [names.len()], "names": names},
        "timestamp": scalar("float32"),
        "frame_index": scalar("int64"),
        "episode_index": scalar("int64"),
        "index": scalar("int64"),
        "task_index": scalar("int64"),
    });
    if language {
        features["language_persistent"] = json!({"dtype": "language", "shape": [1], "names": null});
        features["language_events"] = json!({"dtype": "language", "shape": [1], "names": null});
    }
    for (camera, (width, height)) in layout.cameras.iter().zip(&layout.sizes) {
        let key = format!("observation.images.{camera}");
        features[key] = if video {
            json!({"dtype": "video", "shape": [height, width, 3], "names": ["height", "width", "channels"],
                   "info": {"video.height": height, "video.width": width, "video.codec": crate::video::CODEC,
                            "video.pix_fmt": "yuv420p", "video.is_depth_map": false,
                            "video.fps": layout.fps.round() as i64, "video.channels": 3, "has_audio": false}})
        } else {
            json!({"dtype": "image", "shape": [height, width, 3], "names": ["height", "width", "channels"]})
        };
    }
    features
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap_or_default()).map_err(|e| io_error(path, &e))
}

fn write_json_lines(path: &Path, values: impl Iterator<Item = serde_json::Value>) -> Result<(), ExportError> {
    let text: String = values.map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).map_err(|e| io_error(path, &e))
}

/// LeRobot v2.1 metadata: info.json, episodes.jsonl, tasks.jsonl, episodes_stats.jsonl.
fn write_metadata_v21(
    out: &Path,
    summary: &ExportSummary,
    tasks: &BTreeMap<String, i64>,
    episodes: &[serde_json::Value],
    layout: &Layout,
    options: ExportOptions,
) -> Result<(), ExportError> {
    let video_path =
        options.video.then_some("videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4");
    let info = json!({
        "codebase_version": "v2.1",
        "robot_type": layout.robot,
        "total_episodes": summary.episodes,
        "total_frames": summary.frames,
        "total_tasks": tasks.len(),
        "total_videos": if options.video { summary.episodes * layout.cameras.len() } else { 0 },
        "total_chunks": summary.episodes.div_ceil(CHUNK_SIZE),
        "chunks_size": CHUNK_SIZE,
        "fps": layout.fps.round() as i64,
        "splits": {"train": format!("0:{}", summary.episodes)},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": video_path,
        "features": features_json(layout, false, options.video),
    });
    let meta = out.join("meta");
    write_json(&meta.join("info.json"), &info)?;
    let mut by_index: Vec<(&String, &i64)> = tasks.iter().collect();
    by_index.sort_by_key(|(_, index)| **index);
    write_json_lines(
        &meta.join("tasks.jsonl"),
        by_index.into_iter().map(|(task, index)| json!({"task_index": index, "task": task})),
    )?;
    write_json_lines(
        &meta.join("episodes.jsonl"),
        episodes.iter().map(|e| {
            json!({"episode_index": e["episode_index"], "tasks": e["tasks"], "length": e["length"],
                   "language_persistent": e["language_persistent"]})
        }),
    )?;
    write_json_lines(
        &meta.join("episodes_stats.jsonl"),
        episodes.iter().map(|e| json!({"episode_index": e["episode_index"], "stats": e["stats"]})),
    )
}

fn write_metadata(
    out: &Path,
    summary: &ExportSummary,
    tasks: &BTreeMap<String, i64>,
    episodes: &[serde_json::Value],
    layout: &Layout,
    options: ExportOptions,
) -> Result<(), ExportError> {
    let video_path = options.video.then_some("videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4");
    let info = json!({
        "codebase_version": "v3.0",
        "robot_type": layout.robot,
        "total_episodes": summary.episodes,
        "total_frames": summary.frames,
        "total_tasks": tasks.len(),
        "chunks_size": CHUNK_SIZE,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": layout.fps.round() as i64,
        "splits": {"train": format!("0:{}", summary.episodes)},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": video_path,
        "features": features_json(layout, true, options.video),
    });
    let meta = out.join("meta");
    write_json(&meta.join("info.json"), &info)?;

    // tasks.parquet: the task string is the (pandas) index, task_index the column.
    let task_names: StringArray = tasks.keys().map(|t| Some(t.as_str())).collect();
    let task_indices: Int64Array = tasks.values().copied().collect();
    let schema =
        Schema::new(vec![Field::new("task_index", DataType::Int64, false), Field::new("task", DataType::Utf8, false)]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(task_indices), Arc::new(task_names)])
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    let pandas = json!({
        "index_columns": ["task"],
        "column_indexes": [],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": null},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object", "metadata": null}
        ],
        "creator": {"library": "kinedesk", "version": env!("CARGO_PKG_VERSION")},
        "pandas_version": "2.2.3"
    });
    write_parquet(&meta.join("tasks.parquet"), &batch, Some(("pandas".into(), pandas.to_string())))?;

    // Episodes metadata.
    let column_i64 = |key: &str| -> ArrayRef {
        Arc::new(episodes.iter().map(|e| e[key].as_i64().unwrap_or(0)).collect::<Int64Array>())
    };
    let mut fields = vec![Field::new("episode_index", DataType::Int64, false)];
    let mut columns: Vec<ArrayRef> = vec![column_i64("episode_index")];
    let mut task_lists = arrow_array::builder::ListBuilder::new(StringBuilder::new());
    for episode in episodes {
        for task in episode["tasks"].as_array().into_iter().flatten() {
            task_lists.values().append_value(task.as_str().unwrap_or(""));
        }
        task_lists.append(true);
    }
    let tasks_column = task_lists.finish();
    fields.push(Field::new("tasks", tasks_column.data_type().clone(), true));
    columns.push(Arc::new(tasks_column));
    for key in [
        "length",
        "data/chunk_index",
        "data/file_index",
        "dataset_from_index",
        "dataset_to_index",
        "meta/episodes/chunk_index",
        "meta/episodes/file_index",
    ] {
        fields.push(Field::new(key, DataType::Int64, false));
        columns.push(column_i64(key));
    }
    if options.video {
        for camera in &layout.cameras {
            let key = format!("videos/observation.images.{camera}");
            for index in ["chunk_index", "file_index"] {
                let name = format!("{key}/{index}");
                columns.push(column_i64(&name));
                fields.push(Field::new(name, DataType::Int64, false));
            }
            for bound in ["from_timestamp", "to_timestamp"] {
                let name = format!("{key}/{bound}");
                let values: Float64Array = episodes.iter().map(|e| e[&name].as_f64().unwrap_or(0.0)).collect();
                columns.push(Arc::new(values));
                fields.push(Field::new(name, DataType::Float64, false));
            }
        }
    }
    for feature in ["observation.state", "action"] {
        for stat in ["min", "max", "mean", "std"] {
            let key = format!("stats/{feature}/{stat}");
            let mut builder = arrow_array::builder::ListBuilder::new(arrow_array::builder::Float64Builder::new());
            for episode in episodes {
                for v in episode[&key].as_array().into_iter().flatten() {
                    builder.values().append_value(v.as_f64().unwrap_or(f64::NAN));
                }
                builder.append(true);
            }
            let column = builder.finish();
            fields.push(Field::new(key, column.data_type().clone(), true));
            columns.push(Arc::new(column));
        }
        let key = format!("stats/{feature}/count");
        let mut builder = arrow_array::builder::ListBuilder::new(arrow_array::builder::Int64Builder::new());
        for episode in episodes {
            for v in episode[&key].as_array().into_iter().flatten() {
                builder.values().append_value(v.as_i64().unwrap_or(0));
            }
            builder.append(true);
        }
        let column = builder.finish();
        fields.push(Field::new(key, column.data_type().clone(), true));
        columns.push(Arc::new(column));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    write_parquet(&meta.join("episodes/chunk-000/file-000.parquet"), &batch, None)?;
    Ok(())
}
