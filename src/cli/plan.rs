//! `validate` and `plan`.

use std::path::{Path, PathBuf};

use blackstart::drill::scenario::Scenario;
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
        if is_scenario(file) {
            if let Err(failed) = validate_scenario(file) {
                outcome = failed;
            }
            continue;
        }
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

/// Whether `file` is a game day's scenario (a top-level `scenario:` key), which `validate`
/// checks as `simulate --scenario` reads it rather than as a topology. Found by its lines,
/// not by parsing: a hostile file must meet the topology reader's own guards first (a YAML
/// value tree of 100,000 nested brackets took two minutes to build).
fn is_scenario(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| {
        text.lines()
            .any(|line| line.strip_prefix("scenario:").is_some())
    })
}

/// A scenario checked as a game day would check it: its own fields, then what it
/// rehearses (loaded as `validate` loads any file), then its faults and expectations
/// against that plan, each finding with file:line.
fn validate_scenario(file: &Path) -> Result<(), Outcome> {
    let scenario = Scenario::load(file).map_err(|message| {
        eprintln!("{message}");
        Outcome::InvalidInput
    })?;
    let loaded = load_any(scenario.file.as_deref())?;
    let selection = loaded.scope.select(&loaded.topology).map_err(|err| {
        eprintln!("error: {}: {err}", file.display());
        Outcome::InvalidInput
    })?;
    let plan = Plan::build(&loaded.topology, &selection).map_err(|cycles| {
        for cycle in cycles {
            let cycle = cycle_text(&loaded.topology, &cycle);
            eprintln!("error: {}: dependency cycle: {cycle}", file.display());
        }
        Outcome::InvalidInput
    })?;
    scenario
        .resolve(&loaded.topology, &plan)
        .map_err(|message| {
            eprintln!("{message}");
            Outcome::InvalidInput
        })?;
    let rehearses = scenario.file.as_ref().map_or_else(
        || "the embedded reference topology".to_string(),
        |path| path.display().to_string(),
    );
    println!(
        "{}: ok (game-day scenario {:?} on {rehearses}: {} placed faults, {} expectations of the team; run it with `blackstart simulate --scenario {} --run-dir DIR`)",
        file.display(),
        scenario.name,
        scenario.faults.len(),
        scenario.expect.len(),
        file.display()
    );
    Ok(())
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
