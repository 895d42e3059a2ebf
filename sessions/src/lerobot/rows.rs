//! Dataset rows from an episode: frames on the dataset clock, states and actions, the language rows, and PNG
//! re-encoding.

use kinedesk_core::Timestamp;
use kinedesk_core::driver::CommandSource;

use crate::events::TimelineEvent;

use crate::annotation::EpisodeAnnotation;
use crate::episode::Episode;

use super::*;

/// One dataset frame, assembled from an episode.
pub(super) struct Row {
    pub(super) timestamp: f32,
    pub(super) frame_index: i64,
    pub(super) episode_index: i64,
    pub(super) index: i64,
    pub(super) task_index: i64,
    pub(super) state: Vec<f32>,
    pub(super) action: Vec<f32>,
    /// Whether `action` is what the driver reported commanding (else nothing was commanded and it is the state).
    pub(super) action_commanded: bool,
    /// The rollout chunk whose command was in force at this frame (−1: none), and whether the operator's teleop was.
    pub(super) rollout_chunk: i64,
    pub(super) is_intervention: bool,
    pub(super) images: Vec<Vec<u8>>,
    pub(super) persistent: Vec<Language>,
    pub(super) events: Vec<Language>,
}

/// The per-frame features beside state and action that have statistics (numbers, bools as 0/1), in the order of
/// [`Row::flags`].
pub(super) const FLAG_FEATURES: [&str; 3] = ["is_commanded", "rollout.chunk_index", "is_intervention"];

impl Row {
    /// The values of [`FLAG_FEATURES`] at this frame.
    pub(super) fn flags(&self) -> [f32; 3] {
        [
            f32::from(u8::from(self.action_commanded)),
            self.rollout_chunk as f32,
            f32::from(u8::from(self.is_intervention)),
        ]
    }
}

#[derive(Clone)]
pub(super) struct Language {
    pub(super) role: String,
    pub(super) content: String,
    pub(super) style: String,
    pub(super) timestamp: f32,
    pub(super) camera: Option<String>,
}

pub(super) fn nearest<T>(items: &[T], time: Timestamp, at: impl Fn(&T) -> Timestamp) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    let index = items.partition_point(|item| at(item) < time);
    let candidates = [index.checked_sub(1), (index < items.len()).then_some(index)];
    candidates
        .into_iter()
        .flatten()
        .min_by_key(|i| {
            let t = at(&items[*i]);
            if t > time { t.saturating_since(time) } else { time.saturating_since(t) }
        })
        .map(|i| &items[i])
}

/// The language annotations of an episode: the operator's annotation when there is one (constraints as a `motion`
/// row, the stage list as a `plan` row, each stage segment as a `subtask` row from its start), otherwise the
/// reasoning the policy gave while recording; instructions as `task_aug`; operator actions and other timeline
/// events as `interjection` events on the frame where they happened.
pub(super) fn language(
    episode: &Episode,
    start: Timestamp,
    annotation: Option<&EpisodeAnnotation>,
) -> (Vec<Language>, Vec<(Timestamp, Language)>) {
    let mut persistent = Vec::new();
    let mut events = Vec::new();
    let seconds = |t: Timestamp| t.saturating_since(start).as_secs_f64() as f32;
    let row = |role: &str, content: String, style: &str, timestamp: f32| Language {
        role: role.into(),
        content,
        style: style.into(),
        timestamp,
        camera: None,
    };
    if let Some(annotation) = annotation {
        let origin = episode.span().0;
        // Annotation times count from the episode's first record; the export counts from its first kept frame.
        let offset = origin.as_nanos() as f64 / 1e9 - start.as_nanos() as f64 / 1e9;
        let constraints = annotation.constraints.lines();
        if !constraints.is_empty() {
            persistent.push(row("assistant", constraints.join("; "), "motion", 0.0));
        }
        // Only stage spans that were measured (executed) or drawn by an operator become labels.
        let stages: Vec<_> = annotation.stages.iter().filter(|s| s.source.exported()).collect();
        if !stages.is_empty() {
            let plan: Vec<&str> = stages.iter().map(|s| s.stage.name()).collect();
            persistent.push(row("assistant", plan.join(", "), "plan", 0.0));
        }
        for stage in stages {
            let at = (stage.start_s + offset).max(0.0) as f32;
            persistent.push(row("assistant", stage.stage.name().to_owned(), "subtask", at));
        }
    }
    for (time, raw) in &episode.events {
        match TimelineEvent::from_json(raw) {
            Some(TimelineEvent::Reasoning { instruction_level, action_level, .. }) if annotation.is_none() => {
                if !instruction_level.is_empty() {
                    persistent.push(row("assistant", instruction_level.join("; "), "motion", seconds(*time)));
                }
                if !action_level.is_empty() {
                    persistent.push(row("assistant", action_level.join("; "), "plan", seconds(*time)));
                }
            }
            // Not language: the reasoning when an annotation replaces it, sent trajectories (joint arrays) and
            // executed stage spans (they are in the events as recorded).
            Some(
                TimelineEvent::Reasoning { .. }
                | TimelineEvent::Trajectory { .. }
                | TimelineEvent::StageExecuted { .. },
            ) => {}
            Some(TimelineEvent::Instruction { text, .. }) => {
                persistent.push(row("user", text, "task_aug", seconds(*time)));
            }
            // A rollout chunk is an event of its own: what the policy proposed, its reasoning, what became of it.
            Some(chunk @ TimelineEvent::RolloutChunk { .. }) => {
                let mut text = chunk.summary();
                if let TimelineEvent::RolloutChunk { action_level, .. } = &chunk
                    && !action_level.is_empty()
                {
                    text.push_str(&format!("; {}", action_level.join("; ")));
                }
                events.push((*time, row("assistant", text, "rollout", seconds(*time))));
            }
            Some(TimelineEvent::Log { .. }) | None => {
                events.push((*time, row("user", raw.to_string(), "interjection", seconds(*time))));
            }
        }
    }
    (persistent, events)
}

