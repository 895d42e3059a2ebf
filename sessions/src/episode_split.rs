//! Splitting a recorded episode in two at a moment (an operator recorded two demonstrations in one take, or wants the
//! failed first attempt apart from the good second one). The log is append-only and never rewritten: the split
//! writes two new logs (every record before the cut into the first, every record from it into the second, the
//! metadata into both, each with its own end record and counts), splits the annotation with them, and moves the
//! original into the session's `trash/`. [`undo_split`] puts it back and moves the two halves to the trash.

use std::path::{Path, PathBuf};

use kinedesk_core::Timestamp;

use crate::annotation::{EpisodeAnnotation, Outcome, read_annotation, restore_episode, save_annotation, trash_episode};
use crate::episode::{SessionDir, SessionError};
use crate::episode_log::{LogWriter, RecordKind, RecordStream};
use crate::recorder::EpisodeCounts;

/// What a split did: the original's name (now in the trash) and the two new episodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub original: String,
    pub first: PathBuf,
    pub second: PathBuf,
}

fn format_error(path: &Path, message: impl Into<String>) -> SessionError {
    SessionError::Format { path: path.display().to_string(), message: message.into() }
}

fn io_error(path: &Path, error: &dyn std::fmt::Display) -> SessionError {
    SessionError::Io { path: path.display().to_string(), message: error.to_string() }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A half being written.
struct Half {
    path: PathBuf,
    log: LogWriter,
    counts: EpisodeCounts,
    records: u64,
}

impl Half {
    fn create(path: PathBuf) -> Result<Self, SessionError> {
        let log = LogWriter::create(&path).map_err(|e| io_error(&path, &e))?;
        Ok(Self { path, log, counts: EpisodeCounts::default(), records: 0 })
    }

    fn write(&mut self, kind: RecordKind, time: Timestamp, payload: &[u8]) -> Result<(), SessionError> {
        self.log.write(kind, time, payload).map_err(|e| io_error(&self.path, &e))?;
        if kind != RecordKind::Meta {
            self.counts.count(kind, time, payload);
            self.records += 1;
        }
        Ok(())
    }

    fn finish(mut self, original: &str, part: u8, time: Timestamp) -> Result<PathBuf, SessionError> {
        let end = serde_json::json!({
            "type": "end",
            "kept": true,
            "split_from": original,
            "part": part,
            "summary": self.counts,
        });
        self.log.write(RecordKind::End, time, end.to_string().as_bytes()).map_err(|e| io_error(&self.path, &e))?;
        self.log.sync().map_err(|e| io_error(&self.path, &e))?;
        Ok(self.path)
    }
}

/// The annotation of the part `[from, to)` seconds of an episode annotated with `annotation`, on the part's own
/// clock (whose 0 is at `shift` seconds of the episode's): stages cut at the ends (keeping their source), the trim
/// likewise; the instruction, constraints, notes and flag kept; the outcome left to be judged again (it was the
/// whole take's).
fn part_annotation(annotation: &EpisodeAnnotation, from: f64, to: f64, shift: f64) -> EpisodeAnnotation {
    let clip = |start: f64, end: f64| -> Option<(f64, f64)> {
        let (start, end) = ((start.max(from) - shift).max(0.0), end.min(to) - shift);
        (end > start).then_some((start, end))
    };
    let mut part = annotation.clone();
    part.stages = annotation
        .stages
        .iter()
        .filter_map(|stage| {
            let (start_s, end_s) = clip(stage.start_s, stage.end_s)?;
            Some(crate::annotation::StageSegment { start_s, end_s, ..stage.clone() })
        })
        .collect();
    part.trim = annotation.trim.and_then(|(start, end)| clip(start, end));
    part.outcome = Outcome::default();
    part
}

/// Splits the episode `log` of `session` at `at_s` seconds of its clock (from its first frame, joint state or event,
/// as the timeline, the annotations and the exports count). The two halves get the next free episode numbers; the
/// original goes to the trash. Reads the log twice (once for its clock, once to copy it) and holds one record.
pub fn split_episode(session: &SessionDir, log: &Path, at_s: f64) -> Result<Split, SessionError> {
    let origin = crate::episode::read_episode_without_images(log)?.span().0;
    let mut stream = RecordStream::open(log).map_err(|e| io_error(log, &e))?;
    let annotation = read_annotation(log).map_err(|e| format_error(log, e.to_string()))?;
    let next = session.next_episode_number()?;
    let (first, second) = (session.episode_path(next), session.episode_path(next + 1));
    let second_origin = match write_halves(&mut stream, log, origin, at_s, [first.clone(), second.clone()]) {
        Ok(time) => time,
        Err(error) => {
            let _ = std::fs::remove_file(&first);
            let _ = std::fs::remove_file(&second);
            return Err(error);
        }
    };
    if let Some(annotation) = &annotation {
        // The second part runs to the end of the take; its clock starts at its own first record.
        let shift = second_origin.saturating_since(origin).as_secs_f64();
        for (path, (from, to, shift)) in [(&first, (0.0, at_s, 0.0)), (&second, (at_s, f64::INFINITY, shift))] {
            save_annotation(path, &part_annotation(annotation, from, to, shift))
                .map_err(|e| format_error(path, e.to_string()))?;
        }
    }
    trash_episode(&session.root, log)?;
    Ok(Split { original: file_name(log), first, second })
}

/// Copies the records of `stream` into the two halves: those before `origin` + `at_s` into the first. Returns the
/// second half's first frame, joint state or event time (its clock's 0).
fn write_halves(
    stream: &mut RecordStream,
    log: &Path,
    origin: Timestamp,
    at_s: f64,
    paths: [PathBuf; 2],
) -> Result<Timestamp, SessionError> {
    let original = file_name(log);
    let read = |stream: &mut RecordStream| stream.next_record().map_err(|e| io_error(log, &e));
    let meta = match read(stream)? {
        Some(record) if record.kind == RecordKind::Meta => record,
        _ => return Err(format_error(log, "the episode has no metadata record")),
    };
    if !(at_s.is_finite() && at_s > 0.0) {
        return Err(format_error(log, format!("cannot split at {at_s} s: the cut must fall inside the episode")));
    }
    let cut = Timestamp::from_nanos(origin.as_nanos().saturating_add((at_s * 1e9).round() as u64));
    let [first_path, second_path] = paths;
    let mut first = Half::create(first_path)?;
    first.write(RecordKind::Meta, meta.time, &meta.payload)?;
    let mut second: Option<Half> = None;
    let mut last = origin;
    let mut second_origin: Option<Timestamp> = None;
    while let Some(record) = read(stream)? {
        if record.kind == RecordKind::End {
            continue;
        }
        last = last.max(record.time);
        if record.time < cut {
            first.write(record.kind, record.time, &record.payload)?;
        } else {
            let half = match &mut second {
                Some(half) => half,
                None => {
                    // The second half's clock starts at the cut: its metadata record is stamped there.
                    let mut half = Half::create(second_path.clone())?;
                    half.write(RecordKind::Meta, cut, &meta.payload)?;
                    second.insert(half)
                }
            };
            half.write(record.kind, record.time, &record.payload)?;
            if matches!(record.kind, RecordKind::CameraFrame | RecordKind::JointState | RecordKind::Event) {
                second_origin = Some(second_origin.map_or(record.time, |t| t.min(record.time)));
            }
        }
    }
    let (Some(second), true) = (second, first.records > 0) else {
        let length = last.as_nanos().saturating_sub(origin.as_nanos()) as f64 / 1e9;
        return Err(format_error(
            log,
            format!("cannot split at {at_s:.2} s: the cut must fall inside the episode (0 to {length:.2} s)"),
        ));
    };
    let end_of_first = first.counts.last_ns.map_or(cut, Timestamp::from_nanos);
    first.finish(&original, 1, end_of_first)?;
    second.finish(&original, 2, last)?;
    Ok(second_origin.unwrap_or(cut))
}

/// Undoes `split`: its two halves go to the trash, the original comes back.
pub fn undo_split(session: &SessionDir, split: &Split) -> Result<PathBuf, SessionError> {
    for half in [&split.first, &split.second] {
        if half.exists() {
            trash_episode(&session.root, half)?;
        }
    }
    restore_episode(&session.root, &split.original)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::{StageSegment, StageSource, annotation_path};
    use crate::episode::read_episode;
    use crate::recorder::{EpisodeMeta, encoded_frame_payload, joint_payload};

    /// A 2-second episode: one camera at 10 fps, joints at 50 Hz (position = time), an event at 1.5 s.
    fn recorded(session: &SessionDir) -> PathBuf {
        let log_path = session.next_episode_path().unwrap();
        let mut log = LogWriter::create(&log_path).unwrap();
        let at = |s: f64| Timestamp::from_nanos(1_000_000_000 + (s * 1e9).round() as u64);
        let meta = EpisodeMeta {
            task: "wave twice".into(),
            robot: "panda".into(),
            joint_names: vec!["j1".into()],
            cameras: vec!["cam".into()],
            fps: 10.0,
            unmeasured: Vec::new(),
            started_unix_s: 0.0,
        };
        log.write(RecordKind::Meta, at(0.0), serde_json::to_string(&meta).unwrap().as_bytes()).unwrap();
        for k in 0..100u32 {
            let t = f64::from(k) * 0.02;
            log.write(RecordKind::JointState, at(t), &joint_payload(&[t], &[0.0], 0.0)).unwrap();
            if k % 5 == 0 {
                let frame = encoded_frame_payload(0, 4, 4, u64::from(k / 5), &[k as u8; 8]);
                log.write(RecordKind::CameraFrame, at(t), &frame).unwrap();
            }
        }
        log.write(RecordKind::Event, at(1.5), br#"{"type":"note","text":"second wave"}"#).unwrap();
        log.write(RecordKind::End, at(2.0), br#"{"type":"end","kept":true}"#).unwrap();
        log.sync().unwrap();
        log_path
    }

    #[test]
    fn an_episode_splits_at_a_moment_into_two_with_their_annotations_and_the_split_undoes() {
        let root = std::env::temp_dir().join(format!("kinedesk-split-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let session = SessionDir::open_or_create(&root, "panda").unwrap();
        let log = recorded(&session);
        let stage = |stage: &str, start_s, end_s, source| StageSegment { stage: stage.into(), start_s, end_s, source };
        let annotation = EpisodeAnnotation {
            instruction: "wave twice".into(),
            stages: vec![
                stage("approach", 0.0, 0.6, StageSource::Operator),
                stage("lift", 0.6, 1.4, StageSource::Execution),
                stage("place", 1.4, 2.0, StageSource::Operator),
            ],
            outcome: Outcome::Success,
            trim: Some((0.2, 1.9)),
            ..EpisodeAnnotation::default()
        };
        save_annotation(&log, &annotation).unwrap();
        let original = std::fs::read(&log).unwrap();

        for bad in [0.0, -1.0, 2.5, f64::NAN] {
            let error = split_episode(&session, &log, bad).unwrap_err().to_string();
            assert!(error.contains("inside the episode"), "{bad}: {error}");
            assert_eq!(session.episode_paths().unwrap(), vec![log.clone()], "a refused split leaves nothing");
        }

        let split = split_episode(&session, &log, 1.0).unwrap();
        assert!(!log.exists() && root.join("trash/episode_000000.kdlog").exists());
        assert_eq!(session.episode_paths().unwrap(), vec![split.first.clone(), split.second.clone()]);
        let (a, b) = (read_episode(&split.first).unwrap(), read_episode(&split.second).unwrap());
        // Every record is in exactly one half, in order; both keep the metadata and are finished.
        assert_eq!((a.joints.len(), b.joints.len()), (50, 50));
        assert_eq!((a.frames.len(), b.frames.len()), (10, 10));
        assert_eq!((a.events.len(), b.events.len()), (0, 1));
        assert_eq!((a.meta.task.as_str(), b.meta.task.as_str()), ("wave twice", "wave twice"));
        assert!(a.joints.iter().all(|j| j.positions[0] < 1.0) && b.joints.iter().all(|j| j.positions[0] >= 1.0));
        assert!(a.end.is_some() && b.end.is_some());
        let listed = crate::episode::episode_summary(&split.second).unwrap();
        assert_eq!((listed.frames, listed.joint_states, listed.finished), (10, 50, true));

        // The annotation: stages cut at the split and on each half's clock, sources kept, the trim likewise; the
        // outcome was the whole take's.
        let first = read_annotation(&split.first).unwrap().unwrap();
        let second = read_annotation(&split.second).unwrap().unwrap();
        let spans = |a: &EpisodeAnnotation| -> Vec<(String, f64, f64, StageSource)> {
            a.stages
                .iter()
                .map(|s| {
                    (
                        s.stage.name().to_owned(),
                        (s.start_s * 1e6).round() / 1e6,
                        (s.end_s * 1e6).round() / 1e6,
                        s.source,
                    )
                })
                .collect()
        };
        assert_eq!(
            spans(&first),
            [("approach".into(), 0.0, 0.6, StageSource::Operator), ("lift".into(), 0.6, 1.0, StageSource::Execution)]
        );
        assert_eq!(
            spans(&second),
            [("lift".into(), 0.0, 0.4, StageSource::Execution), ("place".into(), 0.4, 1.0, StageSource::Operator)]
        );
        assert_eq!(
            (first.trim, first.outcome, second.instruction.as_str()),
            (Some((0.2, 1.0)), Outcome::Unlabelled, "wave twice")
        );
        let trim = second.trim.unwrap();
        assert!((trim.0 - 0.0).abs() < 1e-9 && (trim.1 - 0.9).abs() < 1e-6, "{trim:?}");

        let back = undo_split(&session, &split).unwrap();
        assert_eq!(back, log);
        assert_eq!(std::fs::read(&log).unwrap(), original);
        assert_eq!(read_annotation(&log).unwrap(), Some(annotation));
        assert_eq!(session.episode_paths().unwrap(), vec![log.clone()]);
        assert!(root.join("trash").join(file_name(&split.first)).exists());
        assert!(!annotation_path(&split.first).exists());

        // Between records: the second part's clock starts at its first record (the joint state at 1.02 s).
        let split = split_episode(&session, &log, 1.01).unwrap();
        let second = read_annotation(&split.second).unwrap().unwrap();
        assert_eq!(spans(&second)[0], ("lift".into(), 0.0, 0.38, StageSource::Execution));
        assert_eq!(spans(&read_annotation(&split.first).unwrap().unwrap())[1].2, 1.01);
        assert_eq!(read_episode(&split.second).unwrap().span().0, Timestamp::from_nanos(2_020_000_000));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
