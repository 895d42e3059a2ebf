//! Object storage on the command line: `kinedesk dataset push|pull` and `kinedesk session push|pull`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the store is. Credentials come from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`) or an AWS profile,
/// never from the command line.
#[derive(Debug, clap::Args)]
pub struct RemoteArgs {
    /// An S3-compatible (MinIO, Ceph, R2…) or Azure endpoint: https://…, or http:// on loopback.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Allow plain http to another machine (data and signatures travel unencrypted).
    #[arg(long)]
    pub allow_http: bool,
    /// The AWS profile (~/.aws/credentials, ~/.aws/config) for keys, region and endpoint (default: AWS_PROFILE, or
    /// `default` when the environment has no keys).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
}

impl RemoteArgs {
    pub fn options(&self) -> kinedesk_storage::RemoteOptions {
        kinedesk_storage::RemoteOptions {
            endpoint: self.endpoint.clone(),
            allow_http: self.allow_http,
            profile: self.profile.clone(),
        }
    }
}

/// How a push sends.
#[derive(Debug, clap::Args)]
pub struct TransferArgs {
    /// Multipart part size in MiB (at least 5).
    #[arg(long, default_value_t = 8)]
    pub part_mb: usize,
    /// Parts in flight at once (memory: this × the part size).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[arg(long)]
    pub json: bool,
}

impl TransferArgs {
    fn options(&self, append: bool) -> kinedesk_storage::PushOptions {
        kinedesk_storage::PushOptions {
            append,
            part_size: self.part_mb.max(5) << 20,
            concurrency: self.concurrency.clamp(1, 32),
            cancel: Some(interrupt_flag()),
            ..kinedesk_storage::PushOptions::default()
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct StorageArgs {
    pub dataset: PathBuf,
    /// s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX
    pub url: String,
    /// Add this dataset's episodes to the dataset already at the URL (several desks, one dataset).
    #[arg(long)]
    pub append: bool,
    /// Where this dataset comes from (e.g. `desk1/monday`): a later push with the same --source replaces this one's
    /// episodes in the dataset instead of adding them again (a session exported again after more episodes).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, clap::Args)]
pub struct SessionPushArgs {
    pub session: PathBuf,
    /// s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX
    pub url: String,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Debug, clap::Args)]
pub struct SessionPullArgs {
    pub url: String,
    /// A new folder, or a session pushed there or pulled from there before (only what changed there is fetched).
    pub out: PathBuf,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[arg(long)]
    pub json: bool,
}

/// Set on the first Ctrl+C (or SIGTERM): the push lets the parts in flight finish, journals them and stops; a
/// second Ctrl+C stops at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut interrupt), Ok(mut terminate)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return;
            };
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("\nstopping: the parts in flight finish and are journaled (Ctrl+C again to stop at once)…");
            set.store(true, Ordering::Relaxed);
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            std::process::exit(130);
        });
    });
    flag
}

fn transfer_bar(message: &'static str) -> indicatif::ProgressBar {
    crate::cli::session::progress_bar(message, "MB")
}

fn bar_progress(bar: &indicatif::ProgressBar) -> impl Fn(u64, u64) + Send + Sync + '_ {
    |done: u64, total: u64| {
        bar.set_length(total >> 20);
        bar.set_position(done >> 20);
    }
}

/// An interrupted push exits with 130 (as a shell does after Ctrl+C), after saying how to continue (with `--json`,
/// also `{"interrupted": true, "bytes_sent": N}` on stdout).
fn finish<T>(result: Result<T, kinedesk_storage::StorageError>, json: bool) -> anyhow::Result<T> {
    match result {
        Err(error @ kinedesk_storage::StorageError::Interrupted { sent_bytes, .. }) => {
            eprintln!("{error}");
            if json {
                println!("{}", serde_json::json!({ "interrupted": true, "bytes_sent": sent_bytes }));
            }
            std::process::exit(130);
        }
        other => other.map_err(|e| anyhow::anyhow!("{e}")),
    }
}

