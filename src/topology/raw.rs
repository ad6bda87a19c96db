//! The topology file exactly as written: serde types that mirror the YAML.
//!
//! Nothing here is interpreted. Defaults, host ranges, selectors and cross-references are
//! resolved in [`super::resolve`], which also reports every problem with its place.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::values::{HumanDuration, MinHealthy, Tier};

/// A whole topology file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTopology {
    /// Format version; only `1` exists.
    #[serde(default = "one")]
    pub version: u32,
    /// A short name for the topology, shown in plans and journals.
    pub name: String,
    /// Free text shown at the top of a plan.
    #[serde(default)]
    pub description: Option<String>,
    /// Fleet-wide limits for a run.
    #[serde(default)]
    pub policy: RawPolicy,
    /// Values inherited by every host and subsystem that does not set them itself.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Hosts, or host ranges such as `db[001:040].dc1`.
    #[serde(default)]
    pub hosts: Vec<RawHost>,
    /// More hosts, read from other sources: `- ansible: inventory.ini`. They join `hosts`
    /// (a name declared twice is an error) and inherit `defaults.host`.
    #[serde(default)]
    pub hosts_from: Vec<RawHostSource>,
    /// Subsystems: what runs where, what it needs, how to start and check it.
    #[serde(default)]
    pub subsystems: Vec<RawSubsystem>,
}

fn one() -> u32 {
    1
}

/// Fleet-wide limits. Every field has a documented default.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// At most this many node actions (power, start, probe) in flight at once. Default 64.
    pub parallelism: Option<u32>,
    /// At most `count` power-on commands per power domain (or rack) within `per`.
    /// Thousands of servers switched on at once trip breakers. Default 10 per 10s.
    pub power_on: Option<RawPowerOnRate>,
    /// Time limit of one BMC (ipmitool) call. Default `10s`.
    pub bmc_timeout: Option<HumanDuration>,
    /// Attempts per BMC request; BMCs drop sessions now and then. Default 3.
    pub bmc_attempts: Option<u32>,
    /// `tier` (default): S1 back soonest. `critical_path`: everything back soonest.
    pub priority: Option<super::model::Priority>,
}

/// A power-on rate limit for one power domain.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPowerOnRate {
    /// How many hosts may be powered on within the window.
    pub count: u32,
    /// The window, as a human duration (`10s`).
    pub per: HumanDuration,
}

/// Values inherited by hosts and subsystems.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Inherited by every host. `name` and `address` are not allowed here.
    #[serde(default)]
    pub host: RawHost,
    /// Inherited by every subsystem. Only settings (tier, timing, retry, health policy,
    /// readiness) are allowed here, not names, hosts or dependencies.
    #[serde(default)]
    pub subsystem: RawSubsystem,
}

/// SSH settings; unset fields inherit from `defaults.host.ssh`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    /// Login user. Default `root`.
    pub user: Option<String>,
    /// Port. Default 22.
    pub port: Option<u16>,
    /// Private key file. When unset, the ssh-agent is used.
    pub key: Option<String>,
    /// known_hosts file checked strictly. Default `~/.ssh/known_hosts`.
    pub known_hosts: Option<String>,
    /// Refuse unknown and changed host keys. Default true; turning it off is logged loudly.
    pub strict_host_key_checking: Option<bool>,
    /// TCP connect and handshake timeout. Default `10s`.
    pub connect_timeout: Option<HumanDuration>,
    /// OpenSSH client configuration read for `Host` and `Match` blocks and `Include` (HostName,
    /// User, Port, IdentityFile, ProxyJump, ConnectTimeout, StrictHostKeyChecking,
    /// UserKnownHostsFile);
    /// `none` reads none. Default `~/.ssh/config` when it exists. Fields written in the
    /// topology win over the file.
    pub config: Option<String>,
    /// Jump hosts, as OpenSSH's `ProxyJump`: `[user@]host[:port]`, comma-separated, the first
    /// dialled directly; `none` for a direct connection. Wins over the configuration file.
    pub proxy_jump: Option<String>,
    /// Which SSH client reaches the host. Default `builtin` (libssh2); `openssh` runs the
    /// system `ssh` with the operator's configuration (ProxyCommand, Match, Include,
    /// certificates, every key exchange OpenSSH knows), one ControlMaster per host.
    pub client: Option<RawSshClient>,
    /// Run the `Match exec` commands of the configuration file while the topology is read,
    /// as ssh runs them (built-in client). Default false: such a block does not apply and
    /// `validate` warns, naming its line.
    pub match_exec: Option<bool>,
}

