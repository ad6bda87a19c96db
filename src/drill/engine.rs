//! A drill: the real driver loop over a simulated fleet on a virtual clock, and what one
//! simulated recovery ended with.

use std::time::Duration;

use serde::Serialize;

use super::fleet::FaultTally;
use super::simulated::SimulatedFleet;
use super::{DrillConfig, Injected};
use crate::event::state::{NodeState, StepStatus};
use crate::event::Action;
use crate::event::Reason;
use crate::journal::{self, Entry, Record, Sink, Timeline};
use crate::plan::{Plan, StepId};
use crate::run::driver::{drive, run_now, Fleet};
use crate::run::scheduler::Scheduler;
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
    /// Per step: its subsystem's tier.
    tiers: Vec<u8>,
    /// Faults placed on purpose.
    injected: Vec<Injected>,
    /// The controller killed mid-run and resumed, in every run.
    kill: Option<ControllerKill>,
    /// The scheduler every run starts from, built once: building it (thousands of nodes,
    /// a map of power domains) was a tenth of a run, copying it is less than half that.
    scheduler: Scheduler,
}

impl<'a> Drill<'a> {
    /// Prepares drills of `plan` on `topology`.
    pub fn new(topology: &'a Topology, plan: &'a Plan, config: DrillConfig) -> Drill<'a> {
        let tiers = plan
            .steps
            .iter()
            .map(|step| topology.subsystems[step.step.subsystem].tier.0)
            .collect();
        Drill {
            topology,
            plan,
            config,
            tiers,
            injected: Vec::new(),
            kill: None,
            scheduler: Scheduler::new(topology, plan, 0),
        }
    }

    /// The same drill with these faults placed on purpose, in every run.
    pub fn inject(mut self, faults: impl IntoIterator<Item = Injected>) -> Drill<'a> {
        self.injected.extend(faults);
        self
    }

    /// The same drill with the controller SIGKILLed and resumed in every run.
    pub fn kill_controller(mut self, kill: ControllerKill) -> Drill<'a> {
        self.kill = Some(kill);
        self
    }

    /// The same drill with another configuration.
    pub fn with_config(&self, config: DrillConfig) -> Drill<'a> {
        Drill {
            config,
            tiers: self.tiers.clone(),
            injected: self.injected.clone(),
            scheduler: self.scheduler.clone(),
            kill: self.kill,
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

    /// One simulated recovery with `seed`: the driver's loop, as in a real run, over a
    /// simulated fleet.
    pub fn run(&self, seed: u64) -> Outcome {
        self.run_from(self.scheduler.clone().reseeded(seed), seed)
    }

    /// One simulated recovery with `seed`, from `scheduler` as built for it.
    fn run_from(&self, scheduler: Scheduler, seed: u64) -> Outcome {
        let mut fleet =
            SimulatedFleet::new(self.topology, self.plan, self.config, &self.injected, seed);
        // A resume is rebuilt from the killed run's records, as a real one is from its
        // journal: a killed drill keeps them whether or not they were asked for.
        let mut timeline = Timeline {
            records: Vec::new(),
            enabled: self.config.timeline || self.kill.is_some(),
        };
        let fresh = self.kill.map(|kill| {
            fleet.kill_controller_at(kill.at);
            scheduler.clone()
        });
        let ended = self.drive(&mut fleet, &mut timeline, scheduler);
        let (ended, interruption) = match (self.kill, fresh) {
            (Some(kill), Some(fresh)) if ended.killed => {
                let killed_at = fleet.now();
                let resumed_at = killed_at + kill.down_for;
                fleet.new_controller_at(resumed_at);
                timeline.append(
                    resumed_at,
                    Entry::RunStarted {
                        format: journal::FORMAT,
                        plan_digest: String::new(),
                        topology: self.topology.name.clone(),
                        resumed: true,
                        pid: 0,
                    },
                );
                let replayed = journal::replay(fresh, &timeline.records);
                let mut resumed = self.drive(&mut fleet, &mut timeline, replayed);
                let adopted = count_adoptions(&timeline.records);
                resumed.tally = resumed.tally.after(&ended.tally);
                let interruption = ControllerKilled {
                    killed_at,
                    resumed_at,
                    adopted,
                };
                (resumed, Some(interruption))
            }
            _ => (ended, None),
        };
        if !self.config.timeline {
            timeline.records = Vec::new();
        }
        let double_starts = fleet.double_starts();
        let mut outcome = self.outcome(seed, ended, fleet.faults(), timeline.records);
        outcome.interruption = interruption;
        outcome.double_starts = double_starts;
        outcome
    }

    /// The driver's loop over the simulated fleet, until it settles or the controller dies.
    fn drive(
        &self,
        fleet: &mut SimulatedFleet,
        timeline: &mut Timeline,
        scheduler: Scheduler,
    ) -> crate::run::driver::Ended {
        run_now(drive(
            self.topology,
            self.plan,
            fleet,
            timeline,
            &mut (),
            scheduler,
            None,
        ))
        .expect("a timeline in memory cannot fail to sync")
    }

    fn outcome(
        &self,
        seed: u64,
        ended: crate::run::driver::Ended,
        faults: FaultTally,
        timeline: Vec<Record>,
    ) -> Outcome {
        let tally = ended.tally;
        let scheduler = ended.final_state;
        let statuses = scheduler.statuses().to_vec();
        let succeeded = ended.succeeded;
        let last = (0..statuses.len())
            .filter_map(|step| tally.ready_at[step].map(|at| (at, step)))
            .max_by_key(|(at, step)| (*at, std::cmp::Reverse(*step)));
        let makespan = match (succeeded, last) {
            (true, Some((at, _))) => at,
            _ => tally.settled_at,
        };
        let critical_path = crate::run::critical_path::actual(self.plan, &tally.ready_at);
        let tiers = self
            .tier_list()
            .into_iter()
            .map(|tier| {
                let up = (0..statuses.len())
                    .filter(|step| self.tiers[*step] == tier)
                    .try_fold(Duration::ZERO, |latest, step| {
                        tally.ready_at[step].map(|at| latest.max(at))
                    });
                (tier, up)
            })
            .collect();
        let nodes = scheduler.nodes();
        let failures = nodes
            .iter()
            .filter_map(|node| match &node.state {
                NodeState::Failed { reason } => Some(NodeFailure {
                    step: node.step,
                    host: node.host,
                    spare: node.spare,
                    reason: reason.to_string(),
                    cause: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        Outcome {
            seed,
            succeeded,
            makespan,
            settled_at: tally.settled_at,
            ready_at: tally.ready_at,
            statuses,
            tiers,
            critical_path,
            failures,
            starts: tally.starts,
            retries: tally.retries,
            spares_used: nodes.iter().filter(|node| node.spare).count(),
            already_healthy: tally.already_healthy,
            power_ons: tally.power_ons,
            first_start: tally.first_start,
            faults,
            stuck: ended.stuck,
            timeline,
            nodes: nodes.iter().map(|node| (node.step, node.host)).collect(),
            final_state: scheduler,
            interruption: None,
            double_starts: 0,
        }
    }
}

/// Adopt actions in a timeline: starts a resume watched instead of issuing again.
fn count_adoptions(records: &[Record]) -> usize {
    records
        .iter()
        .filter(|record| {
            matches!(
                record.entry,
                Entry::Action {
                    action: Action::Adopt { .. },
                    ..
                }
            )
        })
        .count()
}

/// A simulated SIGKILL of the controller and its resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerKill {
    /// When the controller dies (since the run began).
    pub at: Duration,
    /// How long until someone types `run --resume` (the fleet carries on meanwhile).
    pub down_for: Duration,
}

/// What a simulated kill did to one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ControllerKilled {
    /// When the controller died (the run had settled earlier when this is missing).
    #[serde(with = "crate::topology::secs")]
    pub killed_at: Duration,
    /// When the resume began.
    #[serde(with = "crate::topology::secs")]
    pub resumed_at: Duration,
    /// Starts in flight at the kill that the resume adopted instead of issuing again.
    pub adopted: usize,
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
    /// Why, in words.
    pub reason: String,
    /// Why, as a type (for grouping by cause).
    pub cause: Reason,
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
    /// Everything that happened, when asked for: the same records a real run journals,
    /// on the virtual clock.
    pub timeline: Vec<Record>,
    /// The scheduler's nodes by id, as (step, host): what the timeline's node ids mean.
    pub nodes: Vec<(StepId, HostId)>,
    /// The scheduler as the run left it: what the real run's summary is rendered from.
    pub final_state: Scheduler,
    /// The controller was killed and resumed (`simulate --kill-at`).
    pub interruption: Option<ControllerKilled>,
    /// Starts launched on a service already up or still coming up from an earlier start
    /// (0 is the promise: a resume never starts twice what the killed run started).
    pub double_starts: usize,
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::drill::FaultRates;

    /// The prepared scheduler, copied and reseeded, must run exactly as one built afresh for
    /// the seed: every record of the timeline, at the same virtual time. Faults that retry
    /// (jitter from the seed), kill hosts (spares) and slow hosts down are all on.
    #[test]
    fn a_copied_scheduler_runs_exactly_as_a_fresh_one() {
        let (topology, plan) = crate::drill::shipped_and_planned("topologies/social-network.yaml");
        let config = DrillConfig {
            faults: FaultRates {
                start_failure: 0.05,
                dead_disk: 0.002,
                dead_bmc: 0.002,
                slow_ssh: 0.02,
                flapping: 0.05,
            },
            timeline: true,
            ..DrillConfig::default()
        };
        let drill = Drill::new(&topology, &plan, config);
        for seed in [3, 11] {
            let copied = drill.run(seed);
            let fresh = drill.run_from(Scheduler::new(&topology, &plan, seed), seed);
            assert!(
                copied.retries > 0 && !copied.failures.is_empty(),
                "faults struck"
            );
            assert_eq!(copied.makespan, fresh.makespan);
            assert_eq!(copied.ready_at, fresh.ready_at);
            assert_eq!(copied.timeline.len(), fresh.timeline.len());
            assert!(
                copied.timeline == fresh.timeline,
                "seed {seed}: timelines differ"
            );
        }
        assert_ne!(
            drill.run(3).makespan,
            drill.run(11).makespan,
            "seeds matter"
        );
    }
}
