//! `bench rollout`: the closed loop's figures.
//!
//! - **Idle gap** between chunks at 15 Hz (the DROID profile: 10 × 8 joint-velocity chunks, 8 executed) against an
//!   openpi-protocol server on loopback that takes 50 ms, then 150 ms, per inference; the next chunk is asked while
//!   the current one runs.
//! - **Desk overhead per chunk**: building the observation (two 640×480 frames to 224×224 with padding, msgpack),
//!   decoding the actions into joints and checking them (limits and envelope).
//! - **Stop** during a supervised rollout: from the stop signal to the simulated arm at rest.
//! - **The desk**: a supervised rollout of the built-in planner in the real app for a while, recording 3 cameras:
//!   frames kept, UI frame times.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kinedesk_models::StopSignal;
use kinedesk_models::driver::{DriverCommand, DriverHandle};
use kinedesk_models::policy::backend::CameraImage;
use kinedesk_models::policy::msgpack::{self, NdArray, Value};
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::rollout::{
    BuiltinChunks, ChunkPolicy, Envelope, Observation, Phase, PolicyProfile, RemoteChunks, Rollout, RolloutConfig,
    RolloutMode, StopReason, decode_chunk,
};
use kinedesk_models::policy::server::{AnswerFn, ServeOptions, serve_policy};
use kinedesk_models::robot::{Robot, SafetyLimits, panda};

use super::{Report, Summary};

/// One rollout against the benchmark server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServerRun {
    /// What the server adds to each inference (ms).
    pub server_ms: u64,
    pub chunks_executed: usize,
    pub inference: Summary,
    /// How long the arm stood still between chunks (driver clock).
    pub idle_gap: Summary,
    pub stopped: String,
}

/// One run of the desk with cameras recording.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeskRun {
    pub seconds: f64,
    pub feeds: usize,
    /// Rollouts started back to back (the built-in planner's rollout ends when its plan is done).
    pub rollouts: usize,
    pub chunks_executed: usize,
    pub chunks_recorded: usize,
    pub ui_frame: Summary,
    pub frames_delivered: u64,
    pub frames_written: u64,
    pub frames_lost: u64,
    pub joint_states_written: u64,
}

/// Result of `kinedesk bench rollout`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RolloutBench {
    pub rate_hz: f64,
    pub servers: Vec<ServerRun>,
    /// Observation (two images to 224×224, state, msgpack) per chunk.
    pub observation: Summary,
    /// Decode and checks per chunk.
    pub decode_and_check: Summary,
    /// Both together.
    pub overhead: Summary,
    /// Stop signal to the arm at rest, during supervised rollouts.
    pub stop_to_rest: Summary,
    pub desk: Option<DeskRun>,
}