/// An SSH client, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawSshClient {
    /// blackstart's own client (libssh2).
    Builtin,
    /// The system `ssh` (OpenSSH).
    Openssh,
}

/// A BMC reached with IPMI over LAN. The password is never written here.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBmc {
    /// BMC address; may hold a range that pairs with the host name's range.
    pub address: Option<String>,
    /// BMC user.
    pub user: Option<String>,
    /// Name of the environment variable that holds the password.
    pub password_env: Option<String>,
    /// File that holds the password (first line).
    pub password_file: Option<String>,
    /// Never allowed: caught by validation so the secret does not sit in the file.
    #[schemars(skip)]
    pub password: Option<serde_yaml::Value>,
    /// ipmitool interface. Default `lanplus`.
    pub interface: Option<String>,
    /// IPMI cipher suite. Default 3.
    pub cipher_suite: Option<u8>,
    /// How the BMC is spoken to. Default `ipmi`.
    pub protocol: Option<RawBmcProtocol>,
    /// IPMI: the client, `native` (default) or `ipmitool`.
    pub client: Option<RawIpmiClient>,
    /// Redfish: the ComputerSystem id (or a path starting with `/`). Default: the only member
    /// of `/redfish/v1/Systems`.
    pub system: Option<String>,
    /// Redfish: PEM file of the CA that signed the BMC's certificate, trusted instead of the
    /// system store.
    pub ca_file: Option<String>,
    /// Redfish: skip TLS verification. Default false; shown in the plan when true.
    pub insecure: Option<bool>,
    /// Redfish: how to switch off. Default `force_off`.
    pub off: Option<RawRedfishOff>,
}

/// A BMC protocol, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawBmcProtocol {
    /// IPMI over LAN.
    Ipmi,
    /// DMTF Redfish over HTTPS.
    Redfish,
}

/// The IPMI client, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawIpmiClient {
    /// blackstart's own RMCP+ client.
    Native,
    /// The `ipmitool` binary.
    Ipmitool,
}

/// The Redfish `ResetType` used to switch off, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawRedfishOff {
    /// `ForceOff`.
    ForceOff,
    /// `GracefulShutdown`.
    GracefulShutdown,
}

/// One host or a range of hosts; also the shape of `defaults.host`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Host name or range pattern: `web[01:20].dc1`, `db[1:9:2]`.
    pub name: Option<String>,
    /// Network address (may hold a range pairing with the name's range). Default: the name.
    pub address: Option<String>,
    /// How to reach the host over SSH.
    #[serde(default)]
    pub ssh: RawSsh,
    /// The host's BMC (IPMI or Redfish) settings; `address` is usually set per host.
    #[serde(default)]
    pub bmc: Option<RawBmc>,
    /// Datacenter the host lives in.
    pub datacenter: Option<String>,
    /// Rack of the host.
    pub rack: Option<String>,
    /// Power domain (PDU, breaker); power-on rate limits apply per domain. Defaults to the rack.
    pub power_domain: Option<String>,
    /// Expected time from power-on until SSH answers (`3m`).
    pub boot: Option<HumanDuration>,
    /// Free-form labels, used by subsystem selectors and `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// One source of hosts; exactly one kind is set.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHostSource {
    /// An Ansible inventory, INI or YAML (`.yaml`, `.yml`, `.json`; any other name is read
    /// as INI), relative to the topology file. Groups become labels `group.NAME: "true"`;
    /// `ansible_host`, `ansible_port` and `ansible_user` become the address and SSH port and
    /// user; `blackstart_datacenter`, `blackstart_rack`, `blackstart_power_domain`,
    /// `blackstart_bmc_address` and `blackstart_label_KEY` set those fields; other
    /// variables are ignored.
    pub ansible: Option<String>,
}

/// Retry with exponential backoff and jitter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Total attempts, the first included. Default 3.
    pub attempts: Option<u32>,
    /// First backoff. Default `5s`; doubles each attempt.
    pub backoff: Option<HumanDuration>,
    /// Backoff ceiling. Default `2m`.
    pub max_backoff: Option<HumanDuration>,
}

/// How health checks are polled.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealthPolicy {
    /// Time between polls. Default `1s`.
    pub interval: Option<HumanDuration>,
    /// Time limit of one poll. Default `5s`.
    pub timeout: Option<HumanDuration>,
    /// Consecutive successes needed, so a flapping service does not count. Default 2.
    pub successes: Option<u32>,
}

