//! `kinedesk dataset …`: edit LeRobot v3.0 datasets into new ones (the inputs are only read), and check them.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use kinedesk_sessions::dataset_doctor::{DoctorOptions, Report, Severity};
use kinedesk_sessions::dataset_edit::{Dataset, EditSummary, plans, write_edited, write_merged};

/// Where an edit writes, and how it reports.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// The dataset (for `split`, the folder of datasets) to create.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing output.
    #[arg(long)]
    force: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Upload a LeRobot v3.0 dataset to S3-compatible storage: `kinedesk dataset push DATASET s3://BUCKET/PREFIX`.
    /// Resumable (run it again after an interruption); `--append` adds it to a dataset already there.
    Push(crate::cli::storage::StorageArgs),
    /// Download a dataset pushed there (several desks' pushes merged into one): `kinedesk dataset pull
    /// s3://BUCKET/PREFIX OUT`.
    Pull {
        url: String,
        out: PathBuf,
        #[command(flatten)]
        remote: crate::cli::storage::RemoteArgs,
        #[arg(long)]
        json: bool,
    },
    /// Copy a dataset without some episodes: `kinedesk dataset delete-episodes DATASET --episodes 1,4 --out OUT`.
    DeleteEpisodes {
        dataset: PathBuf,
        /// Episode indices to leave out, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        episodes: Vec<i64>,
        #[command(flatten)]
        output: Output,
    },
    /// Split a dataset by episodes into parts: `--fractions train=0.8,val=0.2 --out DIR` writes DIR/train, DIR/val.
    Split {
        dataset: PathBuf,
        /// NAME=FRACTION pairs, comma-separated, adding up to 1 (consecutive episodes, in order).
        #[arg(long, value_delimiter = ',', required = true)]
        fractions: Vec<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Merge datasets into one, their episodes one dataset after another: `kinedesk dataset merge A B … --out OUT`.
    /// They must have the same fps, robot and features.
    Merge {
        #[arg(required = true, num_args = 2..)]
        datasets: Vec<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// Copy a dataset with one episode trimmed to a span: `--episode N --from-s S --to-s S --out OUT`.
    Trim {
        dataset: PathBuf,
        #[arg(long)]
        episode: i64,
        /// Keep from this time (seconds of the episode's timestamp)…
        #[arg(long)]
        from_s: f64,
        /// …to this time (inclusive).
        #[arg(long)]
        to_s: f64,
        #[command(flatten)]
        output: Output,
    },
    /// Check a dataset before training, or a session before export: timestamp gaps (beyond lerobot's tolerance),
    /// indices, frozen and stale frames, constant dimensions, statistics, state/action jumps beyond the robot's
    /// limits, stage labels; for a session also episodes the export would leave out, episodes without annotation
    /// and unconfirmed stages. Exits non-zero when it finds an error.
    Doctor {
        /// A LeRobot v3.0 dataset, or a KineDesk session folder.
        dataset: PathBuf,
        /// The robot whose joint velocity limits bound a change between frames (default: the dataset's robot_type,
        /// where it is one KineDesk knows: panda, rm75, or a URDF path).
        #[arg(long)]
        robot: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Copy a dataset with one episode given another task: `--episode N --task "…" --out OUT`.
    Retask {
        dataset: PathBuf,
        #[arg(long)]
        episode: i64,
        #[arg(long)]
        task: String,
        #[command(flatten)]
        output: Output,
    },
}

fn report(summaries: &[EditSummary], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summaries)?);
    } else {
        for summary in summaries {
            println!(
                "wrote {}: {} episodes, {} frames, {} tasks",
                summary.out.display(),
                summary.episodes,
                summary.frames,
                summary.tasks
            );
        }
    }
    Ok(())
}

fn open(dataset: &Path) -> anyhow::Result<Dataset> {
    Dataset::open(dataset).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `NAME=FRACTION` pairs.
fn fractions(pairs: &[String]) -> anyhow::Result<Vec<(String, f64)>> {
    pairs
        .iter()
        .map(|pair| {
            let (name, fraction) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("`{pair}` is not NAME=FRACTION (e.g. train=0.8)"))?;
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            anyhow::ensure!(valid, "`{name}` is not a folder name (letters, digits, _ and -)");
            let fraction: f64 =
                fraction.trim().parse().map_err(|_| anyhow::anyhow!("`{fraction}` is not a fraction"))?;
            Ok((name.to_owned(), fraction))
        })
        .collect()
}

