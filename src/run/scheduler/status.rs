//! Step statuses: readiness by quorum, failure when the quorum can no longer hold,
//! blocking by a failed dependency, and the reset that resume starts from.

use std::collections::BinaryHeap;

use super::Scheduler;
use crate::event::state::{HostState, NodeState, StepFailure, StepStatus};
use crate::plan::StepId;
use crate::run::ordering::MemberOrder;

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

    /// After replaying a journal: forget everything that was in flight or merely believed,
    /// and check it again. Hosts are re-checked, every node that has not failed is probed
    /// again (a node healthy before the interruption is found healthy and never restarted),
    /// attempts and failures are kept.
    pub fn prepare_resume(&mut self) {
        self.node_work_in_flight = 0;
        self.host_work_in_flight = 0;
        self.resume_power_off();
        self.to_check.clear();
        self.to_wait_ssh.clear();
        self.to_probe.clear();
        self.to_read.clear();
        self.order.iter_mut().flatten().for_each(MemberOrder::reset);
        self.ready.clear();
        self.capped.iter_mut().for_each(BinaryHeap::clear);
        self.waiting.iter_mut().for_each(Vec::clear);
        self.backoff.clear();
        self.domain_wakeups.clear();
        self.domain_queue.iter_mut().for_each(BinaryHeap::clear);
        self.domain_scheduled
            .iter_mut()
            .for_each(|scheduled| *scheduled = false);
        self.starting.iter_mut().for_each(|count| *count = 0);
        self.healthy.iter_mut().for_each(|count| *count = 0);
        for node in &mut self.nodes {
            node.probe_before_retry = false;
            if !matches!(node.state, NodeState::Failed { .. }) {
                node.state = NodeState::Pending;
            }
        }
        for host in 0..self.hosts.len() {
            let live = self.host_nodes[host]
                .iter()
                .any(|node| matches!(self.nodes[*node].state, NodeState::Pending));
            if live {
                self.hosts[host] = HostState::CheckingPower;
                self.to_check.push_back(host);
            }
        }
        self.awaiting_people = 0;
        self.status
            .iter_mut()
            .for_each(|status| *status = StepStatus::Waiting);
        for step in 0..self.steps.len() {
            self.refresh(step);
        }
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