/// One subsystem; also the shape of `defaults.subsystem`.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubsystem {
    /// Unique name.
    pub name: Option<String>,
    /// Free text shown in the plan.
    pub description: Option<String>,
    /// Host names or ranges this subsystem runs on.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Hosts chosen by datacenter and labels (added to `hosts`).
    pub select: Option<RawSelector>,
    /// Spare hosts, used in place of hosts that fail for good.
    #[serde(default)]
    pub spares: Vec<String>,
    /// Hard dependencies: must be ready first; their failure blocks this subsystem.
    #[serde(default)]
    pub requires: Vec<RawDependency>,
    /// Soft dependencies: ordered after them when present, never blocked by their failure.
    #[serde(default)]
    pub wants: Vec<String>,
    /// Shell command run over SSH to start the subsystem on a host.
    pub start: Option<String>,
    /// Shell command to stop it (used when leaving bootstrap mode).
    pub stop: Option<String>,
    /// How to tell that one host of the subsystem is healthy.
    pub health: Option<RawHealth>,
    /// A command whose output keeps changing while a slow start makes progress.
    pub progress: Option<RawProgress>,
    /// A degraded start with fewer dependencies, to break a dependency cycle.
    pub bootstrap: Option<RawBootstrap>,

    /// Priority tier: 1 (or `S1`) is restored first when resources are short.
    pub tier: Option<Tier>,
    /// Expected time from start command to healthy, used by the plan's ETA. Default `30s`.
    pub expect: Option<HumanDuration>,
    /// Time limit for the start command itself. Default `2m`.
    pub start_timeout: Option<HumanDuration>,
    /// Time limit from start until healthy, per attempt. Default `5m`.
    pub ready_timeout: Option<HumanDuration>,
    /// Retry policy for failed attempts.
    pub retry: Option<RawRetry>,
    /// How many hosts must be healthy for dependents to start: `3` or `"60%"`. Default `100%`.
    pub min_healthy: Option<MinHealthy>,
    /// Rolling start: at most this many hosts of the subsystem starting at once.
    pub max_parallel: Option<u32>,
    /// Health-check polling settings.
    pub health_policy: Option<RawHealthPolicy>,
}

/// Selects hosts by datacenter and labels; all given conditions must hold.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSelector {
    /// Only hosts in this datacenter.
    pub datacenter: Option<String>,
    /// Only hosts carrying all of these labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A hard dependency: a name, or a name with options.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "expected a dependency: a subsystem name, or `{ name: NAME, bootstrap: true }`"
)]
pub enum RawDependency {
    /// `- user-db`
    Name(String),
    /// `- { name: config, bootstrap: true }`
    Detailed {
        /// The subsystem depended on.
        name: String,
        /// The dependency's bootstrap mode is enough.
        #[serde(default)]
        bootstrap: bool,
    },
}

/// A health check: exactly one of `tcp`, `http`, `command`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// The host's address accepts TCP connections on this port.
    pub tcp: Option<u16>,
    /// An HTTP GET answers with the expected status (and body).
    pub http: Option<RawHttpCheck>,
    /// A command run over SSH exits with the expected code.
    pub command: Option<String>,
    /// Exit code expected from `command`. Default 0.
    pub exit_code: Option<i32>,
}

/// An HTTP health check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttpCheck {
    /// URL; `{address}` and `{host}` are replaced by the node's values.
    pub url: String,
    /// Expected status. Default 200.
    pub status: Option<u16>,
    /// The body must contain this text.
    pub body: Option<String>,
    /// For `https://`: PEM file of the CAs trusted instead of the system's store.
    pub ca_file: Option<String>,
    /// For `https://`: no certificate verification (shown in the plan). Default false.
    pub insecure: Option<bool>,
}

/// A progress probe: while its output changes, a slow start is not killed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProgress {
    /// Command run over SSH; its stdout is compared between polls.
    pub command: String,
    /// Time between polls. Default `30s`.
    pub interval: Option<HumanDuration>,
    /// Give up when no progress is seen for this long. Default: 3 intervals.
    pub stall_after: Option<HumanDuration>,
}

/// A degraded bootstrap mode.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBootstrap {
    /// Start command in bootstrap mode.
    pub start: String,
    /// Stop command that ends bootstrap mode before the normal start.
    pub stop: Option<String>,
    /// Health check in bootstrap mode. Default: the subsystem's own.
    pub health: Option<RawHealth>,
    /// Hard dependencies of the bootstrap mode (usually fewer than the subsystem's).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Expected start duration in bootstrap mode. Default: the subsystem's.
    pub expect: Option<HumanDuration>,
}
