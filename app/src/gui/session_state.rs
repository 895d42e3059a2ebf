//! The session side of the app: which session folder is open, the episode being recorded (every camera frame via a
//! capture tap and every joint state via a driver tap, straight into the session recorder; timeline events from the
//! app), the episode list, and the background tasks that list, finish, export and import (never on the UI thread).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use kinedesk_models::driver::DriverHandle;
use kinedesk_sessions::episode::{SessionDir, episode_summary};
use kinedesk_sessions::recorder::{EpisodeMeta, RecorderStats};
use kinedesk_sessions::rerun_export::LiveLogger;
use kinedesk_sessions::session_recorder::{EpisodeEnd, SessionRecorder};

use crate::gui::background_tasks::{BackgroundTasks, TaskKind, TaskProgress};
use crate::gui::camera_feeds::CameraFeeds;
use crate::gui::settings::{RemoteKind, RemoteTarget};

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

/// What the session's background tasks hand back to the app.
pub enum TaskOutput {
    EpisodeList {
        root: PathBuf,
        rows: Vec<EpisodeRow>,
    },
    EpisodeFinished {
        path: PathBuf,
        end: EpisodeEnd,
        result: Result<RecorderStats, String>,
    },
    Exported {
        out: PathBuf,
        result: Result<ExportDone, String>,
    },
    Imported {
        dataset: PathBuf,
        result: Result<ExportDone, String>,
    },
    Checked {
        result: Result<kinedesk_sessions::dataset_doctor::Report, String>,
    },
    Split {
        at_s: f64,
        result: Result<kinedesk_sessions::episode_split::Split, String>,
    },
    /// A push or pull ended: what to tell the operator (a conflict is a warning, not a failure).
    Transferred {
        target: RemoteTarget,
        pull: bool,
        opened: Option<PathBuf>,
        result: Result<TransferReport, String>,
    },
}

/// How a push or pull ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferReport {
    pub message: String,
    /// Files changed on both sides (nothing overwritten), or files newer on the other side.
    pub warning: Option<String>,
}

fn listed(paths: &[String]) -> String {
    let mut text = paths.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > 4 {
        text.push_str(&format!(" and {} more", paths.len() - 4));
    }
    text
}

fn remote_options(target: &RemoteTarget) -> kinedesk_storage::RemoteOptions {
    kinedesk_storage::RemoteOptions {
        endpoint: Some(target.endpoint.trim().to_owned()).filter(|e| !e.is_empty()),
        ..kinedesk_storage::RemoteOptions::default()
    }
}

pub type SessionTasks = BackgroundTasks<TaskOutput>;

/// What a finished export did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportDone {
    pub episodes: usize,
    pub frames: usize,
    /// Episodes left out, each with why ("episode_000003.kdlog: …").
    pub left_out: Vec<String>,
    /// What the operator should know about what was exported (cameras that missed dataset frames).
    pub notes: Vec<String>,
}

impl ExportDone {
    fn of(summary: &kinedesk_sessions::lerobot::ExportSummary) -> Self {
        let notes = summary
            .stale_frames
            .iter()
            .map(|s| {
                format!("{}: camera {} had no fresh frame for {} of {} frames", s.episode, s.camera, s.stale, s.frames)
            })
            .collect();
        Self { episodes: summary.episodes, frames: summary.frames, left_out: left_out(&summary.left_out), notes }
    }
}

fn left_out(list: &[kinedesk_sessions::lerobot::LeftOut]) -> Vec<String> {
    list.iter().map(|l| format!("{}: {}", l.episode, l.reason)).collect()
}

