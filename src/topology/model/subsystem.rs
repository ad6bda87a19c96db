//! A subsystem: where it runs, what it requires, how it starts, its bootstrap mode and
//! data-aware ordering.

use std::time::Duration;

use serde::Serialize;

use super::health::{HealthCheck, HealthPolicy, ProgressProbe, RetryPolicy};
use super::ids::{HostId, SubsystemId};
use crate::topology::values::{MinHealthy, Tier};

/// One subsystem.
#[derive(Debug, Clone)]
pub struct Subsystem {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Restore order when resources are short: 1 first.
    pub tier: Tier,
    /// Hosts it runs on.
    pub hosts: Vec<HostId>,
    /// Spare hosts, used in place of hosts that fail for good.
    pub spares: Vec<HostId>,
    /// Hard dependencies.
    pub requires: Vec<Dependency>,
    /// Soft dependencies.
    pub wants: Vec<SubsystemId>,
    /// Start command (a template; see [`crate::plan::render`]).
    pub start: Option<String>,
    /// Stop command.
    pub stop: Option<String>,
    /// Health check.
    pub health: Option<HealthCheck>,
    /// Polling of the health check.
    pub health_policy: HealthPolicy,
    /// Progress probe for slow starts.
    pub progress: Option<ProgressProbe>,
    /// Bootstrap mode that breaks a cycle.
    pub bootstrap: Option<Bootstrap>,
    /// Expected start duration.
    pub expect: Duration,
    /// Time limit of the start command.
    pub start_timeout: Duration,
    /// Time limit from start to healthy, per attempt.
    pub ready_timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Readiness rule for the group of hosts.
    pub min_healthy: MinHealthy,
    /// Rolling start: hosts starting at once.
    pub max_parallel: Option<u32>,
    /// A service on hosts, or a step done by people.
    pub kind: SubsystemKind,
    /// Which member starts first, for replicated stores.
    pub order: Option<OrderRule>,
}

/// What a step of the graph is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SubsystemKind {
    /// A service started and checked on its hosts.
    Service,
    /// Work done by a person (swap a disk); the graph goes on elsewhere until it is
    /// acknowledged.
    Manual {
        /// What to do, shown to the operator.
        instructions: String,
    },
    /// An approval that holds what comes after it until someone acknowledges it.
    Gate {
        /// What to check before approving.
        instructions: String,
    },
}

impl SubsystemKind {
    /// True for steps that people acknowledge.
    pub fn is_human(&self) -> bool {
        !matches!(self, SubsystemKind::Service)
    }
}

/// Data-aware ordering inside a replicated store: a probe's value on each member picks the
/// one that starts first (the most advanced), the others follow once it is healthy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRule {
    /// Command printing one number on each member (a sequence number, a lag).
    pub probe: String,
    /// Whether the highest or the lowest value starts first.
    pub first: Extreme,
    /// A bound the chosen member's value must meet before it is started (promoted).
    pub guard: Option<Bound>,
}

/// Highest or lowest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Extreme {
    /// The highest value first (a Galera sequence number).
    Max,
    /// The lowest value first (replication lag).
    Min,
}

/// A numeric bound: `value OP bound`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Bound {
    /// The comparison.
    pub op: Comparison,
    /// The bound.
    pub value: f64,
}

/// A comparison operator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub enum Comparison {
    /// Equal.
    #[serde(rename = "==")]
    Eq,
    /// Not equal.
    #[serde(rename = "!=")]
    Ne,
    /// Less than.
    #[serde(rename = "<")]
    Lt,
    /// At most.
    #[serde(rename = "<=")]
    Le,
    /// More than.
    #[serde(rename = ">")]
    Gt,
    /// At least.
    #[serde(rename = ">=")]
    Ge,
}

impl Bound {
    /// Whether `value` meets the bound.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            Comparison::Eq => value == self.value,
            Comparison::Ne => value != self.value,
            Comparison::Lt => value < self.value,
            Comparison::Le => value <= self.value,
            Comparison::Gt => value > self.value,
            Comparison::Ge => value >= self.value,
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        };
        write!(f, "{op} {}", self.value)
    }
}

impl Subsystem {
    /// A subsystem with no hosts and every setting at its default, for steps that
    /// playbooks add to the graph (manual steps, gates, verifications).
    pub fn synthetic(name: String, kind: SubsystemKind, expect: Duration) -> Subsystem {
        use crate::topology::defaults;
        Subsystem {
            name,
            description: None,
            tier: Tier::default(),
            hosts: Vec::new(),
            spares: Vec::new(),
            requires: Vec::new(),
            wants: Vec::new(),
            start: None,
            stop: None,
            health: None,
            health_policy: HealthPolicy {
                interval: defaults::HEALTH_INTERVAL,
                timeout: defaults::HEALTH_TIMEOUT,
                successes: 1,
            },
            progress: None,
            bootstrap: None,
            expect,
            start_timeout: defaults::START_TIMEOUT,
            ready_timeout: defaults::READY_TIMEOUT,
            retry: RetryPolicy {
                attempts: 1,
                backoff: defaults::RETRY_BACKOFF,
                max_backoff: defaults::RETRY_MAX_BACKOFF,
            },
            min_healthy: MinHealthy::default(),
            max_parallel: None,
            kind,
            order: None,
        }
    }
}

/// A hard dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// The subsystem depended on.
    pub on: SubsystemId,
    /// Its bootstrap mode is enough.
    pub bootstrap_ok: bool,
    /// Position in the subsystem's `requires:` list, to point error messages at it.
    pub index: usize,
}

/// The degraded mode that breaks a cycle.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// Start command in bootstrap mode.
    pub start: String,
    /// Command that ends bootstrap mode before the normal start.
    pub stop: Option<String>,
    /// Health check in bootstrap mode.
    pub health: Option<HealthCheck>,
    /// Hard dependencies in bootstrap mode.
    pub requires: Vec<SubsystemId>,
    /// Expected start duration in bootstrap mode.
    pub expect: Duration,
}
