//! Why something failed or was held, as a type. Transports, the executor, the simulated
//! fleet and preflight all report one of these; the journal stores it; people read its
//! [`Display`](std::fmt::Display); summaries group by its [`Reason::cause`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::human;

/// Why an action failed, a node gave up or a step is held.
///
/// Limits are kept in milliseconds so the journal stays plain JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Reason {
    /// The BMC did not answer within its time limit (every attempt).
    BmcTimeout {
        /// Limit of one BMC call, milliseconds.
        limit_ms: u64,
        /// What was asked and of which BMC.
        detail: String,
    },
    /// The BMC refused the call or could not be reached.
    BmcError {
        /// What the power tool said (secrets scrubbed).
        detail: String,
    },
    /// The BMC accepted a power command but reports the other state.
    PowerNotApplied {
        /// The state asked for: `on` or `off`.
        wanted: String,
    },
    /// Something this machine needs is missing: a password variable or file, a key, a tool.
    Prerequisite {
        /// What is missing and where it was looked for (never a secret).
        detail: String,
    },
    /// The SSH host key is unknown or differs from known_hosts: refused, never accepted.
    HostKeyRefused {
        /// Unknown or changed, and which known_hosts file.
        detail: String,
    },
    /// SSH authentication failed.
    AuthFailed {
        /// What was tried.
        detail: String,
    },
    /// The host did not answer SSH within its boot timeout after power-on.
    NoAnswerAfterBoot {
        /// The boot timeout, milliseconds.
        limit_ms: u64,
        /// The last connection error.
        last: String,
    },
    /// The host could not be reached over SSH, or the connection timed out.
    Unreachable {
        /// What failed.
        detail: String,
    },
    /// A command ended with a non-zero status, or was killed by a signal.
    ExitStatus {
        /// Which command: `start command`, `preparation "name"`, ...
        command: String,
        /// Exit code; `None` for a signal.
        code: Option<i32>,
        /// The last line the command wrote.
        last_line: String,
    },
    /// A command ran past its time limit and was ended.
    CommandTimeout {
        /// Which command.
        command: String,
        /// The limit, milliseconds.
        limit_ms: u64,
    },
    /// The node was not healthy within its ready timeout.
    NotHealthyWithin {
        /// How long it was given, milliseconds.
        limit_ms: u64,
        /// What the last health check saw.
        last: String,
    },
    /// A health or preflight check ran and did not pass: the service answered otherwise,
    /// or not at all.
    CheckFailed {
        /// What the check saw.
        detail: String,
    },
    /// The step has no health check: whether it is healthy cannot be told, so it is started.
    NoHealthCheck,
    /// A preflight check failed, so the step is held back.
    PreflightHeld {
        /// The check.
        check: String,
        /// Where it failed.
        host: String,
        /// What it saw.
        detail: String,
    },
    /// A data-aware ordering could not choose a first member, or a guard refused.
    OrderingRefused {
        /// Why.
        detail: String,
    },
    /// An ordering value could not be read.
    BadValue {
        /// Why.
        detail: String,
    },
    /// Anything else a transport reported.
    Other {
        /// What happened.
        detail: String,
    },
}

fn ms(limit_ms: u64) -> String {
    human(Duration::from_millis(limit_ms))
}

impl Reason {
    /// A limit as kept in a reason.
    pub fn millis(duration: Duration) -> u64 {
        u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
    }

    /// True when the failure says the host itself is gone (SSH refused, reset or timed
    /// out), not that the service failed: the host is asked about before a retry.
    pub fn host_gone(&self) -> bool {
        matches!(self, Reason::Unreachable { .. })
    }

    /// The cause without what differs from host to host, limits and counts included:
    /// failures of one kind are shown as one line with a count, their limits as a range
    /// beside it (`not healthy in time (1m 15s–1m 40s limits): 108 nodes`).
    pub fn cause(&self) -> String {
        match self {
            Reason::BmcTimeout { .. } => "BMC timeout".into(),
            Reason::NoAnswerAfterBoot { .. } => "no SSH answer after power-on".into(),
            Reason::CommandTimeout { command, .. } => format!("{command} timed out"),
            Reason::NotHealthyWithin { .. } => "not healthy in time".into(),
            other => other.limited_cause(),
        }
    }

    /// The limit a timing-out failure was given, for the range beside its grouped line.
    pub fn limit(&self) -> Option<Duration> {
        match self {
            Reason::BmcTimeout { limit_ms, .. }
            | Reason::NoAnswerAfterBoot { limit_ms, .. }
            | Reason::CommandTimeout { limit_ms, .. }
            | Reason::NotHealthyWithin { limit_ms, .. } => Some(Duration::from_millis(*limit_ms)),
            _ => None,
        }
    }

