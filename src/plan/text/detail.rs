//! The full plan (`--every-node`): every step with every detail, every node's rendered
//! commands. Also the blocks the folded view shares: manual steps, gates, ordering rules.

use std::fmt::Write;

use super::{escape, host_ranges, prose, waits, TextOptions};
use crate::plan::actions::{node_commands, secret_origin};
use crate::plan::power::{command_line as power_command_line, PowerAction};
use crate::plan::{human, Plan, PlanStep};
use crate::topology::{BmcProtocol, Subsystem, SubsystemKind, Topology};
use crate::units::count;

/// Every wave, every step, every node.
pub(super) fn render(topology: &Topology, plan: &Plan, options: &TextOptions) -> String {
    let mut out = String::new();
    for wave in 0..plan.wave_count {
        let _ = writeln!(out, "\nWAVE {wave}");
        for step in plan.steps.iter().filter(|s| s.wave == wave) {
            render_step(&mut out, topology, plan, step, options);
        }
    }
    out
}

/// Step ids as a `waits:` line shows them: joined, or `nothing`.
fn waits_text<S: std::borrow::Borrow<str>>(waits: &[S]) -> String {
    if waits.is_empty() {
        "nothing".into()
    } else {
        waits.join(", ")
    }
}

/// The lines of a manual step or gate, which have no hosts or commands.
pub(super) fn human_step(subsystem: &Subsystem, plan: &Plan, step: &PlanStep) -> Option<String> {
    let (what, instructions) = match &subsystem.kind {
        SubsystemKind::Service => return None,
        SubsystemKind::Manual { instructions } => ("MANUAL STEP", instructions),
        SubsystemKind::Gate { instructions } => ("GATE (approval)", instructions),
    };
    let mut out = String::new();
    // A person's step lists only what it requires: nothing waits on a soft order here.
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
        let _ = writeln!(out, "      | {}", escape(line));
    }
    let _ = writeln!(out, "      waits:    {}", waits_text(&waits));
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
    options: &TextOptions,
) {
    let subsystem = &topology.subsystems[step.step.subsystem];
    let host_names = |ids: &[usize]| host_ranges(topology, ids);
    let marker = if step.critical {
        "  [critical path]"
    } else {
        ""
    };
    let _ = writeln!(out, "  [{}] {}{marker}", subsystem.tier, step.id);
    if let Some(description) = &subsystem.description {
        let _ = writeln!(out, "      about:    {}", prose(description));
    }
    if let Some(text) = human_step(subsystem, plan, step) {
        out.push_str(&text);
        return;
    }
    if let Some(line) = order_line(subsystem) {
        out.push_str(&line);
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
    let waits = waits(plan, step);
    let _ = writeln!(out, "      waits:    {}", waits_text(&waits));
    let with_bmc: Vec<usize> = step
        .hosts
        .iter()
        .copied()
        .filter(|h| topology.hosts[*h].bmc.is_some())
        .collect();
    // One line per BMC protocol: a mixed step shows both requests, not the first host's.
    let mut protocols: Vec<(std::mem::Discriminant<BmcProtocol>, usize, usize)> = Vec::new();
    for &host in &with_bmc {
        let bmc = topology.hosts[host].bmc.as_ref().expect("filtered on bmc");
        let kind = std::mem::discriminant(&bmc.protocol);
        match protocols.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, _, n)) => *n += 1,
            None => protocols.push((kind, host, 1)),
        }
    }
    for (_, first, hosts) in protocols {
        let bmc = topology.hosts[first].bmc.as_ref().expect("filtered on bmc");
        let _ = writeln!(
            out,
            "      power:    if off, {} via `{}` ({}), max {} per {} per power domain",
            count(hosts, "host", "hosts"),
            power_command_line(bmc, PowerAction::On),
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
        let commands = escaped(node_commands(topology, step.step, host));
        let on = &topology.hosts[host];
        let ssh = on.ssh_route();
        if let Some(leave) = &commands.leave_bootstrap {
            let _ = writeln!(
                out,
                "      leave bootstrap on {}: ssh {ssh} -- {leave}",
                on.name
            );
        }
        let start = match &commands.start {
            Some(start) => format!("ssh {ssh} -- {start}"),
            None => "(no start command: only checked)".into(),
        };
        let _ = writeln!(out, "      start on {}: {start}", on.name);
        let check = match &commands.check {
            Some(check) => check.to_string(),
            None => "(none: healthy when the start command exits 0)".into(),
        };
        let _ = writeln!(out, "      check on {}: {check}", on.name);
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
            "      ... same on the other {} (--every-node lists each)",
            count(step.hosts.len() - shown, "host", "hosts")
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
        .map(|n| format!("; {} at a time", count(n as usize, "host", "hosts")))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "      retry:    {}, backoff {} doubling to {}; start timeout {}, ready timeout {}{max_parallel}",
        count(retry.attempts as usize, "attempt", "attempts"),
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

/// The ordering rule of a data-aware start, when the subsystem has one, wrapped; its probe
/// command is never split (reviewers search for it whole).
pub(super) fn order_line(subsystem: &Subsystem) -> Option<String> {
    let rule = subsystem.order.as_ref()?;
    let text = format!(
        "read `{}` on every member; the {} value starts first, alone; the others after it is \
         healthy{}",
        escape(&rule.probe),
        match rule.first {
            crate::topology::Extreme::Max => "highest",
            crate::topology::Extreme::Min => "lowest",
        },
        rule.guard
            .map(|g| format!("; it must be {g} or the step is held"))
            .unwrap_or_default()
    );
    let mut out = String::new();
    super::wrap_into(&mut out, "      order:    ", &text, 16);
    Some(out)
}

/// A node's commands with control characters escaped, for display only.
pub(super) fn escaped(
    commands: crate::plan::actions::NodeCommands,
) -> crate::plan::actions::NodeCommands {
    use crate::plan::actions::RenderedCheck;
    use crate::topology::HttpCheck;
    let text = |value: Option<String>| value.as_deref().map(escape);
    crate::plan::actions::NodeCommands {
        leave_bootstrap: text(commands.leave_bootstrap),
        start: text(commands.start),
        progress: text(commands.progress),
        check: commands.check.map(|check| match check {
            RenderedCheck::Command { command, exit_code } => RenderedCheck::Command {
                command: escape(&command),
                exit_code,
            },
            RenderedCheck::Http(http) => RenderedCheck::Http(HttpCheck {
                url: escape(&http.url),
                ..http
            }),
            tcp => tcp,
        }),
    }
}
