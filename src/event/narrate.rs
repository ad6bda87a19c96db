//! Events, actions and statuses in words: the one place each becomes text, for progress
//! lines, the journal's labels, the summary and `status`.

use super::state::{Node, StepFailure, StepStatus};
use super::{Action, Event, NodeId, PowerReport};
use crate::plan::{Plan, StepId};
use crate::topology::Topology;
use crate::units::count;

mod failures;

pub use failures::*;

/// The step and host an action or event is about, as the journal names them: node work
/// has both, host work the host, a person's acknowledgement or a hold the step.
pub type Subject = (Option<String>, Option<String>);

/// The step and host `action` is about.
pub fn action_subject(
    topology: &Topology,
    plan: &Plan,
    nodes: &[Node],
    action: &Action,
) -> Subject {
    match (action.host(), action.node()) {
        (Some(host), _) => (None, Some(topology.hosts[host].name.clone())),
        (_, Some(node)) => node_subject(topology, plan, nodes, node),
        (None, None) => (None, None),
    }
}

/// The step and host of node `node`.
pub fn node_subject(topology: &Topology, plan: &Plan, nodes: &[Node], node: NodeId) -> Subject {
    let node = &nodes[node];
    (
        Some(plan.steps[node.step].id.clone()),
        Some(topology.hosts[node.host].name.clone()),
    )
}

/// `step on host`.
pub fn node_label(topology: &Topology, plan: &Plan, nodes: &[Node], node: NodeId) -> String {
    let node = &nodes[node];
    format!(
        "{} on {}",
        plan.steps[node.step].id, topology.hosts[node.host].name
    )
}

