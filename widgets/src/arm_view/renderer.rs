//! The wgpu side of the arm view.
//!
//! [`ArmViewRenderer::install`] creates the pipelines once and stores them in egui_wgpu's callback resources.
//! Each frame the widget adds an [`ArmViewCallback`]; in `prepare` it renders the scene into its own offscreen
//! target (4× MSAA colour + depth, resolved to a single-sample texture) on egui's command encoder, and in `paint`
//! it composites that texture into egui's render pass with a fullscreen triangle.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use kinedesk_core::robot::TriangleMesh;

use egui_wgpu::wgpu::{self};

use super::gpu_scene::{GpuScene, InstanceRanges};
use super::meshes::{Mesh, MeshData, unit_cylinder, unit_sphere, upload_mesh};

/// MSAA sample count of the offscreen target.
pub const MSAA_SAMPLES: u32 = 4;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// The offscreen image holds gamma-space colours like egui's, so it is stored without sRGB conversion.
const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const LIGHT_DIR: [f32; 4] = [0.45, 0.35, 0.82, 0.0];
/// Floats per mesh instance: model matrix (16) + colour (4).
pub(super) const INSTANCE_FLOATS: usize = 20;
/// Floats per line vertex: position (3) + colour (4).
pub(super) const LINE_FLOATS: usize = 7;
/// A growable GPU buffer that is rewritten each frame.
struct DynamicBuffer {
    buffer: wgpu::Buffer,
    capacity_bytes: u64,
    usage: wgpu::BufferUsages,
    label: &'static str,
}

impl DynamicBuffer {
    fn new(device: &wgpu::Device, label: &'static str, usage: wgpu::BufferUsages) -> Self {
        let capacity_bytes = 4096;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: capacity_bytes,
            usage: usage | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self { buffer, capacity_bytes, usage, label }
    }

    fn write(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, data: &[f32]) {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if bytes.is_empty() {
            return;
        }
        if bytes.len() as u64 > self.capacity_bytes {
            self.capacity_bytes = (bytes.len() as u64).next_power_of_two();
            self.buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(self.label),
                size: self.capacity_bytes,
                usage: self.usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
        }
        queue.write_buffer(&self.buffer, 0, bytes);
    }
}

struct Targets {
    size: [u32; 2],
    msaa: wgpu::TextureView,
    depth: wgpu::TextureView,
    resolved: wgpu::TextureView,
    composite_bind_group: wgpu::BindGroup,
}

/// GPU state of the arm view, kept in egui_wgpu's `callback_resources`.
pub struct ArmViewRenderer {
    globals: wgpu::Buffer,
    globals_bind_group: wgpu::BindGroup,
    mesh_opaque: wgpu::RenderPipeline,
    mesh_transparent: wgpu::RenderPipeline,
    lines: wgpu::RenderPipeline,
    composite: wgpu::RenderPipeline,
    composite_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    cylinder: Mesh,
    sphere: Mesh,
    opaque_instances: DynamicBuffer,
    transparent_instances: DynamicBuffer,
    line_vertices: DynamicBuffer,
    mesh_instances: DynamicBuffer,
    /// GPU copies of scene meshes, keyed by the `Arc`'s address; dropped once the scene no longer holds the mesh.
    mesh_cache: HashMap<usize, (Weak<TriangleMesh>, Mesh)>,
    targets: Option<Targets>,
}

impl ArmViewRenderer {
    /// Creates the pipelines and stores the renderer where [`ArmViewCallback`] finds it.
    /// Call once, with the render state eframe (or egui_kittest) created.
    pub fn install(render_state: &egui_wgpu::RenderState) {
        let renderer = Self::new(&render_state.device, render_state.target_format);
        render_state.renderer.write().callback_resources.insert(renderer);
    }

