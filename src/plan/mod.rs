//! The dry-run plan: steps in dependency order, waves, earliest starts, the critical path
//! and the ETA. Nothing is contacted. The run carries out exactly this plan.

pub mod actions;
mod digest;
mod graph_blocks;
mod graphviz;
mod json;
pub mod power;
pub mod reduce;
pub mod route;
mod text;

use std::time::Duration;

use petgraph::graph::NodeIndex;

use crate::graph::{Cycle, Mode, Step, StepGraph};
use crate::scope::Selection;
use crate::topology::{HostId, SubsystemId, Topology};

pub use digest::plan_digest;
pub use graphviz::{
    escape_label, escape_mermaid, render_dot, render_dot_with, render_mermaid, render_mermaid_with,
    ClusterBy, GraphOptions,
};
pub use json::{render_json, PlanDocument};
pub use text::{escape, render_summary, render_text, visible_width, TextOptions, WIDTH};
pub(crate) use text::{folded_blocks, prose, wrap_into};

/// Index of a step in [`Plan::steps`].
pub type StepId = usize;

/// One planned step: a subsystem in a mode, on its hosts.
#[derive(Debug, Clone)]
pub struct PlanStep {
    /// The subsystem and mode.
    pub step: Step,
    /// Stable identifier: the subsystem name, or `name@bootstrap`.
    pub id: String,
    /// Longest chain of dependencies before it (0 = no dependency).
    pub wave: usize,
    /// Hosts it runs on.
    pub hosts: Vec<HostId>,
    /// Spare hosts it may move to.
    pub spares: Vec<HostId>,
    /// Healthy hosts needed before dependents may start.
    pub required_healthy: usize,
    /// Hard dependencies.
    pub requires: Vec<StepId>,
    /// Soft dependencies (only order).
    pub wants: Vec<StepId>,
    /// When its dependencies are ready (each at its quorum), from the start of the run.
    pub earliest_start: Duration,
    /// Per host (same order as `hosts`): when that host's start can begin (dependencies
    /// ready and the host booted).
    pub node_starts: Vec<Duration>,
    /// Expected start duration.
    pub duration: Duration,
    /// When it is expected to be ready: `min_healthy` of its hosts healthy, as the run
    /// decides (dependents start then, not when the last member is up).
    pub ready_at: Duration,
    /// When every one of its hosts is expected healthy (at or after `ready_at`).
    pub all_healthy_at: Duration,
    /// Whether it lies on the critical path (of the capped schedule, once computed).
    pub critical: bool,
}

/// A reviewable plan for a topology within a scope.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps in dependency order.
    pub steps: Vec<PlanStep>,
    /// The chain of steps that decides the ETA, first to last.
    pub critical_path: Vec<StepId>,
    /// Expected time until the last step is ready (each at its quorum), assuming no
    /// failures and no fleet-wide caps (rolling starts and boots are modelled): also a
    /// lower bound on any run.
    pub eta: Duration,
    /// Expected time until every host of every step is healthy.
    pub all_healthy_eta: Duration,
    /// Subsystems out of scope that covered ones depend on.
    pub assumed_up: Vec<SubsystemId>,
    /// Number of waves.
    pub wave_count: usize,
    /// The schedule under the fleet-wide caps, when it was computed
    /// (`drill::schedule`): what `plan` quotes as the ETA.
    pub scheduled: Option<Scheduled>,
}

/// The fault-free schedule under every cap (parallelism, power-on rate per domain, BMC
/// calls, rolling starts): the scheduler over a simulated fleet whose every time is its
/// expected value — the run `simulate --no-faults --spread 0` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Per step: when it is ready under the caps.
    pub ready_at: Vec<Duration>,
    /// When the last step is ready.
    pub eta: Duration,
    /// The chain of steps that decided it, first to last.
    pub critical_path: Vec<StepId>,
    /// What each cap adds to the ETA on its own (the ETA with only that cap lifted,
    /// subtracted from the ETA), as (the cap in words, what it adds).
    pub cap_costs: Vec<(String, Duration)>,
}

