//! `kinedesk bench …`: the performance figures quoted in `docs/benchmarks.md`. Each benchmark returns a result
//! that implements [`Report`]: the same value is printed as text or, with `--json`, as JSON.

pub mod arm_view;
pub mod cameras;
pub mod export_memory;
pub mod fuzz;
pub mod kinematics;
pub mod policy;
pub mod recording;
pub mod robot_link;
pub mod rollout;
pub mod ros2;
pub mod sessions;
pub mod storage;
pub mod tokenizer;
pub mod ui;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;

/// A benchmark result: serialisable for `--json`, printable for people.
pub trait Report: serde::Serialize {
    /// The result as a few lines of text.
    fn print_text(&self);
}

/// One UI frame of the real app without a window, at 1600×1000 points: the logic pass, the drawing pass with
/// `events`, and tessellation (there is no GPU: texture uploads are discarded). Returns its CPU time.
pub fn app_frame(
    ctx: &egui::Context,
    app: &mut crate::gui::app::KineDeskApp,
    started: std::time::Instant,
    events: Vec<egui::Event>,
) -> Duration {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 1000.0))),
        time: Some(started.elapsed().as_secs_f64()),
        predicted_dt: 1.0 / 60.0,
        events,
        ..egui::RawInput::default()
    };
    let frame_started = std::time::Instant::now();
    let mut output = ctx.run_ui(input, |ui| app.frame(ui));
    let primitives = ctx.tessellate(std::mem::take(&mut output.shapes), output.pixels_per_point);
    std::hint::black_box(primitives);
    output.textures_delta.clear();
    frame_started.elapsed()
}

/// Sleeps until the next frame of a fixed rate (`next` advances by `period`); a late frame resets the schedule
/// instead of running the frames it missed back to back.
pub fn wait_for_next_frame(next: &mut std::time::Instant, period: Duration) {
    *next += period;
    let now = std::time::Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    } else {
        *next = now;
    }
}

/// Prints a result as JSON or as text.
pub fn report(result: &impl Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
    } else {
        result.print_text();
    }
    Ok(())
}

