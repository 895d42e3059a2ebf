//! Keyboard shortcuts: one table drives both the key handling and the help window.

use egui::{Context, Key, KeyboardShortcut, Modifiers};
use kinedesk_models::StopReason;
use kinedesk_widgets::ShortcutRow;

use kinedesk_sessions::annotation::Outcome;

use crate::gui::annotator::TimelineCommand;
use crate::gui::command::Command;
use crate::gui::layout::Pane;

/// The Stop key. Esc was chosen over Space because Space is play/pause on the timeline and is typed in text boxes.
pub const STOP_KEY: Key = Key::Escape;

/// One keyboard binding.
pub struct Binding {
    pub shortcut: KeyboardShortcut,
    /// What the help window says it does.
    pub action: &'static str,
    pub command: Command,
    /// Whether it fires while a text box has keyboard focus.
    pub while_typing: bool,
    pub scope: Scope,
}

/// When a binding is live. The arrow keys finish/discard while recording and step the timeline while annotating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Always,
    Recording,
    /// An episode is open on the timeline (and nothing is being recorded, and teleop is not armed).
    Annotating,
    /// A rollout is running or paused.
    RollingOut,
    /// A rollout chunk waits for Approve or Reject.
    Approving,
}

/// Which scoped bindings are live this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActiveScopes {
    pub recording: bool,
    pub annotating: bool,
    pub rolling_out: bool,
    pub approving: bool,
}

impl ActiveScopes {
    fn allows(self, scope: Scope) -> bool {
        match scope {
            Scope::Always => true,
            Scope::Recording => self.recording,
            Scope::Annotating => self.annotating,
            Scope::RollingOut => self.rolling_out,
            Scope::Approving => self.approving,
        }
    }
}

const fn bind(modifiers: Modifiers, key: Key, action: &'static str, command: Command, while_typing: bool) -> Binding {
    Binding { shortcut: KeyboardShortcut::new(modifiers, key), action, command, while_typing, scope: Scope::Always }
}

const fn scoped(scope: Scope, modifiers: Modifiers, key: Key, action: &'static str, command: Command) -> Binding {
    Binding { shortcut: KeyboardShortcut::new(modifiers, key), action, command, while_typing: false, scope }
}

const fn timeline(modifiers: Modifiers, key: Key, action: &'static str, command: TimelineCommand) -> Binding {
    scoped(Scope::Annotating, modifiers, key, action, Command::Timeline(command))
}

const CTRL_SHIFT: Modifiers = Modifiers::COMMAND.plus(Modifiers::SHIFT);

