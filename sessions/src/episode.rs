//! Reading an episode back from its log, and the session folder that holds episodes.
//!
//! A session is a folder: `session.json` (name, robot) and `episodes/episode_NNNNNN.kdlog`, one log per episode.
//! Everything the session knows is in the logs; `session.json` only names it, so a crash never loses an episode.

use std::path::{Path, PathBuf};

use kinedesk_core::Timestamp;

use crate::episode_log::RecordKind;
use crate::recorder::EpisodeMeta;

/// Why a session or episode cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

fn io(path: &Path, error: &dyn std::fmt::Display) -> SessionError {
    SessionError::Io { path: path.display().to_string(), message: error.to_string() }
}

/// A camera frame as stored: JPEG as recorded, or the PNG/JPEG bytes of an imported dataset, kept as they were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFrame {
    pub camera: u16,
    pub time: Timestamp,
    pub width: u32,
    pub height: u32,
    pub sequence: u64,
    /// The encoded image; empty when the episode was read without images ([`read_episode_without_images`]).
    pub jpeg: Vec<u8>,
    /// Where the encoded image is in the log (offset, length), for reading it when it is needed.
    pub stored_at: (u64, usize),
}

impl StoredFrame {
    /// The encoded image: the bytes in memory, or read from `log` (the episode's log, opened once by the caller)
    /// when the episode was read without images.
    pub fn image(&self, log: &std::fs::File) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        if !self.jpeg.is_empty() || self.stored_at.1 == 0 {
            return Ok(std::borrow::Cow::Borrowed(&self.jpeg));
        }
        let mut bytes = vec![0u8; self.stored_at.1];
        std::os::unix::fs::FileExt::read_exact_at(log, &mut bytes, self.stored_at.0)?;
        Ok(std::borrow::Cow::Owned(bytes))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct JointSample {
    pub time: Timestamp,
    pub positions: Vec<f64>,
    pub velocities: Vec<f64>,
    pub gripper: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActionSample {
    pub time: Timestamp,
    pub values: Vec<f64>,
    /// Where the command came from (a plan or rollout chunk by its id, teleop, a move), when the log says.
    pub source: Option<kinedesk_core::driver::CommandSource>,
}

/// Everything one episode log holds, sorted by time.
#[derive(Clone, Debug)]
pub struct Episode {
    pub path: PathBuf,
    pub meta: EpisodeMeta,
    pub frames: Vec<StoredFrame>,
    pub joints: Vec<JointSample>,
    pub actions: Vec<ActionSample>,
    pub events: Vec<(Timestamp, serde_json::Value)>,
    /// The end record, if the episode was finished (absent after a crash).
    pub end: Option<serde_json::Value>,
    /// What was cut off the end (after a crash), if anything.
    pub torn_tail: Option<String>,
    /// Damaged stretches inside the log that were skipped (every valid record after them was read).
    pub skipped: Vec<crate::episode_log::Skipped>,
}

impl Episode {
    /// First and last timestamp of any record.
    #[must_use]
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let times = self
            .frames
            .iter()
            .map(|f| f.time)
            .chain(self.joints.iter().map(|j| j.time))
            .chain(self.events.iter().map(|e| e.0));
        times.fold((Timestamp::from_nanos(u64::MAX), Timestamp::from_nanos(0)), |(lo, hi), t| (lo.min(t), hi.max(t)))
    }

    /// Frames of one camera, in time order.
    pub fn camera_frames(&self, camera: u16) -> impl Iterator<Item = &StoredFrame> {
        self.frames.iter().filter(move |f| f.camera == camera)
    }
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
}

/// Reads an episode log; a torn tail is reported in [`Episode::torn_tail`], not treated as data.
pub fn read_episode(path: &Path) -> Result<Episode, SessionError> {
    read_episode_with(path, true)
}

/// [`read_episode`] without the camera images in memory (each frame says where its image is in the log; see
/// [`StoredFrame::image`]): what an export of a long episode needs, in memory a small part of the log.
pub fn read_episode_without_images(path: &Path) -> Result<Episode, SessionError> {
    read_episode_with(path, false)
}

fn read_episode_with(path: &Path, images: bool) -> Result<Episode, SessionError> {
    let mut stream = crate::episode_log::RecordStream::open(path).map_err(|e| io(path, &e))?;
    let format = |message: String| SessionError::Format { path: path.display().to_string(), message };
    let first = stream.next_record().map_err(|e| io(path, &e))?;
    let meta = match first {
        Some(first) if first.kind == RecordKind::Meta => serde_json::from_slice::<EpisodeMeta>(&first.payload)
            .map_err(|e| format(format!("bad episode metadata: {e}")))?,
        _ => {
            let reason = stream.torn_tail.take();
            return Err(format(reason.unwrap_or_else(|| "the episode has no metadata record".into())));
        }
    };
    let mut episode = Episode {
        path: path.to_owned(),
        meta,
        frames: Vec::new(),
        joints: Vec::new(),
        actions: Vec::new(),
        events: Vec::new(),
        end: None,
        torn_tail: None,
        skipped: Vec::new(),
    };
    while let Some(record) = stream.next_record().map_err(|e| io(path, &e))? {
        let image_at = stream.last_at + crate::episode_log::PAYLOAD_OFFSET + 18;
        let p = &record.payload;
        match record.kind {
            RecordKind::CameraFrame if p.len() >= 18 => episode.frames.push(StoredFrame {
                camera: u16::from_le_bytes([p[0], p[1]]),
                width: u32::from_le_bytes([p[2], p[3], p[4], p[5]]),
                height: u32::from_le_bytes([p[6], p[7], p[8], p[9]]),
                sequence: u64::from_le_bytes([p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17]]),
                time: record.time,
                jpeg: if images { p[18..].to_vec() } else { Vec::new() },
                stored_at: (image_at, p.len() - 18),
            }),
            RecordKind::JointState if p.len() >= 2 => {
                let n = usize::from(u16::from_le_bytes([p[0], p[1]]));
                let values = f64s(&p[2..]);
                if values.len() == 2 * n + 1 {
                    episode.joints.push(JointSample {
                        time: record.time,
                        positions: values[..n].to_vec(),
                        velocities: values[n..2 * n].to_vec(),
                        gripper: values[2 * n],
                    });
                }
            }
            RecordKind::Action if p.len() >= 2 => {
                let n = usize::from(u16::from_le_bytes([p[0], p[1]])).min((p.len() - 2) / 8);
                let values = f64s(&p[2..2 + 8 * n]);
                let source = crate::recorder::action_source(p, n);
                episode.actions.push(ActionSample { time: record.time, values, source });
            }
            RecordKind::Event => {
                if let Ok(value) = serde_json::from_slice(p) {
                    episode.events.push((record.time, value));
                }
            }
            RecordKind::End => episode.end = serde_json::from_slice(p).ok(),
            _ => {}
        }
    }
    episode.torn_tail = stream.torn_tail;
    episode.skipped = stream.skipped;
    episode.frames.sort_by_key(|f| (f.camera, f.time));
    episode.joints.sort_by_key(|j| j.time);
    episode.actions.sort_by_key(|a| a.time);
    episode.events.sort_by_key(|e| e.0);
    Ok(episode)
}

