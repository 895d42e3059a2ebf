//! MP4 video for LeRobot exports, encoded by the system's `ffmpeg` (H.264, yuv420p, a keyframe every 2 frames so
//! random access stays cheap, as LeRobot's own encoder settings do). Frames are decoded from the recorded bytes and
//! piped to ffmpeg as raw RGB.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The ffmpeg to use: `KINEDESK_FFMPEG`, else `ffmpeg` on the PATH, if it runs.
#[must_use]
pub fn find_ffmpeg() -> Option<PathBuf> {
    let candidate = std::env::var_os("KINEDESK_FFMPEG").map_or_else(|| PathBuf::from("ffmpeg"), PathBuf::from);
    let runs = Command::new(&candidate)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    runs.then_some(candidate)
}

/// One MP4 file being written.
pub struct VideoWriter {
    child: Child,
    stdin: Option<ChildStdin>,
    path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
}

/// The codec written (what `info.json` says).
pub const CODEC: &str = "h264";

impl VideoWriter {
    /// Starts ffmpeg writing `path` (parent folders are created).
    pub fn start(ffmpeg: &Path, path: &Path, width: u32, height: u32, fps: f64) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut child = Command::new(ffmpeg)
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{width}x{height}"))
            .arg("-r")
            .arg(format!("{fps}"))
            .args(["-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", "2", "-pix_fmt", "yuv420p"])
            .args(["-movflags", "+faststart", "-y"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin, path: path.to_owned(), width, height, frames: 0 })
    }

    /// Appends a frame given as encoded bytes (JPEG or PNG); a frame of another size is resized.
    pub fn push_encoded(&mut self, encoded: &[u8]) -> std::io::Result<()> {
        let rgb = match image::load_from_memory(encoded) {
            Ok(image) => image.into_rgb8(),
            // A missing or broken frame becomes black rather than shifting every later frame in time.
            Err(_) => image::RgbImage::new(self.width, self.height),
        };
        let rgb = if rgb.dimensions() == (self.width, self.height) {
            rgb
        } else {
            image::imageops::resize(&rgb, self.width, self.height, image::imageops::FilterType::Triangle)
        };
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::other("the video is already finished"))?;
        stdin.write_all(rgb.as_raw())?;
        self.frames += 1;
        Ok(())
    }

    /// How much of the file ffmpeg has written so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }

    /// Closes the input and waits for ffmpeg; its error output is the error if it failed.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        drop(self.stdin.take());
        let output = self.child.wait_with_output()?;
        if !output.status.success() {
            return Err(std::io::Error::other(format!(
                "ffmpeg failed writing {}: {}",
                self.path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        Ok(self.path)
    }
}
