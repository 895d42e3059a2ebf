//! rosbag2 (MCAP storage, the default since ROS 2 Iron) → a session episode that opens on the timeline, is annotated
//! and exported like any other.
//!
//! - Joint states: one `sensor_msgs/JointState` topic (`--joint-states`, or the only one in the bag); the joints are
//!   those of its first message, in that order, and later messages are matched to them by name.
//! - Cameras: `sensor_msgs/CompressedImage` (JPEG/PNG bytes kept as recorded) and `sensor_msgs/Image` (encoded to
//!   PNG, lossless); `--camera` topics, or every image topic in the bag.
//! - Times: each message's header stamp where it is set and within 10 s of the time the bag logged it (the capture
//!   time), else the log time; the episode's zero is the bag's first logged message. `started_unix_s` is that
//!   message's Unix time.
//! - Not in a bag of states and images, and so not invented: commanded actions (the export marks every frame
//!   `is_commanded = false`) and the gripper (`unmeasured: ["gripper"]` in the episode metadata, said in the
//!   export's feature description).
//! - The bag is read as a stream (bounded memory, whatever its size); records go to a scratch log first, since the
//!   episode's metadata (joints, cameras, rate) is known only at the end, and the episode is assembled from it.
//!   All or nothing: an import that fails leaves no episode behind.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use kinedesk_core::Timestamp;
use kinedesk_sessions::episode::SessionDir;
use kinedesk_sessions::episode_log::{FILE_HEADER, LogWriter, RecordKind};
use kinedesk_sessions::events::TimelineEvent;
use kinedesk_sessions::recorder::{EpisodeMeta, encoded_frame_payload, joint_payload};

use crate::camera::image_to_rgba;
use crate::msg::{CompressedImageMsg, ImageMsg, JointStateMsg, RosMessage};

/// What to take from the bag.
#[derive(Clone, Debug, Default)]
pub struct RosbagOptions {
    /// The `JointState` topic (default: the only one in the bag).
    pub joint_states: Option<String>,
    /// Image topics (default: every `Image` and `CompressedImage` topic).
    pub cameras: Vec<String>,
    /// The episode's instruction (none when empty).
    pub task: String,
}

/// One camera as imported.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CameraImport {
    pub topic: String,
    /// The camera's name in the session (and the dataset key `observation.images.NAME`).
    pub name: String,
    pub r#type: String,
    pub frames: usize,
    pub width: u32,
    pub height: u32,
}

/// A topic of the bag that was not imported.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SkippedTopic {
    pub topic: String,
    pub r#type: String,
    pub messages: usize,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RosbagSummary {
    pub bag: PathBuf,
    pub files: Vec<PathBuf>,
    pub episode: PathBuf,
    pub joint_topic: Option<String>,
    pub joint_names: Vec<String>,
    pub joint_states: usize,
    /// JointState messages left out because they lacked a joint of the first message.
    pub joint_states_incomplete: usize,
    pub cameras: Vec<CameraImport>,
    pub frames: usize,
    /// The dataset rate: the first camera's median frame interval (the joint states' without cameras).
    pub fps: f64,
    pub duration_s: f64,
    pub messages: usize,
    pub bytes_read: u64,
    pub skipped_topics: Vec<SkippedTopic>,
    pub unmeasured: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RosbagError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} is not a rosbag2 MCAP bag KineDesk can read: {message}")]
    Format { path: String, message: String },
    #[error("{0}")]
    Topics(String),
}

fn io(path: &Path, error: &dyn std::fmt::Display) -> RosbagError {
    RosbagError::Io { path: path.display().to_string(), message: error.to_string() }
}

fn format(path: &Path, message: impl Into<String>) -> RosbagError {
    RosbagError::Format { path: path.display().to_string(), message: message.into() }
}