/// The step and host `event` is about.
pub fn event_subject(topology: &Topology, plan: &Plan, nodes: &[Node], event: &Event) -> Subject {
    if let Some(host) = event.host() {
        return (None, Some(topology.hosts[host].name.clone()));
    }
    if let Some(node) = event.node() {
        return node_subject(topology, plan, nodes, node);
    }
    match event {
        Event::Acknowledged { step, .. } | Event::Held { step, .. } => {
            (Some(plan.steps[*step].id.clone()), None)
        }
        _ => (None, None),
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
        Event::Probed { result: Ok(()), .. } => "already healthy: left alone".into(),
        Event::Probed {
            result: Err(why), ..
        } => format!("not healthy yet ({why})"),
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
        Event::Adopted {
            attempt,
            result: Ok(()),
            ..
        } => {
            format!("healthy: attempt {attempt}, in flight before, came up without a second start")
        }
        Event::Adopted {
            attempt,
            result: Err(why),
            ..
        } => format!("attempt {attempt} (in flight before) FAILED: {why}"),
        Event::Rechecked {
            result: Ok(PowerReport::Off),
            ..
        } => "LOST POWER (BMC: off): powering it on again".into(),
        Event::Rechecked {
            result: Ok(PowerReport::On),
            ..
        } => "BMC: on; waiting for it to answer SSH again".into(),
        Event::Rechecked {
            result: Ok(PowerReport::NoBmc),
            ..
        } => "no BMC to ask; waiting for it to answer SSH again".into(),
        Event::Rechecked {
            result: Err(why), ..
        } => format!("stopped answering, and BMC FAILED: {why}"),
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

/// Blocked steps named one by one behind a failed step before the rest are counted.
pub const BLOCKED_NAMED: usize = 5;

/// What holds a run back, for every summary (a real run's and a drill's): one line per
/// failed step with why, each followed by the steps blocked behind it, counted and the first
/// few named (`BLOCKED 116 steps wait for failed ldap: a, b, c, d, e and 111 more`).
pub fn held_back_lines(
    plan: &Plan,
    statuses: &[StepStatus],
    failure_of: impl Fn(StepId) -> Option<StepFailure>,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (id, status) in statuses.iter().enumerate() {
        if *status != StepStatus::Failed {
            continue;
        }
        let failure = failure_of(id);
        let detail = status_detail(plan, status, failure.as_ref())
            .map(|detail| format!(" ({detail})"))
            .unwrap_or_default();
        lines.push(format!("FAILED  step {}{detail}", plan.steps[id].id));
        let behind: Vec<&str> = statuses
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == StepStatus::Blocked { on: id })
            .map(|(blocked, _)| plan.steps[blocked].id.as_str())
            .collect();
        if behind.is_empty() {
            continue;
        }
        let named = behind[..behind.len().min(BLOCKED_NAMED)].join(", ");
        let more = match behind.len().saturating_sub(BLOCKED_NAMED) {
            0 => String::new(),
            rest => format!(" and {rest} more"),
        };
        lines.push(format!(
            "BLOCKED {} wait for failed {}: {named}{more}",
            count(behind.len(), "step", "steps"),
            plan.steps[id].id
        ));
    }
    lines
}

/// A step's status in words: its word, then why in parentheses.
pub fn status_text(plan: &Plan, status: &StepStatus, failure: Option<&StepFailure>) -> String {
    match status_detail(plan, status, failure) {
        Some(detail) => format!("{} ({detail})", status_word(status)),
        None => status_word(status).to_string(),
    }
}

/// A recovery with every step ready in which some nodes failed within quorum.
pub fn degraded_text(plan: &Plan, degraded: &[(StepId, usize, usize)]) -> Option<String> {
    if degraded.is_empty() {
        return None;
    }
    let failed: usize = degraded.iter().map(|(_, healthy, of)| of - healthy).sum();
    let steps: Vec<String> = degraded
        .iter()
        .map(|(step, healthy, of)| format!("{} {healthy} of {of} healthy", plan.steps[*step].id))
        .collect();
    Some(format!(
        "RECOVERED, DEGRADED: {} within quorum ({})",
        count(failed, "node failed", "nodes failed"),
        steps.join(", ")
    ))
}

/// One missing prerequisite: `cause: N hosts (first names, ...)`.
pub fn prerequisite_line(topology: &Topology, finding: &super::checklist::Finding) -> String {
    cause_line(
        topology,
        &finding.cause,
        &finding.hosts,
        finding.hosts.len(),
    )
}

/// The prerequisites as a checklist, one line per check and one per missing thing.
pub fn checklist_lines(topology: &Topology, list: &super::checklist::Checklist) -> Vec<String> {
    use super::checklist::Check;
    let mut lines = Vec::new();
    for (check, hosts) in &list.checked {
        let what = match check {
            Check::BmcPassword => "BMC password sources present",
            Check::PowerTool => "power tool installed",
            Check::SshKey => "SSH keys readable",
            Check::KnownHosts => "hosts in known_hosts",
            Check::Reachability => "SSH ports answering",
        };
        let missing: Vec<_> = list.findings.iter().filter(|f| f.check == *check).collect();
        let mark = if missing.is_empty() { "ok" } else { "MISSING" };
        lines.push(format!(
            "[{mark:<7}] {what} ({})",
            count(*hosts, "host", "hosts")
        ));
        for finding in missing {
            lines.push(format!("    {}", prerequisite_line(topology, finding)));
        }
    }
    lines
}

/// A step's status for `status`: like [`status_text`], with what its nodes are doing for
/// an active step, and, when no process works on the run any more, that it stopped there.
/// A step with nodes re-armed after the run stopped reads as re-armed, waiting for
/// `run --resume`.
pub fn step_text(
    plan: &Plan,
    status: &StepStatus,
    failure: Option<&StepFailure>,
    work: &super::step_work::StepWork,
    rearmed: usize,
    stopped: bool,
) -> String {
    match status {
        StepStatus::Active | StepStatus::Waiting if stopped && rearmed > 0 => format!(
            "RE-ARMED ({} to try again; continue with: blackstart run --resume)",
            count(rearmed, "node", "nodes")
        ),
        StepStatus::Active if stopped => {
            "unfinished (the run stopped while it was in progress)".into()
        }
        StepStatus::Active => format!("in progress: {}", work.text()),
        _ => status_text(plan, status, failure),
    }
}

/// Whether a process still works on a run, in words.
pub fn run_state_text(state: &super::state::RunState, run_dir: &str) -> String {
    use super::state::RunState;
    match state {
        RunState::Live => "LIVE (a process holds the lock)".into(),
        RunState::Finished { outcome } => format!("not running (outcome: {outcome})"),
        RunState::Killed => format!(
            "not running: KILLED, killed before finishing (no process holds the lock and the journal has no end; resume with: blackstart run --resume {run_dir})"
        ),
    }
}
