//! `kinedesk rollout`: a closed-loop policy rollout headless — the same engine as the desk's Rollout panel, ticked
//! from this loop. In step mode each chunk is shown on stderr and approved from stdin (`y` / `n`).

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::bail;
use kinedesk_models::driver::DriverCommand;
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::rollout::{
    BuiltinChunks, ChunkPolicy, Envelope, Phase, PolicyProfile, RemoteChunks, Rollout, RolloutConfig, RolloutEvent,
    RolloutMode, RolloutSummary, StopReason,
};
use kinedesk_models::stop::StopSignal;
use kinedesk_models::tokenizer::ActionTokenizer;
use kinedesk_sessions::events::TimelineEvent;

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    /// The instruction the policy is asked to carry out.
    pub instruction: String,
    /// `builtin` (the built-in planner, closed loop) or a policy server: ws://host:port or wss://host:port.
    #[arg(long, default_value = "builtin")]
    pub policy: String,
    /// API key for the server (sent as `Authorization: Api-Key …`).
    #[arg(long, env = "KINEDESK_API_KEY", value_parser = crate::cli::api_key_arg)]
    pub api_key: Option<String>,
    /// How to build observations and read actions: kinevla, libero, droid, aloha, or a profile TOML file.
    #[arg(long, default_value = "kinevla")]
    pub profile: String,
    /// The robot: `sim` (the simulated arm), realman://HOST:PORT or ros2://[?state=TOPIC&command=TOPIC&domain=D].
    #[arg(long, default_value = "sim")]
    pub robot: String,
    /// Robot model (built-in name or URDF path).
    #[arg(long, default_value = "panda")]
    pub model: String,
    /// step: every chunk waits for approval on stdin; supervised: chunks inside the envelope run on their own.
    #[arg(long, default_value = "step", value_parser = ["step", "supervised"])]
    pub mode: String,
    /// Stop after this many chunks.
    #[arg(long)]
    pub max_chunks: Option<usize>,
    /// Start no chunk after this many seconds.
    #[arg(long, value_parser = crate::cli::seconds_arg)]
    pub max_seconds: Option<f64>,
    /// Ask for the next chunk after this many steps of the current one (default: half the steps executed per
    /// chunk); `--sync` asks only when a chunk has finished.
    #[arg(long)]
    pub ask_after: Option<usize>,
    #[arg(long, conflicts_with = "ask_after")]
    pub sync: bool,
    /// Envelope of supervised mode: fastest joint speed (rad/s) and largest joint step (rad).
    #[arg(long, default_value_t = 1.0)]
    pub max_joint_speed: f64,
    #[arg(long, default_value_t = 0.1)]
    pub max_step: f64,
    /// Longest wait for a chunk (s) before the rollout stops with the arm held.
    #[arg(long, default_value = "30", value_parser = crate::cli::seconds_arg)]
    pub inference_timeout: f64,
    /// Record the rollout as an episode into this session folder.
    #[arg(long, value_name = "SESSION")]
    pub record: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

fn chunk_policy(args: &RolloutArgs) -> anyhow::Result<Box<dyn ChunkPolicy>> {
    let tokenizer = Arc::new(ActionTokenizer::builtin().map_err(|e| anyhow::anyhow!("{e}"))?);
    if args.policy == "builtin" {
        if args.profile != "kinevla" {
            bail!("the built-in planner speaks the kinevla profile; --profile {} is for a server", args.profile);
        }
        return Ok(Box::new(BuiltinChunks::new(BuiltinPlanner::new(tokenizer))));
    }
    if !(args.policy.starts_with("ws://") || args.policy.starts_with("wss://")) {
        bail!("--policy must be builtin, ws://HOST:PORT or wss://HOST:PORT");
    }
    let profile = PolicyProfile::load(&args.profile).map_err(anyhow::Error::msg)?;
    let mut config = RemoteConfig::new(&args.policy);
    config.api_key.clone_from(&args.api_key);
    config.reply_timeout = Duration::from_secs_f64(args.inference_timeout);
    let client = RemotePolicy::new(config, Some(tokenizer.clone()));
    Ok(Box::new(RemoteChunks::new(client, profile, Some(tokenizer))))
}

