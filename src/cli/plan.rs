//! `validate` and `plan`.

use std::path::{Path, PathBuf};

use blackstart::graph::cycle_text;
use blackstart::plan::{
    plan_digest, render_dot_with, render_json, render_mermaid_with, render_text, Plan, TextOptions,
};
use blackstart::playbook::{self, LoadedPlaybook, Procedures};
use blackstart::scope::Scope;
use blackstart::topology::{self, Loaded, Topology};

use super::{Outcome, PlanFormat, PlanScopeArgs, ScopeArgs};

/// The reference topology built into the binary, used when no file is given.
pub const EMBEDDED_NAME: &str = "topologies/social-network.yaml (embedded)";
const EMBEDDED: &str = include_str!("../../topologies/social-network.yaml");

/// Loads `file`, or the embedded reference topology. Warnings go to stderr; errors are
/// printed and turned into exit code 2.
pub fn load(file: Option<&Path>) -> Result<Loaded, Outcome> {
    let result = match file {
        Some(path) => topology::load_file(path),
        None => topology::load_str(EMBEDDED, Path::new(EMBEDDED_NAME)),
    };
    match result {
        Ok(loaded) => {
            if loaded.warnings.warnings().next().is_some() {
                eprint!("{}", loaded.warnings);
            }
            Ok(loaded)
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            Err(Outcome::InvalidInput)
        }
    }
}

/// Loads a topology or playbook file, or the embedded reference topology.
pub fn load_any(file: Option<&Path>) -> Result<LoadedPlaybook, Outcome> {
    let Some(path) = file else {
        // The embedded text stays with it, as a file's would: the digest covers it.
        return load(None).map(|loaded| LoadedPlaybook {
            topology: loaded.topology,
            scope: Scope::default(),
            procedures: Procedures::default(),
            warnings: vec![loaded.warnings],
        });
    };
    match playbook::load_any(path) {
        Ok(loaded) => {
            for warnings in &loaded.warnings {
                if warnings.warnings().next().is_some() {
                    eprint!("{warnings}");
                }
            }
            Ok(loaded)
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            Err(Outcome::InvalidInput)
        }
    }
}

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

pub fn scope_from(args: &ScopeArgs) -> anyhow::Result<Scope> {
    Ok(Scope {
        only: args.only.clone(),
        exclude: args.exclude.clone(),
        datacenter: args.datacenter.clone(),
        labels: Scope::parse_labels(&args.label)?,
        tiers: Vec::new(),
        hosts: Vec::new(),
    })
}

/// The scope of `plan` and `run` from their flags: the common ones, hosts and tiers.
pub fn plan_scope(args: &PlanScopeArgs) -> anyhow::Result<Scope> {
    Ok(Scope {
        tiers: args.tiers.clone(),
        hosts: args.hosts.clone(),
        ..scope_from(&args.common)?
    })
}

/// What the text plan and the run's summary show beyond the plan itself: the digest, the
/// drill's power-off, colour on a terminal only.
pub fn review_options(loaded: &LoadedPlaybook, scope: &Scope, plan: &Plan) -> TextOptions {
    let topology = &loaded.topology;
    TextOptions {
        every_node: false,
        colour: colour_on_stdout(),
        digest: Some(plan_digest(loaded.sources(), scope, topology, plan)),
        power_off_hosts: power_off_hosts(topology, &loaded.procedures, plan),
    }
}

/// The hosts a drill powers off before its cold start: every planned host with a BMC.
pub fn power_off_hosts(topology: &Topology, procedures: &Procedures, plan: &Plan) -> Option<usize> {
    let drill = procedures.drill.as_ref().filter(|drill| drill.power_off)?;
    let _ = drill;
    Some(
        plan.hosts()
            .iter()
            .filter(|h| topology.hosts[**h].bmc.is_some())
            .count(),
    )
}

/// Colour only for a person at a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
pub fn colour_on_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
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
        Ok(plan) => plan,
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
                ..review_options(&loaded, &scope, &plan)
            };
            let mut text = playbook::render_text(topology, &loaded.procedures)
                + &render_text(topology, &plan, &options);
            // What this machine holds is not part of the plan (nor of its snapshot): asked for.
            if prerequisites {
                text += &super::run::checklist_text(topology, &plan, &loaded.procedures);
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
