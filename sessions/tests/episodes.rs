//! The sessions crate on its own: an episode recorded through `SessionRecorder` as the app and the headless
//! recorder do (camera frames, driver states with what was commanded, a plan's stages followed through the driver's
//! progress), then listed, read back, damaged, annotated, discarded and restored, exported and imported again.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kinedesk_core::Timestamp;
use kinedesk_core::driver::{CommandSource, Commanded, JointState, PlanProgress};
use kinedesk_core::frame::Frame;
use kinedesk_core::vocab::{ConstraintKind, StageKind};
use kinedesk_sessions::annotation::{EpisodeAnnotation, StageSource, restore_episode, save_annotation};
use kinedesk_sessions::episode::{SessionDir, episode_summary, read_episode};
use kinedesk_sessions::events::TimelineEvent;
use kinedesk_sessions::lerobot::export_lerobot_v3;
use kinedesk_sessions::lerobot_import::import_lerobot;
use kinedesk_sessions::recorder::EpisodeMeta;
use kinedesk_sessions::session_recorder::{EpisodeEnd, SessionRecorder};

const JOINTS: usize = 7;
/// 2 s of recording: 60 frames a camera at 30 fps, 200 states at 100 Hz.
const STATES: usize = 200;
const FRAMES: usize = 60;
/// The plan's stages over its 200 steps.
const STAGES: [(StageKind, std::ops::Range<usize>); 3] =
    [(StageKind::Approach, 0..80), (StageKind::Grasp, 80..120), (StageKind::Lift, 120..200)];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kinedesk-sessions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn meta() -> EpisodeMeta {
    EpisodeMeta {
        task: "lift the mug 10 cm".into(),
        robot: "panda".into(),
        joint_names: (1..=JOINTS).map(|j| format!("joint{j}")).collect(),
        cameras: vec!["front".into(), "wrist".into()],
        fps: 30.0,
        unmeasured: Vec::new(),
        started_unix_s: 1_800_000_000.0,
    }
}

fn frame(camera: u16, sequence: u64, at: Timestamp) -> Arc<Frame> {
    let (width, height) = (64u32, 48u32);
    let shade = (sequence * 4 % 256) as u8;
    let rgba: Vec<u8> = (0..width * height).flat_map(|i| [shade, (i % 256) as u8, camera as u8 * 100, 255]).collect();
    Arc::new(Frame {
        source: format!("camera {camera}").into(),
        sequence,
        captured: at,
        width,
        height,
        source_format: "RGB (synthetic)".into(),
        rgba: Arc::new(rgba),
        decode_us: 0,
        display: None,
    })
}

/// The joint position the plan commands at step `step`, and where the arm is (10 ms behind).
fn commanded_at(step: usize) -> Vec<f64> {
    (0..JOINTS).map(|j| 0.001 * step as f64 * (j + 1) as f64).collect()
}

fn gripper_at(step: usize) -> f64 {
    if step < 100 { 1.0 } else { 0.0 }
}

/// Records one episode into `session` with a clock starting at `origin`; returns its log.
fn record(session: &Path, origin: Timestamp, end: EpisodeEnd) -> PathBuf {
    record_with(session, origin, end, &|_| CommandSource::Plan { id: 7 }, &[], &|_, _| false)
}

