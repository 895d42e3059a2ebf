//! `kinedesk bench …`: the performance figures quoted in `docs/benchmarks.md`.
//!
//! - `bench ui`: CPU time of one frame of the default layout (the app's UI code, egui layout and tessellation;
//!   GPU upload and presentation are not included), measured over many frames in this process.
//! - `bench startup`: wall time from spawning `kinedesk` to its first presented frame, over several runs.
//!   Needs a display (a real one or Xvfb).

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use egui::{Event, Pos2, RawInput, Rect, vec2};

use crate::app::{AppOptions, FIRST_FRAME_MARKER, KineDeskApp};

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
fn percentile(sorted: &[f64], pct: f64) -> f64 {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

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
        let mut output = ctx.run_ui(input, |ui| app.show(ui));
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

/// Result of `kinedesk bench kinematics`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KinematicsBench {
    pub robot: String,
    /// Forward kinematics (flange pose), nanoseconds per call: median and p95 over batches.
    pub fk_ns_median: f64,
    pub fk_ns_p95: f64,
    /// IK to 0.1 mm / 0.1° on random reachable poses from random seeds.
    pub ik_samples: usize,
    pub ik_success_rate: f64,
    pub ik_solve_us: Summary,
    pub ik_iterations_median: usize,
}

/// Times FK in batches and IK on `ik_samples` random reachable poses, each from a random seed within the limits.
pub fn bench_kinematics(robot: &kinedesk_models::robot::Robot, ik_samples: usize) -> anyhow::Result<KinematicsBench> {
    use kinedesk_models::robot::{IkOptions, fk, solve_ik};

    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut random_q = || -> Vec<f64> {
        robot.joints.iter().map(|j| j.limits.lower + next() * (j.limits.upper - j.limits.lower)).collect()
    };

    let configurations: Vec<Vec<f64>> = (0..256).map(|_| random_q()).collect();
    let batch = 20_000;
    let mut per_call_ns = Vec::with_capacity(30);
    for _ in 0..30 {
        let started = Instant::now();
        for k in 0..batch {
            std::hint::black_box(fk(robot, std::hint::black_box(&configurations[k % configurations.len()]))?);
        }
        per_call_ns.push(started.elapsed().as_secs_f64() * 1e9 / batch as f64);
    }
    per_call_ns.sort_by(f64::total_cmp);

    let options = IkOptions::default();
    let mut times = Vec::with_capacity(ik_samples);
    let mut iterations = Vec::with_capacity(ik_samples);
    let mut solved = 0;
    for _ in 0..ik_samples {
        let goal = random_q();
        let seed = random_q();
        let target = fk(robot, &goal)?;
        let started = Instant::now();
        let result = solve_ik(robot, &target, Some(&seed), &options);
        times.push(started.elapsed());
        if let Ok(solution) = result {
            solved += 1;
            iterations.push(solution.iterations);
        }
    }
    iterations.sort_unstable();
    Ok(KinematicsBench {
        robot: robot.name.clone(),
        fk_ns_median: percentile(&per_call_ns, 50.0),
        fk_ns_p95: percentile(&per_call_ns, 95.0),
        ik_samples,
        ik_success_rate: solved as f64 / ik_samples.max(1) as f64,
        ik_solve_us: Summary::micros(&times).context("no IK samples")?,
        ik_iterations_median: iterations.get(iterations.len() / 2).copied().unwrap_or(0),
    })
}

/// Result of `kinedesk bench arm-view`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArmViewBench {
    pub adapter: String,
    pub width: u32,
    pub height: u32,
    pub ghost_poses: usize,
    pub mesh_instances: usize,
    /// Building the scene (FK of every pose) and packing it for the GPU, on the CPU.
    pub scene_cpu: Summary,
    /// Recording, submitting and waiting for one offscreen frame (4x MSAA, depth, resolve).
    pub frame: Summary,
}

