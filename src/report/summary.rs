//! The end-of-run summary and the verdict that becomes the exit code: built from the
//! scheduler's final state, with failures grouped by cause.

use std::fmt::Write;
use std::time::Duration;

use crate::event::narrate::{degraded_text, failure_lines, held_back_lines, spare_lines};
use crate::event::state::StepStatus;
use crate::plan::{human, Plan, StepId};
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// Per tier: healthy nodes / total, and steps ready / total.
pub fn tier_table(topology: &Topology, plan: &Plan, scheduler: &Scheduler) -> String {
    let mut tiers: std::collections::BTreeMap<u8, (usize, usize, usize, usize)> =
        Default::default();
    for (id, step) in plan.steps.iter().enumerate() {
        let tier = topology.subsystems[step.step.subsystem].tier.0;
        let entry = tiers.entry(tier).or_default();
        entry.0 += scheduler.healthy_count(id);
        entry.1 += step.hosts.len();
        entry.2 += usize::from(scheduler.statuses()[id] == StepStatus::Ready);
        entry.3 += 1;
    }
    let mut out = String::new();
    for (tier, (healthy, nodes, ready, steps)) in tiers {
        let _ = writeln!(
            out,
            "  S{tier}: {ready}/{steps} steps ready, {healthy}/{nodes} nodes healthy"
        );
    }
    out
}

/// The end-of-run summary. `recovered`: when the last step first became ready, once all
/// have ([`crate::journal::recovered_at`]); `elapsed`: the run's last record. The header
/// quotes them as `status` does, so the same run reads the same on every screen.
pub fn summary(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    ready_at: &[Option<Duration>],
    recovered: Option<Duration>,
    elapsed: Duration,
) -> String {
    let mut out = String::new();
    let statuses = scheduler.statuses();
    let nodes = scheduler.nodes();
    let c = super::Counts::of(scheduler);
    let time = match recovered {
        Some(at) => format!(
            "recovered in {} (last record +{})",
            human(at),
            human(elapsed)
        ),
        None => format!("not recovered after {}", human(elapsed)),
    };
    let _ = writeln!(out, "\nSUMMARY  {}  {time}", topology.name);
    for line in c.lines() {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(text) = degraded_text(plan, &degraded(plan, scheduler)) {
        let _ = writeln!(out, "  {text}");
    }
    let path = crate::run::critical_path::actual(plan, ready_at);
    if !path.is_empty() {
        let text: Vec<String> = path
            .iter()
            .map(|id| {
                format!(
                    "{} (+{})",
                    plan.steps[*id].id,
                    human(ready_at[*id].unwrap_or_default())
                )
            })
            .collect();
        let _ = writeln!(out, "  critical path: {}", text.join(" -> "));
    }
    for line in failure_lines(topology, plan, nodes, false) {
        let _ = writeln!(out, "  {line}");
    }
    for line in spare_lines(topology, plan, nodes) {
        let _ = writeln!(out, "  {line}");
    }
    for line in held_back_lines(plan, statuses, |id| scheduler.step_failure(id)) {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// Ready steps with fewer healthy nodes than hosts: `(step, healthy, hosts)`. A spare that
/// came up in a failed node's place counts as healthy, so a replaced node is not missing.
pub fn degraded(plan: &Plan, scheduler: &Scheduler) -> Vec<(StepId, usize, usize)> {
    plan.steps
        .iter()
        .enumerate()
        .filter(|(id, _)| scheduler.statuses()[*id] == StepStatus::Ready)
        .map(|(id, step)| (id, scheduler.healthy_count(id), step.hosts.len()))
        .filter(|(_, healthy, hosts)| healthy < hosts)
        .collect()
}

/// Where a run stands, as its exit code tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every step ready, every node healthy (or replaced by a spare).
    Recovered,
    /// Every step ready, but some nodes failed within their step's quorum.
    Degraded,
    /// A step failed or is blocked.
    Failed,
    /// Not every step is ready and none failed: in progress, stopped or killed.
    Unfinished,
}

/// The verdict of a run from its scheduler's state.
pub fn verdict(plan: &Plan, scheduler: &Scheduler) -> Verdict {
    let statuses = scheduler.statuses();
    if statuses
        .iter()
        .any(|s| matches!(s, StepStatus::Failed | StepStatus::Blocked { .. }))
    {
        Verdict::Failed
    } else if !scheduler.succeeded() {
        Verdict::Unfinished
    } else if degraded(plan, scheduler).is_empty() {
        Verdict::Recovered
    } else {
        Verdict::Degraded
    }
}