/// Records one episode whose command at each step came from `source`, with `events` on its timeline; a camera
/// drops the frames `dropped(camera, frame)` says (it never delivers them).
fn record_with(
    session: &Path,
    origin: Timestamp,
    end: EpisodeEnd,
    source: &dyn Fn(usize) -> CommandSource,
    events: &[TimelineEvent],
    dropped: &dyn Fn(u16, usize) -> bool,
) -> PathBuf {
    let dir = SessionDir::open_or_create(session, "panda").unwrap();
    let path = dir.next_episode_path().unwrap();
    let recorder = SessionRecorder::start(&path, &meta(), None).unwrap();
    for event in events {
        recorder.event(event);
    }
    recorder.track_stages(7, STAGES.to_vec());
    recorder.event(&TimelineEvent::Reasoning {
        instruction_level: vec!["direction: up".into(), "distance: 10 cm".into()],
        action_level: vec!["approach".into(), "grasp".into(), "lift".into()],
        action_tokens: Vec::new(),
    });
    let at = |ms: f64| Timestamp::from_nanos(origin.as_nanos() + (ms * 1e6) as u64);
    let mut next_frame = 0;
    for step in 0..STATES {
        let time_ms = step as f64 * 10.0;
        while next_frame < FRAMES && next_frame as f64 * 1000.0 / 30.0 <= time_ms {
            let when = at(next_frame as f64 * 1000.0 / 30.0);
            // Frames come as fast as this loop runs, not at 30 fps: on a loaded machine (the suite runs tests side by
            // side) the encoders could fall behind and the recorder would drop by design. Wait as a camera would.
            while recorder.backlog() > 0.5 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            for camera in (0..2).filter(|c| !dropped(*c, next_frame)) {
                recorder.frame(
                    camera,
                    if camera == 0 { "front" } else { "wrist" },
                    &frame(camera, next_frame as u64, when),
                );
            }
            next_frame += 1;
        }
        let measured = commanded_at(step.saturating_sub(1));
        recorder.joint_state(&JointState {
            at: at(time_ms),
            velocities: vec![0.1; JOINTS],
            positions: measured,
            gripper: gripper_at(step.saturating_sub(1)),
            moving: true,
            commanded: Some(Commanded { joints: commanded_at(step), gripper: gripper_at(step), source: source(step) }),
            progress: Some(PlanProgress { plan_id: 7, item: 0, items: 1, step, steps: STATES }),
        });
    }
    // The driver reports the arm at rest: the last stage ends.
    recorder.joint_state(&JointState {
        at: at(STATES as f64 * 10.0),
        positions: commanded_at(STATES - 1),
        velocities: vec![0.0; JOINTS],
        gripper: 0.0,
        moving: false,
        commanded: None,
        progress: None,
    });
    let (log, stats) = recorder.finish(end).unwrap();
    assert_eq!(stats.frames_dropped, 0);
    assert_eq!(stats.records_dropped, 0);
    log
}

