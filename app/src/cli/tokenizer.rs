//! `kinedesk tokenizer fit|eval|encode|decode`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use kinedesk_models::policy::tokens::{PolicyOutput, parse, render};
use kinedesk_models::tokenizer::fit::{EvalReport, FitOptions, evaluate, fit_with, held_out_chunks};
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

/// Action chunks from recorded sessions: each episode's joint states resampled at the demonstrations' 20 Hz, turned
/// into flange poses by forward kinematics and into LIBERO-format actions (delta position, delta rotation vector,
/// gripper ±1), cut into chunks every 2 steps.
pub fn chunks_from_sessions(sessions: &[PathBuf], chunk_len: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    use kinedesk_models::policy::motion::{PLAN_DT_S, action_between};
    use kinedesk_models::robot::{BuiltinRobot, fk};
    use kinedesk_sessions::episode::{SessionDir, read_episode};
    let mut chunks = Vec::new();
    for root in sessions {
        let session = SessionDir::open(root).map_err(|e| anyhow::anyhow!("{e}"))?;
        for path in session.episode_paths().map_err(|e| anyhow::anyhow!("{e}"))? {
            let episode = read_episode(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
            let robot = episode
                .meta
                .robot
                .parse::<BuiltinRobot>()
                .map_err(|_| {
                    anyhow::anyhow!("{}: robot {:?} is not a built-in one", path.display(), episode.meta.robot)
                })?
                .robot();
            let (Some(first), Some(last)) = (episode.joints.first(), episode.joints.last()) else { continue };
            let steps = (last.time.saturating_since(first.time).as_secs_f64() / PLAN_DT_S) as usize;
            let mut poses = Vec::with_capacity(steps + 1);
            let mut cursor = 0;
            for k in 0..=steps {
                let t = first.time.as_nanos() + (k as f64 * PLAN_DT_S * 1e9) as u64;
                while cursor + 1 < episode.joints.len() && episode.joints[cursor + 1].time.as_nanos() <= t {
                    cursor += 1;
                }
                let sample = &episode.joints[cursor];
                let pose = fk(&robot, &sample.positions).with_context(|| format!("{}", path.display()))?;
                poses.push((pose, if sample.gripper < 0.5 { 1.0 } else { -1.0 }));
            }
            let actions: Vec<[f64; 7]> = poses.windows(2).map(|w| action_between(&w[0].0, &w[1].0, w[1].1)).collect();
            let mut start = 0;
            while start + chunk_len <= actions.len() {
                chunks.push(actions[start..start + chunk_len].iter().flatten().map(|v| *v as f32).collect());
                start += 2;
            }
        }
    }
    Ok(chunks)
}

/// `tokenizer fit`: trains on synthetic demonstrations (plus chunks from recorded sessions) and writes
/// config.json + model.safetensors to `out`.
pub fn run_fit(
    out: &Path,
    options: &FitOptions,
    template: TokenizerConfig,
    sessions: &[PathBuf],
    json: bool,
    overwrite: bool,
) -> anyhow::Result<()> {
    // Checked before minutes of fitting: the weights go beside `out` and replace it only when complete, and only
    // with --force (never into a session the data comes from).
    let sources: Vec<&Path> = sessions.iter().map(PathBuf::as_path).collect();
    let staged =
        kinedesk_sessions::output::StagedOutput::prepare(&sources, out, overwrite).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let recorded = chunks_from_sessions(sessions, template.chunk_len)?;
    if !sessions.is_empty() {
        eprintln!(
            "{} chunks from {} recorded session(s), besides the synthetic demonstrations",
            recorded.len(),
            sessions.len()
        );
    }
    let (tokenizer, report) = fit_with(template, options, recorded, |step, loss| {
        eprintln!("step {step:>6} / {}  loss {loss:.5}  ({:.0} s)", options.steps, started.elapsed().as_secs_f64());
    })?;
    tokenizer.save(staged.path())?;
    // The folder as written is read back before it replaces anything: config and tensors must agree.
    kinedesk_models::tokenizer::ActionTokenizer::load(staged.path())?;
    staged.commit().map_err(anyhow::Error::msg)?;
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
    println!("{}", encode_value(&tokenizer, &read_stdin_json()?)?);
    Ok(())
}

/// What `tokenizer encode` answers to `input`.
pub fn encode_value(tokenizer: &ActionTokenizer, input: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let chunks: Vec<Vec<Vec<f32>>> = match (input.get("chunks"), input.get("chunk")) {
        (Some(chunks), _) => {
            serde_json::from_value(chunks.clone()).context("\"chunks\" must be a list of chunks of actions")?
        }
        (None, Some(chunk)) => {
            vec![serde_json::from_value(chunk.clone()).context("\"chunk\" must be a list of actions")?]
        }
        (None, None) => bail!("expected {{\"chunk\": [[…], …]}} or {{\"chunks\": [...]}} on stdin"),
    };
    let (length, dim) = (tokenizer.config().chunk_len, tokenizer.config().action_dim);
    for (index, chunk) in chunks.iter().enumerate() {
        if chunk.len() != length || chunk.iter().any(|action| action.len() != dim) {
            let rows: Vec<usize> = chunk.iter().map(Vec::len).collect();
            bail!("chunk {index} must be {length} actions of {dim} numbers; it has rows of {rows:?}");
        }
    }
    let flat: Vec<Vec<f32>> = chunks.into_iter().map(|chunk| chunk.into_iter().flatten().collect()).collect();
    let codes = tokenizer.encode(&flat)?;
    let tokens =
        render(&PolicyOutput { chunks: codes.clone(), ..PolicyOutput::default() }, &tokenizer.config().layout());
    Ok(serde_json::json!({"codes": codes, "tokens": tokens}))
}

/// `tokenizer decode`: `{"codes": [[…], …]}` or `{"tokens": "<act_c:…> …"}` on stdin → chunks (by default with all
/// levels; `levels` limits it, e.g. 1 for the coarse goal-level motion).
pub fn run_decode(weights: &Path, levels: Option<usize>) -> anyhow::Result<()> {
    let tokenizer = ActionTokenizer::load(weights).with_context(|| format!("loading {}", weights.display()))?;
    println!("{}", decode_value(&tokenizer, &read_stdin_json()?, levels)?);
    Ok(())
}

/// What `tokenizer decode` answers to `input`.
pub fn decode_value(
    tokenizer: &ActionTokenizer,
    input: &serde_json::Value,
    levels: Option<usize>,
) -> anyhow::Result<serde_json::Value> {
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
    Ok(serde_json::json!({"levels": levels, "chunks": chunks}))
}

/// Runs `kinedesk tokenizer …`.
pub fn run(command: crate::cli::TokenizerCommand) -> anyhow::Result<()> {
    use kinedesk_models::tokenizer::{TokenizerConfig, fit::FitOptions};
    match command {
        crate::cli::TokenizerCommand::Fit {
            out,
            steps,
            seed,
            batch,
            episodes,
            learning_rate,
            codebook_size,
            fine_levels,
            latent_dim,
            hidden_dim,
            data,
            json,
            force,
        } => {
            let options =
                FitOptions { steps, batch, learning_rate, seed, train_episodes: episodes, ..FitOptions::default() };
            let template = TokenizerConfig {
                fine_levels,
                latent_dim,
                hidden_dim,
                codebook_sizes: vec![codebook_size; 1 + fine_levels],
                ..TokenizerConfig::default()
            };
            run_fit(&out, &options, template, &data, json, force)
        }
        crate::cli::TokenizerCommand::Eval { weights, json } => {
            run_eval(&weights.unwrap_or_else(default_weights_dir), &FitOptions::default(), json)
        }
        crate::cli::TokenizerCommand::Encode { weights } => run_encode(&weights.unwrap_or_else(default_weights_dir)),
        crate::cli::TokenizerCommand::Decode { weights, levels } => {
            run_decode(&weights.unwrap_or_else(default_weights_dir), levels)
        }
    }
}
