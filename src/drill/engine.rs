//! The discrete-event loop: asks the scheduler for actions, lets the simulated fleet carry
//! them out, and jumps the virtual clock to the next completion or scheduler wake-up.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use serde::Serialize;

use super::fleet::{FaultTally, Fleet};
use super::random::Draws;
use super::{DrillConfig, Injected};
use crate::plan::{Plan, StepId};
use crate::run::event::{Action, Event};
use crate::run::scheduler::Scheduler;
use crate::run::state::{NodeState, StepStatus};
use crate::topology::{HostId, Topology};

/// A topology and its plan, prepared for any number of simulated runs.
#[derive(Debug)]
pub struct Drill<'a> {
    /// The topology (with any overrides of parallelism or caps already applied).
    pub topology: &'a Topology,
    /// The plan the scheduler carries out.
    pub plan: &'a Plan,
    /// How the fleet behaves.
    pub config: DrillConfig,
    /// Per step: the steps that depend on it (hard or soft).
    dependents: Vec<Vec<StepId>>,
    /// Per host: the steps it may run, spares included.
    host_steps: Vec<Vec<StepId>>,
    /// Per step: its subsystem's tier.
    tiers: Vec<u8>,
    /// Faults placed on purpose.
    injected: Vec<Injected>,
}

impl<'a> Drill<'a> {
    /// Prepares drills of `plan` on `topology`.
    pub fn new(topology: &'a Topology, plan: &'a Plan, config: DrillConfig) -> Drill<'a> {
        let mut dependents = vec![Vec::new(); plan.steps.len()];
        let mut host_steps = vec![Vec::new(); topology.hosts.len()];
        for (id, step) in plan.steps.iter().enumerate() {
            for &dependency in step.requires.iter().chain(&step.wants) {
                dependents[dependency].push(id);
            }
            for &host in step.hosts.iter().chain(&step.spares) {
                let list: &mut Vec<StepId> = &mut host_steps[host];
                if list.last() != Some(&id) {
                    list.push(id);
                }
            }
        }
        let tiers = plan
            .steps
            .iter()
            .map(|step| topology.subsystems[step.step.subsystem].tier.0)
            .collect();
        Drill {
            topology,
            plan,
            config,
            dependents,
            host_steps,
            tiers,
            injected: Vec::new(),
        }
    }

    /// The same drill with these faults placed on purpose, in every run.
    pub fn inject(mut self, faults: impl IntoIterator<Item = Injected>) -> Drill<'a> {
        self.injected.extend(faults);
        self
    }

    /// The same drill with another configuration.
    pub fn with_config(&self, config: DrillConfig) -> Drill<'a> {
        Drill {
            config,
            dependents: self.dependents.clone(),
            host_steps: self.host_steps.clone(),
            tiers: self.tiers.clone(),
            injected: self.injected.clone(),
            ..*self
        }
    }

    /// Per step: its subsystem's tier (1 = S1).
    pub fn tiers(&self) -> &[u8] {
        &self.tiers
    }

    /// The distinct tiers of the plan, most severe first.
    pub fn tier_list(&self) -> Vec<u8> {
        let mut tiers = self.tiers.clone();
        tiers.sort_unstable();
        tiers.dedup();
        tiers
    }

    /// One simulated recovery with `seed`.
    pub fn run(&self, seed: u64) -> Outcome {
        Run::new(self, seed).finish()
    }
}

/// One simulated recovery of `plan` with `seed`.
pub fn simulate(topology: &Topology, plan: &Plan, config: DrillConfig, seed: u64) -> Outcome {
    Drill::new(topology, plan, config).run(seed)
}

/// A node that gave up, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFailure {
    /// Its step.
    pub step: StepId,
    /// Its host.
    pub host: HostId,
    /// A spare brought in for an earlier failure.
    pub spare: bool,
    /// Why.
    pub reason: String,
}

/// What a timeline entry records.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// The scheduler asked for this.
    Action(Action),
    /// The fleet reported this.
    Event(Event),
    /// A step changed status.
    Step {
        /// The step.
        step: StepId,
        /// Its new status.
        status: StepStatus,
    },
}

/// One line of the timeline, at a virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEntry {
    /// Virtual time since the start of the drill.
    pub at: Duration,
    /// What happened.
    pub kind: TimelineKind,
}

