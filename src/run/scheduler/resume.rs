//! Resume: the reset a resumed run starts from, and the starts a killed process launched
//! and never saw end. Such a start may still be coming up, so it is watched (adopted), not
//! issued again: restarting half-recovered services, and losing their progress, was the
//! costliest mistake of the 2013 outage this tool is built from.

use std::collections::BinaryHeap;
use std::time::Duration;

use super::Scheduler;
use crate::event::state::{HostState, NodeState, StepStatus};
use crate::event::{Action, NodeId, Reason};
use crate::run::ordering::MemberOrder;

pub use crate::journal::InFlightStart;

/// Why a start is watched instead of issued again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdoptedAfter {
    /// The process that launched it was killed; a resume took it over.
    Kill,
    /// Its host stopped answering while it came up, and was found still on.
    HostBack,
}

/// A start watched to its end instead of issued again (see [`AdoptedAfter`]), and what
/// became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The node.
    pub node: NodeId,
    /// The attempt that was in flight.
    pub attempt: u32,
    /// Why it is watched.
    pub after: AdoptedAfter,
    /// How long the start had been running at `since`.
    pub running_for: Duration,
    /// When it was taken over (time since the run first began).
    pub since: Duration,
    /// When the watch ended, and whether the node came up.
    pub ended: Option<(Duration, Result<(), Reason>)>,
}

impl Scheduler {
    /// After replaying a journal: forget everything that was in flight or merely believed,
    /// and check it again. Hosts are re-checked, every node that has not failed is probed
    /// again (a node healthy before the interruption is found healthy and never restarted),
    /// attempts and failures are kept. A start in `in_flight` is adopted: once its host
    /// answers, the node is watched until its ready timeout, counted from that start, and
    /// only then does the retry policy apply. `now` is the resume's time.
    pub fn prepare_resume(&mut self, now: Duration, in_flight: &[InFlightStart]) {
        self.node_work_in_flight = 0;
        self.host_work_in_flight = 0;
        self.resume_power_off();
        self.to_check.clear();
        // After an interruption some hosts are on and serving: their state is read.
        self.skip_read.iter_mut().for_each(|skip| *skip = false);
        self.to_recheck.clear();
        self.to_wait_ssh.clear();
        self.to_probe.clear();
        self.to_adopt.clear();
        self.to_read.clear();
        self.order.iter_mut().flatten().for_each(MemberOrder::reset);
        self.ready.clear();
        self.waiting.iter_mut().for_each(Vec::clear);
        self.backoff.clear();
        self.domain_wakeups.clear();
        self.domain_queue.iter_mut().for_each(BinaryHeap::clear);
        self.domain_scheduled
            .iter_mut()
            .for_each(|scheduled| *scheduled = false);
        self.healthy.iter_mut().for_each(|count| *count = 0);
        for node in &mut self.nodes {
            node.probe_before_retry = false;
            if !matches!(node.state, NodeState::Failed { .. }) {
                node.state = NodeState::Pending;
            }
        }
        self.adopting.clear();
        for start in in_flight {
            let Some(node) = self.nodes.get_mut(start.node) else {
                continue;
            };
            if !matches!(node.state, NodeState::Pending) {
                continue;
            }
            node.attempts = node.attempts.max(start.attempt);
            self.adopt(
                start.node,
                start.attempt,
                AdoptedAfter::Kill,
                start.running_for,
                now,
            );
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

    /// Every start adopted by a resume of this run, in the order adopted.
    pub fn adoptions(&self) -> &[Adoption] {
        &self.adoptions
    }

    /// Arranges for `node`'s start to be watched once its host answers.
    pub(super) fn adopt(
        &mut self,
        node: NodeId,
        attempt: u32,
        after: AdoptedAfter,
        running_for: Duration,
        since: Duration,
    ) {
        self.adopting.insert(node, self.adoptions.len());
        self.adoptions.push(Adoption {
            node,
            attempt,
            after,
            running_for,
            since,
            ended: None,
        });
    }

    /// Queues `node`'s watch when it has an adopted start waiting: true when it does.
    pub(super) fn release_adoption(&mut self, node: NodeId) -> bool {
        if !self.adopting.contains_key(&node) {
            return false;
        }
        self.to_adopt.push_back(node);
        true
    }

    /// Hands out the watches of adopted starts whose hosts answer, within the parallelism.
    pub(super) fn adoptions_due(&mut self, now: Duration, actions: &mut Vec<Action>) {
        while self.node_work_in_flight < self.parallelism {
            let Some(node) = self.to_adopt.pop_front() else {
                break;
            };
            let Some(&index) = self.adopting.get(&node) else {
                continue;
            };
            if !matches!(self.nodes[node].state, NodeState::Pending) {
                continue;
            }
            let adoption = &self.adoptions[index];
            let attempt = adoption.attempt;
            let running_for = adoption.running_for + now.saturating_sub(adoption.since);
            self.nodes[node].state = NodeState::Starting { attempt };
            self.ready.count_start(self.nodes[node].step);
            self.node_work_in_flight += 1;
            actions.push(Action::Adopt {
                node,
                attempt,
                running_for_ms: Reason::millis(running_for),
            });
        }
    }

    /// A replay read the watch of `node`'s adopted start, handed out at `at` for a start
    /// then running for `running_for`: the adoption takes the times the live process had
    /// (the run's clock stood still while no process ran, so the replay's own are short).
    pub fn adoption_timed(&mut self, node: NodeId, at: Duration, running_for: Duration) {
        if let Some(&index) = self.adopting.get(&node) {
            let adoption = &mut self.adoptions[index];
            adoption.running_for = running_for.saturating_sub(at.saturating_sub(adoption.since));
        }
    }

    /// Notes how an adopted start's watch ended.
    pub(super) fn adoption_ended(
        &mut self,
        now: Duration,
        node: NodeId,
        result: &Result<(), Reason>,
    ) {
        if let Some(index) = self.adopting.remove(&node) {
            self.adoptions[index].ended = Some((now, result.clone()));
        }
    }
}

impl crate::journal::Replay for Scheduler {
    fn handle(&mut self, t: Duration, event: &crate::event::Event) {
        Scheduler::handle(self, t, event);
    }
    fn prepare_resume(&mut self, t: Duration, in_flight: &[InFlightStart]) {
        Scheduler::prepare_resume(self, t, in_flight);
    }
    fn adoption_timed(&mut self, node: NodeId, t: Duration, running_for: Duration) {
        Scheduler::adoption_timed(self, node, t, running_for);
    }
}
