//! The default tokenizer weights shipped in `assets/tokenizer` load and reconstruct held-out demonstrations.

use kinedesk_policy::tokenizer::ActionTokenizer;
use kinedesk_policy::tokenizer::fit::{FitOptions, evaluate, held_out_chunks};

#[test]
fn shipped_weights_reconstruct_held_out_chunks_under_two_millimetres() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/tokenizer");
    let tokenizer = ActionTokenizer::load(&dir).expect("assets/tokenizer loads");
    let mut chunks = held_out_chunks(tokenizer.config(), &FitOptions::default());
    chunks.truncate(2000);
    let report = evaluate(&tokenizer, &chunks).expect("evaluation runs");
    let coarse = &report.by_levels[0];
    let all = report.by_levels.last().expect("levels");
    assert!(all.position_rmse_mm < 2.0, "{report:#?}");
    assert!(all.position_rmse_mm * 5.0 < coarse.position_rmse_mm, "fine levels cut the coarse error 5×: {report:#?}");
    assert!(report.usage.iter().all(|u| u.used_fraction >= 0.5), "{report:#?}");
    assert!(std::fs::metadata(dir.join("model.safetensors")).expect("weights").len() < 5 * 1024 * 1024);
}

#[test]
fn the_weights_built_into_the_binary_are_the_shipped_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/tokenizer");
    let loaded = ActionTokenizer::load(&dir).expect("assets/tokenizer loads");
    let builtin = ActionTokenizer::builtin().expect("built-in weights load");
    assert_eq!(loaded.config(), builtin.config());
    let chunks = held_out_chunks(loaded.config(), &FitOptions::default());
    let sample = &chunks[..64];
    assert_eq!(loaded.encode(sample).expect("encode"), builtin.encode(sample).expect("encode"));
}
