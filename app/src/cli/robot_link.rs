//! `kinedesk robot-sim` and `kinedesk send`: the robot link from the command line.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use kinedesk_models::StopSignal;
use kinedesk_models::driver::{
    DriverCommand, DriverEvent, DriverHandle, ExecutionPlan, START_TOLERANCE_RAD, max_joint_offset,
};
use kinedesk_models::realman::client::{RealmanConfig, address_from_url, connect_realman};
use kinedesk_models::realman::simulator::{Faults, RealmanSimulator};
use kinedesk_models::robot::{Robot, SafetyLimits, check_trajectory};
use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};
use kinedesk_ros2::link::{Ros2LinkConfig, connect_ros2};

use crate::gui::arm_state::load_trajectory;

/// Runs a simulated Realman controller until the process is stopped (or for `seconds`).
pub fn run_robot_sim(protocol: &str, listen: &str, robot: &Robot, seconds: Option<f64>) -> anyhow::Result<()> {
    if protocol != "realman" {
        bail!("unknown protocol {protocol:?}; supported: realman");
    }
    let simulator = RealmanSimulator::start(listen, robot.clone(), Faults::default())
        .with_context(|| format!("cannot listen on {listen}"))?;
    // A closed stdout (the reader went away) must not take the controller down: write errors are ignored.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "simulated Realman controller ({}) listening on {}", robot.name, simulator.address());
    let _ =
        writeln!(out, "connect with: kinedesk send --robot realman://{} --trajectory FILE.json", simulator.address());
    let _ = out.flush();
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if seconds.is_some_and(|limit| started.elapsed().as_secs_f64() >= limit) {
            let stats = simulator.stats();
            let _ = writeln!(
                out,
                "served {} connection(s), {} command(s), {} stream frame(s), {} ignored; {} client(s) turned away, {} \
                 disconnected for silence",
                stats.connections,
                stats.commands,
                stats.canfd_frames,
                stats.canfd_ignored,
                stats.turned_away,
                stats.idle_disconnects
            );
            simulator.shutdown();
            return Ok(());
        }
    }
}

/// Connects to `target` (`sim`, `realman://HOST:PORT` or `ros2://[?state=TOPIC&command=TOPIC]`) for `robot`.
pub fn connect(target: &str, robot: Robot, stop: StopSignal) -> anyhow::Result<DriverHandle> {
    if target == "sim" {
        return Ok(spawn_sim_arm(robot, stop, SimArmConfig::default(), None)?);
    }
    if target.starts_with("ros2:") {
        let config = Ros2LinkConfig::from_url(target).map_err(anyhow::Error::msg)?;
        return Ok(connect_ros2(robot, config, stop, None)?);
    }
    let address = address_from_url(target).map_err(anyhow::Error::msg)?;
    Ok(connect_realman(robot, RealmanConfig::new(address), stop, None)?)
}

/// Connects to `target` as [`connect`] does and waits for the connection (10 s) and the arm's first state (5 s);
/// a refused or silent connection is an error that says which.
pub fn connect_and_wait(
    target: &str,
    robot: Robot,
    stop: StopSignal,
) -> anyhow::Result<(DriverHandle, kinedesk_models::driver::JointState)> {
    let handle = connect(target, robot, stop)?;
    // The first lifecycle event says whether the connection came up.
    match handle.recv_event_timeout(Duration::from_secs(10)) {
        Some(DriverEvent::Connected { .. }) => {}
        Some(DriverEvent::Disconnected { reason }) => bail!("cannot connect: {reason}"),
        other => bail!("no connection to {} within 10 s ({other:?})", handle.name),
    }
    let state = handle.wait_for_state(Duration::from_secs(5), |_| true).context("the robot sent no state")?;
    Ok((handle, state))
}

/// Checks a trajectory file, connects, executes it, and reports progress on stderr. Exits non-zero on any failure.
pub fn run_send(target: &str, trajectory_path: &Path, robot: Robot, move_to_start: bool) -> anyhow::Result<()> {
    let trajectory = load_trajectory(trajectory_path).map_err(anyhow::Error::msg)?;
    let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
    if !report.ok {
        for violation in report.violations.iter().take(10) {
            eprintln!("  {violation}");
        }
        bail!("{} fails {} safety check(s); nothing was sent", trajectory_path.display(), report.violations.len());
    }
    let stop = StopSignal::new();
    let dof = robot.dof();
    let (handle, state) = connect_and_wait(target, robot, stop)?;
    eprintln!("connected to {} ({dof} joints)", handle.name);
    let deadline = Instant::now() + Duration::from_secs_f64(trajectory.dt_s * trajectory.joints.len() as f64 + 30.0);
    // Start only from where the arm is: the driver refuses otherwise, and says so.
    let start = &trajectory.joints[0];
    let offset = max_joint_offset(start, &state.positions);
    // Without --move-to-start a trajectory that starts elsewhere goes to the driver anyway: its gate refuses it,
    // and says why.
    if offset > START_TOLERANCE_RAD && move_to_start {
        eprintln!("arm is {:.2}° from the trajectory's start; moving there at 25 % speed", offset.to_degrees());
        handle.send(DriverCommand::MoveTo { joints: start.clone(), speed_fraction: 0.25 })?;
        wait_for(&handle, deadline, |_| {}, |event| matches!(event, DriverEvent::MoveFinished))?;
        eprintln!("at the start");
    }
    eprintln!("sending {} steps", trajectory.joints.len());
    handle.send(DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(trajectory) })?;
    // Progress comes from the driver's state, the end from its lifecycle events.
    let progress = |handle: &DriverHandle| {
        if let Some(progress) = handle.latest_state().and_then(|state| state.progress) {
            eprint!("\rprogress {:>3} %", 100 * (progress.step + 1) / progress.steps.max(1));
        }
    };
    wait_for(&handle, deadline, progress, |event| matches!(event, DriverEvent::PlanFinished { id: 1, .. }))?;
    eprintln!("\rprogress 100 %\ndone");
    let _ = handle.send(DriverCommand::Disconnect);
    Ok(())
}

/// Waits for a lifecycle event `want` accepts; any refusal, stop, failure or disconnection is an error.
fn wait_for(
    handle: &DriverHandle,
    deadline: Instant,
    on_tick: impl Fn(&DriverHandle),
    want: impl Fn(&DriverEvent) -> bool,
) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        on_tick(handle);
        let Some(event) = handle.recv_event_timeout(Duration::from_millis(100)) else { continue };
        if want(&event) {
            return Ok(());
        }
        match event {
            DriverEvent::Refused { reason, .. } | DriverEvent::Halted { reason } => bail!("{reason}"),
            DriverEvent::PlanFailed { reason, at, .. } => {
                bail!("failed at step {} of {}: {reason}", at.step + 1, at.steps)
            }
            DriverEvent::Stopped { .. } => bail!("the arm was stopped"),
            DriverEvent::Disconnected { reason } => bail!("disconnected: {reason}"),
            _ => {}
        }
    }
    bail!("timed out waiting for {} to finish", handle.name)
}