#[derive(Default)]
pub struct SessionState {
    /// The folder typed in the Session pane.
    pub root_text: String,
    pub session: Option<SessionDir>,
    pub task: String,
    /// The episode being recorded.
    pub recording: Option<Arc<SessionRecorder>>,
    pub episodes: Vec<EpisodeRow>,
    pub export_text: String,
    /// How the last export ended (shown until the next one).
    pub last_export: Option<Result<String, String>>,
    /// The dataset doctor's report on the session (shown until the session changes or it is checked again).
    pub last_check: Option<Result<kinedesk_sessions::dataset_doctor::Report, String>>,
    /// The folder typed for a LeRobot dataset to import.
    pub import_text: String,
    /// Where *Push* sends the session and *Pull* gets one (`s3://BUCKET/PREFIX`, `gs://…`, `az://…`), the
    /// S3-compatible or Azure endpoint (empty: the provider's), and what is pushed.
    pub push_url: String,
    pub push_endpoint: String,
    pub push_kind: RemoteKind,
    /// How the last push or pull ended (shown until the next one).
    pub last_push: Option<Result<TransferReport, String>>,
    /// Set to stop the push under way (its parts in flight finish and are journaled).
    pub push_cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
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

/// Lists a session's episodes from their first and last records (and their annotations).
fn list_episodes(session: &SessionDir, progress: &TaskProgress) -> Vec<EpisodeRow> {
    let paths = session.episode_paths().unwrap_or_default();
    paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            progress.set(index, paths.len());
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
            match episode_summary(path) {
                Ok(summary) => EpisodeRow {
                    name,
                    task: summary.meta.task,
                    frames: usize::try_from(summary.frames).unwrap_or(usize::MAX),
                    duration_s: summary.duration_s,
                    finished: summary.finished,
                    torn_tail: summary.torn_tail,
                    path: path.clone(),
                    annotation,
                    annotation_error,
                },
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
        .collect()
}

impl SessionState {
    /// Opens (or creates) the session folder; its episodes are listed on a background task.
    pub fn open(&mut self, root: &Path, robot: &str, tasks: &mut SessionTasks) -> Result<(), String> {
        let session = SessionDir::open_or_create(root, robot).map_err(|e| e.to_string())?;
        self.session = Some(session);
        self.episodes.clear();
        self.last_check = None;
        self.root_text = root.display().to_string();
        self.refresh(tasks);
        Ok(())
    }

    /// Re-reads the episode list on a background task (a torn tail is shown, not hidden).
    pub fn refresh(&self, tasks: &mut SessionTasks) {
        let Some(session) = self.session.clone() else { return };
        let name = session.root.display().to_string();
        if let Err(error) = tasks.spawn(TaskKind::ListEpisodes, name, move |progress| TaskOutput::EpisodeList {
            root: session.root.clone(),
            rows: list_episodes(&session, progress),
        }) {
            log::error!(target: "kinedesk", "{error}");
        }
    }

    /// Takes a finished listing, if it is of the session still open.
    pub fn apply_listing(&mut self, root: &Path, rows: Vec<EpisodeRow>) {
        if self.session.as_ref().is_some_and(|s| s.root == root) {
            self.episodes = rows;
            self.sync_open_row();
        }
    }

    /// Starts an episode: a new log in the session; every camera frame is tapped from its capture thread and every
    /// joint state from the driver's thread.
    pub fn start(
        &mut self,
        meta: &EpisodeMeta,
        cameras: &CameraFeeds,
        robot: Option<&DriverHandle>,
    ) -> Result<PathBuf, String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?;
        if self.recording.is_some() {
            return Err("already recording".into());
        }
        let path = session.next_episode_path().map_err(|e| e.to_string())?;
        let live = if self.rerun_live {
            let url = if self.rerun_url.trim().is_empty() { DEFAULT_RERUN_URL } else { self.rerun_url.trim() };
            let name = path.file_stem().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            // Every third frame (10 fps of a 30 fps camera) keeps a remote viewer's link light.
            Some(LiveLogger::connect(url, &name, &meta.robot, 3).map_err(|e| format!("Rerun live logging: {e}"))?)
        } else {
            None
        };
        let recorder = SessionRecorder::start(&path, meta, live).map_err(|e| format!("{}: {e}", path.display()))?;
        for (index, feed) in cameras.feeds.iter().enumerate() {
            let camera = u16::try_from(index).unwrap_or(u16::MAX);
            feed.handle.set_tap(Some(recorder.camera_tap(camera, feed.spec.name().to_owned())));
        }
        if let Some(robot) = robot {
            robot.set_state_tap(Some(recorder.state_tap()));
        }
        self.recording = Some(recorder);
        Ok(path)
    }

    /// Ends the episode: the taps are removed at once, then everything queued is written (and a discarded episode
    /// moved to the trash) on a background task. Returns the episode's path.
    pub fn stop(
        &mut self,
        cameras: &CameraFeeds,
        robot: Option<&DriverHandle>,
        end: EpisodeEnd,
        tasks: &mut SessionTasks,
    ) -> Result<Option<PathBuf>, String> {
        let Some(recording) = self.recording.take() else { return Ok(None) };
        for feed in &cameras.feeds {
            feed.handle.set_tap(None);
        }
        if let Some(robot) = robot {
            robot.set_state_tap(None);
        }
        let path = recording.path().to_owned();
        let name = path.display().to_string();
        let finished = path.clone();
        tasks.spawn(TaskKind::FinishEpisode, name, move |_| {
            let result = recording.finish(end).map(|(_, stats)| stats);
            TaskOutput::EpisodeFinished { path: finished, end, result }
        })?;
        Ok(Some(path))
    }

    /// Timeline commands that concern the session (open, next/previous, delete, restore) are handled here; the
    /// rest go to the open episode. Returns what to tell the operator.
    pub fn timeline(
        &mut self,
        ctx: &egui::Context,
        command: crate::gui::annotator::TimelineCommand,
        tasks: &mut SessionTasks,
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
                if self.recording.as_ref().is_some_and(|r| r.path().file_stem().is_some_and(|s| *s == *name)) {
                    return Err("that episode is being recorded".into());
                }
                let session = self.session.as_ref().ok_or("no session open")?;
                let row = self.episodes.iter().find(|r| r.name == name).ok_or_else(|| format!("no episode {name}"))?;
                if self.annotator.open.as_ref().is_some_and(|o| o.name == name) {
                    // Its last edit is written (by the one annotation writer) before the files move.
                    self.annotator.flush_and_wait(std::time::Duration::from_secs(2));
                    self.annotator.open = None;
                }
                let moved = kinedesk_sessions::annotation::trash_episode(&session.root, &row.path)
                    .map_err(|e| e.to_string())?;
                self.annotator.last_deleted = moved.file_name().map(|n| n.to_string_lossy().into_owned());
                self.episodes.retain(|r| r.name != name);
                self.refresh(tasks);
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
                self.annotator.save_in_background(row.path.clone(), annotation.clone());
                row.annotation = Some(annotation);
                Ok(None)
            }
            C::SplitAtCursor => {
                let session = self.session.clone().ok_or("no session open")?;
                let open = self.annotator.open.as_ref().ok_or("open an episode first")?;
                let (path, name, at_s) = (open.episode.path.clone(), open.name.clone(), open.cursor_s);
                if at_s <= 0.0 || at_s >= open.duration_s {
                    return Err("move the cursor inside the episode to split it there".into());
                }
                // The annotation's last edit is on disk before the log is copied; the episode closes while it is
                // split (its file moves to the trash).
                self.annotator.flush_and_wait(std::time::Duration::from_secs(2));
                self.annotator.open = None;
                tasks.spawn(TaskKind::Split, name.clone(), move |progress| {
                    progress.set(0, 1);
                    let result = kinedesk_sessions::episode_split::split_episode(&session, &path, at_s)
                        .map_err(|e| e.to_string());
                    progress.set(1, 1);
                    TaskOutput::Split { at_s, result }
                })?;
                Ok(Some(format!("Splitting {name} at {at_s:.2} s…")))
            }
            C::UndoSplit => {
                let session = self.session.as_ref().ok_or("no session open")?;
                let split = self.annotator.last_split.take().ok_or("nothing was split")?;
                if self
                    .annotator
                    .open
                    .as_ref()
                    .is_some_and(|o| [&split.first, &split.second].iter().any(|p| o.episode.path == **p))
                {
                    self.annotator.flush_and_wait(std::time::Duration::from_secs(2));
                    self.annotator.open = None;
                }
                let back = kinedesk_sessions::episode_split::undo_split(session, &split).map_err(|e| e.to_string())?;
                self.refresh(tasks);
                Ok(Some(format!("Put {} back; its two parts are in the trash", back.display())))
            }
            C::RestoreDeleted => {
                let session = self.session.as_ref().ok_or("no session open")?;
                let name = self.annotator.last_deleted.take().ok_or("nothing was deleted")?;
                let back =
                    kinedesk_sessions::annotation::restore_episode(&session.root, &name).map_err(|e| e.to_string())?;
                self.refresh(tasks);
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

    /// Starts importing into the open session on a background task: a LeRobot dataset, or a rosbag2 recording (an
    /// `.mcap` file, or a folder with `.mcap` files and no `meta/info.json`) as one episode.
    pub fn start_import(&mut self, dataset: PathBuf, tasks: &mut SessionTasks) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        let name = dataset.display().to_string();
        if kinedesk_ros2::rosbag::looks_like_bag(&dataset) {
            return tasks.spawn(TaskKind::Import, name, move |progress| {
                let options = kinedesk_ros2::rosbag::RosbagOptions::default();
                let result = kinedesk_ros2::rosbag::import_rosbag(&dataset, &session, &options, |d, t| {
                    // In MB, so the counters stay small.
                    progress.set((d >> 20) as usize, (t >> 20).max(1) as usize);
                })
                .map(|s| ExportDone {
                    episodes: 1,
                    frames: s.frames,
                    left_out: Vec::new(),
                    notes: vec![format!(
                        "rosbag: {} joint states, {} frames at {} fps; not in the bag, so not recorded: commanded \
                         actions, {}",
                        s.joint_states,
                        s.frames,
                        s.fps,
                        s.unmeasured.join(", ")
                    )],
                })
                .map_err(|e| e.to_string());
                TaskOutput::Imported { dataset, result }
            });
        }
        tasks.spawn(TaskKind::Import, name, move |progress| {
            let result = kinedesk_sessions::lerobot_import::import_lerobot(&dataset, &session, &mut |d, t| {
                progress.set(d, t);
            })
            .map(|s| ExportDone { episodes: s.episodes, frames: s.frames, left_out: Vec::new(), notes: Vec::new() })
            .map_err(|e| e.to_string());
            TaskOutput::Imported { dataset, result }
        })
    }

    /// Pushes the open session to `target` on a background task: exported (LeRobot v3, into a scratch folder) and
    /// appended to the dataset there — many desks, one dataset — or as a session (logs and annotations; only what
    /// changed is sent). The window never waits on the network; [`Self::push_cancel`] stops it between parts.
    pub fn start_push(&mut self, target: RemoteTarget, tasks: &mut SessionTasks) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        kinedesk_storage::parse_url(target.url.trim()).map_err(|e| e.to_string())?;
        let remote = kinedesk_storage::redact(target.url.trim());
        let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.push_cancel = Some(cancel.clone());
        // As a dataset the session is exported whole each time: its earlier push from this desk is replaced, never
        // added twice. (A session push needs no source: it compares file by file.)
        let source = (target.kind == RemoteKind::Dataset).then(|| kinedesk_storage::session::source_of(&session));
        let options = kinedesk_storage::PushOptions {
            append: true,
            source,
            cancel: Some(cancel),
            ..kinedesk_storage::PushOptions::default()
        };
        tasks.spawn(TaskKind::Push, remote.clone(), move |progress| {
            let url = target.url.trim().to_owned();
            let result = match target.kind {
                RemoteKind::Dataset => push_dataset(&session, &url, &remote_options(&target), &options, progress),
                RemoteKind::Session => {
                    let report = |done: u64, total: u64| progress.set((done >> 10) as usize, (total >> 10) as usize);
                    kinedesk_storage::session::push_session(&session, &url, &remote_options(&target), &options, &report)
                        .map(|s| TransferReport {
                            message: format!(
                                "Pushed the session to {}: {} file(s) sent ({:.1} MB), {} already there",
                                s.remote,
                                s.uploaded.len(),
                                s.bytes_sent as f64 / 1e6,
                                s.unchanged
                            ),
                            warning: if !s.conflicts.is_empty() {
                                Some(format!(
                                    "Changed here and there since the last push or pull, left as they are on both \
                                     sides: {} — Pull to get the other version beside yours",
                                    listed(&s.conflicts)
                                ))
                            } else if !s.newer_there.is_empty() {
                                Some(format!("Newer there (Pull to get them): {}", listed(&s.newer_there)))
                            } else {
                                None
                            },
                        })
                        .map_err(|e| e.to_string())
                }
            };
            TaskOutput::Transferred { target, pull: false, opened: None, result }
        })
    }

