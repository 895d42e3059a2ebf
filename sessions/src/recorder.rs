//! Recording an episode: camera frames (JPEG-encoded by a pool of threads), joint states, actions and timeline
//! events, all on the shared clock, written by one writer thread into the episode log and made durable at least
//! once a second. Producers never block: when a queue is full the item is dropped and counted, never silently.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kinedesk_core::Timestamp;
use kinedesk_core::driver::CommandSource;
use kinedesk_core::frame::Frame;

use crate::episode_log::{LogWriter, RecordKind};

/// Longest time between making the log durable (a crash loses at most this much).
pub const SYNC_INTERVAL: Duration = Duration::from_millis(500);
const ENCODE_QUEUE: usize = 96;
const WRITE_QUEUE: usize = 8192;

/// What an episode is about, written as its first record.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeMeta {
    pub task: String,
    pub robot: String,
    pub joint_names: Vec<String>,
    /// Camera names, by index.
    pub cameras: Vec<String>,
    /// Nominal rate of the dataset frames (camera rate).
    pub fps: f64,
    /// Parts of the state the source did not measure (e.g. `gripper` for an arm recorded without one): the value
    /// stored there is a placeholder, and the export says so in its metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmeasured: Vec<String>,
    pub started_unix_s: f64,
}

/// Counters, readable while recording.
#[derive(Debug, Default)]
pub struct RecorderCounters {
    pub frames_queued: AtomicU64,
    /// Frames waiting in the encode queue right now.
    pub frames_waiting: AtomicU64,
    pub frames_written: AtomicU64,
    /// Frames written before the last sync: what a crash now would keep.
    pub frames_durable: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub records_written: AtomicU64,
    pub records_dropped: AtomicU64,
    pub bytes_written: AtomicU64,
    pub syncs: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecorderStats {
    pub frames_written: u64,
    pub frames_durable: u64,
    pub frames_dropped: u64,
    pub records_written: u64,
    pub records_dropped: u64,
    pub bytes_written: u64,
}

/// What an episode holds, written into its end record so listing a session reads only each log's first and last
/// record (see [`crate::episode::episode_summary`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpisodeCounts {
    pub frames_per_camera: Vec<u64>,
    pub joint_states: u64,
    pub actions: u64,
    pub events: u64,
    /// First and last record time (shared clock, ns), metadata and end records aside.
    pub first_ns: Option<u64>,
    pub last_ns: Option<u64>,
    /// Frames and records the recorder had to drop (queues full), counted.
    pub frames_dropped: u64,
    pub records_dropped: u64,
}

impl EpisodeCounts {
    pub(crate) fn count(&mut self, kind: RecordKind, time: Timestamp, payload: &[u8]) {
        match kind {
            RecordKind::CameraFrame if payload.len() >= 2 => {
                let camera = usize::from(u16::from_le_bytes([payload[0], payload[1]]));
                if self.frames_per_camera.len() <= camera {
                    self.frames_per_camera.resize(camera + 1, 0);
                }
                self.frames_per_camera[camera] += 1;
            }
            RecordKind::JointState => self.joint_states += 1,
            RecordKind::Action => self.actions += 1,
            RecordKind::Event => self.events += 1,
            _ => return,
        }
        let nanos = time.as_nanos();
        self.first_ns = Some(self.first_ns.map_or(nanos, |t| t.min(nanos)));
        self.last_ns = Some(self.last_ns.map_or(nanos, |t| t.max(nanos)));
    }
}

enum WriteItem {
    Record(RecordKind, Timestamp, Vec<u8>, bool),
    Finish(serde_json::Value),
}

/// A recording in progress.
pub struct Recorder {
    path: PathBuf,
    encode_tx: Option<SyncSender<(u16, Arc<Frame>)>>,
    write_tx: SyncSender<WriteItem>,
    counters: Arc<RecorderCounters>,
    encoders: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<std::io::Result<()>>>,
    failed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
}

