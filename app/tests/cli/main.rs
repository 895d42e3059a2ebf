//! The `kinedesk` binary run as an operator or a script would run it. One test binary, one module per area.

mod commands;
mod dataset_edits;
mod datasets;
mod ros2;
mod rosbag;
mod storage;

/// The ROS 2 peers of `models/ros2/tests` (the Cyclone DDS arm, the Python with a module), shared with them.
#[path = "../../../models/ros2/tests/peer/mod.rs"]
mod ros2_peers;
