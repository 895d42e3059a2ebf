//! Policy profiles: how to build the observation a given policy server expects and how to read the actions it sends
//! back. The built-in profiles follow the openpi checkpoints' examples (`kinevla` is KineDesk's own LIBERO-style
//! format with the reasoning and token extension); a user profile is a TOML file of the same shape.
//!
//! ```toml
//! name = "my-droid"
//! [observation]
//! prompt_key = "prompt"
//! images = [{ key = "observation/exterior_image_1_left", camera = 0, size = 224, resize = "pad" }]
//! state = [{ key = "observation/joint_position", fields = ["joint_positions"] },
//!          { key = "observation/gripper_position", fields = ["gripper_closed_fraction"] }]
//! [action]
//! space = "joint_velocities"
//! gripper = "closed_fraction"
//! rate_hz = 15.0
//! chunk_len = 10
//! execute_steps = 8
//! dims = 8
//! ```

use std::path::Path;

use glam::DVec3;
use rmpv::Value;

use super::super::backend::{CameraImage, PolicyError};
use super::super::msgpack::{self, NdArray, get};
use kinedesk_core::robot::{Robot, fk};

/// How to talk to one kind of policy server.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub observation: ObservationProfile,
    pub action: ActionProfile,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationProfile {
    #[serde(default = "default_prompt_key")]
    pub prompt_key: String,
    #[serde(default)]
    pub images: Vec<ImageKey>,
    #[serde(default)]
    pub state: Vec<StateKey>,
    /// Also send KineDesk's extension keys (`observation/joint_position`, `robot_kind`).
    #[serde(default)]
    pub kinedesk_extension: bool,
}

fn default_prompt_key() -> String {
    "prompt".into()
}

/// One camera image in the observation. A key with dots (`images.cam_high`) is a nested map.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageKey {
    pub key: String,
    /// Which camera feed (0 is the first); a missing feed is sent black, and said so in the chunk's notes.
    pub camera: usize,
    #[serde(default = "default_image_size")]
    pub size: u32,
    #[serde(default)]
    pub resize: Resize,
    /// Channels first (`3 × H × W`, ALOHA) instead of `H × W × 3`.
    #[serde(default)]
    pub channels_first: bool,
    /// Rotated 180° (LIBERO's training images are).
    #[serde(default)]
    pub rotate_180: bool,
}

