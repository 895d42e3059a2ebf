//! The policy's output as the operator reads it: reasoning as labelled chips and action tokens as a strip of codes
//! coloured by level (coarse/goal level blue, fine/kinematic levels from green to orange).

use crate::palette;
use egui::{
    Color32, CornerRadius, Response, RichText, Sense, Stroke, StrokeKind, TextStyle, TextWrapMode, Ui, WidgetInfo,
    WidgetText,
};

/// Colour of a token level: the coarse (goal) levels blue, the fine (kinematic) levels from green to orange.
#[must_use]
pub fn level_colour(level: usize, coarse_levels: usize, levels: usize) -> Color32 {
    if level < coarse_levels {
        return palette::COARSE_LEVEL;
    }
    palette::fine_level(level - coarse_levels, levels.saturating_sub(coarse_levels).max(1))
}

fn highlight_stroke(highlighted: bool) -> Stroke {
    if highlighted { Stroke::new(2.0, palette::HIGHLIGHT) } else { Stroke::NONE }
}

fn small_galley(ui: &Ui, text: &str, monospace: bool) -> std::sync::Arc<egui::Galley> {
    let rich = if monospace { RichText::new(text).small().monospace() } else { RichText::new(text).small() };
    WidgetText::from(rich).into_galley(ui, Some(TextWrapMode::Extend), f32::INFINITY, TextStyle::Small)
}

/// A small rounded label that reacts to the mouse (sized up front, so it wraps with its neighbours).
/// `highlighted` draws it with a bright border.
pub fn chip_ui(ui: &mut Ui, text: &str, fill: Color32, highlighted: bool) -> Response {
    // The body size, not Small (about 9 px): the reasoning is what the operator reads before approving.
    let galley = WidgetText::from(RichText::new(text)).into_galley(
        ui,
        Some(TextWrapMode::Extend),
        f32::INFINITY,
        TextStyle::Body,
    );
    let padding = egui::vec2(6.0, 2.0);
    let (rect, response) = ui.allocate_exact_size(galley.size() + 2.0 * padding, Sense::hover());
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        painter.rect(rect, CornerRadius::same(8), fill, highlight_stroke(highlighted), StrokeKind::Inside);
        painter.galley(rect.min + padding, galley, Color32::WHITE);
    }
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Label, true, text));
    response
}

/// What the token strip shows.
pub struct TokenStrip<'a> {
    /// Codes per chunk, `levels` tokens per position.
    pub chunks: &'a [Vec<u32>],
    /// Name of each level as written in the token grammar (`c`, `f1`, …).
    pub level_names: &'a [String],
    pub coarse_levels: usize,
    /// The chunk to draw highlighted (the one under the mouse in another view).
    pub highlight: Option<usize>,
    /// Show only this many chunks (the strip grows as tokens stream in).
    pub max_chunks: usize,
}

/// One chunk: its codes in boxes coloured by level, framed together.
fn chunk_ui(ui: &mut Ui, strip: &TokenStrip<'_>, index: usize, chunk: &[u32]) -> Response {
    let levels = strip.level_names.len().max(1);
    let galleys: Vec<_> = chunk.iter().map(|code| small_galley(ui, &code.to_string(), true)).collect();
    let pad = egui::vec2(3.0, 1.0);
    let width: f32 = galleys.iter().map(|g| g.size().x + 2.0 * pad.x + 1.0).sum::<f32>() + 3.0;
    let height = galleys.iter().map(|g| g.size().y).fold(0.0, f32::max) + 2.0 * pad.y + 4.0;
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, height), Sense::hover());
    let text: Vec<String> = chunk
        .iter()
        .enumerate()
        .map(|(position, code)| {
            let name = strip.level_names.get(position % levels).map_or("?", String::as_str);
            format!("<act_{name}:{code}>")
        })
        .collect();
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        let highlighted = strip.highlight == Some(index);
        let frame = if highlighted { highlight_stroke(true) } else { Stroke::new(1.0, Color32::GRAY) };
        painter.rect_stroke(rect, CornerRadius::same(4), frame, StrokeKind::Inside);
        let mut x = rect.min.x + 2.0;
        for (position, galley) in galleys.into_iter().enumerate() {
            let colour = level_colour(position % levels, strip.coarse_levels, levels);
            let size = galley.size() + 2.0 * pad;
            let cell = egui::Rect::from_min_size(egui::pos2(x, rect.min.y + 2.0), size);
            painter.rect_filled(cell, CornerRadius::ZERO, colour);
            painter.galley(cell.min + pad, galley, Color32::WHITE);
            x += size.x + 1.0;
        }
    }
    let label = format!("chunk {index}: {}", text.join(" "));
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Label, true, &label));
    response.on_hover_text(label)
}

/// Draws the action tokens, chunk by chunk, wrapping. Returns the chunk under the mouse.
pub fn token_strip_ui(ui: &mut Ui, strip: &TokenStrip<'_>) -> Option<usize> {
    let mut hovered = None;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = egui::vec2(3.0, 3.0);
        for (index, chunk) in strip.chunks.iter().enumerate().take(strip.max_chunks) {
            if chunk_ui(ui, strip, index, chunk).hovered() {
                hovered = Some(index);
            }
        }
        if strip.chunks.len() > strip.max_chunks {
            ui.label(format!("… {} more chunks", strip.chunks.len() - strip.max_chunks));
        }
    });
    hovered
}

/// A legend of the level colours.
pub fn token_legend_ui(ui: &mut Ui, level_names: &[String], coarse_levels: usize) {
    ui.horizontal(|ui| {
        for (level, name) in level_names.iter().enumerate() {
            let kind = if level < coarse_levels { "goal" } else { "kinematic" };
            chip_ui(ui, &format!("{name} ({kind})"), level_colour(level, coarse_levels, level_names.len()), false);
        }
    });
}