/// Renders the arm view offscreen `frames` times at `width`x`height` pixels with the live arm, start/goal/scrubbed
/// ghosts and `ghost_poses` sample ghosts of a 100-step trajectory, on the first adapter wgpu finds
/// (lavapipe on a machine without a GPU).
pub fn bench_arm_view(frames: usize, width: u32, height: u32, ghost_poses: usize) -> anyhow::Result<ArmViewBench> {
    use egui_wgpu::wgpu;
    use kinedesk_models::robot::{SafetyLimits, Trajectory, check_trajectory, panda};
    use kinedesk_widgets::arm_view::{
        ArmModel, ArmScene, ArmViewRenderer, GhostPreview, GpuScene, OrbitCamera, add_arm, add_ghost_trajectory,
    };

    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..wgpu::RequestAdapterOptions::default()
    }))
    .context("no wgpu adapter (install mesa-vulkan-drivers for lavapipe)")?;
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
        .context("could not open the wgpu device")?;
    let mut renderer = ArmViewRenderer::new(&device, wgpu::TextureFormat::Rgba8Unorm);

    let robot = panda();
    let joints: Vec<Vec<f64>> = (0..100)
        .map(|k| {
            let s = f64::from(k) / 99.0;
            let mut q = robot.rest_pose.clone();
            q[0] += 1.2 * s;
            q[1] += 0.4 * (s * std::f64::consts::PI).sin();
            q
        })
        .collect();
    let trajectory = Trajectory { dt_s: 0.05, joints };
    let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
    let build = |step: usize, camera: &OrbitCamera| -> anyhow::Result<GpuScene> {
        let mut scene = ArmScene::with_floor([0.09, 0.10, 0.12, 1.0], [0.5, 0.5, 0.55, 0.35]);
        add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &robot.rest_pose, [0.78, 0.80, 0.84, 1.0], &[])?;
        let preview = GhostPreview {
            trajectory: &trajectory,
            step,
            report: Some(&report),
            samples: ghost_poses,
            highlight: None,
        };
        add_ghost_trajectory(&mut scene, ArmModel { robot: &robot, visuals: &[] }, preview)?;
        Ok(GpuScene::pack(&scene, camera.view_proj(width as f32 / height as f32)))
    };

    let mut camera = OrbitCamera::default();
    let mut scene_times = Vec::with_capacity(frames);
    let mut frame_times = Vec::with_capacity(frames);
    let mut instances = 0;
    for index in 0..frames + 5 {
        camera.orbit(2.0, 0.0);
        let started = Instant::now();
        let packed = build(index % 100, &camera)?;
        let scene_time = started.elapsed();
        instances = packed.instance_count();
        let started = Instant::now();
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bench") });
        renderer.render(&device, &queue, &mut encoder, &packed, [width, height]);
        queue.submit([encoder.finish()]);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|error| anyhow::anyhow!("GPU wait failed: {error}"))?;
        if index >= 5 {
            scene_times.push(scene_time);
            frame_times.push(started.elapsed());
        }
    }
    Ok(ArmViewBench {
        adapter: format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type),
        width,
        height,
        ghost_poses,
        mesh_instances: instances,
        scene_cpu: Summary::micros(&scene_times).context("no frames")?,
        frame: Summary::millis(&frame_times).context("no frames")?,
    })
}

/// Result of `kinedesk bench stop`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StopBench {
    pub rate_hz: f64,
    /// From `StopSignal::trigger` to the simulated arm reporting itself halted (velocities zero), as seen by the
    /// receiving thread.
    pub stop_to_rest: Summary,
}

/// Starts the simulated Panda, sets it moving, stops it `runs` times and measures the latency of each stop.
pub fn bench_stop(runs: usize, rate_hz: f64) -> anyhow::Result<StopBench> {
    use kinedesk_models::StopReason;
    use kinedesk_models::driver::{DriverCommand, DriverEvent};
    use kinedesk_models::robot::{Trajectory, panda};
    use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};

    let robot = panda();
    let stop = kinedesk_models::StopSignal::new();
    let config = SimArmConfig { rate_hz, ..SimArmConfig::default() };
    let handle = spawn_sim_arm(robot.clone(), stop.clone(), config, None)?;
    let events = handle.worker.events();
    let wait_for = |want: &dyn Fn(&DriverEvent) -> bool| -> anyhow::Result<DriverEvent> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(event) = events.recv_timeout(Duration::from_millis(100))
                && want(&event)
            {
                return Ok(event);
            }
        }
        bail!("the simulated arm did not answer within 10 s")
    };
    let mut latencies = Vec::with_capacity(runs);
    let mut q = robot.rest_pose.clone();
    for run in 0..runs {
        // A slow 2 s sweep of joint 1 back and forth from where the arm is.
        let direction = if run % 2 == 0 { 1.0 } else { -1.0 };
        let joints = (0..=200)
            .map(|k| {
                let mut step = q.clone();
                step[0] += direction * 0.2 * f64::from(k) / 200.0;
                step
            })
            .collect();
        handle.worker.send(DriverCommand::Execute(Trajectory { dt_s: 0.01, joints }))?;
        wait_for(&|event| matches!(event, DriverEvent::Progress { step, .. } if *step >= 5))?;
        let started = Instant::now();
        stop.trigger(StopReason::Api);
        let state = wait_for(&|event| matches!(event, DriverEvent::State(s) if !s.moving))?;
        latencies.push(started.elapsed());
        if let DriverEvent::State(state) = state {
            q = state.positions;
        }
    }
    let _ = handle.worker.send(DriverCommand::Disconnect);
    Ok(StopBench { rate_hz, stop_to_rest: Summary::micros(&latencies).context("no runs")? })
}

