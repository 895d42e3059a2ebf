//! The Realman JSON protocol: one JSON object per line (`\r\n`), integer units.

use serde_json::{Value, json};

/// Joint angles travel in thousandths of a degree.
#[must_use]
pub fn joint_to_wire(rad: f64) -> i64 {
    (rad.to_degrees() * 1000.0).round() as i64
}

#[must_use]
pub fn joint_from_wire(millidegrees: i64) -> f64 {
    (millidegrees as f64 / 1000.0).to_radians()
}

/// Positions travel in thousandths of a millimetre (micrometres).
#[must_use]
pub fn position_to_wire(m: f64) -> i64 {
    (m * 1e6).round() as i64
}

#[must_use]
pub fn position_from_wire(micrometres: i64) -> f64 {
    micrometres as f64 * 1e-6
}

/// Euler angles travel in thousandths of a radian.
#[must_use]
pub fn euler_to_wire(rad: f64) -> i64 {
    (rad * 1000.0).round() as i64
}

#[must_use]
pub fn euler_from_wire(milliradians: i64) -> f64 {
    milliradians as f64 / 1000.0
}

/// The pass-through stream (`movej_canfd`) limits the controller enforces: frames that break them are ignored.
pub const CANFD_MAX_STEP_DEG: f64 = 10.0;
pub const CANFD_MAX_SPEED_DEG_S: f64 = 180.0;
/// The period the controller expects for high-follow streaming.
pub const CANFD_PERIOD_S: f64 = 0.01;

/// Names of the controller's error codes that KineDesk explains.
#[must_use]
pub fn error_name(code: i64) -> &'static str {
    match code {
        0x1002 => "target beyond a joint limit",
        0x1003 => "singularity",
        0x100D => "collision detected",
        0x1012 => "self-collision",
        _ => "controller error",
    }
}

/// Formats an error code the way the operator sees it: "0x1002 (target beyond a joint limit)".
#[must_use]
pub fn describe_error(code: i64) -> String {
    format!("0x{code:04X} ({})", error_name(code))
}

fn joints_to_wire(q: &[f64]) -> Vec<i64> {
    q.iter().map(|v| joint_to_wire(*v)).collect()
}

/// Commands the client sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    GetState,
    MoveJ { joints: Vec<f64>, speed_percent: u8 },
    MoveJCanfd { joints: Vec<f64> },
    Stop,
    SlowStop,
    EmergencyStop,
    GripperPosition { opening: f64 },
    GripperRelease,
}

impl Request {
    /// The JSON object, without the line terminator.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            Self::GetState => json!({"command": "get_current_arm_state"}),
            Self::MoveJ { joints, speed_percent } => json!({
                "command": "movej", "joint": joints_to_wire(joints), "v": speed_percent, "r": 0, "trajectory_connect": 0
            }),
            Self::MoveJCanfd { joints } => {
                json!({"command": "movej_canfd", "joint": joints_to_wire(joints), "follow": true, "expand": 0})
            }
            Self::Stop => json!({"command": "set_arm_stop"}),
            Self::SlowStop => json!({"command": "set_arm_slow_stop"}),
            Self::EmergencyStop => json!({"command": "set_arm_emergency_stop", "emergency_stop": true}),
            Self::GripperPosition { opening } => json!({
                "command": "set_gripper_position",
                "position": (1.0 + opening.clamp(0.0, 1.0) * 999.0).round() as i64,
                "block": true
            }),
            Self::GripperRelease => json!({"command": "set_gripper_release"}),
        }
    }

    /// One wire line: JSON + `\r\n`.
    #[must_use]
    pub fn to_line(&self) -> String {
        format!("{}\r\n", self.to_json())
    }
}

/// What the controller sends back, as far as the client cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `current_arm_state` or `joint_state`: joint angles (rad) and an error code (0 = none).
    State { joints: Vec<f64>, err: i64 },
    /// `{"command": X, "receive_state"|"set_state": bool, "err"?: code}`.
    Ack { command: String, ok: bool, err: i64 },
    /// `current_trajectory_state`: a `movej` finished (`ok`) or failed.
    TrajectoryDone { ok: bool },
}

/// Why a line from the controller could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReplyError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("unexpected reply: {0}")]
    Unexpected(String),
}

fn ints(value: &Value) -> Option<Vec<i64>> {
    value.as_array()?.iter().map(Value::as_i64).collect()
}

