//! Drills: the real scheduler against a simulated fleet on a virtual clock.
//!
//! The scheduler cannot tell a drill from a real night: it gets the same events, in the same
//! vocabulary, and decides the same way. Only the fleet is made up: hosts boot and services
//! start in times drawn around what the topology expects, and faults happen with the
//! probabilities asked for (a start that fails, a disk that never comes back after the
//! power cut, a BMC that does not answer, slow SSH, a health check that flaps).
//!
//! Time is virtual: a discrete-event loop jumps from one completion to the next, so a
//! three-hour recovery of thousands of hosts simulates in milliseconds, and a seed makes it
//! reproducible line for line. [`simulate`] runs one cold start; [`monte_carlo`] runs many
//! and reports the spread of makespans, what tends to be critical and what faults cost.

mod calibrate;
#[cfg(test)]
mod conformance_tests;
pub mod costs;
mod engine;
mod fleet;
mod model;
mod monte_carlo;
mod people_times;
mod random;
mod render;
pub mod scenario;
mod schedule;
mod series;
mod simulated;
pub(crate) use simulated::SimulatedFleet;

use std::time::Duration;

use serde::Serialize;

pub use calibrate::{calibrate, Calibration};
pub use costs::{FaultCost, COST_RUNS};
pub use engine::{simulate, ControllerKill, ControllerKilled, Drill, NodeFailure, Outcome};
pub use model::{host_class, Model, ModelFaults, ModelLatencies, ModelPeople};
pub use monte_carlo::{
    monte_carlo, monte_carlo_with_costs, total_runs, MonteCarlo, Percentiles, TierStats,
};
pub use random::run_seed;
pub use render::{
    render_json, render_monte_carlo_json, render_monte_carlo_text, render_text, render_timeline,
};
pub use schedule::{schedule, schedule_config, scheduled, SCHEDULE_SEED};

use crate::topology::{HostId, SubsystemId, Topology};

/// A kind of fault the simulated fleet can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// A start attempt fails (per attempt).
    StartFailure,
    /// The host's disk never comes back after the power cut: it never answers SSH.
    DeadDisk,
    /// The host's BMC does not answer: its power state cannot be read.
    DeadBmc,
    /// The host answers SSH late, and every command over SSH is slow.
    SlowSsh,
    /// The node's health check flaps during its first attempt, which fails; the next one
    /// succeeds.
    Flapping,
}

impl FaultKind {
    /// Every kind, in report order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::StartFailure,
        FaultKind::DeadDisk,
        FaultKind::DeadBmc,
        FaultKind::SlowSsh,
        FaultKind::Flapping,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::StartFailure => "start-failure",
            FaultKind::DeadDisk => "dead-disk",
            FaultKind::DeadBmc => "dead-bmc",
            FaultKind::SlowSsh => "slow-ssh",
            FaultKind::Flapping => "flapping",
        }
    }
}

/// A fault placed on purpose, on top of the random ones: to rehearse one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Injected {
    /// The fault. A start failure placed on purpose fails every attempt.
    pub kind: FaultKind,
    /// On this host.
    pub host: HostId,
    /// Start failures and flapping: only this subsystem's node on the host (all when None).
    pub subsystem: Option<SubsystemId>,
    /// A start failure strikes only starts launched this far into the run or later (zero:
    /// every start): a game day's fault at a time.
    #[serde(with = "crate::topology::secs")]
    pub from: Duration,
    /// A start failure placed on an event: it strikes only starts launched from the moment
    /// this step reached this status (`+ready:config`); until then it is not armed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Trigger>,
}

/// The event that arms a fault placed on one: a step reaching a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// What the step does.
    pub on: TriggerOn,
    /// The step's subsystem.
    pub subsystem: SubsystemId,
    /// The step is the subsystem's bootstrap mode (`name@bootstrap`).
    pub bootstrap: bool,
}

/// What a step does to arm a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerOn {
    /// Its dependencies became ready and its nodes began starting (status active).
    Started,
    /// It became ready (enough of its nodes healthy).
    Ready,
}

impl TriggerOn {
    /// The word a scenario and `--inject` write.
    pub fn name(self) -> &'static str {
        match self {
            TriggerOn::Started => "started",
            TriggerOn::Ready => "ready",
        }
    }

    /// The trigger word `word`, if it is one.
    pub fn parse(word: &str) -> Option<TriggerOn> {
        [TriggerOn::Started, TriggerOn::Ready]
            .into_iter()
            .find(|on| on.name() == word)
    }

    /// Whether a step at `status` has done this.
    pub fn reached(self, status: &crate::event::state::StepStatus) -> bool {
        use crate::event::state::StepStatus;
        match self {
            TriggerOn::Started => matches!(status, StepStatus::Active | StepStatus::Ready),
            TriggerOn::Ready => *status == StepStatus::Ready,
        }
    }
}

