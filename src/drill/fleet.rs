//! The simulated fleet: carries out one action and says when it ends and with what event.
//! It holds the only state the scheduler cannot see: which hosts are on, when each will
//! answer SSH, which services run, and which faults were dealt.

use std::time::Duration;

use super::random::{Draws, Stream};
use super::{DrillConfig, FaultKind, FleetStart, Injected};
use crate::event::{Action, Event, PowerReport, Reason, Target};
use crate::plan::Plan;
use crate::run::executor::boot_timeout;
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
    /// failures placed there stop failing. Returns whether any was.
    pub(crate) fn repair(&mut self, host: HostId, subsystem: SubsystemId) -> bool {
        let before = self.injected.len();
        self.injected.retain(|fault| {
            !(fault.kind == FaultKind::StartFailure
                && fault.host == host
                && fault.subsystem.is_none_or(|s| s == subsystem))
        });
        self.injected.len() != before
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
        let latencies = self.config.latencies;
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
            Action::CheckPower { host } => {
                let key = host as u64;
                if self.topology.hosts[host].bmc.is_none() {
                    // Nobody can switch it on remotely: someone on site presses the button.
                    self.power_up(host, now);
                    return (
                        Duration::ZERO,
                        Event::PowerChecked {
                            host,
                            result: Ok(PowerReport::NoBmc),
                        },
                    );
                }
                if self.faults[host].dead_bmc {
                    let (gives_up, result) = self.dead_bmc("chassis power status");
                    return (gives_up, Event::PowerChecked { host, result });
                }
                let delay = self
                    .draws
                    .between(latencies.check_power, Stream::CheckLatency, key, 0);
                let delay = self.paced(self.call_factor(0, delay));
                let state = if self.answers_at[host].is_some() {
                    PowerReport::On
                } else {
                    PowerReport::Off
                };
                (
                    delay,
                    Event::PowerChecked {
                        host,
                        result: Ok(state),
                    },
                )
            }
            Action::PowerOn { host } => {
                if self.faults[host].dead_bmc {
                    // IPMI hosts are switched on without a read first: the dead BMC is
                    // found by the power-on.
                    let (gives_up, result) = self.dead_bmc("chassis power on");
                    return (gives_up, Event::PoweredOn { host, result });
                }
                let delay =
                    self.draws
                        .between(latencies.power_on, Stream::PowerLatency, host as u64, 0);
                let delay = self.paced(self.call_factor(1, delay));
                self.power_up(host, now + delay);
                (
                    delay,
                    Event::PoweredOn {
                        host,
                        result: Ok(()),
                    },
                )
            }
            Action::PowerOff { host } => {
                let delay = self.paced(self.draws.between(
                    latencies.power_on,
                    Stream::PowerLatency,
                    host as u64,
                    1,
                ));
                self.answers_at[host] = None;
                (
                    delay,
                    Event::PoweredOff {
                        host,
                        result: Ok(()),
                    },
                )
            }
            Action::WaitSsh { host, prepared } => {
                let limit = boot_timeout(&self.topology.hosts[host]);
                let answers = self.answers_at[host].filter(|_| !self.faults[host].dead_disk);
                match answers {
                    Some(at) if at.saturating_sub(now) <= limit => {
                        let poll = self.paced(self.draws.between(
                            latencies.ssh,
                            Stream::SshLatency,
                            host as u64,
                            0,
                        ));
                        // Each preparation step is one SSH command, run before SshReady.
                        let steps = if prepared {
                            0
                        } else {
                            self.prepare.get(host).copied().unwrap_or(0) as u32
                        };
                        let prepare = (latencies.probe.0 + self.slow(host)) * steps;
                        (
                            at.saturating_sub(now) + poll + prepare,
                            Event::SshReady {
                                host,
                                result: Ok(()),
                            },
                        )
                    }
                    _ => {
                        if self.faults[host].dead_disk {
                            self.tally.dead_disk += 1;
                        }
                        let why = if self.faults[host].dead_disk {
                            "disk did not come back after the power cut"
                        } else {
                            "booted too slowly"
                        };
                        let result = Err(Reason::NoAnswerAfterBoot {
                            limit_ms: Reason::millis(limit),
                            last: format!("{why} (simulated)"),
                        });
                        (limit, Event::SshReady { host, result })
                    }
                }
            }
            Action::ReadValue { node } => {
                // Members of a simulated store agree: every one reports the same position.
                let host = target.host;
                (
                    latencies.probe.0 + self.slow(host),
                    Event::ValueRead {
                        node,
                        result: Ok(0.0),
                    },
                )
            }
            Action::Probe { node } => {
                let host = target.host;
                let delay = self.paced(self.draws.between(
                    latencies.probe,
                    Stream::ProbeLatency,
                    step as u64,
                    host as u64,
                )) + self.slow(host);
                // Healthy when the service is up by the time the probe answers.
                let healthy =
                    self.is_healthy(node, now + delay) || self.config.start == FleetStart::Warm;
                if healthy {
                    self.set_healthy(node, now);
                }
                // Healthy takes `successes` checks in a row, an interval apart; a failure
                // ends the probe at its first check.
                let policy =
                    self.topology.subsystems[self.plan.steps[step].step.subsystem].health_policy;
                let delay = match policy.successes.checked_sub(1).filter(|_| healthy) {
                    Some(more) => delay + (policy.interval + delay) * more,
                    None => delay,
                };
                // Only a timeline shows the probe's words: unrecorded runs skip the copy
                // (one per probe, thousands per run).
                let result = if healthy {
                    Ok(())
                } else {
                    Err(Reason::CheckFailed {
                        detail: if self.config.timeline {
                            "not running".to_string()
                        } else {
                            String::new()
                        },
                    })
                };
                (delay, Event::Probed { node, result })
            }
            Action::Start { node, attempt } => {
                let host = target.host;
                if self.healthy_at.get(node).copied().flatten().is_some() {
                    self.double_starts += 1;
                }
                let (a, b) = (step as u64, host as u64 | (attempt as u64) << 32);
                // The step's own factor in this run (its nodes start at the same moment, under
                // the same load), then each node's own draw around it.
                let expected = self.draws.around(
                    self.plan.steps[step].duration,
                    self.config.step_spread,
                    Stream::StepFactor,
                    step as u64,
                    0,
                );
                let took = self.paced(self.draws.around(
                    expected,
                    self.config.spread,
                    Stream::StartTime,
                    a,
                    b,
                )) + self.slow(host);
                let rates = self.config.faults;
                let subsystem = self.plan.steps[step].step.subsystem;
                let placed = |kind| {
                    self.injected.iter().any(|fault| {
                        fault.kind == kind
                            && fault.host == host
                            && fault.subsystem.is_none_or(|s| s == subsystem)
                            && now >= fault.from
                    })
                };
                // With one success enough, the first good check passes a flapping service.
                let needs_a_row = self.topology.subsystems[subsystem].health_policy.successes > 1;
                let flaps = needs_a_row
                    && (placed(FaultKind::Flapping)
                        || self.draws.chance(
                            rates.flapping,
                            Stream::Flapping,
                            step as u64,
                            host as u64,
                        ));
                let fails = placed(FaultKind::StartFailure)
                    || self
                        .draws
                        .chance(rates.start_failure, Stream::StartFails, a, b);
                let limit = self.topology.subsystems[subsystem].ready_timeout;
                let progress = self.topology.subsystems[subsystem].progress.is_some();
                let hangs = self.hung.contains(&(host, subsystem));
                // A progress probe keeps a slow start alive in the real run: no cut there,
                // unless the start hangs and its output stops changing.
                let cut = (!progress && took > limit) || hangs;
                let result = if attempt == 1 && flaps {
                    self.tally.flapping += 1;
                    // Never enough good checks in a row: the executor waits out its ready
                    // timeout (moved on by the progress probe while the start progresses).
                    let gives_up = if progress { limit.max(took) } else { limit };
                    let result = Err(Reason::NotHealthyWithin {
                        limit_ms: Reason::millis(gives_up),
                        last: "health check flapped: healthy, then not (simulated)".into(),
                    });
                    return (
                        gives_up,
                        Event::StartFinished {
                            node,
                            attempt,
                            result,
                        },
                    );
                } else if fails {
                    self.tally.start_failure += 1;
                    // A crash shows somewhere during the start, not at its very end.
                    let after = 0.1 + 0.9 * self.draws.unit(Stream::FailAfter, a, b);
                    let result = Err(Reason::ExitStatus {
                        command: "start command".into(),
                        code: Some(1),
                        last_line: "(simulated)".into(),
                    });
                    return (
                        super::random::millis(took.as_secs_f64() * after).min(limit),
                        Event::StartFinished {
                            node,
                            attempt,
                            result,
                        },
                    );
                } else if cut {
                    // The executor gives up at the ready timeout; the service comes up later
                    // all the same, where the probe before the next attempt will find it
                    // (a hung one never does).
                    if !hangs {
                        self.set_healthy(node, now + took);
                    }
                    let result = Err(Reason::NotHealthyWithin {
                        limit_ms: Reason::millis(limit),
                        last: "not up yet (simulated)".into(),
                    });
                    return (
                        limit,
                        Event::StartFinished {
                            node,
                            attempt,
                            result,
                        },
                    );
                } else {
                    self.set_healthy(node, now + took);
                    Ok(())
                };
                (
                    took,
                    Event::StartFinished {
                        node,
                        attempt,
                        result,
                    },
                )
            }
        }
    }

    /// Watches a start launched `running_for` before `now` by a killed controller: the
    /// service comes up when that start made it (the fleet kept running while nobody
    /// watched), if that is within the ready timeout counted from the start.
    fn adopt(
        &mut self,
        now: Duration,
        node: usize,
        attempt: u32,
        step: usize,
        running_for: Duration,
    ) -> (Duration, Event) {
        let subsystem = self.plan.steps[step].step.subsystem;
        let limit = self.topology.subsystems[subsystem].ready_timeout;
        let deadline = (now.saturating_sub(running_for) + limit).max(now);
        let probe = self.config.latencies.probe.0;
        let (took, result) = match self.healthy_at.get(node).copied().flatten() {
            Some(at) if at <= deadline => (at.max(now) + probe - now, Ok(())),
            _ => (
                deadline - now,
                Err(Reason::NotHealthyWithin {
                    limit_ms: Reason::millis(limit),
                    last: "not up (simulated)".into(),
                }),
            ),
        };
        let event = Event::Adopted {
            node,
            attempt,
            result,
        };
        (took, event)
    }

    /// A call to a BMC that answers nobody: how long until the run gives up, and why.
    fn dead_bmc<T>(&mut self, call: &str) -> (Duration, Result<T, Reason>) {
        self.tally.dead_bmc += 1;
        let policy = &self.topology.policy;
        let result = Err(Reason::BmcTimeout {
            limit_ms: Reason::millis(policy.bmc_timeout),
            detail: format!("{call}: the BMC does not answer (simulated)"),
        });
        let gives_up = self.config.latencies.dead_bmc.unwrap_or_else(|| {
            crate::run::transport::ipmi::gives_up_after(policy.bmc_timeout, policy.bmc_attempts)
        });
        (gives_up, result)
    }

    fn power_up(&mut self, host: HostId, at: Duration) {
        if self.answers_at[host].is_some() {
            return;
        }
        let boot = self.topology.hosts[host].boot;
        let mut answers = at
            + self.paced(
                self.draws
                    .around(boot, self.config.spread, Stream::Boot, host as u64, 0),
            );
        if let Some(late) = self.faults[host].slow_ssh {
            self.tally.slow_ssh += 1;
            answers += late;
        }
        self.answers_at[host] = Some(answers);
    }

    /// `time` of a BMC call of `kind` (0 a power check, 1 a power-on) times this run's
    /// factor for that kind of call (`latencies.run_spread`).
    fn call_factor(&self, kind: usize, time: Duration) -> Duration {
        match self.call_factors {
            Some(factors) => super::random::millis(time.as_secs_f64() * factors[kind]),
            None => time,
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

    fn is_healthy(&self, node: usize, at: Duration) -> bool {
        self.healthy_at
            .get(node)
            .copied()
            .flatten()
            .is_some_and(|since| since <= at)
    }

    /// The node's service is healthy from `at` on (the earliest time wins).
    fn set_healthy(&mut self, node: usize, at: Duration) {
        if self.healthy_at.len() <= node {
            self.healthy_at.resize(node + 1, None);
        }
        let since = self.healthy_at[node].get_or_insert(at);
        *since = (*since).min(at);
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
