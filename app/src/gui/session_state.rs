//! The session side of the app: which session folder is open, the episode being recorded (every camera frame via a
//! capture tap, joint states from the driver, timeline events from the log), the episode list, and exports running
//! on their own thread.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kinedesk_sessions::episode::{SessionDir, read_episode};
use kinedesk_sessions::recorder::{EpisodeMeta, Recorder, RecorderStats};

use crate::gui::camera_feeds::CameraFeeds;

/// One line of the episode list.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeRow {
    pub name: String,
    pub task: String,
    pub frames: usize,
    pub duration_s: f64,
    pub finished: bool,
    /// What a crash cut off, if anything.
    pub torn_tail: Option<String>,
    pub path: PathBuf,
    /// The episode's annotation, if it has one (an unreadable one is reported in `annotation_error`).
    pub annotation: Option<kinedesk_sessions::annotation::EpisodeAnnotation>,
    pub annotation_error: Option<String>,
}

/// What the Session pane exports to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExportFormat {
    #[default]
    LeRobotV3,
    /// LeRobot v3 with the frames re-encoded as PNG (what the lerobot package writes).
    LeRobotV3Png,
    /// LeRobot v3 with the cameras as MP4 video (needs ffmpeg).
    LeRobotV3Video,
    LeRobotV21,
    /// A Rerun `.rrd` file.
    Rerun,
}

impl ExportFormat {
    pub const ALL: [Self; 5] =
        [Self::LeRobotV3, Self::LeRobotV3Png, Self::LeRobotV3Video, Self::LeRobotV21, Self::Rerun];

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::LeRobotV3 => "LeRobot v3 (JPEG as recorded)",
            Self::LeRobotV3Png => "LeRobot v3 (PNG)",
            Self::LeRobotV3Video => "LeRobot v3 (MP4 video, ffmpeg)",
            Self::LeRobotV21 => "LeRobot v2.1",
            Self::Rerun => "Rerun .rrd",
        }
    }
}

/// Where live Rerun logging goes by default (the viewer's own default address).
pub const DEFAULT_RERUN_URL: &str = "rerun+http://127.0.0.1:9876/proxy";

/// The episode being recorded.
pub struct Recording {
    pub recorder: Arc<Recorder>,
    /// Live logging to a Rerun viewer, when it was switched on.
    pub live: Option<Arc<kinedesk_sessions::rerun_export::LiveLogger>>,
    pub started: Instant,
    pub path: PathBuf,
    pub task: String,
}

/// An export or import on its own thread.
pub struct ExportJob {
    pub out: PathBuf,
    pub done: Arc<AtomicUsize>,
    pub total: Arc<AtomicUsize>,
    pub result: Arc<Mutex<Option<Result<ExportDone, String>>>>,
}

impl ExportJob {
    /// Runs `work` on a thread named `name`; `work` reports progress (done, total) through the function it is given.
    fn spawn(
        name: &str,
        out: PathBuf,
        waker: kinedesk_models::channel::Waker,
        work: impl FnOnce(&mut dyn FnMut(usize, usize)) -> Result<ExportDone, String> + Send + 'static,
    ) -> Result<Self, String> {
        let job = Self {
            out,
            done: Arc::new(AtomicUsize::new(0)),
            total: Arc::new(AtomicUsize::new(0)),
            result: Arc::new(Mutex::new(None)),
        };
        let (done, total, result) = (job.done.clone(), job.total.clone(), job.result.clone());
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let outcome = work(&mut |d, t| {
                    done.store(d, Ordering::Relaxed);
                    total.store(t, Ordering::Relaxed);
                    waker();
                });
                if let Ok(mut slot) = result.lock() {
                    *slot = Some(outcome);
                }
                waker();
            })
            .map_err(|e| e.to_string())?;
        Ok(job)
    }

    /// Whether `job` exists and has not finished.
    #[must_use]
    pub fn is_running(job: Option<&Self>) -> bool {
        job.is_some_and(|job| job.result.lock().is_ok_and(|r| r.is_none()))
    }
}

/// What a finished export did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportDone {
    pub episodes: usize,
    pub frames: usize,
}

