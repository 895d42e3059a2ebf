use egui::{ComboBox, RichText, Ui};
use kinedesk_models::robot::BuiltinRobot;
use kinedesk_widgets::arm_view::{OrbitCamera, arm_view_ui};

use super::PaneContext;
use crate::command::Command;

fn robot_label(kind: BuiltinRobot) -> &'static str {
    match kind {
        BuiltinRobot::Panda => "Franka Panda",
        BuiltinRobot::Rm75 => "Realman RM75",
    }
}

pub fn arm_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    let arm = &mut *context.arm;
    ui.horizontal(|ui| {
        ComboBox::from_id_salt("arm_robot")
            .selected_text(arm.label())
            .show_ui(ui, |ui| {
                for kind in BuiltinRobot::ALL {
                    let selected = arm.source == crate::arm_state::RobotSource::Builtin(kind);
                    if ui.selectable_label(selected, robot_label(kind)).clicked() {
                        context.commands.push(Command::SelectRobot(kind));
                    }
                }
            })
            .response
            .on_hover_text("Robot model shown in the 3D view");
        ui.label(RichText::new("No robot connected: showing the model at its rest pose").weak());
        if ui.small_button("Reset view").on_hover_text("Home while the view is hovered").clicked() {
            arm.camera = OrbitCamera::default();
        }
    });
    let scene = arm.scene(ui.visuals().dark_mode);
    arm_view_ui(ui, &mut arm.camera, &scene, arm.gpu);
}
