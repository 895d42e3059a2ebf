//! The Realman robot driver: a [`kinedesk_core::driver`] worker that speaks the JSON-over-TCP protocol.
//!
//! It connects inside its own thread, polls the state, streams trajectories as `movej_canfd` frames every 10 ms
//! (checking each frame against the controller's 10°-per-frame and 180°/s rules before writing), sends
//! `set_arm_stop` the moment the stop signal changes, and stops the arm and reports clearly when the controller
//! answers with an error code, sends garbage, goes silent, or drops the connection.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::protocol::{
    CANFD_MAX_SPEED_DEG_S, CANFD_MAX_STEP_DEG, CANFD_PERIOD_S, LineBuffer, Reply, Request, describe_error, parse_reply,
};
use kinedesk_core::channel::Waker;
use kinedesk_core::clock::Timestamp;
use kinedesk_core::driver::{
    CommandSource, Commanded, DriverCommand, DriverContext, DriverEvent, DriverHandle, GRIPPER_SPEED_PER_S, JointState,
    PlanItem, PlanRun, SafetyGate, TELEOP_VELOCITY_SCALE, TELEOP_WATCHDOG, spawn_driver,
};
use kinedesk_core::robot::{Robot, Trajectory};
use kinedesk_core::stop::StopSignal;

/// Connection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RealmanConfig {
    /// `host:port` of the controller (factory default 192.168.1.18:8080).
    pub address: String,
    pub connect_timeout: Duration,
    /// How often the state is polled while not streaming.
    pub state_period: Duration,
    /// The watchdog: no state for this long stops the arm and drops the connection.
    pub stale_after: Duration,
}

impl RealmanConfig {
    #[must_use]
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            connect_timeout: Duration::from_secs(2),
            state_period: Duration::from_millis(20),
            stale_after: Duration::from_millis(500),
        }
    }
}

/// Parses `realman://host:port` (or a bare `host:port`).
pub fn address_from_url(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("realman://").unwrap_or(url);
    let rest = rest.trim_end_matches('/');
    if rest.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok()) {
        Ok(rest.to_owned())
    } else {
        Err(format!("{url:?} is not realman://HOST:PORT"))
    }
}

/// Starts the driver; the connection is made on its thread (`kinedesk-realman`), and the first event says how it went.
pub fn connect_realman(
    robot: Robot,
    config: RealmanConfig,
    stop: StopSignal,
    waker: Option<Waker>,
) -> std::io::Result<DriverHandle> {
    let name = format!("realman://{}", config.address);
    let thread_stop = stop.clone();
    spawn_driver("kinedesk-realman", name, stop, waker, move |mut ctx| {
        let mut session = match Session::open(robot, &config, thread_stop) {
            Ok(session) => session,
            Err(reason) => {
                ctx.report(DriverEvent::Disconnected { reason });
                return;
            }
        };
        let reason = session.run(&mut ctx, &config);
        ctx.report(DriverEvent::Disconnected { reason });
    })
}

struct Streaming {
    frames: Vec<Vec<f64>>,
    next: usize,
    /// Frames per step of the original trajectory (for progress).
    frames_per_step: f64,
}

/// The item of a plan being carried out.
enum ItemState {
    /// Not begun yet.
    Pending,
    Streaming(Streaming),
    /// The gripper was told to move; the plan goes on at `until`.
    Gripper {
        until: Instant,
    },
}

struct Session {
    stream: TcpStream,
    lines: LineBuffer,
    gate: SafetyGate,
    stop: StopSignal,
    seen_stop: u64,
    q: Vec<f64>,
    last_sent: Option<Vec<f64>>,
    last_state_at: Instant,
    last_poll: Instant,
    plan: Option<(PlanRun, ItemState)>,
    /// Teleop target and when it arrived.
    teleop: Option<(Vec<f64>, Instant)>,
    /// A `movej` is under way; the controller pushes `current_trajectory_state` when it ends.
    moving_to: bool,
    gripper: f64,
    /// Unusable replies in a row: the first is reported, the tenth ends the connection.
    bad_replies: usize,
}

/// Unusable replies in a row after which the controller is considered broken.
const MAX_BAD_REPLIES: usize = 10;

type Events<'a> = &'a mut DriverContext;

