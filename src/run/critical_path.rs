//! The chain of steps that actually decided when a run (or a drill) finished, or, on a run
//! that did not recover, the chain that led to the failure.

use std::time::Duration;

use crate::plan::Plan;

/// The chain that decided when the run finished: from the last step to become ready, back
/// through the dependency that became ready last (ties go to the lower step id, so the
/// same run always reads the same way).
pub fn actual(plan: &Plan, ready_at: &[Option<Duration>]) -> Vec<usize> {
    latest_ready(ready_at, &mut (0..plan.steps.len()))
        .map_or_else(Vec::new, |last| leading_to(plan, ready_at, last))
}

/// The chain that ends at `last`: `last`, preceded by its dependency that became ready
/// last, and so on back to a step with no ready dependency. On a failed run this is what
/// the failed step waited for before it could fail.
pub fn leading_to(plan: &Plan, ready_at: &[Option<Duration>], last: usize) -> Vec<usize> {
    let mut path = Vec::new();
    let mut cursor = Some(last);
    while let Some(id) = cursor {
        path.push(id);
        let step = &plan.steps[id];
        cursor = latest_ready(
            ready_at,
            &mut step.requires.iter().chain(&step.wants).copied(),
        );
    }
    path.reverse();
    path
}

fn latest_ready(
    ready_at: &[Option<Duration>],
    ids: &mut dyn Iterator<Item = usize>,
) -> Option<usize> {
    ids.filter_map(|id| ready_at[id].map(|at| (at, std::cmp::Reverse(id))))
        .max()
        .map(|(_, std::cmp::Reverse(id))| id)
}
