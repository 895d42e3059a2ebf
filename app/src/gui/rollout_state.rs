//! What the Rollout pane shows and what persists of it: the closed-loop rollout (the engine of
//! `kinedesk_models::policy::rollout`, ticked in the logic pass), its settings, and the figures plotted per chunk.

use std::sync::Arc;
use std::time::Duration;

use kinedesk_models::policy::rollout::{Envelope, Phase, Rollout, RolloutConfig, RolloutEvent, RolloutMode};
use kinedesk_sessions::session_recorder::SessionRecorder;

/// How rollouts run, as the operator set it (persisted). Speeds and steps in milli-units keep commands `Eq`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RolloutSettings {
    pub mode: RolloutMode,
    /// How observations are built and actions read, for a policy server: kinevla, libero, droid, aloha or a
    /// profile TOML file. The built-in planner always speaks kinevla.
    pub profile: String,
    /// Supervised envelope: fastest joint speed (mrad/s) and largest joint step (mrad).
    pub max_joint_speed_mrad_s: u32,
    pub max_step_mrad: u32,
    /// Stop after this many chunks (0: no limit).
    pub max_chunks: u32,
    /// Start no chunk after this many seconds (0: no limit).
    pub max_seconds: u32,
    /// Ask for the next chunk while the current one runs (after half its steps), so the arm does not wait.
    pub ask_early: bool,
    /// Longest wait for a chunk (s) before the rollout stops with the arm held.
    pub inference_timeout_s: u32,
}

impl Default for RolloutSettings {
    fn default() -> Self {
        Self {
            mode: RolloutMode::Step,
            profile: "kinevla".to_owned(),
            max_joint_speed_mrad_s: 1000,
            max_step_mrad: 100,
            max_chunks: 0,
            max_seconds: 0,
            ask_early: true,
            inference_timeout_s: 30,
        }
    }
}

impl RolloutSettings {
    /// The engine's configuration for `instruction`; `execute_steps`: the profile's steps run per chunk.
    #[must_use]
    pub fn config(&self, instruction: &str, execute_steps: usize) -> RolloutConfig {
        RolloutConfig {
            mode: self.mode,
            envelope: Envelope {
                workspace: None,
                max_joint_speed_rad_s: f64::from(self.max_joint_speed_mrad_s) / 1000.0,
                max_step_rad: f64::from(self.max_step_mrad) / 1000.0,
            },
            max_chunks: (self.max_chunks > 0).then_some(self.max_chunks as usize),
            max_time: (self.max_seconds > 0).then(|| Duration::from_secs(u64::from(self.max_seconds))),
            ask_after_steps: self.ask_early.then_some(execute_steps / 2),
            inference_timeout: Duration::from_secs(u64::from(self.inference_timeout_s.max(1))),
            ..RolloutConfig::new(instruction)
        }
    }
}

/// The rollout pane's state: the rollout (kept after it stopped, so its chunks stay on screen), the recording it
/// writes into, and its figures.
#[derive(Default)]
pub struct RolloutView {
    pub rollout: Option<Rollout>,
    /// The episode recording the rollout's chunks go into (the one under way when it started).
    pub recording: Option<Arc<SessionRecorder>>,
    /// Chunks already written to that recording.
    pub logged: usize,
    /// `[chunk, ms]` of each inference and of each idle gap, for the plot.
    pub inference_ms: Vec<[f64; 2]>,
    pub idle_gap_ms: Vec<[f64; 2]>,
    /// The chunk picked in the strip (its joints are plotted); `None`: the newest.
    pub selected: Option<usize>,
    /// The instruction box of the pane.
    pub instruction: String,
    /// Profile files found in the state directory's `profiles/` at start-up (name, path), and that folder.
    pub user_profiles: UserProfiles,
}

/// The operator's own policy profiles: TOML files in `profiles/` of the state directory.
#[derive(Clone, Debug, Default)]
pub struct UserProfiles {
    pub dir: Option<std::path::PathBuf>,
    /// (name, path) of each file that loads as a profile.
    pub files: Vec<(String, String)>,
    /// Files that do not, with why.
    pub broken: Vec<String>,
}

/// The profiles in `dir` (which need not exist: then there are none). Each is loaded once to check it; one that does
/// not load is listed in `broken` with the reason, not offered. An unreadable folder is an error.
pub fn user_profiles(dir: &std::path::Path) -> Result<UserProfiles, String> {
    let mut found = UserProfiles { dir: Some(dir.to_owned()), ..UserProfiles::default() };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(format!("cannot read the policy profiles in {}: {error}", dir.display())),
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for path in paths.into_iter().take(100) {
        let text = path.display().to_string();
        match kinedesk_models::policy::rollout::PolicyProfile::load(&text) {
            Ok(profile) => found.files.push((profile.name, text)),
            Err(error) => found.broken.push(format!("{text}: {error}")),
        }
    }
    Ok(found)
}

