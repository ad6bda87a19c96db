//! The summary a reviewer reads first: what gets powered on and where, what starts, what
//! people must do, how long each tier takes, the critical path, and the digest that ties
//! this plan to the run. `run` prints the same summary before it asks to go ahead.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{host_ranges, prose, wrap_into, Paint, TextOptions};
use crate::graph::Mode;
use crate::plan::actions::secret_origin;
use crate::plan::power::{command_line as power_command_line, reads_power_before_on, PowerAction};
use crate::plan::{human, Plan};
use crate::topology::{HostId, Subsystem, SubsystemKind, Topology};
use crate::units::{count, thousands};

/// Indent of a summary line's text after its label.
const LABEL: usize = 15;

/// The summary of the plan (see the module docs).
pub fn render_summary(topology: &Topology, plan: &Plan, options: &TextOptions) -> String {
    let paint = Paint(options.colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  ({})",
        paint.bold(&format!("PLAN  {}", topology.name)),
        topology.file.display()
    );
    if let Some(description) = &topology.description {
        wrap_into(&mut out, "      ", &prose(description), 6);
    }
    if let Some(digest) = &options.digest {
        let _ = writeln!(
            out,
            "      digest {}: `run --expect-digest {digest}` runs exactly this plan",
            paint.bold(digest)
        );
    }
    let hosts = plan.hosts();
    let line = |out: &mut String, label: &str, text: &str| {
        wrap_into(
            out,
            &format!("  {label:<width$}", width = LABEL - 2),
            text,
            LABEL,
        );
    };
    line(&mut out, "power on", &power_on(topology, &hosts));
    for text in power_lines(topology, &hosts) {
        line(&mut out, "", &text);
    }
    if let Some(spares) = spares_text(topology, plan, &hosts) {
        line(&mut out, "spares", &spares);
    }
    if let Some(off) = options.power_off_hosts {
        line(
            &mut out,
            "drill",
            &paint.alert(&format!(
                "powers OFF {} through their BMCs first, then starts them cold",
                count(off, "host", "hosts")
            )),
        );
    }
    line(&mut out, "starts", &starts(topology, plan, &hosts));
    out.push_str(&crate::plan::route::render_routes(topology, plan));
    line(&mut out, "people", &people(topology, plan, paint));
    line(&mut out, "ETA", &eta(plan));
    line(&mut out, "  ready", &by_tier(topology, plan));
    line(&mut out, "", &caps_line(topology, plan));
    let common = common_policy(topology, plan);
    if !common.is_empty() {
        line(
            &mut out,
            "most steps",
            &format!("{}; blocks show what differs", common.join(", ")),
        );
    }
    wrap_into(
        &mut out,
        "  critical path: ",
        &paint.alert(&critical_path_text(plan)),
        LABEL,
    );
    if !plan.assumed_up.is_empty() {
        let names: Vec<&str> = plan
            .assumed_up
            .iter()
            .map(|id| topology.subsystems[*id].name.as_str())
            .collect();
        wrap_into(
            &mut out,
            "  assumed up (out of scope): ",
            &crate::topology::hostrange::compress(names).join(", "),
            LABEL,
        );
    }
    out
}

fn power_on(topology: &Topology, hosts: &[HostId]) -> String {
    let mut by_dc: BTreeMap<&str, usize> = BTreeMap::new();
    for &host in hosts {
        let dc = topology.hosts[host]
            .datacenter
            .as_deref()
            .unwrap_or("no datacenter");
        *by_dc.entry(dc).or_default() += 1;
    }
    let split: Vec<String> = by_dc
        .iter()
        .map(|(dc, n)| format!("{dc} {}", thousands(*n)))
        .collect();
    format!(
        "{} if they are off: {}",
        count(hosts.len(), "host", "hosts"),
        split.join(", ")
    )
}

