//! The resolved topology: every default applied, every range expanded, every name checked.
//! This is what the graph, the plan and the run work from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

mod bmc;
mod health;
mod ids;
pub(crate) mod secs;
mod ssh;
mod subsystem;

pub use bmc::*;
pub use health::*;
pub use ids::*;
pub use ssh::*;
pub use subsystem::*;

/// A validated topology.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The topology's name.
    pub name: String,
    /// Free text from the file.
    pub description: Option<String>,
    /// The file it was read from.
    pub file: PathBuf,
    /// Fleet-wide limits.
    pub policy: Policy,
    /// Every host, ranges expanded.
    pub hosts: Vec<Host>,
    /// Every subsystem, in file order.
    pub subsystems: Vec<Subsystem>,
}

impl Topology {
    /// The subsystem called `name`.
    pub fn subsystem_id(&self, name: &str) -> Option<SubsystemId> {
        self.subsystems.iter().position(|sub| sub.name == name)
    }

    /// The host called `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|host| host.name == name)
    }
}

/// Fleet-wide limits for a run.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// Node actions in flight at once.
    pub parallelism: u32,
    /// Power-on commands allowed per power domain within `power_on_window`.
    pub power_on_per_window: u32,
    /// The power-on rate window.
    #[serde(with = "secs")]
    pub power_on_window: Duration,
    /// Time limit of one BMC call.
    #[serde(with = "secs")]
    pub bmc_timeout: Duration,
    /// Attempts per BMC request.
    pub bmc_attempts: u32,
    /// What the scheduler serves first when the caps bind.
    pub priority: Priority,
}

/// What ready work goes first when parallelism or rate limits bind.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Severity first (S1 before S3; what an S1 step needs counts as S1), then the longest
    /// remaining chain: the most severe tiers come back soonest.
    #[default]
    Tier,
    /// The longest remaining chain first, severity breaking ties: everything is back
    /// soonest.
    CriticalPath,
}

/// One host.
#[derive(Debug, Clone)]
pub struct Host {
    /// Unique name.
    pub name: String,
    /// Network address for SSH and probes.
    pub address: String,
    /// How to reach it over SSH.
    pub ssh: SshSettings,
    /// Its BMC, when it has one.
    pub bmc: Option<Bmc>,
    /// Datacenter, when declared.
    pub datacenter: Option<String>,
    /// Rack, when declared.
    pub rack: Option<String>,
    /// Power domain: the rate limit applies per domain. Defaults to the rack.
    pub power_domain: Option<String>,
    /// Expected time from power-on until SSH answers.
    pub boot: Duration,
    /// Free-form labels.
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
impl Host {
    /// A host for unit tests: `name` on 127.0.0.1, root over port 22 with strict host-key
    /// checking, no BMC, 1 s boot.
    pub(crate) fn for_test(name: &str) -> Host {
        Host {
            name: name.into(),
            address: "127.0.0.1".into(),
            ssh: SshSettings {
                login: SshLogin {
                    user: "root".into(),
                    port: 22,
                    key: None,
                    certificate: None,
                    known_hosts: "/dev/null".into(),
                    strict_host_key_checking: true,
                    connect_timeout: Duration::from_secs(1),
                },
                jumps: Vec::new(),
                openssh: None,
            },
            bmc: None,
            datacenter: None,
            rack: None,
            power_domain: None,
            boot: Duration::from_secs(1),
            labels: BTreeMap::new(),
        }
    }
}

impl Host {
    /// `user@address:port`, followed by ` via user@jump:port,...` when the host is reached
    /// through jump hosts: the route exactly as the run takes it.
    pub fn ssh_route(&self) -> String {
        if let Some(client) = &self.ssh.openssh {
            return match &client.resolved {
                Some(route) => format!("{} (system ssh)", route.text()),
                None => format!(
                    "{} (system ssh, route as its config says)",
                    client.destination
                ),
            };
        }
        format!(
            "{}@{}:{}{}",
            self.ssh.login.user,
            self.address,
            self.ssh.login.port,
            self.jump_route()
        )
    }

    /// ` via user@jump:port,...` when the host is reached through jump hosts, else nothing.
    pub fn jump_route(&self) -> String {
        if let Some(client) = &self.ssh.openssh {
            let via = client.resolved.as_ref().and_then(|route| {
                let text = route.text();
                text.find(" via ").map(|at| text[at..].to_string())
            });
            return format!("{} (system ssh)", via.unwrap_or_default());
        }
        if self.ssh.jumps.is_empty() {
            return String::new();
        }
        let hops: Vec<String> = self.ssh.jumps.iter().map(JumpHost::route).collect();
        format!(" via {}", hops.join(","))
    }
}
