//! Client for a KineVLA policy server speaking the openpi-style WebSocket + msgpack protocol
//! (as openpi's `WebsocketPolicyServer` serves it): a metadata frame on connect, then strictly alternating observation and
//! result maps; errors come as a text frame and a close with code 1011. `wss://` uses rustls with the webpki roots;
//! an API key goes in `Authorization: Api-Key …`.
//!
//! Observation keys: `observation/image`, `observation/wrist_image` (uint8 224×224×3), `observation/state` (8 ×
//! float32: flange position, axis-angle, two finger positions), `prompt`, plus the KineDesk extension
//! `observation/joint_position` and `robot_kind`. Result keys: `actions` [H, 7] and, from a KineDesk-aware server,
//! `reasoning` {`instruction_level`, `action_level`} (lines separated by `\n`), `action_tokens` ([chunks, tokens per
//! chunk], level-major within each position) and `token_config`. When the tokens match the local tokenizer they
//! are decoded here (the same decoder as the built-in planner); otherwise the `actions` are used.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmpv::Value;
use tungstenite::client::IntoClientRequest as _;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::backend::{PlanParts, PolicyBackend, PolicyError, PolicyEvent, PolicyPlan, PolicyRequest, finish_plan};
use super::motion::{Action, PLAN_DT_S};
use super::msgpack::{self, NdArray, get, number, text};
use super::tokens::{PolicyOutput, TokenLayout};
use crate::tokenizer::ActionTokenizer;
use kinedesk_core::robot::fk;

/// Image side the LIBERO observation keys use.
pub const IMAGE_SIDE: u32 = 224;
/// Finger positions written into `observation/state` for an open and a closed gripper (metres, Panda-like).
pub const FINGERS_OPEN_M: f32 = 0.04;

/// How to reach a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `ws://host:port` or `wss://host:port`.
    pub url: String,
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    /// How long to wait for one reply.
    pub reply_timeout: Duration,
}

impl RemoteConfig {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            api_key: None,
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(30),
        }
    }
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// What the server said about itself on connect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerInfo {
    pub metadata: Option<Value>,
    /// Seconds per action step (KineDesk extension `action_dt_s`; LIBERO's 20 Hz when absent).
    pub action_dt_s: f64,
    /// Multipliers from the server's action units to metres and radians (`action_space: "libero_osc"` means
    /// actions normalised to ±1 = 5 cm and 0.5 rad, as LIBERO's OSC controller reads them).
    pub position_scale: f64,
    pub rotation_scale: f64,
}

/// The remote policy client.
pub struct RemotePolicy {
    config: RemoteConfig,
    tokenizer: Option<Arc<ActionTokenizer>>,
    socket: Option<(Socket, ServerInfo)>,
    /// Time this client spent on the last request building and encoding the observation and decoding and checking
    /// the reply: not the network, the server, or following the path in joint space.
    pub last_overhead: Duration,
}

impl RemotePolicy {
    /// A client that decodes tokens with `tokenizer` when the server's layout matches it.
    #[must_use]
    pub fn new(config: RemoteConfig, tokenizer: Option<Arc<ActionTokenizer>>) -> Self {
        Self { config, tokenizer, socket: None, last_overhead: Duration::ZERO }
    }

    fn connection_error(&self, message: impl Into<String>) -> PolicyError {
        PolicyError::Connection { url: self.config.url.clone(), message: message.into() }
    }

    /// Connects (if not connected) and returns what the server sent on connect.
    pub fn connect(&mut self) -> Result<&ServerInfo, PolicyError> {
        if self.socket.is_none() {
            let connected = self.open()?;
            self.socket = Some(connected);
        }
        match &self.socket {
            Some((_, info)) => Ok(info),
            None => Err(self.connection_error("not connected")),
        }
    }

