//! What a command reads: a topology or playbook (or the embedded reference topology), and
//! the scope its flags give.

use std::path::Path;

use blackstart::load;
use blackstart::playbook::{self, LoadedPlaybook, Procedures};
use blackstart::scope::Scope;
use blackstart::topology::Loaded;

use super::{Outcome, PlanScopeArgs, ScopeArgs};

/// The reference topology built into the binary, used when no file is given.
pub const EMBEDDED_NAME: &str = "topologies/social-network.yaml (embedded)";
pub const EMBEDDED: &str = include_str!("../../topologies/social-network.yaml");

/// Loads `file`, or the embedded reference topology. Warnings go to stderr; errors are
/// printed and turned into exit code 2.
pub fn load(file: Option<&Path>) -> Result<Loaded, Outcome> {
    let result = match file {
        Some(path) => load::load_file(path),
        None => load::load_str(EMBEDDED, Path::new(EMBEDDED_NAME)),
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