pub fn run_push(args: &StorageArgs) -> anyhow::Result<()> {
    let options = kinedesk_storage::PushOptions { source: args.source.clone(), ..args.transfer.options(args.append) };
    let bar = transfer_bar("pushing");
    let summary = finish(
        kinedesk_storage::push(&args.dataset, &args.url, &args.remote.options(), &options, &bar_progress(&bar)),
        args.transfer.json,
    )?;
    bar.finish_and_clear();
    if args.transfer.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if summary.already_there {
        println!(
            "{} is already in {} ({} episodes there); nothing sent",
            summary.part, summary.remote, summary.episodes_total
        );
    } else {
        println!(
            "pushed {} ({} files, {:.1} MB; {:.1} MB sent{}) to {} in {:.1} s: {} episodes added{}, {} there now",
            summary.part,
            summary.files,
            summary.bytes_total as f64 / 1e6,
            summary.bytes_sent as f64 / 1e6,
            if summary.files_skipped + summary.parts_resumed > 0 {
                format!(
                    ", resumed: {} files and {} parts were already up",
                    summary.files_skipped, summary.parts_resumed
                )
            } else {
                String::new()
            },
            summary.remote,
            summary.seconds,
            summary.episodes_added,
            if summary.parts_replaced > 0 {
                format!(" (replacing the {} episodes of this source's earlier push)", summary.episodes_replaced)
            } else {
                String::new()
            },
            summary.episodes_total
        );
    }
    Ok(())
}

pub fn run_pull(url: &str, out: &Path, remote: &RemoteArgs, json: bool) -> anyhow::Result<()> {
    let bar = transfer_bar("pulling");
    let summary =
        kinedesk_storage::pull(url, out, &remote.options(), &bar_progress(&bar)).map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "pulled {} episodes ({} push(es){}, {:.1} MB) from {} into {} in {:.1} s",
            summary.episodes,
            summary.parts,
            if summary.merged { ", merged" } else { "" },
            summary.bytes as f64 / 1e6,
            summary.remote,
            out.display(),
            summary.seconds
        );
    }
    Ok(())
}

fn list(paths: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut text = paths.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

/// `kinedesk session push SESSION URL`: exits non-zero when a file changed on both sides (nothing is overwritten;
/// everything else was pushed).
pub fn run_session_push(args: &SessionPushArgs) -> anyhow::Result<()> {
    let options = args.transfer.options(false);
    let bar = transfer_bar("pushing");
    let summary = finish(
        kinedesk_storage::session::push_session(
            &args.session,
            &args.url,
            &args.remote.options(),
            &options,
            &bar_progress(&bar),
        ),
        args.transfer.json,
    )?;
    bar.finish_and_clear();
    if args.transfer.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "pushed {} to {} in {:.1} s: {} file(s) sent ({:.1} MB), {} already there",
            args.session.display(),
            summary.remote,
            summary.seconds,
            summary.uploaded.len(),
            summary.bytes_sent as f64 / 1e6,
            summary.unchanged
        );
        if !summary.newer_there.is_empty() {
            println!("newer there (pull to get them): {}", list(&summary.newer_there));
        }
    }
    anyhow::ensure!(
        summary.conflicts.is_empty(),
        "changed here and there since the last push or pull, left as they are on both sides: {} (pull to get the \
         other version beside yours)",
        list(&summary.conflicts)
    );
    Ok(())
}

/// `kinedesk session pull URL OUT`: exits non-zero when a file changed on both sides (the other version is written
/// beside the local one).
pub fn run_session_pull(args: &SessionPullArgs) -> anyhow::Result<()> {
    let bar = transfer_bar("pulling");
    let summary =
        kinedesk_storage::session::pull_session(&args.url, &args.out, &args.remote.options(), &bar_progress(&bar))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "pulled {} into {} in {:.1} s: {} file(s) fetched ({:.1} MB), {} unchanged",
            summary.remote,
            args.out.display(),
            summary.seconds,
            summary.fetched.len(),
            summary.bytes_received as f64 / 1e6,
            summary.unchanged
        );
        if !summary.newer_here.is_empty() {
            println!("changed here, kept (push to send them): {}", list(&summary.newer_here));
        }
    }
    anyhow::ensure!(
        summary.conflicts.is_empty(),
        "changed here and there since the last push or pull: {} — yours are kept, the other versions are beside them \
         (FILE.remote-<hash>)",
        list(&summary.conflicts)
    );
    Ok(())
}
