//! Raw topology → resolved [`Topology`]: defaults applied, ranges expanded, names checked.
//! Every problem is collected, none stops the others from being found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod bmc_protocol;
mod hosts;
mod inventory;
mod settings;
mod ssh;
mod subsystems;

use hosts::resolve_hosts;
use subsystems::resolve_subsystems;

use super::defaults;
use super::diagnostic::Collector;
use super::model::*;
use super::raw::*;
use super::values::HumanDuration;
use crate::template;

/// Resolves `raw`, read from `file`, recording every problem in `out`.
pub(crate) fn resolve(raw: RawTopology, file: &Path, out: &mut Collector) -> Topology {
    if raw.version != 1 {
        out.error(
            "version",
            format!("unsupported format version {}", raw.version),
        )
        .hint("this blackstart reads version 1");
    }
    check_defaults(&raw.defaults, out);
    if raw.subsystems.is_empty() {
        out.error("subsystems", "the topology has no subsystems")
            .hint("declare what runs where under `subsystems:`; a plan needs at least one");
    }
    let base_dir = file.parent().unwrap_or(Path::new("."));
    let mut hosts = resolve_hosts(&raw, base_dir, out);
    let sourced = inventory::hosts_from(&raw, base_dir, out);
    inventory::merge(&raw, &mut hosts, sourced, out);
    let host_index: HashMap<&str, HostId> = hosts
        .iter()
        .enumerate()
        .map(|(id, host)| (host.name.as_str(), id))
        .collect();
    let subsystems = resolve_subsystems(&raw, &hosts, &host_index, base_dir, out);
    let policy = Policy {
        parallelism: raw.policy.parallelism.unwrap_or(defaults::PARALLELISM),
        power_on_per_window: raw
            .policy
            .power_on
            .as_ref()
            .map_or(defaults::POWER_ON_PER_WINDOW, |rate| rate.count),
        power_on_window: raw
            .policy
            .power_on
            .as_ref()
            .map_or(defaults::POWER_ON_WINDOW, |rate| rate.per.0),
        bmc_timeout: raw
            .policy
            .bmc_timeout
            .map_or(defaults::BMC_TIMEOUT, |t| t.0),
        bmc_attempts: raw
            .policy
            .bmc_attempts
            .unwrap_or(defaults::BMC_ATTEMPTS)
            .max(1),
        priority: raw.policy.priority.unwrap_or_default(),
    };
    if policy.bmc_attempts > settings::MAX_ATTEMPTS {
        out.error(
            "policy.bmc_attempts",
            format!(
                "{} BMC attempts is more than the {} allowed",
                policy.bmc_attempts,
                settings::MAX_ATTEMPTS
            ),
        );
    }
    if policy.parallelism == 0 {
        out.error("policy.parallelism", "parallelism must be at least 1");
    }
    if policy.power_on_per_window == 0 || policy.power_on_window.is_zero() {
        out.error(
            "policy.power_on",
            "a power-on rate needs a count and a window above zero",
        );
    }
    Topology {
        name: raw.name,
        description: raw.description,
        file: file.to_path_buf(),
        policy,
        hosts,
        subsystems,
    }
}

/// Fields that make no sense as inherited defaults.
fn check_defaults(defaults: &RawDefaults, out: &mut Collector) {
    let host = &defaults.host;
    if host.name.is_some() || host.address.is_some() {
        out.error(
            "defaults.host",
            "defaults.host cannot set a name or an address",
        )
        .hint("declare hosts under `hosts:`");
    }
    let sub = &defaults.subsystem;
    settings::check_settings(sub, "defaults.subsystem", out);
    let misplaced = [
        ("name", sub.name.is_some()),
        ("hosts", !sub.hosts.is_empty()),
        ("select", sub.select.is_some()),
        ("spares", !sub.spares.is_empty()),
        ("requires", !sub.requires.is_empty()),
        ("wants", !sub.wants.is_empty()),
        ("bootstrap", sub.bootstrap.is_some()),
    ];
    for (field, set) in misplaced {
        if set {
            out.error(
                format!("defaults.subsystem.{field}"),
                format!("defaults.subsystem cannot set `{field}`"),
            )
            .hint("set it on each subsystem under `subsystems:`");
        }
    }
}

fn duration(
    own: Option<HumanDuration>,
    inherited: Option<HumanDuration>,
    fallback: Duration,
) -> Duration {
    own.or(inherited).map_or(fallback, |value| value.0)
}

fn checked_template(text: &str, path: &str, out: &mut Collector) -> String {
    if let Err(why) = template::check(text) {
        out.error(path, why);
    }
    text.to_string()
}

/// `~/x` → home, relative paths → relative to the topology file's directory.
pub(super) fn absolute(path: &str, base_dir: &Path) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        base_dir.join(path)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::topology::{load_str_alone, SecretSource};

    #[test]
    fn a_host_without_its_own_bmc_block_inherits_the_defaults() {
        let source = "name: t\ndefaults:\n  host:\n    bmc: { address: \"10.9.0.[1:2]\", user: ops, password_env: PW }\n\
                      hosts:\n  - name: \"h[1:2]\"\nsubsystems:\n  - { name: s, hosts: [\"h[1:2]\"] }\n";
        let topology = load_str_alone(source, Path::new("t.yaml"))
            .unwrap()
            .topology;
        let bmc = topology.hosts[1].bmc.as_ref().expect("inherited BMC");
        assert_eq!(bmc.address, "10.9.0.2");
        assert_eq!(bmc.user, "ops");
        assert_eq!(bmc.password, SecretSource::Env("PW".into()));
    }
}
