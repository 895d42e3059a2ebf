//! Editing LeRobot v3.0 datasets (ours or written by the `lerobot` package): delete episodes, split into several
//! datasets, merge several into one, trim an episode to a span, give an episode another task. Every edit writes a
//! new dataset (staged beside the output and moved into place when complete); the inputs are only read.
//!
//! All edits are one operation: a list of output episodes, each an episode of one of the source datasets with an
//! optional kept span and an optional new task. The data rows of each are copied with every column as stored (images, language, features this
//! code does not know), re-indexed (`episode_index`, `index`, `task_index`; `frame_index` and `timestamp` from the
//! kept span's start, language timestamps shifted with them), and written to new data files. The metadata is
//! rewritten from what was written: episode rows (data file, index range, the video span of a trimmed episode),
//! tasks (only those used, in their order), `info.json` totals and splits, and the statistics: those of numeric
//! features recomputed from the rows per episode and over the dataset, those of images and videos (which would need
//! decoding) taken from the source episodes and combined by frame count. The video files the kept episodes use are
//! linked (or copied) as they are: a deleted episode's frames stay in a file it shared, unreferenced; a merge numbers
//! each source's files after the previous sources'. A merge needs the same frame rate, robot and features (name,
//! type, shape) in every source.

mod sources;
mod stats;

pub(crate) use stats::numeric_rows;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::json;

use crate::lerobot::{ExportError, ParquetReadError, read_parquet_batches, write_json, write_parquet_file};

/// Why an edit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl From<ExportError> for EditError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::Io { path, message } => Self::Io { path, message },
            other => Self::Invalid(other.to_string()),
        }
    }
}

/// Data files are rolled over past this many bytes of rows (LeRobot's default of 100 MB).
const DATA_FILE_BYTES: usize = 100 << 20;

/// One episode of an edited dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeEdit {
    /// Which source dataset it comes from (0 but in a merge).
    pub input: usize,
    /// Its `episode_index` in the source dataset.
    pub source: i64,
    /// The span to keep, in seconds of the episode's `timestamp` (inclusive); `None` keeps it whole.
    pub span: Option<(f64, f64)>,
    /// Its new task; `None` keeps the source's.
    pub task: Option<String>,
}

/// What an edit wrote.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EditSummary {
    pub out: PathBuf,
    pub episodes: usize,
    pub frames: usize,
    pub tasks: usize,
}

/// A LeRobot v3.0 dataset's metadata, read for editing.
pub struct Dataset {
    pub root: PathBuf,
    pub info: serde_json::Value,
    /// The episode rows of `meta/episodes`, one batch, sorted by `episode_index`.
    episodes: RecordBatch,
    /// `task_index` → task.
    tasks: BTreeMap<i64, String>,
    stats: serde_json::Value,
}

fn invalid(message: impl Into<String>) -> EditError {
    EditError::Invalid(message.into())
}

