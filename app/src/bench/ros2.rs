//! `kinedesk bench ros2` (the ros2:// link on loopback: state latency, trajectory publish latency after Send,
//! 100 Hz set-point jitter) and `kinedesk bench rosbag` (import speed of a bag with cameras).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use kinedesk_models::StopSignal;
use kinedesk_models::driver::{DriverCommand, DriverEvent, ExecutionPlan};
use kinedesk_models::robot::{Trajectory, rm75};
use kinedesk_ros2::link::{Ros2LinkConfig, connect_ros2};
use kinedesk_ros2::msg::{CompressedImageMsg, Header, JointStateMsg, JointTrajectoryMsg, RosMessage, Time};
use kinedesk_ros2::node::{Qos, Ros2Node};

use super::{Report, Summary};

/// Result of `kinedesk bench ros2`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Ros2Bench {
    pub domain: u16,
    /// JointState header stamp (set when published) → the desk's driver has it (the state tap), ms.
    pub state_latency: Summary,
    /// `Send` (the plan handed to the driver) → the `JointTrajectory` read by the arm's subscriber, ms.
    pub trajectory_latency: Summary,
    /// Streamed set-points at 100 Hz: |interval − 10 ms| at the arm's subscriber, ms.
    pub stream_jitter: Summary,
    pub stream_messages: usize,
    pub stream_mean_interval_ms: f64,
}

impl Report for Ros2Bench {
    fn print_text(&self) {
        let s = &self.state_latency;
        println!(
            "state latency publish → desk: median {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} states)",
            s.median, s.p99, s.max, s.samples
        );
        let t = &self.trajectory_latency;
        println!(
            "trajectory Send → arm's subscriber: median {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} plans)",
            t.median, t.p99, t.max, t.samples
        );
        let j = &self.stream_jitter;
        println!(
            "100 Hz set-points: jitter median {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} messages, mean interval {:.3} ms)",
            j.median, j.p99, j.max, self.stream_messages, self.stream_mean_interval_ms
        );
    }
}

fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn stamp(ns: u64) -> Time {
    Time { sec: i32::try_from(ns / 1_000_000_000).unwrap_or(i32::MAX), nanosec: (ns % 1_000_000_000) as u32 }
}

