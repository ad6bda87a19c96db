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
            }
            Err(failed) => outcome = failed,
        }
    }
    outcome
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
            let mut text = playbook::render_text(topology, &loaded.procedures)
                + &render_text(topology, &plan, &options);
            // What this machine holds is not part of the plan (nor of its snapshot): asked for.
            if prerequisites {
                text += &checklist_text(topology, &plan, &loaded.procedures);
            }
            text
        }
        PlanFormat::Json => render_json(topology, &plan),
        PlanFormat::Dot => render_dot_with(topology, &plan, graph),
        PlanFormat::Mermaid => render_mermaid_with(topology, &plan, graph),
    };
    print!("{rendered}");
    Ok(Outcome::Success)
}
