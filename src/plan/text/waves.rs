//! The waves as a reviewer reads them: one block per subsystem, and subsystems of the same
//! shape (same tier, wave, size, quorum, timing, policy, and commands that differ only in
//! the subsystem's number) folded into one block named by a range, `post-db-shard-[01:16]`.
//! Each block shows its first host's rendered commands; `--every-node` shows them all.

use std::fmt::Write;

use super::detail::{escaped, human_step, order_line};
use super::summary::{common_policy, policy_phrases};
use super::{escape, host_ranges, waits, wrap_into, Paint, TextOptions, WIDTH};
use crate::plan::actions::{node_commands, RenderedCheck};
use crate::plan::power::{command_line as power_command_line, PowerAction};
use crate::plan::{human, Plan, StepId};
use crate::topology::hostrange::compress;
use crate::topology::{HttpCheck, SubsystemKind, Topology};
use crate::units::count;

/// Indent of a block's detail lines.
const INDENT: usize = 6;

/// Every wave, its steps folded by shape.
pub(super) fn render(topology: &Topology, plan: &Plan, options: &TextOptions) -> String {
    let paint = Paint(options.colour);
    let common = common_policy(topology, plan);
    let mut out = String::from(
        "\nBlocks: size, quorum, timing; hosts, waits, the first host's start and check (a check\n\
         is on the host itself). `name-[01:16]` folds subsystems differing only in their number.\n",
    );
    for wave in 0..plan.wave_count {
        let ids: Vec<StepId> = (0..plan.steps.len())
            .filter(|id| plan.steps[*id].wave == wave)
            .collect();
        // The wave's row of the per-wave table: what starts in it and when.
        let steps = ids.iter().map(|id| &plan.steps[*id]);
        let nodes: usize = steps.clone().map(|s| s.hosts.len()).sum();
        let first = steps
            .clone()
            .map(|s| s.earliest_start)
            .min()
            .unwrap_or_default();
        let last = steps.map(|s| s.ready_at).max().unwrap_or_default();
        let _ = writeln!(
            out,
            "{}  {:<18} {:<12} from +{:<9} all ready +{}",
            paint.bold(&format!("WAVE {wave:<2}")),
            count(ids.len(), "step", "steps"),
            count(nodes, "node", "nodes"),
            human(first),
            human(last)
        );
        for group in fold(topology, plan, &ids) {
            render_group(&mut out, topology, plan, &group, &common, paint);
        }
    }
    out
}

/// Every wave's steps folded by shape, wave by wave: the blocks the text plan prints, for
/// the graphs to draw the same way.
pub(super) fn blocks(topology: &Topology, plan: &Plan) -> Vec<Vec<StepId>> {
    (0..plan.wave_count)
        .flat_map(|wave| {
            let ids: Vec<StepId> = (0..plan.steps.len())
                .filter(|id| plan.steps[*id].wave == wave)
                .collect();
            fold(topology, plan, &ids)
        })
        .collect()
}

