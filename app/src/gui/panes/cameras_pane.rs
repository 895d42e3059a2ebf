//! The Cameras pane: a grid of feeds (or one maximised), each with a badge (fps, capture-to-screen latency, drops,
//! resolution) and a status line when it is reconnecting; adding feeds (test pattern, arm view, image folder,
//! devices), removing them, popping one out into its own window, and device settings.

use egui::{Color32, Rect, RichText, Sense, Ui, vec2};
use kinedesk_models::camera::CameraStatus;
use kinedesk_models::camera::device::DeviceRequest;
use kinedesk_widgets::palette;
use kinedesk_widgets::placeholder_ui;

use super::PaneContext;
use crate::gui::camera_feeds::{CameraSpec, Feed};
use crate::gui::command::Command;

/// Accessibility label of the add-camera menu.
pub const ADD_CAMERA_LABEL: &str = "Add camera";
/// Label of the ROS 2 image topic box in the add-camera menu.
pub const ROS2_TOPIC_LABEL: &str = "ROS 2 topic";

fn next_name(context: &PaneContext<'_>, base: &str) -> String {
    let taken = |name: &str| context.cameras.feeds.iter().any(|f| f.spec.name() == name);
    if !taken(base) {
        return base.to_owned();
    }
    (2..).map(|n| format!("{base} {n}")).find(|name| !taken(name)).unwrap_or_else(|| base.to_owned())
}

fn add_menu_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    ui.menu_button(ADD_CAMERA_LABEL, |ui| {
        if ui.button("Test pattern (640×480, 30 fps)").clicked() {
            let name = next_name(context, "pattern");
            context.commands.push(Command::AddCamera(CameraSpec::TestPattern {
                name,
                width: 640,
                height: 480,
                fps: 30,
            }));
        }
        if ui.button("Arm view (rendered, 640×480, 30 fps)").clicked() {
            let name = next_name(context, "arm view");
            context.commands.push(Command::AddCamera(CameraSpec::ArmView { name, width: 640, height: 480, fps: 30 }));
        }
        if ui.button("Test pattern that unplugs every 5 s").on_hover_text("Try the reconnect path").clicked() {
            let name = next_name(context, "unplugging");
            context.commands.push(Command::AddCamera(CameraSpec::Unplugging { name, frames: 150, down_ms: 2000 }));
        }
        ui.separator();
        ui.horizontal(|ui| {
            let id = egui::Id::unique("kinedesk_camera_folder");
            let mut path = ui.data_mut(|d| d.get_persisted_mut_or_default::<String>(id).clone());
            ui.add(egui::TextEdit::singleline(&mut path).hint_text("/path/to/images").desired_width(180.0));
            ui.data_mut(|d| d.insert_persisted(id, path.clone()));
            if ui.add_enabled(!path.trim().is_empty(), egui::Button::new("Add folder")).clicked() {
                let name = next_name(context, "folder");
                context.commands.push(Command::AddCamera(CameraSpec::Folder {
                    name,
                    path: path.trim().into(),
                    fps: 10,
                }));
            }
        });
        ui.horizontal(|ui| {
            let id = egui::Id::unique("kinedesk_camera_ros2_topic");
            let mut topic = ui.data_mut(|d| d.get_persisted_mut_or_default::<String>(id).clone());
            let label = ui.label(ROS2_TOPIC_LABEL);
            ui.add(egui::TextEdit::singleline(&mut topic).hint_text("/camera/image_raw").desired_width(150.0))
                .labelled_by(label.id);
            ui.data_mut(|d| d.insert_persisted(id, topic.clone()));
            let spec = CameraSpec::parse(&format!("ros2:{}", topic.trim()), 1);
            let button = ui
                .add_enabled(spec.is_ok(), egui::Button::new("Add topic"))
                .on_hover_text("A ROS 2 image topic (sensor_msgs/Image or CompressedImage); ?fps=N&domain=D after it")
                .on_disabled_hover_text("Type a topic that starts with /, e.g. /camera/image_raw");
            if button.clicked()
                && let Ok(spec) = spec
            {
                context.commands.push(Command::AddCamera(spec));
            }
        });
        ui.separator();
        if ui.button("Find cameras").on_hover_text("List the cameras this computer has (V4L2)").clicked() {
            context.commands.push(Command::FindCameras);
        }
        match &context.cameras.device_list() {
            None => {}
            Some(Err(error)) => {
                ui.label(RichText::new(error).color(palette::WARNING));
            }
            Some(Ok(devices)) if devices.is_empty() => {
                ui.label("No camera found on this computer.");
            }
            Some(Ok(devices)) => {
                for device in devices {
                    if ui.button(format!("{} ({})", device.name, device.description)).clicked() {
                        context.commands.push(Command::AddCamera(CameraSpec::Device {
                            name: next_name(context, &device.name),
                            request: DeviceRequest { index: device.index, ..DeviceRequest::default() },
                            settings: Vec::new(),
                        }));
                    }
                }
            }
        }
    });
}

