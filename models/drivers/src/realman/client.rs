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
    /// The `movej` has ended; its end is reported once a fresh state has arrived, so the next command is checked
    /// against where the arm really is (the polled state may predate the end of the move).
    move_settling: bool,
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
            move_settling: false,
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
            moving: self.plan.is_some() || self.moving_to || self.move_settling,
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
            self.move_settling = false;
            self.send(&Request::Stop)?;
            ctx.report(DriverEvent::Stopped { generation, plan });
        }

        let commands = ctx.take_commands(Duration::from_millis(1), 16);
        for command in commands {
            match command {
                DriverCommand::ExecutePlan { id, plan } => {
                    let busy = self.plan.is_some() || self.moving_to || self.move_settling;
                    match if busy {
                        Err("refused: the arm is busy".to_owned())
                    } else {
                        self.gate.check_plan(&plan, &self.q)
                    } {
                        Ok(()) => {
                            self.teleop = None;
                            let (steps, items) = (plan.steps(), plan.items.len());
                            self.plan = Some((PlanRun::new(id, plan), ItemState::Pending));
                            ctx.report(DriverEvent::PlanStarted { id, steps, items, at: Timestamp::now() });
                        }
                        Err(reason) => ctx.report(DriverEvent::Refused { plan: Some(id), reason }),
                    }
                }
                DriverCommand::QueuePlan { id, .. } => {
                    // The controller is streamed to sample by sample; plans are not queued here.
                    let reason = "refused: this driver does not queue plans".to_owned();
                    ctx.report(DriverEvent::Refused { plan: Some(id), reason });
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
                        if std::mem::take(&mut self.move_settling) {
                            ctx.report(DriverEvent::MoveFinished);
                        }
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
                        self.move_settling = true;
                        self.last_poll = Instant::now();
                        self.send(&Request::GetState)?;
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
            ctx.report(DriverEvent::PlanFinished { id, at: Timestamp::now() });
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
#[path = "client_tests.rs"]
mod tests;
