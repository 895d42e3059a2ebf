//! `kinedesk serve`: the built-in planner behind the openpi-style WebSocket + msgpack protocol, so a remote setup
//! can be tried end to end (and so other tools can use the planner). One thread per connection, up to
//! [`ServeOptions::max_connections`]; `GET /healthz` answers 200; an optional API key is checked on the upgrade
//! request; a request that cannot be planned is answered with a text frame and a close with code 1011, as openpi
//! servers do. A client that has not finished its handshake in time, or sends nothing for the idle timeout, is
//! disconnected by the accept loop, so slow or silent clients cannot hold threads.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use glam::{DQuat, DVec3};
use rmpv::Value;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

use super::builtin::{BUILTIN_NAME, plan_from_pose};
use super::motion::PLAN_DT_S;
use super::msgpack::{self, NdArray, get, text};
use super::remote::FINGERS_OPEN_M;
use super::tokens::TokenLayout;
use crate::tokenizer::ActionTokenizer;
use kinedesk_core::robot::Pose;

/// Server settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// When set, clients must send `Authorization: Api-Key <key>`.
    pub api_key: Option<String>,
    /// Connections served at once; more are answered `503 Service Unavailable` and closed.
    pub max_connections: usize,
    /// From accepting a connection to a finished WebSocket handshake (or health answer).
    pub handshake_timeout: Duration,
    /// A connected client that sends nothing for this long is disconnected.
    pub idle_timeout: Duration,
    /// Largest WebSocket message (an observation) accepted.
    pub max_message_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            api_key: None,
            max_connections: 16,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
            // Two 224×224 RGB images are 301 kB; a 1080p pair is 12 MB.
            max_message_bytes: 16 << 20,
        }
    }
}

/// The token layout as a msgpack map (`token_config`).
#[must_use]
pub fn layout_value(layout: &TokenLayout, chunk_len: usize, action_dim: usize) -> Value {
    msgpack::map(vec![
        ("coarse_levels", Value::from(layout.coarse_levels as u64)),
        ("fine_levels", Value::from(layout.fine_levels as u64)),
        ("codebook_sizes", Value::Array(layout.codebook_sizes.iter().map(|s| Value::from(*s)).collect())),
        ("positions_per_chunk", Value::from(layout.positions_per_chunk as u64)),
        ("chunk_len", Value::from(chunk_len as u64)),
        ("action_dim", Value::from(action_dim as u64)),
    ])
}

fn metadata(tokenizer: &ActionTokenizer) -> Value {
    let config = tokenizer.config();
    msgpack::map(vec![
        ("server", Value::from("kinedesk")),
        ("version", Value::from(env!("CARGO_PKG_VERSION"))),
        ("policy", Value::from(BUILTIN_NAME)),
        ("action_space", Value::from("delta_ee_m")),
        ("action_dt_s", Value::F64(PLAN_DT_S)),
        ("token_config", layout_value(&config.layout(), config.chunk_len, config.action_dim)),
    ])
}

/// Answers one observation map, or says why it cannot.
pub fn answer(tokenizer: &ActionTokenizer, observation: &Value) -> Result<Value, String> {
    let started = Instant::now();
    let prompt = get(observation, "prompt").and_then(text).ok_or("the observation has no prompt string")?;
    let state = get(observation, "observation/state")
        .ok_or("the observation has no observation/state")
        .and_then(|v| NdArray::from_value(v).map_err(|_| "observation/state is not a numpy array"))
        .and_then(|a| a.to_f64().map_err(|_| "observation/state has an unsupported dtype"))?;
    if state.len() < 7 || state.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "observation/state needs 8 finite numbers (position, axis-angle, fingers); got {}",
            state.len()
        ));
    }
    check_state(&state)?;
    let start = Pose {
        position_m: DVec3::new(state[0], state[1], state[2]),
        rotation: DQuat::from_scaled_axis(DVec3::new(state[3], state[4], state[5])),
    };
    let gripper_closed = state[6].abs() < f64::from(FINGERS_OPEN_M) / 2.0;
    let parts = plan_from_pose(tokenizer, &prompt, &start, gripper_closed, &mut |_| {}).map_err(|e| e.to_string())?;
    let inferred = started.elapsed();
    let actions: Vec<f32> = parts.actions.iter().flat_map(|a| a.iter().map(|v| *v as f32)).collect();
    let per_chunk = parts.output.chunks.first().map_or(0, Vec::len);
    let codes: Vec<i64> = parts.output.chunks.iter().flatten().map(|c| i64::from(*c)).collect();
    let config = tokenizer.config();
    Ok(msgpack::map(vec![
        ("actions", NdArray::from_f32(vec![parts.actions.len(), 7], &actions).to_value()),
        (
            "reasoning",
            msgpack::map(vec![
                ("instruction_level", Value::from(parts.output.instruction_level.join("\n"))),
                ("action_level", Value::from(parts.output.action_level.join("\n"))),
            ]),
        ),
        ("action_tokens", NdArray::from_i64(vec![parts.output.chunks.len(), per_chunk], &codes).to_value()),
        ("token_config", layout_value(&config.layout(), config.chunk_len, config.action_dim)),
        ("policy_timing", msgpack::map(vec![("infer_ms", Value::F64(inferred.as_secs_f64() * 1000.0))])),
        ("server_timing", msgpack::map(vec![("total_ms", Value::F64(started.elapsed().as_secs_f64() * 1000.0))])),
    ]))
}

