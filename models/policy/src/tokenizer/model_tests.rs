//! Tests of `model`.

use super::super::data::{action_stats, synthetic_chunks};
use super::*;

fn small_config(chunks: &[Vec<f32>]) -> TokenizerConfig {
    let (action_mean, action_std) = action_stats(chunks, 7);
    TokenizerConfig {
        codebook_sizes: vec![32, 32, 32],
        hidden_dim: 64,
        action_mean,
        action_std,
        ..TokenizerConfig::default()
    }
}

#[test]
fn training_reduces_the_loss_and_fine_levels_refine_the_coarse_one() {
    let chunks = synthetic_chunks(60, 5, 2, 1);
    let mut tokenizer = ActionTokenizer::new_untrained(small_config(&chunks), 3, 2e-3).unwrap();
    let first = tokenizer.train_step(&chunks[..256]).unwrap();
    let mut last = first;
    for step in 0..300 {
        let start = (step * 97) % (chunks.len() - 256);
        last = tokenizer.train_step(&chunks[start..start + 256]).unwrap();
    }
    assert!(last.reconstruction < 0.5 * first.reconstruction, "{first:?} → {last:?}");
    let sample = &chunks[..200];
    let codes = tokenizer.encode(sample).unwrap();
    assert!(codes.iter().all(|c| c.len() == 3));
    // Squared error per dimension in normalised units (raw units would let the ±1 gripper drown millimetres).
    let std = tokenizer.config().action_std.clone();
    let error = |levels: usize| -> f32 {
        let decoded = tokenizer.decode(&codes, levels).unwrap();
        decoded
            .iter()
            .zip(sample)
            .flat_map(|(a, b)| a.iter().zip(b).enumerate().map(|(i, (x, y))| ((x - y) / std[i % 7]).powi(2)))
            .sum::<f32>()
    };
    assert!(error(3) < error(1), "all levels ({}) beat coarse only ({})", error(3), error(1));
}

#[test]
fn weights_round_trip_through_safetensors_with_documented_names() {
    let chunks = synthetic_chunks(10, 5, 2, 2);
    let mut tokenizer = ActionTokenizer::new_untrained(small_config(&chunks), 4, 1e-3).unwrap();
    tokenizer.train_step(&chunks[..64]).unwrap();
    let dir = std::env::temp_dir().join(format!("kinedesk-tokenizer-{}", std::process::id()));
    tokenizer.save(&dir).unwrap();
    let names: std::collections::BTreeSet<String> =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap().into_keys().collect();
    for expected in ["encoder.0.weight", "encoder.2.bias", "decoder.1.weight", "rvq.codebook.0", "rvq.codebook.2"] {
        assert!(names.contains(expected), "{expected} missing from {names:?}");
    }
    let loaded = ActionTokenizer::load(&dir).unwrap();
    assert!(!loaded.trainable());
    let sample = &chunks[..20];
    assert_eq!(loaded.encode(sample).unwrap(), tokenizer.encode(sample).unwrap());
    assert_eq!(
        loaded.decode(&tokenizer.encode(sample).unwrap(), 3).unwrap(),
        tokenizer.decode(&tokenizer.encode(sample).unwrap(), 3).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_errors() {
    let chunks = synthetic_chunks(5, 5, 5, 3);
    let tokenizer = ActionTokenizer::new_untrained(small_config(&chunks), 5, 1e-3).unwrap();
    assert!(matches!(tokenizer.encode(&[vec![0.0; 3]]), Err(TokenizerError::Input(_))));
    assert!(matches!(tokenizer.encode(&[vec![f32::NAN; 35]]), Err(TokenizerError::Input(_))));
    assert!(tokenizer.decode(&[vec![40, 0, 0]], 3).unwrap_err().to_string().contains("out of range"));
    assert!(tokenizer.decode(&[vec![1, 2]], 3).unwrap_err().to_string().contains("expected 3"));
    assert!(tokenizer.decode(&[vec![1, 2, 3]], 99).unwrap_err().to_string().contains("1 to 3"));
    assert!(tokenizer.decode(&[], 3).unwrap_err().to_string().contains("no chunks"));
    assert!(tokenizer.encode(&[]).unwrap_err().to_string().contains("no chunks"));
    // A 100 m step is nothing like what the tokenizer was fitted on: refused, not encoded into a code for something
    // else.
    let width = tokenizer.config().chunk_len * tokenizer.config().action_dim;
    let mut absurd = vec![0.0_f32; width];
    absurd[0] = 100.0;
    assert!(tokenizer.encode(&[absurd]).unwrap_err().to_string().contains("standard deviations"));
    assert!(ActionTokenizer::load(Path::new("/no/such/dir")).unwrap_err().to_string().contains("config.json"));
}
