//! What a person reviews before anything runs, shown by `plan` and again by `run`: the text
//! plan's options (digest, the drill's power-off, colour on a terminal) and the machine's
//! prerequisites as a checklist.

use blackstart::event::narrate::checklist_lines;
use blackstart::plan::{Plan, TextOptions};
use blackstart::playbook::Procedures;
use blackstart::rehearsal;
use blackstart::run::prerequisites::{self, ThisMachine};
use blackstart::topology::Topology;

/// What the text plan and the run's summary show beyond the plan itself: the plan's
/// `digest`, the drill's power-off, colour on a terminal only.
pub fn review_options(
    topology: &Topology,
    procedures: &Procedures,
    plan: &Plan,
    digest: String,
) -> TextOptions {
    TextOptions {
        every_node: false,
        colour: colour_on_stdout(),
        digest: Some(digest),
        power_off_hosts: power_off_hosts(topology, procedures, plan),
    }
}

/// How many hosts a drill powers off before its cold start, when it powers any off.
fn power_off_hosts(topology: &Topology, procedures: &Procedures, plan: &Plan) -> Option<usize> {
    procedures.drill.as_ref().filter(|drill| drill.power_off)?;
    Some(rehearsal::hosts_to_power_off(topology, plan).len())
}

/// Colour only for a person at a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
pub fn colour_on_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Hosts the run may touch: every planned host and every spare.
pub fn covered_hosts(topology: &Topology, plan: &Plan, procedures: &Procedures) -> Vec<usize> {
    let mut hosts: Vec<usize> = plan
        .steps
        .iter()
        .flat_map(|step| step.hosts.iter().chain(&step.spares).copied())
        .collect();
    if procedures.drill.is_some() {
        hosts.extend(rehearsal::hosts_to_power_off(topology, plan));
    }
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}

/// The machine's prerequisites for a run of `plan`, as a checklist.
pub fn checklist(
    topology: &Topology,
    plan: &Plan,
    procedures: &Procedures,
) -> prerequisites::Checklist {
    prerequisites::check(
        topology,
        &covered_hosts(topology, plan, procedures),
        &ThisMachine::default(),
    )
}

/// The checklist as `plan` shows it, under a heading.
pub fn checklist_text(topology: &Topology, plan: &Plan, procedures: &Procedures) -> String {
    let mut text =
        String::from("\nPREREQUISITES on this machine, checked by `run` before any action\n");
    for line in checklist_lines(topology, &checklist(topology, plan, procedures)) {
        text.push_str(&format!("  {line}\n"));
    }
    text
}