impl RolloutView {
    /// Is a rollout running or paused (not stopped)?
    #[must_use]
    pub fn active(&self) -> bool {
        self.rollout.as_ref().is_some_and(|r| r.phase() != Phase::Stopped)
    }

    /// Is a chunk waiting for Approve?
    #[must_use]
    pub fn awaiting_approval(&self) -> bool {
        self.rollout.as_ref().and_then(Rollout::pending).is_some()
    }

    /// Takes a fresh rollout (the figures of the last one are cleared).
    pub fn begin(&mut self, rollout: Rollout, recording: Option<Arc<SessionRecorder>>) {
        self.rollout = Some(rollout);
        self.recording = recording;
        self.logged = 0;
        self.inference_ms.clear();
        self.idle_gap_ms.clear();
        self.selected = None;
    }

    /// Updates the plotted figures from what a tick saw.
    pub fn note(&mut self, event: &RolloutEvent) {
        let Some(rollout) = &self.rollout else { return };
        match event {
            RolloutEvent::Proposed(index) => {
                let chunk = &rollout.chunks()[*index];
                self.inference_ms.push([*index as f64, chunk.inference_ms]);
            }
            RolloutEvent::Finished { index, .. } => {
                if let Some(gap) = rollout.chunks()[*index].idle_gap_ms {
                    self.idle_gap_ms.push([*index as f64, gap]);
                }
            }
            _ => {}
        }
    }

    /// Writes the chunks whose fate is settled into the recording (`all`: every remaining one).
    pub fn log_chunks(&mut self, all: bool) {
        if let (Some(rollout), Some(recording)) = (&self.rollout, &self.recording) {
            self.logged = crate::cli::rollout::log_settled_chunks(rollout, recording, self.logged, all);
        }
    }

    /// The chunk whose joints are plotted: the one picked, else the executing one, else the newest that ran.
    #[must_use]
    pub fn plotted_chunk(&self) -> Option<usize> {
        let rollout = self.rollout.as_ref()?;
        self.selected
            .filter(|i| *i < rollout.chunks().len())
            .or_else(|| rollout.executing().map(|c| c.index))
            .or_else(|| rollout.pending().map(|c| c.index))
            .or_else(|| rollout.chunks().iter().rev().find(|c| !c.planned.joints.is_empty()).map(|c| c.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_the_engine_configuration() {
        let settings = RolloutSettings {
            mode: RolloutMode::Supervised,
            max_joint_speed_mrad_s: 500,
            max_step_mrad: 40,
            max_chunks: 3,
            max_seconds: 0,
            ..RolloutSettings::default()
        };
        let config = settings.config("lift the cup", 8);
        assert_eq!(config.mode, RolloutMode::Supervised);
        assert!((config.envelope.max_joint_speed_rad_s - 0.5).abs() < 1e-12);
        assert!((config.envelope.max_step_rad - 0.04).abs() < 1e-12);
        assert_eq!(config.max_chunks, Some(3));
        assert_eq!(config.max_time, None);
        assert_eq!(config.ask_after_steps, Some(4));
        assert_eq!(config.instruction, "lift the cup");
        let sync = RolloutSettings { ask_early: false, ..RolloutSettings::default() }.config("x", 8);
        assert_eq!(sync.ask_after_steps, None);
    }

    #[test]
    fn profile_files_in_the_state_directory_are_offered_and_broken_ones_explained() {
        let dir = std::env::temp_dir().join(format!("kinedesk-profiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(user_profiles(&dir).unwrap().files.is_empty(), "a missing folder holds no profiles");
        std::fs::create_dir_all(&dir).unwrap();
        let text = "name = \"my-droid\"\n[observation]\n\
                    images = [{ key = \"observation/exterior_image_1_left\", camera = 0, size = 224, resize = \"pad\" }]\n\
                    state = [{ key = \"observation/joint_position\", fields = [\"joint_positions\"] }]\n\
                    [action]\nspace = \"joint_velocities\"\ngripper = \"closed_fraction\"\nrate_hz = 15.0\n\
                    chunk_len = 10\nexecute_steps = 8\ndims = 8\n";
        std::fs::write(dir.join("mine.toml"), text).unwrap();
        std::fs::write(dir.join("bad.toml"), "name = 3").unwrap();
        std::fs::write(dir.join("notes.txt"), "not a profile").unwrap();
        let found = user_profiles(&dir).unwrap();
        assert_eq!(found.files.len(), 1, "{found:?}");
        assert_eq!(found.files[0].0, "my-droid");
        assert_eq!(found.broken.len(), 1, "{found:?}");
        assert!(found.broken[0].contains("bad.toml"), "{found:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn settings_missing_from_an_older_save_take_their_defaults() {
        let settings: RolloutSettings = serde_json::from_str(r#"{"mode":"supervised"}"#).unwrap();
        assert_eq!(settings.mode, RolloutMode::Supervised);
        assert_eq!(settings.profile, "kinevla");
        assert_eq!(settings.max_step_mrad, 100);
    }
}
