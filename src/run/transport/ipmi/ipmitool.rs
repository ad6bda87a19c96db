//! Power through IPMI BMCs with the `ipmitool` binary.
//!
//! The BMC password is read from the host's secret source at every call and handed to
//! ipmitool only in its environment (`IPMI_PASSWORD` with `-E`): never in argv, where every
//! user could read it from `/proc/*/cmdline`, and never in logs or errors. The command line
//! is the one the plan shows ([`crate::plan::power`]).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::super::bmc_calls::{scrub, BmcCalls};
use super::super::{configured_bmc, tail, Power, PowerAction, PowerState, TransportError};
use crate::plan::power::ipmitool_args;
use crate::topology::{Bmc, BmcProtocol, Host, IpmiSettings};

/// Default limit of one ipmitool call.
pub const DEFAULT_TIMEOUT: Duration = crate::topology::defaults::BMC_TIMEOUT;
/// Default attempts per power request (BMCs drop sessions now and then).
pub const DEFAULT_ATTEMPTS: u32 = crate::topology::defaults::BMC_ATTEMPTS;

/// How long a request to a BMC that never answers takes before the run gives up: every
/// attempt cut at `timeout`, with the doubling pauses between them. The drill assumes it.
pub fn gives_up_after(timeout: Duration, attempts: u32) -> Duration {
    let attempts = attempts.max(1);
    let pauses =
        (0..attempts - 1).map(|n| super::super::bmc_calls::RETRY_PAUSE * 2u32.saturating_pow(n));
    timeout.saturating_mul(attempts) + pauses.sum::<Duration>()
}
/// Most bytes of ipmitool's output quoted in an error.
const ERROR_TAIL: usize = 400;

/// [`Power`] through `ipmitool`. Cheap to clone; clones share the concurrency caps.
#[derive(Debug, Clone)]
pub struct IpmiPower {
    program: PathBuf,
    calls: BmcCalls,
}

impl IpmiPower {
    /// At most `max_calls` ipmitool processes at once (at least 1), one at a time per BMC,
    /// each cut at [`DEFAULT_TIMEOUT`], [`DEFAULT_ATTEMPTS`] attempts per request.
    pub fn new(max_calls: usize) -> Self {
        IpmiPower::with_calls(BmcCalls::new(max_calls))
    }

    /// Calls under caps shared with other BMC protocols.
    pub fn with_calls(calls: BmcCalls) -> Self {
        IpmiPower {
            program: PathBuf::from("ipmitool"),
            calls,
        }
    }

    /// Sets the limit of one ipmitool call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.calls = self.calls.with_timeout(timeout);
        self
    }

    /// Sets the attempts per request (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.calls = self.calls.with_attempts(attempts);
        self
    }

    /// Uses another ipmitool binary (tests, wrappers).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// One ipmitool run and its outcome; the child is killed when dropped (time limit).
    async fn call_once(
        &self,
        host: &Host,
        bmc: &Bmc,
        ipmi: &IpmiSettings,
        password: &str,
        action: PowerAction,
    ) -> Result<PowerState, TransportError> {
        let verb = action.verb();
        let mut command = Command::new(&self.program);
        command
            .args(ipmitool_args(bmc, ipmi, action))
            .env("IPMI_PASSWORD", password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| TransportError::Config {
            host: host.name.clone(),
            detail: format!("cannot run {}: {e}", self.program.display()),
        })?;
        let output = child
            .wait_with_output()
            .await
            .map_err(|e| other(host, format!("waiting for ipmitool: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let said = scrub(&tail(stderr.trim(), ERROR_TAIL), password);
            return Err(TransportError::Unreachable {
                host: host.name.clone(),
                detail: format!(
                    "ipmitool chassis power {verb} at BMC {} failed ({}): {said}",
                    bmc.address, output.status
                ),
            });
        }
        match action {
            PowerAction::Status => parse_status(&stdout).ok_or_else(|| {
                other(
                    host,
                    format!(
                        "unexpected ipmitool output from BMC {}: {:?}",
                        bmc.address,
                        tail(stdout.trim(), ERROR_TAIL)
                    ),
                )
            }),
            PowerAction::On | PowerAction::Cycle => Ok(PowerState::On),
            PowerAction::Off => Ok(PowerState::Off),
        }
    }

    /// [`Power::power`] for a host whose BMC speaks IPMI.
    pub(in crate::run::transport) async fn power_ipmi(
        &self,
        host: &Host,
        bmc: &Bmc,
        ipmi: &IpmiSettings,
        action: PowerAction,
    ) -> Result<PowerState, TransportError> {
        let what = format!(
            "ipmitool chassis power {} at BMC {}",
            action.verb(),
            bmc.address
        );
        self.calls
            .run(host, bmc, action, &what, |password| async move {
                self.call_once(host, bmc, ipmi, password.expose(), action)
                    .await
            })
            .await
    }
}

impl Power for IpmiPower {
    /// Runs `chassis power status|on|off|cycle`. For `status` the state is parsed from
    /// `Chassis Power is on|off`; for the others a successful call means the state asked for
    /// (`cycle` ends on). Failed calls are retried with a doubling pause; the last error is
    /// returned.
    async fn power(&self, host: &Host, action: PowerAction) -> Result<PowerState, TransportError> {
        let bmc = configured_bmc(host)?;
        let BmcProtocol::Ipmi(ipmi) = &bmc.protocol else {
            return Err(TransportError::Config {
                host: host.name.clone(),
                detail: format!("BMC {} does not speak IPMI", bmc.address),
            });
        };
        self.power_ipmi(host, bmc, ipmi, action).await
    }
}

/// `Chassis Power is on` / `off` → the state.
pub fn parse_status(stdout: &str) -> Option<PowerState> {
    stdout.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Chassis Power is ")?;
        match rest.trim().to_ascii_lowercase().as_str() {
            "on" => Some(PowerState::On),
            "off" => Some(PowerState::Off),
            _ => None,
        }
    })
}

fn other(host: &Host, detail: String) -> TransportError {
    TransportError::Other {
        host: host.name.clone(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_power_status() {
        assert_eq!(parse_status("Chassis Power is on\n"), Some(PowerState::On));
        assert_eq!(parse_status("Chassis Power is off"), Some(PowerState::Off));
        assert_eq!(parse_status("Chassis Power Control: Up/On"), None);
        assert_eq!(parse_status(""), None);
    }
}
