//! Annotating a recorded episode: the episode loaded off the UI thread, the annotation with undo/redo and autosave
//! (on a writer thread, atomically), the play cursor, selection, loop and zoom, camera thumbnails and the frame under
//! the cursor decoded on a worker, and the timeline commands that edit all this.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui::{Color32, ColorImage, Context, TextureHandle, TextureOptions, Vec2};
use kinedesk_sessions::annotation::{
    AnnotationHistory, ConstraintKind, EpisodeAnnotation, Outcome, StageKind, StageSource, load_annotation,
    save_annotation,
};
use kinedesk_sessions::episode::{Episode, StoredFrame, read_episode};
use kinedesk_widgets::palette;
use kinedesk_widgets::timeline::{LaneMarker, LaneSegment, TimelineCurve, TimelineLane, zoom_view};

/// Autosave waits this long after the last edit (typing is saved in bursts, not per key).
const AUTOSAVE_AFTER: Duration = Duration::from_millis(400);
const THUMBNAILS: usize = 48;
const THUMB_WIDTH: u32 = 96;

/// What the timeline editor can be told (by its buttons, its keys and the tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimelineCommand {
    /// Open an episode of the session (by file stem, e.g. `episode_000003`) for annotation.
    Open(String),
    /// Open the previous (-1) or next (+1) episode of the browser's list.
    OpenAdjacent(i32),
    Close,
    TogglePlay,
    SeekMs(i64),
    /// Step this many camera frames.
    Step(i32),
    /// Jump this many seconds.
    Jump(i32),
    ToStart,
    ToEnd,
    /// Selection start / end at the cursor.
    MarkIn,
    MarkOut,
    SelectMs(i64, i64),
    ClearSelection,
    ToggleLoop,
    /// Zoom in (+1) or out (-1) around the cursor.
    Zoom(i32),
    ZoomFit,
    ViewMs(i64, i64),
    /// Label the selection with a stage (or relabel the segment under the cursor when nothing is selected).
    LabelStage(String),
    /// Label with the n-th of [`StageKind::KINEVLA`] (keys 1-7).
    LabelStageNumber(usize),
    RemoveStageAtCursor,
    SetInstruction(String),
    SetConstraint(ConstraintKind, String),
    SetNotes(String),
    SetOutcome(Outcome),
    ToggleFlag,
    TrimToSelection,
    ClearTrim,
    Undo,
    Redo,
    /// Show this camera under the cursor.
    ShowCamera(usize),
    /// Move an episode into the session's trash.
    Delete(String),
    /// Flag or unflag an episode from the browser.
    ToggleFlagEpisode(String),
    /// Put the last deleted episode back.
    RestoreDeleted,
}

/// What loading an episode produced (on the loader thread).
struct Loaded {
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
    requested: Option<(usize, usize)>,
    /// The episode's first record: time 0 of the timeline (computed once; `Episode::span` walks every record).
    origin: kinedesk_models::Timestamp,
    /// Where each camera's frames are in `episode.frames` (sorted by camera, then time).
    camera_ranges: Vec<std::ops::Range<usize>>,
}

