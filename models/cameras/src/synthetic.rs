//! Frame sources that need no hardware (the embedded defaults), going through the same capture path as a device:
//! a moving test pattern with its frame counter and capture time burned in, a rendered view of the (simulated) arm
//! from a fixed viewpoint, playback of a folder of images, and a wrapper that unplugs a source on purpose.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glam::DVec3;

use super::capture::{CameraError, CapturedImage, FrameSource, SourceInfo};
use kinedesk_core::clock::Timestamp;
use kinedesk_core::robot::{Robot, fk_frames};

/// Sleeps until the next frame is due; a source that falls behind skips ahead instead of bursting.
#[derive(Debug)]
pub struct Pacer {
    period: Duration,
    next: Option<Instant>,
}

impl Pacer {
    #[must_use]
    pub fn new(fps: f64) -> Self {
        Self { period: Duration::from_secs_f64(1.0 / fps.clamp(0.1, 1000.0)), next: None }
    }

    pub fn wait(&mut self) {
        let now = Instant::now();
        let due = self.next.unwrap_or(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        let after = Instant::now();
        self.next = Some(if after > due + self.period { after + self.period } else { due + self.period });
    }
}

/// Stamps the capture time, renders, and reports how long rendering took (the synthetic sources' "decode").
fn timed_render(
    width: u32,
    height: u32,
    format: &str,
    render: impl FnOnce(Timestamp) -> Result<Vec<u8>, CameraError>,
) -> Result<CapturedImage, CameraError> {
    let captured = Timestamp::now();
    let started = Instant::now();
    let rgba = render(captured)?;
    Ok(CapturedImage {
        captured,
        width,
        height,
        rgba,
        source_format: format.into(),
        decode_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
    })
}

/// 5×7 glyphs for the burned-in text.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '.' => [0, 0, 0, 0, 0, 0x0c, 0x0c],
        ':' => [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0],
        '#' => [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
        's' => [0, 0, 0x0e, 0x10, 0x0e, 0x01, 0x1e],
        't' => [0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06],
        '=' => [0, 0, 0x1f, 0, 0x1f, 0, 0],
        _ => [0; 7],
    }
}

/// Draws `text` at (x, y) with `scale`-pixel dots on a dark box.
pub fn burn_text(rgba: &mut [u8], width: u32, height: u32, x: u32, y: u32, scale: u32, text: &str) {
    let (w, h) = (width as usize, height as usize);
    let box_w = (text.chars().count() as u32 * 6 + 2) * scale;
    let box_h = 9 * scale;
    for py in y..(y + box_h).min(height) {
        for px in x..(x + box_w).min(width) {
            let i = (py as usize * w + px as usize) * 4;
            rgba[i..i + 4].copy_from_slice(&[0, 0, 0, 255]);
        }
    }
    for (n, c) in text.chars().enumerate() {
        let rows = glyph(c);
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let px = (x + (1 + n as u32 * 6 + col) * scale + dx) as usize;
                        let py = (y + (1 + row as u32) * scale + dy) as usize;
                        if px < w && py < h {
                            let i = (py * w + px) * 4;
                            rgba[i..i + 4].copy_from_slice(&[255, 255, 255, 255]);
                        }
                    }
                }
            }
        }
    }
}

/// A moving test pattern: colour bars that scroll, a bouncing square, and the frame counter and capture time burned
/// in (so latency and drops can be read off any recording of the screen too).
#[derive(Debug)]
pub struct TestPattern {
    name: String,
    width: u32,
    height: u32,
    fps: f64,
    frame: u64,
    pacer: Pacer,
}

impl TestPattern {
    #[must_use]
    pub fn new(name: impl Into<String>, width: u32, height: u32, fps: f64) -> Self {
        Self { name: name.into(), width: width.max(64), height: height.max(48), fps, frame: 0, pacer: Pacer::new(fps) }
    }

    /// Renders frame `n` captured at `captured`.
    #[must_use]
    pub fn render(&self, n: u64, captured: Timestamp) -> Vec<u8> {
        const BARS: [[u8; 3]; 8] = [
            [235, 235, 235],
            [235, 235, 16],
            [16, 235, 235],
            [16, 235, 16],
            [235, 16, 235],
            [235, 16, 16],
            [16, 16, 235],
            [16, 16, 16],
        ];
        let (w, h) = (self.width as usize, self.height as usize);
        let mut rgba = vec![0u8; w * h * 4];
        let shift = (n as usize * 4) % w;
        for y in 0..h {
            for x in 0..w {
                let bar = ((x + shift) % w) * BARS.len() / w;
                let c = BARS[bar];
                let i = (y * w + x) * 4;
                rgba[i..i + 4].copy_from_slice(&[c[0], c[1], c[2], 255]);
            }
        }
        // A square bouncing across the lower half.
        let side = (h / 6).max(4);
        let span_x = w.saturating_sub(side).max(1);
        let t = n as usize * 7 % (2 * span_x);
        let sx = if t < span_x { t } else { 2 * span_x - t };
        let sy = h / 2 + (h / 2 - side) * ((n as usize * 3) % 100) / 100;
        for y in sy..(sy + side).min(h) {
            for x in sx..(sx + side).min(w) {
                let i = (y * w + x) * 4;
                rgba[i..i + 4].copy_from_slice(&[255, 128, 0, 255]);
            }
        }
        let scale = (self.width / 160).max(1);
        let text = format!("#{n:06} t={:.3}s", captured.as_secs_f64());
        burn_text(&mut rgba, self.width, self.height, 4 * scale, 4 * scale, scale, &text);
        rgba
    }
}

