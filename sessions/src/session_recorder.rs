//! Recording one episode of a session, the same way for the GUI and the CLI: the [`Recorder`] (log writer, JPEG
//! pool), optional live logging to a Rerun viewer, and the taps that feed them straight from the devices — every
//! camera frame from its capture thread, every joint state (with what was commanded) from the robot driver's
//! thread — so nothing that must be recorded passes through the UI or waits for it.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kinedesk_core::Timestamp;
use kinedesk_core::driver::{JointState, StateTap};
use kinedesk_core::frame::Frame;
use kinedesk_core::vocab::StageKind;

use crate::events::TimelineEvent;
use crate::recorder::{EpisodeMeta, Recorder, RecorderStats};
use crate::rerun_export::LiveLogger;

/// What a camera's capture thread calls with every frame.
pub type CameraTap = Box<dyn Fn(&Arc<Frame>) + Send + Sync>;

/// How an episode ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpisodeEnd {
    /// Finished and kept.
    Keep,
    /// Discarded: the log is moved to the session's `trash/` (it can be restored).
    Discard,
}

/// An episode being recorded. Shared (`Arc`) with the taps; [`SessionRecorder::finish`] ends it once the taps
/// are removed.
pub struct SessionRecorder {
    recorder: Recorder,
    /// The stages of the plan being executed, followed through the driver's progress.
    stages: Mutex<StageTracker>,
    live: Option<LiveLogger>,
    started: Instant,
    path: PathBuf,
    pub task: String,
}

impl SessionRecorder {
    /// Starts recording `path` (a new log). `live`: a connected Rerun logger to stream to as well.
    pub fn start(path: &Path, meta: &EpisodeMeta, live: Option<LiveLogger>) -> std::io::Result<Arc<Self>> {
        Self::start_with_encoders(path, meta, live, 2)
    }

