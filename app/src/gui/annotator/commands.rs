//! The timeline commands (buttons, keys, tests) and how they edit the open episode.

use kinedesk_sessions::annotation::{ConstraintKind, Outcome, StageKind, StageSource};
use kinedesk_widgets::timeline::zoom_view;

use super::*;

/// What the timeline editor can be told (by its buttons, its keys and the tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimelineCommand {
    /// Open an episode of the session (by file stem, e.g. `episode_000003`) for annotation.
    Open(String),
    /// Open the previous (-1) or next (+1) episode of the browser's list.
    OpenAdjacent(i32),
    Close,
    TogglePlay,
    SeekMs(i64),
    /// Step this many camera frames.
    Step(i32),
    /// Jump this many seconds.
    Jump(i32),
    ToStart,
    ToEnd,
    /// Selection start / end at the cursor.
    MarkIn,
    MarkOut,
    SelectMs(i64, i64),
    ClearSelection,
    ToggleLoop,
    /// Zoom in (+1) or out (-1) around the cursor.
    Zoom(i32),
    ZoomFit,
    ViewMs(i64, i64),
    /// Label the selection with a stage (or relabel the segment under the cursor when nothing is selected).
    LabelStage(String),
    /// Label with the n-th of [`StageKind::KINEVLA`] (keys 1-7).
    LabelStageNumber(usize),
    RemoveStageAtCursor,
    SetInstruction(String),
    SetConstraint(ConstraintKind, String),
    SetNotes(String),
    SetOutcome(Outcome),
    ToggleFlag,
    TrimToSelection,
    ClearTrim,
    Undo,
    Redo,
    /// Show this camera under the cursor.
    ShowCamera(usize),
    /// Move an episode into the session's trash.
    Delete(String),
    /// Flag or unflag an episode from the browser.
    ToggleFlagEpisode(String),
    /// Put the last deleted episode back.
    RestoreDeleted,
    /// Split the open episode in two at the cursor (the original goes to the trash).
    SplitAtCursor,
    /// Undo the last split: the original back, its two halves to the trash.
    UndoSplit,
}

impl Annotator {
    /// Carries out a timeline command on the open episode. Returns an error for the operator when it cannot.
    pub fn apply(&mut self, command: TimelineCommand) -> Result<(), String> {
        use TimelineCommand as C;
        let open = self.open.as_mut().ok_or("open an episode first (double-click it in the list)")?;
        let seconds = |ms: i64| ms as f64 / 1000.0;
        match command {
            C::Open(_)
            | C::OpenAdjacent(_)
            | C::Delete(_)
            | C::RestoreDeleted
            | C::ToggleFlagEpisode(_)
            | C::SplitAtCursor
            | C::UndoSplit => {
                return Err("handled by the session".into());
            }
            C::Close => {
                self.flush();
                self.open = None;
            }
            C::TogglePlay => {
                if !open.playing && open.cursor_s >= open.duration_s - 1e-3 {
                    open.cursor_s = 0.0;
                }
                open.playing = !open.playing;
            }
            C::SeekMs(ms) => {
                open.cursor_s = seconds(ms);
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::Step(frames) => {
                open.playing = false;
                open.cursor_s += f64::from(frames) / open.fps;
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::Jump(by) => {
                open.cursor_s += f64::from(by);
                open.clamp_cursor();
                open.follow_cursor();
            }
            C::ToStart => {
                open.cursor_s = 0.0;
                open.follow_cursor();
            }
            C::ToEnd => {
                open.cursor_s = open.duration_s;
                open.follow_cursor();
            }
            C::MarkIn => {
                let end = open.selection.map_or(open.duration_s, |(_, b)| b.max(open.cursor_s));
                open.selection = Some((open.cursor_s, end));
            }
            C::MarkOut => {
                let start = open.selection.map_or(0.0, |(a, _)| a.min(open.cursor_s));
                open.selection = Some((start, open.cursor_s));
            }
            C::SelectMs(a, b) => {
                let (a, b) = (seconds(a.min(b)).max(0.0), seconds(a.max(b)).min(open.duration_s));
                open.selection = (b > a).then_some((a, b));
            }
            C::ClearSelection => open.selection = None,
            C::ToggleLoop => open.looping = !open.looping,
            C::Zoom(direction) => {
                let factor = if direction > 0 { 0.5 } else { 2.0 };
                open.view = zoom_view(open.view, open.cursor_s, factor, open.duration_s);
            }
            C::ZoomFit => open.view = (0.0, open.duration_s),
            C::ViewMs(a, b) => {
                let (a, b) = (seconds(a).max(0.0), seconds(b).min(open.duration_s));
                if b > a {
                    open.view = (a, b);
                }
            }
            C::LabelStage(stage) => label(open, &stage)?,
            C::LabelStageNumber(n) => {
                let stage = StageKind::KINEVLA
                    .get(n)
                    .ok_or_else(|| format!("there are {} stage kinds", StageKind::KINEVLA.len()))?;
                label(open, stage.name())?;
            }
            C::RemoveStageAtCursor => {
                let at = open.cursor_s;
                let index = open.history.current.stage_at(at).ok_or("no stage under the cursor")?;
                open.history.edit(None, |a| {
                    a.stages.remove(index);
                });
            }
            C::SetInstruction(text) => open.history.edit(Some("instruction"), |a| a.instruction = text),
            C::SetConstraint(field, text) => {
                open.history.edit(Some(field.name()), |a| *a.constraints.get_mut(field) = text);
            }
            C::SetNotes(text) => open.history.edit(Some("notes"), |a| a.notes = text),
            C::SetOutcome(outcome) => open.history.edit(None, |a| a.outcome = outcome),
            C::ToggleFlag => open.history.edit(None, |a| a.flagged = !a.flagged),
            C::TrimToSelection => {
                let (a, b) = open.selection.ok_or("select the span to keep first (I and O, or Shift+drag)")?;
                open.history.edit(None, |ann| ann.trim = Some((a.min(b), a.max(b))));
            }
            C::ClearTrim => open.history.edit(None, |a| a.trim = None),
            C::Undo => {
                if !open.history.undo() {
                    return Err("nothing to undo".into());
                }
            }
            C::Redo => {
                if !open.history.redo() {
                    return Err("nothing to redo".into());
                }
            }
            C::ShowCamera(camera) => {
                if camera >= open.episode.meta.cameras.len().max(1) {
                    return Err(format!("the episode has {} cameras", open.episode.meta.cameras.len()));
                }
                open.camera = camera;
            }
        }
        Ok(())
    }
}

/// Labels the selection, or relabels the segment under the cursor when nothing is selected.
fn label(open: &mut OpenEpisode, stage: &str) -> Result<(), String> {
    let stage = stage.trim();
    if stage.is_empty() {
        return Err("a stage needs a name".into());
    }
    if let Some((a, b)) = open.selection {
        open.history.edit(None, |ann| ann.label_span(stage, a, b));
        // The next stage usually starts where this one ended.
        let end = a.max(b);
        open.selection = None;
        open.cursor_s = end;
        return Ok(());
    }
    let index = open.history.current.stage_at(open.cursor_s).ok_or("select a span first (I and O, or Shift+drag)")?;
    open.history.edit(None, |ann| {
        ann.stages[index].stage = stage.into();
        ann.stages[index].source = StageSource::Operator;
    });
    Ok(())
}
