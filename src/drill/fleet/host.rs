//! The hosts of the simulated fleet: power through BMCs (with their latencies and dead
//! BMCs), boots, SSH and preparation steps, as `run/executor.rs` carries out
//! `CheckPower`, `PowerOn`, `PowerOff` and `WaitSsh`.

use std::time::Duration;

use super::super::random::Stream;
use super::World;
use crate::event::{Event, PowerReport, Reason};
use crate::run::executor::boot_timeout;
use crate::topology::HostId;

impl World<'_> {
    /// Reads the power state; a host without a BMC is switched on by someone on site.
    pub(super) fn check_power(&mut self, now: Duration, host: HostId) -> (Duration, Event) {
        let latencies = self.config.latencies;
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

    /// Switches the host on; it answers SSH a boot later.
    pub(super) fn power_on(&mut self, now: Duration, host: HostId) -> (Duration, Event) {
        let latencies = self.config.latencies;
        if self.faults[host].dead_bmc {
            // IPMI hosts are switched on without a read first: the dead BMC is
            // found by the power-on.
            let (gives_up, result) = self.dead_bmc("chassis power on");
            return (gives_up, Event::PoweredOn { host, result });
        }
        let delay = self
            .draws
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

    /// Switches the host off: it stops answering.
    pub(super) fn power_off(&mut self, host: HostId) -> (Duration, Event) {
        let latencies = self.config.latencies;
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

    /// Waits for SSH up to the boot timeout, then runs the preparation steps (unless
    /// `prepared`).
    pub(super) fn wait_ssh(
        &mut self,
        now: Duration,
        host: HostId,
        prepared: bool,
    ) -> (Duration, Event) {
        let latencies = self.config.latencies;
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

    /// A call to a BMC that answers nobody: how long until the run gives up, and why.
    pub(super) fn dead_bmc<T>(&mut self, call: &str) -> (Duration, Result<T, Reason>) {
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

    pub(super) fn power_up(&mut self, host: HostId, at: Duration) {
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
    pub(super) fn call_factor(&self, kind: usize, time: Duration) -> Duration {
        match self.call_factors {
            Some(factors) => super::super::random::millis(time.as_secs_f64() * factors[kind]),
            None => time,
        }
    }
}
