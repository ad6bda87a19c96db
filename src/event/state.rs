//! Typed states of hosts, nodes and steps, each with its reason.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Reason;
use crate::plan::StepId;
use crate::topology::HostId;

/// Where a host stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Nothing asked yet (or resumed: must be checked again).
    Unknown,
    /// Power state being read.
    CheckingPower,
    /// Off, waiting for a power-on slot in its domain.
    Off,
    /// Power-on command in flight.
    PoweringOn,
    /// Waiting for SSH to answer.
    Booting,
    /// Answers SSH.
    Up,
    /// Cannot be brought up.
    Failed {
        /// Why.
        reason: Reason,
    },
}

/// Where a node (one step on one host) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NodeState {
    /// Its host is not up yet, or it waits for another probe first.
    Pending,
    /// Being probed: is it already healthy?
    Probing,
    /// Probed, not healthy; waits for its dependencies.
    Waiting,
    /// Dependencies ready; waits for a free slot.
    Queued,
    /// A start attempt is in flight.
    Starting {
        /// Which attempt.
        attempt: u32,
    },
    /// Waiting before the next attempt.
    Backoff {
        /// When the next attempt may begin.
        until: Duration,
    },
    /// Healthy.
    Healthy {
        /// Found healthy by the first probe: not started by this run.
        already: bool,
    },
    /// Gave up.
    Failed {
        /// Why, with the last output.
        reason: Reason,
    },
}

impl NodeState {
    /// True for states that end the node's work.
    pub fn is_settled(&self) -> bool {
        matches!(self, NodeState::Healthy { .. } | NodeState::Failed { .. })
    }
}

/// Where a step (a subsystem in a mode, on all its hosts) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepStatus {
    /// Its dependencies are not ready yet.
    Waiting,
    /// Its dependencies are ready; nodes are starting.
    Active,
    /// Enough hosts are healthy (`min_healthy`).
    Ready,
    /// Too many hosts failed for `min_healthy` to hold, spares included.
    Failed,
    /// A hard dependency failed (directly or further up).
    Blocked {
        /// The failed step at the root of the block.
        on: StepId,
    },
}

/// One node: a step on a host.
#[derive(Debug, Clone)]
pub struct Node {
    /// The step.
    pub step: StepId,
    /// The host.
    pub host: HostId,
    /// Brought in to replace a failed node.
    pub spare: bool,
    /// Where it stands.
    pub state: NodeState,
    /// Start attempts made.
    pub attempts: u32,
    /// Attempts cut short because the host stopped answering (it lost power, crashed or
    /// was cut off): not the service's fault, so not counted against its retry policy.
    pub interrupted: u32,
    /// Its current probe comes before a retry, not before the first attempt.
    pub probe_before_retry: bool,
}

impl StepStatus {
    /// The status's name, as the journal and JSON outputs spell it.
    pub fn name(&self) -> &'static str {
        match self {
            StepStatus::Waiting => "waiting",
            StepStatus::Active => "active",
            StepStatus::Ready => "ready",
            StepStatus::Failed => "failed",
            StepStatus::Blocked { .. } => "blocked",
        }
    }
}

/// Why a step failed: held back, or too few of its hosts healthy for `min_healthy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepFailure {
    /// Held back before it began (a failed preflight check, a refused ordering).
    Held(Reason),
    /// Too many members failed, spares included.
    TooFewHealthy {
        /// Members healthy.
        healthy: usize,
        /// Members needed.
        required: usize,
    },
}

/// How a run (or this process's part of it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step is ready.
    Succeeded,
    /// A step failed or stayed blocked.
    Failed,
    /// Stopped on request (Ctrl-C) before the end.
    Interrupted,
    /// A preflight check that stops the run failed: nothing was powered on or started.
    PreflightFailed,
}

impl std::fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::PreflightFailed => "preflight failed",
        })
    }
}

/// Whether a process still works on the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    /// A process holds the run's lock.
    Live,
    /// The run ended and wrote its outcome.
    Finished {
        /// How it ended.
        outcome: RunOutcome,
    },
    /// No process holds the lock and the journal has no end: killed (or crashed).
    Killed,
}
