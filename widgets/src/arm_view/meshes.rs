//! The unit meshes the arm view instances (a cylinder and a sphere) and how meshes are uploaded.

use egui_wgpu::wgpu::{self, util::DeviceExt as _};

/// A mesh on the GPU.
pub(super) struct Mesh {
    pub(super) vertices: wgpu::Buffer,
    pub(super) indices: wgpu::Buffer,
    pub(super) index_count: u32,
}

/// Vertex data: `[x, y, z, nx, ny, nz]` per vertex, and triangle indices.
pub(super) struct MeshData {
    pub(super) vertices: Vec<f32>,
    pub(super) indices: Vec<u32>,
}

pub(super) fn upload_mesh(device: &wgpu::Device, label: &str, data: &MeshData) -> Mesh {
    Mesh {
        vertices: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&data.vertices),
            usage: wgpu::BufferUsages::VERTEX,
        }),
        indices: device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&data.indices),
            usage: wgpu::BufferUsages::INDEX,
        }),
        index_count: data.indices.len() as u32,
    }
}

/// Open cylinder of radius 1 from z = 0 to z = 1 (the capsule's spheres close it).
pub(super) fn unit_cylinder(segments: u32) -> MeshData {
    let mut vertices = Vec::new();
    for i in 0..=segments {
        let angle = i as f32 / segments as f32 * std::f32::consts::TAU;
        let (s, c) = angle.sin_cos();
        for z in [0.0, 1.0] {
            vertices.extend_from_slice(&[c, s, z, c, s, 0.0]);
        }
    }
    let mut indices = Vec::new();
    for i in 0..segments {
        let k = i * 2;
        indices.extend_from_slice(&[k, k + 2, k + 1, k + 1, k + 2, k + 3]);
    }
    MeshData { vertices, indices }
}

/// UV sphere of radius 1.
pub(super) fn unit_sphere(rings: u32, segments: u32) -> MeshData {
    let mut vertices = Vec::new();
    for ring in 0..=rings {
        let polar = ring as f32 / rings as f32 * std::f32::consts::PI;
        let (sp, cp) = polar.sin_cos();
        for i in 0..=segments {
            let angle = i as f32 / segments as f32 * std::f32::consts::TAU;
            let (s, c) = angle.sin_cos();
            let n = [sp * c, sp * s, cp];
            vertices.extend_from_slice(&[n[0], n[1], n[2], n[0], n[1], n[2]]);
        }
    }
    let mut indices = Vec::new();
    let row = segments + 1;
    for ring in 0..rings {
        for i in 0..segments {
            let a = ring * row + i;
            let b = a + row;
            indices.extend_from_slice(&[a, b, a + 1, a + 1, b, b + 1]);
        }
    }
    MeshData { vertices, indices }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meshes_index_only_their_own_vertices() {
        for mesh in [unit_cylinder(24), unit_sphere(10, 20)] {
            let count = (mesh.vertices.len() / 6) as u32;
            assert!(mesh.indices.iter().all(|i| *i < count));
            assert_eq!(mesh.indices.len() % 3, 0);
        }
    }
}
