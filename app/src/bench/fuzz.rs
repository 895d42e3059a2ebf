//! `kinedesk bench fuzz`: every input surface fed mutated inputs for a while. Each surface starts from valid seeds
//! (an instruction, a trajectory file, an observation, tokenizer requests, an episode log, an annotation, a LeRobot
//! `info.json`, controller replies) and mutates them: flipped bits, bytes inserted, deleted or repeated, numbers
//! swapped for extreme ones (`1e308`, `-0`, `NaN`, 2^64…), pieces of other seeds. The property is the one the
//! desk promises: no panic, an answer (accepted or refused with an error) within a bounded time, bounded memory.
//! A case that runs past the hang limit stops the run, saying which surface and where the input was saved.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kinedesk_models::driver::SafetyGate;
use kinedesk_models::policy::backend::{PolicyBackend as _, PolicyRequest};
use kinedesk_models::policy::builtin::BuiltinPlanner;
use kinedesk_models::policy::msgpack::{self, NdArray};
use kinedesk_models::rng::Rng;
use kinedesk_models::robot::panda;
use kinedesk_models::tokenizer::ActionTokenizer;

/// A case running longer than this is a hang: the run stops and saves the input.
pub const HANG_LIMIT: Duration = Duration::from_secs(20);

/// What one surface did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SurfaceResult {
    pub surface: &'static str,
    pub cases: u64,
    pub accepted: u64,
    pub refused: u64,
    pub panics: u64,
    /// The longest any case took (ms), and how long that input was (bytes).
    pub worst_ms: f64,
    pub worst_input_bytes: usize,
    /// That input (lossy UTF-8, first 200 bytes), to reproduce it.
    pub worst_input: String,
    /// The first panic's message and the input that caused it (lossy UTF-8, first 300 bytes).
    pub first_panic: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct FuzzBench {
    pub seconds_per_surface: f64,
    pub seed: u64,
    pub surfaces: Vec<SurfaceResult>,
    /// The process's peak resident memory over the whole run (MB).
    pub peak_rss_mb: f64,
}

impl FuzzBench {
    #[must_use]
    pub fn panics(&self) -> u64 {
        self.surfaces.iter().map(|s| s.panics).sum()
    }
}

/// Fuzzing draws from the shared generator: the same `--seed` gives the same inputs.
trait Draw {
    fn below(&mut self, n: usize) -> usize;
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T;
}

impl Draw for Rng {
    fn below(&mut self, n: usize) -> usize {
        self.index(n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// Values that break parsers and arithmetic.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "1e-30",
    "1e30",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "0.0001",
    "1e9",
    "65535",
    "\"\"",
    "null",
    "[]",
    "{}",
    "true",
    "\"x\"",
    "[[]]",
];

/// One mutation of `input` (a seed or an earlier mutant): 1 to 4 edits.
fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(len + 1);
                let byte = *rng.pick(b"\"{}[],:-.0123456789eE \\\n\x00\xff\xc3");
                data.insert(at, byte);
            }
            2 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                data.drain(from..to);
            }
            3 if len > 0 => {
                // Repeat a stretch (nesting, long lists).
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                let piece = data[from..to].to_vec();
                for _ in 0..=rng.below(8) {
                    data.splice(to..to, piece.iter().copied());
                }
            }
            4 | 5 => {
                // A number (or the next token) becomes an extreme value.
                let digits: Vec<usize> = (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let start = *rng.pick(&digits);
                    let end = (start..len)
                        .find(|&i| !(data[i].is_ascii_digit() || b".eE+-".contains(&data[i])))
                        .unwrap_or(len);
                    data.splice(start..end, rng.pick(EXTREMES).bytes());
                }
            }
            6 if len > 0 => {
                let keep = rng.below(len);
                data.truncate(keep);
            }
            _ => {
                // A piece of another seed.
                let other = rng.pick(seeds);
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, other[from..to].iter().copied());
                }
            }
        }
    }
    data
}

