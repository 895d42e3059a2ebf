//! The desk's main window: menu, dockable panes, status bar with Stop, log, toasts and the shortcut help.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use egui::{Align, Context, Key, Layout, RichText, Ui, ViewportCommand};
use egui_tiles::Tile;
use kinedesk_models::driver::{DriverCommand, DriverEvent, DriverHandle};
use kinedesk_models::realman::client::{RealmanConfig, address_from_url, connect_realman};
use kinedesk_models::sim_arm::{SimArmConfig, spawn_sim_arm};
use kinedesk_models::{ConnectionState, DeviceKind, StopSignal, Timestamp, Worker};
use kinedesk_sessions::RecorderStatus;
use kinedesk_widgets::arm_view::ArmViewRenderer;
use kinedesk_widgets::{LogEntry, LogLevel, StatusItem, Toasts, shortcut_table_ui, status_bar_ui, stop_button_ui};

use crate::gui::arm_state::ArmState;
use crate::gui::camera_feeds::CameraFeeds;
use crate::gui::command::Command;
use crate::gui::gamepad::{GamepadEvent, GamepadState, spawn_gamepad};
use crate::gui::layout::{Pane, default_layout, layout_is_complete};
use crate::gui::loader::{LoadJob, LoadResult, spawn_loader};
use crate::gui::panes::PaneContext;
use crate::gui::policy_state::{PolicyChoice, PolicyState};
use crate::gui::settings::{PersistedState, ThemeChoice};
use crate::gui::shortcuts::{self, STOP_KEY};
use crate::gui::teleop::{JogKeys, Teleop};
use kinedesk_models::policy::backend::{PolicyCommand, PolicyUpdate};

mod plan_flow;

pub use plan_flow::{ExecutionItem, split_at_gripper_changes};

/// Printed on stdout when the first frame has been presented (used by `kinedesk bench startup`).
/// The button that leaves a maximised pane.
pub const RESTORE_LAYOUT_LABEL: &str = "Restore layout";

pub const FIRST_FRAME_MARKER: &str = "KINEDESK_FIRST_FRAME_PRESENTED";

/// Time per frame the UI spends taking worker results.
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
}

pub struct KineDeskApp {
    state: PersistedState,
    arm: ArmState,
    options: AppOptions,
    log: VecDeque<LogEntry>,
    toasts: Toasts,
    stop: StopSignal,
    recorder: RecorderStatus,
    show_help: bool,
    command_history: VecDeque<Command>,
    frame_index: u64,
    last_frame_cpu: Duration,
    /// Messages produced before the first frame (when no time source for toasts exists yet).
    startup_messages: Vec<(LogLevel, String)>,
    /// Commands queued outside a frame (start-up options), carried out at the start of the next one.
    pending_commands: Vec<Command>,
    /// The file-loading worker (`None` only if its thread could not be started).
    loader: Option<Worker<LoadJob, LoadResult>>,
    loads_in_flight: usize,
    /// The connected robot driver, if any.
    robot: Option<DriverHandle>,
    robot_state: ConnectionState,
    /// The "quit while the robot is connected?" dialog is open.
    confirm_quit: bool,
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
    /// What is left to send of the trajectory being executed (segments split at gripper changes).
    execution_queue: VecDeque<ExecutionItem>,
    /// First step of the segment being executed, to show progress along the whole trajectory.
    execution_offset: usize,
    /// Camera feeds and their textures.
    cameras: CameraFeeds,
    /// The open session, the episode being recorded, exports.
    session: crate::gui::session_state::SessionState,
    /// A pane shown over the whole window (the layout is kept as it was).
    maximised_pane: Option<Pane>,
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

    /// Creates the app from its parts, without eframe: for benchmarks and persistence tests.
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

        let arm = ArmState::new(state.robot, renderer.is_some());
        let loader = match spawn_loader(repaint_waker(ctx)) {
            Ok(loader) => Some(loader),
            Err(error) => {
                startup_messages.push((LogLevel::Error, format!("Could not start the file loader thread: {error}")));
                None
            }
        };
        let mut app = Self {
            state,
            arm,
            options,
            log: VecDeque::new(),
            toasts: Toasts::default(),
            stop: StopSignal::new(),
            recorder: RecorderStatus::default(),
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
            confirm_quit: false,
            teleop: Teleop::default(),
            gamepad: None,
            gamepad_state: None,
            policy: PolicyState::default(),
            policy_worker: None,
            policy_state: ConnectionState::NotConnected,
            tokenizer: None,
            execution_queue: VecDeque::new(),
            execution_offset: 0,
            cameras: CameraFeeds::default(),
            session: crate::gui::session_state::SessionState::default(),
            maximised_pane: None,
        };
        app.session.root_text = app.state.session_root.as_ref().map_or_else(String::new, |p| p.display().to_string());
        let specs = app.options.cameras.clone().unwrap_or_else(|| app.state.cameras.clone());
        for spec in specs {
            if let Err(error) = app.cameras.add(spec, &app.arm.robot, Some(repaint_waker(ctx))) {
                app.startup_messages.push((LogLevel::Error, error));
            }
        }
        app.policy.choice = app.state.policy.clone();
        app.policy.velocity_percent = app.state.velocity_percent;
        app.policy.history = app.state.instruction_history.clone();
        if let PolicyChoice::Remote { url } = &app.policy.choice {
            app.policy.remote_url.clone_from(url);
        }
        app.policy_state = match &app.policy.choice {
            PolicyChoice::Builtin => ConnectionState::Connected { detail: "built-in planner".into() },
            PolicyChoice::Remote { url } => ConnectionState::Idle { detail: format!("{url} (connects on Plan)") },
        };
        match spawn_gamepad(repaint_waker(ctx)) {
            Ok(worker) => app.gamepad = Some(worker),
            Err(error) => {
                app.startup_messages.push((LogLevel::Warn, format!("Could not start the gamepad thread: {error}")));
            }
        }
        if let Some((path, tip)) = app.options.urdf.clone().or_else(|| app.state.urdf.clone()) {
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
        if let Some(path) = app.options.session.clone() {
            app.pending_commands.push(Command::OpenSession(path));
            app.pending_commands.push(Command::ShowPane(crate::gui::layout::Pane::Session));
            if let Some(name) = app.options.annotate.clone() {
                app.pending_commands.push(Command::Timeline(crate::gui::annotator::TimelineCommand::Open(name)));
                app.pending_commands.push(Command::MaximisePane(Some(Pane::Session)));
            }
        }
        app
    }

