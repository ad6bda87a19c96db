//! Subsystems: hosts chosen by name, range or selector, dependencies looked up (with "did
//! you mean"), health checks, templates and readiness rules checked, settings inherited from
//! `defaults.subsystem` field by field.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::settings::{check_health, health_policy, progress, retry_policy};
use super::{checked_template, duration};
use crate::topology::defaults;
use crate::topology::diagnostic::{closest, Collector};
use crate::topology::hostrange;
use crate::topology::model::*;
use crate::topology::names::step_name_ok;
use crate::topology::raw::*;
use crate::topology::values::MinHealthy;

/// The most (subsystem, host) pairs a topology may hold, members and spares together: every
/// pair is a node of the plan.
pub const MAX_NODES: usize = 250_000;

/// What every subsystem is resolved against: the hosts and the subsystems' names.
struct Context<'a> {
    raw: &'a RawTopology,
    /// The topology file's directory: relative paths start there.
    base_dir: &'a Path,
    hosts: &'a [Host],
    host_index: &'a HashMap<&'a str, HostId>,
    names: HashMap<&'a str, SubsystemId>,
}

impl Context<'_> {
    /// The subsystem called `name`, or an error at `path` with a "did you mean".
    fn lookup(&self, name: &str, path: String, out: &mut Collector) -> Option<SubsystemId> {
        if let Some(id) = self.names.get(name) {
            return Some(*id);
        }
        let diagnostic = out.error(path, format!("unknown dependency {name:?}"));
        match closest(name, self.names.keys().copied()) {
            Some(near) => diagnostic.hint(format!("did you mean {near:?}?")),
            None => diagnostic.hint("declare a subsystem with that name, or remove the dependency"),
        };
        None
    }
}

pub(super) fn resolve_subsystems(
    raw: &RawTopology,
    hosts: &[Host],
    host_index: &HashMap<&str, HostId>,
    base_dir: &Path,
    out: &mut Collector,
) -> Vec<Subsystem> {
    let context = Context {
        raw,
        base_dir,
        hosts,
        host_index,
        names: register_names(raw, out),
    };
    let mut nodes = 0usize;
    let mut subsystems = Vec::with_capacity(raw.subsystems.len());
    for (index, entry) in raw.subsystems.iter().enumerate() {
        let path = format!("subsystems[{index}]");
        let subsystem = resolve_one(&context, entry, &path, index, out);
        nodes += subsystem.hosts.len() + subsystem.spares.len();
        if nodes > MAX_NODES {
            out.error(
                format!("{path}.hosts"),
                format!("the subsystems run on more than {MAX_NODES} hosts in total"),
            )
            .hint("split the fleet into several topologies, or check the ranges for a typo");
            break;
        }
        subsystems.push(subsystem);
    }
    subsystems
}

/// Checks every subsystem's name and indexes the good ones.
fn register_names<'a>(raw: &'a RawTopology, out: &mut Collector) -> HashMap<&'a str, SubsystemId> {
    let mut names: HashMap<&str, SubsystemId> = HashMap::new();
    for (index, entry) in raw.subsystems.iter().enumerate() {
        let path = format!("subsystems[{index}]");
        let Some(name) = entry.name.as_deref() else {
            out.error(&path, "subsystem without a name");
            continue;
        };
        if !step_name_ok(name, "subsystem", &format!("{path}.name"), out) {
            continue;
        }
        if let Some(first) = names.get(name) {
            out.error(
                format!("{path}.name"),
                format!("duplicate subsystem {name:?} (first declared at subsystems[{first}])"),
            )
            .hint("subsystem names must be unique; rename or merge one of them");
        } else {
            names.insert(name, index);
        }
    }
    names
}

