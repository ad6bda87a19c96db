//! What to do next: the actions due at a time (ready nodes handed out best first under
//! quorum-aware readiness, power-ons per domain and window), and when to wake up.

use std::cmp::Reverse;
use std::time::Duration;

use super::ready_queue::Readiness;
use super::Scheduler;
use crate::event::state::{HostState, Node, NodeState};
use crate::event::{Action, NodeId, Reason};
use crate::plan::StepId;
use crate::topology::HostId;

impl Scheduler {
    /// The next time something becomes possible without an event (a backoff ends, a
    /// power-on slot opens).
    pub fn next_wakeup(&self) -> Option<Duration> {
        if self.powering_off() {
            return self.power_off_wakeup();
        }
        let backoff = self.backoff.peek().map(|Reverse((time, _))| *time);
        let power = self.domain_wakeups.peek().map(|Reverse((time, _))| *time);
        match (backoff, power) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Decides what to start at `now`.
    pub fn next_actions(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        self.next_actions_into(now, &mut actions);
        actions
    }

    /// [`Scheduler::next_actions`], appended to `actions`: the driver's loop reuses one
    /// list instead of allocating one per turn (tens of thousands of turns per drill).
    pub fn next_actions_into(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if self.stopping {
            return;
        }
        if self.powering_off() {
            self.power_off_due(now, actions);
            return;
        }
        while self.checks_in_flight < self.check_window {
            let Some(host) = self.to_check.pop_front() else {
                break;
            };
            if std::mem::take(&mut self.skip_read[host]) {
                // Off or on, the answer would not change what is sent: one call, not two.
                self.queue_power_on(host, now);
                continue;
            }
            self.checks_in_flight += 1;
            self.host_work_in_flight += 1;
            actions.push(Action::CheckPower { host });
        }
        self.rechecks_due(actions);
        while let Some(host) = self.to_wait_ssh.pop_front() {
            self.host_work_in_flight += 1;
            let prepared = self.prepared[host];
            actions.push(Action::WaitSsh { host, prepared });
        }
        self.power_on_due(now, actions);
        while let Some(Reverse((until, node))) = self.backoff.peek().copied() {
            if until > now {
                break;
            }
            self.backoff.pop();
            if matches!(self.nodes[node].state, NodeState::Backoff { .. }) {
                // Probe before every retry: a service that came up just after its ready
                // timeout, or that a network cut only hid, must not be started a second time.
                self.nodes[node].state = NodeState::Pending;
                self.nodes[node].probe_before_retry = true;
                self.release_probe(node);
            }
        }
        // Adopted starts first: their ready timeouts have been running since the kill.
        self.adoptions_due(now, actions);
        while self.node_work_in_flight < self.parallelism {
            let Some(node) = self.to_probe.pop_front() else {
                break;
            };
            // A host that stopped answering since: the node waits for it to come back.
            let host_up = matches!(self.hosts[self.nodes[node].host], HostState::Up);
            if host_up && matches!(self.nodes[node].state, NodeState::Pending) {
                self.nodes[node].state = NodeState::Probing;
                self.node_work_in_flight += 1;
                actions.push(Action::Probe { node });
            }
        }
        while self.node_work_in_flight < self.parallelism {
            let Some(node) = self.to_read.pop_front() else {
                break;
            };
            if matches!(self.nodes[node].state, NodeState::Waiting) {
                self.node_work_in_flight += 1;
                actions.push(Action::ReadValue { node });
            }
        }
        while self.node_work_in_flight < self.parallelism {
            let mut policy = Quorum {
                nodes: &mut self.nodes,
                hosts: &self.hosts,
                healthy: &self.healthy,
                held: &self.held,
            };
            let Some((_, node)) = self.ready.dequeue(&mut policy) else {
                break;
            };
            let attempt = self.nodes[node].attempts + 1;
            self.nodes[node].state = NodeState::Starting { attempt };
            self.started_at[node] = now;
            self.node_work_in_flight += 1;
            actions.push(Action::Start { node, attempt });
        }
    }

    pub(super) fn power_on_due(&mut self, now: Duration, actions: &mut Vec<Action>) {
        while let Some(Reverse((time, domain))) = self.domain_wakeups.peek().copied() {
            if time > now {
                break;
            }
            self.domain_wakeups.pop();
            self.domain_scheduled[domain] = false;
            while self.limiter.next_slot(domain, now) <= now {
                let Some(priority) = self.domain_queue[domain].pop() else {
                    break;
                };
                let host = priority.2 .0;
                self.limiter.record(domain, now);
                self.hosts[host] = HostState::PoweringOn;
                self.host_work_in_flight += 1;
                actions.push(Action::PowerOn { host });
            }
            if !self.domain_queue[domain].is_empty() {
                let slot = self.limiter.next_slot(domain, now);
                self.schedule_domain(domain, slot);
            }
        }
    }

    /// Queues `host` for power-on in its domain, in priority order.
    pub(super) fn queue_power_on(&mut self, host: HostId, now: Duration) {
        self.hosts[host] = HostState::Off;
        let (tier, rank) = self.host_priority[host];
        let domain = self.host_domain[host];
        self.domain_queue[domain].push((rank, Reverse(tier), Reverse(host)));
        self.schedule_domain(domain, now);
    }

    pub(super) fn schedule_domain(&mut self, domain: usize, at: Duration) {
        if !self.domain_scheduled[domain] {
            self.domain_scheduled[domain] = true;
            self.domain_wakeups.push(Reverse((at, domain)));
        }
    }
}

/// Readiness by quorum, over the scheduler's node table: a node popped from the queue
/// still starts if it is queued and its host answers.
struct Quorum<'a> {
    nodes: &'a mut [Node],
    hosts: &'a [HostState],
    healthy: &'a [usize],
    held: &'a [Option<Reason>],
}

impl Readiness<NodeId> for Quorum<'_> {
    fn still_ready(&mut self, node: NodeId) -> bool {
        if !matches!(self.nodes[node].state, NodeState::Queued) {
            return false;
        }
        if self.held[self.nodes[node].step].is_some() {
            // Held back (a failed preflight, a refused guard): never started, whenever it was
            // queued; the hold lasts the run.
            self.nodes[node].state = NodeState::Pending;
            return false;
        }
        if !matches!(self.hosts[self.nodes[node].host], HostState::Up) {
            // Its host stopped answering after the node was queued: it waits for it.
            self.nodes[node].state = NodeState::Pending;
            return false;
        }
        true
    }

    fn healthy(&self, step: StepId) -> usize {
        self.healthy[step]
    }
}
