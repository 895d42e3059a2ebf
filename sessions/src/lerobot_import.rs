//! Import a LeRobot dataset (v3.0, or v2.0/v2.1) into a session for annotation: each dataset episode becomes an
//! episode log (camera frames with their encoded bytes as stored, PNG or JPEG; joint states from
//! `observation.state`; actions; the task as an instruction event), and language annotations already in the dataset
//! (a `motion` row, `subtask` rows) become the episode's annotation.
//!
//! Video features (`dtype: video`) are not decoded: the episode is imported without those cameras and the summary
//! says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, BinaryArray, FixedSizeListArray, Float32Array, Float64Array, Int64Array, LargeBinaryArray, ListArray,
    RecordBatch, StringArray, StructArray,
};
use kinedesk_core::Timestamp;

use crate::annotation::{ConstraintKind, EpisodeAnnotation, StageSegment, StageSource, save_annotation};
use crate::episode::SessionDir;
use crate::episode_log::{LogWriter, RecordKind};
use crate::recorder::{EpisodeMeta, action_payload, encoded_frame_payload, joint_payload};

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ImportSummary {
    pub version: String,
    pub episodes: usize,
    pub frames: usize,
    pub cameras: Vec<String>,
    /// Episodes that came with language annotations (now episode annotations).
    pub annotated: usize,
    /// Video features that were not imported.
    pub skipped_videos: Vec<String>,
    pub episode_paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not a LeRobot dataset KineDesk can read: {message}")]
    Format { path: String, message: String },
}

fn io(path: &Path, error: &dyn std::fmt::Display) -> ImportError {
    ImportError::Io { path: path.display().to_string(), message: error.to_string() }
}

fn format(path: &Path, message: impl Into<String>) -> ImportError {
    ImportError::Format { path: path.display().to_string(), message: message.into() }
}

