//! How the scheduler takes in events: host and node transitions, spares, re-arms,
//! acknowledgements, holds and the data-aware choice of a store's first member.

use std::cmp::Reverse;
use std::time::Duration;

use rand::Rng;

use super::Scheduler;
use crate::event::state::{HostState, Node, NodeState};
use crate::event::{Event, NodeId, PowerReport, Reason};
use crate::plan::StepId;
use crate::run::ordering::{Admission, Choice};
use crate::topology::HostId;

impl Scheduler {
    /// Takes in what happened at `now`.
    pub fn handle(&mut self, now: Duration, event: &Event) {
        match event {
            Event::PowerChecked { host, result } if self.power_off_checked(*host, result) => {}
            Event::PowerChecked { host, result } => {
                self.host_done();
                self.checks_in_flight = self.checks_in_flight.saturating_sub(1);
                match result {
                    Ok(PowerReport::On | PowerReport::NoBmc) => self.booting(*host),
                    Ok(PowerReport::Off) => self.queue_power_on(*host, now),
                    Err(reason) => self.host_failed(*host, reason.clone()),
                }
            }
            Event::PoweredOn { host, result } => {
                self.host_done();
                match result {
                    Ok(()) => {
                        // A fresh boot: its preparation steps must run again.
                        self.prepared[*host] = false;
                        self.booting(*host);
                    }
                    Err(reason) => self.host_failed(*host, reason.clone()),
                }
            }
            Event::SshReady { host, result } => {
                self.host_done();
                match result {
                    Ok(()) => {
                        self.hosts[*host] = HostState::Up;
                        self.prepared[*host] = true;
                        self.host_back(now, *host);
                        // By index, not over a copy: releasing a probe adds no node.
                        for index in 0..self.host_nodes[*host].len() {
                            self.release_probe(self.host_nodes[*host][index]);
                        }
                    }
                    Err(reason) => self.host_failed(*host, reason.clone()),
                }
            }
            Event::Probed { node, result } => {
                let healthy = &result.is_ok();
                self.node_work_in_flight = self.node_work_in_flight.saturating_sub(1);
                let node = *node;
                if std::mem::take(&mut self.nodes[node].probe_before_retry) {
                    self.retry_probed(node, *healthy);
                    return;
                }
                if *healthy {
                    self.node_healthy(node, true);
                } else {
                    self.nodes[node].state = NodeState::Waiting;
                    let step = self.nodes[node].step;
                    self.waiting[step].push(node);
                    if self.deps_ready(self.nodes[node].step) {
                        self.release(node);
                    }
                }
                // A bootstrap node is probed only after its normal twin on the same host:
                // if the normal mode is already up, bootstrap mode must not be started.
                if let Some(twin) = self.bootstrap_twin(node) {
                    if *healthy {
                        self.node_healthy(twin, true);
                    } else {
                        self.release_probe(twin);
                    }
                }
            }
            Event::StartFinished {
                node,
                attempt,
                result,
            } => self.start_ended(now, *node, *attempt, result),
            Event::Adopted {
                node,
                attempt,
                result,
            } => {
                self.adoption_ended(now, *node, result);
                self.start_ended(now, *node, *attempt, result);
            }
            Event::Rechecked { host, result } => self.rechecked(now, *host, result),
            Event::PoweredOff { host, result } => self.powered_off(*host, result),
            Event::Rearmed { node } => self.rearm(*node),
            Event::ValueRead { node, result } => {
                self.node_work_in_flight = self.node_work_in_flight.saturating_sub(1);
                let step = self.nodes[*node].step;
                if let Some(order) = &mut self.order[step] {
                    order.record(*node, result.as_ref().ok().copied());
                }
                self.choose_first_member(step);
            }
            Event::Acknowledged { step, by } => {
                if self.steps[*step].human && self.acknowledged[*step].is_none() {
                    self.acknowledged[*step] = Some(by.clone());
                    self.refresh(*step);
                }
            }
            Event::Held { step, reason } => {
                self.held[*step] = Some(reason.clone());
                self.refresh(*step);
            }
        }
    }

    /// A start attempt (or an adopted one) ended: the step's slot frees, and the node is
    /// healthy, backs off before its next attempt, waits for its host, or gives up.
    fn start_ended(
        &mut self,
        now: Duration,
        node: NodeId,
        attempt: u32,
        result: &Result<(), Reason>,
    ) {
        let step = self.nodes[node].step;
        self.node_work_in_flight = self.node_work_in_flight.saturating_sub(1);
        let nodes = &self.nodes;
        self.ready.start_ended(step, |queued| {
            matches!(nodes[queued].state, NodeState::Queued)
        });
        self.nodes[node].attempts = self.nodes[node].attempts.max(attempt);
        if self.nodes[node].state.is_settled() {
            // Its host failed while the attempt ran: nothing more to decide.
            return;
        }
        match result {
            Ok(()) => self.node_healthy(node, false),
            Err(reason) if reason.host_gone() => {
                self.attempt_cut_by_host(now, node, attempt, reason)
            }
            Err(reason) => {
                let retry = self.steps[step].retry;
                let node_state = &self.nodes[node];
                let counted = node_state.attempts.saturating_sub(node_state.interrupted);
                if counted < retry.attempts {
                    let base = retry.backoff_before(counted + 1);
                    let jitter = 0.5 + 0.5 * self.rng.random::<f64>();
                    let until = now + base.mul_f64(jitter);
                    self.nodes[node].state = NodeState::Backoff { until };
                    self.backoff.push(Reverse((until, node)));
                } else {
                    self.node_failed(node, reason.clone());
                }
            }
        }
    }

