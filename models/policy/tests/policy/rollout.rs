//! Closed-loop rollouts on the simulated arm: the built-in planner served chunk by chunk, step and supervised
//! gating, a chunk that fails a check, pause and takeover, stop, server errors and timeouts; and against a
//! DROID-style server built on the real `openpi-client` package (its `msgpack_numpy`), whose chunks depend on the
//! observed joints, so the test passes only if the loop feeds the executed state back.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kinedesk_core::StopSignal;
use kinedesk_core::driver::{DriverCommand, DriverEvent, DriverHandle};
use kinedesk_core::robot::{Robot, fk, panda};
use kinedesk_drivers::sim_arm::{SimArmConfig, spawn_sim_arm};
use kinedesk_policy::backend::PolicyError;
use kinedesk_policy::builtin::BuiltinPlanner;
use kinedesk_policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_policy::rollout::{
    BuiltinChunks, Chunk, ChunkPolicy, Decision, Observation, Phase, PolicyProfile, RemoteChunks, Rollout,
    RolloutConfig, RolloutEvent, RolloutMode, RolloutSummary, StopReason,
};

fn sim() -> (DriverHandle, StopSignal) {
    let stop = StopSignal::new();
    let driver = spawn_sim_arm(panda(), stop.clone(), SimArmConfig::default(), None).unwrap();
    assert!(matches!(driver.recv_event_timeout(Duration::from_secs(5)), Some(DriverEvent::Connected { .. })));
    driver.wait_for_state(Duration::from_secs(5), |_| true).unwrap();
    (driver, stop)
}

fn start(config: RolloutConfig, policy: Box<dyn ChunkPolicy>) -> Rollout {
    let robot = Arc::new(panda());
    Rollout::start(config, policy, robot, "panda".into(), Box::new(Vec::new)).unwrap()
}

fn builtin() -> Box<dyn ChunkPolicy> {
    Box::new(BuiltinChunks::new(BuiltinPlanner::with_builtin_tokenizer().unwrap()))
}