    /// Commands carried out so far, oldest first (bounded).
    #[must_use]
    pub fn command_history(&self) -> &VecDeque<Command> {
        &self.command_history
    }

    /// The policy side: instruction, history, the plan and its review.
    #[must_use]
    pub fn policy(&self) -> &PolicyState {
        &self.policy
    }

    /// The session side: open folder, recording, episodes.
    #[must_use]
    pub fn session(&self) -> &crate::gui::session_state::SessionState {
        &self.session
    }

    fn recorder_state(&self) -> ConnectionState {
        match (&self.session.session, &self.session.recording) {
            (_, Some(recording)) => ConnectionState::Connected {
                detail: format!("recording {:.0} s", recording.started.elapsed().as_secs_f64()),
            },
            (Some(session), None) => {
                ConnectionState::Idle { detail: format!("{} (not recording)", session.root.display()) }
            }
            (None, None) => self.recorder.connection_state(),
        }
    }

    fn start_recording(&mut self, ctx: &Context) {
        self.session.reset_started = None;
        let task = if self.session.task.trim().is_empty() {
            self.policy.current.as_ref().map(|c| c.instruction.clone()).unwrap_or_default()
        } else {
            self.session.task.trim().to_owned()
        };
        let meta = kinedesk_sessions::recorder::EpisodeMeta {
            task,
            robot: self.arm.robot.name.clone(),
            joint_names: self.arm.robot.joints.iter().map(|j| j.name.clone()).collect(),
            cameras: self.cameras.feeds.iter().map(|f| f.spec.name().to_owned()).collect(),
            fps: self
                .cameras
                .feeds
                .first()
                .map_or(30.0, |f| if f.stats.fps > 0.0 { f.stats.fps.round() } else { 30.0 }),
            started_unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        };
        match self.session.start(&meta, &self.cameras) {
            Ok(path) => self.log_event(ctx, LogLevel::Info, "session", format!("Recording {}.", path.display())),
            Err(error) => self.log_event(ctx, LogLevel::Warn, "session", format!("Cannot record: {error}")),
        }
    }

