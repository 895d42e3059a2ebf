//! Keyboard teleoperation: jog the arm in Cartesian space (through IK) or joint by joint, only while the dead-man
//! key (Shift) is held. Targets go to the driver as `StreamTarget`s every frame (~50 Hz while jogging); the driver
//! follows them within a quarter of each joint's velocity limit and halts if they stop coming (its watchdog).

use egui::{InputState, Key, Modifiers};
use glam::{DQuat, DVec3};
use kinedesk_models::robot::{IkOptions, Pose, Robot, fk, solve_ik};

/// What the jog keys move.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum JogMode {
    /// W/S ±x, A/D ±y, R/F ±z (base frame); U/O roll, I/K pitch, J/L yaw.
    #[default]
    Cartesian,
    /// W/S move the selected joint (1–7 select it).
    Joint,
}

impl JogMode {
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Cartesian => "Cartesian",
            Self::Joint => "Joint",
        }
    }
}

/// Speed steps: (linear m/s, angular rad/s, joint rad/s).
pub const SPEEDS: [(f64, f64, f64); 4] = [(0.01, 0.05, 0.05), (0.02, 0.1, 0.1), (0.05, 0.25, 0.25), (0.1, 0.5, 0.5)];

/// The dead-man key: motion keys do nothing unless it is held.
pub const DEAD_MAN: Modifiers = Modifiers::SHIFT;

/// Teleop state of the desk.
#[derive(Clone, Debug, Default)]
pub struct Teleop {
    /// Armed by the operator; disarmed by Stop, disconnects and robot changes.
    pub armed: bool,
    pub mode: JogMode,
    /// Joint moved in joint mode (0-based).
    pub joint: usize,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// The target being streamed (shown as a ghost), while jogging.
    pub target: Option<Vec<f64>>,
    last_time: Option<f64>,
    /// The last IK failure, so it is reported once rather than every frame.
    pub unreachable: bool,
}

/// Held jog keys as a unit direction in each axis.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JogKeys {
    pub linear: [f64; 3],
    pub angular: [f64; 3],
}

impl JogKeys {
    #[must_use]
    pub fn read(input: &InputState) -> Option<Self> {
        if !input.modifiers.contains(DEAD_MAN) {
            return None;
        }
        let axis = |plus: Key, minus: Key| f64::from(i8::from(input.key_down(plus)) - i8::from(input.key_down(minus)));
        let keys = Self {
            linear: [axis(Key::W, Key::S), axis(Key::A, Key::D), axis(Key::R, Key::F)],
            angular: [axis(Key::U, Key::O), axis(Key::I, Key::K), axis(Key::J, Key::L)],
        };
        (keys != Self::default()).then_some(keys)
    }
}

impl Teleop {
    /// One frame of jogging. `now_s` is the input time, `frame_dt_s` the expected frame time (used for the first
    /// frame of a jog, so motion starts at once), `live` the arm's joints. Returns a target to stream, if the
    /// dead-man key and a motion key are held; `Err` when the Cartesian target is out of reach (reported once).
    pub fn step(
        &mut self,
        robot: &Robot,
        live: &[f64],
        keys: Option<JogKeys>,
        now_s: f64,
        frame_dt_s: f64,
    ) -> Result<Option<Vec<f64>>, String> {
        let dt = self.last_time.map_or(frame_dt_s, |last| now_s - last).clamp(0.0, 0.1);
        self.last_time = Some(now_s);
        let Some(keys) = keys.filter(|_| self.armed) else {
            self.target = None;
            self.last_time = None;
            return Ok(None);
        };
        let base = self.target.clone().filter(|t| t.len() == live.len()).unwrap_or_else(|| live.to_vec());
        let (linear_speed, angular_speed, joint_speed) = SPEEDS[self.speed.min(SPEEDS.len() - 1)];
        let next = match self.mode {
            JogMode::Joint => {
                let mut next = base;
                if let Some(joint) = robot.joints.get(self.joint) {
                    let q = &mut next[self.joint];
                    *q = joint.limits.clamp(*q + keys.linear[0] * joint_speed * dt);
                }
                next
            }
            JogMode::Cartesian => {
                let pose = fk(robot, &base).map_err(|error| error.to_string())?;
                let v = DVec3::from_array(keys.linear) * linear_speed * dt;
                let w = DVec3::from_array(keys.angular) * angular_speed * dt;
                let rotation =
                    if w.length() > 0.0 { DQuat::from_scaled_axis(w) * pose.rotation } else { pose.rotation };
                let target = Pose { position_m: pose.position_m + v, rotation };
                let options = IkOptions { max_attempts: 1, max_iterations: 30, ..IkOptions::default() };
                match solve_ik(robot, &target, Some(&base), &options) {
                    Ok(solution) => {
                        self.unreachable = false;
                        solution.joints
                    }
                    Err(error) => {
                        let first = !self.unreachable;
                        self.unreachable = true;
                        return if first { Err(format!("jog target out of reach: {error}")) } else { Ok(None) };
                    }
                }
            }
        };
        self.target = Some(next.clone());
        Ok(Some(next))
    }

    /// Disarms (Stop, disconnect, robot change).
    pub fn disarm(&mut self) {
        self.armed = false;
        self.target = None;
        self.last_time = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinedesk_models::robot::panda;

    #[test]
    fn cartesian_jog_moves_the_flange_along_the_held_axis() {
        let robot = panda();
        let mut teleop = Teleop { armed: true, speed: 2, ..Teleop::default() };
        let keys = Some(JogKeys { linear: [1.0, 0.0, 0.0], angular: [0.0; 3] });
        let start = fk(&robot, &robot.rest_pose).unwrap();
        let mut target = None;
        for frame in 0..=20 {
            target = teleop.step(&robot, &robot.rest_pose, keys, f64::from(frame) * 0.02, 0.0).unwrap();
        }
        let moved = fk(&robot, &target.unwrap()).unwrap();
        let delta = moved.position_m - start.position_m;
        // 0.4 s at 5 cm/s forward.
        assert!((delta.x - 0.02).abs() < 1e-3 && delta.y.abs() < 1e-3 && delta.z.abs() < 1e-3, "{delta:?}");
    }

    #[test]
    fn nothing_moves_unless_armed_and_keys_are_held() {
        let robot = panda();
        let mut teleop = Teleop::default();
        let keys = Some(JogKeys { linear: [1.0, 0.0, 0.0], angular: [0.0; 3] });
        assert_eq!(teleop.step(&robot, &robot.rest_pose, keys, 0.0, 0.02), Ok(None));
        teleop.armed = true;
        assert_eq!(teleop.step(&robot, &robot.rest_pose, None, 0.0, 0.02), Ok(None));
        assert!(teleop.target.is_none());
    }

    #[test]
    fn joint_jog_respects_the_limits() {
        let robot = panda();
        let mut teleop = Teleop { armed: true, mode: JogMode::Joint, joint: 3, speed: 3, ..Teleop::default() };
        let keys = Some(JogKeys { linear: [1.0, 0.0, 0.0], angular: [0.0; 3] });
        let mut target = robot.rest_pose.clone();
        for frame in 0..400 {
            if let Some(next) = teleop.step(&robot, &robot.rest_pose, keys, f64::from(frame) * 0.05, 0.05).unwrap() {
                target = next;
            }
        }
        assert!((target[3] - robot.joints[3].limits.upper).abs() < 1e-12, "clamped at joint 4's upper limit");
    }
}
