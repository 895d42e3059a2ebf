//! `kinedesk ros2 state|topics`: what a ROS 2 domain offers, seen through the desk's own participant.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use kinedesk_ros2::msg::JointStateMsg;
use kinedesk_ros2::node::{Qos, Ros2Node};

#[derive(Debug, Subcommand)]
pub enum Ros2Command {
    /// Print the latest joint state once one arrives: `{"names":[…],"positions":[…],"stamp_s":…}` with --json.
    State {
        #[arg(long, default_value = kinedesk_ros2::link::DEFAULT_STATE_TOPIC, value_name = "TOPIC")]
        joint_states: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long)]
        json: bool,
    },
    /// List the topics discovered on the domain, with their types.
    Topics {
        /// How long to listen for discovery.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: Ros2Command) -> anyhow::Result<()> {
    let node = Ros2Node::new()?;
    let mut out = std::io::stdout();
    match command {
        Ros2Command::State { joint_states, timeout, json } => {
            let mut states = node.subscribe::<JointStateMsg>(&joint_states, Qos::Sensor { depth: 10 })?;
            let received = states.next(Duration::from_secs_f64(timeout.max(0.0)))?.with_context(|| {
                format!(
                    "no sensor_msgs/JointState on {joint_states} within {timeout} s (ROS_DOMAIN_ID={}; see \
                     docs/ros2.md for discovery without multicast)",
                    node.domain()
                )
            })?;
            let message = received.message;
            if json {
                let value = serde_json::json!({
                    "names": message.name,
                    "positions": message.position,
                    "velocities": message.velocity,
                    "stamp_s": message.header.stamp.as_secs_f64(),
                });
                let _ = writeln!(out, "{value}");
            } else {
                let _ = writeln!(out, "{joint_states} at {:.6} s:", message.header.stamp.as_secs_f64());
                for (name, position) in message.name.iter().zip(&message.position) {
                    let _ = writeln!(out, "  {name:<24} {position:>10.5} rad ({:>8.2}°)", position.to_degrees());
                }
            }
        }
        Ros2Command::Topics { seconds, json } => {
            let started = Instant::now();
            while started.elapsed().as_secs_f64() < seconds {
                std::thread::sleep(Duration::from_millis(100));
            }
            let topics = node.discovered();
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string(&topics)?);
            } else if topics.is_empty() {
                let _ = writeln!(out, "no topics discovered on domain {} in {seconds} s", node.domain());
            } else {
                for topic in topics {
                    let _ = writeln!(
                        out,
                        "{:<48} {:<40} {} pub, {} sub",
                        topic.topic, topic.r#type, topic.publishers, topic.subscribers
                    );
                }
            }
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct RosbagArgs {
    /// The bag: a rosbag2 folder (metadata.yaml and .mcap files) or one .mcap file.
    pub bag: std::path::PathBuf,
    /// The session folder to add the episode to (created if needed).
    pub session: std::path::PathBuf,
    /// The sensor_msgs/JointState topic (default: the only one in the bag).
    #[arg(long, value_name = "TOPIC")]
    pub joint_states: Option<String>,
    /// An image topic (sensor_msgs/Image or CompressedImage) to import as a camera; repeat for several (default:
    /// every image topic).
    #[arg(long = "camera", value_name = "TOPIC")]
    pub cameras: Vec<String>,
    /// The episode's instruction.
    #[arg(long, default_value = "")]
    pub task: String,
    #[arg(long)]
    pub json: bool,
}

/// `kinedesk import rosbag`.
pub fn run_import_rosbag(args: &RosbagArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar = crate::cli::session::progress_bar("importing", "MB");
    let options = kinedesk_ros2::rosbag::RosbagOptions {
        joint_states: args.joint_states.clone(),
        cameras: args.cameras.clone(),
        task: args.task.clone(),
    };
    let summary = kinedesk_ros2::rosbag::import_rosbag(&args.bag, &args.session, &options, |done, total| {
        bar.set_length(total >> 20);
        bar.set_position(done >> 20);
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout();
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        value["seconds"] = serde_json::json!(seconds);
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value)?);
    } else {
        let cameras: Vec<String> = summary
            .cameras
            .iter()
            .map(|c| format!("{} {} frames {}×{}", c.topic, c.frames, c.width, c.height))
            .collect();
        let _ = writeln!(
            out,
            "imported {:.1} s of {}: {} joint states ({}), {} frames ({}) at {} fps into {} in {seconds:.2} s \
             ({:.0} frames/s)",
            summary.duration_s,
            args.bag.display(),
            summary.joint_states,
            summary.joint_topic.as_deref().unwrap_or("none"),
            summary.frames,
            if cameras.is_empty() { "no cameras".to_owned() } else { cameras.join("; ") },
            summary.fps,
            summary.episode.display(),
            summary.frames as f64 / seconds.max(1e-9)
        );
        if !summary.skipped_topics.is_empty() {
            let skipped: Vec<String> =
                summary.skipped_topics.iter().map(|t| format!("{} ({}, {})", t.topic, t.r#type, t.messages)).collect();
            let _ = writeln!(out, "not imported: {}", skipped.join(", "));
        }
        if summary.joint_states_incomplete > 0 {
            let _ = writeln!(
                out,
                "{} JointState messages lacked a joint of the first one and were left out",
                summary.joint_states_incomplete
            );
        }
        let _ = writeln!(out, "not in the bag, so not recorded: commanded actions, {}", summary.unmeasured.join(", "));
    }
    Ok(())
}
