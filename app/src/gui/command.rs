//! The one way anything acts on the app.
//!
//! Panels, menus, keyboard shortcuts and tests all produce [`Command`] values; `KineDeskApp::handle_command` is the
//! single place that carries them out, so a button, its shortcut and a test take exactly the same path.

use std::path::PathBuf;

use kinedesk_models::StopReason;
use kinedesk_models::robot::BuiltinRobot;

use crate::gui::layout::Pane;
use crate::gui::settings::ThemeChoice;

/// A gripper opening in per-mille (0 closed … 1000 open), so commands stay `Eq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderedOpening(pub u16);

impl OrderedOpening {
    pub const CLOSED: Self = Self(0);
    pub const OPEN: Self = Self(1000);

    #[must_use]
    pub fn fraction(self) -> f64 {
        f64::from(self.0.min(1000)) / 1000.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Stop all motion now. Goes straight to the stop signal, bypassing every queue.
    Stop {
        reason: StopReason,
    },
    /// Show or hide the keyboard-shortcut help window.
    ToggleShortcutHelp,
    /// Bring a pane to the front (making it the active tab where it shares a tab group).
    ShowPane(Pane),
    /// Put every pane back where the default layout has it.
    ResetLayout,
    /// Switch to a named layout (View → Layout).
    UseLayout(crate::gui::layout::NamedLayout),
    /// Show one pane over the whole window (`None`, or the pane already maximised: back to the layout). The layout
    /// itself is not changed.
    MaximisePane(Option<Pane>),
    SetTheme(ThemeChoice),
    /// Empty the operator log view (the entries are gone from the view, not from any recording).
    ClearLog,
    /// Close the window (state is saved first by eframe).
    Quit,
    /// Show this robot model in the arm view (drops a preview planned for another robot).
    SelectRobot(BuiltinRobot),
    /// Load a URDF robot (meshes included) and show it; `tip` names the flange link.
    LoadUrdf {
        path: PathBuf,
        tip: Option<String>,
    },
    /// Check a trajectory file against the robot's limits and show it as a ghost.
    LoadTrajectory(PathBuf),
    /// Open the platform's file dialog for this purpose (on a thread; its answer comes back as a command).
    BrowseFor(crate::gui::file_dialogs::DialogPurpose),
    /// Put this path into the Session pane's export box.
    SetExportDestination(PathBuf),
    /// Put this path into the Session pane's import box.
    SetImportSource(PathBuf),
    /// Move the ghost to this time step of the previewed trajectory.
    ScrubTrajectory(usize),
    /// Stop previewing the trajectory.
    ClearTrajectory,
    /// Connect the simulated arm (the embedded default robot) for the robot model shown.
    ConnectSimArm,
    /// Connect the robot at an address for the robot model shown: `realman://host:port` (or `host:port`), or
    /// `ros2://[?state=TOPIC&command=TOPIC]` (a ros2_control arm).
    ConnectRobot(String),
    /// Answer to "quit while the robot is connected?": true stops the arm and quits.
    ConfirmQuit(bool),
    /// Move the gripper: 0 closed, 1 open (needs a connected robot).
    Gripper(OrderedOpening),
    /// Arm or disarm keyboard teleoperation.
    SetTeleop(bool),
    SetJogMode(crate::gui::teleop::JogMode),
    /// Jog speed step (index into `teleop::SPEEDS`).
    SetJogSpeed(usize),
    /// Joint moved in joint jog mode (0-based).
    SetJogJoint(usize),
    /// Disconnect the robot.
    DisconnectRobot,
    /// Execute the previewed trajectory on the connected robot (refused unless every check passes).
    SendTrajectory,
    /// Move the arm (point to point, 25 % speed) to where the previewed trajectory starts. A move of more than a few
    /// degrees asks first.
    MoveToStart,
    /// The operator has looked at the previewed plan's warnings (needed before Approve when it has any).
    AcknowledgeWarnings,
    /// The answer to "move to the start?" (true: move).
    ConfirmMoveToStart(bool),
    /// Ask the policy to plan this instruction from the arm's current state.
    Plan(String),
    /// Plan with the built-in planner or a server.
    UsePolicy(crate::gui::policy_state::PolicyChoice),
    /// Approve the previewed plan (needs every check passing and the full decode shown); Send needs this.
    ApprovePlan,
    /// Discard the plan (the instruction goes back into the box for editing).
    RejectPlan,
    /// Preview what the coarse (goal-level) tokens alone decode to, or the full decode.
    SetCoarsePreview(bool),
    /// Velocity scaling for the plan, in percent of the joints' rated speed and acceleration.
    SetVelocityPercent(u16),
    /// Start a camera feed.
    AddCamera(crate::gui::camera_feeds::CameraSpec),
    /// Stop and remove the feed with this name.
    RemoveCamera(String),
    /// Show one feed alone (`None`: back to the grid).
    MaximiseCamera(Option<String>),
    /// Show a feed in its own window, or put it back in the grid.
    PopOutCamera {
        name: String,
        out: bool,
    },
    /// Set a device setting (exposure, white balance, …); saved with the camera.
    SetCameraSetting {
        camera: String,
        setting: String,
        value: i64,
    },
    /// List the cameras this computer has.
    FindCameras,
    /// Open (or create) a session folder for recording.
    OpenSession(PathBuf),
    /// Start recording an episode (cameras, joint states, events) into the open session.
    StartRecording,
    /// Finish the episode being recorded and keep it.
    FinishEpisode,
    /// Stop recording and delete the episode (to record it again).
    DiscardEpisode,
    /// Check the open session as its LeRobot export would be (the dataset doctor), before exporting it.
    CheckSession,
    /// Export the open session into this (new) folder or file.
    ExportSession {
        out: PathBuf,
        format: crate::gui::session_state::ExportFormat,
    },
    /// Episode length limit and reset time in seconds (0: none), and whether to record again after the reset.
    SetEpisodeTimers {
        limit_s: u32,
        reset_s: u32,
        record_after_reset: bool,
    },
    /// End the reset countdown now.
    SkipReset,
    /// Import a LeRobot dataset (folder) into the open session for annotation.
    ImportDataset(PathBuf),
    /// Use this policy profile (TOML) for rollouts (it is loaded first: a bad file is refused with the reason).
    SetRolloutProfile(PathBuf),
    /// Push the open session to object storage (`s3://BUCKET/PREFIX`, `gs://…`, `az://…`; endpoint empty: the
    /// provider's): exported and appended to a dataset, or as a session (logs and annotations).
    PushSession(crate::gui::settings::RemoteTarget),
    /// Pull a session from object storage into the open session folder (only what changed there; nothing changed
    /// here is overwritten), or, with none open, into the folder typed in the Session pane, then open it.
    PullSession(crate::gui::settings::RemoteTarget),
    /// Stop the push under way: the parts in flight finish and are journaled, so pushing again continues.
    CancelPush,
    /// Stream recordings live to a Rerun viewer at this address (`None`: stop).
    SetRerunLive(Option<String>),
    /// Browse, annotate and edit recorded episodes on the timeline.
    Timeline(crate::gui::annotator::TimelineCommand),
    /// Run the policy closed loop on the connected robot for this instruction (recorded into the episode being
    /// recorded, if one is).
    StartRollout(String),
    /// Let the chunk waiting for approval run.
    ApproveChunk,
    /// Do not run the waiting chunk: the rollout pauses (take over, then resume, or stop).
    RejectChunk,
    /// The chunk executing finishes, nothing new starts; the operator may take over.
    PauseRollout,
    /// Continue the policy from the arm's state now.
    ResumeRollout,
    /// End the rollout and stop the arm (as Stop does).
    StopRollout,
    /// The rollout's mode, envelope and limits (persisted).
    SetRolloutSettings(crate::gui::rollout_state::RolloutSettings),
}
