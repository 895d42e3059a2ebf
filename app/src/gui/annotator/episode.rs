//! The episode open on the timeline: loading it off the UI thread (log, annotation or a first one seeded from the
//! recording, thumbnails), what the timeline shows of it, and the cursor.

use std::sync::Arc;

use egui::{ColorImage, Context, TextureHandle, TextureOptions, Vec2};
use kinedesk_sessions::annotation::{AnnotationHistory, EpisodeAnnotation, load_annotation};
use kinedesk_sessions::episode::{Episode, StoredFrame, read_episode};
use kinedesk_widgets::palette;
use kinedesk_widgets::timeline::{LaneMarker, LaneSegment, TimelineCurve, TimelineLane};

use super::*;

/// What loading an episode produced (on the loader thread).
pub(super) struct Loaded {
    name: String,
    episode: Arc<Episode>,
    annotation: EpisodeAnnotation,
    /// A corrupt annotation file (kept aside) or a torn tail, said once when the episode opens.
    warnings: Vec<String>,
    thumbnails: Vec<(f64, ColorImage)>,
}

/// The episode open in the timeline.
pub struct OpenEpisode {
    pub name: String,
    pub episode: Arc<Episode>,
    pub duration_s: f64,
    pub fps: f64,
    pub history: AnnotationHistory,
    pub curves: Vec<TimelineCurve>,
    pub events: Vec<LaneMarker>,
    pub thumbnails: Vec<(f64, TextureHandle, Vec2)>,
    pub cursor_s: f64,
    pub playing: bool,
    pub looping: bool,
    pub selection: Option<(f64, f64)>,
    pub view: (f64, f64),
    pub camera: usize,
    /// The decoded frame under the cursor: (camera, frame index) and its texture.
    pub frame: Option<((usize, usize), TextureHandle)>,
    pub(super) requested: Option<(usize, usize)>,
    /// The episode's first record: time 0 of the timeline (computed once; `Episode::span` walks every record).
    origin: kinedesk_models::Timestamp,
    /// Where each camera's frames are in `episode.frames` (sorted by camera, then time).
    pub(super) camera_ranges: Vec<std::ops::Range<usize>>,
}

impl OpenEpisode {
    /// The frames of one camera, in time order.
    pub(super) fn camera_frames(&self, camera: usize) -> &[StoredFrame] {
        self.camera_ranges.get(camera).map_or(&[], |range| &self.episode.frames[range.clone()])
    }

    /// Index (within its camera) of the frame shown at the cursor.
    #[must_use]
    pub fn frame_at_cursor(&self, camera: usize) -> Option<(usize, &StoredFrame)> {
        let frames = self.camera_frames(camera);
        if frames.is_empty() {
            return None;
        }
        let at = frames.partition_point(|f| f.time.saturating_since(self.origin).as_secs_f64() <= self.cursor_s + 1e-6);
        let index = at.saturating_sub(1);
        Some((index, &frames[index]))
    }

    /// Seconds on the timeline of a recorded time.
    #[must_use]
    pub fn seconds(&self, time: kinedesk_models::Timestamp) -> f64 {
        time.saturating_since(self.origin).as_secs_f64()
    }

    /// The lanes the timeline draws: stages (editable) and recorded events.
    #[must_use]
    pub fn lanes(&self) -> Vec<TimelineLane> {
        let segments = self
            .history
            .current
            .stages
            .iter()
            .map(|s| LaneSegment {
                start_s: s.start_s,
                end_s: s.end_s,
                label: s.stage.name().to_owned(),
                color: stage_color(s.stage.name()),
            })
            .collect();
        vec![
            TimelineLane { name: "stages".into(), segments, markers: Vec::new() },
            TimelineLane { name: "events".into(), segments: Vec::new(), markers: self.events.clone() },
        ]
    }

    /// Joint positions at the cursor (the recorded state nearest before it).
    #[must_use]
    pub fn joints_at_cursor(&self) -> Option<&[f64]> {
        let joints = &self.episode.joints;
        let at = joints.partition_point(|j| self.seconds(j.time) <= self.cursor_s);
        joints.get(at.saturating_sub(1)).map(|j| j.positions.as_slice())
    }

