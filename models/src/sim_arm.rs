//! The simulated arm: the embedded default robot driver. A built-in (or URDF) arm follows commands at a fixed
//! control rate, goes through the same [`SafetyGate`] as a real driver, and reports its state on the shared clock.

use std::time::{Duration, Instant};

use crate::channel::Waker;
use crate::clock::Timestamp;
use crate::driver::{
    DriverCommand, DriverEvent, DriverHandle, JointState, SafetyGate, TELEOP_VELOCITY_SCALE, TELEOP_WATCHDOG,
};
use crate::robot::{Robot, Trajectory};
use crate::stop::StopSignal;
use crate::worker::{Worker, WorkerContext};

/// How the simulated arm runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimArmConfig {
    /// Control ticks per second.
    pub rate_hz: f64,
    /// A state event every this many ticks (200 Hz / 2 = 100 Hz of state).
    pub state_every: usize,
    /// Where the arm starts (default: the robot's rest pose).
    pub start: Option<Vec<f64>>,
}

impl Default for SimArmConfig {
    fn default() -> Self {
        Self { rate_hz: 200.0, state_every: 2, start: None }
    }
}

/// Gripper speed, fraction of full opening per second.
const GRIPPER_SPEED: f64 = 1.0;

/// Starts the simulated arm on a thread named `kinedesk-sim-<robot>`.
pub fn spawn_sim_arm(
    robot: Robot,
    stop: StopSignal,
    config: SimArmConfig,
    waker: Option<Waker>,
) -> std::io::Result<DriverHandle> {
    let name = format!("sim {}", robot.name);
    let thread_stop = stop.clone();
    let worker = Worker::spawn(format!("kinedesk-sim-{}", robot.name), 16, 256, waker, move |ctx| {
        SimArm::new(robot, thread_stop, &config).run(&ctx);
    })?;
    Ok(DriverHandle { worker, stop, name })
}

struct Execution {
    trajectory: Trajectory,
    started: Instant,
    last_progress: usize,
}

struct SimArm {
    gate: SafetyGate,
    stop: StopSignal,
    tick: Duration,
    state_every: usize,
    q: Vec<f64>,
    qd: Vec<f64>,
    gripper: f64,
    gripper_target: f64,
    execution: Option<Execution>,
    /// Teleop target and when it arrived.
    stream: Option<(Vec<f64>, Instant)>,
    /// A point-to-point move: target and velocity fraction.
    move_to: Option<(Vec<f64>, f64)>,
    seen_stop: u64,
}

impl SimArm {
    fn new(robot: Robot, stop: StopSignal, config: &SimArmConfig) -> Self {
        let q = config.start.clone().filter(|q| q.len() == robot.dof()).unwrap_or_else(|| robot.rest_pose.clone());
        let dof = robot.dof();
        let seen_stop = stop.generation();
        Self {
            gate: SafetyGate::new(robot),
            stop,
            tick: Duration::from_secs_f64(1.0 / config.rate_hz.clamp(1.0, 10_000.0)),
            state_every: config.state_every.max(1),
            q,
            qd: vec![0.0; dof],
            gripper: 1.0,
            gripper_target: 1.0,
            execution: None,
            stream: None,
            move_to: None,
            seen_stop,
        }
    }

    fn run(&mut self, ctx: &WorkerContext<DriverCommand, DriverEvent>) {
        let _ = ctx.events.try_send(DriverEvent::Connected { robot: self.gate.robot.name.clone(), dof: self.q.len() });
        let mut next_tick = Instant::now();
        let mut ticks: usize = 0;
        while !ctx.should_stop() {
            let mut commands = Vec::new();
            ctx.commands.drain_within(Duration::from_millis(1), 16, |command| commands.push(command));
            for command in commands {
                if !self.handle(ctx, command) {
                    return;
                }
            }
            self.check_stop(ctx);
            self.step(ctx);
            ticks += 1;
            if ticks.is_multiple_of(self.state_every) {
                // A full event queue drops the sample; the channel counts it.
                let _ = ctx.events.try_send(DriverEvent::State(self.state()));
            }
            next_tick += self.tick;
            let now = Instant::now();
            if next_tick < now {
                next_tick = now; // fell behind: do not try to catch up in a burst
            }
            // Sleeping on the stop signal means a stop wakes the loop at once instead of at the next tick.
            if self.stop.wait_for_stop_after(self.seen_stop, next_tick - now).is_some() {
                self.check_stop(ctx);
            }
        }
    }

