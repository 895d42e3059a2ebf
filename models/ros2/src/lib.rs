//! `kinedesk-ros2`: ROS 2 without a ROS installation — the CDR messages ([`msg`]), a DDS participant ([`node`]),
//! the `ros2://` robot link ([`link`]), `ros2:/TOPIC` camera feeds ([`camera`]) and rosbag2 (MCAP) import ([`rosbag`]).

pub mod camera;
pub mod link;
pub mod msg;
pub mod node;
pub mod rosbag;
