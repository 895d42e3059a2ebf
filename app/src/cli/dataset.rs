//! `kinedesk dataset …`: edit LeRobot v3.0 datasets into new ones (the input is only read).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use kinedesk_sessions::dataset_edit::{Dataset, EditSummary, plans, write_edited};

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Copy a dataset without some episodes: `kinedesk dataset delete-episodes DATASET --episodes 1,4 --out OUT`.
    DeleteEpisodes {
        dataset: PathBuf,
        /// Episode indices to leave out, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        episodes: Vec<i64>,
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing OUT.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Split a dataset by episodes into parts: `--fractions train=0.8,val=0.2 --out DIR` writes DIR/train, DIR/val.
    Split {
        dataset: PathBuf,
        /// NAME=FRACTION pairs, comma-separated, adding up to 1 (consecutive episodes, in order).
        #[arg(long, value_delimiter = ',', required = true)]
        fractions: Vec<String>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
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
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
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
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
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

pub fn run(command: DatasetCommand) -> anyhow::Result<()> {
    let error = |e: kinedesk_sessions::dataset_edit::EditError| anyhow::anyhow!("{e}");
    match command {
        DatasetCommand::DeleteEpisodes { dataset, episodes, out, force, json } => {
            let dataset = open(&dataset)?;
            let plan = plans::delete_episodes(&dataset, &episodes).map_err(error)?;
            report(&[write_edited(&dataset, &plan, &out, force).map_err(error)?], json)
        }
        DatasetCommand::Split { dataset, fractions: pairs, out, force, json } => {
            let dataset = open(&dataset)?;
            let parts = plans::split(&dataset, &fractions(&pairs)?).map_err(error)?;
            let mut written = Vec::new();
            for (name, plan) in parts {
                written.push(write_edited(&dataset, &plan, &out.join(name), force).map_err(error)?);
            }
            report(&written, json)
        }
        DatasetCommand::Trim { dataset, episode, from_s, to_s, out, force, json } => {
            let dataset = open(&dataset)?;
            let plan = plans::trim(&dataset, episode, from_s, to_s).map_err(error)?;
            report(&[write_edited(&dataset, &plan, &out, force).map_err(error)?], json)
        }
        DatasetCommand::Retask { dataset, episode, task, out, force, json } => {
            let dataset = open(&dataset)?;
            let plan = plans::retask(&dataset, episode, &task).map_err(error)?;
            report(&[write_edited(&dataset, &plan, &out, force).map_err(error)?], json)
        }
    }
}
