//! A whole checked plan for a driver to carry out by itself: joint segments and gripper moves in order. The driver
//! sequences it (the UI is not needed to go from one item to the next, so a hidden or minimised window changes
//! nothing) and reports where it is as [`PlanProgress`].

use crate::robot::Trajectory;

/// One part of a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanItem {
    /// Follow these joint samples. `first_step` is where this segment starts in the step numbering of the whole
    /// plan (segments split at gripper changes share their boundary sample).
    Joints { trajectory: Trajectory, first_step: usize },
    /// Move the gripper to an opening between 0 (closed) and 1 (open) and wait until it is there.
    Gripper { opening: f64 },
}

/// What a driver executes: items in order, checked whole by the driver's gate before anything moves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecutionPlan {
    pub items: Vec<PlanItem>,
}

impl ExecutionPlan {
    /// A plan of one trajectory.
    #[must_use]
    pub fn single(trajectory: Trajectory) -> Self {
        Self { items: vec![PlanItem::Joints { trajectory, first_step: 0 }] }
    }

    /// Splits `trajectory` where the gripper command (`gripper[k] > 0`: closed) changes: the arm stops, the gripper
    /// moves, the arm goes on. The planner holds still for a moment after each change, so nothing is lost by stopping.
    #[must_use]
    pub fn with_gripper_changes(trajectory: &Trajectory, gripper: &[f64]) -> Self {
        let mut items = Vec::new();
        let mut first = 0;
        let samples = trajectory.joints.len();
        for k in 1..samples.min(gripper.len()) {
            if (gripper[k] > 0.0) != (gripper[k - 1] > 0.0) {
                if k - 1 > first {
                    items.push(PlanItem::Joints {
                        trajectory: Trajectory { dt_s: trajectory.dt_s, joints: trajectory.joints[first..k].to_vec() },
                        first_step: first,
                    });
                }
                items.push(PlanItem::Gripper { opening: if gripper[k] > 0.0 { 0.0 } else { 1.0 } });
                first = k - 1;
            }
        }
        if samples > first + 1 || (samples == 1 && items.is_empty()) {
            items.push(PlanItem::Joints {
                trajectory: Trajectory { dt_s: trajectory.dt_s, joints: trajectory.joints[first..].to_vec() },
                first_step: first,
            });
        }
        Self { items }
    }

    /// Where the arm is when the plan has been carried out: the last sample of its last joint segment.
    #[must_use]
    pub fn final_joints(&self) -> Option<&[f64]> {
        self.items.iter().rev().find_map(|item| match item {
            PlanItem::Joints { trajectory, .. } => trajectory.joints.last().map(Vec::as_slice),
            PlanItem::Gripper { .. } => None,
        })
    }

    /// Steps of the whole plan (the samples of the trajectory it was made from).
    #[must_use]
    pub fn steps(&self) -> usize {
        self.items
            .iter()
            .filter_map(|item| match item {
                PlanItem::Joints { trajectory, first_step } => Some(first_step + trajectory.joints.len()),
                PlanItem::Gripper { .. } => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// How many gripper moves the plan holds.
    #[must_use]
    pub fn gripper_moves(&self) -> usize {
        self.items.iter().filter(|item| matches!(item, PlanItem::Gripper { .. })).count()
    }

    /// Seconds the joint segments take.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.items
            .iter()
            .map(|item| match item {
                PlanItem::Joints { trajectory, .. } => {
                    trajectory.dt_s * trajectory.joints.len().saturating_sub(1) as f64
                }
                PlanItem::Gripper { .. } => 0.0,
            })
            .sum()
    }
}

/// Where a driver is in a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanProgress {
    pub plan_id: u64,
    /// Index of the item being carried out.
    pub item: usize,
    pub items: usize,
    /// Step of the whole plan reached (0-based), and the plan's step count.
    pub step: usize,
    pub steps: usize,
}

/// A plan being carried out: which item is current. Every driver uses it to sequence plans the same way.
#[derive(Clone, Debug)]
pub struct PlanRun {
    pub id: u64,
    pub plan: ExecutionPlan,
    pub item: usize,
    /// The whole-plan step reached.
    pub step: usize,
    steps: usize,
}

impl PlanRun {
    #[must_use]
    pub fn new(id: u64, plan: ExecutionPlan) -> Self {
        let steps = plan.steps();
        Self { id, plan, item: 0, step: 0, steps }
    }

    /// The item being carried out; `None` once the plan is done.
    #[must_use]
    pub fn current(&self) -> Option<&PlanItem> {
        self.plan.items.get(self.item)
    }

    /// Goes on to the next item.
    pub fn advance(&mut self) {
        self.item += 1;
    }

    /// Notes the step reached inside the current joint segment.
    pub fn reached(&mut self, step_in_segment: usize) {
        if let Some(PlanItem::Joints { first_step, trajectory }) = self.current() {
            let last = first_step + trajectory.joints.len().saturating_sub(1);
            self.step = (first_step + step_in_segment).min(last).max(self.step);
        }
    }

    #[must_use]
    pub fn progress(&self) -> PlanProgress {
        PlanProgress {
            plan_id: self.id,
            item: self.item.min(self.plan.items.len().saturating_sub(1)),
            items: self.plan.items.len(),
            step: self.step,
            steps: self.steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(plan: &ExecutionPlan) -> Vec<String> {
        plan.items
            .iter()
            .map(|item| match item {
                PlanItem::Joints { trajectory, first_step } => format!("seg {first_step}+{}", trajectory.joints.len()),
                PlanItem::Gripper { opening } => format!("grip {opening}"),
            })
            .collect()
    }

    #[test]
    fn trajectories_are_split_where_the_gripper_changes() {
        let joints: Vec<Vec<f64>> = (0..10).map(|k| vec![f64::from(k)]).collect();
        let trajectory = Trajectory { dt_s: 0.1, joints };
        let gripper = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0];
        let plan = ExecutionPlan::with_gripper_changes(&trajectory, &gripper);
        assert_eq!(shape(&plan), ["seg 0+3", "grip 0", "seg 2+5", "grip 1", "seg 6+4"]);
        assert_eq!((plan.steps(), plan.gripper_moves()), (10, 2));
        assert!((plan.duration_s() - 0.2 - 0.4 - 0.3).abs() < 1e-12);
        let only = ExecutionPlan::with_gripper_changes(&trajectory, &[-1.0; 10]);
        assert_eq!(shape(&only), ["seg 0+10"]);
    }

    #[test]
    fn a_run_walks_the_items_and_reports_whole_plan_steps() {
        let joints: Vec<Vec<f64>> = (0..10).map(|k| vec![f64::from(k)]).collect();
        let gripper = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let plan = ExecutionPlan::with_gripper_changes(&Trajectory { dt_s: 0.1, joints }, &gripper);
        let mut run = PlanRun::new(7, plan);
        run.reached(2);
        assert_eq!(run.progress(), PlanProgress { plan_id: 7, item: 0, items: 3, step: 2, steps: 10 });
        run.advance();
        assert!(matches!(run.current(), Some(PlanItem::Gripper { .. })));
        run.advance();
        run.reached(99);
        assert_eq!(run.progress().step, 9, "clamped to the segment's last step");
        run.advance();
        assert!(run.current().is_none());
    }
}