    /// Returns false when the driver should end.
    fn handle(&mut self, ctx: &WorkerContext<DriverCommand, DriverEvent>, command: DriverCommand) -> bool {
        match command {
            DriverCommand::Execute(trajectory) => match self.gate.check_execute(&trajectory, &self.q) {
                Ok(()) => self.execution = Some(Execution { trajectory, started: Instant::now(), last_progress: 0 }),
                Err(reason) => {
                    let _ = ctx.events.try_send(DriverEvent::Refused { reason });
                }
            },
            DriverCommand::MoveTo { joints, speed_fraction } => match self.gate.check_target(&joints) {
                Ok(()) if self.execution.is_none() => {
                    self.stream = None;
                    self.move_to = Some((joints, speed_fraction.clamp(0.01, 1.0)));
                }
                Ok(()) => {
                    let reason = "refused: a trajectory is executing".to_owned();
                    let _ = ctx.events.try_send(DriverEvent::Refused { reason });
                }
                Err(reason) => {
                    let _ = ctx.events.try_send(DriverEvent::Refused { reason });
                }
            },
            DriverCommand::StreamTarget(target) => match self.gate.check_target(&target) {
                Ok(()) if self.execution.is_none() => self.stream = Some((target, Instant::now())),
                Ok(()) => {
                    let reason = "refused: a trajectory is executing; teleop waits until it ends".to_owned();
                    let _ = ctx.events.try_send(DriverEvent::Refused { reason });
                }
                Err(reason) => {
                    self.stream = None;
                    let _ = ctx.events.try_send(DriverEvent::Refused { reason });
                }
            },
            DriverCommand::Gripper(opening) => {
                if opening.is_finite() {
                    self.gripper_target = opening.clamp(0.0, 1.0);
                } else {
                    let _ = ctx.events.try_send(DriverEvent::Refused {
                        reason: format!("gripper opening {opening} is not a number"),
                    });
                }
            }
            DriverCommand::Disconnect => {
                let _ =
                    ctx.events.try_send(DriverEvent::Disconnected { reason: "disconnected by the operator".into() });
                return false;
            }
        }
        true
    }

    fn check_stop(&mut self, ctx: &WorkerContext<DriverCommand, DriverEvent>) {
        let generation = self.stop.generation();
        if generation != self.seen_stop {
            self.seen_stop = generation;
            // The simulated arm brakes at once (a category-0 stop): motion and any trajectory are dropped.
            self.execution = None;
            self.stream = None;
            self.move_to = None;
            self.qd.iter_mut().for_each(|v| *v = 0.0);
            self.gripper_target = self.gripper;
            let _ = ctx.events.try_send(DriverEvent::Stopped { generation });
            let _ = ctx.events.try_send(DriverEvent::State(self.state()));
        }
    }

    fn step(&mut self, ctx: &WorkerContext<DriverCommand, DriverEvent>) {
        let dt = self.tick.as_secs_f64();
        let step = dt * GRIPPER_SPEED;
        self.gripper += (self.gripper_target - self.gripper).clamp(-step, step);

        let Some(execution) = &mut self.execution else {
            self.follow_stream(ctx, dt);
            return;
        };
        let samples = &execution.trajectory.joints;
        let position = execution.started.elapsed().as_secs_f64() / execution.trajectory.dt_s;
        let index = position.floor() as usize;
        let (target, done) = if index + 1 >= samples.len() {
            (samples[samples.len() - 1].clone(), true)
        } else {
            let s = position - index as f64;
            (samples[index].iter().zip(&samples[index + 1]).map(|(a, b)| a + (b - a) * s).collect(), false)
        };
        // Every write is re-checked against the joint limits; the gate passed the samples, so this only fires
        // if something upstream is wrong, and then the arm stops rather than writing.
        if let Some((joint, value)) =
            target.iter().enumerate().find(|(j, value)| !self.gate.robot.joints[*j].limits.contains(**value))
        {
            self.execution = None;
            let reason = format!("stopped: joint {} target {value:.4} rad outside its limits", joint + 1);
            let _ = ctx.events.try_send(DriverEvent::Refused { reason });
            return;
        }
        for ((q, qd), t) in self.q.iter_mut().zip(self.qd.iter_mut()).zip(&target) {
            *qd = (t - *q) / dt;
            *q = *t;
        }
        let progress = index.min(samples.len() - 1);
        if progress != execution.last_progress {
            execution.last_progress = progress;
            let _ = ctx.events.try_send(DriverEvent::Progress { step: progress, steps: samples.len() });
        }
        if done {
            self.execution = None;
            self.qd.iter_mut().for_each(|v| *v = 0.0);
            let _ = ctx.events.try_send(DriverEvent::Finished);
        }
    }

