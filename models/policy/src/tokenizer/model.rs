//! The residual-VQ VAE.
//!
//! `chunk (H × D) → normalise → encoder MLP → P latents → L residual levels of codes → Σ codes → decoder MLP → chunk`.
//!
//! Codebooks are updated by exponential moving averages of the residuals assigned to them (not by gradients),
//! initialised from the first batch's residuals (k-means seeding), and a code that stops being used is restarted
//! from a random residual of the batch. The encoder learns through a straight-through estimator with a commitment
//! loss; the decoder learns to reconstruct from all levels and, weighted, from the coarse levels alone, so that the
//! coarse codes by themselves decode to the goal-level motion.
//!
//! Weights are safetensors with these tensor names (all f32):
//! - `encoder.{i}.weight` `[out, in]`, `encoder.{i}.bias` `[out]` for i = 0, 1, 2 (ReLU between layers),
//!   input `H·D` (row-major actions), output `P·latent_dim`;
//! - `decoder.{i}.weight`, `decoder.{i}.bias` likewise, input `P·latent_dim`, output `H·D`;
//! - `rvq.codebook.{level}` `[codebook_size, latent_dim]`, coarse levels first.
//!
//! A PyTorch implementation with `nn.Linear` layers named this way exports directly.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module as _, Tensor};
use candle_nn::{Linear, Optimizer as _, VarBuilder, VarMap, linear};

use super::config::TokenizerConfig;
use super::data::Rng;

/// How far (in standard deviations of the fitting data) an action value may be from the mean to be encoded.
pub const MAX_NORMALISED_ACTION: f32 = 50.0;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("invalid tokenizer config: {0}")]
    Config(String),
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("cannot read or write {path}: {message}")]
    Io { path: String, message: String },
    #[error("weights do not match the config: {0}")]
    Weights(String),
    #[error("bad input: {0}")]
    Input(String),
}

type Result<T> = std::result::Result<T, TokenizerError>;

struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn new(dims: &[usize], vb: &VarBuilder<'_>) -> Result<Self> {
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, pair)| linear(pair[0], pair[1], vb.pp(i)))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Self { layers })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?;
            if i + 1 < self.layers.len() {
                x = x.relu()?;
            }
        }
        Ok(x)
    }
}

/// One level of the residual quantiser.
#[derive(Clone, Debug)]
struct Codebook {
    size: usize,
    dim: usize,
    /// `size × dim`, row-major.
    embed: Vec<f32>,
    ema_count: Vec<f32>,
    ema_sum: Vec<f32>,
    initialised: bool,
}

impl Codebook {
    fn new(size: usize, dim: usize) -> Self {
        Self {
            size,
            dim,
            embed: vec![0.0; size * dim],
            ema_count: vec![1.0; size],
            ema_sum: vec![0.0; size * dim],
            initialised: false,
        }
    }