/// Whether `path` looks like a rosbag2 recording rather than a LeRobot dataset: an `.mcap` (or `.db3`) file, or a
/// folder of them (or with `metadata.yaml`) without `meta/info.json`. [`bag_files`] then says what it can read.
#[must_use]
pub fn looks_like_bag(path: &Path) -> bool {
    let bag_file = |p: &Path| p.extension().is_some_and(|e| e == "mcap" || e == "db3");
    if path.is_file() {
        return bag_file(path);
    }
    !path.join("meta/info.json").exists()
        && std::fs::read_dir(path).is_ok_and(|entries| {
            entries.filter_map(Result::ok).map(|e| e.path()).any(|p| bag_file(&p) || p.ends_with("metadata.yaml"))
        })
}

/// The MCAP files of a bag: a bag folder (`metadata.yaml` and its `*.mcap` splits, in name order) or one `.mcap`.
pub fn bag_files(bag: &Path) -> Result<Vec<PathBuf>, RosbagError> {
    if bag.is_file() {
        return match bag.extension().and_then(|e| e.to_str()) {
            Some("mcap") => Ok(vec![bag.to_owned()]),
            Some("db3") => Err(format(
                bag,
                "sqlite3 storage is not read; convert the bag to MCAP (ros2 bag convert, storage_id: mcap)",
            )),
            _ => Err(format(bag, "expected a bag folder or an .mcap file")),
        };
    }
    let entries = std::fs::read_dir(bag).map_err(|e| io(bag, &e))?;
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let mcap: Vec<PathBuf> = files.iter().filter(|p| p.extension().is_some_and(|e| e == "mcap")).cloned().collect();
    if mcap.is_empty() {
        let sqlite = files.iter().any(|p| p.extension().is_some_and(|e| e == "db3"));
        return Err(format(
            bag,
            if sqlite {
                "its storage is sqlite3 (.db3), which is not read; convert it to MCAP (ros2 bag convert)"
            } else {
                "no .mcap files in it"
            },
        ));
    }
    Ok(mcap)
}

/// What a channel is, once known.
#[derive(Clone)]
struct ChannelInfo {
    topic: String,
    r#type: String,
    encoding: String,
}

enum Role {
    Joints,
    Camera(u16),
    Skip,
}

struct Import {
    options: RosbagOptions,
    channels: HashMap<u16, ChannelInfo>,
    schemas: HashMap<u16, (String, String)>,
    counts: BTreeMap<String, (String, usize)>,
    joint_topic: Option<String>,
    joint_names: Vec<String>,
    joint_states: usize,
    joint_incomplete: usize,
    joint_times: Vec<u64>,
    cameras: Vec<CameraImport>,
    camera_times: Vec<Vec<u64>>,
    /// The bag's first log time (ns, Unix).
    origin: Option<u64>,
    last_time: u64,
    scratch: LogWriter,
    messages: usize,
}

/// Header stamps within this of the log time are taken as the capture time.
const STAMP_TRUST_NS: u64 = 10_000_000_000;

impl Import {
    fn time(&mut self, log_time: u64, stamp_ns: u64) -> Timestamp {
        let origin = *self.origin.get_or_insert(log_time);
        let t = if stamp_ns > 0 && stamp_ns.abs_diff(log_time) <= STAMP_TRUST_NS { stamp_ns } else { log_time };
        self.last_time = self.last_time.max(t);
        // One second of headroom before the origin (a stamp a little earlier than the first log time).
        Timestamp::from_nanos((1_000_000_000 + i128::from(t) - i128::from(origin)).max(0) as u64)
    }