impl Trigger {
    /// Parses `ready:STEP` or `started:STEP` (a step id: `name` or `name@bootstrap`).
    pub fn parse(topology: &Topology, text: &str) -> Result<Trigger, String> {
        let (word, step) = text.split_once(':').ok_or_else(|| {
            format!("{text:?} is not an event: write `ready:STEP` or `started:STEP`")
        })?;
        let on = TriggerOn::parse(word.trim()).ok_or_else(|| {
            format!("{word:?} is not an event of a step: write `ready` or `started`")
        })?;
        let step = step.trim();
        let (name, bootstrap) = match step.strip_suffix("@bootstrap") {
            Some(name) => (name, true),
            None => (step, false),
        };
        let unknown = || {
            let hint = crate::topology::diagnostic::closest(
                name,
                topology.subsystems.iter().map(|s| s.name.as_str()),
            )
            .map(|near| format!(" (did you mean {near:?}?)"))
            .unwrap_or_default();
            format!("unknown step {step:?}{hint}")
        };
        let subsystem = topology.subsystem_id(name).ok_or_else(unknown)?;
        if bootstrap && topology.subsystems[subsystem].bootstrap.is_none() {
            return Err(format!(
                "{name:?} has no bootstrap mode: write `{}:{name}`",
                on.name()
            ));
        }
        Ok(Trigger {
            on,
            subsystem,
            bootstrap,
        })
    }

    /// Whether `step` of `plan`, now at `status`, arms this trigger.
    pub fn fired_by(
        &self,
        plan: &crate::plan::Plan,
        step: crate::plan::StepId,
        status: &crate::event::state::StepStatus,
    ) -> bool {
        let planned = plan.steps[step].step;
        planned.subsystem == self.subsystem
            && (planned.mode == crate::graph::Mode::Bootstrap) == self.bootstrap
            && self.on.reached(status)
    }
}

impl Injected {
    /// Parses `KIND=HOST` or `KIND=SUBSYSTEM@HOST`, e.g. `dead-disk=db1.dc1`,
    /// `flapping=app@app1.dc1`.
    ///
    /// A start failure may strike from a time on, `start-failure=ldap@ldap1.dc1+30m`, or
    /// from an event on, `start-failure=ldap@ldap1.dc1+ready:config` (`started:STEP` too).
    pub fn parse(topology: &Topology, text: &str) -> Result<Injected, String> {
        let usage =
            || format!("{text:?}: write KIND=HOST or KIND=SUBSYSTEM@HOST, e.g. dead-disk=db1.dc1");
        let (spec, from, after) = match text.split_once('+') {
            Some((spec, event)) if event.contains(':') => {
                let trigger = Trigger::parse(topology, event)
                    .map_err(|message| format!("{text:?}: {message}"))?;
                (spec, Duration::ZERO, Some(trigger))
            }
            Some((spec, from)) => {
                let from = humantime::parse_duration(from.trim()).map_err(|err| {
                    format!("{text:?}: {from:?} after `+` is not a time into the run ({err}), e.g. +30m, nor an event (+ready:STEP)")
                })?;
                (spec, from, None)
            }
            None => (text, Duration::ZERO, None),
        };
        let (kind, target) = spec.split_once('=').ok_or_else(usage)?;
        let kind = FaultKind::ALL
            .into_iter()
            .find(|known| known.name() == kind)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown fault {kind:?} in {text:?}: one of {}",
                    names.join(", ")
                )
            })?;
        let (subsystem, host) = match target.split_once('@') {
            Some((subsystem, host)) => {
                let id = topology
                    .subsystem_id(subsystem)
                    .ok_or_else(|| format!("unknown subsystem {subsystem:?} in {text:?}"))?;
                (Some(id), host)
            }
            None => (None, target),
        };
        let host = topology
            .host_id(host)
            .ok_or_else(|| format!("unknown host {host:?} in {text:?}"))?;
        // A host's fault (`dead-disk=ldap@ldap1`) names the step it is rehearsed for: the
        // host must run it, as a member or a spare, or the name would say nothing true.
        if let (Some(id), false) = (
            subsystem,
            matches!(kind, FaultKind::StartFailure | FaultKind::Flapping),
        ) {
            let runs = &topology.subsystems[id];
            if !runs.hosts.contains(&host) && !runs.spares.contains(&host) {
                return Err(format!(
                    "{text:?}: {} does not run {} (neither a member nor a spare); write {}={}",
                    topology.hosts[host].name,
                    runs.name,
                    kind.name(),
                    topology.hosts[host].name
                ));
            }
        }
        if from > Duration::ZERO && kind != FaultKind::StartFailure {
            return Err(format!(
                "{text:?}: only a start failure strikes from a time on (`+{}`); other faults are there from the start",
                humantime::format_duration(from)
            ));
        }
        if let (Some(trigger), false) = (after, kind == FaultKind::StartFailure) {
            return Err(format!(
                "{text:?}: only a start failure strikes from an event on (`+{}:...`); other faults are there from the start",
                trigger.on.name()
            ));
        }
        Ok(Injected {
            kind,
            host,
            subsystem,
            from,
            after,
        })
    }
}