    fn tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.embed.clone(), (self.size, self.dim), device)?)
    }

    /// Index of the nearest code for each row of `residual` (`[n, dim]`).
    fn nearest(&self, residual: &Tensor, device: &Device) -> Result<Vec<u32>> {
        let codes = self.tensor(device)?;
        let distances = residual
            .sqr()?
            .sum_keepdim(1)?
            .broadcast_sub(&residual.matmul(&codes.t()?)?.affine(2.0, 0.0)?)?
            .broadcast_add(&codes.sqr()?.sum_keepdim(1)?.t()?)?;
        Ok(distances.argmin(1)?.to_vec1::<u32>()?)
    }

    fn lookup(&self, ids: &[u32], device: &Device) -> Result<Tensor> {
        let mut rows = Vec::with_capacity(ids.len() * self.dim);
        for id in ids {
            let id = *id as usize;
            rows.extend_from_slice(&self.embed[id * self.dim..(id + 1) * self.dim]);
        }
        Ok(Tensor::from_vec(rows, (ids.len(), self.dim), device)?)
    }

    /// Seeds the codes from random rows of the residuals (with a little jitter so duplicates separate).
    fn seed(&mut self, residual: &[f32], rng: &mut Rng) {
        let rows = residual.len() / self.dim;
        for code in 0..self.size {
            let row = rng.index(rows);
            for d in 0..self.dim {
                self.embed[code * self.dim + d] = residual[row * self.dim + d] + (rng.normal() * 1e-3) as f32;
            }
        }
        self.ema_sum.clone_from(&self.embed);
        self.ema_count.iter_mut().for_each(|c| *c = 1.0);
        self.initialised = true;
    }

    /// EMA update from a batch's residuals and their assignments; restarts codes that went unused.
    #[allow(clippy::needless_range_loop)] // codes index several parallel arrays
    fn update(&mut self, residual: &[f32], ids: &[u32], decay: f32, dead_threshold: f32, rng: &mut Rng) -> usize {
        let mut count = vec![0.0_f32; self.size];
        let mut sum = vec![0.0_f32; self.size * self.dim];
        for (row, id) in ids.iter().enumerate() {
            let id = *id as usize;
            count[id] += 1.0;
            for d in 0..self.dim {
                sum[id * self.dim + d] += residual[row * self.dim + d];
            }
        }
        for code in 0..self.size {
            self.ema_count[code] = decay * self.ema_count[code] + (1.0 - decay) * count[code];
            for d in 0..self.dim {
                let i = code * self.dim + d;
                self.ema_sum[i] = decay * self.ema_sum[i] + (1.0 - decay) * sum[i];
            }
        }
        let total: f32 = self.ema_count.iter().sum();
        let mut restarted = 0;
        for code in 0..self.size {
            // Laplace smoothing keeps rarely used codes from collapsing to zero.
            let smoothed = (self.ema_count[code] + 1e-5) / (total + self.size as f32 * 1e-5) * total;
            if self.ema_count[code] < dead_threshold {
                let row = rng.index(ids.len());
                for d in 0..self.dim {
                    let value = residual[row * self.dim + d];
                    self.embed[code * self.dim + d] = value;
                    self.ema_sum[code * self.dim + d] = value;
                }
                self.ema_count[code] = 1.0;
                restarted += 1;
            } else {
                for d in 0..self.dim {
                    self.embed[code * self.dim + d] = self.ema_sum[code * self.dim + d] / smoothed;
                }
            }
        }
        restarted
    }
}

/// Per level: the chosen codes, the quantised vectors, and the residual each level saw (flattened).
struct Quantised {
    codes: Vec<Vec<u32>>,
    vectors: Vec<Tensor>,
    residuals: Vec<Vec<f32>>,
}

/// Result of one training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    pub loss: f32,
    pub reconstruction: f32,
    pub restarted_codes: usize,
}

/// The tokenizer: config, networks and codebooks.
pub struct ActionTokenizer {
    config: TokenizerConfig,
    device: Device,
    /// Present while training (holds the trainable variables).
    varmap: Option<VarMap>,
    encoder: Mlp,
    decoder: Mlp,
    codebooks: Vec<Codebook>,
    optimizer: Option<candle_nn::AdamW>,
    rng: Rng,
}

impl std::fmt::Debug for ActionTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionTokenizer").field("config", &self.config).field("trainable", &self.trainable()).finish()
    }
}

impl ActionTokenizer {
    fn dims(config: &TokenizerConfig) -> (Vec<usize>, Vec<usize>) {
        let input = config.chunk_len * config.action_dim;
        let latent = config.positions_per_chunk * config.latent_dim;
        (
            vec![input, config.hidden_dim, config.hidden_dim, latent],
            vec![latent, config.hidden_dim, config.hidden_dim, input],
        )
    }

    /// A fresh, untrained tokenizer (random weights, unseeded codebooks), ready to train.
    pub fn new_untrained(config: TokenizerConfig, seed: u64, learning_rate: f64) -> Result<Self> {
        config.validate().map_err(TokenizerError::Config)?;
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let (encoder_dims, decoder_dims) = Self::dims(&config);
        let encoder = Mlp::new(&encoder_dims, &vb.pp("encoder"))?;
        let decoder = Mlp::new(&decoder_dims, &vb.pp("decoder"))?;
        let mut rng = Rng::new(seed);
        Self::seed_weights(&varmap, &mut rng)?;
        let optimizer = candle_nn::AdamW::new(
            varmap.all_vars(),
            candle_nn::ParamsAdamW { lr: learning_rate, weight_decay: 0.0, ..candle_nn::ParamsAdamW::default() },
        )?;
        let codebooks =
            config.codebook_sizes.iter().map(|size| Codebook::new(*size as usize, config.latent_dim)).collect();
        Ok(Self {
            config,
            device,
            varmap: Some(varmap),
            encoder,
            decoder,
            codebooks,
            optimizer: Some(optimizer),
            rng: Rng::new(seed),
        })
    }

