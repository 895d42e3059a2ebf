//! Synthetic demonstrations with rich kinematics, in the LIBERO action format (per step at 20 Hz: delta position
//! (m), delta rotation as a rotation vector (rad), gripper −1 open / +1 closed), cut into chunks.
//!
//! Each episode strings together primitives an operator would ask for: approach a point, grasp, lift, rotate by a
//! given angle about a given axis, move a given distance in a given direction, place, release; each at its own
//! speed, with a minimum-jerk profile, inside the Panda's workspace.

/// Control period of the demonstrations (LIBERO records at 20 Hz).
pub const DT_S: f64 = 0.05;

pub use kinedesk_core::rng::Rng;

/// Minimum-jerk progress at `s` in [0, 1].
fn min_jerk(s: f64) -> f64 {
    s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)
}

/// Steps of a min-jerk motion covering `total` (a vector) at average `speed` (units/s), sampled every `dt_s`.
pub(crate) fn profile_dt(total: [f64; 3], speed: f64, dt_s: f64) -> Vec<[f64; 3]> {
    let length = total.iter().map(|v| v * v).sum::<f64>().sqrt();
    let steps = ((length / speed.max(1e-6)) / dt_s).ceil().max(2.0) as usize;
    (1..=steps)
        .map(|k| {
            let delta = min_jerk(k as f64 / steps as f64) - min_jerk((k - 1) as f64 / steps as f64);
            [total[0] * delta, total[1] * delta, total[2] * delta]
        })
        .collect()
}

fn profile(total: [f64; 3], speed: f64) -> Vec<[f64; 3]> {
    profile_dt(total, speed, DT_S)
}

fn unit_direction(rng: &mut Rng) -> [f64; 3] {
    // Half the time along a base axis (what operators say: left, up, forward), otherwise any direction.
    if rng.unit() < 0.5 {
        let mut d = [0.0; 3];
        d[rng.index(3)] = if rng.unit() < 0.5 { -1.0 } else { 1.0 };
        d
    } else {
        let v = [rng.normal(), rng.normal(), rng.normal()];
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
        [v[0] / n, v[1] / n, v[2] / n]
    }
}

/// One demonstration: per-step 7-D actions.
#[must_use]
pub fn episode(rng: &mut Rng) -> Vec<[f32; 7]> {
    let mut actions: Vec<[f32; 7]> = Vec::new();
    let mut gripper = -1.0_f64;
    // Hand jitter of a teleoperating operator: band-limited (an AR(1) process, ρ = 0.8), about 0.1 mm per step,
    // rather than white noise, which no real hand produces and no tokenizer could (or should) reproduce.
    let mut jitter = [0.0_f64; 3];
    let mut push = |actions: &mut Vec<[f32; 7]>, dp: [f64; 3], dr: [f64; 3], gripper: f64, rng: &mut Rng| {
        for value in &mut jitter {
            *value = 0.8 * *value + 0.6 * rng.normal() * 1.7e-4;
        }
        actions.push([
            (dp[0] + jitter[0]) as f32,
            (dp[1] + jitter[1]) as f32,
            (dp[2] + jitter[2]) as f32,
            dr[0] as f32,
            dr[1] as f32,
            dr[2] as f32,
            gripper as f32,
        ]);
    };
    let primitives = 3 + rng.index(4);
    for _ in 0..primitives {
        match rng.index(5) {
            // Approach / move: a direction, a distance, a speed.
            0 | 1 => {
                let direction = unit_direction(rng);
                let distance = rng.range(0.02, 0.25);
                let speed = rng.range(0.02, 0.15);
                for dp in profile(direction.map(|d| d * distance), speed) {
                    push(&mut actions, dp, [0.0; 3], gripper, rng);
                }
            }
            // Lift or place: straight up or down.
            2 => {
                let up = if rng.unit() < 0.6 { 1.0 } else { -1.0 };
                let distance = rng.range(0.03, 0.15);
                for dp in profile([0.0, 0.0, up * distance], rng.range(0.02, 0.1)) {
                    push(&mut actions, dp, [0.0; 3], gripper, rng);
                }
            }
            // Rotate: mostly about the vertical axis (turn the mug), sometimes tilt.
            3 => {
                let axis = if rng.unit() < 0.7 { [0.0, 0.0, 1.0] } else { unit_direction(rng) };
                let angle =
                    rng.range(15f64.to_radians(), 180f64.to_radians()) * if rng.unit() < 0.5 { -1.0 } else { 1.0 };
                let speed = rng.range(20f64.to_radians(), 90f64.to_radians());
                for dr in profile(axis.map(|a| a * angle), speed) {
                    push(&mut actions, [0.0; 3], dr, gripper, rng);
                }
            }
            // Grasp or release: hold still while the gripper switches.
            _ => {
                gripper = -gripper;
                for _ in 0..(4 + rng.index(6)) {
                    push(&mut actions, [0.0; 3], [0.0; 3], gripper, rng);
                }
            }
        }
    }
    actions
}

/// Chunks of `chunk_len` consecutive actions from `episodes` demonstrations, every `stride` steps, flattened
/// row-major (`chunk_len × 7` numbers each).
#[must_use]
pub fn synthetic_chunks(episodes: usize, chunk_len: usize, stride: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut chunks = Vec::new();
    for _ in 0..episodes {
        let actions = episode(&mut rng);
        let mut start = 0;
        while start + chunk_len <= actions.len() {
            chunks.push(actions[start..start + chunk_len].iter().flatten().copied().collect());
            start += stride.max(1);
        }
    }
    chunks
}

/// Per-dimension mean and standard deviation of chunked actions (`dim` numbers per action).
#[must_use]
pub fn action_stats(chunks: &[Vec<f32>], dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut sum = vec![0.0_f64; dim];
    let mut sq = vec![0.0_f64; dim];
    let mut n = 0.0_f64;
    for chunk in chunks {
        for action in chunk.chunks_exact(dim) {
            for (i, v) in action.iter().enumerate() {
                sum[i] += f64::from(*v);
                sq[i] += f64::from(*v) * f64::from(*v);
            }
            n += 1.0;
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1.0)).collect();
    let std = sq.iter().zip(&mean).map(|(s, m)| ((s / n.max(1.0) - m * m).max(0.0).sqrt().max(1e-6)) as f32).collect();
    (mean.into_iter().map(|m| m as f32).collect(), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demonstrations_are_reproducible_and_plausible() {
        let a = synthetic_chunks(20, 5, 2, 7);
        let b = synthetic_chunks(20, 5, 2, 7);
        assert_eq!(a, b);
        assert!(a.len() > 200, "{} chunks", a.len());
        assert!(a.iter().all(|chunk| chunk.len() == 35));
        // At most 15 cm/s at 20 Hz → a few millimetres per step (min-jerk peaks ~1.9× the mean speed).
        let max_step = a
            .iter()
            .flat_map(|c| c.chunks_exact(7))
            .map(|s| (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt())
            .fold(0.0, f32::max);
        assert!(max_step > 0.003 && max_step < 0.02, "{max_step}");
        let grippers: std::collections::BTreeSet<i32> =
            a.iter().flat_map(|c| c.chunks_exact(7)).map(|s| s[6] as i32).collect();
        assert_eq!(grippers.into_iter().collect::<Vec<_>>(), vec![-1, 1]);
        let (mean, std) = action_stats(&a, 7);
        assert_eq!((mean.len(), std.len()), (7, 7));
        assert!(std.iter().all(|s| *s > 0.0));
    }
}