impl Session {
    fn open(robot: Robot, config: &RealmanConfig, stop: StopSignal) -> Result<Self, String> {
        let address = config
            .address
            .to_socket_addrs()
            .map_err(|error| format!("cannot resolve {}: {error}", config.address))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", config.address))?;
        let stream = TcpStream::connect_timeout(&address, config.connect_timeout)
            .map_err(|error| format!("cannot connect to {}: {error}", config.address))?;
        stream.set_nodelay(true).map_err(|error| error.to_string())?;
        stream.set_read_timeout(Some(Duration::from_millis(1))).map_err(|error| error.to_string())?;
        let seen_stop = stop.generation();
        let dof = robot.dof();
        let mut session = Self {
            stream,
            lines: LineBuffer::default(),
            gate: SafetyGate::new(robot),
            stop,
            seen_stop,
            q: vec![0.0; dof],
            last_sent: None,
            last_state_at: Instant::now(),
            last_poll: Instant::now(),
            plan: None,
            teleop: None,
            moving_to: false,
            gripper: 1.0,
            bad_replies: 0,
        };
        // The first state tells us where the arm is; without it nothing can be checked.
        session.send(&Request::GetState)?;
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            for line in session.read_lines()? {
                if let Ok(Reply::State { joints, .. }) = parse_reply(&line) {
                    if joints.len() != dof {
                        return Err(format!(
                            "the controller reports {} joints; the robot model has {dof}",
                            joints.len()
                        ));
                    }
                    session.q = joints;
                    session.last_state_at = Instant::now();
                    return Ok(session);
                }
            }
        }
        Err(format!("{} did not answer get_current_arm_state within 1 s", config.address))
    }

    fn send(&mut self, request: &Request) -> Result<(), String> {
        self.stream.write_all(request.to_line().as_bytes()).map_err(|error| format!("write failed: {error}"))
    }

    /// Reads what has arrived (waiting at most ~1 ms).
    fn read_lines(&mut self) -> Result<Vec<String>, String> {
        let mut buffer = [0_u8; 8192];
        match self.stream.read(&mut buffer) {
            Ok(0) => Err("the controller closed the connection".to_owned()),
            Ok(n) => self.lines.push(&buffer[..n]),
            Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Ok(Vec::new())
            }
            Err(error) => Err(format!("connection lost: {error}")),
        }
    }

    fn state(&self) -> JointState {
        JointState {
            at: Timestamp::now(),
            positions: self.q.clone(),
            velocities: vec![0.0; self.q.len()],
            gripper: self.gripper,
            moving: self.plan.is_some() || self.moving_to,
            commanded: self.last_sent.clone().map(|joints| Commanded {
                joints,
                gripper: self.gripper,
                source: match &self.plan {
                    Some((run, _)) => CommandSource::Plan { id: run.id },
                    None => CommandSource::Teleop,
                },
            }),
            progress: self.plan.as_ref().map(|(run, _)| run.progress()),
        }
    }

    /// Stops the arm (best effort) and tells the operator why: a plan under way failed, or a command was refused.
    fn abort(&mut self, ctx: Events<'_>, reason: String) {
        let _ = self.send(&Request::Stop);
        match self.plan.take() {
            Some((run, _)) => ctx.report(DriverEvent::PlanFailed { id: run.id, at: run.progress(), reason }),
            None => ctx.report(DriverEvent::Refused { plan: None, reason }),
        }
    }

    /// Runs until the connection ends; returns why.
    fn run(&mut self, ctx: Events<'_>, config: &RealmanConfig) -> String {
        ctx.report(DriverEvent::Connected { robot: self.gate.robot.name.clone(), dof: self.q.len() });
        ctx.outputs.publish(self.state());
        let period = Duration::from_secs_f64(CANFD_PERIOD_S);
        let mut next_tick = Instant::now();
        loop {
            if ctx.should_stop() {
                let _ = self.send(&Request::Stop);
                return "disconnected by the operator".to_owned();
            }
            if let Err(reason) = self.tick(ctx, config) {
                // Best effort: the controller may already be gone.
                let _ = self.send(&Request::Stop);
                return reason;
            }
            next_tick += period;
            let now = Instant::now();
            if next_tick < now {
                next_tick = now;
            }
            let _ = self.stop.wait_for_stop_after(self.seen_stop, next_tick - now);
        }
    }

    fn tick(&mut self, ctx: Events<'_>, config: &RealmanConfig) -> Result<(), String> {
        let generation = self.stop.generation();
        if generation != self.seen_stop {
            self.seen_stop = generation;
            let plan = self.plan.take().map(|(run, _)| run.progress());
            self.teleop = None;
            self.moving_to = false;
            self.send(&Request::Stop)?;
            ctx.report(DriverEvent::Stopped { generation, plan });
        }

        let mut commands = Vec::new();
        ctx.commands.drain_within(Duration::from_millis(1), 16, |command| commands.push(command));
        for command in commands {
            match command {
                DriverCommand::ExecutePlan { id, plan } => {
                    let busy = self.plan.is_some() || self.moving_to;
                    match if busy {
                        Err("refused: the arm is busy".to_owned())
                    } else {
                        self.gate.check_plan(&plan, &self.q)
                    } {
                        Ok(()) => {
                            self.teleop = None;
                            let (steps, items) = (plan.steps(), plan.items.len());
                            self.plan = Some((PlanRun::new(id, plan), ItemState::Pending));
                            ctx.report(DriverEvent::PlanStarted { id, steps, items });
                        }
                        Err(reason) => ctx.report(DriverEvent::Refused { plan: Some(id), reason }),
                    }
                }
                DriverCommand::MoveTo { joints, speed_fraction } => match self.gate.check_target(&joints) {
                    Ok(()) if self.plan.is_none() => {
                        self.teleop = None;
                        let speed_percent = (speed_fraction.clamp(0.01, 1.0) * 100.0).round() as u8;
                        self.send(&Request::MoveJ { joints, speed_percent })?;
                        self.moving_to = true;
                    }
                    Ok(()) => {
                        ctx.report(DriverEvent::Refused { plan: None, reason: "refused: a plan is executing".into() });
                    }
                    Err(reason) => ctx.report(DriverEvent::Refused { plan: None, reason }),
                },
                DriverCommand::StreamTarget(target) => match self.gate.check_target(&target) {
                    Ok(()) if self.plan.is_none() => self.teleop = Some((target, Instant::now())),
                    Ok(()) => {
                        let reason = "refused: a plan is executing; teleop waits until it ends".to_owned();
                        ctx.report(DriverEvent::Refused { plan: None, reason });
                    }
                    Err(reason) => {
                        self.teleop = None;
                        ctx.report(DriverEvent::Refused { plan: None, reason });
                    }
                },
                DriverCommand::Gripper(opening) if opening.is_finite() && self.plan.is_none() => {
                    self.gripper = opening.clamp(0.0, 1.0);
                    self.send(&Request::GripperPosition { opening: self.gripper })?;
                }
                DriverCommand::Gripper(opening) => {
                    let reason = if opening.is_finite() {
                        "refused: a plan is executing; it moves the gripper itself".to_owned()
                    } else {
                        format!("gripper opening {opening} is not a number")
                    };
                    ctx.report(DriverEvent::Refused { plan: None, reason });
                }
                DriverCommand::Disconnect => return Err("disconnected by the operator".to_owned()),
            }
        }

        // While a plan streams, each frame's reply carries the state; otherwise (teleop aside) the state is polled.
        let streamed = self.plan.is_some() && self.plan_tick(ctx)?;
        if streamed {
            // The frame's reply carries the state.
        } else if let Some((target, received)) = &self.teleop {
            if received.elapsed() > TELEOP_WATCHDOG {
                let reference = self.last_sent.as_ref().unwrap_or(&self.q);
                let arrived = target.iter().zip(reference).all(|(t, q)| (t - q).abs() < 1e-9);
                self.teleop = None;
                if !arrived {
                    self.send(&Request::Stop)?;
                    let reason = format!("teleop targets stopped for {} ms: arm halted", TELEOP_WATCHDOG.as_millis());
                    ctx.report(DriverEvent::Halted { reason });
                }
            } else {
                let reference = self.last_sent.as_ref().unwrap_or(&self.q);
                let frame = self.gate.step_toward(reference, target, CANFD_PERIOD_S, TELEOP_VELOCITY_SCALE);
                self.send(&Request::MoveJCanfd { joints: frame.clone() })?;
                self.last_sent = Some(frame);
            }
        } else if self.last_poll.elapsed() >= config.state_period {
            self.last_poll = Instant::now();
            self.last_sent = None;
            self.send(&Request::GetState)?;
        }

        for line in self.read_lines()? {
            let parsed = parse_reply(&line);
            if parsed.is_ok() {
                self.bad_replies = 0;
            }
            match parsed {
                Ok(Reply::State { joints, err }) => {
                    if joints.len() == self.q.len() {
                        self.q = joints;
                        self.last_state_at = Instant::now();
                        ctx.outputs.publish(self.state());
                    }
                    if err != 0 {
                        self.abort(
                            ctx,
                            format!("the controller reported {}; the arm was stopped", describe_error(err)),
                        );
                    }
                }
                Ok(Reply::Ack { command, ok: false, err }) => {
                    self.abort(ctx, format!("the controller refused {command}: {}", describe_error(err)));
                }
                Ok(Reply::TrajectoryDone { ok }) if self.moving_to => {
                    self.moving_to = false;
                    if ok {
                        ctx.report(DriverEvent::MoveFinished);
                    } else {
                        self.abort(ctx, "the controller reports the move failed; the arm was stopped".to_owned());
                    }
                }
                Ok(Reply::Ack { .. } | Reply::TrajectoryDone { .. }) => {}
                Err(error) => {
                    self.bad_replies += 1;
                    if self.bad_replies == 1 {
                        self.abort(ctx, format!("bad reply from the controller ({error}); the arm was stopped"));
                    } else if self.bad_replies >= MAX_BAD_REPLIES {
                        return Err(format!(
                            "{MAX_BAD_REPLIES} bad replies in a row from the controller (last: {error})"
                        ));
                    }
                }
            }
        }
        if self.last_state_at.elapsed() > config.stale_after {
            return Err(format!(
                "no state from the controller for {} ms (watchdog); the arm was told to stop",
                config.stale_after.as_millis()
            ));
        }
        Ok(())
    }
}

