//! The playbook file as written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::topology::raw::RawPowerOnRate;
use crate::topology::{Bound, Comparison, Extreme, HumanDuration, Tier};

/// A playbook: a topology, a scope, policy overrides, and the procedures around the graph.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybook {
    /// Format version; only `1` exists.
    #[serde(default = "one")]
    pub version: u32,
    /// The playbook's name. Its presence tells a playbook from a topology.
    pub playbook: String,
    /// Free text shown at the top of the plan.
    pub description: Option<String>,
    /// The topology file, relative to the playbook.
    pub topology: String,
    /// Which part of the topology this playbook covers.
    #[serde(default)]
    pub scope: RawScope,
    /// Overrides of the topology's policy.
    #[serde(default)]
    pub policy: RawPlaybookPolicy,
    /// Checks run before any action.
    #[serde(default)]
    pub preflight: Vec<RawPreflight>,
    /// Commands run on hosts after they boot and before their services start.
    #[serde(default)]
    pub prepare: Vec<RawPrepare>,
    /// Steps done by people, inside the graph.
    #[serde(default)]
    pub manual: Vec<RawManual>,
    /// Approvals that hold a subsystem until acknowledged.
    #[serde(default)]
    pub gates: Vec<RawGate>,
    /// Which member of a replicated store starts first.
    #[serde(default)]
    pub order: Vec<RawOrder>,
    /// Makes the playbook a drill: baseline, power off, cold start, compare, report.
    pub drill: Option<RawDrill>,
}

fn one() -> u32 {
    1
}

/// The scope of a playbook.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    /// Only hosts in this datacenter.
    pub datacenter: Option<String>,
    /// Only subsystems of these tiers (and what they need).
    #[serde(default)]
    pub tiers: Vec<Tier>,
    /// Only hosts with all these labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Only these subsystems (and what they need).
    #[serde(default)]
    pub subsystems: Vec<String>,
    /// Leave these subsystems out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What to do when something fails.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Keep going on every branch a failure does not touch.
    #[default]
    Continue,
    /// Stop launching new work at the first failure.
    Stop,
}

/// Policy overrides.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlaybookPolicy {
    /// Node actions in flight at once.
    pub parallelism: Option<u32>,
    /// Power-on rate per power domain.
    pub power_on: Option<RawPowerOnRate>,
    /// Continue (default) or stop at the first failure.
    #[serde(default)]
    pub on_failure: OnFailure,
}

/// Where a preflight check or a preparation step runs: hosts by name or range, and/or the
/// hosts of subsystems.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTargets {
    /// Host names or ranges.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Every host of these subsystems.
    #[serde(default)]
    pub subsystems: Vec<String>,
    /// Every host in scope.
    #[serde(default)]
    pub all: bool,
}

/// A preflight check: exactly one of `disk_free`, `value`, `file`, `command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPreflight {
    /// Name shown in the plan and the journal.
    pub name: String,
    /// Where it runs.
    pub on: RawTargets,
    /// Free disk space on a path is at least `min` (`10%` or `5GB`).
    pub disk_free: Option<RawDiskFree>,
    /// A command's numeric output meets a bound (`replication lag == 0`).
    pub value: Option<RawValueCheck>,
    /// A file is recent and not empty (the newest backup).
    pub file: Option<RawFileCheck>,
    /// A command exits with `exit_code` (default 0).
    pub command: Option<String>,
    /// Exit code expected from `command`.
    pub exit_code: Option<i32>,
    /// Time limit of the check on one host. Default `30s`.
    pub timeout: Option<HumanDuration>,
    /// `stop` (default): nothing starts. `block`: only `blocks` and what needs them.
    #[serde(default)]
    pub on_failure: PreflightFailure,
    /// Subsystems held when the check fails with `on_failure: block`.
    #[serde(default)]
    pub blocks: Vec<String>,
}

/// What a failed preflight check stops.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreflightFailure {
    /// The whole run, before any action.
    #[default]
    Stop,
    /// Only the listed subsystems and their dependents.
    Block,
}

/// Free disk space.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDiskFree {
    /// A path on the file system to check.
    pub path: String,
    /// At least this much free: `10%`, `500MB`, `5GB`.
    pub min: String,
}

/// A numeric value and its bound.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValueCheck {
    /// Command printing one number (its last line counts).
    pub command: String,
    /// The comparison: `==`, `!=`, `<`, `<=`, `>`, `>=`.
    pub op: Comparison,
    /// The bound it must meet.
    pub bound: f64,
}

/// A file's age and size.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFileCheck {
    /// The file.
    pub path: String,
    /// At most this old.
    pub max_age: Option<HumanDuration>,
    /// At least this large: `1`, `10MB`.
    pub min_size: Option<String>,
}

/// A preparation step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrepare {
    /// Name shown in the plan and the journal.
    pub name: String,
    /// Where it runs.
    pub on: RawTargets,
    /// The command.
    pub run: String,
    /// Time limit. Default `1m`.
    pub timeout: Option<HumanDuration>,
}

/// A manual step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawManual {
    /// Name (a step id; acknowledged with `blackstart ack RUN_DIR NAME`).
    pub name: String,
    /// What the person must do.
    pub instructions: String,
    /// Subsystems or steps that must be ready before it is shown.
    #[serde(default)]
    pub after: Vec<String>,
    /// Subsystems that wait for it.
    #[serde(default)]
    pub before: Vec<String>,
    /// Expected duration, for the ETA. Default `10m`.
    pub expect: Option<HumanDuration>,
    /// A check run after the acknowledgement; the step counts as done when it passes.
    pub verify: Option<RawVerify>,
    /// Priority tier.
    pub tier: Option<Tier>,
}

/// A verification after a manual step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    /// The host it runs on.
    pub host: String,
    /// The command.
    pub command: String,
    /// Expected exit code. Default 0.
    pub exit_code: Option<i32>,
    /// How long to keep checking. Default `1m`.
    pub timeout: Option<HumanDuration>,
}

/// A gate before a subsystem.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    /// Name (acknowledged with `blackstart ack RUN_DIR NAME`).
    pub name: String,
    /// The subsystem it holds.
    pub before: String,
    /// What to check before approving.
    pub instructions: String,
    /// Expected wait, for the ETA. Default `5m`.
    pub expect: Option<HumanDuration>,
}

/// Data-aware start order inside a subsystem.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOrder {
    /// The subsystem.
    pub subsystem: String,
    /// Command printing one number on each member.
    pub probe: String,
    /// `max` or `min`: which member starts first.
    pub first: Extreme,
    /// A bound the first member's value must meet before it starts.
    pub guard: Option<Bound>,
}

/// The drill settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDrill {
    /// Power the scope's hosts off through their BMCs before the cold start.
    #[serde(default = "yes")]
    pub power_off: bool,
    /// Where to write the drill report (relative to the run directory). Default
    /// `drill-report.json`.
    pub report: Option<String>,
    /// Simulated runs used for the prediction. Default 200.
    pub simulations: Option<u32>,
}

fn yes() -> bool {
    true
}
