//! `kinedesk plan` and `kinedesk serve`: the policy from the command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use kinedesk_models::policy::backend::{PolicyBackend, PolicyPlan, PolicyRequest};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_models::policy::server::{ServeOptions, serve};
use kinedesk_models::policy::tokens::render;
use kinedesk_models::policy::trajectory::{PlannedTrajectory, check_planned};
use kinedesk_models::robot::SafetyLimits;
use kinedesk_models::tokenizer::ActionTokenizer;

use crate::cli::robot::{RobotArgs, parse_numbers, robot_from_args};

/// Which policy: `builtin` or a server address.
pub fn backend_from_arg(
    policy: &str,
    api_key: Option<String>,
    tokenizer: Arc<ActionTokenizer>,
) -> anyhow::Result<Box<dyn PolicyBackend>> {
    if policy == "builtin" {
        return Ok(Box::new(BuiltinPlanner::new(tokenizer)));
    }
    if policy.starts_with("ws://") || policy.starts_with("wss://") {
        let mut config = RemoteConfig::new(policy);
        config.api_key = api_key;
        return Ok(Box::new(RemotePolicy::new(config, Some(tokenizer))));
    }
    bail!("unknown policy {policy:?}: use `builtin` or a server address (ws://host:port or wss://…)")
}

/// The tokenizer in `weights`, or the one built into the binary.
pub fn tokenizer_from_arg(weights: Option<&PathBuf>) -> anyhow::Result<ActionTokenizer> {
    match weights {
        Some(dir) => ActionTokenizer::load(dir).with_context(|| format!("cannot load tokenizer weights from {dir:?}")),
        None => ActionTokenizer::builtin().context("the built-in tokenizer weights do not load"),
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The instruction, e.g. "lift the mug 10 cm, then rotate it 90 degrees clockwise".
    pub instruction: String,
    #[command(flatten)]
    pub robot: RobotArgs,
    /// Starting joints in radians, comma-separated (default: the robot's rest pose).
    #[arg(long, allow_hyphen_values = true)]
    pub from_joints: Option<String>,
    /// The gripper starts closed (holding something).
    #[arg(long)]
    pub gripper_closed: bool,
    /// `builtin` (the rule-based planner) or a KineVLA server: ws://host:port or wss://host:port.
    #[arg(long, default_value = "builtin")]
    pub policy: String,
    /// API key for the server (sent as `Authorization: Api-Key …`).
    #[arg(long, env = "KINEDESK_API_KEY", value_parser = crate::cli::api_key_arg)]
    pub api_key: Option<String>,
    /// Tokenizer weights folder (default: the built-in weights).
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// Fraction of the joints' rated speed and acceleration the checks allow.
    #[arg(long, default_value_t = 1.0)]
    pub velocity_scale: f64,
    #[arg(long)]
    pub json: bool,
}

fn trajectory_json(t: &PlannedTrajectory) -> serde_json::Value {
    serde_json::json!({
        "dt_s": t.dt_s,
        "joints": t.joints,
        "ee_position_m": t.ee_position_m,
        "ee_quaternion_xyzw": t.ee_quaternion_xyzw,
        "gripper": t.gripper,
    })
}

/// The JSON `kinedesk plan --json` prints.
#[must_use]
pub fn plan_json(plan: &PolicyPlan, report: &kinedesk_models::robot::CheckReport) -> serde_json::Value {
    serde_json::json!({
        "policy": plan.source,
        "reasoning": {
            "instruction_level": plan.output.instruction_level,
            "action_level": plan.output.action_level,
        },
        "action_tokens": plan.output.chunks,
        "token_text": plan.layout.as_ref().map(|layout| render(&plan.output, layout)),
        "stages": plan.stages.iter().map(|s| serde_json::json!({
            "stage": s.kind.name(),
            "description": s.description,
            "steps": [s.steps.start, s.steps.end],
        })).collect::<Vec<_>>(),
        "trajectory": trajectory_json(&plan.full),
        "coarse_trajectory": plan.coarse.as_ref().map(trajectory_json),
        "checks": { "ok": report.ok, "violations": report.violations },
        "timing_ms": {
            "first_reasoning": plan.first_reasoning.as_secs_f64() * 1000.0,
            "total": plan.total.as_secs_f64() * 1000.0,
        },
    })
}

pub fn run_plan(args: &PlanArgs) -> anyhow::Result<()> {
    let robot = robot_from_args(&args.robot)?;
    let joints = match &args.from_joints {
        Some(text) => parse_numbers(text, "--from-joints", Some(robot.dof()))?,
        None => robot.rest_pose.clone(),
    };
    if !(args.velocity_scale > 0.0 && args.velocity_scale <= 1.0) {
        bail!("--velocity-scale must be in (0, 1], got {}", args.velocity_scale);
    }
    let tokenizer = Arc::new(tokenizer_from_arg(args.weights.as_ref())?);
    let mut backend = backend_from_arg(&args.policy, args.api_key.clone(), tokenizer)?;
    let robot = Arc::new(robot);
    let request = PolicyRequest {
        instruction: args.instruction.clone(),
        robot_kind: args.robot.robot.clone(),
        robot: robot.clone(),
        joints,
        gripper_closed: args.gripper_closed,
        images: Vec::new(),
    };
    let plan = backend.plan(&request, &mut |_| {}).map_err(|error| anyhow::anyhow!("{error}"))?;
    let limits = SafetyLimits {
        velocity_scale: args.velocity_scale,
        acceleration_scale: args.velocity_scale,
        ..SafetyLimits::for_robot(&robot)
    };
    let report = check_planned(&robot, &plan.full, &limits);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan_json(&plan, &report))?);
        return Ok(());
    }
    println!("Policy: {}", plan.source);
    println!("Instruction level:");
    for line in &plan.output.instruction_level {
        println!("  {line}");
    }
    println!("Action level:");
    for line in &plan.output.action_level {
        println!("  {line}");
    }
    if let Some(layout) = &plan.layout {
        println!("Action tokens ({} chunks): {}", plan.output.chunks.len(), render(&plan.output, layout));
    }
    println!(
        "Trajectory: {} samples, {:.2} s; planned in {:.1} ms",
        plan.full.joints.len(),
        plan.full.duration_s(),
        plan.total.as_secs_f64() * 1000.0
    );
    if report.ok {
        println!("Checks: all pass");
    } else {
        println!("Checks: {} violations", report.violations.len());
        for violation in report.violations.iter().take(10) {
            println!("  {violation}");
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (127.0.0.1:0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: String,
    /// Require `Authorization: Api-Key KEY` from clients.
    #[arg(long, env = "KINEDESK_API_KEY", value_parser = crate::cli::api_key_arg)]
    pub api_key: Option<String>,
    /// Tokenizer weights folder (default: the built-in weights).
    #[arg(long, value_name = "DIR")]
    pub weights: Option<PathBuf>,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = crate::cli::seconds_arg)]
    pub seconds: Option<f64>,
    /// Clients served at once; more are answered 503 and closed.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_connections: u16,
    /// Disconnect a client that sends nothing for this many seconds.
    #[arg(long, default_value = "600", value_parser = crate::cli::seconds_arg)]
    pub idle_timeout: f64,
}

pub fn run_serve(args: &ServeArgs) -> anyhow::Result<()> {
    let tokenizer = Arc::new(tokenizer_from_arg(args.weights.as_ref())?);
    let listener = TcpListener::bind(&args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    println!("serving the built-in planner on ws://{address} (GET /healthz answers 200)");
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(seconds) = args.seconds {
        let stop = stop.clone();
        let duration = Duration::from_secs_f64(seconds.max(0.0));
        std::thread::Builder::new().name("kinedesk-serve-timer".into()).spawn(move || {
            std::thread::sleep(duration);
            stop.store(true, Ordering::Release);
        })?;
    }
    let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|line| eprintln!("{line}"));
    let options = ServeOptions {
        api_key: args.api_key.clone(),
        max_connections: usize::from(args.max_connections),
        idle_timeout: Duration::from_secs_f64(args.idle_timeout),
        ..ServeOptions::default()
    };
    serve(&listener, &tokenizer, &options, &stop, &log)?;
    Ok(())
}
