//! Annotations of an episode for KineVLA: the instruction, the instruction-level constraints as structured fields,
//! the action-level stages as time segments on a lane, the outcome, notes, a flag and a (non-destructive) trim.
//!
//! An annotation lives beside its episode log as `episode_NNNNNN.annotation.json`, written to a temporary file,
//! made durable and renamed, so a crash leaves either the old or the new file, never half of one. The log itself is
//! never touched by annotating: trimming only records which span to keep, and deleting moves the episode into the
//! session's `trash/` folder, from where it can be put back.
//!
//! Times are seconds from the episode's first record ([`crate::episode::Episode::span`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::episode::{Episode, SessionError};
use crate::events::TimelineEvent;
use kinedesk_core::Timestamp;

pub use kinedesk_core::vocab::{ConstraintKind, StageKind, StageLabel};

/// The instruction-level constraints of KineVLA's reasoning, one structured field each (empty: not constrained).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Constraints {
    /// e.g. "mug".
    pub object: String,
    /// e.g. "left", "up", "towards the plate".
    pub direction: String,
    /// e.g. "10 cm".
    pub distance: String,
    /// e.g. "90 deg clockwise about z".
    pub rotation: String,
    /// e.g. "slow".
    pub speed: String,
    /// e.g. "handle".
    pub object_part: String,
    /// e.g. "left of the plate".
    pub target_relation: String,
}

impl Constraints {
    #[must_use]
    pub fn get(&self, field: ConstraintKind) -> &str {
        match field {
            ConstraintKind::Object => &self.object,
            ConstraintKind::Direction => &self.direction,
            ConstraintKind::Distance => &self.distance,
            ConstraintKind::Rotation => &self.rotation,
            ConstraintKind::Speed => &self.speed,
            ConstraintKind::ObjectPart => &self.object_part,
            ConstraintKind::TargetRelation => &self.target_relation,
        }
    }

    pub fn get_mut(&mut self, field: ConstraintKind) -> &mut String {
        match field {
            ConstraintKind::Object => &mut self.object,
            ConstraintKind::Direction => &mut self.direction,
            ConstraintKind::Distance => &mut self.distance,
            ConstraintKind::Rotation => &mut self.rotation,
            ConstraintKind::Speed => &mut self.speed,
            ConstraintKind::ObjectPart => &mut self.object_part,
            ConstraintKind::TargetRelation => &mut self.target_relation,
        }
    }

    /// The constraints that are set, as "key: value" lines (the form KineVLA's instruction-level reasoning takes).
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        ConstraintKind::ALL
            .into_iter()
            .filter(|f| !self.get(*f).trim().is_empty())
            .map(|f| format!("{}: {}", f.name(), self.get(f).trim()))
            .collect()
    }
}

/// Where a stage segment's boundaries came from. Only boundaries someone or something measured are exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageSource {
    /// Not known to be checked (annotations saved before sources were recorded): shown, not exported.
    #[default]
    Unconfirmed,
    /// Drawn or confirmed by an operator on the timeline.
    Operator,
    /// From the robot's execution of the plan (the driver's progress through the plan's stages).
    Execution,
    /// From an imported dataset's labels.
    Imported,
}

impl StageSource {
    /// Whether segments from this source go into exports.
    #[must_use]
    pub fn exported(self) -> bool {
        !matches!(self, Self::Unconfirmed)
    }
}

/// A stage of the action-level reasoning, as a time segment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageSegment {
    pub stage: StageLabel,
    pub start_s: f64,
    pub end_s: f64,
    #[serde(default)]
    pub source: StageSource,
}

/// How the episode went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Unlabelled,
    Success,
    Failure,
}

impl Outcome {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Unlabelled => "unlabelled",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// Everything annotated about one episode.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EpisodeAnnotation {
    /// The per-episode instruction (the task text of the dataset).
    pub instruction: String,
    pub constraints: Constraints,
    /// Stage segments, sorted by start, never overlapping.
    pub stages: Vec<StageSegment>,
    pub outcome: Outcome,
    pub notes: String,
    /// Marked for another look (shown in the episode browser; exported like any other episode).
    pub flagged: bool,
    /// The span to keep, in seconds; `None` keeps the whole episode. Exports honour it; the log keeps everything.
    pub trim: Option<(f64, f64)>,
}