/// The doctor's options for a dataset of `robot_type` (or the robot named by `--robot`) recorded at `fps`: a joint can
/// move at most its velocity limit over one frame period (with 20 % for timing jitter); the gripper (the dimensions
/// past the joints) can open or close in one frame. Without a robot KineDesk knows, jumps are not checked, and the
/// note says so.
pub(crate) fn doctor_options(
    robot: Option<&str>,
    robot_type: Option<&str>,
    fps: f64,
) -> (DoctorOptions, Option<String>) {
    let robot_name = robot.or(robot_type);
    let model = robot_name.and_then(|name| crate::cli::robot::robot_from_arg(name).ok());
    let max_step = model.as_ref().map(|robot| {
        let mut step: Vec<f64> = robot.joints.iter().map(|j| 1.2 * j.limits.velocity / fps).collect();
        step.resize(step.len() + 8, f64::INFINITY);
        step
    });
    let note = model.is_none().then(|| {
        let named = robot_name.map_or_else(|| "none named".to_owned(), |n| format!("{n:?} is not one KineDesk knows"));
        format!("joint jumps not checked: no robot ({named}); pass --robot panda|rm75|FILE.urdf")
    });
    (DoctorOptions { max_step }, note)
}

/// The doctor's options, the note about them on stderr (not with `--json`).
fn options_noted(robot: Option<&str>, robot_type: Option<&str>, fps: f64, json: bool) -> DoctorOptions {
    let (options, note) = doctor_options(robot, robot_type, fps);
    if let Some(note) = note.filter(|_| !json) {
        eprintln!("note: {note}");
    }
    options
}

/// The doctor's report as text: a summary line, then one line per finding.
pub fn doctor_text(report: &Report) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let mut text = format!(
        "{} episodes, {} frames at {} fps: {} error(s), {} warning(s), {} note(s)\n",
        report.episodes,
        report.frames,
        report.fps,
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for finding in &report.findings {
        let episode = finding.episode.map_or_else(String::new, |e| format!(" episode {e}:"));
        text += &format!("  {:?} [{}]{episode} {}\n", finding.severity, finding.check, finding.message);
    }
    text
}

/// `kinedesk dataset doctor DATASET|SESSION`.
fn run_doctor(path: &Path, robot: Option<&str>, json: bool) -> anyhow::Result<()> {
    use kinedesk_sessions::dataset_doctor::{examine, examine_session};
    let report = if path.join("meta/info.json").is_file() || !path.join("episodes").is_dir() {
        let dataset = open(path)?;
        let fps = dataset.info["fps"].as_f64().unwrap_or(30.0);
        let options = options_noted(robot, dataset.info["robot_type"].as_str(), fps, json);
        examine(&dataset, &options)
    } else {
        // A session: checked as its export would be, with the robot and fps that export has.
        let options = |dataset: &Dataset| {
            let fps = dataset.info["fps"].as_f64().unwrap_or(30.0);
            options_noted(robot, dataset.info["robot_type"].as_str(), fps, json)
        };
        examine_session(path, options, |_, _| {})
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = if json { serde_json::to_string(&report)? + "\n" } else { doctor_text(&report) };
    // A reader that stops early (`| head`) is not an error of the dataset's.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    let what = if path.join("episodes").is_dir() { "session" } else { "dataset" };
    anyhow::ensure!(report.errors() == 0, "the {what} has {} error(s)", report.errors());
    Ok(())
}

pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    let error = |e: kinedesk_sessions::dataset_edit::EditError| anyhow::anyhow!("{e}");
    let (output, written) = match command {
        DatasetCommand::Push(args) => return crate::cli::storage::run_push(&args),
        DatasetCommand::Pull { url, out, remote, json } => {
            return crate::cli::storage::run_pull(&url, &out, &remote, json);
        }
        DatasetCommand::Doctor { dataset, robot, json } => return run_doctor(&dataset, robot.as_deref(), json),
        DatasetCommand::DeleteEpisodes { dataset, episodes, output } => {
            let dataset = open(&dataset)?;
            let plan = plans::delete_episodes(&dataset, &episodes).map_err(error)?;
            let written = write_edited(&dataset, &plan, &output.out, output.force).map_err(error)?;
            (output, vec![written])
        }
        DatasetCommand::Split { dataset, fractions: pairs, output } => {
            let dataset = open(&dataset)?;
            let parts = plans::split(&dataset, &fractions(&pairs)?).map_err(error)?;
            let mut written = Vec::new();
            for (name, plan) in parts {
                written.push(write_edited(&dataset, &plan, &output.out.join(name), output.force).map_err(error)?);
            }
            (output, written)
        }
        DatasetCommand::Merge { datasets, output } => {
            let datasets = datasets.iter().map(|d| open(d)).collect::<anyhow::Result<Vec<_>>>()?;
            let written = write_merged(&datasets, &output.out, output.force).map_err(error)?;
            (output, vec![written])
        }
        DatasetCommand::Trim { dataset, episode, from_s, to_s, output } => {
            let dataset = open(&dataset)?;
            let plan = plans::trim(&dataset, episode, from_s, to_s).map_err(error)?;
            let written = write_edited(&dataset, &plan, &output.out, output.force).map_err(error)?;
            (output, vec![written])
        }
        DatasetCommand::Retask { dataset, episode, task, output } => {
            let dataset = open(&dataset)?;
            let plan = plans::retask(&dataset, episode, &task).map_err(error)?;
            let written = write_edited(&dataset, &plan, &output.out, output.force).map_err(error)?;
            (output, vec![written])
        }
    };
    report(&written, output.json)
}