    /// Pulls the session at `target` on a background task into the open session folder (only what changed there
    /// is fetched; nothing changed here is overwritten), or, with none open, into `folder` (then opened).
    pub fn start_pull(&mut self, target: RemoteTarget, folder: &Path, tasks: &mut SessionTasks) -> Result<(), String> {
        kinedesk_storage::parse_url(target.url.trim()).map_err(|e| e.to_string())?;
        let (into, opened) = match &self.session {
            Some(session) => (session.root.clone(), None),
            None if folder.as_os_str().is_empty() => {
                return Err("type the session folder to pull into (a new folder), then Pull".into());
            }
            None => (folder.to_owned(), Some(folder.to_owned())),
        };
        let remote = kinedesk_storage::redact(target.url.trim());
        tasks.spawn(TaskKind::Pull, remote, move |progress| {
            let report = |done: u64, total: u64| progress.set((done >> 10) as usize, (total >> 10) as usize);
            let result =
                kinedesk_storage::session::pull_session(target.url.trim(), &into, &remote_options(&target), &report)
                    .map(|s| TransferReport {
                        message: format!(
                            "Pulled {} into {}: {} file(s) fetched ({:.1} MB), {} unchanged",
                            s.remote,
                            into.display(),
                            s.fetched.len(),
                            s.bytes_received as f64 / 1e6,
                            s.unchanged
                        ),
                        warning: if !s.conflicts.is_empty() {
                            Some(format!(
                                "Changed here and there: {} — yours are kept, the other versions are beside them \
                                 (FILE.remote-<hash>)",
                                listed(&s.conflicts)
                            ))
                        } else if !s.newer_here.is_empty() {
                            Some(format!("Changed here, kept (Push to send them): {}", listed(&s.newer_here)))
                        } else {
                            None
                        },
                    })
                    .map_err(|e| e.to_string());
            TaskOutput::Transferred { target, pull: true, opened, result }
        })
    }