/// A feature's names: a list, or a dict of lists (`{"motors": [...]}`), flattened.
fn feature_names(feature: &serde_json::Value) -> Vec<String> {
    match &feature["names"] {
        serde_json::Value::Array(names) => names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
        serde_json::Value::Object(groups) => groups
            .values()
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads row `i` of a float vector column (fixed-size or variable list of f32 or f64).
fn vector_at(column: &dyn Array, i: usize) -> Option<Vec<f64>> {
    let values = if let Some(list) = column.as_any().downcast_ref::<FixedSizeListArray>() {
        list.value(i)
    } else if let Some(list) = column.as_any().downcast_ref::<ListArray>() {
        list.value(i)
    } else {
        return None;
    };
    if let Some(v) = values.as_any().downcast_ref::<Float32Array>() {
        Some(v.values().iter().map(|x| f64::from(*x)).collect())
    } else {
        values.as_any().downcast_ref::<Float64Array>().map(|v| v.values().to_vec())
    }
}

/// Reads row `i` of an image column (a struct with `bytes`).
fn image_at(column: &dyn Array, i: usize) -> Option<Vec<u8>> {
    let image = column.as_any().downcast_ref::<StructArray>()?;
    let bytes = image.column_by_name("bytes")?;
    if bytes.is_null(i) {
        return None;
    }
    if let Some(b) = bytes.as_any().downcast_ref::<BinaryArray>() {
        Some(b.value(i).to_vec())
    } else {
        bytes.as_any().downcast_ref::<LargeBinaryArray>().map(|b| b.value(i).to_vec())
    }
}

fn i64_at(batch: &RecordBatch, name: &str, i: usize) -> Option<i64> {
    batch.column_by_name(name)?.as_any().downcast_ref::<Int64Array>().map(|a| a.value(i))
}

fn f64_at(batch: &RecordBatch, name: &str, i: usize) -> Option<f64> {
    let column = batch.column_by_name(name)?;
    if let Some(a) = column.as_any().downcast_ref::<Float32Array>() {
        Some(f64::from(a.value(i)))
    } else {
        column.as_any().downcast_ref::<Float64Array>().map(|a| a.value(i))
    }
}

/// The persistent language rows of row `i`: (style, content, timestamp).
fn language_at(batch: &RecordBatch, i: usize) -> Vec<(String, String, f64)> {
    let Some(list) = batch.column_by_name("language_persistent").and_then(|c| c.as_any().downcast_ref::<ListArray>())
    else {
        return Vec::new();
    };
    if list.is_null(i) {
        return Vec::new();
    }
    let rows = list.value(i);
    let Some(rows) = rows.as_any().downcast_ref::<StructArray>() else { return Vec::new() };
    let text = |name: &str| rows.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
    let (Some(style), Some(content)) = (text("style"), text("content")) else { return Vec::new() };
    let time = rows.column_by_name("timestamp").and_then(|c| c.as_any().downcast_ref::<Float32Array>().cloned());
    (0..rows.len())
        .map(|r| {
            (
                style.value(r).to_owned(),
                content.value(r).to_owned(),
                time.as_ref().map_or(0.0, |t| f64::from(t.value(r))),
            )
        })
        .collect()
}

/// An annotation from language rows (a `motion` row of "key: value; ..." constraints, `subtask` rows as stages).
fn annotation_from_language(task: &str, rows: &[(String, String, f64)], duration_s: f64) -> Option<EpisodeAnnotation> {
    let mut annotation = EpisodeAnnotation { instruction: task.to_owned(), ..EpisodeAnnotation::default() };
    let mut found = false;
    for (_, content, _) in rows.iter().filter(|r| r.0 == "motion") {
        for part in content.split(';') {
            if let Some((key, value)) = part.split_once(':')
                && let Some(field) = ConstraintKind::from_name(key)
            {
                let slot = annotation.constraints.get_mut(field);
                if !slot.is_empty() {
                    slot.push_str("; ");
                }
                slot.push_str(value.trim());
                found = true;
            }
        }
    }
    let mut subtasks: Vec<&(String, String, f64)> = rows.iter().filter(|r| r.0 == "subtask").collect();
    subtasks.sort_by(|a, b| a.2.total_cmp(&b.2));
    for (k, (_, content, start)) in subtasks.iter().enumerate() {
        let end = subtasks.get(k + 1).map_or(duration_s, |next| next.2);
        if end > *start {
            annotation.stages.push(StageSegment {
                stage: content.as_str().into(),
                start_s: *start,
                end_s: end,
                source: StageSource::Imported,
            });
            found = true;
        }
    }
    found.then_some(annotation)
}

/// One episode being written.
struct Writing {
    log: LogWriter,
    path: PathBuf,
    task: String,
    frames: usize,
    last_state: Option<(f64, Vec<f64>)>,
    language: Vec<(String, String, f64)>,
    last_time_s: f64,
}

const ORIGIN_NS: u64 = 1_000_000_000;

fn at(seconds: f64) -> Timestamp {
    Timestamp::from_nanos(ORIGIN_NS + (seconds.max(0.0) * 1e9) as u64)
}

/// Highest dataset rate accepted (frames per second).
pub const MAX_FPS: f64 = 1000.0;
/// Latest timestamp accepted in an episode (s): a week.
pub const MAX_TIMESTAMP_S: f64 = 7.0 * 24.0 * 3600.0;

/// Imports the LeRobot dataset at `dataset` into the session folder `session` (created if needed; episodes are
/// added after the ones it has). All or nothing: if the dataset turns out to be unreadable part way, the episodes
/// this import wrote are removed again (and the session folder, if this import created it).
pub fn import_lerobot(
    dataset: &Path,
    session: &Path,
    progress: impl FnMut(usize, usize),
) -> Result<ImportSummary, ImportError> {
    let session_existed = session.exists();
    let mut created = Vec::new();
    let result = import_into(dataset, session, progress, &mut created);
    if result.is_err() {
        for log in &created {
            let _ = std::fs::remove_file(log);
            let _ = std::fs::remove_file(crate::annotation::annotation_path(log));
        }
        if !session_existed {
            let _ = std::fs::remove_dir_all(session);
        }
    }
    result
}

/// A number in a row that must be finite.
fn finite_values(values: Vec<f64>, file: &Path, what: &str, row: usize) -> Result<Vec<f64>, ImportError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(format(file, format!("{what} of row {row} has a non-finite value ({}) at {k}", values[k]))),
        None => Ok(values),
    }
}