/// Why an annotation could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not a valid annotation ({message}); it was kept as {kept}")]
    Corrupt { path: String, message: String, kept: String },
    #[error("{path} is not a valid annotation ({message})")]
    Unreadable { path: String, message: String },
}

impl EpisodeAnnotation {
    /// Checks values JSON cannot: times finite and not negative, spans that end after they start, a trim that keeps
    /// something. (An annotation edited by hand or by another tool is read through this.)
    pub fn validate(&self) -> Result<(), String> {
        let time = |what: &str, t: f64| {
            if t.is_finite() && t >= 0.0 { Ok(()) } else { Err(format!("{what} {t} is not a time in the episode")) }
        };
        for (i, stage) in self.stages.iter().enumerate() {
            time("a stage start", stage.start_s)?;
            time("a stage end", stage.end_s)?;
            if stage.end_s < stage.start_s {
                return Err(format!("stage {} ({}) ends before it starts", i + 1, stage.stage));
            }
        }
        if let Some((from, to)) = self.trim {
            time("the trim start", from)?;
            time("the trim end", to)?;
            if to <= from {
                return Err(format!("the trim keeps nothing ({from} s to {to} s)"));
            }
        }
        Ok(())
    }

    /// A first annotation from what was recorded: the episode's task, the constraints of the last reasoning the
    /// policy gave (instruction-level "key: value" lines), and the stages as the robot executed them (from the
    /// driver's progress through the plan). Stage boundaries are never invented: an episode without executed
    /// stages starts with none, for the operator to label.
    #[must_use]
    pub fn seeded_from(episode: &Episode) -> Self {
        let mut annotation = Self { instruction: episode.meta.task.clone(), ..Self::default() };
        let (start, _) = episode.span();
        let seconds = |nanos: u64| Timestamp::from_nanos(nanos).saturating_since(start).as_secs_f64();
        let reasoning = episode.events.iter().rev().find_map(|(_, raw)| match TimelineEvent::from_json(raw) {
            Some(TimelineEvent::Reasoning { instruction_level, .. }) => Some(instruction_level),
            _ => None,
        });
        for line in reasoning.unwrap_or_default() {
            if let Some((key, value)) = line.split_once(':')
                && let Some(field) = ConstraintKind::from_name(key)
            {
                // A constraint that applies to several stages (two distances, say) keeps every value.
                let slot = annotation.constraints.get_mut(field);
                if !slot.is_empty() {
                    slot.push_str("; ");
                }
                slot.push_str(value.trim());
            }
        }
        for (_, raw) in &episode.events {
            if let Some(TimelineEvent::StageExecuted { stage, start_ns, end_ns, .. }) = TimelineEvent::from_json(raw)
                && end_ns > start_ns
            {
                annotation.stages.push(StageSegment {
                    stage: stage.into(),
                    start_s: seconds(start_ns),
                    end_s: seconds(end_ns),
                    source: StageSource::Execution,
                });
            }
        }
        annotation.stages.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        annotation
    }

    /// Labels `[from, to]` as `stage`: segments it overlaps are cut back (or split) so the lane never overlaps.
    pub fn label_span(&mut self, stage: impl Into<StageLabel>, from_s: f64, to_s: f64) {
        let (from, to) = (from_s.min(to_s), from_s.max(to_s));
        if to - from < 1e-6 {
            return;
        }
        self.clear_span(from, to);
        self.stages.push(StageSegment { stage: stage.into(), start_s: from, end_s: to, source: StageSource::Operator });
        self.stages.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    }

    /// Removes every label inside `[from, to]` (cutting segments that cross its ends).
    pub fn clear_span(&mut self, from: f64, to: f64) {
        let mut kept = Vec::with_capacity(self.stages.len() + 1);
        for segment in self.stages.drain(..) {
            if segment.end_s <= from || segment.start_s >= to {
                kept.push(segment);
                continue;
            }
            if segment.start_s < from {
                kept.push(StageSegment { end_s: from, ..segment.clone() });
            }
            if segment.end_s > to {
                kept.push(StageSegment { start_s: to, ..segment });
            }
        }
        self.stages = kept;
    }

    /// The segment under `time`, if any.
    #[must_use]
    pub fn stage_at(&self, time_s: f64) -> Option<usize> {
        self.stages.iter().position(|s| s.start_s <= time_s && time_s < s.end_s)
    }

