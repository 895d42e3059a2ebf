//! `kinedesk-drivers`: robot drivers behind the [`kinedesk_core::driver`] interface.
//!
//! - [`sim_arm`]: the simulated arm, the embedded default driver.
//! - [`realman`]: Realman arms over their JSON-over-TCP protocol, and a simulated controller.

pub mod realman;
pub mod sim_arm;

#[cfg(test)]
mod test_support;