    fn role(&mut self, channel: &ChannelInfo) -> Role {
        if channel.r#type == JointStateMsg::ROS_TYPE {
            let chosen = match &self.options.joint_states {
                Some(topic) => *topic == channel.topic,
                None => self.joint_topic.as_ref().is_none_or(|t| *t == channel.topic),
            };
            if chosen {
                self.joint_topic = Some(channel.topic.clone());
                return Role::Joints;
            }
            return Role::Skip;
        }
        let image = channel.r#type == ImageMsg::ROS_TYPE || channel.r#type == CompressedImageMsg::ROS_TYPE;
        let wanted =
            if self.options.cameras.is_empty() { image } else { self.options.cameras.contains(&channel.topic) };
        if !wanted {
            return Role::Skip;
        }
        if let Some(index) = self.cameras.iter().position(|c| c.topic == channel.topic) {
            return Role::Camera(index as u16);
        }
        self.cameras.push(CameraImport {
            topic: channel.topic.clone(),
            name: camera_name(&channel.topic),
            r#type: channel.r#type.clone(),
            frames: 0,
            width: 0,
            height: 0,
        });
        self.camera_times.push(Vec::new());
        Role::Camera((self.cameras.len() - 1) as u16)
    }

    fn message(&mut self, file: &Path, channel_id: u16, log_time: u64, data: &[u8]) -> Result<(), RosbagError> {
        let channel = self
            .channels
            .get(&channel_id)
            .cloned()
            .ok_or_else(|| format(file, format!("a message on channel {channel_id}, which was never declared")))?;
        self.messages += 1;
        self.counts.entry(channel.topic.clone()).or_insert_with(|| (channel.r#type.clone(), 0)).1 += 1;
        let role = self.role(&channel);
        if !matches!(role, Role::Skip) && channel.encoding != "cdr" {
            return Err(format(file, format!("{} is encoded as {:?}, not CDR", channel.topic, channel.encoding)));
        }
        let bad =
            |e: crate::msg::CdrError| format(file, format!("a {} message on {}: {e}", channel.r#type, channel.topic));
        let write_error = |e: std::io::Error| io(file, &e);
        match role {
            Role::Skip => {}
            Role::Joints => {
                let message = JointStateMsg::from_cdr(data).map_err(bad)?;
                if self.joint_names.is_empty() {
                    if message.name.is_empty() {
                        return Err(format(file, format!("the first JointState on {} names no joints", channel.topic)));
                    }
                    self.joint_names = message.name.clone();
                }
                let at = self.time(log_time, message.header.stamp.as_nanos());
                let mut positions = Vec::with_capacity(self.joint_names.len());
                let mut velocities = Vec::with_capacity(self.joint_names.len());
                for name in &self.joint_names {
                    let Some(i) = message.name.iter().position(|n| n == name) else { break };
                    let Some(q) = message.position.get(i).copied().filter(|q| q.is_finite()) else { break };
                    positions.push(q);
                    velocities.push(message.velocity.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0));
                }
                if positions.len() < self.joint_names.len() {
                    self.joint_incomplete += 1;
                    return Ok(());
                }
                // No gripper in a JointState: 0 is a placeholder, and the metadata says it was not measured.
                self.scratch
                    .write(RecordKind::JointState, at, &joint_payload(&positions, &velocities, 0.0))
                    .map_err(write_error)?;
                self.joint_times.push(at.as_nanos());
                self.joint_states += 1;
            }
            Role::Camera(index) => {
                let (stamp, width, height, encoded) = if channel.r#type == CompressedImageMsg::ROS_TYPE {
                    let message = CompressedImageMsg::from_cdr(data).map_err(bad)?;
                    let (width, height) = image::ImageReader::new(std::io::Cursor::new(&message.data))
                        .with_guessed_format()
                        .ok()
                        .and_then(|r| r.into_dimensions().ok())
                        .ok_or_else(|| {
                            format(
                                file,
                                format!(
                                    "a CompressedImage on {} ({:?}, {} bytes) is not a readable JPEG or PNG",
                                    channel.topic,
                                    message.format,
                                    message.data.len()
                                ),
                            )
                        })?;
                    (message.header.stamp.as_nanos(), width, height, message.data)
                } else {
                    let message = ImageMsg::from_cdr(data).map_err(bad)?;
                    let rgba = image_to_rgba(&message)
                        .map_err(|e| format(file, format!("an Image on {}: {e}", channel.topic)))?;
                    let mut png = Vec::new();
                    image::RgbaImage::from_raw(message.width, message.height, rgba)
                        .ok_or_else(|| format(file, format!("an Image on {} has the wrong size", channel.topic)))?
                        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                        .map_err(|e| format(file, format!("encoding an Image of {}: {e}", channel.topic)))?;
                    (message.header.stamp.as_nanos(), message.width, message.height, png)
                };
                let at = self.time(log_time, stamp);
                let camera = &mut self.cameras[usize::from(index)];
                camera.width = width;
                camera.height = height;
                let sequence = camera.frames as u64;
                camera.frames += 1;
                self.scratch
                    .write(
                        RecordKind::CameraFrame,
                        at,
                        &encoded_frame_payload(index, width, height, sequence, &encoded),
                    )
                    .map_err(write_error)?;
                self.camera_times[usize::from(index)].push(at.as_nanos());
            }
        }
        Ok(())
    }
}

/// A camera's name from its topic: `/camera/color/image_raw/compressed` → `camera_color_image_raw_compressed`.
#[must_use]
pub fn camera_name(topic: &str) -> String {
    topic.trim_matches('/').replace(['/', ' '], "_")
}

/// The median interval of a stream (s), `None` with fewer than two samples.
fn median_interval_s(times: &[u64]) -> Option<f64> {
    let mut gaps: Vec<u64> = times.windows(2).map(|w| w[1].saturating_sub(w[0])).filter(|g| *g > 0).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2] as f64 * 1e-9)
}

