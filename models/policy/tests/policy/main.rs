//! The policy crate from outside: the planner's faithfulness suite, the shipped tokenizer weights, the remote client
//! against our server and independent ones, and closed-loop rollouts on the simulated arm. One test binary.

mod planner_faithfulness;
mod remote_policy;
mod rollout;
mod shipped_tokenizer;

/// The Python that has the peer packages `imports` (from `python_var`, else `python3`), or `None` when it lacks
/// them: then the test says SKIPPED, unless `require_var` is 1 (scripts/test.sh, CI), where it fails.
fn peer_python(python_var: &str, require_var: &str, imports: &str, what: &str) -> Option<String> {
    let python = std::env::var(python_var).unwrap_or_else(|_| "python3".into());
    let available = std::process::Command::new(&python)
        .args(["-c", &format!("import {imports}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if available {
        return Some(python);
    }
    assert!(
        std::env::var(require_var).as_deref() != Ok("1"),
        "{imports} required ({require_var}=1): run scripts/test.sh"
    );
    eprintln!("SKIPPED: {imports} not installed: {what} did not run");
    None
}

/// A request to plan `instruction` for the Panda at its rest pose, without images.
fn request(instruction: &str, gripper_closed: bool) -> kinedesk_policy::backend::PolicyRequest {
    let robot = std::sync::Arc::new(kinedesk_core::robot::panda());
    kinedesk_policy::backend::PolicyRequest {
        instruction: instruction.into(),
        robot_kind: "panda".into(),
        joints: robot.rest_pose.clone(),
        robot,
        gripper_closed,
        images: Vec::new(),
    }
}
