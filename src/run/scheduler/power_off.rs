//! A real drill's power-off, decided like everything else: before the cold start, every
//! host in scope with a BMC is switched off, in parallel, rate-limited per power domain
//! like power-on, each action journaled before it runs. A resumed power-off checks the
//! hosts whose command was in flight before sending it again, so no host is switched off
//! twice.

use std::time::Duration;

use super::Scheduler;
use crate::event::{Action, PowerReport, Reason};
use crate::run::rate::PowerOnLimiter;
use crate::topology::HostId;

/// Where one host stands in the power-off.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OffState {
    /// Waiting for a slot in its power domain.
    Pending,
    /// Its power state is being read (after a resume).
    Checking,
    /// The power-off command is in flight.
    Sent,
    /// Off.
    Off,
    /// Could not be switched off.
    Refused(Reason),
}

/// The power-off phase: its hosts in order, and a limiter per power domain.
#[derive(Debug, Clone)]
pub(super) struct PowerOff {
    hosts: Vec<(HostId, OffState)>,
    limiter: PowerOnLimiter,
    /// Hosts whose power state must be read before anything is sent (after a resume).
    to_check: Vec<usize>,
}

/// How far the power-off is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerOffProgress {
    /// Hosts switched off.
    pub off: usize,
    /// Hosts that refused.
    pub refused: usize,
    /// Hosts in the power-off.
    pub total: usize,
}

impl PowerOff {
    fn position(&self, host: HostId) -> Option<usize> {
        self.hosts.iter().position(|(h, _)| *h == host)
    }

    fn finished(&self) -> bool {
        self.hosts
            .iter()
            .all(|(_, state)| matches!(state, OffState::Off | OffState::Refused(_)))
    }
}

impl Scheduler {
    /// Switches `hosts` off (those with a BMC) before the recovery begins: a real drill.
    pub fn power_off_first(&mut self, hosts: Vec<HostId>) {
        self.power_off = Some(PowerOff {
            hosts: hosts
                .into_iter()
                .map(|host| (host, OffState::Pending))
                .collect(),
            limiter: PowerOnLimiter::new(self.power_on_count, self.power_on_window),
            to_check: Vec::new(),
        });
    }

    /// How far the power-off is, when the run has one.
    pub fn power_off_progress(&self) -> Option<PowerOffProgress> {
        let phase = self.power_off.as_ref()?;
        let count = |wanted: fn(&OffState) -> bool| {
            phase
                .hosts
                .iter()
                .filter(|(_, state)| wanted(state))
                .count()
        };
        Some(PowerOffProgress {
            off: count(|s| *s == OffState::Off),
            refused: count(|s| matches!(s, OffState::Refused(_))),
            total: phase.hosts.len(),
        })
    }

    /// The hosts that refused to switch off, with why.
    pub fn power_off_refusals(&self) -> Vec<(HostId, Reason)> {
        self.power_off
            .iter()
            .flat_map(|phase| &phase.hosts)
            .filter_map(|(host, state)| match state {
                OffState::Refused(reason) => Some((*host, reason.clone())),
                _ => None,
            })
            .collect()
    }

    /// True while the power-off runs: nothing of the recovery starts before it ends.
    pub(super) fn powering_off(&self) -> bool {
        self.power_off
            .as_ref()
            .is_some_and(|phase| !phase.finished())
    }

    /// The power-off's next actions at `now`, within each domain's rate.
    pub(super) fn power_off_due(&mut self, now: Duration, actions: &mut Vec<Action>) {
        let Some(phase) = self.power_off.as_mut() else {
            return;
        };
        for index in std::mem::take(&mut phase.to_check) {
            phase.hosts[index].1 = OffState::Checking;
            self.host_work_in_flight += 1;
            actions.push(Action::CheckPower {
                host: phase.hosts[index].0,
            });
        }
        for index in 0..phase.hosts.len() {
            let (host, state) = &phase.hosts[index];
            if *state != OffState::Pending {
                continue;
            }
            let domain = self.host_domain[*host];
            if phase.limiter.next_slot(domain, now) > now {
                continue;
            }
            phase.limiter.record(domain, now);
            let host = *host;
            phase.hosts[index].1 = OffState::Sent;
            self.host_work_in_flight += 1;
            actions.push(Action::PowerOff { host });
        }
    }

    /// When the next power-off slot opens, while hosts wait for one.
    pub(super) fn power_off_wakeup(&self) -> Option<Duration> {
        let phase = self.power_off.as_ref()?;
        let mut limiter = phase.limiter.clone();
        phase
            .hosts
            .iter()
            .filter(|(_, state)| *state == OffState::Pending)
            .map(|(host, _)| limiter.next_slot(self.host_domain[*host], Duration::ZERO))
            .filter(|slot| *slot > Duration::ZERO)
            .min()
    }

    /// Takes in a power-off result.
    pub(super) fn powered_off(&mut self, host: HostId, result: &Result<(), Reason>) {
        let Some(phase) = self.power_off.as_mut() else {
            return;
        };
        let Some(index) = phase.position(host) else {
            return;
        };
        self.host_work_in_flight = self.host_work_in_flight.saturating_sub(1);
        phase.hosts[index].1 = match result {
            Ok(()) => OffState::Off,
            Err(reason) => OffState::Refused(reason.clone()),
        };
    }

    /// Takes in a power state read during the power-off; false when the power-off is not
    /// waiting for it (the recovery's own check).
    pub(super) fn power_off_checked(
        &mut self,
        host: HostId,
        result: &Result<PowerReport, Reason>,
    ) -> bool {
        let Some(phase) = self.power_off.as_mut() else {
            return false;
        };
        let Some(index) = phase.position(host) else {
            return false;
        };
        if phase.hosts[index].1 != OffState::Checking {
            return false;
        }
        self.host_work_in_flight = self.host_work_in_flight.saturating_sub(1);
        phase.hosts[index].1 = match result {
            Ok(PowerReport::Off) => OffState::Off,
            Ok(_) => OffState::Pending,
            Err(reason) => OffState::Refused(reason.clone()),
        };
        true
    }

    /// On resume: a power-off in flight when the run stopped may or may not have happened;
    /// read the host's state before sending it again.
    pub(super) fn resume_power_off(&mut self) {
        if let Some(phase) = self.power_off.as_mut() {
            for (index, (_, state)) in phase.hosts.iter_mut().enumerate() {
                if matches!(state, OffState::Sent | OffState::Checking) {
                    *state = OffState::Pending;
                    phase.to_check.push(index);
                }
            }
        }
    }
}
