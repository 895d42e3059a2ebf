//! The app's camera feeds: which sources run (saved between runs), their capture threads, and the GPU textures the
//! Cameras pane shows. Each capture thread converts its frames for the screen itself (an egui `ColorImage`, via the
//! display conversion installed here); each frame the UI takes the newest one of every feed and writes it into that
//! feed's texture in place (`set_partial`, no re-allocation unless the size changes). Per-feed figures: frame rate,
//! capture-to-texture latency, frames the screen skipped (harmless), decode and upload time.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use egui::{ColorImage, Context, TextureHandle, TextureOptions};
use kinedesk_models::Timestamp;
use kinedesk_models::camera::device::{DeviceInfo, DeviceRequest, DeviceSource, list_devices};
use kinedesk_models::camera::frame::DisplayImage;
use kinedesk_models::camera::synthetic::{ArmCamera, FolderSource, SharedJoints, TestPattern, Unplugging};
use kinedesk_models::camera::{CameraStatus, CaptureHandle, Frame, FrameSource, SourceFactory, spawn_capture};
use kinedesk_models::channel::Waker;
use kinedesk_models::robot::Robot;
use kinedesk_ros2::camera::Ros2Camera;
use kinedesk_widgets::LogLevel;

/// How many latency samples each feed keeps for its badge and the benchmark.
const LATENCY_WINDOW: usize = 600;

/// The rate of the unplugging test pattern.
const UNPLUGGING_FPS: f64 = 30.0;

/// A camera source, as saved between runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CameraSpec {
    /// The moving test pattern with burned-in counter and time.
    TestPattern { name: String, width: u32, height: u32, fps: u32 },
    /// The arm (live state, or the rest pose) rendered from a fixed viewpoint.
    ArmView { name: String, width: u32, height: u32, fps: u32 },
    /// A folder of PNG/JPEG images played in a loop.
    Folder { name: String, path: PathBuf, fps: u32 },
    /// A real camera (V4L2 through nokhwa), with its saved settings (exposure, white balance, …).
    Device { name: String, request: DeviceRequest, settings: Vec<(String, i64)> },
    /// A test pattern that unplugs itself every `frames` frames for `down_ms` (to try the reconnect path).
    Unplugging { name: String, frames: u64, down_ms: u64 },
    /// A ROS 2 image topic (`sensor_msgs/Image` or `CompressedImage`); `domain` `None`: `ROS_DOMAIN_ID`. `fps` is
    /// the rate a recording's clock is configured for (the topic's measured rate is on the badge).
    Ros2 { name: String, topic: String, fps: u32, domain: Option<u16> },
}

impl CameraSpec {
    /// The frame rate this source is configured for (what a recording's dataset clock runs at; the measured rate is
    /// in the feed's figures).
    #[must_use]
    pub fn fps(&self) -> f64 {
        match self {
            Self::TestPattern { fps, .. }
            | Self::ArmView { fps, .. }
            | Self::Folder { fps, .. }
            | Self::Ros2 { fps, .. } => f64::from(*fps),
            Self::Device { request, .. } => f64::from(request.fps),
            Self::Unplugging { .. } => UNPLUGGING_FPS,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::TestPattern { name, .. }
            | Self::ArmView { name, .. }
            | Self::Folder { name, .. }
            | Self::Device { name, .. }
            | Self::Unplugging { name, .. }
            | Self::Ros2 { name, .. } => name,
        }
    }