    /// The cause with its limit, as one failure is told.
    fn limited_cause(&self) -> String {
        match self {
            Reason::BmcTimeout { limit_ms, .. } => format!("BMC timeout after {}", ms(*limit_ms)),
            Reason::BmcError { .. } => "BMC refused or unreachable".into(),
            Reason::PowerNotApplied { wanted } => format!("BMC did not switch {wanted}"),
            Reason::Prerequisite { detail } => detail.clone(),
            Reason::HostKeyRefused { .. } => "SSH host key refused".into(),
            Reason::AuthFailed { .. } => "SSH authentication failed".into(),
            Reason::NoAnswerAfterBoot { limit_ms, .. } => {
                format!("no SSH answer within {} of power-on", ms(*limit_ms))
            }
            Reason::Unreachable { .. } => "unreachable over SSH".into(),
            Reason::ExitStatus { command, code, .. } => match code {
                Some(code) => format!("{command} exited {code}"),
                None => format!("{command} killed by a signal"),
            },
            Reason::CommandTimeout { command, limit_ms } => {
                format!("{command} timed out after {}", ms(*limit_ms))
            }
            Reason::NotHealthyWithin { limit_ms, .. } => {
                format!("not healthy within {}", ms(*limit_ms))
            }
            Reason::CheckFailed { .. } => "check failed".into(),
            Reason::NoHealthCheck => "no health check: cannot tell, will start".into(),
            Reason::PreflightHeld { check, .. } => format!("preflight {check:?} failed"),
            Reason::OrderingRefused { .. } => "ordering refused a first member".into(),
            Reason::BadValue { .. } => "ordering value unreadable".into(),
            Reason::Other { detail } => detail.clone(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BmcTimeout { detail, .. } => write!(f, "{}: {detail}", self.limited_cause()),
            Reason::BmcError { detail } => write!(f, "BMC: {detail}"),
            Reason::PowerNotApplied { wanted } => {
                write!(f, "BMC accepted power {wanted} but reports otherwise")
            }
            Reason::Prerequisite { detail } => f.write_str(detail),
            Reason::HostKeyRefused { detail } => write!(f, "SSH host key refused: {detail}"),
            Reason::AuthFailed { detail } => write!(f, "SSH authentication failed: {detail}"),
            Reason::NoAnswerAfterBoot { last, .. } => write!(f, "{}: {last}", self.limited_cause()),
            Reason::Unreachable { detail } => write!(f, "SSH: {detail}"),
            Reason::ExitStatus { last_line, .. } => {
                write!(f, "{}: {last_line}", self.limited_cause())
            }
            Reason::CommandTimeout { .. } | Reason::NoHealthCheck => {
                f.write_str(&self.limited_cause())
            }
            Reason::CheckFailed { detail } => f.write_str(detail),
            Reason::NotHealthyWithin { last, .. } => write!(f, "{}: {last}", self.limited_cause()),
            Reason::PreflightHeld {
                check,
                host,
                detail,
            } => write!(f, "preflight {check:?} failed on {host}: {detail}"),
            Reason::OrderingRefused { detail } | Reason::BadValue { detail } => f.write_str(detail),
            Reason::Other { detail } => f.write_str(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_leaves_out_what_differs_per_host_and_the_text_keeps_it() {
        let a = Reason::BmcTimeout {
            limit_ms: 5000,
            detail: "chassis power status at BMC 10.1.0.7".into(),
        };
        let b = Reason::BmcTimeout {
            limit_ms: 5000,
            detail: "chassis power status at BMC 10.1.0.8".into(),
        };
        assert_eq!(a.cause(), b.cause());
        assert_eq!(a.cause(), "BMC timeout");
        assert!(a.to_string().contains("10.1.0.7"));
        assert!(
            a.to_string().contains("after 5s"),
            "one failure keeps its limit"
        );
        // Limits that differ do not split a kind into groups.
        let slower = Reason::NotHealthyWithin {
            limit_ms: 100_000,
            last: "refused".into(),
        };
        let faster = Reason::NotHealthyWithin {
            limit_ms: 75_000,
            last: "refused".into(),
        };
        assert_eq!(slower.cause(), faster.cause());
        assert_eq!(slower.limit(), Some(Duration::from_secs(100)));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), a);
    }
}
