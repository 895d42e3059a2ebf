//! The `ros2://` robot link: any arm under `ros2_control` with a `joint_trajectory_controller`.
//!
//! - State: `sensor_msgs/JointState` (default `/joint_states`), matched to the robot model's joints by name (the
//!   order on the wire is arbitrary; joints the model lacks, such as gripper fingers, are ignored; joints the model
//!   has and the message lacks are an error naming them).
//! - Execution: `trajectory_msgs/JointTrajectory` (default `/joint_trajectory_controller/joint_trajectory`),
//!   reliable. A checked plan is published whole (every sample with its `time_from_start`); teleop targets stream
//!   as one-point trajectories at 100 Hz; a move to a point is one point at the time the scaled velocity limits need.
//! - Stop publishes a one-point trajectory at the *measured* position [`HOLD_AHEAD`] ahead, which makes every
//!   controller version stop and hold (an empty trajectory does not, in every version).
//! - Watchdog: no `JointState` for [`STATE_WATCHDOG`] → the arm is told to hold, the plan fails, the link reports
//!   *halted* and refuses commands until states come again.
//!
//! The driver's [`SafetyGate`] checks everything before it is published, as in every driver. Gripper moves are
//! refused: the link drives the arm's trajectory controller only.

use std::time::{Duration, Instant};

use kinedesk_core::StopSignal;
use kinedesk_core::channel::Waker;
use kinedesk_core::clock::Timestamp;
use kinedesk_core::driver::{
    CommandSource, Commanded, DriverCommand, DriverContext, DriverEvent, DriverHandle, ExecutionPlan, JointState,
    PlanItem, PlanRun, SafetyGate, TELEOP_VELOCITY_SCALE, TELEOP_WATCHDOG, spawn_driver,
};
use kinedesk_core::robot::{Robot, Trajectory};

use crate::msg::{Header, JointStateMsg, JointTrajectoryMsg, JointTrajectoryPoint, Time};
use crate::node::{Publication, Qos, Ros2Node, Subscription};

/// Default state topic.
pub const DEFAULT_STATE_TOPIC: &str = "/joint_states";
/// Default command topic (`joint_trajectory_controller`'s `~/joint_trajectory`).
pub const DEFAULT_COMMAND_TOPIC: &str = "/joint_trajectory_controller/joint_trajectory";
/// No state for this long halts the arm.
pub const STATE_WATCHDOG: Duration = Duration::from_millis(500);
/// How far ahead the hold point of a stop is.
pub const HOLD_AHEAD: Duration = Duration::from_millis(50);
/// Control tick (streamed set-points go out at this period).
pub const TICK: Duration = Duration::from_millis(10);
/// How close (rad, every joint) the measured state must come to a plan's end for it to count as finished.
pub const ARRIVAL_TOLERANCE_RAD: f64 = 0.01;
/// How long after a plan's last `time_from_start` the arm may take to arrive before the plan fails.
pub const ARRIVAL_GRACE: Duration = Duration::from_secs(5);

/// Where the link reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ros2LinkConfig {
    pub state_topic: String,
    pub command_topic: String,
    /// How long to wait for the first state.
    pub first_state_timeout: Duration,
    /// The DDS domain; `None`: `ROS_DOMAIN_ID` (default 0).
    pub domain: Option<u16>,
}

impl Default for Ros2LinkConfig {
    fn default() -> Self {
        Self {
            state_topic: DEFAULT_STATE_TOPIC.to_owned(),
            command_topic: DEFAULT_COMMAND_TOPIC.to_owned(),
            first_state_timeout: Duration::from_secs(8),
            domain: None,
        }
    }
}