/// The farthest from the base a gripper of an arm this server plans for can be (m).
pub const MAX_STATE_REACH_M: f64 = 5.0;

/// Refuses a state no arm can be in: a position kilometres away, a rotation vector of many turns, fingers metres
/// apart. Planning from such a state would give actions that mean nothing while the reasoning looks sane.
fn check_state(state: &[f64]) -> Result<(), String> {
    let position = DVec3::new(state[0], state[1], state[2]);
    if position.length() > MAX_STATE_REACH_M {
        return Err(format!(
            "observation/state puts the gripper {:.3e} m from the base (at most {MAX_STATE_REACH_M} m): not a pose of \
             an arm",
            position.length()
        ));
    }
    let rotation = DVec3::new(state[3], state[4], state[5]).length();
    if rotation > 2.0 * std::f64::consts::TAU {
        return Err(format!("observation/state's axis-angle rotation is {rotation:.3e} rad (at most 4π)"));
    }
    if !(-0.01..=0.2).contains(&state[6]) {
        return Err(format!("observation/state's finger opening {} m is not between -0.01 and 0.2 m", state[6]));
    }
    Ok(())
}

/// A connection being served, as the accept loop sees it: a handle on its socket (to shut it down) and when it must
/// show progress by.
struct Connection {
    peer: std::net::SocketAddr,
    stream: TcpStream,
    /// Shut down for missing its deadline (its thread may still be ending).
    timed_out: bool,
    deadline: Arc<Mutex<Instant>>,
    thread: JoinHandle<()>,
}