    /// The embedded defaults: a test pattern and the arm view, 640×480 at 30 fps.
    #[must_use]
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::TestPattern { name: "pattern".into(), width: 640, height: 480, fps: 30 },
            Self::ArmView { name: "arm view".into(), width: 640, height: 480, fps: 30 },
        ]
    }

    /// Parses `--camera` values: `pattern`, `arm`, `folder:PATH`, `device:N`, `unplugging`,
    /// `ros2:/TOPIC[?fps=N&domain=D]`.
    pub fn parse(text: &str, index: usize) -> Result<Self, String> {
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        if kind == "ros2" {
            return Self::parse_ros2(text, rest);
        }
        Ok(match kind {
            "pattern" | "synthetic" => {
                Self::TestPattern { name: format!("pattern {index}"), width: 640, height: 480, fps: 30 }
            }
            "arm" => Self::ArmView { name: format!("arm view {index}"), width: 640, height: 480, fps: 30 },
            "folder" if !rest.is_empty() => {
                Self::Folder { name: format!("folder {index}"), path: rest.into(), fps: 10 }
            }
            "device" => {
                let device = rest.parse::<u32>().map_err(|_| format!("{text:?}: expected device:N, e.g. device:0"))?;
                Self::Device {
                    name: format!("camera {device}"),
                    request: DeviceRequest { index: device, ..DeviceRequest::default() },
                    settings: Vec::new(),
                }
            }
            "unplugging" => Self::Unplugging { name: format!("unplugging {index}"), frames: 150, down_ms: 2000 },
            _ => {
                return Err(format!(
                    "unknown camera {text:?}: use pattern, arm, folder:PATH, device:N, unplugging or ros2:/TOPIC"
                ));
            }
        })
    }

    fn parse_ros2(text: &str, rest: &str) -> Result<Self, String> {
        let (topic, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !topic.starts_with('/') || topic.len() < 2 || topic.contains(char::is_whitespace) {
            return Err(format!("{text:?}: expected ros2:/TOPIC, e.g. ros2:/camera/image_raw"));
        }
        let (mut fps, mut domain) = (30, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("fps", value)) => {
                    fps = value.parse().ok().filter(|f| (1..=1000).contains(f)).ok_or(format!("{text:?}: bad fps"))?;
                }
                Some(("domain", value)) => {
                    domain = Some(value.parse().ok().filter(|d| *d <= 232).ok_or(format!("{text:?}: bad domain"))?);
                }
                _ => return Err(format!("{text:?}: unknown parameter {pair:?} (fps, domain)")),
            }
        }
        Ok(Self::Ros2 { name: topic.to_owned(), topic: topic.to_owned(), fps, domain })
    }

    fn factory(&self, robot: &Robot, joints: &SharedJoints) -> SourceFactory {
        match self.clone() {
            Self::TestPattern { name, width, height, fps } => {
                Box::new(move || Box::new(TestPattern::new(name, width, height, f64::from(fps))))
            }
            Self::ArmView { name, width, height, fps } => {
                let (robot, joints) = (robot.clone(), joints.clone());
                Box::new(move || Box::new(ArmCamera::new(name, robot, joints, width, height, f64::from(fps))))
            }
            Self::Folder { name, path, fps } => {
                Box::new(move || Box::new(FolderSource::new(name, path, f64::from(fps))))
            }
            Self::Device { name, request, settings } => {
                Box::new(move || Box::new(DeviceSource::new(name, request, settings)))
            }
            Self::Ros2 { name, topic, fps, domain } => {
                Box::new(move || Box::new(Ros2Camera::new(name, topic, f64::from(fps), domain)))
            }
            Self::Unplugging { name, frames, down_ms } => Box::new(move || {
                let pattern = TestPattern::new(name, 640, 480, UNPLUGGING_FPS);
                Box::new(Unplugging::new(pattern, frames, std::time::Duration::from_millis(down_ms)))
                    as Box<dyn FrameSource>
            }),
        }
    }
}

/// Figures of one feed.
#[derive(Debug, Default)]
pub struct FeedStats {
    /// Frames per second, from capture timestamps (exponential average).
    pub fps: f64,
    /// Capture-to-texture latency of recent frames (ms).
    pub latency_ms: VecDeque<f64>,
    /// CPU time to turn the newest frame into the texture update (µs).
    pub upload_us: VecDeque<f64>,
    /// CPU time the capture thread spent decoding (or rendering) recent frames (µs).
    pub decode_us: VecDeque<f64>,
    /// Frames shown.
    pub shown: u64,
    /// Frames the screen did not show on purpose (the recorder had priority); they were still recorded.
    pub display_skipped: u64,
    /// Textures allocated (1 unless the size changed).
    pub texture_allocations: u64,
    last_captured: Option<Timestamp>,
}

fn push_window(window: &mut VecDeque<f64>, value: f64) {
    if window.len() == LATENCY_WINDOW {
        window.pop_front();
    }
    window.push_back(value);
}

/// One running feed.
pub struct Feed {
    pub spec: CameraSpec,
    pub handle: CaptureHandle,
    pub texture: Option<TextureHandle>,
    /// The newest frame shown (for the policy's observation and the recorder).
    pub last: Option<Arc<Frame>>,
    pub stats: FeedStats,
    seen_status_changes: u64,
    was_lost: bool,
}

impl Feed {
    /// Frames the screen did not draw: replaced before the UI took them, or skipped while the recorder had
    /// priority. Harmless: recording and the policy get every frame the camera delivered.
    #[must_use]
    pub fn screen_skipped(&self) -> u64 {
        self.handle.slot.dropped() + self.stats.display_skipped
    }

