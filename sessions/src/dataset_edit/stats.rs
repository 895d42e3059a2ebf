//! Statistics and episode rows of an edited dataset: numeric features recomputed from the rows written, images and
//! videos combined from the source episodes' statistics by frame count.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::{Value, json};

use super::{EditError, EpisodeRow, invalid};

/// The statistics of one feature over some rows: per dimension.
#[derive(Clone, Debug, Default)]
struct Moments {
    min: Vec<f64>,
    max: Vec<f64>,
    sum: Vec<f64>,
    squares: Vec<f64>,
    count: u64,
}

impl Moments {
    fn add(&mut self, row: &[f64]) {
        if self.count == 0 {
            self.min = vec![f64::INFINITY; row.len()];
            self.max = vec![f64::NEG_INFINITY; row.len()];
            self.sum = vec![0.0; row.len()];
            self.squares = vec![0.0; row.len()];
        }
        for (i, x) in row.iter().enumerate().take(self.min.len()) {
            self.min[i] = self.min[i].min(*x);
            self.max[i] = self.max[i].max(*x);
            self.sum[i] += x;
            self.squares[i] += x * x;
        }
        self.count += 1;
    }

    fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        for i in 0..self.min.len().min(other.min.len()) {
            self.min[i] = self.min[i].min(other.min[i]);
            self.max[i] = self.max[i].max(other.max[i]);
            self.sum[i] += other.sum[i];
            self.squares[i] += other.squares[i];
        }
        self.count += other.count;
    }

    fn mean(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.sum.iter().map(|s| s / n).collect()
    }

    fn std(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.squares.iter().zip(self.mean()).map(|(q, m)| (q / n - m * m).max(0.0).sqrt()).collect()
    }

    fn json(&self) -> Value {
        json!({"min": self.min, "max": self.max, "mean": self.mean(), "std": self.std(), "count": [self.count]})
    }
}

/// The numeric features' statistics of each episode written, and over all of them.
#[derive(Default)]
pub(super) struct NumericStats {
    episodes: Vec<BTreeMap<String, Moments>>,
    total: BTreeMap<String, Moments>,
}

/// A numeric column's rows as vectors of f64 (a number, a bool as 0/1, or a fixed-width list of numbers); `None`
/// for anything else (images, language, strings).
pub(crate) fn numeric_rows(column: &ArrayRef) -> Option<Vec<Vec<f64>>> {
    let values = |array: &ArrayRef| -> Option<Float64Array> {
        let numeric = array.data_type().is_numeric() || *array.data_type() == DataType::Boolean;
        numeric
            .then(|| arrow_cast::cast(array, &DataType::Float64).ok())
            .flatten()
            .map(|a| a.as_primitive::<Float64Type>().clone())
    };
    match column.data_type() {
        DataType::FixedSizeList(_, width) => {
            let list = column.as_fixed_size_list();
            let flat = values(list.values())?;
            let width = *width as usize;
            Some((0..list.len()).map(|i| flat.values()[i * width..(i + 1) * width].to_vec()).collect())
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            let flat = values(list.values())?;
            let offsets = list.value_offsets();
            Some(
                (0..list.len()).map(|i| flat.values()[offsets[i] as usize..offsets[i + 1] as usize].to_vec()).collect(),
            )
        }
        _ => values(column).map(|v| v.values().iter().map(|x| vec![*x]).collect()),
    }
}

impl NumericStats {
    pub(super) fn add_episode(&mut self, rows: &RecordBatch) -> Result<(), EditError> {
        let mut episode = BTreeMap::new();
        for (field, column) in rows.schema().fields().iter().zip(rows.columns()) {
            let Some(values) = numeric_rows(column) else { continue };
            let mut moments = Moments::default();
            for row in &values {
                moments.add(row);
            }
            self.total.entry(field.name().clone()).or_default().merge(&moments);
            episode.insert(field.name().clone(), moments);
        }
        self.episodes.push(episode);
        Ok(())
    }
}