/// An arm in this process on its own participant: JointState at 100 Hz (stamped when published); every
/// JointTrajectory it reads is kept with its arrival time, and the arm jumps to the trajectory's last point.
struct LoopbackArm {
    running: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<(Instant, JointTrajectoryMsg)>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl LoopbackArm {
    fn start(domain: u16, names: Vec<String>, start: Vec<f64>) -> anyhow::Result<Self> {
        let node = Arc::new(Ros2Node::on_domain(domain)?);
        let states = node.publish::<JointStateMsg>("/joint_states", Qos::Sensor { depth: 10 })?;
        let mut commands = node.subscribe::<JointTrajectoryMsg>(
            "/joint_trajectory_controller/joint_trajectory",
            Qos::Command { depth: 100 },
        )?;
        let running = Arc::new(AtomicBool::new(true));
        let received = Arc::new(Mutex::new(Vec::new()));
        let position = Arc::new(Mutex::new(start));
        let mut threads = Vec::new();
        {
            let (running, received, position) = (running.clone(), received.clone(), position.clone());
            threads.push(std::thread::spawn(move || {
                while running.load(Ordering::Acquire) {
                    if let Ok(Some(message)) = commands.next(Duration::from_millis(20)) {
                        let arrived = Instant::now();
                        if let (Some(last), Ok(mut q)) = (message.message.points.last(), position.lock()) {
                            q.clone_from(&last.positions);
                        }
                        if let Ok(mut all) = received.lock() {
                            all.push((arrived, message.message));
                        }
                    }
                }
                drop(commands);
            }));
        }
        {
            let (running, node) = (running.clone(), node.clone());
            threads.push(std::thread::spawn(move || {
                let _node = node;
                let mut next = Instant::now();
                while running.load(Ordering::Acquire) {
                    let q = position.lock().map(|q| q.clone()).unwrap_or_default();
                    let message = JointStateMsg {
                        header: Header { stamp: stamp(unix_ns()), frame_id: String::new() },
                        name: names.clone(),
                        velocity: vec![0.0; q.len()],
                        position: q,
                        effort: Vec::new(),
                    };
                    let _ = states.write(message);
                    super::wait_for_next_frame(&mut next, Duration::from_millis(10));
                }
                // The writer goes before its participant.
                drop(states);
            }));
        }
        Ok(Self { running, received, threads })
    }

    fn received(&self) -> Vec<(Instant, JointTrajectoryMsg)> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for LoopbackArm {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Runs the ROS 2 link against an arm on another participant of this process (loopback UDP, real RTPS).
pub fn bench_ros2(domain: u16, seconds: f64, plans: usize) -> anyhow::Result<Ros2Bench> {
    let robot = rm75();
    let names: Vec<String> = robot.joints.iter().map(|j| j.name.clone()).collect();
    let arm = LoopbackArm::start(domain, names, robot.rest_pose.clone())?;
    let config = Ros2LinkConfig { domain: Some(domain), ..Ros2LinkConfig::default() };
    let handle = connect_ros2(robot.clone(), config, StopSignal::new(), None)?;
    match handle.recv_event_timeout(Duration::from_secs(15)) {
        Some(DriverEvent::Connected { .. }) => {}
        other => bail!("the link did not connect: {other:?}"),
    }
    // State latency: every state the driver publishes, against the stamp the arm put in it (same clock).
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    {
        let latencies = latencies.clone();
        // The driver moved the header stamp onto the desk clock (`state.at`); the time it hands the state on is now.
        handle.set_state_tap(Some(Box::new(move |state| {
            let now = kinedesk_models::Timestamp::now();
            if let Ok(mut all) = latencies.lock() {
                all.push(now.saturating_since(state.at));
            }
        })));
    }
    std::thread::sleep(Duration::from_secs_f64(seconds));
    handle.set_state_tap(None);

    // Trajectory latency: small plans from where the arm is, each waited for.
    let mut sent = Vec::new();
    for id in 0..plans as u64 {
        let from = handle.latest_state().context("no state")?.positions;
        let samples = 6;
        let joints = (0..samples)
            .map(|k| {
                let s = (1.0 - (std::f64::consts::PI * k as f64 / (samples - 1) as f64).cos()) / 2.0;
                from.iter().map(|q| q + 0.002 * s * if id % 2 == 0 { 1.0 } else { -1.0 }).collect()
            })
            .collect();
        let plan = ExecutionPlan::single(Trajectory { dt_s: 0.02, joints });
        let before = arm.received().len();
        let at = Instant::now();
        handle.send(DriverCommand::ExecutePlan { id, plan })?;
        sent.push((at, before));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match handle.recv_event_timeout(Duration::from_millis(100)) {
                Some(DriverEvent::PlanFinished { id: done, .. }) if done == id => break,
                Some(DriverEvent::Refused { reason, .. } | DriverEvent::PlanFailed { reason, .. }) => bail!("{reason}"),
                _ if Instant::now() > deadline => bail!("plan {id} did not finish"),
                _ => {}
            }
        }
    }
    let received = arm.received();
    let trajectory_latency: Vec<Duration> = sent
        .iter()
        .filter_map(|(at, index)| received.get(*index).map(|(arrived, _)| arrived.saturating_duration_since(*at)))
        .collect();

    // Streaming: teleop targets at 100 Hz for 2 s, each a step the gate allows.
    let streamed_from = arm.received().len();
    let from = handle.latest_state().context("no state")?.positions;
    let mut next = Instant::now();
    for k in 0..200 {
        let target: Vec<f64> = from.iter().map(|q| q + 0.05 * f64::from(k) / 200.0).collect();
        handle.send(DriverCommand::StreamTarget(target))?;
        super::wait_for_next_frame(&mut next, Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = handle.send(DriverCommand::Disconnect);
    let streamed: Vec<Instant> = arm.received()[streamed_from..]
        .iter()
        .filter(|(_, m)| m.points.len() == 1 && (m.points[0].time_from_start.as_secs_f64() - 0.02).abs() < 1e-6)
        .map(|(at, _)| *at)
        .collect();
    let intervals: Vec<Duration> = streamed.windows(2).map(|w| w[1] - w[0]).collect();
    let period = kinedesk_ros2::link::TICK;
    let jitter: Vec<Duration> = intervals.iter().map(|i| i.abs_diff(period)).collect();
    let states = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(Ros2Bench {
        domain,
        state_latency: Summary::millis(&states).context("no states")?,
        trajectory_latency: Summary::millis(&trajectory_latency).context("no trajectories arrived")?,
        stream_jitter: Summary::millis(&jitter).context("no streamed set-points arrived")?,
        stream_messages: streamed.len(),
        stream_mean_interval_ms: intervals.iter().map(Duration::as_secs_f64).sum::<f64>()
            / intervals.len().max(1) as f64
            * 1e3,
    })
}

/// Result of `kinedesk bench rosbag`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RosbagBench {
    pub minutes: f64,
    pub cameras: usize,
    pub width: u32,
    pub height: u32,
    pub bag_mb: f64,
    pub write_s: f64,
    pub frames: usize,
    pub joint_states: usize,
    pub import_s: f64,
    pub frames_per_s: f64,
    pub mb_per_s: f64,
}

impl Report for RosbagBench {
    fn print_text(&self) {
        println!(
            "rosbag import: {:.1} min, {} cameras {}×{} JPEG at 30 fps + JointState at 100 Hz ({:.0} MB bag): {} frames \
             and {} joint states in {:.2} s = {:.0} frames/s ({:.0} MB/s)",
            self.minutes,
            self.cameras,
            self.width,
            self.height,
            self.bag_mb,
            self.frames,
            self.joint_states,
            self.import_s,
            self.frames_per_s,
            self.mb_per_s
        );
    }
}

/// Writes a bag (MCAP, zstd chunks, as rosbag2 writes them) of `minutes` with `cameras` JPEG streams at 30 fps and
/// joint states at 100 Hz, then imports it into a fresh session and times that.
pub fn bench_rosbag(minutes: f64, cameras: usize, width: u32, height: u32) -> anyhow::Result<RosbagBench> {
    let root = std::env::temp_dir().join(format!("kinedesk-bench-rosbag-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let bag = root.join("bag.mcap");
    let started = Instant::now();
    write_bag(&bag, minutes, cameras, width, height)?;
    let write_s = started.elapsed().as_secs_f64();
    let bag_bytes = std::fs::metadata(&bag)?.len();
    let started = Instant::now();
    let summary = kinedesk_ros2::rosbag::import_rosbag(
        &bag,
        &root.join("session"),
        &kinedesk_ros2::rosbag::RosbagOptions::default(),
        |_, _| {},
    )?;
    let import_s = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&root);
    Ok(RosbagBench {
        minutes,
        cameras,
        width,
        height,
        bag_mb: bag_bytes as f64 / 1e6,
        write_s,
        frames: summary.frames,
        joint_states: summary.joint_states,
        import_s,
        frames_per_s: summary.frames as f64 / import_s,
        mb_per_s: bag_bytes as f64 / 1e6 / import_s,
    })
}

fn write_bag(path: &std::path::Path, minutes: f64, cameras: usize, width: u32, height: u32) -> anyhow::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut writer = mcap::Writer::new(file)?;
    let schema = |writer: &mut mcap::Writer<_>, name: &str| writer.add_schema(name, "ros2msg", b"");
    let joint_schema = schema(&mut writer, JointStateMsg::ROS_TYPE)?;
    let image_schema = schema(&mut writer, CompressedImageMsg::ROS_TYPE)?;
    let metadata = std::collections::BTreeMap::new();
    let joints = writer.add_channel(joint_schema, "/joint_states", "cdr", &metadata)?;
    let channels: Vec<u16> = (0..cameras)
        .map(|c| writer.add_channel(image_schema, &format!("/camera_{c}/image_raw/compressed"), "cdr", &metadata))
        .collect::<Result<_, _>>()?;
    // A handful of distinct JPEG frames of the size asked for, with texture so they weigh what camera frames do.
    let jpegs: Vec<Vec<u8>> = (0..8u32)
        .map(|k| {
            let image = image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([((x * 7 + y * 3 + k * 31) % 256) as u8, ((x ^ y) % 256) as u8, ((y * 5 + k) % 256) as u8])
            });
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85).encode_image(&image).map(|()| bytes)
        })
        .collect::<Result<_, _>>()?;
    let start_ns: u64 = 1_790_000_000_000_000_000;
    let names: Vec<String> = (1..=7).map(|i| format!("joint{i}")).collect();
    let duration_ns = (minutes * 60e9) as u64;
    let mut sequence = 0u32;
    let mut t = 0u64;
    let mut next_frame = 0u64;
    while t < duration_ns {
        let log_time = start_ns + t;
        let state = JointStateMsg {
            header: Header { stamp: stamp(log_time), frame_id: String::new() },
            name: names.clone(),
            position: (0..7).map(|j| (t as f64 * 1e-9 + f64::from(j)).sin() * 0.5).collect(),
            velocity: Vec::new(),
            effort: Vec::new(),
        };
        let header = |channel_id, sequence| mcap::records::MessageHeader {
            channel_id,
            sequence,
            log_time,
            publish_time: log_time,
        };
        writer.write_to_known_channel(&header(joints, sequence), &state.to_cdr())?;
        sequence += 1;
        if t >= next_frame {
            for (c, channel) in channels.iter().enumerate() {
                let frame = (next_frame / 33_333_333) as usize;
                let image = CompressedImageMsg {
                    header: Header { stamp: stamp(log_time), frame_id: format!("camera_{c}") },
                    format: "jpeg".into(),
                    data: jpegs[(frame + c) % jpegs.len()].clone(),
                };
                writer.write_to_known_channel(&header(*channel, sequence), &image.to_cdr())?;
                sequence += 1;
            }
            next_frame += 33_333_333;
        }
        t += 10_000_000;
    }
    writer.finish()?;
    Ok(())
}
