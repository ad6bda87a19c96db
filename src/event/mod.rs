//! The one vocabulary of a run, real or simulated: actions the scheduler asks for, events
//! that report what happened (with typed [`Reason`]s), and the states of hosts, nodes and
//! steps. The scheduler takes these in, the journal stores them, and every view — live
//! progress, the summary, `status`, the drill's timeline — reads them. Nothing here knows
//! how an action is carried out.

pub mod checklist;
pub mod narrate;
mod reason;
pub mod state;
pub mod step_work;

use serde::{Deserialize, Serialize};

use crate::graph::Step;
use crate::plan::StepId;
use crate::topology::HostId;

pub use reason::Reason;

/// Index of a node in the scheduler: one step on one host.
pub type NodeId = usize;

/// What the scheduler asks an executor to do. Every action ends in exactly one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Read the host's chassis power state through its BMC.
    CheckPower {
        /// The host.
        host: HostId,
    },
    /// Switch the host on through its BMC (it was reported off).
    PowerOn {
        /// The host.
        host: HostId,
    },
    /// Switch the host off through its BMC (a real drill's power-off, never a recovery).
    PowerOff {
        /// The host.
        host: HostId,
    },
    /// Wait until the host answers SSH (after boot), up to its boot timeout, then run its
    /// preparation steps.
    WaitSsh {
        /// The host.
        host: HostId,
        /// Its preparation steps already ran since its last power-on (a resume finds it
        /// up): they are not run again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        prepared: bool,
    },
    /// Read the power state of a host that was up and stopped answering: did it lose power
    /// (then it is powered on again and waited for), or is it on and unreachable?
    Recheck {
        /// The host.
        host: HostId,
        /// What showed it gone.
        why: Reason,
    },
    /// Check whether the node is already healthy, without changing anything.
    Probe {
        /// The node.
        node: NodeId,
    },
    /// Read the node's ordering value (a sequence number, a lag) to choose which member
    /// of a replicated store starts first.
    ReadValue {
        /// The node.
        node: NodeId,
    },
    /// Start the node and wait until it is healthy (one attempt).
    Start {
        /// The node.
        node: NodeId,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// Watch a start that an earlier (killed) process launched and never saw end: wait for
    /// the node to be healthy until its ready timeout, counted from that start. Nothing is
    /// started: the first start may still be coming up.
    Adopt {
        /// The node.
        node: NodeId,
        /// The attempt that was in flight.
        attempt: u32,
        /// How long ago that start was launched, milliseconds.
        running_for_ms: u64,
    },
}

/// A power state as reported, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerReport {
    /// The host is on.
    On,
    /// The host is off.
    Off,
    /// The host has no BMC: assumed on, SSH decides.
    NoBmc,
}

/// What happened. Executors report these; the journal stores them; resume replays them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Result of [`Action::CheckPower`].
    PowerChecked {
        /// The host.
        host: HostId,
        /// The state, or why it could not be read.
        result: Result<PowerReport, Reason>,
    },
    /// Result of [`Action::PowerOn`].
    PoweredOn {
        /// The host.
        host: HostId,
        /// Ok, or why not.
        result: Result<(), Reason>,
    },
    /// Result of [`Action::PowerOff`].
    PoweredOff {
        /// The host.
        host: HostId,
        /// Ok, or why not.
        result: Result<(), Reason>,
    },
    /// Result of [`Action::WaitSsh`].
    SshReady {
        /// The host.
        host: HostId,
        /// Ok, or why the host never answered.
        result: Result<(), Reason>,
    },
    /// Result of [`Action::Probe`].
    Probed {
        /// The node.
        node: NodeId,
        /// Ok when the node was already healthy; otherwise what the probe saw
        /// ([`Reason::NoHealthCheck`] when there is nothing to probe).
        result: Result<(), Reason>,
    },
    /// Result of [`Action::Start`].
    StartFinished {
        /// The node.
        node: NodeId,
        /// Which attempt.
        attempt: u32,
        /// Ok when healthy; otherwise why not (with the command's last output).
        result: Result<(), Reason>,
    },
    /// Result of [`Action::Adopt`]: the start in flight at the kill came up, or did not.
    Adopted {
        /// The node.
        node: NodeId,
        /// The attempt that was in flight.
        attempt: u32,
        /// Ok when healthy; otherwise why not.
        result: Result<(), Reason>,
    },
    /// Result of [`Action::Recheck`].
    Rechecked {
        /// The host.
        host: HostId,
        /// The power state, or why it could not be read.
        result: Result<PowerReport, Reason>,
    },
    /// A person repaired a failed node and asks for it to be tried again.
    Rearmed {
        /// The node.
        node: NodeId,
    },
    /// Result of [`Action::ReadValue`].
    ValueRead {
        /// The node.
        node: NodeId,
        /// The value, or why it could not be read.
        result: Result<f64, Reason>,
    },
    /// A person acknowledged a manual step or approved a gate.
    Acknowledged {
        /// The step (index in the plan).
        step: StepId,
        /// Who, as given.
        by: String,
    },
    /// A step is held back (a failed preflight check): it counts as failed, so what needs
    /// it is blocked and everything else goes on.
    Held {
        /// The step.
        step: StepId,
        /// Why.
        reason: Reason,
    },
}

