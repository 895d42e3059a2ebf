//! The parts of one tick: follow the driver, take a chunk from the policy, start a waiting chunk, ask for the next.

use std::time::Instant;

use super::{
    CommandSource, Decision, DriverCommand, DriverEvent, DriverHandle, Executing, ExecutionPlan, InFlight, Observation,
    Phase, ROLLOUT_PLAN_IDS, Rollout, RolloutEvent, RolloutMode, START_TOLERANCE_RAD, StopReason, check_planned,
    max_joint_offset,
};
use crate::backend::PolicyError;

impl Rollout {
    /// Lifecycle events of our plans, the executed path, and teleop during a pause.
    pub(super) fn follow_driver(&mut self, driver: &DriverHandle, events: &[DriverEvent], out: &mut Vec<RolloutEvent>) {
        for event in events {
            let executing_id = self.executing.as_ref().map(|e| e.plan_id);
            let ours = |id: &u64| executing_id == Some(*id);
            match event {
                DriverEvent::PlanStarted { id, at, .. } if ours(id) => {
                    if let Some(executing) = &mut self.executing {
                        executing.started = Some(*at);
                    }
                    if let (Some(executing), Some(finished)) = (&self.executing, self.last_finished) {
                        // On the driver's clock: from the last item of the chunk before to the first of this one.
                        let gap = at.saturating_since(finished).as_secs_f64() * 1e3;
                        self.chunks[executing.index].idle_gap_ms = Some(gap);
                    }
                }
                DriverEvent::PlanFinished { id, at } if ours(id) => {
                    self.last_finished = Some(*at);
                    if let Some(done) = self.executing.take() {
                        let chunk = &mut self.chunks[done.index];
                        chunk.executed_steps = chunk.planned_steps;
                        out.push(RolloutEvent::Finished { index: done.index, steps: chunk.executed_steps });
                        // The queued chunk has started on the same tick; the rollout ends only when nothing runs.
                        self.executing = self.queued.take();
                        if self.executing.is_some() {
                            continue;
                        }
                        let executed = self.chunks.iter().filter(|c| c.executed_steps > 0).count();
                        let policy_done = self.chunks.iter().any(|c| {
                            c.done
                                && matches!(c.decision, Decision::Approved | Decision::AutoApproved | Decision::Empty)
                        });
                        if policy_done && self.waiting.is_none() {
                            out.extend(self.stop(StopReason::Done));
                        } else if self.config.max_chunks.is_some_and(|max| executed >= max) {
                            out.extend(self.stop(StopReason::MaxChunks));
                        } else if self.out_of_time() {
                            out.extend(self.stop(StopReason::MaxTime));
                        }
                    }
                }
                DriverEvent::Stopped { plan, .. } => {
                    if let (Some(done), Some(at)) = (&self.executing, plan) {
                        self.chunks[done.index].executed_steps = at.step;
                    }
                    self.executing = None;
                    self.queued = None;
                    out.extend(self.stop(StopReason::OperatorStop));
                }
                DriverEvent::Refused { plan: Some(id), reason }
                    if self.queued.as_ref().is_some_and(|q| q.plan_id == *id) =>
                {
                    if let Some(refused) = self.queued.take() {
                        self.chunks[refused.index].decision = Decision::Refused;
                        self.chunks[refused.index].violations.push(reason.clone());
                    }
                    out.extend(
                        self.stop(StopReason::CheckFailed { violation: format!("the driver refused: {reason}") }),
                    );
                }
                DriverEvent::Refused { plan: Some(id), reason } if ours(id) => {
                    if let Some(refused) = self.executing.take() {
                        self.chunks[refused.index].decision = Decision::Refused;
                        self.chunks[refused.index].violations.push(reason.clone());
                    }
                    out.extend(
                        self.stop(StopReason::CheckFailed { violation: format!("the driver refused: {reason}") }),
                    );
                }
                DriverEvent::PlanFailed { id, at, reason } if ours(id) => {
                    if let Some(failed) = self.executing.take() {
                        self.chunks[failed.index].executed_steps = at.step;
                    }
                    // The driver drops a plan queued after one that failed.
                    self.queued = None;
                    out.extend(self.stop(StopReason::RobotError { message: reason.clone() }));
                }
                DriverEvent::Disconnected { reason } => {
                    self.executing = None;
                    self.queued = None;
                    out.extend(self.stop(StopReason::RobotError { message: format!("disconnected: {reason}") }));
                }
                DriverEvent::Halted { reason } if self.executing.is_some() => {
                    out.extend(self.stop(StopReason::RobotError { message: reason.clone() }));
                }
                _ => {}
            }
            if self.phase == super::Phase::Stopped {
                return;
            }
        }
        let Some(state) = driver.latest_state() else { return };
        if let Some(executing) = &self.executing
            && let Some(started) = executing.started
            && state.progress.is_some_and(|p| p.plan_id == executing.plan_id)
        {
            let executed = &mut self.chunks[executing.index].executed;
            if executed.last().is_none_or(|(_, q)| *q != state.positions) {
                executed.push((state.at.saturating_since(started).as_secs_f64(), state.positions.clone()));
            }
        }
        if self.phase == Phase::Paused
            && !self.intervened
            && state.commanded.as_ref().is_some_and(|c| c.source == CommandSource::Teleop)
        {
            self.intervened = true;
            self.interventions += 1;
            out.push(RolloutEvent::Intervention);
        }
    }

