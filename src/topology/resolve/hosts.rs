//! Hosts: ranges expanded, addresses and BMC addresses paired with names, SSH and BMC
//! settings merged over the defaults, inline passwords refused.

use std::collections::HashMap;
use std::path::Path;

use super::bmc_protocol::{resolve_protocol, Sources};
use super::ssh::{refuse_proxy_commands, resolve_ssh, SshConfigs};
use super::{absolute, duration};
use crate::topology::defaults;
use crate::topology::diagnostic::Collector;
use crate::topology::hostrange;
use crate::topology::model::*;
use crate::topology::names::{address_problem, endpoint_problem, is_env_name, name_problem};
use crate::topology::raw::*;

/// The most hosts one topology may declare, ranges expanded: far above any real fleet, low
/// enough that a typo in a range cannot exhaust memory.
pub const MAX_HOSTS: usize = 100_000;

/// The largest IPMI cipher suite ipmitool knows.
const MAX_CIPHER_SUITE: u8 = 17;

pub(super) fn resolve_hosts(raw: &RawTopology, base_dir: &Path, out: &mut Collector) -> Vec<Host> {
    let defaults = &raw.defaults.host;
    // The defaults are checked once here, not again for every host that inherits them.
    check_texts(defaults, "defaults.host", out);
    if let Some(bmc) = &defaults.bmc {
        check_bmc(bmc, "defaults.host.bmc", out);
    }
    let mut hosts: Vec<Host> = Vec::new();
    let mut first_seen: HashMap<String, String> = HashMap::new();
    let mut ssh_configs = SshConfigs::default();
    for (index, entry) in raw.hosts.iter().enumerate() {
        let path = format!("hosts[{index}]");
        let Some(pattern) = &entry.name else {
            out.error(&path, "host without a name")
                .hint("add `name: web01` or a range like `name: web[01:20]`");
            continue;
        };
        if let Some(why) = name_problem(pattern) {
            out.error(format!("{path}.name"), format!("invalid host name: {why}"))
                .hint("write a name such as `web01` or a range such as `web[01:20]`");
            continue;
        }
        check_texts(entry, &path, out);
        if let Some(bmc) = &entry.bmc {
            check_bmc(bmc, &format!("{path}.bmc"), out);
        }
        let names = match hostrange::expand(pattern) {
            Ok(names) => names,
            Err(why) => {
                out.error(format!("{path}.name"), why);
                continue;
            }
        };
        if hosts.len() + names.len() > MAX_HOSTS {
            out.error(
                format!("{path}.name"),
                format!("the topology declares more than {MAX_HOSTS} hosts"),
            )
            .hint("split the fleet into several topologies, or check the range for a typo");
            break;
        }
        let addresses = paired(
            entry.address.as_deref(),
            &names,
            &format!("{path}.address"),
            out,
        );
        match &addresses {
            Some(list) => check_addresses(list, &format!("{path}.address"), None, out),
            // Without an address the name is dialled, so it must be one.
            None if entry.address.is_none() => check_addresses(
                &names,
                &format!("{path}.name"),
                Some("or set `address:` to the host's IP address"),
                out,
            ),
            None => {}
        }
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
            address.map(|address| {
                let at = format!("{path}.bmc.address");
                let list = paired(Some(address), &names, &at, out);
                if let Some(list) = &list {
                    check_endpoints(list, &at, out);
                }
                list
            })
        });
        let bmc_settings = merge_bmc(
            defaults.bmc.as_ref(),
            entry.bmc.as_ref(),
            &path,
            base_dir,
            out,
        );
        let ssh_config = ssh_configs.for_entry(&entry.ssh, &defaults.ssh, &path, base_dir, out);
        let mut labels = defaults.labels.clone();
        labels.extend(entry.labels.clone());
        let mut refused = std::collections::BTreeSet::new();
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
            let written = addresses
                .as_ref()
                .and_then(|list| list.get(position).cloned());
            let alias = written.clone().unwrap_or_else(|| name.clone());
            let (ssh, host_name, commands) = resolve_ssh(
                (&entry.ssh, &defaults.ssh),
                &alias,
                ssh_config.as_deref(),
                (&path, base_dir),
                &mut ssh_configs.exec,
                (position == 0).then_some(&mut *out),
            );
            refuse_proxy_commands(&commands, &path, &mut refused, out);
            // The configuration's HostName only names what the topology leaves open.
            let address = match (written, host_name) {
                (Some(address), _) => address,
                (None, Some(host_name)) => host_name,
                (None, None) => alias,
            };
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
                ssh,
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
        ssh_configs.exec.report(&format!("{path}.ssh"), out);
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
pub(super) struct BmcSettings {
    pub(super) user: String,
    pub(super) password: SecretSource,
    pub(super) protocol: BmcProtocol,
}

