//! The plan for a person reviewing it at 3 a.m.

use std::fmt::Write;

use super::actions::{ipmi_command_line, node_commands, secret_origin};
use super::{human, Plan, PlanStep};
use crate::graph::Mode;
use crate::topology::hostrange::compress;
use crate::topology::{SubsystemKind, Topology};

/// Choices for the text rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// Print every node's rendered commands, not only the first host's.
    pub every_node: bool,
}

/// Renders the plan as text.
pub fn render_text(topology: &Topology, plan: &Plan, options: TextOptions) -> String {
    let mut out = String::new();
    let bootstraps = plan
        .steps
        .iter()
        .filter(|s| s.step.mode == Mode::Bootstrap)
        .count();
    let _ = writeln!(
        out,
        "PLAN  {}  ({})",
        topology.name,
        topology.file.display()
    );
    if let Some(description) = &topology.description {
        let _ = writeln!(out, "      {}", description.trim());
    }
    let _ = writeln!(
        out,
        "      {} subsystems ({} with a bootstrap step), {} hosts, {} nodes, {} waves",
        plan.subsystem_count(),
        bootstraps,
        plan.host_count(),
        plan.node_count(),
        plan.wave_count
    );
    let _ = writeln!(
        out,
        "      ETA {} (no failures; parallelism {} and power-on {} per {} per domain not modelled: `simulate` includes them)",
        human(plan.eta),
        topology.policy.parallelism,
        topology.policy.power_on_per_window,
        human(topology.policy.power_on_window),
    );
    let _ = writeln!(out, "      critical path: {}", critical_path_text(plan));
    if !plan.assumed_up.is_empty() {
        let names: Vec<&str> = plan
            .assumed_up
            .iter()
            .map(|id| topology.subsystems[*id].name.as_str())
            .collect();
        let _ = writeln!(out, "      assumed up (out of scope): {}", names.join(", "));
    }
    for wave in 0..plan.wave_count {
        let _ = writeln!(out, "\nWAVE {wave}");
        for step in plan.steps.iter().filter(|s| s.wave == wave) {
            render_step(&mut out, topology, plan, step, options);
        }
    }
    let _ = writeln!(
        out,
        "\nTOTAL {} subsystems, {} hosts, {} nodes; ETA {}",
        plan.subsystem_count(),
        plan.host_count(),
        plan.node_count(),
        human(plan.eta)
    );
    out
}

