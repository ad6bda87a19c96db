//! What the HTML report draws, derived from journal records alone: per step and per node
//! the segments of a Gantt chart, when each step became ready, failures by cause, and how
//! many nodes of each tier were healthy over time. Because it reads only records, a run
//! that was killed is drawn up to its last record.

use std::collections::{BTreeMap, HashMap};

use crate::event::state::StepStatus;
use crate::event::{Action, Event};
use crate::journal::RunOutcome;
use crate::journal::{Entry, Record};
use crate::plan::{Plan, StepId};
use crate::topology::{HostId, SubsystemKind, Topology};

pub use super::segment::{merge, Kind, NodeRow, Segment, StepRow};

/// A failure, for grouping by cause.
#[derive(Debug, Clone)]
pub struct Failure {
    /// When.
    pub at: u64,
    /// `step on host`, or host, or step.
    pub label: String,
    /// The reason, in words.
    pub text: String,
}

/// Everything the page draws.
#[derive(Debug, Clone)]
pub struct Model {
    /// One per plan step, in plan order.
    pub rows: Vec<StepRow>,
    /// The last record's time: where the chart ends.
    pub end_ms: u64,
    /// The run's outcome, when it finished.
    pub finished: Option<RunOutcome>,
    /// Failures grouped by [`crate::event::Reason::cause`], causes in order of first sight.
    pub failures: Vec<(String, Vec<Failure>)>,
    /// Healthy nodes per tier over time.
    pub readiness: Readiness,
    /// What the chart marks: the critical path, or on a failed run the chain to the failure.
    pub chain: super::chain::Chain,
    /// Records read.
    pub records: usize,
}

/// Per tier: (time, healthy nodes) at every change, and the tier's node count.
pub type Readiness = BTreeMap<u8, (Vec<(u64, usize)>, usize)>;

/// Open actions by what they act on: (kind of action, host or node) -> launched at.
type Open = HashMap<(u8, usize), u64>;

/// Builds the model. `nodes` maps the journal's node ids to (step, host), as the scheduler
/// numbered them.
pub fn build(
    topology: &Topology,
    plan: &Plan,
    nodes: &[(StepId, HostId)],
    records: &[Record],
) -> Model {
    let end_ms = records.iter().map(|r| r.t_ms).max().unwrap_or(0);
    let mut host_segments: Vec<Vec<Segment>> = vec![Vec::new(); topology.hosts.len()];
    let mut node_segments: Vec<Vec<Segment>> = vec![Vec::new(); nodes.len()];
    let mut probed_at: Vec<Option<u64>> = vec![None; nodes.len()];
    let mut last_failure: Vec<Option<u64>> = vec![None; nodes.len()];
    let mut statuses = vec![StepStatus::Waiting; plan.steps.len()];
    let mut ready_at = vec![None; plan.steps.len()];
    let mut active_at = vec![None; plan.steps.len()];
    let mut acknowledged = vec![None; plan.steps.len()];
    let by_id: HashMap<&str, StepId> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(id, step)| (step.id.as_str(), id))
        .collect();
    let mut open: Open = HashMap::new();
    let mut finished = None;
    let mut failures: Vec<(String, Vec<Failure>)> = Vec::new();
    let mut healthy_nodes = vec![false; nodes.len()];
    let mut readiness = Readiness::new();
    for &(step, _) in nodes {
        readiness
            .entry(tier_of(topology, plan, step))
            .or_default()
            .1 += 1;
    }
    // A node healthy at `t` (the first time only) adds to its tier's readiness.
    let mut now_healthy = |node: usize, t: u64| {
        let tier = tier_of(topology, plan, nodes[node].0);
        mark_healthy(&mut healthy_nodes, &mut readiness, tier, node, t);
    };
    for record in records {
        let t = record.t_ms;
        match &record.entry {
            Entry::Action { action, .. } => {
                open.insert(action_key(action), t);
            }
            Entry::Event {
                event, duration_ms, ..
            } => {
                let label = record.entry.label();
                let from = open
                    .remove(&event_key(event))
                    .unwrap_or_else(|| t.saturating_sub(*duration_ms));
                let segment = |kind| Segment { kind, from, to: t };
                if let Some(reason) = failure_reason(event) {
                    let failure = Failure {
                        at: t,
                        label,
                        text: reason.to_string(),
                    };
                    let cause = reason.cause();
                    match failures.iter_mut().find(|(known, _)| *known == cause) {
                        Some((_, list)) => list.push(failure),
                        None => failures.push((cause, vec![failure])),
                    }
                }
                match event {
                    Event::PowerChecked { host, result } => {
                        host_segments[*host].push(segment(or_failed(result.is_ok(), Kind::Power)));
                    }
                    Event::PoweredOn { host, result } | Event::PoweredOff { host, result } => {
                        host_segments[*host].push(segment(or_failed(result.is_ok(), Kind::Power)));
                    }
                    Event::SshReady { host, result } => {
                        host_segments[*host].push(segment(or_failed(result.is_ok(), Kind::Boot)));
                    }
                    Event::Probed { node, result } if *node < nodes.len() => {
                        node_segments[*node].push(segment(Kind::Probe));
                        if result.is_ok() {
                            now_healthy(*node, t);
                        } else {
                            probed_at[*node] = Some(t);
                        }
                    }
                    Event::ValueRead { node, .. } if *node < nodes.len() => {
                        node_segments[*node].push(segment(Kind::Probe));
                    }
                    Event::StartFinished {
                        node,
                        attempt,
                        result,
                    } if *node < nodes.len() => {
                        let segments = &mut node_segments[*node];
                        push_gap(segments, Kind::Waiting, probed_at[*node].take(), from);
                        push_gap(segments, Kind::Backoff, last_failure[*node].take(), from);
                        let kind = match (result.is_ok(), *attempt) {
                            (false, _) => Kind::Failed,
                            (true, 1) => Kind::Start,
                            (true, _) => Kind::Retry,
                        };
                        node_segments[*node].push(segment(kind));
                        if result.is_ok() {
                            now_healthy(*node, t);
                        } else {
                            last_failure[*node] = Some(t);
                        }
                    }
                    Event::Acknowledged { step, .. } if *step < plan.steps.len() => {
                        acknowledged[*step] = Some(t);
                    }
                    _ => {}
                }
            }
            Entry::StepStatus { step, status } => {
                if let Some(&id) = by_id.get(step.as_str()) {
                    if *status == StepStatus::Ready && ready_at[id].is_none() {
                        ready_at[id] = Some(t);
                    }
                    if *status == StepStatus::Active && active_at[id].is_none() {
                        active_at[id] = Some(t);
                    }
                    statuses[id] = status.clone();
                }
            }
            Entry::RunFinished { outcome } => finished = Some(*outcome),
            _ => {}
        }
    }
    // What was launched and never reported runs on to the end of the journal.
    for ((kind, target), from) in open {
        let segment = Segment {
            kind: Kind::Running,
            from,
            to: end_ms,
        };
        match kind {
            0 if target < host_segments.len() => host_segments[target].push(segment),
            1 if target < node_segments.len() => node_segments[target].push(segment),
            _ => {}
        }
    }
    let mut rows: Vec<StepRow> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(id, _)| StepRow {
            step: id,
            segments: Vec::new(),
            nodes: Vec::new(),
            ready_at: ready_at[id],
            status: statuses[id].clone(),
        })
        .collect();
    for (node, &(step, host)) in nodes.iter().enumerate() {
        let mut segments = host_segments[host].clone();
        segments.extend_from_slice(&node_segments[node]);
        segments.sort_by_key(|s| (s.from, s.to));
        rows[step].nodes.push(NodeRow { host, segments });
    }
    for (id, row) in rows.iter_mut().enumerate() {
        let human =
            topology.subsystems[plan.steps[id].step.subsystem].kind != SubsystemKind::Service;
        if let (true, Some(from)) = (human, active_at[id]) {
            let to = acknowledged[id].or(ready_at[id]).unwrap_or(end_ms);
            row.segments.push(Segment {
                kind: Kind::Manual,
                from,
                to,
            });
        }
        let all: Vec<Segment> = row
            .nodes
            .iter()
            .flat_map(|n| n.segments.iter().copied())
            .collect();
        row.segments.extend(merge(all, end_ms / 2000));
    }
    Model {
        chain: super::chain::Chain::of(plan, &rows),
        rows,
        end_ms,
        finished,
        failures,
        readiness,
        records: records.len(),
    }
}

