//! Real cameras through nokhwa (V4L2 on Linux): enumerate, open with a requested resolution, format and rate, read
//! raw frames and decode them here (MJPEG, YUYV, NV12, RGB, grey), and set exposure or white balance where the
//! device has them. A device that disappears makes `next_frame` fail; the capture thread reopens it.

use std::time::Instant;

use nokhwa::Camera;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, ControlValueDescription, ControlValueSetter, FrameFormat,
    KnownCameraControl, RequestedFormat, RequestedFormatType, Resolution,
};

use super::capture::{CameraError, CapturedImage, FrameSource, SourceInfo};
use super::decode::{gray_to_rgba, mjpeg_to_rgba, nv12_to_rgba, rgb_to_rgba, yuyv_to_rgba};
use kinedesk_core::clock::Timestamp;

/// A camera the system reports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    pub index: u32,
    pub name: String,
    pub description: String,
}

/// Lists the cameras; an empty list (not an error) when there are none, as on a machine without a camera.
pub fn list_devices() -> Result<Vec<DeviceInfo>, CameraError> {
    let cameras = nokhwa::query(ApiBackend::Auto).map_err(|e| CameraError::NotFound(e.to_string()))?;
    Ok(cameras
        .into_iter()
        .filter_map(|info| match info.index() {
            CameraIndex::Index(index) => {
                Some(DeviceInfo { index: *index, name: info.human_name(), description: info.description().to_owned() })
            }
            CameraIndex::String(_) => None,
        })
        .collect())
}

/// What to ask a device for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRequest {
    pub index: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// "MJPEG" or "YUYV"; the closest supported format is used.
    pub format: String,
}

impl Default for DeviceRequest {
    fn default() -> Self {
        Self { index: 0, width: 640, height: 480, fps: 30, format: "MJPEG".into() }
    }
}

/// A setting the device offers (exposure, white balance, …).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeviceSetting {
    pub name: String,
    pub min: i64,
    pub max: i64,
    pub value: i64,
}

fn known_control(name: &str) -> Option<KnownCameraControl> {
    Some(match name {
        "exposure" => KnownCameraControl::Exposure,
        "white_balance" => KnownCameraControl::WhiteBalance,
        "brightness" => KnownCameraControl::Brightness,
        "gain" => KnownCameraControl::Gain,
        _ => return None,
    })
}

/// A nokhwa camera as a frame source.
pub struct DeviceSource {
    name: String,
    request: DeviceRequest,
    camera: Option<Camera>,
    /// Settings to apply when the device (re)opens, e.g. saved ones.
    pending_settings: Vec<(String, i64)>,
}

impl DeviceSource {
    #[must_use]
    pub fn new(name: impl Into<String>, request: DeviceRequest, settings: Vec<(String, i64)>) -> Self {
        Self { name: name.into(), request, camera: None, pending_settings: settings }
    }

    /// The exposure / white balance / brightness / gain controls the open device has.
    #[must_use]
    pub fn settings(&self) -> Vec<DeviceSetting> {
        let Some(camera) = &self.camera else { return Vec::new() };
        let Ok(controls) = camera.camera_controls() else { return Vec::new() };
        controls
            .into_iter()
            .filter_map(|control| {
                let name = match control.control() {
                    KnownCameraControl::Exposure => "exposure",
                    KnownCameraControl::WhiteBalance => "white_balance",
                    KnownCameraControl::Brightness => "brightness",
                    KnownCameraControl::Gain => "gain",
                    _ => return None,
                };
                match control.description() {
                    ControlValueDescription::IntegerRange { min, max, value, .. } => {
                        Some(DeviceSetting { name: name.into(), min: *min, max: *max, value: *value })
                    }
                    ControlValueDescription::Integer { value, .. } => {
                        Some(DeviceSetting { name: name.into(), min: *value, max: *value, value: *value })
                    }
                    _ => None,
                }
            })
            .collect()
    }

    fn apply(&mut self, name: &str, value: i64) -> Result<(), CameraError> {
        let control = known_control(name).ok_or_else(|| CameraError::Open(format!("unknown setting {name}")))?;
        let camera = self.camera.as_mut().ok_or_else(|| CameraError::Open("the camera is not open".into()))?;
        camera
            .set_camera_control(control, ControlValueSetter::Integer(value))
            .map_err(|e| CameraError::Open(format!("{name} = {value}: {e}")))
    }
}

impl FrameSource for DeviceSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        let format =
            if self.request.format.eq_ignore_ascii_case("yuyv") { FrameFormat::YUYV } else { FrameFormat::MJPEG };
        let wanted =
            CameraFormat::new(Resolution::new(self.request.width, self.request.height), format, self.request.fps);
        let requested = RequestedFormat::new::<nokhwa::pixel_format::RgbFormat>(RequestedFormatType::Closest(wanted));
        let mut camera = Camera::new(CameraIndex::Index(self.request.index), requested)
            .map_err(|e| CameraError::Open(format!("camera {}: {e}", self.request.index)))?;
        camera.open_stream().map_err(|e| CameraError::Open(format!("camera {}: {e}", self.request.index)))?;
        let got = camera.camera_format();
        let description = camera.info().human_name();
        self.camera = Some(camera);
        for (name, value) in self.pending_settings.clone() {
            // A setting the device refuses is not a reason to refuse the device.
            let _ = self.apply(&name, value);
        }
        Ok(SourceInfo {
            width: got.resolution().width(),
            height: got.resolution().height(),
            fps: f64::from(got.frame_rate()),
            format: got.format().to_string(),
            description,
        })
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        let camera = self.camera.as_mut().ok_or_else(|| CameraError::Disconnected("the camera is closed".into()))?;
        let buffer = camera.frame().map_err(|e| CameraError::Disconnected(e.to_string()))?;
        let captured = Timestamp::now();
        let started = Instant::now();
        let resolution = buffer.resolution();
        let (w, h) = (resolution.width(), resolution.height());
        let data = buffer.buffer();
        let format = buffer.source_frame_format();
        let (width, height, rgba) = match format {
            FrameFormat::MJPEG => mjpeg_to_rgba(data)?,
            FrameFormat::YUYV => (w, h, yuyv_to_rgba(data, w, h)?),
            FrameFormat::NV12 => (w, h, nv12_to_rgba(data, w, h)?),
            FrameFormat::GRAY => (w, h, gray_to_rgba(data, w, h)?),
            FrameFormat::RAWRGB => (w, h, rgb_to_rgba(data, w, h, false)?),
            FrameFormat::RAWBGR => (w, h, rgb_to_rgba(data, w, h, true)?),
        };
        Ok(CapturedImage {
            captured,
            width,
            height,
            rgba,
            source_format: format.to_string().into(),
            decode_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
        })
    }

    fn close(&mut self) {
        if let Some(mut camera) = self.camera.take() {
            let _ = camera.stop_stream();
        }
    }

    fn apply_setting(&mut self, name: &str, value: i64) -> Result<(), CameraError> {
        if let Some(entry) = self.pending_settings.iter_mut().find(|(n, _)| n == name) {
            entry.1 = value;
        } else {
            self.pending_settings.push((name.to_owned(), value));
        }
        self.apply(name, value)
    }

    fn device_settings(&self) -> Vec<DeviceSetting> {
        self.settings()
    }
}
