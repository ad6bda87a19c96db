//! One view over several controllers: each datacenter's controller keeps its own run
//! directory, and this merges their replayed views into one fleet. A step spanning
//! datacenters shows its members from every shard, its quorum counted over all of them;
//! each shard keeps its share (which controller, its scope, its outcome, its clock); the
//! fleet's clock and ETA are the latest shard's, never an average. Pure: the caller reads the
//! directories and says which are live.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::status::{run_status, Counts, RunStatus};
use super::summary::Verdict;
use super::view::RunView;
use crate::event::state::RunState;
use crate::event::Reason;
use crate::plan::Plan;
use crate::scope::Scope;
use crate::template::shell_quote;
use crate::topology::Topology;

/// One controller's run, as the fleet view reads it.
#[derive(Debug, Clone, Copy)]
pub struct Shard<'a> {
    /// Its run directory, as given on the command line.
    pub dir: &'a str,
    /// The topology it ran.
    pub topology: &'a Topology,
    /// Its plan (its scope's steps and hosts).
    pub plan: &'a Plan,
    /// Its replayed records.
    pub view: &'a RunView,
    /// A process holds its lock.
    pub live: bool,
    /// The scope it ran with.
    pub scope: &'a Scope,
    /// A game day's run directory.
    pub simulated: bool,
}

/// One shard's share of the fleet.
#[derive(Debug, Clone, Serialize)]
pub struct ShareView {
    /// The run directory.
    pub dir: String,
    /// Its scope in words (`datacenter dc1`, `everything`).
    pub scope: String,
    /// A game day's run directory.
    pub simulated: bool,
    /// How long its last record is old, milliseconds (none for records without a wall clock).
    pub last_record_age_ms: Option<u64>,
    /// The shard's own status, exactly as `status DIR --format json` gives it.
    pub status: RunStatus,
}

/// One shard's part of a step.
#[derive(Debug, Clone, Serialize)]
pub struct StepShare {
    /// The shard's run directory.
    pub dir: String,
    /// The step's status in that shard.
    pub status: &'static str,
    /// Its healthy members there.
    pub healthy: usize,
    /// Its planned hosts there.
    pub hosts: usize,
}

/// A step over every shard that plans it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStep {
    /// Step id.
    pub id: String,
    /// Tier, `S1`..`S9`.
    pub tier: String,
    /// Merged status: `ready` once its quorum over every shard's members is healthy;
    /// otherwise the worst shard's (`failed`, `blocked`, `active`, `waiting`).
    pub status: &'static str,
    /// Healthy members, every shard.
    pub healthy: usize,
    /// Planned hosts, every shard.
    pub hosts: usize,
    /// Healthy members needed: the step's `min_healthy` over all its hosts.
    pub needed: usize,
    /// Each shard's part, in the order the directories were given.
    pub shards: Vec<StepShare>,
}

/// A failed node, with the shard it failed in and what to type after repairing it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetFailed {
    /// The shard's run directory.
    pub dir: String,
    /// Step id.
    pub step: String,
    /// Host name.
    pub host: String,
    /// Why, in full.
    pub reason: String,
    /// The command that re-arms it, naming its shard's directory.
    pub retry: String,
}

/// The fleet over every shard.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    /// Topology name (the same in every shard).
    pub topology: String,
    /// Any shard is a game day's (a simulated fleet, nothing contacted).
    pub simulated: bool,
    /// The verdict the exit code follows, over the merged steps.
    pub verdict: Verdict,
    /// Shards whose process holds its lock.
    pub live: usize,
    /// The latest shard's elapsed time, milliseconds.
    pub elapsed_ms: u64,
    /// When the fleet recovered: the latest shard's recovery, once every shard recovered.
    pub recovered_ms: Option<u64>,
    /// The latest shard's remaining ETA, milliseconds; none when a shard cannot finish.
    pub remaining_eta_ms: Option<u64>,
    /// Counts: steps of the merged steps (a step spanning shards counts once), nodes summed.
    pub counts: Counts,
    /// Every step, merged.
    pub steps: Vec<FleetStep>,
    /// Every failed node, with its shard.
    pub failed: Vec<FleetFailed>,
    /// Each shard's share, in the order given.
    pub shards: Vec<ShareView>,
}