/// The result of one simulated recovery.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed it ran with.
    pub seed: u64,
    /// Every step became ready.
    pub succeeded: bool,
    /// When the last step became ready; when not every step did, when the run settled.
    pub makespan: Duration,
    /// When the last action ended.
    pub settled_at: Duration,
    /// Per step: when it became ready.
    pub ready_at: Vec<Option<Duration>>,
    /// Per step: its final status.
    pub statuses: Vec<StepStatus>,
    /// Per tier, most severe first: when all its steps were ready (None: never).
    pub tiers: Vec<(u8, Option<Duration>)>,
    /// The actual critical path, first to last: from the last step to become ready, back
    /// through the dependency that became ready last.
    pub critical_path: Vec<StepId>,
    /// Nodes that gave up.
    pub failures: Vec<NodeFailure>,
    /// Start actions issued (attempts).
    pub starts: usize,
    /// Start attempts after a failed one.
    pub retries: usize,
    /// Spare nodes brought in.
    pub spares_used: usize,
    /// Nodes found already healthy by their probe.
    pub already_healthy: usize,
    /// Power-on actions issued.
    pub power_ons: usize,
    /// The node started first, per step, with its time (for priority checks).
    pub first_start: Vec<Option<Duration>>,
    /// Faults that struck.
    pub faults: FaultTally,
    /// The scheduler never finished on its own (a bug guard: should never happen).
    pub stuck: bool,
    /// Everything that happened, when asked for.
    pub timeline: Vec<TimelineEntry>,
    /// The scheduler's nodes by id, as (step, host): what the timeline's node ids mean.
    pub nodes: Vec<(StepId, HostId)>,
    /// The scheduler as the run left it: what the real run's summary is rendered from.
    pub final_state: Scheduler,
}

/// A completion waiting on the virtual clock, ordered by time then issue order.
struct Pending {
    at: Duration,
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, the earliest completion comes first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Run<'d, 'a> {
    drill: &'d Drill<'a>,
    seed: u64,
    scheduler: Scheduler,
    fleet: Fleet<'a>,
    queue: BinaryHeap<Pending>,
    seq: u64,
    statuses: Vec<StepStatus>,
    ready_at: Vec<Option<Duration>>,
    first_start: Vec<Option<Duration>>,
    starts: usize,
    retries: usize,
    power_ons: usize,
    already_healthy: usize,
    timeline: Vec<TimelineEntry>,
    visit: Vec<StepId>,
}

impl<'d, 'a> Run<'d, 'a> {
    fn new(drill: &'d Drill<'a>, seed: u64) -> Self {
        let scheduler = Scheduler::new(drill.topology, drill.plan, seed);
        let steps = drill.plan.steps.len();
        let fleet = Fleet::new(
            drill.topology,
            drill.plan,
            drill.config,
            &drill.injected,
            Draws::new(seed),
        );
        Run {
            drill,
            seed,
            statuses: scheduler.statuses().to_vec(),
            scheduler,
            fleet,
            queue: BinaryHeap::new(),
            seq: 0,
            ready_at: vec![None; steps],
            first_start: vec![None; steps],
            starts: 0,
            retries: 0,
            power_ons: 0,
            already_healthy: 0,
            timeline: Vec::new(),
            visit: Vec::new(),
        }
    }

    fn finish(mut self) -> Outcome {
        let mut now = Duration::ZERO;
        // Steps ready before anything happens (none in a real plan, but be exact).
        for step in 0..self.statuses.len() {
            self.visit.push(step);
        }
        self.track(now);
        let mut settled_at = Duration::ZERO;
        let mut stuck = false;
        let mut idle_rounds = 0u32;
        loop {
            for action in self.scheduler.next_actions(now) {
                self.perform(now, action);
            }
            if self.scheduler.is_finished() {
                break;
            }
            let next_event = self.queue.peek().map(|pending| pending.at);
            let next = match (next_event, self.scheduler.next_wakeup()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(next) => next,
                    None => {
                        // Work is queued but nothing can ever start it.
                        stuck = true;
                        break;
                    }
                },
            };
            if next <= now && next_event.is_none_or(|at| at > now) {
                // A wake-up that is already due yet produced nothing: guard against a spin.
                idle_rounds += 1;
                if idle_rounds > 1000 {
                    stuck = true;
                    break;
                }
            } else {
                idle_rounds = 0;
            }
            now = now.max(next);
            while self.queue.peek().is_some_and(|pending| pending.at <= now) {
                let Pending { at, event, .. } = self.queue.pop().expect("peeked");
                settled_at = settled_at.max(at);
                self.handle(now, event);
            }
        }
        self.outcome(settled_at, stuck)
    }