/// Every binding, in the order the help window lists them. A binding with Shift comes before the same key without
/// it: egui matches shortcuts ignoring an extra Shift, so the plain one would take the shifted press too.
pub const BINDINGS: &[Binding] = &[
    bind(
        Modifiers::NONE,
        STOP_KEY,
        "Stop all motion (always, even while typing)",
        Command::Stop { reason: StopReason::Key },
        true,
    ),
    bind(Modifiers::NONE, Key::F1, "Show / hide keyboard shortcuts", Command::ToggleShortcutHelp, true),
    bind(Modifiers::NONE, Key::Questionmark, "Show / hide keyboard shortcuts", Command::ToggleShortcutHelp, false),
    bind(Modifiers::ALT, Key::Num1, "Show the Cameras pane", Command::ShowPane(Pane::Cameras), true),
    bind(Modifiers::ALT, Key::Num2, "Show the Arm (3D) pane", Command::ShowPane(Pane::Arm), true),
    bind(
        Modifiers::ALT,
        Key::Num3,
        "Show the Instruction & Reasoning pane",
        Command::ShowPane(Pane::Instruction),
        true,
    ),
    bind(Modifiers::ALT, Key::Num4, "Show the Trajectory pane", Command::ShowPane(Pane::Trajectory), true),
    bind(Modifiers::ALT, Key::Num5, "Show the Session / Timeline pane", Command::ShowPane(Pane::Session), true),
    bind(Modifiers::ALT, Key::Num6, "Show the Log pane", Command::ShowPane(Pane::Log), true),
    bind(Modifiers::ALT, Key::Num7, "Show the Rollout pane", Command::ShowPane(Pane::Rollout), true),
    scoped(Scope::Approving, Modifiers::NONE, Key::Enter, "Rollout: approve the waiting chunk", Command::ApproveChunk),
    scoped(
        Scope::Approving,
        Modifiers::NONE,
        Key::Backspace,
        "Rollout: reject the waiting chunk",
        Command::RejectChunk,
    ),
    scoped(Scope::RollingOut, Modifiers::SHIFT, Key::P, "Rollout: resume from the arm's state", Command::ResumeRollout),
    scoped(Scope::RollingOut, Modifiers::NONE, Key::P, "Rollout: pause (take over with teleop)", Command::PauseRollout),
    bind(CTRL_SHIFT, Key::A, "Approve the previewed plan (every check must pass)", Command::ApprovePlan, false),
    bind(
        CTRL_SHIFT,
        Key::Enter,
        "Send the approved plan to the robot (the driver checks it again)",
        Command::SendTrajectory,
        false,
    ),
    bind(CTRL_SHIFT, Key::R, "Reset the layout to the default", Command::ResetLayout, true),
    bind(
        Modifiers::COMMAND,
        Key::M,
        "Maximise the Session / Timeline pane, or restore the layout",
        Command::MaximisePane(Some(Pane::Session)),
        true,
    ),
    bind(
        CTRL_SHIFT,
        Key::T,
        "Toggle dark / light theme",
        Command::SetTheme(crate::gui::settings::ThemeChoice::System),
        true,
    ),
    bind(Modifiers::COMMAND, Key::R, "Start recording an episode (Session pane)", Command::StartRecording, true),
    scoped(
        Scope::Recording,
        Modifiers::NONE,
        Key::ArrowRight,
        "While recording: finish the episode",
        Command::FinishEpisode,
    ),
    scoped(
        Scope::Recording,
        Modifiers::NONE,
        Key::ArrowLeft,
        "While recording: discard the episode (re-record)",
        Command::DiscardEpisode,
    ),
    timeline(Modifiers::NONE, Key::Space, "Timeline: play / pause", TimelineCommand::TogglePlay),
    timeline(Modifiers::SHIFT, Key::ArrowRight, "Timeline: 1 s forward", TimelineCommand::Jump(1)),
    timeline(Modifiers::SHIFT, Key::ArrowLeft, "Timeline: 1 s back", TimelineCommand::Jump(-1)),
    timeline(Modifiers::NONE, Key::ArrowRight, "Timeline: next frame", TimelineCommand::Step(1)),
    timeline(Modifiers::NONE, Key::ArrowLeft, "Timeline: previous frame", TimelineCommand::Step(-1)),
    timeline(Modifiers::NONE, Key::Home, "Timeline: to the start", TimelineCommand::ToStart),
    timeline(Modifiers::NONE, Key::End, "Timeline: to the end", TimelineCommand::ToEnd),
    timeline(Modifiers::NONE, Key::I, "Timeline: selection starts here (in)", TimelineCommand::MarkIn),
    timeline(Modifiers::NONE, Key::O, "Timeline: selection ends here (out)", TimelineCommand::MarkOut),
    timeline(Modifiers::NONE, Key::L, "Timeline: loop the selection on / off", TimelineCommand::ToggleLoop),
    timeline(
        Modifiers::NONE,
        Key::Num1,
        "Timeline: label the selection approach",
        TimelineCommand::LabelStageNumber(0),
    ),
    timeline(Modifiers::NONE, Key::Num2, "Timeline: label the selection grasp", TimelineCommand::LabelStageNumber(1)),
    timeline(Modifiers::NONE, Key::Num3, "Timeline: label the selection lift", TimelineCommand::LabelStageNumber(2)),
    timeline(Modifiers::NONE, Key::Num4, "Timeline: label the selection rotate", TimelineCommand::LabelStageNumber(3)),
    timeline(Modifiers::NONE, Key::Num5, "Timeline: label the selection move", TimelineCommand::LabelStageNumber(4)),
    timeline(Modifiers::NONE, Key::Num6, "Timeline: label the selection place", TimelineCommand::LabelStageNumber(5)),
    timeline(Modifiers::NONE, Key::Num7, "Timeline: label the selection release", TimelineCommand::LabelStageNumber(6)),
    timeline(
        Modifiers::NONE,
        Key::Delete,
        "Timeline: remove the stage under the cursor",
        TimelineCommand::RemoveStageAtCursor,
    ),
    timeline(
        Modifiers::NONE,
        Key::Backspace,
        "Timeline: remove the stage under the cursor",
        TimelineCommand::RemoveStageAtCursor,
    ),
    timeline(Modifiers::NONE, Key::Y, "Timeline: episode succeeded", TimelineCommand::SetOutcome(Outcome::Success)),
    timeline(Modifiers::NONE, Key::N, "Timeline: episode failed", TimelineCommand::SetOutcome(Outcome::Failure)),
    timeline(Modifiers::NONE, Key::F, "Timeline: flag / unflag the episode", TimelineCommand::ToggleFlag),
    timeline(Modifiers::NONE, Key::T, "Timeline: trim the episode to the selection", TimelineCommand::TrimToSelection),
    timeline(Modifiers::NONE, Key::Plus, "Timeline: zoom in", TimelineCommand::Zoom(1)),
    timeline(Modifiers::NONE, Key::Equals, "Timeline: zoom in", TimelineCommand::Zoom(1)),
    timeline(Modifiers::NONE, Key::Minus, "Timeline: zoom out", TimelineCommand::Zoom(-1)),
    timeline(Modifiers::NONE, Key::Num0, "Timeline: show the whole episode", TimelineCommand::ZoomFit),
    timeline(CTRL_SHIFT, Key::Z, "Timeline: redo", TimelineCommand::Redo),
    timeline(Modifiers::COMMAND, Key::Y, "Timeline: redo", TimelineCommand::Redo),
    timeline(Modifiers::COMMAND, Key::Z, "Timeline: undo", TimelineCommand::Undo),
    timeline(Modifiers::NONE, Key::PageDown, "Timeline: next episode", TimelineCommand::OpenAdjacent(1)),
    timeline(Modifiers::NONE, Key::PageUp, "Timeline: previous episode", TimelineCommand::OpenAdjacent(-1)),
    bind(Modifiers::COMMAND, Key::Q, "Quit", Command::Quit, true),
];

