//! The `kinedesk` command line. No subcommand opens the desk window.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::app::{AppOptions, KineDeskApp};

#[derive(Debug, Parser)]
#[command(name = "kinedesk", version, about = "KineDesk: preview, approve and record kinematic robot instructions.")]
pub struct Cli {
    /// Start with the default pane layout instead of the saved one.
    #[arg(long)]
    pub reset_layout: bool,
    /// Where window geometry, layout and theme are saved (default: the platform's data directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Close the window after this many frames (benchmarks, smoke tests).
    #[arg(long, hide = true)]
    pub exit_after_frames: Option<u64>,
    /// Print a marker line on stdout once the first frame has been presented.
    #[arg(long, hide = true)]
    pub report_first_frame: bool,
    /// Preview a trajectory file (`{"dt_s": …, "joints": [[…], …]}`) as a ghost arm at start-up.
    #[arg(long, value_name = "FILE.json")]
    pub trajectory: Option<PathBuf>,
    /// Show a URDF robot (with its meshes) instead of the built-in one.
    #[arg(long, value_name = "FILE.urdf")]
    pub urdf: Option<PathBuf>,
    /// Connect the simulated arm (the embedded default robot) at start-up.
    #[arg(long)]
    pub connect_sim: bool,
    /// Camera feeds to start with instead of the saved ones: pattern, arm, folder:PATH, device:N, unplugging
    /// (repeat for several).
    #[arg(long = "camera", value_name = "SPEC")]
    pub cameras: Vec<String>,
    /// Start without camera feeds.
    #[arg(long, conflicts_with = "cameras")]
    pub no_cameras: bool,
    /// Plan this instruction at start-up (with the saved policy; the built-in planner by default).
    #[arg(long, value_name = "INSTRUCTION")]
    pub plan: Option<String>,
    /// Open this session folder at start-up (created if missing).
    #[arg(long, value_name = "DIR")]
    pub session: Option<PathBuf>,
    /// With --session: open this episode (e.g. episode_000000) on the timeline.
    #[arg(long, value_name = "EPISODE", requires = "session")]
    pub annotate: Option<String>,
    /// With --urdf: the link used as the flange.
    #[arg(long, value_name = "LINK", requires = "urdf")]
    pub urdf_tip: Option<String>,
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A LeRobot dataset folder (v3.0, v2.1 or v2.0; image features, not video).
    Lerobot {
        dataset: PathBuf,
        /// The session folder to add the episodes to (created if needed).
        session: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Open the desk window (the default when no subcommand is given).
    Gui,
    /// Forward kinematics: the flange pose for a joint vector.
    Fk {
        #[command(flatten)]
        robot: crate::robot_cli::RobotArgs,
        /// Joint values in radians, comma-separated (q1,...,q7).
        #[arg(long, allow_hyphen_values = true)]
        joints: String,
        /// Print `{"position_m":[x,y,z],"quaternion_xyzw":[x,y,z,w]}`.
        #[arg(long)]
        json: bool,
    },
    /// Inverse kinematics: joints that put the flange at a pose (0.1 mm / 0.1° tolerance, joint limits respected).
    Ik {
        #[command(flatten)]
        robot: crate::robot_cli::RobotArgs,
        /// Target flange position in metres: x,y,z.
        #[arg(long, allow_hyphen_values = true)]
        position: String,
        /// Target flange orientation as a unit quaternion: x,y,z,w.
        #[arg(long = "quaternion-xyzw", allow_hyphen_values = true)]
        quaternion_xyzw: String,
        /// Starting joints (default: the robot's rest pose).
        #[arg(long, allow_hyphen_values = true)]
        seed: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a simulated robot controller behind a real protocol, so other tools and tests can drive it.
    RobotSim {
        /// Controller protocol (realman).
        #[arg(long, default_value = "realman")]
        protocol: String,
        /// Address to listen on, e.g. 127.0.0.1:8080 (loopback by default; 127.0.0.1:0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Built-in robot model the simulated controller drives.
        #[arg(long = "model", default_value = "rm75")]
        model: String,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long)]
        seconds: Option<f64>,
    },
    /// Execute a checked trajectory file on a robot, headless: `sim` or `realman://HOST:PORT`.
    Send {
        #[arg(long)]
        robot: String,
        #[arg(long, value_name = "FILE.json")]
        trajectory: PathBuf,
        /// Robot model the trajectory is for (built-in name or URDF path).
        #[arg(long = "model", default_value = "rm75")]
        model: String,
        /// First move the arm (point to point, 25 % speed) to where the trajectory starts.
        #[arg(long)]
        move_to_start: bool,
    },
    /// Plan an instruction: bi-level reasoning, action tokens, the decoded trajectory and its checks.
    Plan(crate::policy_cli::PlanArgs),
    /// Serve the built-in planner over the openpi-style WebSocket + msgpack protocol.
    Serve(crate::policy_cli::ServeArgs),
    /// Record an episode headless into a session folder (`--synthetic`: the embedded defaults).
    Record(crate::session_cli::RecordArgs),
    /// Inspect a session.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Export a session as a dataset: `kinedesk export --format lerobot-v3 SESSION OUT`.
    Export(crate::session_cli::ExportArgs),
    /// Import a dataset into a session for annotation: `kinedesk import lerobot DATASET SESSION`.
    #[command(subcommand)]
    Import(ImportCommand),
    /// The action tokenizer (RVQ-VAE): fit, evaluate, encode, decode.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Measure performance figures (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Episodes, frames per camera, joint states, events, and any torn tail a crash left.
    Info(crate::session_cli::SessionInfoArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenizerCommand {
    /// Train on synthetic demonstrations and write config.json + model.safetensors.
    Fit {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, default_value_t = 3000)]
        steps: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Synthetic training demonstrations.
        #[arg(long, default_value_t = 3000)]
        episodes: usize,
        #[arg(long, default_value_t = 1e-3)]
        learning_rate: f64,
        /// Codes per level (every level).
        #[arg(long, default_value_t = 256)]
        codebook_size: u32,
        #[arg(long, default_value_t = 2)]
        fine_levels: usize,
        #[arg(long, default_value_t = 16)]
        latent_dim: usize,
        /// Width of the encoder's and decoder's hidden layers.
        #[arg(long, default_value_t = 128)]
        hidden_dim: usize,
        /// Recorded sessions whose episodes are added to the training data (repeat for several).
        #[arg(long = "data", value_name = "SESSION")]
        data: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Reconstruction per number of levels and codebook usage on held-out synthetic demonstrations.
    Eval {
        /// Weights folder (default: the shipped assets/tokenizer).
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Encode chunks given as JSON on stdin (`{"chunk": [[a1..a7], …]}`) into codes and action tokens.
    Encode {
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
    },
    /// Decode codes or action tokens given as JSON on stdin into chunks.
    Decode {
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
        /// Use only the first N levels (1 = coarse, the goal-level motion).
        #[arg(long)]
        levels: Option<usize>,
    },
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
    /// Time from process start to the first presented frame (needs a display, e.g. Xvfb).
    Startup {
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let cameras = if cli.no_cameras {
        Some(Vec::new())
    } else if cli.cameras.is_empty() {
        None
    } else {
        Some(
            cli.cameras
                .iter()
                .enumerate()
                .map(|(i, text)| crate::camera_feeds::CameraSpec::parse(text, i + 1))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| anyhow::anyhow!(e))?,
        )
    };
    let options = AppOptions {
        reset_layout: cli.reset_layout,
        exit_after_frames: cli.exit_after_frames,
        report_first_frame: cli.report_first_frame,
        trajectory: cli.trajectory,
        urdf: cli.urdf.map(|path| (path, cli.urdf_tip)),
        connect_sim: cli.connect_sim,
        plan: cli.plan.clone(),
        cameras,
        session: cli.session.clone(),
        annotate: cli.annotate.clone(),
    };
    match cli.command {
        None | Some(CliCommand::Gui) => run_gui(options, cli.state_dir),
        Some(CliCommand::RobotSim { protocol, listen, model, seconds }) => crate::robot_link_cli::run_robot_sim(
            &protocol,
            &listen,
            &crate::robot_cli::robot_from_arg(&model)?,
            seconds,
        ),
        Some(CliCommand::Send { robot, trajectory, model, move_to_start }) => crate::robot_link_cli::run_send(
            &robot,
            &trajectory,
            crate::robot_cli::robot_from_arg(&model)?,
            move_to_start,
        ),
        Some(CliCommand::Plan(args)) => crate::policy_cli::run_plan(&args),
        Some(CliCommand::Record(args)) => crate::session_cli::run_record(&args),
        Some(CliCommand::Export(args)) => crate::session_cli::run_export(&args),
        Some(CliCommand::Import(ImportCommand::Lerobot { dataset, session, json })) => {
            crate::session_cli::run_import(&dataset, &session, json)
        }
        Some(CliCommand::Session(SessionCommand::Info(args))) => crate::session_cli::run_session_info(&args),
        Some(CliCommand::Serve(args)) => crate::policy_cli::run_serve(&args),
        Some(CliCommand::Tokenizer(command)) => run_tokenizer(command),
        Some(CliCommand::Fk { robot, joints, json }) => crate::robot_cli::run_fk(&robot, &joints, json),
        Some(CliCommand::Ik { robot, position, quaternion_xyzw, seed, json }) => {
            crate::robot_cli::run_ik(&robot, &position, &quaternion_xyzw, seed.as_deref(), json)
        }
        Some(CliCommand::Bench(BenchCommand::Ui { frames, warmup, width, height, json })) => {
            let result = crate::bench::bench_ui(frames, warmup, width, height)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let s = &result.frame_cpu;
                println!(
                    "UI frame CPU time, default layout, {}x{} points, {} frames after {} warm-up:",
                    width, height, s.samples, warmup
                );
                println!(
                    "  median {:.3} ms   p95 {:.3} ms   p99 {:.3} ms   max {:.3} ms   mean {:.3} ms",
                    s.median, s.p95, s.p99, s.max, s.mean
                );
                println!("  app construction {:.3} ms", result.construct_ms);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Kinematics { robot, samples, json })) => {
            let robot = crate::robot_cli::robot_from_arg(&robot)?;
            let result = crate::bench::bench_kinematics(&robot, samples.max(1))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let ik = &result.ik_solve_us;
                println!(
                    "{}: FK median {:.0} ns (p95 {:.0} ns) per call",
                    result.robot, result.fk_ns_median, result.fk_ns_p95
                );
                println!(
                    "{}: IK to 0.1 mm / 0.1 deg on {} random reachable poses from random seeds: success {:.1} %",
                    result.robot,
                    result.ik_samples,
                    result.ik_success_rate * 100.0
                );
                println!(
                    "  solve time median {:.1} us   p95 {:.1} us   p99 {:.1} us   max {:.1} us   (median {} iterations)",
                    ik.median, ik.p95, ik.p99, ik.max, result.ik_iterations_median
                );
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::ArmView { frames, width, height, ghosts, json })) => {
            let result = crate::bench::bench_arm_view(frames.max(1), width, height, ghosts)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let (f, c) = (&result.frame, &result.scene_cpu);
                println!(
                    "Arm view {}x{}, {} ghost poses ({} mesh instances) on {}:",
                    result.width, result.height, result.ghost_poses, result.mesh_instances, result.adapter
                );
                println!(
                    "  frame (render + submit + wait): median {:.2} ms   p95 {:.2} ms   max {:.2} ms",
                    f.median, f.p95, f.max
                );
                println!("  scene build + pack on the CPU: median {:.1} us   p95 {:.1} us", c.median, c.p95);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Stop { runs, rate_hz, json })) => {
            let result = crate::bench::bench_stop(runs.max(1), rate_hz)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let s = &result.stop_to_rest;
                println!("Simulated arm at {} Hz, stop signal to arm at rest, {} stops:", result.rate_hz, s.samples);
                println!(
                    "  median {:.0} us   p95 {:.0} us   p99 {:.0} us   max {:.0} us",
                    s.median, s.p95, s.p99, s.max
                );
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Stream { seconds, json })) => {
            let result = crate::bench::bench_stream(seconds)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let j = &result.jitter;
                println!(
                    "Streamed {} frames at {} ms over loopback (mean interval {:.3} ms, {} ignored by the controller):",
                    result.frames, result.period_ms, result.mean_interval_ms, result.ignored_frames
                );
                println!(
                    "  period jitter median {:.3} ms   p95 {:.3} ms   p99 {:.3} ms   max {:.3} ms",
                    j.median, j.p95, j.p99, j.max
                );
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Teleop { trials, frame_rate_hz, json })) => {
            let result = crate::bench::bench_teleop(trials.max(1), frame_rate_hz)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let s = &result.key_to_arm_view;
                println!("Teleop key to arm view, UI at {} Hz, {} key presses:", result.frame_rate_hz, s.samples);
                println!("  median {:.1} ms   p95 {:.1} ms   max {:.1} ms", s.median, s.p95, s.max);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Cameras { feeds, seconds, width, height, fps, json })) => {
            let result = crate::camera_bench::bench_cameras(feeds.max(1), seconds, width, height, fps)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                crate::camera_bench::print_cameras(&result);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Export { session, runs, lerobot_python, json })) => {
            let result = crate::session_cli::bench_export(&session, runs, lerobot_python.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!(
                    "LeRobot v3 export of {} episodes, {} frames x {} cameras (median of {} runs):",
                    result.episodes, result.frames, result.cameras, result.runs
                );
                println!("  KineDesk, JPEG frames as recorded: {:.2} s", result.kinedesk_jpeg_s);
                println!(
                    "  KineDesk, frames re-encoded as PNG: {:.2} s ({:.1} MB)",
                    result.kinedesk_png_s,
                    result.kinedesk_png_bytes as f64 / 1e6
                );
                match (result.lerobot_write_s, result.speedup_same_format) {
                    (Some(write), Some(speedup)) => println!(
                        "  lerobot writing the same frames as PNG: {write:.2} s ({:.1} MB): KineDesk is {speedup:.1}x faster",
                        result.lerobot_bytes.unwrap_or(0) as f64 / 1e6
                    ),
                    _ => println!("  (give --lerobot-python to time the lerobot package on the same episodes)"),
                }
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Crash { runs, json })) => {
            let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
            let result = crate::session_cli::bench_crash(&exe, runs.max(1))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!(
                    "kill -9 during recording (3 cameras 640×480 at 30 fps + joints at 100 Hz), {} runs:",
                    result.runs
                );
                println!("  run: frames written before the kill / reported durable / recovered");
                for (i, (w, d, r)) in result.per_run.iter().enumerate() {
                    println!("  {:2}: {w} / {d} / {r}", i + 1);
                }
                println!(
                    "  {} runs left a torn tail (trimmed); frames lost among those reported durable: {}",
                    result.runs_with_torn_tail, result.lost_beyond_durable
                );
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Planner { runs, json })) => {
            let result = crate::policy_bench::bench_planner(runs)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                crate::policy_bench::print_planner(&result);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Remote { requests, json })) => {
            let result = crate::policy_bench::bench_remote(requests.max(1))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                crate::policy_bench::print_remote(&result);
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Tokenizer { weights, iterations, json })) => {
            let weights = weights.unwrap_or_else(crate::tokenizer_cli::default_weights_dir);
            let result = crate::bench::bench_tokenizer(&weights, iterations.max(1))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                println!("Tokenizer {} on the CPU (median / p95, microseconds):", result.weights);
                for (name, s) in [
                    ("encode, batch 1 ", &result.encode_batch1),
                    ("decode, batch 1 ", &result.decode_batch1),
                    ("encode, batch 64", &result.encode_batch64),
                    ("decode, batch 64", &result.decode_batch64),
                ] {
                    println!("  {name}: {:.1} / {:.1}", s.median, s.p95);
                }
            }
            Ok(())
        }
        Some(CliCommand::Bench(BenchCommand::Startup { runs, json })) => {
            let exe = std::env::current_exe().context("cannot find the kinedesk executable")?;
            let result = crate::bench::bench_startup(&exe, runs.max(1), Duration::from_secs(60))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let s = &result.to_first_frame;
                println!("Start-up to first presented frame, {} runs:", s.samples);
                println!("  median {:.1} ms   p95 {:.1} ms   max {:.1} ms", s.median, s.p95, s.max);
            }
            Ok(())
        }
    }
}

