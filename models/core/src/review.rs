//! The review of a trajectory before it moves the arm, as one object: what is previewed (the trajectory, its
//! gripper schedule and check report), whether the operator approved exactly that, and what became of it on the
//! robot. The panes ask it what to enable and why not, the command layer asks it before sending, and the driver's
//! own gate checks again. Its states:
//!
//! ```text
//! Planned ──approve──▶ Approved ──send──▶ Executing (step n of N) ──▶ Completed
//!    ▲                    │                        │                 ├─▶ Stopped at step n
//!    └──── withdraw ──────┘                        │                 └─▶ Failed (reason)
//! ```
//!
//! Approval is for what is shown: any change of the preview makes a new review. When an execution ends, its
//! approval ends with it; sending again needs a fresh plan or a fresh approval.

use crate::driver::{DriverEvent, ExecutionPlan, PlanProgress, max_joint_offset};
use crate::robot::{CheckReport, Trajectory};

/// How far (rad, any joint) the arm may be from the start of a plan for Send; farther needs Move to start first.
pub const AT_START_RAD: f64 = crate::driver::START_TOLERANCE_RAD;

/// Where a review stands.
#[derive(Clone, Debug, PartialEq)]
pub enum ReviewState {
    /// Previewed and checked, not approved.
    Planned,
    Approved,
    /// Sent to the robot as execution `execution`; `step` of `steps` reached.
    Executing {
        execution: u64,
        step: usize,
        steps: usize,
    },
    Completed,
    /// Stopped (Esc, the Stop button) at `step` of `steps`.
    Stopped {
        step: usize,
        steps: usize,
    },
    /// Refused by the driver or failed part-way.
    Failed {
        reason: String,
    },
}

impl ReviewState {
    /// A short word for the state, as the panes show it.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::Planned => "planned".to_owned(),
            Self::Approved => "approved".to_owned(),
            Self::Executing { step, steps, .. } => format!("executing: step {} of {steps}", step + 1),
            Self::Completed => "completed".to_owned(),
            Self::Stopped { step, steps } => format!("stopped at step {} of {steps}", step + 1),
            Self::Failed { reason } => format!("failed: {reason}"),
        }
    }

    /// Whether the plan's execution is over (completed, stopped or failed).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Completed | Self::Stopped { .. } | Self::Failed { .. })
    }
}

/// What the review needs to know about the robot to say whether Send may go.
#[derive(Clone, Debug)]
pub struct RobotReadiness<'a> {
    pub connected: bool,
    /// `Err(why)` when the connection is not healthy.
    pub healthy: Result<(), String>,
    /// Where the arm is, when known.
    pub joints: Option<&'a [f64]>,
}

impl RobotReadiness<'_> {
    /// No robot connected.
    #[must_use]
    pub fn none() -> Self {
        Self { connected: false, healthy: Ok(()), joints: None }
    }
}

/// One previewed trajectory and what the operator and the robot did with it.
#[derive(Clone, Debug)]
pub struct PlanReview {
    /// Where it came from ("Plan #3 (full decode, 25 %)", a file path).
    pub source: String,
    /// The policy plan it came from, if any.
    pub plan_id: Option<u64>,
    pub trajectory: Trajectory,
    /// The gripper command at each sample (> 0: closed), when the plan has one.
    pub gripper: Option<Vec<f64>>,
    pub report: CheckReport,
    /// Why this preview may not be sent whatever the operator does (e.g. only the coarse decode is shown).
    pub blocker: Option<String>,
    /// What passes the checks but deserves a look (near a limit, a flip, slowed to pass): approving needs these
    /// acknowledged first.
    pub warnings: Vec<String>,
    /// The operator acknowledged the warnings.
    acknowledged: bool,
    state: ReviewState,
}

impl PlanReview {
    #[must_use]
    pub fn new(source: String, plan_id: Option<u64>, trajectory: Trajectory, report: CheckReport) -> Self {
        Self {
            source,
            plan_id,
            trajectory,
            gripper: None,
            report,
            blocker: None,
            warnings: Vec::new(),
            acknowledged: false,
            state: ReviewState::Planned,
        }
    }

