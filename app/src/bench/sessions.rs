//! `bench crash` (kill -9 during recording, read back) and `bench export` (KineDesk's LeRobot export against the
//! lerobot package writing the same episodes).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use kinedesk_sessions::episode::{SessionDir, read_episode};

/// Result of `kinedesk bench crash`.
#[derive(Debug, serde::Serialize)]
pub struct CrashBench {
    pub runs: usize,
    /// Per run: (frames written when killed, frames reported durable, frames recovered).
    pub per_run: Vec<(u64, u64, u64)>,
    pub runs_with_torn_tail: usize,
    pub lost_beyond_durable: u64,
}

/// Records with `exe` and kills it with SIGKILL at a varying moment, `runs` times; reads each episode back.
pub fn bench_crash(exe: &std::path::Path, runs: usize) -> anyhow::Result<CrashBench> {
    use std::io::BufRead as _;
    let root = std::env::temp_dir().join(format!("kinedesk-bench-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut per_run = Vec::new();
    let mut torn = 0;
    for run in 0..runs {
        let mut child = std::process::Command::new(exe)
            .args(["record", "--synthetic", "--seconds", "60", "--cameras", "3"])
            .arg("--out")
            .arg(&root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let kill_after = 1.0 + (run % 5) as f64 * 0.5;
        let (mut written, mut durable) = (0, 0);
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            let Some(rest) = line.strip_prefix("t=") else { continue };
            let t: f64 = rest.split_whitespace().next().unwrap_or("0").parse().unwrap_or(0.0);
            let number = |suffix: &str| -> u64 {
                line.split([',', ';'])
                    .find_map(|p| p.trim().strip_suffix(suffix)?.split_whitespace().last()?.parse().ok())
                    .unwrap_or(0)
            };
            written = number(" frames written");
            durable = number(" durable");
            if t >= kill_after {
                // Kill a little after a report, in the middle of writing.
                std::thread::sleep(Duration::from_millis(50 + (run as u64 * 37) % 400));
                break;
            }
        }
        child.kill()?;
        child.wait()?;
        let session = SessionDir::open(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
        let path = session.episode_paths().map_err(|e| anyhow::anyhow!("{e}"))?.pop().context("no episode")?;
        let episode = read_episode(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        if episode.torn_tail.is_some() {
            torn += 1;
        }
        per_run.push((written, durable, episode.frames.len() as u64));
    }
    let _ = std::fs::remove_dir_all(&root);
    let lost_beyond_durable = per_run.iter().map(|(_, d, r)| d.saturating_sub(*r)).sum();
    Ok(CrashBench { runs, per_run, runs_with_torn_tail: torn, lost_beyond_durable })
}

/// Export speed: KineDesk's LeRobot v3 export (frames as recorded, and re-encoded to PNG) and, given a Python with
/// the `lerobot` package, lerobot writing the same episodes through its own recording API (PNG image features).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportBench {
    pub frames: usize,
    pub episodes: usize,
    pub cameras: usize,
    pub runs: usize,
    pub kinedesk_jpeg_s: f64,
    pub kinedesk_png_s: f64,
    pub kinedesk_png_bytes: u64,
    /// lerobot's time writing (decoding the source frames to arrays is excluded), if it was run.
    pub lerobot_write_s: Option<f64>,
    pub lerobot_bytes: Option<u64>,
    /// lerobot time / KineDesk PNG time.
    pub speedup_same_format: Option<f64>,
}

const LEROBOT_WRITER: &str = include_str!("../../../sessions/tests/python/lerobot_write_same_episodes.py");

fn folder_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| {
                let p = e.path();
                if p.is_dir() { folder_bytes(&p) } else { e.metadata().map_or(0, |m| m.len()) }
            })
            .sum()
    })
}