pub(super) fn merge_bmc(
    defaults: Option<&RawBmc>,
    own: Option<&RawBmc>,
    path: &str,
    base_dir: &Path,
    out: &mut Collector,
) -> Option<BmcSettings> {
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

/// Checks what a `bmc:` block says by itself, once per block: no inline password, a real
/// variable name in `password_env`, a cipher suite ipmitool knows.
fn check_bmc(bmc: &RawBmc, at: &str, out: &mut Collector) {
    if bmc.password.is_some() {
        out.error(
            format!("{at}.password"),
            "BMC password written inline in the topology",
        )
        .hint("remove it; use `password_env: BMC_PASSWORD` or `password_file: /path` so the secret never sits in the file, the plan or the journal");
    }
    if let Some(variable) = &bmc.password_env {
        if !is_env_name(variable) {
            // The value is not repeated: it may be the password pasted in the wrong place.
            out.error(
                format!("{at}.password_env"),
                "password_env must name an environment variable (letters, digits and `_`, not starting with a digit)",
            )
            .hint("write the variable's name, e.g. `password_env: BMC_PASSWORD`, and export the password in it; if a password was pasted here, change it");
        }
    }
    if bmc
        .password_file
        .as_deref()
        .is_some_and(|file| file.trim().is_empty())
    {
        out.error(format!("{at}.password_file"), "password_file is empty")
            .hint("write the path of a file whose first line is the password");
    }
    if let Some(suite) = bmc.cipher_suite {
        if suite > MAX_CIPHER_SUITE {
            out.error(
                format!("{at}.cipher_suite"),
                format!("IPMI cipher suite {suite} does not exist (0 to {MAX_CIPHER_SUITE})"),
            )
            .hint("3 (the default) or 17 suit most BMCs");
        }
    }
    for (field, value) in [("user", &bmc.user), ("interface", &bmc.interface)] {
        if let Some(why) = value.as_deref().and_then(name_problem) {
            out.error(
                format!("{at}.{field}"),
                format!("invalid BMC {field}: {why}"),
            );
        }
    }
}

/// Datacenter, rack, power domain, labels and SSH user of a host entry: printed in plans, so
/// never empty and never with control characters.
fn check_texts(entry: &RawHost, at: &str, out: &mut Collector) {
    let fields = [
        ("datacenter", &entry.datacenter),
        ("rack", &entry.rack),
        ("power_domain", &entry.power_domain),
        ("ssh.user", &entry.ssh.user),
    ];
    for (field, value) in fields {
        if let Some(why) = value.as_deref().and_then(name_problem) {
            out.error(format!("{at}.{field}"), format!("invalid {field}: {why}"));
        }
    }
    for (key, value) in &entry.labels {
        if let Some(why) = name_problem(key).or_else(|| {
            // A label's value may be empty, never a control character.
            value
                .chars()
                .find(|c| c.is_control())
                .map(|c| format!("its value holds the control character {c:?}"))
        }) {
            out.error(
                format!("{at}.labels.{key}"),
                format!("invalid label: {why}"),
            );
        }
    }
}

/// Reports the first address of `list` that is neither an IP address nor a host name.
fn check_addresses(list: &[String], at: &str, hint: Option<&str>, out: &mut Collector) {
    first_problem(list, at, address_problem, hint, out);
}

/// Reports the first BMC endpoint of `list` that is not an address with an optional port.
fn check_endpoints(list: &[String], at: &str, out: &mut Collector) {
    let hint = "write an IP address (10.0.0.1) or a host name, with `:PORT` if the BMC needs one";
    first_problem(list, at, endpoint_problem, Some(hint), out);
}

fn first_problem(
    list: &[String],
    at: &str,
    problem: fn(&str) -> Option<String>,
    hint: Option<&str>,
    out: &mut Collector,
) {
    if let Some((address, why)) = list
        .iter()
        .find_map(|address| problem(address).map(|why| (address, why)))
    {
        let diagnostic = out.error(at, format!("invalid address {address:?}: {why}"));
        diagnostic.hint(hint.unwrap_or("write an IP address (10.0.0.1) or a host name"));
    }
}