    pub(super) fn clamp_cursor(&mut self) {
        self.cursor_s = self.cursor_s.clamp(0.0, self.duration_s);
    }

    pub(super) fn follow_cursor(&mut self) {
        let (a, b) = self.view;
        if self.cursor_s < a || self.cursor_s > b {
            let span = b - a;
            let start = (self.cursor_s - span * 0.1).clamp(0.0, (self.duration_s - span).max(0.0));
            self.view = (start, start + span);
        }
    }
}

pub(super) fn decode_thumbnail(frame: &StoredFrame) -> Option<ColorImage> {
    let image = image::load_from_memory(&frame.jpeg).ok()?.to_rgb8();
    let height = (THUMB_WIDTH * image.height() / image.width().max(1)).max(1);
    let small = image::imageops::thumbnail(&image, THUMB_WIDTH, height);
    Some(ColorImage::from_rgb([small.width() as usize, small.height() as usize], small.as_raw()))
}

pub(super) fn decode_frame(frame: &StoredFrame) -> Option<ColorImage> {
    let image = image::load_from_memory(&frame.jpeg).ok()?.to_rgb8();
    Some(ColorImage::from_rgb([image.width() as usize, image.height() as usize], image.as_raw()))
}

pub(super) fn load(log: &std::path::Path, name: String) -> Result<Loaded, String> {
    let episode = read_episode(log).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
    for skipped in &episode.skipped {
        warnings
            .push(format!("{name}: {} damaged bytes skipped ({}); the rest is shown", skipped.bytes, skipped.reason));
    }
    if let Some(tail) = &episode.torn_tail {
        warnings.push(format!("{name} was recovered after a crash ({tail}); everything before it is shown"));
    }
    let annotation = match load_annotation(log) {
        Ok(Some(annotation)) => annotation,
        Ok(None) => EpisodeAnnotation::seeded_from(&episode),
        Err(error) => {
            warnings.push(format!("{error}; starting from what was recorded"));
            EpisodeAnnotation::seeded_from(&episode)
        }
    };
    let origin = episode.span().0;
    let frames: Vec<&StoredFrame> = episode.camera_frames(0).collect();
    let every = (frames.len() / THUMBNAILS).max(1);
    let thumbnails = frames
        .iter()
        .step_by(every)
        .filter_map(|f| Some((f.time.saturating_since(origin).as_secs_f64(), decode_thumbnail(f)?)))
        .collect();
    Ok(Loaded { name, episode: Arc::new(episode), annotation, warnings, thumbnails })
}

