//! The desk's main window, split the way rerun splits its app: this file holds the state and its construction;
//! [`logic`](self) runs everything that is not drawing (workers drained, the robot's events applied, teleop,
//! timers, background results) and is called by eframe even while the window is hidden; `ui` draws and collects
//! commands; `command_handling` carries them out. Robot sequencing and recording do not live here at all: the driver
//! executes whole plans and the recorder is fed by device taps, so a minimised window changes nothing.

mod command_handling;
mod logic;
mod plan_flow;
mod recording;
mod robot_link;
mod rollout;
mod ui;
pub use command_handling::MOVE_TO_START_CONFIRM_DEG;
pub use recording::UNDO_DISCARD_LABEL;
pub use ui::{HELP_TITLE, LAYOUT_MENU_LABEL, MOVE_TO_START_CONFIRM_LABEL, RECENT_SESSIONS_LABEL};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use egui::Context;
use kinedesk_models::driver::DriverHandle;
use kinedesk_models::policy::backend::{PolicyCommand, PolicyUpdate};
use kinedesk_models::{ConnectionState, DeviceKind, StopSignal, Worker};
use kinedesk_widgets::arm_view::ArmViewRenderer;
use kinedesk_widgets::{LogEntry, LogLevel, StatusItem, Toasts};

use crate::gui::arm_state::{ArmState, RobotSource};
use crate::gui::background_tasks::BackgroundTasks;
use crate::gui::camera_feeds::CameraFeeds;
use crate::gui::command::Command;
use crate::gui::gamepad::{GamepadEvent, GamepadState, spawn_gamepad};
use crate::gui::layout::{Pane, default_layout, layout_is_complete};
use crate::gui::loader::{LoadJob, LoadResult, spawn_loader};
use crate::gui::policy_state::{PolicyChoice, PolicyState};
use crate::gui::session_state::{SessionState, SessionTasks};
use crate::gui::settings::{PersistedState, ThemeChoice};
use crate::gui::teleop::Teleop;

/// The button that leaves a maximised pane.
pub const RESTORE_LAYOUT_LABEL: &str = "Restore layout";

/// Printed on stdout when the first frame has been presented (used by `kinedesk bench startup`).
pub const FIRST_FRAME_MARKER: &str = "KINEDESK_FIRST_FRAME_PRESENTED";

/// Time per logic pass spent taking worker results.
const WORKER_DRAIN_BUDGET: Duration = Duration::from_millis(2);
/// How many log entries the log view keeps.
const LOG_CAPACITY: usize = 10_000;
/// How many executed commands are remembered (shown to tests and used for diagnostics).
const COMMAND_HISTORY_CAPACITY: usize = 256;

/// Start-up options from the command line.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Ignore the stored layout and start from the default one.
    pub reset_layout: bool,
    /// Close the window after this many frames (benchmarks and smoke tests).
    pub exit_after_frames: Option<u64>,
    /// Print [`FIRST_FRAME_MARKER`] once the first frame has been presented.
    pub report_first_frame: bool,
    /// A trajectory file to preview as a ghost at start-up.
    pub trajectory: Option<std::path::PathBuf>,
    /// A URDF robot to show at start-up, and its flange link.
    pub urdf: Option<(std::path::PathBuf, Option<String>)>,
    /// Connect the simulated arm at start-up.
    pub connect_sim: bool,
    /// Plan this instruction at start-up.
    pub plan: Option<String>,
    /// Camera feeds to start with instead of the saved ones (`Some(vec![])`: none).
    pub cameras: Option<Vec<crate::gui::camera_feeds::CameraSpec>>,
    /// A session folder to open at start-up.
    pub session: Option<std::path::PathBuf>,
    /// An episode of that session to open on the timeline.
    pub annotate: Option<String>,
    /// Where the operator's own policy profiles (`*.toml`) are: `profiles/` in the state directory.
    pub profile_dir: Option<std::path::PathBuf>,
}