    /// The span exports keep.
    #[must_use]
    pub fn kept_span(&self, duration_s: f64) -> (f64, f64) {
        self.trim.map_or((0.0, duration_s), |(a, b)| (a.max(0.0), b.min(duration_s)))
    }

    /// Whether the episode matches a browser filter (case-insensitive, in instruction, notes, stages, outcome).
    #[must_use]
    pub fn matches(&self, filter: &str) -> bool {
        let filter = filter.trim().to_lowercase();
        filter.is_empty()
            || self.instruction.to_lowercase().contains(&filter)
            || self.notes.to_lowercase().contains(&filter)
            || self.outcome.label() == filter
            || (filter == "flagged" && self.flagged)
            || self.stages.iter().any(|s| s.stage.name().to_lowercase() == filter)
    }
}

/// Where the annotation of the episode log `log` is kept.
#[must_use]
pub fn annotation_path(log: &Path) -> PathBuf {
    log.with_extension("annotation.json")
}

/// Largest annotation file read (an annotation is a few kB; a stage lane of thousands of segments is under 1 MB).
pub const MAX_ANNOTATION_BYTES: u64 = 16 << 20;

/// Reads the annotation of an episode without changing anything: `Ok(None)` if it has none yet; a corrupt or
/// oversized file is an error (exports use this: they only read the session).
pub fn read_annotation(log: &Path) -> Result<Option<EpisodeAnnotation>, AnnotationError> {
    let path = annotation_path(log);
    let unreadable = |message: String| AnnotationError::Unreadable { path: path.display().to_string(), message };
    let text = match read_limited(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(error) => return Err(AnnotationError::Io { path: path.display().to_string(), message: error }),
    };
    let annotation: EpisodeAnnotation = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    annotation.validate().map_err(unreadable)?;
    Ok(Some(annotation))
}

/// The file's text, `None` if there is none; refuses a file over [`MAX_ANNOTATION_BYTES`] or not a regular file.
fn read_limited(path: &Path) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_ANNOTATION_BYTES {
        return Err(format!("{} bytes, more than an annotation can be ({MAX_ANNOTATION_BYTES})", meta.len()));
    }
    std::fs::read_to_string(path).map(Some).map_err(|e| e.to_string())
}

/// Reads the annotation of an episode to edit it: `Ok(None)` if it has none yet. A corrupt file is renamed aside
/// (kept, never deleted) and reported, so that the operator's next save does not overwrite it.
pub fn load_annotation(log: &Path) -> Result<Option<EpisodeAnnotation>, AnnotationError> {
    let path = annotation_path(log);
    match read_annotation(log) {
        Err(AnnotationError::Unreadable { message, .. }) => {
            let error = message;
            let kept = path.with_extension(format!(
                "json.corrupt-{}",
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
            ));
            let _ = std::fs::rename(&path, &kept);
            Err(AnnotationError::Corrupt {
                path: path.display().to_string(),
                message: error,
                kept: kept.display().to_string(),
            })
        }
        other => other,
    }
}

/// Writes the annotation atomically (temporary file, sync, rename).
pub fn save_annotation(log: &Path, annotation: &EpisodeAnnotation) -> Result<(), AnnotationError> {
    let path = annotation_path(log);
    let io = |error: &dyn std::fmt::Display| AnnotationError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let json = serde_json::to_vec_pretty(annotation).map_err(|e| io(&e))?;
    let temporary = path.with_extension("json.tmp");
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&temporary).map_err(|e| io(&e))?;
        file.write_all(&json).map_err(|e| io(&e))?;
        file.sync_data().map_err(|e| io(&e))?;
    }
    std::fs::rename(&temporary, &path).map_err(|e| io(&e))
}

/// Moves an episode (log and annotation) into the session's `trash/` folder; returns where the log went.
pub fn trash_episode(session_root: &Path, log: &Path) -> Result<PathBuf, SessionError> {
    let trash = session_root.join("trash");
    let io = |path: &Path, error: std::io::Error| SessionError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    std::fs::create_dir_all(&trash).map_err(|e| io(&trash, e))?;
    let name = log.file_name().ok_or_else(|| SessionError::Format {
        path: log.display().to_string(),
        message: "not an episode file".into(),
    })?;
    let target = trash.join(name);
    if target.exists() {
        return Err(SessionError::Format {
            path: target.display().to_string(),
            message: "an episode of that name is already in the trash".into(),
        });
    }
    let annotation = annotation_path(log);
    if annotation.exists() {
        std::fs::rename(&annotation, annotation_path(&target)).map_err(|e| io(&annotation, e))?;
    }
    std::fs::rename(log, &target).map_err(|e| io(log, e))?;
    Ok(target)
}