    /// Frames the camera (or its driver) never delivered: gaps in its own frame numbers. These are missing from the
    /// recording too.
    #[must_use]
    pub fn camera_lost(&self) -> u64 {
        self.handle.slot.counters.source_gaps.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The badge: "30.0 fps · 12 ms · 640×480", and "· 3 lost by the camera" when the camera lost frames.
    #[must_use]
    pub fn badge(&self) -> String {
        let latency = self.stats.latency_ms.back().copied().unwrap_or(0.0);
        let size = self.last.as_ref().map_or_else(|| "—".to_owned(), |f| format!("{}×{}", f.width, f.height));
        let mut badge = format!("{:.1} fps · {latency:.0} ms · {size}", self.stats.fps);
        let lost = self.camera_lost();
        if lost > 0 {
            badge += &format!(" · {lost} lost by the camera");
        }
        badge
    }

    /// What the badge's counts mean, and what to do about a loss (its hover text).
    #[must_use]
    pub fn badge_details(&self) -> String {
        let mut text = format!(
            "{} frames shown; {} not drawn by the screen (it skips frames it has no time to draw — harmless: \
             recording and the policy still get every frame).",
            self.stats.shown,
            self.screen_skipped()
        );
        let lost = self.camera_lost();
        if lost > 0 {
            text += &format!(
                "\n{lost} frames lost by the camera (gaps in its frame numbers): they are missing from the recording \
                 too. Lower the camera's resolution or frame rate, move it to another USB port or controller, or \
                 close other programs using it."
            );
        }
        text
    }
}

/// All feeds, the arm joints the rendered view shows, and the layout of the Cameras pane.
pub struct CameraFeeds {
    pub feeds: Vec<Feed>,
    /// The feed shown alone, if any (by name).
    pub maximised: Option<String>,
    /// Feeds shown in their own window.
    pub popped_out: Vec<String>,
    pub joints: SharedJoints,
    /// The cameras the system reported when last asked (filled by a short-lived thread).
    devices: Arc<Mutex<Option<DeviceList>>>,
    /// Show only every n-th frame (1: all). Raised while the recorder falls behind, so recording keeps priority.
    pub preview_stride: u64,
}

/// The result of listing the system's cameras.
pub type DeviceList = Result<Vec<DeviceInfo>, String>;

impl Default for CameraFeeds {
    fn default() -> Self {
        Self {
            feeds: Vec::new(),
            maximised: None,
            popped_out: Vec::new(),
            joints: Arc::new(Mutex::new(Vec::new())),
            devices: Arc::new(Mutex::new(None)),
            preview_stride: 1,
        }
    }
}

impl CameraFeeds {
    /// Starts a feed for `spec`.
    pub fn add(&mut self, spec: CameraSpec, robot: &Robot, waker: Option<Waker>) -> Result<(), String> {
        if self.feeds.iter().any(|f| f.spec.name() == spec.name()) {
            return Err(format!("a camera named {:?} is already running", spec.name()));
        }
        let handle = spawn_capture(spec.name(), spec.factory(robot, &self.joints), waker)
            .map_err(|e| format!("cannot start the capture thread for {}: {e}", spec.name()))?;
        // The capture thread converts frames for the screen, so the UI thread only uploads them.
        handle.set_display_prep(Some(Box::new(|frame: &Frame| {
            let size = [frame.width as usize, frame.height as usize];
            DisplayImage(Arc::new(ColorImage::from_rgba_unmultiplied(size, &frame.rgba)))
        })));
        handle.set_display_stride(self.preview_stride);
        self.feeds.push(Feed {
            spec,
            handle,
            texture: None,
            last: None,
            stats: FeedStats::default(),
            seen_status_changes: 0,
            was_lost: false,
        });
        Ok(())
    }

    /// Stops and removes the feed called `name`.
    pub fn remove(&mut self, name: &str) -> Option<CameraSpec> {
        let index = self.feeds.iter().position(|f| f.spec.name() == name)?;
        let feed = self.feeds.remove(index);
        feed.handle.stop();
        self.popped_out.retain(|n| n != name);
        if self.maximised.as_deref() == Some(name) {
            self.maximised = None;
        }
        Some(feed.spec)
    }

