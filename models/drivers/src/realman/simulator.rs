//! A simulated Realman controller: accepts the JSON commands on a TCP port and answers like the real one, driving a
//! simulated arm. Faults can be injected to test clients: dropping the connection, delaying replies, answering a
//! command with an error code, or sending garbage.
//!
//! Like the controller it serves one client at a time; a client that has sent nothing for [`HANDOVER_IDLE`] gives
//! way to a new one, and one silent for [`CLIENT_IDLE_TIMEOUT`] is dropped, so an idle connection cannot lock others
//! out. A client that connects while an active one is served is told so and closed.

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use glam::EulerRot;
use serde_json::{Value, json};

use super::protocol::{
    CANFD_MAX_SPEED_DEG_S, CANFD_MAX_STEP_DEG, LineBuffer, euler_to_wire, joint_from_wire, joint_to_wire,
    position_to_wire,
};
use kinedesk_core::robot::{Robot, fk};

/// Faults to inject.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Close the connection after this many commands.
    pub drop_after_commands: Option<usize>,
    /// Answer with a non-JSON line after this many commands.
    pub garbage_after_commands: Option<usize>,
    /// Wait this long before every reply.
    pub reply_delay: Duration,
    /// Answer this command with this error code (e.g. `("movej_canfd", 0x1002)`).
    pub error_on: Option<(String, i64)>,
}

/// A client silent this long gives way to a new client that connects.
pub const HANDOVER_IDLE: Duration = Duration::from_secs(1);
/// A client silent this long is disconnected.
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Arrival times kept for jitter measurements (the newest; memory stays bounded however long a stream runs).
pub const ARRIVALS_KEPT: usize = 10_000;

/// What the simulator saw (for tests and benchmarks).
#[derive(Clone, Debug, Default)]
pub struct SimulatorStats {
    pub commands: usize,
    /// `movej_canfd` frames received in all.
    pub canfd_frames: u64,
    /// Arrival times of the last [`ARRIVALS_KEPT`] `movej_canfd` frames, to measure streaming jitter.
    pub canfd_arrivals: VecDeque<Instant>,
    /// `movej_canfd` frames ignored for breaking the 10°/frame or 180°/s rule.
    pub canfd_ignored: usize,
    pub stops: usize,
    pub connections: usize,
    /// Clients turned away because another (active) client was being served.
    pub turned_away: usize,
    /// Clients disconnected for being silent (or for giving way to a new client).
    pub idle_disconnects: usize,
}

/// A running simulated controller.
pub struct RealmanSimulator {
    address: SocketAddr,
    shutdown: Arc<AtomicBool>,
    faults: Arc<Mutex<Faults>>,
    stats: Arc<Mutex<SimulatorStats>>,
    join: Option<JoinHandle<()>>,
}

impl RealmanSimulator {
    /// Listens on `listen` (e.g. `127.0.0.1:0` for any free port) and serves one client at a time.
    pub fn start(listen: &str, robot: Robot, faults: Faults) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(Mutex::new(faults));
        let stats = Arc::new(Mutex::new(SimulatorStats::default()));
        let mut controller = Controller {
            q: robot.rest_pose.clone(),
            robot,
            target: None,
            last_canfd: None,
            faults: faults.clone(),
            stats: stats.clone(),
        };
        let stop = shutdown.clone();
        let join = std::thread::Builder::new().name("realman-sim".into()).spawn(move || {
            let mut next = None;
            while !stop.load(Ordering::Acquire) {
                let stream = match next.take() {
                    Some(stream) => stream,
                    None => match listener.accept() {
                        Ok((stream, _)) => stream,
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                    },
                };
                controller.stats().connections += 1;
                next = controller.serve(stream, &listener, &stop);
            }
        })?;
        Ok(Self { address, shutdown, faults, stats, join: Some(join) })
    }

    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Changes the injected faults while running.
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    #[must_use]
    pub fn stats(&self) -> SimulatorStats {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops serving and waits for the thread.
    pub fn shutdown(mut self) {
        self.shutdown.store(true, Ordering::Release);
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for RealmanSimulator {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Release);
    }
}

