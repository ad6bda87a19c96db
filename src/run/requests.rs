//! Requests from people to a run: re-arm failed nodes after a repair (`blackstart retry`),
//! acknowledge a manual step or approve a gate (`blackstart ack`). A live run picks them up
//! from its directory; a stopped run gets them in its journal and acts on resume.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scheduler::Scheduler;
use crate::event::state::NodeState;
use crate::event::{Event, NodeId};
use crate::journal::REQUESTS_DIR;
use crate::plan::Plan;
use crate::topology::diagnostic::closest;
use crate::topology::Topology;

/// What a person asks of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Re-arm failed nodes of a subsystem or step.
    Retry {
        /// A subsystem name or step id (`name@bootstrap`).
        target: String,
        /// Only the node on this host.
        host: Option<String>,
    },
    /// Acknowledge a manual step or approve a gate.
    Ack {
        /// The step.
        step: String,
        /// Who.
        by: String,
    },
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Retry { target, host: None } => write!(f, "retry {target}"),
            Request::Retry {
                target,
                host: Some(host),
            } => write!(f, "retry {target} --host {host}"),
            Request::Ack { step, by } => write!(f, "ack {step} by {by}"),
        }
    }
}

/// Leaves `request` for the live run of `run_dir` (written aside, then renamed, so the run
/// never reads half a request).
pub fn submit(run_dir: &Path, request: &Request) -> std::io::Result<PathBuf> {
    let dir = run_dir.join(REQUESTS_DIR);
    std::fs::create_dir_all(&dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = format!("{stamp}-{}", std::process::id());
    let staging = dir.join(format!("{name}.tmp"));
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&staging, serde_json::to_vec(request)?)?;
    std::fs::rename(&staging, &path)?;
    Ok(path)
}

/// Reads and removes the pending requests of `run_dir`, oldest first.
pub fn take(run_dir: &Path) -> Vec<Request> {
    let Ok(entries) = std::fs::read_dir(run_dir.join(REQUESTS_DIR)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let _ = std::fs::remove_file(&path);
            match serde_json::from_str(&text) {
                Ok(request) => Some(request),
                Err(err) => {
                    tracing::warn!("ignoring unreadable request {}: {err}", path.display());
                    None
                }
            }
        })
        .collect()
}

/// The events a request stands for, or why it names nothing that can be done.
pub fn events_for(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    request: &Request,
) -> Result<Vec<Event>, String> {
    match request {
        Request::Retry { target, host } => {
            let nodes = matching_failed_nodes(topology, plan, scheduler, target, host.as_deref());
            if nodes.is_empty() {
                return Err(format!(
                    "no failed node matches {target:?}{}{}",
                    host.as_ref()
                        .map(|h| format!(" on {h}"))
                        .unwrap_or_default(),
                    near_name(topology, plan, target)
                ));
            }
            Ok(nodes
                .into_iter()
                .map(|node| Event::Rearmed { node })
                .collect())
        }
        Request::Ack { step, by } => {
            let Some(id) = plan.steps.iter().position(|s| s.id == *step) else {
                return Err(format!(
                    "no step {step:?} in this run{}",
                    near_name(topology, plan, step)
                ));
            };
            if !scheduler.is_human(id) {
                return Err(format!("{step:?} is not a manual step or a gate"));
            }
            if let Some(already) = &scheduler.acknowledgements()[id] {
                return Err(format!("{step:?} was already acknowledged by {already}"));
            }
            Ok(vec![Event::Acknowledged {
                step: id,
                by: by.clone(),
            }])
        }
    }
}

/// ` (did you mean "ldap"?)` when `wanted` is a near miss of a step id or subsystem name
/// (and names neither itself).
fn near_name(topology: &Topology, plan: &Plan, wanted: &str) -> String {
    let names = plan
        .steps
        .iter()
        .map(|step| step.id.as_str())
        .chain(topology.subsystems.iter().map(|s| s.name.as_str()));
    if names.clone().any(|name| name == wanted) {
        return String::new();
    }
    closest(wanted, names)
        .map(|near| format!(" (did you mean {near:?}?)"))
        .unwrap_or_default()
}

/// The failed nodes of `target` (subsystem or step id), optionally on one host.
pub fn matching_failed_nodes(
    topology: &Topology,
    plan: &Plan,
    scheduler: &Scheduler,
    target: &str,
    host: Option<&str>,
) -> Vec<NodeId> {
    scheduler
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, node)| matches!(node.state, NodeState::Failed { .. }))
        .filter(|(_, node)| {
            let step = &plan.steps[node.step];
            let subsystem = &topology.subsystems[step.step.subsystem].name;
            (step.id == target || subsystem == target)
                && host.is_none_or(|host| topology.hosts[node.host].name == host)
        })
        .map(|(id, _)| id)
        .collect()
}

/// Who is acknowledging: `$SUDO_USER`, `$USER`, or `unknown`.
pub fn operator() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}
