//! `kinedesk bench planner` and `kinedesk bench remote`: the policy loop's figures (see docs/benchmarks.md).

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use kinedesk_models::policy::backend::{CameraImage, PolicyBackend, PolicyRequest};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::faithfulness::{Check, evaluate_case, phrasings, refusals, suite};
use kinedesk_models::policy::remote::{IMAGE_SIDE, RemoteConfig, RemotePolicy};
use kinedesk_models::policy::server::{ServeOptions, serve};
use kinedesk_models::robot::panda;
use kinedesk_models::tokenizer::ActionTokenizer;

use crate::bench::Summary;

fn request(instruction: &str, gripper_closed: bool, images: Vec<CameraImage>) -> PolicyRequest {
    let robot = Arc::new(panda());
    PolicyRequest {
        instruction: instruction.to_owned(),
        robot_kind: "panda".into(),
        joints: robot.rest_pose.clone(),
        robot,
        gripper_closed,
        images,
    }
}

/// One instruction's faithfulness result.
#[derive(Debug, serde::Serialize)]
pub struct CaseResult {
    pub instruction: String,
    pub pass: bool,
    pub failed_checks: Vec<Check>,
}

#[derive(Debug, serde::Serialize)]
pub struct PlannerBench {
    pub runs_per_instruction: usize,
    pub first_reasoning: Summary,
    pub full_preview: Summary,
    /// Instructions every check of which passed, of all instructions.
    pub instructions_passed: usize,
    pub instructions: usize,
    pub checks_passed: usize,
    pub checks: usize,
    /// Instructions that must be refused: refused with the expected words and reason, of all.
    pub refusals_correct: usize,
    pub refusals: usize,
    pub cases: Vec<CaseResult>,
    /// Refusal instructions that were planned or refused for another reason, with what happened.
    pub wrong_refusals: Vec<String>,
}

/// Plans every instruction of the faithfulness suite and the phrasing suite `runs` times with the built-in
/// planner, and checks that every instruction it must refuse is refused with the words and reason expected.
pub fn bench_planner(runs: usize) -> anyhow::Result<PlannerBench> {
    let mut planner = BuiltinPlanner::with_builtin_tokenizer().map_err(|e| anyhow::anyhow!("{e}"))?;
    let cases: Vec<_> = suite().into_iter().chain(phrasings()).collect();
    let mut first = Vec::new();
    let mut total = Vec::new();
    let mut results = Vec::new();
    let (mut checks, mut checks_passed) = (0, 0);
    for case in &cases {
        let mut last = None;
        for _ in 0..runs.max(1) {
            let plan = planner
                .plan(&request(case.instruction, case.gripper_closed, Vec::new()), &mut |_| {})
                .map_err(|e| anyhow::anyhow!("{:?}: {e}", case.instruction))?;
            first.push(plan.first_reasoning);
            total.push(plan.total);
            last = Some(plan);
        }
        let plan = last.context("no plan")?;
        let outcome = evaluate_case(case, &plan);
        checks += outcome.len();
        checks_passed += outcome.iter().filter(|c| c.pass).count();
        let failed: Vec<Check> = outcome.into_iter().filter(|c| !c.pass).collect();
        results.push(CaseResult {
            instruction: case.instruction.to_owned(),
            pass: failed.is_empty(),
            failed_checks: failed,
        });
    }
    let must_refuse = refusals();
    let mut wrong_refusals = Vec::new();
    for refusal in &must_refuse {
        match planner.plan(&request(refusal.instruction, false, Vec::new()), &mut |_| {}) {
            Ok(_) => wrong_refusals.push(format!("{:?} was planned", refusal.instruction)),
            Err(error) => {
                let error = error.to_string();
                let words_ok = refusal.words.is_none_or(|words| error.contains(&format!("\"{words}\"")));
                if !words_ok || !error.contains(refusal.reason) {
                    wrong_refusals.push(format!("{:?} refused with: {error}", refusal.instruction));
                }
            }
        }
    }
    Ok(PlannerBench {
        refusals_correct: must_refuse.len() - wrong_refusals.len(),
        refusals: must_refuse.len(),
        wrong_refusals,
        runs_per_instruction: runs.max(1),
        first_reasoning: Summary::millis(&first).context("no samples")?,
        full_preview: Summary::millis(&total).context("no samples")?,
        instructions_passed: results.iter().filter(|r| r.pass).count(),
        instructions: results.len(),
        checks_passed,
        checks,
        cases: results,
    })
}

