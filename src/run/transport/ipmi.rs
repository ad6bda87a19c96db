//! Power through BMCs with the `ipmitool` binary.
//!
//! The BMC password is read from the host's [`SecretSource`] at every call and handed to
//! ipmitool only in its environment (`IPMI_PASSWORD` with `-E`): never in argv, where every
//! user could read it from `/proc/*/cmdline`, and never in logs or errors.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

use super::{tail, Power, PowerAction, PowerState, TransportError};
use crate::topology::{Bmc, Host, SecretSource};

/// Default limit of one ipmitool call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default attempts per power request (BMCs drop sessions now and then).
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// Pause before the first retry; doubles after each failure.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// How long a request to a BMC that never answers takes before the run gives up: every
/// attempt cut at `timeout`, with the doubling pauses between them. The drill assumes it.
pub fn gives_up_after(timeout: Duration, attempts: u32) -> Duration {
    let attempts = attempts.max(1);
    let pauses = (0..attempts - 1).map(|n| RETRY_PAUSE * 2u32.saturating_pow(n));
    timeout * attempts + pauses.sum::<Duration>()
}
/// Most bytes of ipmitool's output quoted in an error.
const ERROR_TAIL: usize = 400;

/// [`Power`] through `ipmitool`. Cheap to clone; clones share the concurrency caps.
#[derive(Debug, Clone)]
pub struct IpmiPower {
    program: PathBuf,
    timeout: Duration,
    attempts: u32,
    /// Caps ipmitool processes in flight over all BMCs.
    calls: Arc<Semaphore>,
    /// One call at a time per BMC address: BMCs fall over under parallel sessions.
    per_bmc: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl IpmiPower {
    /// At most `max_calls` ipmitool processes at once (at least 1), one at a time per BMC,
    /// each cut at [`DEFAULT_TIMEOUT`], [`DEFAULT_ATTEMPTS`] attempts per request.
    pub fn new(max_calls: usize) -> Self {
        IpmiPower {
            program: PathBuf::from("ipmitool"),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            calls: Arc::new(Semaphore::new(max_calls.max(1))),
            per_bmc: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Sets the limit of one ipmitool call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the attempts per request (at least 1).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Uses another ipmitool binary (tests, wrappers).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    fn bmc_gate(&self, address: &str) -> Arc<Semaphore> {
        let mut map = self.per_bmc.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(address.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// One ipmitool run, cut at the timeout (the child is killed when dropped).
    async fn call_once(
        &self,
        host: &Host,
        bmc: &Bmc,
        password: &str,
        verb: &str,
    ) -> Result<String, TransportError> {
        let cipher = bmc.cipher_suite.to_string();
        let mut command = Command::new(&self.program);
        command
            .args(["-I", &bmc.interface, "-H", &bmc.address, "-U", &bmc.user])
            .args(["-E", "-C", &cipher, "chassis", "power", verb])
            .env("IPMI_PASSWORD", password)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| TransportError::Config {
            host: host.name.clone(),
            detail: format!("cannot run {}: {e}", self.program.display()),
        })?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(other(host, format!("waiting for ipmitool: {e}"))),
            Err(_) => {
                return Err(TransportError::Timeout {
                    host: host.name.clone(),
                    what: format!("ipmitool chassis power {verb} at BMC {}", bmc.address),
                    after: self.timeout,
                })
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = scrub(&tail(stderr.trim(), ERROR_TAIL), password);
        Err(TransportError::Unreachable {
            host: host.name.clone(),
            detail: format!(
                "ipmitool chassis power {verb} at BMC {} failed ({}): {said}",
                bmc.address, output.status
            ),
        })
    }
}

impl Power for IpmiPower {
    /// Runs `chassis power status|on|off|cycle`. For `status` the state is parsed from
    /// `Chassis Power is on|off`; for the others a successful call means the state asked for
    /// (`cycle` ends on). Failed calls are retried with a doubling pause; the last error is
    /// returned.
    async fn power(&self, host: &Host, action: PowerAction) -> Result<PowerState, TransportError> {
        let bmc = host.bmc.as_ref().ok_or_else(|| TransportError::Config {
            host: host.name.clone(),
            detail: "no BMC configured".into(),
        })?;
        let verb = match action {
            PowerAction::Status => "status",
            PowerAction::On => "on",
            PowerAction::Off => "off",
            PowerAction::Cycle => "cycle",
        };
        let mut pause = RETRY_PAUSE;
        let mut attempt = 1;
        loop {
            // Read at every attempt: a rotated secret is picked up; never kept around.
            let password = read_secret(host, &bmc.password)?;
            let result = {
                let gate = self.bmc_gate(&bmc.address);
                let _bmc = gate.acquire().await.map_err(|_| closed(host))?;
                let _call = self.calls.acquire().await.map_err(|_| closed(host))?;
                self.call_once(host, bmc, &password, verb).await
            };
            drop(password);
            let outcome = result.and_then(|stdout| match action {
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
            });
            match outcome {
                Ok(state) => return Ok(state),
                Err(err @ TransportError::Config { .. }) => return Err(err),
                Err(err) if attempt >= self.attempts => return Err(err),
                Err(err) => {
                    tracing::debug!(host = %host.name, attempt, "BMC call failed, retrying: {err}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
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

/// Reads a BMC password now: an environment variable, or the first line of a file.
/// Errors say where it was looked for, never what was found.
pub fn read_secret(host: &Host, source: &SecretSource) -> Result<String, TransportError> {
    let config = |detail: String| TransportError::Config {
        host: host.name.clone(),
        detail,
    };
    match source {
        SecretSource::Env(variable) => std::env::var(variable).map_err(|_| {
            config(format!(
                "BMC password: environment variable ${variable} is not set (or not UTF-8)"
            ))
        }),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                config(format!(
                    "BMC password: cannot read {}: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
            if line.is_empty() {
                return Err(config(format!(
                    "BMC password: first line of {} is empty",
                    path.display()
                )));
            }
            Ok(line.to_string())
        }
    }
}

/// Replaces every occurrence of the password, in case a tool echoes it.
fn scrub(text: &str, password: &str) -> String {
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(password, "********")
    }
}

fn other(host: &Host, detail: String) -> TransportError {
    TransportError::Other {
        host: host.name.clone(),
        detail,
    }
}

fn closed(host: &Host) -> TransportError {
    other(host, "BMC call limiter closed".into())
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

    #[test]
    fn scrubs_password() {
        assert_eq!(scrub("bad s3cret here", "s3cret"), "bad ******** here");
        assert_eq!(scrub("text", ""), "text");
    }
}
