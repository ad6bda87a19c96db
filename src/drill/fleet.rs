//! The simulated fleet: carries out one action and says when it ends and with what event.
//! It holds the only state the scheduler cannot see: which hosts are on, when each will
//! answer SSH, which services run, and which faults were dealt.

mod host;
mod node;

use std::time::Duration;

use super::random::{Draws, Stream};
use super::{DrillConfig, FaultKind, FleetStart, Injected};
use crate::event::state::StepStatus;
use crate::event::{Action, Event, Target};
use crate::plan::{Plan, StepId};
use crate::topology::{HostId, SubsystemId, Topology};

/// Faults dealt to one host before the drill starts.
#[derive(Debug, Clone, Copy, Default)]
struct HostFaults {
    dead_disk: bool,
    dead_bmc: bool,
    /// Extra time until SSH answers, and per command, when SSH is slow.
    slow_ssh: Option<Duration>,
}

/// How often each fault actually struck in one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultTally {
    /// Start attempts that failed on their own (not flapping).
    pub start_failure: usize,
    /// Hosts that never answered SSH.
    pub dead_disk: usize,
    /// Hosts whose BMC did not answer.
    pub dead_bmc: usize,
    /// Hosts with slow SSH.
    pub slow_ssh: usize,
    /// Nodes whose first attempt failed on a flapping health check.
    pub flapping: usize,
}

impl FaultTally {
    /// The count for `kind`.
    pub fn get(&self, kind: FaultKind) -> usize {
        match kind {
            FaultKind::StartFailure => self.start_failure,
            FaultKind::DeadDisk => self.dead_disk,
            FaultKind::DeadBmc => self.dead_bmc,
            FaultKind::SlowSsh => self.slow_ssh,
            FaultKind::Flapping => self.flapping,
        }
    }
}

/// The made-up fleet of one run: what is on, what runs, what is broken.
pub(crate) struct World<'a> {
    topology: &'a Topology,
    plan: &'a Plan,
    config: DrillConfig,
    draws: Draws,
    faults: Vec<HostFaults>,
    /// When each host answers SSH, once it has power.
    answers_at: Vec<Option<Duration>>,
    /// Per scheduler node id: when the service is (or will be) healthy.
    healthy_at: Vec<Option<Duration>>,
    /// Node faults placed on purpose.
    injected: Vec<Injected>,
    /// Services a person repaired (a `retry`): no more random start failures there.
    repaired: Vec<(HostId, SubsystemId)>,
    /// Preparation steps per host, run once it answers SSH (see [`World::with_prepare`]).
    prepare: Vec<usize>,
    /// Nodes (host, subsystem) whose start hangs: never healthy, its progress output
    /// stuck (see [`World::hang`]).
    hung: Vec<(HostId, SubsystemId)>,
    /// This run's factor on every time (see [`DrillConfig::run_spread`]).
    pace: f64,
    /// This run's factor per kind of BMC call (power check, power-on), when
    /// `latencies.run_spread` asks for one.
    call_factors: Option<[f64; 2]>,
    pub(crate) tally: FaultTally,
    /// Starts launched on a service that an earlier start had already brought up, or was
    /// still bringing up: what a resume must never do to what the killed run started.
    pub(crate) double_starts: usize,
}

impl<'a> World<'a> {
    pub(crate) fn new(
        topology: &'a Topology,
        plan: &'a Plan,
        config: DrillConfig,
        injected: &[Injected],
        draws: Draws,
    ) -> Self {
        let rates = config.faults;
        let mut faults: Vec<HostFaults> = (0..topology.hosts.len() as u64)
            .map(|host| HostFaults {
                dead_disk: draws.chance(rates.dead_disk, Stream::DeadDisk, host, 0),
                dead_bmc: topology.hosts[host as usize].bmc.is_some()
                    && draws.chance(rates.dead_bmc, Stream::DeadBmc, host, 0),
                slow_ssh: draws
                    .chance(rates.slow_ssh, Stream::SlowSsh, host, 0)
                    .then(|| {
                        // Late by a fifth to all of its boot: still well within the boot
                        // timeout (three boots), so slow is not mistaken for dead.
                        let boot = topology.hosts[host as usize].boot.as_secs_f64();
                        super::random::millis(
                            boot * (0.2 + 0.8 * draws.unit(Stream::SlowSshDelay, host, 0)),
                        )
                    }),
            })
            .collect();
        for fault in injected {
            let host = &mut faults[fault.host];
            match fault.kind {
                FaultKind::DeadDisk => host.dead_disk = true,
                FaultKind::DeadBmc => host.dead_bmc = topology.hosts[fault.host].bmc.is_some(),
                FaultKind::SlowSsh => {
                    host.slow_ssh.get_or_insert(topology.hosts[fault.host].boot);
                }
                FaultKind::StartFailure | FaultKind::Flapping => {}
            }
        }
        let warm = config.start == FleetStart::Warm;
        let pace = unit_factor(&draws, config.run_spread, Stream::RunFactor, 0, 0);
        // Drawn once per run here, not on every BMC call of the run.
        let spread = config.latencies.run_spread;
        let call_factors = (spread > 0.0)
            .then(|| [0, 1].map(|kind| unit_factor(&draws, spread, Stream::StepFactor, kind, 1)));
        World {
            pace,
            call_factors,
            topology,
            plan,
            config,
            draws,
            faults,
            answers_at: vec![warm.then_some(Duration::ZERO); topology.hosts.len()],
            healthy_at: Vec::new(),
            injected: injected
                .iter()
                .filter(|fault| matches!(fault.kind, FaultKind::StartFailure | FaultKind::Flapping))
                .copied()
                .collect(),
            repaired: Vec::new(),
            prepare: Vec::new(),
            hung: Vec::new(),
            tally: FaultTally::default(),
            double_starts: 0,
        }
    }