fn critical_path_text(plan: &Plan) -> String {
    plan.critical_path
        .iter()
        .map(|id| {
            let step = &plan.steps[*id];
            format!(
                "{} ({})",
                step.id,
                human(step.ready_at.saturating_sub(step.earliest_start))
            )
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// The lines of a manual step or gate, which have no hosts or commands.
fn human_step(
    subsystem: &crate::topology::Subsystem,
    plan: &Plan,
    step: &PlanStep,
) -> Option<String> {
    let (what, instructions) = match &subsystem.kind {
        SubsystemKind::Service => return None,
        SubsystemKind::Manual { instructions } => ("MANUAL STEP", instructions),
        SubsystemKind::Gate { instructions } => ("GATE (approval)", instructions),
    };
    let mut out = String::new();
    let waits: Vec<&str> = step
        .requires
        .iter()
        .map(|id| plan.steps[*id].id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "      {what}: waits for a person; the rest of the graph goes on"
    );
    for line in instructions.lines() {
        let _ = writeln!(out, "      | {line}");
    }
    let _ = writeln!(
        out,
        "      waits:    {}",
        if waits.is_empty() {
            "nothing".to_string()
        } else {
            waits.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "      done by:  blackstart ack RUN_DIR {} (or `ack {}` at the run's prompt)",
        step.id, step.id
    );
    let _ = writeln!(
        out,
        "      timing:   shown at +{}, expect {}, done at +{}",
        human(step.earliest_start),
        human(step.duration),
        human(step.ready_at)
    );
    Some(out)
}

fn render_step(
    out: &mut String,
    topology: &Topology,
    plan: &Plan,
    step: &PlanStep,
    options: TextOptions,
) {
    let subsystem = &topology.subsystems[step.step.subsystem];
    let host_names =
        |ids: &[usize]| compress(ids.iter().map(|h| topology.hosts[*h].name.as_str())).join(", ");
    let marker = if step.critical {
        "  [critical path]"
    } else {
        ""
    };
    let _ = writeln!(out, "  [{}] {}{marker}", subsystem.tier, step.id);
    if let Some(description) = &subsystem.description {
        let _ = writeln!(out, "      about:    {}", description.trim());
    }
    if let Some(text) = human_step(subsystem, plan, step) {
        out.push_str(&text);
        return;
    }
    if let Some(rule) = &subsystem.order {
        let _ = writeln!(
            out,
            "      order:    read `{}` on every member; the {} value starts first, alone; the others after it is healthy{}",
            rule.probe,
            match rule.first {
                crate::topology::Extreme::Max => "highest",
                crate::topology::Extreme::Min => "lowest",
            },
            rule.guard.map(|g| format!("; it must be {g} or the step is held")).unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "      hosts:    {} ({}); ready when {}/{} healthy (min_healthy {})",
        step.hosts.len(),
        host_names(&step.hosts),
        step.required_healthy,
        step.hosts.len(),
        subsystem.min_healthy
    );
    if !step.spares.is_empty() {
        let _ = writeln!(out, "      spares:   {}", host_names(&step.spares));
    }
    let waits: Vec<String> = step
        .requires
        .iter()
        .map(|id| plan.steps[*id].id.clone())
        .chain(
            step.wants
                .iter()
                .map(|id| format!("{} (soft)", plan.steps[*id].id)),
        )
        .collect();
    let _ = writeln!(
        out,
        "      waits:    {}",
        if waits.is_empty() {
            "nothing".into()
        } else {
            waits.join(", ")
        }
    );
    let with_bmc: Vec<usize> = step
        .hosts
        .iter()
        .copied()
        .filter(|h| topology.hosts[*h].bmc.is_some())
        .collect();
    if let Some(first) = with_bmc.first() {
        let bmc = topology.hosts[*first]
            .bmc
            .as_ref()
            .expect("filtered on bmc");
        let _ = writeln!(
            out,
            "      power:    if off, {} hosts via `{}` ({}), max {} per {} per power domain",
            with_bmc.len(),
            ipmi_command_line(bmc, "on"),
            secret_origin(&bmc.password),
            topology.policy.power_on_per_window,
            human(topology.policy.power_on_window),
        );
    }
    let shown = if options.every_node {
        step.hosts.len()
    } else {
        step.hosts.len().min(1)
    };
    for &host in &step.hosts[..shown] {
        let commands = node_commands(topology, step.step, host);
        let on = &topology.hosts[host];
        let ssh = format!("{}@{}:{}", on.ssh.user, on.address, on.ssh.port);
        if let Some(leave) = &commands.leave_bootstrap {
            let _ = writeln!(
                out,
                "      leave bootstrap on {}: ssh {ssh} -- {leave}",
                on.name
            );
        }
        match &commands.start {
            Some(start) => {
                let _ = writeln!(out, "      start on {}: ssh {ssh} -- {start}", on.name);
            }
            None => {
                let _ = writeln!(
                    out,
                    "      start on {}: (no start command: only checked)",
                    on.name
                );
            }
        }
        match &commands.check {
            Some(check) => {
                let _ = writeln!(out, "      check on {}: {check}", on.name);
            }
            None => {
                let _ = writeln!(
                    out,
                    "      check on {}: (none: healthy when the start command exits 0)",
                    on.name
                );
            }
        }
        if let Some(progress) = &commands.progress {
            let _ = writeln!(
                out,
                "      progress on {}: `{progress}` output must keep changing",
                on.name
            );
        }
    }
    if shown < step.hosts.len() {
        let _ = writeln!(
            out,
            "      ... same on the other {} hosts (--every-node lists each)",
            step.hosts.len() - shown
        );
    }
    let policy = &subsystem.health_policy;
    let _ = writeln!(
        out,
        "      polling:  every {}, timeout {}, {} successes in a row",
        human(policy.interval),
        human(policy.timeout),
        policy.successes
    );
    let retry = &subsystem.retry;
    let max_parallel = subsystem
        .max_parallel
        .map(|n| format!("; {n} hosts at a time"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "      retry:    {} attempts, backoff {} doubling to {}; start timeout {}, ready timeout {}{max_parallel}",
        retry.attempts,
        human(retry.backoff),
        human(retry.max_backoff),
        human(subsystem.start_timeout),
        human(subsystem.ready_timeout),
    );
    let _ = writeln!(
        out,
        "      timing:   deps ready at +{}, expect {}, ready at +{}",
        human(step.earliest_start),
        human(step.duration),
        human(step.ready_at)
    );
}