impl FrameSource for TestPattern {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        self.pacer = Pacer::new(self.fps);
        Ok(SourceInfo {
            width: self.width,
            height: self.height,
            fps: self.fps,
            format: "RGBA (synthetic)".into(),
            description: "Synthetic test pattern".into(),
        })
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        self.pacer.wait();
        let frame = self.frame;
        self.frame += 1;
        timed_render(self.width, self.height, "RGBA (synthetic)", |captured| Ok(self.render(frame, captured)))
    }

    fn close(&mut self) {}
}

/// Wraps a source so it "unplugs" after `frames_before_failure` frames and cannot be opened again for `down_for`:
/// the test for a camera that disappears and comes back.
pub struct Unplugging<S> {
    inner: S,
    frames_before_failure: u64,
    down_for: Duration,
    delivered: u64,
    unplugged_at: Option<Instant>,
}

impl<S: FrameSource> Unplugging<S> {
    #[must_use]
    pub fn new(inner: S, frames_before_failure: u64, down_for: Duration) -> Self {
        Self { inner, frames_before_failure, down_for, delivered: 0, unplugged_at: None }
    }
}

impl<S: FrameSource> FrameSource for Unplugging<S> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        if let Some(at) = self.unplugged_at {
            if at.elapsed() < self.down_for {
                return Err(CameraError::NotFound(format!("{} is unplugged", self.inner.name())));
            }
            self.unplugged_at = None;
            self.delivered = 0;
        }
        self.inner.open()
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        if self.delivered >= self.frames_before_failure {
            self.unplugged_at = Some(Instant::now());
            return Err(CameraError::Disconnected(format!("{} was unplugged", self.inner.name())));
        }
        self.delivered += 1;
        self.inner.next_frame()
    }

    fn close(&mut self) {
        self.inner.close();
    }
}

/// Joint positions shared with whoever moves the arm (the app copies the live state in).
pub type SharedJoints = Arc<Mutex<Vec<f64>>>;

/// The arm seen from a fixed viewpoint, drawn on the CPU: links as shaded tubes, the floor grid, the flange.
pub struct ArmCamera {
    name: String,
    robot: Robot,
    joints: SharedJoints,
    width: u32,
    height: u32,
    fps: f64,
    pacer: Pacer,
    eye: DVec3,
    /// Camera axes in the base frame: right, up, forward.
    axes: [DVec3; 3],
    focal_px: f64,
}

/// The Arm pane's live-arm colour (`LIVE_ARM` in the widgets crate: 0.78, 0.80, 0.84).
const ARM_COLOUR: [u8; 3] = [199, 204, 214];

impl ArmCamera {
    #[must_use]
    pub fn new(name: impl Into<String>, robot: Robot, joints: SharedJoints, width: u32, height: u32, fps: f64) -> Self {
        let eye = DVec3::new(1.5, -1.1, 1.0);
        let target = DVec3::new(0.25, 0.0, 0.35);
        let forward = (target - eye).normalize();
        let right = forward.cross(DVec3::Z).normalize();
        let up = right.cross(forward);
        // 45° vertical field of view.
        let focal_px = f64::from(height.max(48)) / (2.0 * 22.5f64.to_radians().tan());
        Self {
            name: name.into(),
            robot,
            joints,
            width: width.max(64),
            height: height.max(48),
            fps,
            pacer: Pacer::new(fps),
            eye,
            axes: [right, up, forward],
            focal_px,
        }
    }

    /// Screen position (pixels) and depth of a world point, if in front of the camera.
    fn project(&self, point: DVec3) -> Option<(f64, f64, f64)> {
        let d = point - self.eye;
        let depth = self.axes[2].dot(d);
        if depth < 0.05 {
            return None;
        }
        Some((
            f64::from(self.width) / 2.0 + self.focal_px * self.axes[0].dot(d) / depth,
            f64::from(self.height) / 2.0 - self.focal_px * self.axes[1].dot(d) / depth,
            depth,
        ))
    }

