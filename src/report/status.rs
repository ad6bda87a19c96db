//! Where a run stands, read back from its journal: the view `status` prints as text or
//! JSON. Failures are grouped by cause; the full list is one flag away.

use serde::Serialize;

use super::eta::from_now;
pub use super::eta::remaining_eta;
use super::summary::{degraded, verdict, Verdict};
use super::view::RunView;
use crate::event::narrate::{self, failures_by_cause, NAMED_IN_A_GROUP};
use crate::event::state::{NodeState, StepStatus};
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

pub use crate::event::state::RunState;

mod text;

pub use text::{render_status, FOLD_ABOVE};

/// Counts of steps and nodes, the same the summary prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Steps ready.
    pub ready: usize,
    /// Steps failed.
    pub failed: usize,
    /// Steps blocked by a failed dependency.
    pub blocked: usize,
    /// Steps waiting or in progress.
    pub unfinished: usize,
    /// Steps in all.
    pub steps: usize,
    /// Nodes started by the run and healthy.
    pub started: usize,
    /// Nodes found healthy and left alone.
    pub already_healthy: usize,
    /// Nodes failed.
    pub failed_nodes: usize,
    /// Nodes in all.
    pub nodes: usize,
}

impl Counts {
    /// The two lines the summary and `status` both print: steps, then nodes.
    pub fn lines(&self) -> [String; 2] {
        [
            format!(
                "steps: {} ready, {} failed, {} blocked, {} not finished (of {})",
                self.ready, self.failed, self.blocked, self.unfinished, self.steps
            ),
            format!(
                "nodes: {} started, {} already healthy (left alone), {} failed, of {}",
                self.started, self.already_healthy, self.failed_nodes, self.nodes
            ),
        ]
    }

    /// Counts of the scheduler's state.
    pub fn of(scheduler: &Scheduler) -> Counts {
        let statuses = scheduler.statuses();
        let steps = |wanted: fn(&StepStatus) -> bool| statuses.iter().filter(|s| wanted(s)).count();
        let nodes = |wanted: fn(&NodeState) -> bool| {
            scheduler
                .nodes()
                .iter()
                .filter(|n| wanted(&n.state))
                .count()
        };
        Counts {
            ready: steps(|s| *s == StepStatus::Ready),
            failed: steps(|s| *s == StepStatus::Failed),
            blocked: steps(|s| matches!(s, StepStatus::Blocked { .. })),
            unfinished: steps(|s| matches!(s, StepStatus::Waiting | StepStatus::Active)),
            steps: statuses.len(),
            started: nodes(|s| *s == NodeState::Healthy { already: false }),
            already_healthy: nodes(|s| *s == NodeState::Healthy { already: true }),
            failed_nodes: nodes(|s| matches!(s, NodeState::Failed { .. })),
            nodes: scheduler.nodes().len(),
        }
    }
}

/// One step's line.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// Step id.
    pub id: String,
    /// Tier, `S1`..`S9`.
    pub tier: String,
    /// Status name (`ready`, `active`, `failed`, ...).
    pub status: &'static str,
    /// The status in words.
    pub text: String,
    /// Healthy nodes.
    pub healthy: usize,
    /// Planned hosts.
    pub hosts: usize,
    /// A blocked step: the failed step it waits for.
    pub waits_on: Option<String>,
}

/// A failed step that holds others back: the run cannot finish until it is repaired.
#[derive(Debug, Clone, Serialize)]
pub struct HoldingView {
    /// The failed step.
    pub step: String,
    /// Steps blocked behind it.
    pub blocks: usize,
}

/// Failures that share a cause.
#[derive(Debug, Clone, Serialize)]
pub struct CauseView {
    /// The cause.
    pub cause: String,
    /// Distinct hosts.
    pub hosts: usize,
    /// Failed nodes.
    pub nodes: usize,
    /// The first few hosts.
    pub first_hosts: Vec<String>,
    /// The grouped line.
    pub text: String,
}

/// One failed node, in full.
#[derive(Debug, Clone, Serialize)]
pub struct FailedNode {
    /// Step id.
    pub step: String,
    /// Host name.
    pub host: String,
    /// Why, in full.
    pub reason: String,
}

/// A real drill's power-off, so far.
#[derive(Debug, Clone, Serialize)]
pub struct PowerOffView {
    /// Hosts switched off.
    pub off: usize,
    /// Hosts that refused.
    pub refused: usize,
    /// Hosts in the power-off.
    pub total: usize,
}

