//! Hosts from `hosts_from:` sources (Ansible inventories), made into [`Host`]s under
//! `defaults.host` and merged with the topology's own `hosts:`. An inventory's problems
//! are reported at its `hosts_from` entry, each message starting with the inventory's
//! `file:line`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::absolute;
use super::duration;
use super::hosts::{merge_bmc, BmcSettings, MAX_HOSTS};
use super::ssh::resolve_ssh;
use crate::topology::ansible::{self, scalar_text, InventoryHost, Level, LoadError};
use crate::topology::defaults;
use crate::topology::diagnostic::{closest, Collector};
use crate::topology::hostrange;
use crate::topology::model::*;
use crate::topology::names::{address_problem, endpoint_problem, name_problem};
use crate::topology::raw::*;

/// The inventory variables that set topology fields (besides `blackstart_label_KEY`).
const FIELDS: [&str; 4] = [
    "blackstart_datacenter",
    "blackstart_rack",
    "blackstart_power_domain",
    "blackstart_bmc_address",
];

/// A host from a source, with the place it was declared (`inventory.ini:12`).
pub(super) struct Sourced {
    host: Host,
    place: String,
    at: String,
}

/// Reads every `hosts_from` source; problems go to `out`.
pub(super) fn hosts_from(raw: &RawTopology, base_dir: &Path, out: &mut Collector) -> Vec<Sourced> {
    let mut hosts = Vec::new();
    for (index, source) in raw.hosts_from.iter().enumerate() {
        let Some(written) = &source.ansible else {
            out.error(
                format!("hosts_from[{index}]"),
                "a host source without a kind",
            )
            .hint("write `- ansible: inventory.ini` (an Ansible inventory, INI or YAML)");
            continue;
        };
        let at = format!("hosts_from[{index}].ansible");
        let file = absolute(written, base_dir);
        let inventory = match ansible::load(&file) {
            Ok(inventory) => inventory,
            Err(LoadError::Invalid { path, problems }) => {
                for problem in problems {
                    let message = format!("{}: {}", problem.place(&path), problem.message);
                    let diagnostic = match problem.level {
                        Level::Error => out.error(&at, message),
                        Level::Warning => out.warning(&at, message),
                    };
                    if let Some(hint) = problem.hint {
                        diagnostic.hint(hint);
                    }
                }
                continue;
            }
            Err(err) => {
                out.error(&at, format!("inventory: {err}"))
                    .hint("the path is relative to the topology file");
                continue;
            }
        };
        let shown = file.display().to_string();
        for problem in &inventory.warnings {
            out.warning(
                &at,
                format!("{}: {}", problem.place(&shown), problem.message),
            );
        }
        let mut reader = Reader {
            raw,
            base_dir,
            at: &at,
            shown: &shown,
            bmc: None,
            unknown: BTreeSet::new(),
            without_bmc: 0,
        };
        for host in &inventory.hosts {
            if let Some(resolved) = reader.host(host, out) {
                hosts.push(Sourced {
                    host: resolved,
                    place: format!("{shown}:{}", host.line),
                    at: at.clone(),
                });
            }
        }
        if reader.without_bmc > 0 && raw.defaults.host.bmc.is_some() {
            out.warning(
                &at,
                format!(
                    "{} host(s) of {shown} have no `blackstart_bmc_address`: no BMC, never powered on",
                    reader.without_bmc
                ),
            )
            .hint("set `blackstart_bmc_address` per host (or in a group's vars) for hosts with a BMC");
        }
        for name in reader.unknown {
            let near = closest(&name, FIELDS);
            out.warning(&at, format!("{shown}: variable {name:?} is not a blackstart field and is ignored"))
                .hint(match near {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "known: blackstart_datacenter, blackstart_rack, blackstart_power_domain, blackstart_bmc_address, blackstart_label_KEY".into(),
                });
        }
    }
    hosts
}

