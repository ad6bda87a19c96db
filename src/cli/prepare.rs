//! A run loaded and planned: before it starts (`run`), or read back from its directory
//! (`run --resume`, `status`, `retry`, `ack`, `report`, `serve`), with its scheduler replayed.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use blackstart::journal::{self, RunInfo};
use blackstart::plan::{plan_digest, Plan};
use blackstart::playbook::Procedures;
use blackstart::rehearsal;
use blackstart::run::scheduler::Scheduler;
use blackstart::scope::Scope;
use blackstart::topology::Topology;

use super::load::load_any;
use super::Outcome;

/// A topology or playbook loaded and planned for a run.
#[derive(Clone)]
pub struct Prepared {
    /// The topology, with the playbook's steps.
    pub topology: Arc<Topology>,
    /// The plan.
    pub plan: Arc<Plan>,
    /// What the run directory records.
    pub info: RunInfo,
    /// The playbook's procedures (empty for a bare topology).
    pub procedures: Procedures,
}

/// Loads `file` (topology or playbook) and plans it. `scope` of `None` keeps the
/// playbook's own scope.
pub fn prepare(
    file: &Path,
    scope: Option<Scope>,
    seed: u64,
) -> anyhow::Result<Result<Prepared, Outcome>> {
    let loaded = match load_any(Some(file)) {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let scope = scope.unwrap_or_else(|| loaded.scope.clone());
    let selection = scope.select(&loaded.topology)?;
    let plan = Plan::build(&loaded.topology, &selection).map_err(|_| {
        anyhow::anyhow!("the topology has dependency cycles; run `blackstart validate`")
    })?;
    let info = RunInfo {
        topology: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()),
        plan_digest: plan_digest(loaded.sources(), &scope, &loaded.topology, &plan),
        scope,
        seed,
    };
    Ok(Ok(Prepared {
        topology: Arc::new(loaded.topology),
        plan: Arc::new(plan),
        info,
        procedures: loaded.procedures,
    }))
}

/// The scheduler of a prepared run with its journal replayed: a real drill powers its
/// hosts off first, and its replay must know that to read its events.
pub fn scheduler_for(prepared: &Prepared, records: &[journal::Record]) -> Scheduler {
    let (topology, plan) = (&prepared.topology, &prepared.plan);
    let mut scheduler = Scheduler::new(topology, plan, prepared.info.seed);
    if prepared.procedures.drill.is_some() {
        scheduler.power_off_first(rehearsal::hosts_to_power_off(topology, plan));
    }
    // Power checks in the order the plan needs the hosts: no more at once than the BMC
    // transport runs, or they reach its queue in any order.
    scheduler.limit_power_checks(bmc_call_cap(topology));
    journal::replay(scheduler, records)
}

/// BMC calls in flight at once, over the whole fleet.
pub fn bmc_call_cap(topology: &Topology) -> usize {
    (topology.policy.parallelism as usize).min(32)
}

/// A run directory read back: what ran, the replayed scheduler, the journal.
pub type LoadedRun = (Prepared, Scheduler, Vec<journal::Record>);

pub fn load_run(dir: &Path) -> anyhow::Result<Result<LoadedRun, Outcome>> {
    let info = journal::read_info(dir)
        .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
        Ok(prepared) => prepared,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let records = journal::read(dir)?;
    let scheduler = scheduler_for(&prepared, &records);
    Ok(Ok((prepared, scheduler, records)))
}