/// Runs `kinedesk rollout`.
pub fn run_rollout(args: &RolloutArgs) -> anyhow::Result<()> {
    let robot = crate::cli::robot::robot_from_arg(&args.model)?;
    let policy = chunk_policy(args)?;
    let profile = policy.profile().clone();
    profile.check_robot(&robot).map_err(anyhow::Error::msg)?;
    let mode = if args.mode == "supervised" { RolloutMode::Supervised } else { RolloutMode::Step };
    let execute = profile.action.execute_steps;
    let config = RolloutConfig {
        mode,
        envelope: Envelope {
            workspace: None,
            max_joint_speed_rad_s: args.max_joint_speed,
            max_step_rad: args.max_step,
        },
        max_chunks: args.max_chunks,
        max_time: args.max_seconds.map(Duration::from_secs_f64),
        ask_after_steps: if args.sync { None } else { Some(args.ask_after.unwrap_or(execute / 2).min(execute)) },
        inference_timeout: Duration::from_secs_f64(args.inference_timeout),
        ..RolloutConfig::new(args.instruction.clone())
    };

    let stop = StopSignal::new();
    let (driver, _) = crate::cli::robot_link::connect_and_wait(&args.robot, robot.clone(), stop.clone())?;
    eprintln!("connected to {} ({} joints)", driver.name, robot.dof());
    let recording = match &args.record {
        Some(session) => {
            Some(crate::cli::session::start_rollout_recording(session, &robot, &args.instruction, &driver)?)
        }
        None => None,
    };

    let robot = Arc::new(robot);
    let kind = robot.name.clone();
    // Headless: no cameras; the observation says so in each chunk's notes (the images are sent black).
    let mut rollout = Rollout::start(config, policy, robot, kind, Box::new(Vec::new)).map_err(anyhow::Error::msg)?;
    eprintln!("rollout of {:?} with {} ({mode:?} mode)", args.instruction, rollout.describe());
    let answers = (mode == RolloutMode::Step).then(stdin_answers);
    let started = Instant::now();
    let mut asked: Option<usize> = None;
    let mut logged = 0;
    while rollout.phase() != Phase::Stopped {
        let events = driver.drain_events();
        for event in &rollout.tick(&driver, &events) {
            report(&rollout, event);
        }
        if let Some(recording) = &recording {
            logged = log_settled_chunks(&rollout, recording, logged, false);
        }
        if let (Some(answers), Some(pending)) = (&answers, rollout.pending().map(|c| c.index)) {
            if asked != Some(pending) {
                eprintln!("approve chunk {pending}? [y/n]");
                asked = Some(pending);
            }
            match answers.try_recv() {
                Ok(true) => {
                    rollout.approve();
                }
                Ok(false) | Err(mpsc::TryRecvError::Disconnected) => {
                    rollout.reject();
                    let reason = StopReason::OperatorStop;
                    eprintln!("chunk {pending} rejected: stopping (take over in the desk to continue)");
                    rollout.stop(reason);
                }
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        if rollout.phase() == Phase::Paused && mode == RolloutMode::Supervised && rollout.pending().is_some() {
            // Headless, no one can look at a chunk outside the envelope: stop instead of waiting forever.
            let detail = rollout.pending().and_then(|c| c.outside_envelope.first().cloned()).unwrap_or_default();
            rollout.stop(StopReason::CheckFailed { violation: format!("outside the envelope: {detail}") });
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // The arm finishes nothing more: a stopped rollout sends no further chunk; wait for it to be still.
    let state = driver.wait_for_state(Duration::from_secs(2), |s| !s.moving).or_else(|| driver.latest_state());
    let final_joints = state.map(|s| s.positions).unwrap_or_default();
    let summary = RolloutSummary::of(&rollout, final_joints, started.elapsed().as_secs_f64());
    if let Some(recording) = recording {
        driver.set_state_tap(None);
        log_settled_chunks(&rollout, &recording, logged, true);
        recording.event(&TimelineEvent::Log {
            source: kinedesk_sessions::events::LogSource::Policy,
            message: format!("rollout stopped: {}", summary.stopped_detail),
        });
        let (path, _) =
            recording.finish(kinedesk_sessions::session_recorder::EpisodeEnd::Keep).map_err(anyhow::Error::msg)?;
        eprintln!("recorded {}", path.display());
    }
    let _ = driver.send(DriverCommand::Disconnect);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    match rollout.stop_reason() {
        Some(StopReason::Done | StopReason::MaxChunks | StopReason::MaxTime) | None => Ok(()),
        Some(other) => bail!("the rollout stopped: {other}"),
    }
}

/// A chunk as a timeline event of the recording.
#[must_use]
pub fn chunk_event(chunk: &kinedesk_models::policy::rollout::ChunkRecord) -> TimelineEvent {
    TimelineEvent::RolloutChunk {
        index: chunk.index,
        plan_id: chunk.plan_id,
        decision: serde_json::to_value(chunk.decision)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        inference_ms: chunk.inference_ms,
        planned_steps: chunk.planned_steps,
        executed_steps: chunk.executed_steps,
        instruction_level: chunk.instruction_level.clone(),
        action_level: chunk.action_level.clone(),
        action_tokens: chunk.tokens.clone(),
        violations: chunk.violations.clone(),
        after_intervention: chunk.after_intervention,
    }
}

/// Writes the chunks from `from` on whose fate is settled (executed, refused, rejected or discarded) into the
/// recording, in order; `all`: every remaining one (the rollout has ended). Returns how many are written.
pub fn log_settled_chunks(
    rollout: &Rollout,
    recording: &kinedesk_sessions::session_recorder::SessionRecorder,
    from: usize,
    all: bool,
) -> usize {
    use kinedesk_models::policy::rollout::Decision;
    let executing = rollout.executing().map(|c| c.index);
    let mut next = from;
    for chunk in &rollout.chunks()[from.min(rollout.chunks().len())..] {
        let settled = all
            || (chunk.executed_steps > 0 && executing != Some(chunk.index))
            || matches!(chunk.decision, Decision::Refused | Decision::Rejected | Decision::Discarded);
        if !settled {
            break;
        }
        recording.event(&chunk_event(chunk));
        next += 1;
    }
    next
}

/// Answers typed on stdin: `y` approves, anything else rejects; end of input rejects.
fn stdin_answers() -> mpsc::Receiver<bool> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let yes = matches!(line.trim().to_lowercase().as_str(), "y" | "yes");
            if sender.send(yes).is_err() {
                break;
            }
        }
    });
    receiver
}