/// Words an operator (or an attacker) might type.
const WORDS: &[&str] = &[
    "move",
    "lift",
    "lower",
    "rotate",
    "turn",
    "tilt",
    "place",
    "put",
    "open",
    "close",
    "grasp",
    "release",
    "push",
    "the",
    "gripper",
    "mug",
    "by",
    "its",
    "handle",
    "a",
    "an",
    "one",
    "two",
    "half",
    "quarter",
    "of",
    "it",
    "then",
    "and",
    ",",
    ".",
    "left",
    "right",
    "up",
    "down",
    "forward",
    "backward",
    "towards",
    "away",
    "from",
    "side",
    "clockwise",
    "counterclockwise",
    "degrees",
    "°",
    "radians",
    "turns",
    "cm",
    "mm",
    "m",
    "inches",
    "metre",
    "in",
    "s",
    "seconds",
    "ms",
    "at",
    "mm/s",
    "m/s",
    "slowly",
    "quickly",
    "not",
    "twice",
    "except",
    "if",
    "minus",
    "-5",
    "5",
    "10",
    "0",
    "1e9",
    "0.0001",
    "90",
    "360",
    "1e308",
    "NaN",
    "-0",
    "½",
    "🙂",
    "x",
    "z",
    "axis",
    "frame",
    "base",
    "plate",
    "of",
    "left of",
    "above",
    "wait",
    "hold",
    "for",
    "3",
    "0.5",
    "100",
    "1000000",
];

fn instruction(rng: &mut Rng) -> Vec<u8> {
    let words: Vec<&str> = (0..=rng.below(16)).map(|_| *rng.pick(WORDS)).collect();
    words.join(" ").into_bytes()
}

/// What a surface does with one input.
type Target<'a> = Box<dyn FnMut(&[u8]) -> Result<(), String> + 'a>;

/// A surface: seeds and what to do with one input (`Ok`: accepted, `Err`: refused with that message).
struct Surface<'a> {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    /// Some surfaces make their own inputs as well (instructions from words).
    generate: Option<fn(&mut Rng) -> Vec<u8>>,
    run: Target<'a>,
}

/// Fuzzes every surface for `seconds` each.
pub fn bench_fuzz(seconds: f64, seed: u64) -> anyhow::Result<FuzzBench> {
    let scratch = std::env::temp_dir().join(format!("kinedesk-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let result = fuzz_in(&scratch, seconds, seed);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn fuzz_in(scratch: &Path, seconds: f64, seed: u64) -> anyhow::Result<FuzzBench> {
    let tokenizer = Arc::new(ActionTokenizer::builtin()?);
    let surfaces = surfaces(scratch, &tokenizer)?;
    // The watchdog: a case past the hang limit ends the run with the input saved.
    let current: Arc<Mutex<(&'static str, Vec<u8>)>> = Arc::new(Mutex::new(("", Vec::new())));
    let started_ms = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let clock = Instant::now();
    let watchdog = {
        let (current, started_ms, done) = (current.clone(), started_ms.clone(), done.clone());
        let saved = scratch.with_extension("hang-input");
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(100));
                let since = started_ms.load(Ordering::Acquire);
                if since > 0
                    && (clock.elapsed().as_millis() as u64).saturating_sub(since) > HANG_LIMIT.as_millis() as u64
                {
                    let (surface, input) = current.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    let _ = std::fs::write(&saved, &input);
                    eprintln!("HANG: a {surface} case ran past {HANG_LIMIT:?}; its input is in {}", saved.display());
                    std::process::exit(3);
                }
            }
        })
    };
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng::new(seed);
    let mut results = Vec::new();
    for mut surface in surfaces {
        let mut result = SurfaceResult { surface: surface.name, ..SurfaceResult::default() };
        let mut corpus = surface.seeds.clone();
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < until {
            let input = match surface.generate {
                Some(generate) if rng.below(2) == 0 => generate(&mut rng),
                _ => {
                    let base = rng.pick(&corpus).clone();
                    mutate(&mut rng, &base, &surface.seeds)
                }
            };
            *current.lock().unwrap_or_else(PoisonError::into_inner) = (surface.name, input.clone());
            started_ms.store(clock.elapsed().as_millis() as u64 + 1, Ordering::Release);
            let case = Instant::now();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (surface.run)(&input)));
            let took = case.elapsed();
            started_ms.store(0, Ordering::Release);
            result.cases += 1;
            match outcome {
                Ok(Ok(())) => {
                    result.accepted += 1;
                    // Accepted mutants seed further mutation (up to a bound).
                    if corpus.len() < 256 {
                        corpus.push(input.clone());
                    }
                }
                Ok(Err(_)) => result.refused += 1,
                Err(payload) => {
                    result.panics += 1;
                    if result.first_panic.is_none() {
                        let message = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        let shown = String::from_utf8_lossy(&input[..input.len().min(300)]).into_owned();
                        result.first_panic = Some(format!("{message} — input: {shown:?}"));
                    }
                }
            }
            let ms = took.as_secs_f64() * 1e3;
            if ms > result.worst_ms {
                result.worst_ms = ms;
                result.worst_input_bytes = input.len();
                result.worst_input = String::from_utf8_lossy(&input[..input.len().min(200)]).into_owned();
            }
        }
        results.push(result);
    }
    std::panic::set_hook(previous_hook);
    done.store(true, Ordering::Release);
    let _ = watchdog.join();
    Ok(FuzzBench {
        seconds_per_surface: seconds,
        seed,
        surfaces: results,
        peak_rss_mb: crate::cli::session::proc_status_mb("VmHWM"),
    })
}

