//! The plan as a stable JSON document for machines.

use serde::Serialize;

use super::actions::{node_commands, NodeCommands};
use super::power::{command_line, reads_power_before_on, PowerAction};
use super::Plan;
use crate::graph::Mode;
use crate::topology::{Bmc, BmcProtocol, Topology};

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
    /// One entry per host of the plan: how its power is switched.
    pub hosts: Vec<HostDocument>,
    /// How each host is reached over SSH (key paths only, never keys).
    pub routes: Vec<super::route::HostRoute>,
}

/// One host in the JSON plan.
#[derive(Debug, Serialize)]
pub struct HostDocument {
    /// Host name.
    pub name: String,
    /// How its BMC switches it on; None without a BMC (powered on by hand).
    pub power: Option<PowerDocument>,
}

/// How a host's power is switched on in a fresh run.
#[derive(Debug, Serialize)]
pub struct PowerDocument {
    /// `ipmi` or `redfish`.
    pub protocol: &'static str,
    /// The IPMI client, `native` or `ipmitool`; None for Redfish.
    pub client: Option<&'static str>,
    /// The power read before the switch; None when it is skipped (IPMI: switching on a
    /// host already on does nothing). A resume reads every host's power.
    pub read_first: Option<String>,
    /// The power-on command.
    pub on: String,
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
    /// SSH client: `builtin` or `openssh` (the system ssh).
    pub ssh_client: &'static str,
    /// How the host is reached: `user@address:port via ...` (for the system ssh, as `ssh
    /// -G` resolves it on the machine that planned).
    pub ssh_route: String,
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

fn power_document(bmc: &Bmc) -> PowerDocument {
    let (protocol, client) = match &bmc.protocol {
        BmcProtocol::Ipmi(ipmi) => ("ipmi", Some(ipmi.client.name())),
        BmcProtocol::Redfish(_) => ("redfish", None),
    };
    PowerDocument {
        protocol,
        client,
        read_first: reads_power_before_on(bmc).then(|| command_line(bmc, PowerAction::Status)),
        on: command_line(bmc, PowerAction::On),
    }
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
                    ssh_client: topology.hosts[*host].ssh.client(),
                    ssh_route: topology.hosts[*host].ssh_route(),
                    depends_on: ids(&step.requires),
                    wave: step.wave,
                    earliest_start_s: start.as_secs_f64(),
                    duration_s: step.duration.as_secs_f64(),
                    commands: node_commands(topology, step.step, *host),
                })
        })
        .collect();
    let mut in_plan: Vec<usize> = plan
        .steps
        .iter()
        .flat_map(|s| s.hosts.iter().copied())
        .collect();
    in_plan.sort_unstable();
    in_plan.dedup();
    let hosts = in_plan
        .into_iter()
        .map(|id| {
            let host = &topology.hosts[id];
            HostDocument {
                name: host.name.clone(),
                power: host.bmc.as_ref().map(power_document),
            }
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
        hosts,
        routes: super::route::host_routes(topology, plan),
    };
    serde_json::to_string_pretty(&document).expect("plan documents always serialize")
}
