//! The scheduler: a pure state machine. It takes events and the current time, and decides
//! the next actions. It never sleeps, never touches the network and never reads a clock, so
//! the same code drives a real night, a simulated drill and the unit tests.
//!
//! Like cargo's job queue, ready work is handed out by priority: higher tiers first (a
//! dependency inherits the most severe tier of what needs it), then the longest remaining
//! chain of work (the critical path).

mod build;
mod events;
mod host_loss;
#[cfg(test)]
mod incidents;
#[cfg(test)]
mod incidents_retry;
mod next;
mod power_off;
pub mod ready_queue;
mod resume;
#[cfg(test)]
mod sim;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_host_loss;

pub use host_loss::{HostLoss, MAX_HOST_LOSSES};
pub use power_off::PowerOffProgress;
pub use resume::{AdoptedAfter, Adoption, InFlightStart};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use self::ready_queue::ReadyQueue;
use super::ordering::MemberOrder;
use super::rate::PowerOnLimiter;
use crate::event::state::{HostState, Node, NodeState, StepStatus};
use crate::event::{NodeId, Reason};
use crate::plan::StepId;
use crate::topology::{HostId, RetryPolicy};

/// Per-step facts the scheduler needs, fixed for the run.
#[derive(Debug, Clone)]
struct StepInfo {
    requires: Vec<StepId>,
    wants: Vec<StepId>,
    dependents: Vec<StepId>,
    required_healthy: usize,
    retry: RetryPolicy,
    unused_spares: VecDeque<HostId>,
    /// For a normal step with a bootstrap mode: the bootstrap step.
    bootstrap: Option<StepId>,
    /// For a bootstrap step: the normal step.
    normal: Option<StepId>,
    /// A manual step or gate: ready when acknowledged.
    human: bool,
}

/// Priority of a host waiting for power-on: most severe tier first, then the longest
/// remaining chain.
type Rank = (u64, Reverse<u8>, Reverse<usize>);

/// Decides what to do next, from state and events only.
#[derive(Debug, Clone)]
pub struct Scheduler {
    parallelism: usize,
    steps: Vec<StepInfo>,
    status: Vec<StepStatus>,
    healthy: Vec<usize>,
    failed: Vec<usize>,
    nodes: Vec<Node>,
    hosts: Vec<HostState>,
    host_nodes: Vec<Vec<NodeId>>,
    step_nodes: Vec<Vec<NodeId>>,
    host_domain: Vec<usize>,
    host_priority: Vec<(u8, u64)>,
    domain_queue: Vec<BinaryHeap<Rank>>,
    domain_wakeups: BinaryHeap<Reverse<(Duration, usize)>>,
    domain_scheduled: Vec<bool>,
    limiter: PowerOnLimiter,
    to_check: VecDeque<HostId>,
    /// Per host: its first power read is skipped and it is switched on at once. True for
    /// hosts whose BMC switches on harmlessly when already on (IPMI), until a resume or a
    /// re-arm, where the state is unknown again and a read decides.
    skip_read: Vec<bool>,
    /// Power checks handed out and not answered yet, and how many may be.
    checks_in_flight: usize,
    check_window: usize,
    to_wait_ssh: VecDeque<HostId>,
    /// Hosts that stopped answering, to be asked about through their BMCs.
    to_recheck: VecDeque<(HostId, Reason)>,
    /// Per host: its preparation steps ran since its last power-on.
    prepared: Vec<bool>,
    host_losses: Vec<HostLoss>,
    to_probe: VecDeque<NodeId>,
    /// Nodes whose adopted start is to be watched (their hosts answer).
    to_adopt: VecDeque<NodeId>,
    /// Adopted starts not watched to their end yet: node to its index in `adoptions`.
    adopting: HashMap<NodeId, usize>,
    adoptions: Vec<Adoption>,
    /// Per node: when its last start was handed out.
    started_at: Vec<Duration>,
    /// Nodes re-armed by a person (some may have moved on since).
    rearmed: Vec<NodeId>,
    /// Queued nodes by step, best first, with each step's priority and starts in flight.
    ready: ReadyQueue<NodeId>,
    /// Per step: nodes that were set `Waiting` (some may have moved on since). Releasing
    /// them walks this short list, not every node of the step on every event (quadratic on
    /// big steps: a thousand-host step made this a tenth of a drill's time).
    waiting: Vec<Vec<NodeId>>,
    backoff: BinaryHeap<Reverse<(Duration, NodeId)>>,
    node_work_in_flight: usize,
    host_work_in_flight: usize,
    stopping: bool,
    rng: ChaCha8Rng,
    /// Per step: who acknowledged it (manual steps and gates).
    acknowledged: Vec<Option<String>>,
    /// Per step: why it is held back (failed preflight, refused guard).
    held: Vec<Option<Reason>>,
    /// Per step: data-aware member ordering.
    order: Vec<Option<MemberOrder>>,
    to_read: VecDeque<NodeId>,
    stop_on_failure: bool,
    /// Manual steps and gates shown and waiting for a person.
    awaiting_people: usize,
    /// Steps whose status changed, not yet taken by the driver.
    changed: Vec<StepId>,
    /// A real drill's power-off, done before anything else.
    power_off: Option<power_off::PowerOff>,
    /// Power-on (and power-off) commands per domain per window.
    power_on_count: u32,
    /// See `power_on_count`.
    power_on_window: Duration,
}