/// The scope in words, for a shard's line.
pub fn scope_text(scope: &Scope) -> String {
    let mut parts = Vec::new();
    if let Some(dc) = &scope.datacenter {
        parts.push(format!("datacenter {dc}"));
    }
    for (flag, list) in [
        ("only", &scope.only),
        ("exclude", &scope.exclude),
        ("hosts", &scope.hosts),
    ] {
        if !list.is_empty() {
            parts.push(format!("{flag} {}", list.join(",")));
        }
    }
    if !scope.tiers.is_empty() {
        let tiers: Vec<String> = scope.tiers.iter().map(|t| format!("S{t}")).collect();
        parts.push(format!("tiers {}", tiers.join(",")));
    }
    for (key, value) in &scope.labels {
        parts.push(format!("label {key}={value}"));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(", ")
    }
}

/// How old a view's last record is at `now`, when it carries a wall-clock time.
fn last_record_age(view: &RunView, now: SystemTime) -> Option<Duration> {
    let at = view.records().last()?.at.as_deref()?;
    let at = humantime::parse_rfc3339(at).ok()?;
    Some(now.duration_since(at).unwrap_or_default())
}

/// Merges one status per shard into the fleet's.
pub fn fleet_status(shards: &[Shard], now: SystemTime) -> FleetStatus {
    let statuses: Vec<RunStatus> = shards
        .iter()
        .map(|s| run_status(s.topology, s.plan, s.view, s.live))
        .collect();
    let steps = merge_steps(shards, &statuses);
    let mut counts = Counts::default();
    for status in &statuses {
        counts.started += status.counts.started;
        counts.already_healthy += status.counts.already_healthy;
        counts.failed_nodes += status.counts.failed_nodes;
        counts.nodes += status.counts.nodes;
    }
    let named = |name: &str| steps.iter().filter(|s| s.status == name).count();
    counts.ready = named("ready");
    counts.failed = named("failed");
    counts.blocked = named("blocked");
    counts.unfinished = named("waiting") + named("active");
    counts.steps = steps.len();
    let verdict = if counts.failed + counts.blocked > 0 {
        Verdict::Failed
    } else if counts.ready < counts.steps {
        Verdict::Unfinished
    } else if counts.failed_nodes > 0 {
        Verdict::Degraded
    } else {
        Verdict::Recovered
    };
    let failed = shards
        .iter()
        .zip(&statuses)
        .flat_map(|(shard, status)| {
            status.failed.iter().map(|f| FleetFailed {
                dir: shard.dir.to_string(),
                step: f.step.clone(),
                host: f.host.clone(),
                reason: f.reason.clone(),
                retry: format!("blackstart retry {} {}", shell_quote(shard.dir), f.step),
            })
        })
        .collect();
    let recovered_ms = statuses
        .iter()
        .map(|s| s.recovered_ms)
        .collect::<Option<Vec<u64>>>()
        .and_then(|all| all.into_iter().max());
    let remaining_eta_ms = statuses
        .iter()
        .map(|s| s.remaining_eta_ms)
        .collect::<Option<Vec<u64>>>()
        .map(|all| all.into_iter().max().unwrap_or(0));
    FleetStatus {
        topology: shards
            .first()
            .map(|s| s.topology.name.clone())
            .unwrap_or_default(),
        simulated: shards.iter().any(|s| s.simulated),
        verdict,
        live: statuses.iter().filter(|s| s.run == RunState::Live).count(),
        elapsed_ms: statuses.iter().map(|s| s.elapsed_ms).max().unwrap_or(0),
        recovered_ms,
        remaining_eta_ms,
        counts,
        steps,
        failed,
        shards: shards
            .iter()
            .zip(statuses)
            .map(|(shard, status)| ShareView {
                dir: shard.dir.to_string(),
                scope: scope_text(shard.scope),
                simulated: shard.simulated,
                last_record_age_ms: last_record_age(shard.view, now).map(Reason::millis),
                status,
            })
            .collect(),
    }
}

