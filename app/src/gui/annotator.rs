//! Annotating a recorded episode: the episode loaded off the UI thread, the annotation with undo/redo and autosave
//! (on a writer thread, atomically), the play cursor, selection, loop and zoom, camera thumbnails and the frame under
//! the cursor decoded on a worker, and the timeline commands that edit all this.

mod commands;
mod episode;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui::{Color32, ColorImage, Context, TextureOptions};
use kinedesk_sessions::annotation::{AnnotationHistory, EpisodeAnnotation, StageKind, save_annotation};
use kinedesk_sessions::episode::Episode;

pub use commands::TimelineCommand;
pub use episode::OpenEpisode;
use episode::{Loaded, decode_frame, load};

/// Autosave waits this long after the last edit (typing is saved in bursts, not per key).
const AUTOSAVE_AFTER: Duration = Duration::from_millis(400);
const THUMBNAILS: usize = 48;
const THUMB_WIDTH: u32 = 96;

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
    /// The last split (for Undo split).
    pub last_split: Option<kinedesk_sessions::episode_split::Split>,
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
            last_split: None,
            last_deleted: None,
            messages: Vec::new(),
        }
    }
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
