//! Cameras: frames on the shared clock, one named capture thread per source, a newest-frame slot that counts drops,
//! and the sources — real devices through nokhwa, and the embedded defaults (synthetic pattern, rendered arm view,
//! image folder) that go through the same capture path.

pub mod capture;
pub mod decode;
pub mod device;
pub mod synthetic;

pub use capture::{
    CameraError, CameraStatus, CaptureHandle, CapturedImage, DisplayPrep, FrameSource, SourceFactory, SourceInfo,
    spawn_capture,
};
pub use kinedesk_core::frame::{self, Frame, FrameSlot};