/// Where a run stands.
#[derive(Debug, Clone, Serialize)]
pub struct RunStatus {
    /// Topology name.
    pub topology: String,
    /// Live, finished or killed.
    pub run: RunState,
    /// How long the run has been going, milliseconds: the last record's time, and for a live
    /// run the wall clock since it.
    pub elapsed_ms: u64,
    /// When the last step first became ready, once all have, milliseconds: what
    /// `simulate` and the summary call the recovery time.
    pub recovered_ms: Option<u64>,
    /// The verdict the exit code follows.
    pub verdict: Verdict,
    /// Counts of steps and nodes.
    pub counts: Counts,
    /// Every step.
    pub steps: Vec<StepView>,
    /// Failures grouped by cause, largest first.
    pub causes: Vec<CauseView>,
    /// Every failed node.
    pub failed: Vec<FailedNode>,
    /// Ready steps short of hosts: nodes failed within quorum.
    pub degraded: Option<String>,
    /// Remaining time by the plan, from what is healthy, milliseconds; none when the run
    /// cannot finish (steps blocked behind failed ones: see `cannot_finish`).
    pub remaining_eta_ms: Option<u64>,
    /// A live run behind its plan: how far past the plan's time the unfinished steps are,
    /// counted from when the latest step became ready, milliseconds.
    pub overdue_ms: Option<u64>,
    /// Failed steps that hold others back, most blocked first.
    pub cannot_finish: Vec<HoldingView>,
    /// A real drill's power-off.
    pub power_off: Option<PowerOffView>,
}

/// Reads the state of a run from its replayed view. `live`: a process holds the run's lock.
pub fn run_status(topology: &Topology, plan: &Plan, view: &RunView, live: bool) -> RunStatus {
    let scheduler = view.scheduler();
    let run = match (live, view.outcome()) {
        (true, _) => RunState::Live,
        (false, Some(outcome)) => RunState::Finished { outcome },
        (false, None) => RunState::Killed,
    };
    let stopped = run != RunState::Live;
    let in_flight = if live {
        view.in_flight()
    } else {
        Default::default()
    };
    let steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(id, step)| {
            let status = &scheduler.statuses()[id];
            let work = crate::event::step_work::StepWork::of_with(scheduler.nodes(), id, |node| {
                in_flight.get(&node).cloned()
            });
            StepView {
                id: step.id.clone(),
                tier: topology.subsystems[step.step.subsystem].tier.to_string(),
                status: status.name(),
                text: narrate::step_text(
                    plan,
                    status,
                    scheduler.step_failure(id).as_ref(),
                    &work,
                    scheduler.rearmed_waiting(id),
                    stopped,
                ),
                healthy: scheduler.healthy_count(id),
                hosts: step.hosts.len(),
                waits_on: match status {
                    StepStatus::Blocked { on } => Some(plan.steps[*on].id.clone()),
                    _ => None,
                },
            }
        })
        .collect();
    let nodes = scheduler.nodes();
    let causes = failures_by_cause(nodes)
        .into_iter()
        .map(|group| CauseView {
            text: narrate::cause_line(
                topology,
                &group.cause_text(),
                &group.hosts,
                group.nodes.len(),
            ),
            hosts: group.hosts.len(),
            nodes: group.nodes.len(),
            first_hosts: group
                .hosts
                .iter()
                .take(NAMED_IN_A_GROUP)
                .map(|h| topology.hosts[*h].name.clone())
                .collect(),
            cause: group.cause,
        })
        .collect();
    let failed = nodes
        .iter()
        .filter_map(|n| match &n.state {
            NodeState::Failed { reason } => Some(FailedNode {
                step: plan.steps[n.step].id.clone(),
                host: topology.hosts[n.host].name.clone(),
                reason: reason.to_string(),
            }),
            _ => None,
        })
        .collect();
    let cannot_finish = holding(plan, scheduler);
    let remaining = cannot_finish.is_empty().then(|| {
        let by_plan = remaining_eta(plan, scheduler);
        match live {
            true => from_now(
                plan,
                view,
                by_plan,
                view.elapsed_at(std::time::SystemTime::now()),
            ),
            false => (by_plan, None),
        }
    });
    RunStatus {
        topology: topology.name.clone(),
        run,
        // A live run's clock keeps going between records; a stopped run's ends at its last.
        elapsed_ms: crate::event::Reason::millis(if live {
            view.elapsed_at(std::time::SystemTime::now())
        } else {
            view.elapsed()
        }),
        recovered_ms: view.recovered_at().map(crate::event::Reason::millis),
        verdict: verdict(plan, scheduler),
        counts: Counts::of(scheduler),
        steps,
        causes,
        failed,
        degraded: narrate::degraded_text(plan, &degraded(plan, scheduler)),
        remaining_eta_ms: remaining.map(|(left, _)| crate::event::Reason::millis(left)),
        overdue_ms: remaining
            .and_then(|(_, overdue)| overdue)
            .map(crate::event::Reason::millis),
        cannot_finish,
        power_off: scheduler.power_off_progress().map(|p| PowerOffView {
            off: p.off,
            refused: p.refused,
            total: p.total,
        }),
    }
}

/// Failed steps with steps blocked behind them, most blocked first.
fn holding(plan: &Plan, scheduler: &Scheduler) -> Vec<HoldingView> {
    let mut blocks = vec![0usize; plan.steps.len()];
    for status in scheduler.statuses() {
        if let StepStatus::Blocked { on } = status {
            blocks[*on] += 1;
        }
    }
    let mut holding: Vec<HoldingView> = blocks
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(id, count)| HoldingView {
            step: plan.steps[id].id.clone(),
            blocks: *count,
        })
        .collect();
    holding.sort_by(|a, b| b.blocks.cmp(&a.blocks).then_with(|| a.step.cmp(&b.step)));
    holding
}
