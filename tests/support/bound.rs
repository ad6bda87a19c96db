//! Lower bounds on a schedule's makespan, shared by the drill bench (simulated runs) and the
//! scale bench (a real run in the lab).
#![allow(dead_code)]

use std::time::Duration;

use blackstart::plan::Plan;
use blackstart::topology::Topology;

/// A lower bound on any schedule's makespan: the chain of quorums (every step waits only
/// for `min_healthy` hosts of its dependencies, rolling starts included, fleet-wide caps
/// ignored), or the first boot plus the total start work spread over the parallelism.
pub fn lower_bound(topology: &Topology, plan: &Plan) -> (Duration, Duration) {
    lower_bound_of(topology, plan, &vec![true; plan.steps.len()])
}

/// The steps that must be ready for every step of `tier` to be: those steps and everything
/// they need.
pub fn needed_for_tier(topology: &Topology, plan: &Plan, tier: u8) -> Vec<bool> {
    let mut needed = vec![false; plan.steps.len()];
    for id in (0..plan.steps.len()).rev() {
        let own = topology.subsystems[plan.steps[id].step.subsystem].tier.0 == tier;
        if own || needed[id] {
            needed[id] = true;
            for &dependency in plan.steps[id].requires.iter().chain(&plan.steps[id].wants) {
                needed[dependency] = true;
            }
        }
    }
    needed
}

/// [`lower_bound`] for the time until every step in `subset` is ready.
pub fn lower_bound_of(topology: &Topology, plan: &Plan, subset: &[bool]) -> (Duration, Duration) {
    let in_subset = |id: &usize| subset[*id];
    let work: Duration = (0..plan.steps.len())
        .filter(in_subset)
        .map(|id| plan.steps[id].duration * plan.steps[id].hosts.len() as u32)
        .sum();
    let parallelism = topology.policy.parallelism.max(1);
    // No node can start before its host boots and its dependencies' quorums are ready. So
    // for any time T, the nodes that cannot start before T still need their work spread
    // over the parallelism after T: makespan >= T + work(earliest start >= T) / parallelism.
    let mut nodes: Vec<(Duration, Duration)> = (0..plan.steps.len())
        .filter(in_subset)
        .map(|id| &plan.steps[id])
        .flat_map(|step| {
            step.hosts.iter().map(move |host| {
                (
                    step.earliest_start.max(topology.hosts[*host].boot),
                    step.duration,
                )
            })
        })
        .collect();
    nodes.sort_unstable();
    let mut later_work = work;
    let mut by_work = Duration::ZERO;
    for (earliest, duration) in nodes {
        by_work = by_work.max(earliest + later_work / parallelism);
        later_work -= duration;
    }
    let chain = (0..plan.steps.len())
        .filter(in_subset)
        .map(|id| plan.steps[id].ready_at)
        .max()
        .unwrap_or_default();
    (chain.max(by_work), by_work)
}