impl Session {
    /// One 10 ms tick of a plan: stream the next frame of the current joint segment, or wait for the gripper.
    /// Returns whether a frame was streamed.
    fn plan_tick(&mut self, ctx: Events<'_>) -> Result<bool, String> {
        let Some((run, item)) = &mut self.plan else { return Ok(false) };
        let Some(current) = run.current().cloned() else {
            let id = run.id;
            self.plan = None;
            self.last_sent = None;
            ctx.report(DriverEvent::PlanFinished { id });
            return Ok(false);
        };
        match (current, &mut *item) {
            (PlanItem::Gripper { opening }, ItemState::Pending) => {
                let travel_s = (opening - self.gripper).abs() / GRIPPER_SPEED_PER_S;
                *item = ItemState::Gripper { until: Instant::now() + Duration::from_secs_f64(travel_s) };
                self.gripper = opening;
                self.send(&Request::GripperPosition { opening })?;
            }
            (PlanItem::Gripper { .. }, ItemState::Gripper { until }) => {
                if Instant::now() >= *until {
                    run.advance();
                    *item = ItemState::Pending;
                }
            }
            (PlanItem::Joints { trajectory, .. }, ItemState::Pending) => {
                *item = ItemState::Streaming(resample(&trajectory));
            }
            (PlanItem::Joints { .. }, ItemState::Streaming(streaming)) => {
                let frame = streaming.frames[streaming.next].clone();
                streaming.next += 1;
                let done = streaming.next >= streaming.frames.len();
                let step = (streaming.next as f64 / streaming.frames_per_step).floor() as usize;
                // The controller's own rules, checked here so a frame is never written that it would ignore.
                let reference = self.last_sent.as_ref().unwrap_or(&self.q);
                if let Some((joint, jump)) = frame
                    .iter()
                    .zip(reference)
                    .map(|(a, b)| (a - b).abs().to_degrees())
                    .enumerate()
                    .find(|(_, d)| *d > CANFD_MAX_STEP_DEG.min(CANFD_MAX_SPEED_DEG_S * CANFD_PERIOD_S) + 1e-9)
                {
                    self.abort(
                        ctx,
                        format!("stopped: frame would move joint {} by {jump:.2}° in {CANFD_PERIOD_S} s", joint + 1),
                    );
                    return Ok(false);
                }
                run.reached(step);
                if done {
                    run.advance();
                    *item = ItemState::Pending;
                }
                self.send(&Request::MoveJCanfd { joints: frame.clone() })?;
                self.last_sent = Some(frame);
                return Ok(true);
            }
            (_, _) => *item = ItemState::Pending,
        }
        Ok(false)
    }
}

