//! The step graph as Graphviz DOT and Mermaid, critical path highlighted.

use std::fmt::Write;

use super::{human, Plan};
use crate::topology::Topology;

/// Renders the step graph in DOT. Soft edges are dashed; the critical path is red.
pub fn render_dot(topology: &Topology, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {:?} {{", topology.name);
    let _ = writeln!(
        out,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];"
    );
    for step in &plan.steps {
        let tier = topology.subsystems[step.step.subsystem].tier;
        let style = if step.critical {
            ", color=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {:?} [label=\"{}\\n{} · {} hosts · {}\"{style}];",
            step.id,
            step.id,
            tier,
            step.hosts.len(),
            human(step.duration)
        );
    }
    for (id, step) in plan.steps.iter().enumerate() {
        for &dependency in &step.requires {
            let critical =
                step.critical && plan.steps[dependency].critical && on_path(plan, dependency, id);
            let style = if critical {
                " [color=red, penwidth=2]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:?} -> {:?}{style};",
                plan.steps[dependency].id, step.id
            );
        }
        for &dependency in &step.wants {
            let _ = writeln!(
                out,
                "  {:?} -> {:?} [style=dashed];",
                plan.steps[dependency].id, step.id
            );
        }
    }
    out.push_str("}\n");
    out
}

/// Renders the step graph as a Mermaid flowchart.
pub fn render_mermaid(topology: &Topology, plan: &Plan) -> String {
    let mut out = String::from("flowchart LR\n");
    for (id, step) in plan.steps.iter().enumerate() {
        let tier = topology.subsystems[step.step.subsystem].tier;
        let _ = writeln!(
            out,
            "  s{id}[\"{} ({tier}, {} hosts)\"]",
            step.id,
            step.hosts.len()
        );
    }
    let mut edge_count = 0;
    let mut critical_edges = Vec::new();
    for (id, step) in plan.steps.iter().enumerate() {
        for &dependency in &step.requires {
            if on_path(plan, dependency, id) {
                critical_edges.push(edge_count);
            }
            let _ = writeln!(out, "  s{dependency} --> s{id}");
            edge_count += 1;
        }
        for &dependency in &step.wants {
            let _ = writeln!(out, "  s{dependency} -.-> s{id}");
            edge_count += 1;
        }
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

/// True when `from -> to` is an edge of the critical path.
fn on_path(plan: &Plan, from: usize, to: usize) -> bool {
    plan.critical_path
        .windows(2)
        .any(|pair| pair[0] == from && pair[1] == to)
}