/// Draws one feed into `rect`; returns whether it was double-clicked.
fn feed_ui(ui: &mut Ui, feed: &Feed, index: usize, rect: Rect, commands: &mut Vec<Command>) {
    let response = ui.interact(rect, ui.scope_id().with(("camera_tile", index)), Sense::click());
    ui.painter().rect_filled(rect, 2.0, palette::CAMERA_BACKGROUND);
    if let Some(texture) = &feed.texture {
        let size = texture.size_vec2();
        let scale = (rect.width() / size.x).min(rect.height() / size.y);
        let image = Rect::from_center_size(rect.center(), size * scale);
        ui.painter().image(
            texture.id(),
            image,
            Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
            Color32::WHITE,
        );
    }
    let name = feed.spec.name();
    let badge = format!("{name}: {}", feed.badge());
    let badge_rect =
        Rect::from_min_size(egui::pos2(rect.min.x + 4.0, rect.max.y - 22.0), vec2(rect.width() - 8.0, 18.0));
    let colour = if feed.camera_lost() > 0 { palette::WARNING } else { Color32::WHITE };
    ui.put(
        badge_rect,
        egui::Label::new(RichText::new(badge).small().color(colour).background_color(Color32::from_black_alpha(170)))
            .truncate()
            .sense(Sense::hover()),
    )
    .on_hover_text(feed.badge_details());
    let status = match feed.handle.status() {
        CameraStatus::Lost { reason } => Some((format!("{reason} — reconnecting…"), palette::WARNING)),
        CameraStatus::Opening => Some(("opening…".to_owned(), Color32::LIGHT_GRAY)),
        CameraStatus::Stopped => Some(("stopped".to_owned(), Color32::LIGHT_GRAY)),
        CameraStatus::Streaming(_) => None,
    };
    if let Some((text, colour)) = status {
        let at = Rect::from_center_size(rect.center(), vec2(rect.width() - 16.0, 22.0));
        ui.put(
            at,
            egui::Label::new(RichText::new(text).color(colour).background_color(Color32::from_black_alpha(200)))
                .truncate(),
        );
    }
    if response.double_clicked() {
        commands.push(Command::MaximiseCamera(Some(name.to_owned())));
    }
    response.context_menu(|ui| {
        if ui.button("Maximise").clicked() {
            commands.push(Command::MaximiseCamera(Some(name.to_owned())));
        }
        if ui.button("Pop out into a window").clicked() {
            commands.push(Command::PopOutCamera { name: name.to_owned(), out: true });
        }
        if ui.button("Remove").clicked() {
            commands.push(Command::RemoveCamera(name.to_owned()));
        }
    });
}

fn settings_ui(ui: &mut Ui, feed: &Feed, commands: &mut Vec<Command>) {
    let settings = feed.handle.settings();
    if settings.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("{}:", feed.spec.name()));
        for setting in settings {
            let mut value = setting.value;
            let slider = egui::Slider::new(&mut value, setting.min..=setting.max).text(setting.name.replace('_', " "));
            if ui.add(slider).drag_stopped() {
                commands.push(Command::SetCameraSetting {
                    camera: feed.spec.name().to_owned(),
                    setting: setting.name,
                    value,
                });
            }
        }
    });
}

pub fn cameras_pane_ui(ui: &mut Ui, context: &mut PaneContext<'_>) {
    ui.horizontal(|ui| {
        add_menu_ui(ui, context);
        if let Some(name) = context.cameras.maximised.clone() {
            if ui.button("Show all").on_hover_text("Back to the grid (double-click a feed to maximise it)").clicked() {
                context.commands.push(Command::MaximiseCamera(None));
            }
            ui.label(RichText::new(format!("{name} maximised")).weak());
        } else if !context.cameras.feeds.is_empty() {
            ui.label(RichText::new("double-click: maximise · right-click: pop out, remove").weak());
        }
    });
    for feed in &context.cameras.feeds {
        settings_ui(ui, feed, context.commands);
    }
    if context.cameras.feeds.is_empty() {
        placeholder_ui(
            ui,
            "No camera connected",
            "Add a camera: a device, the test pattern, the arm view or an image folder.",
        );
        return;
    }
    let shown: Vec<usize> = match &context.cameras.maximised {
        Some(name) => context.cameras.feeds.iter().position(|f| f.spec.name() == name).into_iter().collect(),
        None => (0..context.cameras.feeds.len())
            .filter(|i| !context.cameras.popped_out.iter().any(|n| n == context.cameras.feeds[*i].spec.name()))
            .collect(),
    };
    if shown.is_empty() {
        ui.label(RichText::new("Every feed is in its own window.").weak());
        return;
    }
    let available = ui.available_rect_before_wrap();
    let columns = (shown.len() as f32).sqrt().ceil().max(1.0) as usize;
    let rows = shown.len().div_ceil(columns);
    let cell = vec2(available.width() / columns as f32, available.height() / rows as f32);
    for (slot, index) in shown.iter().enumerate() {
        let (row, column) = (slot / columns, slot % columns);
        let min = available.min + vec2(column as f32 * cell.x, row as f32 * cell.y);
        let rect = Rect::from_min_size(min, cell).shrink(2.0);
        feed_ui(ui, &context.cameras.feeds[*index], *index, rect, context.commands);
    }
    ui.allocate_rect(available, Sense::hover());
}

/// A feed in its own window (a native viewport where the platform has them).
pub fn popped_out_ui(ui: &mut Ui, feed: &Feed) {
    ui.label(RichText::new(feed.badge()).small()).on_hover_text(feed.badge_details());
    if let Some(texture) = &feed.texture {
        let size = texture.size_vec2();
        let room = ui.available_size();
        let scale = (room.x / size.x).min(room.y / size.y).max(0.05);
        ui.image((texture.id(), size * scale));
    }
}