struct Reader<'a> {
    raw: &'a RawTopology,
    base_dir: &'a Path,
    at: &'a str,
    shown: &'a str,
    /// The BMC settings every host of this source shares: `defaults.host.bmc`, merged once.
    bmc: Option<Option<BmcSettings>>,
    unknown: BTreeSet<String>,
    without_bmc: usize,
}

impl Reader<'_> {
    fn host(&mut self, host: &InventoryHost, out: &mut Collector) -> Option<Host> {
        let place = format!("{}:{}", self.shown, host.line);
        let name = &host.name;
        let at = self.at;
        let mut ok = true;
        let mut fail = |out: &mut Collector, what: String, hint: &str| {
            out.error(at, format!("{place}: host {name:?}: {what}"))
                .hint(hint);
            ok = false;
        };
        if let Some(why) = name_problem(name) {
            fail(
                out,
                format!("invalid host name: {why}"),
                "rename the host in the inventory",
            );
        }
        let address = host.address().unwrap_or_else(|| name.clone());
        if let Some(why) = address_problem(&address) {
            fail(
                out,
                format!("invalid address {address:?}: {why}"),
                "set `ansible_host` to the host's IP address or DNS name",
            );
        }
        let port = host.port().unwrap_or_else(|why| {
            fail(out, why, "set `ansible_port` to the SSH port");
            None
        });
        let user = host.user();
        if let Some(why) = user.as_deref().and_then(name_problem) {
            fail(
                out,
                format!("invalid ansible_user: {why}"),
                "set `ansible_user` to the SSH login",
            );
        }
        let defaults_host = &self.raw.defaults.host;
        let mut labels = defaults_host.labels.clone();
        for group in &host.groups {
            labels.insert(format!("group.{group}"), "true".into());
        }
        let field = |key: &str| host.vars.get(key).and_then(scalar_text);
        let mut texts = Vec::new();
        for (key, value) in &host.vars {
            let Some(rest) = key.strip_prefix("blackstart_") else {
                continue;
            };
            if let Some(label) = rest.strip_prefix("label_") {
                use crate::topology::ansible::withheld::{is_secret_name, is_vaulted};
                // Labels are printed in plans and journals: a secret must not become one.
                if is_secret_name(key) || is_vaulted(value) {
                    fail(
                        out,
                        format!("{key} looks like a secret, and labels are printed in every plan"),
                        "rename the variable if it is no secret; otherwise keep it out of blackstart_label_ variables",
                    );
                    continue;
                }
                match scalar_text(value) {
                    Some(value) => {
                        labels.insert(label.to_string(), value);
                    }
                    None => fail(
                        out,
                        format!("{key} is not a single value"),
                        "write text or a number",
                    ),
                }
            } else if !FIELDS.contains(&key.as_str()) {
                self.unknown.insert(key.clone());
            }
        }
        for (key, value) in &labels {
            if let Some(why) = name_problem(key).or_else(|| {
                value
                    .chars()
                    .find(|c| c.is_control())
                    .map(|c| format!("its value holds {c:?}"))
            }) {
                texts.push((
                    format!("invalid label {key:?}: {why}"),
                    "fix the group name or the blackstart_label_ variable",
                ));
            }
        }
        let datacenter =
            field("blackstart_datacenter").or_else(|| defaults_host.datacenter.clone());
        let rack = field("blackstart_rack").or_else(|| defaults_host.rack.clone());
        let power_domain = field("blackstart_power_domain")
            .or_else(|| defaults_host.power_domain.clone())
            .or_else(|| rack.clone());
        for (what, value) in [
            ("datacenter", &datacenter),
            ("rack", &rack),
            ("power domain", &power_domain),
        ] {
            if let Some(why) = value.as_deref().and_then(name_problem) {
                texts.push((
                    format!("invalid {what}: {why}"),
                    "fix the blackstart_ variable",
                ));
            }
        }
        for (what, hint) in texts {
            fail(out, what, hint);
        }
        let bmc = match field("blackstart_bmc_address") {
            Some(bmc_address) => {
                if let Some(why) = endpoint_problem(&bmc_address) {
                    fail(
                        out,
                        format!("invalid blackstart_bmc_address {bmc_address:?}: {why}"),
                        "write the BMC's IP address or name, with `:PORT` if needed",
                    );
                }
                let settings = self.bmc.get_or_insert_with(|| {
                    merge_bmc(
                        defaults_host.bmc.as_ref(),
                        Some(&RawBmc::default()),
                        self.at.trim_end_matches(".ansible"),
                        self.base_dir,
                        out,
                    )
                });
                settings.as_ref().map(|settings| Bmc {
                    address: bmc_address,
                    user: settings.user.clone(),
                    password: settings.password.clone(),
                    protocol: settings.protocol.clone(),
                })
            }
            None => {
                self.without_bmc += 1;
                None
            }
        };
        if !ok {
            return None;
        }
        let own = RawSsh {
            user,
            port,
            ..RawSsh::default()
        };
        // Inventory hosts take their SSH settings from the inventory and the topology's
        // defaults; an OpenSSH client configuration file is not consulted for them.
        let ssh = resolve_ssh(
            (&own, &defaults_host.ssh),
            &address,
            None,
            (self.at, self.base_dir),
            // No configuration file, so no `Match exec` to run.
            &mut Default::default(),
            None,
        )
        .0;
        Some(Host {
            name: name.clone(),
            address,
            ssh,
            bmc,
            datacenter,
            rack,
            power_domain,
            boot: duration(None, defaults_host.boot, defaults::BOOT),
            labels,
        })
    }
}

