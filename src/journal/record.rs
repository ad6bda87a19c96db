//! What one journal line holds. Format 3: every action and event names its step and host
//! as fields, outcomes, drill phases, preflight and probe results are types with
//! [`Reason`]s, and what people asked for and were refused is a record too.

use serde::{Deserialize, Serialize};

use crate::event::state::{RunOutcome, StepStatus};
use crate::event::{Action, CommandOutput, Event, Reason};

/// The journal format this release writes and reads. Format 1 (the first releases) kept
/// reasons and statuses as text; format 2 typed them; format 3 names step and host as
/// fields and types outcomes, drill phases, preflight and probe results.
pub const FORMAT: u32 = 3;

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Wall-clock time, RFC 3339; none on a drill's virtual clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Milliseconds since the run (first start) began.
    pub t_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
}

/// A phase of a real drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillPhase {
    /// What was healthy before anything was powered off.
    Baseline,
    /// The power-off.
    PowerOff,
    /// The drill's report.
    Report,
}

/// What a journal line records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A run (or a resume) began. Always the first record a process writes.
    RunStarted {
        /// The journal format ([`FORMAT`]); journals without it are format 1.
        #[serde(default = "format_one")]
        format: u32,
        /// Digest of topology and scope.
        plan_digest: String,
        /// Topology name.
        topology: String,
        /// True for `--resume`.
        resumed: bool,
        /// Process id of the orchestrator.
        pid: u32,
    },
    /// The scheduler asked for an action.
    Action {
        /// The action.
        action: Action,
        /// The plan step's id, for node actions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// The host's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The command that will run, as rendered (no secrets).
        command: Option<String>,
    },
    /// An action finished, or a person's request took effect.
    Event {
        /// The event.
        event: Event,
        /// The plan step's id, for node and step events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        /// The host's name, for host and node events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// How long the action took, milliseconds.
        duration_ms: u64,
        /// Exit code and output tails of the last command, when there was one.
        output: Option<CommandOutput>,
    },
    /// A preflight check ran on a host.
    Preflight {
        /// The check's name.
        check: String,
        /// The host.
        host: String,
        /// What was seen when it passed; why not when it failed.
        result: Result<String, Reason>,
    },
    /// A phase of a real drill.
    Drill {
        /// Which phase.
        phase: DrillPhase,
        /// What the phase found.
        detail: serde_json::Value,
    },
    /// A step changed status.
    StepStatus {
        /// Step id.
        step: String,
        /// New status.
        status: StepStatus,
    },
    /// Stop was asked for (Ctrl-C, SIGTERM): nothing new starts, what runs finishes.
    StopRequested,
    /// A person's request (`retry`, `ack`) was refused; nothing changed.
    RequestRefused {
        /// The request, in words (`retry ldap`, `ack gate-1 by ana`).
        request: String,
        /// Why it was refused.
        why: String,
    },
    /// The run ended (or this process's part of it).
    RunFinished {
        /// How.
        outcome: RunOutcome,
    },
}

fn format_one() -> u32 {
    1
}

impl Entry {
    /// Who an action or event is about, for people: `step on host`, the host, or the step.
    pub fn label(&self) -> String {
        match self {
            Entry::Action { step, host, .. } | Entry::Event { step, host, .. } => {
                subject(step.as_deref(), host.as_deref())
            }
            Entry::Preflight { check, host, .. } => format!("{check} on {host}"),
            Entry::StepStatus { step, .. } => step.clone(),
            _ => String::new(),
        }
    }
}

/// `step on host`, the host alone, or the step alone.
pub fn subject(step: Option<&str>, host: Option<&str>) -> String {
    match (step, host) {
        (Some(step), Some(host)) => format!("{step} on {host}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => String::new(),
    }
}
