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

/// Joint 1 swept by +0.3 rad from the rest pose over `seconds`, sampled every `dt_s`.
pub(crate) fn sweep(robot: &Robot, seconds: f64, dt_s: f64) -> Trajectory {
    let steps = (seconds / dt_s) as usize;
    let joints = (0..=steps)
        .map(|k| {
            let mut q = robot.rest_pose.clone();
            q[0] += 0.3 * k as f64 / steps as f64;
            q
        })
        .collect();
    Trajectory { dt_s, joints }
}