fn import_into(
    dataset: &Path,
    session: &Path,
    mut progress: impl FnMut(usize, usize),
    created: &mut Vec<PathBuf>,
) -> Result<ImportSummary, ImportError> {
    let info_path = dataset.join("meta/info.json");
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&info_path).map_err(|e| format(dataset, format!("no meta/info.json ({e})")))?,
    )
    .map_err(|e| format(&info_path, e.to_string()))?;
    let version = info["codebase_version"].as_str().unwrap_or("").to_owned();
    if !matches!(version.as_str(), "v3.0" | "v2.1" | "v2.0") {
        return Err(format(dataset, format!("codebase_version {version:?} (v3.0, v2.1 and v2.0 are supported)")));
    }
    let features = info["features"].as_object().ok_or_else(|| format(&info_path, "no features"))?;
    let fps = match info["fps"].as_f64() {
        Some(fps) if fps > 0.0 && fps <= MAX_FPS => fps,
        Some(fps) => return Err(format(&info_path, format!("fps {fps} is not between 0 and {MAX_FPS}"))),
        None => return Err(format(&info_path, format!("fps is {}, not a number", info["fps"]))),
    };
    let robot = info["robot_type"].as_str().unwrap_or("unknown").to_owned();
    let mut image_keys: Vec<(String, u32, u32)> = Vec::new();
    let mut skipped_videos = Vec::new();
    for (key, feature) in features {
        let shape: Vec<u32> =
            feature["shape"].as_array().into_iter().flatten().filter_map(|v| v.as_u64().map(|v| v as u32)).collect();
        match feature["dtype"].as_str() {
            Some("image") => {
                let (height, width) = (shape.first().copied().unwrap_or(0), shape.get(1).copied().unwrap_or(0));
                image_keys.push((key.clone(), width, height));
            }
            Some("video") => skipped_videos.push(key.clone()),
            _ => {}
        }
    }
    let state_names = features.get("observation.state").map(feature_names).unwrap_or_default();
    let has_gripper = state_names.last().is_some_and(|n| n.to_lowercase().contains("grip"));
    let joint_names: Vec<String> =
        if has_gripper { state_names[..state_names.len() - 1].to_vec() } else { state_names.clone() };
    let cameras: Vec<String> =
        image_keys.iter().map(|(k, _, _)| k.trim_start_matches("observation.images.").to_owned()).collect();

    // Tasks by index.
    let mut tasks: BTreeMap<i64, String> = BTreeMap::new();
    let tasks_parquet = dataset.join("meta/tasks.parquet");
    let tasks_jsonl = dataset.join("meta/tasks.jsonl");
    if tasks_parquet.is_file() {
        for batch in read_parquet(&tasks_parquet)? {
            let names = batch
                .column_by_name("task")
                .or_else(|| batch.column_by_name("__index_level_0__"))
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
            let indices =
                batch.column_by_name("task_index").and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned());
            if let (Some(names), Some(indices)) = (names, indices) {
                for i in 0..batch.num_rows() {
                    tasks.insert(indices.value(i), names.value(i).to_owned());
                }
            }
        }
    } else if let Ok(text) = std::fs::read_to_string(&tasks_jsonl) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: serde_json::Value = serde_json::from_str(line).map_err(|e| format(&tasks_jsonl, e.to_string()))?;
            if let (Some(index), Some(task)) = (row["task_index"].as_i64(), row["task"].as_str()) {
                tasks.insert(index, task.to_owned());
            }
        }
    }
    // v2.1 keeps language annotations (KineDesk's own exports) in episodes.jsonl.
    let mut v21_language: BTreeMap<i64, Vec<(String, String, f64)>> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(dataset.join("meta/episodes.jsonl")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let rows = row["language_persistent"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["style"].as_str().unwrap_or("").to_owned(),
                        r["content"].as_str().unwrap_or("").to_owned(),
                        r["timestamp"].as_f64().unwrap_or(0.0),
                    )
                })
                .collect();
            if let Some(index) = row["episode_index"].as_i64() {
                v21_language.insert(index, rows);
            }
        }
    }

    let files = crate::lerobot::parquet_files(&dataset.join("data")).map_err(|e| io(&dataset.join("data"), &e))?;
    if files.is_empty() {
        return Err(format(dataset, "no Parquet files under data/"));
    }
    let session_dir = SessionDir::open_or_create(session, &robot).map_err(|e| io(session, &e))?;
    let mut summary = ImportSummary { version, cameras: cameras.clone(), skipped_videos, ..ImportSummary::default() };
    let mut current: Option<(i64, Writing)> = None;
    let mut finished: std::collections::HashSet<i64> = std::collections::HashSet::new();
    // The state's width: the names in info.json, or else the first row's.
    let mut state_width = (!state_names.is_empty()).then_some(state_names.len());
    for (file_number, file) in files.iter().enumerate() {
        progress(file_number, files.len());
        for batch in read_parquet(file)? {
            let state = batch.column_by_name("observation.state").cloned();
            let action = batch.column_by_name("action").cloned();
            let images: Vec<Option<arrow_array::ArrayRef>> =
                image_keys.iter().map(|(k, _, _)| batch.column_by_name(k).cloned()).collect();
            for i in 0..batch.num_rows() {
                let episode = i64_at(&batch, "episode_index", i).ok_or_else(|| format(file, "no episode_index"))?;
                let time_s = f64_at(&batch, "timestamp", i).ok_or_else(|| format(file, "no timestamp column"))?;
                if !(0.0..=MAX_TIMESTAMP_S).contains(&time_s) {
                    return Err(format(
                        file,
                        format!("row {i}: timestamp {time_s} is not between 0 and {MAX_TIMESTAMP_S} s"),
                    ));
                }
                if current.as_ref().is_none_or(|(index, _)| *index != episode) {
                    if let Some((index, writing)) = current.take() {
                        finished.insert(index);
                        finish(writing, &v21_language, index, fps, &mut summary)?;
                    }
                    if finished.contains(&episode) {
                        return Err(format(
                            file,
                            format!(
                                "row {i}: rows of episode {episode} are not together (a LeRobot dataset keeps each \
                                 episode's rows in one run)"
                            ),
                        ));
                    }
                    let task_index = i64_at(&batch, "task_index", i).unwrap_or(0);
                    let task = tasks.get(&task_index).cloned().unwrap_or_default();
                    let path = session_dir.next_episode_path().map_err(|e| io(session, &e))?;
                    let mut log = LogWriter::create(&path).map_err(|e| io(&path, &e))?;
                    created.push(path.clone());
                    let meta = EpisodeMeta {
                        task: task.clone(),
                        robot: robot.clone(),
                        joint_names: joint_names.clone(),
                        cameras: cameras.clone(),
                        fps,
                        unmeasured: if has_gripper { Vec::new() } else { vec!["gripper".to_owned()] },
                        started_unix_s: 0.0,
                    };
                    let json = serde_json::to_vec(&meta).map_err(|e| io(&path, &e))?;
                    log.write(RecordKind::Meta, at(0.0), &json).map_err(|e| io(&path, &e))?;
                    let instruction =
                        crate::events::TimelineEvent::Instruction { text: task.clone(), source: Some("import".into()) }
                            .to_json();
                    log.write(RecordKind::Event, at(0.0), instruction.to_string().as_bytes())
                        .map_err(|e| io(&path, &e))?;
                    current = Some((
                        episode,
                        Writing {
                            log,
                            path,
                            task,
                            frames: 0,
                            last_state: None,
                            language: language_at(&batch, i),
                            last_time_s: 0.0,
                        },
                    ));
                }
                let Some((_, writing)) = current.as_mut() else { continue };
                if writing.frames > 0 && time_s < writing.last_time_s {
                    return Err(format(
                        file,
                        format!(
                            "row {i}: timestamp {time_s} s of episode {episode} comes before the previous row's ({} s)",
                            writing.last_time_s
                        ),
                    ));
                }
                let time = at(time_s);
                writing.last_time_s = writing.last_time_s.max(time_s);
                let fail = |e: std::io::Error| io(file, &e);
                if let Some(values) = state.as_deref().and_then(|c| vector_at(c, i)) {
                    let values = finite_values(values, file, "observation.state", i)?;
                    let width = *state_width.get_or_insert(values.len());
                    if values.len() != width {
                        return Err(format(
                            file,
                            format!(
                                "row {i}: observation.state has {} values, where the dataset says {width} ({})",
                                values.len(),
                                if state_names.is_empty() {
                                    "the first row's".to_owned()
                                } else {
                                    state_names.join(", ")
                                }
                            ),
                        ));
                    }
                    let (positions, gripper) = if has_gripper && !values.is_empty() {
                        (values[..values.len() - 1].to_vec(), values[values.len() - 1])
                    } else {
                        (values.clone(), 0.0)
                    };
                    let velocities: Vec<f64> = match &writing.last_state {
                        Some((t, previous)) if time_s > *t && previous.len() == positions.len() => {
                            positions.iter().zip(previous).map(|(q, p)| (q - p) / (time_s - t)).collect()
                        }
                        _ => vec![0.0; positions.len()],
                    };
                    writing
                        .log
                        .write(RecordKind::JointState, time, &joint_payload(&positions, &velocities, gripper))
                        .map_err(fail)?;
                    writing.last_state = Some((time_s, positions));
                }
                if let Some(values) = action.as_deref().and_then(|c| vector_at(c, i)) {
                    let values = finite_values(values, file, "action", i)?;
                    writing.log.write(RecordKind::Action, time, &action_payload(&values, None)).map_err(fail)?;
                }
                for (camera, (column, (_, width, height))) in images.iter().zip(&image_keys).enumerate() {
                    if let Some(bytes) = column.as_deref().and_then(|c| image_at(c, i)) {
                        let payload =
                            encoded_frame_payload(camera as u16, *width, *height, writing.frames as u64, &bytes);
                        writing.log.write(RecordKind::CameraFrame, time, &payload).map_err(fail)?;
                    }
                }
                writing.frames += 1;
                summary.frames += 1;
            }
        }
    }
    if let Some((index, writing)) = current.take() {
        finish(writing, &v21_language, index, fps, &mut summary)?;
    }
    progress(files.len(), files.len());
    Ok(summary)
}