/// The dataset frames of an episode (only those inside the annotation's trim, if it has one), on the dataset
/// clock: frame k is at `k / fps` from the first kept frame of the first camera, `fps` being the configured rate
/// (not a count of frames, so a dropped camera frame shifts nothing). Each camera contributes its frame captured
/// nearest to that instant; one further than half a period away counts as stale (a drop, reported). Rows are made a
/// stretch at a time ([`EpisodeClock::rows`]), the images read from the log as they are needed, so an export holds
/// one stretch of an episode in memory, however long the episode.
pub(super) struct EpisodeClock<'a> {
    episode: &'a Episode,
    /// The episode's log, for images not in memory.
    log: std::fs::File,
    frames: Vec<Vec<&'a crate::episode::StoredFrame>>,
    start: Timestamp,
    period: f64,
    /// How many dataset frames the episode has.
    pub(super) frames_total: usize,
    persistent: Vec<Language>,
    events: Vec<(Timestamp, Language)>,
    chunks: std::collections::HashMap<u64, i64>,
    episode_index: i64,
    first_index: i64,
    task_index: i64,
    /// Per camera: dataset frames so far for which the camera had no frame within half a period of the frame's time
    /// (its nearest frame was used, so an image repeats or comes from a neighbouring instant).
    pub(super) stale: Vec<u64>,
}

impl<'a> EpisodeClock<'a> {
    /// The clock of `episode`; `None` when it has no camera frame (in the kept span).
    pub(super) fn new(
        episode: &'a Episode,
        annotation: Option<&EpisodeAnnotation>,
        episode_index: i64,
        first_index: i64,
        task_index: i64,
    ) -> Result<Option<Self>, ExportError> {
        let cameras = episode.meta.cameras.len().max(1);
        let origin = episode.span().0;
        let kept = |time: Timestamp| {
            annotation.and_then(|a| a.trim).is_none_or(|(from, to)| {
                let s = time.saturating_since(origin).as_secs_f64();
                s >= from && s <= to
            })
        };
        let frames: Vec<Vec<_>> =
            (0..cameras).map(|c| episode.camera_frames(c as u16).filter(|f| kept(f.time)).collect()).collect();
        let (Some(start), Some(last)) = (frames[0].first().map(|f| f.time), frames[0].last().map(|f| f.time)) else {
            return Ok(None);
        };
        let fps = dataset_fps(episode.meta.fps);
        let log = std::fs::File::open(&episode.path).map_err(|e| io_error(&episode.path, &e))?;
        let (persistent, events) = language(episode, start, annotation);
        Ok(Some(Self {
            episode,
            log,
            frames,
            start,
            period: 1.0 / fps,
            frames_total: (last.saturating_since(start).as_secs_f64() * fps).round() as usize + 1,
            persistent,
            events,
            chunks: rollout_chunks(episode),
            episode_index,
            first_index,
            task_index,
            stale: vec![0; cameras],
        }))
    }

