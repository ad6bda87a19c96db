//! The plan as a stable JSON document for machines.

use serde::Serialize;

use super::actions::{node_commands, NodeCommands};
use super::Plan;
use crate::graph::Mode;
use crate::topology::Topology;

/// The top-level JSON plan.
#[derive(Debug, Serialize)]
pub struct PlanDocument {
    /// Format version of this document.
    pub format: u32,
    /// Topology name.
    pub topology: String,
    /// Expected time to full recovery, seconds: under the fleet-wide caps when the
    /// schedule was computed (as `plan` does), else the uncapped bound.
    pub eta_s: f64,
    /// The uncapped lower bound, seconds (no fleet-wide caps, no failures).
    pub bound_eta_s: f64,
    /// What each fleet-wide cap adds to the ETA on its own.
    pub cap_costs: Vec<CapCostDocument>,
    /// Step identifiers along the critical path (of the capped schedule when computed).
    pub critical_path: Vec<String>,
    /// Subsystems covered.
    pub subsystem_count: usize,
    /// Hosts covered.
    pub host_count: usize,
    /// Nodes (step on host).
    pub node_count: usize,
    /// Waves.
    pub wave_count: usize,
    /// Out-of-scope dependencies assumed up.
    pub assumed_up: Vec<String>,
    /// One entry per step.
    pub steps: Vec<StepDocument>,
    /// One entry per node.
    pub nodes: Vec<NodeDocument>,
    /// How each host is reached over SSH (key paths only, never keys).
    pub routes: Vec<super::route::HostRoute>,
}

/// What one cap costs.
#[derive(Debug, Serialize)]
pub struct CapCostDocument {
    /// The cap, in words (`parallelism 256`).
    pub cap: String,
    /// Seconds it adds to the ETA.
    pub adds_s: f64,
}

/// One step in the JSON plan.
#[derive(Debug, Serialize)]
pub struct StepDocument {
    /// `name` or `name@bootstrap`.
    pub id: String,
    /// Subsystem name.
    pub subsystem: String,
    /// `normal` or `bootstrap`.
    pub mode: Mode,
    /// `service`, `manual` or `gate`.
    pub kind: &'static str,
    /// Tier, 1 first.
    pub tier: u8,
    /// Wave.
    pub wave: usize,
    /// Host count.
    pub hosts: usize,
    /// Healthy hosts needed.
    pub required_healthy: usize,
    /// Hard dependencies (step ids).
    pub depends_on: Vec<String>,
    /// Soft dependencies (step ids).
    pub wants: Vec<String>,
    /// Dependencies ready, seconds from start.
    pub earliest_start_s: f64,
    /// Expected duration, seconds.
    pub duration_s: f64,
    /// Expected ready time, seconds from start (under the caps when computed).
    pub ready_s: f64,
    /// Ready time of the uncapped bound, seconds from start.
    pub bound_ready_s: f64,
    /// On the critical path.
    pub critical: bool,
}

/// One node in the JSON plan.
#[derive(Debug, Serialize)]
pub struct NodeDocument {
    /// Step id (`name` or `name@bootstrap`).
    pub step: String,
    /// Subsystem name.
    pub subsystem: String,
    /// `normal` or `bootstrap`.
    pub mode: Mode,
    /// Host name.
    pub host: String,
    /// Host address.
    pub address: String,
    /// Hard dependencies (step ids).
    pub depends_on: Vec<String>,
    /// Wave.
    pub wave: usize,
    /// Earliest start, seconds from the start of the run.
    pub earliest_start_s: f64,
    /// Expected duration, seconds.
    pub duration_s: f64,
    /// Rendered commands.
    pub commands: NodeCommands,
}

/// Renders the plan as pretty JSON.
pub fn render_json(topology: &Topology, plan: &Plan) -> String {
    let ids = |list: &[usize]| {
        list.iter()
            .map(|id| plan.steps[*id].id.clone())
            .collect::<Vec<_>>()
    };
    let steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| StepDocument {
            id: step.id.clone(),
            subsystem: topology.subsystems[step.step.subsystem].name.clone(),
            mode: step.step.mode,
            kind: match topology.subsystems[step.step.subsystem].kind {
                crate::topology::SubsystemKind::Service => "service",
                crate::topology::SubsystemKind::Manual { .. } => "manual",
                crate::topology::SubsystemKind::Gate { .. } => "gate",
            },
            tier: topology.subsystems[step.step.subsystem].tier.0,
            wave: step.wave,
            hosts: step.hosts.len(),
            required_healthy: step.required_healthy,
            depends_on: ids(&step.requires),
            wants: ids(&step.wants),
            earliest_start_s: step.earliest_start.as_secs_f64(),
            duration_s: step.duration.as_secs_f64(),
            ready_s: plan.quoted_ready_at(index).as_secs_f64(),
            bound_ready_s: step.ready_at.as_secs_f64(),
            critical: step.critical,
        })
        .collect();
    let nodes = plan
        .steps
        .iter()
        .flat_map(|step| {
            step.hosts
                .iter()
                .zip(&step.node_starts)
                .map(move |(host, start)| NodeDocument {
                    step: step.id.clone(),
                    subsystem: topology.subsystems[step.step.subsystem].name.clone(),
                    mode: step.step.mode,
                    host: topology.hosts[*host].name.clone(),
                    address: topology.hosts[*host].address.clone(),
                    depends_on: ids(&step.requires),
                    wave: step.wave,
                    earliest_start_s: start.as_secs_f64(),
                    duration_s: step.duration.as_secs_f64(),
                    commands: node_commands(topology, step.step, *host),
                })
        })
        .collect();
    let document = PlanDocument {
        format: 1,
        topology: topology.name.clone(),
        eta_s: plan.quoted_eta().as_secs_f64(),
        bound_eta_s: plan.eta.as_secs_f64(),
        cap_costs: plan
            .scheduled
            .iter()
            .flat_map(|s| &s.cap_costs)
            .map(|(cap, adds)| CapCostDocument {
                cap: cap.clone(),
                adds_s: adds.as_secs_f64(),
            })
            .collect(),
        critical_path: ids(plan.quoted_critical_path()),
        subsystem_count: plan.subsystem_count(),
        host_count: plan.host_count(),
        node_count: plan.node_count(),
        wave_count: plan.wave_count,
        assumed_up: plan
            .assumed_up
            .iter()
            .map(|id| topology.subsystems[*id].name.clone())
            .collect(),
        steps,
        nodes,
        routes: super::route::host_routes(topology, plan),
    };
    serde_json::to_string_pretty(&document).expect("plan documents always serialize")
}