    fn disc(&self, rgba: &mut [u8], depth: &mut [f32], centre: (f64, f64, f64), radius: f64, colour: [u8; 3]) {
        let (w, h) = (self.width as i64, self.height as i64);
        let r = radius.max(1.0);
        let (x0, x1) = ((centre.0 - r).floor() as i64, (centre.0 + r).ceil() as i64);
        let (y0, y1) = ((centre.1 - r).floor() as i64, (centre.1 + r).ceil() as i64);
        for y in y0.max(0)..y1.min(h) {
            for x in x0.max(0)..x1.min(w) {
                let (dx, dy) = (x as f64 - centre.0, y as f64 - centre.1);
                let d2 = dx * dx + dy * dy;
                if d2 > r * r {
                    continue;
                }
                let i = (y * w + x) as usize;
                let z = centre.2 as f32;
                if z >= depth[i] {
                    continue;
                }
                depth[i] = z;
                // Shade like a tube lit from the upper left, never as dark as the background (a thin link would
                // vanish into it).
                let light = (1.0 - d2 / (r * r)).sqrt() * 0.45 + 0.55 - (dx + dy) / (8.0 * r);
                let light = light.clamp(0.4, 1.15);
                let shaded = colour.map(|c| (f64::from(c) * light).min(255.0) as u8);
                rgba[i * 4..i * 4 + 4].copy_from_slice(&[shaded[0], shaded[1], shaded[2], 255]);
            }
        }
    }

    /// Renders the arm at `joints`.
    pub fn render(&self, joints: &[f64]) -> Result<Vec<u8>, CameraError> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut rgba = vec![0u8; w * h * 4];
        for y in 0..h {
            let shade = 40 + (y * 30 / h.max(1)) as u8;
            for x in 0..w {
                let i = (y * w + x) * 4;
                rgba[i..i + 4].copy_from_slice(&[shade, shade, shade + 6, 255]);
            }
        }
        let mut depth = vec![f32::INFINITY; w * h];
        // Floor grid, 10 cm apart.
        for k in -8..=8 {
            let a = f64::from(k) * 0.1;
            for (from, to) in [
                (DVec3::new(a, -0.8, 0.0), DVec3::new(a, 0.8, 0.0)),
                (DVec3::new(-0.8, a, 0.0), DVec3::new(0.8, a, 0.0)),
            ] {
                for s in 0..=80 {
                    let p = from.lerp(to, f64::from(s) / 80.0);
                    if let Some((x, y, _)) = self.project(p) {
                        let (xi, yi) = (x as i64, y as i64);
                        if xi >= 0 && yi >= 0 && (xi as usize) < w && (yi as usize) < h {
                            let i = (yi as usize * w + xi as usize) * 4;
                            rgba[i..i + 4].copy_from_slice(&[90, 90, 100, 255]);
                        }
                    }
                }
            }
        }
        let frames = fk_frames(&self.robot, joints).map_err(|e| CameraError::Decode(e.to_string()))?;
        // The same arm as the Arm pane draws: each link's capsules in its own frame (link 0 is the base, link i moves
        // with joint i), one colour (the pane's live-arm grey), and the 4 cm flange stub along the tool axis.
        let mut capsules: Vec<(DVec3, DVec3, f64)> = Vec::new();
        for (index, shapes) in self.robot.link_shapes.iter().enumerate() {
            let frame = if index == 0 { Some(&self.robot.base) } else { frames.get(index - 1) };
            let Some(frame) = frame else { continue };
            for shape in shapes {
                capsules.push((frame.transform_point3(shape.from), frame.transform_point3(shape.to), shape.radius_m));
            }
        }
        if let Some(flange) = frames.last() {
            capsules.push((flange.translation, flange.transform_point3(DVec3::Z * 0.04), 0.02));
        }
        for (a, b, radius_m) in capsules {
            let steps = ((a - b).length() / 0.004).ceil().max(1.0) as usize;
            for s in 0..=steps {
                let p = a.lerp(b, s as f64 / steps as f64);
                if let Some(centre) = self.project(p) {
                    let radius = radius_m * self.focal_px / centre.2;
                    self.disc(&mut rgba, &mut depth, centre, radius, ARM_COLOUR);
                }
            }
        }
        Ok(rgba)
    }
}

impl FrameSource for ArmCamera {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        self.pacer = Pacer::new(self.fps);
        Ok(SourceInfo {
            width: self.width,
            height: self.height,
            fps: self.fps,
            format: "RGBA (rendered)".into(),
            description: format!("Rendered view of the {} arm", self.robot.name),
        })
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        self.pacer.wait();
        timed_render(self.width, self.height, "RGBA (rendered)", |_| {
            let joints = self.joints.lock().map_or_else(|_| self.robot.rest_pose.clone(), |j| j.clone());
            let joints = if joints.len() == self.robot.dof() { joints } else { self.robot.rest_pose.clone() };
            self.render(&joints)
        })
    }

    fn close(&mut self) {}
}