    /// [`Self::start`] with `encoders` JPEG threads.
    pub fn start_with_encoders(
        path: &Path,
        meta: &EpisodeMeta,
        live: Option<LiveLogger>,
        encoders: usize,
    ) -> std::io::Result<Arc<Self>> {
        let recorder = Recorder::start(path, meta, encoders)?;
        Ok(Arc::new(Self {
            recorder,
            stages: Mutex::new(StageTracker::default()),
            live,
            started: Instant::now(),
            path: path.to_owned(),
            task: meta.task.clone(),
        }))
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    #[must_use]
    pub fn stats(&self) -> RecorderStats {
        self.recorder.stats()
    }

    /// How full the frame-encoding queue is (0 to 1).
    #[must_use]
    pub fn backlog(&self) -> f32 {
        self.recorder.backlog()
    }

    /// The writer's error (e.g. the disk is full), if writing failed.
    #[must_use]
    pub fn error(&self) -> Option<String> {
        self.recorder.error()
    }

    /// A camera frame (camera index `camera`, named `name` for live logging).
    pub fn frame(&self, camera: u16, name: &str, frame: &Arc<Frame>) {
        self.recorder.frame(camera, frame.clone());
        if let Some(live) = &self.live {
            live.frame(name, frame);
        }
    }

    /// A joint state from the driver, and what was commanded at that tick (as an action record: the commanded
    /// joints followed by the commanded gripper opening).
    pub fn joint_state(&self, state: &JointState) {
        self.recorder.joint_state(state.at, &state.positions, &state.velocities, state.gripper);
        let executed = self.stages.lock().map(|mut tracker| tracker.observe(state)).unwrap_or_default();
        for event in executed {
            self.recorder.event(state.at, &event);
        }
        if let Some(commanded) = &state.commanded {
            let mut action = commanded.joints.clone();
            action.push(commanded.gripper);
            self.recorder.action(state.at, &action, Some(commanded.source));
        }
        if let Some(live) = &self.live {
            live.joint_state(state.at, &state.positions, state.gripper);
        }
    }

    /// Follows plan `plan_id` (the id it was sent to the driver with): each of `stages` (kind and the plan steps
    /// it covers) is recorded as a [`TimelineEvent::StageExecuted`] with the times the driver reached and left it.
    pub fn track_stages(&self, plan_id: u64, stages: Vec<(StageKind, Range<usize>)>) {
        if let Ok(mut tracker) = self.stages.lock() {
            *tracker = StageTracker { plan_id: Some(plan_id), stages, current: None };
        }
    }

    /// An event on the timeline, stamped now.
    pub fn event(&self, event: &TimelineEvent) {
        let now = Timestamp::now();
        self.recorder.event(now, event);
        if let Some(live) = &self.live {
            live.event(now, event);
        }
    }

    /// The function a camera's capture thread calls with every frame.
    #[must_use]
    pub fn camera_tap(self: &Arc<Self>, camera: u16, name: String) -> CameraTap {
        let recorder = self.clone();
        Box::new(move |frame| recorder.frame(camera, &name, frame))
    }

    /// The function the robot driver's thread calls with every state it publishes.
    #[must_use]
    pub fn state_tap(self: &Arc<Self>) -> StateTap {
        let recorder = self.clone();
        Box::new(move |state| recorder.joint_state(state))
    }

    /// Ends the episode once the taps have let go of it (waiting up to 2 s for a tap call in flight): everything
    /// queued is written, the end record (with the episode's counts) is made durable, and a discarded episode is
    /// moved into the session's `trash/`. Blocks on the disk: call it off the UI thread.
    pub fn finish(self: Arc<Self>, end: EpisodeEnd) -> Result<(PathBuf, RecorderStats), String> {
        let mut shared = self;
        let deadline = Instant::now() + Duration::from_secs(2);
        let this = loop {
            match Arc::try_unwrap(shared) {
                Ok(this) => break this,
                Err(again) if Instant::now() < deadline => {
                    shared = again;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return Err("the recorder is still in use by a device tap".to_owned()),
            }
        };
        let seconds = this.started.elapsed().as_secs_f64();
        if let Some(live) = &this.live
            && let Err(error) = live.flush()
        {
            log::warn!(target: "kinedesk", "Rerun live logging: {error}");
        }
        let outcome = serde_json::json!({"type": "end", "kept": end == EpisodeEnd::Keep, "seconds": seconds});
        let path = this.path.clone();
        let stats = this.recorder.finish(&outcome).map_err(|e| format!("{}: {e}", path.display()))?;
        if end == EpisodeEnd::Discard
            && let Some(root) = path.parent().and_then(Path::parent)
        {
            crate::annotation::trash_episode(root, &path).map_err(|e| e.to_string())?;
        }
        Ok((path, stats))
    }
}

/// Follows the driver's progress through a plan's stages.
#[derive(Debug, Default)]
struct StageTracker {
    plan_id: Option<u64>,
    stages: Vec<(StageKind, Range<usize>)>,
    /// The stage being executed: its index, the first step seen in it and when, the last step seen and when.
    current: Option<(usize, usize, Timestamp, usize, Timestamp)>,
}

impl StageTracker {
    /// Takes one state; returns the stages it saw end.
    fn observe(&mut self, state: &JointState) -> Vec<TimelineEvent> {
        let Some(plan_id) = self.plan_id else { return Vec::new() };
        let step = state.progress.filter(|p| p.plan_id == plan_id).map(|p| p.step);
        let stage = step.and_then(|step| self.stages.iter().position(|(_, range)| range.contains(&step)));
        let mut ended = Vec::new();
        match (self.current, stage, step) {
            (Some((index, ..)), Some(now), Some(step)) if index == now => {
                if let Some(current) = &mut self.current {
                    current.3 = step;
                    current.4 = state.at;
                }
            }
            (current, next, step) => {
                if let Some((index, first_step, start, last_step, end)) = current {
                    ended.push(TimelineEvent::StageExecuted {
                        stage: self.stages[index].0,
                        first_step,
                        last_step,
                        start_ns: start.as_nanos(),
                        end_ns: end.max(state.at).as_nanos(),
                    });
                }
                self.current = next.zip(step).map(|(index, step)| (index, step, state.at, step, state.at));
                if step.is_none() {
                    // The plan is over (finished, stopped or failed): nothing more to follow.
                    self.plan_id = None;
                }
            }
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_core::driver::PlanProgress;

    fn state(at_ms: u64, step: Option<usize>) -> JointState {
        JointState {
            at: Timestamp::from_nanos(at_ms * 1_000_000),
            positions: vec![0.0],
            velocities: vec![0.0],
            gripper: 1.0,
            moving: step.is_some(),
            commanded: None,
            progress: step.map(|step| PlanProgress { plan_id: 3, item: 0, items: 1, step, steps: 30 }),
        }
    }

    #[test]
    fn executed_stages_are_stamped_with_when_the_driver_reached_them() {
        let mut tracker = StageTracker {
            plan_id: Some(3),
            stages: vec![(StageKind::Approach, 0..10), (StageKind::Grasp, 10..12), (StageKind::Lift, 12..30)],
            current: None,
        };
        let mut events = Vec::new();
        for (ms, step) in [(0, Some(0)), (50, Some(9)), (60, Some(10)), (80, Some(11)), (90, Some(20)), (95, Some(29))]
        {
            events.extend(tracker.observe(&state(ms, step)));
        }
        events.extend(tracker.observe(&state(100, None)));
        let spans: Vec<(StageKind, usize, usize, u64, u64)> = events
            .into_iter()
            .map(|event| match event {
                TimelineEvent::StageExecuted { stage, first_step, last_step, start_ns, end_ns } => {
                    (stage, first_step, last_step, start_ns / 1_000_000, end_ns / 1_000_000)
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            spans,
            [
                (StageKind::Approach, 0, 9, 0, 60),
                (StageKind::Grasp, 10, 11, 60, 90),
                (StageKind::Lift, 20, 29, 90, 100)
            ]
        );
        assert!(tracker.observe(&state(120, Some(5))).is_empty(), "after the plan, nothing more is followed");
    }
}
