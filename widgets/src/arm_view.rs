//! The 3D arm view: a real wgpu pipeline inside egui.
//!
//! - [`scene`]: what is drawn, as plain data (capsules, coloured segments).
//! - [`robot_scene`]: builds scenes from a robot model: live arm, ghost trajectory, failed-check highlighting.
//! - [`camera`]: the orbit camera.
//! - [`renderer`]: wgpu pipelines, the offscreen MSAA + depth target, and the egui paint callback.

pub mod camera;
pub mod gpu_scene;
mod meshes;
pub mod renderer;
pub mod robot_scene;
pub mod scene;

use std::sync::Arc;

use egui::{Key, PointerButton, Response, RichText, Sense, Ui, vec2};

pub use camera::OrbitCamera;
pub use gpu_scene::GpuScene;
pub use renderer::{ArmViewCallback, ArmViewRenderer};
pub use robot_scene::{ArmModel, GhostPreview, add_arm, add_ghost_trajectory};
pub use scene::{ArmScene, Capsule, MeshDraw, Rgba, Segment};

/// Accessible label of the 3D view.
pub const ARM_VIEW_LABEL: &str = "3D arm view";

/// Draws `scene` through `camera` in all the available space, and lets the operator move the camera:
/// drag to orbit, right- or middle-drag to pan, scroll to zoom; while hovered, arrow keys orbit, `+`/`-` zoom and
/// `Home` resets; double-click also resets. `gpu` says whether [`ArmViewRenderer::install`] ran.
pub fn arm_view_ui(ui: &mut Ui, camera: &mut OrbitCamera, scene: &ArmScene, gpu: bool) -> Response {
    let size = ui.available_size().max(vec2(64.0, 64.0));
    let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, ARM_VIEW_LABEL));

    if response.dragged_by(PointerButton::Primary) {
        let delta = response.drag_delta();
        camera.orbit(delta.x, delta.y);
    }
    if response.dragged_by(PointerButton::Secondary) || response.dragged_by(PointerButton::Middle) {
        let delta = response.drag_delta();
        camera.pan(delta.x, delta.y, rect.height());
    }
    let mut reset = response.double_clicked();
    if response.hovered() {
        let (scroll, keys) = ui.input(|input| {
            (
                input.smooth_scroll_delta.y,
                [
                    Key::ArrowLeft,
                    Key::ArrowRight,
                    Key::ArrowUp,
                    Key::ArrowDown,
                    Key::Plus,
                    Key::Equals,
                    Key::Minus,
                    Key::Home,
                ]
                .map(|key| input.key_pressed(key)),
            )
        });
        if scroll != 0.0 {
            camera.zoom((scroll * 0.002).exp());
        }
        let [left, right, up, down, plus, equals, minus, home] = keys;
        let step = 20.0;
        camera.orbit(
            if left {
                -step
            } else if right {
                step
            } else {
                0.0
            },
            if up {
                step
            } else if down {
                -step
            } else {
                0.0
            },
        );
        if plus || equals {
            camera.zoom(1.15);
        }
        if minus {
            camera.zoom(1.0 / 1.15);
        }
        reset |= home;
    }
    if reset {
        *camera = OrbitCamera::default();
        if let Some((centre, radius)) = scene.bounds() {
            camera.frame(centre, radius);
        }
    }

    // The scene is packed even without a GPU, so CPU benchmarks measure the same work.
    let packed = GpuScene::pack(scene, camera.view_proj(rect.width() / rect.height()));
    if gpu {
        let pixels_per_point = ui.ctx().pixels_per_point();
        let size_px =
            [(rect.width() * pixels_per_point).round() as u32, (rect.height() * pixels_per_point).round() as u32];
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, ArmViewCallback { scene: Arc::new(packed), size_px }));
    } else {
        ui.put(
            egui::Rect::from_center_size(rect.center(), vec2(rect.width(), 24.0)),
            egui::Label::new(RichText::new("The 3D view needs the wgpu renderer.").weak()).selectable(false),
        );
    }
    let hint = "drag: orbit · right-drag: pan · scroll: zoom · Home: reset";
    ui.put(
        egui::Rect::from_min_size(rect.left_bottom() + vec2(6.0, -20.0), vec2(rect.width() - 12.0, 16.0)),
        egui::Label::new(RichText::new(hint).small().weak()).selectable(false),
    );
    response
}
