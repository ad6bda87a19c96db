//! The scheduler: a pure state machine. It takes events and the current time, and decides
//! the next actions. It never sleeps, never touches the network and never reads a clock, so
//! the same code drives a real night, a simulated drill and the unit tests.
//!
//! Like cargo's job queue, ready work is handed out by priority: higher tiers first (a
//! dependency inherits the most severe tier of what needs it), then the longest remaining
//! chain of work (the critical path).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::event::{Action, Event, NodeId, PowerReport};
use super::ordering::{Admission, Choice, MemberOrder};
use super::rate::PowerOnLimiter;
use super::state::{HostState, Node, NodeState, StepStatus};
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
    max_parallel: usize,
    retry: RetryPolicy,
    tier: u8,
    rank: u64,
    unused_spares: VecDeque<HostId>,
    /// For a normal step with a bootstrap mode: the bootstrap step.
    bootstrap: Option<StepId>,
    /// For a bootstrap step: the normal step.
    normal: Option<StepId>,
    /// A manual step or gate: ready when acknowledged.
    human: bool,
}

/// Priority of ready work: most severe tier first, then the longest remaining chain.
type Rank = (u64, Reverse<u8>, Reverse<usize>);

/// Decides what to do next, from state and events only.
#[derive(Debug, Clone)]
pub struct Scheduler {
    parallelism: usize,
    steps: Vec<StepInfo>,
    status: Vec<StepStatus>,
    healthy: Vec<usize>,
    failed: Vec<usize>,
    starting: Vec<usize>,
    nodes: Vec<Node>,
    hosts: Vec<HostState>,
    host_nodes: Vec<Vec<NodeId>>,
    step_nodes: Vec<Vec<NodeId>>,
    host_domain: Vec<usize>,
    host_priority: Vec<(u8, u64)>,
    domains: Vec<String>,
    domain_queue: Vec<BinaryHeap<Rank>>,
    domain_wakeups: BinaryHeap<Reverse<(Duration, usize)>>,
    domain_scheduled: Vec<bool>,
    limiter: PowerOnLimiter,
    to_check: VecDeque<HostId>,
    to_wait_ssh: VecDeque<HostId>,
    to_probe: VecDeque<NodeId>,
    ready: BinaryHeap<Rank>,
    /// Per step: queued nodes set aside while the step is at its `max_parallel`; one moves
    /// back to `ready` each time a start of the step ends. Keeping them out of `ready`
    /// stops every call from popping and re-pushing them all (quadratic on big steps).
    capped: Vec<BinaryHeap<Rank>>,
    backoff: BinaryHeap<Reverse<(Duration, NodeId)>>,
    node_work_in_flight: usize,
    host_work_in_flight: usize,
    stopping: bool,
    rng: ChaCha8Rng,
    /// Per step: who acknowledged it (manual steps and gates).
    acknowledged: Vec<Option<String>>,
    /// Per step: why it is held back (failed preflight, refused guard).
    held: Vec<Option<String>>,
    /// Per step: data-aware member ordering.
    order: Vec<Option<MemberOrder>>,
    to_read: VecDeque<NodeId>,
    stop_on_failure: bool,
    /// Manual steps and gates shown and waiting for a person.
    awaiting_people: usize,
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
                    max_parallel: subsystem.max_parallel.map_or(usize::MAX, |n| n as usize),
                    retry: subsystem.retry,
                    tier: subsystem.tier.0,
                    rank: 0,
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
        // Tier first: a severity step outweighs any chain of work (a millisecond rank never
        // reaches 10^12). Critical path first: severity only breaks ties.
        let tier_weight: u64 = match topology.policy.priority {
            Priority::Tier => 1_000_000_000_000,
            Priority::CriticalPath => 0,
        };
        // Plan steps are in dependency order: walk backwards to inherit rank and tier.
        for id in (0..step_count).rev() {
            // A rolling start spans several durations: rank by the span, not one node.
            let span = plan.steps[id]
                .ready_at
                .saturating_sub(plan.steps[id].earliest_start);
            let own = span.as_millis() as u64;
            // Severity weighs in as work still to come after the step: a chain that ends in
            // an S1 step looks longer (more urgent) than one that ends in S4.
            let severity = tier_weight * u64::from(9u8.saturating_sub(steps[id].tier));
            let (rank, tier) = steps[id].dependents.iter().fold(
                (severity, steps[id].tier),
                |(rank, tier), &dependent| {
                    (
                        rank.max(steps[dependent].rank),
                        tier.min(steps[dependent].tier),
                    )
                },
            );
            steps[id].rank = own + rank;
            steps[id].tier = tier;
        }

