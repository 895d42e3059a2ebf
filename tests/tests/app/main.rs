//! Whole-app tests: the real desk driven by its accessibility labels (egui_kittest), and the runtime without a
//! window. One test binary (each links the whole app), one module per area.

mod arm_and_trajectories;
mod cameras;
mod plan_flow;
mod robot_link;
mod rollout;
mod runtime;
mod sessions;
mod shell;

/// The ROS 2 peers of `models/ros2/tests` (the Cyclone DDS arm, the Python with `rosbags`), shared with them.
#[path = "../../../models/ros2/tests/peer/mod.rs"]
mod ros2_peers;