    /// Dataset frames `range` (of `0..frames_total`).
    pub(super) fn rows(&mut self, range: std::ops::Range<usize>) -> Result<Vec<Row>, ExportError> {
        let episode = self.episode;
        let period = self.period;
        let state_at = |time: Timestamp| -> Vec<f32> {
            nearest(&episode.joints, time, |j| j.time).map_or_else(Vec::new, |j| {
                j.positions.iter().map(|v| *v as f32).chain(std::iter::once(j.gripper as f32)).collect()
            })
        };
        let dof = episode.meta.joint_names.len() + 1;
        // The command in force at a frame: the latest the driver reported at or before it, if within two frame
        // periods. Its values are the frame's action; its source says which rollout chunk (or teleop) it was.
        let in_force = std::time::Duration::from_secs_f64(2.0 * period);
        let command_at = |time: Timestamp| {
            let latest = episode.actions.partition_point(|a| a.time <= time).checked_sub(1)?;
            Some(&episode.actions[latest]).filter(|sample| time.saturating_since(sample.time) <= in_force)
        };
        let half_period = std::time::Duration::from_secs_f64(period / 2.0);
        let mut rows = Vec::with_capacity(range.len());
        for k in range.start..range.end.min(self.frames_total) {
            let time = Timestamp::from_nanos(self.start.as_nanos() + (k as f64 * period * 1e9).round() as u64);
            let mut state = state_at(time);
            state.resize(dof, 0.0);
            // The command in force at this frame (joint target and gripper command, as the driver reported it);
            // where nothing was commanded (the arm idle, a passive recording) the measured state, marked as such.
            let command = command_at(time);
            let action_commanded = command.is_some();
            let mut action =
                command.map_or_else(|| state.clone(), |c| c.values.iter().map(|v| *v as f32).collect::<Vec<f32>>());
            action.resize(dof, 0.0);
            let source = command.and_then(|c| c.source);
            let rollout_chunk = match source {
                Some(CommandSource::Plan { id }) => self.chunks.get(&id).copied().unwrap_or(-1),
                _ => -1,
            };
            let mut images = Vec::with_capacity(self.frames.len());
            for (camera, frames) in self.frames.iter().enumerate() {
                let frame = nearest(frames, time, |f| f.time);
                let distance = frame
                    .map(|f| if f.time > time { f.time.saturating_since(time) } else { time.saturating_since(f.time) });
                if distance.is_none_or(|d| d > half_period) {
                    self.stale[camera] += 1;
                }
                let image = match frame {
                    Some(frame) => frame.image(&self.log).map_err(|e| io_error(&episode.path, &e))?.into_owned(),
                    None => Vec::new(),
                };
                images.push(image);
            }
            let now = k as f64 * period;
            let frame_events = self
                .events
                .iter()
                .filter(|(t, _)| {
                    let s = t.saturating_since(self.start).as_secs_f64();
                    s >= now && s < now + period || (k == 0 && *t < self.start)
                })
                .map(|(_, l)| l.clone())
                .collect();
            rows.push(Row {
                timestamp: now as f32,
                frame_index: k as i64,
                episode_index: self.episode_index,
                index: self.first_index + k as i64,
                task_index: self.task_index,
                state,
                action,
                action_commanded,
                rollout_chunk,
                is_intervention: source == Some(CommandSource::Teleop),
                images,
                persistent: self.persistent.clone(),
                events: frame_events,
            });
        }
        Ok(rows)
    }
}

/// The rollout chunks of an episode by the plan id they ran as (from their recorded events).
fn rollout_chunks(episode: &Episode) -> std::collections::HashMap<u64, i64> {
    episode
        .events
        .iter()
        .filter_map(|(_, value)| match TimelineEvent::from_json(value) {
            Some(TimelineEvent::RolloutChunk { index, plan_id: Some(id), .. }) => Some((id, index as i64)),
            _ => None,
        })
        .collect()
}

/// Re-encodes every frame of `rows` as PNG on all cores, at zlib level 2 of the zlib-rs backend: files within about
/// 10 % of the size `lerobot`'s image writer gets with Pillow at level 1, at about the speed of level 1. The images
/// are one queue that every thread takes from, so no core waits for another's share.
pub(super) fn transcode_png(rows: &mut [Row]) -> Result<(), ExportError> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let images: Vec<&mut Vec<u8>> =
        rows.iter_mut().flat_map(|row| row.images.iter_mut()).filter(|image| !image.is_empty()).collect();
    let queue = std::sync::Mutex::new(images.into_iter());
    let encode = |image: &mut Vec<u8>| -> Result<(), String> {
        let rgb = image::load_from_memory(image).map_err(|e| e.to_string())?.into_rgb8();
        let mut png = Vec::with_capacity(image.len() * 4);
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new_with_quality(
                &mut png,
                image::codecs::png::CompressionType::Level(2),
                image::codecs::png::FilterType::Adaptive,
            ),
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| e.to_string())?;
        *image = png;
        Ok(())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    loop {
                        let next = queue.lock().map_err(|_| "another encoder failed".to_owned())?.next();
                        let Some(image) = next else { return Ok(()) };
                        encode(image)?;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| ExportError::Invalid("an image encoder thread panicked".into()))?
                .map_err(|e| ExportError::Invalid(format!("cannot re-encode a frame as PNG: {e}")))?;
        }
        Ok(())
    })
}