fn tier_of(topology: &Topology, plan: &Plan, step: StepId) -> u8 {
    topology.subsystems[plan.steps[step].step.subsystem].tier.0
}

/// `kind` when the action went well, else [`Kind::Failed`].
fn or_failed(ok: bool, kind: Kind) -> Kind {
    if ok {
        kind
    } else {
        Kind::Failed
    }
}

/// The time between `since` (when there was such a moment) and `to` drawn as `kind`: a
/// node waiting after an unhealthy probe, or backing off after a failure.
fn push_gap(segments: &mut Vec<Segment>, kind: Kind, since: Option<u64>, to: u64) {
    if let Some(from) = since.filter(|from| to > *from) {
        segments.push(Segment { kind, from, to });
    }
}

fn mark_healthy(healthy: &mut [bool], readiness: &mut Readiness, tier: u8, node: usize, t: u64) {
    if std::mem::replace(&mut healthy[node], true) {
        return;
    }
    let (points, _) = readiness.entry(tier).or_default();
    let count = points.last().map_or(0, |p| p.1) + 1;
    points.push((t, count));
}

/// Host actions are keyed by host (0), node actions by node (1).
fn action_key(action: &Action) -> (u8, usize) {
    match (action.host(), action.node()) {
        (Some(host), _) => (0, host),
        (_, node) => (1, node.unwrap_or_default()),
    }
}

fn event_key(event: &Event) -> (u8, usize) {
    match (event.host(), event.node()) {
        (Some(host), _) => (0, host),
        (_, Some(node)) => (1, node),
        // Never matches an action: acknowledgements and holds take no time.
        _ => (2, 0),
    }
}

fn failure_reason(event: &Event) -> Option<&crate::event::Reason> {
    match event {
        Event::PowerChecked { result: Err(r), .. } => Some(r),
        Event::PoweredOn { result: Err(r), .. }
        | Event::PoweredOff { result: Err(r), .. }
        | Event::SshReady { result: Err(r), .. }
        | Event::StartFinished { result: Err(r), .. } => Some(r),
        Event::ValueRead { result: Err(r), .. } => Some(r),
        Event::Held { reason, .. } => Some(reason),
        _ => None,
    }
}
