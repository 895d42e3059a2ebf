//! Plots of a closed-loop rollout: inference latency and the arm's idle gap per chunk, and one chunk's joints as the
//! policy predicted them against what the arm executed.

use egui::{Color32, Ui};
use egui_plot::{Legend, Line, LineStyle, Plot, PlotPoints, Points};

/// Latency and idle gap per chunk: x is the chunk index, y milliseconds.
pub struct ChunkTimings<'a> {
    /// `[chunk, ms]` of each inference.
    pub inference_ms: &'a [[f64; 2]],
    /// `[chunk, ms]` the arm stood still before each chunk (chunks that followed another).
    pub idle_gap_ms: &'a [[f64; 2]],
}

/// Inference latency (line with points) and idle gap (points) per chunk.
pub fn chunk_timings_ui(ui: &mut Ui, id_salt: &str, data: &ChunkTimings<'_>, height: f32) {
    Plot::new((id_salt, "chunk_timings"))
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .include_y(0.0)
        .x_axis_label("chunk")
        .y_axis_label("ms")
        .y_axis_min_width(36.0)
        .show(ui, |plot_ui| {
            plot_ui.line(
                Line::new("inference", PlotPoints::from(data.inference_ms.to_vec())).color(crate::palette::REASONING),
            );
            plot_ui.points(
                Points::new("idle gap", PlotPoints::from(data.idle_gap_ms.to_vec()))
                    .radius(3.0)
                    .color(crate::palette::WARNING),
            );
        });
}

/// One chunk's joints: predicted (dashed) and executed (solid), over the chunk's steps.
pub struct ChunkJoints<'a> {
    pub dt_s: f64,
    /// Joint positions per planned step.
    pub predicted: &'a [Vec<f64>],
    /// Executed joint positions with when each was sampled (s since the chunk started).
    pub executed: &'a [(f64, Vec<f64>)],
}

/// All joints in one plot, each joint in its series colour: predicted dashed, executed solid, as offsets from where
/// the chunk starts (a chunk moves a few hundredths of a radian; absolute angles would flatten it).
pub fn chunk_joints_ui(ui: &mut Ui, id_salt: &str, data: &ChunkJoints<'_>, height: f32) {
    let dt = data.dt_s.max(1e-9);
    let Some(origin) = data.predicted.first().or(data.executed.first().map(|(_, q)| q)) else { return };
    let dof = origin.len();
    let offset = |q: &Vec<f64>, joint: usize| q.get(joint).map_or(f64::NAN, |v| v - origin[joint]);
    Plot::new((id_salt, "chunk_joints"))
        .height(height)
        .allow_scroll(false)
        .x_axis_label("s")
        .y_axis_label("Δ rad")
        .y_axis_min_width(36.0)
        .show(ui, |plot_ui| {
            for joint in 0..dof {
                let colour = colour(joint);
                let predicted: PlotPoints<'_> =
                    data.predicted.iter().enumerate().map(|(k, q)| [k as f64 * dt, offset(q, joint)]).collect();
                plot_ui.line(
                    Line::new(format!("q{} predicted", joint + 1), predicted)
                        .color(colour.gamma_multiply(0.7))
                        .style(LineStyle::dashed_dense()),
                );
                let executed: PlotPoints<'_> = data.executed.iter().map(|(t, q)| [*t, offset(q, joint)]).collect();
                plot_ui.line(Line::new(format!("q{} executed", joint + 1), executed).color(colour).width(2.0));
            }
        });
}

fn colour(joint: usize) -> Color32 {
    crate::palette::SERIES[joint % crate::palette::SERIES.len()]
}