    /// Starts the dataset doctor on the session (on a background task): its export written to a scratch folder and
    /// checked, with the session's own findings (left-out episodes, missing annotations, unconfirmed stages).
    pub fn start_check(&mut self, tasks: &mut SessionTasks) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        let name = session.display().to_string();
        tasks.spawn(TaskKind::Check, name, move |progress| {
            use kinedesk_sessions::dataset_doctor::{Finding, Severity, examine_session};
            let mut note = None;
            let options = |dataset: &kinedesk_sessions::dataset_edit::Dataset| {
                let fps = dataset.info["fps"].as_f64().unwrap_or(30.0);
                let (options, why) =
                    crate::cli::dataset::doctor_options(None, dataset.info["robot_type"].as_str(), fps);
                note = why;
                options
            };
            let result = examine_session(&session, options, |d, t| progress.set(d, t)).map(|mut report| {
                if let Some(message) = note {
                    let check = "joint_jump".to_owned();
                    report.findings.push(Finding { severity: Severity::Info, check, episode: None, message });
                }
                report
            });
            TaskOutput::Checked { result: result.map_err(|e| e.to_string()) }
        })
    }

    /// Starts exporting the session in `format` to `out` on a background task.
    pub fn start_export(&mut self, out: PathBuf, format: ExportFormat, tasks: &mut SessionTasks) -> Result<(), String> {
        let session = self.session.as_ref().ok_or("open a session folder first")?.root.clone();
        let name = out.display().to_string();
        tasks.spawn(TaskKind::Export, name, move |progress| {
            use kinedesk_sessions::lerobot::{DatasetVersion, ExportOptions, ImageEncoding, export_lerobot};
            use kinedesk_sessions::rerun_export::{RerunTarget, export_rerun};
            let mut report = |d, t| progress.set(d, t);
            let options = |version, images, video| ExportOptions { version, images, video, ..ExportOptions::default() };
            let options = match format {
                ExportFormat::LeRobotV3 => options(DatasetVersion::V30, ImageEncoding::AsRecorded, false),
                ExportFormat::LeRobotV3Png => options(DatasetVersion::V30, ImageEncoding::Png, false),
                ExportFormat::LeRobotV3Video => options(DatasetVersion::V30, ImageEncoding::AsRecorded, true),
                ExportFormat::LeRobotV21 => options(DatasetVersion::V21, ImageEncoding::AsRecorded, false),
                ExportFormat::Rerun => {
                    let result = export_rerun(&session, &RerunTarget::File(&out), false, &mut report)
                        .map(|s| ExportDone {
                            episodes: s.episodes,
                            frames: s.frames,
                            left_out: left_out(&s.left_out),
                            notes: Vec::new(),
                        })
                        .map_err(|e| e.to_string());
                    return TaskOutput::Exported { out, result };
                }
            };
            let result = export_lerobot(&session, &out, options, &mut report)
                .map(|s| ExportDone::of(&s))
                .map_err(|e| e.to_string());
            TaskOutput::Exported { out, result }
        })
    }
}

