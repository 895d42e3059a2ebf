//! Dataset rows from an episode: frames on the dataset clock, states and actions, the language rows, and PNG
//! re-encoding.

use kinedesk_core::Timestamp;

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

/// The dataset frames of an episode (only those inside the annotation's trim, if it has one).
pub(super) fn rows_for(
    episode: &Episode,
    annotation: Option<&EpisodeAnnotation>,
    episode_index: i64,
    first_index: i64,
    task_index: i64,
) -> Vec<Row> {
    let cameras = episode.meta.cameras.len().max(1);
    let origin = episode.span().0;
    let kept = |time: Timestamp| {
        annotation.and_then(|a| a.trim).is_none_or(|(from, to)| {
            let s = time.saturating_since(origin).as_secs_f64();
            s >= from && s <= to
        })
    };
    let master: Vec<_> = episode.camera_frames(0).filter(|f| kept(f.time)).collect();
    let others: Vec<Vec<_>> = (1..cameras).map(|c| episode.camera_frames(c as u16).cloned().collect()).collect();
    let Some(start) = master.first().map(|f| f.time) else { return Vec::new() };
    let (persistent, events) = language(episode, start, annotation);
    let state_at = |time: Timestamp| -> Vec<f32> {
        nearest(&episode.joints, time, |j| j.time).map_or_else(Vec::new, |j| {
            j.positions.iter().map(|v| *v as f32).chain(std::iter::once(j.gripper as f32)).collect()
        })
    };
    let dof = episode.meta.joint_names.len() + 1;
    let fps = episode.meta.fps.max(1e-3);
    let (rollout_chunk_at, intervention_at) = command_sources(episode, fps);
    let in_force = std::time::Duration::from_secs_f64(2.0 / fps);
    let commanded_at = |time: Timestamp| -> Option<Vec<f32>> {
        let latest = episode.actions.partition_point(|a| a.time <= time).checked_sub(1)?;
        let sample = &episode.actions[latest];
        (time.saturating_since(sample.time) <= in_force).then(|| sample.values.iter().map(|v| *v as f32).collect())
    };
    let mut rows = Vec::with_capacity(master.len());
    for (k, frame) in master.iter().enumerate() {
        let mut state = state_at(frame.time);
        state.resize(dof, 0.0);
        // The command in force at this frame (joint target and gripper command, as the driver reported it); where
        // nothing was commanded (the arm idle, a passive recording) the measured state, marked as such.
        let commanded = commanded_at(frame.time);
        let action_commanded = commanded.is_some();
        let mut action = commanded.unwrap_or_else(|| state.clone());
        action.resize(dof, 0.0);
        let mut images = vec![frame.jpeg.clone()];
        for frames in &others {
            images.push(nearest(frames, frame.time, |f| f.time).map(|f| f.jpeg.clone()).unwrap_or_default());
        }
        let period = 1.0 / fps;
        let now = k as f64 * period;
        let frame_events = events
            .iter()
            .filter(|(t, _)| {
                let s = t.saturating_since(start).as_secs_f64();
                s >= now && s < now + period || (k == 0 && *t < start)
            })
            .map(|(_, l)| l.clone())
            .collect();
        rows.push(Row {
            timestamp: now as f32,
            frame_index: k as i64,
            episode_index,
            index: first_index + k as i64,
            task_index,
            state,
            action,
            action_commanded,
            rollout_chunk: rollout_chunk_at(frame.time),
            is_intervention: intervention_at(frame.time),
            images,
            persistent: persistent.clone(),
            events: frame_events,
        });
    }
    rows
}

/// Per frame, from the commanded actions the driver reported: the rollout chunk whose command was in force (its
/// plan id matched to the chunk's recorded event; −1 when the command was no chunk's, or none was within two frame
/// periods), and whether it was the operator's teleop.
fn command_sources(episode: &Episode, fps: f64) -> (impl Fn(Timestamp) -> i64 + '_, impl Fn(Timestamp) -> bool + '_) {
    use kinedesk_core::driver::CommandSource;
    let chunks: std::collections::HashMap<u64, i64> = episode
        .events
        .iter()
        .filter_map(|(_, value)| match TimelineEvent::from_json(value) {
            Some(TimelineEvent::RolloutChunk { index, plan_id: Some(id), .. }) => Some((id, index as i64)),
            _ => None,
        })
        .collect();
    let window = std::time::Duration::from_secs_f64(2.0 / fps);
    let source_at = move |time: Timestamp| {
        nearest(&episode.actions, time, |a| a.time)
            .filter(
                |a| if a.time > time { a.time.saturating_since(time) } else { time.saturating_since(a.time) } <= window,
            )
            .and_then(|a| a.source)
    };
    let chunk_at = move |time: Timestamp| match source_at(time) {
        Some(CommandSource::Plan { id }) => chunks.get(&id).copied().unwrap_or(-1),
        _ => -1,
    };
    let teleop_at = move |time: Timestamp| source_at(time) == Some(CommandSource::Teleop);
    (chunk_at, teleop_at)
}

/// Re-encodes every frame of `rows` as PNG on all cores, at zlib level 2 of the zlib-rs backend: files within about
/// 10 % of the size `lerobot`'s image writer gets with Pillow at level 1, at about the speed of level 1.
pub(super) fn transcode_png(rows: &mut [Row]) -> Result<(), ExportError> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let per_thread = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks_mut(per_thread)
            .map(|chunk| {
                scope.spawn(move || -> Result<(), String> {
                    for row in chunk {
                        for image in &mut row.images {
                            if image.is_empty() {
                                continue;
                            }
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
                        }
                    }
                    Ok(())
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
