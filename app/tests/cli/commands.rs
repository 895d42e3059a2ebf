//! The `kinedesk` binary, run as an operator or a script would run it.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn kinedesk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kinedesk"))
}

#[test]
fn help_lists_the_subcommands_and_version_prints() {
    let help = kinedesk().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    // The first word of each line of the "Commands:" section, in order (not a substring anywhere in the text).
    let listed: Vec<&str> = text
        .lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    let expected = [
        "gui",
        "fk",
        "ik",
        "robot-sim",
        "send",
        "plan",
        "serve",
        "rollout",
        "record",
        "session",
        "export",
        "import",
        "dataset",
        "tokenizer",
        "bench",
        "ros2",
        "help",
    ];
    assert_eq!(listed, expected, "{text}");
    // Each subcommand answers its own --help.
    for subcommand in &expected[..expected.len() - 1] {
        let sub = kinedesk().args([subcommand, "--help"]).output().unwrap();
        assert!(
            sub.status.success() && String::from_utf8_lossy(&sub.stdout).contains("Usage: kinedesk"),
            "{subcommand}"
        );
    }
    let unknown = kinedesk().arg("frobnicate").output().unwrap();
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("unrecognized subcommand"));
    let version = kinedesk().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("kinedesk {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn fk_and_ik_print_json_and_fail_clearly() {
    let fk = kinedesk()
        .args(["fk", "--robot", "panda", "--joints", "0,-0.785398,0,-2.356194,0,1.570796,0.785398", "--json"])
        .output()
        .unwrap();
    assert!(fk.status.success());
    let pose: serde_json::Value = serde_json::from_slice(&fk.stdout).unwrap();
    let position: Vec<f64> = serde_json::from_value(pose["position_m"].clone()).unwrap();
    assert!((position[0] - 0.3069).abs() < 1e-3 && position[1].abs() < 1e-9 && (position[2] - 0.5903).abs() < 1e-3);
    assert_eq!(pose["quaternion_xyzw"].as_array().unwrap().len(), 4);

    let ik = kinedesk()
        .args(["ik", "--robot", "panda", "--position", "0.4,0.1,0.4", "--quaternion-xyzw", "1,0,0,0", "--json"])
        .output()
        .unwrap();
    assert!(ik.status.success(), "{}", String::from_utf8_lossy(&ik.stderr));
    let solution: serde_json::Value = serde_json::from_slice(&ik.stdout).unwrap();
    assert_eq!(solution["joints"].as_array().unwrap().len(), 7);
    assert!(solution["position_error_m"].as_f64().unwrap() <= 1e-4);

    let unreachable = kinedesk()
        .args(["ik", "--robot", "panda", "--position", "3,0,0", "--quaternion-xyzw", "1,0,0,0", "--json"])
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("unreachable"));
}