#[derive(Default)]
pub struct SessionState {
    /// The folder typed in the Session pane.
    pub root_text: String,
    pub session: Option<SessionDir>,
    pub task: String,
    pub recording: Option<Recording>,
    pub episodes: Vec<EpisodeRow>,
    pub export: Option<ExportJob>,
    pub export_text: String,
    /// A LeRobot dataset being imported into the session, and the folder typed for it.
    pub import: Option<ExportJob>,
    pub import_text: String,
    /// The timeline editor and episode browser.
    pub annotator: crate::gui::annotator::Annotator,
    pub export_format: ExportFormat,
    /// An episode is finished by itself after this long (0: no limit), like lerobot-record's episode time.
    pub episode_limit_s: f64,
    /// Time to reset the scene after an episode (0: none); the pane counts it down.
    pub reset_s: f64,
    pub reset_started: Option<Instant>,
    /// Start the next episode by itself when the reset time is over.
    pub record_after_reset: bool,
    /// Stream recordings to a Rerun viewer as they are recorded.
    pub rerun_live: bool,
    pub rerun_url: String,
}

impl SessionState {
    /// Opens (or creates) the session folder and lists its episodes.
    pub fn open(&mut self, root: &Path, robot: &str) -> Result<usize, String> {
        let session = SessionDir::open_or_create(root, robot).map_err(|e| e.to_string())?;
        self.session = Some(session);
        self.root_text = root.display().to_string();
        self.refresh();
        Ok(self.episodes.len())
    }

    /// Re-reads the episode list (a torn tail is shown, not hidden).
    pub fn refresh(&mut self) {
        let Some(session) = &self.session else { return };
        let paths = session.episode_paths().unwrap_or_default();
        self.episodes = paths
            .iter()
            .map(|path| {
                let name = path.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                // Listing never renames anything: a corrupt annotation is only reported here.
                let annotation_path = kinedesk_sessions::annotation::annotation_path(path);
                let (annotation, annotation_error) = match std::fs::read_to_string(&annotation_path) {
                    Ok(text) => match serde_json::from_str(&text) {
                        Ok(annotation) => (Some(annotation), None),
                        Err(error) => (None, Some(format!("unreadable annotation: {error}"))),
                    },
                    Err(_) => (None, None),
                };
                match read_episode(path) {
                    Ok(episode) => {
                        let (start, end) = episode.span();
                        EpisodeRow {
                            name,
                            task: episode.meta.task.clone(),
                            frames: episode.frames.len(),
                            duration_s: end.saturating_since(start).as_secs_f64(),
                            finished: episode.end.is_some(),
                            torn_tail: episode.torn_tail.clone(),
                            path: path.clone(),
                            annotation,
                            annotation_error,
                        }
                    }
                    Err(error) => EpisodeRow {
                        name,
                        task: String::new(),
                        frames: 0,
                        duration_s: 0.0,
                        finished: false,
                        torn_tail: Some(error.to_string()),
                        path: path.clone(),
                        annotation,
                        annotation_error,
                    },
                }
            })
            .collect();
    }