    #[must_use]
    pub fn new(device: &wgpu::Device, egui_target_format: wgpu::TextureFormat) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("arm_view.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("arm_view.wgsl").into()),
        });
        let globals_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("arm_view globals"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("arm_view globals"),
            size: 80,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let globals_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("arm_view globals"),
            layout: &globals_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: globals.as_entire_binding() }],
        });
        let scene_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("arm_view scene"),
            bind_group_layouts: &[Some(&globals_layout)],
            immediate_size: 0,
        });

        let mesh_buffers = [
            Some(wgpu::VertexBufferLayout {
                array_stride: 24,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3],
            }),
            Some(wgpu::VertexBufferLayout {
                array_stride: (INSTANCE_FLOATS * 4) as u64,
                step_mode: wgpu::VertexStepMode::Instance,
                attributes: &wgpu::vertex_attr_array![
                    2 => Float32x4, 3 => Float32x4, 4 => Float32x4, 5 => Float32x4, 6 => Float32x4
                ],
            }),
        ];
        let line_buffers = [Some(wgpu::VertexBufferLayout {
            array_stride: (LINE_FLOATS * 4) as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x4],
        })];
        let scene_pipeline = |label: &str,
                              vs: &str,
                              fs: &str,
                              buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
                              topology: wgpu::PrimitiveTopology,
                              depth_write: bool| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&scene_layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some(vs),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    buffers,
                },
                primitive: wgpu::PrimitiveState { topology, ..wgpu::PrimitiveState::default() },
                depth_stencil: Some(wgpu::DepthStencilState {
                    format: DEPTH_FORMAT,
                    depth_write_enabled: Some(depth_write),
                    depth_compare: Some(wgpu::CompareFunction::LessEqual),
                    stencil: wgpu::StencilState::default(),
                    bias: wgpu::DepthBiasState::default(),
                }),
                multisample: wgpu::MultisampleState { count: MSAA_SAMPLES, mask: !0, alpha_to_coverage_enabled: false },
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some(fs),
                    compilation_options: wgpu::PipelineCompilationOptions::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format: OFFSCREEN_FORMAT,
                        blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        let mesh_opaque = scene_pipeline(
            "arm_view mesh",
            "vs_mesh",
            "fs_mesh",
            &mesh_buffers,
            wgpu::PrimitiveTopology::TriangleList,
            true,
        );
        let mesh_transparent = scene_pipeline(
            "arm_view ghost mesh",
            "vs_mesh",
            "fs_mesh",
            &mesh_buffers,
            wgpu::PrimitiveTopology::TriangleList,
            false,
        );
        let lines = scene_pipeline(
            "arm_view lines",
            "vs_line",
            "fs_line",
            &line_buffers,
            wgpu::PrimitiveTopology::LineList,
            true,
        );

        let composite_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("arm_view composite"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let composite_pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("arm_view composite"),
            bind_group_layouts: &[Some(&composite_layout)],
            immediate_size: 0,
        });
        // egui's own pass: single-sampled, no depth (eframe's default, which KineDesk keeps).
        let composite = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("arm_view composite"),
            layout: Some(&composite_pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_composite"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_composite"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: egui_target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("arm_view composite"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..wgpu::SamplerDescriptor::default()
        });

        let vertex_usage = wgpu::BufferUsages::VERTEX;
        Self {
            globals,
            globals_bind_group,
            mesh_opaque,
            mesh_transparent,
            lines,
            composite,
            composite_layout,
            sampler,
            cylinder: upload_mesh(device, "arm_view cylinder", &unit_cylinder(24)),
            sphere: upload_mesh(device, "arm_view sphere", &unit_sphere(8, 16)),
            opaque_instances: DynamicBuffer::new(device, "arm_view opaque instances", vertex_usage),
            transparent_instances: DynamicBuffer::new(device, "arm_view ghost instances", vertex_usage),
            line_vertices: DynamicBuffer::new(device, "arm_view lines", vertex_usage),
            mesh_instances: DynamicBuffer::new(device, "arm_view mesh instances", vertex_usage),
            mesh_cache: HashMap::new(),
            targets: None,
        }
    }

    fn ensure_targets(&mut self, device: &wgpu::Device, size: [u32; 2]) {
        if self.targets.as_ref().is_some_and(|targets| targets.size == size) {
            return;
        }
        let extent = wgpu::Extent3d { width: size[0], height: size[1], depth_or_array_layers: 1 };
        let texture = |label: &str, format: wgpu::TextureFormat, samples: u32, usage: wgpu::TextureUsages| {
            device
                .create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: extent,
                    mip_level_count: 1,
                    sample_count: samples,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage,
                    view_formats: &[],
                })
                .create_view(&wgpu::TextureViewDescriptor::default())
        };
        let attachment = wgpu::TextureUsages::RENDER_ATTACHMENT;
        let msaa = texture("arm_view msaa colour", OFFSCREEN_FORMAT, MSAA_SAMPLES, attachment);
        let depth = texture("arm_view depth", DEPTH_FORMAT, MSAA_SAMPLES, attachment);
        let resolved =
            texture("arm_view resolved", OFFSCREEN_FORMAT, 1, attachment | wgpu::TextureUsages::TEXTURE_BINDING);
        let composite_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("arm_view composite"),
            layout: &self.composite_layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&resolved) },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&self.sampler) },
            ],
        });
        self.targets = Some(Targets { size, msaa, depth, resolved, composite_bind_group });
    }

    /// Renders `scene` offscreen at `size` pixels into `encoder`. Returns the number of mesh instances drawn.
    pub fn render(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        scene: &GpuScene,
        size: [u32; 2],
    ) -> usize {
        let size = [size[0].clamp(1, 8192), size[1].clamp(1, 8192)];
        self.ensure_targets(device, size);
        let mut globals = [0.0_f32; 20];
        globals[..16].copy_from_slice(&scene.view_proj.to_cols_array());
        globals[16..].copy_from_slice(&LIGHT_DIR);
        queue.write_buffer(&self.globals, 0, bytemuck::cast_slice(&globals));
        self.opaque_instances.write(device, queue, &scene.opaque);
        self.transparent_instances.write(device, queue, &scene.transparent);
        self.line_vertices.write(device, queue, &scene.lines);
        self.mesh_instances.write(device, queue, &scene.mesh_instances);
        self.mesh_cache.retain(|_, (weak, _)| weak.strong_count() > 0);
        for batch in &scene.mesh_batches {
            let key = Arc::as_ptr(&batch.mesh) as usize;
            self.mesh_cache.entry(key).or_insert_with(|| {
                let data = MeshData {
                    vertices: batch
                        .mesh
                        .positions
                        .iter()
                        .zip(&batch.mesh.normals)
                        .flat_map(|(p, n)| [p[0], p[1], p[2], n[0], n[1], n[2]])
                        .collect(),
                    indices: batch.mesh.indices.clone(),
                };
                (Arc::downgrade(&batch.mesh), upload_mesh(device, "arm_view urdf mesh", &data))
            });
        }

        let Some(targets) = &self.targets else {
            return 0;
        };
        let [r, g, b, a] = scene.background.map(f64::from);
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("arm_view scene"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &targets.msaa,
                depth_slice: None,
                // The MSAA image is resolved into the texture the composite pass samples.
                resolve_target: Some(&targets.resolved),
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                    store: wgpu::StoreOp::Discard,
                },
            })],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: &targets.depth,
                depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Discard }),
                stencil_ops: None,
            }),
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_bind_group(0, &self.globals_bind_group, &[]);
        let draw_instances = |pass: &mut wgpu::RenderPass<'_>, buffer: &DynamicBuffer, ranges: &InstanceRanges| {
            let mut drawn = 0;
            for (mesh, range) in [(&self.cylinder, ranges.cylinders.clone()), (&self.sphere, ranges.spheres.clone())] {
                if range.is_empty() {
                    continue;
                }
                pass.set_vertex_buffer(0, mesh.vertices.slice(..));
                pass.set_vertex_buffer(1, buffer.buffer.slice(..));
                pass.set_index_buffer(mesh.indices.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..mesh.index_count, 0, range.clone());
                drawn += range.len();
            }
            drawn
        };
        let draw_batches = |pass: &mut wgpu::RenderPass<'_>, opaque: bool| {
            let mut drawn = 0;
            for batch in scene.mesh_batches.iter().filter(|batch| batch.opaque == opaque) {
                if let Some((_, mesh)) = self.mesh_cache.get(&(Arc::as_ptr(&batch.mesh) as usize)) {
                    pass.set_vertex_buffer(0, mesh.vertices.slice(..));
                    pass.set_vertex_buffer(1, self.mesh_instances.buffer.slice(..));
                    pass.set_index_buffer(mesh.indices.slice(..), wgpu::IndexFormat::Uint32);
                    pass.draw_indexed(0..mesh.index_count, 0, batch.instances.clone());
                    drawn += batch.instances.len();
                }
            }
            drawn
        };
        pass.set_pipeline(&self.mesh_opaque);
        let mut drawn = draw_instances(&mut pass, &self.opaque_instances, &scene.opaque_ranges);
        drawn += draw_batches(&mut pass, true);
        if !scene.lines.is_empty() {
            pass.set_pipeline(&self.lines);
            pass.set_vertex_buffer(0, self.line_vertices.buffer.slice(..));
            pass.draw(0..(scene.lines.len() / LINE_FLOATS) as u32, 0..1);
        }
        pass.set_pipeline(&self.mesh_transparent);
        drawn += draw_instances(&mut pass, &self.transparent_instances, &scene.transparent_ranges);
        drawn += draw_batches(&mut pass, false);
        drop(pass);
        drawn
    }

    /// Draws the resolved offscreen image into the current (egui) render pass.
    pub fn composite(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let Some(targets) = &self.targets {
            pass.set_pipeline(&self.composite);
            pass.set_bind_group(0, &targets.composite_bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }
}
/// The paint callback the widget adds each frame.
pub struct ArmViewCallback {
    pub scene: Arc<GpuScene>,
    pub size_px: [u32; 2],
}

impl egui_wgpu::CallbackTrait for ArmViewCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen_descriptor: &egui_wgpu::ScreenDescriptor,
        egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(renderer) = callback_resources.get_mut::<ArmViewRenderer>() {
            renderer.render(device, queue, egui_encoder, &self.scene, self.size_px);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        callback_resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(renderer) = callback_resources.get::<ArmViewRenderer>() {
            renderer.composite(render_pass);
        }
    }
}
