//! The scheduler: a pure state machine. It takes events and the current time, and decides
//! the next actions. It never sleeps, never touches the network and never reads a clock, so
//! the same code drives a real night, a simulated drill and the unit tests.
//!
//! Like cargo's job queue, ready work is handed out by priority: higher tiers first (a
//! dependency inherits the most severe tier of what needs it), then the longest remaining
//! chain of work (the critical path).

mod events;
mod host_loss;
#[cfg(test)]
mod incidents;
#[cfg(test)]
mod incidents_retry;
mod power_off;
pub mod ready_queue;
mod resume;
#[cfg(test)]
mod sim;
mod status;
#[cfg(test)]
mod tests;

pub use host_loss::{HostLoss, MAX_HOST_LOSSES};
pub use power_off::PowerOffProgress;
pub use resume::{AdoptedAfter, Adoption, InFlightStart};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use self::ready_queue::{GroupSpec, Readiness, ReadyQueue};
use super::ordering::MemberOrder;
use super::rate::PowerOnLimiter;
use crate::event::state::{HostState, Node, NodeState, StepStatus};
use crate::event::{Action, NodeId, Reason};
use crate::graph::Mode;
use crate::plan::{Plan, StepId};
use crate::topology::{HostId, Priority, RetryPolicy, Topology};

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
    /// A scheduler for `plan`, with every host still to be checked. `seed` makes the retry
    /// jitter reproducible.
    pub fn new(topology: &Topology, plan: &Plan, seed: u64) -> Scheduler {
        let step_count = plan.steps.len();
        let mut steps: Vec<StepInfo> = plan
            .steps
            .iter()
            .map(|step| {
                let subsystem = &topology.subsystems[step.step.subsystem];
                StepInfo {
                    requires: step.requires.clone(),
                    wants: step.wants.clone(),
                    dependents: Vec::new(),
                    required_healthy: step.required_healthy,
                    retry: subsystem.retry,
                    unused_spares: step.spares.iter().copied().collect(),
                    bootstrap: None,
                    normal: None,
                    human: subsystem.kind.is_human(),
                }
            })
            .collect();
        let mut by_subsystem: HashMap<(usize, Mode), StepId> = HashMap::new();
        for (id, step) in plan.steps.iter().enumerate() {
            by_subsystem.insert((step.step.subsystem, step.step.mode), id);
            for &dependency in step.requires.iter().chain(&step.wants) {
                steps[dependency].dependents.push(id);
            }
        }
        for (id, step) in plan.steps.iter().enumerate() {
            if step.step.mode == Mode::Bootstrap {
                let normal = by_subsystem[&(step.step.subsystem, Mode::Normal)];
                steps[id].normal = Some(normal);
                steps[normal].bootstrap = Some(id);
            }
        }
        let ready = ready_queue(topology, plan);
        // Domains by index, from borrowed names: a drill builds a scheduler per run, and
        // copying each host's domain name twice was a twentieth of its time.
        let mut domain_index: HashMap<&str, usize> = HashMap::new();
        let host_domain = topology
            .hosts
            .iter()
            .map(|host| {
                let name = host.power_domain.as_deref().unwrap_or("default");
                let next = domain_index.len();
                *domain_index.entry(name).or_insert(next)
            })
            .collect();
        let domains = domain_index.len();
        let host_count = topology.hosts.len();
        let mut scheduler = Scheduler {
            parallelism: topology.policy.parallelism.max(1) as usize,
            status: vec![StepStatus::Waiting; step_count],
            healthy: vec![0; step_count],
            failed: vec![0; step_count],
            nodes: Vec::new(),
            hosts: vec![HostState::Unknown; host_count],
            host_nodes: vec![Vec::new(); host_count],
            step_nodes: vec![Vec::new(); step_count],
            host_domain,
            host_priority: vec![(u8::MAX, 0); host_count],
            domain_queue: vec![BinaryHeap::new(); domains],
            domain_scheduled: vec![false; domains],
            domain_wakeups: BinaryHeap::new(),
            limiter: PowerOnLimiter::new(
                topology.policy.power_on_per_window,
                topology.policy.power_on_window,
            ),
            to_check: VecDeque::new(),
            skip_read: topology
                .hosts
                .iter()
                .map(|host| {
                    host.bmc
                        .as_ref()
                        .is_some_and(|bmc| !crate::plan::power::reads_power_before_on(bmc))
                })
                .collect(),
            checks_in_flight: 0,
            check_window: usize::MAX,
            to_wait_ssh: VecDeque::new(),
            to_recheck: VecDeque::new(),
            prepared: vec![false; host_count],
            host_losses: Vec::new(),
            to_probe: VecDeque::new(),
            to_adopt: VecDeque::new(),
            adopting: HashMap::new(),
            adoptions: Vec::new(),
            started_at: Vec::new(),
            rearmed: Vec::new(),
            ready,
            waiting: vec![Vec::new(); step_count],
            backoff: BinaryHeap::new(),
            node_work_in_flight: 0,
            host_work_in_flight: 0,
            stopping: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            acknowledged: vec![None; step_count],
            held: vec![None; step_count],
            order: plan
                .steps
                .iter()
                .map(|step| {
                    let rule = topology.subsystems[step.step.subsystem].order.as_ref();
                    rule.filter(|_| step.step.mode == Mode::Normal)
                        .map(|rule| MemberOrder::new(rule.first, rule.guard))
                })
                .collect(),
            to_read: VecDeque::new(),
            stop_on_failure: false,
            awaiting_people: 0,
            changed: Vec::new(),
            power_off: None,
            power_on_count: topology.policy.power_on_per_window,
            power_on_window: topology.policy.power_on_window,
            steps,
        };
        for (step_id, step) in plan.steps.iter().enumerate() {
            for &host in &step.hosts {
                scheduler.add_node(step_id, host, false);
            }
        }
        for id in 0..step_count {
            scheduler.refresh(id);
        }
        scheduler
    }

    /// The same scheduler with its retry jitter seeded by `seed`: exactly what
    /// [`Scheduler::new`] gives for `seed`, when called before any event (building a
    /// scheduler draws nothing). A drill builds one per series and copies it per run.
    pub fn reseeded(mut self, seed: u64) -> Scheduler {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self
    }

    fn add_node(&mut self, step: StepId, host: HostId, spare: bool) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            step,
            host,
            spare,
            state: NodeState::Pending,
            attempts: 0,
            interrupted: 0,
            probe_before_retry: false,
        });
        self.host_nodes[host].push(id);
        self.step_nodes[step].push(id);
        self.started_at.push(Duration::ZERO);
        let info = self.ready.priority(step);
        let (tier, rank) = self.host_priority[host];
        self.host_priority[host] = (tier.min(info.tier), rank.max(info.rank));
        match self.hosts[host] {
            HostState::Unknown => {
                self.hosts[host] = HostState::CheckingPower;
                self.to_check.push_back(host);
            }
            HostState::Up => self.release_probe(id),
            _ => {}
        }
        id
    }

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

    fn power_on_due(&mut self, now: Duration, actions: &mut Vec<Action>) {
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

    fn schedule_domain(&mut self, domain: usize, at: Duration) {
        if !self.domain_scheduled[domain] {
            self.domain_scheduled[domain] = true;
            self.domain_wakeups.push(Reverse((at, domain)));
        }
    }
}

