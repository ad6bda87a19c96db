//! Failures in words: failed nodes grouped by cause (one line for 212 hosts with the same
//! BMC timeout), and each failed node's line.

use std::time::Duration;

use crate::event::state::{Node, NodeState};
use crate::event::NodeId;
use crate::plan::{human, Plan};
use crate::topology::{HostId, Topology};
use crate::units::count;

/// Failed nodes that share a [`Reason::cause`](crate::event::Reason::cause): one line for all of
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
