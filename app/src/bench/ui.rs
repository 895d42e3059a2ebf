//! `bench ui`: CPU time of one frame of the default layout (the app's UI code, egui layout and tessellation; GPU
//! upload and presentation are not included), measured over many frames in this process. `bench startup`: wall time
//! from spawning `kinedesk` to its first presented frame, over several runs (needs a display, a real one or Xvfb).

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use egui::{Event, Pos2, RawInput, Rect, vec2};

use super::{Report, Summary};
use crate::gui::app::{AppOptions, FIRST_FRAME_MARKER, KineDeskApp};

/// Result of `kinedesk bench ui`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UiBench {
    pub width: f32,
    pub height: f32,
    pub warmup_frames: usize,
    /// Time to construct the app (restore state, set the theme), not including a window.
    pub construct_ms: f64,
    pub frame_cpu: Summary,
}

/// Runs the default layout for `warmup + frames` frames at `width`×`height` points, moving the pointer across the
/// window so hover states change, and times each frame's UI code plus tessellation.
pub fn bench_ui(frames: usize, warmup: usize, width: f32, height: f32) -> anyhow::Result<UiBench> {
    if frames == 0 {
        bail!("--frames must be at least 1");
    }
    let ctx = egui::Context::default();
    let constructed = Instant::now();
    let mut app = KineDeskApp::from_parts(&ctx, None, None, AppOptions::default());
    let construct_ms = constructed.elapsed().as_secs_f64() * 1e3;

    let mut times = Vec::with_capacity(frames);
    for index in 0..warmup + frames {
        let t = index as f32 / (warmup + frames) as f32;
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(width, height))),
            time: Some(index as f64 / 60.0),
            predicted_dt: 1.0 / 60.0,
            events: vec![Event::PointerMoved(Pos2::new(t * width, (0.5 + 0.4 * (t * 12.0).sin()) * height))],
            ..RawInput::default()
        };
        let started = Instant::now();
        let mut output = ctx.run_ui(input, |ui| app.frame(ui));
        let primitives = ctx.tessellate(std::mem::take(&mut output.shapes), output.pixels_per_point);
        std::hint::black_box(primitives);
        // There is no GPU here: the font-atlas uploads a renderer would apply are discarded.
        output.textures_delta.clear();
        if index >= warmup {
            times.push(started.elapsed());
        }
    }
    let frame_cpu = Summary::millis(&times).context("no frames measured")?;
    Ok(UiBench { width, height, warmup_frames: warmup, construct_ms, frame_cpu })
}

/// Result of `kinedesk bench startup`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StartupBench {
    pub runs: Vec<f64>,
    pub to_first_frame: Summary,
}

/// Spawns `exe` `runs` times and measures the time until it reports its first presented frame.
pub fn bench_startup(exe: &std::path::Path, runs: usize, timeout: Duration) -> anyhow::Result<StartupBench> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        bail!(
            "`bench startup` opens real windows and needs a display; none is set (DISPLAY / WAYLAND_DISPLAY). \
             Run it under Xvfb: see docs/benchmarks.md"
        );
    }
    let state_dir = std::env::temp_dir().join(format!("kinedesk-bench-startup-{}", std::process::id()));
    let mut durations = Vec::with_capacity(runs);
    for run in 0..runs {
        let started = Instant::now();
        let mut child = Process::new(exe)
            .args(["--report-first-frame", "--exit-after-frames", "3", "--state-dir"])
            .arg(&state_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("could not start {}", exe.display()))?;
        let stdout = child.stdout.take().context("child has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new().name("bench-startup-reader".into()).spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == FIRST_FRAME_MARKER {
                    let _ = tx.send(started.elapsed());
                    return;
                }
            }
        })?;
        let measured = rx.recv_timeout(timeout);
        let status = wait_or_kill(&mut child, Duration::from_secs(10));
        match measured {
            Ok(duration) => durations.push(duration),
            Err(_) => bail!("run {run}: no frame within {timeout:?} (exit status {status:?})"),
        }
    }
    let _ = std::fs::remove_dir_all(&state_dir);
    let to_first_frame = Summary::millis(&durations).context("no runs")?;
    Ok(StartupBench { runs: durations.iter().map(|d| d.as_secs_f64() * 1e3).collect(), to_first_frame })
}

fn wait_or_kill(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait().ok()
}

impl Report for UiBench {
    fn print_text(&self) {
        let s = &self.frame_cpu;
        println!(
            "UI frame CPU time, default layout, {}x{} points, {} frames after {} warm-up:",
            self.width, self.height, s.samples, self.warmup_frames
        );
        println!(
            "  median {:.3} ms   p95 {:.3} ms   p99 {:.3} ms   max {:.3} ms   mean {:.3} ms",
            s.median, s.p95, s.p99, s.max, s.mean
        );
        println!("  app construction {:.3} ms", self.construct_ms);
    }
}

impl Report for StartupBench {
    fn print_text(&self) {
        let s = &self.to_first_frame;
        println!("Start-up to first presented frame, {} runs:", s.samples);
        println!("  median {:.1} ms   p95 {:.1} ms   max {:.1} ms", s.median, s.p95, s.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_bench_measures_the_requested_frames() {
        let result = bench_ui(5, 2, 1280.0, 800.0).unwrap();
        assert_eq!(result.frame_cpu.samples, 5);
        assert!(result.frame_cpu.median > 0.0 && result.frame_cpu.median < 1000.0, "{result:?}");
        assert!(bench_ui(0, 0, 100.0, 100.0).is_err());
    }
}
