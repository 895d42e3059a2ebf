//! Fitting the tokenizer on demonstrations, and measuring it.

use super::config::TokenizerConfig;
use super::data::{Rng, action_stats, synthetic_chunks};
use super::model::{ActionTokenizer, TokenizerError};

/// How to fit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitOptions {
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Synthetic demonstrations to generate (training), and held out (evaluation).
    pub train_episodes: usize,
    pub eval_episodes: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self { steps: 3000, batch: 256, learning_rate: 1e-3, seed: 7, train_episodes: 3000, eval_episodes: 300 }
    }
}

/// Reconstruction quality using the first `levels` levels.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LevelError {
    pub levels: usize,
    /// RMS over steps of the end-effector position error, integrating the chunk's delta positions (mm).
    pub position_rmse_mm: f64,
    /// RMS over steps of the integrated rotation error (degrees).
    pub rotation_rmse_deg: f64,
    /// Mean absolute gripper error (gripper runs from −1 to 1).
    pub gripper_mae: f64,
}

/// How a level's codebook is used.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CodebookUsage {
    pub level: String,
    pub used_fraction: f64,
    /// `exp(entropy)` of the code distribution: the effective number of codes.
    pub perplexity: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EvalReport {
    pub chunks: usize,
    pub by_levels: Vec<LevelError>,
    pub usage: Vec<CodebookUsage>,
}

/// Measures reconstruction with 1…L levels and codebook usage on `chunks`.
pub fn evaluate(tokenizer: &ActionTokenizer, chunks: &[Vec<f32>]) -> Result<EvalReport, TokenizerError> {
    let config = tokenizer.config();
    let dim = config.action_dim;
    if dim < 7 {
        return Err(TokenizerError::Config(
            "evaluation needs the 7-D action format (position, rotation, gripper)".into(),
        ));
    }
    let mut codes = Vec::with_capacity(chunks.len());
    for batch in chunks.chunks(1024) {
        codes.extend(tokenizer.encode(batch)?);
    }
    let mut by_levels = Vec::new();
    for levels in 1..=config.levels() {
        let mut decoded = Vec::with_capacity(chunks.len());
        for batch in codes.chunks(1024) {
            decoded.extend(tokenizer.decode(batch, levels)?);
        }
        let (mut position, mut rotation, mut gripper, mut steps) = (0.0, 0.0, 0.0, 0.0);
        for (original, restored) in chunks.iter().zip(&decoded) {
            let mut error_p = [0.0_f64; 3];
            let mut error_r = [0.0_f64; 3];
            for (a, b) in original.chunks_exact(dim).zip(restored.chunks_exact(dim)) {
                for k in 0..3 {
                    error_p[k] += f64::from(b[k] - a[k]);
                    error_r[k] += f64::from(b[k + 3] - a[k + 3]);
                }
                position += error_p.iter().map(|e| e * e).sum::<f64>();
                rotation += error_r.iter().map(|e| e * e).sum::<f64>();
                gripper += f64::from((b[6] - a[6]).abs());
                steps += 1.0;
            }
        }
        by_levels.push(LevelError {
            levels,
            position_rmse_mm: (position / steps).sqrt() * 1e3,
            rotation_rmse_deg: (rotation / steps).sqrt().to_degrees(),
            gripper_mae: gripper / steps,
        });
    }
    let layout = config.layout();
    let positions = config.positions_per_chunk;
    let mut usage = Vec::new();
    for level in 0..config.levels() {
        let size = config.codebook_sizes[level] as usize;
        let mut counts = vec![0_usize; size];
        for chunk in &codes {
            for p in 0..positions {
                counts[chunk[p * config.levels() + level] as usize] += 1;
            }
        }
        let total = counts.iter().sum::<usize>().max(1) as f64;
        let entropy: f64 = counts
            .iter()
            .filter(|c| **c > 0)
            .map(|c| {
                let p = *c as f64 / total;
                -p * p.ln()
            })
            .sum();
        usage.push(CodebookUsage {
            level: layout.level_name(level),
            used_fraction: counts.iter().filter(|c| **c > 0).count() as f64 / size as f64,
            perplexity: entropy.exp(),
        });
    }
    Ok(EvalReport { chunks: chunks.len(), by_levels, usage })
}