/// The `meta/episodes` rows of the edited dataset: the source rows of its episodes, renumbered, pointed at the new
/// data files, their video spans moved by a trim, their numeric statistics recomputed.
pub(super) fn episodes_meta(
    source_episodes: &RecordBatch,
    written: &[EpisodeRow],
    numeric: &NumericStats,
    fps: f64,
) -> Result<RecordBatch, EditError> {
    let rows: Int64Array = written.iter().map(|e| Some(e.source_row as i64)).collect();
    let source = arrow_select::take::take_record_batch(source_episodes, &rows).map_err(|e| invalid(e.to_string()))?;
    let schema = source.schema();
    let mut columns: Vec<ArrayRef> = source.columns().to_vec();
    let ints = |f: &dyn Fn(usize, &EpisodeRow) -> i64| -> ArrayRef {
        Arc::new(written.iter().enumerate().map(|(i, e)| Some(f(i, e))).collect::<Int64Array>())
    };
    for (i, field) in schema.fields().iter().enumerate() {
        let name = field.name().as_str();
        let replacement: Option<ArrayRef> = match name {
            "episode_index" => Some(ints(&|i, _| i as i64)),
            "length" => Some(ints(&|_, e| e.length)),
            "data/chunk_index" | "meta/episodes/chunk_index" | "meta/episodes/file_index" => Some(ints(&|_, _| 0)),
            "data/file_index" => Some(ints(&|_, e| e.file_index)),
            "dataset_from_index" => Some(ints(&|_, e| e.from)),
            "dataset_to_index" => Some(ints(&|_, e| e.from + e.length)),
            "tasks" => {
                let mut builder = ListBuilder::new(StringBuilder::new());
                for episode in written {
                    builder.values().append_value(&episode.task);
                    builder.append(true);
                }
                Some(Arc::new(builder.finish()))
            }
            _ if name.starts_with("videos/") && (name.ends_with("/chunk_index") || name.ends_with("/file_index")) => {
                let key = &name["videos/".len()..name.rfind('/').unwrap_or(name.len())];
                let chunk = name.ends_with("/chunk_index");
                Some(ints(&|_, e| e.video_files.get(key).map_or(0, |(c, f)| if chunk { *c } else { *f })))
            }
            _ if name.starts_with("videos/") && name.ends_with("/from_timestamp") => {
                let old = super::f64_column(&source, name)?;
                Some(Arc::new(
                    written.iter().zip(old.values()).map(|(e, t)| Some(t + e.video_offset)).collect::<Float64Array>(),
                ))
            }
            _ if name.starts_with("videos/") && name.ends_with("/to_timestamp") => {
                let from = super::f64_column(&source, &name.replace("/to_timestamp", "/from_timestamp"))?;
                Some(Arc::new(
                    written
                        .iter()
                        .zip(from.values())
                        .map(|(e, t)| Some(t + e.video_offset + e.length as f64 / fps))
                        .collect::<Float64Array>(),
                ))
            }
            _ => stats_column(name, numeric)?,
        };
        if let Some(column) = replacement {
            columns[i] = arrow_cast::cast(&column, field.data_type()).map_err(|e| invalid(format!("{name}: {e}")))?;
        }
    }
    RecordBatch::try_new(schema, columns).map_err(|e| invalid(e.to_string()))
}

/// A `stats/<feature>/<stat>` column recomputed for a numeric feature; `None` for any other column.
fn stats_column(name: &str, numeric: &NumericStats) -> Result<Option<ArrayRef>, EditError> {
    let Some(rest) = name.strip_prefix("stats/") else { return Ok(None) };
    let Some((feature, stat)) = rest.rsplit_once('/') else { return Ok(None) };
    if !numeric.total.contains_key(feature) {
        return Ok(None);
    }
    if stat == "count" {
        let mut builder = ListBuilder::new(Int64Builder::new());
        for episode in &numeric.episodes {
            builder.values().append_value(episode.get(feature).map_or(0, |m| m.count as i64));
            builder.append(true);
        }
        return Ok(Some(Arc::new(builder.finish())));
    }
    let mut builder = ListBuilder::new(Float64Builder::new());
    for episode in &numeric.episodes {
        let moments = episode.get(feature).cloned().unwrap_or_default();
        let values = match stat {
            "min" => moments.min,
            "max" => moments.max,
            "mean" => moments.mean(),
            "std" => moments.std(),
            _ => return Ok(None),
        };
        builder.values().append_slice(&values);
        builder.append(true);
    }
    Ok(Some(Arc::new(builder.finish())))
}

