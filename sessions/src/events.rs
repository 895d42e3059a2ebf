//! What goes on an episode's timeline besides frames and joint states, as one typed vocabulary: written by the
//! session recorder (the same for the GUI and the CLI) and read by the exports, the annotation seeding and the
//! timeline's events lane. Each event is stored as JSON with a `type` key.

use kinedesk_core::vocab::StageKind;

/// An operator-log line's source, for the events that are log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    Policy,
    Send,
    Stop,
    Robot,
    Teleop,
    Camera,
}

impl LogSource {
    pub const ALL: [Self; 6] = [Self::Policy, Self::Send, Self::Stop, Self::Robot, Self::Teleop, Self::Camera];

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Send => "send",
            Self::Stop => "stop",
            Self::Robot => "robot",
            Self::Teleop => "teleop",
            Self::Camera => "camera",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|source| source.name() == name)
    }
}

/// One event on an episode's timeline.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The instruction the episode was recorded for (or planned during it).
    Instruction {
        text: String,
        /// Where it came from when not typed at the desk (e.g. "import").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
    /// The policy's bi-level reasoning and action tokens for a plan.
    Reasoning {
        #[serde(default)]
        instruction_level: Vec<String>,
        #[serde(default)]
        action_level: Vec<String>,
        #[serde(default)]
        action_tokens: Vec<Vec<u32>>,
    },
    /// A trajectory sent to the robot (the planned path).
    Trajectory { source: String, dt_s: f64, joints: Vec<Vec<f64>> },
    /// A stage of a plan as the robot executed it: the plan steps it covered and when (shared clock, ns), taken
    /// from the driver's own progress reports.
    StageExecuted { stage: StageKind, first_step: usize, last_step: usize, start_ns: u64, end_ns: u64 },
    /// A chunk of a closed-loop rollout: what the policy proposed, what was decided, how much of it ran.
    /// `plan_id` ties the chunk to the commanded actions recorded while it executed (their source is that plan).
    RolloutChunk {
        index: usize,
        plan_id: Option<u64>,
        /// pending, approved, auto_approved, rejected, refused or discarded.
        decision: String,
        inference_ms: f64,
        planned_steps: usize,
        executed_steps: usize,
        #[serde(default)]
        instruction_level: Vec<String>,
        #[serde(default)]
        action_level: Vec<String>,
        #[serde(default)]
        action_tokens: Vec<Vec<u32>>,
        #[serde(default)]
        violations: Vec<String>,
        /// The operator took over (teleop) during the pause before this chunk.
        #[serde(default)]
        after_intervention: bool,
    },
    /// An operator-log line from one of the desk's parts.
    Log { source: LogSource, message: String },
}

impl TimelineEvent {
    /// The `type` it is stored with.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Instruction { .. } => "instruction",
            Self::Reasoning { .. } => "reasoning",
            Self::Trajectory { .. } => "trajectory",
            Self::StageExecuted { .. } => "stage_executed",
            Self::RolloutChunk { .. } => "rollout_chunk",
            Self::Log { .. } => "log",
        }
    }

    /// The event as stored.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored event. Logs written before this vocabulary stored log lines as `{"type": "<source>",
    /// "message": …}`; those are read as [`TimelineEvent::Log`]. Anything else unknown is `None` (kept raw by the
    /// reader, never guessed at).
    #[must_use]
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        if let Ok(event) = serde_json::from_value::<Self>(value.clone()) {
            return Some(event);
        }
        let kind = value.get("type")?.as_str()?;
        let source = LogSource::from_name(kind)?;
        let message = value.get("message").and_then(serde_json::Value::as_str).map_or_else(
            || value.to_string(), // e.g. an old headless {"type":"send","samples":N}: kept whole as the message
            str::to_owned,
        );
        Some(Self::Log { source, message })
    }

    /// A one-line description for the timeline's events lane.
    #[must_use]
    pub fn summary(&self) -> String {
        match self {
            Self::Instruction { text, .. } => format!("instruction: {text}"),
            Self::Reasoning { action_level, .. } => format!("reasoning: {}", action_level.join(" → ")),
            Self::Trajectory { source, joints, dt_s } => {
                format!("trajectory: {source} ({} samples, {:.2} s)", joints.len(), dt_s * joints.len() as f64)
            }
            Self::StageExecuted { stage, first_step, last_step, start_ns, end_ns } => format!(
                "stage {stage}: steps {first_step}–{last_step} ({:.2} s)",
                end_ns.saturating_sub(*start_ns) as f64 / 1e9
            ),
            Self::RolloutChunk { index, decision, inference_ms, executed_steps, planned_steps, violations, .. } => {
                let mut text = format!(
                    "rollout chunk {index}: {decision}, {executed_steps} of {planned_steps} steps, inference {inference_ms:.1} ms"
                );
                if let Some(first) = violations.first() {
                    text.push_str(&format!(" ({first})"));
                }
                text
            }
            Self::Log { source, message } => format!("{}: {message}", source.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_old_log_lines_are_read() {
        let events = [
            TimelineEvent::Instruction { text: "lift".into(), source: None },
            TimelineEvent::Reasoning {
                instruction_level: vec!["distance: 0.1 m".into()],
                action_level: vec!["lift".into()],
                action_tokens: vec![vec![1, 2]],
            },
            TimelineEvent::Trajectory { source: "plan".into(), dt_s: 0.05, joints: vec![vec![0.0; 7]] },
            TimelineEvent::StageExecuted {
                stage: StageKind::Lift,
                first_step: 3,
                last_step: 9,
                start_ns: 5,
                end_ns: 90,
            },
            TimelineEvent::RolloutChunk {
                index: 2,
                plan_id: Some(7),
                decision: "approved".into(),
                inference_ms: 12.5,
                planned_steps: 5,
                executed_steps: 5,
                instruction_level: vec!["direction: left".into()],
                action_level: vec!["move".into()],
                action_tokens: vec![vec![3, 4]],
                violations: Vec::new(),
                after_intervention: true,
            },
            TimelineEvent::Log { source: LogSource::Stop, message: "STOP".into() },
        ];
        for event in events {
            let json = event.to_json();
            assert_eq!(json["type"], event.kind());
            assert_eq!(TimelineEvent::from_json(&json), Some(event));
        }
        let old = serde_json::json!({"type": "robot", "message": "sim panda finished"});
        assert_eq!(
            TimelineEvent::from_json(&old),
            Some(TimelineEvent::Log { source: LogSource::Robot, message: "sim panda finished".into() })
        );
        let old_send = serde_json::json!({"type": "send", "samples": 40});
        assert!(matches!(
            TimelineEvent::from_json(&old_send),
            Some(TimelineEvent::Log { source: LogSource::Send, .. })
        ));
        assert_eq!(TimelineEvent::from_json(&serde_json::json!({"type": "end"})), None);
    }
}