    /// Moves toward `target` within `scale` × the velocity limits and the acceleration limits.
    fn approach(&mut self, target: &[f64], dt: f64, scale: f64) {
        let wanted = self.gate.step_toward(&self.q, target, dt, scale);
        let joints = self.q.iter_mut().zip(self.qd.iter_mut()).zip(wanted).zip(target).zip(&self.gate.robot.joints);
        for ((((q, qd), w), t), joint) in joints {
            let max_dv = joint.limits.acceleration * dt;
            // Slow enough to brake to rest at the target: |v| <= sqrt(2 a d).
            let brake = (2.0 * joint.limits.acceleration * (t - *q).abs()).sqrt();
            // Accelerate within the limit, but never overshoot the wanted step.
            let v = ((w - *q) / dt).clamp(-brake, brake).clamp(*qd - max_dv, *qd + max_dv);
            let step = (v * dt).clamp(-(w - *q).abs(), (w - *q).abs());
            *qd = step / dt;
            *q += step;
        }
    }

    /// Teleop: move toward the streamed target within the teleop velocity; halt if targets stop coming.
    /// A point-to-point move (`MoveTo`) goes the same way, without the watchdog, and reports when it arrives.
    fn follow_stream(&mut self, ctx: &WorkerContext<DriverCommand, DriverEvent>, dt: f64) {
        if let Some((target, fraction)) = self.move_to.clone() {
            self.approach(&target, dt, fraction);
            if target.iter().zip(&self.q).all(|(t, q)| (t - q).abs() < 1e-9) {
                self.move_to = None;
                self.qd.iter_mut().for_each(|v| *v = 0.0);
                let _ = ctx.events.try_send(DriverEvent::Finished);
            }
            return;
        }
        let Some((target, received)) = &self.stream else {
            self.qd.iter_mut().for_each(|v| *v = 0.0);
            return;
        };
        let arrived = target.iter().zip(&self.q).all(|(t, q)| (t - q).abs() < 1e-9);
        if received.elapsed() > TELEOP_WATCHDOG {
            self.stream = None;
            self.qd.iter_mut().for_each(|v| *v = 0.0);
            if !arrived {
                let reason = format!("teleop targets stopped for {} ms: arm halted", TELEOP_WATCHDOG.as_millis());
                let _ = ctx.events.try_send(DriverEvent::Halted { reason });
            }
            return;
        }
        let target = target.clone();
        self.approach(&target, dt, TELEOP_VELOCITY_SCALE);
    }

    fn state(&self) -> JointState {
        JointState {
            at: Timestamp::now(),
            positions: self.q.clone(),
            velocities: self.qd.clone(),
            gripper: self.gripper,
            moving: self.execution.is_some() || self.qd.iter().any(|v| *v != 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::panda;
    use crate::stop::StopReason;

    use crate::driver::test_support::next_event;

    fn sweep(robot: &Robot, seconds: f64) -> Trajectory {
        crate::driver::test_support::sweep(robot, seconds, 0.01)
    }

    #[test]
    fn the_sim_arm_executes_a_checked_trajectory_to_the_end() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        assert!(matches!(
            next_event(&handle, |e| matches!(e, DriverEvent::Connected { .. })),
            DriverEvent::Connected { dof: 7, .. }
        ));
        let trajectory = sweep(&robot, 0.3);
        let goal = trajectory.joints.last().unwrap().clone();
        handle.worker.send(DriverCommand::Execute(trajectory)).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::Finished));
        let DriverEvent::State(state) = next_event(&handle, |e| matches!(e, DriverEvent::State(_))) else {
            unreachable!()
        };
        assert!((state.positions[0] - goal[0]).abs() < 1e-9, "{:?}", state.positions);
        assert!(!state.moving);
    }

