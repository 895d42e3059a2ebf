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
use std::time::{Duration, Instant};

use kinedesk_policy::backend::{PolicyBackend, PolicyError, PolicyEvent, PolicyRequest};
use kinedesk_policy::builtin::BuiltinPlanner;
use kinedesk_policy::remote::{RemoteConfig, RemotePolicy};
use kinedesk_policy::server::{ServeOptions, serve};
use kinedesk_policy::tokenizer::ActionTokenizer;

/// A request to plan `instruction` from the rest pose, gripper open.
fn request(instruction: &str) -> PolicyRequest {
    super::request(instruction, false)
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
    start_server_with(ServeOptions { api_key: api_key.map(str::to_owned), ..ServeOptions::default() })
}

fn start_server_with(options: ServeOptions) -> OurServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let tokenizer = Arc::new(ActionTokenizer::builtin().unwrap());
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

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and how long it took.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    (received, started.elapsed())
}

#[test]
fn slow_silent_and_surplus_clients_cannot_hold_the_server() {
    let server = start_server_with(ServeOptions {
        max_connections: 2,
        handshake_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        ..ServeOptions::default()
    });
    // A header dripped a byte at a time, slower than the handshake allows in all, is cut off.
    let mut drip = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let started = Instant::now();
    let mut cut_off = false;
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" {
        if drip.write_all(&[*byte]).is_err() {
            cut_off = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, waited) = read_until_closed(&mut drip, Duration::from_secs(5));
    assert!(cut_off || started.elapsed() < Duration::from_secs(4), "closed after {:?}", started.elapsed());
    assert!(waited < Duration::from_secs(4), "the drip was closed in time ({waited:?})");

    // Two clients that say nothing hold both places; a third is told the server is busy, at once.
    let mut silent: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut third = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let (answer, waited) = read_until_closed(&mut third, Duration::from_secs(2));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("too many connections"), "{answer}");
    assert!(waited < Duration::from_secs(1));
    // The silent ones are disconnected after the handshake timeout, and the server takes new clients again.
    for stream in &mut silent {
        let (_, waited) = read_until_closed(stream, Duration::from_secs(5));
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut remote = client(&server.url);
    remote.plan(&request("move 5 cm up"), &mut |_| {}).unwrap();
    // A connected client that goes quiet is disconnected after the idle timeout; the client reconnects by itself.
    std::thread::sleep(Duration::from_millis(1200));
    remote.plan(&request("move 5 cm down"), &mut |_| {}).unwrap();
}

#[test]
fn states_no_arm_can_be_in_are_refused() {
    use kinedesk_policy::msgpack::{NdArray, map};
    use kinedesk_policy::server::answer;
    let tokenizer = ActionTokenizer::builtin().unwrap();
    let observation = |state: [f64; 8]| {
        map(vec![
            ("prompt", rmpv::Value::from("move 5 cm left")),
            ("observation/state", NdArray::from_f64(vec![8], &state).to_value()),
        ])
    };
    answer(&tokenizer, &observation([0.4, 0.0, 0.4, 3.0, 0.0, 0.0, 0.04, 0.04])).unwrap();
    for (state, expected) in [
        ([1e30, 0.0, 0.4, 3.0, 0.0, 0.0, 0.04, 0.04], "from the base"),
        ([0.4, 0.0, 0.4, 1e9, 0.0, 0.0, 0.04, 0.04], "axis-angle"),
        ([0.4, 0.0, 0.4, 3.0, 0.0, 0.0, 7.0, 7.0], "finger opening"),
        ([0.4, f64::NAN, 0.4, 3.0, 0.0, 0.0, 0.04, 0.04], "finite"),
    ] {
        let error = answer(&tokenizer, &observation(state)).unwrap_err();
        assert!(error.contains(expected), "{state:?}: {error}");
    }
}

#[test]
fn an_observation_over_the_message_limit_is_refused_before_it_is_read() {
    let server = start_server_with(ServeOptions { max_message_bytes: 64 << 10, ..ServeOptions::default() });
    let mut big = request("move 5 cm up");
    // The client sends two 224×224 RGB images (301 kB), over the 64 kB limit.
    big.images = (0..2)
        .map(|i| kinedesk_policy::backend::CameraImage {
            name: format!("camera {i}"),
            width: 256,
            height: 256,
            rgb: Arc::new(vec![7; 256 * 256 * 3]),
        })
        .collect();
    let error = client(&server.url).plan(&big, &mut |_| {}).unwrap_err();
    assert!(matches!(error, PolicyError::Server(ref m) if m.contains("too large")), "{error}");
    // The server is still there.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
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
    let what = "the independent-server test";
    super::peer_python("KINEDESK_PYTHON", "KINEDESK_REQUIRE_PYTHON_PEERS", "websockets, msgpack, numpy", what)?;
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

#[test]
fn openpis_own_websocket_client_policy_gets_actions_tokens_and_errors_from_our_server() {
    let what = "openpi's WebsocketClientPolicy against our server";
    let imports = "openpi_client.websocket_client_policy";
    let Some(python) = super::peer_python("KINEDESK_OPENPI_PYTHON", "KINEDESK_REQUIRE_OPENPI", imports, what) else {
        return;
    };
    let server = start_our_server(Some("s3cret"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openpi_client_to_kinedesk.py");
    let output = Command::new(python).arg(script).arg(server.port.to_string()).arg("s3cret").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["action_space"], "delta_ee_m", "{report}");
    // 5 cm at 5 cm/s at 20 Hz: 20 delta actions of 7 values, summing to 5 cm along +y.
    assert_eq!(report["actions_shape"], serde_json::json!([20, 7]), "{report}");
    assert_eq!(report["actions_dtype"], "float32");
    assert!((report["y_sum"].as_f64().unwrap() - 0.05).abs() < 0.002, "{report}");
    assert_eq!(report["tokens_shape"][0], 4, "{report}");
    assert!(report["reasoning"].as_str().unwrap().contains("left"), "{report}");
    // The refusal reaches the client as openpi's server errors do: text, then close.
    assert!(report["error"].as_str().unwrap().contains("observation/state"), "{report}");
}
