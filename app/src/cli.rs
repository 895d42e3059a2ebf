//! The `kinedesk` command line. No subcommand opens the desk window. One module per subcommand family:
//! [`gui`] (the window), [`robot`] (`fk`, `ik`), [`robot_link`] (`robot-sim`, `send`), [`policy`] (`plan`, `serve`),
//! [`session`] (`record`, `session info`, `export`, `import`), [`tokenizer`]; benchmarks are in [`crate::bench`].

pub mod dataset;
pub mod gui;
pub mod policy;
pub mod robot;
pub mod robot_link;
pub mod rollout;
pub mod ros2;
pub mod session;
pub mod storage;
pub mod tokenizer;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::gui::app::AppOptions;

#[derive(Debug, Parser)]
#[command(name = "kinedesk", version, about = "KineDesk: preview, approve and record kinematic robot instructions.")]
pub struct Cli {
    /// Start with the default pane layout instead of the saved one.
    #[arg(long)]
    pub reset_layout: bool,
    /// Where window geometry, layout and theme are saved (default: the platform's data directory).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Close the window after this many frames (benchmarks, smoke tests).
    #[arg(long, hide = true)]
    pub exit_after_frames: Option<u64>,
    /// Print a marker line on stdout once the first frame has been presented.
    #[arg(long, hide = true)]
    pub report_first_frame: bool,
    /// Preview a trajectory file (`{"dt_s": …, "joints": [[…], …]}`) as a ghost arm at start-up.
    #[arg(long, value_name = "FILE.json")]
    pub trajectory: Option<PathBuf>,
    /// Show a URDF robot (with its meshes) instead of the built-in one.
    #[arg(long, value_name = "FILE.urdf")]
    pub urdf: Option<PathBuf>,
    /// Connect the simulated arm (the embedded default robot) at start-up.
    #[arg(long)]
    pub connect_sim: bool,
    /// Camera feeds to start with instead of the saved ones: pattern, arm, folder:PATH, device:N, unplugging,
    /// ros2:/TOPIC[?fps=N&domain=D] (repeat for several).
    #[arg(long = "camera", value_name = "SPEC")]
    pub cameras: Vec<String>,
    /// Start without camera feeds.
    #[arg(long, conflicts_with = "cameras")]
    pub no_cameras: bool,
    /// Plan this instruction at start-up (with the saved policy; the built-in planner by default).
    #[arg(long, value_name = "INSTRUCTION")]
    pub plan: Option<String>,
    /// Open this session folder at start-up (created if missing).
    #[arg(long, value_name = "DIR")]
    pub session: Option<PathBuf>,
    /// With --session: open this episode (e.g. episode_000000) on the timeline.
    #[arg(long, value_name = "EPISODE", requires = "session")]
    pub annotate: Option<String>,
    /// With --urdf: the link used as the flange.
    #[arg(long, value_name = "LINK", requires = "urdf")]
    pub urdf_tip: Option<String>,
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A LeRobot dataset folder (v3.0, v2.1 or v2.0; image features, not video).
    Lerobot {
        dataset: PathBuf,
        /// The session folder to add the episodes to (created if needed).
        session: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// A rosbag2 recording (MCAP storage: a bag folder or an .mcap file) as one episode: joint states and cameras.
    Rosbag(crate::cli::ros2::RosbagArgs),
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Open the desk window (the default when no subcommand is given).
    Gui,
    /// Forward kinematics: the flange pose for a joint vector.
    Fk {
        #[command(flatten)]
        robot: crate::cli::robot::RobotArgs,
        /// Joint values in radians, comma-separated (q1,...,q7).
        #[arg(long, allow_hyphen_values = true)]
        joints: String,
        /// Print `{"position_m":[x,y,z],"quaternion_xyzw":[x,y,z,w]}`.
        #[arg(long)]
        json: bool,
    },
    /// Inverse kinematics: joints that put the flange at a pose (0.1 mm / 0.1° tolerance, joint limits respected).
    Ik {
        #[command(flatten)]
        robot: crate::cli::robot::RobotArgs,
        /// Target flange position in metres: x,y,z.
        #[arg(long, allow_hyphen_values = true)]
        position: String,
        /// Target flange orientation as a unit quaternion: x,y,z,w.
        #[arg(long = "quaternion-xyzw", allow_hyphen_values = true)]
        quaternion_xyzw: String,
        /// Starting joints (default: the robot's rest pose).
        #[arg(long, allow_hyphen_values = true)]
        seed: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a simulated robot controller behind a real protocol, so other tools and tests can drive it.
    RobotSim {
        /// Controller protocol (realman).
        #[arg(long, default_value = "realman")]
        protocol: String,
        /// Address to listen on, e.g. 127.0.0.1:8080 (loopback by default; 127.0.0.1:0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Built-in robot model the simulated controller drives.
        #[arg(long = "model", default_value = "rm75")]
        model: String,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long, value_parser = seconds_arg)]
        seconds: Option<f64>,
    },
    /// Execute a checked trajectory file on a robot, headless: `sim`, `realman://HOST:PORT` or
    /// `ros2://[?state=TOPIC&command=TOPIC]`.
    Send {
        #[arg(long)]
        robot: String,
        #[arg(long, value_name = "FILE.json")]
        trajectory: PathBuf,
        /// Robot model the trajectory is for (built-in name or URDF path).
        #[arg(long = "model", default_value = "rm75")]
        model: String,
        /// First move the arm (point to point, 25 % speed) to where the trajectory starts.
        #[arg(long)]
        move_to_start: bool,
    },
    /// Plan an instruction: bi-level reasoning, action tokens, the decoded trajectory and its checks.
    Plan(crate::cli::policy::PlanArgs),
    /// Serve the built-in planner over the openpi-style WebSocket + msgpack protocol.
    Serve(crate::cli::policy::ServeArgs),
    /// Run a policy closed loop on a robot: observation → chunk → check → (approve) → execute, chunk after chunk.
    Rollout(crate::cli::rollout::RolloutArgs),
    /// Record an episode headless into a session folder (`--synthetic`: the embedded defaults).
    Record(crate::cli::session::RecordArgs),
    /// Inspect a session.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Export a session as a dataset: `kinedesk export --format lerobot-v3 SESSION OUT`.
    Export(crate::cli::session::ExportArgs),
    /// Import into a session for annotation: `kinedesk import lerobot DATASET SESSION`, `kinedesk import rosbag BAG
    /// SESSION`.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Edit a LeRobot v3.0 dataset into a new one: delete-episodes, split, trim, retask (the input is only read).
    #[command(subcommand)]
    Dataset(crate::cli::dataset::DatasetCommand),
    /// The action tokenizer (RVQ-VAE): fit, evaluate, encode, decode.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Measure performance figures (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// ROS 2 without a ROS installation: the latest joint state, the topics discovered (domain: ROS_DOMAIN_ID).
    #[command(subcommand)]
    Ros2(crate::cli::ros2::Ros2Command),
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Episodes, frames per camera, joint states, events, and any torn tail a crash left.
    Info(crate::cli::session::SessionInfoArgs),
    /// Upload a session (episode logs and annotations) to object storage: `kinedesk session push SESSION
    /// s3://BUCKET/PREFIX`. Only what changed since the last push or pull is sent; nothing there is overwritten.
    Push(crate::cli::storage::SessionPushArgs),
    /// Download a session pushed there, or update one pulled or pushed before: `kinedesk session pull
    /// s3://BUCKET/PREFIX SESSION`.
    Pull(crate::cli::storage::SessionPullArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenizerCommand {
    /// Train on synthetic demonstrations and write config.json + model.safetensors.
    Fit {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, default_value_t = 3000)]
        steps: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Synthetic training demonstrations.
        #[arg(long, default_value_t = 3000)]
        episodes: usize,
        #[arg(long, default_value_t = 1e-3)]
        learning_rate: f64,
        /// Codes per level (every level).
        #[arg(long, default_value_t = 256)]
        codebook_size: u32,
        #[arg(long, default_value_t = 2)]
        fine_levels: usize,
        #[arg(long, default_value_t = 16)]
        latent_dim: usize,
        /// Width of the encoder's and decoder's hidden layers.
        #[arg(long, default_value_t = 128)]
        hidden_dim: usize,
        /// Recorded sessions whose episodes are added to the training data (repeat for several).
        #[arg(long = "data", value_name = "SESSION")]
        data: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Replace the weights in --out if there are some (they are replaced only once the new ones are written).
        #[arg(long)]
        force: bool,
    },
    /// Reconstruction per number of levels and codebook usage on held-out synthetic demonstrations.
    Eval {
        /// Weights folder (default: the shipped assets/tokenizer).
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Encode chunks given as JSON on stdin (`{"chunk": [[a1..a7], …]}`) into codes and action tokens.
    Encode {
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
    },
    /// Decode codes or action tokens given as JSON on stdin into chunks.
    Decode {
        #[arg(long, value_name = "DIR")]
        weights: Option<PathBuf>,
        /// Use only the first N levels (1 = coarse, the goal-level motion).
        #[arg(long)]
        levels: Option<usize>,
    },
}

/// The longest run a `--seconds` may ask for: a week.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// A `--seconds` value: a positive, finite number of seconds up to [`MAX_SECONDS`].
pub fn seconds_arg(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        Ok(value)
    } else {
        Err(format!("{text} s is not between 0 and {MAX_SECONDS} s (a week)"))
    }
}

