//! Hosts that stop answering mid-run. A host that was up and whose start or health wait
//! ends because SSH is gone (refused, reset, timed out) is asked about through its BMC
//! before anything else is tried on it: found off, it lost power (a dead PDU, a crash into
//! power-off, a disk that dies on power-off) and is powered on again within its domain's
//! caps and waited for; found on, it is waited for like a booting host. Its nodes wait for
//! it instead of burning their attempts in a second on a host that is not there.

use std::cmp::Reverse;
use std::time::Duration;

use super::resume::AdoptedAfter;
use super::Scheduler;
use crate::event::state::{HostState, NodeState};
use crate::event::{Action, NodeId, PowerReport, Reason};
use crate::topology::HostId;

/// Times a host may stop answering in one run before it is given up: a host that keeps
/// losing power needs a person, not a fourth power-on.
pub const MAX_HOST_LOSSES: usize = 3;

/// A host that stopped answering during the run, and what its BMC said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLoss {
    /// The host.
    pub host: HostId,
    /// When it was noticed (time since the run first began).
    pub noticed_at: Duration,
    /// What showed it gone.
    pub why: Reason,
    /// The power state its BMC reported when asked, once it answered.
    pub power: Option<Result<PowerReport, Reason>>,
    /// When it answered SSH again.
    pub back_at: Option<Duration>,
}

impl HostLoss {
    /// True when the BMC said the host was off: it lost power.
    pub fn lost_power(&self) -> bool {
        matches!(self.power, Some(Ok(PowerReport::Off)))
    }
}

impl Scheduler {
    /// Every host that stopped answering during the run, in the order noticed.
    pub fn host_losses(&self) -> &[HostLoss] {
        &self.host_losses
    }

    /// `node`'s attempt ended because its host stopped answering: the node waits for the
    /// host, and the host is asked about (once, however many of its nodes noticed).
    ///
    /// The start may still be coming up on a host that is on (a blip on the network): it is
    /// watched once the host answers, never issued again. If the host turns out to have lost
    /// power, the start died with it and the node is probed and started again, without the
    /// attempt counting against its retry policy.
    pub(super) fn attempt_cut_by_host(
        &mut self,
        now: Duration,
        node: NodeId,
        attempt: u32,
        why: &Reason,
    ) {
        self.nodes[node].state = NodeState::Pending;
        self.nodes[node].probe_before_retry = true;
        let running_for = now.saturating_sub(self.started_at[node]);
        self.adopt(node, attempt, AdoptedAfter::HostBack, running_for, now);
        let host = self.nodes[node].host;
        if !matches!(self.hosts[host], HostState::Up) {
            // Already being asked about, powered on or waited for: the node follows.
            return;
        }
        let losses = self.host_losses.iter().filter(|l| l.host == host).count();
        if losses >= MAX_HOST_LOSSES {
            let detail = format!(
                "stopped answering {losses} times during the run; the last time: {why}; repair it, then blackstart retry"
            );
            self.host_failed(host, Reason::Other { detail });
            return;
        }
        self.host_losses.push(HostLoss {
            host,
            noticed_at: now,
            why: why.clone(),
            power: None,
            back_at: None,
        });
        self.hosts[host] = HostState::CheckingPower;
        self.to_recheck.push_back((host, why.clone()));
    }

    /// Hands out the power reads of hosts that stopped answering.
    pub(super) fn rechecks_due(&mut self, actions: &mut Vec<Action>) {
        while let Some((host, why)) = self.to_recheck.pop_front() {
            self.host_work_in_flight += 1;
            actions.push(Action::Recheck { host, why });
        }
    }

    /// What the BMC of a host that stopped answering said.
    pub(super) fn rechecked(
        &mut self,
        now: Duration,
        host: HostId,
        result: &Result<PowerReport, Reason>,
    ) {
        self.host_done();
        if let Some(loss) = self.open_loss(host) {
            loss.power = Some(result.clone());
        }
        match result {
            Ok(PowerReport::Off) => {
                self.power_lost(now, host);
                self.hosts[host] = HostState::Off;
                let (tier, rank) = self.host_priority[host];
                let domain = self.host_domain[host];
                self.domain_queue[domain].push((rank, Reverse(tier), Reverse(host)));
                self.schedule_domain(domain, now);
            }
            // On and not answering: rebooting, hung or cut off; waited for like a boot.
            Ok(PowerReport::On | PowerReport::NoBmc) => self.booting(host),
            Err(reason) => self.host_failed(host, reason.clone()),
        }
    }

    /// A host answers SSH again after it stopped answering.
    pub(super) fn host_back(&mut self, now: Duration, host: HostId) {
        if let Some(loss) = self.open_loss(host) {
            loss.back_at = Some(now);
        }
    }

    fn open_loss(&mut self, host: HostId) -> Option<&mut HostLoss> {
        self.host_losses
            .iter_mut()
            .rev()
            .find(|loss| loss.host == host && loss.back_at.is_none())
    }

    /// The host was found off: whatever ran on it is gone. Its healthy nodes are healthy
    /// no more and are probed again once it is back; its waiting ones wait for it; a start
    /// cut short by the loss is not watched but tried again, and not counted.
    fn power_lost(&mut self, now: Duration, host: HostId) {
        self.prepared[host] = false;
        for index in 0..self.host_nodes[host].len() {
            let node = self.host_nodes[host][index];
            if self.adopting.contains_key(&node) {
                self.nodes[node].interrupted += 1;
                let lost = Reason::Other {
                    detail: "its host lost power: starting it again".into(),
                };
                self.adoption_ended(now, node, &Err(lost));
            }
            match self.nodes[node].state {
                NodeState::Healthy { .. } => {
                    let step = self.nodes[node].step;
                    self.healthy[step] -= 1;
                    self.nodes[node].state = NodeState::Pending;
                    self.refresh(step);
                }
                NodeState::Waiting | NodeState::Queued => {
                    self.nodes[node].state = NodeState::Pending;
                }
                _ => {}
            }
        }
    }
}
