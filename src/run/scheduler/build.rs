//! Building the scheduler for a plan: the node table (members and spares), per-step
//! facts, power domains, and the ready queue with its priorities computed once.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::ready_queue::{self, GroupSpec, ReadyQueue};
use super::{Scheduler, StepInfo};
use crate::event::state::{HostState, Node, NodeState, StepStatus};
use crate::event::NodeId;
use crate::graph::Mode;
use crate::plan::{Plan, StepId};
use crate::run::ordering::MemberOrder;
use crate::run::rate::PowerOnLimiter;
use crate::topology::{HostId, Priority, Topology};

impl Scheduler {
    /// A scheduler for `plan`, with every host still to be checked. `seed` makes the retry
    /// jitter reproducible.
    // Past 80 lines only by the literal below, one line per field of the state; what is
    // computed is in `step_infos`, `power_domains` and `ready_queue`.
    pub fn new(topology: &Topology, plan: &Plan, seed: u64) -> Scheduler {
        let step_count = plan.steps.len();
        let steps = step_infos(plan, topology);
        let ready = ready_queue(topology, plan);
        let (host_domain, domains) = power_domains(topology);
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

    pub(super) fn add_node(&mut self, step: StepId, host: HostId, spare: bool) -> NodeId {
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
}

/// The ready queue of `plan`'s steps. Tier first: a severity step outweighs any chain of
/// work (a millisecond rank never reaches 10^12). Critical path first: severity only
/// breaks ties. Dependents wait for the quorum, not every host: a step's own cost is the
/// time from its dependencies' quorums to its own (a rolling start spans several nodes).
pub(super) fn ready_queue(topology: &Topology, plan: &Plan) -> ReadyQueue<NodeId> {
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

/// Per-step facts fixed for the run: dependencies both ways, retries, spares, and which
/// steps are a subsystem's bootstrap and normal modes.
fn step_infos(plan: &Plan, topology: &Topology) -> Vec<StepInfo> {
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
    steps
}

/// Each host's power domain by index, and how many domains there are.
fn power_domains(topology: &Topology) -> (Vec<usize>, usize) {
    // Domains by index, from borrowed names: a drill builds a scheduler per run, and
    // copying each host's domain name twice was a twentieth of its time.
    let mut domain_index: HashMap<&str, usize> = HashMap::new();
    let host_domain: Vec<usize> = topology
        .hosts
        .iter()
        .map(|host| {
            let name = host.power_domain.as_deref().unwrap_or("default");
            let next = domain_index.len();
            *domain_index.entry(name).or_insert(next)
        })
        .collect();
    let domains = domain_index.len();
    (host_domain, domains)
}
