//! The remote policy client against our own server (`policy::server`) and against an independent Python server
//! (`tests/python/kinevla_server.py`, written with the `websockets` and `msgpack` PyPI packages).
//!
//! The Python tests need those packages (scripts/test.sh installs them into its venv); without them they say so and
//! pass, unless `KINEDESK_REQUIRE_PYTHON_PEERS=1` (set by scripts/test.sh).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kinedesk_core::robot::panda;
use kinedesk_policy::backend::{PolicyBackend, PolicyError, PolicyEvent, PolicyRequest};
use kinedesk_policy::builtin::BuiltinPlanner;
use kinedesk_policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_policy::server::{ServeOptions, serve};
use kinedesk_policy::tokenizer::ActionTokenizer;

fn request(instruction: &str) -> PolicyRequest {
    let robot = Arc::new(panda());
    PolicyRequest {
        instruction: instruction.into(),
        robot_kind: "panda".into(),
        joints: robot.rest_pose.clone(),
        robot,
        gripper_closed: false,
        images: Vec::new(),
    }
}

struct OurServer {
    url: String,
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for OurServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn start_our_server(api_key: Option<&str>) -> OurServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let tokenizer = Arc::new(ActionTokenizer::builtin().unwrap());
    let options = ServeOptions { api_key: api_key.map(str::to_owned) };
    let flag = stop.clone();
    let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|line| eprintln!("{line}"));
    std::thread::spawn(move || serve(&listener, &tokenizer, &options, &flag, &log));
    OurServer { url: format!("ws://127.0.0.1:{port}"), port, stop }
}

fn client(url: &str) -> RemotePolicy {
    RemotePolicy::new(RemoteConfig::new(url), Some(Arc::new(ActionTokenizer::builtin().unwrap())))
}

#[test]
fn our_client_and_server_give_what_the_builtin_planner_gives() {
    let server = start_our_server(None);
    let instruction = "lift the mug by its handle, rotate it 90° clockwise, then place it slowly left of the plate";
    let mut remote = client(&server.url);
    let mut events = Vec::new();
    let plan = remote.plan(&request(instruction), &mut |e| events.push(e)).unwrap();
    let local = BuiltinPlanner::with_builtin_tokenizer().unwrap().plan(&request(instruction), &mut |_| {}).unwrap();
    assert_eq!(plan.output, local.output, "same reasoning and tokens");
    assert_eq!(plan.full.joints.len(), local.full.joints.len());
    for (a, b) in plan.full.ee_position_m.iter().zip(&local.full.ee_position_m) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "{a:?} vs {b:?}");
        }
    }
    assert!(plan.coarse.is_some(), "tokens are decoded locally, coarse too");
    assert!(matches!(events[0], PolicyEvent::InstructionLevel(_)));
    assert!(events.iter().any(|e| matches!(e, PolicyEvent::ActionTokens { chunk: 0, .. })));
    // The connection stays open for the next request.
    remote.plan(&request("move 5 cm up"), &mut |_| {}).unwrap();
}

#[test]
fn server_errors_are_shown_and_the_client_reconnects() {
    let server = start_our_server(None);
    let mut remote = client(&server.url);
    let error = remote.plan(&request("wiggle the mug"), &mut |_| {}).unwrap_err();
    assert!(matches!(error, PolicyError::Server(ref m) if m.contains("not an action I know")), "{error}");
    remote.plan(&request("move 5 cm up"), &mut |_| {}).unwrap();
}

#[test]
fn health_api_keys_and_dead_servers_are_explained() {
    let server = start_our_server(Some("sesame"));
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let error = client(&server.url).plan(&request("move 5 cm up"), &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("API key"), "{error}");
    let mut config = RemoteConfig::new(&server.url);
    config.api_key = Some("sesame".into());
    RemotePolicy::new(config, None).plan(&request("move 5 cm up"), &mut |_| {}).unwrap();

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let error = client(&url).plan(&request("move 5 cm up"), &mut |_| {}).unwrap_err();
    assert!(matches!(error, PolicyError::Connection { .. }), "{error}");
    let error = client("http://example").plan(&request("move 5 cm up"), &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("ws://"), "{error}");
}