impl Plan {
    /// Builds the plan, or returns every cycle that no bootstrap mode breaks.
    pub fn build(topology: &Topology, selection: &Selection) -> Result<Plan, Vec<Cycle>> {
        let graph = StepGraph::build(topology, &selection.in_scope);
        let order = graph.order()?;
        let position: std::collections::HashMap<NodeIndex, StepId> = order
            .iter()
            .enumerate()
            .map(|(id, node)| (*node, id))
            .collect();
        let mut steps: Vec<PlanStep> = Vec::with_capacity(order.len());
        // The dependency that decided each step's start, to trace the critical path back.
        let mut decided_by: Vec<Option<StepId>> = Vec::with_capacity(order.len());
        for &node in &order {
            let step = graph.graph[node];
            let subsystem = &topology.subsystems[step.subsystem];
            let requires: Vec<StepId> = sorted(graph.requires(node).map(|n| position[&n]));
            let wants: Vec<StepId> = sorted(graph.wants(node).map(|n| position[&n]));
            let (mut earliest_start, mut decider, mut wave) = (Duration::ZERO, None, 0);
            for &dependency in requires.iter().chain(&wants) {
                let before = &steps[dependency];
                wave = wave.max(before.wave + 1);
                if before.ready_at > earliest_start
                    || decider.is_none() && before.ready_at == earliest_start
                {
                    earliest_start = before.ready_at;
                    decider = Some(dependency);
                }
            }
            let hosts = selection.hosts[step.subsystem].clone();
            let duration = step.expected(topology);
            let max_parallel = subsystem.max_parallel.map_or(usize::MAX, |n| n as usize);
            let boots: Vec<Duration> = hosts
                .iter()
                .map(|host| topology.hosts[*host].boot)
                .collect();
            let node_starts = rolling_starts(earliest_start, &boots, duration, max_parallel);
            let required_healthy = subsystem.min_healthy.required(hosts.len());
            let (ready_at, all_healthy_at) =
                readiness(earliest_start, &node_starts, duration, required_healthy);
            let unbooted = vec![Duration::ZERO; boots.len()];
            let without_boots = rolling_starts(earliest_start, &unbooted, duration, max_parallel);
            if readiness(earliest_start, &without_boots, duration, required_healthy).0 < ready_at {
                // A host's boot, not a dependency, decided when this step could be ready.
                decider = None;
            }
            decided_by.push(decider);
            steps.push(PlanStep {
                step,
                id: step_id(topology, step),
                wave,
                required_healthy,
                hosts,
                spares: selection.spares[step.subsystem].clone(),
                requires,
                wants,
                earliest_start,
                node_starts,
                duration,
                ready_at,
                all_healthy_at,
                critical: false,
            });
        }
        let last = (0..steps.len()).max_by_key(|id| (steps[*id].ready_at, std::cmp::Reverse(*id)));
        let mut critical_path = Vec::new();
        let mut cursor = last;
        while let Some(id) = cursor {
            critical_path.push(id);
            steps[id].critical = true;
            cursor = decided_by[id];
        }
        critical_path.reverse();
        Ok(Plan {
            eta: last.map_or(Duration::ZERO, |id| steps[id].ready_at),
            all_healthy_eta: steps
                .iter()
                .map(|s| s.all_healthy_at)
                .max()
                .unwrap_or_default(),
            wave_count: steps.iter().map(|s| s.wave + 1).max().unwrap_or(0),
            steps,
            critical_path,
            assumed_up: selection.assumed_up.clone(),
            scheduled: None,
        })
    }

    /// The ETA people quote: the capped schedule's when computed, else the uncapped bound.
    pub fn quoted_eta(&self) -> Duration {
        self.scheduled.as_ref().map_or(self.eta, |s| s.eta)
    }

    /// When step `id` is expected ready: under the caps when computed, else the bound.
    pub fn quoted_ready_at(&self, id: StepId) -> Duration {
        self.scheduled
            .as_ref()
            .map_or(self.steps[id].ready_at, |s| s.ready_at[id])
    }

    /// The critical path people are shown: the capped schedule's when computed.
    pub fn quoted_critical_path(&self) -> &[StepId] {
        self.scheduled
            .as_ref()
            .map_or(&self.critical_path, |s| &s.critical_path)
    }

    /// Number of (step, host) nodes.
    pub fn node_count(&self) -> usize {
        self.steps.iter().map(|step| step.hosts.len()).sum()
    }

    /// The distinct hosts covered, in id order.
    pub fn hosts(&self) -> Vec<HostId> {
        let mut hosts: Vec<HostId> = self
            .steps
            .iter()
            .flat_map(|s| s.hosts.iter().copied())
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Number of distinct hosts covered.
    pub fn host_count(&self) -> usize {
        self.hosts().len()
    }

    /// Number of distinct subsystems covered.
    pub fn subsystem_count(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.step.mode == Mode::Normal)
            .count()
    }
}

/// Start times of a step's nodes: each host can start once it has booted and the
/// dependencies are ready; a rolling start (`max_parallel`) runs at most that many at once,
/// each taking `duration`. Returned in the order of `boots`.
fn rolling_starts(
    ready: Duration,
    boots: &[Duration],
    duration: Duration,
    max_parallel: usize,
) -> Vec<Duration> {
    let available: Vec<Duration> = boots.iter().map(|boot| ready.max(*boot)).collect();
    if max_parallel >= boots.len() {
        return available;
    }
    let mut order: Vec<usize> = (0..boots.len()).collect();
    order.sort_by_key(|i| (available[*i], *i));
    let mut starts = vec![Duration::ZERO; boots.len()];
    for (rank, &node) in order.iter().enumerate() {
        starts[node] = match rank.checked_sub(max_parallel) {
            Some(earlier) => available[node].max(starts[order[earlier]].saturating_add(duration)),
            None => available[node],
        };
    }
    starts
}

/// When a step is ready (its `required` quorum: the `required`-th node to finish; with no
/// node, one duration after it may begin: a person's step) and when all its nodes are.
fn readiness(
    earliest_start: Duration,
    node_starts: &[Duration],
    duration: Duration,
    required: usize,
) -> (Duration, Duration) {
    let mut starts = node_starts.to_vec();
    starts.sort_unstable();
    // Saturating: a hostile duration must not overflow (durations are bounded at parse time).
    let all = starts
        .last()
        .map_or(earliest_start, |last| *last)
        .saturating_add(duration);
    match required.checked_sub(1).and_then(|k| starts.get(k)) {
        Some(start) => (start.saturating_add(duration), all),
        None => (earliest_start.saturating_add(duration), all),
    }
}

fn sorted(items: impl Iterator<Item = StepId>) -> Vec<StepId> {
    let mut list: Vec<StepId> = items.collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// The stable identifier of a step: `name`, or `name@bootstrap`.
pub fn step_id(topology: &Topology, step: Step) -> String {
    let name = &topology.subsystems[step.subsystem].name;
    match step.mode {
        Mode::Normal => name.clone(),
        Mode::Bootstrap => format!("{name}@bootstrap"),
    }
}

/// Formats a duration for people; see [`crate::units::human_duration`].
pub use crate::units::human_duration as human;
