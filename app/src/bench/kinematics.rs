//! `bench kinematics`: FK and IK time and IK success rate on random reachable poses.

use std::time::Instant;

use anyhow::Context as _;

use super::{Report, Summary, percentile};

/// Result of `kinedesk bench kinematics`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KinematicsBench {
    pub robot: String,
    /// Forward kinematics (flange pose), nanoseconds per call: median and p95 over batches.
    pub fk_ns_median: f64,
    pub fk_ns_p95: f64,
    /// IK to 0.1 mm / 0.1° on random reachable poses from random seeds.
    pub ik_samples: usize,
    pub ik_success_rate: f64,
    pub ik_solve_us: Summary,
    pub ik_iterations_median: usize,
}

/// Times FK in batches and IK on `ik_samples` random reachable poses, each from a random seed within the limits.
pub fn bench_kinematics(robot: &kinedesk_models::robot::Robot, ik_samples: usize) -> anyhow::Result<KinematicsBench> {
    use kinedesk_models::robot::{IkOptions, fk, solve_ik};

    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut random_q = || -> Vec<f64> {
        robot.joints.iter().map(|j| j.limits.lower + next() * (j.limits.upper - j.limits.lower)).collect()
    };

    let configurations: Vec<Vec<f64>> = (0..256).map(|_| random_q()).collect();
    let batch = 20_000;
    let mut per_call_ns = Vec::with_capacity(30);
    for _ in 0..30 {
        let started = Instant::now();
        for k in 0..batch {
            std::hint::black_box(fk(robot, std::hint::black_box(&configurations[k % configurations.len()]))?);
        }
        per_call_ns.push(started.elapsed().as_secs_f64() * 1e9 / batch as f64);
    }
    per_call_ns.sort_by(f64::total_cmp);

    let options = IkOptions::default();
    let mut times = Vec::with_capacity(ik_samples);
    let mut iterations = Vec::with_capacity(ik_samples);
    let mut solved = 0;
    for _ in 0..ik_samples {
        let goal = random_q();
        let seed = random_q();
        let target = fk(robot, &goal)?;
        let started = Instant::now();
        let result = solve_ik(robot, &target, Some(&seed), &options);
        times.push(started.elapsed());
        if let Ok(solution) = result {
            solved += 1;
            iterations.push(solution.iterations);
        }
    }
    iterations.sort_unstable();
    Ok(KinematicsBench {
        robot: robot.name.clone(),
        fk_ns_median: percentile(&per_call_ns, 50.0),
        fk_ns_p95: percentile(&per_call_ns, 95.0),
        ik_samples,
        ik_success_rate: solved as f64 / ik_samples.max(1) as f64,
        ik_solve_us: Summary::micros(&times).context("no IK samples")?,
        ik_iterations_median: iterations.get(iterations.len() / 2).copied().unwrap_or(0),
    })
}

impl Report for KinematicsBench {
    fn print_text(&self) {
        let ik = &self.ik_solve_us;
        println!("{}: FK median {:.0} ns (p95 {:.0} ns) per call", self.robot, self.fk_ns_median, self.fk_ns_p95);
        println!(
            "{}: IK to 0.1 mm / 0.1 deg on {} random reachable poses from random seeds: success {:.1} %",
            self.robot,
            self.ik_samples,
            self.ik_success_rate * 100.0
        );
        println!(
            "  solve time median {:.1} us   p95 {:.1} us   p99 {:.1} us   max {:.1} us   (median {} iterations)",
            ik.median, ik.p95, ik.p99, ik.max, self.ik_iterations_median
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinematics_bench_reports_success_and_times() {
        let result = bench_kinematics(&kinedesk_models::robot::panda(), 20).unwrap();
        assert_eq!(result.ik_samples, 20);
        assert!(result.ik_success_rate > 0.9, "{result:?}");
        assert!(result.fk_ns_median > 0.0);
    }
}
