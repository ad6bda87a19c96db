//! Events, actions and statuses in words: the one place each becomes text, for progress
//! lines, the journal's labels, the summary and `status`.

use super::state::{Node, StepFailure, StepStatus};
use super::{Action, Event, NodeId, PowerReport};
use crate::plan::Plan;
use crate::topology::Topology;

/// `step on host` for node actions, the host name for host actions.
pub fn label(topology: &Topology, plan: &Plan, nodes: &[Node], action: &Action) -> String {
    match action {
        Action::CheckPower { host }
        | Action::PowerOn { host }
        | Action::PowerOff { host }
        | Action::WaitSsh { host } => topology.hosts[*host].name.clone(),
        Action::Probe { node } | Action::Start { node, .. } | Action::ReadValue { node } => {
            node_label(topology, plan, nodes, *node)
        }
    }
}

/// `step on host`.
pub fn node_label(topology: &Topology, plan: &Plan, nodes: &[Node], node: NodeId) -> String {
    let node = &nodes[node];
    format!(
        "{} on {}",
        plan.steps[node.step].id, topology.hosts[node.host].name
    )
}

/// `step on host` for node events, the host or step name for the others.
pub fn event_label(topology: &Topology, plan: &Plan, nodes: &[Node], event: &Event) -> String {
    if let Some(host) = event.host() {
        return topology.hosts[host].name.clone();
    }
    if let Some(node) = event.node() {
        return node_label(topology, plan, nodes, node);
    }
    match event {
        Event::Acknowledged { step, .. } | Event::Held { step, .. } => plan.steps[*step].id.clone(),
        _ => String::new(),
    }
}

/// What an event means, in a few words.
pub fn describe(event: &Event) -> String {
    match event {
        Event::PowerChecked {
            result: Ok(state), ..
        } => match state {
            PowerReport::On => "power is on".into(),
            PowerReport::Off => "power is off".into(),
            PowerReport::NoBmc => "no BMC: assumed on, SSH decides".into(),
        },
        Event::PowerChecked {
            result: Err(why), ..
        } => format!("BMC FAILED: {why}"),
        Event::PoweredOn { result, .. } => outcome("powered on", "power on", result),
        Event::PoweredOff { result, .. } => outcome("powered off", "power off", result),
        Event::SshReady { result: Ok(()), .. } => "answers SSH".into(),
        Event::SshReady {
            result: Err(why), ..
        } => format!("SSH FAILED: {why}"),
        Event::Probed { healthy: true, .. } => "already healthy: left alone".into(),
        Event::Probed {
            healthy: false,
            detail,
            ..
        } => format!("not healthy yet ({detail})"),
        Event::StartFinished {
            attempt,
            result: Ok(()),
            ..
        } => format!("healthy (attempt {attempt})"),
        Event::StartFinished {
            attempt,
            result: Err(why),
            ..
        } => format!("attempt {attempt} FAILED: {why}"),
        Event::Rearmed { .. } => "re-armed by an operator".into(),
        Event::ValueRead {
            result: Ok(value), ..
        } => format!("ordering value {value}"),
        Event::ValueRead {
            result: Err(why), ..
        } => format!("ordering value unreadable: {why}"),
        Event::Acknowledged { by, .. } => format!("acknowledged by {by}"),
        Event::Held { reason, .. } => format!("HELD: {reason}"),
    }
}

/// `done` when it worked, `what FAILED: why` when not.
fn outcome(done: &str, what: &str, result: &Result<(), super::Reason>) -> String {
    match result {
        Ok(()) => done.to_string(),
        Err(why) => format!("{what} FAILED: {why}"),
    }
}

/// A step's status in one word, as people scan for it: `ready`, `FAILED`, `BLOCKED`.
pub fn status_word(status: &StepStatus) -> &'static str {
    match status {
        StepStatus::Waiting => "waiting",
        StepStatus::Active => "in progress",
        StepStatus::Ready => "ready",
        StepStatus::Failed => "FAILED",
        StepStatus::Blocked { .. } => "BLOCKED",
    }
}

/// Why a step stands where it stands, when there is more to say than its word.
pub fn status_detail(
    plan: &Plan,
    status: &StepStatus,
    failure: Option<&StepFailure>,
) -> Option<String> {
    match (status, failure) {
        (StepStatus::Waiting, _) => Some("for dependencies".into()),
        (StepStatus::Failed, Some(StepFailure::Held(reason))) => Some(format!("held: {reason}")),
        (StepStatus::Failed, Some(StepFailure::TooFewHealthy { healthy, required })) => {
            Some(format!("{healthy} healthy, {required} needed"))
        }
        (StepStatus::Blocked { on }, _) => Some(format!("waits for failed {}", plan.steps[*on].id)),
        _ => None,
    }
}

/// A step's status in words: its word, then why in parentheses.
pub fn status_text(plan: &Plan, status: &StepStatus, failure: Option<&StepFailure>) -> String {
    match status_detail(plan, status, failure) {
        Some(detail) => format!("{} ({detail})", status_word(status)),
        None => status_word(status).to_string(),
    }
}

/// `1 host`, `2 hosts`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}
