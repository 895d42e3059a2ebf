//! `kinedesk dataset doctor`: checks a LeRobot v3.0 dataset before training, for what breaks loading or training:
//! timestamp gaps beyond LeRobot's tolerance (lerobot looks video frames up by timestamp and fails on them), frame and global indices that do
//! not count up, frozen camera frames (the same image bytes again) and frames a KineDesk export marked stale,
//! dimensions that never change (their std is 0: normalising them gives NaN/Inf), statistics that are missing or not
//! finite, state and action jumps between frames beyond the robot's joint velocity limits, and episodes without
//! stage labels.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use serde_json::Value;

use crate::dataset_edit::{Dataset, EditError, numeric_rows, read_data_files};

/// LeRobot's tolerance on timestamps (`tolerance_s` of `LeRobotDataset`, 1e-4 s).
pub const TIMESTAMP_TOLERANCE_S: f64 = 1e-4;

/// How serious a finding is: an error breaks loading or training, a warning deserves a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One thing the doctor found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name: `timestamp_gap`, `frame_index`, `index`, `frozen_frames`, `stale_frames`,
    /// `constant_dimension`, `stats_missing`, `stats_not_finite`, `stats_zero_std`, `joint_jump`, `no_stage_labels`;
    /// for a session also `left_out`, `salvaged`, `no_annotation`, `unconfirmed_stages`, `annotation`.
    pub check: String,
    pub episode: Option<i64>,
    pub message: String,
}

/// What to check against.
#[derive(Clone, Debug, Default)]
pub struct DoctorOptions {
    /// Per dimension of `observation.state` and `action` (joints then gripper): the largest change between two
    /// frames the robot can make (its velocity limit over one frame period), if the robot is known.
    pub max_step: Option<Vec<f64>>,
}

/// The doctor's report.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Report {
    pub episodes: usize,
    pub frames: usize,
    pub fps: f64,
    pub findings: Vec<Finding>,
}

impl Report {
    #[must_use]
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    fn add(&mut self, severity: Severity, check: &str, episode: Option<i64>, message: String) {
        self.findings.push(Finding { severity, check: check.into(), episode, message });
    }
}

/// Per episode, what the row checks keep while reading the data files.
#[derive(Default)]
struct EpisodeScan {
    frames: usize,
    timestamps: Vec<f64>,
    frame_indices: Vec<i64>,
    states: Vec<Vec<f64>>,
    actions: Vec<Vec<f64>>,
    /// Per image feature: frames whose bytes equal the previous frame's.
    frozen: BTreeMap<String, usize>,
    last_image: BTreeMap<String, Vec<u8>>,
    stage_labels: bool,
}

fn column_f64(batch: &RecordBatch, name: &str) -> Option<Vec<f64>> {
    let column = batch.column_by_name(name)?;
    numeric_rows(column).map(|rows| rows.into_iter().map(|r| r.first().copied().unwrap_or(f64::NAN)).collect())
}

/// Whether row `row` of a `language_persistent` column holds a `subtask` row (a stage label).
fn has_subtask(column: &dyn Array, row: usize) -> bool {
    let DataType::List(_) = column.data_type() else { return false };
    let list = column.as_list::<i32>().value(row);
    let Some(styles) = list.as_struct_opt().and_then(|s| s.column_by_name("style").cloned()) else { return false };
    let Some(styles) = styles.as_string_opt::<i32>() else { return false };
    styles.iter().any(|s| s == Some("subtask"))
}

