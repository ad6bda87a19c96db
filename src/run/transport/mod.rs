//! Transports carry out what the scheduler decides: power through BMCs, commands over SSH,
//! health probes. The scheduler never touches them; executors do.

pub mod bmc;
pub mod bmc_calls;
mod host_cert;
pub mod http;
pub mod ipmi;
pub(crate) mod known_hosts;
pub mod probe;
pub mod redfish;
pub mod ssh;
mod ssh_jump;
mod ssh_login;
mod ssh_openssh;
mod ssh_openssh_args;
mod ssh_openssh_proc;
mod ssh_openssh_route;
mod ssh_pool;
mod ssh_session;
pub mod tls;

pub use ssh_openssh_route::resolve_openssh_routes;

use std::future::Future;
use std::time::Duration;

use thiserror::Error;

use crate::event::Reason;
use crate::plan::actions::RenderedCheck;
use crate::topology::{Bmc, Host};

/// Chassis power state reported by a BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

pub use crate::event::CommandOutput;
pub use crate::plan::power::PowerAction;

/// Most bytes of each output stream kept for the journal.
pub const OUTPUT_TAIL_BYTES: usize = 4096;

/// Why a transport could not do what it was asked.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TransportError {
    /// The operation did not finish in time.
    #[error("{what} on {host} timed out after {after:?}")]
    Timeout {
        /// Host name.
        host: String,
        /// What was attempted.
        what: String,
        /// The limit.
        after: Duration,
        /// The time ran out while reaching the host (TCP connect, SSH handshake or login,
        /// a jump host's tunnel), not while a command ran on it.
        reaching: bool,
    },
    /// The host or its BMC could not be reached.
    #[error("{host} unreachable: {detail}")]
    Unreachable {
        /// Host name.
        host: String,
        /// What failed.
        detail: String,
    },
    /// The SSH host key is unknown or differs from known_hosts: refused, never accepted.
    #[error("{host}: SSH host key refused: {detail}")]
    HostKey {
        /// Host name.
        host: String,
        /// Unknown or changed, and where known_hosts is.
        detail: String,
    },
    /// A TLS peer's certificate was refused (or the TLS setup failed): never retried.
    #[error("{host}: {detail}")]
    Tls {
        /// Host name.
        host: String,
        /// What was refused, and which CAs were trusted.
        detail: String,
    },
    /// Authentication failed.
    #[error("{host}: authentication failed: {detail}")]
    Auth {
        /// Host name.
        host: String,
        /// What was tried.
        detail: String,
    },
    /// The BMC answered and refused for good: a privilege the account lacks (403), a task
    /// that failed, a `ResetType` it does not allow, a redirect off the BMC. Never retried.
    #[error("{host}: {detail}")]
    Refused {
        /// Host name.
        host: String,
        /// What the BMC refused, in its own words where it gave any.
        detail: String,
    },
    /// The host has no BMC, or the BMC password could not be read.
    #[error("{host}: {detail}")]
    Config {
        /// Host name.
        host: String,
        /// What is missing.
        detail: String,
    },
    /// Anything else the transport reported.
    #[error("{host}: {detail}")]
    Other {
        /// Host name.
        host: String,
        /// What happened.
        detail: String,
    },
}

impl TransportError {
    /// As the reason of a failed BMC request.
    pub fn bmc_reason(self) -> Reason {
        match self {
            TransportError::Timeout { what, after, .. } => Reason::BmcTimeout {
                limit_ms: Reason::millis(after),
                detail: what,
            },
            TransportError::Config { detail, .. } => Reason::Prerequisite { detail },
            other => Reason::BmcError {
                detail: other.to_string(),
            },
        }
    }