struct Controller {
    robot: Robot,
    q: Vec<f64>,
    /// A `movej` in progress: target and speed (rad/s).
    target: Option<(Vec<f64>, f64)>,
    last_canfd: Option<Instant>,
    faults: Arc<Mutex<Faults>>,
    stats: Arc<Mutex<SimulatorStats>>,
}

const TICK: Duration = Duration::from_millis(2);

impl Controller {
    fn stats(&self) -> std::sync::MutexGuard<'_, SimulatorStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Serves `stream` until it closes, goes silent, or gives way to a new client (returned, to be served next).
    fn serve(&mut self, mut stream: TcpStream, listener: &TcpListener, shutdown: &AtomicBool) -> Option<TcpStream> {
        let _ = stream.set_nodelay(true);
        if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(TICK)).is_err() {
            return None;
        }
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let mut lines = LineBuffer::default();
        let mut buffer = [0_u8; 4096];
        let mut last_tick = Instant::now();
        let mut last_heard = Instant::now();
        while !shutdown.load(Ordering::Acquire) {
            match stream.read(&mut buffer) {
                Ok(0) => return None,
                Ok(n) => {
                    last_heard = Instant::now();
                    let Ok(received) = lines.push(&buffer[..n]) else { return None };
                    for line in received {
                        if !self.answer(&mut stream, &line) {
                            return None;
                        }
                    }
                }
                Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                }
                Err(_) => return None,
            }
            let silent = last_heard.elapsed();
            if silent > CLIENT_IDLE_TIMEOUT {
                self.stats().idle_disconnects += 1;
                return None;
            }
            if let Ok((mut newcomer, _)) = listener.accept() {
                if silent > HANDOVER_IDLE {
                    self.stats().idle_disconnects += 1;
                    return Some(newcomer);
                }
                self.stats().turned_away += 1;
                let _ = newcomer.set_nonblocking(true);
                let _ = write_line(
                    &mut newcomer,
                    &json!({"command": "connect", "set_state": false, "err": 1, "message": "another client is connected"}),
                );
            }
            let now = Instant::now();
            let dt = now.duration_since(last_tick).as_secs_f64();
            last_tick = now;
            if self.advance_movej(dt) && write_line(&mut stream, &json!({"state": "current_trajectory_state", "trajectory_state": true, "device": 0, "trajectory_connect": 0})).is_err() {
                return None;
            }
        }
        None
    }

    /// Moves toward a `movej` target; returns true when it was just reached.
    fn advance_movej(&mut self, dt: f64) -> bool {
        let Some((target, speed)) = &self.target else { return false };
        let step = speed * dt;
        let mut arrived = true;
        for (q, t) in self.q.iter_mut().zip(target) {
            let delta = (t - *q).clamp(-step, step);
            *q += delta;
            arrived &= (t - *q).abs() < 1e-9;
        }
        if arrived {
            self.target = None;
        }
        arrived
    }

    fn state_json(&self, err: i64) -> Value {
        let pose = fk(&self.robot, &self.q).ok();
        let pose_wire: Vec<i64> = pose.map_or_else(
            || vec![0; 6],
            |pose| {
                let (rz, ry, rx) = pose.rotation.to_euler(EulerRot::ZYX);
                let p = pose.position_m;
                vec![
                    position_to_wire(p.x),
                    position_to_wire(p.y),
                    position_to_wire(p.z),
                    euler_to_wire(rx),
                    euler_to_wire(ry),
                    euler_to_wire(rz),
                ]
            },
        );
        let joints: Vec<i64> = self.q.iter().map(|v| joint_to_wire(*v)).collect();
        json!({"state": "current_arm_state", "arm_state": {"joint": joints, "pose": pose_wire, "err": err}})
    }

    /// Answers one command line; returns false to drop the connection.
    fn answer(&mut self, stream: &mut TcpStream, line: &str) -> bool {
        let faults = self.faults();
        let count = {
            let mut stats = self.stats();
            stats.commands += 1;
            stats.commands
        };
        if faults.drop_after_commands.is_some_and(|n| count > n) {
            return false;
        }
        if !faults.reply_delay.is_zero() {
            std::thread::sleep(faults.reply_delay);
        }
        if faults.garbage_after_commands.is_some_and(|n| count > n) {
            return stream.write_all(b"\x07garbage}{ not json\r\n").is_ok();
        }
        let Ok(request) = serde_json::from_str::<Value>(line) else {
            return write_line(stream, &json!({"command": "unknown", "set_state": false, "err": 1})).is_ok();
        };
        let command = request.get("command").and_then(Value::as_str).unwrap_or_default().to_owned();
        let injected = faults.error_on.as_ref().filter(|(name, _)| *name == command).map(|(_, code)| *code);
        let joints = || -> Option<Vec<f64>> {
            let wire: Option<Vec<i64>> = request.get("joint")?.as_array()?.iter().map(Value::as_i64).collect();
            wire.filter(|j| j.len() == self.q.len()).map(|j| j.into_iter().map(joint_from_wire).collect())
        };
        let reply = match command.as_str() {
            "get_current_arm_state" => self.state_json(injected.unwrap_or(0)),
            "movej" => match (joints(), injected) {
                (_, Some(code)) => json!({"command": "movej", "receive_state": false, "err": code}),
                (Some(target), None) if self.within_limits(&target) => {
                    let percent = request.get("v").and_then(Value::as_f64).unwrap_or(20.0).clamp(1.0, 100.0);
                    self.target = Some((target, CANFD_MAX_SPEED_DEG_S.to_radians() * percent / 100.0));
                    json!({"command": "movej", "receive_state": true})
                }
                _ => json!({"command": "movej", "receive_state": false, "err": 0x1002}),
            },
            "movej_canfd" => {
                let now = Instant::now();
                {
                    let mut stats = self.stats();
                    stats.canfd_frames += 1;
                    if stats.canfd_arrivals.len() == ARRIVALS_KEPT {
                        stats.canfd_arrivals.pop_front();
                    }
                    stats.canfd_arrivals.push_back(now);
                }
                if let Some(code) = injected {
                    json!({"state": "joint_state", "joint": self.q.iter().map(|v| joint_to_wire(*v)).collect::<Vec<_>>(), "arm_err": code})
                } else {
                    if let Some(target) = joints().filter(|t| self.within_limits(t)) {
                        let elapsed = self.last_canfd.map_or(f64::INFINITY, |t| now.duration_since(t).as_secs_f64());
                        let step_ok =
                            target.iter().zip(&self.q).all(|(t, q)| (t - q).abs().to_degrees() <= CANFD_MAX_STEP_DEG);
                        // The speed rule applies between consecutive frames of a stream (not to the first one).
                        let speed_ok = elapsed > 0.1
                            || target
                                .iter()
                                .zip(&self.q)
                                .all(|(t, q)| (t - q).abs().to_degrees() / elapsed.max(1e-3) <= CANFD_MAX_SPEED_DEG_S);
                        if step_ok && speed_ok {
                            self.target = None;
                            self.q = target;
                        } else {
                            self.stats().canfd_ignored += 1;
                        }
                    } else {
                        self.stats().canfd_ignored += 1;
                    }
                    self.last_canfd = Some(now);
                    json!({"state": "joint_state", "joint": self.q.iter().map(|v| joint_to_wire(*v)).collect::<Vec<_>>(), "arm_err": 0})
                }
            }
            "set_arm_stop" | "set_arm_slow_stop" | "set_arm_emergency_stop" | "set_arm_pause" => {
                self.target = None;
                self.stats().stops += 1;
                json!({"command": command, "set_state": true})
            }
            "set_arm_continue" | "set_gripper_position" | "set_gripper_release" => match injected {
                Some(code) => json!({"command": command, "set_state": false, "err": code}),
                None => json!({"command": command, "set_state": true}),
            },
            _ => json!({"command": command, "set_state": false, "err": 1}),
        };
        write_line(stream, &reply).is_ok()
    }

    fn within_limits(&self, q: &[f64]) -> bool {
        q.iter().zip(&self.robot.joints).all(|(v, j)| j.limits.contains(*v))
    }
}