    fn out_of_time(&self) -> bool {
        self.config.max_time.is_some_and(|max| self.started.elapsed() >= max)
    }

    /// A reply from the policy: decoded from where the chunk will start, checked, and gated.
    pub(super) fn receive_chunk(&mut self, out: &mut Vec<RolloutEvent>) {
        let Some(request) = &self.in_flight else { return };
        let waited = request.since.elapsed();
        let reply = match self.inference.replies.try_recv() {
            Ok(reply) => reply,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                if waited > self.config.inference_timeout {
                    let waited_ms = waited.as_millis() as u64;
                    out.extend(self.stop(StopReason::Timeout { waited_ms }));
                }
                return;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => Err(PolicyError::WorkerGone),
        };
        let Some(request) = self.in_flight.take() else { return };
        let reply = match reply {
            Ok(reply) => reply,
            Err(PolicyError::Timeout(after)) => {
                out.extend(self.stop(StopReason::Timeout { waited_ms: after.as_millis() as u64 }));
                return;
            }
            Err(error) => {
                out.extend(self.stop(StopReason::ServerError { message: error.to_string() }));
                return;
            }
        };
        let index = self.chunks.len();
        let chunk = reply.chunk;
        let mut record = super::ChunkRecord {
            index,
            inference_ms: chunk.inference.as_secs_f64() * 1e3,
            ok: reply.violations.is_empty(),
            violations: reply.violations,
            outside_envelope: reply.outside_envelope,
            decision: Decision::Pending,
            planned_steps: reply.steps,
            executed_steps: 0,
            instruction_level: chunk.instruction_level,
            action_level: chunk.action_level,
            tokens: chunk.tokens,
            notes: chunk.notes,
            done: chunk.done,
            idle_gap_ms: None,
            after_intervention: self.interventions > 0 && self.intervened,
            plan_id: None,
            planned: reply.planned,
            executed: Vec::new(),
        };
        if request.stale || self.phase == Phase::Paused {
            record.decision = Decision::Discarded;
            record.notes.push("asked before a pause; not used".into());
            self.chunks.push(record);
            return;
        }
        if reply.steps == 0 {
            record.decision = Decision::Empty;
            let done = record.done;
            self.chunks.push(record);
            if !done {
                out.extend(self.stop(StopReason::ServerError { message: "the policy sent no actions".into() }));
            } else if self.executing.is_none() {
                out.extend(self.stop(StopReason::Done));
            }
            // Otherwise the chunk executing is the last: the rollout ends when it has.
            return;
        }
        let first_violation = record.violations.first().cloned();
        self.chunks.push(record);
        out.push(RolloutEvent::Proposed(index));
        if let Some(violation) = first_violation {
            self.chunks[index].decision = Decision::Refused;
            out.extend(self.stop(StopReason::CheckFailed { violation }));
            return;
        }
        self.waiting = Some(index);
        if self.config.mode == RolloutMode::Supervised {
            if self.chunks[index].outside_envelope.is_empty() {
                self.chunks[index].decision = Decision::AutoApproved;
            } else {
                let why = format!("chunk {index} leaves the envelope: {}", self.chunks[index].outside_envelope[0]);
                out.push(self.pause_with(why));
            }
        }
    }

    /// Where the arm is now, and its gripper as a command (−1 open, +1 closed).
    fn arm_now(&self, driver: &DriverHandle) -> Option<(Vec<f64>, f64)> {
        driver.latest_state().map(|s| (s.positions, if s.gripper < 0.5 { 1.0 } else { -1.0 }))
    }

