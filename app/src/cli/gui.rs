//! `kinedesk` / `kinedesk gui`: the desk window.

use std::path::PathBuf;

use crate::gui::app::{AppOptions, KineDeskApp};

/// Opens the window and runs it until it is closed.
pub fn run(mut options: AppOptions, state_dir: Option<PathBuf>) -> anyhow::Result<()> {
    // The operator's own policy profiles live beside the saved state.
    let dir = state_dir.clone().or_else(|| eframe::storage_dir("kinedesk"));
    options.profile_dir = dir.map(|dir| dir.join("profiles"));
    let native_options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("KineDesk")
            .with_app_id("kinedesk")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([960.0, 600.0]),
        renderer: eframe::Renderer::Wgpu,
        persistence_path: state_dir.map(|dir| dir.join("app.ron")),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native("KineDesk", native_options, Box::new(move |cc| Ok(Box::new(KineDeskApp::new(cc, options)))))
        .map_err(|error| {
            anyhow::anyhow!(
                "could not open the KineDesk window: {error}\n\
             A display (X11 or Wayland) and a Vulkan, Metal, DX12 or GL driver are needed. Headless machines can run \
             `kinedesk bench ui` and the test suite, or the window under Xvfb with Mesa (see README.md)."
            )
        })
}
