//! `kinedesk-sessions`: recording, crash-safe episode storage, annotations, import/export and replay. No UI.
//!
//! - [`episode_log`]: the crash-safe on-disk episode format (append-only, checksummed records, torn tails trimmed).
//! - [`recorder`]: recording an episode (JPEG pool, writer thread, sync at least every 0.5 s, drops counted).
//! - [`episode`]: reading episodes back, and the session folder.
//! - [`annotation`]: per-episode annotations (instruction, constraints, stage segments, outcome, flag, trim), undo/redo,
//!   atomic saves, the trash.
//! - [`lerobot`]: LeRobot v3.0 / v2.1 dataset export (Parquet), with the bi-level reasoning as language annotations.
//! - [`rerun_export`]: a session as a Rerun `.rrd` recording, or streamed live to a running viewer.
//! - [`video`]: MP4 video for exports, through the system's ffmpeg.
//! - [`lerobot_import`]: importing a LeRobot dataset into a session for annotation.

pub mod annotation;
pub mod episode;
pub mod episode_log;
pub mod lerobot;
pub mod lerobot_import;
pub mod recorder;
pub mod rerun_export;
pub mod video;

use kinedesk_core::ConnectionState;

/// What the recorder is doing, as reported to the status bar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RecorderStatus {
    /// No session is open, so nothing can be recorded yet.
    #[default]
    NoSession,
}

impl RecorderStatus {
    /// The recorder's line in the status bar.
    #[must_use]
    pub fn connection_state(&self) -> ConnectionState {
        match self {
            Self::NoSession => ConnectionState::Idle { detail: "no session open".to_owned() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_recorder_says_no_session() {
        assert_eq!(
            RecorderStatus::default().connection_state(),
            ConnectionState::Idle { detail: "no session open".into() }
        );
    }
}