/// Summary of a set of durations, in the unit named by `unit` ("ms" or "us").
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    pub unit: &'static str,
    pub samples: usize,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Summarises durations in milliseconds; `None` for an empty set.
    #[must_use]
    pub fn millis(durations: &[Duration]) -> Option<Self> {
        Self::scaled(durations, 1e3, "ms")
    }

    /// Summarises durations in microseconds; `None` for an empty set.
    #[must_use]
    pub fn micros(durations: &[Duration]) -> Option<Self> {
        Self::scaled(durations, 1e6, "us")
    }

    fn scaled(durations: &[Duration], per_second: f64, unit: &'static str) -> Option<Self> {
        if durations.is_empty() {
            return None;
        }
        let mut values: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * per_second).collect();
        values.sort_by(f64::total_cmp);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Self {
            unit,
            samples: values.len(),
            median: percentile(&values, 50.0),
            p95: percentile(&values, 95.0),
            p99: percentile(&values, 99.0),
            max: values[values.len() - 1],
            mean,
        })
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], pct: f64) -> f64 {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// CPU time per UI frame of the default layout (no window needed).
    Ui {
        #[arg(long, default_value_t = 300)]
        frames: usize,
        #[arg(long, default_value_t = 30)]
        warmup: usize,
        #[arg(long, default_value_t = 1600.0)]
        width: f32,
        #[arg(long, default_value_t = 1000.0)]
        height: f32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Forward and inverse kinematics speed, and IK success rate on random reachable poses.
    Kinematics {
        #[arg(long, default_value = "panda")]
        robot: String,
        #[arg(long, default_value_t = 1000)]
        samples: usize,
        #[arg(long)]
        json: bool,
    },
    /// Offscreen frame time of the 3D arm view with ghost poses, on the first wgpu adapter found.
    ArmView {
        #[arg(long, default_value_t = 200)]
        frames: usize,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 720)]
        height: u32,
        #[arg(long, default_value_t = 50)]
        ghosts: usize,
        #[arg(long)]
        json: bool,
    },
    /// Stop latency of the simulated arm: stop signal to arm at rest.
    Stop {
        #[arg(long, default_value_t = 50)]
        runs: usize,
        #[arg(long, default_value_t = 200.0)]
        rate_hz: f64,
        #[arg(long)]
        json: bool,
    },
    /// Streaming jitter: 100 Hz movej_canfd frames to a simulated Realman controller over loopback.
    Stream {
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// Teleop latency: Shift+W key to the arm view showing the simulated arm moving.
    Teleop {
        #[arg(long, default_value_t = 20)]
        trials: usize,
        #[arg(long, default_value_t = 60.0)]
        frame_rate_hz: f64,
        #[arg(long)]
        json: bool,
    },
    /// Synthetic cameras streaming into the app while the UI renders: drops, latency, decode and upload time.
    Cameras {
        #[arg(long, default_value_t = 3)]
        feeds: usize,
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        #[arg(long, default_value_t = 30)]
        fps: u32,
        #[arg(long)]
        json: bool,
    },
    /// Recording from the app: UI frame time while recording, the longest frame while finishing, frames kept.
    Recording {
        #[arg(long, default_value_t = 3)]
        feeds: usize,
        #[arg(long, default_value_t = 120.0)]
        seconds: f64,
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        #[arg(long)]
        json: bool,
    },
    /// Crash safety: record, kill -9, read back; frames recovered vs written and vs reported durable.
    Crash {
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Export speed: KineDesk's LeRobot v3 export of SESSION, and (with --lerobot-python) the lerobot package writing
    /// the same episodes.
    Export {
        session: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// A Python that has the `lerobot` package (scripts/test.sh makes target/lerobot-venv).
        #[arg(long, value_name = "PYTHON")]
        lerobot_python: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Export memory: peak resident memory and time of `kinedesk export` against the episode's length (episodes
    /// written straight into logs: 3 cameras 640×480 at 30 fps, joints and actions at 100 Hz).
    ExportMemory {
        /// Episode lengths in minutes, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1.0, 5.0, 10.0])]
        minutes: Vec<f64>,
        #[arg(long, default_value_t = 3)]
        cameras: usize,
        #[arg(long)]
        json: bool,
    },
    /// Built-in planner: instruction to first reasoning and to full preview, and kinematic faithfulness.
    Planner {
        /// Plans per instruction of the faithfulness suite.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Remote policy client overhead per request with two 224×224 images (our server on loopback).
    Remote {
        #[arg(long, default_value_t = 200)]
        requests: usize,
        #[arg(long)]
        json: bool,
    },
    /// Tokenizer encode/decode time on the CPU, batch 1 and 64.
    Tokenizer {
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        iterations: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every input surface fed mutated inputs: cases, panics (must be 0), the longest case and peak memory.
    Fuzz {
        /// Seconds to spend on each surface.
        #[arg(long, default_value = "10", value_parser = crate::cli::seconds_arg)]
        seconds: f64,
        /// Random seed (the same seed repeats the same inputs, machine speed aside).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Closed-loop rollouts: idle gap between chunks at 15 Hz against 50 ms and 150 ms servers, desk overhead per
    /// chunk, stop latency, and a supervised rollout in the app while recording 3 cameras.
    Rollout {
        /// Chunks per server run.
        #[arg(long, default_value_t = 20)]
        chunks: usize,
        /// Stops measured.
        #[arg(long, default_value_t = 10)]
        stops: usize,
        /// Seconds of the desk run.
        #[arg(long, default_value = "120", value_parser = crate::cli::seconds_arg)]
        desk_seconds: f64,
        /// Leave the desk run out.
        #[arg(long)]
        no_desk: bool,
        #[arg(long)]
        json: bool,
    },
    /// The ros2:// link on loopback against an arm on another participant: state latency, trajectory publish
    /// latency after Send, 100 Hz set-point jitter.
    Ros2 {
        /// The DDS domain to use (one nothing else uses).
        #[arg(long, default_value_t = 77)]
        domain: u16,
        /// How long to measure state latency.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 50)]
        plans: usize,
        #[arg(long)]
        json: bool,
    },
    /// Object storage: push and pull of a dataset padded to `mb` MB, with peak memory, and a push killed half way
    /// and resumed. Needs an S3-compatible server (e.g. `python -m moto.server -p 5000`), a bucket, and credentials
    /// in the AWS environment variables.
    Storage {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value_t = 1000)]
        mb: usize,
        #[arg(long, default_value_t = 8)]
        part_mb: usize,
        #[arg(long)]
        json: bool,
    },
    /// rosbag2 import speed: a bag of `minutes` with `cameras` JPEG streams at 30 fps and joint states at 100 Hz.
    Rosbag {
        #[arg(long, default_value_t = 5.0)]
        minutes: f64,
        #[arg(long, default_value_t = 2)]
        cameras: usize,
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        #[arg(long)]
        json: bool,
    },
    /// Time from process start to the first presented frame (needs a display, e.g. Xvfb).
    Startup {
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Runs one benchmark and prints its result.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ui { frames, warmup, width, height, json } => {
            report(&ui::bench_ui(frames, warmup, width, height)?, json)
        }
        BenchCommand::Kinematics { robot, samples, json } => {
            let robot = crate::cli::robot::robot_from_arg(&robot)?;
            report(&kinematics::bench_kinematics(&robot, samples.max(1))?, json)
        }
        BenchCommand::ArmView { frames, width, height, ghosts, json } => {
            report(&arm_view::bench_arm_view(frames.max(1), width, height, ghosts)?, json)
        }
        BenchCommand::Stop { runs, rate_hz, json } => report(&robot_link::bench_stop(runs.max(1), rate_hz)?, json),
        BenchCommand::Stream { seconds, json } => report(&robot_link::bench_stream(seconds)?, json),
        BenchCommand::Teleop { trials, frame_rate_hz, json } => {
            report(&robot_link::bench_teleop(trials.max(1), frame_rate_hz)?, json)
        }
        BenchCommand::Cameras { feeds, seconds, width, height, fps, json } => {
            report(&cameras::bench_cameras(feeds.max(1), seconds, width, height, fps)?, json)
        }
        BenchCommand::Export { session, runs, lerobot_python, json } => {
            report(&sessions::bench_export(&session, runs, lerobot_python.as_deref())?, json)
        }
        BenchCommand::ExportMemory { minutes, cameras, json } => {
            anyhow::ensure!(
                minutes.iter().all(|m| m.is_finite() && *m > 0.0 && *m <= 120.0),
                "--minutes: lengths between 0 and 120 minutes"
            );
            report(&export_memory::bench_export_memory(&minutes, cameras.clamp(1, 8))?, json)
        }
        BenchCommand::Rollout { chunks, stops, desk_seconds, no_desk, json } => {
            let desk = (!no_desk).then_some(desk_seconds);
            report(&rollout::bench_rollout(chunks.max(2), stops.max(1), desk)?, json)
        }
        BenchCommand::Recording { feeds, seconds, width, height, json } => {
            report(&recording::bench_recording(feeds.max(1), seconds, width, height)?, json)
        }
        BenchCommand::Crash { runs, json } => {
            let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
            report(&sessions::bench_crash(&exe, runs.max(1))?, json)
        }
        BenchCommand::Planner { runs, json } => report(&policy::bench_planner(runs)?, json),
        BenchCommand::Remote { requests, json } => report(&policy::bench_remote(requests.max(1))?, json),
        BenchCommand::Tokenizer { weights, iterations, json } => {
            let weights = weights.unwrap_or_else(crate::cli::tokenizer::default_weights_dir);
            report(&tokenizer::bench_tokenizer(&weights, iterations.max(1))?, json)
        }
        BenchCommand::Fuzz { seconds, seed, json } => {
            let result = fuzz::bench_fuzz(seconds, seed)?;
            report(&result, json)?;
            anyhow::ensure!(result.panics() == 0, "{} input(s) made KineDesk panic (listed above)", result.panics());
            Ok(())
        }
        BenchCommand::Ros2 { domain, seconds, plans, json } => {
            anyhow::ensure!(domain <= 232, "--domain: 0–232");
            report(&ros2::bench_ros2(domain, seconds.max(1.0), plans.max(1))?, json)
        }
        BenchCommand::Storage { endpoint, bucket, mb, part_mb, json } => {
            let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
            report(&storage::bench_storage(&exe, &endpoint, &bucket, mb.max(16), part_mb.max(5))?, json)
        }
        BenchCommand::Rosbag { minutes, cameras, width, height, json } => {
            anyhow::ensure!(minutes > 0.0 && minutes <= 60.0, "--minutes: between 0 and 60");
            report(&ros2::bench_rosbag(minutes, cameras.clamp(1, 8), width.max(16), height.max(16))?, json)
        }
        BenchCommand::Startup { runs, json } => {
            let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
            report(&ui::bench_startup(&exe, runs.max(1), Duration::from_secs(60))?, json)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let durations: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let summary = Summary::millis(&durations).unwrap();
        assert!((summary.median - 50.0).abs() < 1e-9);
        assert!((summary.p95 - 95.0).abs() < 1e-9);
        assert!((summary.p99 - 99.0).abs() < 1e-9);
        assert!((summary.max - 100.0).abs() < 1e-9);
        assert!((summary.mean - 50.5).abs() < 1e-9);
        assert!(Summary::millis(&[]).is_none());
        assert!((Summary::micros(&durations).unwrap().median - 50_000.0).abs() < 1e-6);
    }
}