/// Ticks until `until` says so (or the rollout stops), calling `each` with every event; panics after `limit`.
fn run(
    rollout: &mut Rollout,
    driver: &DriverHandle,
    limit: Duration,
    mut each: impl FnMut(&mut Rollout, &RolloutEvent),
    until: impl Fn(&Rollout) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !until(rollout) && rollout.phase() != Phase::Stopped {
        assert!(
            Instant::now() < deadline,
            "no progress: {:?}",
            rollout.chunks().iter().map(|c| c.decision).collect::<Vec<_>>()
        );
        let events = driver.drain_events();
        for event in rollout.tick(driver, &events) {
            each(rollout, &event);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn flange(robot: &Robot, joints: &[f64]) -> glam::DVec3 {
    fk(robot, joints).unwrap().position_m
}

#[test]
fn the_builtin_planner_runs_closed_loop_and_reaches_the_goal() {
    let (driver, _stop) = sim();
    let robot = panda();
    let start_joints = driver.latest_state().unwrap().positions;
    let config = RolloutConfig {
        mode: RolloutMode::Supervised,
        ask_after_steps: Some(2),
        ..RolloutConfig::new("move 10 cm left, then move 5 cm up")
    };
    let mut rollout = start(config, builtin());
    run(&mut rollout, &driver, Duration::from_secs(30), |_, _| {}, |_| false);
    assert_eq!(rollout.stop_reason(), Some(&StopReason::Done), "{:?}", rollout.stop_reason());
    let end = driver.wait_for_state(Duration::from_secs(2), |s| !s.moving).unwrap().positions;
    let moved = flange(&robot, &end) - flange(&robot, &start_joints);
    assert!((moved - glam::DVec3::new(0.0, 0.10, 0.05)).length() < 0.004, "moved {moved}");
    let chunks = rollout.chunks();
    assert!(chunks.len() >= 10, "{} chunks", chunks.len());
    assert!(
        chunks.iter().all(|c| matches!(c.decision, Decision::AutoApproved | Decision::Empty) && c.ok),
        "every chunk checked and run: {:?}",
        chunks.iter().map(|c| (c.decision, c.planned_steps, c.executed_steps, c.done)).collect::<Vec<_>>()
    );
    assert!(chunks[0].instruction_level.iter().any(|l| l.contains("left")), "{:?}", chunks[0].instruction_level);
    assert!(chunks.iter().all(|c| !c.tokens.is_empty()), "each chunk carries its action tokens");
    // Asked while the chunk before ran: the arm hardly waits between chunks.
    let summary = RolloutSummary::of(&rollout, end, 0.0);
    let gap = summary.idle_gap_ms.unwrap();
    // The simulated arm queues the next chunk and starts it on the tick the one before ends.
    assert!(gap.median < 1.0, "idle gap {gap:?}");
    assert_eq!(summary.stopped_reason, "done");
}

#[test]
fn a_gripper_only_instruction_runs_closed_loop_and_ends_with_the_gripper_closed() {
    // Closing the gripper is all hold: every planned pose is the same; the rollout ends once the gripper is closed.
    let (driver, _stop) = sim();
    let config = RolloutConfig {
        mode: RolloutMode::Supervised,
        ask_after_steps: Some(2),
        ..RolloutConfig::new("close the gripper")
    };
    let mut rollout = start(config, builtin());
    run(&mut rollout, &driver, Duration::from_secs(20), |_, _| {}, |_| false);
    assert_eq!(rollout.stop_reason(), Some(&StopReason::Done), "{:?}", rollout.stop_reason());
    assert!(rollout.chunks().len() < 40, "{} chunks", rollout.chunks().len());
    let end = driver.wait_for_state(Duration::from_secs(3), |s| s.gripper < 0.01).unwrap();
    assert!(end.gripper < 0.01, "the gripper closed: {}", end.gripper);
}

#[test]
fn step_mode_waits_for_approval_and_a_rejected_chunk_pauses_until_resumed() {
    let (driver, _stop) = sim();
    let start_joints = driver.latest_state().unwrap().positions;
    let mut rollout = start(RolloutConfig::new("move 10 cm left"), builtin());
    run(&mut rollout, &driver, Duration::from_secs(10), |_, _| {}, |r| r.pending().is_some());
    // Nothing moves while the chunk waits.
    std::thread::sleep(Duration::from_millis(200));
    let _ = rollout.tick(&driver, &driver.drain_events());
    assert_eq!(driver.latest_state().unwrap().positions, start_joints);
    assert!(rollout.reject().is_some());
    assert_eq!(rollout.phase(), Phase::Paused);
    assert_eq!(rollout.chunks()[0].decision, Decision::Rejected);
    rollout.resume().unwrap();
    run(&mut rollout, &driver, Duration::from_secs(10), |_, _| {}, |r| r.pending().is_some());
    assert!(rollout.approve());
    run(&mut rollout, &driver, Duration::from_secs(10), |_, _| {}, |r| r.chunks()[1].executed_steps > 0);
    assert_eq!(rollout.chunks()[1].executed_steps, 5);
    assert_ne!(driver.latest_state().unwrap().positions, start_joints, "the approved chunk moved the arm");
    rollout.stop(StopReason::OperatorStop).unwrap();
}

/// A policy that sends absolute joint targets a long way from where the arm is.
struct Jumpy(PolicyProfile);

impl ChunkPolicy for Jumpy {
    fn describe(&self) -> String {
        "jumpy".into()
    }

    fn profile(&self) -> &PolicyProfile {
        &self.0
    }

    fn infer(&mut self, observation: &Observation) -> Result<Chunk, PolicyError> {
        let mut target = observation.joints.clone();
        target[0] += 0.8;
        target.push(1.0);
        Ok(Chunk { actions: vec![target; 4], ..Chunk::default() })
    }
}

fn absolute_joints_profile() -> PolicyProfile {
    let mut profile = PolicyProfile::builtin("droid").unwrap();
    profile.name = "absolute".into();
    profile.action.space = kinedesk_policy::rollout::profile::ActionSpace::AbsoluteJoints;
    profile.action.chunk_len = None;
    profile.action.execute_steps = 4;
    profile
}

#[test]
fn a_chunk_that_fails_a_check_stops_the_rollout_before_anything_moves() {
    let (driver, _stop) = sim();
    let start_joints = driver.latest_state().unwrap().positions;
    let config = RolloutConfig { mode: RolloutMode::Supervised, ..RolloutConfig::new("wave") };
    let mut rollout = start(config, Box::new(Jumpy(absolute_joints_profile())));
    run(&mut rollout, &driver, Duration::from_secs(10), |_, _| {}, |_| false);
    let Some(StopReason::CheckFailed { violation }) = rollout.stop_reason() else {
        panic!("{:?}", rollout.stop_reason())
    };
    assert!(violation.contains("exceeds the limit"), "{violation}");
    assert_eq!(rollout.chunks()[0].decision, Decision::Refused);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(driver.latest_state().unwrap().positions, start_joints, "nothing of the chunk moved");
}

#[test]
fn a_chunk_outside_the_envelope_pauses_a_supervised_rollout_and_takeover_is_recorded() {
    let (driver, _stop) = sim();
    let mut config = RolloutConfig { mode: RolloutMode::Supervised, ..RolloutConfig::new("move 10 cm left") };
    config.envelope.max_joint_speed_rad_s = 0.01;
    let mut rollout = start(config, builtin());
    let mut paused = None;
    run(
        &mut rollout,
        &driver,
        Duration::from_secs(10),
        |_, event| {
            if let RolloutEvent::Paused(why) = event {
                paused = Some(why.clone());
            }
        },
        |r| r.phase() == Phase::Paused,
    );
    assert!(paused.unwrap().contains("leaves the envelope"));
    assert_eq!(rollout.pending().unwrap().decision, Decision::Pending);
    // The operator takes over: a teleop nudge of joint 1, recorded as an intervention.
    let mut target = driver.latest_state().unwrap().positions;
    target[0] += 0.02;
    let mut intervened = false;
    for _ in 0..40 {
        driver.send(DriverCommand::StreamTarget(target.clone())).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        for event in rollout.tick(&driver, &driver.drain_events()) {
            intervened |= event == RolloutEvent::Intervention;
        }
    }
    assert!(intervened);
    assert_eq!(rollout.interventions(), 1);
    // Resume: the chunk from before the takeover is not used; the next comes from the new state.
    rollout.resume().unwrap();
    assert_eq!(rollout.chunks()[0].decision, Decision::Discarded);
    rollout.stop(StopReason::OperatorStop);
}

#[test]
fn stop_ends_a_running_rollout_at_once() {
    let (driver, stop) = sim();
    let config = RolloutConfig { mode: RolloutMode::Supervised, ..RolloutConfig::new("move 20 cm left") };
    let mut rollout = start(config, builtin());
    run(&mut rollout, &driver, Duration::from_secs(10), |_, _| {}, |r| r.executing().is_some());
    let stopped_at = Instant::now();
    stop.trigger(kinedesk_core::StopReason::Key);
    run(&mut rollout, &driver, Duration::from_secs(5), |_, _| {}, |_| false);
    assert_eq!(rollout.stop_reason(), Some(&StopReason::OperatorStop));
    let still = driver.wait_for_state(Duration::from_secs(1), |s| !s.moving).unwrap();
    assert!(stopped_at.elapsed() < Duration::from_millis(500));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(driver.latest_state().unwrap().positions, still.positions, "held where it stopped");
}

/// A policy that fails, or takes too long.
struct Broken {
    profile: PolicyProfile,
    sleep: Duration,
}

impl ChunkPolicy for Broken {
    fn describe(&self) -> String {
        "broken".into()
    }

    fn profile(&self) -> &PolicyProfile {
        &self.profile
    }

    fn infer(&mut self, _: &Observation) -> Result<Chunk, PolicyError> {
        std::thread::sleep(self.sleep);
        Err(PolicyError::Server("Traceback: boom".into()))
    }
}

#[test]
fn server_errors_and_timeouts_stop_the_rollout_with_the_arm_held() {
    let (driver, _stop) = sim();
    let profile = PolicyProfile::builtin("kinevla").unwrap();
    let mut rollout =
        start(RolloutConfig::new("x"), Box::new(Broken { profile: profile.clone(), sleep: Duration::ZERO }));
    run(&mut rollout, &driver, Duration::from_secs(5), |_, _| {}, |_| false);
    assert!(matches!(rollout.stop_reason(), Some(StopReason::ServerError { message }) if message.contains("boom")));
    let config = RolloutConfig { inference_timeout: Duration::from_millis(100), ..RolloutConfig::new("x") };
    let mut rollout = start(config, Box::new(Broken { profile, sleep: Duration::from_secs(2) }));
    run(&mut rollout, &driver, Duration::from_secs(5), |_, _| {}, |_| false);
    assert!(matches!(rollout.stop_reason(), Some(StopReason::Timeout { .. })), "{:?}", rollout.stop_reason());
}

// --- Against a DROID-style server on the real openpi-client package ---------------------------------------------

struct OpenpiServer {
    child: Child,
    url: String,
}

impl Drop for OpenpiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openpi_server(mode: &str) -> Option<OpenpiServer> {
    let imports = "openpi_client.msgpack_numpy, websockets";
    let what = "the rollout against an openpi server";
    let python = super::peer_python("KINEDESK_OPENPI_PYTHON", "KINEDESK_REQUIRE_OPENPI", imports, what)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openpi_droid_server.py");
    let mut child = Command::new(python).arg(script).arg(mode).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("server said {line:?}"));
    Some(OpenpiServer { child, url: format!("ws://127.0.0.1:{port}") })
}

fn droid_policy(server: &OpenpiServer) -> Box<dyn ChunkPolicy> {
    let client = RemotePolicy::new(RemoteConfig::new(&server.url), None);
    Box::new(RemoteChunks::new(client, PolicyProfile::builtin("droid").unwrap(), None))
}

#[test]
fn a_droid_server_on_openpi_client_drives_the_arm_to_its_target_only_with_the_state_fed_back() {
    let Some(server) = openpi_server("track") else { return };
    let (driver, _stop) = sim();
    let start_joints = driver.latest_state().unwrap().positions;
    let config = RolloutConfig {
        mode: RolloutMode::Supervised,
        max_chunks: Some(12),
        ask_after_steps: Some(4),
        ..RolloutConfig::new("reach the target")
    };
    let mut rollout = start(config, droid_policy(&server));
    run(&mut rollout, &driver, Duration::from_secs(60), |_, _| {}, |_| false);
    assert_eq!(rollout.stop_reason(), Some(&StopReason::MaxChunks), "{:?}", rollout.stop_reason());
    let end = driver.wait_for_state(Duration::from_secs(2), |s| !s.moving).unwrap();
    let offsets = [0.30, -0.15, 0.10, 0.20, 0.0, 0.10, 0.0];
    for (j, offset) in offsets.iter().enumerate() {
        let error = end.positions[j] - (start_joints[j] + offset);
        // Open loop (the state never fed back) the first chunk's velocities would run on and overshoot by far more.
        assert!(error.abs() < 0.01, "joint {j}: {error:+.4} rad from the target ({:?})", end.positions);
    }
    assert!(end.gripper < 0.5, "the server closed the gripper at the target (closed fraction 1)");
    // The first chunk runs 8 of its 10 steps. Each later one was asked 4 steps into the one before, so the actions
    // that fall in the rest of it are dropped: of the 10, 8 run if at least 8 are left.
    let executed: Vec<usize> = rollout.chunks().iter().map(|c| c.executed_steps).collect();
    assert_eq!(executed[0], 8, "{executed:?}");
    for k in 1..executed.len() {
        assert_eq!(executed[k], 8.min(10 - (executed[k - 1] - 4)), "{executed:?}");
    }
    // No cameras here: the observation says so (the images were sent black).
    assert!(rollout.chunks()[0].notes.iter().any(|n| n.contains("sent black")), "{:?}", rollout.chunks()[0].notes);
}

#[test]
fn an_openpi_server_chunk_breaking_the_velocity_limit_never_moves_and_its_errors_are_shown() {
    let Some(server) = openpi_server("fast") else { return };
    let (driver, _stop) = sim();
    let start_joints = driver.latest_state().unwrap().positions;
    let mut rollout =
        start(RolloutConfig { mode: RolloutMode::Supervised, ..RolloutConfig::new("x") }, droid_policy(&server));
    run(&mut rollout, &driver, Duration::from_secs(20), |_, _| {}, |_| false);
    assert!(matches!(rollout.stop_reason(), Some(StopReason::CheckFailed { .. })), "{:?}", rollout.stop_reason());
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(driver.latest_state().unwrap().positions, start_joints);

    let Some(server) = openpi_server("error") else { return };
    let mut rollout = start(RolloutConfig::new("x"), droid_policy(&server));
    run(&mut rollout, &driver, Duration::from_secs(20), |_, _| {}, |_| false);
    let Some(StopReason::ServerError { message }) = rollout.stop_reason() else {
        panic!("{:?}", rollout.stop_reason())
    };
    assert!(message.contains("failed on purpose"), "{message}");
}
