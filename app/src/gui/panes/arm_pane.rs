use egui::{Color32, ComboBox, ProgressBar, RichText, Ui};
use kinedesk_models::robot::BuiltinRobot;
use kinedesk_widgets::arm_view::{OrbitCamera, arm_view_ui};
use kinedesk_widgets::palette;

use super::PaneContext;
use crate::gui::arm_state::RobotSource;
use crate::gui::command::Command;

/// Accessibility label of the Realman address box.
pub const ROBOT_ADDRESS_LABEL: &str = "Robot address";

fn robot_label(kind: BuiltinRobot) -> &'static str {
    match kind {
        BuiltinRobot::Panda => "Franka Panda",
        BuiltinRobot::Rm75 => "Realman RM75",
    }
}

pub fn arm_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let connected = context.robot_connected;
    let arm = &mut *context.arm;
    ui.horizontal_wrapped(|ui| {
        ComboBox::from_id_salt("arm_robot")
            .selected_text(arm.label())
            .show_ui(ui, |ui| {
                for kind in BuiltinRobot::ALL {
                    let selected = arm.source == RobotSource::Builtin(kind);
                    if ui.selectable_label(selected, robot_label(kind)).clicked() {
                        context.commands.push(Command::SelectRobot(kind));
                    }
                }
            })
            .response
            .on_hover_text("Robot model shown in the 3D view");
        if connected {
            if ui.button("Disconnect").clicked() {
                context.commands.push(Command::DisconnectRobot);
            }
            let live = if arm.live.is_some() { "Live state" } else { "Connecting…" };
            ui.label(RichText::new(live).color(palette::OK));
        } else {
            if ui
                .button("Connect simulated arm")
                .on_hover_text("The embedded default robot: no hardware needed")
                .clicked()
            {
                context.commands.push(Command::ConnectSimArm);
            }
            let address_id = egui::Id::unique("kinedesk_realman_address");
            let mut address = ui.data_mut(|data| {
                data.get_persisted_mut_or_insert_with(address_id, || "realman://192.168.1.18:8080".to_owned()).clone()
            });
            let label = ui.label(ROBOT_ADDRESS_LABEL);
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut address)
                        .desired_width(190.0)
                        .hint_text("realman://host:port or ros2://"),
                )
                .labelled_by(label.id);
            ui.data_mut(|data| data.insert_persisted(address_id, address.clone()));
            let enter = field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
            if ui
                .button("Connect")
                .on_hover_text(
                    "Connect the robot at this address: realman://HOST:PORT (a Realman controller) or ros2:// \
                     (a ros2_control arm; ?state=TOPIC&command=TOPIC to change the topics)",
                )
                .clicked()
                || enter
            {
                context.commands.push(Command::ConnectRobot(address));
            }
            ui.label(RichText::new("No robot connected: showing the model at its rest pose").weak());
        }
        if ui.small_button("Reset view").on_hover_text("Home while the view is hovered").clicked() {
            arm.camera = OrbitCamera::default();
        }
    });
    if let Some(state) = &arm.live {
        joint_bars_ui(ui, &arm.robot, &state.positions);
        // Where the flange is, in the base frame: what Cartesian jogging moves.
        if let Ok(pose) = kinedesk_models::robot::fk(&arm.robot, &state.positions) {
            let (roll, pitch, yaw) = pose.rotation.to_euler(glam::EulerRot::XYZ);
            let p = pose.position_m * 1000.0;
            ui.label(
                RichText::new(format!(
                    "{FLANGE_LABEL} x {:.0}  y {:.0}  z {:.0} mm · roll {:.1}°  pitch {:.1}°  yaw {:.1}°",
                    p.x,
                    p.y,
                    p.z,
                    roll.to_degrees(),
                    pitch.to_degrees(),
                    yaw.to_degrees()
                ))
                .small()
                .monospace(),
            )
            .on_hover_text("The flange pose in the robot's base frame (forward kinematics of the measured joints)");
        }
        ui.horizontal(|ui| {
            ui.add(
                ProgressBar::new(state.gripper as f32)
                    .desired_width(150.0)
                    .text(RichText::new(format!("gripper {:.0} % open", state.gripper * 100.0)).small()),
            );
            if ui.small_button("Open").clicked() {
                context.commands.push(Command::Gripper(crate::gui::command::OrderedOpening::OPEN));
            }
            if ui.small_button("Close").clicked() {
                context.commands.push(Command::Gripper(crate::gui::command::OrderedOpening::CLOSED));
            }
        });
        teleop_ui(ui, context.teleop, arm.robot.dof(), context.commands);
    }
    let scene = arm.scene(ui.visuals().dark_mode);
    arm_view_ui(ui, &mut arm.camera, &scene, arm.gpu);
}