/// Probability of each fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaultRates {
    /// Per start attempt.
    pub start_failure: f64,
    /// Per host.
    pub dead_disk: f64,
    /// Per host with a BMC.
    pub dead_bmc: f64,
    /// Per host.
    pub slow_ssh: f64,
    /// Per node (one step on one host).
    pub flapping: f64,
}

impl FaultRates {
    /// No faults at all.
    pub const NONE: FaultRates = FaultRates {
        start_failure: 0.0,
        dead_disk: 0.0,
        dead_bmc: 0.0,
        slow_ssh: 0.0,
        flapping: 0.0,
    };

    /// The defaults of `blackstart simulate`: the everyday trouble of a cold start, where
    /// retries and spares are expected to cope. Dead disks and BMCs are off by default
    /// because they stall any subsystem without spares; ask for them explicitly.
    pub const DEFAULT: FaultRates = FaultRates {
        start_failure: 0.01,
        dead_disk: 0.0,
        dead_bmc: 0.0,
        slow_ssh: 0.01,
        flapping: 0.02,
    };

    /// The probability of `kind`.
    pub fn get(&self, kind: FaultKind) -> f64 {
        let mut rates = *self;
        *rates.slot(kind)
    }

    /// The same rates with `kind` switched off.
    pub fn without(mut self, kind: FaultKind) -> FaultRates {
        *self.slot(kind) = 0.0;
        self
    }

    fn slot(&mut self, kind: FaultKind) -> &mut f64 {
        match kind {
            FaultKind::StartFailure => &mut self.start_failure,
            FaultKind::DeadDisk => &mut self.dead_disk,
            FaultKind::DeadBmc => &mut self.dead_bmc,
            FaultKind::SlowSsh => &mut self.slow_ssh,
            FaultKind::Flapping => &mut self.flapping,
        }
    }
}

/// Latencies of the small operations, each drawn uniformly between two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latencies {
    /// Reading the power state through the BMC.
    #[serde(with = "pair_secs")]
    pub check_power: (Duration, Duration),
    /// Switching a host on through the BMC.
    #[serde(with = "pair_secs")]
    pub power_on: (Duration, Duration),
    /// From the moment a host could answer SSH until the poll notices.
    #[serde(with = "pair_secs")]
    pub ssh: (Duration, Duration),
    /// One health probe.
    #[serde(with = "pair_secs")]
    pub probe: (Duration, Duration),
    /// A BMC that does not answer: the time until the run gives up on it. None: what the
    /// real run takes, `policy.bmc_timeout` × `policy.bmc_attempts` plus the pauses
    /// between attempts.
    #[serde(with = "opt_secs")]
    pub dead_bmc: Option<Duration>,
    /// Shape of one factor per kind of BMC call (power check, power-on) and run on those
    /// calls' latencies: the standard deviation of its logarithm (0 = none).
    pub run_spread: f64,
}

impl Latencies {
    /// Every latency zero: the simulation then matches the plan's arithmetic exactly.
    pub const ZERO: Latencies = Latencies {
        check_power: (Duration::ZERO, Duration::ZERO),
        power_on: (Duration::ZERO, Duration::ZERO),
        ssh: (Duration::ZERO, Duration::ZERO),
        probe: (Duration::ZERO, Duration::ZERO),
        dead_bmc: Some(Duration::ZERO),
        run_spread: 0.0,
    };

