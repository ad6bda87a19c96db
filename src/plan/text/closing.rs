//! The plan's last lines: the summary again, short, where the reviewer's eye lands after
//! scrolling 300 lines (as `terraform plan` ends with its count), and the commands that
//! act on exactly this plan.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{wrap_into, Paint, TextOptions};
use crate::plan::{human, Plan};
use crate::topology::{SubsystemKind, Topology};
use crate::units::count;

/// Indent of the closing lines' text after their label.
const LABEL: usize = 9;

/// `SUMMARY  …` and the commands to review in full or run exactly this plan.
pub(super) fn render(topology: &Topology, plan: &Plan, options: &TextOptions) -> String {
    let paint = Paint(options.colour);
    let hosts = plan.hosts().len();
    let starts: usize = plan.steps.iter().map(|step| step.hosts.len()).sum();
    let people = plan
        .steps
        .iter()
        .filter(|step| {
            !matches!(
                topology.subsystems[step.step.subsystem].kind,
                SubsystemKind::Service
            )
        })
        .count();
    let subsystems: BTreeSet<_> = plan.steps.iter().map(|step| step.step.subsystem).collect();
    let eta = plan.scheduled.as_ref().map_or(plan.eta, |s| s.eta);
    let facts = format!(
        "{}, {} on {} in {}; ETA {} if nothing fails",
        count(subsystems.len(), "subsystem", "subsystems"),
        count(starts, "start", "starts"),
        count(hosts, "host", "hosts"),
        count(plan.wave_count, "wave", "waves"),
        human(eta),
    );
    let mut next = match people {
        0 => "nothing waits for a person".to_string(),
        n => paint.alert(&format!(
            "{} for a person (`ack`)",
            count(n, "step waits", "steps wait")
        )),
    };
    if let Some(digest) = &options.digest {
        let _ = write!(
            next,
            "; `run --expect-digest {digest}` runs exactly this plan"
        );
    }
    let mut out = String::from("\n");
    let indent = " ".repeat(LABEL);
    wrap_into(
        &mut out,
        &paint.bold(&format!("{:<LABEL$}", "SUMMARY")),
        &facts,
        LABEL,
    );
    wrap_into(&mut out, &indent, &next, LABEL);
    wrap_into(
        &mut out,
        &indent,
        "every step and every node in full: `plan --every-node`",
        LABEL,
    );
    out
}