/// Parses one line (without its terminator).
pub fn parse_reply(line: &str) -> Result<Reply, ReplyError> {
    let shown: String = line.chars().take(120).collect();
    let value: Value = serde_json::from_str(line).map_err(|_| ReplyError::NotJson(shown.clone()))?;
    let err = |v: &Value| v.get("err").or_else(|| v.get("arm_err")).and_then(Value::as_i64).unwrap_or(0);
    match value.get("state").and_then(Value::as_str) {
        Some("current_arm_state") => {
            let arm = value.get("arm_state").ok_or_else(|| ReplyError::Unexpected(shown.clone()))?;
            let joints = arm.get("joint").and_then(ints).ok_or_else(|| ReplyError::Unexpected(shown.clone()))?;
            return Ok(Reply::State { joints: joints.into_iter().map(joint_from_wire).collect(), err: err(arm) });
        }
        Some("joint_state") => {
            let joints = value.get("joint").and_then(ints).ok_or_else(|| ReplyError::Unexpected(shown.clone()))?;
            return Ok(Reply::State { joints: joints.into_iter().map(joint_from_wire).collect(), err: err(&value) });
        }
        Some("current_trajectory_state") => {
            let ok = value.get("trajectory_state").and_then(Value::as_bool).unwrap_or(false);
            return Ok(Reply::TrajectoryDone { ok });
        }
        _ => {}
    }
    if let Some(command) = value.get("command").and_then(Value::as_str) {
        let ok = value.get("receive_state").or_else(|| value.get("set_state")).and_then(Value::as_bool);
        if let Some(ok) = ok {
            return Ok(Reply::Ack { command: command.to_owned(), ok, err: err(&value) });
        }
    }
    Err(ReplyError::Unexpected(shown))
}

/// Splits a byte stream into lines, keeping partial lines until their end arrives.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Longest line accepted; a peer that sends more without a newline is broken.
    pub const MAX_LINE: usize = 64 * 1024;

    /// Adds bytes and returns the complete lines (terminators and surrounding whitespace removed).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, String> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&raw).trim().to_owned();
            if !text.is_empty() {
                lines.push(text);
            }
        }
        if self.pending.len() > Self::MAX_LINE {
            self.pending.clear();
            return Err(format!("a line longer than {} bytes arrived without a newline", Self::MAX_LINE));
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_both_ways() {
        assert_eq!(joint_to_wire(std::f64::consts::FRAC_PI_2), 90_000);
        assert_eq!(joint_to_wire(-0.001_f64.to_radians()), -1);
        assert!((joint_from_wire(-135_000) - (-135f64).to_radians()).abs() < 1e-12);
        assert_eq!(position_to_wire(0.2405), 240_500);
        assert!((position_from_wire(144_000) - 0.144).abs() < 1e-12);
        assert_eq!(euler_to_wire(2.5004), 2500);
        assert!((euler_from_wire(-1571) + 1.571).abs() < 1e-12);
        // Round trip keeps a joint within half a millidegree.
        for rad in [-3.1, -0.5, 0.0, 0.123_456, 2.7] {
            assert!((joint_from_wire(joint_to_wire(rad)) - rad).abs() <= (0.0005_f64).to_radians());
        }
    }

    #[test]
    fn requests_match_the_documented_shapes() {
        let movej = Request::MoveJ { joints: vec![0.0, std::f64::consts::FRAC_PI_2], speed_percent: 50 }.to_json();
        assert_eq!(movej, json!({"command":"movej","joint":[0, 90000],"v":50,"r":0,"trajectory_connect":0}));
        let line = Request::MoveJCanfd { joints: vec![0.0] }.to_line();
        assert!(
            line.ends_with("\r\n") && line.contains(r#""command":"movej_canfd""#) && line.contains(r#""follow":true"#)
        );
        assert_eq!(Request::GripperPosition { opening: 1.0 }.to_json()["position"], 1000);
        assert_eq!(Request::GripperPosition { opening: 0.0 }.to_json()["position"], 1);
        assert_eq!(Request::EmergencyStop.to_json(), json!({"command":"set_arm_emergency_stop","emergency_stop":true}));
    }

    #[test]
    fn replies_parse_and_bad_ones_are_explained() {
        let state = parse_reply(
            r#"{"state":"current_arm_state","arm_state":{"joint":[90000,0],"pose":[0,0,0,0,0,0],"err":0}}"#,
        );
        assert!(
            matches!(state, Ok(Reply::State { ref joints, err: 0 }) if (joints[0] - std::f64::consts::FRAC_PI_2).abs() < 1e-12)
        );
        assert_eq!(
            parse_reply(r#"{"state":"joint_state","joint":[0],"arm_err":4098}"#),
            Ok(Reply::State { joints: vec![0.0], err: 4098 })
        );
        assert_eq!(
            parse_reply(r#"{"command":"movej","receive_state":true}"#),
            Ok(Reply::Ack { command: "movej".into(), ok: true, err: 0 })
        );
        assert_eq!(
            parse_reply(r#"{"state":"current_trajectory_state","trajectory_state":true,"device":0}"#),
            Ok(Reply::TrajectoryDone { ok: true })
        );
        assert!(matches!(parse_reply("garbage!!"), Err(ReplyError::NotJson(_))));
        assert!(matches!(parse_reply(r#"{"state":"joint_state","joint":"x"}"#), Err(ReplyError::Unexpected(_))));
        assert_eq!(describe_error(0x1002), "0x1002 (target beyond a joint limit)");
    }

    #[test]
    fn lines_are_reassembled_across_reads() {
        let mut buffer = LineBuffer::default();
        assert_eq!(buffer.push(b"{\"a\":1}\r\n{\"b\"").unwrap(), vec!["{\"a\":1}".to_owned()]);
        assert_eq!(buffer.push(b":2}\r\n\r\n").unwrap(), vec!["{\"b\":2}".to_owned()]);
        assert!(buffer.push(&vec![b'x'; LineBuffer::MAX_LINE + 1]).is_err());
    }
}
