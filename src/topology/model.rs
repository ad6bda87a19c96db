//! The resolved topology: every default applied, every range expanded, every name checked.
//! This is what the graph, the plan and the run work from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::values::{MinHealthy, Tier};

/// Index of a host in [`Topology::hosts`].
pub type HostId = usize;
/// Index of a subsystem in [`Topology::subsystems`].
pub type SubsystemId = usize;

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

/// SSH settings of one host.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    /// How to log in to the host itself.
    #[serde(flatten)]
    pub login: SshLogin,
    /// Jump hosts (OpenSSH `ProxyJump`), the first dialled directly; empty for a direct
    /// connection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jumps: Vec<JumpHost>,
    /// Set when the host is reached by the operator's own OpenSSH client (`ssh: { client:
    /// openssh }`) instead of the built-in one: what to hand to `ssh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openssh: Option<OpensshClient>,
}

impl SshSettings {
    /// `openssh` or `builtin`: the client that reaches the host, as the topology writes it.
    pub fn client(&self) -> &'static str {
        if self.openssh.is_some() {
            "openssh"
        } else {
            "builtin"
        }
    }
}

/// What the system `ssh` is told about one host. Only what the topology itself writes is
/// passed as an option (it wins over the configuration file, as for the built-in client);
/// everything else — `HostName`, `User`, `ProxyCommand`, `Match`, `Include`, certificates —
/// is left to `ssh` and the operator's configuration. Host-key checking is the exception:
/// strict unless the topology turns it off, whatever the file says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpensshClient {
    /// What is typed after `ssh`: the topology's address, or the host's name, so `Host`
    /// blocks match as they would for the operator.
    pub destination: String,
    /// `-F` file: the one the topology (or `BLACKSTART_SSH_CONFIG`) names, `none` for none;
    /// unset lets `ssh` read `~/.ssh/config` and `/etc/ssh/ssh_config` itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<PathBuf>,
    /// User written in the topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Port written in the topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Key file written in the topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// known_hosts file written in the topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// `proxy_jump` written in the topology (`none` included), passed as `ProxyJump`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_jump: Option<String>,
    /// The route as `ssh -G` resolves it on this machine; filled in by `plan` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<OpensshRoute>,
}

/// A route as the system ssh resolves it (`ssh -G`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpensshRoute {
    /// Login user.
    pub user: String,
    /// Address dialled.
    pub hostname: String,
    /// Port.
    pub port: u16,
    /// `ProxyJump`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_jump: Option<String>,
    /// `ProxyCommand`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_command: Option<String>,
}

impl OpensshRoute {
    /// `user@hostname:port`, followed by ` via JUMPS` or ` via ProxyCommand `...``.
    pub fn text(&self) -> String {
        let via = match (&self.proxy_jump, &self.proxy_command) {
            (Some(jump), _) => format!(" via {jump}"),
            (None, Some(command)) => format!(" via ProxyCommand `{command}`"),
            (None, None) => String::new(),
        };
        format!("{}@{}:{}{via}", self.user, self.hostname, self.port)
    }
}

/// One jump host on the way to a host, with everything needed to log in to it. Its key is
/// checked as strictly as the host's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JumpHost {
    /// The name as written in `ProxyJump` (an alias or an address).
    pub name: String,
    /// The address dialled (the alias's `HostName`, or the name).
    pub address: String,
    /// How to log in to it.
    #[serde(flatten)]
    pub login: SshLogin,
}

/// How to log in over SSH: the same settings for a host and for each of its jump hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshLogin {
    /// Login user.
    pub user: String,
    /// Port.
    pub port: u16,
    /// Private key file; the agent is used when absent.
    pub key: Option<PathBuf>,
    /// User certificate offered with the key (`CertificateFile` of the SSH config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// known_hosts file the peer's key is checked against.
    pub known_hosts: PathBuf,
    /// Refuse unknown and changed host keys.
    pub strict_host_key_checking: bool,
    /// Connect and handshake timeout.
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
}

impl JumpHost {
    /// `user@address:port`, as the plan shows it.
    pub fn route(&self) -> String {
        format!("{}@{}:{}", self.login.user, self.address, self.login.port)
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

/// Where a BMC password comes from. The password itself is read only when it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable of the orchestrator.
    Env(String),
    /// The first line of a file.
    File(PathBuf),
}

/// A host's baseboard management controller: how its power is switched remotely.
#[derive(Debug, Clone, Serialize)]
pub struct Bmc {
    /// BMC address.
    pub address: String,
    /// BMC user.
    pub user: String,
    /// Where the password is read from.
    pub password: SecretSource,
    /// How the BMC is spoken to, with that protocol's own settings.
    #[serde(flatten)]
    pub protocol: BmcProtocol,
}

/// A BMC protocol and its settings. A fleet may mix protocols: each host has its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum BmcProtocol {
    /// IPMI over LAN, natively or through `ipmitool`.
    Ipmi(IpmiSettings),
    /// DMTF Redfish over HTTPS.
    Redfish(RedfishSettings),
}

/// Settings of a Redfish BMC. Its address is `host` or `host:port`; requests go to
/// `https://{address}/redfish/v1/...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedfishSettings {
    /// The ComputerSystem: an id under `/redfish/v1/Systems/` or a path starting with `/`.
    /// None: the one member of `/redfish/v1/Systems`.
    pub system: Option<String>,
    /// Whom the BMC's certificate must be signed by.
    pub tls: TlsTrust,
    /// The `ResetType` used to switch off.
    pub off: RedfishOff,
}

/// The `ResetType` a Redfish BMC is asked for to switch a host off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedfishOff {
    /// `ForceOff`: at once, like `ipmitool chassis power off`.
    ForceOff,
    /// `GracefulShutdown`: the operating system is asked to shut down.
    GracefulShutdown,
}

/// How a TLS peer's certificate is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsTrust {
    /// PEM file of the certificate authorities trusted instead of the system's store.
    pub ca_file: Option<PathBuf>,
    /// No verification at all: only when written as `insecure: true`, and shown in the plan.
    pub insecure: bool,
}

/// Settings of IPMI over LAN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpmiSettings {
    /// Which client speaks to the BMC.
    pub client: IpmiClient,
    /// ipmitool interface (`lanplus`); the native client speaks `lanplus` only.
    pub interface: String,
    /// IPMI cipher suite.
    pub cipher_suite: u8,
}

/// The program that speaks IPMI to a BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpmiClient {
    /// blackstart's own RMCP+ client (cipher suites 3 and 17): no process per call, and the
    /// password never leaves the process.
    Native,
    /// The `ipmitool` binary, one process per call, the password in its environment.
    Ipmitool,
}

impl IpmiClient {
    /// The name written in topologies and shown in plans.
    pub fn name(self) -> &'static str {
        match self {
            IpmiClient::Native => "native",
            IpmiClient::Ipmitool => "ipmitool",
        }
    }
}

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
        use super::defaults;
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

/// Serializes durations as fractional seconds.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }
}
