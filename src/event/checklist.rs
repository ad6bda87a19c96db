//! The prerequisite checklist's types: what `run::prerequisites` finds and what the
//! narration shows. They live here, below both, so the narration need not import `run`.

use crate::topology::HostId;

/// One kind of prerequisite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Every BMC password source: variable set, file readable with a first line.
    BmcPassword,
    /// The power tool (`ipmitool`) on PATH.
    PowerTool,
    /// SSH private keys readable (or an agent, when no key is given).
    SshKey,
    /// Every host in its known_hosts file (strict host-key checking).
    KnownHosts,
    /// Optional: SSH ports answering (`--check-reachability`).
    Reachability,
}

impl Check {
    /// Every check `run::prerequisites::check` makes, in the order shown.
    pub const LOCAL: [Check; 4] = [
        Check::BmcPassword,
        Check::PowerTool,
        Check::SshKey,
        Check::KnownHosts,
    ];
}

/// A missing prerequisite and the hosts it affects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// What is missing and where it was looked for (never a secret).
    pub cause: String,
    /// The hosts it affects, in id order.
    pub hosts: Vec<HostId>,
}

/// The result of every check: how many hosts each covered, and what is missing.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Checklist {
    /// Per check: hosts it applied to.
    pub checked: Vec<(Check, usize)>,
    /// Missing prerequisites, one per cause.
    pub findings: Vec<Finding>,
}

impl Checklist {
    /// True when nothing is missing.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}
