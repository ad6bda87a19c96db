//! A game day's scorecard: how long recovery took against the plan's ETA (and the Monte
//! Carlo band of the same fleet when it was studied), how soon the team acted on each
//! failure (`retry`) and gate (`ack`), who acknowledged what, and whether what the scenario
//! expected of the team was met. A pure function of the replayed journal and its
//! [`Basis`], so the end of `simulate --run-dir`, `status --format json` and the report
//! quote the same numbers.
//!
//! Two clocks: the run's (simulated, sped up) and the wall clock people act on. Delays are
//! given on both; expectations are judged on the wall clock, as people live it (a `retry`
//! typed after the game day stopped does not move the run clock at all).

mod render;
mod trail;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::drill::scenario::{Expectation, Expected};
use crate::event::Event;
use crate::journal::{self, Entry, Record};
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

pub use render::{html_section, render_text};
use trail::FailureTrail;

/// What a scorecard is measured against, fixed when the game day began.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// The plan's ETA, milliseconds.
    pub plan_eta_ms: u64,
    /// The Monte Carlo band of the same fleet with nobody to wait for, or why none.
    pub band: Band,
    /// What the scenario expected of the team.
    pub expect: Vec<Expectation>,
}

/// The Monte Carlo band of recovery times, or why it was not studied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "band", rename_all = "snake_case")]
pub enum Band {
    /// Studied: nearest-rank percentiles over `runs` simulated nights, milliseconds.
    Studied {
        /// Simulated nights.
        runs: usize,
        /// 10th percentile.
        p10_ms: u64,
        /// Median.
        p50_ms: u64,
        /// 90th percentile.
        p90_ms: u64,
        /// The people the nights were simulated with, in words, when the model had their
        /// calibrated times; none: gates acknowledged as planned and nobody retrying.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        people: Option<String>,
    },
    /// Not studied; the plan's ETA is the only reference.
    NotStudied {
        /// Why, for people.
        why: String,
    },
}

impl Default for Band {
    fn default() -> Band {
        Band::NotStudied {
            why: "no study was recorded for this game day".into(),
        }
    }
}

/// A delay measured on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delay {
    /// On the run's clock, milliseconds.
    pub run_ms: u64,
    /// On the wall clock, milliseconds, when both records carry their wall time.
    pub wall_ms: Option<u64>,
}

impl Delay {
    fn between(from: &Record, to: &Record) -> Delay {
        let wall = |r: &Record| {
            r.at.as_deref()
                .and_then(|at| humantime::parse_rfc3339(at).ok())
        };
        Delay {
            run_ms: to.t_ms.saturating_sub(from.t_ms),
            wall_ms: wall(from)
                .zip(wall(to))
                .map(|(a, b)| millis(b.duration_since(a).unwrap_or_default())),
        }
    }

    /// The delay people lived: the wall clock's when known, else the run clock's.
    pub fn lived(&self) -> Duration {
        Duration::from_millis(self.wall_ms.unwrap_or(self.run_ms))
    }
}

/// A node that gave up, and the team's `retry` that re-armed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The step's id.
    pub step: String,
    /// The host.
    pub host: String,
    /// When the node gave up, run clock, milliseconds.
    pub failed_ms: u64,
    /// When the `retry` re-armed it, run clock; none: never acted on.
    pub retried_ms: Option<u64>,
    /// From the failure to the `retry`.
    pub delay: Option<Delay>,
    /// Why it gave up (the cause, as failures are grouped by).
    pub cause: String,
    /// The spare the run brought in for it (the scheduler does so by itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spare: Option<SpareIn>,
}

/// A spare the run brought in for a member that failed for good.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpareIn {
    /// The spare host.
    pub host: String,
    /// When it was brought in, run clock, milliseconds.
    pub brought_in_ms: u64,
    /// When it became healthy, run clock; none: not (yet).
    pub healthy_ms: Option<u64>,
}