    #[must_use]
    pub fn state(&self) -> &ReviewState {
        &self.state
    }

    #[must_use]
    pub fn is_approved(&self) -> bool {
        self.state == ReviewState::Approved
    }

    #[must_use]
    pub fn is_executing(&self) -> bool {
        matches!(self.state, ReviewState::Executing { .. })
    }

    /// The execution id this review was sent as, while it executes.
    #[must_use]
    pub fn execution(&self) -> Option<u64> {
        match self.state {
            ReviewState::Executing { execution, .. } => Some(execution),
            _ => None,
        }
    }

    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.trajectory.dt_s * self.trajectory.joints.len().saturating_sub(1) as f64
    }

    /// What a driver executes: the trajectory, split where the gripper command changes.
    #[must_use]
    pub fn execution_plan(&self) -> ExecutionPlan {
        match &self.gripper {
            Some(gripper) => ExecutionPlan::with_gripper_changes(&self.trajectory, gripper),
            None => ExecutionPlan::single(self.trajectory.clone()),
        }
    }

    /// Whether there are warnings nobody acknowledged yet.
    #[must_use]
    pub fn warnings_pending(&self) -> bool {
        !self.warnings.is_empty() && !self.acknowledged
    }

    /// The operator has looked at the warnings.
    pub fn acknowledge_warnings(&mut self) {
        self.acknowledged = true;
    }

    /// Why it cannot be approved now, if it cannot.
    #[must_use]
    pub fn approve_refusal(&self) -> Option<String> {
        if !self.report.ok {
            return Some(format!("{} safety check violation(s)", self.report.violations.len()));
        }
        if let Some(blocker) = &self.blocker {
            return Some(blocker.clone());
        }
        if self.warnings_pending() && self.state == ReviewState::Planned {
            return Some(format!("acknowledge the {} warning(s) first", self.warnings.len()));
        }
        match &self.state {
            ReviewState::Planned => None,
            ReviewState::Approved => Some("it is approved already".to_owned()),
            ReviewState::Executing { .. } => Some("it is executing".to_owned()),
            finished => Some(format!("it has {}; plan again from here", finished.label())),
        }
    }

    /// Approves what is shown (refused with the reason when it may not be approved).
    pub fn approve(&mut self) -> Result<(), String> {
        match self.approve_refusal() {
            Some(reason) => Err(reason),
            None => {
                self.state = ReviewState::Approved;
                Ok(())
            }
        }
    }

    /// The one thing missing before Send may go, in the order an operator meets them; `None` when it may go.
    #[must_use]
    pub fn send_refusal(&self, robot: &RobotReadiness<'_>) -> Option<String> {
        if !self.report.ok {
            return Some(format!("{} safety check violation(s)", self.report.violations.len()));
        }
        if let Some(blocker) = &self.blocker {
            return Some(blocker.clone());
        }
        match &self.state {
            ReviewState::Planned => return Some("it is not approved: press Approve".to_owned()),
            ReviewState::Approved => {}
            ReviewState::Executing { .. } => return Some("it is executing".to_owned()),
            finished => return Some(format!("it has {}; plan again from here", finished.label())),
        }
        if !robot.connected {
            return Some("no robot is connected".to_owned());
        }
        if let Err(why) = &robot.healthy {
            return Some(format!("the robot is {why}"));
        }
        if let (Some(joints), Some(start)) = (robot.joints, self.trajectory.joints.first()) {
            let offset = max_joint_offset(joints, start);
            if offset > AT_START_RAD {
                return Some(format!("the arm is {:.1}° from the start: Move to start first", offset.to_degrees()));
            }
        }
        None
    }

    /// Marks it sent as execution `execution`.
    pub fn sent(&mut self, execution: u64, steps: usize) {
        self.state = ReviewState::Executing { execution, step: 0, steps };
    }

    /// Takes the driver's progress (from its state) while executing.
    pub fn progress(&mut self, progress: PlanProgress) {
        if let ReviewState::Executing { execution, step, steps } = &mut self.state
            && progress.plan_id == *execution
        {
            *step = progress.step.max(*step);
            *steps = progress.steps;
        }
    }

    /// Takes a driver lifecycle event; returns true when it changed the state.
    pub fn driver_event(&mut self, event: &DriverEvent) -> bool {
        let Some(execution) = self.execution() else { return false };
        let (step, steps) = match self.state {
            ReviewState::Executing { step, steps, .. } => (step, steps),
            _ => (0, 0),
        };
        let next = match event {
            DriverEvent::PlanFinished { id, .. } if *id == execution => ReviewState::Completed,
            DriverEvent::Stopped { plan: Some(at), .. } if at.plan_id == execution => {
                ReviewState::Stopped { step: at.step, steps: at.steps }
            }
            DriverEvent::Stopped { plan: None, .. } => ReviewState::Stopped { step, steps },
            DriverEvent::PlanFailed { id, at, reason } if *id == execution => {
                ReviewState::Failed { reason: format!("{reason} (at step {} of {})", at.step + 1, at.steps) }
            }
            DriverEvent::Refused { plan: Some(id), reason } if *id == execution => {
                ReviewState::Failed { reason: reason.clone() }
            }
            DriverEvent::Disconnected { reason } => {
                ReviewState::Failed { reason: format!("the robot disconnected at step {}: {reason}", step + 1) }
            }
            _ => return false,
        };
        self.state = next;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::{SafetyLimits, check_trajectory, panda};

    fn review() -> PlanReview {
        let robot = panda();
        let trajectory = Trajectory { dt_s: 0.05, joints: vec![robot.rest_pose.clone(); 5] };
        let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
        PlanReview::new("test".into(), Some(1), trajectory, report)
    }

    #[test]
    fn send_says_the_one_thing_missing_in_order() {
        let robot = panda();
        let mut review = review();
        let ready = RobotReadiness { connected: true, healthy: Ok(()), joints: Some(&robot.rest_pose) };
        assert_eq!(review.send_refusal(&ready).unwrap(), "it is not approved: press Approve");
        review.blocker = Some("the coarse decode is shown".into());
        assert!(review.approve().is_err());
        review.blocker = None;
        review.approve().unwrap();
        assert!(review.send_refusal(&RobotReadiness::none()).unwrap().contains("no robot"));
        let unhealthy = RobotReadiness { connected: true, healthy: Err("reconnecting".into()), joints: None };
        assert_eq!(review.send_refusal(&unhealthy).unwrap(), "the robot is reconnecting");
        let mut elsewhere = robot.rest_pose.clone();
        elsewhere[0] += 0.5;
        let far = RobotReadiness { connected: true, healthy: Ok(()), joints: Some(&elsewhere) };
        assert!(review.send_refusal(&far).unwrap().contains("28.6° from the start"), "{:?}", review.send_refusal(&far));
        assert_eq!(review.send_refusal(&ready), None);
    }

    #[test]
    fn the_state_follows_the_driver_and_the_approval_ends_with_the_execution() {
        let mut review = review();
        review.approve().unwrap();
        review.sent(7, 5);
        review.progress(PlanProgress { plan_id: 7, item: 0, items: 1, step: 2, steps: 5 });
        assert_eq!(review.state().label(), "executing: step 3 of 5");
        assert!(
            !review.driver_event(&DriverEvent::PlanFinished { id: 6, at: crate::clock::Timestamp::now() }),
            "another execution's event"
        );
        let at = PlanProgress { plan_id: 7, item: 0, items: 1, step: 3, steps: 5 };
        assert!(review.driver_event(&DriverEvent::Stopped { generation: 1, plan: Some(at) }));
        assert_eq!(review.state(), &ReviewState::Stopped { step: 3, steps: 5 });
        assert!(!review.is_approved());
        assert!(review.approve_refusal().unwrap().contains("stopped at step 4 of 5"));
        let mut failed = self::review();
        failed.approve().unwrap();
        failed.sent(8, 5);
        failed.driver_event(&DriverEvent::Refused { plan: Some(8), reason: "refused: no".into() });
        assert_eq!(failed.state(), &ReviewState::Failed { reason: "refused: no".into() });
    }
}
