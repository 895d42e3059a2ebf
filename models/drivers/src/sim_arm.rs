//! The simulated arm: the embedded default robot driver. A built-in (or URDF) arm follows commands at a fixed
//! control rate, goes through the same [`SafetyGate`] as a real driver, carries out whole plans (joint segments and
//! gripper moves) by itself, and reports its state on the shared clock.

use std::time::{Duration, Instant};

use kinedesk_core::channel::Waker;
use kinedesk_core::clock::Timestamp;
use kinedesk_core::driver::{
    CommandSource, Commanded, DriverCommand, DriverContext, DriverEvent, DriverHandle, GRIPPER_SPEED_PER_S, JointState,
    PlanItem, PlanRun, SafetyGate, TELEOP_VELOCITY_SCALE, TELEOP_WATCHDOG, spawn_driver,
};
use kinedesk_core::robot::Robot;
use kinedesk_core::stop::StopSignal;

/// How the simulated arm runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimArmConfig {
    /// Control ticks per second.
    pub rate_hz: f64,
    /// A state every this many ticks (200 Hz / 2 = 100 Hz of state).
    pub state_every: usize,
    /// Where the arm starts (default: the robot's rest pose).
    pub start: Option<Vec<f64>>,
}

impl Default for SimArmConfig {
    fn default() -> Self {
        Self { rate_hz: 200.0, state_every: 2, start: None }
    }
}

/// Starts the simulated arm on a thread named `kinedesk-sim-<robot>`.
pub fn spawn_sim_arm(
    robot: Robot,
    stop: StopSignal,
    config: SimArmConfig,
    waker: Option<Waker>,
) -> std::io::Result<DriverHandle> {
    let name = format!("sim {}", robot.name);
    let thread_stop = stop.clone();
    let mut handle = spawn_driver(&format!("kinedesk-sim-{}", robot.name), name, stop, waker, move |mut ctx| {
        SimArm::new(robot, thread_stop, &config).run(&mut ctx);
    })?;
    handle.queues_plans = true;
    Ok(handle)
}