/// A gate or manual step, and its `ack`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateWait {
    /// The step's id.
    pub step: String,
    /// When it began to wait for a person, run clock; none: never called for.
    pub waiting_ms: Option<u64>,
    /// When it was acknowledged, run clock; none: not (yet).
    pub acked_ms: Option<u64>,
    /// Who acknowledged.
    pub by: Option<String>,
    /// From waiting to the `ack`.
    pub delay: Option<Delay>,
}

/// Whether an expectation was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Met {
    /// Every time it was called for, in time.
    Met,
    /// Late, or never done.
    Missed,
    /// Nothing called for it (the target never failed, the step never waited).
    NotCalledFor,
}

/// One expectation of the team, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    /// The expectation, in words.
    pub expected: String,
    /// Met or not.
    pub met: Met,
    /// The slowest response it judged (lived clock), milliseconds; none when none came.
    pub slowest_ms: Option<u64>,
}

/// A request that was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    /// When, run clock.
    pub at_ms: u64,
    /// The request in words.
    pub request: String,
    /// Why.
    pub why: String,
}

/// The scorecard of a game day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// When every step was ready, run clock; none: not recovered.
    pub recovered_ms: Option<u64>,
    /// The run clock's last record.
    pub elapsed_ms: u64,
    /// The plan's ETA.
    pub plan_eta_ms: u64,
    /// The Monte Carlo band, or why none.
    pub band: Band,
    /// Nodes that gave up, and the retries.
    pub failures: Vec<Failure>,
    /// Gates and manual steps, and their acks.
    pub gates: Vec<GateWait>,
    /// What the scenario expected, judged.
    pub expectations: Vec<Judged>,
    /// Requests refused.
    pub refused: Vec<Refused>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Scorecard {
    /// The scorecard of `records`, replayed over `fresh` (the run's scheduler before any
    /// record), measured against `basis`.
    pub fn of(
        topology: &Topology,
        plan: &Plan,
        mut fresh: Scheduler,
        records: &[Record],
        basis: &Basis,
    ) -> Scorecard {
        let mut trail = FailureTrail::new(topology, plan, &fresh);
        let mut gates: Vec<(GateWait, Option<usize>)> = (0..plan.steps.len())
            .filter(|step| fresh.is_human(*step))
            .map(|step| {
                let wait = GateWait {
                    step: plan.steps[step].id.clone(),
                    waiting_ms: None,
                    acked_ms: None,
                    by: None,
                    delay: None,
                };
                (wait, None)
            })
            .collect();
        let mut refused = Vec::new();
        for index in 0..records.len() {
            journal::replay_record(&mut fresh, records, index);
            trail.follow(&fresh, records, index);
            let record = &records[index];
            match &record.entry {
                Entry::Event {
                    event: Event::Acknowledged { step, by },
                    ..
                } => {
                    let id = plan.steps.get(*step).map(|s| s.id.as_str());
                    for (gate, since) in &mut gates {
                        if Some(gate.step.as_str()) == id && gate.acked_ms.is_none() {
                            gate.acked_ms = Some(record.t_ms);
                            gate.by = Some(by.clone());
                            gate.delay = since.map(|i| Delay::between(&records[i], record));
                        }
                    }
                }
                Entry::StepStatus { step, status } if status.name() == "active" => {
                    for (gate, since) in &mut gates {
                        if gate.step == *step && gate.waiting_ms.is_none() {
                            gate.waiting_ms = Some(record.t_ms);
                            *since = Some(index);
                        }
                    }
                }
                Entry::RequestRefused { request, why } => refused.push(Refused {
                    at_ms: record.t_ms,
                    request: request.clone(),
                    why: why.clone(),
                }),
                _ => {}
            }
        }
        let failures: Vec<Failure> = trail.failures.into_iter().map(|(f, _)| f).collect();
        let gates: Vec<GateWait> = gates.into_iter().map(|(g, _)| g).collect();
        let expectations = basis
            .expect
            .iter()
            .map(|expectation| judge(topology, plan, expectation, &failures, &gates))
            .collect();
        Scorecard {
            recovered_ms: journal::recovered_at(records, plan.steps.len()).map(millis),
            elapsed_ms: records.last().map_or(0, |r| r.t_ms),
            plan_eta_ms: basis.plan_eta_ms,
            band: basis.band.clone(),
            failures,
            gates,
            expectations,
            refused,
        }
    }
}

