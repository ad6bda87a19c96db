//! `validate` and `plan`.

use std::path::PathBuf;

use blackstart::graph::cycle_text;
use blackstart::plan::{
    plan_digest, render_dot_with, render_json, render_mermaid_with, render_text, Plan, TextOptions,
};
use blackstart::playbook;
use blackstart::scope::Scope;

use super::load::{load_any, plan_scope};
use super::review::{checklist_text, review_options};
use super::{Outcome, PlanFormat, PlanScopeArgs};

pub fn validate(files: &[PathBuf]) -> Outcome {
    let mut outcome = Outcome::Success;
    for file in files {
        match load_any(Some(file)) {
            Ok(loaded) => {
                let topology = &loaded.topology;
                println!(
                    "{}: ok ({} subsystems, {} hosts)",
                    file.display(),
                    topology.subsystems.len(),
                    topology.hosts.len()
                );
                if let Some(line) = clients_line(topology) {
                    println!("{line}");
                }
            }
            Err(failed) => outcome = failed,
        }
    }
    outcome
}

/// Which SSH client the hosts use, when any uses the system ssh: `SSH clients: 2 built-in,
/// 1 system ssh (client: openssh): db1`.
fn clients_line(topology: &blackstart::topology::Topology) -> Option<String> {
    let openssh: Vec<&str> = topology
        .hosts
        .iter()
        .filter(|h| h.ssh.openssh.is_some())
        .map(|h| h.name.as_str())
        .collect();
    if openssh.is_empty() {
        return None;
    }
    let shown = openssh
        .iter()
        .take(10)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if openssh.len() > 10 { ", ..." } else { "" };
    Some(format!(
        "  SSH clients: {} built-in, {} system ssh (client: openssh): {shown}{more}",
        topology.hosts.len() - openssh.len(),
        openssh.len()
    ))
}

/// The topology as shown by `plan`: every `client: openssh` host's route as `ssh -G`
/// resolves it here (bounded), problems on stderr. The digest is of the topology itself.
fn with_openssh_routes(
    topology: &blackstart::topology::Topology,
) -> blackstart::topology::Topology {
    let mut shown = topology.clone();
    for problem in blackstart::run::transport::resolve_openssh_routes(&mut shown.hosts) {
        eprintln!("warning: {problem}; the plan shows the destination only");
    }
    shown
}

/// `blackstart plan`.
pub fn plan(
    file: Option<PathBuf>,
    format: PlanFormat,
    every_node: bool,
    prerequisites: bool,
    graph: blackstart::plan::GraphOptions,
    scope: &PlanScopeArgs,
) -> anyhow::Result<Outcome> {
    let loaded = match load_any(file.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return Ok(outcome),
    };
    let topology = &loaded.topology;
    let flags = plan_scope(scope)?;
    let scope = if flags == Scope::default() {
        loaded.scope.clone()
    } else {
        flags
    };
    let selection = scope.select(topology)?;
    let plan = match Plan::build(topology, &selection) {
        // The ETA people quote is the capped schedule's, not the uncapped bound.
        Ok(plan) => blackstart::drill::scheduled(topology, plan),
        Err(cycles) => {
            // Validation rejects cycles already; this guards scopes of hand-built topologies.
            for cycle in cycles {
                eprintln!("error: dependency cycle: {}", cycle_text(topology, &cycle));
            }
            return Ok(Outcome::InvalidInput);
        }
    };
    let shown = with_openssh_routes(topology);
    let rendered = match format {
        PlanFormat::Text => {
            let options = TextOptions {
                every_node,
                ..review_options(
                    topology,
                    &loaded.procedures,
                    &plan,
                    plan_digest(loaded.sources(), &scope, topology, &plan),
                )
            };
            let mut text = playbook::render_text(topology, &loaded.procedures, every_node)
                + &render_text(&shown, &plan, &options);
            // What this machine holds is not part of the plan (nor of its snapshot): asked for.
            if prerequisites {
                text += &checklist_text(topology, &plan, &loaded.procedures);
            }
            text
        }
        PlanFormat::Json => render_json(&shown, &plan),
        PlanFormat::Dot => render_dot_with(topology, &plan, graph),
        PlanFormat::Mermaid => render_mermaid_with(topology, &plan, graph),
    };
    print!("{rendered}");
    Ok(Outcome::Success)
}
