//! `kinedesk bench cameras`: N synthetic cameras streaming into the real app while its UI renders at 60 Hz
//! (headless: egui layout and tessellation on the CPU, texture updates handed to egui but not to a GPU).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kinedesk_models::camera::decode::{mjpeg_to_rgba, yuyv_to_rgba};
use kinedesk_models::camera::synthetic::TestPattern;

use crate::bench::Summary;
use crate::gui::camera_feeds::CameraSpec;
use crate::{AppOptions, KineDeskApp};

#[derive(Debug, serde::Serialize)]
pub struct CameraBench {
    pub feeds: usize,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub seconds: f64,
    /// Frames the sources delivered, and frames shown in a texture.
    pub frames_published: u64,
    pub frames_shown: u64,
    /// Frames replaced before the UI took them, plus gaps in the sources' numbering.
    pub frames_dropped: u64,
    pub capture_to_texture: Summary,
    pub texture_update: Summary,
    pub synthetic_render: Summary,
    pub mjpeg_decode: Summary,
    pub yuyv_decode: Summary,
    pub ui_frame: Summary,
    pub texture_allocations: u64,
}

/// Runs `feeds` test patterns of `width`×`height` at `fps` for `seconds` with the UI at 60 Hz.
pub fn bench_cameras(feeds: usize, seconds: f64, width: u32, height: u32, fps: u32) -> anyhow::Result<CameraBench> {
    let specs =
        (0..feeds).map(|i| CameraSpec::TestPattern { name: format!("pattern {i}"), width, height, fps }).collect();
    let ctx = egui::Context::default();
    let mut app =
        KineDeskApp::from_parts(&ctx, None, None, AppOptions { cameras: Some(specs), ..AppOptions::default() });
    let mut ui_frame = Vec::new();
    let mut latency = Vec::new();
    let mut upload = Vec::new();
    let mut render = Vec::new();
    let mut seen = vec![0u64; feeds];
    let period = Duration::from_secs_f64(1.0 / 60.0);
    let started = Instant::now();
    let mut next = started;
    let mut index = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let frame_time = super::app_frame(&ctx, &mut app, started, Vec::new());
        if index > 30 {
            ui_frame.push(frame_time);
        }
        index += 1;
        for (feed, seen) in app.cameras().feeds.iter().zip(seen.iter_mut()) {
            let fresh = (feed.stats.shown - *seen) as usize;
            *seen = feed.stats.shown;
            let take = |window: &std::collections::VecDeque<f64>| -> Vec<f64> {
                window.iter().rev().take(fresh).copied().collect()
            };
            latency.extend(take(&feed.stats.latency_ms).into_iter().map(|ms| Duration::from_secs_f64(ms / 1e3)));
            upload.extend(take(&feed.stats.upload_us).into_iter().map(|us| Duration::from_secs_f64(us / 1e6)));
            render.extend(take(&feed.stats.decode_us).into_iter().map(|us| Duration::from_secs_f64(us / 1e6)));
        }
        super::wait_for_next_frame(&mut next, period);
    }
    let cameras = app.cameras();
    let frames_published = cameras.feeds.iter().map(|f| f.handle.slot.published()).sum();
    let frames_shown = cameras.feeds.iter().map(|f| f.stats.shown).sum();
    let frames_dropped = cameras.feeds.iter().map(|f| f.handle.slot.dropped() + f.camera_lost()).sum();
    let texture_allocations = cameras.feeds.iter().map(|f| f.stats.texture_allocations).sum();

    // The device path's decoders on frames of the same size.
    let pattern = TestPattern::new("decode", width, height, 30.0).render(0, kinedesk_models::Timestamp::now());
    let rgb: Vec<u8> = pattern.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .context("encoding a JPEG test frame")?;
    let yuyv: Vec<u8> = (0..(width * height / 2)).flat_map(|i| [(i % 220) as u8 + 16, 128, 100, 140]).collect();
    let time = |f: &dyn Fn()| -> Vec<Duration> {
        (0..60)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect()
    };
    let mjpeg = time(&|| {
        std::hint::black_box(mjpeg_to_rgba(&jpeg).ok());
    });
    let yuyv_times = time(&|| {
        std::hint::black_box(yuyv_to_rgba(&yuyv, width, height).ok());
    });
    Ok(CameraBench {
        feeds,
        width,
        height,
        fps,
        seconds,
        frames_published,
        frames_shown,
        frames_dropped,
        capture_to_texture: Summary::millis(&latency).context("no frames shown")?,
        texture_update: Summary::micros(&upload).context("no frames shown")?,
        synthetic_render: Summary::micros(&render).context("no frames shown")?,
        mjpeg_decode: Summary::micros(&mjpeg).context("no samples")?,
        yuyv_decode: Summary::micros(&yuyv_times).context("no samples")?,
        ui_frame: Summary::millis(&ui_frame).context("no frames")?,
        texture_allocations,
    })
}

impl super::Report for CameraBench {
    fn print_text(&self) {
        println!(
            "{} synthetic cameras {}×{} at {} fps for {:.0} s, UI at 60 Hz (headless, CPU):",
            self.feeds, self.width, self.height, self.fps, self.seconds
        );
        println!(
            "  frames: {} published, {} shown, {} dropped; {} texture allocations",
            self.frames_published, self.frames_shown, self.frames_dropped, self.texture_allocations
        );
        let rows = [
            ("capture → texture latency (ms)", &self.capture_to_texture),
            ("texture update per frame (us)", &self.texture_update),
            ("synthetic render per frame (us)", &self.synthetic_render),
            ("MJPEG decode per frame (us)", &self.mjpeg_decode),
            ("YUYV decode per frame (us)", &self.yuyv_decode),
            ("UI frame CPU time (ms)", &self.ui_frame),
        ];
        for (name, s) in rows {
            println!("  {name}: median {:.2}   p95 {:.2}   p99 {:.2}   max {:.2}", s.median, s.p95, s.p99, s.max);
        }
    }
}