        let mut domain_index: HashMap<String, usize> = HashMap::new();
        let mut domains = Vec::new();
        let host_domain = topology
            .hosts
            .iter()
            .map(|host| {
                let name = host
                    .power_domain
                    .clone()
                    .unwrap_or_else(|| "default".into());
                *domain_index.entry(name.clone()).or_insert_with(|| {
                    domains.push(name);
                    domains.len() - 1
                })
            })
            .collect();
        let host_count = topology.hosts.len();
        let mut scheduler = Scheduler {
            parallelism: topology.policy.parallelism.max(1) as usize,
            status: vec![StepStatus::Waiting; step_count],
            healthy: vec![0; step_count],
            failed: vec![0; step_count],
            starting: vec![0; step_count],
            nodes: Vec::new(),
            hosts: vec![HostState::Unknown; host_count],
            host_nodes: vec![Vec::new(); host_count],
            step_nodes: vec![Vec::new(); step_count],
            host_domain,
            host_priority: vec![(u8::MAX, 0); host_count],
            domain_queue: vec![BinaryHeap::new(); domains.len()],
            domain_scheduled: vec![false; domains.len()],
            domains,
            domain_wakeups: BinaryHeap::new(),
            limiter: PowerOnLimiter::new(
                topology.policy.power_on_per_window,
                topology.policy.power_on_window,
            ),
            to_check: VecDeque::new(),
            to_wait_ssh: VecDeque::new(),
            to_probe: VecDeque::new(),
            ready: BinaryHeap::new(),
            capped: vec![BinaryHeap::new(); step_count],
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

    fn add_node(&mut self, step: StepId, host: HostId, spare: bool) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node {
            step,
            host,
            spare,
            state: NodeState::Pending,
            attempts: 0,
        });
        self.host_nodes[host].push(id);
        self.step_nodes[step].push(id);
        let info = &self.steps[step];
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

    /// Every step's status, by step id.
    pub fn statuses(&self) -> &[StepStatus] {
        &self.status
    }

    /// Healthy nodes of `step`.
    pub fn healthy_count(&self, step: StepId) -> usize {
        self.healthy[step]
    }

    /// Stops handing out work; what is in flight finishes.
    /// Stop launching new work at the first node that fails for good (`on_failure: stop`).
    pub fn stop_on_failure(&mut self) {
        self.stop_on_failure = true;
    }

    /// Who acknowledged each step, by step id.
    pub fn acknowledgements(&self) -> &[Option<String>] {
        &self.acknowledged
    }

    /// Why each step is held, by step id.
    pub fn holds(&self) -> &[Option<String>] {
        &self.held
    }

