//! The step graph as Graphviz DOT and Mermaid, critical path highlighted.

use std::fmt::Write;

use super::{human, Plan};
use crate::topology::Topology;

/// Renders the step graph in DOT. Soft edges are dashed; the critical path is red.
pub fn render_dot(topology: &Topology, plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&topology.name));
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
        let id = dot_escape(&step.id);
        let _ = writeln!(
            out,
            "  \"{id}\" [label=\"{id}\\n{} · {} hosts · {}\"{style}];",
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
                "  \"{}\" -> \"{}\"{style};",
                dot_escape(&plan.steps[dependency].id),
                dot_escape(&step.id)
            );
        }
        for &dependency in &step.wants {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [style=dashed];",
                dot_escape(&plan.steps[dependency].id),
                dot_escape(&step.id)
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
            mermaid_escape(&step.id),
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

/// `text` as the inside of a DOT quoted string: quotes and backslashes escaped, so a name
/// cannot close the string and add attributes or nodes; control characters dropped.
pub fn dot_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `text` as the inside of a quoted Mermaid label: quotes and markup characters written as
/// Mermaid entity codes, so a name cannot close the label or add HTML; control characters
/// dropped.
pub fn mermaid_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("#quot;"),
            '#' => escaped.push_str("#35;"),
            '<' => escaped.push_str("#lt;"),
            '>' => escaped.push_str("#gt;"),
            '&' => escaped.push_str("#amp;"),
            '`' => escaped.push_str("#96;"),
            c if c.is_control() => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// True when `from -> to` is an edge of the critical path.
fn on_path(plan: &Plan, from: usize, to: usize) -> bool {
    plan.critical_path
        .windows(2)
        .any(|pair| pair[0] == from && pair[1] == to)
}

#[cfg(test)]
mod tests {
    use super::{dot_escape, mermaid_escape};

    #[test]
    fn labels_cannot_close_their_quotes() {
        assert_eq!(dot_escape("a\"]; x -> y; \\"), "a\\\"]; x -> y; \\\\");
        assert_eq!(dot_escape("a\nb"), "a b");
        assert_eq!(
            mermaid_escape("x\"] --> y[\"<b>"),
            "x#quot;] --#gt; y[#quot;#lt;b#gt;"
        );
    }
}
