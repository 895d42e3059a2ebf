//! Helpers the driver tests share.

use std::time::Duration;

use kinedesk_core::driver::{DriverEvent, DriverHandle, JointState};
use kinedesk_core::robot::{Robot, Trajectory};

/// Waits up to 10 s for a lifecycle event `want` accepts (others are skipped); panics otherwise.
pub(crate) fn next_event(handle: &DriverHandle, mut want: impl FnMut(&DriverEvent) -> bool) -> DriverEvent {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Some(event) = handle.recv_event_timeout(Duration::from_millis(50))
            && want(&event)
        {
            return event;
        }
    }
    panic!("no matching event within 10 s");
}

/// Waits up to 10 s for a new state `want` accepts; panics otherwise.
pub(crate) fn wait_state(handle: &DriverHandle, want: impl FnMut(&JointState) -> bool) -> JointState {
    handle.wait_for_state(Duration::from_secs(10), want).expect("no matching state within 10 s")
}

/// Joint 1 swept by +0.3 rad from the rest pose over `seconds` (from rest to rest, a smoothstep), sampled every
/// `dt_s`. At least 0.4 s keeps it within the Panda's and the RM75's acceleration limits.
pub(crate) fn sweep(robot: &Robot, seconds: f64, dt_s: f64) -> Trajectory {
    let steps = (seconds / dt_s) as usize;
    let joints = (0..=steps)
        .map(|k| {
            let s = k as f64 / steps as f64;
            let mut q = robot.rest_pose.clone();
            q[0] += 0.3 * s * s * (3.0 - 2.0 * s);
            q
        })
        .collect();
    Trajectory { dt_s, joints }
}

/// Joint 1 moved +0.15 rad, held still for `hold_s`, then moved +0.15 rad again (each move from rest to rest over
/// `move_s`), sampled every `dt_s`; with the gripper command (> 0: closed) changing in the middle of the hold, as
/// the planner schedules it. Returns the trajectory and the gripper command per sample.
pub(crate) fn two_moves_with_a_grasp(robot: &Robot, move_s: f64, hold_s: f64, dt_s: f64) -> (Trajectory, Vec<f64>) {
    let move_steps = (move_s / dt_s) as usize;
    let hold_steps = (hold_s / dt_s) as usize;
    let ease = |k: usize| {
        let s = k as f64 / move_steps as f64;
        0.15 * s * s * (3.0 - 2.0 * s)
    };
    let mut offsets: Vec<f64> = (0..=move_steps).map(ease).collect();
    offsets.extend(std::iter::repeat_n(0.15, hold_steps));
    offsets.extend((1..=move_steps).map(|k| 0.15 + ease(k)));
    let joints = offsets
        .iter()
        .map(|offset| {
            let mut q = robot.rest_pose.clone();
            q[0] += offset;
            q
        })
        .collect();
    let change = move_steps + hold_steps / 2;
    let gripper = (0..offsets.len()).map(|k| if k >= change { 1.0 } else { -1.0 }).collect();
    (Trajectory { dt_s, joints }, gripper)
}
