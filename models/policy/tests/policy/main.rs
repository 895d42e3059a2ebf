//! The policy crate from outside: the planner's faithfulness suite, the shipped tokenizer weights, the remote client
//! against our server and independent ones. One test binary.

mod planner_faithfulness;
mod remote_policy;
mod shipped_tokenizer;