    #[test]
    fn stop_halts_the_arm_within_a_tick() {
        let robot = panda();
        let stop = StopSignal::new();
        let handle = spawn_sim_arm(robot.clone(), stop.clone(), SimArmConfig::default(), None).unwrap();
        handle.worker.send(DriverCommand::Execute(sweep(&robot, 5.0))).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::Progress { step, .. } if *step > 3));
        let stopped_at = Instant::now();
        stop.trigger(StopReason::Key);
        next_event(&handle, |e| matches!(e, DriverEvent::Stopped { generation: 1 }));
        assert!(stopped_at.elapsed() < Duration::from_millis(500));
        let DriverEvent::State(held) = next_event(&handle, |e| matches!(e, DriverEvent::State(_))) else {
            unreachable!()
        };
        assert!(held.velocities.iter().all(|v| *v == 0.0) && !held.moving);
        std::thread::sleep(Duration::from_millis(50));
        let DriverEvent::State(later) = next_event(&handle, |e| matches!(e, DriverEvent::State(_))) else {
            unreachable!()
        };
        assert_eq!(held.positions, later.positions, "the arm stays where it stopped");
    }

    #[test]
    fn teleop_targets_are_followed_and_the_watchdog_halts_when_they_stop() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let mut target = robot.rest_pose.clone();
        target[0] += 0.02;
        for _ in 0..10 {
            handle.worker.send(DriverCommand::StreamTarget(target.clone())).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let DriverEvent::State(state) = next_event(&handle, |e| matches!(e, DriverEvent::State(s) if !s.moving)) else {
            unreachable!()
        };
        assert!((state.positions[0] - target[0]).abs() < 1e-9, "reached the target");
        // A far target that stops being refreshed: the arm halts on the way.
        let mut far = robot.rest_pose.clone();
        far[0] += 1.5;
        handle.worker.send(DriverCommand::StreamTarget(far.clone())).unwrap();
        let DriverEvent::Halted { reason } = next_event(&handle, |e| matches!(e, DriverEvent::Halted { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("teleop targets stopped"), "{reason}");
        let DriverEvent::State(held) = next_event(&handle, |e| matches!(e, DriverEvent::State(_))) else {
            unreachable!()
        };
        assert!(held.positions[0] < far[0] - 0.5, "halted well before the far target");
        // Targets beyond a limit are refused.
        let mut beyond = robot.rest_pose.clone();
        beyond[3] = 0.5;
        handle.worker.send(DriverCommand::StreamTarget(beyond)).unwrap();
        let DriverEvent::Refused { reason } = next_event(&handle, |e| matches!(e, DriverEvent::Refused { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("target joint 4"), "{reason}");
    }

    #[test]
    fn move_to_reaches_its_target_within_the_velocity_and_acceleration_limits() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let mut goal = robot.rest_pose.clone();
        goal[0] += 0.3;
        let started = Instant::now();
        handle.worker.send(DriverCommand::MoveTo { joints: goal.clone(), speed_fraction: 0.5 }).unwrap();
        let mut peak = 0.0_f64;
        while let DriverEvent::State(state) =
            next_event(&handle, |e| matches!(e, DriverEvent::State(_) | DriverEvent::Finished))
        {
            peak = peak.max(state.velocities[0].abs());
        }
        // 0.3 rad at up to half of 2.175 rad/s, with 15 rad/s² to get there: at least ~0.28 s.
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
        assert!(peak <= 0.5 * 2.175 + 1e-6, "peak {peak}");
        let DriverEvent::State(state) = next_event(&handle, |e| matches!(e, DriverEvent::State(_))) else {
            unreachable!()
        };
        assert!((state.positions[0] - goal[0]).abs() < 1e-9);
    }

    #[test]
    fn unsafe_or_mismatched_trajectories_are_refused_before_moving() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let mut trajectory = sweep(&robot, 0.2);
        trajectory.joints[5][3] = 0.5; // joint 4 beyond its upper limit
        handle.worker.send(DriverCommand::Execute(trajectory)).unwrap();
        let DriverEvent::Refused { reason } = next_event(&handle, |e| matches!(e, DriverEvent::Refused { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("joint 4"), "{reason}");
        handle.worker.send(DriverCommand::Disconnect).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::Disconnected { .. }));
    }
}