impl Connection {
    fn overdue(&self, now: Instant) -> bool {
        now > *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Logs a repeated failure at most once every few seconds, with how many were left out.
struct Throttled {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttled {
    fn log(&mut self, log: &(dyn Fn(String) + Send + Sync), line: String) {
        if self.last.is_some_and(|last| last.elapsed() < Duration::from_secs(5)) {
            self.suppressed += 1;
            return;
        }
        let more = std::mem::take(&mut self.suppressed);
        log(if more > 0 { format!("{line} ({more} more like it since the last report)") } else { line });
        self.last = Some(Instant::now());
    }
}

/// Answers one observation (a msgpack map) with a reply map, or says why it cannot (the client then gets the error
/// text and close code 1011, as from openpi's `WebsocketPolicyServer`).
pub type AnswerFn = dyn Fn(&Value) -> Result<Value, String> + Send + Sync;

/// Serves the built-in planner until `stop` is set. `log` gets one line per connection and per error.
pub fn serve(
    listener: &TcpListener,
    tokenizer: &Arc<ActionTokenizer>,
    options: &ServeOptions,
    stop: &Arc<AtomicBool>,
    log: &Arc<dyn Fn(String) + Send + Sync>,
) -> std::io::Result<()> {
    let planner = tokenizer.clone();
    let answer: Arc<AnswerFn> = Arc::new(move |observation: &Value| answer(&planner, observation));
    serve_policy(listener, &metadata(tokenizer), &answer, options, stop, log)
}

/// Serves any policy over the same protocol and limits: `metadata` is sent on connect, `answer` turns each
/// observation into a reply (on the connection's own thread).
pub fn serve_policy(
    listener: &TcpListener,
    metadata: &Value,
    answer: &Arc<AnswerFn>,
    options: &ServeOptions,
    stop: &Arc<AtomicBool>,
    log: &Arc<dyn Fn(String) + Send + Sync>,
) -> std::io::Result<()> {
    let metadata = Arc::new(msgpack::encode(metadata).map_err(|e| std::io::Error::other(e.to_string()))?);
    listener.set_nonblocking(true)?;
    let mut connections: Vec<Connection> = Vec::new();
    let (mut refused, mut failed) = (Throttled { last: None, suppressed: 0 }, Throttled { last: None, suppressed: 0 });
    let mut backoff = Duration::from_millis(20);
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        connections.retain_mut(|connection| {
            if connection.thread.is_finished() {
                return false;
            }
            if !connection.timed_out && connection.overdue(now) {
                // Its thread sees the socket closed and ends; it is counted until it has.
                connection.timed_out = true;
                let _ = connection.stream.shutdown(std::net::Shutdown::Both);
                log(format!("{}: disconnected: no handshake or no message in time", connection.peer));
            }
            true
        });
        match listener.accept() {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(20);
                if connections.len() >= options.max_connections {
                    refused.log(
                        log.as_ref(),
                        format!("{peer}: refused, {} connections are being served already", connections.len()),
                    );
                    refuse_busy(stream);
                    continue;
                }
                let handle = match stream.try_clone() {
                    Ok(handle) => handle,
                    Err(e) => {
                        // Out of file descriptors, typically: this client is closed, said once in a while.
                        failed.log(log.as_ref(), format!("{peer}: cannot serve it ({e}); connection closed"));
                        continue;
                    }
                };
                let deadline = Arc::new(Mutex::new(now + options.handshake_timeout));
                let (metadata, answer, options, log, stop, shared) =
                    (metadata.clone(), answer.clone(), options.clone(), log.clone(), stop.clone(), deadline.clone());
                let thread = std::thread::Builder::new().name(format!("kinedesk-serve-{peer}")).spawn(move || {
                    let policy = Policy { metadata: &metadata, answer: answer.as_ref() };
                    if let Err(error) = handle_connection(stream, &policy, &options, &stop, &shared) {
                        log(format!("{peer}: {error}"));
                    }
                })?;
                connections.push(Connection { peer, stream: handle, timed_out: false, deadline, thread });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                // Out of file descriptors, say: wait and try again, without spinning or flooding the log.
                failed.log(log.as_ref(), format!("accept failed: {e}; retrying"));
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
    for connection in &connections {
        let _ = connection.stream.shutdown(std::net::Shutdown::Both);
    }
    Ok(())
}

/// Tells a client over the connection cap why it is closed, without waiting on it.
fn refuse_busy(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\n\
          too many connections",
    );
}

/// What a connection serves: the metadata frame (encoded) and the answering function.
struct Policy<'a> {
    metadata: &'a [u8],
    answer: &'a AnswerFn,
}

fn handle_connection(
    stream: TcpStream,
    policy: &Policy<'_>,
    options: &ServeOptions,
    stop: &AtomicBool,
    deadline: &Mutex<Instant>,
) -> Result<(), String> {
    let active = || *deadline.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now() + options.idle_timeout;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(options.handshake_timeout)).map_err(|e| e.to_string())?;
    // A client that stops reading cannot hold this thread in a send either.
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut head = [0u8; 16];
    let seen = stream.peek(&mut head).map_err(|e| e.to_string())?;
    if head[..seen].starts_with(b"GET /healthz") {
        return answer_health(stream);
    }
    let expected = options.api_key.as_ref().map(|key| format!("Api-Key {key}"));
    // The handshake callback's error type is tungstenite's (an HTTP response); it is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let check_key = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let given = request.headers().get("Authorization").and_then(|v| v.to_str().ok());
        match &expected {
            Some(expected) if given != Some(expected.as_str()) => {
                let mut refusal = ErrorResponse::new(Some("missing or wrong API key".into()));
                *refusal.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
                Err(refusal)
            }
            _ => Ok(response),
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(options.max_message_bytes))
        .max_frame_size(Some(options.max_message_bytes));
    let mut socket =
        tungstenite::accept_hdr_with_config(stream, check_key, Some(config)).map_err(|e| format!("handshake: {e}"))?;
    active();
    // Reads wake twice a second to see the stop flag; the accept loop ends a connection idle for too long.
    socket.get_ref().set_read_timeout(Some(Duration::from_millis(500))).map_err(|e| e.to_string())?;
    socket.send(Message::Binary(policy.metadata.to_vec().into())).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::Acquire) {
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(
                tungstenite::Error::ConnectionClosed
                | tungstenite::Error::AlreadyClosed
                | tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake),
            ) => return Ok(()),
            Err(tungstenite::Error::Capacity(e)) => {
                let limit = options.max_message_bytes;
                close_with_error(
                    &mut socket,
                    &format!("the observation is too large ({e}; the limit is {limit} bytes)"),
                );
                return Err(format!("refused an observation over {limit} bytes"));
            }
            Err(e) => return Err(e.to_string()),
        };
        active();
        let reply = match message {
            Message::Binary(bytes) => msgpack::decode(&bytes)
                .map_err(|e| format!("cannot read the observation: {e}"))
                .and_then(|observation| (policy.answer)(&observation)),
            Message::Text(_) => Err("expected a binary msgpack observation, got a text frame".into()),
            Message::Close(_) => return Ok(()),
            _ => continue,
        };
        match reply.and_then(|value| msgpack::encode(&value).map_err(|e| e.to_string())) {
            Ok(bytes) => socket.send(Message::Binary(bytes.into())).map_err(|e| e.to_string())?,
            Err(message) => {
                close_with_error(&mut socket, &message);
                return Ok(());
            }
        }
    }
    Ok(())
}

fn close_with_error(socket: &mut WebSocket<TcpStream>, message: &str) {
    let _ = socket.send(Message::Text(format!("Error: {message}").into()));
    let _ = socket.close(Some(CloseFrame { code: CloseCode::Error, reason: "policy error".into() }));
    let _ = socket.flush();
}

fn answer_health(mut stream: TcpStream) -> Result<(), String> {
    let mut buffer = [0u8; 1024];
    let _ = stream.read(&mut buffer);
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nOK\n")
        .map_err(|e| e.to_string())
}