/// Plays a folder of PNG/JPEG images in name order, looping, at `fps`.
pub struct FolderSource {
    name: String,
    dir: PathBuf,
    fps: f64,
    files: Vec<PathBuf>,
    index: usize,
    pacer: Pacer,
}

impl FolderSource {
    #[must_use]
    pub fn new(name: impl Into<String>, dir: PathBuf, fps: f64) -> Self {
        Self { name: name.into(), dir, fps, files: Vec::new(), index: 0, pacer: Pacer::new(fps) }
    }
}

impl FrameSource for FolderSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&mut self) -> Result<SourceInfo, CameraError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| CameraError::NotFound(format!("cannot read the folder {}: {e}", self.dir.display())))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
            })
            .collect();
        files.sort();
        let first = files
            .first()
            .ok_or_else(|| CameraError::NotFound(format!("no PNG or JPEG images in {}", self.dir.display())))?;
        let (width, height) =
            image::image_dimensions(first).map_err(|e| CameraError::Open(format!("{}: {e}", first.display())))?;
        self.files = files;
        self.index = 0;
        self.pacer = Pacer::new(self.fps);
        Ok(SourceInfo {
            width,
            height,
            fps: self.fps,
            format: "PNG/JPEG files".into(),
            description: format!("{} images from {}", self.files.len(), self.dir.display()),
        })
    }

    fn next_frame(&mut self) -> Result<CapturedImage, CameraError> {
        self.pacer.wait();
        let path = self
            .files
            .get(self.index % self.files.len().max(1))
            .cloned()
            .ok_or_else(|| CameraError::Disconnected(format!("the images in {} are gone", self.dir.display())))?;
        self.index += 1;
        let captured = Timestamp::now();
        let started = Instant::now();
        let image = image::open(&path).map_err(|e| CameraError::Decode(format!("{}: {e}", path.display())))?;
        let rgba = image.to_rgba8();
        Ok(CapturedImage {
            captured,
            width: rgba.width(),
            height: rgba.height(),
            rgba: rgba.into_raw(),
            source_format: "PNG/JPEG file".into(),
            decode_us: started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32,
        })
    }

    fn close(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_moves_and_burns_in_its_counter() {
        let pattern = TestPattern::new("p", 320, 240, 30.0);
        let a = pattern.render(0, Timestamp::from_nanos(0));
        let b = pattern.render(1, Timestamp::from_nanos(0));
        assert_eq!(a.len(), 320 * 240 * 4);
        assert_ne!(a, b, "consecutive frames differ");
        // The text box's top-left corner is black, and it has white dots.
        let scale = 2;
        let corner = ((4 * scale) * 320 + 4 * scale) * 4;
        assert_eq!(&a[corner as usize..corner as usize + 3], &[0, 0, 0]);
        assert!(a.chunks_exact(4).take(320 * 30).any(|p| p == [255, 255, 255, 255]));
    }

    #[test]
    fn the_arm_camera_draws_the_arm_where_it_is() {
        let robot = kinedesk_core::robot::panda();
        let joints: SharedJoints = Arc::new(Mutex::new(robot.rest_pose.clone()));
        let camera = ArmCamera::new("arm", robot.clone(), joints, 160, 120, 30.0);
        let rest = camera.render(&robot.rest_pose).unwrap();
        let mut turned = robot.rest_pose.clone();
        turned[0] += 1.0;
        let moved = camera.render(&turned).unwrap();
        assert_ne!(rest, moved);
        let link_pixels = rest.chunks_exact(4).filter(|p| p[2] > 150 || p[0] > 150).count();
        assert!(link_pixels > 200, "{link_pixels}");
        // Each link is drawn in its own frame, as the Arm pane draws it: the middle of the last link's capsule (which
        // moves with the last joint) and the flange are covered by the arm's grey.
        let frames = fk_frames(&robot, &robot.rest_pose).unwrap();
        let last = robot.link_shapes.len() - 1;
        let shape = &robot.link_shapes[last][0];
        let frame = frames[last - 1];
        let middle = frame.transform_point3((shape.from + shape.to) / 2.0);
        for point in [middle, frames[frames.len() - 1].translation] {
            let (x, y, _) = camera.project(point).unwrap();
            let i = ((y as usize) * 160 + x as usize) * 4;
            let pixel = &rest[i..i + 3];
            // Grey (the three channels close together) and lit, not the background's dark grey.
            assert!(pixel[0] > 60 && pixel[2] >= pixel[0] && pixel[2] - pixel[0] < 40, "{point:?}: {pixel:?}");
        }
    }
}
