//! A real drill (quarterly): record what is healthy, power the scope off, cold start it,
//! then compare what came back with the baseline, and the measured recovery time with the
//! simulated prediction for the same plan. The report is what the quarterly review reads.
//!
//! The power-off and the cold start are one run of the driver (see
//! [`Scheduler::power_off_first`]): journaled before each action, rate-limited per power
//! domain, resumable. Only the baseline, which changes nothing, is read here directly.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::drill::{monte_carlo, Drill, DrillConfig};
use crate::event::state::NodeState;
use crate::event::{Action, Event, PowerReport, Target};
use crate::plan::Plan;
use crate::run::executor::Executor;
use crate::run::scheduler::Scheduler;
use crate::run::transport::{Power, Probe, Remote};
use crate::topology::{HostId, Topology};

/// What was healthy before the drill touched anything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// `step on host` of every node found healthy.
    pub healthy: Vec<String>,
    /// Hosts found powered on.
    pub powered_on: Vec<String>,
}

/// The drill report.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// Nodes healthy before the drill.
    pub baseline_healthy: usize,
    /// Of those, healthy again after the cold start.
    pub came_back: usize,
    /// Healthy before, not after: the regressions to chase.
    pub missing: Vec<String>,
    /// Healthy after, not before.
    pub new: Vec<String>,
    /// Hosts that did not power off.
    pub power_off_failures: Vec<String>,
    /// Measured time from the start of the cold start until the run ended, seconds.
    pub measured_recovery_s: f64,
    /// Simulated runs behind the prediction.
    pub simulated_runs: usize,
    /// Predicted median, seconds.
    pub predicted_p50_s: Option<f64>,
    /// Predicted 90th percentile, seconds.
    pub predicted_p90_s: Option<f64>,
    /// Measured ÷ predicted median.
    pub measured_over_p50: Option<f64>,
    /// Whether every step came back.
    pub succeeded: bool,
}

fn label(topology: &Topology, plan: &Plan, step: usize, host: HostId) -> String {
    format!("{} on {}", plan.steps[step].id, topology.hosts[host].name)
}

/// Probes every node of the plan whose host is powered on. Changes nothing.
pub async fn baseline<P: Power, R: Remote, Q: Probe>(
    executor: &Executor<P, R, Q>,
    topology: &Topology,
    plan: &Plan,
) -> Baseline {
    let mut result = Baseline::default();
    for host in plan.hosts() {
        let checked = executor
            .perform(Action::CheckPower { host }, Target { host, step: None })
            .await;
        let on = matches!(checked.event, Event::PowerChecked { result: Ok(ref state), .. } if *state != PowerReport::Off);
        if !on {
            continue;
        }
        result.powered_on.push(topology.hosts[host].name.clone());
        for (step_id, step) in plan.steps.iter().enumerate() {
            if step.hosts.contains(&host) {
                let probe = Action::Probe { node: 0 };
                let outcome = executor
                    .perform(
                        probe,
                        Target {
                            host,
                            step: Some((step_id, step.step)),
                        },
                    )
                    .await;
                if outcome.event.found_healthy() {
                    result.healthy.push(label(topology, plan, step_id, host));
                }
            }
        }
    }
    result
}

/// The hosts a drill switches off: every host of the plan with a BMC.
pub fn hosts_to_power_off(topology: &Topology, plan: &Plan) -> Vec<HostId> {
    plan.hosts()
        .into_iter()
        .filter(|host| topology.hosts[*host].bmc.is_some())
        .collect()
}

/// Compares the end of the run with the baseline and the simulated prediction.
pub fn report(
    topology: &Topology,
    plan: &Plan,
    baseline: &Baseline,
    after: &Scheduler,
    measured: Duration,
    simulations: usize,
) -> DrillReport {
    let power_off_failures = after
        .power_off_refusals()
        .into_iter()
        .map(|(host, why)| format!("{}: {why}", topology.hosts[host].name))
        .collect();
    let healthy_after: Vec<String> = after
        .nodes()
        .iter()
        .filter(|node| matches!(node.state, NodeState::Healthy { .. }))
        .map(|node| label(topology, plan, node.step, node.host))
        .collect();
    let missing: Vec<String> = baseline
        .healthy
        .iter()
        .filter(|n| !healthy_after.contains(n))
        .cloned()
        .collect();
    let new: Vec<String> = healthy_after
        .iter()
        .filter(|n| !baseline.healthy.contains(n))
        .cloned()
        .collect();
    let drill = Drill::new(topology, plan, DrillConfig::default());
    let prediction = monte_carlo(&drill, simulations, 1, 2);
    let p50 = prediction.makespan.p50.map(|d| d.as_secs_f64());
    DrillReport {
        baseline_healthy: baseline.healthy.len(),
        came_back: baseline.healthy.len() - missing.len(),
        missing,
        new,
        power_off_failures,
        measured_recovery_s: measured.as_secs_f64(),
        simulated_runs: simulations,
        predicted_p50_s: p50,
        predicted_p90_s: prediction.makespan.p90.map(|d| d.as_secs_f64()),
        measured_over_p50: p50.filter(|p| *p > 0.0).map(|p| measured.as_secs_f64() / p),
        succeeded: after.succeeded(),
    }
}

impl DrillReport {
    /// The report for people.
    pub fn text(&self) -> String {
        let secs = |s: Option<f64>| {
            s.map_or("n/a".to_string(), |s| {
                crate::plan::human(Duration::from_secs_f64(s))
            })
        };
        let mut out = format!(
            "DRILL REPORT\n  came back: {}/{} nodes healthy before the drill{}\n  recovery: measured {}, predicted p50 {} / p90 {} ({} simulated runs){}\n",
            self.came_back,
            self.baseline_healthy,
            if self.new.is_empty() { String::new() } else { format!(", {} newly healthy", self.new.len()) },
            secs(Some(self.measured_recovery_s)),
            secs(self.predicted_p50_s),
            secs(self.predicted_p90_s),
            self.simulated_runs,
            self.measured_over_p50.map(|r| format!(", measured/predicted {r:.2}")).unwrap_or_default(),
        );
        for node in &self.missing {
            out.push_str(&format!("  MISSING {node}: healthy before, not after\n"));
        }
        for host in &self.power_off_failures {
            out.push_str(&format!("  POWER-OFF FAILED {host}\n"));
        }
        out
    }
}
