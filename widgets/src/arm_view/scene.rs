//! What the arm view draws, as plain data: capsules and coloured line segments in the robot's base frame (z up).

use std::sync::Arc;

use glam::{Mat4, Vec3};
use kinedesk_core::robot::TriangleMesh;

/// An RGBA colour with components in 0..=1 (gamma space, like egui's colours).
pub type Rgba = [f32; 4];

/// A capsule: a cylinder from `a` to `b` with hemispherical ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capsule {
    pub a: Vec3,
    pub b: Vec3,
    pub radius: f32,
    pub color: Rgba,
}

/// A line segment with a colour at each end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    pub a: Vec3,
    pub b: Vec3,
    pub color_a: Rgba,
    pub color_b: Rgba,
}

/// A triangle mesh (e.g. a URDF link's visual) placed by `model`.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshDraw {
    pub mesh: Arc<TriangleMesh>,
    pub model: Mat4,
    pub color: Rgba,
}

/// Everything in one frame of the arm view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArmScene {
    pub capsules: Vec<Capsule>,
    pub meshes: Vec<MeshDraw>,
    pub segments: Vec<Segment>,
    pub background: Rgba,
}

impl ArmScene {
    /// An empty scene with the floor grid (1 m², 10 cm cells) and the world axes (X red, Y green, Z blue).
    #[must_use]
    pub fn with_floor(background: Rgba, grid: Rgba) -> Self {
        let mut scene = Self { background, ..Self::default() };
        let half = 1.0;
        for k in -10..=10 {
            let t = k as f32 * 0.1;
            let colour = if k == 0 { [grid[0], grid[1], grid[2], grid[3] * 1.6] } else { grid };
            scene.line(Vec3::new(t, -half, 0.0), Vec3::new(t, half, 0.0), colour);
            scene.line(Vec3::new(-half, t, 0.0), Vec3::new(half, t, 0.0), colour);
        }
        let z = 0.002;
        scene.line(Vec3::new(0.0, 0.0, z), Vec3::new(0.25, 0.0, z), [0.9, 0.2, 0.2, 1.0]);
        scene.line(Vec3::new(0.0, 0.0, z), Vec3::new(0.0, 0.25, z), [0.2, 0.8, 0.2, 1.0]);
        scene.line(Vec3::new(0.0, 0.0, z), Vec3::new(0.0, 0.0, 0.25), [0.25, 0.45, 1.0, 1.0]);
        scene
    }

    pub fn line(&mut self, a: Vec3, b: Vec3, color: Rgba) {
        self.segments.push(Segment { a, b, color_a: color, color_b: color });
    }

    /// A polyline whose colour runs from `from` to `to` along its length (e.g. coloured by time).
    pub fn gradient_polyline(&mut self, points: &[Vec3], from: Rgba, to: Rgba) {
        let last = points.len().saturating_sub(1).max(1) as f32;
        let mix = |t: f32| -> Rgba { std::array::from_fn(|i| from[i] + (to[i] - from[i]) * t) };
        for (index, pair) in points.windows(2).enumerate() {
            self.segments.push(Segment {
                a: pair[0],
                b: pair[1],
                color_a: mix(index as f32 / last),
                color_b: mix((index + 1) as f32 / last),
            });
        }
    }

    /// Centre and radius of a sphere around everything (for framing the camera).
    #[must_use]
    pub fn bounds(&self) -> Option<(Vec3, f32)> {
        let points =
            self.capsules.iter().flat_map(|c| [c.a, c.b]).chain(self.meshes.iter().map(|m| m.model.w_axis.truncate()));
        let (min, max) =
            points.fold((Vec3::splat(f32::MAX), Vec3::splat(f32::MIN)), |(lo, hi), p| (lo.min(p), hi.max(p)));
        (min.x <= max.x).then(|| ((min + max) * 0.5, ((max - min).length() * 0.5).max(0.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_polylines_interpolate_colour() {
        let mut scene = ArmScene::default();
        let points = [Vec3::ZERO, Vec3::X, Vec3::X * 2.0];
        scene.gradient_polyline(&points, [0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]);
        assert_eq!(scene.segments.len(), 2);
        assert_eq!(scene.segments[0].color_b, [0.5, 0.5, 0.5, 1.0]);
        assert_eq!(scene.segments[1].color_b, [1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn bounds_cover_every_capsule() {
        let mut scene = ArmScene::default();
        assert!(scene.bounds().is_none());
        scene.capsules.push(Capsule { a: Vec3::ZERO, b: Vec3::Z, radius: 0.1, color: [1.0; 4] });
        let (centre, radius) = scene.bounds().unwrap();
        assert_eq!(centre, Vec3::Z * 0.5);
        assert!((radius - 0.5).abs() < 1e-6);
    }
}