/// The host and step an action is about, resolved by the driver for whoever carries it out.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The host.
    pub host: HostId,
    /// The plan step (its index and what it runs), for node actions.
    pub step: Option<(StepId, Step)>,
}

/// What a remote command left behind. Output is bounded: only the tail is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// Exit code; `None` when the command was killed by a signal.
    pub exit_code: Option<i32>,
    /// Tail of stdout.
    pub stdout: String,
    /// Tail of stderr.
    pub stderr: String,
    /// A Redfish power call's exchange (system, ResetType, status, task), when the action
    /// was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc: Option<crate::plan::power::BmcExchange>,
}

impl CommandOutput {
    /// The last line written, from stderr when there is any, for messages.
    pub fn last_line(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        text.trim()
            .lines()
            .last()
            .unwrap_or("(no output)")
            .to_string()
    }
}

impl Action {
    /// The host a host action is about; `None` for node actions.
    pub fn host(&self) -> Option<HostId> {
        match self {
            Action::CheckPower { host }
            | Action::PowerOn { host }
            | Action::PowerOff { host }
            | Action::WaitSsh { host, .. }
            | Action::Recheck { host, .. } => Some(*host),
            Action::Probe { .. }
            | Action::ReadValue { .. }
            | Action::Start { .. }
            | Action::Adopt { .. } => None,
        }
    }

    /// The node a node action is about; `None` for host actions.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Action::Probe { node }
            | Action::ReadValue { node }
            | Action::Start { node, .. }
            | Action::Adopt { node, .. } => Some(*node),
            _ => None,
        }
    }
}

impl Event {
    /// True for a probe that found its node already healthy.
    pub fn found_healthy(&self) -> bool {
        matches!(self, Event::Probed { result: Ok(()), .. })
    }

    /// The host an event is about, for host events.
    pub fn host(&self) -> Option<HostId> {
        match self {
            Event::PowerChecked { host, .. }
            | Event::PoweredOn { host, .. }
            | Event::PoweredOff { host, .. }
            | Event::Rechecked { host, .. }
            | Event::SshReady { host, .. } => Some(*host),
            _ => None,
        }
    }

    /// Why the action failed, for failed actions.
    pub fn failure(&self) -> Option<&Reason> {
        match self {
            Event::PowerChecked {
                result: Err(why), ..
            }
            | Event::Rechecked {
                result: Err(why), ..
            }
            | Event::ValueRead {
                result: Err(why), ..
            } => Some(why),
            Event::PoweredOn {
                result: Err(why), ..
            }
            | Event::PoweredOff {
                result: Err(why), ..
            }
            | Event::SshReady {
                result: Err(why), ..
            }
            | Event::StartFinished {
                result: Err(why), ..
            }
            | Event::Adopted {
                result: Err(why), ..
            } => Some(why),
            _ => None,
        }
    }

    /// The node an event is about, for node events.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Event::Probed { node, .. }
            | Event::StartFinished { node, .. }
            | Event::Adopted { node, .. }
            | Event::Rearmed { node }
            | Event::ValueRead { node, .. } => Some(*node),
            _ => None,
        }
    }
}