/// A DROID-style policy (joint velocities toward a goal, from the observed joints) that takes `delay` per inference.
fn droid_server(delay: Duration) -> anyhow::Result<(std::net::SocketAddr, Arc<AtomicBool>)> {
    let robot = panda();
    let rest = robot.rest_pose.clone();
    let offsets = [0.3, 0.2, 0.0, -0.2, 0.0, 0.2, 0.3];
    let goals: Vec<Vec<f64>> =
        [1.0, -1.0].iter().map(|sign| rest.iter().zip(offsets).map(|(q, o)| q + sign * o).collect()).collect();
    let which = Mutex::new(0usize);
    let answer: Arc<AnswerFn> = Arc::new(move |observation: &Value| {
        let joints = msgpack::get(observation, "observation/joint_position")
            .ok_or("no observation/joint_position")
            .and_then(|v| NdArray::from_value(v).map_err(|_| "observation/joint_position is not an array"))
            .and_then(|a| a.to_f64().map_err(|_| "observation/joint_position: unsupported dtype"))?;
        if joints.len() != 7 {
            return Err(format!("observation/joint_position has {} values, not 7", joints.len()));
        }
        std::thread::sleep(delay);
        let mut goal_index = which.lock().map_err(|_| "poisoned")?;
        let mut goal = &goals[*goal_index];
        if joints.iter().zip(goal).all(|(q, g)| (q - g).abs() < 0.02) {
            *goal_index = 1 - *goal_index;
            goal = &goals[*goal_index];
        }
        let dt = 1.0 / 15.0;
        let mut q = joints.clone();
        let mut actions = Vec::with_capacity(80);
        for _ in 0..10 {
            for (j, value) in q.iter_mut().enumerate() {
                let velocity = ((goal[j] - *value) * 2.0).clamp(-0.4, 0.4);
                *value += velocity * dt;
                actions.push(velocity as f32);
            }
            actions.push(0.0);
        }
        Ok(msgpack::map(vec![("actions", NdArray::from_f32(vec![10, 8], &actions).to_value())]))
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let metadata = msgpack::map(vec![("server", Value::from("kinedesk bench (DROID-style)"))]);
    std::thread::Builder::new().name("bench-rollout-server".into()).spawn(move || {
        let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|line| eprintln!("bench server: {line}"));
        let _ = serve_policy(&listener, &metadata, &answer, &ServeOptions::default(), &flag, &log);
    })?;
    Ok((address, stop))
}

/// Two synthetic 640×480 frames, as the cameras would give them.
fn frames() -> Vec<CameraImage> {
    (0..2u8)
        .map(|camera| {
            let (width, height) = (640u32, 480u32);
            let rgb = (0..width * height)
                .flat_map(|i| [(i % width) as u8, (i / width) as u8, camera.wrapping_mul(90)])
                .collect();
            CameraImage { name: format!("camera {camera}"), width, height, rgb: Arc::new(rgb) }
        })
        .collect()
}

fn connect_sim(robot: &Robot) -> anyhow::Result<(DriverHandle, StopSignal)> {
    let stop = StopSignal::new();
    let (driver, _) = crate::cli::robot_link::connect_and_wait("sim", robot.clone(), stop.clone())?;
    Ok((driver, stop))
}

/// Ticks `rollout` every 2 ms until it stops, `until` says so, or `limit` passes.
fn drive(rollout: &mut Rollout, driver: &DriverHandle, limit: Duration, mut until: impl FnMut(&Rollout) -> bool) {
    let deadline = Instant::now() + limit;
    while rollout.phase() != Phase::Stopped && Instant::now() < deadline && !until(rollout) {
        let events = driver.drain_events();
        rollout.tick(driver, &events);
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn server_run(server_ms: u64, chunks: usize) -> anyhow::Result<ServerRun> {
    let robot = panda();
    let (address, server_stop) = droid_server(Duration::from_millis(server_ms))?;
    let (driver, _stop) = connect_sim(&robot)?;
    let profile = PolicyProfile::load("droid").map_err(anyhow::Error::msg)?;
    let execute = profile.action.execute_steps;
    let client = RemotePolicy::new(RemoteConfig::new(format!("ws://{address}")), None);
    let policy: Box<dyn ChunkPolicy> = Box::new(RemoteChunks::new(client, profile, None));
    let config = RolloutConfig {
        mode: RolloutMode::Supervised,
        max_chunks: Some(chunks),
        ask_after_steps: Some(execute / 2),
        ..RolloutConfig::new("move the arm back and forth")
    };
    let images = frames();
    let mut rollout = Rollout::start(config, policy, Arc::new(robot), "panda".into(), Box::new(move || images.clone()))
        .map_err(anyhow::Error::msg)?;
    drive(&mut rollout, &driver, Duration::from_secs(120), |_| false);
    server_stop.store(true, std::sync::atomic::Ordering::Release);
    let _ = driver.send(DriverCommand::Disconnect);
    let stopped = rollout.stop_reason().map_or_else(|| "still running after 120 s".to_owned(), ToString::to_string);
    let ms = |values: Vec<f64>| {
        Summary::millis(&values.iter().map(|v| Duration::from_secs_f64(v / 1e3)).collect::<Vec<_>>())
    };
    let executed = rollout.chunks().iter().filter(|c| c.executed_steps > 0).count();
    Ok(ServerRun {
        server_ms,
        chunks_executed: executed,
        inference: ms(rollout.chunks().iter().map(|c| c.inference_ms).collect()).context("no chunk arrived")?,
        idle_gap: ms(rollout.chunks().iter().filter_map(|c| c.idle_gap_ms).collect())
            .with_context(|| format!("fewer than two chunks ran ({stopped})"))?,
        stopped,
    })
}

/// Observation, decode and checks of a DROID chunk, `iterations` times.
fn overhead(iterations: usize) -> anyhow::Result<(Summary, Summary, Summary)> {
    let robot = Arc::new(panda());
    let profile = PolicyProfile::load("droid").map_err(anyhow::Error::msg)?;
    let limits = SafetyLimits::for_robot(&robot);
    let envelope = Envelope::default();
    let observation = Observation {
        instruction: "put the marker in the cup".into(),
        robot: robot.clone(),
        robot_kind: "panda".into(),
        joints: robot.rest_pose.clone(),
        gripper_opening: 1.0,
        images: frames(),
    };
    let actions: Vec<Vec<f64>> = (0..10).map(|k| (0..8).map(|j| 0.05 * f64::from(k + j)).collect()).collect();
    let (mut observe, mut check, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let started = Instant::now();
        let (value, _notes) = profile.observation(&observation).map_err(|e| anyhow::anyhow!("{e}"))?;
        let bytes = msgpack::encode(&value).map_err(|e| anyhow::anyhow!("{e}"))?;
        std::hint::black_box(bytes);
        let observed = started.elapsed();
        let planned = decode_chunk(&profile, &robot, &robot.rest_pose, -1.0, &actions, profile.action.execute_steps)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = kinedesk_models::policy::trajectory::check_planned(&robot, &planned, &limits);
        std::hint::black_box((report, envelope.breaches(&planned)));
        observe.push(observed);
        check.push(started.elapsed() - observed);
        total.push(started.elapsed());
    }
    Ok((
        Summary::millis(&observe).context("no iterations")?,
        Summary::millis(&check).context("no iterations")?,
        Summary::millis(&total).context("no iterations")?,
    ))
}

/// Stops supervised rollouts of the built-in planner mid-chunk, `runs` times.
fn stop_runs(runs: usize) -> anyhow::Result<Summary> {
    let robot = panda();
    let tokenizer = Arc::new(kinedesk_models::tokenizer::ActionTokenizer::builtin().map_err(anyhow::Error::msg)?);
    let mut latencies = Vec::with_capacity(runs);
    for run in 0..runs {
        let (driver, stop) = connect_sim(&robot)?;
        let planner = kinedesk_models::policy::builtin::BuiltinPlanner::new(tokenizer.clone());
        let config = RolloutConfig {
            mode: RolloutMode::Supervised,
            ask_after_steps: Some(2),
            ..RolloutConfig::new(if run % 2 == 0 { "move 10 cm left" } else { "move 10 cm up" })
        };
        let mut rollout = Rollout::start(
            config,
            Box::new(BuiltinChunks::new(planner)),
            Arc::new(robot.clone()),
            "panda".into(),
            Box::new(Vec::new),
        )
        .map_err(anyhow::Error::msg)?;
        // Into the second chunk, with the arm moving.
        drive(&mut rollout, &driver, Duration::from_secs(20), |r| {
            r.executing().is_some_and(|c| c.index >= 1) && driver.latest_state().is_some_and(|s| s.moving)
        });
        if rollout.phase() == Phase::Stopped {
            bail!("run {run}: the rollout stopped before it could be stopped: {:?}", rollout.stop_reason());
        }
        let (rest_tx, rest_rx) = std::sync::mpsc::channel::<Instant>();
        driver.set_state_tap(Some(Box::new(move |state| {
            if !state.moving {
                let _ = rest_tx.send(Instant::now());
            }
        })));
        let started = Instant::now();
        stop.trigger(kinedesk_models::StopReason::Api);
        let at_rest = rest_rx.recv_timeout(Duration::from_secs(5)).context("the arm did not come to rest")?;
        latencies.push(at_rest.saturating_duration_since(started));
        drive(&mut rollout, &driver, Duration::from_secs(2), |_| false);
        if rollout.stop_reason() != Some(&StopReason::OperatorStop) {
            bail!("run {run}: the rollout did not end on the stop: {:?}", rollout.stop_reason());
        }
        driver.set_state_tap(None);
        let _ = driver.send(DriverCommand::Disconnect);
    }
    Summary::millis(&latencies).context("no runs")
}

/// The real app: a supervised rollout of the built-in planner, started again whenever one ends, while 3 cameras
/// and the arm are recorded; the UI runs at 60 Hz.
fn desk_run(seconds: f64, feeds: usize) -> anyhow::Result<DeskRun> {
    use crate::gui::app::{AppOptions, KineDeskApp};
    use crate::gui::camera_feeds::CameraSpec;
    use crate::gui::command::Command;
    let root = std::env::temp_dir().join(format!("kinedesk-bench-rollout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let specs = (0..feeds)
        .map(|i| CameraSpec::TestPattern { name: format!("pattern {i}"), width: 640, height: 480, fps: 30 })
        .collect();
    let ctx = egui::Context::default();
    let options =
        AppOptions { cameras: Some(specs), connect_sim: true, session: Some(root.clone()), ..AppOptions::default() };
    let mut app = KineDeskApp::from_parts(&ctx, None, None, options);
    let started = Instant::now();
    use super::recording::frames_until as frames;
    frames(&ctx, &mut app, started, Duration::from_secs(20), |app| {
        app.arm().live.is_some() && app.session().session.is_some()
    });
    if app.arm().live.is_none() {
        bail!("the simulated arm did not connect");
    }
    let settings =
        crate::gui::rollout_state::RolloutSettings { mode: RolloutMode::Supervised, ..app.settings().rollout.clone() };
    app.handle_command(&ctx, Command::SetRolloutSettings(settings));
    let published = |app: &KineDeskApp| -> u64 { app.cameras().feeds.iter().map(|f| f.handle.slot.published()).sum() };
    let delivered_before = published(&app);
    app.handle_command(&ctx, Command::StartRecording);
    let recording_started = Instant::now();
    let end = recording_started + Duration::from_secs_f64(seconds);
    let (mut ui_times, mut rollouts, mut executed) = (Vec::new(), 0, 0);
    let instructions = ["move 10 cm left slowly", "move 10 cm right slowly"];
    while Instant::now() < end {
        app.handle_command(&ctx, Command::StartRollout(instructions[rollouts % 2].into()));
        rollouts += 1;
        // Up to the end, and the last one may run 30 s past it: it ends on its own (its chunks go into the episode)
        // before the episode is finished.
        let limit = (end + Duration::from_secs(30)).saturating_duration_since(Instant::now());
        ui_times.extend(frames(&ctx, &mut app, started, limit, |app| !app.rollout().active()));
        let rollout = app.rollout().rollout.as_ref().context("no rollout started")?;
        executed += rollout.chunks().iter().filter(|c| c.executed_steps > 0).count();
        if let Some(reason) = rollout.stop_reason().filter(|r| **r != StopReason::Done) {
            bail!("rollout {rollouts} stopped: {reason}");
        }
    }
    let delivered = published(&app) - delivered_before;
    app.handle_command(&ctx, Command::FinishEpisode);
    frames(&ctx, &mut app, started, Duration::from_secs(120), |app| {
        app.session().episodes.first().is_some_and(|row| row.finished)
    });
    let row = app.session().episodes.first().cloned().context("the episode was not listed within 120 s")?;
    let episode = kinedesk_sessions::episode::read_episode(&row.path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let chunks_recorded = episode.events.iter().filter(|(_, e)| e["type"] == "rollout_chunk").count();
    let _ = std::fs::remove_dir_all(&root);
    Ok(DeskRun {
        seconds,
        feeds,
        rollouts,
        chunks_executed: executed,
        chunks_recorded,
        ui_frame: Summary::millis(&ui_times).context("no frames")?,
        frames_delivered: delivered,
        frames_written: episode.frames.len() as u64,
        frames_lost: delivered.saturating_sub(episode.frames.len() as u64),
        joint_states_written: episode.joints.len() as u64,
    })
}

/// Runs every part; the desk run for `desk_seconds` if given.
pub fn bench_rollout(chunks: usize, stops: usize, desk_seconds: Option<f64>) -> anyhow::Result<RolloutBench> {
    let servers = [50, 150].into_iter().map(|ms| server_run(ms, chunks)).collect::<anyhow::Result<Vec<_>>>()?;
    let (observation, decode_and_check, overhead) = overhead(200)?;
    let stop_to_rest = stop_runs(stops)?;
    let desk = desk_seconds.map(|seconds| desk_run(seconds, 3)).transpose()?;
    Ok(RolloutBench { rate_hz: 15.0, servers, observation, decode_and_check, overhead, stop_to_rest, desk })
}

impl Report for RolloutBench {
    fn print_text(&self) {
        println!(
            "Closed-loop rollouts (DROID profile at {} Hz, 8 of 10 actions executed, asked after 4):",
            self.rate_hz
        );
        for run in &self.servers {
            println!(
                "  server {} ms: {} chunks; inference median {:.1} ms; idle gap median {:.1} ms, p95 {:.1} ms, max \
                 {:.1} ms ({})",
                run.server_ms,
                run.chunks_executed,
                run.inference.median,
                run.idle_gap.median,
                run.idle_gap.p95,
                run.idle_gap.max,
                run.stopped
            );
        }
        println!(
            "  desk overhead per chunk: median {:.3} ms, p95 {:.3} ms (observation {:.3} ms, decode + checks {:.3} ms)",
            self.overhead.median, self.overhead.p95, self.observation.median, self.decode_and_check.median
        );
        println!(
            "  stop during a supervised rollout to arm at rest: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} runs)",
            self.stop_to_rest.median, self.stop_to_rest.p95, self.stop_to_rest.max, self.stop_to_rest.samples
        );
        if let Some(desk) = &self.desk {
            println!(
                "  desk, {:.0} s supervised ({} rollouts, {} chunks executed, {} recorded) with {} cameras recording:",
                desk.seconds, desk.rollouts, desk.chunks_executed, desk.chunks_recorded, desk.feeds
            );
            println!(
                "    UI frame median {:.3} ms, p95 {:.3} ms, max {:.3} ms; frames {} delivered, {} written, {} lost; \
                 {} joint states",
                desk.ui_frame.median,
                desk.ui_frame.p95,
                desk.ui_frame.max,
                desk.frames_delivered,
                desk.frames_written,
                desk.frames_lost,
                desk.joint_states_written
            );
        }
    }
}