    fn stop_recording(&mut self, ctx: &Context, keep: bool) {
        match self.session.stop(&self.cameras, keep) {
            Ok(Some((path, stats))) => {
                let what = if keep { "Saved" } else { "Discarded" };
                let message = format!(
                    "{what} {}: {} frames, {} records, {} dropped.",
                    path.display(),
                    stats.frames_written,
                    stats.records_written,
                    stats.frames_dropped + stats.records_dropped
                );
                self.log_event(ctx, LogLevel::Info, "session", message);
                if self.session.reset_s > 0.0 {
                    self.session.reset_started = Some(Instant::now());
                }
            }
            Ok(None) => self.log_event(ctx, LogLevel::Info, "session", "Not recording."),
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "session", format!("Recording did not end cleanly: {error}"));
            }
        }
    }

    /// The camera feeds.
    #[must_use]
    pub fn cameras(&self) -> &CameraFeeds {
        &self.cameras
    }

    /// Takes the newest camera frames into their textures and reports feeds lost or back; the rendered arm view
    /// follows the arm shown.
    fn update_cameras(&mut self, ctx: &Context) {
        if let Ok(mut joints) = self.cameras.joints.lock() {
            joints.clear();
            joints.extend_from_slice(self.arm.shown_joints());
        }
        for (level, message) in self.cameras.update(ctx) {
            self.log_event(ctx, level, "camera", message);
        }
    }

    /// Feeds popped out into their own windows.
    fn popped_out_cameras_ui(&self, ctx: &Context, commands: &mut Vec<Command>) {
        for name in &self.cameras.popped_out {
            let Some(feed) = self.cameras.feed(name) else { continue };
            let id = egui::ViewportId::from_hash_of(("kinedesk_camera", name));
            let builder = egui::ViewportBuilder::default()
                .with_title(format!("KineDesk camera: {name}"))
                .with_inner_size([660.0, 520.0]);
            ctx.show_viewport_immediate(id, builder, |ui, _class| {
                egui::CentralPanel::default().show(ui, |ui| crate::gui::panes::cameras_pane::popped_out_ui(ui, feed));
                if ui.ctx().input(|i| i.viewport().close_requested()) {
                    commands.push(Command::PopOutCamera { name: name.clone(), out: false });
                }
            });
        }
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

    /// The robot model, camera and previewed trajectory of the arm panes.
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

    /// Writes to the operator log (and stderr); warnings and errors also pop up as toasts.
    pub fn log_event(&mut self, ctx: &Context, level: LogLevel, source: &str, message: impl Into<String>) {
        let message = message.into();
        // Plans, approvals, sends, stops and robot events go on the episode's timeline too.
        if let Some(recording) = &self.session.recording
            && matches!(source, "policy" | "send" | "stop" | "robot" | "teleop" | "camera")
        {
            let event = serde_json::json!({"type": source, "message": message});
            recording.recorder.event(Timestamp::now(), &event);
            if let Some(live) = &recording.live {
                live.event(Timestamp::now(), &event);
            }
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
            time_s: Timestamp::now().as_secs_f64(),
            level,
            source: source.to_owned(),
            message,
        });
        while self.log.len() > LOG_CAPACITY {
            self.log.pop_front();
        }
    }

    /// Hands a file to the loader thread; the result arrives in a later frame (see `apply_load_result`).
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
                self.state.urdf = Some((path, tip));
            }
            LoadResult::Urdf { result: Err(error), .. } => self.log_event(ctx, LogLevel::Error, "urdf", error),
            LoadResult::Trajectory { path, result: Ok(trajectory) } => {
                let preview = self.arm.preview(path.display().to_string(), trajectory);
                let (steps, ok, violations) =
                    (preview.trajectory.joints.len(), preview.report.ok, preview.report.violations.len());
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

    fn connect_sim_arm(&mut self, ctx: &Context) {
        if self.robot.is_some() {
            self.disconnect_robot(ctx, "reconnecting");
        }
        let started =
            spawn_sim_arm(self.arm.robot.clone(), self.stop.clone(), SimArmConfig::default(), Some(repaint_waker(ctx)));
        self.attach_driver(ctx, started, "simulated arm");
    }

    /// Takes a freshly started driver (its first events say how the connection went), or reports why it did not
    /// start. Returns whether it started.
    fn attach_driver(&mut self, ctx: &Context, started: std::io::Result<DriverHandle>, what: &str) -> bool {
        match started {
            Ok(handle) => {
                self.robot_state = ConnectionState::Connecting { target: handle.name.clone() };
                self.robot = Some(handle);
                true
            }
            Err(error) => {
                self.robot_state = ConnectionState::Failed { reason: error.to_string() };
                self.log_event(ctx, LogLevel::Error, "robot", format!("Could not start the {what}: {error}"));
                false
            }
        }
    }

    fn connect_realman(&mut self, ctx: &Context, url: &str) {
        let address = match address_from_url(url.trim()) {
            Ok(address) => address,
            Err(error) => {
                self.log_event(ctx, LogLevel::Error, "robot", error);
                return;
            }
        };
        if self.robot.is_some() {
            self.disconnect_robot(ctx, "reconnecting");
        }
        let config = RealmanConfig::new(address);
        let started = connect_realman(self.arm.robot.clone(), config, self.stop.clone(), Some(repaint_waker(ctx)));
        if self.attach_driver(ctx, started, "Realman driver") {
            let name = self.robot.as_ref().map(|robot| robot.name.clone()).unwrap_or_default();
            self.log_event(ctx, LogLevel::Info, "robot", format!("Connecting to {name}…"));
        }
    }

    fn disconnect_robot(&mut self, ctx: &Context, why: &str) {
        self.teleop.disarm();
        if let Some(robot) = self.robot.take() {
            // The driver thread ends on its own; dropping the handle never blocks the UI.
            let _ = robot.worker.send(DriverCommand::Disconnect);
            self.log_event(ctx, LogLevel::Info, "robot", format!("{} disconnected: {why}.", robot.name));
        }
        self.arm.live = None;
        self.arm.execution = None;
        self.robot_state = ConnectionState::NotConnected;
    }

    /// Sends the previewed trajectory to the robot, if every check passes; the driver re-checks it.
    fn send_trajectory(&mut self, ctx: &Context) {
        let refusal = match (&self.robot, &self.arm.preview, &self.robot_state) {
            (None, _, _) => Some("no robot is connected".to_owned()),
            (_, None, _) => Some("no trajectory is previewed".to_owned()),
            (_, Some(preview), _) if !preview.report.ok => {
                Some(format!("{} safety check violation(s)", preview.report.violations.len()))
            }
            (_, _, state) if !state.is_healthy() => Some(format!("the robot is {}", state.summary())),
            _ => self.plan_send_refusal(),
        };
        if let Some(reason) = refusal {
            self.log_event(ctx, LogLevel::Warn, "send", format!("Send refused: {reason}."));
            return;
        }
        if let (Some(robot), Some(preview)) = (&self.robot, &self.arm.preview) {
            self.execution_queue = self.execution_items();
            let gripper_moves =
                self.execution_queue.iter().filter(|item| matches!(item, ExecutionItem::Gripper { .. })).count();
            let message = format!(
                "Sent {} to {} ({} samples, {:.2} s{}).",
                preview.source,
                robot.name,
                preview.trajectory.joints.len(),
                preview.duration_s(),
                if gripper_moves > 0 { format!(", {gripper_moves} gripper moves") } else { String::new() }
            );
            // The trajectory itself goes on the recording's timeline (Rerun exports draw it as the planned path).
            if let Some(recording) = &self.session.recording {
                recording.recorder.event(
                    Timestamp::now(),
                    &serde_json::json!({"type": "trajectory", "source": preview.source, "dt_s": preview.trajectory.dt_s,
                                        "joints": preview.trajectory.joints}),
                );
            }
            self.log_event(ctx, LogLevel::Info, "send", message);
            self.advance_execution(ctx);
        }
    }

    fn apply_driver_event(&mut self, ctx: &Context, event: DriverEvent) {
        let name = self.robot.as_ref().map(|robot| robot.name.clone()).unwrap_or_default();
        match event {
            DriverEvent::Connected { robot, dof } => {
                self.robot_state = ConnectionState::Connected { detail: name.clone() };
                self.log_event(ctx, LogLevel::Info, "robot", format!("Connected to {name} ({robot}, {dof} joints)."));
            }
            DriverEvent::State(state) => {
                if let Some(recording) = &self.session.recording {
                    recording.recorder.joint_state(state.at, &state.positions, &state.velocities, state.gripper);
                    if let Some(live) = &recording.live {
                        live.joint_state(state.at, &state.positions, state.gripper);
                    }
                }
                self.arm.live = Some(state);
            }
            DriverEvent::Progress { step, steps } => {
                let total = self.arm.preview.as_ref().map_or(steps, |p| p.trajectory.joints.len()).max(steps);
                self.arm.execution = Some(((self.execution_offset + step).min(total), total));
            }
            DriverEvent::Finished if !self.execution_queue.is_empty() => self.advance_execution(ctx),
            DriverEvent::Finished => {
                self.arm.execution = None;
                self.execution_offset = 0;
                self.log_event(ctx, LogLevel::Info, "robot", format!("{name} finished the trajectory."));
            }
            DriverEvent::Stopped { generation } => {
                self.execution_queue.clear();
                self.arm.execution = None;
                self.log_event(ctx, LogLevel::Warn, "robot", format!("{name} stopped (stop #{generation})."));
            }
            DriverEvent::Refused { reason } => {
                self.execution_queue.clear();
                self.arm.execution = None;
                self.log_event(ctx, LogLevel::Error, "robot", format!("{name}: {reason}"));
            }
            DriverEvent::Halted { reason } => self.log_event(ctx, LogLevel::Warn, "robot", format!("{name}: {reason}")),
            DriverEvent::Disconnected { reason } => {
                self.execution_queue.clear();
                self.teleop.disarm();
                self.robot = None;
                self.arm.live = None;
                self.arm.execution = None;
                self.robot_state = ConnectionState::Failed { reason: reason.clone() };
                self.log_event(ctx, LogLevel::Error, "robot", format!("{name} disconnected: {reason}"));
            }
        }
    }

    /// Files handed to the loader whose result has not been applied yet.
    #[must_use]
    pub fn loads_in_flight(&self) -> usize {
        self.loads_in_flight
    }

    /// Carries out one command. Buttons, shortcuts and tests all end up here.
    pub fn handle_command(&mut self, ctx: &Context, command: Command) {
        self.command_history.push_back(command.clone());
        while self.command_history.len() > COMMAND_HISTORY_CAPACITY {
            self.command_history.pop_front();
        }
        match command {
            Command::Stop { reason } => {
                let event = self.stop.trigger(reason);
                self.teleop.disarm();
                self.execution_queue.clear();
                let what = match &self.robot {
                    Some(robot) => format!("{} told to stop", robot.name),
                    None => "no robot is connected, so nothing was moving".to_owned(),
                };
                let message = format!("STOP by {} (stop #{}): {what}.", reason.label(), event.generation);
                self.log_event(ctx, LogLevel::Warn, "stop", message);
            }
            Command::ConnectSimArm => self.connect_sim_arm(ctx),
            Command::SetTeleop(armed) => {
                if armed && self.robot.is_none() {
                    self.log_event(ctx, LogLevel::Warn, "teleop", "Teleop needs a connected robot.");
                } else if armed {
                    self.teleop.armed = true;
                    self.log_event(
                        ctx,
                        LogLevel::Info,
                        "teleop",
                        "Teleop armed: hold Shift and W/S A/D R/F (U/O I/K J/L to rotate).",
                    );
                } else {
                    self.teleop.disarm();
                }
            }
            Command::Gripper(opening) => match &self.robot {
                Some(robot) => {
                    if let Err(error) = robot.worker.send(DriverCommand::Gripper(opening.fraction())) {
                        self.log_event(ctx, LogLevel::Error, "robot", format!("Gripper command not sent: {error}"));
                    }
                }
                None => self.log_event(ctx, LogLevel::Warn, "robot", "The gripper needs a connected robot."),
            },
            Command::SetJogMode(mode) => self.teleop.mode = mode,
            Command::SetJogSpeed(speed) => self.teleop.speed = speed.min(crate::gui::teleop::SPEEDS.len() - 1),
            Command::SetJogJoint(joint) => self.teleop.joint = joint.min(self.arm.robot.dof().saturating_sub(1)),
            Command::ConnectRealman(url) => self.connect_realman(ctx, &url),
            Command::ConfirmQuit(quit) => {
                self.confirm_quit = false;
                if quit {
                    self.stop.trigger(kinedesk_models::StopReason::Button);
                    self.disconnect_robot(ctx, "KineDesk is closing");
                    ctx.send_viewport_cmd(ViewportCommand::Close);
                }
            }
            Command::DisconnectRobot => self.disconnect_robot(ctx, "disconnected by the operator"),
            Command::SendTrajectory => self.send_trajectory(ctx),
            Command::MoveToStart => {
                let start = self.arm.preview.as_ref().and_then(|preview| preview.trajectory.joints.first().cloned());
                match (&self.robot, start) {
                    (Some(robot), Some(joints)) => {
                        let sent = robot.worker.send(DriverCommand::MoveTo { joints, speed_fraction: 0.25 });
                        match sent {
                            Ok(()) => self.log_event(
                                ctx,
                                LogLevel::Info,
                                "send",
                                "Moving to the trajectory's start at 25 % speed.",
                            ),
                            Err(error) => {
                                self.log_event(ctx, LogLevel::Error, "send", format!("Move not sent: {error}"));
                            }
                        }
                    }
                    _ => self.log_event(
                        ctx,
                        LogLevel::Warn,
                        "send",
                        "Move to start needs a connected robot and a previewed trajectory.",
                    ),
                }
            }
            Command::ToggleShortcutHelp => self.show_help = !self.show_help,
            Command::ShowPane(pane) => {
                self.state.layout.make_active(|_, tile| matches!(tile, Tile::Pane(p) if *p == pane));
            }
            // Maximising the pane that is already maximised restores the layout (so one key toggles).
            Command::MaximisePane(pane) => {
                self.maximised_pane = if pane == self.maximised_pane { None } else { pane };
            }
            Command::ResetLayout => {
                self.state.layout = default_layout();
                self.log_event(ctx, LogLevel::Info, "layout", "Layout reset to the default.");
            }
            Command::SetTheme(theme) => {
                self.state.theme = theme;
                ctx.set_theme(theme.preference());
            }
            Command::ClearLog => self.log.clear(),
            Command::Quit => {
                if self.robot.is_some() {
                    self.confirm_quit = true;
                } else {
                    ctx.send_viewport_cmd(ViewportCommand::Close);
                }
            }
            Command::SelectRobot(kind) => {
                if self.robot.is_some() && self.arm.source != crate::gui::arm_state::RobotSource::Builtin(kind) {
                    self.disconnect_robot(ctx, "the robot model changed");
                }
                self.arm.select(kind);
                self.state.robot = kind;
                self.state.urdf = None;
            }
            Command::LoadUrdf { path, tip } => self.queue_load(ctx, LoadJob::Urdf { path, tip }),
            Command::LoadTrajectory(path) => self.queue_load(ctx, LoadJob::Trajectory(path)),
            Command::ScrubTrajectory(step) => {
                if let Some(preview) = &mut self.arm.preview {
                    preview.step = step.min(preview.trajectory.joints.len().saturating_sub(1));
                }
            }
            Command::ClearTrajectory => self.arm.preview = None,
            Command::Plan(instruction) => self.request_plan(ctx, &instruction),
            Command::UsePolicy(choice) => self.use_policy(ctx, &choice),
            Command::ApprovePlan => self.approve_plan(ctx),
            Command::RejectPlan => self.reject_plan(ctx),
            Command::SetCoarsePreview(coarse) => self.set_coarse_preview(ctx, coarse),
            Command::SetVelocityPercent(percent) => self.set_velocity_percent(ctx, percent),
            Command::AddCamera(spec) => {
                let name = spec.name().to_owned();
                match self.cameras.add(spec, &self.arm.robot, Some(repaint_waker(ctx))) {
                    Ok(()) => self.log_event(ctx, LogLevel::Info, "camera", format!("Camera {name} added.")),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "camera", error),
                }
                self.state.cameras = self.cameras.specs();
            }
            Command::RemoveCamera(name) => {
                if self.cameras.remove(&name).is_some() {
                    self.log_event(ctx, LogLevel::Info, "camera", format!("Camera {name} removed."));
                }
                self.state.cameras = self.cameras.specs();
            }
            Command::MaximiseCamera(name) => self.cameras.maximised = name,
            Command::PopOutCamera { name, out } => {
                self.cameras.popped_out.retain(|n| *n != name);
                if out && self.cameras.feed(&name).is_some() {
                    self.cameras.popped_out.push(name);
                }
            }
            Command::SetCameraSetting { camera, setting, value } => {
                if self.cameras.set_setting(&camera, &setting, value) {
                    self.state.cameras = self.cameras.specs();
                }
            }
            Command::FindCameras => self.cameras.find_devices(Some(repaint_waker(ctx))),
            Command::OpenSession(path) => match self.session.open(&expand_home(&path), &self.arm.robot.name) {
                Ok(episodes) => {
                    self.state.session_root = Some(path.clone());
                    self.log_event(
                        ctx,
                        LogLevel::Info,
                        "session",
                        format!("Session {} open ({episodes} episodes).", path.display()),
                    );
                }
                Err(error) => self.log_event(ctx, LogLevel::Error, "session", error),
            },
            Command::StartRecording => self.start_recording(ctx),
            Command::FinishEpisode => self.stop_recording(ctx, true),
            Command::DiscardEpisode => self.stop_recording(ctx, false),
            Command::Timeline(command) => match self.session.timeline(ctx, command) {
                Ok(Some(message)) => self.log_event(ctx, LogLevel::Info, "timeline", message),
                Ok(None) => {}
                Err(error) => self.log_event(ctx, LogLevel::Warn, "timeline", error),
            },
            Command::SetEpisodeTimers { limit_s, reset_s, record_after_reset } => {
                self.session.episode_limit_s = f64::from(limit_s);
                self.session.reset_s = f64::from(reset_s);
                self.session.record_after_reset = record_after_reset;
            }
            Command::ImportDataset(path) => match self.session.start_import(expand_home(&path), repaint_waker(ctx)) {
                Ok(()) => self.log_event(ctx, LogLevel::Info, "session", format!("Importing {}", path.display())),
                Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
            },
            Command::SkipReset => {
                if let Some(started) = self.session.reset_started {
                    self.session.reset_started =
                        Some(started.checked_sub(Duration::from_secs_f64(self.session.reset_s)).unwrap_or(started));
                }
            }
            Command::SetRerunLive(url) => {
                self.session.rerun_live = url.is_some();
                if let Some(url) = url {
                    self.session.rerun_url = url;
                }
                if self.session.recording.is_some() {
                    self.log_event(ctx, LogLevel::Info, "session", "Rerun live logging applies from the next episode.");
                }
            }
            Command::ExportSession { out, format } => {
                match self.session.start_export(expand_home(&out), format, repaint_waker(ctx)) {
                    Ok(()) => self.log_event(
                        ctx,
                        LogLevel::Info,
                        "session",
                        format!("Exporting to {} (LeRobot v3).", out.display()),
                    ),
                    Err(error) => self.log_event(ctx, LogLevel::Warn, "session", error),
                }
            }
        }
    }

    /// One frame of the whole window. `eframe::App::ui` calls this; benchmarks call it directly.
    pub fn show(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.frame_bookkeeping(&ctx);
        for (level, message) in std::mem::take(&mut self.startup_messages) {
            self.log_event(&ctx, level, "app", message);
        }
        self.drain_workers(&ctx);
        self.drain_policy(&ctx);
        self.update_cameras(&ctx);
        self.update_highlight();
        self.teleop_frame(&ctx);
        self.session.annotator.tick(&ctx);
        self.episode_timers(&ctx);
        match self.session.take_finished_import() {
            Some(Ok(done)) => self.log_event(
                &ctx,
                LogLevel::Info,
                "session",
                format!("Imported {} episodes, {} frames.", done.episodes, done.frames),
            ),
            Some(Err(error)) => self.log_event(&ctx, LogLevel::Error, "session", format!("Import failed: {error}")),
            None => {}
        }
        for (level, message) in std::mem::take(&mut self.session.annotator.messages) {
            self.log_event(&ctx, level, "timeline", message);
        }

        // Quitting while a robot is connected needs a confirmation (and then stops the arm first).
        if ctx.input(|input| input.viewport().close_requested()) && self.robot.is_some() && !self.quit_confirmed() {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
            self.confirm_quit = true;
        }
        let mut commands = std::mem::take(&mut self.pending_commands);
        let scopes = shortcuts::ActiveScopes {
            recording: self.session.recording.is_some(),
            annotating: self.session.annotator.open.is_some() && self.session.recording.is_none() && !self.teleop.armed,
        };
        commands.extend(shortcuts::commands_from_keys(&ctx, self.state.theme, scopes));
        egui::Panel::top("menu_bar").show(ui, |ui| self.menu_bar_ui(ui, &mut commands));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar_ui(ui, &mut commands));
        egui::CentralPanel::default().show(ui, |ui| {
            let mut panes = PaneContext {
                robot_connected: self.robot.is_some(),
                teleop: &self.teleop,
                log: &self.log,
                log_filter: &mut self.state.log_filter,
                arm: &mut self.arm,
                policy: &mut self.policy,
                cameras: &self.cameras,
                session: &mut self.session,
                commands: &mut commands,
                maximised: self.maximised_pane,
            };
            match self.maximised_pane.and_then(|pane| Some((pane, self.state.layout.tiles.find_pane(&pane)?))) {
                Some((mut pane, tile)) => {
                    use egui_tiles::Behavior as _;
                    ui.horizontal(|ui| {
                        ui.label(egui::RichText::new(pane.title()).strong());
                        if ui.button(RESTORE_LAYOUT_LABEL).on_hover_text("Ctrl+M").clicked() {
                            panes.commands.push(Command::MaximisePane(None));
                        }
                    });
                    ui.separator();
                    let _ = panes.pane_ui(ui, tile, &mut pane);
                }
                None => self.state.layout.ui(&mut panes, ui),
            }
        });
        egui::Window::new("Keyboard shortcuts")
            .open(&mut self.show_help)
            .collapsible(false)
            .resizable(false)
            .show(&ctx, |ui| shortcut_table_ui(ui, &shortcuts::help_rows(ui.ctx())));
        if self.confirm_quit {
            egui::Modal::new(egui::Id::unique("confirm_quit")).show(&ctx, |ui| {
                ui.heading("Quit KineDesk?");
                let name = self.robot.as_ref().map_or_else(String::new, |robot| robot.name.clone());
                ui.label(format!("{name} is connected. Quitting stops the arm and disconnects it."));
                ui.horizontal(|ui| {
                    if ui.button("Stop and quit").clicked() {
                        commands.push(Command::ConfirmQuit(true));
                    }
                    if ui.button("Keep running").clicked() {
                        commands.push(Command::ConfirmQuit(false));
                    }
                });
            });
        }
        self.popped_out_cameras_ui(&ctx, &mut commands);
        self.toasts.show(&ctx, 40.0);

        for command in commands {
            self.handle_command(&ctx, command);
        }
        self.last_frame_cpu = started.elapsed();
    }

    /// Takes what the workers reported, spending at most a few milliseconds of the frame on it.
    fn drain_workers(&mut self, ctx: &Context) {
        let mut results = Vec::new();
        if let Some(loader) = &mut self.loader {
            let drained = loader.events().drain_within(WORKER_DRAIN_BUDGET, 4, |result| results.push(result));
            if drained.more_pending {
                ctx.request_repaint();
            }
            if let Some(exit) = loader.take_exit() {
                self.loader = None;
                self.startup_messages.push((LogLevel::Error, format!("The file loader thread stopped: {exit:?}")));
            }
        }
        for result in results {
            self.apply_load_result(ctx, result);
        }

        let mut pad_events = Vec::new();
        if let Some(gamepad) = &mut self.gamepad {
            gamepad.events().drain_within(WORKER_DRAIN_BUDGET, 64, |event| pad_events.push(event));
            if gamepad.take_exit().is_some() {
                self.gamepad = None;
            }
        }
        for event in pad_events {
            match event {
                GamepadEvent::Connected(name) => {
                    self.log_event(
                        ctx,
                        LogLevel::Info,
                        "gamepad",
                        format!("Gamepad connected: {name} (hold LB or RB to jog)."),
                    );
                }
                GamepadEvent::Disconnected(name) => {
                    self.gamepad_state = None;
                    self.log_event(ctx, LogLevel::Warn, "gamepad", format!("Gamepad disconnected: {name}."));
                }
                GamepadEvent::State(state) => self.gamepad_state = Some((state, Instant::now())),
                GamepadEvent::Unavailable(reason) => {
                    self.log_event(ctx, LogLevel::Info, "gamepad", format!("Gamepads cannot be read here: {reason}."));
                }
            }
        }

        let mut events = Vec::new();
        let mut robot_exit = None;
        if let Some(robot) = &mut self.robot {
            // State arrives at 100 Hz; only the newest matters for drawing, but every event is applied in order.
            let drained = robot.worker.events().drain_within(WORKER_DRAIN_BUDGET, 512, |event| events.push(event));
            if drained.more_pending {
                ctx.request_repaint();
            }
            robot_exit = robot.worker.take_exit();
        }
        for event in events {
            self.apply_driver_event(ctx, event);
        }
        if let Some(exit) = robot_exit {
            self.robot = None;
            self.arm.live = None;
            self.robot_state = ConnectionState::Failed { reason: format!("driver thread ended: {exit:?}") };
            self.log_event(ctx, LogLevel::Error, "robot", format!("The robot driver thread ended: {exit:?}"));
        }
    }

    /// A quit was confirmed (the robot is already disconnected then, so this is only true in between).
    fn quit_confirmed(&self) -> bool {
        self.robot.is_none()
    }

    /// The episode length limit and the reset countdown between episodes.
    fn episode_timers(&mut self, ctx: &Context) {
        let limit = self.session.episode_limit_s;
        if limit > 0.0 && self.session.recording.as_ref().is_some_and(|r| r.started.elapsed().as_secs_f64() >= limit) {
            self.log_event(ctx, LogLevel::Info, "session", format!("Episode time ({limit:.0} s) is up."));
            self.pending_commands.push(Command::FinishEpisode);
        }
        if let Some(started) = self.session.reset_started {
            if started.elapsed().as_secs_f64() >= self.session.reset_s {
                self.session.reset_started = None;
                if self.session.record_after_reset {
                    self.log_event(ctx, LogLevel::Info, "session", "Reset time is over: recording the next episode.");
                    self.pending_commands.push(Command::StartRecording);
                } else {
                    self.log_event(ctx, LogLevel::Info, "session", "Reset time is over: press Record (Ctrl+R).");
                }
            } else {
                ctx.request_repaint_after(Duration::from_millis(100));
            }
        }
    }

    /// The pane shown over the whole window, if any.
    #[must_use]
    pub fn maximised_pane(&self) -> Option<Pane> {
        self.maximised_pane
    }

    /// Whether the quit confirmation is showing.
    #[must_use]
    pub fn is_quit_confirmation_open(&self) -> bool {
        self.confirm_quit
    }

    /// Streams a jog target while the dead-man key and a motion key are held.
    fn teleop_frame(&mut self, ctx: &Context) {
        let typing = ctx.egui_wants_keyboard_input();
        if self.teleop.armed && !typing {
            ctx.input(|input| {
                for (index, key) in [Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5, Key::Num6, Key::Num7]
                    .into_iter()
                    .enumerate()
                {
                    if input.key_pressed(key) && input.modifiers.is_none() && index < self.arm.robot.dof() {
                        self.teleop.joint = index;
                    }
                }
                if input.key_pressed(Key::OpenBracket) {
                    self.teleop.speed = self.teleop.speed.saturating_sub(1);
                }
                if input.key_pressed(Key::CloseBracket) {
                    self.teleop.speed = (self.teleop.speed + 1).min(crate::gui::teleop::SPEEDS.len() - 1);
                }
            });
        }
        // Keyboard first; otherwise a fresh gamepad reading with its dead-man button held.
        let gamepad = self
            .gamepad_state
            .as_ref()
            .filter(|(_, at)| at.elapsed() < kinedesk_models::driver::TELEOP_WATCHDOG)
            .and_then(|(state, _)| state.jog());
        let keys = if typing { gamepad } else { ctx.input(JogKeys::read).or(gamepad) };
        let (Some(robot), Some(live)) = (&self.robot, &self.arm.live) else {
            self.teleop.target = None;
            self.arm.teleop_target = None;
            return;
        };
        let (now, frame_dt) = ctx.input(|input| (input.time, f64::from(input.predicted_dt)));
        match self.teleop.step(&self.arm.robot, &live.positions, keys, now, frame_dt) {
            Ok(Some(target)) => {
                if let Err(error) = robot.worker.send(DriverCommand::StreamTarget(target)) {
                    log::warn!(target: "kinedesk", "teleop target dropped: {error}");
                }
                // Keep frames coming while jogging, so targets stream at ~50 Hz.
                ctx.request_repaint_after(Duration::from_millis(20));
            }
            Ok(None) => {}
            Err(error) => self.log_event(ctx, LogLevel::Warn, "teleop", error),
        }
        self.arm.teleop_target = self.teleop.target.clone();
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

    fn frame_bookkeeping(&mut self, ctx: &Context) {
        if self.frame_index == 1 && self.options.report_first_frame {
            // The first frame has been painted and presented before the second one starts.
            println!("{FIRST_FRAME_MARKER}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        if let Some(limit) = self.options.exit_after_frames {
            if self.frame_index + 1 >= limit {
                ctx.send_viewport_cmd(ViewportCommand::Close);
            } else {
                ctx.request_repaint();
            }
        }
        self.frame_index += 1;
    }

    fn menu_bar_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Quit").clicked() {
                    commands.push(Command::Quit);
                }
            });
            ui.menu_button("View", |ui| {
                for pane in Pane::ALL {
                    if ui.button(pane.title()).clicked() {
                        commands.push(Command::ShowPane(pane));
                    }
                }
                ui.separator();
                if ui.button("Reset layout").clicked() {
                    commands.push(Command::ResetLayout);
                }
                ui.menu_button("Theme", |ui| {
                    for theme in ThemeChoice::ALL {
                        if ui.radio(self.state.theme == theme, theme.label()).clicked() {
                            commands.push(Command::SetTheme(theme));
                        }
                    }
                });
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts").clicked() {
                    commands.push(Command::ToggleShortcutHelp);
                }
                ui.label(RichText::new(format!("KineDesk {}", env!("CARGO_PKG_VERSION"))).weak());
            });
        });
    }

    fn status_bar_ui(&self, ui: &mut Ui, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            let stop_key = ui.ctx().format_shortcut(&egui::KeyboardShortcut::new(egui::Modifiers::NONE, STOP_KEY));
            if stop_button_ui(ui, &stop_key).clicked() {
                commands.push(Command::Stop { reason: kinedesk_models::StopReason::Button });
            }
            ui.label(RichText::new(stop_key).small().weak());
            ui.separator();
            status_bar_ui(ui, &self.status_items());
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                ui.label(RichText::new(format!("UI {:.1} ms", self.last_frame_cpu.as_secs_f64() * 1e3)).small().weak())
                    .on_hover_text("CPU time of the previous frame's UI code");
                if let Some(event) = self.stop.last() {
                    let ago = Timestamp::now().saturating_since(event.at).as_secs_f64();
                    ui.label(RichText::new(format!("last stop {ago:.0} s ago")).small());
                }
            });
        });
    }
}

/// A waker for worker channels: a worker's event asks egui for a new frame.
/// `~/x` → `$HOME/x` (what an operator types in a path box).
fn expand_home(path: &std::path::Path) -> std::path::PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => std::path::PathBuf::from(home).join(rest),
        _ => path.to_owned(),
    }
}

fn repaint_waker(ctx: &Context) -> kinedesk_models::channel::Waker {
    let ctx = ctx.clone();
    std::sync::Arc::new(move || ctx.request_repaint())
}

impl eframe::App for KineDeskApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Annotations are saved by their own writer while editing; this catches the last edit before quitting.
        self.session.annotator.flush_blocking();
        self.state.instruction_history.clone_from(&self.policy.history);
        self.state.cameras = self.cameras.specs();
        match serde_json::to_string(&self.state) {
            Ok(text) => storage.set_string(PersistedState::KEY, text),
            Err(error) => log::error!(target: "kinedesk", "could not save the layout: {error}"),
        }
    }
}