/// A session folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDir {
    pub root: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub name: String,
    pub robot: String,
    pub created_unix_s: u64,
}

impl SessionDir {
    /// Opens `root`, creating it (with `session.json`) if it does not exist.
    pub fn open_or_create(root: &Path, robot: &str) -> Result<Self, SessionError> {
        std::fs::create_dir_all(root.join("episodes")).map_err(|e| io(root, &e))?;
        let info_path = root.join("session.json");
        if !info_path.exists() {
            let info = SessionInfo {
                name: root.file_name().map_or_else(|| "session".into(), |n| n.to_string_lossy().into_owned()),
                robot: robot.to_owned(),
                created_unix_s: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            };
            let json = serde_json::to_string_pretty(&info).map_err(|e| io(&info_path, &e))?;
            // Written to a temporary name and renamed: never half a file under the real name.
            let temporary = root.join("session.json.tmp");
            std::fs::write(&temporary, json).map_err(|e| io(&temporary, &e))?;
            std::fs::rename(&temporary, &info_path).map_err(|e| io(&info_path, &e))?;
        }
        Ok(Self { root: root.to_owned() })
    }

    /// Opens an existing session.
    pub fn open(root: &Path) -> Result<Self, SessionError> {
        if !root.join("episodes").is_dir() {
            return Err(SessionError::Format {
                path: root.display().to_string(),
                message: "not a KineDesk session (no episodes/ folder)".into(),
            });
        }
        Ok(Self { root: root.to_owned() })
    }

