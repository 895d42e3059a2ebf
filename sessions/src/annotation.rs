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

/// The action-level stages of KineVLA's reasoning, in the order they usually happen. Custom names are allowed too.
pub const STAGE_KINDS: [&str; 7] = ["approach", "grasp", "lift", "rotate", "move", "place", "release"];

/// The instruction-level constraints of KineVLA's reasoning, one structured field each (empty: not constrained).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Constraints {
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

/// One constraint field, named so that commands and the UI can address it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConstraintField {
    Direction,
    Distance,
    Rotation,
    Speed,
    ObjectPart,
    TargetRelation,
}

impl ConstraintField {
    pub const ALL: [Self; 6] =
        [Self::Direction, Self::Distance, Self::Rotation, Self::Speed, Self::ObjectPart, Self::TargetRelation];

    /// The key used in the reasoning text and in exports.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Direction => "direction",
            Self::Distance => "distance",
            Self::Rotation => "rotation",
            Self::Speed => "speed",
            Self::ObjectPart => "object part",
            Self::TargetRelation => "target relation",
        }
    }

    #[must_use]
    pub fn from_key(key: &str) -> Option<Self> {
        let key = key.trim().to_ascii_lowercase().replace('_', " ");
        Self::ALL.into_iter().find(|f| f.key() == key || (key == "orientation" && *f == Self::Rotation))
    }
}

impl Constraints {
    #[must_use]
    pub fn get(&self, field: ConstraintField) -> &str {
        match field {
            ConstraintField::Direction => &self.direction,
            ConstraintField::Distance => &self.distance,
            ConstraintField::Rotation => &self.rotation,
            ConstraintField::Speed => &self.speed,
            ConstraintField::ObjectPart => &self.object_part,
            ConstraintField::TargetRelation => &self.target_relation,
        }
    }

    pub fn get_mut(&mut self, field: ConstraintField) -> &mut String {
        match field {
            ConstraintField::Direction => &mut self.direction,
            ConstraintField::Distance => &mut self.distance,
            ConstraintField::Rotation => &mut self.rotation,
            ConstraintField::Speed => &mut self.speed,
            ConstraintField::ObjectPart => &mut self.object_part,
            ConstraintField::TargetRelation => &mut self.target_relation,
        }
    }

    /// The constraints that are set, as "key: value" lines (the form KineVLA's instruction-level reasoning takes).
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        ConstraintField::ALL
            .into_iter()
            .filter(|f| !self.get(*f).trim().is_empty())
            .map(|f| format!("{}: {}", f.key(), self.get(f).trim()))
            .collect()
    }
}

/// A stage of the action-level reasoning, as a time segment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageSegment {
    pub stage: String,
    pub start_s: f64,
    pub end_s: f64,
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
}

impl EpisodeAnnotation {
    /// A first annotation from what was recorded: the episode's task and the last reasoning the policy gave
    /// (instruction-level "key: value" lines become constraints; the action-level stages are spread over the time
    /// between the plan being sent and the end of the episode).
    #[must_use]
    pub fn seeded_from(episode: &Episode) -> Self {
        let mut annotation = Self { instruction: episode.meta.task.clone(), ..Self::default() };
        let (start, end) = episode.span();
        let seconds = |t: kinedesk_core::Timestamp| t.saturating_since(start).as_secs_f64();
        let duration = seconds(end);
        let kind = crate::episode::event_kind;
        let Some((reasoning_time, reasoning)) = episode.events.iter().rev().find(|(_, e)| kind(e) == "reasoning")
        else {
            return annotation;
        };
        let strings = |key: &str| crate::episode::event_strings(reasoning, key);
        for line in strings("instruction_level") {
            if let Some((key, value)) = line.split_once(':')
                && let Some(field) = ConstraintField::from_key(key)
            {
                // A constraint that applies to several stages (two distances, say) keeps every value.
                let slot = annotation.constraints.get_mut(field);
                if !slot.is_empty() {
                    slot.push_str("; ");
                }
                slot.push_str(value.trim());
            }
        }
        let stages: Vec<String> = strings("action_level")
            .iter()
            .map(|s| {
                let name = s.split([':', '(']).next().unwrap_or(s).trim();
                name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ').to_owned()
            })
            .filter(|s| !s.is_empty())
            .collect();
        let begin = episode
            .events
            .iter()
            .find(|(t, e)| *t >= *reasoning_time && kind(e) == "send")
            .map_or_else(|| seconds(*reasoning_time), |(t, _)| seconds(*t));
        if !stages.is_empty() && duration > begin {
            let step = (duration - begin) / stages.len() as f64;
            annotation.stages = stages
                .into_iter()
                .enumerate()
                .map(|(i, stage)| StageSegment {
                    stage,
                    start_s: begin + i as f64 * step,
                    end_s: begin + (i + 1) as f64 * step,
                })
                .collect();
        }
        annotation
    }

    /// Labels `[from, to]` as `stage`: segments it overlaps are cut back (or split) so the lane never overlaps.
    pub fn label_span(&mut self, stage: &str, from_s: f64, to_s: f64) {
        let (from, to) = (from_s.min(to_s), from_s.max(to_s));
        if to - from < 1e-6 {
            return;
        }
        self.clear_span(from, to);
        self.stages.push(StageSegment { stage: stage.to_owned(), start_s: from, end_s: to });
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
            || self.stages.iter().any(|s| s.stage.to_lowercase() == filter)
    }
}

/// Where the annotation of the episode log `log` is kept.
#[must_use]
pub fn annotation_path(log: &Path) -> PathBuf {
    log.with_extension("annotation.json")
}

/// Reads the annotation of an episode: `Ok(None)` if it has none yet. A corrupt file is renamed aside (kept, never
/// deleted) and reported.
pub fn load_annotation(log: &Path) -> Result<Option<EpisodeAnnotation>, AnnotationError> {
    let path = annotation_path(log);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(AnnotationError::Io { path: path.display().to_string(), message: error.to_string() }),
    };
    match serde_json::from_str(&text) {
        Ok(annotation) => Ok(Some(annotation)),
        Err(error) => {
            let kept = path.with_extension(format!(
                "json.corrupt-{}",
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
            ));
            let _ = std::fs::rename(&path, &kept);
            Err(AnnotationError::Corrupt {
                path: path.display().to_string(),
                message: error.to_string(),
                kept: kept.display().to_string(),
            })
        }
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
        annotation.stages.iter().map(|s| (s.stage.clone(), s.start_s, s.end_s)).collect()
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
        assert_eq!(ConstraintField::from_key("Object part"), Some(ConstraintField::ObjectPart));
        assert_eq!(ConstraintField::from_key("target_relation"), Some(ConstraintField::TargetRelation));
        assert_eq!(ConstraintField::from_key("orientation"), Some(ConstraintField::Rotation));
        assert_eq!(ConstraintField::from_key("colour"), None);
    }
}
