//! `kinedesk-policy`: the policy side of the desk: what a KineVLA-style model emits, how the desk reads it, and the policies.
//!
//! - [`tokens`]: the token grammar (bi-level reasoning and action tokens) as text and as ids, with a parser that
//!   explains malformed input.
//! - [`instruction`]: English kinematic instructions → instruction-level constraints and action-level stages.
//! - [`motion`]: stages → per-step end-effector actions (LIBERO format) → action tokens, and back.
//! - [`trajectory`]: decoded actions → a joint trajectory (IK along the path), its checks and retiming.
//! - [`backend`]: the one streaming interface every policy implements, and the policy worker thread.
//! - [`builtin`]: the built-in rule-based planner (the embedded default); [`faithfulness`] measures it.
//! - [`tokenizer`]: the bi-level residual-VQ action tokenizer in candle.
//! - [`msgpack`], [`remote`], [`server`]: the openpi-style WebSocket + msgpack protocol, client and server.

pub mod backend;
pub mod builtin;
pub mod faithfulness;
pub mod instruction;
pub mod motion;
pub mod msgpack;
pub mod remote;
pub mod rollout;
pub mod server;
pub mod tokenizer;
pub mod tokens;
pub mod trajectory;