/// The held-out demonstrations `evaluate` uses by default (a different seed from training).
#[must_use]
pub fn held_out_chunks(config: &TokenizerConfig, options: &FitOptions) -> Vec<Vec<f32>> {
    synthetic_chunks(options.eval_episodes, config.chunk_len, config.chunk_len, options.seed ^ 0x5eed_0fe7_a1a1)
}

/// Fits a tokenizer on synthetic demonstrations. `progress` is called every 100 steps with (step, loss).
pub fn fit(
    template: TokenizerConfig,
    options: &FitOptions,
    progress: impl FnMut(usize, f32),
) -> Result<(ActionTokenizer, EvalReport), TokenizerError> {
    fit_with(template, options, Vec::new(), progress)
}

/// Fits on synthetic demonstrations plus `recorded` chunks (e.g. from recorded sessions), each `chunk_len × 7`.
pub fn fit_with(
    template: TokenizerConfig,
    options: &FitOptions,
    recorded: Vec<Vec<f32>>,
    mut progress: impl FnMut(usize, f32),
) -> Result<(ActionTokenizer, EvalReport), TokenizerError> {
    let width = template.chunk_len * template.action_dim;
    if let Some(bad) = recorded.iter().position(|c| c.len() != width) {
        return Err(TokenizerError::Input(format!(
            "recorded chunk {bad} has {} numbers; expected {width}",
            recorded[bad].len()
        )));
    }
    let mut train = synthetic_chunks(options.train_episodes, template.chunk_len, 2, options.seed);
    train.extend(recorded);
    if train.len() < options.batch {
        return Err(TokenizerError::Config(format!(
            "only {} training chunks for a batch of {}",
            train.len(),
            options.batch
        )));
    }
    let (action_mean, action_std) = action_stats(&train, template.action_dim);
    let config = TokenizerConfig { action_mean, action_std, ..template };
    let mut tokenizer = ActionTokenizer::new_untrained(config, options.seed, options.learning_rate)?;
    let mut rng = Rng::new(options.seed ^ 0xba7c);
    let mut batch = Vec::with_capacity(options.batch);
    for step in 0..options.steps {
        // Cosine decay to 5 % of the rate over the run: the fine levels settle once the coarse ones stop moving.
        let progress_fraction = step as f64 / options.steps.max(1) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress_fraction).cos());
        tokenizer.set_learning_rate(options.learning_rate * (0.05 + 0.95 * cosine));
        batch.clear();
        for _ in 0..options.batch {
            batch.push(train[rng.index(train.len())].clone());
        }
        let report = tokenizer.train_step(&batch)?;
        if step % 100 == 0 || step + 1 == options.steps {
            progress(step, report.loss);
        }
    }
    let held_out = held_out_chunks(tokenizer.config(), options);
    let report = evaluate(&tokenizer, &held_out)?;
    Ok((tokenizer, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_fit_reports_every_level_and_the_usage() {
        let options =
            FitOptions { steps: 150, batch: 128, train_episodes: 80, eval_episodes: 20, ..FitOptions::default() };
        let template =
            TokenizerConfig { codebook_sizes: vec![32, 32, 32], hidden_dim: 64, ..TokenizerConfig::default() };
        let mut calls = 0;
        let (tokenizer, report) = fit(template, &options, |_, loss| {
            calls += 1;
            assert!(loss.is_finite());
        })
        .unwrap();
        assert_eq!(calls, 3);
        assert_eq!(report.by_levels.len(), 3);
        assert_eq!(report.usage.iter().map(|u| u.level.as_str()).collect::<Vec<_>>(), ["c", "f1", "f2"]);
        assert!(report.by_levels.iter().all(|l| l.position_rmse_mm.is_finite() && l.position_rmse_mm > 0.0));
        assert!(report.by_levels[2].position_rmse_mm < report.by_levels[0].position_rmse_mm, "{report:#?}");
        assert!(tokenizer.config().action_std.iter().all(|s| *s > 0.0));
    }
}