fn run_tokenizer(command: TokenizerCommand) -> anyhow::Result<()> {
    use crate::tokenizer_cli::{default_weights_dir, run_decode, run_encode, run_eval, run_fit};
    use kinedesk_models::tokenizer::{TokenizerConfig, fit::FitOptions};
    match command {
        TokenizerCommand::Fit {
            out,
            steps,
            seed,
            batch,
            episodes,
            learning_rate,
            codebook_size,
            fine_levels,
            latent_dim,
            hidden_dim,
            data,
            json,
        } => {
            let options =
                FitOptions { steps, batch, learning_rate, seed, train_episodes: episodes, ..FitOptions::default() };
            let template = TokenizerConfig {
                fine_levels,
                latent_dim,
                hidden_dim,
                codebook_sizes: vec![codebook_size; 1 + fine_levels],
                ..TokenizerConfig::default()
            };
            run_fit(&out, &options, template, &data, json)
        }
        TokenizerCommand::Eval { weights, json } => {
            run_eval(&weights.unwrap_or_else(default_weights_dir), &FitOptions::default(), json)
        }
        TokenizerCommand::Encode { weights } => run_encode(&weights.unwrap_or_else(default_weights_dir)),
        TokenizerCommand::Decode { weights, levels } => {
            run_decode(&weights.unwrap_or_else(default_weights_dir), levels)
        }
    }
}

fn run_gui(options: AppOptions, state_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let native_options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("KineDesk")
            .with_app_id("kinedesk")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([960.0, 600.0]),
        renderer: eframe::Renderer::Wgpu,
        persistence_path: state_dir.map(|dir| dir.join("app.ron")),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native("KineDesk", native_options, Box::new(move |cc| Ok(Box::new(KineDeskApp::new(cc, options)))))
        .map_err(|error| {
            anyhow::anyhow!(
                "could not open the KineDesk window: {error}\n\
             A display (X11 or Wayland) and a Vulkan, Metal, DX12 or GL driver are needed. Headless machines can run \
             `kinedesk bench ui` and the test suite, or the window under Xvfb with Mesa (see README.md)."
            )
        })
}
