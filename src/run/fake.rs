//! An in-memory fleet for the driver's own unit tests: hosts that boot when powered on,
//! services that become healthy when started. The lab tests use real sshd and ipmi_sim.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::transport::{
    CommandOutput, Power, PowerAction, PowerState, Probe, Remote, TransportError,
};
use crate::event::Reason;
use crate::plan::actions::RenderedCheck;
use crate::topology::Host;

/// What the fake fleet has seen and holds.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Hosts powered on.
    pub on: HashSet<String>,
    /// Listening `address:port` pairs.
    pub listening: HashSet<String>,
    /// Every command run, with its host.
    pub commands: Vec<(String, String)>,
    /// Hosts whose BMC never answers.
    pub dead_bmc: HashSet<String>,
    /// Start commands (substring) that fail.
    pub failing: HashSet<String>,
    /// Ports (`serve PORT` commands, exactly) that open only this long after their start:
    /// services slower than their ready timeout.
    pub slow_to_open: HashMap<String, Duration>,
    /// Start commands (`serve PORT`, exactly) whose first run leaves the health check
    /// flapping (passing, then failing, in turn); the next run of the command cures it.
    pub flapping: HashSet<String>,
    /// Start commands (`serve PORT`, exactly) that hang: their `progress PORT` output never
    /// changes (a slow start that does not progress).
    pub stalled: HashSet<String>,
    /// `address:port` pairs that will listen from the given instant.
    opening: HashMap<String, Instant>,
    /// How often each start command ran.
    runs: HashMap<String, usize>,
    /// Flapping `address:port` pairs and the checks answered so far.
    flaps: HashMap<String, u64>,
    /// `address:port` pairs whose progress output is stuck.
    hung: HashSet<String>,
    /// Progress probes answered, so a progressing start reports a new value each time.
    progress_polls: u64,
}

/// A fake fleet: start commands of the form `serve PORT` open that port on the host.
#[derive(Debug, Default)]
pub struct FakeFleet {
    /// Its state.
    pub state: Mutex<FakeState>,
}

impl FakeFleet {
    /// Number of commands run that are exactly `command`.
    pub fn count(&self, command: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .commands
            .iter()
            .filter(|(_, run)| run == command)
            .count()
    }
}

impl Power for FakeFleet {
    async fn power(&self, host: &Host, action: PowerAction) -> Result<PowerState, TransportError> {
        let mut state = self.state.lock().unwrap();
        if state.dead_bmc.contains(&host.name) {
            // As ipmitool's retries end against a BMC that answers nobody.
            return Err(TransportError::Timeout {
                host: host.name.clone(),
                what: format!("chassis power {}: the BMC does not answer", action.verb()),
                after: Duration::from_secs(1),
                reaching: true,
            });
        }
        match action {
            PowerAction::On => {
                state.on.insert(host.name.clone());
            }
            PowerAction::Off => {
                state.on.remove(&host.name);
            }
            _ => {}
        }
        Ok(if state.on.contains(&host.name) {
            PowerState::On
        } else {
            PowerState::Off
        })
    }
}

impl Remote for FakeFleet {
    async fn exec(
        &self,
        host: &Host,
        command: &str,
        _timeout: Duration,
    ) -> Result<CommandOutput, TransportError> {
        let mut state = self.state.lock().unwrap();
        // Nobody can switch a host without a BMC remotely: it is on (someone on site
        // pressed the button), as the executor assumes.
        if host.bmc.is_some() && !state.on.contains(&host.name) {
            return Err(TransportError::Unreachable {
                host: host.name.clone(),
                detail: "off".into(),
            });
        }
        state
            .commands
            .push((host.name.clone(), command.to_string()));
        if state
            .failing
            .iter()
            .any(|needle| command.contains(needle.as_str()))
        {
            return Ok(CommandOutput {
                exit_code: Some(1),
                stdout: String::new(),
                stderr: "boom".into(),
                bmc: None,
            });
        }
        if let Some(port) = command.strip_prefix("serve ") {
            let endpoint = format!("{}:{port}", host.address);
            let runs = state.runs.entry(command.to_string()).or_default();
            *runs += 1;
            if *runs == 1 && state.flapping.contains(command) {
                state.flaps.insert(endpoint.clone(), 0);
            } else {
                state.flaps.remove(&endpoint);
            }
            if state.stalled.contains(command) {
                state.hung.insert(endpoint.clone());
            }
            match state.slow_to_open.get(command).copied() {
                Some(delay) => {
                    state.opening.insert(endpoint, Instant::now() + delay);
                }
                None => {
                    state.listening.insert(endpoint);
                }
            }
        }
        if let Some(port) = command.strip_prefix("unserve ") {
            state.listening.remove(&format!("{}:{port}", host.address));
        }
        let mut stdout = String::new();
        if let Some(port) = command.strip_prefix("progress ") {
            // A start still coming up reports a new position on every poll, unless it hangs.
            let endpoint = format!("{}:{port}", host.address);
            state.progress_polls += 1;
            stdout = if state.hung.contains(&endpoint) || !state.opening.contains_key(&endpoint) {
                "stuck".into()
            } else {
                format!("position {}", state.progress_polls)
            };
        }
        Ok(CommandOutput {
            exit_code: Some(0),
            stdout,
            ..CommandOutput::default()
        })
    }
}

impl Probe for FakeFleet {
    async fn check(
        &self,
        host: &Host,
        check: &RenderedCheck,
        _timeout: Duration,
    ) -> Result<(), Reason> {
        let mut state = self.state.lock().unwrap();
        if let RenderedCheck::Tcp { address, port } = check {
            if let Some(answered) = state.flaps.get_mut(&format!("{address}:{port}")) {
                // Healthy, then not, in turn: never two in a row.
                *answered += 1;
                if *answered % 2 == 0 {
                    return Err(Reason::CheckFailed {
                        detail: format!("{} flapped", host.name),
                    });
                }
            }
        }
        let open = |endpoint: &str| {
            state.listening.contains(endpoint)
                || state
                    .opening
                    .get(endpoint)
                    .is_some_and(|at| *at <= Instant::now())
        };
        match check {
            RenderedCheck::Tcp { address, port } if open(&format!("{address}:{port}")) => Ok(()),
            _ => Err(Reason::CheckFailed {
                detail: format!("{} not listening", host.name),
            }),
        }
    }
}
