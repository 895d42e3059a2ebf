//! `kinedesk-models`: what the desk knows about the world, with no UI.
//!
//! - [`clock`]: the one monotonic clock every stream (cameras, robot, policy, recorder) is stamped with.
//! - [`connection`]: the connection state of each device the desk talks to.
//! - [`robot`]: robot models (built-in Panda and RM75), kinematics, IK and trajectory safety checks.
//! - [`driver`]: the robot driver interface and the safety gate every driver passes writes through.
//! - [`policy`]: the policy's token grammar (reasoning and action tokens), parsed with clear errors.
//! - [`realman`]: Realman arms over their JSON-over-TCP protocol, and a simulated controller.
//! - [`sim_arm`]: the simulated arm, the embedded default driver.
//! - [`tokenizer`]: the bi-level residual-VQ action tokenizer in candle.
//! - [`stop`]: the stop signal that bypasses every queue.
//! - [`channel`]: bounded channels that count what they drop, and drain within a time budget.
//! - [`worker`]: named worker threads that talk to the UI only through those channels.
//!
//! Robot kinematics, safety checks and the policy (RVQ-VAE tokenizer, planners) join this crate in later work.

pub mod camera;
pub mod channel;
pub mod clock;
pub mod connection;
pub mod driver;
pub mod policy;
pub mod realman;
pub mod robot;
pub mod sim_arm;
pub mod stop;
pub mod tokenizer;
pub mod worker;

pub use channel::{BoundedReceiver, BoundedSender, bounded};
pub use clock::Timestamp;
pub use connection::{ConnectionState, DeviceKind};
pub use stop::{StopReason, StopSignal};
pub use worker::{Worker, WorkerContext, WorkerExit};