pub struct KineDeskApp {
    /// Everything that persists between runs, and the one place settings live.
    state: PersistedState,
    arm: ArmState,
    options: AppOptions,
    log: VecDeque<LogEntry>,
    toasts: Toasts,
    stop: StopSignal,
    show_help: bool,
    command_history: VecDeque<Command>,
    frame_index: u64,
    last_frame_cpu: Duration,
    /// Messages produced before the first logic pass (when no time source for toasts exists yet).
    startup_messages: Vec<(LogLevel, String)>,
    /// Commands queued outside a frame (start-up options, timers), carried out in the next logic pass.
    pending_commands: Vec<Command>,
    /// The file-loading worker (`None` only if its thread could not be started).
    loader: Option<Worker<LoadJob, LoadResult>>,
    loads_in_flight: usize,
    /// The connected robot driver, if any.
    robot: Option<DriverHandle>,
    robot_state: ConnectionState,
    /// Ids given to plans sent to the driver.
    next_execution_id: u64,
    /// The "quit while the robot is connected?" dialog is open.
    confirm_quit: bool,
    /// The native file dialog in flight, if any.
    file_dialogs: crate::gui::file_dialogs::FileDialogs,
    /// The "move to the start?" dialog is open, for a move this many degrees long (largest joint).
    confirm_move_to_start: Option<f64>,
    teleop: Teleop,
    /// The gamepad thread, and the newest reading with when it arrived.
    gamepad: Option<Worker<(), GamepadEvent>>,
    gamepad_state: Option<(GamepadState, Instant)>,
    /// The instruction box, the plan streaming in, and its review.
    policy: PolicyState,
    /// The policy thread (started with the first plan).
    policy_worker: Option<Worker<PolicyCommand, PolicyUpdate>>,
    policy_state: ConnectionState,
    /// The RVQ-VAE tokenizer (the built-in weights), shared by the built-in planner and the remote client.
    tokenizer: Option<std::sync::Arc<kinedesk_models::tokenizer::ActionTokenizer>>,
    /// Camera feeds and their textures.
    cameras: CameraFeeds,
    /// The open session, the episode being recorded, the episode list.
    session: SessionState,
    /// Listing, finishing, exporting and importing, off the UI thread.
    tasks: SessionTasks,
    /// A pane shown over the whole window (the layout is kept as it was).
    maximised_pane: Option<Pane>,
    /// The closed-loop rollout (ticked in the logic pass) and its figures.
    rollout: crate::gui::rollout_state::RolloutView,
}