/// Resamples a trajectory to the controller's 10 ms stream period (linear interpolation).
fn resample(trajectory: &Trajectory) -> Streaming {
    let steps = trajectory.joints.len();
    let duration = trajectory.dt_s * (steps.saturating_sub(1)) as f64;
    let count = ((duration / CANFD_PERIOD_S).round() as usize).max(1);
    let frames = (1..=count)
        .map(|k| {
            let position = (k as f64 * CANFD_PERIOD_S / trajectory.dt_s).min((steps - 1) as f64);
            let index = (position.floor() as usize).min(steps.saturating_sub(2));
            let s = position - index as f64;
            let (a, b) = (&trajectory.joints[index], &trajectory.joints[(index + 1).min(steps - 1)]);
            a.iter().zip(b).map(|(x, y)| x + (y - x) * s).collect()
        })
        .collect();
    Streaming { frames, next: 0, frames_per_step: trajectory.dt_s / CANFD_PERIOD_S }
}

#[cfg(test)]
mod tests {
    use super::super::simulator::{Faults, RealmanSimulator};
    use super::*;
    use kinedesk_core::robot::rm75;
    use kinedesk_core::stop::StopReason;

    use crate::test_support::{next_event as until, wait_state};
    use kinedesk_core::driver::ExecutionPlan;

