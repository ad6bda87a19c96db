//! Procedures as people review them in the plan.

use super::Procedures;
use crate::topology::{hostrange, HostId, Topology};

/// The procedures as people review them: preflight and preparation before the plan.
pub fn render_text(topology: &Topology, procedures: &Procedures) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if procedures.name.is_empty() {
        return out;
    }
    let hosts = |ids: &[HostId]| {
        hostrange::compress(ids.iter().map(|h| topology.hosts[*h].name.as_str())).join(", ")
    };
    let _ = writeln!(out, "PLAYBOOK  {}", procedures.name);
    if let Some(description) = &procedures.description {
        let _ = writeln!(out, "      {}", description.trim());
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
            let _ = writeln!(
                out,
                "  {}: {} on {}; if it fails: {effect}",
                check.name,
                check.check.describe(),
                hosts(&check.hosts)
            );
            let _ = writeln!(out, "      runs: {}", check.check.remote_command());
        }
    }
    if !procedures.prepare.is_empty() {
        let _ = writeln!(
            out,
            "\nPREPARE (on each host after it boots, before its services start)"
        );
        for step in &procedures.prepare {
            let _ = writeln!(
                out,
                "  {} on {}: {}",
                step.name,
                hosts(&step.hosts),
                step.command
            );
        }
    }
    if let Some(drill) = &procedures.drill {
        let _ = writeln!(
            out,
            "\nDRILL  baseline of what is healthy, {}cold start, comparison with the baseline and with {} simulated runs; report {}",
            if drill.power_off { "power off through the BMCs, " } else { "" },
            drill.simulations,
            drill.report.display()
        );
    }
    out.push('\n');
    out
}
