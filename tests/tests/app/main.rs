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
