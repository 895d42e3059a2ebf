//! `kinedesk-core`: what every part of KineDesk shares, with no UI and no heavy dependencies (no candle, no camera
//! or network stacks), so the widgets and sessions crates build on it alone.
//!
//! - [`clock`]: the one monotonic clock every stream (cameras, robot, policy, recorder) is stamped with.
//! - [`connection`]: the connection state of each device the desk talks to.
//! - [`channel`]: bounded channels that count what they drop, and drain within a time budget.
//! - [`worker`]: named worker threads that talk to their owner only through channels.
//! - [`stop`]: the stop signal that bypasses every queue.
//! - [`robot`]: robot models (built-in Panda and RM75, URDF), kinematics, IK and trajectory safety checks.
//! - [`driver`]: the robot driver interface and the safety gate every driver passes writes through.
//! - [`review`]: the review of a trajectory before it moves the arm (preview, approval, execution state).
//! - [`frame`]: camera frames on the shared clock and the newest-frame slot.
//! - [`vocab`]: the stage and constraint kinds of KineVLA's bi-level reasoning, shared by policy, sessions and UI.

pub mod channel;
pub mod clock;
pub mod connection;
pub mod driver;
pub mod frame;
pub mod review;
pub mod rng;
pub mod robot;
pub mod stop;
pub mod vocab;
pub mod worker;

pub use channel::{BoundedReceiver, BoundedSender, bounded};
pub use clock::Timestamp;
pub use connection::{ConnectionState, DeviceKind};
pub use stop::{StopReason, StopSignal};
pub use worker::{Worker, WorkerContext, WorkerExit};