    fn open(&self) -> Result<(Socket, ServerInfo), PolicyError> {
        let mut request = self
            .config
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| self.connection_error(format!("not a ws:// or wss:// address: {e}")))?;
        if let Some(key) = &self.config.api_key {
            let value = format!("Api-Key {key}")
                .parse()
                .map_err(|_| self.connection_error("the API key contains characters a header cannot carry"))?;
            request.headers_mut().insert("Authorization", value);
        }
        let uri = request.uri().clone();
        if !matches!(uri.scheme_str(), Some("ws" | "wss")) {
            return Err(self.connection_error("the address must start with ws:// or wss://"));
        }
        let host = uri.host().ok_or_else(|| self.connection_error("the address has no host"))?.to_owned();
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("wss") { 443 } else { 80 });
        let address = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| self.connection_error(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| self.connection_error(format!("{host} has no address")))?;
        let stream = TcpStream::connect_timeout(&address, self.config.connect_timeout)
            .map_err(|e| self.connection_error(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_read_timeout(Some(self.config.connect_timeout))
            .and_then(|()| stream.set_write_timeout(Some(self.config.connect_timeout)))
            .map_err(|e| self.connection_error(e.to_string()))?;
        let (mut socket, _) = tungstenite::client_tls_with_config(request, stream, None, None).map_err(|e| {
            self.connection_error(match e {
                tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))
                    if response.status().as_u16() == 401 || response.status().as_u16() == 403 =>
                {
                    format!("the server refused the API key (HTTP {})", response.status())
                }
                other => format!("WebSocket handshake failed: {other}"),
            })
        })?;
        let metadata = match read_frame(&mut socket, &self.config)? {
            Frame::Binary(bytes) => {
                Some(msgpack::decode(&bytes).map_err(|e| PolicyError::Protocol(format!("metadata: {e}")))?)
            }
            Frame::Text(message) => return Err(PolicyError::Server(first_lines(&message))),
        };
        let mut info = ServerInfo { metadata: None, action_dt_s: PLAN_DT_S, position_scale: 1.0, rotation_scale: 1.0 };
        if let Some(meta) = &metadata {
            if let Some(dt) = get(meta, "action_dt_s").and_then(number).filter(|dt| *dt > 0.0 && dt.is_finite()) {
                info.action_dt_s = dt;
            }
            if get(meta, "action_space").and_then(text).as_deref() == Some("libero_osc") {
                info.position_scale = 0.05;
                info.rotation_scale = 0.5;
            }
        }
        info.metadata = metadata;
        set_timeout(&socket, self.config.reply_timeout);
        Ok((socket, info))
    }

    /// Sends one encoded observation and reads the result map, reconnecting once if the connection was lost (a
    /// server that closed an idle connection should not cost the operator a failed request).
    pub fn exchange_observation(&mut self, observation: &[u8]) -> Result<(Value, ServerInfo), PolicyError> {
        match self.exchange(observation) {
            Err(PolicyError::Connection { .. }) => self.exchange(observation),
            other => other,
        }
    }

    /// Sends one observation and reads the result map.
    fn exchange(&mut self, observation: &[u8]) -> Result<(Value, ServerInfo), PolicyError> {
        let config = self.config.clone();
        self.connect()?;
        let Some((socket, info)) = self.socket.as_mut() else {
            return Err(self.connection_error("not connected"));
        };
        let info = info.clone();
        let sent = socket.send(Message::Binary(observation.to_vec().into()));
        let reply = sent
            .map_err(|e| PolicyError::Connection { url: config.url.clone(), message: e.to_string() })
            .and_then(|()| read_frame(socket, &config));
        match reply {
            Ok(Frame::Binary(bytes)) => {
                let value = msgpack::decode(&bytes).map_err(|e| PolicyError::Protocol(e.to_string()));
                if value.is_err() {
                    self.socket = None;
                }
                Ok((value?, info))
            }
            Ok(Frame::Text(message)) => {
                // The server closes after an error; the next request reconnects.
                self.socket = None;
                Err(PolicyError::Server(first_lines(&message)))
            }
            Err(error) => {
                self.socket = None;
                Err(error)
            }
        }
    }
}

impl Drop for RemotePolicy {
    fn drop(&mut self) {
        if let Some((mut socket, _)) = self.socket.take() {
            let _ = socket.close(None);
            let _ = socket.flush();
        }
    }
}

enum Frame {
    Binary(Vec<u8>),
    Text(String),
}

