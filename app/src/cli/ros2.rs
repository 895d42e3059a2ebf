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
