//! Events and actions in words, for the progress lines and the journal's labels.

use super::event::{Action, Event, NodeId};
use super::scheduler::Scheduler;
use crate::plan::Plan;
use crate::topology::Topology;

/// `step on host` for nodes, the host name for host actions.
pub fn label(topology: &Topology, plan: &Plan, scheduler: &Scheduler, action: &Action) -> String {
    match action {
        Action::CheckPower { host } | Action::PowerOn { host } | Action::WaitSsh { host } => {
            topology.hosts[*host].name.clone()
        }
        Action::Probe { node } | Action::Start { node, .. } | Action::ReadValue { node } => {
            node_label(topology, plan, scheduler, *node)
        }
    }
}

fn node_label(topology: &Topology, plan: &Plan, scheduler: &Scheduler, node: NodeId) -> String {
    let node = &scheduler.nodes()[node];
    format!(
        "{} on {}",
        plan.steps[node.step].id, topology.hosts[node.host].name
    )
}

/// `step on host` for node events, the host or step name for the others.
pub fn event_label(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    event: &Event,
) -> String {
    match event {
        Event::PowerChecked { host, .. }
        | Event::PoweredOn { host, .. }
        | Event::SshReady { host, .. } => topology.hosts[*host].name.clone(),
        Event::Probed { node, .. }
        | Event::StartFinished { node, .. }
        | Event::Rearmed { node }
        | Event::ValueRead { node, .. } => node_label(topology, plan, scheduler, *node),
        Event::Acknowledged { step, .. } | Event::Held { step, .. } => plan.steps[*step].id.clone(),
    }
}

/// What an event means, in a few words.
pub fn describe(event: &Event) -> String {
    match event {
        Event::PowerChecked {
            result: Ok(state), ..
        } => format!("power is {state:?}").to_lowercase(),
        Event::PowerChecked {
            result: Err(why), ..
        } => format!("BMC FAILED: {why}"),
        Event::PoweredOn { result: Ok(()), .. } => "powered on".into(),
        Event::PoweredOn {
            result: Err(why), ..
        } => format!("power on FAILED: {why}"),
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
