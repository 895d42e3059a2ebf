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
fn the_weights_built_into_the_binary_decode_and_a_config_that_does_not_fit_them_is_refused() {
    // The built-in path (configuration parsed from the binary, weights read from its bytes) reconstructs as well as
    // the files do.
    let builtin = ActionTokenizer::builtin().expect("built-in weights load");
    let mut chunks = held_out_chunks(builtin.config(), &FitOptions::default());
    chunks.truncate(500);
    let report = evaluate(&builtin, &chunks).expect("evaluation runs");
    assert!(report.by_levels.last().expect("levels").position_rmse_mm < 2.0, "{report:#?}");
    // A configuration whose shapes differ from the tensors (a new config.json beside old weights) is refused with
    // the tensor and both shapes named, not loaded into nonsense.
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/tokenizer/model.safetensors"),
    )
    .expect("weights");
    let mut wrong = builtin.config().clone();
    wrong.latent_dim += 8;
    let Err(error) = ActionTokenizer::from_parts(wrong, &bytes) else { panic!("a mismatch must be refused") };
    let error = error.to_string();
    assert!(error.contains("rvq.codebook.0") && error.contains("the config says"), "{error}");
    let mut wrong = builtin.config().clone();
    wrong.hidden_dim *= 2;
    assert!(ActionTokenizer::from_parts(wrong, &bytes).is_err(), "hidden layers of another width are refused too");
}
