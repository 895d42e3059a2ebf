//! `kinedesk bench storage`: push and pull throughput and peak memory against an S3-compatible server (e.g. moto on
//! loopback), and what a push resumed after being killed half way sends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Report;
use super::export_memory::peak_memory_of;

#[derive(Clone, Debug, serde::Serialize)]
pub struct StorageBench {
    pub endpoint: String,
    pub dataset_mb: f64,
    pub push_s: f64,
    pub push_mb_s: f64,
    pub push_peak_mb: f64,
    pub pull_s: f64,
    pub pull_mb_s: f64,
    pub pull_peak_mb: f64,
    pub part_mb: usize,
    /// The big file's parts, and how many the journal had when the push was killed.
    pub resume_parts: usize,
    pub resume_parts_done_at_kill: usize,
    /// What the resumed run sent, and the bytes not journaled at the kill (the resumed run sends exactly those).
    pub resume_sent_mb: f64,
    pub resume_not_journaled_mb: f64,
}

impl Report for StorageBench {
    fn print_text(&self) {
        println!(
            "push {:.0} MB: {:.1} s = {:.0} MB/s, peak memory {:.0} MB; pull: {:.1} s = {:.0} MB/s, peak memory {:.0} MB ({})",
            self.dataset_mb,
            self.push_s,
            self.push_mb_s,
            self.push_peak_mb,
            self.pull_s,
            self.pull_mb_s,
            self.pull_peak_mb,
            self.endpoint
        );
        println!(
            "resume: killed with {} of {} parts ({} MiB) journaled; the resumed push sent {:.1} MB = the {:.1} MB not \
             journaled (no journaled part went again; the part in flight at the kill is the only one sent twice)",
            self.resume_parts_done_at_kill,
            self.resume_parts,
            self.part_mb,
            self.resume_sent_mb,
            self.resume_not_journaled_mb
        );
    }
}

fn kinedesk(exe: &Path, cache: &Path) -> Command {
    let mut command = Command::new(exe);
    command.env("XDG_CACHE_HOME", cache);
    command
}

/// Writes `mb` MB of incompressible bytes to `path`, 8 MB at a time.
fn write_blob(path: &Path, mb: usize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut chunk = vec![0u8; 8_000_000];
    let mut left = mb * 1_000_000;
    while left > 0 {
        for byte in &mut chunk {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n])?;
        left -= n;
    }
    file.flush()?;
    Ok(())
}

fn journaled_parts(journal_dir: &Path, file: &str) -> usize {
    std::fs::read_dir(journal_dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .map(|j| j["files"][file]["parts"].as_object().map_or(0, serde_json::Map::len))
        .max()
        .unwrap_or(0)
}

/// Runs the figures against `endpoint` and `bucket` (which must exist; credentials from the AWS environment).
pub fn bench_storage(
    exe: &Path,
    endpoint: &str,
    bucket: &str,
    mb: usize,
    part_mb: usize,
) -> anyhow::Result<StorageBench> {
    let root: PathBuf = std::env::temp_dir().join(format!("kinedesk-bench-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root)?;
    let session = root.join("session");
    let dataset = root.join("dataset");
    let status = kinedesk(exe, &root)
        .args(["record", "--synthetic", "--seconds", "2", "--cameras", "1", "--out"])
        .arg(&session)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "recording the sample episode failed");
    let status = kinedesk(exe, &root)
        .args(["export", "--format", "lerobot-v3"])
        .arg(&session)
        .arg(&dataset)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "exporting the sample episode failed");
    std::fs::create_dir_all(dataset.join("extra"))?;
    write_blob(&dataset.join("extra/blob.bin"), mb)?;
    let dataset_mb = kinedesk_storage::list_files(&dataset)?.iter().map(|f| f.size).sum::<u64>() as f64 / 1e6;

    let prefix = format!("s3://{bucket}/bench-{}", std::process::id());
    let part = part_mb.to_string();
    let mut push = kinedesk(exe, &root);
    push.args(["dataset", "push"])
        .arg(&dataset)
        .args([&prefix, "--endpoint", endpoint, "--part-mb", &part])
        .stdout(Stdio::null());
    let (push_peak_mb, push_s) = peak_memory_of(push).context("push")?;
    let mut pull = kinedesk(exe, &root);
    pull.args(["dataset", "pull", &prefix])
        .arg(root.join("pulled"))
        .args(["--endpoint", endpoint])
        .stdout(Stdio::null());
    let (pull_peak_mb, pull_s) = peak_memory_of(pull).context("pull")?;

    // Resume: one part in flight at a time, killed once half the big file's parts are journaled.
    let resumed = format!("{prefix}-resumed");
    let parts = (mb * 1_000_000).div_ceil(part_mb << 20);
    let journal_dir = root.join("kinedesk/push");
    let mut command = kinedesk(exe, &root);
    command
        .args(["dataset", "push"])
        .arg(&dataset)
        .args([&resumed, "--endpoint", endpoint, "--part-mb", &part, "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while journaled_parts(&journal_dir, "extra/blob.bin") < parts / 2 {
        if child.try_wait()?.is_some() {
            bail!("the push ended before half of it was up");
        }
        if Instant::now() > deadline {
            bail!("the push did not get half way in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill()?;
    child.wait()?;
    let done_at_kill = journaled_parts(&journal_dir, "extra/blob.bin");
    let output = kinedesk(exe, &root)
        .args(["dataset", "push"])
        .arg(&dataset)
        .args([&resumed, "--endpoint", endpoint, "--part-mb", &part, "--concurrency", "1", "--json"])
        .output()?;
    anyhow::ensure!(output.status.success(), "the resumed push failed: {}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let total = summary["bytes_total"].as_u64().unwrap_or(0);
    let sent = summary["bytes_sent"].as_u64().unwrap_or(0);
    let journaled = (done_at_kill as u64) * ((part_mb as u64) << 20);
    let _ = std::fs::remove_dir_all(&root);
    Ok(StorageBench {
        endpoint: endpoint.to_owned(),
        dataset_mb,
        push_s,
        push_mb_s: dataset_mb / push_s,
        push_peak_mb,
        pull_s,
        pull_mb_s: dataset_mb / pull_s,
        pull_peak_mb,
        part_mb,
        resume_parts: parts,
        resume_parts_done_at_kill: done_at_kill,
        resume_sent_mb: sent as f64 / 1e6,
        resume_not_journaled_mb: total.saturating_sub(journaled) as f64 / 1e6,
    })
}
