//! How a host is reached over SSH: the built-in client's login, jump hosts, and what the
//! system `ssh` is told.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::secs;

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