impl OpenEpisode {
    /// The frames of one camera, in time order.
    fn camera_frames(&self, camera: usize) -> &[StoredFrame] {
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

    fn clamp_cursor(&mut self) {
        self.cursor_s = self.cursor_s.clamp(0.0, self.duration_s);
    }

    fn follow_cursor(&mut self) {
        let (a, b) = self.view;
        if self.cursor_s < a || self.cursor_s > b {
            let span = b - a;
            let start = (self.cursor_s - span * 0.1).clamp(0.0, (self.duration_s - span).max(0.0));
            self.view = (start, start + span);
        }
    }
}

/// A stable colour per stage name.
#[must_use]
pub fn stage_color(stage: &str) -> Color32 {
    const PALETTE: [Color32; 8] = kinedesk_widgets::palette::SERIES;
    let index = StageKind::KINEVLA.iter().position(|k| k.name() == stage).unwrap_or_else(|| {
        stage.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % PALETTE.len()
    });
    PALETTE[index % PALETTE.len()]
}

/// The episode, the frame's key (camera, index within the camera) and its index in `episode.frames`.
type DecodeRequest = (Arc<Episode>, (usize, usize), usize);
type Decoded = Arc<Mutex<Option<((usize, usize), ColorImage)>>>;

/// A save for the annotation writer: the episode log, the annotation, and whom to tell when it is on disk.
type SaveRequest = (PathBuf, EpisodeAnnotation, Option<std::sync::mpsc::Sender<()>>);

/// The annotation side of the Session pane.
pub struct Annotator {
    pub open: Option<OpenEpisode>,
    pub loading: Option<String>,
    load_rx: Option<Receiver<Result<Loaded, String>>>,
    decode_tx: Option<SyncSender<DecodeRequest>>,
    decoded: Decoded,
    save_tx: Option<SyncSender<SaveRequest>>,
    save_errors: Arc<Mutex<Vec<String>>>,
    /// The browser's filter text.
    pub filter: String,
    /// The last episode moved to the trash (for Restore).
    pub last_deleted: Option<String>,
    /// Messages for the operator log, drained by the app.
    pub messages: Vec<(kinedesk_widgets::LogLevel, String)>,
}

impl Default for Annotator {
    fn default() -> Self {
        Self {
            open: None,
            loading: None,
            load_rx: None,
            decode_tx: None,
            decoded: Arc::new(Mutex::new(None)),
            save_tx: None,
            save_errors: Arc::new(Mutex::new(Vec::new())),
            filter: String::new(),
            last_deleted: None,
            messages: Vec::new(),
        }
    }
}

fn decode_thumbnail(frame: &StoredFrame) -> Option<ColorImage> {
    let image = image::load_from_memory(&frame.jpeg).ok()?.to_rgb8();
    let height = (THUMB_WIDTH * image.height() / image.width().max(1)).max(1);
    let small = image::imageops::thumbnail(&image, THUMB_WIDTH, height);
    Some(ColorImage::from_rgb([small.width() as usize, small.height() as usize], small.as_raw()))
}

fn decode_frame(frame: &StoredFrame) -> Option<ColorImage> {
    let image = image::load_from_memory(&frame.jpeg).ok()?.to_rgb8();
    Some(ColorImage::from_rgb([image.width() as usize, image.height() as usize], image.as_raw()))
}

fn load(log: &std::path::Path, name: String) -> Result<Loaded, String> {
    let episode = read_episode(log).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
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
    /// Starts the one annotation writer: every save (autosave, flag, closing) goes through it, in order, so two
    /// saves never race on the same temporary file.
    fn ensure_workers(&mut self) {
        if self.save_tx.is_none() {
            let (tx, rx) = sync_channel::<SaveRequest>(16);
            let errors = self.save_errors.clone();
            let spawned = std::thread::Builder::new().name("kinedesk-annotation-save".into()).spawn(move || {
                for (log, annotation, done) in rx {
                    if let Err(error) = save_annotation(&log, &annotation)
                        && let Ok(mut errors) = errors.lock()
                    {
                        errors.push(error.to_string());
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            });
            if spawned.is_ok() {
                self.save_tx = Some(tx);
            }
        }
    }

    fn ensure_decoder(&mut self, ctx: &Context) {
        if self.decode_tx.is_some() {
            return;
        }
        let (tx, rx) = sync_channel::<DecodeRequest>(4);
        let decoded = self.decoded.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("kinedesk-frame-decode".into()).spawn(move || {
            while let Ok(mut request) = rx.recv() {
                // Only the newest request matters (the cursor has moved on).
                while let Ok(newer) = rx.try_recv() {
                    request = newer;
                }
                let (episode, key, global) = request;
                if let Some(frame) = episode.frames.get(global)
                    && let Some(image) = decode_frame(frame)
                    && let Ok(mut slot) = decoded.lock()
                {
                    *slot = Some((key, image));
                    ctx.request_repaint();
                }
            }
        });
        if spawned.is_ok() {
            self.decode_tx = Some(tx);
        }
    }

    /// Starts loading an episode (the one open is saved first).
    pub fn open_episode(&mut self, ctx: &Context, log: PathBuf, name: String) {
        self.flush();
        let (tx, rx) = sync_channel(1);
        let ctx2 = ctx.clone();
        let label = name.clone();
        let spawned = std::thread::Builder::new().name("kinedesk-episode-load".into()).spawn(move || {
            let _ = tx.send(load(&log, name));
            ctx2.request_repaint();
        });
        match spawned {
            Ok(_) => {
                self.loading = Some(label);
                self.load_rx = Some(rx);
            }
            Err(error) => self.messages.push((kinedesk_widgets::LogLevel::Error, error.to_string())),
        }
    }

    /// Saves the open annotation now if it changed (on the writer thread).
    pub fn flush(&mut self) {
        self.ensure_workers();
        if let Some(open) = &mut self.open
            && open.history.dirty
            && let Some(tx) = &self.save_tx
        {
            if tx.try_send((open.episode.path.clone(), open.history.current.clone(), None)).is_ok() {
                open.history.dirty = false;
            } else {
                self.messages.push((
                    kinedesk_widgets::LogLevel::Warn,
                    "the annotation writer is busy; will save again in a moment".into(),
                ));
            }
        }
    }

    /// Saves `annotation` of the episode `log` on the writer thread (e.g. a flag set from the episode list).
    pub fn save_in_background(&mut self, log: PathBuf, annotation: EpisodeAnnotation) {
        self.ensure_workers();
        if let Some(tx) = &self.save_tx
            && tx.try_send((log, annotation, None)).is_err()
        {
            self.messages.push((
                kinedesk_widgets::LogLevel::Warn,
                "the annotation writer is busy; the change was not saved".into(),
            ));
        }
    }

    /// Hands the open annotation to the writer and waits (up to `timeout`) until everything queued before it is on
    /// disk: before its files move to the trash, and when the app closes.
    pub fn flush_and_wait(&mut self, timeout: std::time::Duration) {
        self.ensure_workers();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let request = match &mut self.open {
            Some(open) if open.history.dirty => {
                open.history.dirty = false;
                (open.episode.path.clone(), open.history.current.clone(), Some(done_tx))
            }
            // Nothing of its own to save: a marker still waits for what is queued.
            _ => match &self.open {
                Some(open) => (open.episode.path.clone(), open.history.current.clone(), Some(done_tx)),
                None => return,
            },
        };
        let sent = self.save_tx.as_ref().is_some_and(|tx| tx.send(request).is_ok());
        if !sent || done_rx.recv_timeout(timeout).is_err() {
            log::error!(target: "kinedesk", "the annotation could not be saved within {timeout:?}");
        }
    }

    /// Once a frame: finished loads, decoded frames, playback, autosave, save errors.
    pub fn tick(&mut self, ctx: &Context) {
        if let Some(rx) = &self.load_rx {
            match rx.try_recv() {
                Ok(Ok(loaded)) => {
                    self.load_rx = None;
                    self.loading = None;
                    self.install(ctx, loaded);
                }
                Ok(Err(error)) => {
                    self.load_rx = None;
                    let name = self.loading.take().unwrap_or_default();
                    self.messages.push((kinedesk_widgets::LogLevel::Error, format!("Cannot open {name}: {error}")));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.load_rx = None;
                    self.loading = None;
                }
            }
        }
        if self.open.is_some() {
            self.ensure_decoder(ctx);
        }
        let Some(open) = &mut self.open else { return };
        if open.playing {
            let dt = f64::from(ctx.input(|i| i.stable_dt)).min(0.1);
            open.cursor_s += dt;
            let (from, to) = match (open.looping, open.selection) {
                (true, Some((a, b))) => (a.min(b), a.max(b)),
                _ => (0.0, open.duration_s),
            };
            if open.cursor_s >= to {
                if open.looping {
                    open.cursor_s = from;
                } else {
                    open.cursor_s = to;
                    open.playing = false;
                }
            }
            open.follow_cursor();
            ctx.request_repaint();
        }
        // The frame under the cursor: take a decoded one, ask for the next.
        if let Ok(mut slot) = self.decoded.lock()
            && let Some((key, image)) = slot.take()
        {
            let texture = ctx.load_texture("timeline-frame", image, TextureOptions::LINEAR);
            open.frame = Some((key, texture));
        }
        let wanted = open.frame_at_cursor(open.camera).map(|(index, _)| (open.camera, index));
        if wanted.is_some()
            && wanted != open.requested
            && wanted != open.frame.as_ref().map(|f| f.0)
            && let Some((camera, index)) = wanted
            && let Some(global) = open.camera_ranges.get(camera).map(|range| range.start + index)
            && let Some(tx) = &self.decode_tx
            && tx.try_send((open.episode.clone(), (camera, index), global)).is_ok()
        {
            open.requested = wanted;
        }
        if open.history.dirty && open.history.changed_at.is_some_and(|t| t.elapsed() >= AUTOSAVE_AFTER) {
            self.flush();
        } else if open.history.dirty {
            ctx.request_repaint_after(AUTOSAVE_AFTER);
        }
        if let Ok(mut errors) = self.save_errors.lock() {
            for error in errors.drain(..) {
                self.messages.push((kinedesk_widgets::LogLevel::Error, format!("Annotation not saved: {error}")));
            }
        }
    }

    fn install(&mut self, ctx: &Context, loaded: Loaded) {
        let episode = loaded.episode;
        let (origin, end) = episode.span();
        let seconds = |t: kinedesk_models::Timestamp| t.saturating_since(origin).as_secs_f64();
        let duration_s = seconds(end).max(0.001);
        let dof = episode.joints.first().map_or(0, |j| j.positions.len());
        let mut curves: Vec<TimelineCurve> = (0..dof)
            .map(|joint| TimelineCurve {
                name: format!("joint {}", joint + 1),
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
        if !episode.joints.is_empty() {
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
                Some(LaneMarker { time_s: seconds(*time), label: label.to_owned(), color })
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

    /// Carries out a timeline command on the open episode. Returns an error for the operator when it cannot.
    pub fn apply(&mut self, command: TimelineCommand) -> Result<(), String> {
        use TimelineCommand as C;
        let open = self.open.as_mut().ok_or("open an episode first (double-click it in the list)")?;
        let seconds = |ms: i64| ms as f64 / 1000.0;
        match command {
            C::Open(_) | C::OpenAdjacent(_) | C::Delete(_) | C::RestoreDeleted | C::ToggleFlagEpisode(_) => {
                return Err("handled by the session".into());
            }
            C::Close => {
                self.flush();
                self.open = None;
            }
            C::TogglePlay => {
                if !open.playing && open.cursor_s >= open.duration_s - 1e-3 {
                    open.cursor_s = 0.0;
                }
                open.playing = !open.playing;
            }
            C::SeekMs(ms) => {
                open.cursor_s = seconds(ms);
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::Step(frames) => {
                open.playing = false;
                open.cursor_s += f64::from(frames) / open.fps;
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::Jump(by) => {
                open.cursor_s += f64::from(by);
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::ToStart => {
                open.cursor_s = 0.0;
                open.follow_cursor();
            }
            C::ToEnd => {
                open.cursor_s = open.duration_s;
                open.follow_cursor();
            }
            C::MarkIn => {
                let end = open.selection.map_or(open.duration_s, |(_, b)| b.max(open.cursor_s));
                open.selection = Some((open.cursor_s, end));
            }
            C::MarkOut => {
                let start = open.selection.map_or(0.0, |(a, _)| a.min(open.cursor_s));
                open.selection = Some((start, open.cursor_s));
            }
            C::SelectMs(a, b) => {
                let (a, b) = (seconds(a.min(b)).max(0.0), seconds(a.max(b)).min(open.duration_s));
                open.selection = (b > a).then_some((a, b));
            }
            C::ClearSelection => open.selection = None,
            C::ToggleLoop => open.looping = !open.looping,
            C::Zoom(direction) => {
                let factor = if direction > 0 { 0.5 } else { 2.0 };
                open.view = zoom_view(open.view, open.cursor_s, factor, open.duration_s);
            }
            C::ZoomFit => open.view = (0.0, open.duration_s),
            C::ViewMs(a, b) => {
                let (a, b) = (seconds(a).max(0.0), seconds(b).min(open.duration_s));
                if b > a {
                    open.view = (a, b);
                }
            }
            C::LabelStage(stage) => label(open, &stage)?,
            C::LabelStageNumber(n) => {
                let stage = StageKind::KINEVLA
                    .get(n)
                    .ok_or_else(|| format!("there are {} stage kinds", StageKind::KINEVLA.len()))?;
                label(open, stage.name())?;
            }
            C::RemoveStageAtCursor => {
                let at = open.cursor_s;
                let index = open.history.current.stage_at(at).ok_or("no stage under the cursor")?;
                open.history.edit(None, |a| {
                    a.stages.remove(index);
                });
            }
            C::SetInstruction(text) => open.history.edit(Some("instruction"), |a| a.instruction = text),
            C::SetConstraint(field, text) => {
                open.history.edit(Some(field.name()), |a| *a.constraints.get_mut(field) = text);
            }
            C::SetNotes(text) => open.history.edit(Some("notes"), |a| a.notes = text),
            C::SetOutcome(outcome) => open.history.edit(None, |a| a.outcome = outcome),
            C::ToggleFlag => open.history.edit(None, |a| a.flagged = !a.flagged),
            C::TrimToSelection => {
                let (a, b) = open.selection.ok_or("select the span to keep first (I and O, or Shift+drag)")?;
                open.history.edit(None, |ann| ann.trim = Some((a.min(b), a.max(b))));
            }
            C::ClearTrim => open.history.edit(None, |a| a.trim = None),
            C::Undo => {
                if !open.history.undo() {
                    return Err("nothing to undo".into());
                }
            }
            C::Redo => {
                if !open.history.redo() {
                    return Err("nothing to redo".into());
                }
            }
            C::ShowCamera(camera) => {
                if camera >= open.episode.meta.cameras.len().max(1) {
                    return Err(format!("the episode has {} cameras", open.episode.meta.cameras.len()));
                }
                open.camera = camera;
            }
        }
        Ok(())
    }
}

/// Labels the selection, or relabels the segment under the cursor when nothing is selected.
fn label(open: &mut OpenEpisode, stage: &str) -> Result<(), String> {
    let stage = stage.trim();
    if stage.is_empty() {
        return Err("a stage needs a name".into());
    }
    if let Some((a, b)) = open.selection {
        open.history.edit(None, |ann| ann.label_span(stage, a, b));
        // The next stage usually starts where this one ended.
        let end = a.max(b);
        open.selection = None;
        open.cursor_s = end;
        return Ok(());
    }
    let index = open.history.current.stage_at(open.cursor_s).ok_or("select a span first (I and O, or Shift+drag)")?;
    open.history.edit(None, |ann| {
        ann.stages[index].stage = stage.into();
        ann.stages[index].source = StageSource::Operator;
    });
    Ok(())
}

/// The episode list filtered the way the browser shows it.
#[must_use]
pub fn filtered<'a>(
    rows: &'a [crate::gui::session_state::EpisodeRow],
    filter: &str,
) -> Vec<&'a crate::gui::session_state::EpisodeRow> {
    rows.iter()
        .filter(|row| {
            row.annotation.as_ref().map_or_else(
                || filter.trim().is_empty() || row.task.to_lowercase().contains(&filter.trim().to_lowercase()),
                |a| a.matches(filter) || row.name.contains(filter.trim()),
            )
        })
        .collect()
}

/// Time of the last edit, for the "saved" indicator.
#[must_use]
pub fn saved_state(history: &AnnotationHistory) -> &'static str {
    match history.changed_at {
        None => "no changes",
        Some(_) if history.dirty => "saving",
        Some(at) if at.elapsed() < Duration::from_secs(3) => "saved",
        Some(_) => "all changes saved",
    }
}