    /// A node probed after a failed attempt, before its next one: healthy now means the
    /// last start worked late, and it is left alone; otherwise the next attempt goes ahead
    /// (its dependencies were ready for the first attempt and stay so).
    fn retry_probed(&mut self, node: NodeId, healthy: bool) {
        if healthy {
            self.node_healthy(node, false);
        } else {
            self.queue(node);
        }
    }

    pub(super) fn host_done(&mut self) {
        self.host_work_in_flight = self.host_work_in_flight.saturating_sub(1);
    }

    pub(super) fn booting(&mut self, host: HostId) {
        self.hosts[host] = HostState::Booting;
        self.to_wait_ssh.push_back(host);
    }

    /// The bootstrap node on the same host as `node`, when `node` is a normal node whose
    /// subsystem has a bootstrap step.
    pub(super) fn bootstrap_twin(&self, node: NodeId) -> Option<NodeId> {
        let Node { step, host, .. } = self.nodes[node];
        let bootstrap = self.steps[step].bootstrap?;
        self.host_nodes[host]
            .iter()
            .copied()
            .find(|other| self.nodes[*other].step == bootstrap)
    }

    /// Queues `node` for its probe, unless it is a bootstrap node whose normal twin has not
    /// been probed yet.
    pub(super) fn release_probe(&mut self, node: NodeId) {
        if !matches!(self.nodes[node].state, NodeState::Pending)
            || !matches!(self.hosts[self.nodes[node].host], HostState::Up)
        {
            return;
        }
        if self.release_adoption(node) {
            return;
        }
        let Node { step, host, .. } = self.nodes[node];
        if let Some(normal) = self.steps[step].normal {
            let twin_unprobed = self.host_nodes[host].iter().any(|other| {
                self.nodes[*other].step == normal
                    && matches!(
                        self.nodes[*other].state,
                        NodeState::Pending | NodeState::Probing
                    )
            });
            if twin_unprobed {
                return;
            }
        }
        self.to_probe.push_back(node);
    }

    pub(super) fn queue(&mut self, node: NodeId) {
        let step = self.nodes[node].step;
        self.nodes[node].state = NodeState::Queued;
        self.ready.push(step, node);
    }

    /// Queues a node whose dependencies are ready, unless its step starts its members in
    /// a data-aware order and this one must read its value or wait for the first member.
    pub(super) fn release(&mut self, node: NodeId) {
        let step = self.nodes[node].step;
        match self.order[step].as_mut().map(|order| order.admit(node)) {
            None | Some(Admission::Go) => self.queue(node),
            Some(Admission::Read) => self.to_read.push_back(node),
            Some(Admission::Wait) => {}
        }
    }

    pub(super) fn choose_first_member(&mut self, step: StepId) {
        let live: Vec<NodeId> = self.step_nodes[step]
            .iter()
            .copied()
            .filter(|n| !matches!(self.nodes[*n].state, NodeState::Failed { .. }))
            .collect();
        let waiting: Vec<NodeId> = live
            .iter()
            .copied()
            .filter(|n| matches!(self.nodes[*n].state, NodeState::Waiting))
            .collect();
        let Some(order) = self.order[step].as_mut() else {
            return;
        };
        if live.len() != waiting.len() {
            // A member is still being probed, starting or already healthy: wait for it.
            return;
        }
        match order.choose(&live, &waiting) {
            Choice::Leader(node) => self.queue(node),
            Choice::Refused(detail) => {
                self.held[step] = Some(Reason::OrderingRefused { detail });
                self.refresh(step);
            }
            Choice::NotYet => {}
        }
    }

    /// Settles `node` in `state` and returns its step, unless it was settled already.
    fn settle(&mut self, node: NodeId, state: NodeState) -> Option<StepId> {
        if self.nodes[node].state.is_settled() {
            return None;
        }
        self.nodes[node].state = state;
        Some(self.nodes[node].step)
    }

    pub(super) fn node_healthy(&mut self, node: NodeId, already: bool) {
        let Some(step) = self.settle(node, NodeState::Healthy { already }) else {
            return;
        };
        self.healthy[step] += 1;
        if let Some(order) = &mut self.order[step] {
            // The first healthy member, chosen or found running, leads: the others follow.
            order.leader_healthy = true;
        }
        self.refresh(step);
    }

    pub(super) fn node_failed(&mut self, node: NodeId, reason: Reason) {
        let Some(step) = self.settle(node, NodeState::Failed { reason }) else {
            return;
        };
        self.adopting.remove(&node);
        self.failed[step] += 1;
        if self.stop_on_failure {
            self.stopping = true;
        }
        if let Some(order) = &mut self.order[step] {
            order.drop_member(node);
        }
        if let Some(spare) = self.steps[step].unused_spares.pop_front() {
            self.add_node(step, spare, true);
        }
        self.refresh(step);
        self.choose_first_member(step);
    }

    pub(super) fn host_failed(&mut self, host: HostId, reason: Reason) {
        self.hosts[host] = HostState::Failed {
            reason: reason.clone(),
        };
        for node in self.host_nodes[host].clone() {
            self.node_failed(node, reason.clone());
        }
    }

    pub(super) fn rearm(&mut self, node: NodeId) {
        if !matches!(self.nodes[node].state, NodeState::Failed { .. }) {
            return;
        }
        let step = self.nodes[node].step;
        let host = self.nodes[node].host;
        self.failed[step] -= 1;
        self.nodes[node].attempts = 0;
        self.nodes[node].interrupted = 0;
        self.nodes[node].state = NodeState::Pending;
        self.rearmed.push(node);
        match self.hosts[host] {
            HostState::Failed { .. } => {
                self.hosts[host] = HostState::CheckingPower;
                self.skip_read[host] = false;
                self.to_check.push_back(host);
            }
            HostState::Up => self.release_probe(node),
            _ => {}
        }
        self.refresh(step);
    }
}
