//! The Cyclone DDS peer (a Python process from PyPI's `cyclonedds`), started per test on a domain of its own with
//! unicast discovery on loopback.

#![allow(dead_code, clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static NEXT: AtomicU16 = AtomicU16::new(0);

/// The Python with the ROS 2 peers (`KINEDESK_PYTHON`), or `None` (with a loud warning) where they are not
/// installed and not required (`KINEDESK_REQUIRE_PYTHON_PEERS=1` makes their absence a failure).
pub fn python_with(modules: &str) -> Option<String> {
    let python = std::env::var("KINEDESK_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var("KINEDESK_REQUIRE_PYTHON_PEERS").as_deref() != Ok("1"),
        "{modules} is required (KINEDESK_REQUIRE_PYTHON_PEERS=1): run scripts/test.sh"
    );
    eprintln!("SKIPPED: {modules} not installed for {python} — the ROS 2 peer check did not run");
    None
}

/// A script of `models/ros2/tests/python/` (this module is also compiled into the GUI tests' crate).
pub fn peer_script(name: &str) -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    [manifest.join("tests/python"), manifest.join("../models/ros2/tests/python")]
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} not found beside {}", manifest.display()))
}

/// A domain no other test of this run uses.
pub fn fresh_domain() -> u16 {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    30 + ((std::process::id() as u16).wrapping_mul(7).wrapping_add(n * 13)) % 190
}

/// Cyclone's configuration: no multicast, peers on 127.0.0.1 (what the desk's participant also announces to).
pub fn cyclone_uri() -> String {
    let path: PathBuf = std::env::temp_dir().join(format!("kinedesk-cyclone-{}.xml", std::process::id()));
    std::fs::write(
        &path,
        "<CycloneDDS><Domain id=\"any\"><General><Interfaces><NetworkInterface address=\"127.0.0.1\"/></Interfaces>\
         <AllowMulticast>false</AllowMulticast></General><Discovery><Peers><Peer address=\"127.0.0.1\"/></Peers>\
         <ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>30</MaxAutoParticipantIndex>\
         </Discovery></Domain></CycloneDDS>",
    )
    .unwrap();
    format!("file://{}", path.display())
}

pub struct CycloneArm {
    child: Child,
    pub domain: u16,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
    stderr_path: PathBuf,
}

impl CycloneArm {
    /// Starts the arm with `names` at `start` (plus extra arguments to cyclone_arm.py); waits until it is up.
    pub fn start(names: &[&str], start: &[f64], extra: &[&str]) -> Option<Self> {
        let python = python_with("cyclonedds")?;
        let domain = fresh_domain();
        let script = peer_script("cyclone_arm.py");
        let stderr_path =
            std::env::temp_dir().join(format!("kinedesk-cyclone-arm-{}-{domain}.err", std::process::id()));
        let start: Vec<String> = start.iter().map(f64::to_string).collect();
        let mut child = Command::new(python)
            .arg(script)
            .args(["--joints", &names.join(","), "--start", &start.join(","), "--seconds", "60"])
            .args(extra)
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env("CYCLONEDDS_URI", cyclone_uri())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        let arm = Self { child, domain, lines, stderr_path };
        let deadline = Instant::now() + Duration::from_secs(30);
        while arm.lines.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the Cyclone arm did not start: {}", arm.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(arm)
    }

    /// Every trajectory the arm has received so far, in order.
    pub fn trajectories(&self) -> Vec<serde_json::Value> {
        self.lines.lock().unwrap().iter().filter(|v| v.get("trajectory").is_some()).cloned().collect()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for CycloneArm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}
