//! Native file dialogs (`rfd`, through the XDG desktop portal on Linux: no GTK linked) for every place that takes a
//! path. A dialog runs on its own thread, so the window keeps drawing (and Stop keeps working) while it is open; its
//! answer comes back as a command. The typed-path boxes stay for keyboard users and headless machines.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};

use crate::gui::command::Command;

/// What a path is chosen for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogPurpose {
    /// A session folder to open (or create).
    OpenSession,
    /// A trajectory file (JSON) to preview.
    OpenTrajectory,
    /// A URDF robot model.
    OpenUrdf,
    /// Where to export the session (a new folder, or an `.rrd` file).
    ExportDestination,
    /// A LeRobot dataset folder to import.
    ImportDataset,
    /// A policy profile (TOML) for rollouts against a policy server.
    PolicyProfile,
}

impl DialogPurpose {
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::OpenSession => "Open a session folder",
            Self::OpenTrajectory => "Open a trajectory",
            Self::OpenUrdf => "Open a URDF robot model",
            Self::ExportDestination => "Export the session to",
            Self::ImportDataset => "Import a LeRobot dataset or a rosbag2 folder",
            Self::PolicyProfile => "Choose a policy profile (TOML)",
        }
    }
}

/// What came back from a dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogAnswer {
    Chosen(DialogPurpose, PathBuf),
    /// Closed without a choice, or no dialog could be shown (no desktop portal): the log says to type the path.
    NothingChosen(DialogPurpose),
}

/// The dialog in flight (at most one) and its answer channel.
pub struct FileDialogs {
    sender: Sender<DialogAnswer>,
    answers: Receiver<DialogAnswer>,
    pub open: Option<DialogPurpose>,
}

impl Default for FileDialogs {
    fn default() -> Self {
        let (sender, answers) = channel();
        Self { sender, answers, open: None }
    }
}

impl FileDialogs {
    /// Opens the platform's dialog for `purpose` on a thread, starting in `start` when given. Refused while another
    /// dialog is open.
    pub fn open(&mut self, purpose: DialogPurpose, start: Option<PathBuf>, ctx: &egui::Context) -> Result<(), String> {
        if let Some(open) = self.open {
            return Err(format!("a file dialog is open already ({})", open.title()));
        }
        let sender = self.sender.clone();
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new().set_title(purpose.title());
                if let Some(start) = start.filter(|s| s.is_dir()) {
                    dialog = dialog.set_directory(start);
                }
                let chosen = match purpose {
                    DialogPurpose::OpenSession | DialogPurpose::ImportDataset => dialog.pick_folder(),
                    DialogPurpose::OpenTrajectory => dialog.add_filter("trajectory", &["json"]).pick_file(),
                    DialogPurpose::OpenUrdf => dialog.add_filter("URDF", &["urdf", "xml"]).pick_file(),
                    DialogPurpose::PolicyProfile => dialog.add_filter("policy profile", &["toml"]).pick_file(),
                    DialogPurpose::ExportDestination => dialog.save_file(),
                };
                let answer = chosen.map_or(DialogAnswer::NothingChosen(purpose), |p| DialogAnswer::Chosen(purpose, p));
                let _ = sender.send(answer);
                ctx.request_repaint();
            })
            .map_err(|e| format!("cannot start the file dialog: {e}"))?;
        self.open = Some(purpose);
        Ok(())
    }

    /// The answer of the dialog, once it is closed.
    pub fn poll(&mut self) -> Option<DialogAnswer> {
        let answer = self.answers.try_recv().ok()?;
        self.open = None;
        Some(answer)
    }
}

/// What a chosen path does: open it, or fill the box it was chosen for.
#[must_use]
pub fn command_for(purpose: DialogPurpose, path: PathBuf) -> Command {
    match purpose {
        DialogPurpose::OpenSession => Command::OpenSession(path),
        DialogPurpose::OpenTrajectory => Command::LoadTrajectory(path),
        DialogPurpose::OpenUrdf => Command::LoadUrdf { path, tip: None },
        DialogPurpose::ExportDestination => Command::SetExportDestination(path),
        DialogPurpose::ImportDataset => Command::SetImportSource(path),
        DialogPurpose::PolicyProfile => Command::SetRolloutProfile(path),
    }
}
