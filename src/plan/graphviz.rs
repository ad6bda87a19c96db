//! The step graph as Graphviz DOT and Mermaid: grouped by tier (or datacenter), ranked by
//! wave, alike steps folded as the text plan folds them, edges transitively reduced unless
//! all are asked for, critical path highlighted, and a legend.
//! Every label goes through [`escape_label`] (DOT) or [`escape_mermaid`].

use std::collections::BTreeMap;
use std::fmt::Write;

use super::graph_blocks::{drawn, Drawn, Unit};
use super::{human, Plan};
use crate::template::replace_chars;
use crate::topology::Topology;

/// How steps are grouped into clusters (DOT) or subgraphs (Mermaid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClusterBy {
    /// By the subsystem's tier.
    #[default]
    Tier,
    /// By the datacenter of the step's hosts (`several` when they span more than one).
    Datacenter,
}

/// How the graph is drawn.
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphOptions {
    /// Grouping.
    pub cluster: ClusterBy,
    /// Every dependency edge, not the transitive reduction.
    pub all_edges: bool,
    /// Every step its own box, instead of alike steps folded as the text plan folds them.
    pub every_node: bool,
}

/// Escapes text for a double-quoted DOT string.
pub fn escape_label(text: &str) -> String {
    replace_chars(
        text,
        &[('"', "\\\""), ('\\', "\\\\"), ('\n', "\\n"), ('\r', "")],
    )
}

/// Escapes text for a double-quoted Mermaid label (entity codes, which Mermaid decodes).
/// Line breaks become spaces.
pub fn escape_mermaid(text: &str) -> String {
    let codes = [
        ('"', "#quot;"),
        ('<', "#lt;"),
        ('>', "#gt;"),
        ('#', "#35;"),
        ('\n', " "),
        ('\r', " "),
    ];
    replace_chars(text, &codes)
}

/// Renders the step graph in DOT with the default options.
pub fn render_dot(topology: &Topology, plan: &Plan) -> String {
    render_dot_with(topology, plan, GraphOptions::default())
}

/// Renders the step graph as Mermaid with the default options.
pub fn render_mermaid(topology: &Topology, plan: &Plan) -> String {
    render_mermaid_with(topology, plan, GraphOptions::default())
}

/// The group of each box, and the groups in order.
fn groups(
    topology: &Topology,
    plan: &Plan,
    drawn: &Drawn,
    by: ClusterBy,
) -> BTreeMap<String, Vec<usize>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, unit) in drawn.units.iter().enumerate() {
        let step = &plan.steps[unit.members[0]];
        let name = match by {
            ClusterBy::Tier => topology.subsystems[step.step.subsystem].tier.to_string(),
            ClusterBy::Datacenter => {
                let mut centers: Vec<&str> = unit
                    .members
                    .iter()
                    .flat_map(|id| &plan.steps[*id].hosts)
                    .map(|host| {
                        topology.hosts[*host]
                            .datacenter
                            .as_deref()
                            .unwrap_or("none")
                    })
                    .collect();
                centers.sort_unstable();
                centers.dedup();
                match centers.as_slice() {
                    [] => "no hosts".to_string(),
                    [one] => one.to_string(),
                    _ => "several".to_string(),
                }
            }
        };
        groups.entry(name).or_default().push(index);
    }
    groups
}

/// `6 hosts`, or `16 x 6 hosts` for a folded box.
fn hosts_text(plan: &Plan, unit: &Unit) -> String {
    let hosts = plan.steps[unit.members[0]].hosts.len();
    match unit.members.len() {
        1 => format!("{hosts} hosts"),
        n => format!("{n} x {hosts} hosts"),
    }
}

