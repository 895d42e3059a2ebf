//! The datasets an edit reads from (one for delete/split/trim/retask, several for a merge): their episode rows as one
//! batch, where each came from, and where each source's video files go in the output.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use super::{Dataset, EditError, fill_template, i64_column, invalid};

/// LeRobot v3.0's video file template, for a dataset whose `info.json` does not name one.
const VIDEO_PATH: &str = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4";

/// LeRobot's default number of files per chunk folder.
const CHUNK_SIZE: i64 = 1000;

pub(super) struct Sources<'a> {
    pub(super) datasets: Vec<&'a Dataset>,
    /// Every source's `meta/episodes` rows, one after another (the columns of all of them; a column some source
    /// lacks is null in its rows).
    pub(super) episodes: RecordBatch,
    /// Per row of `episodes`: (source, its `episode_index` there).
    origin: Vec<(usize, i64)>,
    /// Per source and video key: what is added to a video file's number (chunk × chunk size + file) so that the
    /// sources' files do not land on one another.
    video_base: Vec<BTreeMap<String, i64>>,
}

/// An episode's video file of one camera.
pub(super) struct VideoFile {
    pub(super) key: String,
    /// Where it is in the source.
    pub(super) source: PathBuf,
    /// Its (chunk, file) in the output.
    pub(super) number: (i64, i64),
}

/// The keys of `info`'s features stored as video.
pub(super) fn video_keys(info: &Value) -> Vec<String> {
    let Some(features) = info["features"].as_object() else { return Vec::new() };
    features.iter().filter(|(_, f)| f["dtype"] == "video").map(|(k, _)| k.clone()).collect()
}

fn chunk_size(info: &Value) -> i64 {
    info["chunks_size"].as_i64().filter(|n| *n > 0).unwrap_or(CHUNK_SIZE)
}