/// Puts an episode back from the trash.
pub fn restore_episode(session_root: &Path, name: &str) -> Result<PathBuf, SessionError> {
    let from = session_root.join("trash").join(name);
    let to = session_root.join("episodes").join(name);
    let io = |path: &Path, error: std::io::Error| SessionError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    if to.exists() {
        return Err(SessionError::Format { path: to.display().to_string(), message: "exists already".into() });
    }
    if annotation_path(&from).exists() {
        std::fs::rename(annotation_path(&from), annotation_path(&to)).map_err(|e| io(&from, e))?;
    }
    std::fs::rename(&from, &to).map_err(|e| io(&from, e))?;
    Ok(to)
}

/// Undo/redo over whole annotation snapshots (an annotation is a few kB). Consecutive edits of the same text field
/// within a second are one undo step, so undo takes back a word typed, not a letter.
#[derive(Clone, Debug, Default)]
pub struct AnnotationHistory {
    pub current: EpisodeAnnotation,
    undo: Vec<EpisodeAnnotation>,
    redo: Vec<EpisodeAnnotation>,
    last_edit: Option<(String, Instant)>,
    /// Changed since the last save.
    pub dirty: bool,
    pub changed_at: Option<Instant>,
}

const COALESCE: Duration = Duration::from_secs(1);
const UNDO_DEPTH: usize = 500;

impl AnnotationHistory {
    #[must_use]
    pub fn new(annotation: EpisodeAnnotation) -> Self {
        Self { current: annotation, ..Self::default() }
    }

    /// Applies an edit. `coalesce_key` names the field for text edits (same key within a second: one undo step).
    pub fn edit(&mut self, coalesce_key: Option<&str>, change: impl FnOnce(&mut EpisodeAnnotation)) {
        let before = self.current.clone();
        change(&mut self.current);
        if self.current == before {
            return;
        }
        let now = Instant::now();
        let merge = match (&self.last_edit, coalesce_key) {
            (Some((key, at)), Some(this)) => key == this && now.duration_since(*at) < COALESCE,
            _ => false,
        };
        if !merge {
            self.undo.push(before);
            if self.undo.len() > UNDO_DEPTH {
                self.undo.remove(0);
            }
        }
        self.last_edit = coalesce_key.map(|k| (k.to_owned(), now));
        self.redo.clear();
        self.touch(now);
    }

    pub fn undo(&mut self) -> bool {
        let Some(previous) = self.undo.pop() else { return false };
        self.redo.push(std::mem::replace(&mut self.current, previous));
        self.last_edit = None;
        self.touch(Instant::now());
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(next) = self.redo.pop() else { return false };
        self.undo.push(std::mem::replace(&mut self.current, next));
        self.last_edit = None;
        self.touch(Instant::now());
        true
    }

