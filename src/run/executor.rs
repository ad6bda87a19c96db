//! The executor carries out one action through the transports and reports one event. It
//! owns the node lifecycle inside an action: start command, health polling with consecutive
//! successes, the progress probe that keeps a slow start alive, and the timeouts.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::boot_poll::{wait_for_ssh, ConnectPace, FLEET_CONNECTS_PER_SECOND};
use super::health::{healthy_now, wait_healthy};
use super::transport::{
    CommandOutput, Power, PowerAction, PowerState, Probe, Remote, TransportError,
};
use crate::event::{Action, Event, PowerReport, Reason, Target};
use crate::graph::Step;
use crate::plan::actions::node_commands;
use crate::plan::power::{self, BmcExchange};
use crate::playbook::Prepare;
use crate::topology::{Host, HostId, Topology};

/// What an action produced: the event for the scheduler, and the last command's output for
/// the journal.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The event.
    pub event: Event,
    /// Exit code and output tails of the last command run, if any.
    pub output: Option<CommandOutput>,
}

/// Carries out actions with real (or test) transports.
#[derive(Debug)]
pub struct Executor<P, R, Q> {
    topology: Arc<Topology>,
    power: Arc<P>,
    remote: Arc<R>,
    probe: Arc<Q>,
    prepare: Arc<Vec<Vec<Prepare>>>,
    /// The fleet-wide pace of TCP boot polls.
    connects: Arc<ConnectPace>,
}

impl<P, R, Q> Clone for Executor<P, R, Q> {
    fn clone(&self) -> Self {
        Executor {
            topology: self.topology.clone(),
            power: self.power.clone(),
            remote: self.remote.clone(),
            probe: self.probe.clone(),
            prepare: self.prepare.clone(),
            connects: self.connects.clone(),
        }
    }
}

/// A power action's outcome; what was exchanged with a Redfish BMC goes to the journal as
/// the action's output.
fn bmc_outcome(event: Event, bmc: Option<BmcExchange>) -> Outcome {
    Outcome {
        event,
        output: bmc.map(|bmc| CommandOutput {
            bmc: Some(bmc),
            ..CommandOutput::default()
        }),
    }
}

pub use super::boot_poll::boot_timeout;

impl<P: Power, R: Remote, Q: Probe> Executor<P, R, Q> {
    /// An executor over the given transports.
    pub fn new(topology: Arc<Topology>, power: Arc<P>, remote: Arc<R>, probe: Arc<Q>) -> Self {
        Executor {
            topology,
            power,
            remote,
            probe,
            prepare: Arc::new(Vec::new()),
            connects: Arc::new(ConnectPace::new(FLEET_CONNECTS_PER_SECOND)),
        }
    }

    /// Runs these preparation steps (per host id) on each host after it answers SSH and
    /// before any of its nodes is probed or started.
    pub fn with_prepare(mut self, prepare: Vec<Vec<Prepare>>) -> Self {
        self.prepare = Arc::new(prepare);
        self
    }

    /// The command an action will run, as rendered, for the journal (never a secret).
    pub fn describe(&self, action: &Action, target: Target) -> Option<String> {
        let host = &self.topology.hosts[target.host];
        let power_line = |action| {
            host.bmc
                .as_ref()
                .map(|bmc| power::command_line(bmc, action))
        };
        match (action, target.step.map(|(_, step)| step)) {
            (Action::CheckPower { .. } | Action::Recheck { .. }, _) => {
                power_line(PowerAction::Status)
            }
            (Action::PowerOn { .. }, _) => power_line(PowerAction::On),
            (Action::PowerOff { .. }, _) => power_line(PowerAction::Off),
            (Action::Probe { .. } | Action::Adopt { .. }, Some(step)) => {
                node_commands(&self.topology, step, target.host)
                    .check
                    .map(|c| c.to_string())
            }
            (Action::Start { .. }, Some(step)) => {
                node_commands(&self.topology, step, target.host).start
            }
            _ => None,
        }
    }