/// Every step any shard plans, in plan order (the earliest planned ready first), each
/// with its members from every shard.
fn merge_steps(shards: &[Shard], statuses: &[RunStatus]) -> Vec<FleetStep> {
    // Step id -> (earliest planned ready, first seen, the subsystem's quorum rule).
    let mut order: Vec<(Duration, usize, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut merged: Vec<FleetStep> = Vec::new();
    let mut rules = Vec::new();
    for (shard, status) in shards.iter().zip(statuses) {
        for (planned, step) in shard.plan.steps.iter().zip(&status.steps) {
            let at = *index.entry(step.id.clone()).or_insert_with(|| {
                order.push((planned.ready_at, merged.len(), step.id.clone()));
                merged.push(FleetStep {
                    id: step.id.clone(),
                    tier: step.tier.clone(),
                    status: "waiting",
                    healthy: 0,
                    hosts: 0,
                    needed: 0,
                    shards: Vec::new(),
                });
                rules.push(shard.topology.subsystems[planned.step.subsystem].min_healthy);
                merged.len() - 1
            });
            let entry = &mut order[at];
            entry.0 = entry.0.min(planned.ready_at);
            let fleet = &mut merged[at];
            fleet.healthy += step.healthy;
            fleet.hosts += step.hosts;
            fleet.shards.push(StepShare {
                dir: shard.dir.to_string(),
                status: step.status,
                healthy: step.healthy,
                hosts: step.hosts,
            });
        }
    }
    for (fleet, rule) in merged.iter_mut().zip(rules) {
        fleet.needed = rule.required(fleet.hosts);
        fleet.status = merged_status(fleet);
    }
    order.sort();
    let mut slots: Vec<Option<FleetStep>> = merged.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(_, at, _)| slots[at].take())
        .collect()
}

/// A step's status over its shards: ready once its quorum over all members is healthy (a
/// step without hosts, a gate or manual step, once every shard has it ready); otherwise the
/// worst of its shards'.
fn merged_status(step: &FleetStep) -> &'static str {
    let all_ready = step.shards.iter().all(|s| s.status == "ready");
    if all_ready || (step.hosts > 0 && step.healthy >= step.needed) {
        return "ready";
    }
    for worst in ["failed", "blocked", "active"] {
        if step.shards.iter().any(|s| s.status == worst) {
            return worst;
        }
    }
    // Ready in some shards, waiting in others: still under way.
    if step.shards.iter().any(|s| s.status == "ready") {
        return "active";
    }
    "waiting"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::scheduler::Scheduler;

    const SITES: &str = "version: 1\nname: sites\nhosts:\n  - { name: a1, address: 10.0.0.1, datacenter: dc1 }\n  - { name: a2, address: 10.0.0.2, datacenter: dc2 }\nsubsystems:\n  - { name: s, hosts: [a1, a2], min_healthy: 2, start: \"true\" }\n";

    #[test]
    fn a_step_spanning_shards_counts_its_quorum_over_all_of_them() {
        let topology = crate::load::load_str(SITES, std::path::Path::new("t.yaml"))
            .unwrap()
            .topology;
        let scopes: Vec<Scope> = ["dc1", "dc2"]
            .iter()
            .map(|dc| Scope {
                datacenter: Some(dc.to_string()),
                ..Scope::default()
            })
            .collect();
        let plans: Vec<Plan> = scopes
            .iter()
            .map(|scope| Plan::build(&topology, &scope.select(&topology).unwrap()).unwrap())
            .collect();
        let views: Vec<RunView> = plans
            .iter()
            .map(|plan| RunView::new(Scheduler::new(&topology, plan, 1), plan))
            .collect();
        let shards: Vec<Shard> = (0..2)
            .map(|i| Shard {
                dir: ["runs/dc1", "runs/dc2"][i],
                topology: &topology,
                plan: &plans[i],
                view: &views[i],
                live: false,
                scope: &scopes[i],
                simulated: false,
            })
            .collect();
        let fleet = fleet_status(&shards, SystemTime::now());
        assert_eq!(fleet.steps.len(), 1, "one step over both shards");
        let step = &fleet.steps[0];
        assert_eq!((step.hosts, step.needed, step.healthy), (2, 2, 0));
        assert_ne!(step.status, "ready", "nothing healthy yet");
        assert_eq!(step.shards.len(), 2);
        assert_eq!(fleet.counts.nodes, 2);
        assert_eq!(fleet.shards[1].scope, "datacenter dc2");
        assert_eq!(fleet.verdict, Verdict::Unfinished);
    }
}