/// The rate for a median interval: a whole number of frames per second when within 1 % of one.
fn rate(interval_s: f64) -> f64 {
    let fps = 1.0 / interval_s;
    if (fps - fps.round()).abs() <= 0.01 * fps { fps.round() } else { fps }
}

/// Imports the bag at `bag` as one new episode of `session` (created if needed). `progress(bytes read, total)`.
pub fn import_rosbag(
    bag: &Path,
    session: &Path,
    options: &RosbagOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<RosbagSummary, RosbagError> {
    let files = bag_files(bag)?;
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let session_existed = session.exists();
    let dir = SessionDir::open_or_create(session, "unknown").map_err(|e| io(session, &e))?;
    let episode = dir.next_episode_path().map_err(|e| io(session, &e))?;
    let scratch_path = episode.with_extension("rosbag-import.partial");
    let _ = std::fs::remove_file(&scratch_path);
    let result = (|| {
        let scratch = LogWriter::create(&scratch_path).map_err(|e| io(&scratch_path, &e))?;
        let mut import = Import {
            options: options.clone(),
            channels: HashMap::new(),
            schemas: HashMap::new(),
            counts: BTreeMap::new(),
            joint_topic: None,
            joint_names: Vec::new(),
            joint_states: 0,
            joint_incomplete: 0,
            joint_times: Vec::new(),
            cameras: Vec::new(),
            camera_times: Vec::new(),
            origin: None,
            last_time: 0,
            scratch,
            messages: 0,
        };
        let mut read = 0u64;
        for file in &files {
            read_mcap(file, &mut import, |bytes| {
                progress(read + bytes, total);
            })?;
            read += std::fs::metadata(file).map_or(0, |m| m.len());
        }
        progress(total, total);
        finish(bag, &files, &episode, &scratch_path, import, total)
    })();
    let _ = std::fs::remove_file(&scratch_path);
    if result.is_err() {
        let _ = std::fs::remove_file(&episode);
        if !session_existed {
            let _ = std::fs::remove_dir_all(session);
        }
    }
    result
}

fn read_mcap(file: &Path, import: &mut Import, mut progress: impl FnMut(u64)) -> Result<(), RosbagError> {
    let mut input = std::fs::File::open(file).map_err(|e| io(file, &e))?;
    let mut reader = mcap::sans_io::linear_reader::LinearReader::new();
    let mut read = 0u64;
    while let Some(event) = reader.next_event() {
        let event = event.map_err(|e| format(file, e.to_string()))?;
        match event {
            mcap::sans_io::linear_reader::LinearReadEvent::ReadRequest(n) => {
                let buffer = reader.insert(n.max(1 << 16));
                let got = input.read(buffer).map_err(|e| io(file, &e))?;
                reader.notify_read(got);
                read += got as u64;
                progress(read);
            }
            mcap::sans_io::linear_reader::LinearReadEvent::Record { data, opcode } => {
                match mcap::parse_record(opcode, data).map_err(|e| format(file, e.to_string()))? {
                    mcap::records::Record::Schema { header, .. } => {
                        import.schemas.insert(header.id, (header.name, header.encoding));
                    }
                    mcap::records::Record::Channel(channel) => {
                        let (r#type, _) = import.schemas.get(&channel.schema_id).cloned().unwrap_or_default();
                        import.channels.insert(
                            channel.id,
                            ChannelInfo { topic: channel.topic, r#type, encoding: channel.message_encoding },
                        );
                    }
                    mcap::records::Record::Message { header, data } => {
                        import.message(file, header.channel_id, header.log_time, &data)?;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn finish(
    bag: &Path,
    files: &[PathBuf],
    episode: &Path,
    scratch_path: &Path,
    mut import: Import,
    bytes_read: u64,
) -> Result<RosbagSummary, RosbagError> {
    // Topics asked for that the bag does not have, or has with another type.
    let available =
        || import.counts.iter().map(|(topic, (t, _))| format!("{topic} ({t})")).collect::<Vec<_>>().join(", ");
    if let Some(topic) = &import.options.joint_states {
        match import.counts.get(topic) {
            None => return Err(RosbagError::Topics(format!("no topic {topic} in the bag; it has {}", available()))),
            Some((t, _)) if t != JointStateMsg::ROS_TYPE => {
                return Err(RosbagError::Topics(format!(
                    "--joint-states {topic} is {t}, not {}",
                    JointStateMsg::ROS_TYPE
                )));
            }
            Some(_) => {}
        }
    }
    for topic in &import.options.cameras {
        match import.counts.get(topic) {
            None => return Err(RosbagError::Topics(format!("no topic {topic} in the bag; it has {}", available()))),
            Some((t, _)) if t != ImageMsg::ROS_TYPE && t != CompressedImageMsg::ROS_TYPE => {
                return Err(RosbagError::Topics(format!(
                    "--camera {topic} is {t}; cameras are {} or {}",
                    ImageMsg::ROS_TYPE,
                    CompressedImageMsg::ROS_TYPE
                )));
            }
            Some(_) => {}
        }
    }
    let joint_topics: Vec<&String> =
        import.counts.iter().filter(|(_, (t, _))| t == JointStateMsg::ROS_TYPE).map(|(topic, _)| topic).collect();
    if import.options.joint_states.is_none() && joint_topics.len() > 1 {
        return Err(RosbagError::Topics(format!(
            "the bag has {} JointState topics ({}): choose one with --joint-states",
            joint_topics.len(),
            joint_topics.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    if import.joint_states == 0 && import.cameras.iter().all(|c| c.frames == 0) {
        return Err(RosbagError::Topics(format!(
            "nothing to import: no JointState and no image messages (the bag has {})",
            available()
        )));
    }
    let camera_interval = import.camera_times.first().and_then(|t| median_interval_s(t));
    let interval = camera_interval.or_else(|| median_interval_s(&import.joint_times)).ok_or_else(|| {
        RosbagError::Topics("too few messages to tell the rate (at least two frames or joint states)".into())
    })?;
    let fps = rate(interval);
    let origin = import.origin.unwrap_or(0);
    let duration_s = import.last_time.saturating_sub(origin) as f64 * 1e-9;
    let end_at = Timestamp::from_nanos(1_000_000_000 + import.last_time.saturating_sub(origin));
    let end = serde_json::json!({"type": "end", "imported": "rosbag2", "frames": import.cameras.iter().map(|c| c.frames).sum::<usize>()});
    import.scratch.write(RecordKind::End, end_at, end.to_string().as_bytes()).map_err(|e| io(scratch_path, &e))?;
    import.scratch.sync().map_err(|e| io(scratch_path, &e))?;
    drop(import.scratch);

    let unmeasured = vec!["gripper".to_owned()];
    let meta = EpisodeMeta {
        task: import.options.task.clone(),
        robot: "unknown".into(),
        joint_names: import.joint_names.clone(),
        cameras: import.cameras.iter().map(|c| c.name.clone()).collect(),
        fps,
        unmeasured: unmeasured.clone(),
        started_unix_s: origin as f64 * 1e-9,
    };
    let at_zero = Timestamp::from_nanos(1_000_000_000);
    {
        let mut log = LogWriter::create(episode).map_err(|e| io(episode, &e))?;
        let json = serde_json::to_vec(&meta).map_err(|e| io(episode, &e))?;
        log.write(RecordKind::Meta, at_zero, &json).map_err(|e| io(episode, &e))?;
        if !import.options.task.trim().is_empty() {
            let instruction =
                TimelineEvent::Instruction { text: import.options.task.clone(), source: Some("rosbag".into()) };
            log.write(RecordKind::Event, at_zero, instruction.to_json().to_string().as_bytes())
                .map_err(|e| io(episode, &e))?;
        }
        log.sync().map_err(|e| io(episode, &e))?;
    }
    // The scratch log's records (everything after its file header) follow the metadata as they are.
    let mut source = std::fs::File::open(scratch_path).map_err(|e| io(scratch_path, &e))?;
    let mut header = [0u8; FILE_HEADER.len()];
    source.read_exact(&mut header).map_err(|e| io(scratch_path, &e))?;
    let mut target = std::fs::OpenOptions::new().append(true).open(episode).map_err(|e| io(episode, &e))?;
    std::io::copy(&mut source, &mut target).map_err(|e| io(episode, &e))?;
    target.flush().map_err(|e| io(episode, &e))?;
    target.sync_data().map_err(|e| io(episode, &e))?;

    let imported: Vec<&String> = import.cameras.iter().map(|c| &c.topic).chain(import.joint_topic.iter()).collect();
    let skipped_topics = import
        .counts
        .iter()
        .filter(|(topic, _)| !imported.contains(topic))
        .map(|(topic, (t, messages))| SkippedTopic { topic: topic.clone(), r#type: t.clone(), messages: *messages })
        .collect();
    Ok(RosbagSummary {
        bag: bag.to_owned(),
        files: files.to_vec(),
        episode: episode.to_owned(),
        joint_topic: import.joint_topic.clone(),
        joint_names: import.joint_names.clone(),
        joint_states: import.joint_states,
        joint_states_incomplete: import.joint_incomplete,
        frames: import.cameras.iter().map(|c| c.frames).sum(),
        cameras: import.cameras,
        fps,
        duration_s,
        messages: import.messages,
        bytes_read,
        skipped_topics,
        unmeasured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_names() {
        assert_eq!(rate(1.0 / 29.9), 30.0);
        assert!((rate(1.0 / 14.0) - 14.0).abs() < 1e-9);
        assert!((rate(0.0375) - 26.666_666).abs() < 1e-3);
        assert_eq!(median_interval_s(&[0, 10, 20, 40, 50]), Some(10e-9));
        assert_eq!(median_interval_s(&[5]), None);
        assert_eq!(camera_name("/camera/color/image_raw/compressed"), "camera_color_image_raw_compressed");
    }
}