    fn sweep(robot: &Robot, seconds: f64) -> Trajectory {
        crate::test_support::sweep(robot, seconds, 0.02)
    }

    fn execute(trajectory: Trajectory) -> DriverCommand {
        DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(trajectory) }
    }

    fn connect(simulator: &RealmanSimulator, stop: &StopSignal) -> DriverHandle {
        let config = RealmanConfig::new(simulator.address().to_string());
        let handle = connect_realman(rm75(), config, stop.clone(), None).unwrap();
        until(&handle, |e| matches!(e, DriverEvent::Connected { .. }));
        handle
    }

    #[test]
    fn urls_parse() {
        assert_eq!(address_from_url("realman://192.168.1.18:8080").unwrap(), "192.168.1.18:8080");
        assert_eq!(address_from_url("localhost:9000/").unwrap(), "localhost:9000");
        assert!(address_from_url("realman://nohost").is_err());
    }

    #[test]
    fn a_trajectory_streams_to_the_end_and_the_arm_follows() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        let trajectory = sweep(&robot, 0.5);
        let goal = trajectory.joints.last().unwrap()[0];
        handle.send(execute(trajectory)).unwrap();
        until(&handle, |e| matches!(e, DriverEvent::PlanFinished { id: 1 }));
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - goal).abs() < 1e-3, "{} vs {goal}", state.positions[0]);
        let stats = simulator.stats();
        assert_eq!(stats.canfd_ignored, 0);
        assert!(stats.canfd_arrivals.len() >= 45, "{} frames", stats.canfd_arrivals.len());
    }

    #[test]
    fn a_plan_with_a_gripper_move_streams_both_segments_and_closes_the_gripper() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        let trajectory = sweep(&robot, 0.6);
        let gripper: Vec<f64> = (0..trajectory.joints.len()).map(|k| if k >= 15 { 1.0 } else { -1.0 }).collect();
        let plan = ExecutionPlan::with_gripper_changes(&trajectory, &gripper);
        let goal = trajectory.joints.last().unwrap()[0];
        handle.send(DriverCommand::ExecutePlan { id: 4, plan }).unwrap();
        until(&handle, |e| matches!(e, DriverEvent::PlanFinished { id: 4 }));
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - goal).abs() < 1e-3, "{} vs {goal}", state.positions[0]);
        assert!(state.gripper < 1e-9, "the gripper was closed");
        assert_eq!(simulator.stats().canfd_ignored, 0);
    }

    #[test]
    fn stop_goes_to_the_controller_at_once() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let stop = StopSignal::new();
        let handle = connect(&simulator, &stop);
        handle.send(execute(sweep(&robot, 3.0))).unwrap();
        wait_state(&handle, |s| s.progress.is_some_and(|p| p.step >= 3));
        stop.trigger(StopReason::Key);
        until(&handle, |e| matches!(e, DriverEvent::Stopped { .. }));
        std::thread::sleep(Duration::from_millis(50));
        assert!(simulator.stats().stops >= 1);
        let frames = simulator.stats().canfd_arrivals.len();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(simulator.stats().canfd_arrivals.len(), frames, "no frames after the stop");
    }

    #[test]
    fn a_dropped_connection_mid_trajectory_is_reported_not_panicked() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        simulator
            .set_faults(Faults { drop_after_commands: Some(simulator.stats().commands + 20), ..Faults::default() });
        handle.send(execute(sweep(&robot, 3.0))).unwrap();
        let DriverEvent::Disconnected { reason } = until(&handle, |e| matches!(e, DriverEvent::Disconnected { .. }))
        else {
            unreachable!()
        };
        assert!(
            reason.contains("closed the connection")
                || reason.contains("connection lost")
                || reason.contains("write failed"),
            "{reason}"
        );
    }

    #[test]
    fn garbage_and_error_codes_stop_the_arm_with_a_clear_message() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        simulator.set_faults(Faults { error_on: Some(("movej_canfd".into(), 0x1003)), ..Faults::default() });
        handle.send(execute(sweep(&robot, 1.0))).unwrap();
        let DriverEvent::PlanFailed { id: 1, reason, .. } =
            until(&handle, |e| matches!(e, DriverEvent::PlanFailed { .. }))
        else {
            unreachable!()
        };
        assert!(reason.contains("0x1003 (singularity)"), "{reason}");
        // The stop that went with the refusal reaches the controller.
        let deadline = Instant::now() + Duration::from_secs(5);
        while simulator.stats().stops == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(simulator.stats().stops >= 1);

        simulator.set_faults(Faults { garbage_after_commands: Some(0), ..Faults::default() });
        let DriverEvent::Refused { reason, .. } = until(&handle, |e| matches!(e, DriverEvent::Refused { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("bad reply"), "{reason}");
        // It keeps answering garbage: the driver gives up with one clear message instead of a flood.
        let mut refusals = 0;
        let DriverEvent::Disconnected { reason } = until(&handle, |e| {
            refusals += usize::from(matches!(e, DriverEvent::Refused { .. }));
            matches!(e, DriverEvent::Disconnected { .. })
        }) else {
            unreachable!()
        };
        assert!(reason.contains("bad replies in a row"), "{reason}");
        assert_eq!(refusals, 0, "no further refusals after the first");
    }

    #[test]
    fn a_silent_controller_trips_the_watchdog() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        simulator.set_faults(Faults { reply_delay: Duration::from_secs(2), ..Faults::default() });
        let DriverEvent::Disconnected { reason } = until(&handle, |e| matches!(e, DriverEvent::Disconnected { .. }))
        else {
            unreachable!()
        };
        assert!(reason.contains("watchdog"), "{reason}");
    }

    #[test]
    fn teleop_targets_stream_to_the_controller_and_halt_when_they_stop() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        let mut target = robot.rest_pose.clone();
        target[0] += 0.6;
        // Keep the target fresh for 0.3 s, then stop sending: the watchdog halts the arm short of it.
        for _ in 0..15 {
            handle.send(DriverCommand::StreamTarget(target.clone())).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let DriverEvent::Halted { reason } = until(&handle, |e| matches!(e, DriverEvent::Halted { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("teleop targets stopped"), "{reason}");
        let state = wait_state(&handle, |_| true);
        assert!(state.positions[0] > robot.rest_pose[0] + 0.05, "it moved toward the target");
        assert!(state.positions[0] < target[0] - 0.1, "and halted short of it");
        assert_eq!(simulator.stats().canfd_ignored, 0, "every frame kept the controller's rules");
    }

    #[test]
    fn move_to_uses_movej_and_finishes_when_the_controller_says_so() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let handle = connect(&simulator, &StopSignal::new());
        let mut goal = robot.rest_pose.clone();
        goal[2] += 0.2;
        handle.send(DriverCommand::MoveTo { joints: goal.clone(), speed_fraction: 1.0 }).unwrap();
        until(&handle, |e| matches!(e, DriverEvent::MoveFinished));
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[2] - goal[2]).abs() < 1e-4);
        assert_eq!(simulator.stats().canfd_arrivals.len(), 0, "a large move is a movej, not a stream");
    }

    #[test]
    fn nothing_listening_is_a_clear_connection_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let handle = connect_realman(rm75(), RealmanConfig::new(address.clone()), StopSignal::new(), None).unwrap();
        let DriverEvent::Disconnected { reason } = until(&handle, |e| matches!(e, DriverEvent::Disconnected { .. }))
        else {
            unreachable!()
        };
        assert!(reason.contains(&format!("cannot connect to {address}")), "{reason}");
    }
}
