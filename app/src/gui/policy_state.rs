//! What the Instruction and Trajectory panes show of the policy: the instruction being typed and its history, the
//! plan streaming in (reasoning, tokens), the finished plan, and the operator's review of it (coarse or full
//! decode, velocity scaling, approval).

use std::ops::Range;
use std::time::Instant;

use kinedesk_models::policy::backend::{PolicyEvent, PolicyPlan};
use kinedesk_models::policy::trajectory::{PlannedTrajectory, slowdown_for_limits};
use kinedesk_models::robot::{Robot, SafetyLimits};

/// How many instructions the history keeps.
pub const HISTORY_CAPACITY: usize = 100;
/// Velocity scaling offered before sending (percent of the joints' rated speed and acceleration).
pub const VELOCITY_PERCENT_RANGE: std::ops::RangeInclusive<u16> = 5..=100;
pub const DEFAULT_VELOCITY_PERCENT: u16 = 25;

/// Which policy plans.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PolicyChoice {
    /// The built-in rule-based planner (the embedded default).
    Builtin,
    /// A KineVLA server (`ws://` or `wss://`).
    Remote { url: String },
}

impl PolicyChoice {
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::Builtin => "built-in planner".to_owned(),
            Self::Remote { url } => url.clone(),
        }
    }
}

/// What is remembered of the policy between runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PolicySettings {
    pub choice: PolicyChoice,
    /// Velocity scaling for sending plans, in percent of the joints' rated speed and acceleration.
    pub velocity_percent: u16,
    /// Instructions typed before, most recent last.
    pub history: Vec<String>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        Self { choice: PolicyChoice::Builtin, velocity_percent: DEFAULT_VELOCITY_PERCENT, history: Vec::new() }
    }
}

impl PolicySettings {
    /// Remembers an instruction (most recent last, no repeats in a row).
    pub fn remember(&mut self, instruction: &str) {
        if self.history.last().map(String::as_str) != Some(instruction) {
            self.history.push(instruction.to_owned());
        }
        if self.history.len() > HISTORY_CAPACITY {
            self.history.remove(0);
        }
    }

    /// The limits at the chosen velocity scaling.
    #[must_use]
    pub fn limits(&self, robot: &Robot) -> SafetyLimits {
        let scale = f64::from(self.velocity_percent.clamp(*VELOCITY_PERCENT_RANGE.start(), 100)) / 100.0;
        SafetyLimits { velocity_scale: scale, acceleration_scale: scale, ..SafetyLimits::for_robot(robot) }
    }
}

/// One plan: what streamed in, and the result.
#[derive(Debug)]
pub struct PlanView {
    pub id: u64,
    pub instruction: String,
    pub instruction_level: Vec<String>,
    pub action_level: Vec<String>,
    pub chunks: Vec<Vec<u32>>,
    pub plan: Option<Box<PolicyPlan>>,
    pub error: Option<String>,
    pub requested: Instant,
    /// How much slower than planned it runs at the chosen velocity scaling (1 = as planned).
    pub slowdown: f64,
}

impl PlanView {
    #[must_use]
    pub fn new(id: u64, instruction: String) -> Self {
        Self {
            id,
            instruction,
            instruction_level: Vec::new(),
            action_level: Vec::new(),
            chunks: Vec::new(),
            plan: None,
            error: None,
            requested: Instant::now(),
            slowdown: 1.0,
        }
    }

    #[must_use]
    pub fn is_pending(&self) -> bool {
        self.plan.is_none() && self.error.is_none()
    }

    pub fn apply(&mut self, event: PolicyEvent) {
        match event {
            PolicyEvent::InstructionLevel(lines) => self.instruction_level = lines,
            PolicyEvent::ActionLevel(lines) => self.action_level = lines,
            PolicyEvent::ActionTokens { chunk, codes } => {
                if chunk == self.chunks.len() {
                    self.chunks.push(codes);
                }
            }
        }
    }

    /// Steps (of the trajectory) that token chunk `chunk` covers.
    #[must_use]
    pub fn chunk_steps(&self, chunk: usize) -> Option<(usize, usize)> {
        let plan = self.plan.as_ref()?;
        let chunk_len = plan.actions.len().checked_div(plan.output.chunks.len().max(1))?;
        let first = chunk * chunk_len;
        (first < plan.actions.len()).then(|| (first, (first + chunk_len).min(plan.actions.len())))
    }

