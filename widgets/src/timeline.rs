//! The episode timeline: a time ruler, camera thumbnails, joint curves, discrete lanes (stages, events) and the
//! play cursor, with the selection and the trimmed-away parts shaded. It takes plain data and returns what the
//! operator did ([`TimelineEvent`]); the caller turns those into commands.
//!
//! Mouse: click or drag to scrub, Shift+drag to select, click a segment to select it, scroll (or Ctrl+scroll) to
//! zoom around the pointer, drag with the middle button to pan, double-click to show the whole episode.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, TextureId, Ui, Vec2, pos2, vec2};

/// Accessibility label of the timeline (what tests and screen readers find it by).
pub const TIMELINE_LABEL: &str = "Timeline";

/// A segment on a lane, in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct LaneSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub label: String,
    pub color: Color32,
}

/// A point event on a lane (an instruction, a plan, a send, a stop).
#[derive(Clone, Debug, PartialEq)]
pub struct LaneMarker {
    pub time_s: f64,
    pub label: String,
    pub color: Color32,
    /// What the marker stands for in full (shown when the mouse is over it).
    pub detail: String,
}

/// One row of discrete things.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimelineLane {
    pub name: String,
    pub segments: Vec<LaneSegment>,
    pub markers: Vec<LaneMarker>,
}

/// A curve drawn in the plot strip, each scaled to its own range.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineCurve {
    pub name: String,
    /// (time in seconds, value), in time order.
    pub points: Vec<[f64; 2]>,
    pub color: Color32,
}

/// What the timeline shows.
pub struct Timeline<'a> {
    pub duration_s: f64,
    pub cursor_s: f64,
    pub selection: Option<(f64, f64)>,
    /// The span kept on export; the rest is shaded.
    pub trim: Option<(f64, f64)>,
    /// The visible window (zoom), in seconds.
    pub view: (f64, f64),
    pub thumbnails: &'a [(f64, TextureId, Vec2)],
    pub curves: &'a [TimelineCurve],
    pub lanes: &'a [TimelineLane],
}

/// What the operator did on the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum TimelineEvent {
    Seek(f64),
    Select(f64, f64),
    /// A new visible window.
    View(f64, f64),
    /// A segment was clicked (lane index, segment index).
    SegmentClicked(usize, usize),
}

const RULER_H: f32 = 18.0;
const THUMB_H: f32 = 54.0;
const PLOT_H: f32 = 84.0;
const LANE_H: f32 = 22.0;
const LABEL_W: f32 = 64.0;

/// Ticks at a "nice" spacing for the visible span.
fn tick_step(span_s: f64, width_px: f32) -> f64 {
    let wanted = span_s / f64::from((width_px / 80.0).max(1.0));
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0]
        .into_iter()
        .find(|s| *s >= wanted)
        .unwrap_or(1200.0)
}

/// Formats seconds as m:ss.s.
#[must_use]
pub fn format_time(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    format!("{}:{:04.1}", (seconds / 60.0).floor() as u64, seconds % 60.0)
}

/// Zooms the window `view` by `factor` (< 1 zooms in) around `at`, kept inside `[0, duration]`.
#[must_use]
pub fn zoom_view(view: (f64, f64), at: f64, factor: f64, duration_s: f64) -> (f64, f64) {
    let span = ((view.1 - view.0) * factor).clamp(0.05_f64.min(duration_s), duration_s.max(0.05));
    let ratio = if view.1 > view.0 { (at - view.0) / (view.1 - view.0) } else { 0.5 };
    let start = (at - ratio * span).clamp(0.0, (duration_s - span).max(0.0));
    (start, start + span)
}