/// Groups the steps of a wave by shape, in order of first appearance; members sorted by
/// their number.
fn fold(topology: &Topology, plan: &Plan, ids: &[StepId]) -> Vec<Vec<StepId>> {
    let mut groups: Vec<(Option<String>, Vec<StepId>)> = Vec::new();
    for &id in ids {
        let key = shape(topology, plan, id);
        match groups
            .iter_mut()
            .find(|(other, _)| key.is_some() && *other == key)
        {
            Some((_, members)) => members.push(id),
            None => groups.push((key, vec![id])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_by_key(|id| number(&plan.steps[*id].id).map(|(_, n, _)| n.to_string()));
            members
        })
        .collect()
}

/// The first run of digits in a name, with what comes before and after it.
fn number(name: &str) -> Option<(&str, &str, &str)> {
    let start = name.find(|c: char| c.is_ascii_digit())?;
    let end = name[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(name.len(), |i| start + i);
    Some((&name[..start], &name[start..end], &name[end..]))
}

/// `text` with every run of digits equal to `digits` replaced by `#`: what stays is what
/// members of one family must share.
fn without_number(text: &str, digits: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        out.push_str(if run == digits { "#" } else { &run });
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// Everything a reviewer would compare between two steps, with the step's own number taken
/// out. Steps people do are never folded: each has its own instructions.
fn shape(topology: &Topology, plan: &Plan, id: StepId) -> Option<String> {
    let step = &plan.steps[id];
    let subsystem = &topology.subsystems[step.step.subsystem];
    if subsystem.kind != SubsystemKind::Service {
        return None;
    }
    let (prefix, digits, suffix) = number(&step.id)?;
    let first = *step.hosts.first()?;
    let host = &topology.hosts[first];
    let mut commands = format!("{:?}", node_commands(topology, step.step, first));
    let mut power = host
        .bmc
        .as_ref()
        .map(|b| power_command_line(b, PowerAction::On));
    for (value, placeholder) in [(&host.name, "{host}"), (&host.address, "{address}")]
        .into_iter()
        .chain(host.bmc.as_ref().map(|b| (&b.address, "{bmc}")))
    {
        commands = commands.replace(value.as_str(), placeholder);
        power = power.map(|p| p.replace(value.as_str(), placeholder));
    }
    let waits = waits(plan, step);
    // Only the texts that may carry the number lose it; counts and durations must match.
    let named = without_number(
        &format!("{prefix}|{suffix}|{power:?}|{commands}|{}", waits.join(",")),
        digits,
    );
    Some(format!(
        "{named}|{}|{:?}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{:?}|{}@{}{}",
        digits.len(),
        step.step.mode,
        subsystem.tier,
        step.wave,
        step.hosts.len(),
        step.required_healthy,
        step.duration,
        policy_phrases(subsystem),
        subsystem.max_parallel,
        order_line(subsystem),
        host.ssh.login.user,
        host.ssh.login.port,
        host.jump_route(),
    ))
}

fn render_group(
    out: &mut String,
    topology: &Topology,
    plan: &Plan,
    members: &[StepId],
    common: &[String],
    paint: Paint,
) {
    let step = &plan.steps[members[0]];
    let subsystem = &topology.subsystems[step.step.subsystem];
    let names = compress(members.iter().map(|id| plan.steps[*id].id.as_str())).join(", ");
    let critical: Vec<&str> = members
        .iter()
        .filter(|id| plan.steps[**id].critical)
        .map(|id| plan.steps[*id].id.as_str())
        .collect();
    let marker = match (critical.as_slice(), members.len()) {
        ([], _) => String::new(),
        (_, 1) => format!("  {}", paint.alert("[critical path]")),
        (names, _) => format!(
            "  {}",
            paint.alert(&format!("[critical path: {}]", names.join(", ")))
        ),
    };
    let head = format!("  [{}] {}", subsystem.tier, paint.bold(&escape(&names)));
    if let Some(text) = human_step(subsystem, plan, step) {
        let _ = writeln!(out, "{head}{marker}");
        for line in text.lines() {
            wrap_into(out, "", line, INDENT + 10);
        }
        return;
    }
    let size = match members.len() {
        1 => count(step.hosts.len(), "host", "hosts"),
        n => format!("{n} x {}", count(step.hosts.len(), "host", "hosts")),
    };
    let rolling = subsystem
        .max_parallel
        .map(|n| format!(", {n} at a time"))
        .unwrap_or_default();
    let (start, ready) = (
        members
            .iter()
            .map(|id| plan.steps[*id].earliest_start)
            .min()
            .unwrap_or_default(),
        members
            .iter()
            .map(|id| plan.steps[*id].ready_at)
            .max()
            .unwrap_or_default(),
    );
    let hosts: Vec<usize> = members
        .iter()
        .flat_map(|id| plan.steps[*id].hosts.iter().copied())
        .collect();
    let mut waits: Vec<&str> = Vec::new();
    for id in members {
        for d in &plan.steps[*id].requires {
            let name = plan.steps[*d].id.as_str();
            if !waits.contains(&name) {
                waits.push(name);
            }
        }
    }
    let mut waits = compress(waits);
    waits.extend(
        step.wants
            .iter()
            .map(|d| format!("{} (soft)", plan.steps[*d].id)),
    );
    // Size and timing always lead the heading line; the rest packs where it fits.
    let mut head = format!(
        "{head}  {size}, quorum {}/{}{rolling}; +{}..+{} ({} each)",
        step.required_healthy,
        step.hosts.len(),
        human(start),
        human(ready),
        human(step.duration)
    );
    let mut parts = Vec::new();
    // The marker is searched for whole: never split it across lines.
    if super::visible_width(&head) + super::visible_width(&marker) <= WIDTH {
        head.push_str(&marker);
    } else if !marker.is_empty() {
        parts.push(marker.trim_start().to_string());
    }
    parts.extend([
        format!("on {}", host_ranges(topology, &hosts)),
        format!(
            "waits {}",
            if waits.is_empty() {
                "nothing".into()
            } else {
                waits.join(", ")
            }
        ),
    ]);
    let differs: Vec<String> = policy_phrases(subsystem)
        .into_iter()
        .zip(common.iter().map(Some).chain(std::iter::repeat(None)))
        .filter(|(mine, usual)| Some(mine) != *usual)
        .map(|(mine, _)| mine)
        .collect();
    if !differs.is_empty() {
        parts.push(differs.join(", "));
    }
    parts.extend(commands(topology, step.step, step.hosts[0]));
    pack(out, &head, &parts);
    if let Some(line) = order_line(subsystem) {
        out.push_str(&line);
    }
}

/// The first host's commands, packed onto as few lines as fit.
fn commands(topology: &Topology, step: crate::graph::Step, host: usize) -> Vec<String> {
    let commands = escaped(node_commands(topology, step, host));
    let on = &topology.hosts[host];
    let ssh = format!("ssh {}", on.ssh_route());
    let mut parts: Vec<String> = Vec::new();
    if let Some(leave) = &commands.leave_bootstrap {
        parts.push(format!("first {ssh} -- {leave}"));
    }
    parts.push(match &commands.start {
        Some(start) => format!("{ssh} -- {start}"),
        None => "no start command, only checked".into(),
    });
    parts.push(match &commands.check {
        Some(RenderedCheck::Tcp { port, .. }) => format!("check port {port}"),
        // 200 is what nearly every check expects: say the status only when it is not.
        Some(RenderedCheck::Http(HttpCheck {
            url,
            status,
            body,
            tls,
        })) => format!(
            "check GET {}{}{}{}",
            // The host's own address is implied, as it is for `check port N`.
            url.strip_prefix(&format!("http://{}", on.address))
                .filter(|rest| rest.starts_with([':', '/']))
                .unwrap_or(url),
            if *status == 200 {
                String::new()
            } else {
                format!(" answers {status}")
            },
            body.as_ref()
                .map(|b| format!(" has {b:?}"))
                .unwrap_or_default(),
            // A reviewer must see an unverified peer; a verified one is the default.
            if tls.insecure && url.starts_with("https://") {
                ", TLS NOT VERIFIED"
            } else {
                ""
            }
        ),
        Some(check) => format!("check {check}"),
        None => "no check: healthy when the start exits 0".into(),
    });
    if let Some(progress) = &commands.progress {
        parts.push(format!("progress: `{progress}` keeps changing"));
    }
    parts
}

/// Writes `parts` joined by `; ` in as few lines of [`WIDTH`] as it can: each part goes on
/// the first line with room for it (first fit), so a short check joins the hosts' line
/// instead of taking one of its own. Every part carries its label, so the order within a
/// line does not matter; a part is split only when it alone is longer than a line, and
/// never inside a command.
fn pack(out: &mut String, first: &str, parts: &[String]) {
    let indent = " ".repeat(INDENT);
    let mut lines: Vec<(String, bool)> = Vec::new();
    if super::visible_width(first) <= WIDTH {
        lines.push((first.to_string(), false));
    } else {
        let mut wrapped = String::new();
        wrap_into(&mut wrapped, "", first, INDENT);
        lines.extend(wrapped.lines().map(|l| (l.to_string(), false)));
    }
    for part in parts {
        let fits = |line: &(String, bool)| {
            let sep = if line.1 { 0 } else { 2 };
            super::visible_width(&line.0) + sep + super::visible_width(part) <= WIDTH
        };
        match lines.iter_mut().find(|line| fits(line)) {
            Some(line) => {
                if !line.1 {
                    line.0.push_str("; ");
                }
                line.0.push_str(part);
                line.1 = false;
            }
            // A command too long for any line keeps its label and its words beside it on
            // one line rather than three.
            None if INDENT + super::visible_width(part) <= WIDTH
                || INDENT + 2 + super::longest_command(part) > WIDTH =>
            {
                lines.push((format!("{indent}{part}"), false));
            }
            None => {
                let mut long = String::new();
                wrap_into(&mut long, &indent, part, INDENT + 2);
                lines.extend(long.lines().map(|l| (l.to_string(), false)));
            }
        }
    }
    for (line, _) in lines {
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::{number, without_number};

    #[test]
    fn a_family_differs_only_in_its_number() {
        assert_eq!(
            number("post-db-shard-07"),
            Some(("post-db-shard-", "07", ""))
        );
        assert_eq!(number("web-dc1"), Some(("web-dc", "1", "")));
        assert_eq!(number("ntp"), None);
        assert_eq!(
            without_number("mysql@post-07 on 10.107.1.7", "07"),
            "mysql@post-# on 10.107.1.7"
        );
        assert_eq!(
            without_number("api-gateway-dc1 10.1.3.1", "1"),
            "api-gateway-dc# 10.#.3.#"
        );
    }
}