impl KineDeskApp {
    /// Creates the app inside eframe (or an `egui_kittest` harness).
    #[must_use]
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let renderer = cc.wgpu_render_state.as_ref().map(|render_state| {
            ArmViewRenderer::install(render_state);
            let info = render_state.adapter.get_info();
            format!("wgpu on {} ({:?}, {:?})", info.name, info.backend, info.device_type)
        });
        Self::from_parts(&cc.egui_ctx, cc.storage, renderer.as_deref(), options)
    }

    /// Creates the app from its parts, without eframe: for benchmarks, persistence tests and headless runs.
    #[must_use]
    pub fn from_parts(
        ctx: &Context,
        storage: Option<&dyn eframe::Storage>,
        renderer: Option<&str>,
        options: AppOptions,
    ) -> Self {
        let mut startup_messages = Vec::new();
        let stored = if options.reset_layout {
            startup_messages.push((LogLevel::Info, "Layout reset to the default (--reset-layout).".to_owned()));
            None
        } else {
            storage.and_then(|storage| storage.get_string(PersistedState::KEY)).and_then(|text| {
                match serde_json::from_str::<PersistedState>(&text) {
                    Ok(state) => Some(state),
                    Err(error) => {
                        startup_messages.push((
                            LogLevel::Warn,
                            format!("Saved layout could not be read ({error}); using the default layout."),
                        ));
                        None
                    }
                }
            })
        };
        let mut state = stored.unwrap_or_default();
        if state.layout_version != PersistedState::LAYOUT_VERSION || !layout_is_complete(&state.layout) {
            startup_messages
                .push((LogLevel::Warn, "Saved layout was incomplete; using the default layout.".to_owned()));
            state.layout = default_layout();
            state.layout_version = PersistedState::LAYOUT_VERSION;
        }
        ctx.set_theme(state.theme.preference());
        startup_messages.push((
            LogLevel::Info,
            format!(
                "KineDesk {} started; renderer: {}.",
                env!("CARGO_PKG_VERSION"),
                renderer.unwrap_or("none (headless)")
            ),
        ));
        startup_messages.push((
            LogLevel::Info,
            "No robot connected; the built-in planner is ready. Esc stops motion at any time, F1 shows shortcuts."
                .to_owned(),
        ));

        let builtin = match &state.robot_source {
            RobotSource::Builtin(kind) => *kind,
            RobotSource::Urdf { .. } => kinedesk_models::robot::BuiltinRobot::Panda,
        };
        let arm = ArmState::new(builtin, renderer.is_some());
        let loader = match spawn_loader(repaint_waker(ctx)) {
            Ok(loader) => Some(loader),
            Err(error) => {
                startup_messages.push((LogLevel::Error, format!("Could not start the file loader thread: {error}")));
                None
            }
        };
        let policy_state = match &state.policy_settings.choice {
            PolicyChoice::Builtin => ConnectionState::Connected { detail: "built-in planner".into() },
            PolicyChoice::Remote { url } => ConnectionState::Idle { detail: format!("{url} (connects on Plan)") },
        };
        let mut app = Self {
            state,
            arm,
            options,
            log: VecDeque::new(),
            toasts: Toasts::default(),
            stop: StopSignal::new(),
            show_help: false,
            command_history: VecDeque::new(),
            frame_index: 0,
            last_frame_cpu: Duration::ZERO,
            startup_messages,
            pending_commands: Vec::new(),
            loader,
            loads_in_flight: 0,
            robot: None,
            robot_state: ConnectionState::NotConnected,
            next_execution_id: 1,
            confirm_quit: false,
            file_dialogs: crate::gui::file_dialogs::FileDialogs::default(),
            confirm_move_to_start: None,
            teleop: Teleop::default(),
            gamepad: None,
            gamepad_state: None,
            policy: PolicyState::default(),
            policy_worker: None,
            policy_state,
            tokenizer: None,
            cameras: CameraFeeds::default(),
            session: SessionState::default(),
            tasks: BackgroundTasks::new(Some(repaint_waker(ctx))),
            maximised_pane: None,
            rollout: crate::gui::rollout_state::RolloutView::default(),
        };
        if let Some(dir) = &app.options.profile_dir {
            match crate::gui::rollout_state::user_profiles(dir) {
                Ok(found) => {
                    for broken in &found.broken {
                        app.startup_messages.push((LogLevel::Warn, format!("Policy profile not loaded: {broken}")));
                    }
                    app.rollout.user_profiles = found;
                }
                Err(error) => app.startup_messages.push((LogLevel::Warn, error)),
            }
        }
        app.session.root_text = app.state.session_root.as_ref().map_or_else(String::new, |p| p.display().to_string());
        if let PolicyChoice::Remote { url } = &app.state.policy_settings.choice {
            app.policy.remote_url.clone_from(url);
        }
        let specs = app.options.cameras.clone().unwrap_or_else(|| app.state.cameras.clone());
        for spec in specs {
            if let Err(error) = app.cameras.add(spec, &app.arm.robot, Some(repaint_waker(ctx))) {
                app.startup_messages.push((LogLevel::Error, error));
            }
        }
        match spawn_gamepad(repaint_waker(ctx)) {
            Ok(worker) => app.gamepad = Some(worker),
            Err(error) => {
                app.startup_messages.push((LogLevel::Warn, format!("Could not start the gamepad thread: {error}")));
            }
        }
        let saved_urdf = match &app.state.robot_source {
            RobotSource::Urdf { path, tip } => Some((path.clone(), tip.clone())),
            RobotSource::Builtin(_) => None,
        };
        if let Some((path, tip)) = app.options.urdf.clone().or(saved_urdf) {
            app.pending_commands.push(Command::LoadUrdf { path, tip });
        }
        if app.options.connect_sim {
            app.pending_commands.push(Command::ConnectSimArm);
        }
        if let Some(path) = app.options.trajectory.clone() {
            app.pending_commands.push(Command::LoadTrajectory(path));
        }
        if let Some(instruction) = app.options.plan.clone() {
            app.policy.instruction.clone_from(&instruction);
            app.pending_commands.push(Command::Plan(instruction));
        }
        // The session of the last run comes back (when its folder is still a session); `--session` wins.
        let last_session = app.state.session_root.clone().filter(|root| expand_home(root).join("episodes").is_dir());
        if let Some(path) = app.options.session.clone().or(last_session) {
            app.pending_commands.push(Command::OpenSession(path));
            app.pending_commands.push(Command::ShowPane(Pane::Session));
            if let Some(name) = app.options.annotate.clone() {
                app.pending_commands.push(Command::Timeline(crate::gui::annotator::TimelineCommand::Open(name)));
                app.pending_commands.push(Command::MaximisePane(Some(Pane::Session)));
            }
        }
        app
    }

    /// One whole frame without eframe (benchmarks, headless tests): the logic pass, then the drawing pass.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.logic(&ctx);
        self.show(ui);
    }

    /// Commands carried out so far, oldest first (bounded).
    #[must_use]
    pub fn command_history(&self) -> &VecDeque<Command> {
        &self.command_history
    }

    /// The policy side: instruction, the plan and its reasoning.
    #[must_use]
    pub fn policy(&self) -> &PolicyState {
        &self.policy
    }

    /// The closed-loop rollout, its chunks and figures.
    #[must_use]
    pub fn rollout(&self) -> &crate::gui::rollout_state::RolloutView {
        &self.rollout
    }

    /// The persisted settings.
    #[must_use]
    pub fn settings(&self) -> &PersistedState {
        &self.state
    }

    /// The session side: open folder, recording, episodes.
    #[must_use]
    pub fn session(&self) -> &SessionState {
        &self.session
    }

    /// The background tasks running now (listing, finishing, export, import).
    #[must_use]
    pub fn background_tasks(&self) -> Vec<crate::gui::background_tasks::TaskView> {
        self.tasks.views()
    }

    /// The camera feeds.
    #[must_use]
    pub fn cameras(&self) -> &CameraFeeds {
        &self.cameras
    }

    /// The stop latch that every robot driver watches.
    #[must_use]
    pub fn stop_signal(&self) -> &StopSignal {
        &self.stop
    }

    #[must_use]
    pub fn log_entries(&self) -> &VecDeque<LogEntry> {
        &self.log
    }

    #[must_use]
    pub fn theme(&self) -> ThemeChoice {
        self.state.theme
    }

    #[must_use]
    pub fn is_help_open(&self) -> bool {
        self.show_help
    }

    /// The robot model, camera and previewed trajectory (with its review) of the arm panes.
    #[must_use]
    pub fn arm(&self) -> &ArmState {
        &self.arm
    }

    /// The pane layout (for tests and diagnostics).
    #[must_use]
    pub fn layout(&self) -> &egui_tiles::Tree<Pane> {
        &self.state.layout
    }

    /// CPU time the previous frame's UI code took.
    #[must_use]
    pub fn last_frame_cpu(&self) -> Duration {
        self.last_frame_cpu
    }

    /// Files handed to the loader whose result has not been applied yet.
    #[must_use]
    pub fn loads_in_flight(&self) -> usize {
        self.loads_in_flight
    }

    /// The pane shown over the whole window, if any.
    #[must_use]
    pub fn maximised_pane(&self) -> Option<Pane> {
        self.maximised_pane
    }

    /// The move the "move to the start?" confirmation asks about (degrees), if it is showing.
    #[must_use]
    pub fn move_to_start_confirmation(&self) -> Option<f64> {
        self.confirm_move_to_start
    }

    /// Frames drawn so far.
    #[must_use]
    pub fn frame_count(&self) -> u64 {
        self.frame_index
    }

    /// Whether the quit confirmation is showing.
    #[must_use]
    pub fn is_quit_confirmation_open(&self) -> bool {
        self.confirm_quit
    }

    /// Keyboard teleoperation state (armed, mode, speed).
    #[must_use]
    pub fn teleop(&self) -> &Teleop {
        &self.teleop
    }

    /// Whether a robot driver is connected.
    #[must_use]
    pub fn robot_connected(&self) -> bool {
        self.robot.is_some()
    }

    /// The connected driver (tests read its state counts and lifecycle through the app).
    #[must_use]
    pub fn robot(&self) -> Option<&DriverHandle> {
        self.robot.as_ref()
    }

    /// The state of each connection, as the status bar shows it.
    #[must_use]
    pub fn status_items(&self) -> Vec<StatusItem> {
        DeviceKind::ALL
            .into_iter()
            .map(|device| {
                let state = match device {
                    DeviceKind::Recorder => self.recorder_state(),
                    DeviceKind::Robot => self.robot_state.clone(),
                    DeviceKind::Policy => self.policy_state.clone(),
                    DeviceKind::Cameras => self.cameras.connection_state(),
                };
                StatusItem { device, state }
            })
            .collect()
    }

    /// Writes to the operator log (and stderr); warnings and errors also pop up as toasts. Lines from the policy,
    /// send, stop, robot, teleop and camera go on the episode's timeline too.
    pub fn log_event(&mut self, ctx: &Context, level: LogLevel, source: &str, message: impl Into<String>) {
        let message = message.into();
        if let Some(recording) = &self.session.recording
            && let Some(source) = kinedesk_sessions::events::LogSource::from_name(source)
        {
            recording.event(&kinedesk_sessions::events::TimelineEvent::Log { source, message: message.clone() });
        }
        match level {
            LogLevel::Error => log::error!(target: "kinedesk", "[{source}] {message}"),
            LogLevel::Warn => log::warn!(target: "kinedesk", "[{source}] {message}"),
            LogLevel::Info => log::info!(target: "kinedesk", "[{source}] {message}"),
            LogLevel::Debug => log::debug!(target: "kinedesk", "[{source}] {message}"),
        }
        if matches!(level, LogLevel::Error | LogLevel::Warn) {
            self.toasts.push(level, message.clone(), ctx.input(|input| input.time));
        }
        self.log.push_back(LogEntry {
            time_s: kinedesk_models::Timestamp::now().as_secs_f64(),
            level,
            source: source.to_owned(),
            message,
        });
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
    }

    /// Hands a file to the loader thread; the result arrives in a later logic pass (see `apply_load_result`).
    fn queue_load(&mut self, ctx: &Context, job: LoadJob) {
        let what = match &job {
            LoadJob::Urdf { path, .. } | LoadJob::Trajectory(path) => path.display().to_string(),
        };
        let sent = match &self.loader {
            Some(loader) => loader.send(job).map_err(|error| error.to_string()),
            None => Err("the loader thread is not running".to_owned()),
        };
        match sent {
            Ok(()) => {
                self.loads_in_flight += 1;
                self.log_event(ctx, LogLevel::Info, "loader", format!("Loading {what}…"));
            }
            Err(error) => self.log_event(ctx, LogLevel::Error, "loader", format!("Cannot load {what}: {error}")),
        }
    }

    /// Applies what the loader thread finished.
    fn apply_load_result(&mut self, ctx: &Context, result: LoadResult) {
        self.loads_in_flight = self.loads_in_flight.saturating_sub(1);
        match result {
            LoadResult::Urdf { path, tip, result: Ok(loaded) } => {
                if self.robot.is_some() {
                    self.disconnect_robot(ctx, "the robot model changed");
                }
                for warning in self.arm.show_urdf(&path, tip.clone(), *loaded) {
                    self.log_event(ctx, LogLevel::Warn, "urdf", warning);
                }
                let message =
                    format!("Loaded {} ({} joints) from {}", self.arm.robot.name, self.arm.robot.dof(), path.display());
                self.log_event(ctx, LogLevel::Info, "urdf", message);
                self.state.robot_source = self.arm.source.clone();
            }
            LoadResult::Urdf { result: Err(error), .. } => self.log_event(ctx, LogLevel::Error, "urdf", error),
            LoadResult::Trajectory { path, result: Ok(trajectory) } => {
                let preview = self.arm.preview(path.display().to_string(), trajectory);
                let (steps, ok, violations) = (
                    preview.trajectory().joints.len(),
                    preview.review.report.ok,
                    preview.review.report.violations.len(),
                );
                let message = format!(
                    "Previewing {} ({steps} steps): {}",
                    path.display(),
                    if ok { "all checks pass".to_owned() } else { format!("{violations} check violation(s)") }
                );
                self.log_event(ctx, if ok { LogLevel::Info } else { LogLevel::Warn }, "trajectory", message);
            }
            LoadResult::Trajectory { result: Err(error), .. } => {
                self.log_event(ctx, LogLevel::Error, "trajectory", error);
            }
        }
    }
}

/// `~/x` → `$HOME/x` (what an operator types in a path box).
fn expand_home(path: &std::path::Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => path.to_owned(),
    }
}

/// A waker for worker channels: a worker's event asks egui for a new pass (a logic pass while hidden).
fn repaint_waker(ctx: &Context) -> kinedesk_models::channel::Waker {
    let ctx = ctx.clone();
    std::sync::Arc::new(move || ctx.request_repaint())
}

impl eframe::App for KineDeskApp {
    fn logic(&mut self, ctx: &Context, _frame: &mut eframe::Frame) {
        KineDeskApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Annotations are saved by their own writer; this hands it the last edit (on_exit waits for it).
        self.session.annotator.flush();
        self.state.cameras = self.cameras.specs();
        match serde_json::to_string(&self.state) {
            Ok(text) => storage.set_string(PersistedState::KEY, text),
            Err(error) => log::error!(target: "kinedesk", "could not save the layout: {error}"),
        }
    }

    fn on_exit(&mut self) {
        self.session.annotator.flush_and_wait(Duration::from_secs(3));
    }
}
