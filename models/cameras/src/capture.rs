//! The frame-source interface and the capture thread that runs one source: it opens the source, publishes every
//! frame into a [`FrameSlot`], and when the source fails (a camera unplugged) it says so and reopens it on its own,
//! without touching any other feed or the UI.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kinedesk_core::channel::Waker;
use kinedesk_core::clock::Timestamp;
use kinedesk_core::frame::{DisplayImage, Frame, FrameSlot};

/// How long the capture thread waits before reopening a failed source.
pub const REOPEN_INTERVAL: Duration = Duration::from_millis(500);

/// What an opened source delivers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SourceInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The format before decoding (MJPEG, YUYV, …).
    pub format: String,
    /// A human description ("Synthetic test pattern", "HD Webcam (/dev/video0)").
    pub description: String,
}

/// One captured image, already decoded to RGBA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedImage {
    pub captured: Timestamp,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub source_format: Arc<str>,
    pub decode_us: u32,
}

/// Why a source cannot deliver.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CameraError {
    #[error("no camera found: {0}")]
    NotFound(String),
    #[error("cannot open the camera: {0}")]
    Open(String),
    #[error("the camera stopped delivering: {0}")]
    Disconnected(String),
    #[error("cannot decode the frame: {0}")]
    Decode(String),
}

/// Something that produces frames: a device, a synthetic pattern, a rendered view, a folder of images. A source
/// lives on its capture thread (it is built there, see [`spawn_capture`]), so it need not be `Send`.
pub trait FrameSource {
    fn name(&self) -> String;
    /// Opens (or reopens) the source.
    fn open(&mut self) -> Result<SourceInfo, CameraError>;
    /// Blocks until the next frame; the source paces itself.
    fn next_frame(&mut self) -> Result<CapturedImage, CameraError>;
    /// Releases the device; `open` may be called again afterwards.
    fn close(&mut self);
    /// Sets a device setting (exposure, white balance, …); sources without settings refuse.
    fn apply_setting(&mut self, name: &str, _value: i64) -> Result<(), CameraError> {
        Err(CameraError::Open(format!("{} has no setting {name}", self.name())))
    }
    /// The settings the open source offers, with their ranges and values.
    fn device_settings(&self) -> Vec<super::device::DeviceSetting> {
        Vec::new()
    }
}

/// What a capture thread is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum CameraStatus {
    Opening,
    Streaming(SourceInfo),
    /// The source failed; the thread reopens it every [`REOPEN_INTERVAL`].
    Lost {
        reason: String,
    },
    Stopped,
}

/// Called on the capture thread with every frame (the recorder's way to get all of them, not just the newest).
pub type FrameTap = Box<dyn Fn(&Arc<Frame>) + Send>;

/// Converts a frame for the screen, on the capture thread (installed by the display).
pub type DisplayPrep = Box<dyn Fn(&Frame) -> DisplayImage + Send>;

/// A running capture thread.
pub struct CaptureHandle {
    pub name: String,
    pub slot: Arc<FrameSlot>,
    status: Arc<Mutex<CameraStatus>>,
    /// Incremented on every status change, so readers can log transitions.
    status_changes: Arc<AtomicU64>,
    /// Times the source was reopened after failing.
    reopened: Arc<AtomicU64>,
    /// Settings to apply on the capture thread between frames, and what the source offers.
    setting_requests: Arc<Mutex<Vec<(String, i64)>>>,
    settings: Arc<Mutex<Vec<super::device::DeviceSetting>>>,
    tap: Arc<Mutex<Option<FrameTap>>>,
    display_prep: Arc<Mutex<Option<DisplayPrep>>>,
    /// Only every n-th frame is converted for the screen (1: all).
    display_stride: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CaptureHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureHandle").field("name", &self.name).field("status", &self.status()).finish()
    }
}

impl CaptureHandle {
    #[must_use]
    pub fn status(&self) -> CameraStatus {
        self.status.lock().map_or(CameraStatus::Stopped, |s| s.clone())
    }

    #[must_use]
    pub fn status_changes(&self) -> u64 {
        self.status_changes.load(Ordering::Acquire)
    }

    #[must_use]
    pub fn reopened(&self) -> u64 {
        self.reopened.load(Ordering::Relaxed)
    }

    /// Asks the capture thread to set `name` to `value` (applied between frames; reapplied after a reopen by
    /// sources that remember settings).
    pub fn request_setting(&self, name: &str, value: i64) {
        if let Ok(mut requests) = self.setting_requests.lock() {
            requests.push((name.to_owned(), value));
        }
    }