    fn perform(&mut self, now: Duration, action: Action) {
        match action {
            Action::Start { node, attempt } => {
                self.starts += 1;
                if attempt > 1 {
                    self.retries += 1;
                }
                let step = self.scheduler.nodes()[node].step;
                self.first_start[step].get_or_insert(now);
            }
            Action::PowerOn { .. } => self.power_ons += 1,
            _ => {}
        }
        let (took, event) = self.fleet.perform(now, &action, self.scheduler.nodes());
        if self.drill.config.timeline {
            self.timeline.push(TimelineEntry {
                at: now,
                kind: TimelineKind::Action(action),
            });
        }
        self.seq += 1;
        self.queue.push(Pending {
            at: now + took,
            seq: self.seq,
            event,
        });
    }

    fn handle(&mut self, now: Duration, event: Event) {
        self.scheduler.handle(now, &event);
        let host = match &event {
            // Steps done by people touch no host: only their own status changes.
            Event::Acknowledged { step, .. } | Event::Held { step, .. } => {
                self.visit.push(*step);
                self.track(now);
                return;
            }
            Event::ValueRead { node, .. } => self.scheduler.nodes()[*node].host,
            Event::PowerChecked { host, .. }
            | Event::PoweredOn { host, .. }
            | Event::SshReady { host, .. } => *host,
            Event::Probed { node, healthy, .. } => {
                if *healthy {
                    self.already_healthy += 1;
                }
                self.scheduler.nodes()[*node].host
            }
            Event::StartFinished { node, .. } | Event::Rearmed { node } => {
                self.scheduler.nodes()[*node].host
            }
        };
        if self.drill.config.timeline {
            self.timeline.push(TimelineEntry {
                at: now,
                kind: TimelineKind::Event(event),
            });
        }
        self.visit
            .extend(self.drill.host_steps[host].iter().copied());
        self.track(now);
    }

    /// Notes status changes of the steps to visit and, like the scheduler's own refresh,
    /// of their dependents whenever one changed.
    fn track(&mut self, now: Duration) {
        while let Some(step) = self.visit.pop() {
            let status = &self.scheduler.statuses()[step];
            if *status == self.statuses[step] {
                continue;
            }
            self.statuses[step] = status.clone();
            if *status == StepStatus::Ready {
                self.ready_at[step].get_or_insert(now);
            }
            if *status == StepStatus::Active && self.scheduler.is_human(step) {
                // A simulated operator acknowledges after the step's expected duration.
                self.seq += 1;
                self.queue.push(Pending {
                    at: now + self.drill.plan.steps[step].duration,
                    seq: self.seq,
                    event: Event::Acknowledged {
                        step,
                        by: "simulated operator".into(),
                    },
                });
            }
            if self.drill.config.timeline {
                self.timeline.push(TimelineEntry {
                    at: now,
                    kind: TimelineKind::Step {
                        step,
                        status: status.clone(),
                    },
                });
            }
            self.visit
                .extend(self.drill.dependents[step].iter().copied());
        }
    }

    fn outcome(self, settled_at: Duration, stuck: bool) -> Outcome {
        let drill = self.drill;
        let statuses = self.scheduler.statuses().to_vec();
        let succeeded = !stuck && self.scheduler.succeeded();
        let last = (0..statuses.len())
            .filter_map(|step| self.ready_at[step].map(|at| (at, step)))
            .max_by_key(|(at, step)| (*at, std::cmp::Reverse(*step)));
        let makespan = match (succeeded, last) {
            (true, Some((at, _))) => at,
            _ => settled_at,
        };
        let critical_path = crate::report::actual_critical_path(drill.plan, &self.ready_at);
        let tiers = drill
            .tier_list()
            .into_iter()
            .map(|tier| {
                let up = (0..statuses.len())
                    .filter(|step| drill.tiers[*step] == tier)
                    .try_fold(Duration::ZERO, |latest, step| {
                        self.ready_at[step].map(|at| latest.max(at))
                    });
                (tier, up)
            })
            .collect();
        let nodes = self.scheduler.nodes();
        let failures = nodes
            .iter()
            .filter_map(|node| match &node.state {
                NodeState::Failed { reason } => Some(NodeFailure {
                    step: node.step,
                    host: node.host,
                    spare: node.spare,
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        Outcome {
            seed: self.seed,
            succeeded,
            makespan,
            settled_at,
            ready_at: self.ready_at,
            statuses,
            tiers,
            critical_path,
            failures,
            starts: self.starts,
            retries: self.retries,
            spares_used: nodes.iter().filter(|node| node.spare).count(),
            already_healthy: self.already_healthy,
            power_ons: self.power_ons,
            first_start: self.first_start,
            faults: self.fleet.tally,
            stuck,
            timeline: self.timeline,
            nodes: nodes.iter().map(|node| (node.step, node.host)).collect(),
            final_state: self.scheduler,
        }
    }
}
