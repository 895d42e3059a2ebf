//! The scene packed for the GPU: instance arrays (model matrix and colour) for capsules, meshes and lines, split
//! into opaque and translucent ranges. Built on the CPU each frame from an [`ArmScene`].

use std::sync::Arc;

use glam::{Mat4, Quat, Vec3};
use kinedesk_core::robot::TriangleMesh;

use super::renderer::{INSTANCE_FLOATS, LINE_FLOATS};
use super::scene::ArmScene;

/// Which instances of a buffer are cylinders and which are spheres.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceRanges {
    pub cylinders: std::ops::Range<u32>,
    pub spheres: std::ops::Range<u32>,
}

/// Instances of one mesh, drawn in one call.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshBatch {
    pub mesh: Arc<TriangleMesh>,
    pub opaque: bool,
    /// Range in [`GpuScene::mesh_instances`] (in instances).
    pub instances: std::ops::Range<u32>,
}

/// A scene packed for the GPU: instance and line data as flat `f32` arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuScene {
    pub mesh_instances: Vec<f32>,
    pub mesh_batches: Vec<MeshBatch>,
    pub view_proj: Mat4,
    pub background: [f32; 4],
    pub opaque: Vec<f32>,
    pub opaque_ranges: InstanceRanges,
    pub transparent: Vec<f32>,
    pub transparent_ranges: InstanceRanges,
    pub lines: Vec<f32>,
}

impl GpuScene {
    /// Packs capsules into cylinder + sphere instances (opaque and translucent apart) and lines into vertices.
    #[must_use]
    pub fn pack(scene: &ArmScene, view_proj: Mat4) -> Self {
        let mut packed = Self { view_proj, background: scene.background, ..Self::default() };
        let (opaque, transparent): (Vec<_>, Vec<_>) =
            scene.capsules.iter().partition(|capsule| capsule.color[3] >= 0.999);
        packed.opaque_ranges = pack_capsules(&opaque, &mut packed.opaque);
        packed.transparent_ranges = pack_capsules(&transparent, &mut packed.transparent);
        // Group mesh draws by mesh and opacity, so each group is one instanced draw.
        let mut groups: Vec<(Arc<TriangleMesh>, bool, Vec<&super::scene::MeshDraw>)> = Vec::new();
        for draw in &scene.meshes {
            let opaque = draw.color[3] >= 0.999;
            match groups.iter_mut().find(|(mesh, o, _)| Arc::ptr_eq(mesh, &draw.mesh) && *o == opaque) {
                Some((_, _, draws)) => draws.push(draw),
                None => groups.push((draw.mesh.clone(), opaque, vec![draw])),
            }
        }
        for (mesh, opaque, draws) in groups {
            let start = (packed.mesh_instances.len() / INSTANCE_FLOATS) as u32;
            for draw in &draws {
                packed.mesh_instances.extend_from_slice(&draw.model.to_cols_array());
                packed.mesh_instances.extend_from_slice(&draw.color);
            }
            packed.mesh_batches.push(MeshBatch { mesh, opaque, instances: start..start + draws.len() as u32 });
        }
        packed.lines.reserve(scene.segments.len() * 2 * LINE_FLOATS);
        for segment in &scene.segments {
            packed.lines.extend_from_slice(&segment.a.to_array());
            packed.lines.extend_from_slice(&segment.color_a);
            packed.lines.extend_from_slice(&segment.b.to_array());
            packed.lines.extend_from_slice(&segment.color_b);
        }
        packed
    }

    #[must_use]
    pub fn instance_count(&self) -> usize {
        (self.opaque.len() + self.transparent.len() + self.mesh_instances.len()) / INSTANCE_FLOATS
    }
}

fn pack_capsules(capsules: &[&super::scene::Capsule], out: &mut Vec<f32>) -> InstanceRanges {
    let mut push = |model: Mat4, color: [f32; 4]| {
        out.extend_from_slice(&model.to_cols_array());
        out.extend_from_slice(&color);
    };
    let mut cylinders = 0;
    for capsule in capsules {
        let axis = capsule.b - capsule.a;
        let length = axis.length();
        if length > 1e-6 {
            let rotation = Quat::from_rotation_arc(Vec3::Z, axis / length);
            let model = Mat4::from_scale_rotation_translation(
                Vec3::new(capsule.radius, capsule.radius, length),
                rotation,
                capsule.a,
            );
            push(model, capsule.color);
            cylinders += 1;
        }
    }
    let mut spheres = 0;
    for capsule in capsules {
        let ends: &[Vec3] =
            if (capsule.b - capsule.a).length() > 1e-6 { &[capsule.a, capsule.b] } else { &[capsule.a] };
        for end in ends {
            push(
                Mat4::from_scale_rotation_translation(Vec3::splat(capsule.radius), Quat::IDENTITY, *end),
                capsule.color,
            );
            spheres += 1;
        }
    }
    InstanceRanges { cylinders: 0..cylinders, spheres: cylinders..cylinders + spheres }
}

#[cfg(test)]
mod tests {
    use super::super::scene::Capsule;
    use super::*;

    #[test]
    fn capsules_pack_into_cylinders_and_end_spheres() {
        let mut scene = ArmScene::default();
        scene.capsules.push(Capsule { a: Vec3::ZERO, b: Vec3::Z, radius: 0.1, color: [1.0, 0.0, 0.0, 1.0] });
        scene.capsules.push(Capsule { a: Vec3::X, b: Vec3::X, radius: 0.05, color: [0.0, 1.0, 0.0, 0.3] });
        let packed = GpuScene::pack(&scene, Mat4::IDENTITY);
        assert_eq!(packed.opaque_ranges, InstanceRanges { cylinders: 0..1, spheres: 1..3 });
        assert_eq!(packed.transparent_ranges, InstanceRanges { cylinders: 0..0, spheres: 0..1 });
        assert_eq!(packed.instance_count(), 4);
        // The cylinder's model matrix maps its unit top (0,0,1) onto the capsule's end b.
        let model = Mat4::from_cols_array(&packed.opaque[..16].try_into().unwrap());
        assert!((model.transform_point3(Vec3::Z) - Vec3::Z).length() < 1e-6);
        assert!((model.transform_point3(Vec3::X) - Vec3::new(0.1, 0.0, 0.0)).length() < 1e-6);
    }
}