/// Reads this frame's key presses and returns the commands they mean.
///
/// The Stop key is only *read*, never consumed, so Esc still closes menus and leaves text boxes as egui expects.
/// `current_theme` resolves the theme toggle into a concrete [`Command::SetTheme`].
#[must_use]
pub fn commands_from_keys(
    ctx: &Context,
    current_theme: crate::gui::settings::ThemeChoice,
    scopes: ActiveScopes,
) -> Vec<Command> {
    let typing = ctx.egui_wants_keyboard_input();
    let mut commands = Vec::new();
    for binding in BINDINGS {
        if (typing && !binding.while_typing) || !scopes.allows(binding.scope) {
            continue;
        }
        let pressed = if binding.shortcut.logical_key == STOP_KEY {
            ctx.input(|input| input.key_pressed(STOP_KEY))
        } else {
            ctx.input_mut(|input| input.consume_shortcut(&binding.shortcut))
        };
        if pressed {
            commands.push(match &binding.command {
                Command::SetTheme(_) => Command::SetTheme(current_theme.toggled()),
                other => other.clone(),
            });
        }
    }
    commands
}

/// Rows for the help window, with keys written the way this platform writes them.
#[must_use]
pub fn help_rows(ctx: &Context) -> Vec<ShortcutRow> {
    let mut rows: Vec<ShortcutRow> = Vec::new();
    for binding in BINDINGS {
        let keys = ctx.format_shortcut(&binding.shortcut).replace("Questionmark", "?");
        // Bindings that share an action are listed on one row ("F1 or ?").
        if let Some(previous) = rows.last_mut().filter(|row| row.action == binding.action) {
            previous.keys = format!("{} or {keys}", previous.keys);
        } else {
            rows.push(ShortcutRow { keys, action: binding.action });
        }
    }
    rows.push(ShortcutRow { keys: "Drag a tab".to_owned(), action: "Re-arrange panes (the layout is saved)" });
    rows.push(ShortcutRow {
        keys: "Shift + W/S A/D R/F".to_owned(),
        action: "Teleop (when armed): jog x / y / z; Shift is the dead-man key",
    });
    rows.push(ShortcutRow { keys: "Shift + U/O I/K J/L".to_owned(), action: "Teleop: roll / pitch / yaw" });
    rows.push(ShortcutRow { keys: "[ and ]".to_owned(), action: "Teleop: slower / faster" });
    rows.push(ShortcutRow { keys: "1 … 7".to_owned(), action: "Teleop joint mode: choose the joint" });
    rows
}
