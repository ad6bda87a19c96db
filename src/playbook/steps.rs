//! What a playbook adds to the graph: where its commands run, and manual steps, their
//! verifications and gates as steps that people acknowledge.

use std::time::Duration;

use super::raw::{RawGate, RawManual, RawPlaybook, RawTargets};
use crate::topology::diagnostic::Collector;
use crate::topology::names;
use crate::topology::{
    hostrange, Dependency, HealthCheck, HostId, Subsystem, SubsystemId, SubsystemKind, Topology,
};

pub(super) type Lookup<'a> = dyn Fn(&str, String, &mut Collector) -> Option<SubsystemId> + 'a;

pub(super) fn targets(
    topology: &Topology,
    on: &RawTargets,
    at: &str,
    lookup: &Lookup<'_>,
    out: &mut Collector,
) -> Vec<HostId> {
    let mut hosts: Vec<HostId> = Vec::new();
    if on.all {
        hosts.extend(
            topology
                .subsystems
                .iter()
                .flat_map(|s| s.hosts.iter().copied()),
        );
    }
    for (index, pattern) in on.hosts.iter().enumerate() {
        match hostrange::expand(pattern) {
            Ok(names) => {
                for name in names {
                    match topology.host_id(&name) {
                        Some(id) => hosts.push(id),
                        None => {
                            out.error(
                                format!("{at}.hosts[{index}]"),
                                format!("unknown host {name:?}"),
                            );
                            break;
                        }
                    }
                }
            }
            Err(why) => {
                out.error(format!("{at}.hosts[{index}]"), why);
            }
        }
    }
    for (index, name) in on.subsystems.iter().enumerate() {
        if let Some(id) = lookup(name, format!("{at}.subsystems[{index}]"), out) {
            hosts.extend(topology.subsystems[id].hosts.iter().copied());
        }
    }
    hosts.sort_unstable();
    hosts.dedup();
    if hosts.is_empty() {
        out.error(at, "no hosts selected")
            .hint("set `hosts:`, `subsystems:` or `all: true`");
    }
    hosts
}

/// How long a manual step is expected to take when the playbook does not say.
const MANUAL_EXPECT: Duration = Duration::from_secs(600);
/// How long a gate is expected to stay closed when the playbook does not say.
const GATE_EXPECT: Duration = Duration::from_secs(300);
/// How long a manual step's verification may take when the playbook does not say.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// Adds manual steps, their verifications and gates to the graph.
pub(super) fn add_human_steps(
    topology: &mut Topology,
    raw: &RawPlaybook,
    lookup: &Lookup<'_>,
    out: &mut Collector,
) {
    let mut steps = HumanSteps {
        topology,
        lookup,
        out,
    };
    for (index, manual) in raw.manual.iter().enumerate() {
        steps.add_manual(manual, &format!("manual[{index}]"));
    }
    for (index, gate) in raw.gates.iter().enumerate() {
        steps.add_gate(gate, &format!("gates[{index}]"));
    }
}

/// Where human steps go and how their references are looked up and reported.
struct HumanSteps<'a, 'b> {
    topology: &'a mut Topology,
    lookup: &'a Lookup<'b>,
    out: &'a mut Collector,
}

/// A hard dependency on `on`.
fn dependency(on: SubsystemId) -> Dependency {
    Dependency {
        on,
        bootstrap_ok: false,
        index: 0,
    }
}

impl HumanSteps<'_, '_> {
    /// A manual step between its `after` and `before` steps, and its verification after it.
    fn add_manual(&mut self, manual: &RawManual, at: &str) {
        let (topology, lookup, out) = (&mut *self.topology, self.lookup, &mut *self.out);
        if !step_name_ok(topology, &manual.name, at, out) {
            return;
        }
        let instructions = manual.instructions.trim().to_string();
        let expect = manual.expect.map_or(MANUAL_EXPECT, |e| e.0);
        let mut step = Subsystem::synthetic(
            manual.name.clone(),
            SubsystemKind::Manual { instructions },
            expect,
        );
        step.requires = manual
            .after
            .iter()
            .enumerate()
            .filter_map(|(i, name)| lookup(name, format!("{at}.after[{i}]"), out).map(dependency))
            .collect();
        // A manual step is as urgent as the most severe step it sits between.
        step.tier = manual.tier.unwrap_or_else(|| {
            let related = step.requires.iter().map(|d| d.on);
            let names = manual
                .before
                .iter()
                .filter_map(|name| topology.subsystem_id(name));
            related
                .chain(names)
                .map(|id| topology.subsystems[id].tier)
                .min()
                .unwrap_or_default()
        });
        let befores: Vec<SubsystemId> = manual
            .before
            .iter()
            .enumerate()
            .filter_map(|(i, name)| lookup(name, format!("{at}.before[{i}]"), out))
            .collect();
        topology.subsystems.push(step);
        let mut done = topology.subsystems.len() - 1;
        if let Some(verify) = &manual.verify {
            match topology.host_id(&verify.host) {
                Some(host) => {
                    let mut check = Subsystem::synthetic(
                        format!("{}-verified", manual.name),
                        SubsystemKind::Service,
                        Duration::from_secs(5),
                    );
                    check.hosts = vec![host];
                    check.health = Some(HealthCheck::Command {
                        command: verify.command.clone(),
                        exit_code: verify.exit_code.unwrap_or(0),
                    });
                    check.ready_timeout = verify.timeout.map_or(VERIFY_TIMEOUT, |t| t.0);
                    check.requires = vec![dependency(done)];
                    check.tier = topology.subsystems[done].tier;
                    topology.subsystems.push(check);
                    done = topology.subsystems.len() - 1;
                }
                None => {
                    out.error(
                        format!("{at}.verify.host"),
                        format!("unknown host {:?}", verify.host),
                    );
                }
            }
        }
        for before in befores {
            topology.subsystems[before].requires.push(dependency(done));
        }
    }

    /// A gate before the subsystem it holds: it opens when that subsystem could start.
    fn add_gate(&mut self, gate: &RawGate, at: &str) {
        let (topology, lookup, out) = (&mut *self.topology, self.lookup, &mut *self.out);
        if !step_name_ok(topology, &gate.name, at, out) {
            return;
        }
        let Some(held) = lookup(&gate.before, format!("{at}.before"), out) else {
            return;
        };
        let instructions = gate.instructions.trim().to_string();
        let expect = gate.expect.map_or(GATE_EXPECT, |e| e.0);
        let mut step = Subsystem::synthetic(
            gate.name.clone(),
            SubsystemKind::Gate { instructions },
            expect,
        );
        // It waits for the same things as the subsystem it holds.
        step.requires = topology.subsystems[held].requires.clone();
        step.tier = topology.subsystems[held].tier;
        topology.subsystems.push(step);
        let gate_id = topology.subsystems.len() - 1;
        topology.subsystems[held].requires.push(dependency(gate_id));
    }
}

/// A manual step's or gate's name must be printable, free of '@' (kept for step modes) and
/// unlike every other step's, or `ack NAME` would be ambiguous. `at` is the entry's path;
/// problems are reported at its `name`.
fn step_name_ok(topology: &Topology, name: &str, at: &str, out: &mut Collector) -> bool {
    let at = format!("{at}.name");
    if !names::step_name_ok(name, "step", &at, out) {
        return false;
    }
    if topology.subsystem_id(name).is_some() {
        out.error(at, format!("{name:?} is already the name of a step"))
            .hint("subsystems, manual steps and gates need distinct names: `ack` picks a step by name");
        return false;
    }
    true
}