/// The joint segment being followed: when it started.
struct Segment {
    started: Instant,
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
    /// The plan being carried out, and the joint segment of it being followed.
    plan: Option<(PlanRun, Option<Segment>)>,
    /// A plan to start on the tick the running one ends (checked from where that one ends).
    queued: Option<PlanRun>,
    /// Teleop target and when it arrived.
    stream: Option<(Vec<f64>, Instant)>,
    /// A point-to-point move: target and velocity fraction.
    move_to: Option<(Vec<f64>, f64)>,
    /// What was commanded at this tick.
    commanded: Option<Commanded>,
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
            plan: None,
            queued: None,
            stream: None,
            move_to: None,
            commanded: None,
            seen_stop,
        }
    }

    fn run(&mut self, ctx: &mut DriverContext) {
        ctx.report(DriverEvent::Connected { robot: self.gate.robot.name.clone(), dof: self.q.len() });
        ctx.outputs.publish(self.state());
        let mut next_tick = Instant::now();
        let mut ticks: usize = 0;
        while !ctx.should_stop() {
            let commands = ctx.take_commands(Duration::from_millis(1), 16);
            for command in commands {
                if !self.handle(ctx, command) {
                    return;
                }
            }
            self.check_stop(ctx);
            self.step(ctx);
            ticks += 1;
            if ticks.is_multiple_of(self.state_every) {
                ctx.outputs.publish(self.state());
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

    fn busy(&self) -> bool {
        self.plan.is_some()
    }

    /// Returns false when the driver should end.
    fn handle(&mut self, ctx: &DriverContext, command: DriverCommand) -> bool {
        let refuse = |plan: Option<u64>, reason: String| ctx.report(DriverEvent::Refused { plan, reason });
        match command {
            DriverCommand::ExecutePlan { id, plan } => {
                if self.busy() {
                    refuse(Some(id), "refused: another plan is executing".to_owned());
                } else {
                    match self.gate.check_plan(&plan, &self.q) {
                        Ok(()) => {
                            self.stream = None;
                            self.move_to = None;
                            let (steps, items) = (plan.steps(), plan.items.len());
                            self.plan = Some((PlanRun::new(id, plan), None));
                            ctx.report(DriverEvent::PlanStarted { id, steps, items, at: Timestamp::now() });
                        }
                        Err(reason) => refuse(Some(id), reason),
                    }
                }
            }
            DriverCommand::QueuePlan { id, after, plan } => {
                let end = match &self.plan {
                    Some((run, _)) if run.id == after && self.queued.is_none() => {
                        run.plan.final_joints().map(<[f64]>::to_vec)
                    }
                    Some((run, _)) if run.id == after => {
                        refuse(Some(id), "refused: another plan is queued already".to_owned());
                        return true;
                    }
                    _ => {
                        refuse(Some(id), format!("refused: plan {after} is not running, so nothing can follow it"));
                        return true;
                    }
                };
                let end = end.unwrap_or_else(|| self.q.clone());
                match self.gate.check_plan(&plan, &end) {
                    Ok(()) => self.queued = Some(PlanRun::new(id, plan)),
                    Err(reason) => refuse(Some(id), reason),
                }
            }
            DriverCommand::MoveTo { joints, speed_fraction } => match self.gate.check_target(&joints) {
                Ok(()) if !self.busy() => {
                    self.stream = None;
                    self.move_to = Some((joints, speed_fraction.clamp(0.01, 1.0)));
                }
                Ok(()) => refuse(None, "refused: a plan is executing".to_owned()),
                Err(reason) => refuse(None, reason),
            },
            DriverCommand::StreamTarget(target) => match self.gate.check_target(&target) {
                Ok(()) if !self.busy() => self.stream = Some((target, Instant::now())),
                Ok(()) => refuse(None, "refused: a plan is executing; teleop waits until it ends".to_owned()),
                Err(reason) => {
                    self.stream = None;
                    refuse(None, reason);
                }
            },
            DriverCommand::Gripper(opening) => {
                if !opening.is_finite() {
                    refuse(None, format!("gripper opening {opening} is not a number"));
                } else if self.busy() {
                    refuse(None, "refused: a plan is executing; it moves the gripper itself".to_owned());
                } else {
                    self.gripper_target = opening.clamp(0.0, 1.0);
                }
            }
            DriverCommand::Disconnect => {
                ctx.report(DriverEvent::Disconnected { reason: "disconnected by the operator".into() });
                return false;
            }
        }
        true
    }

    fn check_stop(&mut self, ctx: &mut DriverContext) {
        let generation = self.stop.generation();
        if generation != self.seen_stop {
            self.seen_stop = generation;
            // The simulated arm brakes at once (a category-0 stop): motion and any plan are dropped.
            let plan = self.plan.take().map(|(run, _)| run.progress());
            self.queued = None;
            self.stream = None;
            self.move_to = None;
            self.commanded = None;
            self.qd.iter_mut().for_each(|v| *v = 0.0);
            self.gripper_target = self.gripper;
            ctx.report(DriverEvent::Stopped { generation, plan });
            ctx.outputs.publish(self.state());
        }
    }

    fn step(&mut self, ctx: &DriverContext) {
        let dt = self.tick.as_secs_f64();
        let step = dt * GRIPPER_SPEED_PER_S;
        self.gripper += (self.gripper_target - self.gripper).clamp(-step, step);
        self.commanded = None;
        if self.plan.is_some() {
            self.follow_plan(ctx, dt);
        } else {
            self.follow_stream(ctx, dt);
        }
    }

    /// One tick of the plan: follow the current joint segment, or wait for the gripper, then go on.
    fn follow_plan(&mut self, ctx: &DriverContext, dt: f64) {
        let Some((run, segment)) = &mut self.plan else { return };
        let id = run.id;
        match run.current().cloned() {
            None => {
                self.plan = None;
                self.qd.iter_mut().for_each(|v| *v = 0.0);
                let now = Timestamp::now();
                ctx.report(DriverEvent::PlanFinished { id, at: now });
                // A queued plan starts on this very tick: no control period without a set-point in between.
                if let Some(next) = self.queued.take() {
                    let (id, steps, items) = (next.id, next.plan.steps(), next.plan.items.len());
                    self.plan = Some((next, None));
                    ctx.report(DriverEvent::PlanStarted { id, steps, items, at: now });
                    self.follow_plan(ctx, dt);
                }
            }
            Some(PlanItem::Gripper { opening }) => {
                self.gripper_target = opening;
                self.qd.iter_mut().for_each(|v| *v = 0.0);
                self.commanded =
                    Some(Commanded { joints: self.q.clone(), gripper: opening, source: CommandSource::Plan { id } });
                if (self.gripper - opening).abs() < 1e-9 {
                    run.advance();
                }
            }
            Some(PlanItem::Joints { trajectory, .. }) => {
                let started = segment.get_or_insert_with(|| Segment { started: Instant::now() }).started;
                let samples = &trajectory.joints;
                let position = started.elapsed().as_secs_f64() / trajectory.dt_s;
                let index = position.floor() as usize;
                let (target, done) = if index + 1 >= samples.len() {
                    (samples[samples.len() - 1].clone(), true)
                } else {
                    let s = position - index as f64;
                    (samples[index].iter().zip(&samples[index + 1]).map(|(a, b)| a + (b - a) * s).collect(), false)
                };
                // Every write is re-checked against the joint limits; the gate passed the samples, so this only
                // fires if something upstream is wrong, and then the arm stops rather than writing.
                if let Some((joint, value)) =
                    target.iter().enumerate().find(|(j, value)| !self.gate.robot.joints[*j].limits.contains(**value))
                {
                    let at = run.progress();
                    self.plan = None;
                    self.qd.iter_mut().for_each(|v| *v = 0.0);
                    let reason = format!("stopped: joint {} target {value:.4} rad outside its limits", joint + 1);
                    ctx.report(DriverEvent::PlanFailed { id, at, reason });
                    if let Some(queued) = self.queued.take() {
                        let reason = format!("dropped: plan {id} it was to follow failed");
                        ctx.report(DriverEvent::Refused { plan: Some(queued.id), reason });
                    }
                    return;
                }
                run.reached(index.min(samples.len() - 1));
                for ((q, qd), t) in self.q.iter_mut().zip(self.qd.iter_mut()).zip(&target) {
                    *qd = (t - *q) / dt;
                    *q = *t;
                }
                self.commanded = Some(Commanded {
                    joints: target,
                    gripper: self.gripper_target,
                    source: CommandSource::Plan { id },
                });
                if done {
                    run.advance();
                    *segment = None;
                    self.qd.iter_mut().for_each(|v| *v = 0.0);
                }
            }
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
    fn follow_stream(&mut self, ctx: &DriverContext, dt: f64) {
        if let Some((target, fraction)) = self.move_to.clone() {
            self.approach(&target, dt, fraction);
            self.commanded =
                Some(Commanded { joints: target.clone(), gripper: self.gripper_target, source: CommandSource::MoveTo });
            if target.iter().zip(&self.q).all(|(t, q)| (t - q).abs() < 1e-9) {
                self.move_to = None;
                self.qd.iter_mut().for_each(|v| *v = 0.0);
                ctx.report(DriverEvent::MoveFinished);
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
                ctx.report(DriverEvent::Halted { reason });
            }
            return;
        }
        let target = target.clone();
        self.approach(&target, dt, TELEOP_VELOCITY_SCALE);
        self.commanded =
            Some(Commanded { joints: target, gripper: self.gripper_target, source: CommandSource::Teleop });
    }

    fn state(&self) -> JointState {
        JointState {
            at: Timestamp::now(),
            positions: self.q.clone(),
            velocities: self.qd.clone(),
            gripper: self.gripper,
            moving: self.plan.is_some() || self.qd.iter().any(|v| *v != 0.0),
            commanded: self.commanded.clone(),
            progress: self.plan.as_ref().map(|(run, _)| run.progress()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{next_event, sweep, wait_state};
    use kinedesk_core::driver::ExecutionPlan;
    use kinedesk_core::robot::{Trajectory, panda};
    use kinedesk_core::stop::StopReason;

    fn plan(trajectory: Trajectory) -> DriverCommand {
        DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(trajectory) }
    }

    #[test]
    fn a_queued_plan_starts_on_the_tick_the_running_one_ends_and_a_stop_drops_it() {
        let robot = panda();
        let stop = StopSignal::new();
        let handle = spawn_sim_arm(robot.clone(), stop.clone(), SimArmConfig::default(), None).unwrap();
        assert!(handle.queues_plans);
        next_event(&handle, |e| matches!(e, DriverEvent::Connected { .. }));
        let there = sweep(&robot, 0.5, 0.01);
        let back = Trajectory { dt_s: 0.01, joints: there.joints.iter().rev().cloned().collect() };
        let queue = |id, after, trajectory: &Trajectory| DriverCommand::QueuePlan {
            id,
            after,
            plan: ExecutionPlan::single(trajectory.clone()),
        };
        handle.send(DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(there.clone()) }).unwrap();
        handle.send(queue(2, 1, &back)).unwrap();
        // Not after the running plan, a second one queued, or one that does not start where the running one ends.
        handle.send(queue(3, 99, &back)).unwrap();
        handle.send(queue(4, 1, &back)).unwrap();
        let mut events = Vec::new();
        while !events.iter().any(|e| matches!(e, DriverEvent::PlanFinished { id: 2, .. })) {
            events.push(next_event(&handle, |_| true));
        }
        let refused: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                DriverEvent::Refused { plan: Some(id), reason } => Some((*id, reason.clone())),
                _ => None,
            })
            .collect();
        assert!(refused.iter().any(|(id, r)| *id == 3 && r.contains("not running")), "{refused:?}");
        assert!(refused.iter().any(|(id, r)| *id == 4 && r.contains("queued already")), "{refused:?}");
        let finished_1 = events.iter().find_map(|e| match e {
            DriverEvent::PlanFinished { id: 1, at } => Some(*at),
            _ => None,
        });
        let started_2 = events.iter().find_map(|e| match e {
            DriverEvent::PlanStarted { id: 2, at, .. } => Some(*at),
            _ => None,
        });
        assert_eq!(finished_1.unwrap(), started_2.unwrap(), "no tick between the two plans");
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - robot.rest_pose[0]).abs() < 1e-9, "back where it started");

        // A plan queued that does not start where the running one ends is refused by the gate.
        handle.send(DriverCommand::ExecutePlan { id: 5, plan: ExecutionPlan::single(there.clone()) }).unwrap();
        handle.send(queue(6, 5, &there)).unwrap();
        let refused = next_event(&handle, |e| matches!(e, DriverEvent::Refused { plan: Some(6), .. }));
        assert!(format!("{refused:?}").contains("start"), "{refused:?}");
        next_event(&handle, |e| matches!(e, DriverEvent::PlanFinished { id: 5, .. }));

        // Stop drops the queued plan with the running one.
        handle.send(DriverCommand::ExecutePlan { id: 7, plan: ExecutionPlan::single(back.clone()) }).unwrap();
        handle.send(queue(8, 7, &there)).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::PlanStarted { id: 7, .. }));
        stop.trigger(StopReason::Api);
        next_event(&handle, |e| matches!(e, DriverEvent::Stopped { .. }));
        std::thread::sleep(Duration::from_millis(600));
        let later = handle.drain_events();
        assert!(!later.iter().any(|e| matches!(e, DriverEvent::PlanStarted { id: 8, .. })), "{later:?}");
        assert!(!wait_state(&handle, |_| true).moving);
    }

    #[test]
    fn the_sim_arm_executes_a_checked_trajectory_to_the_end() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        assert!(matches!(
            next_event(&handle, |e| matches!(e, DriverEvent::Connected { .. })),
            DriverEvent::Connected { dof: 7, .. }
        ));
        let trajectory = sweep(&robot, 0.5, 0.01);
        let goal = trajectory.joints.last().unwrap().clone();
        handle.send(plan(trajectory)).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::PlanStarted { id: 1, steps: 51, items: 1, .. }));
        next_event(&handle, |e| matches!(e, DriverEvent::PlanFinished { id: 1, .. }));
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - goal[0]).abs() < 1e-9, "{:?}", state.positions);
        assert!(state.progress.is_none() && state.commanded.is_none());
    }

    #[test]
    fn a_plan_with_gripper_moves_is_carried_out_by_the_driver_alone() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        // Move, close the gripper while holding still, move, open it again while holding still.
        let (trajectory, mut gripper) = crate::test_support::two_moves_with_a_grasp(&robot, 0.3, 0.2, 0.01);
        let reopen = trajectory.joints.len() - 1;
        gripper[reopen] = -1.0;
        let mut trajectory = trajectory;
        trajectory.joints.push(trajectory.joints[reopen].clone());
        gripper.push(-1.0);
        let plan = ExecutionPlan::with_gripper_changes(&trajectory, &gripper);
        assert_eq!(plan.gripper_moves(), 2);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        handle.set_state_tap(Some(Box::new(move |state: &JointState| sink.lock().unwrap().push(state.clone()))));
        handle.send(DriverCommand::ExecutePlan { id: 9, plan }).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::PlanFinished { id: 9, .. }));
        let states = seen.lock().unwrap().clone();
        let lowest = states.iter().map(|s| s.gripper).fold(1.0, f64::min);
        assert!(lowest < 1e-9, "the gripper closed during the plan (lowest opening {lowest})");
        assert!((states.last().unwrap().gripper - 1.0).abs() < 0.02, "and opened again");
        let commanded: Vec<f64> = states.iter().filter_map(|s| s.commanded.as_ref().map(|c| c.gripper)).collect();
        assert!(commanded.contains(&0.0) && commanded.contains(&1.0), "the gripper commands are in the states");
        // Progress counts steps of the whole plan (not of a segment) up to its end; states come every other tick, so
        // the very last step may fall between two of them.
        let last = states.iter().filter_map(|s| s.progress).max_by_key(|p| p.step).unwrap();
        assert!(last.step + 3 >= last.steps && last.steps == 82 && last.item == 4, "{last:?}");
    }

    #[test]
    fn stop_halts_the_arm_within_a_tick_and_says_where_the_plan_stopped() {
        let robot = panda();
        let stop = StopSignal::new();
        let handle = spawn_sim_arm(robot.clone(), stop.clone(), SimArmConfig::default(), None).unwrap();
        handle.send(plan(sweep(&robot, 5.0, 0.01))).unwrap();
        wait_state(&handle, |s| s.progress.is_some_and(|p| p.step > 3));
        let stopped_at = Instant::now();
        stop.trigger(StopReason::Key);
        let DriverEvent::Stopped { generation: 1, plan: Some(progress) } =
            next_event(&handle, |e| matches!(e, DriverEvent::Stopped { .. }))
        else {
            panic!("a stop with the plan's progress")
        };
        assert!(stopped_at.elapsed() < Duration::from_millis(500));
        assert!(progress.step > 3 && progress.step < 500, "{progress:?}");
        let held = wait_state(&handle, |s| !s.moving);
        assert!(held.velocities.iter().all(|v| *v == 0.0));
        std::thread::sleep(Duration::from_millis(50));
        let later = wait_state(&handle, |_| true);
        assert_eq!(held.positions, later.positions, "the arm stays where it stopped");
    }

    #[test]
    fn teleop_targets_are_followed_and_the_watchdog_halts_when_they_stop() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let mut target = robot.rest_pose.clone();
        target[0] += 0.02;
        for _ in 0..10 {
            handle.send(DriverCommand::StreamTarget(target.clone())).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - target[0]).abs() < 1e-9, "reached the target");
        // A far target that stops being refreshed: the arm halts on the way.
        let mut far = robot.rest_pose.clone();
        far[0] += 1.5;
        handle.send(DriverCommand::StreamTarget(far.clone())).unwrap();
        let DriverEvent::Halted { reason } = next_event(&handle, |e| matches!(e, DriverEvent::Halted { .. })) else {
            unreachable!()
        };
        assert!(reason.contains("teleop targets stopped"), "{reason}");
        let held = wait_state(&handle, |_| true);
        assert!(held.positions[0] < far[0] - 0.5, "halted well before the far target");
        // Targets beyond a limit are refused.
        let mut beyond = robot.rest_pose.clone();
        beyond[3] = 0.5;
        handle.send(DriverCommand::StreamTarget(beyond)).unwrap();
        let DriverEvent::Refused { reason, .. } = next_event(&handle, |e| matches!(e, DriverEvent::Refused { .. }))
        else {
            unreachable!()
        };
        assert!(reason.contains("target joint 4"), "{reason}");
    }

    #[test]
    fn move_to_reaches_its_target_within_the_velocity_and_acceleration_limits() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0_f64));
        let sink = peak.clone();
        handle.set_state_tap(Some(Box::new(move |state: &JointState| {
            let mut peak = sink.lock().unwrap();
            *peak = peak.max(state.velocities[0].abs());
        })));
        let mut goal = robot.rest_pose.clone();
        goal[0] += 0.3;
        let started = Instant::now();
        handle.send(DriverCommand::MoveTo { joints: goal.clone(), speed_fraction: 0.5 }).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::MoveFinished));
        // 0.3 rad at up to half of 2.175 rad/s, with 15 rad/s² to get there: at least ~0.28 s.
        assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
        let peak = *peak.lock().unwrap();
        assert!(peak > 0.5 && peak <= 0.5 * 2.175 + 1e-6, "peak {peak}");
        let state = wait_state(&handle, |s| !s.moving);
        assert!((state.positions[0] - goal[0]).abs() < 1e-9);
    }

    #[test]
    fn unsafe_or_mismatched_plans_are_refused_before_moving() {
        let robot = panda();
        let handle = spawn_sim_arm(robot.clone(), StopSignal::new(), SimArmConfig::default(), None).unwrap();
        let mut trajectory = sweep(&robot, 0.5, 0.01);
        trajectory.joints[5][3] = 0.5; // joint 4 beyond its upper limit
        handle.send(plan(trajectory)).unwrap();
        let DriverEvent::Refused { plan: Some(1), reason } =
            next_event(&handle, |e| matches!(e, DriverEvent::Refused { .. }))
        else {
            unreachable!()
        };
        assert!(reason.contains("joint 4"), "{reason}");
        handle.send(DriverCommand::Disconnect).unwrap();
        next_event(&handle, |e| matches!(e, DriverEvent::Disconnected { .. }));
    }
}