/// Runs the export-speed comparison on the episodes of `session`: per run KineDesk's JPEG export, its PNG export and
/// (with `python`) lerobot writing the same frames as PNG, one after another, so that all three see the same machine
/// conditions; medians over the runs.
pub fn bench_export(session: &std::path::Path, runs: usize, python: Option<&str>) -> anyhow::Result<ExportBench> {
    use kinedesk_sessions::lerobot::{ExportOptions, ExportSummary, ImageEncoding, export_lerobot};
    let scratch = std::env::temp_dir().join(format!("kinedesk-bench-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let export = |images: ImageEncoding, out: &std::path::Path| -> anyhow::Result<(f64, ExportSummary)> {
        let started = Instant::now();
        let summary = export_lerobot(session, out, ExportOptions { images, ..ExportOptions::default() }, |_, _| {})
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((started.elapsed().as_secs_f64(), summary))
    };
    // The JPEG export is kept: lerobot is fed its frames.
    let source = scratch.join("jpeg");
    let script = scratch.join("lerobot_write_same_episodes.py");
    std::fs::write(&script, LEROBOT_WRITER)?;
    let (mut jpeg, mut png, mut lerobot) = (Vec::new(), Vec::new(), Vec::new());
    let (mut summary, mut png_bytes, mut lerobot_bytes) = (None, 0, None);
    for run in 0..runs.max(1) {
        let _ = std::fs::remove_dir_all(&source);
        let (seconds, written) = export(ImageEncoding::AsRecorded, &source)?;
        jpeg.push(seconds);
        let out = scratch.join("png");
        let (seconds, _) = export(ImageEncoding::Png, &out)?;
        png.push(seconds);
        png_bytes = folder_bytes(&out);
        std::fs::remove_dir_all(&out)?;
        if let Some(python) = python {
            let out = scratch.join(format!("lerobot-{run}"));
            let output = std::process::Command::new(python)
                .arg(&script)
                .arg(&source)
                .arg(&out)
                .output()
                .with_context(|| format!("cannot run {python}"))?;
            let _ = std::fs::remove_dir_all(&out);
            anyhow::ensure!(
                output.status.success(),
                "lerobot failed to write the episodes: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let found: serde_json::Value = serde_json::from_slice(&output.stdout)
                .with_context(|| format!("unexpected output: {}", String::from_utf8_lossy(&output.stdout)))?;
            anyhow::ensure!(
                found["frames"].as_u64() == Some(written.frames as u64),
                "lerobot wrote {} frames, KineDesk {}",
                found["frames"],
                written.frames
            );
            lerobot.push(found["write_seconds"].as_f64().context("no write_seconds")?);
            lerobot_bytes = found["bytes"].as_u64();
        }
        summary = Some(written);
    }
    let cameras = std::fs::read_to_string(source.join("meta/info.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|info| info["features"].as_object().map(|f| f.values().filter(|v| v["dtype"] == "image").count()))
        .unwrap_or(0);
    let summary = summary.context("no run")?;
    let kinedesk_png_s = median(png);
    let lerobot_write_s = (!lerobot.is_empty()).then(|| median(lerobot));
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(ExportBench {
        frames: summary.frames,
        episodes: summary.episodes,
        cameras,
        runs: runs.max(1),
        kinedesk_jpeg_s: median(jpeg),
        kinedesk_png_s,
        kinedesk_png_bytes: png_bytes,
        lerobot_write_s,
        lerobot_bytes,
        speedup_same_format: lerobot_write_s.map(|l| l / kinedesk_png_s.max(1e-9)),
    })
}

impl super::Report for CrashBench {
    fn print_text(&self) {
        println!("kill -9 during recording (3 cameras 640×480 at 30 fps + joints at 100 Hz), {} runs:", self.runs);
        println!("  run: frames written before the kill / reported durable / recovered");
        for (i, (w, d, r)) in self.per_run.iter().enumerate() {
            println!("  {:2}: {w} / {d} / {r}", i + 1);
        }
        println!(
            "  {} runs left a torn tail (trimmed); frames lost among those reported durable: {}",
            self.runs_with_torn_tail, self.lost_beyond_durable
        );
    }
}

impl super::Report for ExportBench {
    fn print_text(&self) {
        println!(
            "LeRobot v3 export of {} episodes, {} frames x {} cameras (medians of {} runs, interleaved):",
            self.episodes, self.frames, self.cameras, self.runs
        );
        println!("  KineDesk, JPEG frames as recorded: {:.2} s", self.kinedesk_jpeg_s);
        println!(
            "  KineDesk, frames re-encoded as PNG: {:.2} s ({:.1} MB)",
            self.kinedesk_png_s,
            self.kinedesk_png_bytes as f64 / 1e6
        );
        match (self.lerobot_write_s, self.speedup_same_format) {
            (Some(write), Some(speedup)) => println!(
                "  lerobot writing the same frames as PNG: {write:.2} s ({:.1} MB): KineDesk is {speedup:.1}x faster",
                self.lerobot_bytes.unwrap_or(0) as f64 / 1e6
            ),
            _ => println!("  (give --lerobot-python to time the lerobot package on the same episodes)"),
        }
    }
}
