//! Procedures as people review them in the plan: wrapped at the plan's width, commands
//! whole in backticks, long host lists folded to their first ranges and a count.

use std::fmt::Write;

use super::Procedures;
use crate::plan::{escape, prose, wrap_into};
use crate::topology::{hostrange, HostId, Topology};
use crate::units::count;

/// Host ranges shown before a list is folded to a count.
const RANGES_SHOWN: usize = 6;

/// The procedures as people review them: preflight and preparation before the plan;
/// `every_node` lists every host instead of folding long lists.
pub fn render_text(topology: &Topology, procedures: &Procedures, every_node: bool) -> String {
    let mut out = String::new();
    if procedures.name.is_empty() {
        return out;
    }
    let _ = writeln!(out, "PLAYBOOK  {}", escape(&procedures.name));
    if let Some(description) = &procedures.description {
        wrap_into(&mut out, "      ", &prose(description), 6);
    }
    let _ = writeln!(
        out,
        "      on failure: {}",
        if procedures.stop_on_failure {
            "stop launching new work"
        } else {
            "continue on every branch the failure does not touch"
        }
    );
    if !procedures.preflight.is_empty() {
        let _ = writeln!(out, "\nPREFLIGHT (before any power or start action)");
        for check in &procedures.preflight {
            let effect = match &check.blocks {
                None => "stops the run".to_string(),
                Some(ids) => format!(
                    "holds {}",
                    ids.iter()
                        .map(|id| topology.subsystems[*id].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let text = format!(
                "{} on {}; if it fails: {effect}",
                escape(&check.check.describe()),
                hosts(topology, &check.hosts, every_node)
            );
            wrap_into(&mut out, &format!("  {}: ", escape(&check.name)), &text, 6);
            let runs = format!("`{}`", escape(&check.check.remote_command()));
            wrap_into(&mut out, "      runs ", &runs, 6);
        }
    }
    if !procedures.prepare.is_empty() {
        let _ = writeln!(
            out,
            "\nPREPARE (on each host after it boots, before its services start)"
        );
        for step in &procedures.prepare {
            let on = hosts(topology, &step.hosts, every_node);
            wrap_into(&mut out, &format!("  {} on ", escape(&step.name)), &on, 6);
            let runs = format!("`{}`", escape(&step.command));
            wrap_into(&mut out, "      runs ", &runs, 6);
        }
    }
    if let Some(drill) = &procedures.drill {
        let text = format!(
            "baseline of what is healthy, {}cold start, comparison with the baseline and with {} \
             simulated runs; report {}",
            if drill.power_off {
                "power off through the BMCs, "
            } else {
                ""
            },
            drill.simulations,
            drill.report.display()
        );
        out.push('\n');
        wrap_into(&mut out, "DRILL  ", &text, 7);
    }
    out.push('\n');
    out
}

/// Hosts as ranges; past [`RANGES_SHOWN`] ranges, the count and the first few, so a step on
/// every host is one line, not forty (`plan --every-node` lists them all).
fn hosts(topology: &Topology, ids: &[HostId], every_node: bool) -> String {
    let ranges = hostrange::compress(ids.iter().map(|h| topology.hosts[*h].name.as_str()));
    if every_node || ranges.len() <= RANGES_SHOWN {
        return ranges.join(", ");
    }
    let every = ids.len() == topology.hosts.len();
    format!(
        "{}{} in {} ranges: {}, … (all in `plan --every-node`)",
        if every { "every host, " } else { "" },
        count(ids.len(), "host", "hosts"),
        ranges.len(),
        ranges[..RANGES_SHOWN].join(", ")
    )
}