fn finish(
    mut writing: Writing,
    v21_language: &BTreeMap<i64, Vec<(String, String, f64)>>,
    index: i64,
    fps: f64,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let end = serde_json::json!({"type": "end", "imported": true, "frames": writing.frames});
    let duration_s = writing.last_time_s + 1.0 / fps;
    writing
        .log
        .write(RecordKind::End, at(writing.last_time_s), end.to_string().as_bytes())
        .map_err(|e| io(&writing.path, &e))?;
    writing.log.sync().map_err(|e| io(&writing.path, &e))?;
    let language = if writing.language.is_empty() {
        v21_language.get(&index).cloned().unwrap_or_default()
    } else {
        std::mem::take(&mut writing.language)
    };
    // Annotation times count from the episode's first record, which is at the dataset's timestamp 0.
    if let Some(annotation) = annotation_from_language(&writing.task, &language, duration_s) {
        save_annotation(&writing.path, &annotation).map_err(|e| io(&writing.path, &e))?;
        summary.annotated += 1;
    }
    summary.episodes += 1;
    summary.episode_paths.push(writing.path);
    Ok(())
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, ImportError> {
    crate::lerobot::read_parquet_batches(path, Some(256)).map_err(|e| match e {
        crate::lerobot::ParquetReadError::Io(e) => io(path, &e),
        crate::lerobot::ParquetReadError::Format(message) => format(path, message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_rows_become_constraints_and_stages() {
        let rows = vec![
            ("motion".to_owned(), "direction: up; object part: handle".to_owned(), 0.0),
            ("subtask".to_owned(), "grasp".to_owned(), 1.0),
            ("subtask".to_owned(), "approach".to_owned(), 0.0),
            ("task_aug".to_owned(), "lift it".to_owned(), 0.0),
        ];
        let a = annotation_from_language("lift the mug", &rows, 3.0).unwrap();
        assert_eq!(a.instruction, "lift the mug");
        assert_eq!((a.constraints.direction.as_str(), a.constraints.object_part.as_str()), ("up", "handle"));
        let stages: Vec<(&str, f64, f64)> = a.stages.iter().map(|s| (s.stage.name(), s.start_s, s.end_s)).collect();
        assert_eq!(stages, vec![("approach", 0.0, 1.0), ("grasp", 1.0, 3.0)]);
        assert!(annotation_from_language("x", &[], 1.0).is_none());
    }

    #[test]
    fn names_may_be_a_list_or_groups() {
        assert_eq!(feature_names(&serde_json::json!({"names": ["a", "b"]})), vec!["a", "b"]);
        assert_eq!(feature_names(&serde_json::json!({"names": {"motors": ["j1", "j2"]}})), vec!["j1", "j2"]);
        assert!(feature_names(&serde_json::json!({"names": null})).is_empty());
    }
}
