//! Playbooks: a topology, a scope, policy overrides, and the procedures around and inside
//! the graph: preflight checks, host preparation, manual steps, gates, data-aware ordering,
//! and drills. Manual steps and gates become steps of the graph, so every other branch
//! keeps going while they wait for a person.

pub mod checks;
mod procedures;
pub mod raw;
mod render;
mod steps;

pub use render::render_text;
use steps::add_human_steps;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::graph::{cycle_text, StepGraph};
use crate::scope::Scope;
use crate::topology::diagnostic::{closest, Collector};
use crate::topology::source_map::SourceMap;
use crate::topology::{self, Diagnostics, HostId, Loaded, OrderRule, SubsystemId, Topology};
pub use checks::{Amount, Check};
use raw::*;

/// A preflight check, resolved.
#[derive(Debug, Clone)]
pub struct Preflight {
    /// Its name.
    pub name: String,
    /// Hosts it runs on.
    pub hosts: Vec<HostId>,
    /// What it checks.
    pub check: Check,
    /// Time limit on one host.
    pub timeout: Duration,
    /// `None`: a failure stops the run. `Some`: it holds only these subsystems.
    pub blocks: Option<Vec<SubsystemId>>,
}

/// A host preparation step, resolved.
#[derive(Debug, Clone)]
pub struct Prepare {
    /// Its name.
    pub name: String,
    /// Hosts it runs on.
    pub hosts: Vec<HostId>,
    /// The command.
    pub command: String,
    /// Time limit.
    pub timeout: Duration,
}

/// Drill settings, resolved.
#[derive(Debug, Clone)]
pub struct DrillSpec {
    /// Power the scope off first.
    pub power_off: bool,
    /// Report file, relative to the run directory.
    pub report: PathBuf,
    /// Simulated runs for the prediction.
    pub simulations: u32,
}

/// Everything a playbook adds around the graph.
#[derive(Debug, Clone, Default)]
pub struct Procedures {
    /// Playbook name (empty for a bare topology).
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The playbook file.
    pub file: Option<PathBuf>,
    /// Checks before any action.
    pub preflight: Vec<Preflight>,
    /// Commands after boot, before services.
    pub prepare: Vec<Prepare>,
    /// Stop launching work at the first failure.
    pub stop_on_failure: bool,
    /// Drill settings.
    pub drill: Option<DrillSpec>,
}

impl Procedures {
    /// The preparation commands of each host, in playbook order.
    pub fn prepare_by_host(&self, host_count: usize) -> Vec<Vec<Prepare>> {
        let mut by_host = vec![Vec::new(); host_count];
        for step in &self.prepare {
            for &host in &step.hosts {
                by_host[host].push(step.clone());
            }
        }
        by_host
    }
}

/// A topology with the playbook applied.
#[derive(Debug)]
pub struct LoadedPlaybook {
    /// The topology, with manual steps, gates and orderings added.
    pub topology: Topology,
    /// The playbook's scope.
    pub scope: Scope,
    /// The procedures.
    pub procedures: Procedures,
    /// Warnings from the topology and the playbook.
    pub warnings: Vec<Diagnostics>,
}

impl LoadedPlaybook {
    /// The text of every file it was loaded from (its topology's, then the playbook's):
    /// each set of findings keeps its file's text. A run's digest covers all of them, so a
    /// resume notices a changed topology behind an unchanged playbook.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.warnings
            .iter()
            .map(|findings| findings.source.as_str())
    }
}

/// True when the YAML text is a playbook (it has a top-level `playbook:` key).
pub fn is_playbook(source: &str) -> bool {
    source.lines().any(|line| line.starts_with("playbook:"))
}

/// Loads a topology or a playbook file. A bare topology gets empty procedures and the
/// default scope.
pub fn load_any(path: &Path) -> Result<LoadedPlaybook, Diagnostics> {
    let source = topology::read_source(path).map_err(|err| Diagnostics::unreadable(path, &err))?;
    let source = topology::without_bom(&source);
    if !is_playbook(source) {
        let Loaded { topology, warnings } = crate::load::load_str(source, path)?;
        return Ok(LoadedPlaybook {
            topology,
            scope: Scope::default(),
            procedures: Procedures::default(),
            warnings: vec![warnings],
        });
    }
    load_playbook(source, path)
}