/// Result of `kinedesk bench stream`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamBench {
    pub frames: usize,
    pub period_ms: f64,
    /// |arrival interval − period| at the simulated controller, in milliseconds.
    pub jitter: Summary,
    pub mean_interval_ms: f64,
    pub ignored_frames: usize,
}

/// Streams a `seconds`-long trajectory to a simulated Realman controller on loopback and measures the arrival
/// jitter of the 100 Hz `movej_canfd` frames where the controller receives them.
pub fn bench_stream(seconds: f64) -> anyhow::Result<StreamBench> {
    use kinedesk_models::driver::{DriverCommand, DriverEvent};
    use kinedesk_models::realman::client::{RealmanConfig, connect_realman};
    use kinedesk_models::realman::protocol::CANFD_PERIOD_S;
    use kinedesk_models::realman::simulator::{Faults, RealmanSimulator};
    use kinedesk_models::robot::{Trajectory, rm75};

    let robot = rm75();
    let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default())?;
    let handle = connect_realman(
        robot.clone(),
        RealmanConfig::new(simulator.address().to_string()),
        kinedesk_models::StopSignal::new(),
        None,
    )?;
    let steps = (seconds / 0.05).ceil().max(2.0) as usize;
    let joints = (0..=steps)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            q[0] += 0.5 * (k as f64 / steps as f64);
            q
        })
        .collect();
    let mut sent = false;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds + 10.0);
    let mut trajectory = Some(Trajectory { dt_s: 0.05, joints });
    loop {
        if Instant::now() > deadline {
            bail!("the stream did not finish in time");
        }
        match handle.worker.events().recv_timeout(Duration::from_millis(100)) {
            Some(DriverEvent::State(_)) if !sent => {
                sent = true;
                handle.worker.send(DriverCommand::Execute(trajectory.take().context("sent once")?))?;
            }
            Some(DriverEvent::Finished) => break,
            Some(DriverEvent::Refused { reason } | DriverEvent::Disconnected { reason }) => bail!("{reason}"),
            _ => {}
        }
    }
    let _ = handle.worker.send(DriverCommand::Disconnect);
    let stats = simulator.stats();
    let intervals: Vec<Duration> = stats.canfd_arrivals.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let period = Duration::from_secs_f64(CANFD_PERIOD_S);
    let jitter: Vec<Duration> = intervals.iter().map(|interval| interval.abs_diff(period)).collect();
    let mean_interval_ms =
        intervals.iter().map(Duration::as_secs_f64).sum::<f64>() / intervals.len().max(1) as f64 * 1e3;
    Ok(StreamBench {
        frames: stats.canfd_arrivals.len(),
        period_ms: CANFD_PERIOD_S * 1e3,
        jitter: Summary::millis(&jitter).context("no frames")?,
        mean_interval_ms,
        ignored_frames: stats.canfd_ignored,
    })
}

/// Result of `kinedesk bench teleop`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TeleopBench {
    pub frame_rate_hz: f64,
    /// From the UI frame that sees Shift+W go down to the first UI frame that draws the arm moved.
    pub key_to_arm_view: Summary,
}

