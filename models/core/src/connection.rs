//! Connection state of each device the desk talks to, as shown in the status bar.

use std::fmt;

/// The kinds of device connection the status bar reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DeviceKind {
    Cameras,
    Robot,
    Policy,
    Recorder,
}

impl DeviceKind {
    pub const ALL: [Self; 4] = [Self::Cameras, Self::Robot, Self::Policy, Self::Recorder];

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Cameras => "Cameras",
            Self::Robot => "Robot",
            Self::Policy => "Policy",
            Self::Recorder => "Recorder",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the desk knows about one connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConnectionState {
    /// Nothing is configured or attached.
    NotConnected,
    /// A connection attempt is under way.
    Connecting { target: String },
    /// Connected and healthy; `detail` says to what (e.g. "sim panda", "3 feeds").
    Connected { detail: String },
    /// Idle but available (e.g. the recorder when nothing is being recorded).
    Idle { detail: String },
    /// The connection failed or was lost; `reason` is shown to the operator.
    Failed { reason: String },
}

impl ConnectionState {
    #[must_use]
    pub const fn is_healthy(&self) -> bool {
        matches!(self, Self::Connected { .. } | Self::Idle { .. })
    }

    /// One short line for the status bar.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::NotConnected => "not connected".to_owned(),
            Self::Connecting { target } => format!("connecting to {target}…"),
            Self::Connected { detail } | Self::Idle { detail } => detail.clone(),
            Self::Failed { reason } => format!("failed: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_honest() {
        assert_eq!(ConnectionState::NotConnected.summary(), "not connected");
        assert!(!ConnectionState::NotConnected.is_healthy());
        let failed = ConnectionState::Failed { reason: "connection refused".into() };
        assert_eq!(failed.summary(), "failed: connection refused");
        assert!(!failed.is_healthy());
        assert!(ConnectionState::Connected { detail: "sim panda".into() }.is_healthy());
        assert_eq!(DeviceKind::ALL.map(DeviceKind::label), ["Cameras", "Robot", "Policy", "Recorder"]);
    }
}