    #[must_use]
    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.spec.name() == name)
    }

    /// Lists the system's cameras on a short-lived thread (V4L2 queries can block); see [`Self::device_list`].
    pub fn find_devices(&self, waker: Option<Waker>) {
        let devices = self.devices.clone();
        let spawned = std::thread::Builder::new().name("kinedesk-camera-list".into()).spawn(move || {
            let found = list_devices().map_err(|e| e.to_string());
            if let Ok(mut slot) = devices.lock() {
                *slot = Some(found);
            }
            if let Some(waker) = waker {
                waker();
            }
        });
        if let Err(error) = spawned
            && let Ok(mut slot) = self.devices.lock()
        {
            *slot = Some(Err(format!("cannot list cameras: {error}")));
        }
    }

    /// The cameras found by the last [`Self::find_devices`] (`None` before it finished).
    #[must_use]
    pub fn device_list(&self) -> Option<DeviceList> {
        self.devices.lock().ok().and_then(|d| d.clone())
    }

    /// Remembers a device setting (saved with the camera) and asks the capture thread to apply it.
    pub fn set_setting(&mut self, camera: &str, setting: &str, value: i64) -> bool {
        let Some(feed) = self.feeds.iter_mut().find(|f| f.spec.name() == camera) else { return false };
        if let CameraSpec::Device { settings, .. } = &mut feed.spec {
            match settings.iter_mut().find(|(n, _)| n == setting) {
                Some(entry) => entry.1 = value,
                None => settings.push((setting.to_owned(), value)),
            }
        }
        feed.handle.request_setting(setting, value);
        true
    }

    /// The specs of the running feeds (what is saved).
    #[must_use]
    pub fn specs(&self) -> Vec<CameraSpec> {
        self.feeds.iter().map(|f| f.spec.clone()).collect()
    }

    /// Takes the newest frame of every feed into its texture; returns what the operator should be told (feeds
    /// lost or back).
    pub fn update(&mut self, ctx: &Context) -> Vec<(LogLevel, String)> {
        let mut messages = Vec::new();
        for feed in &mut self.feeds {
            feed.handle.set_display_stride(self.preview_stride);
            let changes = feed.handle.status_changes();
            if changes != feed.seen_status_changes {
                feed.seen_status_changes = changes;
                match feed.handle.status() {
                    CameraStatus::Lost { reason } if !feed.was_lost => {
                        feed.was_lost = true;
                        messages
                            .push((LogLevel::Warn, format!("Camera {}: {reason}; reconnecting.", feed.spec.name())));
                    }
                    CameraStatus::Streaming(info) if feed.was_lost => {
                        feed.was_lost = false;
                        messages.push((
                            LogLevel::Info,
                            format!(
                                "Camera {} is back ({}×{} {}).",
                                feed.spec.name(),
                                info.width,
                                info.height,
                                info.format
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            let Some(frame) = feed.handle.slot.take() else { continue };
            let started = Instant::now();
            let size = [frame.width as usize, frame.height as usize];
            let prepared = frame.display.as_ref().and_then(|display| display.0.clone().downcast::<ColorImage>().ok());
            let image: egui::ImageData = match prepared {
                Some(image) => egui::ImageData::Color(image),
                // Every n-th frame only while the recorder has priority: this one is recorded, not shown.
                None if self.preview_stride > 1 => {
                    feed.stats.display_skipped += 1;
                    feed.last = Some(frame);
                    continue;
                }
                None => egui::ImageData::Color(Arc::new(ColorImage::from_rgba_unmultiplied(size, &frame.rgba))),
            };
            match &mut feed.texture {
                Some(texture) if texture.size() == size => texture.set_partial([0, 0], image, TextureOptions::LINEAR),
                _ => {
                    feed.texture =
                        Some(ctx.load_texture(format!("camera {}", feed.spec.name()), image, TextureOptions::LINEAR));
                    feed.stats.texture_allocations += 1;
                }
            }
            let now = Timestamp::now();
            let stats = &mut feed.stats;
            push_window(&mut stats.upload_us, started.elapsed().as_secs_f64() * 1e6);
            push_window(&mut stats.latency_ms, now.saturating_since(frame.captured).as_secs_f64() * 1e3);
            push_window(&mut stats.decode_us, f64::from(frame.decode_us));
            if let Some(previous) = stats.last_captured {
                let period = frame.captured.saturating_since(previous).as_secs_f64();
                if period > 0.0 {
                    let rate = 1.0 / period;
                    stats.fps = if stats.fps == 0.0 { rate } else { 0.9 * stats.fps + 0.1 * rate };
                }
            }
            stats.last_captured = Some(frame.captured);
            stats.shown += 1;
            feed.last = Some(frame);
        }
        messages
    }

    /// How the status bar sums up the cameras.
    #[must_use]
    pub fn connection_state(&self) -> kinedesk_models::ConnectionState {
        use kinedesk_models::ConnectionState;
        if self.feeds.is_empty() {
            return ConnectionState::NotConnected;
        }
        let lost: Vec<&str> = self
            .feeds
            .iter()
            .filter(|f| matches!(f.handle.status(), CameraStatus::Lost { .. }))
            .map(|f| f.spec.name())
            .collect();
        if lost.is_empty() {
            ConnectionState::Connected { detail: format!("{} feeds", self.feeds.len()) }
        } else {
            ConnectionState::Failed { reason: format!("{} lost, reconnecting", lost.join(", ")) }
        }
    }
}