    /// The playbook's preparation steps (per host id): each costs one SSH command when its
    /// host first answers, as the executor runs them before any node there is probed.
    // Only the conformance tests pass them until `SimulatedFleet` takes a playbook.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_prepare(mut self, prepare: &[Vec<crate::playbook::Prepare>]) -> Self {
        self.prepare = prepare.iter().map(Vec::len).collect();
        self
    }

    /// Every start of `subsystem` on `host` hangs: it never becomes healthy and its
    /// progress probe (if any) stops changing, so the executor gives up at the ready
    /// timeout instead of waiting on.
    // Only the conformance tests hang a start until a fault kind asks for it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn hang(&mut self, host: HostId, subsystem: SubsystemId) {
        self.hung.push((host, subsystem));
    }

    /// Someone repaired `subsystem` on `host` (a game day's `blackstart retry`): the start
    /// failures placed there stop failing, and a dead disk was replaced (the host answers
    /// SSH once it is up). Returns whether anything was repaired.
    ///
    /// A repaired service's random start failures stop too: a re-armed node counts its
    /// attempts from one again, and would otherwise draw the very failures it had.
    pub(crate) fn repair(&mut self, host: HostId, subsystem: SubsystemId) -> bool {
        // `retry ldap` names no host: only the hosts that run it are repaired.
        let runs = &self.topology.subsystems[subsystem];
        if !runs.hosts.contains(&host) && !runs.spares.contains(&host) {
            return false;
        }
        if !self.repaired.contains(&(host, subsystem)) {
            self.repaired.push((host, subsystem));
        }
        let disk = std::mem::take(&mut self.faults[host].dead_disk);
        let before = self.injected.len();
        self.injected.retain(|fault| {
            !(fault.kind == FaultKind::StartFailure
                && fault.host == host
                && fault.subsystem.is_none_or(|s| s == subsystem))
        });
        disk || self.injected.len() != before
    }

    /// `step` reached `status` at `at`: the faults placed on that event are armed from
    /// then on (the first time only).
    pub(crate) fn step_status(&mut self, step: StepId, status: &StepStatus, at: Duration) {
        for fault in &mut self.injected {
            if fault
                .after
                .is_some_and(|trigger| trigger.fired_by(self.plan, step, status))
            {
                fault.after = None;
                fault.from = at;
            }
        }
    }

    /// Carries out `action` on `target` at `now`, with the real executor's time limits:
    /// how long it takes, and the event that ends it.
    pub(crate) fn perform(
        &mut self,
        now: Duration,
        action: &Action,
        target: Target,
    ) -> (Duration, Event) {
        let step = target.step.map_or(0, |(step, _)| step);
        match *action {
            Action::Recheck { host, .. } => {
                // Read like any power check; the answer goes back as the recheck's.
                let (took, event) = self.perform(now, &Action::CheckPower { host }, target);
                let Event::PowerChecked { result, .. } = event else {
                    unreachable!("a power check ends in a power-checked event")
                };
                (took, Event::Rechecked { host, result })
            }
            Action::Adopt {
                node,
                attempt,
                running_for_ms,
            } => self.adopt(
                now,
                node,
                attempt,
                step,
                Duration::from_millis(running_for_ms),
            ),
            Action::CheckPower { host } => self.check_power(now, host),
            Action::PowerOn { host } => self.power_on(now, host),
            Action::PowerOff { host } => self.power_off(host),
            Action::WaitSsh { host, prepared } => self.wait_ssh(now, host, prepared),
            Action::ReadValue { node } => self.read_value(node, target.host),
            Action::Probe { node } => self.probe(now, node, step, target.host),
            Action::Start { node, attempt } => self.start(now, node, attempt, step, target.host),
        }
    }

    /// `time` at this run's pace.
    fn paced(&self, time: Duration) -> Duration {
        if self.pace == 1.0 {
            time
        } else {
            super::random::millis(time.as_secs_f64() * self.pace)
        }
    }

    /// Extra time of every SSH command on a host with slow SSH.
    fn slow(&self, host: HostId) -> Duration {
        match self.faults[host].slow_ssh {
            Some(_) => self.topology.hosts[host].ssh.login.connect_timeout / 2,
            None => Duration::ZERO,
        }
    }
}

/// One lognormal draw with mean 1, drawn as `around` draws its times (around 1000 s, to
/// keep its millisecond rounding out of the factor).
fn unit_factor(draws: &Draws, spread: f64, stream: Stream, a: u64, b: u64) -> f64 {
    draws
        .around(Duration::from_secs(1000), spread, stream, a, b)
        .as_secs_f64()
        / 1000.0
}