/// The flange pose line's label.
pub const FLANGE_LABEL: &str = "Flange";
/// The dead-man indicator while teleop is armed.
pub const DEADMAN_HELD: &str = "DEAD-MAN: Shift held — jog keys move the arm";
pub const DEADMAN_RELEASED: &str = "DEAD-MAN: Shift released — the arm holds";

/// One small bar per joint: where it is between its limits, red within 5 % of a limit.
fn joint_bars_ui(ui: &mut Ui, robot: &kinedesk_models::robot::Robot, q: &[f64]) {
    ui.horizontal_wrapped(|ui| {
        for (index, (joint, value)) in robot.joints.iter().zip(q).enumerate() {
            let span = joint.limits.upper - joint.limits.lower;
            let fraction = if span > 0.0 { ((value - joint.limits.lower) / span).clamp(0.0, 1.0) } else { 0.5 };
            let near_limit = !(0.05..=0.95).contains(&fraction);
            let colour = if near_limit { palette::DANGER } else { palette::INFO };
            ui.add(
                ProgressBar::new(fraction as f32)
                    .desired_width(96.0)
                    .fill(colour)
                    .text(RichText::new(format!("J{} {:+.1}°", index + 1, value.to_degrees())).small()),
            )
            .on_hover_text(format!(
                "{}: {:.4} rad, limits [{:.3}, {:.3}]",
                joint.name, value, joint.limits.lower, joint.limits.upper
            ));
        }
    });
}

/// Teleop controls: arm/disarm (with a clear ARMED badge), mode, speed, joint.
fn teleop_ui(ui: &mut Ui, teleop: &crate::gui::teleop::Teleop, dof: usize, commands: &mut Vec<Command>) {
    use crate::gui::teleop::{JogMode, SPEEDS};
    ui.horizontal_wrapped(|ui| {
        if teleop.armed {
            ui.label(RichText::new(" ARMED ").strong().color(Color32::WHITE).background_color(palette::STOP))
                .on_hover_text("Teleop is armed: hold Shift and a jog key to move the arm");
            if ui.button("Disarm teleop").clicked() {
                commands.push(Command::SetTeleop(false));
            }
        } else if ui
            .button("Arm teleop")
            .on_hover_text("Jog the arm from the keyboard (hold Shift as a dead-man key)")
            .clicked()
        {
            commands.push(Command::SetTeleop(true));
        }
        for mode in [JogMode::Cartesian, JogMode::Joint] {
            if ui.selectable_label(teleop.mode == mode, mode.label()).clicked() {
                commands.push(Command::SetJogMode(mode));
            }
        }
        ComboBox::from_id_salt("jog_speed")
            .selected_text(speed_label(SPEEDS[teleop.speed.min(SPEEDS.len() - 1)], teleop.mode))
            .show_ui(ui, |ui| {
                for (index, speed) in SPEEDS.iter().enumerate() {
                    if ui.selectable_label(teleop.speed == index, speed_label(*speed, teleop.mode)).clicked() {
                        commands.push(Command::SetJogSpeed(index));
                    }
                }
            })
            .response
            .on_hover_text("Jog speed ([ and ] while armed)");
        if teleop.mode == JogMode::Joint {
            ComboBox::from_id_salt("jog_joint").selected_text(format!("J{}", teleop.joint + 1)).show_ui(ui, |ui| {
                for joint in 0..dof {
                    if ui.selectable_label(teleop.joint == joint, format!("J{}", joint + 1)).clicked() {
                        commands.push(Command::SetJogJoint(joint));
                    }
                }
            });
        }
        // The dead-man key: the arm moves only while Shift is held.
        if teleop.armed {
            let held = ui.input(|input| input.modifiers.shift);
            let (text, colour) =
                if held { (DEADMAN_HELD, palette::OK) } else { (DEADMAN_RELEASED, ui.visuals().weak_text_color()) };
            ui.label(RichText::new(text).strong().color(colour))
                .on_hover_text("Jog keys move the arm only while Shift (the dead-man key) is held");
        }
        let hint = match teleop.mode {
            JogMode::Cartesian => "Shift + W/S x, A/D y, R/F z, U/O roll, I/K pitch, J/L yaw",
            JogMode::Joint => "Shift + W/S move the joint; 1–7 select it",
        };
        ui.label(RichText::new(hint).small().weak());
    });
}

fn speed_label((linear, _, joint): (f64, f64, f64), mode: crate::gui::teleop::JogMode) -> String {
    match mode {
        crate::gui::teleop::JogMode::Cartesian => format!("{:.0} cm/s", linear * 100.0),
        crate::gui::teleop::JogMode::Joint => format!("{:.0}°/s", joint.to_degrees()),
    }
}
