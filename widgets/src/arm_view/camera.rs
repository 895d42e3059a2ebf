//! The orbit camera of the arm view: orbit around a target, pan, zoom, reset. Z is up.

use glam::{Mat4, Vec3};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrbitCamera {
    pub target: Vec3,
    /// Angle around Z from +X, radians.
    pub yaw_rad: f32,
    /// Elevation above the XY plane, radians.
    pub pitch_rad: f32,
    pub distance_m: f32,
    pub fov_y_rad: f32,
}

impl Default for OrbitCamera {
    /// Looking at the workspace in front of the robot from the front-left, slightly above.
    fn default() -> Self {
        Self { target: Vec3::new(0.25, 0.05, 0.38), yaw_rad: -0.2, pitch_rad: 0.38, distance_m: 1.55, fov_y_rad: 0.75 }
    }
}

impl OrbitCamera {
    const MIN_DISTANCE_M: f32 = 0.15;
    const MAX_DISTANCE_M: f32 = 20.0;
    const MAX_PITCH_RAD: f32 = 1.55;

    #[must_use]
    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw_rad.sin_cos();
        let (sp, cp) = self.pitch_rad.sin_cos();
        self.target + self.distance_m * Vec3::new(cp * cy, cp * sy, sp)
    }

    /// Right-handed view–projection for a viewport of the given aspect ratio (wgpu depth 0..1).
    #[must_use]
    pub fn view_proj(&self, aspect: f32) -> Mat4 {
        let view = glam::camera::rh::view::look_at_mat4(self.eye(), self.target, Vec3::Z);
        let near = (self.distance_m * 0.01).max(0.005);
        // WebGPU clip space: depth 0..1, y up (the DirectX convention).
        let proj = glam::camera::rh::proj::directx::perspective(
            self.fov_y_rad,
            aspect.max(1e-3),
            near,
            self.distance_m * 10.0 + 10.0,
        );
        proj * view
    }

    /// Rotates around the target (screen-space drag in points).
    pub fn orbit(&mut self, dx: f32, dy: f32) {
        self.yaw_rad -= dx * 0.008;
        self.pitch_rad = (self.pitch_rad + dy * 0.008).clamp(-Self::MAX_PITCH_RAD, Self::MAX_PITCH_RAD);
    }

    /// Moves the target in the view plane (screen-space drag in points, viewport height in points).
    pub fn pan(&mut self, dx: f32, dy: f32, viewport_height: f32) {
        let forward = (self.target - self.eye()).normalize_or_zero();
        let right = forward.cross(Vec3::Z).normalize_or_zero();
        let up = right.cross(forward);
        let metres_per_point = 2.0 * self.distance_m * (self.fov_y_rad * 0.5).tan() / viewport_height.max(1.0);
        self.target += (-dx * right + dy * up) * metres_per_point;
    }

    /// Zooms by a factor (> 1 moves closer).
    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            self.distance_m = (self.distance_m / factor).clamp(Self::MIN_DISTANCE_M, Self::MAX_DISTANCE_M);
        }
    }

    /// Frames a sphere, keeping the viewing direction.
    pub fn frame(&mut self, centre: Vec3, radius: f32) {
        self.target = centre;
        self.distance_m = (radius / (self.fov_y_rad * 0.5).sin()).clamp(Self::MIN_DISTANCE_M, Self::MAX_DISTANCE_M);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_projects_to_the_centre() {
        let camera = OrbitCamera::default();
        let clip = camera.view_proj(1.5) * camera.target.extend(1.0);
        let ndc = clip.truncate() / clip.w;
        assert!(ndc.x.abs() < 1e-5 && ndc.y.abs() < 1e-5 && (0.0..1.0).contains(&ndc.z), "{ndc:?}");
    }

    #[test]
    fn zoom_and_pitch_are_bounded() {
        let mut camera = OrbitCamera::default();
        camera.zoom(1e6);
        assert!((camera.distance_m - OrbitCamera::MIN_DISTANCE_M).abs() < 1e-6);
        camera.zoom(0.0);
        assert!(camera.distance_m > 0.0);
        camera.orbit(0.0, 1e6);
        assert!(camera.pitch_rad <= OrbitCamera::MAX_PITCH_RAD);
    }

    #[test]
    fn panning_moves_the_target_sideways() {
        let mut camera = OrbitCamera::default();
        let before = camera.target;
        camera.pan(100.0, 0.0, 500.0);
        let moved = camera.target - before;
        assert!(moved.length() > 0.01 && moved.z.abs() < 1e-5);
    }
}
