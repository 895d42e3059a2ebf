use egui::{Color32, ComboBox, ProgressBar, RichText, Ui};
use kinedesk_models::robot::BuiltinRobot;
use kinedesk_widgets::arm_view::{OrbitCamera, arm_view_ui};

use super::PaneContext;
use crate::arm_state::RobotSource;
use crate::command::Command;

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
            ui.label(RichText::new(live).color(Color32::from_rgb(60, 180, 75)));
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
            let field =
                ui.add(egui::TextEdit::singleline(&mut address).desired_width(190.0).hint_text("realman://host:port"));
            ui.data_mut(|data| data.insert_persisted(address_id, address.clone()));
            let enter = field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter));
            if ui.button("Connect").on_hover_text("Connect a Realman controller at this address").clicked() || enter {
                context.commands.push(Command::ConnectRealman(address));
            }
            ui.label(RichText::new("No robot connected: showing the model at its rest pose").weak());
        }
        if ui.small_button("Reset view").on_hover_text("Home while the view is hovered").clicked() {
            arm.camera = OrbitCamera::default();
        }
    });
    if let Some(state) = &arm.live {
        joint_bars_ui(ui, &arm.robot, &state.positions);
    }
    let scene = arm.scene(ui.visuals().dark_mode);
    arm_view_ui(ui, &mut arm.camera, &scene, arm.gpu);
}

/// One small bar per joint: where it is between its limits, red within 5 % of a limit.
fn joint_bars_ui(ui: &mut Ui, robot: &kinedesk_models::robot::Robot, q: &[f64]) {
    ui.horizontal_wrapped(|ui| {
        for (index, (joint, value)) in robot.joints.iter().zip(q).enumerate() {
            let span = joint.limits.upper - joint.limits.lower;
            let fraction = if span > 0.0 { ((value - joint.limits.lower) / span).clamp(0.0, 1.0) } else { 0.5 };
            let near_limit = !(0.05..=0.95).contains(&fraction);
            let colour = if near_limit { Color32::from_rgb(220, 60, 50) } else { Color32::from_rgb(70, 130, 200) };
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
