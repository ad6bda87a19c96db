//! The plan's ETA under the fleet-wide caps: the scheduler over a simulated fleet with no
//! faults and every time at its expected value, so the number `plan` quotes is the number
//! `simulate --no-faults --spread 0` shows, and what each cap costs is said beside it.

use super::{Drill, DrillConfig, FaultRates};
use crate::plan::{human, Plan, Scheduled};
use crate::topology::Topology;

/// The seed of the schedule: `simulate`'s default, so both show the same run.
pub const SCHEDULE_SEED: u64 = 1;

/// What `simulate --no-faults --spread 0` runs: typical latencies, no faults, no spread.
pub fn schedule_config() -> DrillConfig {
    DrillConfig {
        spread: 0.0,
        faults: FaultRates::NONE,
        ..DrillConfig::default()
    }
}

/// The capped, fault-free schedule of `plan`, with the cost of each cap. Three drills: with
/// every cap, with parallelism lifted, with the power-on rate lifted.
pub fn schedule(topology: &Topology, plan: &Plan) -> Scheduled {
    let capped = Drill::new(topology, plan, schedule_config()).run(SCHEDULE_SEED);
    let eta = capped.makespan;
    let ready_at = plan
        .steps
        .iter()
        .enumerate()
        .map(|(id, step)| capped.ready_at[id].unwrap_or(step.ready_at))
        .collect();
    let lifted = |lift: &dyn Fn(&mut Topology)| {
        let mut open = topology.clone();
        lift(&mut open);
        Drill::new(&open, plan, schedule_config())
            .run(SCHEDULE_SEED)
            .makespan
    };
    let policy = &topology.policy;
    let cap_costs = vec![
        (
            format!("parallelism {}", policy.parallelism),
            eta.saturating_sub(lifted(&|t| t.policy.parallelism = u32::MAX)),
        ),
        (
            format!(
                "power-on {} per {} per domain",
                policy.power_on_per_window,
                human(policy.power_on_window)
            ),
            eta.saturating_sub(lifted(&|t| t.policy.power_on_per_window = u32::MAX)),
        ),
    ];
    Scheduled {
        ready_at,
        eta,
        critical_path: capped.critical_path,
        cap_costs,
    }
}

/// `plan` with its capped schedule computed.
/// Every view marks the capped schedule's critical path, the one the ETA comes from.
pub fn scheduled(topology: &Topology, mut plan: Plan) -> Plan {
    let scheduled = schedule(topology, &plan);
    for (id, step) in plan.steps.iter_mut().enumerate() {
        step.critical = scheduled.critical_path.contains(&id);
    }
    plan.scheduled = Some(scheduled);
    plan
}