#[derive(Debug, serde::Serialize)]
pub struct RemoteBench {
    pub requests: usize,
    /// Time in the client per request: building and encoding the observation (two 224×224 images), decoding and
    /// checking the reply.
    pub client_overhead: Summary,
    /// Request to parsed reply over loopback, including the server's planning.
    pub round_trip: Summary,
    pub observation_bytes: usize,
}

/// Plans `requests` times through our WebSocket server on loopback with two 224×224 camera images.
pub fn bench_remote(requests: usize) -> anyhow::Result<RemoteBench> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}", listener.local_addr()?);
    let tokenizer = Arc::new(ActionTokenizer::builtin().context("built-in tokenizer")?);
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (tokenizer, stop) = (tokenizer.clone(), stop.clone());
        std::thread::Builder::new().name("kinedesk-bench-server".into()).spawn(move || {
            let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|line| eprintln!("{line}"));
            serve(&listener, &tokenizer, &ServeOptions::default(), &stop, &log)
        })?
    };
    let side = IMAGE_SIDE;
    let image = |name: &str, seed: u8| CameraImage {
        name: name.to_owned(),
        width: side,
        height: side,
        rgb: Arc::new((0..side * side * 3).map(|i| (i as u8).wrapping_mul(seed)).collect()),
    };
    let images = vec![image("agentview", 3), image("wrist", 7)];
    let mut client = RemotePolicy::new(RemoteConfig::new(&url), Some(tokenizer));
    let mut overhead = Vec::new();
    let mut round_trip = Vec::new();
    let observation_bytes = kinedesk_models::policy::msgpack::encode(&kinedesk_models::policy::remote::observation(
        &request("move 5 cm left", false, images.clone()),
    )?)
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .len();
    for i in 0..requests + 5 {
        let started = Instant::now();
        let plan = client
            .plan(&request("move 5 cm left", false, images.clone()), &mut |_| {})
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let elapsed = started.elapsed().saturating_sub(plan.total.saturating_sub(plan.first_reasoning));
        if i >= 5 {
            overhead.push(client.last_overhead);
            round_trip.push(elapsed);
        }
    }
    stop.store(true, Ordering::Release);
    drop(client);
    let _ = server.join();
    Ok(RemoteBench {
        requests,
        client_overhead: Summary::millis(&overhead).context("no samples")?,
        round_trip: Summary::millis(&round_trip).context("no samples")?,
        observation_bytes,
    })
}

impl super::Report for PlannerBench {
    fn print_text(&self) {
        println!(
            "Built-in planner, {} instructions × {} runs (release build, CPU):",
            self.instructions, self.runs_per_instruction
        );
        let (f, t) = (&self.first_reasoning, &self.full_preview);
        println!(
            "  instruction → first reasoning event: median {:.3} ms   p95 {:.3} ms   max {:.3} ms",
            f.median, f.p95, f.max
        );
        println!(
            "  instruction → full preview:          median {:.1} ms   p95 {:.1} ms   max {:.1} ms",
            t.median, t.p95, t.max
        );
        println!(
            "  kinematic faithfulness: {} of {} instructions ({:.0} %), {} of {} checks",
            self.instructions_passed,
            self.instructions,
            100.0 * self.instructions_passed as f64 / self.instructions.max(1) as f64,
            self.checks_passed,
            self.checks
        );
        println!("  refused as expected: {} of {} instructions", self.refusals_correct, self.refusals);
        for wrong in &self.wrong_refusals {
            println!("  WRONG {wrong}");
        }
        for case in self.cases.iter().filter(|c| !c.pass) {
            println!("  FAILED {:?}", case.instruction);
            for check in &case.failed_checks {
                println!("    {}: expected {}, measured {}", check.what, check.expected, check.measured);
            }
        }
    }
}

impl super::Report for RemoteBench {
    fn print_text(&self) {
        println!(
            "Remote policy client over loopback, two {IMAGE_SIDE}×{IMAGE_SIDE} images ({} kB observation), {} requests:",
            self.observation_bytes / 1000,
            self.requests
        );
        let (o, r) = (&self.client_overhead, &self.round_trip);
        println!("  client overhead: median {:.3} ms   p95 {:.3} ms   max {:.3} ms", o.median, o.p95, o.max);
        println!("  round trip (incl. server planning): median {:.2} ms   p95 {:.2} ms", r.median, r.p95);
    }
}