fn resolve_one(
    context: &Context<'_>,
    entry: &RawSubsystem,
    path: &str,
    index: usize,
    out: &mut Collector,
) -> Subsystem {
    let defaults = &context.raw.defaults.subsystem;
    let name = entry.name.clone().unwrap_or_else(|| format!("#{index}"));
    let this = Entry {
        context,
        raw: entry,
        path,
        name: &name,
    };
    let (member_hosts, spares) = this.members(out);
    let (requires, wants) = this.dependencies(out);
    super::settings::check_settings(entry, path, out);
    let health = check_health(
        entry.health.as_ref(),
        &format!("{path}.health"),
        context.base_dir,
        out,
    );
    let expect = duration(entry.expect, defaults.expect, defaults::EXPECT);
    let bootstrap = entry
        .bootstrap
        .as_ref()
        .map(|raw| bootstrap(context, raw, path, expect, &health, out));
    let min_healthy = entry
        .min_healthy
        .or(defaults.min_healthy)
        .unwrap_or_default();
    if let MinHealthy::Count(count) = min_healthy {
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
    Subsystem {
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
        health_policy: health_policy(
            entry.health_policy.as_ref(),
            defaults.health_policy.as_ref(),
        ),
        progress: entry.progress.as_ref().map(|raw| progress(raw, path, out)),
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
        retry: retry_policy(entry.retry.as_ref(), defaults.retry.as_ref()),
        min_healthy,
        max_parallel: entry.max_parallel.or(defaults.max_parallel),
        kind: SubsystemKind::Service,
        order: None,
    }
}

/// The subsystem entry being resolved: its raw form, its path and the name messages use.
struct Entry<'a> {
    context: &'a Context<'a>,
    raw: &'a RawSubsystem,
    path: &'a str,
    name: &'a str,
}

impl Entry<'_> {
    /// The hosts a subsystem runs on (named, ranged or selected) and its spares.
    fn members(&self, out: &mut Collector) -> (Vec<HostId>, Vec<HostId>) {
        let (context, entry, path, name) = (self.context, self.raw, self.path, self.name);
        let hosts = context.hosts;
        let mut member_hosts = select_hosts(context, &entry.hosts, &format!("{path}.hosts"), out);
        // A set beside the list: checking membership in the list would be quadratic.
        let mut is_member: HashSet<HostId> = member_hosts.iter().copied().collect();
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
                if in_dc && labelled && is_member.insert(id) {
                    member_hosts.push(id);
                }
            }
        }
        if member_hosts.is_empty() {
            out.error(path, format!("subsystem {name:?} has no hosts"))
                .hint("list hosts under `hosts:` or choose them with `select: { labels: ... }`");
        }
        let spares = select_hosts(context, &entry.spares, &format!("{path}.spares"), out);
        if let Some(spare) = spares.iter().find(|spare| is_member.contains(spare)) {
            out.error(
                format!("{path}.spares"),
                format!(
                    "host {:?} is both a member and a spare of {name:?}",
                    hosts[*spare].name
                ),
            );
        }
        (member_hosts, spares)
    }

    /// Hard and soft dependencies, looked up by name.
    fn dependencies(&self, out: &mut Collector) -> (Vec<Dependency>, Vec<SubsystemId>) {
        let (context, entry, path, name) = (self.context, self.raw, self.path, self.name);
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
            if let Some(on) = context.lookup(target, dep_path.clone(), out) {
                if bootstrap_ok && context.raw.subsystems[on].bootstrap.is_none() {
                    out.error(
                        &dep_path,
                        format!(
                        "{target:?} has no bootstrap mode, so `bootstrap: true` cannot be honoured"
                    ),
                    )
                    .hint(format!(
                        "declare `bootstrap:` on {target:?}, or drop `bootstrap: true`"
                    ));
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
                context.lookup(target, format!("{path}.wants[{position}]"), out)
            })
            .collect();
        (requires, wants)
    }
}

fn bootstrap(
    context: &Context<'_>,
    raw: &RawBootstrap,
    path: &str,
    expect: std::time::Duration,
    health: &Option<HealthCheck>,
    out: &mut Collector,
) -> Bootstrap {
    Bootstrap {
        start: checked_template(&raw.start, &format!("{path}.bootstrap.start"), out),
        stop: raw
            .stop
            .as_ref()
            .map(|stop| checked_template(stop, &format!("{path}.bootstrap.stop"), out)),
        health: check_health(
            raw.health.as_ref(),
            &format!("{path}.bootstrap.health"),
            context.base_dir,
            out,
        )
        .or_else(|| health.clone()),
        requires: raw
            .requires
            .iter()
            .enumerate()
            .filter_map(|(position, target)| {
                context.lookup(
                    target,
                    format!("{path}.bootstrap.requires[{position}]"),
                    out,
                )
            })
            .collect(),
        expect: raw.expect.map_or(expect, |value| value.0),
    }
}

/// The hosts `patterns` name (names or ranges), each once, in order; unknown ones are errors.
fn select_hosts(
    context: &Context<'_>,
    patterns: &[String],
    path: &str,
    out: &mut Collector,
) -> Vec<HostId> {
    let (hosts, host_index) = (context.hosts, context.host_index);
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
