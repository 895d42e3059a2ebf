//! `kinedesk tokenizer fit|eval|encode|decode`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use kinedesk_models::policy::tokens::{PolicyOutput, parse, render};
use kinedesk_models::tokenizer::fit::{EvalReport, FitOptions, evaluate, fit, held_out_chunks};
use kinedesk_models::tokenizer::{ActionTokenizer, TokenizerConfig};

/// The shipped default weights (`assets/tokenizer` of the source tree), unless `KINEDESK_TOKENIZER` names others.
#[must_use]
pub fn default_weights_dir() -> PathBuf {
    std::env::var_os("KINEDESK_TOKENIZER")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/tokenizer"), PathBuf::from)
}

fn print_report(report: &EvalReport) {
    println!("held-out chunks: {}", report.chunks);
    for level in &report.by_levels {
        println!(
            "  levels 1..{}: position RMSE {:.3} mm, rotation {:.3}°, gripper MAE {:.4}",
            level.levels, level.position_rmse_mm, level.rotation_rmse_deg, level.gripper_mae
        );
    }
    for usage in &report.usage {
        println!(
            "  level {}: {:.1} % of codes used, perplexity {:.1}",
            usage.level,
            usage.used_fraction * 100.0,
            usage.perplexity
        );
    }
}

/// `tokenizer fit`: trains on synthetic demonstrations and writes config.json + model.safetensors to `out`.
pub fn run_fit(out: &Path, options: &FitOptions, template: TokenizerConfig, json: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let (tokenizer, report) = fit(template, options, |step, loss| {
        eprintln!("step {step:>6} / {}  loss {loss:.5}  ({:.0} s)", options.steps, started.elapsed().as_secs_f64());
    })?;
    tokenizer.save(out)?;
    let seconds = started.elapsed().as_secs_f64();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"fit_seconds": seconds, "eval": report}))?);
    } else {
        println!("fitted in {seconds:.1} s; weights in {}", out.display());
        print_report(&report);
    }
    Ok(())
}

/// `tokenizer eval`: reconstruction per number of levels and codebook usage on held-out synthetic demonstrations.
pub fn run_eval(weights: &Path, options: &FitOptions, json: bool) -> anyhow::Result<()> {
    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    let report = evaluate(&tokenizer, &held_out_chunks(tokenizer.config(), options))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn read_stdin_json() -> anyhow::Result<serde_json::Value> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
    serde_json::from_str(&text).context("stdin is not JSON")
}

/// `tokenizer encode`: `{"chunks": [[[a1..a7] × H], …]}` (or one chunk as `{"chunk": …}`) on stdin → codes and tokens.
pub fn run_encode(weights: &Path) -> anyhow::Result<()> {
    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    let input = read_stdin_json()?;
    let chunks: Vec<Vec<Vec<f32>>> = match (input.get("chunks"), input.get("chunk")) {
        (Some(chunks), _) => {
            serde_json::from_value(chunks.clone()).context("\"chunks\" must be a list of chunks of actions")?
        }
        (None, Some(chunk)) => {
            vec![serde_json::from_value(chunk.clone()).context("\"chunk\" must be a list of actions")?]
        }
        (None, None) => bail!("expected {{\"chunk\": [[…], …]}} or {{\"chunks\": [...]}} on stdin"),
    };
    let flat: Vec<Vec<f32>> = chunks.into_iter().map(|chunk| chunk.into_iter().flatten().collect()).collect();
    let codes = tokenizer.encode(&flat)?;
    let tokens =
        render(&PolicyOutput { chunks: codes.clone(), ..PolicyOutput::default() }, &tokenizer.config().layout());
    println!("{}", serde_json::json!({"codes": codes, "tokens": tokens}));
    Ok(())
}

/// `tokenizer decode`: `{"codes": [[…], …]}` or `{"tokens": "<act_c:…> …"}` on stdin → chunks (by default with all
/// levels; `levels` limits it, e.g. 1 for the coarse goal-level motion).
pub fn run_decode(weights: &Path, levels: Option<usize>) -> anyhow::Result<()> {
    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    let input = read_stdin_json()?;
    let codes: Vec<Vec<u32>> = match (input.get("codes"), input.get("tokens").and_then(|t| t.as_str())) {
        (Some(codes), _) => serde_json::from_value(codes.clone()).context("\"codes\" must be a list of code lists")?,
        (None, Some(text)) => parse(text, &tokenizer.config().layout())?.chunks,
        (None, None) => bail!("expected {{\"codes\": [[…]]}} or {{\"tokens\": \"<act_c:…> …\"}} on stdin"),
    };
    let levels = levels.unwrap_or(tokenizer.config().levels());
    let decoded = tokenizer.decode(&codes, levels)?;
    let dim = tokenizer.config().action_dim;
    let chunks: Vec<Vec<Vec<f32>>> =
        decoded.iter().map(|chunk| chunk.chunks_exact(dim).map(<[f32]>::to_vec).collect()).collect();
    println!("{}", serde_json::json!({"levels": levels, "chunks": chunks}));
    Ok(())
}