/// Drives the real app (simulated arm connected, teleop armed) at `frame_rate_hz`, presses Shift+W `trials` times,
/// and measures how long until the arm view shows the arm moving.
pub fn bench_teleop(trials: usize, frame_rate_hz: f64) -> anyhow::Result<TeleopBench> {
    use crate::command::Command;
    use egui::{Key, Modifiers};

    let ctx = egui::Context::default();
    let mut app = KineDeskApp::from_parts(&ctx, None, None, AppOptions::default());
    let frame_period = Duration::from_secs_f64(1.0 / frame_rate_hz.clamp(1.0, 1000.0));
    let started = Instant::now();
    let frame = |app: &mut KineDeskApp, events: Vec<Event>| {
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(1600.0, 1000.0))),
            time: Some(started.elapsed().as_secs_f64()),
            events,
            ..RawInput::default()
        };
        let mut output = ctx.run_ui(input, |ui| app.show(ui));
        output.textures_delta.clear();
        std::thread::sleep(frame_period);
    };
    app.handle_command(&ctx, Command::ConnectSimArm);
    let connected = Instant::now();
    while app.arm().live.is_none() {
        if connected.elapsed() > Duration::from_secs(10) {
            bail!("the simulated arm did not connect");
        }
        frame(&mut app, Vec::new());
    }
    app.handle_command(&ctx, Command::SetTeleop(true));
    let key =
        |pressed| Event::Key { key: Key::W, physical_key: None, pressed, repeat: false, modifiers: Modifiers::SHIFT };
    let mut latencies = Vec::with_capacity(trials);
    for _ in 0..trials {
        let before = app.arm().live.as_ref().map(|state| state.positions.clone()).context("live state")?;
        let pressed_at = Instant::now();
        frame(&mut app, vec![Event::ModifiersChanged(Modifiers::SHIFT), key(true)]);
        loop {
            let moved = app.arm().live.as_ref().is_some_and(|state| state.positions != before);
            if moved {
                latencies.push(pressed_at.elapsed());
                break;
            }
            if pressed_at.elapsed() > Duration::from_secs(5) {
                bail!("the arm did not move within 5 s of the key");
            }
            frame(&mut app, Vec::new());
        }
        // Release and let the arm settle before the next trial.
        frame(&mut app, vec![key(false), Event::ModifiersChanged(Modifiers::NONE)]);
        for _ in 0..(0.4 * frame_rate_hz) as usize {
            frame(&mut app, Vec::new());
        }
    }
    // Frames drawn after a state change show it, so the frame period is part of the figure.
    Ok(TeleopBench { frame_rate_hz, key_to_arm_view: Summary::millis(&latencies).context("no trials")? })
}

/// Result of `kinedesk bench tokenizer`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenizerBench {
    pub weights: String,
    pub encode_batch1: Summary,
    pub decode_batch1: Summary,
    pub encode_batch64: Summary,
    pub decode_batch64: Summary,
}

/// Times encoding and decoding (all levels) of held-out synthetic chunks, one at a time and 64 at a time, on the CPU.
pub fn bench_tokenizer(weights: &std::path::Path, iterations: usize) -> anyhow::Result<TokenizerBench> {
    use kinedesk_models::tokenizer::ActionTokenizer;
    use kinedesk_models::tokenizer::fit::{FitOptions, held_out_chunks};

    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    let chunks = held_out_chunks(tokenizer.config(), &FitOptions::default());
    if chunks.len() < 64 {
        bail!("not enough held-out chunks");
    }
    let levels = tokenizer.config().levels();
    let time = |batch: usize, encode: bool| -> anyhow::Result<Summary> {
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations + 10 {
            let start = (i * 37) % (chunks.len() - batch);
            let slice = &chunks[start..start + batch];
            let codes = tokenizer.encode(slice)?;
            let started = Instant::now();
            if encode {
                std::hint::black_box(tokenizer.encode(slice)?);
            } else {
                std::hint::black_box(tokenizer.decode(&codes, levels)?);
            }
            if i >= 10 {
                samples.push(started.elapsed());
            }
        }
        Summary::micros(&samples).context("no samples")
    };
    Ok(TokenizerBench {
        weights: weights.display().to_string(),
        encode_batch1: time(1, true)?,
        decode_batch1: time(1, false)?,
        encode_batch64: time(64, true)?,
        decode_batch64: time(64, false)?,
    })
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

    #[test]
    fn the_kinematics_bench_reports_success_and_times() {
        let result = bench_kinematics(&kinedesk_models::robot::panda(), 20).unwrap();
        assert_eq!(result.ik_samples, 20);
        assert!(result.ik_success_rate > 0.9, "{result:?}");
        assert!(result.fk_ns_median > 0.0);
    }

    #[test]
    fn the_ui_bench_measures_the_requested_frames() {
        let result = bench_ui(5, 2, 1280.0, 800.0).unwrap();
        assert_eq!(result.frame_cpu.samples, 5);
        assert!(result.frame_cpu.max >= result.frame_cpu.median);
        assert!(bench_ui(0, 0, 100.0, 100.0).is_err());
    }
}
