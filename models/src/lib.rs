//! `kinedesk-models`: what the desk knows about the world, with no UI — one import for the app, re-exporting the
//! crates it is made of (each can be used alone; the widgets and sessions crates use only `kinedesk-core`):
//!
//! - `kinedesk-core`: clock, channels, workers, stop signal, robot models, kinematics, safety checks, the driver
//!   interface and camera frames.
//! - `kinedesk-cameras` ([`camera`]): capture threads, nokhwa devices, decoders, synthetic sources.
//! - `kinedesk-drivers` ([`sim_arm`], [`realman`]): the simulated arm and the Realman driver.
//! - `kinedesk-policy` ([`policy`], [`tokenizer`]): instructions, the RVQ-VAE tokenizer (candle), the built-in planner,
//!   the openpi-style remote protocol.

pub use kinedesk_cameras as camera;
pub use kinedesk_core::*;
pub use kinedesk_drivers::{realman, sim_arm};
pub use kinedesk_policy as policy;
pub use kinedesk_policy::tokenizer;
