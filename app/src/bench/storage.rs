//! `kinedesk bench storage`: push and pull throughput and peak memory against an S3-compatible server (e.g. moto on
//! loopback), and what is sent twice when a push is stopped half way — by Ctrl+C (SIGINT) and by a hard kill
//! (SIGKILL) — and then run again.

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
    /// Parts in flight at a time (the push's default).
    pub concurrency: usize,
    /// The big file's parts.
    pub resume_parts: usize,
    /// Ctrl+C half way: parts journaled when the push had stopped, bytes the two runs sent together beyond the
    /// dataset's size (sent twice).
    pub interrupt_parts_journaled: usize,
    pub interrupt_resent_bytes: u64,
    /// Hard kill half way: parts journaled at the kill; what the rerun sent, and what it would send if no journaled
    /// part went again (the two are equal when none does). The parts in flight at the kill (at most `concurrency`)
    /// were partly sent and go again in full.
    pub kill_parts_journaled: usize,
    pub kill_rerun_sent_mb: f64,
    pub kill_not_journaled_mb: f64,
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
            "Ctrl+C half way ({} MiB parts, {} in flight): stopped with {} of {} parts journaled; sent twice: {} bytes",
            self.part_mb,
            self.concurrency,
            self.interrupt_parts_journaled,
            self.resume_parts,
            self.interrupt_resent_bytes
        );
        println!(
            "hard kill half way: {} of {} parts journaled; the rerun sent {:.1} MB = {:.1} MB not journaled (the ≤ {} \
             parts in flight at the kill go again in full)",
            self.kill_parts_journaled,
            self.resume_parts,
            self.kill_rerun_sent_mb,
            self.kill_not_journaled_mb,
            self.concurrency
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

    // Stopped half way, then run again: once by Ctrl+C (the parts in flight finish and are journaled), once by a
    // hard kill. Default concurrency.
    let parts = (mb * 1_000_000).div_ceil(part_mb << 20);
    let stop_and_rerun = |signal: &str, name: &str| -> anyhow::Result<(usize, u64, u64, u64)> {
        let url = format!("{prefix}-{name}");
        let journal_dir = root.join(format!("journal-{name}"));
        let push = || {
            let mut command = kinedesk(exe, &root);
            command.env("XDG_CACHE_HOME", &journal_dir).args(["dataset", "push"]).arg(&dataset).args([
                &url,
                "--endpoint",
                endpoint,
                "--part-mb",
                &part,
                "--json",
            ]);
            command
        };
        let journal = journal_dir.join("kinedesk/push");
        let mut child = push().stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let deadline = Instant::now() + Duration::from_secs(600);
        while kinedesk_storage::confirmed_parts(&journal, "extra/blob.bin") < parts / 2 {
            if child.try_wait()?.is_some() {
                bail!("the push ended before half of it was up");
            }
            if Instant::now() > deadline {
                bail!("the push did not get half way in 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        anyhow::ensure!(Command::new("kill").args([signal, &child.id().to_string()]).status()?.success());
        let first = child.wait_with_output()?;
        let first_sent = serde_json::from_slice::<serde_json::Value>(&first.stdout)
            .ok()
            .and_then(|j| j["bytes_sent"].as_u64())
            .unwrap_or(0);
        let journaled = kinedesk_storage::confirmed_parts(&journal, "extra/blob.bin");
        let output = push().output()?;
        anyhow::ensure!(output.status.success(), "the rerun failed: {}", String::from_utf8_lossy(&output.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let total = summary["bytes_total"].as_u64().unwrap_or(0);
        Ok((journaled, first_sent, summary["bytes_sent"].as_u64().unwrap_or(0), total))
    };
    let (interrupt_parts_journaled, first_sent, rerun_sent, total) = stop_and_rerun("-INT", "interrupted")?;
    anyhow::ensure!(first_sent > 0, "the interrupted push did not report what it sent");
    let interrupt_resent_bytes = (first_sent + rerun_sent).saturating_sub(total);
    let (kill_parts_journaled, _, kill_rerun_sent, total) = stop_and_rerun("-KILL", "killed")?;
    // Files go in sorted order: those before the blob were up, and journaled, before its first part.
    let before_blob: u64 =
        kinedesk_storage::list_files(&dataset)?.iter().take_while(|f| f.path != "extra/blob.bin").map(|f| f.size).sum();
    let journaled_bytes = before_blob + (kill_parts_journaled as u64) * ((part_mb as u64) << 20);
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
        concurrency: kinedesk_storage::CONCURRENCY,
        resume_parts: parts,
        interrupt_parts_journaled,
        interrupt_resent_bytes,
        kill_parts_journaled,
        kill_rerun_sent_mb: kill_rerun_sent as f64 / 1e6,
        kill_not_journaled_mb: total.saturating_sub(journaled_bytes) as f64 / 1e6,
    })
}