    /// The settings the source offers (empty for synthetic sources and closed devices).
    #[must_use]
    pub fn settings(&self) -> Vec<super::device::DeviceSetting> {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Installs (or removes) a tap that sees every frame; when this returns, a removed tap is no longer running.
    pub fn set_tap(&self, tap: Option<FrameTap>) {
        if let Ok(mut slot) = self.tap.lock() {
            *slot = tap;
        }
    }

    /// Installs (or removes) the conversion for the screen, run on the capture thread for the frames shown.
    pub fn set_display_prep(&self, prep: Option<DisplayPrep>) {
        if let Ok(mut slot) = self.display_prep.lock() {
            *slot = prep;
        }
    }

    /// Converts only every `stride`-th frame for the screen (the others still reach the slot and the tap).
    pub fn set_display_stride(&self, stride: u64) {
        self.display_stride.store(stride.max(1), Ordering::Relaxed);
    }

    /// Asks the thread to stop (it closes the device).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl Drop for CaptureHandle {
    fn drop(&mut self) {
        self.stop();
        // Sources return within a frame period or a read timeout; do not wait for a stuck device.
        if let Some(join) = self.join.take()
            && join.is_finished()
        {
            let _ = join.join();
        }
    }
}

fn set_status(status: &Mutex<CameraStatus>, changes: &AtomicU64, next: CameraStatus, waker: Option<&Waker>) {
    if let Ok(mut current) = status.lock()
        && *current != next
    {
        *current = next;
        changes.fetch_add(1, Ordering::AcqRel);
        if let Some(waker) = waker {
            waker();
        }
    }
}

/// A recipe for a source, run on the capture thread.
pub type SourceFactory = Box<dyn FnOnce() -> Box<dyn FrameSource> + Send>;

/// Starts a named capture thread (`kinedesk-camera-NAME`) that builds its source with `make` and runs it.
pub fn spawn_capture(name: &str, make: SourceFactory, waker: Option<Waker>) -> std::io::Result<CaptureHandle> {
    let name = name.to_owned();
    let slot = FrameSlot::new();
    let status = Arc::new(Mutex::new(CameraStatus::Opening));
    let status_changes = Arc::new(AtomicU64::new(0));
    let reopened = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let setting_requests: Arc<Mutex<Vec<(String, i64)>>> = Arc::new(Mutex::new(Vec::new()));
    let settings = Arc::new(Mutex::new(Vec::new()));
    let tap: Arc<Mutex<Option<FrameTap>>> = Arc::new(Mutex::new(None));
    let display_prep: Arc<Mutex<Option<DisplayPrep>>> = Arc::new(Mutex::new(None));
    let display_stride = Arc::new(AtomicU64::new(1));
    let thread_name: String = format!("kinedesk-camera-{name}").chars().take(60).collect();
    let source_name: Arc<str> = name.clone().into();
    let join = {
        let (slot, status, status_changes, reopened, stop) =
            (slot.clone(), status.clone(), status_changes.clone(), reopened.clone(), stop.clone());
        let (setting_requests, settings, tap) = (setting_requests.clone(), settings.clone(), tap.clone());
        let (display_prep, display_stride) = (display_prep.clone(), display_stride.clone());
        std::thread::Builder::new().name(thread_name).spawn(move || {
            let mut source = make();
            let mut sequence = 0u64;
            let mut attempts = 0u64;
            while !stop.load(Ordering::Acquire) {
                set_status(&status, &status_changes, CameraStatus::Opening, waker.as_ref());
                if attempts > 0 {
                    reopened.fetch_add(1, Ordering::Relaxed);
                }
                attempts += 1;
                match source.open() {
                    Ok(info) => {
                        set_status(&status, &status_changes, CameraStatus::Streaming(info), waker.as_ref());
                        if let Ok(mut offered) = settings.lock() {
                            *offered = source.device_settings();
                        }
                        while !stop.load(Ordering::Acquire) {
                            let requests = setting_requests.lock().map(|mut r| std::mem::take(&mut *r));
                            if let Ok(requests) = requests
                                && !requests.is_empty()
                            {
                                for (name, value) in requests {
                                    let _ = source.apply_setting(&name, value);
                                }
                                if let Ok(mut offered) = settings.lock() {
                                    *offered = source.device_settings();
                                }
                            }
                            match source.next_frame() {
                                Ok(image) => {
                                    let mut frame = Frame {
                                        source: source_name.clone(),
                                        sequence,
                                        captured: image.captured,
                                        width: image.width,
                                        height: image.height,
                                        source_format: image.source_format,
                                        rgba: Arc::new(image.rgba),
                                        decode_us: image.decode_us,
                                        display: None,
                                    };
                                    let stride = display_stride.load(Ordering::Relaxed).max(1);
                                    if sequence.is_multiple_of(stride)
                                        && let Ok(prep) = display_prep.lock()
                                        && let Some(prep) = prep.as_ref()
                                    {
                                        frame.display = Some(prep(&frame));
                                    }
                                    let frame = Arc::new(frame);
                                    if let Ok(tap) = tap.lock()
                                        && let Some(tap) = tap.as_ref()
                                    {
                                        tap(&frame);
                                    }
                                    slot.publish(frame);
                                    sequence += 1;
                                    if let Some(waker) = &waker {
                                        waker();
                                    }
                                }
                                Err(error) => {
                                    let lost = CameraStatus::Lost { reason: error.to_string() };
                                    set_status(&status, &status_changes, lost, waker.as_ref());
                                    break;
                                }
                            }
                        }
                        source.close();
                    }
                    Err(error) => {
                        let lost = CameraStatus::Lost { reason: error.to_string() };
                        set_status(&status, &status_changes, lost, waker.as_ref());
                    }
                }
                // Wait before reopening, but notice a stop at once.
                for _ in 0..10 {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    std::thread::sleep(REOPEN_INTERVAL / 10);
                }
            }
            set_status(&status, &status_changes, CameraStatus::Stopped, waker.as_ref());
        })?
    };
    Ok(CaptureHandle {
        name,
        slot,
        status,
        status_changes,
        reopened,
        setting_requests,
        settings,
        tap,
        display_prep,
        display_stride,
        stop,
        join: Some(join),
    })
}
