//! Subsystems: hosts chosen by name, range or selector, dependencies looked up (with "did
//! you mean"), health checks, templates and readiness rules checked.

use std::collections::{HashMap, HashSet};

use super::{checked_template, duration};
use crate::topology::defaults;
use crate::topology::diagnostic::{closest, Collector};
use crate::topology::hostrange;
use crate::topology::model::*;
use crate::topology::raw::*;

pub(super) fn resolve_subsystems(
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
        if let crate::topology::values::MinHealthy::Count(count) = min_healthy {
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