/// Power domains and the commands that power hosts on, one line per distinct shape.
fn power_lines(topology: &Topology, hosts: &[HostId]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut domains: BTreeMap<&str, usize> = BTreeMap::new();
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut without_bmc: Vec<HostId> = Vec::new();
    for &id in hosts {
        let host = &topology.hosts[id];
        let Some(bmc) = &host.bmc else {
            without_bmc.push(id);
            continue;
        };
        let domain = host.power_domain.as_deref().or(host.rack.as_deref());
        *domains.entry(domain.unwrap_or("(none)")).or_default() += 1;
        let mut shown = bmc.clone();
        shown.address = "BMC".into();
        // The secret's origin on a line of its own, so wrapping never splits it.
        let read = if reads_power_before_on(bmc) {
            format!(
                "power read first with `{}`: only hosts found off are switched on",
                power_command_line(&shown, PowerAction::Status)
            )
        } else {
            "no power read first (harmless over IPMI; a resume reads power)".to_string()
        };
        let shape = format!(
            "`{}`\n{}\n{read}",
            power_command_line(&shown, PowerAction::On),
            secret_origin(&bmc.password)
        );
        *shapes.entry(shape).or_default() += 1;
    }
    if let Some((largest, most)) = domains
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
    {
        let least = domains.values().min().copied().unwrap_or_default();
        let (per, window) = (
            topology.policy.power_on_per_window.max(1) as usize,
            topology.policy.power_on_window,
        );
        let windows = most.div_ceil(per).saturating_sub(1) as u32;
        let _ = per;
        let sizes = match least == *most {
            true => format!("{most} hosts each"),
            false => format!("{least} to {most} hosts"),
        };
        lines.push(match windows {
            0 => format!(
                "{} of {sizes}: each powers on in one window",
                count(domains.len(), "power domain", "power domains"),
            ),
            _ => format!(
                "{} of {sizes}; the largest ({largest}) is all on after {}",
                count(domains.len(), "power domain", "power domains"),
                human(window * windows)
            ),
        });
    }
    for (shape, n) in &shapes {
        let mut parts = shape.splitn(3, '\n');
        let (command, origin, read) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        lines.push(format!("{} via {command}", count(*n, "host", "hosts")));
        lines.push(format!("({origin})"));
        lines.push(read.to_string());
    }
    if !without_bmc.is_empty() {
        lines.push(format!(
            "{} without a BMC, to power on by hand: {}",
            count(without_bmc.len(), "host", "hosts"),
            host_ranges(topology, &without_bmc)
        ));
    }
    lines
}

fn spares_text(topology: &Topology, plan: &Plan, hosts: &[HostId]) -> Option<String> {
    let mut spares: Vec<HostId> = plan
        .steps
        .iter()
        .flat_map(|s| s.spares.iter().copied())
        .filter(|h| hosts.binary_search(h).is_err())
        .collect();
    spares.sort_unstable();
    spares.dedup();
    (!spares.is_empty()).then(|| {
        format!(
            "{} more, only to replace a failed member: {}",
            count(spares.len(), "host", "hosts"),
            host_ranges(topology, &spares)
        )
    })
}

fn starts(topology: &Topology, plan: &Plan, hosts: &[HostId]) -> String {
    let services: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| topology.subsystems[s.step.subsystem].kind == SubsystemKind::Service)
        .collect();
    let subsystems = services
        .iter()
        .filter(|s| s.step.mode == Mode::Normal)
        .count();
    let bootstraps = services.len() - subsystems;
    let commands: usize = services.iter().map(|s| s.hosts.len()).sum();
    let mut logins: BTreeMap<String, usize> = BTreeMap::new();
    for &host in hosts {
        let on = &topology.hosts[host];
        let ssh = &on.ssh.login;
        *logins
            .entry(format!("{}@HOST:{}{}", ssh.user, ssh.port, on.jump_route()))
            .or_default() += 1;
    }
    let logins: Vec<String> = logins.into_keys().collect();
    format!(
        "{}, {bootstraps} with a bootstrap step; {} starts over ssh {}",
        count(subsystems, "subsystem", "subsystems"),
        thousands(commands),
        logins.join(", ")
    )
}