fn text(input: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(input).map_err(|e| e.to_string())
}

fn json(input: &[u8]) -> Result<serde_json::Value, String> {
    serde_json::from_slice(input).map_err(|e| e.to_string())
}

#[allow(clippy::too_many_lines)] // one block per surface, each short
fn surfaces<'a>(scratch: &'a Path, tokenizer: &'a Arc<ActionTokenizer>) -> anyhow::Result<Vec<Surface<'a>>> {
    let robot = Arc::new(panda());
    let mut planner = BuiltinPlanner::new(tokenizer.clone());
    let planner_robot = robot.clone();
    let instructions = [
        "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate",
        "move 5 cm left",
        "move down by 80 mm, close the gripper, then lift a centimetre",
        "rotate the gripper 45 degrees counterclockwise in 2 s",
        "move 10 cm towards the left side at 20 mm/s",
    ];
    let gate = SafetyGate::new((*robot).clone());
    let rest = robot.rest_pose.clone();
    let trajectory_seed = serde_json::json!({"dt_s": 0.05, "joints": [rest.clone(), rest.clone(), rest.clone()]});
    let observation = |prompt: &str| {
        let image = NdArray::from_u8(vec![8, 8, 3], vec![128; 8 * 8 * 3]).to_value();
        msgpack::encode(&msgpack::map(vec![
            ("prompt", msgpack::Value::from(prompt)),
            ("observation/state", NdArray::from_f64(vec![8], &[0.4, 0.0, 0.4, 3.0, 0.0, 0.0, 0.04, 0.04]).to_value()),
            ("observation/image", image.clone()),
            ("observation/wrist_image", image),
        ]))
    };
    let chunk_len = tokenizer.config().chunk_len;
    let action_dim = tokenizer.config().action_dim;
    let chunk: Vec<Vec<f32>> = (0..chunk_len).map(|k| vec![0.001 * k as f32; action_dim]).collect();
    let encoded = crate::cli::tokenizer::encode_value(tokenizer, &serde_json::json!({ "chunks": [chunk] }))?;
    let log_path = scratch.join("episodes/episode_000000.kdlog");
    let Seeds { log: log_seed, annotation: annotation_seed, info: info_seed, dataset } = session_seeds(scratch)?;

    let mut surfaces = vec![
        Surface {
            name: "instruction (built-in planner)",
            seeds: instructions.iter().map(|s| s.as_bytes().to_vec()).collect(),
            generate: Some(instruction),
            run: Box::new(move |input| {
                let request = PolicyRequest {
                    instruction: text(input)?.to_owned(),
                    robot_kind: "panda".into(),
                    joints: planner_robot.rest_pose.clone(),
                    robot: planner_robot.clone(),
                    gripper_closed: false,
                    images: Vec::new(),
                };
                planner.plan(&request, &mut |_| {}).map(|_| ()).map_err(|e| e.to_string())
            }),
        },
        Surface {
            name: "trajectory file (load + command-layer checks)",
            seeds: vec![serde_json::to_vec(&trajectory_seed)?],
            generate: None,
            run: Box::new(move |input| {
                let trajectory = crate::gui::arm_state::trajectory_from_str(text(input)?)?;
                gate.check_execute(&trajectory, &rest)
            }),
        },
        Surface {
            name: "observation (msgpack, policy server)",
            seeds: instructions.iter().map(|p| observation(p)).collect::<Result<_, _>>()?,
            generate: None,
            run: Box::new(|input| {
                let value = msgpack::decode(input).map_err(|e| e.to_string())?;
                kinedesk_models::policy::server::answer(tokenizer, &value).map(|_| ())
            }),
        },
        Surface {
            name: "tokenizer encode request (JSON)",
            seeds: vec![serde_json::to_vec(&serde_json::json!({ "chunks": [chunk] }))?],
            generate: None,
            run: Box::new(|input| {
                crate::cli::tokenizer::encode_value(tokenizer, &json(input)?).map(|_| ()).map_err(|e| e.to_string())
            }),
        },
        Surface {
            name: "tokenizer decode request (JSON, tokens)",
            seeds: vec![
                serde_json::to_vec(&serde_json::json!({ "codes": encoded["codes"] }))?,
                serde_json::to_vec(&serde_json::json!({ "tokens": encoded["tokens"] }))?,
            ],
            generate: None,
            run: Box::new(|input| {
                let value = json(input)?;
                let levels = value.get("levels").and_then(serde_json::Value::as_u64).map(|l| l as usize);
                crate::cli::tokenizer::decode_value(tokenizer, &value, levels).map(|_| ()).map_err(|e| e.to_string())
            }),
        },
        Surface {
            name: "episode log (.kdlog)",
            seeds: vec![log_seed],
            generate: None,
            run: Box::new(move |input| {
                std::fs::write(&log_path, input).map_err(|e| e.to_string())?;
                let episode = kinedesk_sessions::episode::read_episode(&log_path).map_err(|e| e.to_string())?;
                kinedesk_sessions::episode::episode_summary(&log_path).map_err(|e| e.to_string())?;
                if episode.skipped.is_empty() { Ok(()) } else { Err("damaged stretches skipped".into()) }
            }),
        },
        Surface {
            name: "annotation (JSON)",
            seeds: vec![annotation_seed],
            generate: None,
            run: Box::new(move |input| {
                let log = scratch.join("annotated.kdlog");
                std::fs::write(kinedesk_sessions::annotation::annotation_path(&log), input)
                    .map_err(|e| e.to_string())?;
                kinedesk_sessions::annotation::read_annotation(&log).map(|_| ()).map_err(|e| e.to_string())
            }),
        },
        Surface {
            name: "LeRobot dataset metadata (info.json, import)",
            seeds: vec![info_seed],
            generate: None,
            run: Box::new(move |input| {
                std::fs::write(dataset.join("meta/info.json"), input).map_err(|e| e.to_string())?;
                let session = scratch.join("imported");
                let result = kinedesk_sessions::lerobot_import::import_lerobot(&dataset, &session, |_, _| {});
                let _ = std::fs::remove_dir_all(&session);
                result.map(|_| ()).map_err(|e| e.to_string())
            }),
        },
    ];
    surfaces.push(Surface {
        name: "Realman controller reply (JSON line)",
        seeds: [
            r#"{"state":"current_arm_state","arm_state":{"joint":[0,10000,0,-90000,0,90000,0],"pose":[1,2,3,4,5,6],"err":0}}"#,
            r#"{"command":"movej","receive_state":true}"#,
            r#"{"state":"joint_state","joint":[0,0,0,0,0,0,0],"arm_err":0}"#,
            r#"{"state":"current_trajectory_state","trajectory_state":true,"device":0,"trajectory_connect":0}"#,
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect(),
        generate: None,
        run: Box::new(|input| {
            kinedesk_models::realman::protocol::parse_reply(text(input)?).map(|_| ()).map_err(|e| e.to_string())
        }),
    });
    Ok(surfaces)
}

/// A small recorded session (the embedded test pattern and simulated arm are not needed: frames and states are
/// made here), its first log's bytes, an annotation, and a LeRobot export of it: the seeds of the data surfaces.
/// The seeds of the data surfaces.
struct Seeds {
    log: Vec<u8>,
    annotation: Vec<u8>,
    info: Vec<u8>,
    /// A LeRobot export to import (its `info.json` is the one mutated).
    dataset: PathBuf,
}

fn session_seeds(scratch: &Path) -> anyhow::Result<Seeds> {
    use kinedesk_models::Timestamp;
    use kinedesk_models::frame::Frame;
    use kinedesk_sessions::recorder::EpisodeMeta;
    use kinedesk_sessions::session_recorder::{EpisodeEnd, SessionRecorder};
    let session = scratch.join("session");
    let dir = kinedesk_sessions::episode::SessionDir::open_or_create(&session, "panda")?;
    let path = dir.next_episode_path()?;
    let meta = EpisodeMeta {
        task: "move 5 cm left".into(),
        robot: "panda".into(),
        joint_names: (1..=7).map(|j| format!("joint{j}")).collect(),
        cameras: vec!["front".into()],
        fps: 10.0,
        unmeasured: Vec::new(),
        started_unix_s: 0.0,
    };
    let recorder = SessionRecorder::start(&path, &meta, None)?;
    let origin = Timestamp::now();
    for k in 0..10u64 {
        let at = Timestamp::from_nanos(origin.as_nanos() + k * 100_000_000);
        let frame = Frame {
            source: "front".into(),
            sequence: k,
            captured: at,
            width: 16,
            height: 16,
            source_format: "RGB (synthetic)".into(),
            rgba: Arc::new(vec![(k * 20) as u8; 16 * 16 * 4]),
            decode_us: 0,
            display: None,
        };
        recorder.frame(0, "front", &Arc::new(frame));
        recorder.joint_state(&kinedesk_models::driver::JointState {
            at,
            positions: vec![0.01 * k as f64; 7],
            velocities: vec![0.1; 7],
            gripper: 1.0,
            moving: true,
            commanded: None,
            progress: None,
        });
    }
    let (log, _) = recorder.finish(EpisodeEnd::Keep).map_err(anyhow::Error::msg)?;
    let mut annotation =
        kinedesk_sessions::annotation::EpisodeAnnotation::seeded_from(&kinedesk_sessions::episode::read_episode(&log)?);
    annotation.label_span(kinedesk_models::vocab::StageKind::Approach, 0.1, 0.5);
    annotation.trim = Some((0.0, 0.8));
    let dataset = scratch.join("dataset");
    kinedesk_sessions::lerobot::export_lerobot_v3(&session, &dataset, |_, _| {})?;
    let log_bytes = std::fs::read(&log)?;
    std::fs::create_dir_all(scratch.join("episodes"))?;
    Ok(Seeds {
        log: log_bytes,
        annotation: serde_json::to_vec_pretty(&annotation)?,
        info: std::fs::read(dataset.join("meta/info.json"))?,
        dataset,
    })
}

impl super::Report for FuzzBench {
    fn print_text(&self) {
        println!(
            "Fuzzing every input surface, {:.0} s each (seed {}); peak memory {:.0} MB:",
            self.seconds_per_surface, self.seed, self.peak_rss_mb
        );
        println!(
            "  {:<48} {:>8} {:>9} {:>9} {:>7} {:>10}",
            "surface", "cases", "accepted", "refused", "panics", "worst ms"
        );
        for s in &self.surfaces {
            println!(
                "  {:<48} {:>8} {:>9} {:>9} {:>7} {:>10.2}",
                s.surface, s.cases, s.accepted, s.refused, s.panics, s.worst_ms
            );
            if let Some(panic) = &s.first_panic {
                println!("    first panic: {panic}");
            }
        }
    }
}