impl Ros2LinkConfig {
    /// Parses `ros2://` with an optional query `?state=TOPIC&command=TOPIC&domain=D` (domain: else
    /// `ROS_DOMAIN_ID`).
    pub fn from_url(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("ros2://").ok_or_else(|| format!("{url:?} is not ros2://[?state=…&command=…]"))?;
        let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !host.trim_matches('/').is_empty() {
            return Err(format!(
                "{url:?}: ros2:// takes no host (the domain is ROS_DOMAIN_ID); topics go in ?state=…&command=…"
            ));
        }
        let mut config = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("{url:?}: {pair:?} is not key=value"))?;
            if key == "domain" {
                let domain = value.parse::<u16>().ok().filter(|d| *d <= 232);
                config.domain = Some(domain.ok_or_else(|| format!("{url:?}: domain {value:?} is not 0–232"))?);
                continue;
            }
            let topic = if value.starts_with('/') { value.to_owned() } else { format!("/{value}") };
            if topic.len() < 2 || topic.contains(char::is_whitespace) {
                return Err(format!("{url:?}: {value:?} is not a topic name"));
            }
            match key {
                "state" => config.state_topic = topic,
                "command" => config.command_topic = topic,
                other => return Err(format!("{url:?}: unknown parameter {other:?} (state, command, domain)")),
            }
        }
        Ok(config)
    }

    /// The address shown for this link.
    #[must_use]
    pub fn url(&self) -> String {
        let mut query = Vec::new();
        if self.state_topic != DEFAULT_STATE_TOPIC {
            query.push(format!("state={}", self.state_topic));
        }
        if self.command_topic != DEFAULT_COMMAND_TOPIC {
            query.push(format!("command={}", self.command_topic));
        }
        if let Some(domain) = self.domain {
            query.push(format!("domain={domain}"));
        }
        if query.is_empty() { "ros2://".to_owned() } else { format!("ros2://?{}", query.join("&")) }
    }
}

/// Maps the joints of a `JointState` onto the robot model's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JointMap {
    /// For each model joint, its index in the message.
    indices: Vec<usize>,
    /// The message's names this map was made for (re-made when they change).
    names: Vec<String>,
}

impl JointMap {
    /// Matches `message_names` to `model_names`; every model joint must be there (missing ones are named, and the
    /// ones the message has that the model lacks, so a wrong model is easy to see).
    pub fn new(model_names: &[String], message_names: &[String]) -> Result<Self, String> {
        let missing: Vec<&str> =
            model_names.iter().filter(|n| !message_names.contains(n)).map(String::as_str).collect();
        if !missing.is_empty() {
            let extra: Vec<&str> =
                message_names.iter().filter(|n| !model_names.contains(n)).map(String::as_str).collect();
            return Err(format!(
                "the JointState lacks joint(s) {} of the robot model; it has {}{}",
                missing.join(", "),
                if message_names.is_empty() { "no names".to_owned() } else { message_names.join(", ") },
                if extra.is_empty() { String::new() } else { format!(" (not in the model: {})", extra.join(", ")) }
            ));
        }
        let indices =
            model_names.iter().map(|n| message_names.iter().position(|m| m == n).unwrap_or_default()).collect();
        Ok(Self { indices, names: message_names.to_vec() })
    }

    /// Positions (and velocities, zero where not sent) in model order.
    pub fn apply(&self, message: &JointStateMsg) -> Result<(Vec<f64>, Vec<f64>), String> {
        let mut positions = Vec::with_capacity(self.indices.len());
        for &i in &self.indices {
            match message.position.get(i) {
                Some(v) if v.is_finite() => positions.push(*v),
                Some(v) => return Err(format!("joint {} position is {v}", message.name[i])),
                None => return Err(format!("{} names but {} positions", message.name.len(), message.position.len())),
            }
        }
        let velocities = self
            .indices
            .iter()
            .map(|&i| message.velocity.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0))
            .collect();
        Ok((positions, velocities))
    }
}