    /// True when the step is done by people (manual step or gate).
    pub fn is_human(&self, step: StepId) -> bool {
        self.steps[step].human
    }

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
        if self.stopping {
            return actions;
        }
        while let Some(host) = self.to_check.pop_front() {
            self.host_work_in_flight += 1;
            actions.push(Action::CheckPower { host });
        }
        while let Some(host) = self.to_wait_ssh.pop_front() {
            self.host_work_in_flight += 1;
            actions.push(Action::WaitSsh { host });
        }
        self.power_on_due(now, &mut actions);
        while let Some(Reverse((until, node))) = self.backoff.peek().copied() {
            if until > now {
                break;
            }
            self.backoff.pop();
            if matches!(self.nodes[node].state, NodeState::Backoff { .. }) {
                self.queue(node);
            }
        }
        while self.node_work_in_flight < self.parallelism {
            let Some(node) = self.to_probe.pop_front() else {
                break;
            };
            if self.nodes[node].state == NodeState::Pending {
                self.nodes[node].state = NodeState::Probing;
                self.node_work_in_flight += 1;
                actions.push(Action::Probe { node });
            }
        }
        while self.node_work_in_flight < self.parallelism {
            let Some(node) = self.to_read.pop_front() else {
                break;
            };
            if self.nodes[node].state == NodeState::Waiting {
                self.node_work_in_flight += 1;
                actions.push(Action::ReadValue { node });
            }
        }
        while self.node_work_in_flight < self.parallelism {
            let Some(priority) = self.ready.pop() else {
                break;
            };
            let node = priority.2 .0;
            if self.nodes[node].state != NodeState::Queued {
                continue;
            }
            let step = self.nodes[node].step;
            if self.starting[step] >= self.steps[step].max_parallel {
                self.capped[step].push(priority);
                continue;
            }
            let attempt = self.nodes[node].attempts + 1;
            self.nodes[node].state = NodeState::Starting { attempt };
            self.starting[step] += 1;
            self.node_work_in_flight += 1;
            actions.push(Action::Start { node, attempt });
        }
        actions
    }

    fn power_on_due(&mut self, now: Duration, actions: &mut Vec<Action>) {
        while let Some(Reverse((time, domain))) = self.domain_wakeups.peek().copied() {
            if time > now {
                break;
            }
            self.domain_wakeups.pop();
            self.domain_scheduled[domain] = false;
            let name = self.domains[domain].clone();
            while self.limiter.next_slot(&name, now) <= now {
                let Some(priority) = self.domain_queue[domain].pop() else {
                    break;
                };
                let host = priority.2 .0;
                self.limiter.record(&name, now);
                self.hosts[host] = HostState::PoweringOn;
                self.host_work_in_flight += 1;
                actions.push(Action::PowerOn { host });
            }
            if !self.domain_queue[domain].is_empty() {
                let slot = self.limiter.next_slot(&name, now);
                self.schedule_domain(domain, slot);
            }
        }
    }

    fn schedule_domain(&mut self, domain: usize, at: Duration) {
        if !self.domain_scheduled[domain] {
            self.domain_scheduled[domain] = true;
            self.domain_wakeups.push(Reverse((at, domain)));
        }
    }

    /// Takes in what happened at `now`.
    pub fn handle(&mut self, now: Duration, event: &Event) {
        match event {
            Event::PowerChecked { host, result } => {
                self.host_done();
                match result {
                    Ok(PowerReport::On | PowerReport::NoBmc) => self.booting(*host),
                    Ok(PowerReport::Off) => {
                        self.hosts[*host] = HostState::Off;
                        let (tier, rank) = self.host_priority[*host];
                        let domain = self.host_domain[*host];
                        self.domain_queue[domain].push((rank, Reverse(tier), Reverse(*host)));
                        self.schedule_domain(domain, now);
                    }
                    Err(reason) => self.host_failed(*host, format!("BMC: {reason}")),
                }
            }
            Event::PoweredOn { host, result } => {
                self.host_done();
                match result {
                    Ok(()) => self.booting(*host),
                    Err(reason) => self.host_failed(*host, format!("power on: {reason}")),
                }
            }
            Event::SshReady { host, result } => {
                self.host_done();
                match result {
                    Ok(()) => {
                        self.hosts[*host] = HostState::Up;
                        for node in self.host_nodes[*host].clone() {
                            self.release_probe(node);
                        }
                    }
                    Err(reason) => self.host_failed(*host, format!("SSH: {reason}")),
                }
            }
            Event::Probed { node, healthy, .. } => {
                self.node_work_in_flight = self.node_work_in_flight.saturating_sub(1);
                let node = *node;
                if *healthy {
                    self.node_healthy(node, true);
                } else {
                    self.nodes[node].state = NodeState::Waiting;
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
            } => {
                let node = *node;
                let step = self.nodes[node].step;
                self.node_work_in_flight = self.node_work_in_flight.saturating_sub(1);
                self.starting[step] = self.starting[step].saturating_sub(1);
                while let Some(priority) = self.capped[step].pop() {
                    if self.nodes[priority.2 .0].state == NodeState::Queued {
                        self.ready.push(priority);
                        break;
                    }
                }
                self.nodes[node].attempts = self.nodes[node].attempts.max(*attempt);
                match result {
                    Ok(()) => self.node_healthy(node, false),
                    Err(reason) => {
                        let retry = self.steps[step].retry;
                        let attempts = self.nodes[node].attempts;
                        if attempts < retry.attempts {
                            let base = retry.backoff_before(attempts + 1);
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

    fn host_done(&mut self) {
        self.host_work_in_flight = self.host_work_in_flight.saturating_sub(1);
    }

    fn booting(&mut self, host: HostId) {
        self.hosts[host] = HostState::Booting;
        self.to_wait_ssh.push_back(host);
    }

    /// The bootstrap node on the same host as `node`, when `node` is a normal node whose
    /// subsystem has a bootstrap step.
    fn bootstrap_twin(&self, node: NodeId) -> Option<NodeId> {
        let Node { step, host, .. } = self.nodes[node];
        let bootstrap = self.steps[step].bootstrap?;
        self.host_nodes[host]
            .iter()
            .copied()
            .find(|other| self.nodes[*other].step == bootstrap)
    }

    /// Queues `node` for its probe, unless it is a bootstrap node whose normal twin has not
    /// been probed yet.
    fn release_probe(&mut self, node: NodeId) {
        if self.nodes[node].state != NodeState::Pending
            || self.hosts[self.nodes[node].host] != HostState::Up
        {
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

    fn queue(&mut self, node: NodeId) {
        let step = self.nodes[node].step;
        self.nodes[node].state = NodeState::Queued;
        let info = &self.steps[step];
        self.ready
            .push((info.rank, Reverse(info.tier), Reverse(node)));
    }

    /// Queues a node whose dependencies are ready, unless its step starts its members in
    /// a data-aware order and this one must read its value or wait for the first member.
    fn release(&mut self, node: NodeId) {
        let step = self.nodes[node].step;
        match self.order[step].as_mut().map(|order| order.admit(node)) {
            None | Some(Admission::Go) => self.queue(node),
            Some(Admission::Read) => self.to_read.push_back(node),
            Some(Admission::Wait) => {}
        }
    }

    fn choose_first_member(&mut self, step: StepId) {
        let live: Vec<NodeId> = self.step_nodes[step]
            .iter()
            .copied()
            .filter(|n| !matches!(self.nodes[*n].state, NodeState::Failed { .. }))
            .collect();
        let waiting: Vec<NodeId> = live
            .iter()
            .copied()
            .filter(|n| self.nodes[*n].state == NodeState::Waiting)
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
            Choice::Refused(reason) => {
                self.held[step] = Some(reason);
                self.refresh(step);
            }
            Choice::NotYet => {}
        }
    }

    fn node_healthy(&mut self, node: NodeId, already: bool) {
        if self.nodes[node].state.is_settled() {
            return;
        }
        let step = self.nodes[node].step;
        self.nodes[node].state = NodeState::Healthy { already };
        self.healthy[step] += 1;
        if let Some(order) = &mut self.order[step] {
            // The first healthy member, chosen or found running, leads: the others follow.
            order.leader_healthy = true;
        }
        self.refresh(step);
    }

    fn node_failed(&mut self, node: NodeId, reason: String) {
        if self.nodes[node].state.is_settled() {
            return;
        }
        let step = self.nodes[node].step;
        self.nodes[node].state = NodeState::Failed { reason };
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

    fn host_failed(&mut self, host: HostId, reason: String) {
        self.hosts[host] = HostState::Failed {
            reason: reason.clone(),
        };
        for node in self.host_nodes[host].clone() {
            self.node_failed(node, format!("host {}", reason));
        }
    }

    fn rearm(&mut self, node: NodeId) {
        if !matches!(self.nodes[node].state, NodeState::Failed { .. }) {
            return;
        }
        let step = self.nodes[node].step;
        let host = self.nodes[node].host;
        self.failed[step] -= 1;
        self.nodes[node].attempts = 0;
        self.nodes[node].state = NodeState::Pending;
        match self.hosts[host] {
            HostState::Failed { .. } => {
                self.hosts[host] = HostState::CheckingPower;
                self.to_check.push_back(host);
            }
            HostState::Up => self.release_probe(node),
            _ => {}
        }
        self.refresh(step);
    }

    fn deps_ready(&self, step: StepId) -> bool {
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

    fn compute_status(&self, step: StepId) -> StepStatus {
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

    /// After replaying a journal: forget everything that was in flight or merely believed,
    /// and check it again. Hosts are re-checked, every node that has not failed is probed
    /// again (a node healthy before the interruption is found healthy and never restarted),
    /// attempts and failures are kept.
    pub fn prepare_resume(&mut self) {
        self.node_work_in_flight = 0;
        self.host_work_in_flight = 0;
        self.to_check.clear();
        self.to_wait_ssh.clear();
        self.to_probe.clear();
        self.to_read.clear();
        self.order.iter_mut().flatten().for_each(MemberOrder::reset);
        self.ready.clear();
        self.capped.iter_mut().for_each(BinaryHeap::clear);
        self.backoff.clear();
        self.domain_wakeups.clear();
        self.domain_queue.iter_mut().for_each(BinaryHeap::clear);
        self.domain_scheduled
            .iter_mut()
            .for_each(|scheduled| *scheduled = false);
        self.starting.iter_mut().for_each(|count| *count = 0);
        self.healthy.iter_mut().for_each(|count| *count = 0);
        for node in &mut self.nodes {
            if !matches!(node.state, NodeState::Failed { .. }) {
                node.state = NodeState::Pending;
            }
        }
        for host in 0..self.hosts.len() {
            let live = self.host_nodes[host]
                .iter()
                .any(|node| self.nodes[*node].state == NodeState::Pending);
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
    fn refresh(&mut self, step: StepId) {
        let mut work = vec![step];
        while let Some(step) = work.pop() {
            let status = self.compute_status(step);
            if self.deps_ready(step) {
                let waiting: Vec<NodeId> = self.step_nodes[step]
                    .iter()
                    .copied()
                    .filter(|node| self.nodes[*node].state == NodeState::Waiting)
                    .collect();
                for node in waiting {
                    self.release(node);
                }
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
                work.extend(self.steps[step].dependents.iter().copied());
            }
        }
    }
}