fn set_timeout(socket: &Socket, timeout: Duration) {
    let stream = match socket.get_ref() {
        MaybeTlsStream::Plain(stream) => stream,
        MaybeTlsStream::Rustls(tls) => tls.get_ref(),
        _ => return,
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
}

fn read_frame(socket: &mut Socket, config: &RemoteConfig) -> Result<Frame, PolicyError> {
    loop {
        match socket.read() {
            Ok(Message::Binary(bytes)) => return Ok(Frame::Binary(bytes.to_vec())),
            Ok(Message::Text(text)) => return Ok(Frame::Text(text.as_str().to_owned())),
            Ok(Message::Close(frame)) => {
                let reason = frame.map(|f| format!(" (code {}: {})", u16::from(f.code), f.reason)).unwrap_or_default();
                return Err(PolicyError::Connection {
                    url: config.url.clone(),
                    message: format!("the server closed the connection{reason}"),
                });
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
            {
                return Err(PolicyError::Timeout(config.reply_timeout));
            }
            Err(e) => return Err(PolicyError::Connection { url: config.url.clone(), message: e.to_string() }),
        }
    }
}

/// A traceback's last lines are the useful ones.
fn first_lines(message: &str) -> String {
    let lines: Vec<&str> = message.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" | ")
}

/// Nearest-neighbour resize of an RGB image to `side × side` (what LIBERO-trained policies expect).
#[must_use]
pub fn resize_rgb(width: u32, height: u32, rgb: &[u8], side: u32) -> Vec<u8> {
    let mut out = vec![0u8; (side * side * 3) as usize];
    if width == 0 || height == 0 || rgb.len() < (width * height * 3) as usize {
        return out;
    }
    for y in 0..side {
        let sy = (u64::from(y) * u64::from(height) / u64::from(side)) as u32;
        for x in 0..side {
            let sx = (u64::from(x) * u64::from(width) / u64::from(side)) as u32;
            let from = ((sy * width + sx) * 3) as usize;
            let to = ((y * side + x) * 3) as usize;
            out[to..to + 3].copy_from_slice(&rgb[from..from + 3]);
        }
    }
    out
}

/// The observation map for `request`.
pub fn observation(request: &PolicyRequest) -> Result<Value, PolicyError> {
    let pose = fk(&request.robot, &request.joints).map_err(|e| PolicyError::Kinematics(e.to_string()))?;
    let axis_angle = pose.rotation.to_scaled_axis();
    let fingers = if request.gripper_closed { 0.0 } else { FINGERS_OPEN_M };
    let state = [
        pose.position_m.x as f32,
        pose.position_m.y as f32,
        pose.position_m.z as f32,
        axis_angle.x as f32,
        axis_angle.y as f32,
        axis_angle.z as f32,
        fingers,
        -fingers,
    ];
    let side = IMAGE_SIDE as usize;
    let image = |index: usize| {
        let pixels = request.images.get(index).map_or_else(
            || vec![0u8; side * side * 3],
            |image| resize_rgb(image.width, image.height, &image.rgb, IMAGE_SIDE),
        );
        NdArray::from_u8(vec![side, side, 3], pixels).to_value()
    };
    Ok(msgpack::map(vec![
        ("observation/image", image(0)),
        ("observation/wrist_image", image(1)),
        ("observation/state", NdArray::from_f32(vec![8], &state).to_value()),
        ("observation/joint_position", NdArray::from_f64(vec![request.joints.len()], &request.joints).to_value()),
        ("robot_kind", Value::from(request.robot_kind.as_str())),
        ("prompt", Value::from(request.instruction.as_str())),
    ]))
}

/// What a result map holds.
pub struct RemoteResult {
    pub instruction_level: Vec<String>,
    pub action_level: Vec<String>,
    pub chunks: Vec<Vec<u32>>,
    pub layout: Option<TokenLayout>,
    pub actions: Vec<Action>,
}

fn lines(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(other)
            .map(|t| t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn layout_from_value(value: &Value) -> Result<TokenLayout, PolicyError> {
    let count = |key: &str| get(value, key).and_then(number).filter(|n| *n >= 0.0).map(|n| n as usize);
    let sizes = match get(value, "codebook_sizes") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| number(v).filter(|n| *n >= 1.0 && *n < 1e9).map(|n| n as u32))
            .collect::<Option<Vec<u32>>>(),
        Some(array @ Value::Map(_)) => NdArray::from_value(array)
            .ok()
            .and_then(|a| a.to_i64().ok())
            .map(|v| v.into_iter().map(|n| n.clamp(0, i64::from(u32::MAX)) as u32).collect()),
        _ => None,
    }
    .ok_or_else(|| PolicyError::Protocol("token_config.codebook_sizes is missing or not a list of sizes".into()))?;
    let layout = TokenLayout {
        coarse_levels: count("coarse_levels").unwrap_or(1),
        fine_levels: count("fine_levels").unwrap_or(sizes.len().saturating_sub(1)),
        codebook_sizes: sizes,
        positions_per_chunk: count("positions_per_chunk").unwrap_or(1),
    };
    layout.validate().map_err(|e| PolicyError::Protocol(format!("token_config: {e}")))?;
    Ok(layout)
}

/// The reasoning of a result map (KineDesk extension): instruction-level and action-level lines.
#[must_use]
pub fn read_reasoning(value: &Value) -> (Vec<String>, Vec<String>) {
    let reasoning = get(value, "reasoning");
    (lines(reasoning.and_then(|r| get(r, "instruction_level"))), lines(reasoning.and_then(|r| get(r, "action_level"))))
}

/// The action tokens of a result map (KineDesk extension) with their layout, each code checked against its
/// codebook; none when the server sent none.
pub fn read_tokens(value: &Value) -> Result<(Vec<Vec<u32>>, Option<TokenLayout>), PolicyError> {
    let layout = get(value, "token_config").map(layout_from_value).transpose()?;
    let mut chunks = Vec::new();
    if let Some(tokens) = get(value, "action_tokens") {
        let layout = layout.as_ref().ok_or_else(|| {
            PolicyError::Protocol("action_tokens without token_config (levels and codebook sizes)".into())
        })?;
        let array = NdArray::from_value(tokens).map_err(|e| PolicyError::Protocol(format!("action_tokens: {e}")))?;
        let codes = array.to_i64().map_err(|e| PolicyError::Protocol(format!("action_tokens: {e}")))?;
        let per_chunk = layout.tokens_per_chunk();
        if codes.len() % per_chunk != 0 {
            return Err(PolicyError::Protocol(format!(
                "action_tokens has {} codes, not a whole number of chunks of {per_chunk}",
                codes.len()
            )));
        }
        for (index, chunk) in codes.chunks(per_chunk).enumerate() {
            let mut checked = Vec::with_capacity(per_chunk);
            for (position, code) in chunk.iter().enumerate() {
                let level = layout.level_of_token(position);
                let size = layout.codebook_sizes[level];
                if *code < 0 || *code >= i64::from(size) {
                    return Err(PolicyError::Protocol(format!(
                        "action_tokens chunk {index}: code {code} is out of range for level {} (codebook of {size})",
                        layout.level_name(level)
                    )));
                }
                checked.push(*code as u32);
            }
            chunks.push(checked);
        }
    }
    Ok((chunks, layout))
}

/// Reads a result map; `scale` converts the server's action units to metres and radians.
pub fn read_result(value: &Value, info: &ServerInfo) -> Result<RemoteResult, PolicyError> {
    if !matches!(value, Value::Map(_)) {
        return Err(PolicyError::Protocol(format!("expected a result map, found {}", msgpack::describe(value))));
    }
    let (instruction_level, action_level) = read_reasoning(value);
    let (chunks, layout) = read_tokens(value)?;
    let mut actions = Vec::new();
    match get(value, "actions") {
        Some(raw) => {
            let array = NdArray::from_value(raw).map_err(|e| PolicyError::Protocol(format!("actions: {e}")))?;
            if array.shape.len() != 2 || array.shape[1] < 7 {
                return Err(PolicyError::Protocol(format!(
                    "actions should have shape [H, 7], found {:?}",
                    array.shape
                )));
            }
            let width = array.shape[1];
            let values = array.to_f64().map_err(|e| PolicyError::Protocol(format!("actions: {e}")))?;
            for row in values.chunks(width) {
                if row.iter().any(|v| !v.is_finite()) {
                    return Err(PolicyError::Protocol("actions contain NaN or infinity".into()));
                }
                let p = info.position_scale;
                let r = info.rotation_scale;
                actions.push([row[0] * p, row[1] * p, row[2] * p, row[3] * r, row[4] * r, row[5] * r, row[6].signum()]);
            }
        }
        None if chunks.is_empty() => {
            return Err(PolicyError::Protocol("the result has neither actions nor action_tokens".into()));
        }
        None => {}
    }
    Ok(RemoteResult { instruction_level, action_level, chunks, layout, actions })
}

impl PolicyBackend for RemotePolicy {
    fn describe(&self) -> String {
        self.config.url.clone()
    }

    fn plan(&mut self, request: &PolicyRequest, emit: &mut dyn FnMut(PolicyEvent)) -> Result<PolicyPlan, PolicyError> {
        let started = Instant::now();
        let observation = msgpack::encode(&observation(request)?).map_err(|e| PolicyError::Protocol(e.to_string()))?;
        let built = started.elapsed();
        let exchanged = self.exchange_observation(&observation);
        let received = Instant::now();
        let (value, info) = exchanged?;
        let result = read_result(&value, &info)?;
        self.last_overhead = built + received.elapsed();
        let first_reasoning = started.elapsed();
        if !result.instruction_level.is_empty() {
            emit(PolicyEvent::InstructionLevel(result.instruction_level.clone()));
        }
        if !result.action_level.is_empty() {
            emit(PolicyEvent::ActionLevel(result.action_level.clone()));
        }
        for (chunk, codes) in result.chunks.iter().enumerate() {
            emit(PolicyEvent::ActionTokens { chunk, codes: codes.clone() });
        }
        // Decode locally only with a tokenizer of the same layout; otherwise trust the server's actions.
        let tokenizer = self
            .tokenizer
            .as_deref()
            .filter(|t| result.layout.as_ref() == Some(&t.config().layout()) && !result.chunks.is_empty());
        if tokenizer.is_none() && result.actions.is_empty() {
            return Err(PolicyError::Tokens(
                "the server sent only action tokens, in a layout the local tokenizer does not have".into(),
            ));
        }
        let parts = PlanParts {
            output: PolicyOutput {
                instruction_level: result.instruction_level,
                action_level: result.action_level,
                chunks: result.chunks,
            },
            layout: result.layout,
            stages: Vec::new(),
            actions: result.actions,
            action_dt_s: info.action_dt_s,
            expect: Vec::new(),
        };
        finish_plan(parts, tokenizer, request, started, first_reasoning, self.describe())
    }
}