#[test]
fn send_drives_a_robot_sim_over_tcp_and_refuses_unsafe_files() {
    let mut sim = kinedesk()
        .args(["robot-sim", "--protocol", "realman", "--listen", "127.0.0.1:0", "--seconds", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    let mut sim_stdout = BufReader::new(sim.stdout.take().unwrap());
    sim_stdout.read_line(&mut first_line).unwrap();
    let address = first_line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(address.starts_with("127.0.0.1:"), "{first_line}");

    let dir = std::env::temp_dir().join(format!("kinedesk-cli-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rest = [0.0, 0.5984, 0.0, 0.7712, 0.0, 1.772, 0.0];
    let joints: Vec<Vec<f64>> = (0..=20)
        .map(|k| {
            let mut q = rest.to_vec();
            q[0] += 0.2 * f64::from(k) / 20.0;
            q
        })
        .collect();
    let good = dir.join("good.json");
    std::fs::write(&good, serde_json::json!({"dt_s": 0.05, "joints": joints}).to_string()).unwrap();
    let sent = kinedesk()
        .args(["send", "--robot", &format!("realman://{address}"), "--trajectory"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(String::from_utf8_lossy(&sent.stderr).contains("done"));

    let mut bad_joints = joints.clone();
    bad_joints[10][1] = 3.0; // joint 2 beyond ±130°
    let bad = dir.join("bad.json");
    std::fs::write(&bad, serde_json::json!({"dt_s": 0.05, "joints": bad_joints}).to_string()).unwrap();
    let refused = kinedesk()
        .args(["send", "--robot", &format!("realman://{address}"), "--trajectory"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("nothing was sent") && message.contains("joint 2"), "{message}");

    // A trajectory that starts 0.1 rad away from the arm is refused, unless the arm first moves to its start.
    let shifted: Vec<Vec<f64>> = joints
        .iter()
        .map(|q| {
            let mut q = q.clone();
            q[2] += 0.1;
            q
        })
        .collect();
    let away = dir.join("away.json");
    std::fs::write(&away, serde_json::json!({"dt_s": 0.05, "joints": shifted}).to_string()).unwrap();
    let target = format!("realman://{address}");
    let refused = kinedesk().args(["send", "--robot", &target, "--trajectory"]).arg(&away).output().unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("starts with joint"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let moved =
        kinedesk().args(["send", "--robot", &target, "--move-to-start", "--trajectory"]).arg(&away).output().unwrap();
    let text = String::from_utf8_lossy(&moved.stderr);
    assert!(moved.status.success() && text.contains("at the start") && text.contains("done"), "{text}");

    let _ = sim.kill();
    let _ = sim.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn tokenizer_fit_eval_encode_decode_through_the_binary() {
    use std::io::Write as _;
    let dir = std::env::temp_dir().join(format!("kinedesk-cli-tokenizer-{}", std::process::id()));
    let fit = kinedesk()
        .args([
            "tokenizer",
            "fit",
            "--steps",
            "60",
            "--episodes",
            "60",
            "--batch",
            "64",
            "--codebook-size",
            "16",
            "--json",
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(fit.status.success(), "{}", String::from_utf8_lossy(&fit.stderr));
    let report: serde_json::Value = serde_json::from_slice(&fit.stdout).unwrap();
    assert_eq!(report["eval"]["by_levels"].as_array().unwrap().len(), 3);
    assert!(dir.join("config.json").is_file() && dir.join("model.safetensors").is_file());
    // Fitting again into the same folder is refused at once (before any fitting), unless --force.
    let started = std::time::Instant::now();
    let again = kinedesk().args(["tokenizer", "fit", "--steps", "60", "--out"]).arg(&dir).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(started.elapsed() < Duration::from_secs(5), "refused before fitting");

    let eval = kinedesk().args(["tokenizer", "eval", "--json", "--weights"]).arg(&dir).output().unwrap();
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));

    let run_with_stdin = |args: &[&str], input: &str| {
        let mut child = kinedesk()
            .args(args)
            .arg("--weights")
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let chunk = serde_json::json!({"chunk": vec![[0.004, 0.0, 0.001, 0.0, 0.0, 0.02, -1.0]; 5]});
    let encoded = run_with_stdin(&["tokenizer", "encode"], &chunk.to_string());
    assert!(encoded.status.success(), "{}", String::from_utf8_lossy(&encoded.stderr));
    let encoded: serde_json::Value = serde_json::from_slice(&encoded.stdout).unwrap();
    let tokens = encoded["tokens"].as_str().unwrap().to_owned();
    assert!(tokens.starts_with("<act_c:") && tokens.contains("<act_f2:"), "{tokens}");

    let decoded = run_with_stdin(&["tokenizer", "decode"], &serde_json::json!({"tokens": tokens}).to_string());
    assert!(decoded.status.success(), "{}", String::from_utf8_lossy(&decoded.stderr));
    let decoded: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(decoded["chunks"][0].as_array().unwrap().len(), 5);

    let bad = run_with_stdin(&["tokenizer", "decode"], r#"{"tokens": "<act_c:999>"}"#);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("out of range"), "{}", String::from_utf8_lossy(&bad.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plan_prints_reasoning_tokens_trajectory_and_checks_as_json() {
    let output = kinedesk()
        .args([
            "plan",
            "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate",
            "--robot",
            "panda",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let instruction_level = plan["reasoning"]["instruction_level"].as_array().unwrap();
    assert!(instruction_level.iter().any(|c| c == "object part: handle"), "{instruction_level:?}");
    let stages: Vec<&str> = plan["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["grasp", "lift", "rotate", "move", "place", "release"]);
    let tokens = plan["action_tokens"].as_array().unwrap();
    assert!(tokens.len() > 10 && tokens.iter().all(|chunk| chunk.as_array().unwrap().len() == 4));
    let trajectory = &plan["trajectory"];
    let samples = trajectory["joints"].as_array().unwrap().len();
    for key in ["ee_position_m", "ee_quaternion_xyzw", "gripper"] {
        assert_eq!(trajectory[key].as_array().unwrap().len(), samples, "{key}");
    }
    assert!((trajectory["dt_s"].as_f64().unwrap() - 0.05).abs() < 1e-12);
    assert_eq!(plan["checks"]["ok"], true, "{}", plan["checks"]);
    assert!(plan["token_text"].as_str().unwrap().contains("<act_c:"));

    let bad = kinedesk().args(["plan", "move left", "--json"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("how far?"));
}

/// The `ws://` address a `kinedesk serve` child prints on its first line.
fn served_url(server: &mut std::process::Child) -> String {
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    line.split_whitespace().find(|w| w.starts_with("ws://")).unwrap().to_owned()
}

#[test]
fn serve_and_plan_talk_over_websocket_through_the_binary() {
    let mut server = kinedesk()
        .args(["serve", "--listen", "127.0.0.1:0", "--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = served_url(&mut server);
    let output = kinedesk().args(["plan", "move 5 cm left", "--policy", &url, "--json"]).output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["policy"], url.as_str());
    assert_eq!(plan["action_tokens"].as_array().unwrap().len(), 4, "5 cm at 5 cm/s: 20 steps, 4 chunks of 5");
    let positions = plan["trajectory"]["ee_position_m"].as_array().unwrap();
    let y = |i: usize| positions[i][1].as_f64().unwrap();
    assert!((y(positions.len() - 1) - y(0) - 0.05).abs() < 0.003);
}

#[test]
fn arguments_out_of_range_are_refused_with_the_range_before_anything_runs() {
    let out = std::env::temp_dir().join(format!("kinedesk-args-{}", std::process::id()));
    for (args, expected) in [
        (vec!["record", "--synthetic", "--seconds", "inf"], "not between 0 and"),
        (vec!["record", "--synthetic", "--seconds", "NaN"], "not between 0 and"),
        (vec!["record", "--synthetic", "--seconds", "1e300"], "not between 0 and"),
        (vec!["record", "--synthetic", "--fps", "0"], "not in 1..=240"),
        (vec!["record", "--synthetic", "--width", "0"], "not in 16..=7680"),
        (vec!["record", "--synthetic", "--width", "100000", "--height", "100000"], "not in 16..=7680"),
        (vec!["serve", "--seconds", "1e300"], "not between 0 and"),
        (vec!["robot-sim", "--seconds", "0"], "not between 0 and"),
        (vec!["serve", "--api-key", "", "--seconds", "1"], "the API key is empty"),
        // A task that cannot be planned is refused before a session or an episode is created.
        (vec!["record", "--synthetic", "--seconds", "1", "--task", "wiggle the mug"], "not an action I know"),
        (vec!["serve", "--api-key", "  ", "--seconds", "1"], "the API key is empty"),
        (vec!["plan", "--api-key", "", "lift the mug 5 cm"], "the API key is empty"),
    ] {
        let mut command = kinedesk();
        command.args(&args);
        if args[0] == "record" {
            command.arg("--out").arg(&out);
        }
        let run = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
    }
    assert!(!out.exists(), "nothing was recorded");
}

#[test]
fn every_input_surface_survives_a_bounded_fuzz_run() {
    // `bench fuzz` mutates valid inputs of each surface; it fails (exit 1) if any input made KineDesk panic.
    let run = kinedesk().args(["bench", "fuzz", "--seconds", "1", "--seed", "7", "--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let surfaces = report["surfaces"].as_array().unwrap();
    assert_eq!(surfaces.len(), 9, "{report}");
    for surface in surfaces {
        let name = surface["surface"].as_str().unwrap();
        assert_eq!(surface["panics"], 0, "{name}: {}", surface["first_panic"]);
        assert!(surface["cases"].as_u64().unwrap() >= 20, "{name} ran too few cases: {surface}");
        assert!(surface["refused"].as_u64().unwrap() > 0, "{name}: mutants are refused");
        // A debug build on 2 cores shared with other tests runs the planner ~15× slower than release (where the
        // worst case is under half a second, docs/benchmarks.md): here only a hang is a failure.
        assert!(surface["worst_ms"].as_f64().unwrap() < 15_000.0, "{name}: {surface}");
    }
    assert!(report["peak_rss_mb"].as_f64().unwrap() < 2048.0, "{report}");
}

/// CPU time (s) the process `pid` has used, from `/proc/PID/stat` (user + system, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces): state is the first.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn serve_out_of_file_descriptors_backs_off_without_spinning_or_flooding_the_log_and_recovers() {
    // 32 descriptors: a dozen connections use them up; after that a connection cannot be served (EMFILE).
    let mut server = Command::new("bash")
        .args(["-c", "ulimit -n 32 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_kinedesk")])
        .args(["serve", "--listen", "127.0.0.1:0", "--seconds", "60", "--max-connections", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = served_url(&mut server);
    let address = url.trim_start_matches("ws://").trim_end_matches('/').to_owned();
    let stderr = server.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    // Idle clients (no handshake): they hold descriptors until the 10 s handshake deadline.
    let clients: Vec<_> = (0..60).filter_map(|_| std::net::TcpStream::connect(&address).ok()).collect();
    assert!(clients.len() >= 40, "{} connections", clients.len());
    std::thread::sleep(Duration::from_secs(1));
    let (cpu_before, logged_before) = (cpu_seconds(server.id()), lines.lock().unwrap().len());
    std::thread::sleep(Duration::from_secs(4));
    let (cpu_after, logged_after) = (cpu_seconds(server.id()), lines.lock().unwrap().len());
    let log = lines.lock().unwrap().clone();
    assert!(
        log.iter().any(|l| l.contains("accept failed") || l.contains("cannot serve it")),
        "it ran out of descriptors: {log:#?}"
    );
    assert!(cpu_after - cpu_before < 0.5, "{:.2} s of CPU in 4 s out of descriptors", cpu_after - cpu_before);
    assert!(logged_after - logged_before <= 3, "{} log lines in 4 s: {log:#?}", logged_after - logged_before);
    // Once the clients are gone the server serves again.
    drop(clients);
    std::thread::sleep(Duration::from_millis(1500));
    let output = kinedesk().args(["plan", "move 5 cm left", "--policy", &url, "--json"]).output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