fn write_line(stream: &mut TcpStream, value: &Value) -> std::io::Result<()> {
    stream.write_all(format!("{value}\r\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::protocol::{Reply, Request, parse_reply};
    use super::*;
    use kinedesk_core::robot::rm75;
    use std::io::{BufRead, BufReader};

    fn ask(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, request: &Request) -> Reply {
        stream.write_all(request.to_line().as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        parse_reply(line.trim()).unwrap()
    }

    #[test]
    fn the_simulator_answers_like_the_controller() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let mut stream = TcpStream::connect(simulator.address()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let Reply::State { joints, err: 0 } = ask(&mut stream, &mut reader, &Request::GetState) else { panic!() };
        assert!(joints.iter().zip(&robot.rest_pose).all(|(a, b)| (a - b).abs() < 1e-4));

        // A small canfd step is followed; a 20° jump is ignored.
        let mut small = robot.rest_pose.clone();
        small[0] += 0.01;
        let Reply::State { joints, .. } = ask(&mut stream, &mut reader, &Request::MoveJCanfd { joints: small.clone() })
        else {
            panic!()
        };
        assert!((joints[0] - small[0]).abs() < 1e-4);
        let mut jump = small.clone();
        jump[0] += 20f64.to_radians();
        let Reply::State { joints, .. } = ask(&mut stream, &mut reader, &Request::MoveJCanfd { joints: jump }) else {
            panic!()
        };
        assert!((joints[0] - small[0]).abs() < 1e-4, "the jump was ignored");
        assert_eq!(simulator.stats().canfd_ignored, 1);

        // movej beyond a limit is refused with 0x1002.
        let mut beyond = robot.rest_pose.clone();
        beyond[1] = 3.0;
        assert_eq!(
            ask(&mut stream, &mut reader, &Request::MoveJ { joints: beyond, speed_percent: 50 }),
            Reply::Ack { command: "movej".into(), ok: false, err: 0x1002 }
        );
        // A reachable movej is acknowledged, then reported done.
        let mut goal = small.clone();
        goal[2] += 0.05;
        assert_eq!(
            ask(&mut stream, &mut reader, &Request::MoveJ { joints: goal, speed_percent: 100 }),
            Reply::Ack { command: "movej".into(), ok: true, err: 0 }
        );
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(parse_reply(line.trim()).unwrap(), Reply::TrajectoryDone { ok: true });
        assert_eq!(
            ask(&mut stream, &mut reader, &Request::Stop),
            Reply::Ack { command: "set_arm_stop".into(), ok: true, err: 0 }
        );
        simulator.shutdown();
    }

    #[test]
    fn an_idle_client_gives_way_and_an_active_one_is_not_interrupted() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot, Faults::default()).unwrap();
        // A client that connects and says nothing.
        let _idle = TcpStream::connect(simulator.address()).unwrap();
        std::thread::sleep(HANDOVER_IDLE + Duration::from_millis(200));
        // A new client is served all the same.
        let mut stream = TcpStream::connect(simulator.address()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert!(matches!(ask(&mut stream, &mut reader, &Request::GetState), Reply::State { err: 0, .. }));
        assert_eq!(simulator.stats().idle_disconnects, 1);
        // While it is active, a third is told another client is connected, and closed.
        let mut third = TcpStream::connect(simulator.address()).unwrap();
        for _ in 0..20 {
            assert!(matches!(ask(&mut stream, &mut reader, &Request::GetState), Reply::State { err: 0, .. }));
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut answer = String::new();
        third.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = third.read_to_string(&mut answer);
        assert!(answer.contains("another client is connected"), "{answer:?}");
        assert_eq!(simulator.stats().turned_away, 1);
        simulator.shutdown();
    }

    #[test]
    fn a_long_stream_keeps_a_bounded_record_of_arrivals() {
        let robot = rm75();
        let simulator = RealmanSimulator::start("127.0.0.1:0", robot.clone(), Faults::default()).unwrap();
        let mut stream = TcpStream::connect(simulator.address()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let frames = ARRIVALS_KEPT + 500;
        for _ in 0..frames {
            ask(&mut stream, &mut reader, &Request::MoveJCanfd { joints: robot.rest_pose.clone() });
        }
        let stats = simulator.stats();
        assert_eq!(stats.canfd_frames, frames as u64);
        assert_eq!(stats.canfd_arrivals.len(), ARRIVALS_KEPT);
        simulator.shutdown();
    }
}
