//! `bench stop`, `bench stream`, `bench teleop`: the robot link's latencies and jitter.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use egui::Event;

use super::{Report, Summary};
use crate::gui::app::{AppOptions, KineDeskApp};

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
    use kinedesk_models::driver::{DriverCommand, ExecutionPlan};
    use kinedesk_models::robot::{Trajectory, panda};
    use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};

    let robot = panda();
    let stop = kinedesk_models::StopSignal::new();
    let config = SimArmConfig { rate_hz, ..SimArmConfig::default() };
    let handle = spawn_sim_arm(robot.clone(), stop.clone(), config, None)?;
    // The driver's state tap reports, on the receiving thread, when the arm is at rest (and how far a plan got).
    let (rest_tx, rest_rx) = std::sync::mpsc::channel::<(Instant, Vec<f64>)>();
    let (moving_tx, moving_rx) = std::sync::mpsc::channel::<usize>();
    handle.set_state_tap(Some(Box::new(move |state| {
        if state.moving {
            if let Some(progress) = state.progress {
                let _ = moving_tx.send(progress.step);
            }
        } else {
            let _ = rest_tx.send((Instant::now(), state.positions.clone()));
        }
    })));
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
        let plan = ExecutionPlan::single(Trajectory { dt_s: 0.01, joints });
        handle.send(DriverCommand::ExecutePlan { id: run as u64, plan })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match moving_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(step) if step >= 5 => break,
                _ if Instant::now() > deadline => bail!("the simulated arm did not start moving within 10 s"),
                _ => {}
            }
        }
        while rest_rx.try_recv().is_ok() {}
        let started = Instant::now();
        stop.trigger(StopReason::Api);
        let (at_rest, positions) =
            rest_rx.recv_timeout(Duration::from_secs(10)).context("the arm did not come to rest within 10 s")?;
        latencies.push(at_rest.saturating_duration_since(started));
        q = positions;
        while moving_rx.try_recv().is_ok() {}
    }
    let _ = handle.send(DriverCommand::Disconnect);
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
    use kinedesk_models::driver::{DriverCommand, DriverEvent, ExecutionPlan};
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
    let deadline = Instant::now() + Duration::from_secs_f64(seconds + 10.0);
    handle.wait_for_state(Duration::from_secs(10), |_| true).context("the controller sent no state")?;
    handle
        .send(DriverCommand::ExecutePlan { id: 1, plan: ExecutionPlan::single(Trajectory { dt_s: 0.05, joints }) })?;
    loop {
        if Instant::now() > deadline {
            bail!("the stream did not finish in time");
        }
        match handle.recv_event_timeout(Duration::from_millis(100)) {
            Some(DriverEvent::PlanFinished { .. }) => break,
            Some(
                DriverEvent::Refused { reason, .. }
                | DriverEvent::PlanFailed { reason, .. }
                | DriverEvent::Disconnected { reason },
            ) => bail!("{reason}"),
            _ => {}
        }
    }
    let _ = handle.send(DriverCommand::Disconnect);
    let stats = simulator.stats();
    let arrivals: Vec<_> = stats.canfd_arrivals.iter().copied().collect();
    let intervals: Vec<Duration> = arrivals.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let period = Duration::from_secs_f64(CANFD_PERIOD_S);
    let jitter: Vec<Duration> = intervals.iter().map(|interval| interval.abs_diff(period)).collect();
    let mean_interval_ms =
        intervals.iter().map(Duration::as_secs_f64).sum::<f64>() / intervals.len().max(1) as f64 * 1e3;
    Ok(StreamBench {
        frames: arrivals.len(),
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
    use crate::gui::command::Command;
    use egui::{Key, Modifiers};

    let ctx = egui::Context::default();
    let mut app = KineDeskApp::from_parts(&ctx, None, None, AppOptions::default());
    let frame_period = Duration::from_secs_f64(1.0 / frame_rate_hz.clamp(1.0, 1000.0));
    let started = Instant::now();
    let frame = |app: &mut KineDeskApp, events: Vec<Event>| {
        super::app_frame(&ctx, app, started, events);
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

impl Report for StopBench {
    fn print_text(&self) {
        let s = &self.stop_to_rest;
        println!("Simulated arm at {} Hz, stop signal to arm at rest, {} stops:", self.rate_hz, s.samples);
        println!("  median {:.0} us   p95 {:.0} us   p99 {:.0} us   max {:.0} us", s.median, s.p95, s.p99, s.max);
    }
}

impl Report for StreamBench {
    fn print_text(&self) {
        let j = &self.jitter;
        println!(
            "Streamed {} frames at {} ms over loopback (mean interval {:.3} ms, {} ignored by the controller):",
            self.frames, self.period_ms, self.mean_interval_ms, self.ignored_frames
        );
        println!(
            "  period jitter median {:.3} ms   p95 {:.3} ms   p99 {:.3} ms   max {:.3} ms",
            j.median, j.p95, j.p99, j.max
        );
    }
}

impl Report for TeleopBench {
    fn print_text(&self) {
        let s = &self.key_to_arm_view;
        println!("Teleop key to arm view, UI at {} Hz, {} key presses:", self.frame_rate_hz, s.samples);
        println!("  median {:.1} ms   p95 {:.1} ms   max {:.1} ms", s.median, s.p95, s.max);
    }
}