impl Annotator {
    pub(super) fn install(&mut self, ctx: &Context, loaded: Loaded) {
        let episode = loaded.episode;
        let (origin, end) = episode.span();
        let seconds = |t: kinedesk_models::Timestamp| t.saturating_since(origin).as_secs_f64();
        let duration_s = seconds(end).max(0.001);
        let dof = episode.joints.first().map_or(0, |j| j.positions.len());
        let mut curves: Vec<TimelineCurve> = (0..dof)
            .map(|joint| TimelineCurve {
                // The recorded joint names (a bag's or a URDF's), else the joint's number.
                name: episode.meta.joint_names.get(joint).cloned().unwrap_or_else(|| format!("joint {}", joint + 1)),
                points: episode.joints.iter().map(|j| [seconds(j.time), j.positions[joint]]).collect(),
                color: egui::epaint::Hsva::new(joint as f32 / dof.max(1) as f32, 0.6, 0.9, 1.0).into(),
            })
            .collect();
        // Commanded actions (recorded or imported), fainter than the measured joints.
        let action_width = episode.actions.first().map_or(0, |a| a.values.len());
        for value in 0..action_width {
            curves.push(TimelineCurve {
                name: format!("action {}", value + 1),
                points: episode.actions.iter().filter_map(|a| Some([seconds(a.time), *a.values.get(value)?])).collect(),
                color: egui::epaint::Hsva::new(value as f32 / action_width.max(1) as f32, 0.4, 0.6, 0.6).into(),
            });
        }
        // A gripper the source did not measure is not drawn (its stored value is a placeholder).
        if !episode.joints.is_empty() && !episode.meta.unmeasured.iter().any(|u| u == "gripper") {
            curves.push(TimelineCurve {
                name: "gripper".into(),
                points: episode.joints.iter().map(|j| [seconds(j.time), j.gripper]).collect(),
                color: palette::NEUTRAL,
            });
        }
        let events = episode
            .events
            .iter()
            .filter_map(|(time, raw)| {
                use kinedesk_sessions::events::{LogSource, TimelineEvent};
                let event = TimelineEvent::from_json(raw)?;
                let (label, color) = match &event {
                    TimelineEvent::Log { source: LogSource::Stop, .. } => ("stop", palette::DANGER),
                    TimelineEvent::Log { source, .. } => (source.name(), palette::NEUTRAL),
                    TimelineEvent::Trajectory { .. } => ("send", palette::OK),
                    TimelineEvent::StageExecuted { .. } => ("stage", palette::EXECUTED_STAGE),
                    other => (other.kind(), palette::REASONING),
                };
                let detail = event_detail(raw);
                Some(LaneMarker { time_s: seconds(*time), label: label.to_owned(), color, detail })
            })
            .collect();
        let thumbnails = loaded
            .thumbnails
            .into_iter()
            .enumerate()
            .map(|(i, (time, image))| {
                let size = Vec2::new(image.size[0] as f32, image.size[1] as f32);
                (time, ctx.load_texture(format!("timeline-thumb-{i}"), image, TextureOptions::LINEAR), size)
            })
            .collect();
        let fps = episode.meta.fps.max(1.0);
        let cameras = episode.meta.cameras.len().max(1);
        let camera_ranges = (0..cameras)
            .map(|c| {
                let start = episode.frames.partition_point(|f| usize::from(f.camera) < c);
                let end = episode.frames.partition_point(|f| usize::from(f.camera) <= c);
                start..end
            })
            .collect();
        for warning in loaded.warnings {
            self.messages.push((kinedesk_widgets::LogLevel::Warn, warning));
        }
        self.messages.push((
            kinedesk_widgets::LogLevel::Info,
            format!("Annotating {} ({:.1} s, {} frames)", loaded.name, duration_s, episode.frames.len()),
        ));
        self.open = Some(OpenEpisode {
            name: loaded.name,
            episode,
            duration_s,
            fps,
            history: AnnotationHistory::new(loaded.annotation),
            curves,
            events,
            thumbnails,
            cursor_s: 0.0,
            playing: false,
            looping: false,
            selection: None,
            view: (0.0, duration_s),
            camera: 0,
            frame: None,
            requested: None,
            origin,
            camera_ranges,
        });
    }
}

/// An event's fields as one line for the marker's hover text ("message: …, plan_id: 3"), its type left out (the
/// marker's label says it); long values cut at 160 characters.
fn event_detail(raw: &serde_json::Value) -> String {
    let Some(fields) = raw.as_object() else { return raw.to_string() };
    let mut parts = Vec::new();
    for (key, value) in fields.iter().filter(|(k, _)| k.as_str() != "type") {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let text: String =
            if text.chars().count() > 160 { text.chars().take(160).chain(['…']).collect() } else { text };
        parts.push(format!("{key}: {text}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod detail_tests {
    use super::event_detail;

    #[test]
    fn a_marker_s_hover_text_has_the_event_s_fields_but_its_type() {
        let raw = serde_json::json!({"type": "log", "source": "stop", "message": "STOP by key (stop #2)", "n": 3});
        let detail = event_detail(&raw);
        assert!(detail.contains("message: STOP by key (stop #2)") && detail.contains("n: 3"), "{detail}");
        assert!(!detail.contains("type"), "{detail}");
        let long = serde_json::json!({"type": "reasoning", "text": "x".repeat(500)});
        assert_eq!(event_detail(&long).chars().count(), "text: ".len() + 161);
    }
}