    /// Carries out `action` on `target`.
    pub async fn perform(&self, action: Action, target: Target) -> Outcome {
        let host = &self.topology.hosts[target.host];
        let plain = |event| Outcome {
            event,
            output: None,
        };
        match action {
            Action::CheckPower { host: id } => {
                let (result, bmc) = self.read_power(host).await;
                bmc_outcome(Event::PowerChecked { host: id, result }, bmc)
            }
            Action::Recheck { host: id, .. } => {
                // Sessions kept from before it went away are dead.
                self.remote.forget(host);
                let (result, bmc) = self.read_power(host).await;
                bmc_outcome(Event::Rechecked { host: id, result }, bmc)
            }
            Action::PowerOn { host: id } => {
                let (result, bmc) = self.switch(host, PowerAction::On, PowerState::On).await;
                bmc_outcome(Event::PoweredOn { host: id, result }, bmc)
            }
            Action::PowerOff { host: id } => {
                let (result, bmc) = self.switch(host, PowerAction::Off, PowerState::Off).await;
                bmc_outcome(Event::PoweredOff { host: id, result }, bmc)
            }
            Action::WaitSsh { host: id, prepared } => {
                let (result, output) = match self.wait_ssh(host).await {
                    Ok(()) if prepared => (Ok(()), None),
                    Ok(()) => self.prepare_host(host, id).await,
                    Err(why) => (Err(why), None),
                };
                Outcome {
                    event: Event::SshReady { host: id, result },
                    output,
                }
            }
            Action::ReadValue { node } => {
                let (_, step) = target.step.expect("node actions carry their step");
                let subsystem = &self.topology.subsystems[step.subsystem];
                let rule = subsystem.order.as_ref().expect("ordered steps read values");
                let values =
                    crate::plan::actions::values(&self.topology, &subsystem.name, target.host);
                let command = crate::template::render_shell(&rule.probe, &values);
                let result = match self
                    .remote
                    .exec(host, &command, subsystem.health_policy.timeout)
                    .await
                {
                    Ok(output) if output.exit_code == Some(0) => {
                        let last = output
                            .stdout
                            .trim()
                            .lines()
                            .last()
                            .unwrap_or("")
                            .trim()
                            .to_string();
                        last.parse::<f64>().map_err(|_| Reason::BadValue {
                            detail: format!("expected a number from `{command}`, got {last:?}"),
                        })
                    }
                    Ok(output) => Err(Reason::ExitStatus {
                        command: "ordering value command".into(),
                        code: output.exit_code,
                        last_line: output.last_line(),
                    }),
                    Err(err) => Err(err.ssh_reason("ordering value command")),
                };
                plain(Event::ValueRead { node, result })
            }
            Action::Probe { node } => {
                let (_, step) = target.step.expect("node actions carry their step");
                let commands = node_commands(&self.topology, step, target.host);
                let subsystem = &self.topology.subsystems[step.subsystem];
                let result = match &commands.check {
                    None => Err(Reason::NoHealthCheck),
                    Some(check) => {
                        healthy_now(self.probe.as_ref(), host, check, &subsystem.health_policy)
                            .await
                    }
                };
                plain(Event::Probed { node, result })
            }
            Action::Start { node, attempt } => {
                let (_, step) = target.step.expect("node actions carry their step");
                let (result, output) = self.start(host, step, target.host).await;
                Outcome {
                    event: Event::StartFinished {
                        node,
                        attempt,
                        result,
                    },
                    output,
                }
            }
            Action::Adopt {
                node,
                attempt,
                running_for_ms,
            } => {
                let (_, step) = target.step.expect("node actions carry their step");
                let running_for = Duration::from_millis(running_for_ms);
                plain(Event::Adopted {
                    node,
                    attempt,
                    result: self.watch(host, step, target.host, running_for).await,
                })
            }
        }
    }

    /// The host's power state through its BMC (a host without one is assumed on).
    async fn read_power(&self, host: &Host) -> (Result<PowerReport, Reason>, Option<BmcExchange>) {
        if host.bmc.is_none() {
            return (Ok(PowerReport::NoBmc), None);
        }
        let (result, bmc) = self.power.power_recorded(host, PowerAction::Status).await;
        let result = result
            .map(|state| match state {
                PowerState::On => PowerReport::On,
                PowerState::Off => PowerReport::Off,
            })
            .map_err(TransportError::bmc_reason);
        (result, bmc)
    }