/// The ready queue of `plan`'s steps. Tier first: a severity step outweighs any chain of
/// work (a millisecond rank never reaches 10^12). Critical path first: severity only
/// breaks ties. Dependents wait for the quorum, not every host: a step's own cost is the
/// time from its dependencies' quorums to its own (a rolling start spans several nodes).
fn ready_queue(topology: &Topology, plan: &Plan) -> ReadyQueue<NodeId> {
    let tier_weight: u64 = match topology.policy.priority {
        Priority::Tier => 1_000_000_000_000,
        Priority::CriticalPath => 0,
    };
    let specs: Vec<GroupSpec> = plan
        .steps
        .iter()
        .map(|step| GroupSpec {
            cost: step
                .ready_at
                .saturating_sub(step.earliest_start)
                .as_millis() as u64,
            tier: topology.subsystems[step.step.subsystem].tier.0,
            deps: step.requires.iter().chain(&step.wants).copied().collect(),
        })
        .collect();
    let quorums: Vec<usize> = plan.steps.iter().map(|s| s.required_healthy).collect();
    let caps: Vec<usize> = plan
        .steps
        .iter()
        .map(|step| {
            let subsystem = &topology.subsystems[step.step.subsystem];
            subsystem.max_parallel.map_or(usize::MAX, |n| n as usize)
        })
        .collect();
    ReadyQueue::new(
        ready_queue::priorities(&specs, tier_weight),
        &quorums,
        &caps,
    )
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