    /// Sends the approved waiting chunk once the arm is free, or, to a driver that queues plans, while the chunk
    /// before it runs (it was decoded from where that one ends), to start on the tick it ends.
    pub(super) fn start_waiting_chunk(&mut self, driver: &DriverHandle, out: &mut Vec<RolloutEvent>) {
        let Some(index) = self.waiting else { return };
        let approved = matches!(self.chunks[index].decision, Decision::Approved | Decision::AutoApproved);
        if !approved || self.phase != Phase::Running {
            return;
        }
        let after = match &self.executing {
            None => None,
            Some(running) if driver.queues_plans && self.queued.is_none() => Some(running.plan_id),
            Some(_) => return,
        };
        if self.out_of_time() {
            self.chunks[index].decision = Decision::Discarded;
            self.waiting = None;
            if self.executing.is_none() {
                out.extend(self.stop(StopReason::MaxTime));
            }
            return;
        }
        let mut first_sample = None;
        if after.is_none() {
            // The chunk was decoded from where the one before was to end; if the arm is elsewhere, it is decoded
            // again from where it is (and checked again) rather than jumping.
            let Some((joints, gripper)) = self.arm_now(driver) else { return };
            let start = self.chunks[index].planned.joints.first().cloned().unwrap_or_default();
            if max_joint_offset(&start, &joints) > START_TOLERANCE_RAD / 2.0 {
                let redecoded = self.redecode(index, &joints, gripper);
                if let Err(violation) = redecoded {
                    self.chunks[index].decision = Decision::Refused;
                    self.waiting = None;
                    out.extend(self.stop(StopReason::CheckFailed { violation }));
                    return;
                }
            }
            first_sample = Some(joints);
        }
        let chunk = &mut self.chunks[index];
        let plan_id = ROLLOUT_PLAN_IDS + index as u64;
        let plan = ExecutionPlan::with_gripper_changes(&chunk.planned.trajectory(), &chunk.planned.gripper);
        if self.stop_generation.is_some_and(|seen| seen != driver.stop.generation()) {
            self.executing = None;
            self.queued = None;
            out.extend(self.stop(StopReason::OperatorStop));
            return;
        }
        let command = match after {
            Some(after) => DriverCommand::QueuePlan { id: plan_id, after, plan },
            None => DriverCommand::ExecutePlan { id: plan_id, plan },
        };
        if let Err(error) = driver.send(command) {
            out.extend(self.stop(StopReason::RobotError { message: format!("cannot send the chunk: {error}") }));
            return;
        }
        chunk.plan_id = Some(plan_id);
        if let Some(joints) = first_sample {
            chunk.executed.push((0.0, joints));
        }
        self.waiting = None;
        let record = Executing { index, plan_id, asked_next: false, started: None };
        if after.is_some() {
            self.queued = Some(record);
        } else {
            self.executing = Some(record);
        }
        out.push(RolloutEvent::Started { index, plan_id });
    }

    /// The chunk's motion decoded again from `joints`: only the path changes, never the decision.
    fn redecode(&mut self, index: usize, joints: &[f64], gripper: f64) -> Result<(), String> {
        let chunk = &self.chunks[index];
        // The actions are not kept; the decoded path is shifted: its steps are replayed from the new start.
        let steps: Vec<Vec<f64>> =
            chunk.planned.joints.windows(2).map(|w| w[1].iter().zip(&w[0]).map(|(b, a)| b - a).collect()).collect();
        let mut path = vec![joints.to_vec()];
        for delta in &steps {
            let last = path.last().cloned().unwrap_or_default();
            path.push(last.iter().zip(delta).map(|(q, d)| q + d).collect());
        }
        let mut commands = chunk.planned.gripper.clone();
        if let Some(first) = commands.first_mut() {
            *first = gripper;
        }
        let planned = crate::trajectory::planned_from_joints(&self.robot, chunk.planned.dt_s, &path, &commands)
            .map_err(|e| e.to_string())?;
        let report = check_planned(&self.robot, &planned, &self.limits);
        if let Some(first) = report.violations.first() {
            return Err(format!("after the arm moved, chunk {index}: {}", first.message));
        }
        self.chunks[index].planned = planned;
        self.chunks[index].notes.push("shifted to where the arm was when it started".into());
        Ok(())
    }

    /// Asks for the next chunk: at once when nothing runs, or `ask_after_steps` into the chunk executing.
    pub(super) fn ask_for_next(&mut self, driver: &DriverHandle, out: &mut Vec<RolloutEvent>) {
        if self.phase != Phase::Running || self.in_flight.is_some() || self.waiting.is_some() {
            return;
        }
        if self.chunks.last().is_some_and(|c| c.done && c.decision != Decision::Discarded) || self.out_of_time() {
            if self.executing.is_none() && self.out_of_time() {
                out.extend(self.stop(StopReason::MaxTime));
            }
            return;
        }
        let started = self.chunks.iter().filter(|c| c.plan_id.is_some()).count();
        if self.config.max_chunks.is_some_and(|max| started >= max) {
            return;
        }
        let Some(state) = driver.latest_state() else { return };
        let here = (state.positions.clone(), if state.gripper < 0.5 { 1.0 } else { -1.0 });
        let (start, skip) = match &mut self.executing {
            None => (here, 0),
            Some(executing) => {
                let ask_after = self.config.ask_after_steps;
                let step = state.progress.filter(|p| p.plan_id == executing.plan_id).map_or(0, |p| p.step);
                if executing.asked_next || ask_after.is_none_or(|k| step < k) {
                    return;
                }
                executing.asked_next = true;
                let chunk = &self.chunks[executing.index];
                let end = chunk.planned.joints.last().cloned().unwrap_or_default();
                ((end, chunk.planned.gripper.last().copied().unwrap_or(-1.0)), chunk.planned_steps.saturating_sub(step))
            }
        };
        let observation = Observation {
            instruction: self.config.instruction.clone(),
            robot: self.robot.clone(),
            robot_kind: self.robot_kind.clone(),
            joints: state.positions.clone(),
            gripper_opening: state.gripper,
            // Taken on the inference thread as the request arrives there.
            images: Vec::new(),
        };
        if self.inference.requests.send(super::Request { observation, start, skip }).is_err() {
            out.extend(self.stop(StopReason::ServerError { message: "the policy thread has ended".into() }));
            return;
        }
        self.in_flight = Some(InFlight { since: Instant::now(), stale: false });
    }
}