fn people(topology: &Topology, plan: &Plan, paint: Paint) -> String {
    let (mut gates, mut manual) = (Vec::new(), Vec::new());
    for step in &plan.steps {
        match topology.subsystems[step.step.subsystem].kind {
            SubsystemKind::Gate { .. } => gates.push(step.id.as_str()),
            SubsystemKind::Manual { .. } => manual.push(step.id.as_str()),
            SubsystemKind::Service => {}
        }
    }
    if gates.is_empty() && manual.is_empty() {
        return "no gate and no manual step: nothing waits for a person".into();
    }
    let list = |names: &[&str]| match names.is_empty() {
        true => String::new(),
        false => format!(" ({})", names.join(", ")),
    };
    paint.alert(&format!(
        "{}{}, {}{}; each waits for `blackstart ack RUN_DIR STEP`",
        count(gates.len(), "gate", "gates"),
        list(&gates),
        count(manual.len(), "manual step", "manual steps"),
        list(&manual)
    ))
}

fn eta(plan: &Plan) -> String {
    match &plan.scheduled {
        Some(scheduled) => format!(
            "{} with no failures, under the fleet-wide caps (the run `simulate --no-faults \
             --spread 0` shows); {} without them",
            human(scheduled.eta),
            human(plan.eta)
        ),
        None => format!(
            "{} with no failures, each step ready at its quorum; every host healthy by {}",
            human(plan.eta),
            human(plan.all_healthy_eta)
        ),
    }
}

/// What each cap adds (`parallelism 256 adds 24m`), or that the caps are left out.
fn caps_line(topology: &Topology, plan: &Plan) -> String {
    match &plan.scheduled {
        Some(scheduled) => {
            let costs: Vec<String> = scheduled
                .cap_costs
                .iter()
                .map(|(cap, adds)| format!("{cap} adds {}", human(*adds)))
                .collect();
            format!("each cap alone: {}", costs.join(", "))
        }
        None => format!(
            "not modelled: parallelism {}, power-on {} per {} per domain (`simulate` has them)",
            topology.policy.parallelism,
            topology.policy.power_on_per_window,
            human(topology.policy.power_on_window),
        ),
    }
}

fn by_tier(topology: &Topology, plan: &Plan) -> String {
    let mut tiers: BTreeMap<u8, std::time::Duration> = BTreeMap::new();
    for (id, step) in plan.steps.iter().enumerate() {
        let tier = topology.subsystems[step.step.subsystem].tier.0;
        let at = tiers.entry(tier).or_default();
        *at = (*at).max(plan.quoted_ready_at(id));
    }
    tiers
        .iter()
        .map(|(tier, at)| format!("S{tier} +{}", human(*at)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Polling, retry and timeouts of a subsystem, one phrase each, always in the same order so
/// two subsystems compare phrase by phrase.
pub(super) fn policy_phrases(subsystem: &Subsystem) -> Vec<String> {
    let (poll, retry) = (&subsystem.health_policy, &subsystem.retry);
    vec![
        format!("polling every {}", human(poll.interval)),
        format!("probe timeout {}", human(poll.timeout)),
        format!(
            "{} in a row",
            count(poll.successes as usize, "success", "successes")
        ),
        count(retry.attempts as usize, "attempt", "attempts"),
        format!(
            "backoff {}..{}",
            human(retry.backoff),
            human(retry.max_backoff)
        ),
        format!("start timeout {}", human(subsystem.start_timeout)),
        format!("ready timeout {}", human(subsystem.ready_timeout)),
    ]
}

/// The policy most service steps share, which blocks then leave out.
pub(super) fn common_policy(topology: &Topology, plan: &Plan) -> Vec<String> {
    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for step in &plan.steps {
        let subsystem = &topology.subsystems[step.step.subsystem];
        if subsystem.kind == SubsystemKind::Service {
            *seen.entry(policy_phrases(subsystem)).or_default() += 1;
        }
    }
    seen.into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(phrases, _)| phrases)
        .unwrap_or_default()
}

pub(super) fn critical_path_text(plan: &Plan) -> String {
    let Some(scheduled) = &plan.scheduled else {
        return plan
            .critical_path
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
            .join(" -> ");
    };
    // Under the caps a step's time is not its own: show when each became ready.
    scheduled
        .critical_path
        .iter()
        .map(|id| {
            format!(
                "{} (+{})",
                plan.steps[*id].id,
                human(scheduled.ready_at[*id])
            )
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}
