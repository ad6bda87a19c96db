//! Step statuses: readiness by quorum, failure when the quorum can no longer hold,
//! blocking by a failed dependency.

use super::Scheduler;
use crate::event::state::{HostState, NodeState, StepFailure, StepStatus};
use crate::plan::StepId;

impl Scheduler {
    pub(super) fn deps_ready(&self, step: StepId) -> bool {
        let info = &self.steps[step];
        info.requires
            .iter()
            .all(|d| self.status[*d] == StepStatus::Ready)
            && info.wants.iter().all(|d| {
                matches!(
                    self.status[*d],
                    StepStatus::Ready | StepStatus::Failed | StepStatus::Blocked { .. }
                )
            })
    }

    pub(super) fn compute_status(&self, step: StepId) -> StepStatus {
        let info = &self.steps[step];
        if self.held[step].is_some() {
            return StepStatus::Failed;
        }
        for &dependency in &info.requires {
            match self.status[dependency] {
                StepStatus::Failed => return StepStatus::Blocked { on: dependency },
                StepStatus::Blocked { on } => return StepStatus::Blocked { on },
                _ => {}
            }
        }
        if info.human {
            return if self.acknowledged[step].is_some() {
                StepStatus::Ready
            } else if self.deps_ready(step) {
                StepStatus::Active
            } else {
                StepStatus::Waiting
            };
        }
        let total = self.step_nodes[step].len();
        if self.healthy[step] >= info.required_healthy && total > 0 {
            return StepStatus::Ready;
        }
        let spares = info
            .unused_spares
            .iter()
            .filter(|host| !matches!(self.hosts[**host], HostState::Failed { .. }))
            .count();
        if total - self.failed[step] + spares < info.required_healthy {
            return StepStatus::Failed;
        }
        if self.deps_ready(step) {
            StepStatus::Active
        } else {
            StepStatus::Waiting
        }
    }

    /// Steps whose status changed since [`Scheduler::clear_changes`], in the order they
    /// changed: what the driver journals and shows, without scanning every step after every
    /// event.
    pub fn changes(&self) -> &[StepId] {
        &self.changed
    }

    /// Forgets the changes read; the list keeps its room, so no turn of the loop allocates.
    pub fn clear_changes(&mut self) {
        self.changed.clear();
    }

    /// Why `step` failed, when it did.
    pub fn step_failure(&self, step: StepId) -> Option<StepFailure> {
        if self.status[step] != StepStatus::Failed {
            return None;
        }
        Some(match &self.held[step] {
            Some(reason) => StepFailure::Held(reason.clone()),
            None => StepFailure::TooFewHealthy {
                healthy: self.healthy[step],
                required: self.steps[step].required_healthy,
            },
        })
    }

    /// Recomputes `step`'s status and, when it changes, its dependents' in turn.
    pub(super) fn refresh(&mut self, step: StepId) {
        let mut work = vec![step];
        while let Some(step) = work.pop() {
            let status = self.compute_status(step);
            if !self.waiting[step].is_empty() && self.deps_ready(step) {
                let mut waiting = std::mem::take(&mut self.waiting[step]);
                waiting.retain(|node| matches!(self.nodes[*node].state, NodeState::Waiting));
                // In node order, as a walk over the step's nodes would release them.
                waiting.sort_unstable();
                waiting.dedup();
                for &node in &waiting {
                    self.release(node);
                }
                // A member held back by a data-aware order stays waiting for the next refresh.
                waiting.retain(|node| matches!(self.nodes[*node].state, NodeState::Waiting));
                self.waiting[step].extend(waiting);
            }
            if status != self.status[step] {
                if self.steps[step].human {
                    if self.status[step] == StepStatus::Active {
                        self.awaiting_people -= 1;
                    }
                    if status == StepStatus::Active {
                        self.awaiting_people += 1;
                    }
                }
                self.status[step] = status;
                self.changed.push(step);
                work.extend(self.steps[step].dependents.iter().copied());
            }
        }
    }
}
