//! The built-in kinematic planner (the embedded default policy). It is a **rule-based planner, not a learned
//! model**: it reads the instruction with [`parse_instruction`], plans the end-effector motion, encodes it with the
//! RVQ-VAE tokenizer and emits exactly what a remote KineVLA would — bi-level reasoning and action tokens — which are
//! then decoded by the same decoder as a server's tokens.

use std::sync::Arc;
use std::time::Instant;

use super::backend::{PlanParts, PolicyBackend, PolicyError, PolicyEvent, PolicyPlan, PolicyRequest, finish_plan};
use super::instruction::parse_instruction;
use super::motion::{PLAN_DT_S, plan_actions, tokenize_actions};
use super::tokens::PolicyOutput;
use crate::tokenizer::ActionTokenizer;
use kinedesk_core::robot::{Pose, fk};

/// What the built-in planner calls itself.
pub const BUILTIN_NAME: &str = "built-in planner (rule-based)";

/// Reads `instruction`, plans from the flange pose `start`, and tokenizes. Emits reasoning before the (slower)
/// tokenization so the operator sees it at once.
pub fn plan_from_pose(
    tokenizer: &ActionTokenizer,
    instruction: &str,
    start: &Pose,
    gripper_closed: bool,
    emit: &mut dyn FnMut(PolicyEvent),
) -> Result<PlanParts, PolicyError> {
    let parsed = parse_instruction(instruction, gripper_closed)?;
    let instruction_level: Vec<String> = parsed.constraints.iter().map(ToString::to_string).collect();
    emit(PolicyEvent::InstructionLevel(instruction_level.clone()));
    let plan = plan_actions(&parsed, start, gripper_closed, PLAN_DT_S);
    let action_level: Vec<String> = plan.stages.iter().map(|s| s.description.clone()).collect();
    emit(PolicyEvent::ActionLevel(action_level.clone()));
    let tokens = tokenize_actions(tokenizer, start, &plan.actions).map_err(|e| PolicyError::Tokens(e.to_string()))?;
    for (chunk, codes) in tokens.chunks.iter().enumerate() {
        emit(PolicyEvent::ActionTokens { chunk, codes: codes.clone() });
    }
    Ok(PlanParts {
        output: PolicyOutput { instruction_level, action_level, chunks: tokens.chunks },
        layout: Some(tokenizer.config().layout()),
        stages: plan.stages,
        actions: tokens.full,
        action_dt_s: PLAN_DT_S,
        expect: crate::faithfulness::expectations(&parsed),
    })
}

/// The built-in planner as a policy backend.
pub struct BuiltinPlanner {
    tokenizer: Arc<ActionTokenizer>,
}

impl BuiltinPlanner {
    #[must_use]
    pub fn new(tokenizer: Arc<ActionTokenizer>) -> Self {
        Self { tokenizer }
    }

    /// With the tokenizer weights built into the binary.
    pub fn with_builtin_tokenizer() -> Result<Self, PolicyError> {
        let tokenizer = ActionTokenizer::builtin().map_err(|e| PolicyError::Tokens(e.to_string()))?;
        Ok(Self::new(Arc::new(tokenizer)))
    }

    #[must_use]
    pub fn tokenizer(&self) -> &Arc<ActionTokenizer> {
        &self.tokenizer
    }
}

impl PolicyBackend for BuiltinPlanner {
    fn describe(&self) -> String {
        BUILTIN_NAME.to_owned()
    }

    fn plan(&mut self, request: &PolicyRequest, emit: &mut dyn FnMut(PolicyEvent)) -> Result<PolicyPlan, PolicyError> {
        let started = Instant::now();
        let start = fk(&request.robot, &request.joints).map_err(|e| PolicyError::Kinematics(e.to_string()))?;
        let mut first_reasoning = None;
        let mut timed_emit = |event: PolicyEvent| {
            first_reasoning.get_or_insert_with(|| started.elapsed());
            emit(event);
        };
        let parts =
            plan_from_pose(&self.tokenizer, &request.instruction, &start, request.gripper_closed, &mut timed_emit)?;
        let first = first_reasoning.unwrap_or_default();
        finish_plan(parts, Some(&self.tokenizer), request, started, first, self.describe())
    }
}
