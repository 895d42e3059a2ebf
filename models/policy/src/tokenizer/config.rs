//! Tokenizer configuration, stored as `config.json` beside the weights.

use crate::tokens::TokenLayout;

/// Everything that shapes the tokenizer. Defaults follow the LIBERO action format (7-D: delta position, delta
/// rotation, gripper; chunks of 5) and a small VQ-VLA-like quantiser.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// Numbers per action (7: dx, dy, dz, drx, dry, drz, gripper).
    pub action_dim: usize,
    /// Actions per chunk (H).
    pub chunk_len: usize,
    /// Size of each latent vector the quantiser sees.
    pub latent_dim: usize,
    /// Width of the encoder's and decoder's hidden layers.
    pub hidden_dim: usize,
    /// Latent vectors per chunk (each gets one code per level).
    pub positions_per_chunk: usize,
    pub coarse_levels: usize,
    pub fine_levels: usize,
    /// Codes per level, coarse first.
    pub codebook_sizes: Vec<u32>,
    /// Per-dimension normalisation: actions are `(a − mean) / std` inside the model.
    pub action_mean: Vec<f32>,
    pub action_std: Vec<f32>,
    /// Weight of the commitment loss.
    pub commitment: f32,
    /// Weight of the coarse-only reconstruction loss (so coarse codes alone decode to the goal-level motion).
    pub coarse_weight: f32,
    /// EMA decay of the codebook updates.
    pub ema_decay: f32,
    /// A code whose EMA usage falls below this is restarted from a random residual of the batch.
    pub dead_code_threshold: f32,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            action_dim: 7,
            chunk_len: 5,
            latent_dim: 16,
            hidden_dim: 128,
            positions_per_chunk: 1,
            coarse_levels: 1,
            fine_levels: 2,
            codebook_sizes: vec![256, 256, 256],
            action_mean: vec![0.0; 7],
            action_std: vec![1.0; 7],
            commitment: 0.25,
            coarse_weight: 0.5,
            ema_decay: 0.95,
            dead_code_threshold: 0.02,
        }
    }
}

impl TokenizerConfig {
    #[must_use]
    pub fn levels(&self) -> usize {
        self.coarse_levels + self.fine_levels
    }

    /// The token layout the policy's action tokens follow.
    #[must_use]
    pub fn layout(&self) -> TokenLayout {
        TokenLayout {
            coarse_levels: self.coarse_levels,
            fine_levels: self.fine_levels,
            codebook_sizes: self.codebook_sizes.clone(),
            positions_per_chunk: self.positions_per_chunk,
        }
    }

    /// Checks the numbers fit together.
    pub fn validate(&self) -> Result<(), String> {
        self.layout().validate().map_err(|error| error.to_string())?;
        for (name, value) in [
            ("action_dim", self.action_dim),
            ("chunk_len", self.chunk_len),
            ("latent_dim", self.latent_dim),
            ("hidden_dim", self.hidden_dim),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.action_mean.len() != self.action_dim || self.action_std.len() != self.action_dim {
            return Err(format!(
                "normalisation has {} means and {} stds for {} action dimensions",
                self.action_mean.len(),
                self.action_std.len(),
                self.action_dim
            ));
        }
        if self.action_std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("every action_std must be a positive number".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_round_trips_through_json_and_fills_defaults() {
        let config = TokenizerConfig { chunk_len: 8, codebook_sizes: vec![64, 128, 128], ..TokenizerConfig::default() };
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<TokenizerConfig>(&json).unwrap(), config);
        let partial: TokenizerConfig = serde_json::from_str(r#"{"chunk_len": 10}"#).unwrap();
        assert_eq!((partial.chunk_len, partial.action_dim), (10, 7));
        assert_eq!(config.layout().tokens_per_chunk(), 3);
        assert!(TokenizerConfig { action_std: vec![1.0; 3], ..TokenizerConfig::default() }.validate().is_err());
        assert!(TokenizerConfig { codebook_sizes: vec![8, 8], ..TokenizerConfig::default() }.validate().is_err());
    }
}