/// Exports the session (LeRobot v3) into a scratch folder and appends it to the dataset at `url`: exporting is the
/// first half of the progress bar, sending the second.
fn push_dataset(
    session: &Path,
    url: &str,
    remote: &kinedesk_storage::RemoteOptions,
    options: &kinedesk_storage::PushOptions,
    progress: &TaskProgress,
) -> Result<TransferReport, String> {
    use kinedesk_sessions::lerobot::{ExportOptions, export_lerobot};
    let scratch = std::env::temp_dir().join(format!(
        "kinedesk-push-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    ));
    let result = (|| {
        export_lerobot(session, &scratch, ExportOptions::default(), |d, t| progress.set(d, 2 * t.max(1)))
            .map_err(|e| e.to_string())?;
        let report = |done: u64, total: u64| {
            let total = (total >> 10).max(1) as usize;
            progress.set(total + (done >> 10) as usize, 2 * total);
        };
        kinedesk_storage::push(&scratch, url, remote, options, &report).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let summary = result?;
    let remote = &summary.remote;
    let message = if summary.already_there {
        format!("{remote} already has this session's episodes ({} there)", summary.episodes_total)
    } else {
        format!(
            "Pushed {} episodes ({:.1} MB) to {remote}{}: {} episodes there now",
            summary.episodes_added,
            summary.bytes_total as f64 / 1e6,
            if summary.parts_replaced > 0 {
                format!(", replacing this session's earlier push ({} episodes)", summary.episodes_replaced)
            } else {
                String::new()
            },
            summary.episodes_total
        )
    };
    Ok(TransferReport { message, warning: None })
}
