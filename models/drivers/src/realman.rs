//! Realman arms (RM75 and siblings) over the controller's JSON-over-TCP protocol.
//!
//! - [`protocol`]: messages, integer units (0.001°, 0.001 mm, 0.001 rad), line framing, error codes.
//! - [`client`]: the robot driver (a [`kinedesk_core::driver`] worker) that speaks it.
//! - [`simulator`]: a simulated Realman controller on a TCP port, for tests, `kinedesk robot-sim` and other tools;
//!   it can be told to drop the connection, delay replies, answer with error codes or send garbage.

pub mod client;
pub mod protocol;
pub mod simulator;