/// Judges one expectation: every time it was called for, the response came within its
/// time on the clock people live.
fn judge(
    topology: &Topology,
    plan: &Plan,
    expectation: &Expectation,
    failures: &[Failure],
    gates: &[GateWait],
) -> Judged {
    let responses: Vec<Option<Delay>> = match &expectation.action {
        // A failure a spare stood in for called for nobody, unless someone retried it.
        Expected::Retry(target) => failures
            .iter()
            .filter(|failure| failure.spare.is_none() || failure.retried_ms.is_some())
            .filter(|failure| {
                plan.steps.iter().any(|step| {
                    step.id == failure.step
                        && (step.id == *target
                            || topology.subsystems[step.step.subsystem].name == *target)
                })
            })
            .map(|failure| failure.delay)
            .collect(),
        Expected::Ack(step) => gates
            .iter()
            .filter(|gate| gate.step == *step && gate.waiting_ms.is_some())
            .map(|gate| gate.delay)
            .collect(),
    };
    let slowest = responses
        .iter()
        .flatten()
        .map(|delay| millis(delay.lived()))
        .max();
    let met = if responses.is_empty() {
        Met::NotCalledFor
    } else if responses
        .iter()
        .all(|r| r.is_some_and(|d| d.lived() <= expectation.within))
    {
        Met::Met
    } else {
        Met::Missed
    };
    Judged {
        expected: expectation.to_string(),
        met,
        slowest_ms: slowest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(retried: bool, spare: bool) -> Failure {
        Failure {
            step: "ldap".into(),
            host: "ldap01.dc1".into(),
            failed_ms: 1_000,
            retried_ms: retried.then_some(61_000),
            delay: retried.then_some(Delay {
                run_ms: 60_000,
                wall_ms: Some(60_000),
            }),
            cause: "no SSH answer after power-on".into(),
            spare: spare.then(|| SpareIn {
                host: "ldap04.dc1".into(),
                brought_in_ms: 1_000,
                healthy_ms: Some(30_000),
            }),
        }
    }

    /// A failure a spare stood in for asks nothing of the team; retried anyway, it counts.
    #[test]
    fn a_failure_replaced_by_a_spare_does_not_call_for_a_retry() {
        let (topology, plan) = crate::drill::shipped_and_planned("topologies/social-network.yaml");
        let expectation = Expectation {
            action: Expected::Retry("ldap".into()),
            within: Duration::from_secs(600),
        };
        let judged = |failures: &[Failure]| judge(&topology, &plan, &expectation, failures, &[]);
        assert_eq!(judged(&[failure(false, true)]).met, Met::NotCalledFor);
        assert_eq!(judged(&[failure(false, false)]).met, Met::Missed);
        assert_eq!(judged(&[failure(true, true)]).met, Met::Met);
        assert_eq!(
            judged(&[failure(false, true), failure(false, false)]).met,
            Met::Missed
        );
        let card = Scorecard {
            recovered_ms: Some(90_000),
            elapsed_ms: 90_000,
            plan_eta_ms: 90_000,
            band: Band::default(),
            failures: vec![failure(false, true)],
            gates: Vec::new(),
            expectations: Vec::new(),
            refused: Vec::new(),
        };
        let text = render_text(&card);
        assert!(
            text.contains(
                "the run brought in spare ldap04.dc1 at +1s, healthy at +30s: no one needed to act"
            ),
            "{text}"
        );
    }
}
