//! Events, actions and statuses in words: the one place each becomes text, for progress
//! lines, the journal's labels, the summary and `status`.

use std::time::Duration;

use super::state::{Node, NodeState, StepFailure, StepStatus};
use super::{Action, Event, NodeId, PowerReport};
use crate::plan::{human, Plan, StepId};
use crate::topology::{HostId, Topology};
use crate::units::count;

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

/// Failed nodes that share a [`Reason::cause`](super::Reason::cause): one line for all of
/// them, however many (`BMC timeout after 5s: 212 hosts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CauseGroup {
    /// The cause, without per-host detail.
    pub cause: String,
    /// The failed nodes, in id order.
    pub nodes: Vec<NodeId>,
    /// Their distinct hosts, in the order first seen.
    pub hosts: Vec<HostId>,
    /// The shortest and longest limit they were given, for failures that ran out of time.
    pub limits: Option<(Duration, Duration)>,
}

impl CauseGroup {
    /// The cause with its limits beside it: `not healthy in time (1m 15s–1m 40s limits)`.
    pub fn cause_text(&self) -> String {
        match self.limits {
            Some((low, high)) if low == high => format!("{} ({} limit)", self.cause, human(low)),
            Some((low, high)) => {
                format!("{} ({}–{} limits)", self.cause, human(low), human(high))
            }
            None => self.cause.clone(),
        }
    }
}

/// Failed nodes grouped by cause: the largest group first, ties in order of first failure.
pub fn failures_by_cause(nodes: &[Node]) -> Vec<CauseGroup> {
    failures_by_cause_where(nodes, |_| true)
}