fn encode_jpeg(frame: &Frame) -> Result<Vec<u8>, String> {
    let rgb = frame.to_rgb();
    let mut jpeg = Vec::with_capacity(rgb.len() / 8);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(&rgb, frame.width, frame.height, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(jpeg)
}

/// The payload of a camera-frame record.
#[must_use]
pub fn frame_payload(camera: u16, frame: &Frame, jpeg: &[u8]) -> Vec<u8> {
    encoded_frame_payload(camera, frame.width, frame.height, frame.sequence, jpeg)
}

/// The payload of a camera-frame record from its parts (`encoded`: JPEG as recorded, or PNG when imported).
#[must_use]
pub fn encoded_frame_payload(camera: u16, width: u32, height: u32, sequence: u64, encoded: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(18 + encoded.len());
    payload.extend_from_slice(&camera.to_le_bytes());
    payload.extend_from_slice(&width.to_le_bytes());
    payload.extend_from_slice(&height.to_le_bytes());
    payload.extend_from_slice(&sequence.to_le_bytes());
    payload.extend_from_slice(encoded);
    payload
}

/// The payload of a joint-state record.
#[must_use]
pub fn joint_payload(positions: &[f64], velocities: &[f64], gripper: f64) -> Vec<u8> {
    let n = positions.len().min(usize::from(u16::MAX));
    let mut payload = Vec::with_capacity(2 + 16 * n + 8);
    payload.extend_from_slice(&(n as u16).to_le_bytes());
    for value in positions.iter().take(n).chain(velocities.iter().chain(std::iter::repeat(&0.0)).take(n)) {
        payload.extend_from_slice(&value.to_le_bytes());
    }
    payload.extend_from_slice(&gripper.to_le_bytes());
    payload
}

/// The payload of an action record.
#[must_use]
/// `source`, when known, follows the values: one tag byte (1 plan, 2 teleop, 3 point-to-point move) and the plan id
/// (u64 LE, 0 for the others). Logs written before it existed end after the values; readers take both.
pub fn action_payload(values: &[f64], source: Option<CommandSource>) -> Vec<u8> {
    let n = values.len().min(usize::from(u16::MAX));
    let mut payload = Vec::with_capacity(2 + 8 * n + 9);
    payload.extend_from_slice(&(n as u16).to_le_bytes());
    for value in values.iter().take(n) {
        payload.extend_from_slice(&value.to_le_bytes());
    }
    if let Some(source) = source {
        let (tag, id) = match source {
            CommandSource::Plan { id } => (1u8, id),
            CommandSource::Teleop => (2, 0),
            CommandSource::MoveTo => (3, 0),
        };
        payload.push(tag);
        payload.extend_from_slice(&id.to_le_bytes());
    }
    payload
}

/// The source trailer of an action payload after `n` values, if it has one.
#[must_use]
pub fn action_source(payload: &[u8], n: usize) -> Option<CommandSource> {
    let trailer = payload.get(2 + 8 * n..)?;
    let (&tag, id) = trailer.split_first()?;
    let id = u64::from_le_bytes(id.get(..8)?.try_into().ok()?);
    match tag {
        1 => Some(CommandSource::Plan { id }),
        2 => Some(CommandSource::Teleop),
        3 => Some(CommandSource::MoveTo),
        _ => None,
    }
}

impl Recorder {
    /// Starts recording an episode into `path` (a new file) with `encoders` JPEG threads.
    pub fn start(path: &Path, meta: &EpisodeMeta, encoders: usize) -> std::io::Result<Self> {
        let mut log = LogWriter::create(path)?;
        let json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
        log.write(RecordKind::Meta, Timestamp::now(), &json)?;
        log.sync()?;
        let counters = Arc::new(RecorderCounters::default());
        let failed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let (write_tx, write_rx) = sync_channel::<WriteItem>(WRITE_QUEUE);
        let writer = {
            let (counters, failed, error) = (counters.clone(), failed.clone(), error.clone());
            std::thread::Builder::new().name("kinedesk-recorder-writer".into()).spawn(move || {
                let result = write_loop(&mut log, &write_rx, &counters);
                if let Err(e) = &result {
                    failed.store(true, Ordering::Release);
                    if let Ok(mut slot) = error.lock() {
                        *slot = Some(e.to_string());
                    }
                }
                result
            })?
        };
        let (encode_tx, encode_rx) = sync_channel::<(u16, Arc<Frame>)>(ENCODE_QUEUE);
        let encode_rx = Arc::new(Mutex::new(encode_rx));
        let mut pool = Vec::new();
        for index in 0..encoders.max(1) {
            let (rx, tx, counters) = (encode_rx.clone(), write_tx.clone(), counters.clone());
            pool.push(std::thread::Builder::new().name(format!("kinedesk-recorder-jpeg-{index}")).spawn(
                move || {
                    loop {
                        let next = rx.lock().ok().and_then(|rx| rx.recv().ok());
                        let Some((camera, frame)) = next else { break };
                        counters.frames_waiting.fetch_sub(1, Ordering::Relaxed);
                        match encode_jpeg(&frame) {
                            Ok(jpeg) => {
                                let payload = frame_payload(camera, &frame, &jpeg);
                                if tx
                                    .send(WriteItem::Record(RecordKind::CameraFrame, frame.captured, payload, true))
                                    .is_err()
                                {
                                    break;
                                }
                            }
                            Err(_) => {
                                counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                },
            )?);
        }
        Ok(Self {
            path: path.to_owned(),
            encode_tx: Some(encode_tx),
            write_tx,
            counters,
            encoders: pool,
            writer: Some(writer),
            failed,
            error,
        })
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a camera frame for encoding; dropped (and counted) if the encoders are behind.
    pub fn frame(&self, camera: u16, frame: Arc<Frame>) {
        let Some(tx) = &self.encode_tx else { return };
        // Counted as waiting before it is queued, so an encoder taking it at once never counts below zero.
        self.counters.frames_waiting.fetch_add(1, Ordering::Relaxed);
        match tx.try_send((camera, frame)) {
            Ok(()) => {
                self.counters.frames_queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.frames_waiting.fetch_sub(1, Ordering::Relaxed);
                self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn record(&self, kind: RecordKind, time: Timestamp, payload: Vec<u8>) {
        if self.write_tx.try_send(WriteItem::Record(kind, time, payload, false)).is_err() {
            self.counters.records_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn joint_state(&self, time: Timestamp, positions: &[f64], velocities: &[f64], gripper: f64) {
        self.record(RecordKind::JointState, time, joint_payload(positions, velocities, gripper));
    }

    pub fn action(&self, time: Timestamp, values: &[f64], source: Option<CommandSource>) {
        self.record(RecordKind::Action, time, action_payload(values, source));
    }

    /// An event on the episode's timeline.
    pub fn event(&self, time: Timestamp, event: &crate::events::TimelineEvent) {
        self.record(RecordKind::Event, time, event.to_json().to_string().into_bytes());
    }

    #[must_use]
    pub fn stats(&self) -> RecorderStats {
        let c = &self.counters;
        RecorderStats {
            frames_written: c.frames_written.load(Ordering::Relaxed),
            frames_durable: c.frames_durable.load(Ordering::Relaxed),
            frames_dropped: c.frames_dropped.load(Ordering::Relaxed),
            records_written: c.records_written.load(Ordering::Relaxed),
            records_dropped: c.records_dropped.load(Ordering::Relaxed),
            bytes_written: c.bytes_written.load(Ordering::Relaxed),
        }
    }

    /// How full the frame-encoding queue is (0 to 1): the recorder falling behind shows here before it drops.
    #[must_use]
    pub fn backlog(&self) -> f32 {
        self.counters.frames_waiting.load(Ordering::Relaxed) as f32 / ENCODE_QUEUE as f32
    }

    /// The writer's error, if writing failed (e.g. the disk is full); recording then stops keeping data.
    #[must_use]
    pub fn error(&self) -> Option<String> {
        if self.failed.load(Ordering::Acquire) { self.error.lock().ok().and_then(|e| e.clone()) } else { None }
    }

    /// Ends the episode: waits for the queued frames, writes the end record (`outcome` JSON, with the episode's
    /// counts added under `summary`) and syncs.
    pub fn finish(mut self, outcome: &serde_json::Value) -> std::io::Result<RecorderStats> {
        self.encode_tx = None;
        for encoder in self.encoders.drain(..) {
            let _ = encoder.join();
        }
        let _ = self.write_tx.send(WriteItem::Finish(outcome.clone()));
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result?,
            Some(Err(_)) => return Err(std::io::Error::other("the recorder's writer thread panicked")),
            None => {}
        }
        Ok(self.stats())
    }
}

fn write_loop(log: &mut LogWriter, rx: &Receiver<WriteItem>, counters: &RecorderCounters) -> std::io::Result<()> {
    let mut last_sync = Instant::now();
    let mut frames_since_sync = 0u64;
    let mut episode = EpisodeCounts::default();
    loop {
        let item = rx.recv_timeout(SYNC_INTERVAL / 4);
        match item {
            Ok(WriteItem::Record(kind, time, payload, is_frame)) => {
                log.write(kind, time, &payload)?;
                episode.count(kind, time, &payload);
                counters.records_written.fetch_add(1, Ordering::Relaxed);
                if is_frame {
                    counters.frames_written.fetch_add(1, Ordering::Relaxed);
                    frames_since_sync += 1;
                }
            }
            Ok(WriteItem::Finish(mut outcome)) => {
                episode.frames_dropped = counters.frames_dropped.load(Ordering::Relaxed);
                episode.records_dropped = counters.records_dropped.load(Ordering::Relaxed);
                if let Some(object) = outcome.as_object_mut() {
                    object.insert("summary".into(), serde_json::to_value(&episode).unwrap_or_default());
                }
                log.write(RecordKind::End, Timestamp::now(), outcome.to_string().as_bytes())?;
                log.sync()?;
                counters.frames_durable.fetch_add(frames_since_sync, Ordering::Relaxed);
                counters.bytes_written.store(log.bytes(), Ordering::Relaxed);
                return Ok(());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                log.sync()?;
                return Ok(());
            }
        }
        if last_sync.elapsed() >= SYNC_INTERVAL {
            log.sync()?;
            counters.frames_durable.fetch_add(frames_since_sync, Ordering::Relaxed);
            counters.syncs.fetch_add(1, Ordering::Relaxed);
            counters.bytes_written.store(log.bytes(), Ordering::Relaxed);
            frames_since_sync = 0;
            last_sync = Instant::now();
        }
    }
}