impl Timeline<'_> {
    /// Height the timeline takes.
    #[must_use]
    pub fn height(&self) -> f32 {
        RULER_H + THUMB_H + PLOT_H + LANE_H * self.lanes.len() as f32 + 4.0
    }

    /// Draws the timeline and returns what the operator did.
    pub fn ui(&self, ui: &mut Ui) -> Vec<TimelineEvent> {
        let mut events = Vec::new();
        let width = ui.available_width().max(200.0);
        let (rect, response) = ui.allocate_exact_size(vec2(width, self.height()), Sense::click_and_drag());
        response.widget_info(|| egui::WidgetInfo {
            value: Some(self.cursor_s),
            ..egui::WidgetInfo::labeled(egui::Role::Slider, true, TIMELINE_LABEL)
        });
        let track = Rect::from_min_max(pos2(rect.left() + LABEL_W, rect.top()), rect.right_bottom());
        let (v0, v1) = (self.view.0, self.view.1.max(self.view.0 + 1e-6));
        let x_of = |t: f64| track.left() + ((t - v0) / (v1 - v0)) as f32 * track.width();
        let t_of =
            |x: f32| (v0 + f64::from((x - track.left()) / track.width()) * (v1 - v0)).clamp(0.0, self.duration_s);
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals().clone();
        painter.rect_filled(rect, 2.0, visuals.extreme_bg_color);
        let text_color = visuals.text_color();
        let weak = visuals.weak_text_color();
        let small = FontId::proportional(10.0);

        // Ruler.
        let step = tick_step(v1 - v0, track.width());
        let mut tick = (v0 / step).ceil() * step;
        while tick <= v1 {
            let x = x_of(tick);
            painter.line_segment([pos2(x, rect.top()), pos2(x, rect.top() + 6.0)], Stroke::new(1.0, weak));
            painter.text(pos2(x + 2.0, rect.top() + 4.0), Align2::LEFT_TOP, format_time(tick), small.clone(), weak);
            tick += step;
        }
        let mut y = rect.top() + RULER_H;

        // Thumbnails, each drawn from its time, keeping its aspect ratio.
        painter.text(pos2(rect.left() + 4.0, y + 4.0), Align2::LEFT_TOP, "camera", small.clone(), weak);
        // Thumbnails that would overlap the one drawn before them are skipped (zoom in to see them all).
        let mut drawn_to = f32::NEG_INFINITY;
        for (time, texture, size) in self.thumbnails {
            let w = (THUMB_H - 4.0) * size.x / size.y.max(1.0);
            let x = x_of(*time);
            if x + w < track.left() || x > track.right() || x < drawn_to {
                continue;
            }
            drawn_to = x + w + 1.0;
            let image = Rect::from_min_size(pos2(x, y + 2.0), vec2(w, THUMB_H - 4.0));
            painter.with_clip_rect(track).image(
                *texture,
                image,
                Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        y += THUMB_H;

        // Curves, each scaled to its own range.
        painter.text(pos2(rect.left() + 4.0, y + 4.0), Align2::LEFT_TOP, "joints", small.clone(), weak);
        let plot = Rect::from_min_size(pos2(track.left(), y + 3.0), vec2(track.width(), PLOT_H - 6.0));
        for curve in self.curves {
            let (lo, hi) = curve
                .points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p[1]), hi.max(p[1])));
            let range = (hi - lo).max(1e-9);
            let points: Vec<Pos2> = curve
                .points
                .iter()
                .filter(|p| p[0] >= v0 - (v1 - v0) * 0.02 && p[0] <= v1 + (v1 - v0) * 0.02)
                .map(|p| pos2(x_of(p[0]), plot.bottom() - ((p[1] - lo) / range) as f32 * plot.height()))
                .collect();
            // At most ~2 points a pixel: a 10-minute episode at 100 Hz stays cheap to draw.
            let stride = (points.len() / (2 * track.width() as usize).max(1)).max(1);
            let points: Vec<Pos2> = points.into_iter().step_by(stride).collect();
            painter.with_clip_rect(plot).add(egui::Shape::line(points, Stroke::new(1.2, curve.color)));
        }
        y += PLOT_H;

        // Lanes.
        let mut lane_rects = Vec::new();
        // Markers under the mouse (close ones together), for the hover text.
        let mut hovered_markers: Vec<String> = Vec::new();
        for (lane_index, lane) in self.lanes.iter().enumerate() {
            let row = Rect::from_min_size(pos2(rect.left(), y), vec2(rect.width(), LANE_H));
            painter.text(pos2(rect.left() + 4.0, row.center().y), Align2::LEFT_CENTER, &lane.name, small.clone(), weak);
            painter.line_segment([row.left_top(), row.right_top()], Stroke::new(0.5, weak.gamma_multiply(0.4)));
            for (segment_index, segment) in lane.segments.iter().enumerate() {
                let (x0, x1) = (x_of(segment.start_s).max(track.left()), x_of(segment.end_s).min(track.right()));
                if x1 <= x0 {
                    continue;
                }
                let bar = Rect::from_min_max(pos2(x0, row.top() + 2.0), pos2(x1, row.bottom() - 2.0));
                painter.rect_filled(bar, 3.0, segment.color.gamma_multiply(0.75));
                painter.rect_stroke(bar, 3.0, Stroke::new(1.0, segment.color), StrokeKind::Inside);
                painter.with_clip_rect(bar).text(
                    pos2(bar.left() + 4.0, bar.center().y),
                    Align2::LEFT_CENTER,
                    &segment.label,
                    small.clone(),
                    Color32::WHITE,
                );
                lane_rects.push((bar, lane_index, segment_index));
            }
            let mut label_to = f32::NEG_INFINITY;
            for marker in &lane.markers {
                let x = x_of(marker.time_s);
                if x < track.left() || x > track.right() {
                    continue;
                }
                if let Some(hover) = response.hover_pos()
                    && (hover.x - x).abs() <= 4.0
                    && (row.top()..=row.bottom()).contains(&hover.y)
                {
                    hovered_markers.push(format!("{} {}: {}", format_time(marker.time_s), marker.label, marker.detail));
                }
                let labelled = x >= label_to;
                painter.line_segment(
                    [pos2(x, row.top() + 3.0), pos2(x, row.bottom() - 3.0)],
                    Stroke::new(2.0, marker.color),
                );
                // Markers close together share the first one's label (hover the lane to read them all).
                if labelled {
                    let text = painter.text(
                        pos2(x + 3.0, row.center().y),
                        Align2::LEFT_CENTER,
                        &marker.label,
                        small.clone(),
                        marker.color,
                    );
                    label_to = text.right() + 4.0;
                }
            }
            y += LANE_H;
        }

        // Trim (outside shaded), selection, cursor.
        let body = Rect::from_min_max(pos2(track.left(), rect.top() + RULER_H), track.right_bottom());
        if let Some((a, b)) = self.trim {
            let shade = Color32::from_black_alpha(140);
            for (from, to) in [(v0, a), (b, v1)] {
                if to > from {
                    let r = Rect::from_x_y_ranges(
                        x_of(from).max(track.left())..=x_of(to).min(track.right()),
                        body.y_range(),
                    );
                    painter.rect_filled(r, 0.0, shade);
                }
            }
        }
        if let Some((a, b)) = self.selection {
            let r = Rect::from_x_y_ranges(
                x_of(a.min(b)).max(track.left())..=x_of(a.max(b)).min(track.right()),
                body.y_range(),
            );
            painter.rect_filled(r, 0.0, visuals.selection.bg_fill.gamma_multiply(0.35));
            painter.rect_stroke(r, 0.0, Stroke::new(1.0, visuals.selection.bg_fill), StrokeKind::Inside);
        }
        let cursor_x = x_of(self.cursor_s);
        if (track.left()..=track.right()).contains(&cursor_x) {
            let accent = crate::palette::ACCENT;
            painter.line_segment([pos2(cursor_x, rect.top()), pos2(cursor_x, rect.bottom())], Stroke::new(1.5, accent));
            painter.text(
                pos2(cursor_x + 3.0, rect.top() + 4.0),
                Align2::LEFT_TOP,
                format_time(self.cursor_s),
                FontId::proportional(11.0),
                text_color,
            );
        }

        // Interaction.
        let shift = ui.input(|i| i.modifiers.shift);
        if let Some(pointer) = response.interact_pointer_pos() {
            if response.drag_started() || response.clicked() || response.dragged() {
                if shift {
                    let anchor = ui.input(|i| i.pointer.press_origin()).map_or(pointer.x, |p| p.x);
                    if (pointer.x - anchor).abs() > 2.0 {
                        events.push(TimelineEvent::Select(t_of(anchor), t_of(pointer.x)));
                    }
                } else if ui.input(|i| i.pointer.middle_down()) {
                    let dx = f64::from(response.drag_delta().x / track.width()) * (v1 - v0);
                    let span = v1 - v0;
                    let start = (v0 - dx).clamp(0.0, (self.duration_s - span).max(0.0));
                    events.push(TimelineEvent::View(start, start + span));
                } else if pointer.x >= track.left() {
                    events.push(TimelineEvent::Seek(t_of(pointer.x)));
                }
            }
            if response.clicked()
                && !shift
                && let Some((_, lane, segment)) = lane_rects.iter().find(|(r, _, _)| r.contains(pointer))
            {
                events.push(TimelineEvent::SegmentClicked(*lane, *segment));
            }
        }
        if response.double_clicked() {
            events.push(TimelineEvent::View(0.0, self.duration_s));
        }
        if !hovered_markers.is_empty() {
            response.clone().on_hover_text_at_pointer(hovered_markers.join("\n"));
        }
        if let Some(hover) = response.hover_pos() {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y + i.smooth_scroll_delta.x);
            if scroll.abs() > 0.1 {
                let factor = (-f64::from(scroll) / 200.0).exp();
                let (a, b) = zoom_view((v0, v1), t_of(hover.x), factor, self.duration_s);
                events.push(TimelineEvent::View(a, b));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooming_keeps_the_point_under_the_pointer_and_stays_inside_the_episode() {
        let (a, b) = zoom_view((0.0, 10.0), 5.0, 0.5, 10.0);
        assert!((a - 2.5).abs() < 1e-9 && (b - 7.5).abs() < 1e-9);
        let (a, b) = zoom_view((0.0, 10.0), 0.0, 0.5, 10.0);
        assert!((a - 0.0).abs() < 1e-9 && (b - 5.0).abs() < 1e-9);
        let (a, b) = zoom_view((2.0, 4.0), 3.0, 100.0, 10.0);
        assert!((a, b) == (0.0, 10.0), "zooming out stops at the whole episode");
        let (a, b) = zoom_view((0.0, 10.0), 9.99, 1e-6, 10.0);
        assert!((b - a - 0.05).abs() < 1e-9 && b <= 10.0, "zooming in stops at 50 ms");
    }

    #[test]
    fn ticks_are_round_and_not_crowded() {
        assert_eq!(tick_step(10.0, 800.0), 1.0);
        assert_eq!(tick_step(600.0, 800.0), 60.0);
        assert_eq!(tick_step(0.5, 800.0), 0.05);
        assert_eq!(format_time(75.25), "1:15.2");
    }
}