    /// Watches a start launched `running_for` ago by someone else (a killed process, or
    /// this one before its host stopped answering) until the node is healthy or its ready
    /// timeout, counted from that start, passes. Nothing is run but checks.
    async fn watch(
        &self,
        host: &Host,
        step: Step,
        host_id: HostId,
        running_for: Duration,
    ) -> Result<(), Reason> {
        let subsystem = &self.topology.subsystems[step.subsystem];
        let commands = node_commands(&self.topology, step, host_id);
        let Some(check) = commands.check.as_ref() else {
            return Err(Reason::Other {
                detail: "no health check: cannot tell whether the start in flight finished".into(),
            });
        };
        let now = Instant::now();
        let began = now.checked_sub(running_for).unwrap_or(now);
        wait_healthy(
            self.remote.as_ref(),
            self.probe.as_ref(),
            host,
            subsystem,
            check,
            commands.progress.as_deref(),
            began,
            began + step.expected(&self.topology),
        )
        .await
    }

    /// Switches the host on or off; Ok when the BMC then reports `wanted`.
    async fn switch(
        &self,
        host: &Host,
        action: PowerAction,
        wanted: PowerState,
    ) -> (Result<(), Reason>, Option<BmcExchange>) {
        let (result, bmc) = self.power.power_recorded(host, action).await;
        // Whatever the outcome, sessions kept from before the switch may be dead now.
        self.remote.forget(host);
        let result = match result {
            Ok(state) if state == wanted => Ok(()),
            Ok(_) => Err(Reason::PowerNotApplied {
                wanted: action.verb().into(),
            }),
            Err(err) => Err(err.bmc_reason()),
        };
        (result, bmc)
    }

    /// Runs the host's preparation steps in order; the first failure stops them.
    async fn prepare_host(
        &self,
        host: &Host,
        id: HostId,
    ) -> (Result<(), Reason>, Option<CommandOutput>) {
        let mut last = None;
        for step in self.prepare.get(id).map(Vec::as_slice).unwrap_or_default() {
            let values = crate::template::Values {
                host: &host.name,
                address: &host.address,
                datacenter: host.datacenter.as_deref().unwrap_or(""),
                rack: host.rack.as_deref().unwrap_or(""),
                labels: Some(&host.labels),
                ..Default::default()
            };
            let command = crate::template::render_shell(&step.command, &values);
            let what = format!("preparation {:?}", step.name);
            match self.remote.exec(host, &command, step.timeout).await {
                Ok(output) if output.exit_code == Some(0) => last = Some(output),
                Ok(output) => {
                    let why = Reason::ExitStatus {
                        command: what,
                        code: output.exit_code,
                        last_line: output.last_line(),
                    };
                    return (Err(why), Some(output));
                }
                Err(err) => return (Err(err.ssh_reason(&what)), last),
            }
        }
        (Ok(()), last)
    }

    async fn wait_ssh(&self, host: &Host) -> Result<(), Reason> {
        wait_for_ssh(self.remote.as_ref(), &self.connects, host).await
    }

    /// One start attempt: leave bootstrap mode if needed, run the start command, then wait
    /// for health; a progress probe that keeps changing extends the wait.
    async fn start(
        &self,
        host: &Host,
        step: Step,
        host_id: HostId,
    ) -> (Result<(), Reason>, Option<CommandOutput>) {
        let began = Instant::now();
        let subsystem = &self.topology.subsystems[step.subsystem];
        let expect = step.expected(&self.topology);
        let commands = node_commands(&self.topology, step, host_id);
        let mut last_output = None;
        if let Some(leave) = &commands.leave_bootstrap {
            // The bootstrap instance may already be gone; its stop failing is not fatal.
            if let Ok(output) = self.remote.exec(host, leave, subsystem.start_timeout).await {
                last_output = Some(output);
            }
        }
        if let Some(start) = &commands.start {
            match self.remote.exec(host, start, subsystem.start_timeout).await {
                Ok(output) if output.exit_code == Some(0) => last_output = Some(output),
                Ok(output) => {
                    let why = Reason::ExitStatus {
                        command: "start command".into(),
                        code: output.exit_code,
                        last_line: output.last_line(),
                    };
                    return (Err(why), Some(output));
                }
                Err(err) => return (Err(err.ssh_reason("start command")), last_output),
            }
        }
        if commands.check.is_none() {
            return (Ok(()), last_output);
        }
        let check = commands.check.as_ref().expect("checked above");
        let result = wait_healthy(
            self.remote.as_ref(),
            self.probe.as_ref(),
            host,
            subsystem,
            check,
            commands.progress.as_deref(),
            Instant::now(),
            began + expect,
        )
        .await;
        (result, last_output)
    }
}
