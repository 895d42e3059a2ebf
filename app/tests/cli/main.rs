//! The `kinedesk` binary run as an operator or a script would run it. One test binary, one module per area.

mod commands;
mod dataset_edits;
mod datasets;
mod ros2;
mod rosbag;
mod storage;