/// [`failures_by_cause`] of the nodes `keep` picks (one step's, for one).
pub fn failures_by_cause_where(nodes: &[Node], keep: impl Fn(&Node) -> bool) -> Vec<CauseGroup> {
    let mut groups: Vec<CauseGroup> = Vec::new();
    for (id, node) in nodes.iter().enumerate() {
        let NodeState::Failed { reason } = &node.state else {
            continue;
        };
        if !keep(node) {
            continue;
        }
        let cause = reason.cause();
        let at = match groups.iter().position(|g| g.cause == cause) {
            Some(at) => at,
            None => {
                groups.push(CauseGroup {
                    cause,
                    nodes: Vec::new(),
                    hosts: Vec::new(),
                    limits: None,
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[at];
        if let Some(limit) = reason.limit() {
            group.limits = Some(match group.limits {
                Some((low, high)) => (low.min(limit), high.max(limit)),
                None => (limit, limit),
            });
        }
        group.nodes.push(id);
        if !group.hosts.contains(&node.host) {
            group.hosts.push(node.host);
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.nodes.len()));
    groups
}

/// Groups of at most this many nodes are shown node by node; larger ones as one line.
pub const SHOWN_ONE_BY_ONE: usize = 3;

/// How many host names a grouped line names before `...`.
pub const NAMED_IN_A_GROUP: usize = 3;

/// `BMC timeout after 5s: 212 hosts (rack r17: db017.dc1, db018.dc1, db019.dc1, ...)`; the
/// node count is added when it differs from the host count.
pub fn cause_line(topology: &Topology, cause: &str, hosts: &[HostId], nodes: usize) -> String {
    let mut text = format!("{cause}: {}", count(hosts.len(), "host", "hosts"));
    if nodes != hosts.len() {
        text.push_str(&format!(", {}", count(nodes, "node", "nodes")));
    }
    let names: Vec<&str> = hosts
        .iter()
        .take(NAMED_IN_A_GROUP)
        .map(|h| topology.hosts[*h].name.as_str())
        .collect();
    let more = if hosts.len() > NAMED_IN_A_GROUP {
        ", ..."
    } else {
        ""
    };
    let mut racks: Vec<&str> = hosts
        .iter()
        .filter_map(|h| topology.hosts[*h].rack.as_deref())
        .collect();
    racks.sort_unstable();
    racks.dedup();
    let place = match racks.as_slice() {
        [rack] if hosts.iter().all(|h| topology.hosts[*h].rack.is_some()) => {
            format!("rack {rack}: ")
        }
        _ => String::new(),
    };
    text.push_str(&format!(" ({place}{}{more})", names.join(", ")));
    text
}

/// `FAILED  step on host: reason`, the line of one failed node.
pub fn failed_node_line(topology: &Topology, plan: &Plan, node: &Node) -> Option<String> {
    let NodeState::Failed { reason } = &node.state else {
        return None;
    };
    Some(format!(
        "FAILED  {} on {}: {reason}{}",
        plan.steps[node.step].id,
        topology.hosts[node.host].name,
        attempts_text(node.attempts, node.attempts)
    ))
}

/// `SPARE   step on host: brought in for a failed member; healthy`, one line per spare the
/// run brought in (the scheduler does so by itself when a member fails for good).
/// Past [`SHOWN_ONE_BY_ONE`] spares, the rest are counted on one line.
pub fn spare_lines(topology: &Topology, plan: &Plan, nodes: &[Node]) -> Vec<String> {
    let spares: Vec<&Node> = nodes.iter().filter(|node| node.spare).collect();
    let mut lines: Vec<String> = spares
        .iter()
        .take(SHOWN_ONE_BY_ONE)
        .map(|node| {
            let now = match &node.state {
                NodeState::Healthy { .. } => "healthy".to_string(),
                NodeState::Failed { reason } => format!("failed too: {}", reason.cause()),
                NodeState::Starting { .. } | NodeState::Backoff { .. } => "starting".into(),
                _ => "coming up".into(),
            };
            format!(
                "SPARE   {} on {}: brought in for a member that failed for good; {now}",
                plan.steps[node.step].id, topology.hosts[node.host].name,
            )
        })
        .collect();
    if spares.len() > SHOWN_ONE_BY_ONE {
        let healthy = spares
            .iter()
            .filter(|node| matches!(node.state, NodeState::Healthy { .. }))
            .count();
        lines.push(format!(
            "SPARE   {} more spares brought in ({healthy} of all {} healthy)",
            spares.len() - SHOWN_ONE_BY_ONE,
            spares.len()
        ));
    }
    lines
}

/// `, after 3 attempts` (or `, after 2–3 attempts` for a group): a failure line says how
/// hard blackstart tried, so nobody retries by hand what was retried already. Nothing when
/// no start was attempted (its host never came up).
fn attempts_text(fewest: u32, most: u32) -> String {
    match (fewest, most) {
        (_, 0) => String::new(),
        (1, 1) => ", after 1 attempt".into(),
        (a, b) if a == b => format!(", after {a} attempts"),
        (a, b) => format!(", after {a}–{b} attempts"),
    }
}

/// Lines for the failed nodes: one line per node for small causes, one grouped line
/// (`FAILED  cause: N hosts (...)`) for causes with more than [`SHOWN_ONE_BY_ONE`] nodes,
/// or every node when `all`.
pub fn failure_lines(topology: &Topology, plan: &Plan, nodes: &[Node], all: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for group in failures_by_cause(nodes) {
        if all || group.nodes.len() <= SHOWN_ONE_BY_ONE {
            lines.extend(
                group
                    .nodes
                    .iter()
                    .filter_map(|n| failed_node_line(topology, plan, &nodes[*n])),
            );
        } else {
            let attempts = group.nodes.iter().map(|n| nodes[*n].attempts);
            let fewest = attempts.clone().min().unwrap_or(0);
            let most = attempts.max().unwrap_or(0);
            lines.push(format!(
                "FAILED  {}{}",
                cause_line(
                    topology,
                    &group.cause_text(),
                    &group.hosts,
                    group.nodes.len()
                ),
                attempts_text(fewest, most)
            ));
        }
    }
    lines
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
