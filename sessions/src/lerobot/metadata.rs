//! Dataset metadata: feature descriptions, statistics, `info.json`, tasks and episodes (v3.0 and v2.1).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array as _, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use serde_json::json;

use super::*;

/// min / max / mean / std / count of vectors.
pub(super) fn vector_stats(values: &[&[f32]]) -> serde_json::Value {
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

/// The statistics of the `i`-th of the [`FLAG_FEATURES`] (a one-wide vector).
pub(super) fn flag_stats(flags: &[[f32; 3]], i: usize) -> serde_json::Value {
    let values: Vec<[f32; 1]> = flags.iter().map(|f| [f[i]]).collect();
    vector_stats(&values.iter().map(<[f32; 1]>::as_slice).collect::<Vec<_>>())
}

/// Per-channel image statistics in [0, 1] (shape [3, 1, 1]) from a sample of frames.
pub(super) fn image_stats(jpegs: &[&Vec<u8>]) -> serde_json::Value {
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

/// Episodes per chunk folder (LeRobot's default).
pub(super) const CHUNK_SIZE: usize = 1000;

/// The features of `info.json`.
pub(super) fn features_json(layout: &Layout, language: bool, video: bool) -> serde_json::Value {
    let names: Vec<String> = layout.joints.iter().cloned().chain(std::iter::once("gripper".into())).collect();
    let scalar = |dtype: &str| json!({"dtype": dtype, "shape": [1], "names": null});
    // Each feature KineDesk fills by a convention of its own says so in a `description` (LeRobot reads dtype, shape
    // and names and leaves other keys alone).
    let described = |dtype: &str, description: &str| json!({"dtype": dtype, "shape": [1], "names": null, "description": description});
    let mut state_description = "Measured joint positions (rad) and gripper opening (0 closed, 1 open), the sample \
                                 the driver reported nearest to the frame's time."
        .to_owned();
    if !layout.unmeasured.is_empty() {
        state_description += &format!(
            " Not measured in (some of) these episodes, written as 0 there: {}.",
            layout.unmeasured.join(", ")
        );
    }
    let mut features = json!({
        "observation.state": {"dtype": "float32", "shape": [names.len()], "names": names,
            "description": state_description},
        "action": {"dtype": "float32", "shape": [names.len()], "names": names,
            "description": "The command in force at the frame: the joint target and gripper command the driver \
                            reported (trajectory set-point, teleop target or rollout action), never the next state. \
                            Where nothing was commanded (is_commanded false) it is the measured state."},
        "timestamp": {"dtype": "float32", "shape": [1], "names": null,
            "description": "Seconds on the dataset clock: frame_index / fps from the first camera's first frame, fps \
                            being the configured camera rate; camera frames are matched to it by capture time."},
        "frame_index": scalar("int64"),
        "episode_index": scalar("int64"),
        "index": scalar("int64"),
        "task_index": scalar("int64"),
        "is_commanded": described("bool", "Whether `action` is a command the driver reported (within two frame \
                                           periods before the frame); false: nothing was commanded and `action` \
                                           is the measured state."),
        "rollout.chunk_index": described("int64", "The closed-loop rollout chunk whose command was in force, -1 \
                                                   when none."),
        "is_intervention": described("bool", "Whether the operator's teleop command was in force (a takeover \
                                              during a rollout)."),
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

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ExportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap_or_default()).map_err(|e| io_error(path, &e))
}

pub(super) fn write_json_lines(
    path: &Path,
    values: impl Iterator<Item = serde_json::Value>,
) -> Result<(), ExportError> {
    let text: String = values.map(|v| format!("{v}\n")).collect();
    std::fs::write(path, text).map_err(|e| io_error(path, &e))
}

/// `meta/tasks.parquet` with `tasks[i]` as task `i`, row `i` (lerobot looks a task up by its row): the task string is
/// the (pandas) index, `task_index` the column.
pub(crate) fn write_tasks_parquet(path: &Path, tasks: &[&str]) -> Result<(), ExportError> {
    let task_names: StringArray = tasks.iter().map(|t| Some(*t)).collect();
    let task_indices: Int64Array = (0..tasks.len() as i64).collect();
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
    write_parquet(path, &batch, Some(("pandas".into(), pandas.to_string()))).map(|_| ())
}

/// LeRobot v2.1 metadata: info.json, episodes.jsonl, tasks.jsonl, episodes_stats.jsonl.
pub(super) fn write_metadata_v21(
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

pub(super) fn write_metadata(
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

    // lerobot looks a task up by its row (`tasks.iloc[task_index]`): rows in task_index order.
    let mut by_index: Vec<(&String, &i64)> = tasks.iter().collect();
    by_index.sort_by_key(|(_, index)| **index);
    let names: Vec<&str> = by_index.iter().map(|(task, _)| task.as_str()).collect();
    write_tasks_parquet(&meta.join("tasks.parquet"), &names)?;

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
    for camera in &layout.cameras {
        let name = format!("kinedesk/stale_frames/observation.images.{camera}");
        columns.push(column_i64(&name));
        fields.push(Field::new(name, DataType::Int64, false));
    }
    for feature in ["observation.state", "action"].into_iter().chain(FLAG_FEATURES) {
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
