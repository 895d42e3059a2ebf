//! The default tokenizer weights shipped in `assets/tokenizer` load and reconstruct held-out demonstrations.

use kinedesk_models::tokenizer::ActionTokenizer;
use kinedesk_models::tokenizer::fit::{FitOptions, evaluate, held_out_chunks};

#[test]
fn shipped_weights_reconstruct_held_out_chunks_under_two_millimetres() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/tokenizer");
    let tokenizer = ActionTokenizer::load(&dir).expect("assets/tokenizer loads");
    let mut chunks = held_out_chunks(tokenizer.config(), &FitOptions::default());
    chunks.truncate(2000);
    let report = evaluate(&tokenizer, &chunks).expect("evaluation runs");
    let coarse = &report.by_levels[0];
    let all = report.by_levels.last().expect("levels");
    assert!(all.position_rmse_mm < 2.0, "{report:#?}");
    assert!(all.position_rmse_mm * 3.0 < coarse.position_rmse_mm, "fine levels refine the coarse one: {report:#?}");
    assert!(report.usage.iter().all(|u| u.used_fraction >= 0.5), "{report:#?}");
    assert!(std::fs::metadata(dir.join("model.safetensors")).expect("weights").len() < 5 * 1024 * 1024);
}
