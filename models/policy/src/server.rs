//! `kinedesk serve`: the built-in planner behind the openpi-style WebSocket + msgpack protocol, so a remote setup
//! can be tried end to end (and so other tools can use the planner). One thread per connection; `GET /healthz`
//! answers 200; an optional API key is checked on the upgrade request; a request that cannot be planned is answered
//! with a text frame and a close with code 1011, as openpi servers do.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use glam::{DQuat, DVec3};
use rmpv::Value;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::CloseFrame;
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// When set, clients must send `Authorization: Api-Key <key>`.
    pub api_key: Option<String>,
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

/// Serves until `stop` is set. `log` gets one line per connection and per error.
pub fn serve(
    listener: &TcpListener,
    tokenizer: &Arc<ActionTokenizer>,
    options: &ServeOptions,
    stop: &Arc<AtomicBool>,
    log: &Arc<dyn Fn(String) + Send + Sync>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::Acquire) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let tokenizer = tokenizer.clone();
                let options = options.clone();
                let log = log.clone();
                let stop = stop.clone();
                std::thread::Builder::new().name(format!("kinedesk-serve-{peer}")).spawn(move || {
                    if let Err(error) = handle_connection(stream, &tokenizer, &options, &stop) {
                        log(format!("{peer}: {error}"));
                    }
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => log(format!("accept failed: {e}")),
        }
    }
    Ok(())
}

fn handle_connection(
    stream: TcpStream,
    tokenizer: &ActionTokenizer,
    options: &ServeOptions,
    stop: &AtomicBool,
) -> Result<(), String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
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
    let mut socket = tungstenite::accept_hdr(stream, check_key).map_err(|e| format!("handshake: {e}"))?;
    // Idle clients may think for a long time; only the stop flag ends a connection early.
    socket.get_ref().set_read_timeout(Some(Duration::from_millis(500))).map_err(|e| e.to_string())?;
    let meta = msgpack::encode(&metadata(tokenizer)).map_err(|e| e.to_string())?;
    socket.send(Message::Binary(meta.into())).map_err(|e| e.to_string())?;
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
            Err(e) => return Err(e.to_string()),
        };
        let reply = match message {
            Message::Binary(bytes) => msgpack::decode(&bytes)
                .map_err(|e| format!("cannot read the observation: {e}"))
                .and_then(|observation| answer(tokenizer, &observation)),
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
