//! `kinedesk bench export-memory`: the peak memory of a LeRobot v3 export against the length of the episode.
//!
//! For each length, a session with one episode is written straight into an episode log (no real-time recording):
//! three 640×480 cameras at 30 fps whose JPEGs cycle through 30 encoded frames of a moving test scene (about the size
//! of the recorder's), joint states and commanded actions at 100 Hz. Then `kinedesk export --format lerobot-v3` runs
//! as a child process and its peak resident memory (`VmHWM` of /proc/PID/status, polled) and time are measured.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use kinedesk_models::Timestamp;
use kinedesk_sessions::episode_log::{LogWriter, RecordKind};
use kinedesk_sessions::recorder::{EpisodeMeta, action_payload, encoded_frame_payload, joint_payload};

#[derive(Debug, serde::Serialize)]
pub struct ExportMemoryRow {
    pub minutes: f64,
    pub frames: u64,
    pub log_mb: f64,
    pub peak_rss_mb: f64,
    pub export_s: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct ExportMemoryBench {
    pub cameras: usize,
    pub rows: Vec<ExportMemoryRow>,
}

/// 30 JPEG frames of a moving gradient scene with blocks, `width`×`height`.
fn scene_frames(width: u32, height: u32) -> anyhow::Result<Vec<Vec<u8>>> {
    (0..30u32)
        .map(|k| {
            let image = image::RgbImage::from_fn(width, height, |x, y| {
                let block = ((x + 7 * k) / 40 + (y + 3 * k) / 40) % 2 == 0;
                let base = ((x * 255 / width) as u8, (y * 255 / height) as u8, (k * 8) as u8);
                if block { image::Rgb([base.0, base.1, base.2]) } else { image::Rgb([base.1, base.2, base.0]) }
            });
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&image)?;
            Ok(jpeg)
        })
        .collect()
}

/// Writes a session at `root` with one episode of `seconds` (see the module docs); the log's size.
fn write_session(root: &Path, seconds: f64, cameras: usize, frames: &[Vec<u8>]) -> anyhow::Result<(u64, u64)> {
    let dir = kinedesk_sessions::episode::SessionDir::open_or_create(root, "panda")?;
    let path = dir.next_episode_path()?;
    let meta = EpisodeMeta {
        task: "move left 10 cm".into(),
        robot: "panda".into(),
        joint_names: (1..=7).map(|j| format!("panda_joint{j}")).collect(),
        cameras: (0..cameras).map(|c| format!("camera{c}")).collect(),
        fps: 30.0,
        unmeasured: Vec::new(),
        started_unix_s: 0.0,
    };
    let mut log = LogWriter::create(&path)?;
    let origin = Timestamp::now().as_nanos();
    let at = |ms: u64| Timestamp::from_nanos(origin + ms * 1_000_000);
    log.write(RecordKind::Meta, at(0), &serde_json::to_vec(&meta)?)?;
    let steps = (seconds * 100.0) as u64;
    let mut written = 0u64;
    for step in 0..steps {
        let ms = step * 10;
        // Camera frames at 30 fps: frame n at n·33.3 ms, written at the control tick that passes it.
        while written * 1000 / 30 <= ms {
            for camera in 0..cameras {
                let jpeg = &frames[(written as usize + camera * 7) % frames.len()];
                let payload = encoded_frame_payload(camera as u16, 640, 480, written, jpeg);
                log.write(RecordKind::CameraFrame, at(written * 1000 / 30), &payload)?;
            }
            written += 1;
        }
        let t = step as f64 / 100.0;
        let positions: Vec<f64> = (0..7).map(|j| 0.3 * (t * 0.5 + j as f64).sin()).collect();
        log.write(RecordKind::JointState, at(ms), &joint_payload(&positions, &[0.0; 7], 1.0))?;
        let mut command = positions.clone();
        command.push(1.0);
        log.write(RecordKind::Action, at(ms), &action_payload(&command, None))?;
    }
    log.write(RecordKind::End, at(steps * 10), br#"{"type":"end"}"#)?;
    log.sync()?;
    Ok((log.bytes(), written))
}

/// Peak resident memory (MB) and wall time of `command`, polling /proc every 10 ms (its stdout is dropped).
fn peak_memory(mut command: std::process::Command) -> anyhow::Result<(f64, f64)> {
    command.stdout(std::process::Stdio::null());
    peak_memory_of(command)
}

/// Peak resident memory (MB) and wall time of `command` (stdout as the command has it set up), polling /proc every
/// 10 ms; a failure is an error.
pub(crate) fn peak_memory_of(mut command: std::process::Command) -> anyhow::Result<(f64, f64)> {
    let started = Instant::now();
    let mut child = command.spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kb = peak_kb.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "{command:?} failed ({status})");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((peak_kb as f64 / 1024.0, started.elapsed().as_secs_f64()))
}

pub fn bench_export_memory(minutes: &[f64], cameras: usize) -> anyhow::Result<ExportMemoryBench> {
    let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
    let scratch = std::env::temp_dir().join(format!("kinedesk-bench-export-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let frames = scene_frames(640, 480)?;
    let mut rows = Vec::new();
    for &length in minutes {
        let session = scratch.join(format!("session-{length}"));
        let (log_bytes, written) = write_session(&session, length * 60.0, cameras, &frames)?;
        let out = scratch.join(format!("dataset-{length}"));
        let mut command = std::process::Command::new(&exe);
        command.args(["export", "--format", "lerobot-v3"]).arg(&session).arg(&out);
        let (peak_rss_mb, export_s) = peak_memory(command)?;
        rows.push(ExportMemoryRow {
            minutes: length,
            frames: written,
            log_mb: log_bytes as f64 / 1e6,
            peak_rss_mb,
            export_s,
        });
        std::fs::remove_dir_all(&session)?;
        std::fs::remove_dir_all(&out)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(ExportMemoryBench { cameras, rows })
}

impl super::Report for ExportMemoryBench {
    fn print_text(&self) {
        println!("LeRobot v3 export, one episode, {} cameras 640×480 at 30 fps + joints at 100 Hz:", self.cameras);
        println!("  minutes  frames  log MB  peak RSS MB  export s");
        for row in &self.rows {
            println!(
                "  {:7.1}  {:6}  {:6.0}  {:11.0}  {:8.1}",
                row.minutes, row.frames, row.log_mb, row.peak_rss_mb, row.export_s
            );
        }
    }
}
