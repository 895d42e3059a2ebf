//! The policy side of the desk: what a KineVLA-style model emits and how the desk reads it.
//!
//! - [`tokens`]: the token grammar (bi-level reasoning and action tokens) as text and as ids, with a parser that
//!   explains malformed input.
//!
//! The RVQ-VAE tokenizer (candle) and the policy backends arrive with issues [3/7] and [5/7].

pub mod tokens;
