//! The procedures around the graph, resolved from the playbook's entries: preflight checks and
//! host preparation steps, each with its name checked and its targets looked up.

use std::time::Duration;

use super::checks;
use super::raw::{PreflightFailure, RawPlaybook, RawPreflight};
use super::steps::{targets, Lookup};
use super::{Preflight, Prepare};
use crate::topology::diagnostic::Collector;
use crate::topology::names::name_ok;
use crate::topology::{SubsystemId, Topology};

/// How long a preflight check may take on one host when the playbook does not say.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a preparation command may take when the playbook does not say.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(60);

/// The playbook's preflight checks and host preparation steps. A check whose test cannot be
/// parsed is left out; every problem is reported in `out`.
pub(super) fn resolve(
    raw: &RawPlaybook,
    topology: &Topology,
    lookup: &Lookup<'_>,
    out: &mut Collector,
) -> (Vec<Preflight>, Vec<Prepare>) {
    let mut preflight = Vec::with_capacity(raw.preflight.len());
    for (index, check) in raw.preflight.iter().enumerate() {
        let at = format!("preflight[{index}]");
        name_ok(&check.name, "check", &format!("{at}.name"), out);
        let hosts = targets(topology, &check.on, &format!("{at}.on"), lookup, out);
        let Some(parsed) = checks::parse(check, &at, out) else {
            continue;
        };
        preflight.push(Preflight {
            name: check.name.clone(),
            hosts,
            check: parsed,
            timeout: check.timeout.map_or(PREFLIGHT_TIMEOUT, |t| t.0),
            blocks: held_by(check, &at, lookup, out),
        });
    }
    let mut prepare = Vec::with_capacity(raw.prepare.len());
    for (index, step) in raw.prepare.iter().enumerate() {
        let at = format!("prepare[{index}]");
        name_ok(&step.name, "step", &format!("{at}.name"), out);
        if let Err(why) = crate::template::check(&step.run) {
            out.error(format!("{at}.run"), why);
        }
        prepare.push(Prepare {
            name: step.name.clone(),
            hosts: targets(topology, &step.on, &format!("{at}.on"), lookup, out),
            command: step.run.clone(),
            timeout: step.timeout.map_or(PREPARE_TIMEOUT, |t| t.0),
        });
    }
    (preflight, prepare)
}

/// What a failed check holds: `None` stops the whole run, `Some` only the listed subsystems.
fn held_by(
    check: &RawPreflight,
    at: &str,
    lookup: &Lookup<'_>,
    out: &mut Collector,
) -> Option<Vec<SubsystemId>> {
    match check.on_failure {
        PreflightFailure::Stop => None,
        PreflightFailure::Block => {
            if check.blocks.is_empty() {
                out.error(
                    format!("{at}.blocks"),
                    "`on_failure: block` needs the subsystems it holds",
                )
                .hint("list them under `blocks:`");
            }
            let held = check.blocks.iter().enumerate();
            Some(
                held.filter_map(|(i, name)| lookup(name, format!("{at}.blocks[{i}]"), out))
                    .collect(),
            )
        }
    }
}