fn io_error(path: &Path, error: &dyn std::fmt::Display) -> EditError {
    EditError::Io { path: path.display().to_string(), message: error.to_string() }
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>, EditError> {
    read_parquet_batches(path, None).map_err(|e| match e {
        ParquetReadError::Io(e) => io_error(path, &e),
        ParquetReadError::Format(message) => io_error(path, &message),
    })
}

fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>, EditError> {
    crate::lerobot::parquet_files(dir).map_err(|e| io_error(dir, &e))
}

fn concat(batches: &[RecordBatch], what: &Path) -> Result<RecordBatch, EditError> {
    let schema = batches.first().ok_or_else(|| invalid(format!("{}: no rows", what.display())))?.schema();
    arrow_select::concat::concat_batches(&schema, batches).map_err(|e| io_error(what, &e))
}

fn i64_column(batch: &RecordBatch, name: &str) -> Result<Int64Array, EditError> {
    let column = batch.column_by_name(name).ok_or_else(|| invalid(format!("no `{name}` column")))?;
    let column = arrow_cast::cast(column, &DataType::Int64).map_err(|e| invalid(format!("`{name}`: {e}")))?;
    Ok(column.as_primitive::<Int64Type>().clone())
}

fn f64_column(batch: &RecordBatch, name: &str) -> Result<Float64Array, EditError> {
    let column = batch.column_by_name(name).ok_or_else(|| invalid(format!("no `{name}` column")))?;
    let column = arrow_cast::cast(column, &DataType::Float64).map_err(|e| invalid(format!("`{name}`: {e}")))?;
    Ok(column.as_primitive::<Float64Type>().clone())
}

impl Dataset {
    /// Reads the metadata of the LeRobot v3.0 dataset at `root`.
    pub fn open(root: &Path) -> Result<Self, EditError> {
        let info_path = root.join("meta/info.json");
        let text = std::fs::read_to_string(&info_path)
            .map_err(|e| invalid(format!("{}: not a LeRobot dataset (no meta/info.json: {e})", root.display())))?;
        let info: serde_json::Value = serde_json::from_str(&text).map_err(|e| io_error(&info_path, &e))?;
        let version = info["codebase_version"].as_str().unwrap_or("");
        if !version.starts_with("v3.") {
            return Err(invalid(format!(
                "{} is a LeRobot {version} dataset; editing needs v3.0 (convert it with lerobot's \
                 convert_dataset_v21_to_v30 first)",
                root.display()
            )));
        }
        let fps = info["fps"].as_f64().unwrap_or(0.0);
        if !(fps.is_finite() && fps > 0.0) {
            return Err(invalid(format!("{}: fps {} is not a frame rate", info_path.display(), info["fps"])));
        }
        let mut batches = Vec::new();
        for file in parquet_files(&root.join("meta/episodes"))? {
            batches.extend(read_parquet(&file)?);
        }
        let episodes = concat(&batches, &root.join("meta/episodes"))?;
        let indices = i64_column(&episodes, "episode_index").map_err(|e| invalid(format!("meta/episodes: {e}")))?;
        let mut order: Vec<u32> = (0..episodes.num_rows() as u32).collect();
        order.sort_by_key(|i| indices.value(*i as usize));
        let order = arrow_array::UInt32Array::from(order);
        let episodes = arrow_select::take::take_record_batch(&episodes, &order).map_err(|e| invalid(e.to_string()))?;
        for column in ["episode_index", "dataset_from_index", "dataset_to_index", "data/chunk_index", "data/file_index"]
        {
            i64_column(&episodes, column).map_err(|e| invalid(format!("meta/episodes: {e}")))?;
        }
        let tasks_path = root.join("meta/tasks.parquet");
        let mut tasks = BTreeMap::new();
        for batch in read_parquet(&tasks_path)? {
            let names = batch
                .column_by_name("task")
                .or_else(|| batch.column_by_name("__index_level_0__"))
                .and_then(|c| c.as_string_opt::<i32>().cloned())
                .ok_or_else(|| invalid(format!("{}: no task column", tasks_path.display())))?;
            let indices = i64_column(&batch, "task_index")?;
            for i in 0..batch.num_rows() {
                tasks.insert(indices.value(i), names.value(i).to_owned());
            }
        }
        let stats = std::fs::read_to_string(root.join("meta/stats.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| json!({}));
        Ok(Self { root: root.to_path_buf(), info, episodes, tasks, stats })
    }

    /// The statistics of `feature` in `meta/stats.json`, if it has any.
    #[must_use]
    pub fn stats_of(&self, feature: &str) -> Option<&serde_json::Value> {
        self.stats.get(feature).filter(|v| v.is_object())
    }

    /// Per episode, the non-zero values of the integer `meta/episodes` columns whose names start with `prefix`:
    /// (episode, column, value).
    #[must_use]
    pub fn episode_counts(&self, prefix: &str) -> Vec<(i64, String, i64)> {
        let episodes = self.episode_indices();
        let mut found = Vec::new();
        for field in self.episodes.schema().fields() {
            if !field.name().starts_with(prefix) {
                continue;
            }
            let Ok(values) = i64_column(&self.episodes, field.name()) else { continue };
            for (episode, value) in episodes.iter().zip(values.values()) {
                if *value != 0 {
                    found.push((*episode, field.name().clone(), *value));
                }
            }
        }
        found
    }

    /// The source episodes' indices, in order.
    #[must_use]
    pub fn episode_indices(&self) -> Vec<i64> {
        i64_column(&self.episodes, "episode_index").map(|c| c.values().to_vec()).unwrap_or_default()
    }

    /// Fails unless the dataset has episode `episode`.
    fn has_episode(&self, episode: i64) -> Result<(), EditError> {
        match self.episode_indices().contains(&episode) {
            true => Ok(()),
            false => Err(invalid(format!("{} has no episode {episode}", self.root.display()))),
        }
    }
}

/// Hands every data file's rows to `visit`, one file at a time, in file order.
pub(crate) fn read_data_files(dataset: &Dataset, visit: &mut dyn FnMut(&RecordBatch)) -> Result<(), EditError> {
    for file in parquet_files(&dataset.root.join("data"))? {
        for batch in read_parquet(&file)? {
            visit(&batch);
        }
    }
    Ok(())
}

/// `data/chunk-{chunk_index:03d}/…` with the numbers filled in (LeRobot's Python format templates).
fn fill_template(template: &str, values: &[(&str, i64)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        for width in 0..=9 {
            out = out.replace(&format!("{{{name}:0{width}d}}"), &format!("{value:0width$}"));
        }
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}

/// Writes `plan` (episodes of `dataset`) as a new dataset at `out` (which must not exist unless `overwrite`).
pub fn write_edited(
    dataset: &Dataset,
    plan: &[EpisodeEdit],
    out: &Path,
    overwrite: bool,
) -> Result<EditSummary, EditError> {
    write_from(&sources::Sources::new(vec![dataset])?, plan, out, overwrite)
}

/// Writes every episode of `datasets`, one dataset after another, as one new dataset at `out`.
pub fn write_merged(datasets: &[Dataset], out: &Path, overwrite: bool) -> Result<EditSummary, EditError> {
    if datasets.len() < 2 {
        return Err(invalid("a merge needs at least two datasets"));
    }
    let sources = sources::Sources::new(datasets.iter().collect())?;
    let plan: Vec<EpisodeEdit> = datasets
        .iter()
        .enumerate()
        .flat_map(|(input, d)| {
            d.episode_indices().into_iter().map(move |source| EpisodeEdit { input, source, span: None, task: None })
        })
        .collect();
    write_from(&sources, &plan, out, overwrite)
}

fn write_from(
    sources: &sources::Sources<'_>,
    plan: &[EpisodeEdit],
    out: &Path,
    overwrite: bool,
) -> Result<EditSummary, EditError> {
    if plan.is_empty() {
        return Err(invalid("the edit keeps no episode; a dataset needs at least one"));
    }
    let inputs: Vec<&Path> = sources.datasets.iter().map(|d| d.root.as_path()).collect();
    let staged = crate::output::StagedOutput::prepare(&inputs, out, overwrite).map_err(invalid)?;
    let summary = write_into(sources, plan, staged.path())?;
    staged.commit().map_err(invalid)?;
    Ok(EditSummary { out: out.to_path_buf(), ..summary })
}

/// A source data file, read once while its episodes are copied.
struct SourceFile {
    path: PathBuf,
    rows: RecordBatch,
}

/// `rows` with the columns of `schema` (by name, cast to its types): a merge writes every source's rows alike.
fn conform(rows: RecordBatch, schema: &arrow_schema::SchemaRef) -> Result<RecordBatch, EditError> {
    if rows.schema() == *schema {
        return Ok(rows);
    }
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = rows
                .column_by_name(field.name())
                .ok_or_else(|| invalid(format!("a source's data has no `{}` column", field.name())))?;
            arrow_cast::cast(column, field.data_type())
                .map_err(|e| invalid(format!("the sources disagree on the data column `{}`: {e}", field.name())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| invalid(e.to_string()))
}

fn write_into(sources: &sources::Sources<'_>, plan: &[EpisodeEdit], out: &Path) -> Result<EditSummary, EditError> {
    let fps = sources.first().info["fps"].as_f64().unwrap_or(30.0);
    // Tasks: those the plan uses, in the sources' order, new ones after them.
    let mut task_names: Vec<String> = Vec::new();
    let mut episode_rows = Vec::with_capacity(plan.len());
    let mut episode_tasks = Vec::with_capacity(plan.len());
    for edit in plan {
        let row = sources.row_of(edit.input, edit.source)?;
        episode_tasks.push(edit.task.clone().unwrap_or_else(|| sources.task_of(row)));
        episode_rows.push(row);
    }
    for task in sources.tasks().chain(episode_tasks.iter()) {
        if episode_tasks.contains(task) && !task_names.contains(task) {
            task_names.push(task.clone());
        }
    }
    let task_index = |task: &str| task_names.iter().position(|t| t == task).unwrap_or(0) as i64;

    let mut source: Option<SourceFile> = None;
    let mut schema: Option<arrow_schema::SchemaRef> = None;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_bytes = 0usize;
    let mut file_index = 0i64;
    let mut written = 0i64;
    let mut rows_out: Vec<EpisodeRow> = Vec::with_capacity(plan.len());
    let mut numeric = stats::NumericStats::default();
    let mut videos_linked = std::collections::BTreeSet::new();
    let flush = |pending: &mut Vec<RecordBatch>, file_index: &mut i64| -> Result<(), EditError> {
        if pending.is_empty() {
            return Ok(());
        }
        let batch = concat(pending, out)?;
        let path = out.join(fill_template(
            "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
            &[("chunk_index", 0), ("file_index", *file_index)],
        ));
        write_parquet_file(&path, &batch, None)?;
        pending.clear();
        *file_index += 1;
        Ok(())
    };
    for (new_index, ((edit, task), row)) in plan.iter().zip(&episode_tasks).zip(episode_rows).enumerate() {
        let path = sources.data_path(row)?;
        if source.as_ref().is_none_or(|s| s.path != path) {
            let batches = read_parquet(&path)?;
            source = Some(SourceFile { rows: concat(&batches, &path)?, path: path.clone() });
        }
        let Some(file) = &source else { continue };
        let episode_column = i64_column(&file.rows, "episode_index")?;
        let times = f64_column(&file.rows, "timestamp")?;
        let keep: BooleanArray = (0..file.rows.num_rows())
            .map(|i| {
                let t = times.value(i);
                Some(
                    episode_column.value(i) == edit.source
                        && edit.span.is_none_or(|(from, to)| t >= from - 1e-6 && t <= to + 1e-6),
                )
            })
            .collect();
        let rows = arrow_select::filter::filter_record_batch(&file.rows, &keep).map_err(|e| invalid(e.to_string()))?;
        if rows.num_rows() == 0 {
            return Err(invalid(match edit.span {
                Some((from, to)) => format!("episode {} has no frame between {from} s and {to} s", edit.source),
                None => format!("episode {} has no rows in {}", edit.source, path.display()),
            }));
        }
        let target = schema.get_or_insert_with(|| rows.schema()).clone();
        let rows = conform(rows, &target)?;
        let offset = f64_column(&rows, "timestamp")?.value(0);
        let length = rows.num_rows() as i64;
        let rows = reindex(&rows, new_index as i64, written, task_index(task), offset, fps)?;
        numeric.add_episode(&rows)?;
        pending_bytes += rows.get_array_memory_size();
        let mut video_files = BTreeMap::new();
        for video in sources.video_files(row)? {
            let to = out.join(sources.output_video_path(&video.key, video.number));
            if videos_linked.insert(to.clone()) {
                link_file(&video.source, &to)?;
            }
            video_files.insert(video.key, video.number);
        }
        rows_out.push(EpisodeRow {
            source_row: row,
            task: task.clone(),
            length,
            file_index,
            from: written,
            video_offset: offset,
            video_files,
        });
        written += length;
        pending.push(rows);
        if pending_bytes > DATA_FILE_BYTES {
            flush(&mut pending, &mut file_index)?;
            pending_bytes = 0;
        }
    }
    flush(&mut pending, &mut file_index)?;

    let episodes = stats::episodes_meta(&sources.episodes, &rows_out, &numeric, fps)?;
    write_parquet_file(&out.join("meta/episodes/chunk-000/file-000.parquet"), &episodes, None)?;
    let names: Vec<&str> = task_names.iter().map(String::as_str).collect();
    crate::lerobot::write_tasks_parquet(&out.join("meta/tasks.parquet"), &names)?;
    let global = stats::dataset_stats(&sources.stats(), &rows_out, &numeric, &episodes)?;
    write_json(&out.join("meta/stats.json"), &global)?;
    let mut info = sources.first().info.clone();
    info["total_episodes"] = json!(plan.len());
    info["total_frames"] = json!(written);
    info["total_tasks"] = json!(task_names.len());
    info["splits"] = json!({"train": format!("0:{}", plan.len())});
    write_json(&out.join("meta/info.json"), &info)?;
    Ok(EditSummary { out: out.to_path_buf(), episodes: plan.len(), frames: written as usize, tasks: task_names.len() })
}

/// An episode as written: where it came from and where its rows went.
struct EpisodeRow {
    source_row: usize,
    task: String,
    length: i64,
    file_index: i64,
    /// Its first row's global `index`.
    from: i64,
    /// The source timestamp of its first kept frame (a trim's start; 0 otherwise).
    video_offset: f64,
    /// Per video key, the (chunk, file) of its video file in the output.
    video_files: BTreeMap<String, (i64, i64)>,
}

/// `rows` with `episode_index`, `index` (from `first`), `frame_index` and `timestamp` (from 0 at `fps`: the source's
/// timestamps less `offset`), `task_index` and the language timestamps (less `offset`) renumbered.
fn reindex(
    rows: &RecordBatch,
    episode: i64,
    first: i64,
    task: i64,
    offset: f64,
    fps: f64,
) -> Result<RecordBatch, EditError> {
    let n = rows.num_rows();
    let schema = rows.schema();
    let mut columns: Vec<ArrayRef> = rows.columns().to_vec();
    let times = f64_column(rows, "timestamp")?;
    for (i, field) in schema.fields().iter().enumerate() {
        let replacement: Option<ArrayRef> = match field.name().as_str() {
            "episode_index" => Some(Arc::new(Int64Array::from(vec![episode; n]))),
            "index" => Some(Arc::new((first..first + n as i64).collect::<Int64Array>())),
            "frame_index" => Some(Arc::new((0..n as i64).collect::<Int64Array>())),
            "task_index" => Some(Arc::new(Int64Array::from(vec![task; n]))),
            "timestamp" => {
                // Frames keep their spacing; a trim starts the clock at its first kept frame.
                let shifted: Float64Array =
                    times.values().iter().map(|t| Some(((t - offset) * fps).round() / fps)).collect();
                Some(Arc::new(shifted) as ArrayRef)
            }
            "language_persistent" | "language_events" if offset > 0.0 => Some(shift_language(&columns[i], offset)?),
            _ => None,
        };
        if let Some(column) = replacement {
            columns[i] =
                arrow_cast::cast(&column, field.data_type()).map_err(|e| invalid(format!("{}: {e}", field.name())))?;
        }
    }
    RecordBatch::try_new(schema, columns).map_err(|e| invalid(e.to_string()))
}

/// A language column (a list of structs with a `timestamp`) with every timestamp `offset` earlier (not below 0).
fn shift_language(column: &ArrayRef, offset: f64) -> Result<ArrayRef, EditError> {
    let DataType::List(item) = column.data_type() else { return Ok(column.clone()) };
    let list = column.as_list::<i32>();
    let values = list.values().as_struct();
    let Some(position) = values.fields().iter().position(|f| f.name() == "timestamp") else {
        return Ok(column.clone());
    };
    let mut children = values.columns().to_vec();
    let old = arrow_cast::cast(&children[position], &DataType::Float64).map_err(|e| invalid(e.to_string()))?;
    let shifted: Float64Array =
        old.as_primitive::<Float64Type>().iter().map(|t| t.map(|t| (t - offset).max(0.0))).collect();
    children[position] = arrow_cast::cast(&(Arc::new(shifted) as ArrayRef), values.fields()[position].data_type())
        .map_err(|e| invalid(e.to_string()))?;
    let values = arrow_array::StructArray::try_new(values.fields().clone(), children, values.nulls().cloned())
        .map_err(|e| invalid(e.to_string()))?;
    let list =
        arrow_array::ListArray::try_new(item.clone(), list.offsets().clone(), Arc::new(values), list.nulls().cloned())
            .map_err(|e| invalid(e.to_string()))?;
    Ok(Arc::new(list))
}

/// Hard-links (or, across file systems, copies) the file `from` to `to`.
fn link_file(from: &Path, to: &Path) -> Result<(), EditError> {
    if let Some(folder) = to.parent() {
        std::fs::create_dir_all(folder).map_err(|e| io_error(folder, &e))?;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(|e| io_error(from, &e))?;
    }
    Ok(())
}

/// The edit plans of the dataset tools.
pub mod plans {
    use super::*;

    /// Every episode but `delete`.
    pub fn delete_episodes(dataset: &Dataset, delete: &[i64]) -> Result<Vec<EpisodeEdit>, EditError> {
        let all = dataset.episode_indices();
        if let Some(missing) = delete.iter().find(|e| !all.contains(e)) {
            return Err(invalid(format!("{} has no episode {missing}", dataset.root.display())));
        }
        Ok(all.into_iter().filter(|e| !delete.contains(e)).map(whole).collect())
    }

    /// The episodes in order, cut into consecutive parts of the given fractions (which must add up to 1); each part
    /// gets at least one episode.
    pub fn split(dataset: &Dataset, fractions: &[(String, f64)]) -> Result<Vec<(String, Vec<EpisodeEdit>)>, EditError> {
        let all = dataset.episode_indices();
        let total: f64 = fractions.iter().map(|(_, f)| f).sum();
        if fractions.is_empty()
            || fractions.iter().any(|(_, f)| !(f.is_finite() && *f > 0.0))
            || (total - 1.0).abs() > 1e-6
        {
            return Err(invalid(format!("the fractions must be positive and add up to 1 (they add up to {total})")));
        }
        if all.len() < fractions.len() {
            return Err(invalid(format!("{} episodes cannot make {} parts", all.len(), fractions.len())));
        }
        let mut parts = Vec::new();
        let mut start = 0usize;
        let mut cumulative = 0.0;
        for (i, (name, fraction)) in fractions.iter().enumerate() {
            cumulative += fraction;
            let left = fractions.len() - i - 1;
            let end = if left == 0 {
                all.len()
            } else {
                ((cumulative * all.len() as f64).round() as usize).clamp(start + 1, all.len() - left)
            };
            parts.push((name.clone(), all[start..end].iter().copied().map(whole).collect()));
            start = end;
        }
        Ok(parts)
    }

    /// Every episode, `episode` trimmed to `[from, to]` seconds.
    pub fn trim(dataset: &Dataset, episode: i64, from: f64, to: f64) -> Result<Vec<EpisodeEdit>, EditError> {
        if !(from.is_finite() && to.is_finite() && from >= 0.0 && to > from) {
            return Err(invalid(format!("the span {from} s to {to} s keeps nothing")));
        }
        dataset.has_episode(episode)?;
        Ok(dataset
            .episode_indices()
            .into_iter()
            .map(|e| EpisodeEdit { span: (e == episode).then_some((from, to)), ..whole(e) })
            .collect())
    }

    /// Every episode, `episode` with the task `task`.
    pub fn retask(dataset: &Dataset, episode: i64, task: &str) -> Result<Vec<EpisodeEdit>, EditError> {
        if task.trim().is_empty() {
            return Err(invalid("the new task is empty"));
        }
        dataset.has_episode(episode)?;
        Ok(dataset
            .episode_indices()
            .into_iter()
            .map(|e| EpisodeEdit { task: (e == episode).then(|| task.trim().to_owned()), ..whole(e) })
            .collect())
    }

    fn whole(source: i64) -> EpisodeEdit {
        EpisodeEdit { input: 0, source, span: None, task: None }
    }
}
