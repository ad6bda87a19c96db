//! How each host is reached over SSH, for the plan: the client, the user and port, the key
//! file (its path, never its content), the jump chain and whether host keys are checked. The
//! JSON plan lists it per host; the text plan groups hosts that share a route and flags any
//! group whose host keys are not checked.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Plan;
use crate::topology::hostrange::compress;
use crate::topology::{HostId, JumpHost, SshLogin, Topology};
use crate::units::count;

/// One host's route, in the JSON plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRoute {
    /// Host name.
    pub host: String,
    /// Address dialled (through the jump chain, when there is one).
    pub address: String,
    /// The SSH client: `builtin` (libssh2) or `openssh` (the system's ssh).
    pub client: &'static str,
    /// How the host itself is logged in to.
    #[serde(flatten)]
    pub login: LoginRoute,
    /// Jump hosts, the first dialled directly; empty for a direct connection.
    pub jumps: Vec<JumpRoute>,
}

/// The login part of a route: user, port, key file, host-key checking.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LoginRoute {
    /// Login user.
    pub user: String,
    /// Port.
    pub port: u16,
    /// Private key file (the agent when None). The path only, never the key.
    pub key_file: Option<String>,
    /// known_hosts file the host key is checked against.
    pub known_hosts: String,
    /// Unknown and changed host keys refused.
    pub host_key_checking: bool,
}

/// One jump host of a route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct JumpRoute {
    /// The name as written in `ProxyJump`.
    pub name: String,
    /// Address dialled.
    pub address: String,
    /// How it is logged in to.
    #[serde(flatten)]
    pub login: LoginRoute,
}

fn login(login: &SshLogin) -> LoginRoute {
    LoginRoute {
        user: login.user.clone(),
        port: login.port,
        key_file: login.key.as_ref().map(|k| k.display().to_string()),
        known_hosts: login.known_hosts.display().to_string(),
        host_key_checking: login.strict_host_key_checking,
    }
}

fn jump(jump: &JumpHost) -> JumpRoute {
    JumpRoute {
        name: jump.name.clone(),
        address: jump.address.clone(),
        login: login(&jump.login),
    }
}

/// The hosts the plan covers, in topology order.
pub fn plan_hosts(plan: &Plan) -> Vec<HostId> {
    let mut hosts: Vec<HostId> = plan
        .steps
        .iter()
        .flat_map(|s| s.hosts.iter().copied())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}

/// Each covered host's route.
pub fn host_routes(topology: &Topology, plan: &Plan) -> Vec<HostRoute> {
    plan_hosts(plan)
        .into_iter()
        .map(|id| {
            let host = &topology.hosts[id];
            HostRoute {
                host: host.name.clone(),
                address: host.address.clone(),
                client: host.ssh.client(),
                login: login(&host.ssh.login),
                jumps: host.ssh.jumps.iter().map(jump).collect(),
            }
        })
        .collect()
}

/// Most host ranges named per route in the text plan; the rest are counted.
const RANGES_SHOWN: usize = 4;

/// The text plan's `ssh routes` lines: one per route shared by hosts, the hosts folded into
/// ranges; a group whose host keys (its own or a jump's) are not checked says so in capitals.
pub fn render_routes(topology: &Topology, plan: &Plan) -> String {
    use super::text::words::{escape, wrap_into};
    let mut groups: BTreeMap<(LoginRoute, Vec<JumpRoute>, &'static str), Vec<String>> =
        BTreeMap::new();
    for route in host_routes(topology, plan) {
        groups
            .entry((route.login, route.jumps, route.client))
            .or_default()
            .push(route.host);
    }
    let mut out = String::new();
    let total: usize = groups.values().map(Vec::len).sum();
    for (index, ((login, jumps, client), hosts)) in groups.iter().enumerate() {
        // One route for all: the `starts` line above already names its user and port.
        let mut line = if groups.len() == 1 {
            format!(
                "{}, {}",
                count(total, "host", "hosts"),
                client_words(client)
            )
        } else {
            let names = compress(hosts.iter().map(String::as_str));
            let more = names.len().saturating_sub(RANGES_SHOWN);
            let mut shown = names[..names.len().min(RANGES_SHOWN)].join(", ");
            if more > 0 {
                shown.push_str(&format!(" and {more} more ranges"));
            }
            format!(
                "{} ({shown}): {}@HOST:{}",
                count(hosts.len(), "host", "hosts"),
                login.user,
                login.port
            )
        };
        if !jumps.is_empty() {
            let hops: Vec<String> = jumps
                .iter()
                .map(|j| format!("{}@{}:{}", j.login.user, j.address, j.login.port))
                .collect();
            line.push_str(&format!(" via {}", hops.join(",")));
        }
        if groups.len() > 1 {
            line.push_str(&format!(", {}", client_words(client)));
        }
        match &login.key_file {
            Some(key) => line.push_str(&format!(", key {}", home_as_tilde(key))),
            None => line.push_str(", key from the agent"),
        }
        let unchecked: Vec<&str> = std::iter::once(login.host_key_checking)
            .chain(jumps.iter().map(|j| j.login.host_key_checking))
            .zip(std::iter::once("the hosts").chain(jumps.iter().map(|j| j.name.as_str())))
            .filter(|(checked, _)| !checked)
            .map(|(_, who)| who)
            .collect();
        if unchecked.is_empty() {
            // The known_hosts file is in the JSON plan: one route keeps to one line.
            line.push_str(", host keys checked");
        } else {
            line.push_str(&format!(
                "; HOST KEYS NOT CHECKED for {} (strict_host_key_checking off): anyone on the path can pose as them",
                unchecked.join(", ")
            ));
        }
        let head = if index == 0 {
            "  ssh routes   "
        } else {
            "               "
        };
        wrap_into(&mut out, head, &escape(&line), 15);
    }
    out
}

/// `path` with the home directory written `~`, as people write it (and so the text plan
/// reads the same for every operator); the JSON plan keeps the full path.
fn home_as_tilde(path: &str) -> String {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && home != "/" => match path.strip_prefix(&home) {
            Some(rest) if rest.starts_with('/') => format!("~{rest}"),
            _ => path.to_string(),
        },
        _ => path.to_string(),
    }
}

/// The client in the words of the text plan.
fn client_words(client: &str) -> &'static str {
    match client {
        "openssh" => "system ssh (route as `ssh -G` resolves it)",
        _ => "built-in client",
    }
}