/// Renders the step graph in DOT. Soft edges are dashed; the critical path is red; a
/// legend says so.
pub fn render_dot_with(topology: &Topology, plan: &Plan, options: GraphOptions) -> String {
    let drawn = drawn(topology, plan, options.every_node, options.all_edges);
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape_label(&topology.name));
    out.push_str(
        "  rankdir=LR;\n  newrank=true;\n  ranksep=0.6;\n  nodesep=0.15;\n  \
         node [shape=box, fontname=\"monospace\", fontsize=10, height=0.3];\n  \
         edge [color=\"#6b7280\", arrowsize=0.6];\n",
    );
    for (index, (name, members)) in groups(topology, plan, &drawn, options.cluster)
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            out,
            "  subgraph cluster_{index} {{\n    label=\"{}\";\n    style=rounded;\n    color=\"#9ca3af\";",
            escape_label(name)
        );
        for &unit in members {
            let unit = &drawn.units[unit];
            let step = &plan.steps[unit.members[0]];
            let style = if unit.critical {
                ", color=red, penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\\n{} · {} · {}\"{style}];",
                node(unit),
                escape_label(&unit.name),
                topology.subsystems[step.step.subsystem].tier,
                hosts_text(plan, unit),
                human(step.duration)
            );
        }
        out.push_str("  }\n");
    }
    // Ranks by wave: a wave's boxes line up across clusters (newrank allows it).
    let mut waves: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for unit in &drawn.units {
        let wave = plan.steps[unit.members[0]].wave;
        waves.entry(wave).or_default().push(node(unit));
    }
    for names in waves.values() {
        let _ = writeln!(out, "  {{ rank=same; {} }}", names.join("; "));
    }
    for arrow in &drawn.arrows {
        let mut style = Vec::new();
        if arrow.critical {
            style.push("color=red, penwidth=2");
        }
        if arrow.soft {
            style.push("style=dashed");
        }
        let style = if style.is_empty() {
            String::new()
        } else {
            format!(" [{}]", style.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} -> {}{style};",
            node(&drawn.units[arrow.from]),
            node(&drawn.units[arrow.to])
        );
    }
    out.push_str(DOT_LEGEND);
    out.push_str("}\n");
    out
}

/// What the colours, dashes and ranges mean, drawn beside the graph.
const DOT_LEGEND: &str = "  subgraph cluster_legend {
    label=\"legend\";
    style=dashed;
    color=\"#9ca3af\";
    node [shape=box, fontsize=9];
    \"legend: critical\" [label=\"on the critical path\", color=red, penwidth=2];
    \"legend: folded\" [label=\"name-[01:16]: 16 alike steps\\nof one wave (plan --every-node: each)\"];
    \"legend: a\" [label=\"needs\"];
    \"legend: b\" [label=\"needed first\"];
    \"legend: c\" [label=\"wants (soft)\"];
    \"legend: b\" -> \"legend: a\";
    \"legend: c\" -> \"legend: a\" [style=dashed];
  }
";

/// Renders the step graph as a Mermaid flowchart, one subgraph per group, and a legend.
pub fn render_mermaid_with(topology: &Topology, plan: &Plan, options: GraphOptions) -> String {
    let drawn = drawn(topology, plan, options.every_node, options.all_edges);
    let mut out = String::from("flowchart LR\n");
    for (index, (name, members)) in groups(topology, plan, &drawn, options.cluster)
        .iter()
        .enumerate()
    {
        let _ = writeln!(out, "  subgraph g{index}[\"{}\"]", escape_mermaid(name));
        for &id in members {
            let unit = &drawn.units[id];
            let step = &plan.steps[unit.members[0]];
            let _ = writeln!(
                out,
                "    s{id}[\"{} ({}, {})\"]",
                escape_mermaid(&unit.name),
                escape_mermaid(&topology.subsystems[step.step.subsystem].tier.to_string()),
                hosts_text(plan, unit)
            );
        }
        out.push_str("  end\n");
    }
    let mut critical_edges = Vec::new();
    for (index, arrow) in drawn.arrows.iter().enumerate() {
        if arrow.critical {
            critical_edges.push(index);
        }
        let arrow_text = if arrow.soft { "-.->" } else { "-->" };
        let _ = writeln!(out, "  s{} {arrow_text} s{}", arrow.from, arrow.to);
    }
    out.push_str(
        "  subgraph legend[\"legend\"]\n    lc[\"on the critical path\"]\n    \
         lf[\"name-[01:16]: 16 alike steps of one wave\"]\n    ln[\"needed first\"] --> \
         la[\"needs\"]\n    lw[\"wants (soft)\"] -.-> la\n  end\n",
    );
    out.push_str("  classDef critical stroke:#d00,stroke-width:3px;\n");
    let critical: Vec<String> = drawn
        .units
        .iter()
        .enumerate()
        .filter(|(_, unit)| unit.critical)
        .map(|(id, _)| format!("s{id}"))
        .collect();
    out.push_str("  style lc stroke:#d00,stroke-width:3px\n");
    if !critical.is_empty() {
        let _ = writeln!(out, "  class {} critical", critical.join(","));
    }
    for edge in critical_edges {
        let _ = writeln!(out, "  linkStyle {edge} stroke:#d00,stroke-width:3px");
    }
    out
}

/// A box's DOT node: its name, quoted and escaped, so the source reads by name.
fn node(unit: &Unit) -> String {
    format!("\"{}\"", escape_label(&unit.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_mermaid("x\"<y>#"), "x#quot;#lt;y#gt;#35;");
    }
}
