//! The step graph as Graphviz DOT and Mermaid: grouped by tier (or datacenter), ranked by
//! wave, edges transitively reduced unless all are asked for, critical path highlighted.
//! Every label goes through [`escape_label`] (DOT) or [`escape_mermaid`].

use std::collections::BTreeMap;
use std::fmt::Write;

use super::reduce::{drawn_edges, Edge};
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

/// The group of each step, and the groups in order.
fn groups(topology: &Topology, plan: &Plan, by: ClusterBy) -> BTreeMap<String, Vec<usize>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (id, step) in plan.steps.iter().enumerate() {
        let name = match by {
            ClusterBy::Tier => topology.subsystems[step.step.subsystem].tier.to_string(),
            ClusterBy::Datacenter => {
                let mut centers: Vec<&str> = step
                    .hosts
                    .iter()
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
        groups.entry(name).or_default().push(id);
    }
    groups
}

/// The edges to draw, with the critical path's own edges always among them.
fn edges(plan: &Plan, all_edges: bool) -> Vec<Edge> {
    let mut edges = drawn_edges(plan, all_edges);
    for pair in plan.critical_path.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        if !edges.iter().any(|e| e.from == from && e.to == to) {
            let soft = !plan.steps[to].requires.contains(&from);
            edges.push(Edge { from, to, soft });
        }
    }
    edges.sort_unstable();
    edges
}

/// Renders the step graph in DOT. Soft edges are dashed; the critical path is red.
pub fn render_dot_with(topology: &Topology, plan: &Plan, options: GraphOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape_label(&topology.name));
    out.push_str(
        "  rankdir=LR;\n  newrank=true;\n  ranksep=0.6;\n  nodesep=0.15;\n  \
         node [shape=box, fontname=\"monospace\", fontsize=10, height=0.3];\n  \
         edge [color=\"#6b7280\", arrowsize=0.6];\n",
    );
    for (index, (name, members)) in groups(topology, plan, options.cluster).iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{index} {{\n    label=\"{}\";\n    style=rounded;\n    color=\"#9ca3af\";",
            escape_label(name)
        );
        for &id in members {
            let step = &plan.steps[id];
            let style = if step.critical {
                ", color=red, penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\\n{} · {} hosts · {}\"{style}];",
                node(plan, id),
                escape_label(&step.id),
                topology.subsystems[step.step.subsystem].tier,
                step.hosts.len(),
                human(step.duration)
            );
        }
        out.push_str("  }\n");
    }
    // Ranks by wave: a wave's steps line up across clusters (newrank allows it).
    let mut waves: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (id, step) in plan.steps.iter().enumerate() {
        waves.entry(step.wave).or_default().push(id);
    }
    for members in waves.values() {
        let names: Vec<String> = members.iter().map(|id| node(plan, *id)).collect();
        let _ = writeln!(out, "  {{ rank=same; {} }}", names.join("; "));
    }
    for edge in edges(plan, options.all_edges) {
        let mut style = Vec::new();
        if on_path(plan, edge.from, edge.to) {
            style.push("color=red, penwidth=2");
        }
        if edge.soft {
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
            node(plan, edge.from),
            node(plan, edge.to)
        );
    }
    out.push_str("}\n");
    out
}

/// Renders the step graph as a Mermaid flowchart, one subgraph per group.
pub fn render_mermaid_with(topology: &Topology, plan: &Plan, options: GraphOptions) -> String {
    let mut out = String::from("flowchart LR\n");
    for (index, (name, members)) in groups(topology, plan, options.cluster).iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{index}[\"{}\"]", escape_mermaid(name));
        for &id in members {
            let step = &plan.steps[id];
            let _ = writeln!(
                out,
                "    s{id}[\"{} ({}, {} hosts)\"]",
                escape_mermaid(&step.id),
                escape_mermaid(&topology.subsystems[step.step.subsystem].tier.to_string()),
                step.hosts.len()
            );
        }
        out.push_str("  end\n");
    }
    let mut critical_edges = Vec::new();
    for (index, edge) in edges(plan, options.all_edges).iter().enumerate() {
        if on_path(plan, edge.from, edge.to) {
            critical_edges.push(index);
        }
        let arrow = if edge.soft { "-.->" } else { "-->" };
        let _ = writeln!(out, "  s{} {arrow} s{}", edge.from, edge.to);
    }
    out.push_str("  classDef critical stroke:#d00,stroke-width:3px;\n");
    let critical: Vec<String> = plan
        .critical_path
        .iter()
        .map(|id| format!("s{id}"))
        .collect();
    if !critical.is_empty() {
        let _ = writeln!(out, "  class {} critical", critical.join(","));
    }
    for edge in critical_edges {
        let _ = writeln!(out, "  linkStyle {edge} stroke:#d00,stroke-width:3px");
    }
    out
}

/// A step's DOT node: its id, quoted and escaped, so the source reads by name.
fn node(plan: &Plan, id: usize) -> String {
    format!("\"{}\"", escape_label(&plan.steps[id].id))
}

/// True when `from -> to` is an edge of the critical path.
fn on_path(plan: &Plan, from: usize, to: usize) -> bool {
    plan.critical_path
        .windows(2)
        .any(|pair| pair[0] == from && pair[1] == to)
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