/// Desk time for a header stamp (Unix time of the sender's clock): the stamp moved onto the desk's monotonic clock,
/// or the arrival time where the stamp is unset, in the future or more than 10 s old (another clock).
#[must_use]
pub fn desk_time(stamp: Time, arrived: Timestamp) -> Timestamp {
    let Ok(unix_now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else { return arrived };
    let unix_now = u64::try_from(unix_now.as_nanos()).unwrap_or(u64::MAX);
    let stamp = stamp.as_nanos();
    let age = unix_now.checked_sub(stamp).filter(|age| *age < 10_000_000_000 && stamp > 0);
    match age {
        Some(age) => Timestamp::from_nanos(Timestamp::now().as_nanos().saturating_sub(age)).min(arrived),
        None => arrived,
    }
}

/// The one-point trajectory that makes a `joint_trajectory_controller` stop and hold at `positions`.
#[must_use]
pub fn hold_message(names: &[String], positions: &[f64]) -> JointTrajectoryMsg {
    point_message(names, positions, HOLD_AHEAD.as_secs_f64())
}

fn point_message(names: &[String], positions: &[f64], after_s: f64) -> JointTrajectoryMsg {
    JointTrajectoryMsg {
        header: Header::default(),
        joint_names: names.to_vec(),
        points: vec![JointTrajectoryPoint {
            positions: positions.to_vec(),
            time_from_start: Time::from_secs_f64(after_s),
            ..Default::default()
        }],
    }
}

/// A checked trajectory as a `JointTrajectory`: each sample after the first (which is where the arm is) at
/// `k · dt` (header stamp zero: start on arrival).
#[must_use]
pub fn trajectory_message(names: &[String], trajectory: &Trajectory) -> JointTrajectoryMsg {
    JointTrajectoryMsg {
        header: Header::default(),
        joint_names: names.to_vec(),
        points: trajectory
            .joints
            .iter()
            .enumerate()
            .skip(1)
            .map(|(k, joints)| JointTrajectoryPoint {
                positions: joints.clone(),
                time_from_start: Time::from_secs_f64(k as f64 * trajectory.dt_s),
                ..Default::default()
            })
            .collect(),
    }
}

/// Connects to a ROS 2 arm; the connection is made on the driver's thread (`kinedesk-ros2`) and the first event
/// says how it went.
pub fn connect_ros2(
    robot: Robot,
    config: Ros2LinkConfig,
    stop: StopSignal,
    waker: Option<Waker>,
) -> std::io::Result<DriverHandle> {
    let name = config.url();
    let thread_stop = stop.clone();
    let mut handle = spawn_driver("kinedesk-ros2", name, stop, waker, move |mut ctx| {
        let mut link = match Link::open(robot, &config, thread_stop) {
            Ok(link) => link,
            Err(reason) => {
                ctx.report(DriverEvent::Disconnected { reason });
                return;
            }
        };
        let reason = link.run(&mut ctx);
        ctx.report(DriverEvent::Disconnected { reason });
    })?;
    // The trajectory controller has no gripper: the states' gripper value is a placeholder.
    handle.gripper_measured = false;
    Ok(handle)
}

/// A plan published to the controller, followed by time.
struct Running {
    run: PlanRun,
    trajectory: Trajectory,
    published: Instant,
}

enum Motion {
    Idle,
    Plan(Running),
    /// A point-to-point move: the target and when it should be there.
    MoveTo {
        target: Vec<f64>,
        due: Instant,
    },
    Teleop {
        target: Vec<f64>,
        received: Instant,
        last_sent: Vec<f64>,
    },
}

struct Link {
    states: Subscription<JointStateMsg>,
    commands: Publication<JointTrajectoryMsg>,
    gate: SafetyGate,
    names: Vec<String>,
    map: JointMap,
    stop: StopSignal,
    seen_stop: u64,
    q: Vec<f64>,
    dq: Vec<f64>,
    state_at: Timestamp,
    last_state: Instant,
    halted: bool,
    motion: Motion,
    config_state_topic: String,
    /// The participant of the reader and writer above (fields drop in order: the endpoints go first).
    _node: Ros2Node,
}

impl Link {
    fn open(robot: Robot, config: &Ros2LinkConfig, stop: StopSignal) -> Result<Self, String> {
        let node = match config.domain {
            Some(domain) => Ros2Node::on_domain(domain),
            None => Ros2Node::new(),
        }
        .map_err(|e| e.to_string())?;
        let mut states = node
            .subscribe::<JointStateMsg>(&config.state_topic, Qos::Sensor { depth: 10 })
            .map_err(|e| e.to_string())?;
        let mut commands = node
            .publish::<JointTrajectoryMsg>(&config.command_topic, Qos::Command { depth: 10 })
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = robot.joints.iter().map(|j| j.name.clone()).collect();
        let received = states.next(config.first_state_timeout).map_err(|e| e.to_string())?.ok_or_else(|| {
            format!(
                "no sensor_msgs/JointState on {} within {} s (ROS_DOMAIN_ID={}; is the arm's joint_state_broadcaster \
                 running, and can discovery reach it? see docs/ros2.md)",
                config.state_topic,
                config.first_state_timeout.as_secs(),
                node.domain()
            )
        })?;
        let map = JointMap::new(&names, &received.message.name)?;
        let (q, dq) = map.apply(&received.message)?;
        // Discovery of the controller's subscription usually completes with the first state; a link without one
        // still shows the arm, and refuses to execute until one appears.
        commands.wait_for_reader(Duration::from_secs(2));
        let seen_stop = stop.generation();
        Ok(Self {
            states,
            commands,
            gate: SafetyGate::new(robot),
            names,
            map,
            stop,
            seen_stop,
            q,
            dq,
            state_at: Timestamp::now(),
            last_state: Instant::now(),
            halted: false,
            motion: Motion::Idle,
            config_state_topic: config.state_topic.clone(),
            _node: node,
        })
    }

    fn publish(&self, message: JointTrajectoryMsg) -> Result<(), String> {
        self.commands.write(message).map_err(|e| e.to_string())
    }

    fn hold(&self) -> Result<(), String> {
        self.publish(hold_message(&self.names, &self.q))
    }

    fn state(&self) -> JointState {
        let (commanded, progress) = match &self.motion {
            Motion::Idle => (None, None),
            Motion::Plan(running) => {
                let elapsed = running.published.elapsed().as_secs_f64();
                let set_point = sample_at(&running.trajectory, elapsed);
                let commanded =
                    Commanded { joints: set_point, gripper: 1.0, source: CommandSource::Plan { id: running.run.id } };
                (Some(commanded), Some(running.run.progress()))
            }
            Motion::MoveTo { target, .. } => {
                (Some(Commanded { joints: target.clone(), gripper: 1.0, source: CommandSource::MoveTo }), None)
            }
            Motion::Teleop { last_sent, .. } => {
                (Some(Commanded { joints: last_sent.clone(), gripper: 1.0, source: CommandSource::Teleop }), None)
            }
        };
        JointState {
            at: self.state_at,
            positions: self.q.clone(),
            velocities: self.dq.clone(),
            // Not measured on this link (no gripper controller): reported open, and never commanded.
            gripper: 1.0,
            moving: !matches!(self.motion, Motion::Idle),
            commanded,
            progress,
        }
    }

    fn run(&mut self, ctx: &mut DriverContext) -> String {
        ctx.report(DriverEvent::Connected { robot: self.gate.robot.name.clone(), dof: self.q.len() });
        ctx.outputs.publish(self.state());
        let mut next_tick = Instant::now();
        loop {
            if ctx.should_stop() {
                if !matches!(self.motion, Motion::Idle) {
                    let _ = self.hold();
                }
                return "disconnected by the operator".to_owned();
            }
            if let Err(reason) = self.tick(ctx) {
                let _ = self.hold();
                return reason;
            }
            next_tick += TICK;
            if next_tick < Instant::now() {
                next_tick = Instant::now();
            }
            // Until the next tick: states as they arrive, commands as they come (a sent plan is published at once),
            // and Stop within a millisecond.
            if let Err(reason) = self.wait_until(ctx, next_tick) {
                let _ = self.hold();
                return reason;
            }
        }
    }

    fn wait_until(&mut self, ctx: &mut DriverContext, deadline: Instant) -> Result<(), String> {
        loop {
            let now = Instant::now();
            if now >= deadline || self.stop.generation() != self.seen_stop || ctx.should_stop() {
                return Ok(());
            }
            let wait = (deadline - now).min(Duration::from_millis(1));
            if let Some(received) = self.states.next(wait).map_err(|e| e.to_string())? {
                self.take_state(ctx, &received.message);
            }
            for command in ctx.take_commands(Duration::from_micros(50), 16) {
                self.command(ctx, command)?;
            }
        }
    }

    /// Takes one JointState: in model order, on the desk clock, published (the recorder's tap sees every one).
    /// Returns whether it was usable.
    fn take_state(&mut self, ctx: &mut DriverContext, message: &JointStateMsg) -> bool {
        let arrived = Timestamp::now();
        if message.name != self.map.names {
            match JointMap::new(&self.names, &message.name) {
                Ok(map) => self.map = map,
                Err(reason) => {
                    log::warn!("ignored a JointState on {}: {reason}", self.config_state_topic);
                    return false;
                }
            }
        }
        match self.map.apply(message) {
            Ok((q, dq)) => {
                self.q = q;
                self.dq = dq;
                self.state_at = desk_time(message.header.stamp, arrived);
                self.last_state = Instant::now();
                if self.halted {
                    self.halted = false;
                }
                ctx.outputs.publish(self.state());
                true
            }
            Err(reason) => {
                log::warn!("ignored a JointState on {}: {reason}", self.config_state_topic);
                false
            }
        }
    }

    fn refuse(ctx: &DriverContext, plan: Option<u64>, reason: String) {
        ctx.report(DriverEvent::Refused { plan, reason });
    }

    fn tick(&mut self, ctx: &mut DriverContext) -> Result<(), String> {
        let generation = self.stop.generation();
        if generation != self.seen_stop {
            self.seen_stop = generation;
            let plan = match std::mem::replace(&mut self.motion, Motion::Idle) {
                Motion::Plan(running) => Some(running.run.progress()),
                _ => None,
            };
            self.hold()?;
            ctx.report(DriverEvent::Stopped { generation, plan });
        }

        // Every state that arrived since the last look (each one published, so the recorder sees them all).
        while let Some(received) = self.states.next(Duration::ZERO).map_err(|e| e.to_string())? {
            self.take_state(ctx, &received.message);
        }
        if !self.halted && self.last_state.elapsed() > STATE_WATCHDOG {
            self.halted = true;
            let reason = format!(
                "no JointState on {} for {} ms (watchdog): the arm was told to hold",
                self.config_state_topic,
                STATE_WATCHDOG.as_millis()
            );
            if let Motion::Plan(running) = std::mem::replace(&mut self.motion, Motion::Idle) {
                ctx.report(DriverEvent::PlanFailed {
                    id: running.run.id,
                    at: running.run.progress(),
                    reason: reason.clone(),
                });
            }
            self.motion = Motion::Idle;
            self.hold()?;
            ctx.report(DriverEvent::Halted { reason });
        }

        for command in ctx.take_commands(Duration::from_millis(1), 16) {
            self.command(ctx, command)?;
        }
        self.follow(ctx)
    }

    fn command(&mut self, ctx: &mut DriverContext, command: DriverCommand) -> Result<(), String> {
        let unheard = (self.commands.matched_readers() == 0).then(|| {
            format!(
                "refused: nothing subscribes to {} (is the joint_trajectory_controller active?)",
                self.commands.topic()
            )
        });
        let halted = self
            .halted
            .then(|| {
                format!(
                    "refused: no JointState on {} (the arm is halted until states come again)",
                    self.config_state_topic
                )
            })
            .or(unheard);
        match command {
            DriverCommand::ExecutePlan { id, plan } => {
                let checked = if let Some(reason) = halted {
                    Err(reason)
                } else if !matches!(self.motion, Motion::Idle | Motion::Teleop { .. }) {
                    Err("refused: the arm is busy".to_owned())
                } else {
                    self.gate.check_plan(&plan, &self.q).and_then(|()| single_trajectory(&plan))
                };
                match checked {
                    Ok(trajectory) => {
                        self.publish(trajectory_message(&self.names, &trajectory))?;
                        let (steps, items) = (plan.steps(), plan.items.len());
                        self.motion = Motion::Plan(Running {
                            run: PlanRun::new(id, plan),
                            trajectory,
                            published: Instant::now(),
                        });
                        ctx.report(DriverEvent::PlanStarted { id, steps, items, at: Timestamp::now() });
                    }
                    Err(reason) => Self::refuse(ctx, Some(id), reason),
                }
            }
            DriverCommand::QueuePlan { id, .. } => {
                Self::refuse(ctx, Some(id), "refused: the ros2:// link does not queue plans".to_owned());
            }
            DriverCommand::MoveTo { joints, speed_fraction } => {
                let checked = match halted {
                    Some(reason) => Err(reason),
                    None if matches!(self.motion, Motion::Plan(_)) => Err("refused: a plan is executing".to_owned()),
                    None => self.gate.check_target(&joints),
                };
                match checked {
                    Ok(()) => {
                        let fraction = speed_fraction.clamp(0.01, 1.0);
                        let seconds = joints
                            .iter()
                            .zip(&self.q)
                            .zip(&self.gate.robot.joints)
                            .map(|((t, q), joint)| (t - q).abs() / (joint.limits.velocity * fraction))
                            .fold(0.0, f64::max)
                            .max(HOLD_AHEAD.as_secs_f64());
                        self.publish(point_message(&self.names, &joints, seconds))?;
                        let due = Instant::now() + Duration::from_secs_f64(seconds);
                        self.motion = Motion::MoveTo { target: joints, due };
                    }
                    Err(reason) => Self::refuse(ctx, None, reason),
                }
            }
            DriverCommand::StreamTarget(target) => {
                let checked = match halted {
                    Some(reason) => Err(reason),
                    None if matches!(self.motion, Motion::Plan(_) | Motion::MoveTo { .. }) => {
                        Err("refused: a plan is executing; teleop waits until it ends".to_owned())
                    }
                    None => self.gate.check_target(&target),
                };
                match checked {
                    Ok(()) => {
                        let last_sent = match &self.motion {
                            Motion::Teleop { last_sent, .. } => last_sent.clone(),
                            _ => self.q.clone(),
                        };
                        self.motion = Motion::Teleop { target, received: Instant::now(), last_sent };
                    }
                    Err(reason) => Self::refuse(ctx, None, reason),
                }
            }
            DriverCommand::Gripper(_) => Self::refuse(
                ctx,
                None,
                "refused: the ros2:// link drives the arm's joint_trajectory_controller only (no gripper)".to_owned(),
            ),
            DriverCommand::Disconnect => return Err("disconnected by the operator".to_owned()),
        }
        Ok(())
    }

    /// Follows what is under way: plan progress and arrival, the move's arrival, teleop set-points.
    fn follow(&mut self, ctx: &mut DriverContext) -> Result<(), String> {
        match &mut self.motion {
            Motion::Idle => {}
            Motion::Plan(running) => {
                let elapsed = running.published.elapsed();
                let duration = running.trajectory.dt_s * running.trajectory.joints.len().saturating_sub(1) as f64;
                let step = ((elapsed.as_secs_f64() / running.trajectory.dt_s).floor() as usize)
                    .min(running.trajectory.joints.len().saturating_sub(1));
                running.run.reached(step);
                if elapsed.as_secs_f64() >= duration {
                    let end = running.trajectory.joints.last().cloned().unwrap_or_default();
                    let (joint, off) = worst_offset(&end, &self.q);
                    if off <= ARRIVAL_TOLERANCE_RAD {
                        running.run.advance();
                        let id = running.run.id;
                        self.motion = Motion::Idle;
                        ctx.report(DriverEvent::PlanFinished { id, at: Timestamp::now() });
                    } else if elapsed.as_secs_f64() > duration + ARRIVAL_GRACE.as_secs_f64() {
                        let reason = format!(
                            "the arm did not reach the plan's end within {} s of its last point (joint {} off by \
                             {:.2}°): it was told to hold",
                            ARRIVAL_GRACE.as_secs(),
                            joint + 1,
                            off.to_degrees()
                        );
                        let at = running.run.progress();
                        let id = running.run.id;
                        self.motion = Motion::Idle;
                        self.hold()?;
                        ctx.report(DriverEvent::PlanFailed { id, at, reason });
                    }
                }
            }
            Motion::MoveTo { target, due } => {
                let (_, off) = worst_offset(target, &self.q);
                if off <= ARRIVAL_TOLERANCE_RAD {
                    self.motion = Motion::Idle;
                    ctx.report(DriverEvent::MoveFinished);
                } else if Instant::now() > *due + ARRIVAL_GRACE {
                    self.motion = Motion::Idle;
                    self.hold()?;
                    let reason =
                        format!("the move did not arrive ({:.2}° off): the arm was told to hold", off.to_degrees());
                    ctx.report(DriverEvent::Refused { plan: None, reason });
                }
            }
            Motion::Teleop { target, received, last_sent } => {
                if received.elapsed() > TELEOP_WATCHDOG {
                    let arrived = worst_offset(target, last_sent).1 < 1e-9;
                    self.motion = Motion::Idle;
                    if !arrived {
                        self.hold()?;
                        let reason =
                            format!("teleop targets stopped for {} ms: arm halted", TELEOP_WATCHDOG.as_millis());
                        ctx.report(DriverEvent::Halted { reason });
                    }
                } else {
                    let next = self.gate.step_toward(last_sent, target, TICK.as_secs_f64(), TELEOP_VELOCITY_SCALE);
                    *last_sent = next.clone();
                    self.commands
                        .write(point_message(&self.names, &next, 2.0 * TICK.as_secs_f64()))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }
}

/// The plan's one joint segment; gripper moves cannot be carried out on this link.
fn single_trajectory(plan: &ExecutionPlan) -> Result<Trajectory, String> {
    let mut segments = Vec::new();
    for item in &plan.items {
        match item {
            PlanItem::Joints { trajectory, .. } => segments.push(trajectory),
            PlanItem::Gripper { .. } => {
                return Err(
                    "refused: the plan moves the gripper, and the ros2:// link drives the arm's trajectory controller \
                     only"
                        .to_owned(),
                );
            }
        }
    }
    match segments.as_slice() {
        [one] if one.joints.len() >= 2 => Ok((*one).clone()),
        [_] => Err("refused: the plan has fewer than two samples".to_owned()),
        _ => Err(format!("refused: the plan has {} joint segments (one is published)", segments.len())),
    }
}

/// Linear interpolation of a trajectory at `t` seconds (clamped to its ends).
fn sample_at(trajectory: &Trajectory, t: f64) -> Vec<f64> {
    let last = trajectory.joints.len().saturating_sub(1);
    let position = (t / trajectory.dt_s).clamp(0.0, last as f64);
    let k = (position.floor() as usize).min(last.saturating_sub(1));
    let s = position - k as f64;
    let (a, b) = (&trajectory.joints[k], &trajectory.joints[(k + 1).min(last)]);
    a.iter().zip(b).map(|(x, y)| x + (y - x) * s).collect()
}

fn worst_offset(a: &[f64], b: &[f64]) -> (usize, f64) {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).enumerate().fold((0, 0.0), |m, (i, d)| if d > m.1 { (i, d) } else { m })
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;