#[test]
fn a_recorded_episode_reads_back_with_commanded_actions_and_the_stages_as_executed() {
    let session = scratch("record");
    let origin = Timestamp::now();
    let log = record(&session, origin, EpisodeEnd::Keep);

    let episode = read_episode(&log).unwrap();
    assert_eq!(episode.meta, meta());
    assert!(episode.end.is_some() && episode.torn_tail.is_none() && episode.skipped.is_empty());
    assert_eq!(episode.frames.len(), 2 * FRAMES);
    assert_eq!(episode.camera_frames(1).count(), FRAMES);
    assert_eq!(episode.joints.len(), STATES + 1);
    // One action per commanded tick: the commanded joints and gripper, not the next measured state.
    assert_eq!(episode.actions.len(), STATES);
    for (step, action) in episode.actions.iter().enumerate() {
        let mut expected = commanded_at(step);
        expected.push(gripper_at(step));
        assert_eq!(action.values, expected, "action {step}");
        assert_eq!(action.time, episode.joints[step].time, "stamped with the state it was commanded at");
    }

    // The stages, stamped with when the driver reached and left them.
    let executed: Vec<(StageKind, usize, usize, u64, u64)> = episode
        .events
        .iter()
        .filter_map(|(_, raw)| match TimelineEvent::from_json(raw) {
            Some(TimelineEvent::StageExecuted { stage, first_step, last_step, start_ns, end_ns }) => Some((
                stage,
                first_step,
                last_step,
                (start_ns - origin.as_nanos()) / 1_000_000,
                (end_ns - origin.as_nanos()) / 1_000_000,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        executed,
        [
            (StageKind::Approach, 0, 79, 0, 800),
            (StageKind::Grasp, 80, 119, 800, 1200),
            (StageKind::Lift, 120, 199, 1200, 2000)
        ]
    );

    // A first annotation takes those spans (from execution) and the reasoning's constraints; nothing invented.
    let annotation = EpisodeAnnotation::seeded_from(&episode);
    let spans: Vec<(f64, f64, StageSource)> =
        annotation.stages.iter().map(|s| (s.start_s, s.end_s, s.source)).collect();
    assert_eq!(spans.len(), 3);
    for ((start, end, source), expected) in spans.iter().zip([(0.0, 0.8), (0.8, 1.2), (1.2, 2.0)]) {
        assert!((start - expected.0).abs() < 1e-6 && (end - expected.1).abs() < 1e-6, "{spans:?}");
        assert_eq!(*source, StageSource::Execution);
    }
    assert_eq!(annotation.constraints.get(ConstraintKind::Distance), "10 cm");
    assert_eq!(annotation.constraints.get(ConstraintKind::Direction), "up");
    assert_eq!(annotation.constraints.get(ConstraintKind::Speed), "", "nothing the reasoning did not say");

    // Listing reads the end record's counts, not the whole log.
    let summary = episode_summary(&log).unwrap();
    assert!(summary.finished);
    assert_eq!(summary.frames, 2 * FRAMES as u64);
    assert_eq!(summary.joint_states, STATES as u64 + 1);
    assert!((summary.duration_s - 2.0).abs() < 0.05, "{}", summary.duration_s);
    std::fs::remove_dir_all(&session).unwrap();
}

#[test]
fn an_exported_rollout_says_per_frame_which_chunk_was_in_force_and_when_the_operator_took_over() {
    use arrow_array::Array as _;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let session = scratch("rollout-columns");
    const CHUNK_PLAN: u64 = (1 << 40) + 3;
    // Steps 0..100: chunk 3 of a rollout; 100..150: the operator's teleop; then a plan that is no chunk.
    let source = |step: usize| match step {
        0..100 => CommandSource::Plan { id: CHUNK_PLAN },
        100..150 => CommandSource::Teleop,
        _ => CommandSource::Plan { id: 7 },
    };
    let chunk = TimelineEvent::RolloutChunk {
        index: 3,
        plan_id: Some(CHUNK_PLAN),
        decision: "approved".into(),
        inference_ms: 12.0,
        planned_steps: 100,
        executed_steps: 100,
        instruction_level: Vec::new(),
        action_level: vec!["lift".into()],
        action_tokens: Vec::new(),
        violations: Vec::new(),
        after_intervention: false,
    };
    let log = record_with(&session, Timestamp::now(), EpisodeEnd::Keep, &source, &[chunk], &|_, _| false);
    let episode = read_episode(&log).unwrap();
    assert_eq!(episode.actions[0].source, Some(CommandSource::Plan { id: CHUNK_PLAN }));
    assert_eq!(episode.actions[120].source, Some(CommandSource::Teleop));

    let dataset = session.with_extension("lerobot");
    let _ = std::fs::remove_dir_all(&dataset);
    export_lerobot_v3(&session, &dataset, |_, _| {}).unwrap();
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dataset.join("meta/info.json")).unwrap()).unwrap();
    assert_eq!(info["features"]["rollout.chunk_index"]["dtype"], "int64");
    assert_eq!(info["features"]["is_intervention"]["dtype"], "bool");
    let file = std::fs::File::open(dataset.join("data/chunk-000/file-000.parquet")).unwrap();
    let batch = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().next().unwrap().unwrap();
    let chunks = batch.column_by_name("rollout.chunk_index").unwrap();
    let chunks = chunks.as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
    let teleop = batch.column_by_name("is_intervention").unwrap();
    let teleop = teleop.as_any().downcast_ref::<arrow_array::BooleanArray>().unwrap();
    // `action` is the command in force at each frame (the latest at or before it), not a later state.
    let actions = batch.column_by_name("action").unwrap();
    let actions = actions.as_any().downcast_ref::<arrow_array::FixedSizeListArray>().unwrap();
    let commanded = batch.column_by_name("is_commanded").unwrap();
    let commanded = commanded.as_any().downcast_ref::<arrow_array::BooleanArray>().unwrap();
    assert_eq!(info["features"]["is_commanded"]["dtype"], "bool");
    for k in 0..actions.len() {
        assert!(commanded.value(k), "frame {k}: a command was in force");
        let step = (k as f64 * 1000.0 / 30.0 / 10.0 + 1e-9).floor() as usize;
        let mut expected: Vec<f32> = commanded_at(step).iter().map(|v| *v as f32).collect();
        expected.push(gripper_at(step) as f32);
        let row = actions.value(k);
        let row = row.as_any().downcast_ref::<arrow_array::Float32Array>().unwrap();
        assert_eq!(row.values().to_vec(), expected, "frame {k} (step {step})");
    }
    // Frames at 30 fps over 10 ms ticks: frame k is at tick ~3.33 k.
    for k in 0..chunks.len() {
        let step = (k as f64 * 1000.0 / 30.0 / 10.0).round() as usize;
        let (chunk, intervention) = (chunks.value(k), teleop.value(k));
        match step {
            2..98 => assert_eq!((chunk, intervention), (3, false), "frame {k}"),
            102..148 => assert_eq!((chunk, intervention), (-1, true), "frame {k}"),
            152..198 => assert_eq!((chunk, intervention), (-1, false), "frame {k}"),
            _ => {}
        }
    }
    for dir in [&session, &dataset] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn exported_frames_are_on_the_capture_clock_and_a_dropped_camera_frame_shifts_nothing() {
    use kinedesk_sessions::lerobot::{ExportOptions, StaleFrames, export_lerobot};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let session = scratch("capture-clock");
    // The front camera (the first, which starts the clock) drops frame 40; the wrist camera frames 20 to 24.
    let dropped = |camera: u16, frame: usize| match camera {
        0 => frame == 40,
        _ => (20..25).contains(&frame),
    };
    let source = |_| CommandSource::Plan { id: 7 };
    let log = record_with(&session, Timestamp::now(), EpisodeEnd::Keep, &source, &[], &dropped);
    let episode = read_episode(&log).unwrap();
    assert_eq!(episode.camera_frames(0).count(), FRAMES - 1);

    let dataset = session.with_extension("lerobot");
    let _ = std::fs::remove_dir_all(&dataset);
    let summary = export_lerobot(&session, &dataset, ExportOptions::default(), |_, _| {}).unwrap();
    // One dataset frame per period from the first frame to the last: the drop leaves a frame, not a shift.
    assert_eq!(summary.frames, FRAMES);
    let stale = |camera: &str, stale: u64| StaleFrames {
        episode: "episode_000000.kdlog".into(),
        camera: camera.into(),
        stale,
        frames: FRAMES as u64,
    };
    assert_eq!(summary.stale_frames, vec![stale("front", 1), stale("wrist", 5)]);
    let file = std::fs::File::open(dataset.join("data/chunk-000/file-000.parquet")).unwrap();
    let batch = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().next().unwrap().unwrap();
    let timestamps = batch.column_by_name("timestamp").unwrap();
    let timestamps = timestamps.as_any().downcast_ref::<arrow_array::Float32Array>().unwrap();
    for (k, t) in timestamps.values().iter().enumerate() {
        assert!((f64::from(*t) - k as f64 / 30.0).abs() < 1e-5, "frame {k} at {t} s");
    }
    // Frame 41 of the front camera is dataset frame 41 (a frame counter would have made it 40).
    let images = batch.column_by_name("observation.images.front").unwrap();
    let images = images.as_any().downcast_ref::<arrow_array::StructArray>().unwrap();
    let bytes = images.column_by_name("bytes").unwrap();
    let bytes = bytes.as_any().downcast_ref::<arrow_array::BinaryArray>().unwrap();
    let recorded = |sequence: u64| &episode.camera_frames(0).find(|f| f.sequence == sequence).unwrap().jpeg;
    assert_eq!(bytes.value(41), recorded(41).as_slice());
    assert_eq!(bytes.value(39), recorded(39).as_slice());
    // The metadata says which camera missed how many frames in which episode.
    let file = std::fs::File::open(dataset.join("meta/episodes/chunk-000/file-000.parquet")).unwrap();
    let meta = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().next().unwrap().unwrap();
    for (camera, expected) in [("front", 1), ("wrist", 5)] {
        let column = meta.column_by_name(&format!("kinedesk/stale_frames/observation.images.{camera}")).unwrap();
        assert_eq!(column.as_any().downcast_ref::<arrow_array::Int64Array>().unwrap().value(0), expected);
    }
    std::fs::remove_dir_all(&dataset).unwrap();
    std::fs::remove_dir_all(&session).unwrap();
}

#[test]
fn a_damaged_stretch_in_the_middle_of_a_log_loses_only_itself() {
    let session = scratch("damaged");
    let log = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let whole = read_episode(&log).unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0xA5);
    std::fs::write(&log, &bytes).unwrap();

    let damaged = read_episode(&log).unwrap();
    assert_eq!(damaged.skipped.len(), 1, "{:?}", damaged.skipped);
    assert!(damaged.skipped[0].bytes >= 4096, "{:?}", damaged.skipped);
    assert!(damaged.end.is_some(), "the end record after the damage is still read");
    let lost_frames = whole.frames.len() - damaged.frames.len();
    let lost_states = whole.joints.len() - damaged.joints.len();
    assert!(lost_frames + lost_states > 0, "the damage hit something");
    // 4 kB holds at most a few 64×48 JPEG frames and a few dozen states.
    assert!(lost_frames <= 4 && lost_states <= 60, "{lost_frames} frames, {lost_states} states lost");
    let last_state = |e: &kinedesk_sessions::episode::Episode| e.joints.last().map(|j| j.time);
    assert_eq!(last_state(&damaged), last_state(&whole), "everything after the damage is kept");
    std::fs::remove_dir_all(&session).unwrap();
}

#[test]
fn a_discarded_episode_goes_to_the_trash_and_comes_back() {
    let session = scratch("trash");
    let kept = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let discarded = record(&session, Timestamp::now(), EpisodeEnd::Discard);
    let dir = SessionDir::open(&session).unwrap();
    assert_eq!(dir.episode_paths().unwrap(), std::slice::from_ref(&kept));
    let name = discarded.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(session.join("trash").join(&name).exists());
    // The next episode never takes the name of one in the trash.
    assert_ne!(dir.next_episode_path().unwrap(), discarded);
    let restored = restore_episode(&session, &name).unwrap();
    assert_eq!(restored, discarded);
    assert_eq!(dir.episode_paths().unwrap().len(), 2);
    assert_eq!(read_episode(&restored).unwrap().frames.len(), 2 * FRAMES);
    std::fs::remove_dir_all(&session).unwrap();
}

#[test]
fn an_exported_session_imports_back_with_its_frames_states_and_labels() {
    let session = scratch("roundtrip");
    let log = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let annotation = EpisodeAnnotation::seeded_from(&read_episode(&log).unwrap());
    save_annotation(&log, &annotation).unwrap();

    let dataset = session.with_extension("lerobot");
    let _ = std::fs::remove_dir_all(&dataset);
    let mut progress = Vec::new();
    let summary = export_lerobot_v3(&session, &dataset, |done, total| progress.push((done, total))).unwrap();
    assert_eq!((summary.episodes, summary.frames), (1, FRAMES));
    assert_eq!(progress.last(), Some(&(1, 1)));
    // The folder must be new: an export never writes over a dataset.
    assert!(export_lerobot_v3(&session, &dataset, |_, _| {}).is_err());

    let imported = session.with_extension("imported");
    let _ = std::fs::remove_dir_all(&imported);
    let result = import_lerobot(&dataset, &imported, |_, _| {}).unwrap();
    assert_eq!((result.episodes, result.frames), (1, FRAMES));
    assert_eq!(result.cameras, ["front", "wrist"]);
    let episode = read_episode(&result.episode_paths[0]).unwrap();
    assert_eq!(episode.frames.len(), 2 * FRAMES);
    assert_eq!(episode.joints.len(), FRAMES);
    assert_eq!(episode.meta.task, "lift the mug 10 cm");
    // States survive to f32 precision.
    let original = read_episode(&log).unwrap();
    let first = &episode.joints[0];
    let nearest = original.joints.iter().min_by_key(|j| j.time.as_nanos().abs_diff(original.frames[0].time.as_nanos()));
    for (a, b) in first.positions.iter().zip(&nearest.unwrap().positions) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let labels = kinedesk_sessions::annotation::load_annotation(&result.episode_paths[0]).unwrap().unwrap();
    let stages: Vec<_> = labels.stages.iter().map(|s| (s.stage.to_string(), s.source)).collect();
    assert_eq!(stages.len(), 3, "{stages:?}");
    assert!(stages.iter().all(|(_, source)| *source == StageSource::Imported), "{stages:?}");
    for dir in [&session, &dataset, &imported] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Rewrites column `name` of every data file of `dataset` with `change` (a damaged or hand-edited dataset).
fn rewrite_column(dataset: &Path, name: &str, change: &dyn Fn(&arrow_array::ArrayRef) -> arrow_array::ArrayRef) {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = dataset.join("data/chunk-000/file-000.parquet");
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap().build().unwrap();
    let batches: Vec<arrow_array::RecordBatch> = reader.map(Result::unwrap).collect();
    let schema = batches[0].schema();
    let column = schema.index_of(name).unwrap();
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), schema.clone(), None).unwrap();
    for batch in batches {
        let mut columns = batch.columns().to_vec();
        columns[column] = change(&columns[column]);
        writer.write(&arrow_array::RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
    }
    writer.close().unwrap();
}

fn edit_info(dataset: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let path = dataset.join("meta/info.json");
    let mut info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut info);
    std::fs::write(&path, serde_json::to_string(&info).unwrap()).unwrap();
}

