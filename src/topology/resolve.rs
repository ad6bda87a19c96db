//! Raw topology → resolved [`Topology`]: defaults applied, ranges expanded, names checked.
//! Every problem is collected, none stops the others from being found.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults;
use super::diagnostic::{closest, Collector};
use super::hostrange;
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
    let base_dir = file.parent().unwrap_or(Path::new("."));
    let hosts = resolve_hosts(&raw, base_dir, out);
    let host_index: HashMap<&str, HostId> = hosts
        .iter()
        .enumerate()
        .map(|(id, host)| (host.name.as_str(), id))
        .collect();
    let subsystems = resolve_subsystems(&raw, &hosts, &host_index, out);
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

fn resolve_hosts(raw: &RawTopology, base_dir: &Path, out: &mut Collector) -> Vec<Host> {
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
                (Some((user, password, interface, cipher_suite)), Some(Some(list))) => {
                    list.get(position).map(|address| Bmc {
                        address: address.clone(),
                        user: user.clone(),
                        password: password.clone(),
                        interface: interface.clone(),
                        cipher_suite: *cipher_suite,
                    })
                }
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

type BmcSettings = (String, SecretSource, String, u8);

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
    let own = own?;
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
    Some((
        pick(|bmc| bmc.user.as_ref()).unwrap_or_else(|| defaults::BMC_USER.into()),
        password,
        pick(|bmc| bmc.interface.as_ref()).unwrap_or_else(|| defaults::BMC_INTERFACE.into()),
        own.cipher_suite
            .or_else(|| defaults.and_then(|bmc| bmc.cipher_suite))
            .unwrap_or(defaults::BMC_CIPHER_SUITE),
    ))
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
fn absolute(path: &str, base_dir: &Path) -> PathBuf {
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

fn duration(
    own: Option<HumanDuration>,
    inherited: Option<HumanDuration>,
    fallback: Duration,
) -> Duration {
    own.or(inherited).map_or(fallback, |value| value.0)
}

fn resolve_subsystems(
    raw: &RawTopology,
    hosts: &[Host],
    host_index: &HashMap<&str, HostId>,
    out: &mut Collector,
) -> Vec<Subsystem> {
    let defaults = &raw.defaults.subsystem;
    let mut names: HashMap<&str, (SubsystemId, String)> = HashMap::new();
    for (index, entry) in raw.subsystems.iter().enumerate() {
        let path = format!("subsystems[{index}]");
        match entry.name.as_deref() {
            None => {
                out.error(&path, "subsystem without a name");
            }
            Some(name) => {
                if let Some((_, first)) = names.get(name) {
                    out.error(
                        format!("{path}.name"),
                        format!("duplicate subsystem {name:?} (first declared at {first})"),
                    )
                    .hint("subsystem names must be unique; rename or merge one of them");
                } else {
                    names.insert(name, (index, path.clone()));
                }
            }
        }
    }
    let known_names: Vec<&str> = names.keys().copied().collect();
    let lookup = |name: &str, path: String, out: &mut Collector| -> Option<SubsystemId> {
        if let Some((id, _)) = names.get(name) {
            return Some(*id);
        }
        let diagnostic = out.error(path, format!("unknown dependency {name:?}"));
        match closest(name, known_names.iter().copied()) {
            Some(near) => diagnostic.hint(format!("did you mean {near:?}?")),
            None => diagnostic.hint("declare a subsystem with that name, or remove the dependency"),
        };
        None
    };

    let mut subsystems = Vec::with_capacity(raw.subsystems.len());
    for (index, entry) in raw.subsystems.iter().enumerate() {
        let path = format!("subsystems[{index}]");
        let name = entry.name.clone().unwrap_or_else(|| format!("#{index}"));
        let mut member_hosts = select_hosts(
            &entry.hosts,
            &format!("{path}.hosts"),
            hosts,
            host_index,
            out,
        );
        if let Some(selector) = &entry.select {
            for (id, host) in hosts.iter().enumerate() {
                let in_dc = selector
                    .datacenter
                    .as_ref()
                    .is_none_or(|dc| host.datacenter.as_ref() == Some(dc));
                let labelled = selector
                    .labels
                    .iter()
                    .all(|(key, value)| host.labels.get(key) == Some(value));
                if in_dc && labelled && !member_hosts.contains(&id) {
                    member_hosts.push(id);
                }
            }
        }
        if member_hosts.is_empty() {
            out.error(&path, format!("subsystem {name:?} has no hosts"))
                .hint("list hosts under `hosts:` or choose them with `select: { labels: ... }`");
        }
        let spares = select_hosts(
            &entry.spares,
            &format!("{path}.spares"),
            hosts,
            host_index,
            out,
        );
        for spare in &spares {
            if member_hosts.contains(spare) {
                out.error(
                    format!("{path}.spares"),
                    format!(
                        "host {:?} is both a member and a spare of {name:?}",
                        hosts[*spare].name
                    ),
                );
            }
        }

        let mut requires = Vec::new();
        for (position, dependency) in entry.requires.iter().enumerate() {
            let (target, bootstrap_ok) = match dependency {
                RawDependency::Name(target) => (target, false),
                RawDependency::Detailed { name, bootstrap } => (name, *bootstrap),
            };
            let dep_path = format!("{path}.requires[{position}]");
            if Some(target) == entry.name.as_ref() {
                out.error(&dep_path, format!("{name:?} requires itself"))
                    .hint("a subsystem cannot wait for itself; remove this entry");
                continue;
            }
            if let Some(on) = lookup(target, dep_path.clone(), out) {
                if bootstrap_ok && raw.subsystems[on].bootstrap.is_none() {
                    out.error(
                        &dep_path,
                        format!("{target:?} has no bootstrap mode, so `bootstrap: true` cannot be honoured"),
                    )
                    .hint(format!("declare `bootstrap:` on {target:?}, or drop `bootstrap: true`"));
                }
                requires.push(Dependency {
                    on,
                    bootstrap_ok,
                    index: position,
                });
            }
        }
        let wants = entry
            .wants
            .iter()
            .enumerate()
            .filter_map(|(position, target)| {
                lookup(target, format!("{path}.wants[{position}]"), out)
            })
            .collect();

        let health_policy = entry
            .health_policy
            .as_ref()
            .or(defaults.health_policy.as_ref());
        let health = check_health(entry.health.as_ref(), &format!("{path}.health"), out);
        let expect = duration(entry.expect, defaults.expect, defaults::EXPECT);
        let bootstrap = entry.bootstrap.as_ref().map(|bootstrap| Bootstrap {
            start: checked_template(&bootstrap.start, &format!("{path}.bootstrap.start"), out),
            stop: bootstrap
                .stop
                .as_ref()
                .map(|stop| checked_template(stop, &format!("{path}.bootstrap.stop"), out)),
            health: check_health(
                bootstrap.health.as_ref(),
                &format!("{path}.bootstrap.health"),
                out,
            )
            .or_else(|| health.clone()),
            requires: bootstrap
                .requires
                .iter()
                .enumerate()
                .filter_map(|(position, target)| {
                    lookup(
                        target,
                        format!("{path}.bootstrap.requires[{position}]"),
                        out,
                    )
                })
                .collect(),
            expect: bootstrap.expect.map_or(expect, |value| value.0),
        });
        let retry = entry.retry.as_ref().or(defaults.retry.as_ref());
        let retry = RetryPolicy {
            attempts: retry
                .and_then(|retry| retry.attempts)
                .unwrap_or(defaults::RETRY_ATTEMPTS),
            backoff: duration(
                retry.and_then(|retry| retry.backoff),
                None,
                defaults::RETRY_BACKOFF,
            ),
            max_backoff: duration(
                retry.and_then(|retry| retry.max_backoff),
                None,
                defaults::RETRY_MAX_BACKOFF,
            ),
        };
        if retry.attempts == 0 {
            out.error(
                format!("{path}.retry.attempts"),
                "attempts must be at least 1 (the first try counts)",
            );
        }
        let health_policy = HealthPolicy {
            interval: duration(
                health_policy.and_then(|p| p.interval),
                None,
                defaults::HEALTH_INTERVAL,
            ),
            timeout: duration(
                health_policy.and_then(|p| p.timeout),
                None,
                defaults::HEALTH_TIMEOUT,
            ),
            successes: health_policy
                .and_then(|p| p.successes)
                .unwrap_or(defaults::HEALTH_SUCCESSES)
                .max(1),
        };
        let progress = entry.progress.as_ref().map(|progress| {
            let interval = progress
                .interval
                .map_or(defaults::PROGRESS_INTERVAL, |value| value.0);
            ProgressProbe {
                command: checked_template(
                    &progress.command,
                    &format!("{path}.progress.command"),
                    out,
                ),
                interval,
                stall_after: progress
                    .stall_after
                    .map_or(interval * defaults::PROGRESS_STALL_INTERVALS, |value| {
                        value.0
                    }),
            }
        });
        let min_healthy = entry
            .min_healthy
            .or(defaults.min_healthy)
            .unwrap_or_default();
        if let super::values::MinHealthy::Count(count) = min_healthy {
            if count as usize > member_hosts.len() && !member_hosts.is_empty() {
                out.error(
                    format!("{path}.min_healthy"),
                    format!(
                        "min_healthy {count} is more than the {} hosts of {name:?}",
                        member_hosts.len()
                    ),
                )
                .hint("lower min_healthy or add hosts; this subsystem could never be ready");
            }
        }
        if entry.max_parallel == Some(0) {
            out.error(
                format!("{path}.max_parallel"),
                "max_parallel must be at least 1",
            );
        }
        subsystems.push(Subsystem {
            name,
            description: entry.description.clone(),
            tier: entry.tier.or(defaults.tier).unwrap_or_default(),
            hosts: member_hosts,
            spares,
            requires,
            wants,
            start: entry
                .start
                .as_ref()
                .map(|start| checked_template(start, &format!("{path}.start"), out)),
            stop: entry
                .stop
                .as_ref()
                .map(|stop| checked_template(stop, &format!("{path}.stop"), out)),
            health,
            health_policy,
            progress,
            bootstrap,
            expect,
            start_timeout: duration(
                entry.start_timeout,
                defaults.start_timeout,
                defaults::START_TIMEOUT,
            ),
            ready_timeout: duration(
                entry.ready_timeout,
                defaults.ready_timeout,
                defaults::READY_TIMEOUT,
            ),
            retry,
            min_healthy,
            max_parallel: entry.max_parallel.or(defaults.max_parallel),
            kind: SubsystemKind::Service,
            order: None,
        });
    }
    subsystems
}

fn select_hosts(
    patterns: &[String],
    path: &str,
    hosts: &[Host],
    host_index: &HashMap<&str, HostId>,
    out: &mut Collector,
) -> Vec<HostId> {
    let mut selected = Vec::new();
    let mut seen = HashSet::new();
    for (position, pattern) in patterns.iter().enumerate() {
        let item_path = format!("{path}[{position}]");
        let names = match hostrange::expand(pattern) {
            Ok(names) => names,
            Err(why) => {
                out.error(item_path, why);
                continue;
            }
        };
        for name in names {
            match host_index.get(name.as_str()) {
                Some(id) if seen.insert(*id) => selected.push(*id),
                Some(_) => {}
                None => {
                    let diagnostic = out.error(&item_path, format!("unknown host {name:?}"));
                    match closest(&name, hosts.iter().map(|host| host.name.as_str())) {
                        Some(near) => diagnostic.hint(format!("did you mean {near:?}?")),
                        None => diagnostic.hint("declare it under `hosts:`"),
                    };
                    break;
                }
            }
        }
    }
    selected
}

fn checked_template(text: &str, path: &str, out: &mut Collector) -> String {
    if let Err(why) = template::check(text) {
        out.error(path, why);
    }
    text.to_string()
}

fn check_health(raw: Option<&RawHealth>, path: &str, out: &mut Collector) -> Option<HealthCheck> {
    let raw = raw?;
    let given = [raw.tcp.is_some(), raw.http.is_some(), raw.command.is_some()]
        .iter()
        .filter(|set| **set)
        .count();
    if given != 1 {
        out.error(path, "a health check needs exactly one of `tcp`, `http`, `command`")
            .hint("e.g. `health: { tcp: 5432 }` or `health: { http: { url: \"http://{address}:8080/health\" } }`");
        return None;
    }
    if raw.exit_code.is_some() && raw.command.is_none() {
        out.error(
            format!("{path}.exit_code"),
            "`exit_code` only applies to a `command` check",
        );
    }
    if let Some(port) = raw.tcp {
        if port == 0 {
            out.error(format!("{path}.tcp"), "port 0 cannot be probed");
        }
        return Some(HealthCheck::Tcp { port });
    }
    if let Some(http) = &raw.http {
        let url = checked_template(&http.url, &format!("{path}.http.url"), out);
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            out.error(
                format!("{path}.http.url"),
                format!("{url:?} is not an http(s) URL"),
            );
        }
        return Some(HealthCheck::Http {
            url,
            status: http.status.unwrap_or(200),
            body: http.body.clone(),
        });
    }
    raw.command.as_ref().map(|command| HealthCheck::Command {
        command: checked_template(command, &format!("{path}.command"), out),
        exit_code: raw.exit_code.unwrap_or(0),
    })
}