/// An API key for `serve` and `--policy ws://…`: an empty or blank key would
/// either lock every client out or look like protection while giving none.
pub fn api_key_arg(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("the API key is empty (leave --api-key out to serve without one)".into())
    } else if text.chars().any(char::is_control) {
        Err("the API key contains control characters, which cannot travel in an HTTP header".into())
    } else {
        Ok(text.to_owned())
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let cameras = if cli.no_cameras {
        Some(Vec::new())
    } else if cli.cameras.is_empty() {
        None
    } else {
        Some(
            cli.cameras
                .iter()
                .enumerate()
                .map(|(i, text)| crate::gui::camera_feeds::CameraSpec::parse(text, i + 1))
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| anyhow::anyhow!(e))?,
        )
    };
    let options = AppOptions {
        reset_layout: cli.reset_layout,
        exit_after_frames: cli.exit_after_frames,
        report_first_frame: cli.report_first_frame,
        trajectory: cli.trajectory,
        urdf: cli.urdf.map(|path| (path, cli.urdf_tip)),
        connect_sim: cli.connect_sim,
        plan: cli.plan.clone(),
        cameras,
        session: cli.session.clone(),
        annotate: cli.annotate.clone(),
        // Set by `gui::run` from the state directory.
        profile_dir: None,
    };
    match cli.command {
        None | Some(CliCommand::Gui) => gui::run(options, cli.state_dir),
        Some(CliCommand::RobotSim { protocol, listen, model, seconds }) => crate::cli::robot_link::run_robot_sim(
            &protocol,
            &listen,
            &crate::cli::robot::robot_from_arg(&model)?,
            seconds,
        ),
        Some(CliCommand::Send { robot, trajectory, model, move_to_start }) => crate::cli::robot_link::run_send(
            &robot,
            &trajectory,
            crate::cli::robot::robot_from_arg(&model)?,
            move_to_start,
        ),
        Some(CliCommand::Plan(args)) => crate::cli::policy::run_plan(&args),
        Some(CliCommand::Record(args)) => crate::cli::session::run_record(&args),
        Some(CliCommand::Export(args)) => crate::cli::session::run_export(&args),
        Some(CliCommand::Import(ImportCommand::Lerobot { dataset, session, json })) => {
            crate::cli::session::run_import(&dataset, &session, json)
        }
        Some(CliCommand::Import(ImportCommand::Rosbag(args))) => crate::cli::ros2::run_import_rosbag(&args),
        Some(CliCommand::Dataset(command)) => crate::cli::dataset::run(command),
        Some(CliCommand::Session(SessionCommand::Info(args))) => crate::cli::session::run_session_info(&args),
        Some(CliCommand::Session(SessionCommand::Push(args))) => crate::cli::storage::run_session_push(&args),
        Some(CliCommand::Session(SessionCommand::Pull(args))) => crate::cli::storage::run_session_pull(&args),
        Some(CliCommand::Serve(args)) => crate::cli::policy::run_serve(&args),
        Some(CliCommand::Rollout(args)) => crate::cli::rollout::run_rollout(&args),
        Some(CliCommand::Tokenizer(command)) => tokenizer::run(command),
        Some(CliCommand::Fk { robot, joints, json }) => crate::cli::robot::run_fk(&robot, &joints, json),
        Some(CliCommand::Ik { robot, position, quaternion_xyzw, seed, json }) => {
            crate::cli::robot::run_ik(&robot, &position, &quaternion_xyzw, seed.as_deref(), json)
        }
        Some(CliCommand::Bench(command)) => crate::bench::run(command),
        Some(CliCommand::Ros2(command)) => crate::cli::ros2::run(command),
    }
}
