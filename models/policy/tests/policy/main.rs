//! The policy crate from outside: the planner's faithfulness suite, the shipped tokenizer weights, the remote client
//! against our server and independent ones, and closed-loop rollouts on the simulated arm. One test binary.

mod planner_faithfulness;
mod remote_policy;
mod rollout;
mod shipped_tokenizer;