fn default_image_size() -> u32 {
    224
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Scaled to fit, keeping the aspect ratio, padded with black (openpi's `resize_with_pad`).
    #[default]
    Pad,
    /// Scaled to the square, aspect ratio not kept.
    Stretch,
}

/// One state array in the observation: its parts, concatenated in order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateKey {
    pub key: String,
    pub fields: Vec<StateField>,
    /// Sent as float32 (default) or float64.
    #[serde(default)]
    pub float64: bool,
    /// The width a server of this profile expects; a robot that gives another is refused before connecting.
    #[serde(default)]
    pub width: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateField {
    /// Joint positions (rad), one per joint.
    JointPositions,
    /// Flange position in the base frame (m), 3.
    FlangePosition,
    /// Flange orientation as an axis-angle vector (rad), 3.
    FlangeAxisAngle,
    /// Two finger positions (m), `[f, −f]` with f = 0.04 m open (LIBERO's Panda).
    FingerPositions,
    /// Gripper closure 0 (open) to 1 (closed) (DROID's `gripper_position`).
    GripperClosedFraction,
    /// Gripper opening 1 (open) to 0 (closed).
    GripperOpening,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionProfile {
    /// The result key holding the `[H, dims]` array.
    #[serde(default = "default_action_key")]
    pub key: String,
    pub space: ActionSpace,
    /// Multipliers from the server's units to metres and radians (delta and absolute end-effector spaces).
    #[serde(default = "one")]
    pub position_scale: f64,
    #[serde(default = "one")]
    pub rotation_scale: f64,
    pub gripper: GripperConvention,
    /// Control rate the actions are meant for (Hz).
    pub rate_hz: f64,
    /// Actions a reply must hold (`None`: any number from `execute_steps` up).
    #[serde(default)]
    pub chunk_len: Option<usize>,
    /// Steps executed before the next observation (openpi's replan steps / open-loop horizon).
    pub execute_steps: usize,
    /// Values per action (the last is the gripper).
    pub dims: usize,
}

fn default_action_key() -> String {
    "actions".into()
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSpace {
    /// Flange position change (3) and rotation vector (3) per step, in the base frame (LIBERO).
    DeltaEe,
    /// Flange position (3) and axis-angle orientation (3) per step, in the base frame.
    AbsoluteEe,
    /// Joint positions per step.
    AbsoluteJoints,
    /// Joint velocities per step (rad/s), integrated over the control period (DROID).
    JointVelocities,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GripperConvention {
    /// Above 0 closes, otherwise open (LIBERO: −1 open, +1 close).
    Sign,
    /// 0 open to 1 closed, closed above 0.5 (DROID).
    ClosedFraction,
    /// 1 open to 0 closed, closed below 0.5.
    Opening,
}

impl GripperConvention {
    /// A gripper value in this convention as KineDesk's command: −1 open, +1 closed.
    #[must_use]
    pub fn to_command(self, value: f64) -> f64 {
        let closed = match self {
            Self::Sign => value > 0.0,
            Self::ClosedFraction => value > 0.5,
            Self::Opening => value < 0.5,
        };
        if closed { 1.0 } else { -1.0 }
    }
}

/// What the desk knows at the moment of an observation.
#[derive(Clone, Debug)]
pub struct Observation {
    pub instruction: String,
    pub robot: std::sync::Arc<Robot>,
    pub robot_kind: String,
    pub joints: Vec<f64>,
    /// Gripper opening, 0 (closed) to 1 (open).
    pub gripper_opening: f64,
    pub images: Vec<CameraImage>,
}

/// Finger position of an open Panda gripper (m).
const FINGER_OPEN_M: f64 = 0.04;

impl PolicyProfile {
    /// The built-in profiles, by name.
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        let image = |key: &str, camera, resize, rotate_180| ImageKey {
            key: key.into(),
            camera,
            size: 224,
            resize,
            channels_first: false,
            rotate_180,
        };
        let state =
            |key: &str, fields: Vec<StateField>, width| StateKey { key: key.into(), fields, float64: false, width };
        let libero_state = vec![StateField::FlangePosition, StateField::FlangeAxisAngle, StateField::FingerPositions];
        let profile = match name {
            "kinevla" => Self {
                name: name.into(),
                description: "KineDesk's LIBERO-style format with reasoning and action tokens (the built-in planner \
                              and `kinedesk serve`)"
                    .into(),
                observation: ObservationProfile {
                    prompt_key: "prompt".into(),
                    images: vec![
                        image("observation/image", 0, Resize::Stretch, false),
                        image("observation/wrist_image", 1, Resize::Stretch, false),
                    ],
                    state: vec![state("observation/state", libero_state, Some(8))],
                    kinedesk_extension: true,
                },
                action: ActionProfile {
                    key: "actions".into(),
                    space: ActionSpace::DeltaEe,
                    position_scale: 1.0,
                    rotation_scale: 1.0,
                    gripper: GripperConvention::Sign,
                    rate_hz: 20.0,
                    chunk_len: None,
                    execute_steps: 5,
                    dims: 7,
                },
            },
            "libero" => Self {
                name: name.into(),
                description: "openpi pi0/pi0.5-LIBERO: images padded to 224 and rotated 180°, delta end-effector \
                              actions in LIBERO's OSC units (±1 = 5 cm, 0.5 rad), 5 executed per request"
                    .into(),
                observation: ObservationProfile {
                    prompt_key: "prompt".into(),
                    images: vec![
                        image("observation/image", 0, Resize::Pad, true),
                        image("observation/wrist_image", 1, Resize::Pad, true),
                    ],
                    state: vec![state("observation/state", libero_state, Some(8))],
                    kinedesk_extension: false,
                },
                action: ActionProfile {
                    key: "actions".into(),
                    space: ActionSpace::DeltaEe,
                    position_scale: 0.05,
                    rotation_scale: 0.5,
                    gripper: GripperConvention::Sign,
                    rate_hz: 20.0,
                    chunk_len: None,
                    execute_steps: 5,
                    dims: 7,
                },
            },
            "droid" => Self {
                name: name.into(),
                description: "openpi DROID (pi0-FAST-DROID, pi0.5-DROID): exterior and wrist images padded to 224, \
                              joint and gripper positions; 10 × 8 actions (joint velocities + gripper position) at \
                              15 Hz, 8 executed per request"
                    .into(),
                observation: ObservationProfile {
                    prompt_key: "prompt".into(),
                    images: vec![
                        image("observation/exterior_image_1_left", 0, Resize::Pad, false),
                        image("observation/wrist_image_left", 1, Resize::Pad, false),
                    ],
                    state: vec![
                        state("observation/joint_position", vec![StateField::JointPositions], Some(7)),
                        state("observation/gripper_position", vec![StateField::GripperClosedFraction], Some(1)),
                    ],
                    kinedesk_extension: false,
                },
                action: ActionProfile {
                    key: "actions".into(),
                    space: ActionSpace::JointVelocities,
                    position_scale: 1.0,
                    rotation_scale: 1.0,
                    gripper: GripperConvention::ClosedFraction,
                    rate_hz: 15.0,
                    chunk_len: Some(10),
                    execute_steps: 8,
                    dims: 8,
                },
            },
            "aloha" => Self {
                name: name.into(),
                description: "openpi ALOHA (bimanual, 14-D): four channel-first 224 images, joint positions and \
                              grippers of both arms; absolute joint actions at 50 Hz, 25 executed per request. Needs \
                              a robot whose joints and gripper make 14 values"
                    .into(),
                observation: ObservationProfile {
                    prompt_key: "prompt".into(),
                    images: ["cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"]
                        .iter()
                        .enumerate()
                        .map(|(camera, name)| ImageKey {
                            channels_first: true,
                            ..image(&format!("images.{name}"), camera, Resize::Pad, false)
                        })
                        .collect(),
                    state: vec![state("state", vec![StateField::JointPositions, StateField::GripperOpening], Some(14))],
                    kinedesk_extension: false,
                },
                action: ActionProfile {
                    key: "actions".into(),
                    space: ActionSpace::AbsoluteJoints,
                    position_scale: 1.0,
                    rotation_scale: 1.0,
                    gripper: GripperConvention::Opening,
                    rate_hz: 50.0,
                    chunk_len: None,
                    execute_steps: 25,
                    dims: 14,
                },
            },
            _ => return None,
        };
        Some(profile)
    }

    pub const BUILTIN: [&'static str; 4] = ["kinevla", "libero", "droid", "aloha"];

    /// A built-in profile by name, or a TOML file.
    pub fn load(name_or_path: &str) -> Result<Self, String> {
        if let Some(profile) = Self::builtin(name_or_path) {
            return Ok(profile);
        }
        let path = Path::new(name_or_path);
        if !path.is_file() {
            return Err(format!(
                "{name_or_path:?} is neither a built-in profile ({}) nor a profile file",
                Self::BUILTIN.join(", ")
            ));
        }
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.len() > 1 << 20 {
            return Err(format!("{}: {} bytes is too large for a profile", path.display(), meta.len()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let profile: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        profile.validate().map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(profile)
    }

    /// Checks values TOML cannot.
    pub fn validate(&self) -> Result<(), String> {
        let action = &self.action;
        if !(action.rate_hz.is_finite() && (1.0..=1000.0).contains(&action.rate_hz)) {
            return Err(format!("action.rate_hz {} is not between 1 and 1000", action.rate_hz));
        }
        if action.execute_steps == 0 || action.execute_steps > 1000 {
            return Err(format!("action.execute_steps {} is not between 1 and 1000", action.execute_steps));
        }
        if action.chunk_len.is_some_and(|h| h < action.execute_steps || h > 1000) {
            return Err("action.chunk_len must be at least execute_steps and at most 1000".into());
        }
        if !(2..=64).contains(&action.dims) {
            return Err(format!("action.dims {} is not between 2 and 64", action.dims));
        }
        for scale in [action.position_scale, action.rotation_scale] {
            if !(scale.is_finite() && scale > 0.0 && scale <= 100.0) {
                return Err(format!("an action scale of {scale} is not in (0, 100]"));
            }
        }
        for image in &self.observation.images {
            if !(16..=1024).contains(&image.size) || image.camera > 16 {
                return Err(format!("image {}: size 16 to 1024 and camera 0 to 16", image.key));
            }
        }
        Ok(())
    }

    /// The control period of the actions (s).
    #[must_use]
    pub fn dt_s(&self) -> f64 {
        1.0 / self.action.rate_hz
    }

    /// Refuses a robot this profile cannot serve (a state or action of another width than the server expects).
    pub fn check_robot(&self, robot: &Robot) -> Result<(), String> {
        for key in &self.observation.state {
            let width = state_width(&key.fields, robot.dof());
            if let Some(expected) = key.width
                && expected != width
            {
                return Err(format!(
                    "profile {}: {} is {expected} values wide, the {} gives {width}",
                    self.name, key.key, robot.name
                ));
            }
        }
        let needed = match self.action.space {
            ActionSpace::AbsoluteJoints | ActionSpace::JointVelocities => robot.dof() + 1,
            ActionSpace::DeltaEe | ActionSpace::AbsoluteEe => 7,
        };
        if self.action.dims != needed {
            return Err(format!(
                "profile {}: {} actions are {} values wide, the {} needs {needed}",
                self.name, self.action.dims, self.action.dims, robot.name
            ));
        }
        Ok(())
    }

    /// The observation map for `observation`, and notes on what was missing (a camera with no feed).
    pub fn observation(&self, observation: &Observation) -> Result<(Value, Vec<String>), PolicyError> {
        let mut notes = Vec::new();
        let mut entries: Vec<(String, Value)> = Vec::new();
        for key in &self.observation.images {
            let pixels = match observation.images.get(key.camera) {
                Some(image) => prepare_image(image, key),
                None => {
                    notes.push(format!("{}: no camera {} (sent black)", key.key, key.camera));
                    vec![0; (key.size * key.size * 3) as usize]
                }
            };
            let side = key.size as usize;
            let shape = if key.channels_first { vec![3, side, side] } else { vec![side, side, 3] };
            entries.push((key.key.clone(), NdArray::from_u8(shape, pixels).to_value()));
        }
        let pose = fk(&observation.robot, &observation.joints).map_err(|e| PolicyError::Kinematics(e.to_string()))?;
        for key in &self.observation.state {
            let mut values = Vec::new();
            for field in &key.fields {
                match field {
                    StateField::JointPositions => values.extend_from_slice(&observation.joints),
                    StateField::FlangePosition => values.extend(pose.position_m.to_array()),
                    StateField::FlangeAxisAngle => values.extend(pose.rotation.to_scaled_axis().to_array()),
                    StateField::FingerPositions => {
                        let finger = FINGER_OPEN_M * observation.gripper_opening.clamp(0.0, 1.0);
                        values.extend([finger, -finger]);
                    }
                    StateField::GripperClosedFraction => values.push(1.0 - observation.gripper_opening.clamp(0.0, 1.0)),
                    StateField::GripperOpening => values.push(observation.gripper_opening.clamp(0.0, 1.0)),
                }
            }
            let array = if key.float64 {
                NdArray::from_f64(vec![values.len()], &values)
            } else {
                NdArray::from_f32(vec![values.len()], &values.iter().map(|v| *v as f32).collect::<Vec<_>>())
            };
            entries.push((key.key.clone(), array.to_value()));
        }
        entries.push((self.observation.prompt_key.clone(), Value::from(observation.instruction.as_str())));
        if self.observation.kinedesk_extension {
            entries.push((
                "observation/joint_position".into(),
                NdArray::from_f64(vec![observation.joints.len()], &observation.joints).to_value(),
            ));
            entries.push(("robot_kind".into(), Value::from(observation.robot_kind.as_str())));
        }
        Ok((nest(entries), notes))
    }

    /// The `[H, dims]` actions of a result map, checked: finite, the expected width and length.
    pub fn read_actions(&self, result: &Value) -> Result<Vec<Vec<f64>>, PolicyError> {
        let protocol = |message: String| PolicyError::Protocol(message);
        let raw = get(result, &self.action.key)
            .ok_or_else(|| protocol(format!("the result has no {:?} (profile {})", self.action.key, self.name)))?;
        let array = NdArray::from_value(raw).map_err(|e| protocol(format!("{}: {e}", self.action.key)))?;
        let dims = self.action.dims;
        if array.shape.len() != 2 || array.shape[1] != dims {
            return Err(protocol(format!(
                "{} has shape {:?}; profile {} expects [H, {dims}]",
                self.action.key, array.shape, self.name
            )));
        }
        let rows = array.shape[0];
        match self.action.chunk_len {
            Some(h) if rows != h => {
                return Err(protocol(format!(
                    "{} holds {rows} actions; profile {} expects {h}",
                    self.action.key, self.name
                )));
            }
            None if rows == 0 || rows > 1000 => {
                return Err(protocol(format!("{} holds {rows} actions (1 to 1000 accepted)", self.action.key)));
            }
            _ => {}
        }
        let values = array.to_f64().map_err(|e| protocol(format!("{}: {e}", self.action.key)))?;
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(protocol(format!(
                "{} has a non-finite value at action {}, value {}",
                self.action.key,
                bad / dims,
                bad % dims
            )));
        }
        Ok(values.chunks(dims).map(<[f64]>::to_vec).collect())
    }
}

fn state_width(fields: &[StateField], dof: usize) -> usize {
    fields
        .iter()
        .map(|field| match field {
            StateField::JointPositions => dof,
            StateField::FlangePosition | StateField::FlangeAxisAngle => 3,
            StateField::FingerPositions => 2,
            StateField::GripperClosedFraction | StateField::GripperOpening => 1,
        })
        .sum()
}

/// A map from `(key, value)` pairs; a key with dots becomes nested maps (`images.cam_high`).
fn nest(entries: Vec<(String, Value)>) -> Value {
    let mut map: Vec<(Value, Value)> = Vec::new();
    for (key, value) in entries {
        insert(&mut map, &key, value);
    }
    Value::Map(map)
}

fn insert(map: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match key.split_once('.') {
        None => map.push((Value::from(key), value)),
        Some((head, rest)) => {
            let position = map.iter().position(|(k, _)| k.as_str() == Some(head));
            let index = position.unwrap_or_else(|| {
                map.push((Value::from(head), Value::Map(Vec::new())));
                map.len() - 1
            });
            if let Value::Map(inner) = &mut map[index].1 {
                insert(inner, rest, value);
            }
        }
    }
}

/// The image as the key wants it: resized (nearest neighbour) to `size × size`, padded or stretched, rotated,
/// channels first or last.
fn prepare_image(image: &CameraImage, key: &ImageKey) -> Vec<u8> {
    let side = key.size as usize;
    let mut out = vec![0u8; side * side * 3];
    let (width, height) = (image.width as usize, image.height as usize);
    if width == 0 || height == 0 || image.rgb.len() < width * height * 3 {
        return out;
    }
    // The region of the square the image fills.
    let (fill_w, fill_h) = match key.resize {
        Resize::Stretch => (side, side),
        Resize::Pad if width >= height => (side, (side * height).div_ceil(width).max(1)),
        Resize::Pad => ((side * width).div_ceil(height).max(1), side),
    };
    let (x0, y0) = ((side - fill_w) / 2, (side - fill_h) / 2);
    for y in 0..fill_h {
        let sy = y * height / fill_h;
        for x in 0..fill_w {
            let sx = x * width / fill_w;
            let from = (sy * width + sx) * 3;
            let (mut tx, mut ty) = (x0 + x, y0 + y);
            if key.rotate_180 {
                (tx, ty) = (side - 1 - tx, side - 1 - ty);
            }
            let to = (ty * side + tx) * 3;
            out[to..to + 3].copy_from_slice(&image.rgb[from..from + 3]);
        }
    }
    if key.channels_first {
        let plane = side * side;
        let mut planar = vec![0u8; plane * 3];
        for (i, pixel) in out.chunks_exact(3).enumerate() {
            for c in 0..3 {
                planar[c * plane + i] = pixel[c];
            }
        }
        planar
    } else {
        out
    }
}

/// The flange position of `joints` (for envelope checks and the executed path).
pub fn flange_position(robot: &Robot, joints: &[f64]) -> Option<DVec3> {
    fk(robot, joints).ok().map(|pose| pose.position_m)
}

/// Reads `key` of a map as a boolean (the KineDesk `done` extension); absent is false.
#[must_use]
pub fn flag(result: &Value, key: &str) -> bool {
    match get(result, key) {
        Some(Value::Boolean(value)) => *value,
        // A numpy bool arrives as a scalar map.
        Some(scalar @ Value::Map(_)) => matches!(get(scalar, "data"), Some(Value::Boolean(true))),
        _ => false,
    }
}

/// For tests and tools: a map from pairs (see [`msgpack::map`]).
#[must_use]
pub fn result_map(entries: Vec<(&str, Value)>) -> Value {
    msgpack::map(entries)
}

#[cfg(test)]
mod tests;