// --- Against the independent Python server --------------------------------------------------------------------

fn python() -> String {
    std::env::var("KINEDESK_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

struct PythonServer {
    child: Child,
    url: String,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_server(mode: &str, api_key: Option<&str>) -> Option<PythonServer> {
    let available = Command::new(python())
        .args(["-c", "import websockets, msgpack, numpy"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var("KINEDESK_REQUIRE_PYTHON_PEERS").as_deref() != Ok("1"),
            "websockets/msgpack/numpy are required (KINEDESK_REQUIRE_PYTHON_PEERS=1): run scripts/test.sh"
        );
        eprintln!("SKIPPED: python websockets/msgpack not installed — the independent-server test did not run");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/kinevla_server.py");
    let mut command = Command::new(python());
    command.arg(script).arg(mode).stdout(Stdio::piped()).stderr(Stdio::inherit());
    if let Some(key) = api_key {
        command.arg(key);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("python server printed {line:?}"));
    Some(PythonServer { child, url: format!("ws://127.0.0.1:{port}") })
}

#[test]
fn tokens_from_an_independent_server_are_decoded_locally() {
    let Some(server) = python_server("tokens", None) else { return };
    let mut remote = client(&server.url);
    let plan = remote.plan(&request("move 2 cm left"), &mut |_| {}).unwrap();
    assert_eq!(plan.output.instruction_level, vec!["prompt: move 2 cm left".to_owned(), "direction: left".to_owned()]);
    assert_eq!(plan.output.action_level, vec!["move: left 0.02 m".to_owned()]);
    assert_eq!(plan.output.chunks, vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]);
    // Decoded from the tokens (2 chunks × 5 steps), not taken from `actions`.
    assert_eq!(plan.actions.len(), 10);
    assert!(plan.coarse.is_some());
    assert!(remote.last_overhead < Duration::from_millis(50), "{:?}", remote.last_overhead);
}

#[test]
fn a_plain_openpi_reply_is_shown_without_tokens() {
    let Some(server) = python_server("actions", None) else { return };
    let plan = client(&server.url).plan(&request("anything"), &mut |_| {}).unwrap();
    assert!(plan.output.chunks.is_empty() && plan.layout.is_none() && plan.coarse.is_none());
    assert_eq!(plan.full.joints.len(), 11);
    let start = plan.full.ee_position_m[0];
    let end = plan.full.ee_position_m[10];
    assert!((end[1] - start[1] - 0.02).abs() < 5e-4, "{start:?} → {end:?}");
}

#[test]
fn independent_server_failures_are_explained() {
    if let Some(server) = python_server("error", None) {
        let error = client(&server.url).plan(&request("x"), &mut |_| {}).unwrap_err();
        assert!(matches!(error, PolicyError::Server(ref m) if m.contains("model exploded on purpose")), "{error}");
    }
    if let Some(server) = python_server("garbage", None) {
        let error = client(&server.url).plan(&request("x"), &mut |_| {}).unwrap_err();
        assert!(matches!(error, PolicyError::Protocol(ref m) if m.contains("msgpack")), "{error}");
    }
    if let Some(server) = python_server("slow", None) {
        let mut config = RemoteConfig::new(&server.url);
        config.reply_timeout = Duration::from_millis(300);
        let error = RemotePolicy::new(config, None).plan(&request("x"), &mut |_| {}).unwrap_err();
        assert!(matches!(error, PolicyError::Timeout(_)), "{error}");
    }
    if let Some(server) = python_server("actions", Some("k3y")) {
        let error = client(&server.url).plan(&request("x"), &mut |_| {}).unwrap_err();
        assert!(error.to_string().contains("API key"), "{error}");
        let mut config = RemoteConfig::new(&server.url);
        config.api_key = Some("k3y".into());
        RemotePolicy::new(config, None).plan(&request("x"), &mut |_| {}).unwrap();
    }
}