impl Scheduler {
    /// Every node, by id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every host's state, by host id.
    pub fn hosts(&self) -> &[HostState] {
        &self.hosts
    }

    /// Nodes of `step` re-armed by a person and not tried again yet (a stopped run's
    /// `retry`, waiting for `run --resume`).
    pub fn rearmed_waiting(&self, step: StepId) -> usize {
        self.rearmed
            .iter()
            .filter(|node| {
                self.nodes[**node].step == step
                    && matches!(self.nodes[**node].state, NodeState::Pending)
            })
            .count()
    }

    /// Every step's status, by step id.
    pub fn statuses(&self) -> &[StepStatus] {
        &self.status
    }

    /// Healthy nodes of `step`.
    pub fn healthy_count(&self, step: StepId) -> usize {
        self.healthy[step]
    }

    /// Hands out at most `window` power checks at a time (at least 1), first hosts first
    /// (dependency order). A real run sets it to the BMC transport's cap: checks launched all
    /// at once reach that cap in whatever order their tasks run, and on 1,000 hosts the
    /// first step's hosts were read last (75 s). Drills keep no window.
    pub fn limit_power_checks(&mut self, window: usize) {
        self.check_window = window.max(1);
    }

    /// Stop launching new work at the first node that fails for good (`on_failure: stop`).
    pub fn stop_on_failure(&mut self) {
        self.stop_on_failure = true;
    }

    /// Who acknowledged each step, by step id.
    pub fn acknowledgements(&self) -> &[Option<String>] {
        &self.acknowledged
    }

    /// Why each step is held, by step id.
    pub fn holds(&self) -> &[Option<Reason>] {
        &self.held
    }

    /// True when the step is done by people (manual step or gate).
    pub fn is_human(&self, step: StepId) -> bool {
        self.steps[step].human
    }

    /// Stops handing out work; what is in flight finishes.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// True once nothing is in flight and nothing more can happen.
    pub fn is_finished(&self) -> bool {
        let idle = self.node_work_in_flight == 0
            && self.host_work_in_flight == 0
            && (self.awaiting_people == 0 || self.stopping);
        idle && (self.stopping
            || (self.to_check.is_empty()
                && self.to_wait_ssh.is_empty()
                && self.to_recheck.is_empty()
                && self.to_adopt.is_empty()
                && self.to_probe.is_empty()
                && self.to_read.is_empty()
                && self.ready.is_empty()
                && self.backoff.is_empty()
                && self.domain_wakeups.is_empty()))
    }

    /// True when every step is ready.
    pub fn succeeded(&self) -> bool {
        self.status
            .iter()
            .all(|status| *status == StepStatus::Ready)
    }
}
