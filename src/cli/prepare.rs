//! A run loaded and planned: before it starts (`run`), or read back from its directory
//! (`run --resume`, `status`, `retry`, `ack`, `report`, `serve`), with its scheduler replayed.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use blackstart::journal::{self, RunInfo};
use blackstart::plan::{plan_digest, Plan};
use blackstart::report::view::FollowedRun;
use blackstart::run::scheduler::Scheduler;
use blackstart::scope::Scope;

use super::load::load_any;
use super::Outcome;

pub use blackstart::night::{scheduler_for, Prepared};

/// What a game day's simulated fleet was made with, kept in its run directory so a resume
/// makes the same fleet (written by `simulate --run-dir`, read back by its scorecard).
pub const SETTINGS_FILE: &str = "simulation.json";

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
        simulated: false,
    };
    Ok(Ok(Prepared {
        topology: Arc::new(loaded.topology),
        plan: Arc::new(plan),
        info,
        procedures: loaded.procedures,
    }))
}

/// A run directory read back: what ran, the replayed scheduler, the journal.
pub type LoadedRun = (Prepared, Scheduler, Vec<journal::Record>);

pub fn load_run(dir: &Path) -> anyhow::Result<Result<LoadedRun, Outcome>> {
    let info = journal::read_info(dir)
        .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let mut prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
        Ok(prepared) => prepared,
        Err(outcome) => return Ok(Err(outcome)),
    };
    // What the directory says of itself, beside what was planned again from the file.
    prepared.info.simulated = info.simulated;
    let records = journal::read(dir)?;
    let scheduler = scheduler_for(&prepared, &records);
    Ok(Ok((prepared, scheduler, records)))
}

/// A run directory to follow: what ran, and a view that applies its journal as it grows
/// (nothing applied yet: the first refresh reads it all).
pub fn follow_run(dir: &Path) -> anyhow::Result<Result<(Prepared, FollowedRun), Outcome>> {
    let info = journal::read_info(dir)
        .with_context(|| format!("{} is not a run directory", dir.display()))?;
    let mut prepared = match prepare(&info.topology, Some(info.scope.clone()), info.seed)? {
        Ok(prepared) => prepared,
        Err(outcome) => return Ok(Err(outcome)),
    };
    // What the directory says of itself, beside what was planned again from the file.
    prepared.info.simulated = info.simulated;
    let followed = FollowedRun::new(dir, scheduler_for(&prepared, &[]), &prepared.plan);
    Ok(Ok((prepared, followed)))
}
