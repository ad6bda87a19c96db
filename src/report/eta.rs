//! The remaining ETA a person can trust: the plan's time for the unfinished steps, counted
//! from when the latest step really became ready, and how far behind the run is once that
//! time has run out.

use std::time::Duration;

use super::view::RunView;
use crate::event::state::StepStatus;
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;

/// By the plan, how long until every unfinished step is ready, counted from the latest
/// planned ready time among the steps already ready.
pub fn remaining_eta(plan: &Plan, scheduler: &Scheduler) -> Duration {
    let statuses = scheduler.statuses();
    let done_at = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, _)| statuses[*id] == StepStatus::Ready)
        .map(|(_, step)| step.ready_at)
        .max()
        .unwrap_or_default();
    plan.steps
        .iter()
        .enumerate()
        .filter(|(id, _)| matches!(statuses[*id], StepStatus::Waiting | StepStatus::Active))
        .map(|(_, step)| step.ready_at.saturating_sub(done_at))
        .max()
        .unwrap_or_default()
}

/// The plan's remaining time counted from the moment the latest step became ready, as of
/// `now`: what is left of it, and how far past it the run is when nothing is left (the
/// plan said 4s, a retry has gone on for a minute: `overdue by 56s`).
pub(super) fn from_now(
    plan: &Plan,
    view: &RunView,
    by_plan: Duration,
    now: Duration,
) -> (Duration, Option<Duration>) {
    let statuses = view.scheduler().statuses();
    let latest_ready = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(id, _)| statuses[*id] == StepStatus::Ready)
        .max_by_key(|(_, step)| step.ready_at)
        .and_then(|(_, step)| view.first_ready(&step.id));
    let since = now.saturating_sub(latest_ready.unwrap_or_default());
    match by_plan.checked_sub(since) {
        Some(left) => (left, None),
        None => (Duration::ZERO, Some(since - by_plan)),
    }
}
