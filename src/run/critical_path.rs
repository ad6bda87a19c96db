//! The chain of steps that actually decided when a run (or a drill) finished.

use std::time::Duration;

use crate::plan::Plan;

/// The chain that decided when the run finished: from the last step to become ready, back
/// through the dependency that became ready last (ties go to the lower step id, so the
/// same run always reads the same way).
pub fn actual(plan: &Plan, ready_at: &[Option<Duration>]) -> Vec<usize> {
    let latest = |ids: &mut dyn Iterator<Item = usize>| {
        ids.filter_map(|id| ready_at[id].map(|at| (at, std::cmp::Reverse(id))))
            .max()
            .map(|(_, std::cmp::Reverse(id))| id)
    };
    let mut path = Vec::new();
    let mut cursor = latest(&mut (0..plan.steps.len()));
    while let Some(id) = cursor {
        path.push(id);
        let step = &plan.steps[id];
        cursor = latest(&mut step.requires.iter().chain(&step.wants).copied());
    }
    path.reverse();
    path
}