/// Episode rows of several datasets as one batch: the columns of the first, then those only later ones have; each
/// cast to the type it has in the first source that has it, null where a source lacks it.
fn stack(batches: &[&RecordBatch]) -> Result<RecordBatch, EditError> {
    let mut fields: Vec<Field> = Vec::new();
    for batch in batches {
        for field in batch.schema().fields() {
            if !fields.iter().any(|f| f.name() == field.name()) {
                fields.push(field.as_ref().clone());
            }
        }
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    for field in &mut fields {
        let mut parts: Vec<ArrayRef> = Vec::with_capacity(batches.len());
        for batch in batches {
            let part = match batch.column_by_name(field.name()) {
                Some(column) => arrow_cast::cast(column, field.data_type()).map_err(|e| {
                    invalid(format!("the datasets disagree on the episode column `{}`: {e}", field.name()))
                })?,
                None => {
                    *field = field.clone().with_nullable(true);
                    arrow_array::new_null_array(field.data_type(), batch.num_rows())
                }
            };
            parts.push(part);
        }
        let refs: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
        columns.push(arrow_select::concat::concat(&refs).map_err(|e| invalid(e.to_string()))?);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| invalid(e.to_string()))
}

/// Why `other` cannot be merged into `first`: a different frame rate, robot or feature (name, type or shape).
fn incompatibility(first: &Dataset, other: &Dataset) -> Option<String> {
    let (a, b) = (&first.info, &other.info);
    if a["fps"].as_f64() != b["fps"].as_f64() {
        return Some(format!("its fps is {} and {}'s is {}", b["fps"], first.root.display(), a["fps"]));
    }
    if a["robot_type"] != b["robot_type"] {
        return Some(format!("its robot is {} and {}'s is {}", b["robot_type"], first.root.display(), a["robot_type"]));
    }
    let features = |info: &Value| -> BTreeMap<String, (Value, Value)> {
        info["features"]
            .as_object()
            .map(|f| f.iter().map(|(k, v)| (k.clone(), (v["dtype"].clone(), v["shape"].clone()))).collect())
            .unwrap_or_default()
    };
    let (fa, fb) = (features(a), features(b));
    for (key, spec) in &fa {
        match fb.get(key) {
            None => return Some(format!("it has no feature `{key}`")),
            Some(other) if other != spec => {
                return Some(format!("its `{key}` is {} {} and not {} {}", other.0, other.1, spec.0, spec.1));
            }
            Some(_) => {}
        }
    }
    fb.keys().find(|k| !fa.contains_key(*k)).map(|key| format!("it has a feature `{key}` the first has not"))
}

impl<'a> Sources<'a> {
    pub(super) fn new(datasets: Vec<&'a Dataset>) -> Result<Self, EditError> {
        let Some(first) = datasets.first() else { return Err(invalid("no dataset to read")) };
        for other in &datasets[1..] {
            if let Some(why) = incompatibility(first, other) {
                return Err(invalid(format!("{} cannot be merged: {why}", other.root.display())));
            }
        }
        let episodes = stack(&datasets.iter().map(|d| &d.episodes).collect::<Vec<_>>())?;
        let mut origin = Vec::with_capacity(episodes.num_rows());
        let mut video_base = Vec::with_capacity(datasets.len());
        let mut next_free: BTreeMap<String, i64> = BTreeMap::new();
        for (input, dataset) in datasets.iter().enumerate() {
            origin.extend(dataset.episode_indices().into_iter().map(|e| (input, e)));
            let size = chunk_size(&dataset.info);
            let mut bases = BTreeMap::new();
            for key in video_keys(&dataset.info) {
                let base = next_free.get(&key).copied().unwrap_or(0);
                let chunks = i64_column(&dataset.episodes, &format!("videos/{key}/chunk_index"))?;
                let files = i64_column(&dataset.episodes, &format!("videos/{key}/file_index"))?;
                let last = chunks.values().iter().zip(files.values()).map(|(c, f)| c * size + f).max().unwrap_or(-1);
                next_free.insert(key.clone(), base + last + 1);
                bases.insert(key, base);
            }
            video_base.push(bases);
        }
        Ok(Self { datasets, episodes, origin, video_base })
    }

    pub(super) fn first(&self) -> &'a Dataset {
        self.datasets[0]
    }

    /// The row of episode `episode` of source `input`.
    pub(super) fn row_of(&self, input: usize, episode: i64) -> Result<usize, EditError> {
        self.origin.iter().position(|o| *o == (input, episode)).ok_or_else(|| {
            let root = self.datasets.get(input).map_or_else(String::new, |d| d.root.display().to_string());
            invalid(format!("{root} has no episode {episode}"))
        })
    }

    fn dataset_of(&self, row: usize) -> &'a Dataset {
        self.datasets[self.origin[row].0]
    }

    /// The data file holding the episode in `row`.
    pub(super) fn data_path(&self, row: usize) -> Result<PathBuf, EditError> {
        let chunk = i64_column(&self.episodes, "data/chunk_index")?.value(row);
        let file = i64_column(&self.episodes, "data/file_index")?.value(row);
        let dataset = self.dataset_of(row);
        let template =
            dataset.info["data_path"].as_str().unwrap_or("data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet");
        Ok(dataset.root.join(fill_template(template, &[("chunk_index", chunk), ("file_index", file)])))
    }

    /// The task of the episode in `row`.
    pub(super) fn task_of(&self, row: usize) -> String {
        let Some(column) = self.episodes.column_by_name("tasks") else { return String::new() };
        match column.data_type() {
            DataType::List(_) => {
                let list = column.as_list::<i32>().value(row);
                list.as_string_opt::<i32>().filter(|s| !s.is_empty()).map(|s| s.value(0).to_owned()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// Every source's tasks, in order (repeats included).
    pub(super) fn tasks(&self) -> impl Iterator<Item = &String> {
        self.datasets.iter().flat_map(|d| d.tasks.values())
    }

    /// The statistics of the first source, with the features only later ones have.
    pub(super) fn stats(&self) -> Value {
        let mut stats = self.first().stats.clone();
        for dataset in &self.datasets[1..] {
            for (feature, value) in dataset.stats.as_object().into_iter().flatten() {
                if stats.get(feature).is_none() {
                    stats[feature] = value.clone();
                }
            }
        }
        stats
    }

    /// Per video key, the episode in `row`'s video file.
    pub(super) fn video_files(&self, row: usize) -> Result<Vec<VideoFile>, EditError> {
        let (input, _) = self.origin[row];
        let dataset = self.datasets[input];
        let size = chunk_size(&dataset.info);
        let out_size = chunk_size(&self.first().info);
        let template = dataset.info["video_path"].as_str().unwrap_or(VIDEO_PATH);
        let mut files = Vec::new();
        for key in video_keys(&dataset.info) {
            let chunk = i64_column(&self.episodes, &format!("videos/{key}/chunk_index"))?.value(row);
            let file = i64_column(&self.episodes, &format!("videos/{key}/file_index"))?.value(row);
            let path = dataset.root.join(
                fill_template(template, &[("chunk_index", chunk), ("file_index", file)]).replace("{video_key}", &key),
            );
            let number = chunk * size + file + self.video_base[input].get(&key).copied().unwrap_or(0);
            files.push(VideoFile { key, source: path, number: (number / out_size, number % out_size) });
        }
        Ok(files)
    }

    /// Where the output keeps a video file of `key` numbered (chunk, file).
    pub(super) fn output_video_path(&self, key: &str, (chunk, file): (i64, i64)) -> String {
        let template = self.first().info["video_path"].as_str().unwrap_or(VIDEO_PATH);
        fill_template(template, &[("chunk_index", chunk), ("file_index", file)]).replace("{video_key}", key)
    }
}
