//! Joint positions over time with their limits, and the end-effector speed, for a planned trajectory (egui_plot).
//! All plots share the time axis and the cursor; stages are shaded bands; the scrubbed time is a vertical line.

use egui::{Color32, Id, Ui};
use egui_plot::{Axis, HLine, Line, LineStyle, Plot, PlotPoints, Span, VLine};

/// A labelled span of steps (an action-level stage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotSpan {
    pub first: usize,
    pub last: usize,
    pub label: String,
}

/// What to plot.
pub struct TrajectoryPlots<'a> {
    /// Which trajectory this is (a new key is a new plot: its time axis starts at the whole trajectory again, instead
    /// of keeping the bounds the previous one was zoomed to).
    pub key: u64,
    pub dt_s: f64,
    /// Joint positions per sample.
    pub joints: &'a [Vec<f64>],
    /// (lower, upper) limit of each joint.
    pub limits: &'a [(f64, f64)],
    /// End-effector speed per step (m/s).
    pub ee_speed_m_s: &'a [f64],
    /// The scrubbed sample.
    pub step: usize,
    pub spans: &'a [PlotSpan],
    /// Steps to pick out (the stage or chunk under the mouse elsewhere).
    pub highlight: Option<(usize, usize)>,
}

/// What the operator did in the plots.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlotsResponse {
    /// The sample under the mouse, if any plot is hovered.
    pub hovered_step: Option<usize>,
    /// A plot was clicked at this sample (scrub there).
    pub clicked_step: Option<usize>,
    /// The time range the plots show (s).
    pub x_bounds: Option<(f64, f64)>,
}

use crate::palette::{HIGHLIGHT_FILL, STAGE_BANDS as SPAN_FILLS};

fn joint_colour(joint: usize) -> Color32 {
    crate::palette::SERIES[joint % crate::palette::SERIES.len()]
}

fn base_plot<'a>(id_salt: &str, key: u64, name: &str, height: f32, group: Id, t_end: f64) -> Plot<'a> {
    Plot::new((id_salt, key, name))
        .height(height)
        // The time axis is shared (linked), so only the last plot (the flange speed) labels it: every joint fits.
        .show_axes([name == "flange", true])
        .link_axis(group, [true, false])
        .link_cursor(group, [true, false])
        .allow_scroll(false)
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .default_x_bounds(0.0, t_end)
        .y_axis_min_width(40.0)
}

/// A plot with its name (and a note) in a fixed-width column on the left.
fn labelled<R>(ui: &mut Ui, name: &str, note: &str, height: f32, add: impl FnOnce(&mut Ui) -> R) -> R {
    ui.horizontal(|ui| {
        // Name and note on one line, so a row is no taller than its plot.
        ui.allocate_ui_with_layout(egui::vec2(120.0, height), egui::Layout::left_to_right(egui::Align::Center), |ui| {
            ui.set_min_width(120.0); // the same for every row, so the plots line up
            ui.add(egui::Label::new(egui::RichText::new(name).strong()).extend());
            ui.add(egui::Label::new(egui::RichText::new(note).small().weak()).extend());
        });
        add(ui)
    })
    .inner
}

/// Stage bands, the highlighted span and the scrub line.
fn add_time_marks(plot_ui: &mut egui_plot::PlotUi<'_>, data: &TrajectoryPlots<'_>, dt: f64) {
    for (index, span) in data.spans.iter().enumerate() {
        plot_ui.add(
            Span::new("", span.first as f64 * dt..=span.last as f64 * dt).axis(Axis::X).fill(SPAN_FILLS[index % 2]),
        );
    }
    if let Some((first, last)) = data.highlight {
        plot_ui.add(Span::new("", first as f64 * dt..=last as f64 * dt).fill(HIGHLIGHT_FILL));
    }
    plot_ui.vline(VLine::new("", data.step as f64 * dt).color(Color32::WHITE).width(1.5));
}

/// Draws one plot per joint and one for the end-effector speed.
pub fn trajectory_plots_ui(ui: &mut Ui, id_salt: &str, data: &TrajectoryPlots<'_>) -> PlotsResponse {
    let mut response = PlotsResponse::default();
    let dt = data.dt_s.max(1e-9);
    let samples = data.joints.len();
    if samples == 0 {
        return response;
    }
    let group = ui.make_persistent_id((id_salt, data.key, "trajectory_plots"));
    let t_end = (dt * samples.saturating_sub(1) as f64).max(dt);
    let dof = data.joints[0].len();
    // Every joint and the flange speed fit the pane without scrolling, down to 20 points a plot.
    let height = ((ui.available_height() - 40.0) / (dof + 1) as f32).clamp(20.0, 90.0);
    let to_step = |t: f64| ((t / dt).round().max(0.0) as usize).min(samples - 1);
    let mut note = |shown: egui_plot::PlotResponse<Option<egui_plot::PlotPoint>>| {
        let bounds = shown.transform.bounds();
        response.x_bounds = Some((bounds.min()[0], bounds.max()[0]));
        if let Some(pointer) = shown.inner.filter(|_| shown.response.hovered()) {
            response.hovered_step = Some(to_step(pointer.x));
            if shown.response.clicked() || shown.response.dragged() {
                response.clicked_step = Some(to_step(pointer.x));
            }
        }
    };
    for joint in 0..dof {
        let points: PlotPoints<'_> = data
            .joints
            .iter()
            .enumerate()
            .map(|(k, q)| [k as f64 * dt, q.get(joint).copied().unwrap_or(f64::NAN)])
            .collect();
        let (lower, upper) = data.limits.get(joint).copied().unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let (min, max) = data
            .joints
            .iter()
            .filter_map(|q| q.get(joint))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let margin = (min - lower).min(upper - max);
        let name = format!("q{} (rad)", joint + 1);
        let label = format!("q{}", joint + 1);
        let note_text = format!("±{margin:.2}");
        let shown = labelled(ui, &label, &note_text, height, |ui| {
            base_plot(id_salt, data.key, &label, height, group, t_end).show(ui, |plot_ui| {
                add_time_marks(plot_ui, data, dt);
                // Limits are drawn when they are near enough to matter (within the plotted range plus its span).
                let span = (max - min).max(0.2);
                for limit in [lower, upper] {
                    if limit.is_finite() && limit <= max + span && limit >= min - span {
                        plot_ui.hline(
                            HLine::new("limit", limit).color(crate::palette::DANGER).style(LineStyle::dashed_loose()),
                        );
                    }
                }
                plot_ui.line(Line::new(name, points).color(joint_colour(joint)));
                plot_ui.pointer_coordinate()
            })
        });
        note(shown);
    }
    let speed: PlotPoints<'_> =
        data.ee_speed_m_s.iter().enumerate().map(|(k, v)| [(k as f64 + 0.5) * dt, *v * 1000.0]).collect();
    let peak = data.ee_speed_m_s.iter().copied().fold(0.0, f64::max) * 1000.0;
    let flange_height = height + 14.0; // with the time axis
    let shown = labelled(ui, "flange", &format!("≤{peak:.0} mm/s"), flange_height, |ui| {
        base_plot(id_salt, data.key, "flange", flange_height, group, t_end).show(ui, |plot_ui| {
            add_time_marks(plot_ui, data, dt);
            plot_ui.line(Line::new("flange speed", speed).color(Color32::LIGHT_GRAY));
            plot_ui.pointer_coordinate()
        })
    });
    note(shown);
    response
}
