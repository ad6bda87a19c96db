//! Loading a topology: the YAML validated by [`crate::topology`], then the step graph checked
//! for cycles. Every caller loads through here, so a topology that loads has no cycle.

use std::path::Path;

use crate::graph::{cycle_text, Mode, StepGraph};
use crate::topology::diagnostic::Collector;
use crate::topology::{self, Diagnostics, Loaded, Topology};

/// Reads and validates a topology file.
pub fn load_file(path: &Path) -> Result<Loaded, Diagnostics> {
    match topology::read_source(path) {
        Ok(source) => load_str(&source, path),
        Err(err) => Err(Diagnostics::unreadable(path, &err)),
    }
}

/// Validates a topology given as text; `file` is used in messages and to resolve relative
/// paths (keys, known_hosts) against the file's directory.
pub fn load_str(source: &str, file: &Path) -> Result<Loaded, Diagnostics> {
    topology::load_str_with(source, file, check_cycles)
}

fn check_cycles(topology: &Topology, out: &mut Collector) {
    let graph = StepGraph::build(topology, &vec![true; topology.subsystems.len()]);
    for cycle in graph.cycles() {
        let first = cycle.path[0];
        let next = cycle.path[1];
        let subsystem = &topology.subsystems[first.subsystem];
        // Point at the `requires` entry that closes the loop from the first step.
        let path = match first.mode {
            Mode::Normal => subsystem
                .requires
                .iter()
                .find(|dependency| dependency.on == next.subsystem)
                .map(|dependency| {
                    format!(
                        "subsystems[{}].requires[{}]",
                        first.subsystem, dependency.index
                    )
                })
                .unwrap_or_else(|| format!("subsystems[{}]", first.subsystem)),
            Mode::Bootstrap => {
                format!("subsystems[{}].bootstrap.requires", first.subsystem)
            }
        };
        out.error(
            path,
            format!("dependency cycle: {}", cycle_text(topology, &cycle)),
        )
        .hint(
            "break it with a bootstrap mode: declare `bootstrap:` (start, check, fewer \
                 requires) on one subsystem of the cycle, and mark the dependency on it \
                 `{ name: ..., bootstrap: true }`",
        );
    }
    for (dependent, wanted) in graph.dropped_wants {
        out.warning(
            format!("subsystems[{dependent}].wants"),
            format!(
                "soft dependency {:?} -> {:?} closes a cycle and is ignored for ordering",
                topology.subsystems[dependent].name, topology.subsystems[wanted].name
            ),
        );
    }
}
