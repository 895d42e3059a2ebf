//! `bench arm-view`: offscreen frame time of the wgpu 3D arm view with many ghost poses.

use anyhow::Context as _;
use std::time::Instant;

use super::{Report, Summary};

/// Result of `kinedesk bench arm-view`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArmViewBench {
    pub adapter: String,
    pub width: u32,
    pub height: u32,
    pub ghost_poses: usize,
    pub mesh_instances: usize,
    /// Building the scene (FK of every pose) and packing it for the GPU, on the CPU.
    pub scene_cpu: Summary,
    /// Recording, submitting and waiting for one offscreen frame (4x MSAA, depth, resolve).
    pub frame: Summary,
}

/// Renders the arm view offscreen `frames` times at `width`x`height` pixels with the live arm, start/goal/scrubbed
/// ghosts and `ghost_poses` sample ghosts of a 100-step trajectory, on the first adapter wgpu finds
/// (lavapipe on a machine without a GPU).
pub fn bench_arm_view(frames: usize, width: u32, height: u32, ghost_poses: usize) -> anyhow::Result<ArmViewBench> {
    use egui_wgpu::wgpu;
    use kinedesk_models::robot::{SafetyLimits, Trajectory, check_trajectory, panda};
    use kinedesk_widgets::arm_view::{
        ArmModel, ArmScene, ArmViewRenderer, GhostPreview, GpuScene, OrbitCamera, add_arm, add_ghost_trajectory,
    };

    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..wgpu::RequestAdapterOptions::default()
    }))
    .context("no wgpu adapter (install mesa-vulkan-drivers for lavapipe)")?;
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
        .context("could not open the wgpu device")?;
    let mut renderer = ArmViewRenderer::new(&device, wgpu::TextureFormat::Rgba8Unorm);

    let robot = panda();
    let joints: Vec<Vec<f64>> = (0..100)
        .map(|k| {
            let s = f64::from(k) / 99.0;
            let mut q = robot.rest_pose.clone();
            q[0] += 1.2 * s;
            q[1] += 0.4 * (s * std::f64::consts::PI).sin();
            q
        })
        .collect();
    let trajectory = Trajectory { dt_s: 0.05, joints };
    let report = check_trajectory(&robot, &trajectory, &SafetyLimits::for_robot(&robot));
    let build = |step: usize, camera: &OrbitCamera| -> anyhow::Result<GpuScene> {
        let mut scene = ArmScene::with_floor([0.09, 0.10, 0.12, 1.0], [0.5, 0.5, 0.55, 0.35]);
        add_arm(&mut scene, ArmModel { robot: &robot, visuals: &[] }, &robot.rest_pose, [0.78, 0.80, 0.84, 1.0], &[])?;
        let preview = GhostPreview {
            trajectory: &trajectory,
            step,
            report: Some(&report),
            samples: ghost_poses,
            highlight: None,
        };
        add_ghost_trajectory(&mut scene, ArmModel { robot: &robot, visuals: &[] }, preview)?;
        Ok(GpuScene::pack(&scene, camera.view_proj(width as f32 / height as f32)))
    };

    let mut camera = OrbitCamera::default();
    let mut scene_times = Vec::with_capacity(frames);
    let mut frame_times = Vec::with_capacity(frames);
    let mut instances = 0;
    for index in 0..frames + 5 {
        camera.orbit(2.0, 0.0);
        let started = Instant::now();
        let packed = build(index % 100, &camera)?;
        let scene_time = started.elapsed();
        instances = packed.instance_count();
        let started = Instant::now();
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("bench") });
        renderer.render(&device, &queue, &mut encoder, &packed, [width, height]);
        queue.submit([encoder.finish()]);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|error| anyhow::anyhow!("GPU wait failed: {error}"))?;
        if index >= 5 {
            scene_times.push(scene_time);
            frame_times.push(started.elapsed());
        }
    }
    Ok(ArmViewBench {
        adapter: format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type),
        width,
        height,
        ghost_poses,
        mesh_instances: instances,
        scene_cpu: Summary::micros(&scene_times).context("no frames")?,
        frame: Summary::millis(&frame_times).context("no frames")?,
    })
}

impl Report for ArmViewBench {
    fn print_text(&self) {
        let (f, c) = (&self.frame, &self.scene_cpu);
        println!(
            "Arm view {}x{}, {} ghost poses ({} mesh instances) on {}:",
            self.width, self.height, self.ghost_poses, self.mesh_instances, self.adapter
        );
        println!(
            "  frame (render + submit + wait): median {:.2} ms   p95 {:.2} ms   max {:.2} ms",
            f.median, f.p95, f.max
        );
        println!("  scene build + pack on the CPU: median {:.1} us   p95 {:.1} us", c.median, c.p95);
    }
}