    /// The episode logs, in order.
    pub fn episode_paths(&self) -> Result<Vec<PathBuf>, SessionError> {
        let dir = self.root.join("episodes");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| io(&dir, &e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "kdlog"))
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// Where the next episode goes: after every episode number in use, those in the trash included (so a
    /// discarded episode can always be restored under its own name).
    pub fn next_episode_path(&self) -> Result<PathBuf, SessionError> {
        Ok(self.episode_path(self.next_episode_number()?))
    }

    /// The number the next episode gets (see [`SessionDir::next_episode_path`]).
    pub fn next_episode_number(&self) -> Result<u64, SessionError> {
        let trashed: Vec<PathBuf> = std::fs::read_dir(self.root.join("trash"))
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        Ok(self
            .episode_paths()?
            .iter()
            .chain(&trashed)
            .filter_map(|p| p.file_name()?.to_str()?.strip_prefix("episode_")?.get(..6)?.parse::<u64>().ok())
            .max()
            .map_or(0, |n| n + 1))
    }

    /// Where episode number `number` of this session lives.
    #[must_use]
    pub fn episode_path(&self, number: u64) -> PathBuf {
        self.root.join("episodes").join(format!("episode_{number:06}.kdlog"))
    }
}

/// What the episode list shows of an episode, read from its first and last records only (a finished episode's end
/// record carries its counts); an episode without one (recorded before counts were kept, or cut short by a crash)
/// is counted in one streaming pass that holds no more than one record in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeSummary {
    pub meta: EpisodeMeta,
    pub frames: u64,
    pub joint_states: u64,
    pub duration_s: f64,
    /// The end record, if the episode was finished.
    pub finished: bool,
    /// What a crash cut off, if anything.
    pub torn_tail: Option<String>,
    pub bytes: u64,
}

/// Reads an episode's summary (see [`EpisodeSummary`]).
pub fn episode_summary(path: &Path) -> Result<EpisodeSummary, SessionError> {
    use crate::episode_log::{count_records, first_and_last_record};
    let format = |message: String| SessionError::Format { path: path.display().to_string(), message };
    let bytes = std::fs::metadata(path).map_err(|e| io(path, &e))?.len();
    let (first, last) = first_and_last_record(path).map_err(|e| io(path, &e))?;
    let meta = match first {
        Some(first) if first.kind == RecordKind::Meta => serde_json::from_slice::<EpisodeMeta>(&first.payload)
            .map_err(|e| format(format!("bad episode metadata: {e}")))?,
        _ => return Err(format("the episode has no metadata record".into())),
    };
    let end = last.filter(|record| record.kind == RecordKind::End);
    let counts = end
        .as_ref()
        .and_then(|record| serde_json::from_slice::<serde_json::Value>(&record.payload).ok())
        .and_then(|end| serde_json::from_value::<crate::recorder::EpisodeCounts>(end.get("summary")?.clone()).ok());
    if let Some(counts) = counts {
        let duration_ns = counts.last_ns.zip(counts.first_ns).map_or(0, |(last, first)| last.saturating_sub(first));
        return Ok(EpisodeSummary {
            meta,
            frames: counts.frames_per_camera.iter().sum(),
            joint_states: counts.joint_states,
            duration_s: duration_ns as f64 / 1e9,
            finished: true,
            torn_tail: None,
            bytes,
        });
    }
    let counts = count_records(path).map_err(|e| io(path, &e))?;
    let duration_ns = counts.last_ns.zip(counts.first_ns).map_or(0, |(last, first)| last.saturating_sub(first));
    Ok(EpisodeSummary {
        meta,
        frames: counts.frames_per_camera.iter().sum(),
        joint_states: counts.joint_states,
        duration_s: duration_ns as f64 / 1e9,
        finished: end.is_some(),
        torn_tail: counts.torn_tail,
        bytes,
    })
}
