//! The plan for a person reviewing it at 3 a.m.: a summary first (what gets powered on,
//! where, what people must do, how long, the digest), then one table per wave in which
//! subsystems of the same shape fold into one block. `--every-node` prints every step and
//! every node in full instead of the folded waves.

mod closing;
mod detail;
mod summary;
mod waves;
pub(crate) mod words;

use crate::plan::{Plan, PlanStep};
use crate::topology::hostrange::compress;
use crate::topology::{HostId, Topology};

pub use summary::render_summary;
pub use words::{escape, visible_width, WIDTH};
pub(crate) use words::{longest_command, prose, wrap_into};

/// Choices for the text rendering.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// Every step and every node in full, no folding.
    pub every_node: bool,
    /// ANSI colour (only on a terminal, and never with `NO_COLOR`).
    pub colour: bool,
    /// The plan's digest, printed with the summary (see [`crate::plan::plan_digest`]).
    pub digest: Option<String>,
    /// Hosts a drill powers off before the cold start, when the playbook asks for it.
    pub power_off_hosts: Option<usize>,
}

/// Renders the plan as text: the summary, then the folded waves (or, with
/// [`TextOptions::every_node`], every step in full).
pub fn render_text(topology: &Topology, plan: &Plan, options: &TextOptions) -> String {
    let mut out = render_summary(topology, plan, options);
    if options.every_node {
        out.push_str(&detail::render(topology, plan, options));
    } else {
        out.push_str(&waves::render(topology, plan, options));
    }
    out.push_str(&closing::render(topology, plan, options));
    out
}

/// Terminal colour, or none: the same text either way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    /// Headings.
    pub(crate) fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    /// What decides the ETA or needs a person.
    pub(crate) fn alert(self, text: &str) -> String {
        self.wrap("1;33", text)
    }
}

/// The plan's steps folded as the text plan folds them (alike steps of one wave together).
pub(crate) fn folded_blocks(topology: &Topology, plan: &Plan) -> Vec<Vec<usize>> {
    waves::blocks(topology, plan)
}

/// What a step waits for, by step id: its hard dependencies, then its soft ones marked so.
pub(crate) fn waits(plan: &Plan, step: &PlanStep) -> Vec<String> {
    let hard = step.requires.iter().map(|id| plan.steps[*id].id.clone());
    let soft = step
        .wants
        .iter()
        .map(|id| format!("{} (soft)", plan.steps[*id].id));
    hard.chain(soft).collect()
}

/// Host names folded into ranges: `db[01:40].dc1, db[01:40].dc2`.
pub(crate) fn host_ranges(topology: &Topology, ids: &[HostId]) -> String {
    compress(ids.iter().map(|h| topology.hosts[*h].name.as_str())).join(", ")
}