#[test]
fn a_dataset_with_values_no_recording_can_have_is_refused_and_the_import_leaves_nothing_behind() {
    use arrow_array::{Array, ArrayRef, Float32Array, Int64Array};
    let root = scratch("import-validation");
    let session = root.join("session");
    record(&session, Timestamp::now(), EpisodeEnd::Keep);
    record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let good = root.join("good");
    export_lerobot_v3(&session, &good, |_, _| {}).unwrap();
    let floats = |column: &ArrayRef| column.as_any().downcast_ref::<Float32Array>().unwrap().values().to_vec();
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        ("fps 0", Box::new(|d: &Path| edit_info(d, |i| i["fps"] = 0.into())), "fps 0 is not between"),
        ("fps as text", Box::new(|d: &Path| edit_info(d, |i| i["fps"] = "30".into())), "not a number"),
        (
            "a NaN timestamp",
            Box::new(move |d: &Path| {
                rewrite_column(d, "timestamp", &|c| {
                    let mut t = floats(c);
                    t[5] = f32::NAN;
                    Arc::new(Float32Array::from(t))
                });
            }),
            "timestamp NaN",
        ),
        (
            "a timestamp going back",
            Box::new(move |d: &Path| {
                rewrite_column(d, "timestamp", &|c| {
                    let mut t = floats(c);
                    t[10] = 0.01;
                    Arc::new(Float32Array::from(t))
                });
            }),
            "comes before the previous row's",
        ),
        (
            "a timestamp a year in",
            Box::new(move |d: &Path| {
                rewrite_column(d, "timestamp", &|c| {
                    let mut t = floats(c);
                    t[3] = 3.2e7;
                    Arc::new(Float32Array::from(t))
                });
            }),
            "is not between 0 and",
        ),
        (
            "rows of two episodes interleaved",
            Box::new(|d: &Path| {
                rewrite_column(d, "episode_index", &|c| {
                    let n = c.len();
                    Arc::new(Int64Array::from((0..n as i64).map(|k| k % 2).collect::<Vec<_>>()))
                });
            }),
            "are not together",
        ),
        (
            "states narrower than their names",
            Box::new(|d: &Path| {
                edit_info(d, |i| {
                    let names = &mut i["features"]["observation.state"]["names"];
                    let mut list = names.as_array().unwrap().clone();
                    list.push("extra".into());
                    *names = list.into();
                });
            }),
            "observation.state has 8 values, where the dataset says 9",
        ),
    ];
    for (what, damage, expected) in cases {
        let damaged = root.join("damaged");
        let _ = std::fs::remove_dir_all(&damaged);
        copy_tree(&good, &damaged);
        damage(&damaged);
        // Into a new session: nothing is left (not even the folder).
        let fresh = root.join("fresh");
        let error = import_lerobot(&damaged, &fresh, |_, _| {}).unwrap_err().to_string();
        assert!(error.contains(expected), "{what}: {error}");
        assert!(!fresh.exists(), "{what}: the failed import left {}", fresh.display());
        // Into a session with episodes: those stay, and no half episode is added.
        let error = import_lerobot(&damaged, &session, |_, _| {}).unwrap_err().to_string();
        assert!(error.contains(expected), "{what}: {error}");
        assert_eq!(SessionDir::open(&session).unwrap().episode_paths().unwrap().len(), 2, "{what}");
    }
    // The undamaged dataset imports.
    let imported = import_lerobot(&good, &root.join("fine"), |_, _| {}).unwrap();
    assert_eq!((imported.episodes, imported.frames), (2, 2 * FRAMES));
    std::fs::remove_dir_all(&root).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn an_export_reads_the_session_only_leaves_out_what_is_damaged_and_never_leaves_a_partial_output() {
    use kinedesk_sessions::lerobot::{ExportOptions, export_lerobot};
    use kinedesk_sessions::rerun_export::{RerunTarget, export_rerun};
    let root = scratch("export-safety");
    let session = root.join("session");
    let first = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let second = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    let third = record(&session, Timestamp::now(), EpisodeEnd::Keep);
    // The second episode's annotation was damaged by hand; the third's log is not a log at all.
    let annotation = kinedesk_sessions::annotation::annotation_path(&second);
    std::fs::write(&annotation, b"{\"instruction\": \"lift\", \"stages\": [").unwrap();
    std::fs::write(&third, b"not an episode log").unwrap();
    // The first is trimmed to its middle second.
    let mut trimmed = EpisodeAnnotation::seeded_from(&read_episode(&first).unwrap());
    trimmed.trim = Some((0.5, 1.5));
    save_annotation(&first, &trimmed).unwrap();
    let before = session_listing(&session);

    let dataset = root.join("out/dataset");
    let summary = export_lerobot(&session, &dataset, ExportOptions::default(), |_, _| {}).unwrap();
    assert_eq!(summary.episodes, 1, "{summary:?}");
    assert_eq!(summary.frames, 31, "frames 15 to 45 (0.5 s to 1.5 s) kept");
    let left_out: Vec<&str> = summary.left_out.iter().map(|l| l.episode.as_str()).collect();
    assert_eq!(left_out, ["episode_000001.kdlog", "episode_000002.kdlog"], "{:?}", summary.left_out);
    assert!(summary.left_out[0].reason.contains("not a valid annotation"), "{:?}", summary.left_out);
    assert_eq!(session_listing(&session), before, "the session is untouched (the bad annotation is not renamed)");

    // The same for Rerun, with the trim honoured.
    let rrd = root.join("out/session.rrd");
    let rerun = export_rerun(&session, &RerunTarget::File(&rrd), false, |_, _| {}).unwrap();
    assert_eq!(rerun.episodes, 1);
    assert_eq!(rerun.left_out.len(), 2);
    assert_eq!(rerun.frames, 2 * 31, "the same span of both cameras");
    assert_eq!(session_listing(&session), before);

    // Outputs: never over an existing one unless forced, never inside the session, nothing half-written.
    let error = export_lerobot(&session, &dataset, ExportOptions::default(), |_, _| {}).unwrap_err().to_string();
    assert!(error.contains("--force"), "{error}");
    let error = export_rerun(&session, &RerunTarget::File(&rrd), false, |_, _| {}).unwrap_err().to_string();
    assert!(error.contains("--force"), "{error}");
    export_rerun(&session, &RerunTarget::File(&rrd), true, |_, _| {}).unwrap();
    let inside = session.join("episodes/export");
    let error = export_lerobot(&session, &inside, ExportOptions::default(), |_, _| {}).unwrap_err().to_string();
    assert!(error.contains("inside the session"), "{error}");
    std::fs::write(&first, b"damaged too").unwrap();
    let nothing = root.join("out/nothing");
    let error = export_lerobot(&session, &nothing, ExportOptions::default(), |_, _| {}).unwrap_err().to_string();
    assert!(error.contains("no episode could be exported"), "{error}");
    let forced = ExportOptions { overwrite: true, ..ExportOptions::default() };
    assert!(export_lerobot(&session, &dataset, forced, |_, _| {}).is_err());
    assert!(dataset.join("meta/info.json").is_file(), "a failed forced export keeps the old output");
    let mut names: Vec<String> =
        std::fs::read_dir(root.join("out")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    assert_eq!(names, ["dataset", "session.rrd"], "no partial outputs");
    std::fs::remove_dir_all(&root).unwrap();
}

/// Every file of a session with its size and modification time.
fn session_listing(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                folders.push(entry.path());
            } else {
                files.push((entry.path(), meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files.sort();
    files
}