fn report(rollout: &Rollout, event: &RolloutEvent) {
    match event {
        RolloutEvent::Proposed(index) => {
            let chunk = &rollout.chunks()[*index];
            eprintln!(
                "chunk {index}: {} steps, inference {:.1} ms, checks {}{}{}",
                chunk.planned_steps,
                chunk.inference_ms,
                if chunk.ok { "pass" } else { "FAIL" },
                chunk.violations.first().map(|v| format!(" ({v})")).unwrap_or_default(),
                chunk.action_level.first().map(|s| format!("; {s}")).unwrap_or_default()
            );
        }
        RolloutEvent::Started { index, .. } => eprintln!("chunk {index}: executing"),
        RolloutEvent::Finished { index, steps } => eprintln!("chunk {index}: executed {steps} steps"),
        RolloutEvent::Paused(why) => eprintln!("paused: {why}"),
        RolloutEvent::Resumed => eprintln!("resumed"),
        RolloutEvent::Intervention => eprintln!("the operator took over"),
        RolloutEvent::Stopped(reason) => eprintln!("stopped: {reason}"),
    }
}

fn print_summary(summary: &RolloutSummary) {
    println!(
        "{} chunks with {} ({} profile); stopped: {}",
        summary.chunks.len(),
        summary.policy,
        summary.profile,
        summary.stopped_detail
    );
    if let Some(gap) = summary.idle_gap_ms {
        println!("idle gap between chunks: median {:.1} ms, p95 {:.1} ms, max {:.1} ms", gap.median, gap.p95, gap.max);
    }
    let inference: Vec<f64> = summary.chunks.iter().map(|c| c.inference_ms).collect();
    if !inference.is_empty() {
        let mean = inference.iter().sum::<f64>() / inference.len() as f64;
        println!("inference: mean {mean:.1} ms over {} chunks", inference.len());
    }
}