    /// As the reason of a failed SSH connection or of `command` (`start command`, ...).
    pub fn ssh_reason(self, command: &str) -> Reason {
        match self {
            TransportError::Timeout { reaching: true, .. } => Reason::Unreachable {
                detail: self.to_string(),
            },
            TransportError::Timeout { after, .. } => Reason::CommandTimeout {
                command: command.to_string(),
                limit_ms: Reason::millis(after),
            },
            TransportError::HostKey { detail, .. } => Reason::HostKeyRefused { detail },
            TransportError::Auth { detail, .. } => Reason::AuthFailed { detail },
            TransportError::Config { detail, .. } => Reason::Prerequisite { detail },
            TransportError::Unreachable { .. } => Reason::Unreachable {
                detail: self.to_string(),
            },
            TransportError::Other { .. }
            | TransportError::Tls { .. }
            | TransportError::Refused { .. } => Reason::Other {
                detail: format!("{command}: {self}"),
            },
        }
    }
}

/// Power control through a host's BMC.
pub trait Power: Send + Sync + 'static {
    /// Carries out `action` and returns the power state afterwards.
    fn power(
        &self,
        host: &Host,
        action: PowerAction,
    ) -> impl Future<Output = Result<PowerState, TransportError>> + Send;

    /// [`Power::power`] with what was exchanged with the BMC, for the journal (system,
    /// ResetType, HTTP status, task). The default records nothing.
    fn power_recorded(
        &self,
        host: &Host,
        action: PowerAction,
    ) -> impl Future<
        Output = (
            Result<PowerState, TransportError>,
            Option<crate::plan::power::BmcExchange>,
        ),
    > + Send {
        async move { (self.power(host, action).await, None) }
    }
}

/// Commands on a host.
pub trait Remote: Send + Sync + 'static {
    /// Runs `command` through the login shell, cut at `timeout`.
    fn exec(
        &self,
        host: &Host,
        command: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<CommandOutput, TransportError>> + Send;

    /// Ok when the host answers: connection, host key and authentication all pass. Used to
    /// wait for a host to boot. The default runs `true`.
    fn reachable(
        &self,
        host: &Host,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        async move {
            let output = self.exec(host, "true", timeout).await?;
            match output.exit_code {
                Some(0) => Ok(()),
                code => Err(TransportError::Other {
                    host: host.name.clone(),
                    detail: format!("`true` exited with {code:?}"),
                }),
            }
        }
    }

    /// Ok while the host is there at all, cheaply: asked of a host that was up while its
    /// service does not answer, to tell a slow service from a host that lost power. The
    /// default is [`Remote::reachable`].
    fn alive(
        &self,
        host: &Host,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        self.reachable(host, timeout)
    }

    /// Drops whatever the transport keeps for `host` between calls (idle sessions): the host
    /// was just powered on or off, so they are dead or soon will be. The default keeps
    /// nothing.
    fn forget(&self, _host: &Host) {}
}

/// Health probes, run directly against the service (never through monitoring).
pub trait Probe: Send + Sync + 'static {
    /// Ok when `check` passes on `host` within `timeout`; otherwise why not.
    fn check(
        &self,
        host: &Host,
        check: &RenderedCheck,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), Reason>> + Send;
}

/// Keeps the last `limit` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// The host's BMC, or the error that it has none.
pub(super) fn configured_bmc(host: &Host) -> Result<&Bmc, TransportError> {
    host.bmc.as_ref().ok_or_else(|| TransportError::Config {
        host: host.name.clone(),
        detail: "no BMC configured".into(),
    })
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    fn timeout(what: &str, reaching: bool) -> TransportError {
        TransportError::Timeout {
            host: "web1".into(),
            what: what.into(),
            after: Duration::from_secs(10),
            reaching,
        }
    }

    /// A dead bastion or a stalled handshake is the host out of reach, whatever the words
    /// of the stage; a command that outlives its limit is the command's timeout.
    #[test]
    fn a_timeout_reaching_the_host_is_unreachable_not_a_command_timeout() {
        for what in [
            "jump host bastion: SSH handshake",
            "SSH handshake",
            "SSH connect to 10.0.0.1:22",
        ] {
            assert!(
                matches!(
                    timeout(what, true).ssh_reason("start command"),
                    Reason::Unreachable { .. }
                ),
                "{what}"
            );
        }
        assert!(matches!(
            timeout("SSH connect to x", false).ssh_reason("start command"),
            Reason::CommandTimeout { .. }
        ));
    }
}