/// Adds `sourced` to `hosts`, refusing a name declared twice (naming both places) and a
/// fleet larger than [`MAX_HOSTS`].
pub(super) fn merge(
    raw: &RawTopology,
    hosts: &mut Vec<Host>,
    sourced: Vec<Sourced>,
    out: &mut Collector,
) {
    if hosts.len() + sourced.len() > MAX_HOSTS {
        if let Some(first) = sourced.first() {
            out.error(
                &first.at,
                format!("the topology and its host sources declare more than {MAX_HOSTS} hosts"),
            )
            .hint("split the fleet into several topologies");
        }
        return;
    }
    let mut seen: HashMap<String, Option<String>> =
        hosts.iter().map(|host| (host.name.clone(), None)).collect();
    // Finding a `hosts:` entry expands patterns: only the first duplicates are placed.
    let mut duplicates = 0usize;
    for item in sourced {
        match seen.get(&item.host.name) {
            Some(_) if duplicates >= SHOWN_DUPLICATES => duplicates += 1,
            Some(previous) => {
                duplicates += 1;
                let first = previous
                    .clone()
                    .unwrap_or_else(|| declared_at(raw, &item.host.name));
                out.error(
                    &item.at,
                    format!(
                        "duplicate host {:?}: declared {first} and at {}",
                        item.host.name, item.place
                    ),
                )
                .hint("declare each host once: remove it from `hosts:` or from the inventory");
            }
            None => {
                seen.insert(item.host.name.clone(), Some(format!("at {}", item.place)));
                hosts.push(item.host);
            }
        }
    }
    if duplicates > SHOWN_DUPLICATES {
        out.error(
            "hosts_from",
            format!(
                "{} more duplicate host(s) not shown",
                duplicates - SHOWN_DUPLICATES
            ),
        );
    }
}

/// Duplicates reported one by one; the rest are counted.
const SHOWN_DUPLICATES: usize = 20;

/// Which `hosts:` entry declares `name` (`under hosts[3]`).
fn declared_at(raw: &RawTopology, name: &str) -> String {
    raw.hosts
        .iter()
        .position(|entry| {
            entry.name.as_deref().is_some_and(|pattern| {
                pattern == name
                    || hostrange::expand(pattern).is_ok_and(|names| names.iter().any(|n| n == name))
            })
        })
        .map_or_else(
            || "under `hosts:`".into(),
            |index| format!("under hosts[{index}]"),
        )
}
