//! When a node counts as healthy (its check and polling policy), the progress probe that
//! keeps a slow start alive, and retries.

use std::time::Duration;

use serde::Serialize;

use super::bmc::TlsTrust;
use super::secs;

/// How one host of a subsystem is judged healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthCheck {
    /// A TCP connect to the host's address succeeds.
    Tcp {
        /// Port.
        port: u16,
    },
    /// An HTTP GET answers as expected (the URL is a template).
    Http(HttpCheck),
    /// A command over SSH exits with the expected code.
    Command {
        /// Command template.
        command: String,
        /// Expected exit code.
        exit_code: i32,
    },
}

/// An HTTP GET health check: the URL (a template in the topology, filled in for one host in
/// the plan), what it must answer, and how an `https://` peer is verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// The URL.
    pub url: String,
    /// Expected status.
    pub status: u16,
    /// Text the body must contain.
    pub body: Option<String>,
    /// How an `https://` peer is verified.
    pub tls: TlsTrust,
}

/// Health-check polling.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HealthPolicy {
    /// Time between polls.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Time limit of one poll.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Consecutive successes needed.
    pub successes: u32,
}

/// A progress probe.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressProbe {
    /// Command whose output changes while the start progresses.
    pub command: String,
    /// Time between polls.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Give up after this long without change.
    #[serde(with = "secs")]
    pub stall_after: Duration,
}

/// Retry with exponential backoff and jitter.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    /// First backoff.
    #[serde(with = "secs")]
    pub backoff: Duration,
    /// Backoff ceiling.
    #[serde(with = "secs")]
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The backoff before attempt `attempt` (2 = the first retry), before jitter.
    pub fn backoff_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}