    #[must_use]
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    #[must_use]
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn touch(&mut self, now: Instant) {
        self.dirty = true;
        self.changed_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(annotation: &EpisodeAnnotation) -> Vec<(String, f64, f64)> {
        annotation.stages.iter().map(|s| (s.stage.name().to_owned(), s.start_s, s.end_s)).collect()
    }

    #[test]
    fn labelling_a_span_cuts_and_splits_what_it_overlaps() {
        let mut a = EpisodeAnnotation::default();
        a.label_span("approach", 0.0, 4.0);
        a.label_span("lift", 6.0, 8.0);
        a.label_span("grasp", 3.0, 7.0);
        assert_eq!(
            segments(&a),
            vec![("approach".into(), 0.0, 3.0), ("grasp".into(), 3.0, 7.0), ("lift".into(), 7.0, 8.0)]
        );
        a.label_span("rotate", 7.5, 5.0); // reversed ends are fine
        assert_eq!(
            segments(&a)[1..],
            [("grasp".into(), 3.0, 5.0), ("rotate".into(), 5.0, 7.5), ("lift".into(), 7.5, 8.0)]
        );
        a.label_span("move", 1.0, 2.0);
        assert_eq!(
            segments(&a)[..3],
            [("approach".into(), 0.0, 1.0), ("move".into(), 1.0, 2.0), ("approach".into(), 2.0, 3.0)]
        );
        assert_eq!(a.stage_at(1.5), Some(1));
        assert_eq!(a.stage_at(9.0), None);
        a.clear_span(0.0, 100.0);
        assert!(a.stages.is_empty());
    }

    #[test]
    fn undo_and_redo_walk_the_edits_and_typing_is_one_step() {
        let mut history = AnnotationHistory::new(EpisodeAnnotation::default());
        history.edit(None, |a| a.label_span("grasp", 1.0, 2.0));
        for text in ["l", "le", "lef", "left"] {
            history.edit(Some("direction"), |a| a.constraints.direction = text.into());
        }
        history.edit(None, |a| a.outcome = Outcome::Success);
        assert!(history.dirty);
        assert!(history.undo());
        assert_eq!(history.current.outcome, Outcome::Unlabelled);
        assert!(history.undo());
        assert_eq!(history.current.constraints.direction, "", "the typed word is one step");
        assert_eq!(history.current.stages.len(), 1);
        assert!(history.redo());
        assert_eq!(history.current.constraints.direction, "left");
        history.edit(None, |a| a.flagged = true);
        assert!(!history.can_redo(), "a new edit drops the redo branch");
        history.edit(None, |a| a.flagged = true);
        assert!(history.undo());
        assert!(!history.current.flagged, "an edit that changes nothing is no undo step");
    }

    #[test]
    fn annotations_survive_a_round_trip_and_a_corrupt_file_is_kept_aside() {
        let dir = std::env::temp_dir().join(format!("kinedesk-annotation-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("episodes")).unwrap();
        let log = dir.join("episodes/episode_000000.kdlog");
        std::fs::write(&log, b"log").unwrap();
        assert!(load_annotation(&log).unwrap().is_none());
        let mut a = EpisodeAnnotation { instruction: "lift the mug".into(), ..EpisodeAnnotation::default() };
        a.constraints.object_part = "handle".into();
        a.label_span("lift", 0.5, 1.5);
        a.trim = Some((0.2, 3.0));
        save_annotation(&log, &a).unwrap();
        assert_eq!(load_annotation(&log).unwrap(), Some(a.clone()));
        assert_eq!(a.constraints.lines(), vec!["object part: handle".to_owned()]);

        std::fs::write(annotation_path(&log), b"{\"instruction\": 3").unwrap();
        let error = load_annotation(&log).unwrap_err().to_string();
        assert!(error.contains("not a valid annotation") && error.contains("corrupt-"), "{error}");
        assert!(!annotation_path(&log).exists());
        let kept = std::fs::read_dir(dir.join("episodes")).unwrap().filter_map(Result::ok).any(|e| {
            e.file_name().to_string_lossy().contains("corrupt-")
                && std::fs::read(e.path()).unwrap() == b"{\"instruction\": 3"
        });
        assert!(kept, "the corrupt file is kept, not deleted");

        save_annotation(&log, &a).unwrap();
        let trashed = trash_episode(&dir, &log).unwrap();
        assert!(!log.exists() && trashed.exists() && annotation_path(&trashed).exists());
        restore_episode(&dir, "episode_000000.kdlog").unwrap();
        assert!(log.exists());
        assert_eq!(load_annotation(&log).unwrap(), Some(a));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn filters_match_text_outcome_flag_and_stage() {
        let mut a = EpisodeAnnotation { instruction: "Lift the MUG".into(), ..EpisodeAnnotation::default() };
        assert!(a.matches("") && a.matches("mug") && !a.matches("plate"));
        a.flagged = true;
        a.outcome = Outcome::Failure;
        a.label_span("grasp", 0.0, 1.0);
        assert!(a.matches("flagged") && a.matches("failure") && a.matches("grasp") && !a.matches("success"));
    }

    #[test]
    fn constraint_keys_parse_like_the_reasoning_writes_them() {
        assert_eq!(ConstraintKind::from_name("Object part"), Some(ConstraintKind::ObjectPart));
        assert_eq!(ConstraintKind::from_name("target_relation"), Some(ConstraintKind::TargetRelation));
        assert_eq!(ConstraintKind::from_name("orientation"), Some(ConstraintKind::Rotation));
        assert_eq!(ConstraintKind::from_name("colour"), None);
    }
}