    /// Starts an episode: a new log in the session, every camera frame tapped from its capture thread.
    pub fn start(&mut self, meta: &EpisodeMeta, cameras: &CameraFeeds) -> Result<PathBuf, String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?;
        if self.recording.is_some() {
            return Err("already recording".into());
        }
        let path = session.next_episode_path().map_err(|e| e.to_string())?;
        let task = meta.task.clone();
        let recorder = Arc::new(Recorder::start(&path, meta, 2).map_err(|e| format!("{}: {e}", path.display()))?);
        let live = if self.rerun_live {
            let url = if self.rerun_url.trim().is_empty() { DEFAULT_RERUN_URL } else { self.rerun_url.trim() };
            let name = path.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            // Every third frame (10 fps of a 30 fps camera) keeps a remote viewer's link light.
            Some(Arc::new(
                kinedesk_sessions::rerun_export::LiveLogger::connect(url, &name, &meta.robot, 3)
                    .map_err(|e| format!("Rerun live logging: {e}"))?,
            ))
        } else {
            None
        };
        for (index, feed) in cameras.feeds.iter().enumerate() {
            let recorder = recorder.clone();
            let camera = u16::try_from(index).unwrap_or(u16::MAX);
            let live = live.clone();
            let name = feed.spec.name().to_owned();
            feed.handle.set_tap(Some(Box::new(move |frame| {
                recorder.frame(camera, frame.clone());
                if let Some(live) = &live {
                    live.frame(&name, frame);
                }
            })));
        }
        self.recording = Some(Recording { recorder, live, started: Instant::now(), path: path.clone(), task });
        Ok(path)
    }

    /// Ends the episode (taps removed first, then everything queued is written). `keep: false` deletes it.
    pub fn stop(&mut self, cameras: &CameraFeeds, keep: bool) -> Result<Option<(PathBuf, RecorderStats)>, String> {
        let Some(recording) = self.recording.take() else { return Ok(None) };
        for feed in &cameras.feeds {
            feed.handle.set_tap(None);
        }
        if let Some(live) = recording.live.clone() {
            // Flushing waits for the network: on its own thread, never the UI's.
            let _ = std::thread::Builder::new().name("kinedesk-rerun-flush".into()).spawn(move || {
                if let Err(error) = live.flush() {
                    log::warn!(target: "kinedesk", "Rerun live logging: {error}");
                }
            });
        }
        let recorder = Arc::try_unwrap(recording.recorder).map_err(|_| "the recorder is still in use".to_owned())?;
        let outcome =
            serde_json::json!({"type": "end", "kept": keep, "seconds": recording.started.elapsed().as_secs_f64()});
        let stats = recorder.finish(&outcome).map_err(|e| e.to_string())?;
        if !keep {
            std::fs::remove_file(&recording.path).map_err(|e| format!("{}: {e}", recording.path.display()))?;
        }
        self.refresh();
        Ok(Some((recording.path, stats)))
    }

    /// Timeline commands that concern the session (open, next/previous, delete, restore) are handled here; the
    /// rest go to the open episode. Returns what to tell the operator.
    pub fn timeline(
        &mut self,
        ctx: &egui::Context,
        command: crate::gui::annotator::TimelineCommand,
    ) -> Result<Option<String>, String> {
        use crate::gui::annotator::TimelineCommand as C;
        match command {
            C::Open(name) => {
                let row = self.episodes.iter().find(|r| r.name == name).ok_or_else(|| format!("no episode {name}"))?;
                let path = row.path.clone();
                self.annotator.open_episode(ctx, path, name);
                Ok(None)
            }
            C::OpenAdjacent(step) => {
                let rows = crate::gui::annotator::filtered(&self.episodes, &self.annotator.filter);
                let current = self.annotator.open.as_ref().and_then(|o| rows.iter().position(|r| r.name == o.name));
                let next = match current {
                    Some(i) => i.checked_add_signed(step as isize).filter(|n| *n < rows.len()),
                    None => (!rows.is_empty()).then_some(0),
                };
                let row = next.map(|n| rows[n]).ok_or("no more episodes that way")?;
                let (path, name) = (row.path.clone(), row.name.clone());
                self.annotator.open_episode(ctx, path, name);
                Ok(None)
            }
            C::Delete(name) => {
                if self.recording.as_ref().is_some_and(|r| r.path.file_stem().is_some_and(|s| *s == *name)) {
                    return Err("that episode is being recorded".into());
                }
                let session = self.session.as_ref().ok_or("no session open")?;
                let row = self.episodes.iter().find(|r| r.name == name).ok_or_else(|| format!("no episode {name}"))?;
                if self.annotator.open.as_ref().is_some_and(|o| o.name == name) {
                    self.annotator.flush_blocking();
                    self.annotator.open = None;
                }
                let moved = kinedesk_sessions::annotation::trash_episode(&session.root, &row.path)
                    .map_err(|e| e.to_string())?;
                self.annotator.last_deleted = moved.file_name().map(|n| n.to_string_lossy().into_owned());
                self.refresh();
                Ok(Some(format!("Moved {name} to {} (Restore puts it back)", moved.display())))
            }
            C::ToggleFlagEpisode(name) => {
                if self.annotator.open.as_ref().is_some_and(|o| o.name == name) {
                    self.annotator.apply(C::ToggleFlag)?;
                    self.sync_open_row();
                    return Ok(None);
                }
                let row =
                    self.episodes.iter_mut().find(|r| r.name == name).ok_or_else(|| format!("no episode {name}"))?;
                let mut annotation =
                    row.annotation.clone().unwrap_or_else(|| kinedesk_sessions::annotation::EpisodeAnnotation {
                        instruction: row.task.clone(),
                        ..Default::default()
                    });
                annotation.flagged = !annotation.flagged;
                kinedesk_sessions::annotation::save_annotation(&row.path, &annotation).map_err(|e| e.to_string())?;
                row.annotation = Some(annotation);
                Ok(None)
            }
            C::RestoreDeleted => {
                let session = self.session.as_ref().ok_or("no session open")?;
                let name = self.annotator.last_deleted.take().ok_or("nothing was deleted")?;
                let back =
                    kinedesk_sessions::annotation::restore_episode(&session.root, &name).map_err(|e| e.to_string())?;
                self.refresh();
                Ok(Some(format!("Restored {}", back.display())))
            }
            other => {
                let refresh = matches!(
                    other,
                    C::ToggleFlag | C::SetOutcome(_) | C::TrimToSelection | C::ClearTrim | C::Undo | C::Redo
                );
                self.annotator.apply(other)?;
                if refresh {
                    self.sync_open_row();
                }
                Ok(None)
            }
        }
    }

    /// Shows the open episode's annotation in its list row (without re-reading the session).
    pub fn sync_open_row(&mut self) {
        if let Some(open) = &self.annotator.open
            && let Some(row) = self.episodes.iter_mut().find(|r| r.name == open.name)
        {
            row.annotation = Some(open.history.current.clone());
        }
    }

    /// Starts importing a LeRobot dataset into the open session on its own thread.
    pub fn start_import(&mut self, dataset: PathBuf, waker: kinedesk_models::channel::Waker) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        if ExportJob::is_running(self.import.as_ref()) {
            return Err("an import is already running".into());
        }
        let source = dataset.clone();
        self.import = Some(ExportJob::spawn("kinedesk-import", dataset, waker, move |progress| {
            kinedesk_sessions::lerobot_import::import_lerobot(&source, &session, progress)
                .map(|s| ExportDone { episodes: s.episodes, frames: s.frames })
                .map_err(|e| e.to_string())
        })?);
        Ok(())
    }

    /// An import that finished since the last call: its result (the episode list is re-read on success).
    pub fn take_finished_import(&mut self) -> Option<Result<ExportDone, String>> {
        let finished = self.import.as_ref().and_then(|job| job.result.lock().ok().and_then(|mut r| r.take()))?;
        self.import = None;
        if finished.is_ok() {
            self.refresh();
        }
        Some(finished)
    }

    /// Starts exporting the session in `format` to `out` on its own thread.
    pub fn start_export(
        &mut self,
        out: PathBuf,
        format: ExportFormat,
        waker: kinedesk_models::channel::Waker,
    ) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        if ExportJob::is_running(self.export.as_ref()) {
            return Err("an export is already running".into());
        }
        let target = out.clone();
        self.export = Some(ExportJob::spawn("kinedesk-export", out, waker, move |progress| {
            use kinedesk_sessions::lerobot::{DatasetVersion, ExportOptions, ImageEncoding, export_lerobot};
            use kinedesk_sessions::rerun_export::{RerunTarget, export_rerun};
            let options = |version, images, video| ExportOptions { version, images, video };
            let options = match format {
                ExportFormat::LeRobotV3 => options(DatasetVersion::V30, ImageEncoding::AsRecorded, false),
                ExportFormat::LeRobotV3Png => options(DatasetVersion::V30, ImageEncoding::Png, false),
                ExportFormat::LeRobotV3Video => options(DatasetVersion::V30, ImageEncoding::AsRecorded, true),
                ExportFormat::LeRobotV21 => options(DatasetVersion::V21, ImageEncoding::AsRecorded, false),
                ExportFormat::Rerun => {
                    return export_rerun(&session, &RerunTarget::File(&target), progress)
                        .map(|s| ExportDone { episodes: s.episodes, frames: s.frames })
                        .map_err(|e| e.to_string());
                }
            };
            export_lerobot(&session, &target, options, progress)
                .map(|s| ExportDone { episodes: s.episodes, frames: s.frames })
                .map_err(|e| e.to_string())
        })?);
        Ok(())
    }
}
