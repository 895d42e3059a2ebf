//! The action tokenizer: a residual-VQ VAE in candle that turns an action chunk into a few discrete codes, with a
//! coarse (goal) level and fine (kinematic detail) levels, and back.
//!
//! - [`config`]: `TokenizerConfig` (stored as `config.json` beside the weights). Nothing is hard-coded.
//! - [`model`]: encoder, residual quantiser (EMA codebooks, dead-code restart), decoder; encode, decode by level,
//!   training step, safetensors save/load.
//! - [`fit`]: fitting on demonstrations and measuring reconstruction per level and codebook usage.
//! - [`data`]: synthetic demonstrations with rich kinematics, cut into chunks.

pub mod config;
pub mod data;
pub mod fit;
pub mod model;

pub use config::TokenizerConfig;
pub use model::{ActionTokenizer, TokenizerError};