    /// Re-initialises every weight from `rng` (uniform ±1/√fan_in, as `nn.Linear` does), so fits are reproducible:
    /// candle's own CPU generator cannot be seeded.
    fn seed_weights(varmap: &VarMap, rng: &mut Rng) -> Result<()> {
        let vars = varmap.data().lock().map_err(|_| TokenizerError::Config("variable map poisoned".into()))?;
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let dims = var.dims().to_vec();
            let fan_in = if name.ends_with(".weight") {
                dims[1]
            } else {
                let weight = name.replace(".bias", ".weight");
                vars.get(&weight).map_or(dims[0], |w| w.dims()[1])
            };
            let bound = 1.0 / (fan_in as f64).sqrt();
            let values: Vec<f32> = (0..var.elem_count()).map(|_| rng.range(-bound, bound) as f32).collect();
            var.set(&Tensor::from_vec(values, dims, &Device::Cpu)?)?;
        }
        Ok(())
    }

    #[must_use]
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    fn chunk_len_numbers(&self) -> usize {
        self.config.chunk_len * self.config.action_dim
    }

    /// Normalised `[n, H·D]` tensor from flattened chunks.
    fn input(&self, chunks: &[Vec<f32>]) -> Result<Tensor> {
        let width = self.chunk_len_numbers();
        if chunks.is_empty() {
            return Err(TokenizerError::Input("no chunks to encode".into()));
        }
        let mut data = Vec::with_capacity(chunks.len() * width);
        for (index, chunk) in chunks.iter().enumerate() {
            if chunk.len() != width {
                return Err(TokenizerError::Input(format!(
                    "chunk {index} has {} numbers; expected {width}",
                    chunk.len()
                )));
            }
            if let Some(bad) = chunk.iter().position(|v| !v.is_finite()) {
                return Err(TokenizerError::Input(format!("chunk {index} has a non-finite number at {bad}")));
            }
            for (i, v) in chunk.iter().enumerate() {
                let d = i % self.config.action_dim;
                let normalised = (v - self.config.action_mean[d]) / self.config.action_std[d];
                // Far outside what the tokenizer was fitted on, codes would stand for something else entirely.
                if normalised.abs() > MAX_NORMALISED_ACTION {
                    return Err(TokenizerError::Input(format!(
                        "chunk {index}, action {}, value {}: {v} is {:.0} standard deviations from what the tokenizer \
                         was fitted on (at most {MAX_NORMALISED_ACTION}): a larger or faster step than the action tokens can \
                         represent",
                        i / self.config.action_dim,
                        d,
                        normalised.abs()
                    )));
                }
                data.push(normalised);
            }
        }
        Ok(Tensor::from_vec(data, (chunks.len(), width), &self.device)?)
    }

    /// Latent vectors `[n·P, latent_dim]` for normalised input.
    fn latents(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        Ok(self.encoder.forward(x)?.reshape((n * self.config.positions_per_chunk, self.config.latent_dim))?)
    }

    /// Quantises latents level by level.
    fn quantise(&self, z: &Tensor) -> Result<Quantised> {
        let mut residual = z.clone();
        let mut codes = Vec::new();
        let mut vectors = Vec::new();
        let mut residuals = Vec::new();
        for codebook in &self.codebooks {
            let ids = codebook.nearest(&residual, &self.device)?;
            let q = codebook.lookup(&ids, &self.device)?;
            residuals.push(residual.flatten_all()?.to_vec1::<f32>()?);
            residual = (residual - &q)?;
            codes.push(ids);
            vectors.push(q);
        }
        Ok(Quantised { codes, vectors, residuals })
    }

    /// Encodes chunks (each `H·D` numbers, row-major) into codes: per chunk, `P × levels` codes, position-major.
    pub fn encode(&self, chunks: &[Vec<f32>]) -> Result<Vec<Vec<u32>>> {
        let x = self.input(chunks)?;
        let z = self.latents(&x)?;
        let Quantised { codes, .. } = self.quantise(&z)?;
        let positions = self.config.positions_per_chunk;
        let levels = self.config.levels();
        Ok((0..chunks.len())
            .map(|chunk| {
                (0..positions)
                    .flat_map(|p| (0..levels).map(move |l| (p, l)))
                    .map(|(p, l)| codes[l][chunk * positions + p])
                    .collect()
            })
            .collect())
    }

    /// Decodes codes back to chunks using the first `levels_used` levels (coarse only: `coarse_levels`).
    pub fn decode(&self, codes: &[Vec<u32>], levels_used: usize) -> Result<Vec<Vec<f32>>> {
        let levels = self.config.levels();
        let positions = self.config.positions_per_chunk;
        if !(1..=levels).contains(&levels_used) {
            return Err(TokenizerError::Input(format!("{levels_used} levels asked; this tokenizer has 1 to {levels}")));
        }
        if codes.is_empty() {
            return Err(TokenizerError::Input("no chunks to decode".into()));
        }
        let mut per_level: Vec<Vec<u32>> = vec![Vec::with_capacity(codes.len() * positions); levels];
        for (index, chunk) in codes.iter().enumerate() {
            if chunk.len() != positions * levels {
                return Err(TokenizerError::Input(format!(
                    "chunk {index} has {} codes; expected {}",
                    chunk.len(),
                    positions * levels
                )));
            }
            for p in 0..positions {
                for l in 0..levels {
                    let code = chunk[p * levels + l];
                    if code >= self.config.codebook_sizes[l] {
                        return Err(TokenizerError::Input(format!(
                            "chunk {index}: code {code} is out of range for level {l} (codebook of {})",
                            self.config.codebook_sizes[l]
                        )));
                    }
                    per_level[l].push(code);
                }
            }
        }
        let mut sum = Tensor::zeros((codes.len() * positions, self.config.latent_dim), DType::F32, &self.device)?;
        for (codebook, ids) in self.codebooks.iter().zip(&per_level).take(levels_used) {
            sum = (sum + codebook.lookup(ids, &self.device)?)?;
        }
        let latent = sum.reshape((codes.len(), positions * self.config.latent_dim))?;
        self.output(&self.decoder.forward(&latent)?)
    }

    fn output(&self, y: &Tensor) -> Result<Vec<Vec<f32>>> {
        let rows = y.to_vec2::<f32>()?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let d = i % self.config.action_dim;
                        v * self.config.action_std[d] + self.config.action_mean[d]
                    })
                    .collect()
            })
            .collect())
    }

    /// One training step on a batch of chunks.
    pub fn train_step(&mut self, chunks: &[Vec<f32>]) -> Result<StepReport> {
        if self.optimizer.is_none() {
            return Err(TokenizerError::Config("this tokenizer was loaded for inference and cannot be trained".into()));
        }
        let x = self.input(chunks)?;
        let z = self.latents(&x)?;
        let z_detached = z.detach();
        if !self.codebooks.iter().all(|c| c.initialised) {
            // k-means seeding, level by level, from this batch's residuals.
            let mut residual = z_detached.clone();
            for level in 0..self.codebooks.len() {
                let values = residual.flatten_all()?.to_vec1::<f32>()?;
                self.codebooks[level].seed(&values, &mut self.rng);
                let ids = self.codebooks[level].nearest(&residual, &self.device)?;
                residual = (residual - self.codebooks[level].lookup(&ids, &self.device)?)?;
            }
        }
        let Quantised { codes, vectors, residuals } = self.quantise(&z_detached)?;
        let coarse = self.config.coarse_levels;
        let z_q = vectors.iter().skip(1).try_fold(vectors[0].clone(), |acc, v| acc + v)?;
        let z_q_coarse = vectors.iter().take(coarse).skip(1).try_fold(vectors[0].clone(), |acc, v| acc + v)?;
        let n = chunks.len();
        let width = self.config.positions_per_chunk * self.config.latent_dim;
        // Straight-through: forward uses the quantised latent, gradients flow to the encoder's latent.
        let straight = (&z + (&z_q - &z_detached)?)?.reshape((n, width))?;
        let straight_coarse = (&z + (&z_q_coarse - &z_detached)?)?.reshape((n, width))?;
        let reconstruction = candle_nn::loss::mse(&self.decoder.forward(&straight)?, &x)?;
        let coarse_loss = candle_nn::loss::mse(&self.decoder.forward(&straight_coarse)?, &x)?;
        let commitment = candle_nn::loss::mse(&z, &z_q)?;
        let loss = ((&reconstruction + coarse_loss.affine(f64::from(self.config.coarse_weight), 0.0)?)?
            + commitment.affine(f64::from(self.config.commitment), 0.0)?)?;
        if let Some(optimizer) = &mut self.optimizer {
            optimizer.backward_step(&loss)?;
        }
        let mut restarted = 0;
        for (level, codebook) in self.codebooks.iter_mut().enumerate() {
            restarted += codebook.update(
                &residuals[level],
                &codes[level],
                self.config.ema_decay,
                self.config.dead_code_threshold,
                &mut self.rng,
            );
        }
        Ok(StepReport {
            loss: loss.to_scalar::<f32>()?,
            reconstruction: reconstruction.to_scalar::<f32>()?,
            restarted_codes: restarted,
        })
    }

    /// Every tensor under its documented name.
    fn tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut tensors = HashMap::new();
        let (encoder_dims, decoder_dims) = Self::dims(&self.config);
        for (prefix, mlp, dims) in
            [("encoder", &self.encoder, &encoder_dims), ("decoder", &self.decoder, &decoder_dims)]
        {
            for (i, layer) in mlp.layers.iter().enumerate() {
                tensors.insert(format!("{prefix}.{i}.weight"), layer.weight().clone());
                let bias = layer.bias().cloned().unwrap_or(Tensor::zeros(dims[i + 1], DType::F32, &self.device)?);
                tensors.insert(format!("{prefix}.{i}.bias"), bias);
            }
        }
        for (level, codebook) in self.codebooks.iter().enumerate() {
            tensors.insert(format!("rvq.codebook.{level}"), codebook.tensor(&self.device)?);
        }
        Ok(tensors)
    }

    /// Writes `config.json` and `model.safetensors` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let io = |path: &Path, error: &dyn std::fmt::Display| TokenizerError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
        let config_path = dir.join("config.json");
        let json = serde_json::to_string_pretty(&self.config).map_err(|e| io(&config_path, &e))?;
        std::fs::write(&config_path, json).map_err(|e| io(&config_path, &e))?;
        let weights = dir.join("model.safetensors");
        candle_core::safetensors::save(&self.tensors()?, &weights).map_err(|e| io(&weights, &e))?;
        Ok(())
    }

    /// Loads `config.json` and `model.safetensors` from `dir`, for inference.
    pub fn load(dir: &Path) -> Result<Self> {
        let io = |path: &Path, error: &dyn std::fmt::Display| TokenizerError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        let config_path = dir.join("config.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| io(&config_path, &e))?;
        let config: TokenizerConfig = serde_json::from_str(&text).map_err(|e| io(&config_path, &e))?;
        config.validate().map_err(TokenizerError::Config)?;
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| io(&weights, &e))?;
        Self::from_parts(config, &bytes).map_err(|error| match error {
            TokenizerError::Weights(message) => io(&weights, &message),
            other => other,
        })
    }

    /// The default weights shipped in `assets/tokenizer`, built into the binary (the embedded default).
    pub fn builtin() -> Result<Self> {
        let config: TokenizerConfig = serde_json::from_str(include_str!("../../../../assets/tokenizer/config.json"))
            .map_err(|e| TokenizerError::Config(format!("built-in config.json: {e}")))?;
        Self::from_parts(config, include_bytes!("../../../../assets/tokenizer/model.safetensors"))
    }

    /// A tokenizer from a config and the bytes of a safetensors file.
    pub fn from_parts(config: TokenizerConfig, safetensors: &[u8]) -> Result<Self> {
        config.validate().map_err(TokenizerError::Config)?;
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(safetensors, &device)
            .map_err(|e| TokenizerError::Weights(format!("cannot read safetensors: {e}")))?;
        let mut codebooks = Vec::new();
        for (level, size) in config.codebook_sizes.iter().enumerate() {
            let name = format!("rvq.codebook.{level}");
            let tensor = tensors.get(&name).ok_or_else(|| TokenizerError::Weights(format!("{name} is missing")))?;
            if tensor.dims() != [*size as usize, config.latent_dim] {
                return Err(TokenizerError::Weights(format!(
                    "{name} has shape {:?}; the config says [{size}, {}]",
                    tensor.dims(),
                    config.latent_dim
                )));
            }
            let mut codebook = Codebook::new(*size as usize, config.latent_dim);
            codebook.embed = tensor.flatten_all()?.to_vec1::<f32>()?;
            codebook.initialised = true;
            codebooks.push(codebook);
        }
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let (encoder_dims, decoder_dims) = Self::dims(&config);
        let encoder = Mlp::new(&encoder_dims, &vb.pp("encoder")).map_err(|e| TokenizerError::Weights(e.to_string()))?;
        let decoder = Mlp::new(&decoder_dims, &vb.pp("decoder")).map_err(|e| TokenizerError::Weights(e.to_string()))?;
        Ok(Self { config, device, varmap: None, encoder, decoder, codebooks, optimizer: None, rng: Rng::new(1) })
    }

    /// Changes the optimiser's learning rate (for a schedule); no effect on a tokenizer loaded for inference.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        if let Some(optimizer) = &mut self.optimizer {
            candle_nn::Optimizer::set_learning_rate(optimizer, learning_rate);
        }
    }

    /// Whether this instance can be trained (it was created, not loaded).
    #[must_use]
    pub fn trainable(&self) -> bool {
        self.varmap.is_some()
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