/// Loads a playbook given as text; `path` locates its topology and names it in messages.
pub fn load_playbook(source: &str, path: &Path) -> Result<LoadedPlaybook, Diagnostics> {
    let source = topology::without_bom(source);
    let diagnostics = |items| Diagnostics {
        file: path.to_path_buf(),
        source: source.to_string(),
        items,
    };
    if let Some(refused) = topology::refuse_shape(source) {
        return Err(diagnostics(vec![refused]));
    }
    let raw: RawPlaybook = serde_yaml::from_str(source)
        .map_err(|err| diagnostics(topology::every_schema_error::<RawPlaybook>(&err, source)))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let topology_path = base.join(&raw.topology);
    // An unreadable topology is the playbook's mistake: name the playbook's line.
    let topology_source = match topology::read_source(&topology_path) {
        Ok(text) => text,
        Err(err) => {
            let mut out = Collector::default();
            out.error(
                "topology",
                format!("cannot read topology {}: {err}", topology_path.display()),
            )
            .hint("the path is relative to the playbook's directory");
            return Err(located(diagnostics(out.items)));
        }
    };
    let Loaded {
        mut topology,
        warnings,
    } = crate::load::load_str(&topology_source, &topology_path)?;
    let mut out = Collector::default();
    if raw.version != 1 {
        out.error(
            "version",
            format!("unsupported playbook version {}", raw.version),
        );
    }
    if let Some(parallelism) = raw.policy.parallelism {
        topology.policy.parallelism = parallelism.max(1);
    }
    if let Some(rate) = &raw.policy.power_on {
        topology.policy.power_on_per_window = rate.count.max(1);
        topology.policy.power_on_window = rate.per.0;
    }
    let names: HashMap<String, SubsystemId> = topology
        .subsystems
        .iter()
        .enumerate()
        .map(|(id, s)| (s.name.clone(), id))
        .collect();
    let lookup = |name: &str, at: String, out: &mut Collector| -> Option<SubsystemId> {
        if let Some(id) = names.get(name) {
            return Some(*id);
        }
        let diagnostic = out.error(at, format!("unknown subsystem {name:?}"));
        if let Some(near) = closest(name, names.keys().map(String::as_str)) {
            diagnostic.hint(format!("did you mean {near:?}?"));
        }
        None
    };

    let (preflight, prepare) = procedures::resolve(&raw, &topology, &lookup, &mut out);

    add_human_steps(&mut topology, &raw, &lookup, &mut out);
    for (index, order) in raw.order.iter().enumerate() {
        if let Some(id) = lookup(
            &order.subsystem,
            format!("order[{index}].subsystem"),
            &mut out,
        ) {
            topology.subsystems[id].order = Some(OrderRule {
                probe: order.probe.clone(),
                first: order.first,
                guard: order.guard,
            });
        }
    }
    let graph = StepGraph::build(&topology, &vec![true; topology.subsystems.len()]);
    for cycle in graph.cycles() {
        out.error(
            "manual",
            format!(
                "the playbook's steps make a dependency cycle: {}",
                cycle_text(&topology, &cycle)
            ),
        )
        .hint("check the `after` and `before` lists of manual steps and gates");
    }

    let mut scope = Scope {
        only: raw.scope.subsystems.clone(),
        exclude: raw.scope.exclude.clone(),
        datacenter: raw.scope.datacenter.clone(),
        labels: raw.scope.labels.clone().into_iter().collect(),
        tiers: raw.scope.tiers.iter().map(|t| t.0).collect(),
        hosts: Vec::new(),
    };
    // Steps the playbook adds are always in scope when something they guard is.
    scope.only.retain(|name| names.contains_key(name));

    check_scope_names(&raw.scope, &topology, &mut out);
    if let Some(simulations) = raw.drill.as_ref().and_then(|drill| drill.simulations) {
        if simulations > MAX_SIMULATIONS {
            out.error(
                "drill.simulations",
                format!("{simulations} simulations is more than the {MAX_SIMULATIONS} allowed"),
            )
            .hint("a few hundred give stable percentiles");
        }
    }
    let found = located(diagnostics(out.items));
    if found.has_errors() {
        return Err(found);
    }
    let out = found;
    Ok(LoadedPlaybook {
        topology,
        scope,
        procedures: Procedures {
            name: raw.playbook.clone(),
            description: raw.description.clone(),
            file: Some(path.to_path_buf()),
            preflight,
            prepare,
            stop_on_failure: raw.policy.on_failure == OnFailure::Stop,
            drill: raw.drill.as_ref().map(|drill| DrillSpec {
                power_off: drill.power_off,
                report: PathBuf::from(
                    drill
                        .report
                        .clone()
                        .unwrap_or_else(|| "drill-report.json".into()),
                ),
                simulations: drill.simulations.unwrap_or(200).max(1),
            }),
        },
        warnings: vec![warnings, out],
    })
}

/// The most simulated runs a drill may ask for: far beyond stable percentiles, and short of
/// keeping a drill busy for days.
const MAX_SIMULATIONS: u32 = 100_000;

/// Every finding placed in the playbook's text.
fn located(mut found: Diagnostics) -> Diagnostics {
    let map = SourceMap::index(&found.source);
    for item in &mut found.items {
        item.location = map.locate(&item.path);
    }
    found
}

/// Names in the playbook's scope that no subsystem, manual step or gate carries, reported in
/// the playbook rather than later against a command-line flag.
fn check_scope_names(scope: &RawScope, topology: &Topology, out: &mut Collector) {
    if let Some(datacenter) = &scope.datacenter {
        if let Err(err) = Scope::check_datacenter(topology, datacenter) {
            out.error("scope.datacenter", err.to_string())
                .hint("name a datacenter the topology's hosts are in");
        }
    }
    for (key, value) in &scope.labels {
        if let Err(err) = Scope::check_label(topology, key, value) {
            out.error(format!("scope.labels.{key}"), err.to_string())
                .hint("name a label the topology's hosts carry");
        }
    }
    for (field, names) in [
        ("subsystems", &scope.subsystems),
        ("exclude", &scope.exclude),
    ] {
        for (index, name) in names.iter().enumerate() {
            if topology.subsystem_id(name).is_some() {
                continue;
            }
            let diagnostic = out.error(
                format!("scope.{field}[{index}]"),
                format!("unknown subsystem {name:?} in the playbook's scope"),
            );
            match closest(name, topology.subsystems.iter().map(|s| s.name.as_str())) {
                Some(near) => diagnostic.hint(format!("did you mean {near:?}?")),
                None => diagnostic.hint("name a subsystem of the topology"),
            };
        }
    }
}
