//! `bench tokenizer`: RVQ-VAE encode and decode time on the CPU.

use std::time::Instant;

use anyhow::{Context as _, bail};

use super::{Report, Summary};

/// Result of `kinedesk bench tokenizer`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenizerBench {
    pub weights: String,
    pub encode_batch1: Summary,
    pub decode_batch1: Summary,
    pub encode_batch64: Summary,
    pub decode_batch64: Summary,
}

/// Times encoding and decoding (all levels) of held-out synthetic chunks, one at a time and 64 at a time, on the CPU.
pub fn bench_tokenizer(weights: &std::path::Path, iterations: usize) -> anyhow::Result<TokenizerBench> {
    use kinedesk_models::tokenizer::ActionTokenizer;
    use kinedesk_models::tokenizer::fit::{FitOptions, held_out_chunks};

    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    let chunks = held_out_chunks(tokenizer.config(), &FitOptions::default());
    if chunks.len() < 64 {
        bail!("not enough held-out chunks");
    }
    let levels = tokenizer.config().levels();
    let time = |batch: usize, encode: bool| -> anyhow::Result<Summary> {
        let mut samples = Vec::with_capacity(iterations);
        for i in 0..iterations + 10 {
            let start = (i * 37) % (chunks.len() - batch);
            let slice = &chunks[start..start + batch];
            let codes = tokenizer.encode(slice)?;
            let started = Instant::now();
            if encode {
                std::hint::black_box(tokenizer.encode(slice)?);
            } else {
                std::hint::black_box(tokenizer.decode(&codes, levels)?);
            }
            if i >= 10 {
                samples.push(started.elapsed());
            }
        }
        Summary::micros(&samples).context("no samples")
    };
    Ok(TokenizerBench {
        weights: weights.display().to_string(),
        encode_batch1: time(1, true)?,
        decode_batch1: time(1, false)?,
        encode_batch64: time(64, true)?,
        decode_batch64: time(64, false)?,
    })
}

impl Report for TokenizerBench {
    fn print_text(&self) {
        println!("Tokenizer {} on the CPU (median / p95, microseconds):", self.weights);
        for (name, s) in [
            ("encode, batch 1 ", &self.encode_batch1),
            ("decode, batch 1 ", &self.decode_batch1),
            ("encode, batch 64", &self.encode_batch64),
            ("decode, batch 64", &self.decode_batch64),
        ] {
            println!("  {name}: {:.1} / {:.1}", s.median, s.p95);
        }
    }
}