/// Checks the dataset at `root`.
pub fn examine(dataset: &Dataset, options: &DoctorOptions) -> Result<Report, EditError> {
    let fps = dataset.info["fps"].as_f64().unwrap_or(0.0);
    let mut report = Report { fps, ..Report::default() };
    let mut scans: BTreeMap<i64, EpisodeScan> = BTreeMap::new();
    let mut global_index = Vec::new();
    let image_keys: Vec<String> = dataset.info["features"]
        .as_object()
        .map(|f| f.iter().filter(|(_, ft)| ft["dtype"] == "image").map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    read_data_files(dataset, &mut |batch| {
        let episodes = column_f64(batch, "episode_index").unwrap_or_default();
        let timestamps = column_f64(batch, "timestamp").unwrap_or_default();
        let frame_indices = column_f64(batch, "frame_index").unwrap_or_default();
        global_index.extend(column_f64(batch, "index").unwrap_or_default().into_iter().map(|i| i as i64));
        let states = batch.column_by_name("observation.state").and_then(numeric_rows);
        let actions = batch.column_by_name("action").and_then(numeric_rows);
        let language = batch.column_by_name("language_persistent");
        for row in 0..batch.num_rows() {
            let scan = scans.entry(episodes.get(row).copied().unwrap_or(-1.0) as i64).or_default();
            scan.frames += 1;
            scan.timestamps.push(timestamps.get(row).copied().unwrap_or(f64::NAN));
            scan.frame_indices.push(frame_indices.get(row).copied().unwrap_or(-1.0) as i64);
            if let Some(states) = &states {
                scan.states.push(states[row].clone());
            }
            if let Some(actions) = &actions {
                scan.actions.push(actions[row].clone());
            }
            if let Some(language) = language {
                scan.stage_labels |= has_subtask(language.as_ref(), row);
            }
            for key in &image_keys {
                let Some(images) = batch.column_by_name(key).and_then(|c| c.as_struct_opt().cloned()) else { continue };
                let Some(bytes) = images.column_by_name("bytes").and_then(|b| b.as_binary_opt::<i32>().cloned()) else {
                    continue;
                };
                let current = bytes.value(row);
                if scan.last_image.get(key).is_some_and(|last| last.as_slice() == current) {
                    *scan.frozen.entry(key.clone()).or_default() += 1;
                }
                scan.last_image.insert(key.clone(), current.to_vec());
            }
        }
    })?;
    report.episodes = scans.len();
    report.frames = scans.values().map(|s| s.frames).sum();

    for (index, expected) in global_index.iter().zip(0i64..) {
        if *index != expected {
            report.add(Severity::Error, "index", None, format!("global index {index} where {expected} was due"));
            break;
        }
    }
    let mut all_states: Vec<&Vec<f64>> = Vec::new();
    let mut all_actions: Vec<&Vec<f64>> = Vec::new();
    for (episode, scan) in &scans {
        let e = Some(*episode);
        check_timestamps(&mut report, *episode, &scan.timestamps, fps);
        if scan.frame_indices.iter().zip(0i64..).any(|(f, k)| *f != k) {
            report.add(Severity::Error, "frame_index", e, "frame_index does not count 0, 1, 2, …".into());
        }
        // A real camera's noise makes two identical frames unlikely: a repeat is a duplicated frame (or a static
        // synthetic view). KineDesk's own exports say which frames had no fresh image (`stale_frames`).
        for (key, frozen) in &scan.frozen {
            let message = format!(
                "{key}: {frozen} of {} frames repeat the previous image byte for byte (duplicated frames, or a \
                 static scene)",
                scan.frames
            );
            report.add(Severity::Info, "frozen_frames", e, message);
        }
        if let Some(step) = &options.max_step {
            for (name, rows) in [("observation.state", &scan.states), ("action", &scan.actions)] {
                check_jumps(&mut report, *episode, name, rows, step);
            }
        }
        if !scan.stage_labels && dataset.info["features"].get("language_persistent").is_some() {
            report.add(Severity::Info, "no_stage_labels", e, "no subtask (stage) labels".into());
        }
        all_states.extend(&scan.states);
        all_actions.extend(&scan.actions);
    }
    for (name, rows) in [("observation.state", &all_states), ("action", &all_actions)] {
        check_constant(&mut report, name, rows);
    }
    check_stale(&mut report, dataset);
    check_stats(&mut report, dataset);
    Ok(report)
}

/// Gaps between consecutive timestamps other than one frame period (beyond LeRobot's tolerance).
fn check_timestamps(report: &mut Report, episode: i64, timestamps: &[f64], fps: f64) {
    if !(fps.is_finite() && fps > 0.0) {
        return;
    }
    let period = 1.0 / fps;
    let gaps: Vec<(usize, f64)> = timestamps
        .windows(2)
        .enumerate()
        .map(|(k, pair)| (k + 1, pair[1] - pair[0]))
        .filter(|(_, dt)| !dt.is_finite() || (dt - period).abs() > TIMESTAMP_TOLERANCE_S)
        .collect();
    if let Some((first, dt)) = gaps.first() {
        let message = format!(
            "{} timestamp gap(s) other than 1/fps = {:.4} s, beyond lerobot's {TIMESTAMP_TOLERANCE_S} s tolerance \
             (video frames are looked up by timestamp and fail there; delta_timestamps windows straddle the gap); the \
             first at frame {first}: {dt:.4} s",
            gaps.len(),
            period
        );
        report.add(Severity::Error, "timestamp_gap", Some(episode), message);
    }
}

/// Frame-to-frame changes larger than the robot can make in one period.
fn check_jumps(report: &mut Report, episode: i64, name: &str, rows: &[Vec<f64>], max_step: &[f64]) {
    let mut jumps = 0;
    let mut worst: Option<(usize, usize, f64)> = None;
    for (k, pair) in rows.windows(2).enumerate() {
        for (d, (a, b)) in pair[0].iter().zip(&pair[1]).enumerate() {
            let Some(limit) = max_step.get(d) else { continue };
            let change = (b - a).abs();
            if change > *limit {
                jumps += 1;
                if worst.is_none_or(|(_, _, w)| change / limit > w) {
                    worst = Some((k + 1, d, change / limit));
                }
            }
        }
    }
    if let Some((frame, dimension, ratio)) = worst {
        let message = format!(
            "{name}: {jumps} change(s) between frames beyond the robot's velocity limits; the worst at frame {frame}, \
             dimension {dimension}: {ratio:.1}× the most it can move in one frame"
        );
        report.add(Severity::Warning, "joint_jump", Some(episode), message);
    }
}

/// Dimensions with one value throughout the dataset.
fn check_constant(report: &mut Report, name: &str, rows: &[&Vec<f64>]) {
    let Some(first) = rows.first() else { return };
    for d in 0..first.len() {
        let value = first[d];
        if rows.iter().all(|r| r.get(d).is_some_and(|v| (v - value).abs() < 1e-9)) {
            let message = format!(
                "{name}[{d}] is {value} in every frame: its std is 0, so normalising it gives NaN/Inf unless it is \
                 left out"
            );
            report.add(Severity::Warning, "constant_dimension", None, message);
        }
    }
}

/// Frames a KineDesk export counted as stale (a camera had no frame near the frame's time).
fn check_stale(report: &mut Report, dataset: &Dataset) {
    for (episode, column, stale) in dataset.episode_counts("kinedesk/stale_frames/") {
        let camera = column.trim_start_matches("kinedesk/stale_frames/");
        let message = format!("{camera}: {stale} frame(s) without a fresh camera frame (the nearest one was used)");
        report.add(Severity::Warning, "stale_frames", Some(episode), message);
    }
}

/// `stats.json`: every numeric feature has finite statistics; a zero std is reported.
fn check_stats(report: &mut Report, dataset: &Dataset) {
    let features = dataset.info["features"].as_object().cloned().unwrap_or_default();
    for (name, feature) in &features {
        let dtype = feature["dtype"].as_str().unwrap_or("");
        let numeric = matches!(dtype, "float32" | "float64" | "int64" | "int32" | "bool");
        // The bookkeeping columns are never normalised; training needs no statistics of them.
        let bookkeeping =
            matches!(name.as_str(), "timestamp" | "frame_index" | "episode_index" | "index" | "task_index");
        if !numeric || bookkeeping {
            continue;
        }
        let Some(stats) = dataset.stats_of(name) else {
            report.add(Severity::Info, "stats_missing", None, format!("{name} has no entry in meta/stats.json"));
            continue;
        };
        let leaves = |key: &str| -> Vec<f64> {
            fn walk(value: &Value, out: &mut Vec<f64>) {
                match value {
                    Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                    other => out.push(other.as_f64().unwrap_or(f64::NAN)),
                }
            }
            let mut out = Vec::new();
            walk(&stats[key], &mut out);
            out
        };
        if ["min", "max", "mean", "std"].iter().any(|k| leaves(k).iter().any(|v| !v.is_finite())) {
            report.add(Severity::Error, "stats_not_finite", None, format!("{name}: statistics that are not finite"));
        }
        let zero: Vec<usize> = leaves("std").iter().enumerate().filter(|(_, s)| **s == 0.0).map(|(i, _)| i).collect();
        if !zero.is_empty() && matches!(name.as_str(), "observation.state" | "action") {
            let message = format!("{name}: std 0 in dimension(s) {zero:?} (mean/std normalisation divides by 0)");
            report.add(Severity::Warning, "stats_zero_std", None, message);
        }
    }
}

/// Checks a session folder before export: what its LeRobot v3.0 export would be (written to a scratch folder beside
/// the system's temporary files with the frames as recorded, checked as a dataset, then removed), plus what only the
/// session knows: episodes the export would leave out or salvage, episodes without an annotation, and stage segments
/// nobody confirmed (shown on the timeline, left out of exports). `options` gets the export's dataset (its robot and
/// fps are known from there); `progress` gets (done, total) of the export.
pub fn examine_session(
    session: &std::path::Path,
    options: impl FnOnce(&Dataset) -> DoctorOptions,
    progress: impl FnMut(usize, usize),
) -> Result<Report, EditError> {
    use crate::lerobot::{ExportOptions, export_lerobot};
    static SCRATCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("kinedesk-doctor-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let exported = export_lerobot(session, &scratch, ExportOptions::default(), progress);
    let checked = exported.map_err(EditError::from).and_then(|summary| {
        let dataset = Dataset::open(&scratch)?;
        let report = examine(&dataset, &options(&dataset))?;
        Ok((summary, report))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let (summary, mut report) = checked?;

    for left in &summary.left_out {
        report.add(Severity::Warning, "left_out", None, format!("{}: not exported: {}", left.episode, left.reason));
    }
    for salvaged in &summary.salvaged {
        let message = format!("{}: exported without a damaged stretch: {}", salvaged.episode, salvaged.reason);
        report.add(Severity::Warning, "salvaged", None, message);
    }
    let paths = crate::episode::SessionDir::open(session)
        .and_then(|dir| dir.episode_paths())
        .map_err(|e| EditError::Invalid(format!("{}: {e}", session.display())))?;
    let exported = paths.iter().filter(|path| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        !summary.left_out.iter().any(|l| l.episode == name)
    });
    for (index, path) in exported.enumerate() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let episode = Some(index as i64);
        match crate::annotation::read_annotation(path) {
            Ok(None) => report.add(
                Severity::Info,
                "no_annotation",
                episode,
                format!("{name}: not annotated (no stage labels, outcome or notes)"),
            ),
            Ok(Some(annotation)) => {
                let unconfirmed = annotation.stages.iter().filter(|s| !s.source.exported()).count();
                if unconfirmed > 0 {
                    let message = format!(
                        "{name}: {unconfirmed} of {} stage segments are unconfirmed and will not be exported \
                         (confirm them on the timeline)",
                        annotation.stages.len()
                    );
                    report.add(Severity::Warning, "unconfirmed_stages", episode, message);
                }
            }
            Err(error) => report.add(Severity::Warning, "annotation", episode, format!("{name}: {error}")),
        }
    }
    Ok(report)
}