/// A nested list value of a statistics column as JSON numbers.
fn json_at(array: &dyn Array, row: usize) -> Value {
    match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(row);
            Value::Array((0..list.len()).map(|i| json_at(list.as_ref(), i)).collect())
        }
        DataType::FixedSizeList(..) => {
            let list = array.as_fixed_size_list().value(row);
            Value::Array((0..list.len()).map(|i| json_at(list.as_ref(), i)).collect())
        }
        _ => {
            let single = array.slice(row, 1);
            arrow_cast::cast(&single, &DataType::Float64)
                .ok()
                .map_or(Value::Null, |a| json!(a.as_primitive::<Float64Type>().value(0)))
        }
    }
}

/// Applies `f` leaf by leaf to equally nested arrays of numbers (`f` gets the leaves in the order of `values`).
fn leafwise(values: &[&Value], f: &dyn Fn(&[f64]) -> f64) -> Value {
    match values.first() {
        Some(Value::Array(first)) => Value::Array(
            (0..first.len())
                .map(|i| {
                    let children: Vec<&Value> = values.iter().filter_map(|v| v.get(i)).collect();
                    leafwise(&children, f)
                })
                .collect(),
        ),
        _ => {
            let leaves: Vec<f64> = values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
            json!(f(&leaves))
        }
    }
}

/// `stats.json` of the edited dataset: numeric features from the rows written; other features (images, videos)
/// combined from the episodes' own statistics, weighted by their counts; a feature with neither keeps the source's.
pub(super) fn dataset_stats(
    source_stats: &Value,
    written: &[EpisodeRow],
    numeric: &NumericStats,
    episodes: &RecordBatch,
) -> Result<Value, EditError> {
    let mut stats = json!({});
    let Some(source) = source_stats.as_object() else { return Ok(stats) };
    for (feature, value) in source {
        if let Some(moments) = numeric.total.get(feature) {
            stats[feature] = moments.json();
            continue;
        }
        let column = |stat: &str| episodes.column_by_name(&format!("stats/{feature}/{stat}"));
        let (Some(min), Some(max), Some(mean), Some(std), Some(count)) =
            (column("min"), column("max"), column("mean"), column("std"), column("count"))
        else {
            stats[feature] = value.clone();
            continue;
        };
        let at = |array: &ArrayRef| (0..written.len()).map(|row| json_at(array.as_ref(), row)).collect::<Vec<_>>();
        let (mins, maxs, means, stds) = (at(min), at(max), at(mean), at(std));
        let counts: Vec<f64> =
            at(count).iter().map(|c| c.get(0).and_then(Value::as_f64).or_else(|| c.as_f64()).unwrap_or(0.0)).collect();
        let total: f64 = counts.iter().sum::<f64>().max(1.0);
        fn refs(values: &[Value]) -> Vec<&Value> {
            values.iter().collect()
        }
        let k = written.len();
        let mean_of = |leaves: &[f64]| leaves.iter().zip(&counts).map(|(m, n)| m * n).sum::<f64>() / total;
        let both: Vec<&Value> = means.iter().chain(stds.iter()).collect();
        stats[feature] = json!({
            "min": leafwise(&refs(&mins), &|l| l.iter().copied().fold(f64::INFINITY, f64::min)),
            "max": leafwise(&refs(&maxs), &|l| l.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            "mean": leafwise(&refs(&means), &mean_of),
            "std": leafwise(&both, &|l: &[f64]| {
                let mean = mean_of(&l[..k]);
                let second: f64 =
                    l[..k].iter().zip(&l[k..]).zip(&counts).map(|((m, s), n)| (s * s + m * m) * n).sum::<f64>() / total;
                (second - mean * mean).max(0.0).sqrt()
            }),
            "count": [total as i64],
        });
    }
    Ok(stats)
}
