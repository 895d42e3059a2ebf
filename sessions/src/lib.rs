//! `kinedesk-sessions`: recording, crash-safe episode storage, annotations, import and export. No UI.
//!
//! - [`episode_log`]: the crash-safe on-disk episode format (append-only, checksummed records, torn tails trimmed).
//! - [`events`]: the typed vocabulary of an episode's timeline events.
//! - [`session_recorder`]: recording an episode from device taps, the same for the GUI and the CLI.
//! - [`recorder`]: recording an episode (JPEG pool, writer thread, sync at least every 0.5 s, drops counted).
//! - [`episode`]: reading episodes back, and the session folder.
//! - [`annotation`]: per-episode annotations (instruction, constraints, stage segments, outcome, flag, trim), undo/redo,
//!   atomic saves, the trash.
//! - [`lerobot`]: LeRobot v3.0 / v2.1 dataset export (Parquet), with the bi-level reasoning as language annotations.
//! - [`rerun_export`]: a session as a Rerun `.rrd` recording, or streamed live to a running viewer.
//! - [`video`]: MP4 video for exports, through the system's ffmpeg.
//! - [`lerobot_import`]: importing a LeRobot dataset into a session for annotation.
//! - [`dataset_doctor`]: checks a LeRobot v3.0 dataset before training.
//! - [`dataset_edit`]: editing LeRobot v3.0 datasets (delete episodes, split, trim, retask) into new datasets.

pub mod annotation;
pub mod dataset_doctor;
pub mod dataset_edit;
pub mod episode;
pub mod episode_log;
pub mod episode_split;
pub mod events;
pub mod lerobot;
pub mod lerobot_import;
pub mod output;
pub mod recorder;
pub mod rerun_export;
pub mod session_recorder;
pub mod video;