    /// Typical latencies of ipmitool over lanplus, an SSH poll and a health check.
    pub const TYPICAL: Latencies = Latencies {
        check_power: (Duration::from_millis(300), Duration::from_secs(2)),
        power_on: (Duration::from_millis(500), Duration::from_secs(3)),
        ssh: (Duration::ZERO, Duration::from_secs(5)),
        probe: (Duration::from_millis(50), Duration::from_secs(1)),
        dead_bmc: None,
        run_spread: 0.0,
    };
}

/// The state of the fleet when the drill begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FleetStart {
    /// Total outage: every host off, nothing healthy.
    Cold,
    /// Every host on and every service healthy: a run must start nothing.
    Warm,
}

/// How a drill is simulated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DrillConfig {
    /// Shape of boot and start times around their expected values (0 = exact).
    pub spread: f64,
    /// Shape of one factor per run that every time of that run is multiplied by: the
    /// standard deviation of its logarithm (0 = none). Real runs differ as a whole (a loaded
    /// controller, a busy network: every host slower together), not only host by host.
    pub run_spread: f64,
    /// Shape of one factor per step and run on the start times of that step's nodes (they
    /// start together, under the same moment's load): the standard deviation of its
    /// logarithm (0 = none).
    pub step_spread: f64,
    /// Fault probabilities.
    pub faults: FaultRates,
    /// Small latencies.
    pub latencies: Latencies,
    /// Cold or warm fleet.
    pub start: FleetStart,
    /// How soon people act (`calibrate` learns it from game days and real runs); absent:
    /// a simulated operator acknowledges after the step's `expect`, and nobody retries.
    #[serde(skip_serializing_if = "People::is_absent")]
    pub people: People,
    /// Record every action, event and step change with its virtual time.
    #[serde(skip)]
    pub timeline: bool,
}

/// People's response times in a drill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct People {
    /// From a gate or manual step waiting to its `ack`.
    #[serde(with = "opt_secs")]
    pub ack: Option<Duration>,
    /// From a step failing (below its quorum) to a person's repair and `retry` of it.
    #[serde(with = "opt_secs")]
    pub retry: Option<Duration>,
}

impl People {
    /// Nothing learned: the drill's own assumptions hold.
    pub fn is_absent(&self) -> bool {
        self.ack.is_none() && self.retry.is_none()
    }
}

impl Default for DrillConfig {
    fn default() -> Self {
        DrillConfig {
            spread: 0.2,
            run_spread: 0.0,
            step_spread: 0.0,
            faults: FaultRates::DEFAULT,
            latencies: Latencies::TYPICAL,
            start: FleetStart::Cold,
            people: People::default(),
            timeline: false,
        }
    }
}

impl DrillConfig {
    /// The plan's world: exact times, no latencies, no faults, a cold fleet.
    pub fn exact() -> DrillConfig {
        DrillConfig {
            spread: 0.0,
            run_spread: 0.0,
            step_spread: 0.0,
            faults: FaultRates::NONE,
            latencies: Latencies::ZERO,
            start: FleetStart::Cold,
            people: People::default(),
            timeline: false,
        }
    }
}

/// Lifts every cap the plan's ETA ignores: fleet parallelism and power-on rate limits.
/// Rolling starts (`max_parallel`) stay: the plan models them. With
/// [`DrillConfig::exact`], a drill then takes exactly the plan's ETA, step by step.
pub fn uncap(topology: &mut Topology) {
    topology.policy.parallelism = u32::MAX;
    topology.policy.power_on_per_window = u32::MAX;
}

mod opt_secs {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_f64(value.as_secs_f64()),
            None => serializer.serialize_none(),
        }
    }
}

mod pair_secs {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &(Duration, Duration),
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq([value.0.as_secs_f64(), value.1.as_secs_f64()])
    }
}

/// A shipped topology loaded and planned whole, for the drill's unit tests.
#[cfg(test)]
pub(crate) fn shipped_and_planned(file: &str) -> (Topology, crate::plan::Plan) {
    let topology = crate::load::load_file(std::path::Path::new(file))
        .unwrap()
        .topology;
    let selection = crate::scope::Scope::default().select(&topology).unwrap();
    let plan = crate::plan::Plan::build(&topology, &selection).unwrap();
    (topology, plan)
}

/// The minimal topology, planned, with flapping health checks on 30 % of starts: a drill
/// whose fault costs the unit tests measure.
#[cfg(test)]
pub(crate) fn flapping_minimal() -> (Topology, crate::plan::Plan, DrillConfig) {
    let (topology, plan) = shipped_and_planned("topologies/minimal.yaml");
    let mut config = DrillConfig::default();
    config.faults.flapping = 0.3;
    (topology, plan, config)
}
