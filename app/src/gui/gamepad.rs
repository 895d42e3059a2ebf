//! Gamepad input for teleoperation, read with gilrs on a named worker thread (`kinedesk-gamepad`).
//!
//! Left stick: x (forward/back) and y (left/right); triggers: z (right up, left down); right stick: pitch and yaw.
//! A shoulder button (LB or RB) is the dead-man: nothing moves unless one is held.

use std::sync::Arc;
use std::time::Duration;

use kinedesk_models::channel::Waker;
use kinedesk_models::{Worker, WorkerContext};

use crate::gui::teleop::JogKeys;

/// Stick and trigger values below this are treated as zero.
pub const DEADZONE: f32 = 0.15;

/// One reading of the gamepad.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GamepadState {
    pub left_x: f32,
    pub left_y: f32,
    pub right_x: f32,
    pub right_y: f32,
    /// Analog triggers, 0 (released) to 1.
    pub left_trigger: f32,
    pub right_trigger: f32,
    /// LB or RB held.
    pub dead_man: bool,
}

impl GamepadState {
    /// Jog directions (analog, −1 … 1) while the dead-man button is held; `None` otherwise or inside the deadzone.
    #[must_use]
    pub fn jog(&self) -> Option<JogKeys> {
        if !self.dead_man {
            return None;
        }
        let shaped = |value: f32| {
            if value.abs() < DEADZONE {
                0.0
            } else {
                f64::from(value.signum() * (value.abs() - DEADZONE) / (1.0 - DEADZONE))
            }
        };
        let keys = JogKeys {
            linear: [shaped(self.left_y), shaped(-self.left_x), shaped(self.right_trigger - self.left_trigger)],
            angular: [0.0, shaped(self.right_y), shaped(-self.right_x)],
        };
        (keys != JogKeys::default()).then_some(keys)
    }
}

/// What the gamepad thread reports.
#[derive(Clone, Debug, PartialEq)]
pub enum GamepadEvent {
    Connected(String),
    Disconnected(String),
    State(GamepadState),
    /// Gamepads cannot be read on this machine (e.g. no udev); said once, at start.
    Unavailable(String),
}

/// Starts the gamepad thread.
pub fn spawn_gamepad(waker: Waker) -> std::io::Result<Worker<(), GamepadEvent>> {
    Worker::spawn("kinedesk-gamepad", 1, 64, Some(waker), |ctx| run(&ctx))
}

fn run(ctx: &WorkerContext<(), GamepadEvent>) {
    let mut gilrs = match gilrs::Gilrs::new() {
        Ok(gilrs) => gilrs,
        Err(error) => {
            let _ = ctx.events.try_send(GamepadEvent::Unavailable(error.to_string()));
            return;
        }
    };
    for (_, gamepad) in gilrs.gamepads() {
        let _ = ctx.events.try_send(GamepadEvent::Connected(gamepad.name().to_owned()));
    }
    let mut last = GamepadState::default();
    while !ctx.should_stop() {
        while let Some(event) = gilrs.next_event() {
            let name = gilrs.gamepad(event.id).name().to_owned();
            match event.event {
                gilrs::EventType::Connected => {
                    let _ = ctx.events.try_send(GamepadEvent::Connected(name));
                }
                gilrs::EventType::Disconnected => {
                    last = GamepadState::default();
                    let _ = ctx.events.try_send(GamepadEvent::Disconnected(name));
                }
                _ => {}
            }
        }
        // The first connected gamepad drives teleop.
        let state = gilrs.gamepads().next().map(|(_, pad)| GamepadState {
            left_x: pad.value(gilrs::Axis::LeftStickX),
            left_y: pad.value(gilrs::Axis::LeftStickY),
            right_x: pad.value(gilrs::Axis::RightStickX),
            right_y: pad.value(gilrs::Axis::RightStickY),
            left_trigger: pad.button_data(gilrs::Button::LeftTrigger2).map_or(0.0, gilrs::ev::state::ButtonData::value),
            right_trigger: pad
                .button_data(gilrs::Button::RightTrigger2)
                .map_or(0.0, gilrs::ev::state::ButtonData::value),
            dead_man: pad.is_pressed(gilrs::Button::LeftTrigger) || pad.is_pressed(gilrs::Button::RightTrigger),
        });
        if let Some(state) = state
            && (state != last || state.dead_man)
        {
            // While the dead-man is held the state is re-sent every tick, so the UI's stream stays fresh.
            last = state.clone();
            let _ = ctx.events.try_send(GamepadEvent::State(state));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A waker that does nothing (for headless use).
#[must_use]
pub fn no_waker() -> Waker {
    Arc::new(|| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticks_map_to_jog_directions_only_with_the_dead_man_held() {
        let mut state = GamepadState { left_y: 1.0, right_x: -0.5, right_trigger: 0.6, ..GamepadState::default() };
        assert!(state.jog().is_none(), "no dead-man, no motion");
        state.dead_man = true;
        let jog = state.jog().unwrap();
        assert!((jog.linear[0] - 1.0).abs() < 1e-6, "full stick forward is full speed +x");
        assert_eq!(jog.linear[1], 0.0);
        assert!(jog.linear[2] > 0.5 && jog.linear[2] < 0.6, "right trigger lifts");
        assert!(jog.angular[2] > 0.0, "right stick left yaws left");
        let idle = GamepadState { left_x: 0.1, right_y: -0.12, dead_man: true, ..GamepadState::default() };
        assert!(idle.jog().is_none(), "drift inside the deadzone does not move the arm");
    }

    #[test]
    fn the_gamepad_thread_starts_and_says_what_it_found() {
        let mut worker = spawn_gamepad(no_waker()).unwrap();
        // Either gamepads are readable here (and none or some are connected) or the reason is reported; no panic.
        std::thread::sleep(Duration::from_millis(100));
        let mut events = Vec::new();
        worker.events().drain_within(Duration::from_millis(10), 64, |event| events.push(event));
        assert!(events.iter().all(|event| !matches!(event, GamepadEvent::Unavailable(reason) if reason.is_empty())));
        assert!(worker.shutdown_within(Duration::from_secs(5)).is_some());
    }
}
