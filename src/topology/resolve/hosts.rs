//! Hosts: ranges expanded, addresses and BMC addresses paired with names, SSH and BMC
//! settings merged over the defaults, inline passwords refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::bmc_protocol::{resolve_protocol, Sources};
use super::duration;
use crate::topology::defaults;
use crate::topology::diagnostic::Collector;
use crate::topology::hostrange;
use crate::topology::model::*;
use crate::topology::raw::*;

pub(super) fn resolve_hosts(raw: &RawTopology, base_dir: &Path, out: &mut Collector) -> Vec<Host> {
    let defaults = &raw.defaults.host;
    let mut hosts: Vec<Host> = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (index, entry) in raw.hosts.iter().enumerate() {
        let path = format!("hosts[{index}]");
        let Some(pattern) = &entry.name else {
            out.error(&path, "host without a name")
                .hint("add `name: web01` or a range like `name: web[01:20]`");
            continue;
        };
        let names = match hostrange::expand(pattern) {
            Ok(names) => names,
            Err(why) => {
                out.error(format!("{path}.name"), why);
                continue;
            }
        };
        let addresses = paired(
            entry.address.as_deref(),
            &names,
            &format!("{path}.address"),
            out,
        );
        let bmc = entry.bmc.as_ref().or(defaults.bmc.as_ref());
        let bmc_addresses = bmc.and_then(|bmc| {
            let address = bmc
                .address
                .as_deref()
                .or(defaults.bmc.as_ref().and_then(|bmc| bmc.address.as_deref()));
            if address.is_none() {
                out.error(
                    format!("{path}.bmc"),
                    format!("BMC of {pattern} has no address"),
                )
                .hint("set `bmc: { address: ... }` on the host (a range may pair with the name)");
            }
            address
                .map(|address| paired(Some(address), &names, &format!("{path}.bmc.address"), out))
        });
        let bmc_settings = merge_bmc(
            defaults.bmc.as_ref(),
            entry.bmc.as_ref(),
            &path,
            base_dir,
            out,
        );
        let ssh = merge_ssh(&defaults.ssh, &entry.ssh, base_dir);
        let mut labels = defaults.labels.clone();
        labels.extend(entry.labels.clone());
        for (position, name) in names.iter().enumerate() {
            if let Some(previous) = first_seen.get(name) {
                out.error(
                    format!("{path}.name"),
                    format!("duplicate host {name:?} (first declared at {previous})"),
                )
                .hint("each host may be declared once; check overlapping ranges");
                continue;
            }
            first_seen.insert(name.clone(), path.clone());
            let address = addresses
                .as_ref()
                .and_then(|list| list.get(position).cloned())
                .unwrap_or_else(|| name.clone());
            let bmc = match (&bmc_settings, &bmc_addresses) {
                (Some(settings), Some(Some(list))) => list.get(position).map(|address| Bmc {
                    address: address.clone(),
                    user: settings.user.clone(),
                    password: settings.password.clone(),
                    protocol: settings.protocol.clone(),
                }),
                _ => None,
            };
            let rack = entry.rack.clone().or_else(|| defaults.rack.clone());
            hosts.push(Host {
                name: name.clone(),
                address,
                ssh: ssh.clone(),
                bmc,
                datacenter: entry
                    .datacenter
                    .clone()
                    .or_else(|| defaults.datacenter.clone()),
                power_domain: entry
                    .power_domain
                    .clone()
                    .or_else(|| defaults.power_domain.clone())
                    .or_else(|| rack.clone()),
                rack,
                boot: duration(entry.boot, defaults.boot, defaults::BOOT),
                labels: labels.clone(),
            });
        }
    }
    hosts
}

/// Expands an address pattern so it pairs one-to-one with `names`.
fn paired(
    pattern: Option<&str>,
    names: &[String],
    path: &str,
    out: &mut Collector,
) -> Option<Vec<String>> {
    let pattern = pattern?;
    match hostrange::expand(pattern) {
        Ok(list) if list.len() == names.len() => Some(list),
        Ok(list) if list.len() == 1 && names.len() > 1 => {
            out.error(
                path,
                format!("one address {pattern:?} for {} hosts", names.len()),
            )
            .hint("give the address a range with as many values as the name has");
            None
        }
        Ok(list) => {
            out.error(
                path,
                format!(
                    "address range {pattern:?} gives {} values for {} hosts",
                    list.len(),
                    names.len()
                ),
            )
            .hint("the address range must have as many values as the name range");
            None
        }
        Err(why) => {
            out.error(path, why);
            None
        }
    }
}

/// What every host of an entry shares of its BMC; only the address differs per host.
struct BmcSettings {
    user: String,
    password: SecretSource,
    protocol: BmcProtocol,
}

fn merge_bmc(
    defaults: Option<&RawBmc>,
    own: Option<&RawBmc>,
    path: &str,
    base_dir: &Path,
    out: &mut Collector,
) -> Option<BmcSettings> {
    for (raw, at) in [
        (defaults, "defaults.host.bmc".to_string()),
        (own, format!("{path}.bmc")),
    ] {
        if raw.is_some_and(|bmc| bmc.password.is_some()) {
            out.error(
                format!("{at}.password"),
                "BMC password written inline in the topology",
            )
            .hint("remove it; use `password_env: BMC_PASSWORD` or `password_file: /path` so the secret never sits in the file, the plan or the journal");
        }
    }
    let own_entry = own;
    // A host without its own `bmc:` still gets the defaults' BMC settings.
    let own = own.or(defaults)?;
    let pick = |field: fn(&RawBmc) -> Option<&String>| {
        field(own).or_else(|| defaults.and_then(field)).cloned()
    };
    let password = match (
        pick(|bmc| bmc.password_env.as_ref()),
        pick(|bmc| bmc.password_file.as_ref()),
    ) {
        (Some(variable), _) => SecretSource::Env(variable),
        (None, Some(file)) => SecretSource::File(absolute(&file, base_dir)),
        (None, None) => {
            out.error(format!("{path}.bmc"), "BMC has no password source")
                .hint(
                    "set `password_env: NAME` (an environment variable) or `password_file: PATH`",
                );
            return None;
        }
    };
    let protocol = resolve_protocol(
        &Sources {
            defaults,
            own: own_entry,
            path,
        },
        base_dir,
        out,
    );
    Some(BmcSettings {
        user: pick(|bmc| bmc.user.as_ref()).unwrap_or_else(|| defaults::BMC_USER.into()),
        password,
        protocol,
    })
}

fn merge_ssh(defaults: &RawSsh, own: &RawSsh, base_dir: &Path) -> SshSettings {
    SshSettings {
        user: own
            .user
            .clone()
            .or_else(|| defaults.user.clone())
            .unwrap_or_else(|| defaults::SSH_USER.into()),
        port: own.port.or(defaults.port).unwrap_or(defaults::SSH_PORT),
        key: own
            .key
            .as_ref()
            .or(defaults.key.as_ref())
            .map(|key| absolute(key, base_dir)),
        known_hosts: absolute(
            own.known_hosts
                .as_deref()
                .or(defaults.known_hosts.as_deref())
                .unwrap_or(defaults::KNOWN_HOSTS),
            base_dir,
        ),
        strict_host_key_checking: own
            .strict_host_key_checking
            .or(defaults.strict_host_key_checking)
            .unwrap_or(true),
        connect_timeout: duration(
            own.connect_timeout,
            defaults.connect_timeout,
            defaults::SSH_CONNECT_TIMEOUT,
        ),
    }
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