    /// The token chunk that covers step `step`.
    #[must_use]
    pub fn chunk_at(&self, step: usize) -> Option<usize> {
        let plan = self.plan.as_ref()?;
        let chunk_len = plan.actions.len().checked_div(plan.output.chunks.len().max(1))?;
        (chunk_len > 0 && !plan.output.chunks.is_empty())
            .then(|| (step.saturating_sub(1) / chunk_len).min(plan.output.chunks.len() - 1))
    }

    /// The stage that covers step `step`.
    #[must_use]
    pub fn stage_at(&self, step: usize) -> Option<usize> {
        let plan = self.plan.as_ref()?;
        let action = step.saturating_sub(1);
        plan.stages.iter().position(|s| s.steps.contains(&action))
    }

    #[must_use]
    pub fn stage_steps(&self, stage: usize) -> Option<(usize, usize)> {
        let span: &Range<usize> = &self.plan.as_ref()?.stages.get(stage)?.steps;
        Some((span.start, span.end))
    }
}

/// What the mouse is over, shared by the reasoning chips, the token strip, the plots and the 3D view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hover {
    pub stage: Option<usize>,
    pub chunk: Option<usize>,
    pub step: Option<usize>,
}

/// The policy side of the app.
#[derive(Debug)]
pub struct PolicyState {
    /// The server address being typed.
    pub remote_url: String,
    /// The instruction being typed.
    pub instruction: String,
    /// Position while browsing the history with ↑/↓ (`None`: editing a new instruction).
    pub history_cursor: Option<usize>,
    pub current: Option<PlanView>,
    pub next_id: u64,
    pub show_coarse: bool,
    /// What the mouse was over last frame (read this frame to highlight).
    pub hover: Hover,
    /// What the mouse is over this frame (written while drawing).
    pub hover_next: Hover,
    /// Why Enter or Plan did nothing just now (shown under the instruction until the next keystroke).
    pub notice: Option<String>,
}

impl Default for PolicyState {
    fn default() -> Self {
        Self {
            remote_url: "ws://127.0.0.1:8000".to_owned(),
            instruction: String::new(),
            history_cursor: None,
            current: None,
            next_id: 1,
            show_coarse: false,
            hover: Hover::default(),
            hover_next: Hover::default(),
            notice: None,
        }
    }
}

impl PolicyState {
    /// ↑ (older) or ↓ (newer) in the history; puts the entry into the instruction box.
    pub fn browse_history(&mut self, history: &[String], older: bool) {
        if history.is_empty() {
            return;
        }
        let last = history.len() - 1;
        self.history_cursor = match (self.history_cursor, older) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i >= last => None,
            (Some(i), false) => Some(i + 1),
        };
        self.instruction = self.history_cursor.and_then(|i| history.get(i)).cloned().unwrap_or_default();
    }

    /// The trajectory to preview: the full or coarse decode, stretched in time to respect the velocity scaling.
    /// Returns it with the slowdown factor.
    #[must_use]
    pub fn preview_trajectory(&self, robot: &Robot, limits: &SafetyLimits) -> Option<(PlannedTrajectory, f64)> {
        let plan = self.current.as_ref()?.plan.as_ref()?;
        let chosen = if self.show_coarse { plan.coarse.as_ref().unwrap_or(&plan.full) } else { &plan.full };
        let slowdown = slowdown_for_limits(robot, chosen, limits);
        let mut retimed = chosen.clone();
        retimed.dt_s *= slowdown;
        Some((retimed, slowdown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_browses_like_a_shell() {
        let mut state = PolicyState::default();
        let mut settings = PolicySettings::default();
        for text in ["a", "b", "b", "c"] {
            settings.remember(text);
        }
        let history = &settings.history;
        assert_eq!(history, &["a", "b", "c"]);
        state.browse_history(history, true);
        assert_eq!(state.instruction, "c");
        state.browse_history(history, true);
        state.browse_history(history, true);
        state.browse_history(history, true);
        assert_eq!(state.instruction, "a");
        state.browse_history(history, false);
        assert_eq!(state.instruction, "b");
        state.browse_history(history, false);
        state.browse_history(history, false);
        assert_eq!(state.instruction, "");
        assert_eq!(state.history_cursor, None);
    }
}
