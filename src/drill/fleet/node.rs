//! The nodes of the simulated fleet: probes (with `successes` checks in a row), starts
//! (their times, flapping checks, failures, the ready timeout, progress probes and hung
//! starts), adoptions and ordering values, as `run/executor.rs` carries out `Probe`,
//! `Start`, `Adopt` and `ReadValue`.

use std::time::Duration;

use super::super::random::Stream;
use super::super::{FaultKind, FleetStart};
use super::World;
use crate::event::{Event, NodeId, Reason};
use crate::plan::StepId;
use crate::topology::HostId;

impl World<'_> {
    /// Reads a node's ordering value.
    pub(super) fn read_value(&self, node: NodeId, host: HostId) -> (Duration, Event) {
        let latencies = self.config.latencies;
        // Members of a simulated store agree: every one reports the same position.
        (
            latencies.probe.0 + self.slow(host),
            Event::ValueRead {
                node,
                result: Ok(0.0),
            },
        )
    }

    /// Probes a node: healthy now, with `successes` good checks in a row?
    pub(super) fn probe(
        &mut self,
        now: Duration,
        node: NodeId,
        step: StepId,
        host: HostId,
    ) -> (Duration, Event) {
        let latencies = self.config.latencies;
        let delay = self.paced(self.draws.between(
            latencies.probe,
            Stream::ProbeLatency,
            step as u64,
            host as u64,
        )) + self.slow(host);
        // Healthy when the service is up by the time the probe answers.
        let healthy = self.is_healthy(node, now + delay) || self.config.start == FleetStart::Warm;
        if healthy {
            self.set_healthy(node, now);
        }
        // Healthy takes `successes` checks in a row, an interval apart; a failure
        // ends the probe at its first check.
        let policy = self.topology.subsystems[self.plan.steps[step].step.subsystem].health_policy;
        let delay = match policy.successes.checked_sub(1).filter(|_| healthy) {
            Some(more) => delay + (policy.interval + delay) * more,
            None => delay,
        };
        // Only a timeline shows the probe's words: unrecorded runs skip the copy
        // (one per probe, thousands per run).
        let result = if healthy {
            Ok(())
        } else {
            Err(Reason::CheckFailed {
                detail: if self.config.timeline {
                    "not running".to_string()
                } else {
                    String::new()
                },
            })
        };
        (delay, Event::Probed { node, result })
    }

    /// One start attempt: its time drawn around the plan's, then the faults that strike it.
    pub(super) fn start(
        &mut self,
        now: Duration,
        node: NodeId,
        attempt: u32,
        step: StepId,
        host: HostId,
    ) -> (Duration, Event) {
        if self.healthy_at.get(node).copied().flatten().is_some() {
            self.double_starts += 1;
        }
        let finished = move |result| Event::StartFinished {
            node,
            attempt,
            result,
        };
        let (a, b) = start_key(step, host, attempt);
        let took = self.start_time(step, host, attempt);
        let subsystem = self.plan.steps[step].step.subsystem;
        let (flaps, fails) = self.strikes(now, step, host, attempt);
        let limit = self.topology.subsystems[subsystem].ready_timeout;
        let progress = self.topology.subsystems[subsystem].progress.is_some();
        let hangs = self.hung.contains(&(host, subsystem));
        // A progress probe keeps a slow start alive in the real run: no cut there,
        // unless the start hangs and its output stops changing.
        let cut = (!progress && took > limit) || hangs;
        let result = if attempt == 1 && flaps {
            self.tally.flapping += 1;
            // Never enough good checks in a row: the executor waits out its ready
            // timeout (moved on by the progress probe while the start progresses).
            let gives_up = if progress { limit.max(took) } else { limit };
            let result = Err(Reason::NotHealthyWithin {
                limit_ms: Reason::millis(gives_up),
                last: "health check flapped: healthy, then not (simulated)".into(),
            });
            return (gives_up, finished(result));
        } else if fails {
            self.tally.start_failure += 1;
            // A crash shows somewhere during the start, not at its very end.
            let after = 0.1 + 0.9 * self.draws.unit(Stream::FailAfter, a, b);
            let result = Err(Reason::ExitStatus {
                command: "start command".into(),
                code: Some(1),
                last_line: "(simulated)".into(),
            });
            return (
                super::super::random::millis(took.as_secs_f64() * after).min(limit),
                finished(result),
            );
        } else if cut {
            // The executor gives up at the ready timeout; the service comes up later
            // all the same, where the probe before the next attempt will find it
            // (a hung one never does).
            if !hangs {
                self.set_healthy(node, now + took);
            }
            let result = Err(Reason::NotHealthyWithin {
                limit_ms: Reason::millis(limit),
                last: "not up yet (simulated)".into(),
            });
            return (limit, finished(result));
        } else {
            self.set_healthy(node, now + took);
            Ok(())
        };
        (took, finished(result))
    }

    /// How long attempt `attempt` of `step` on `host` takes to come up: the step's own
    /// factor in this run (its nodes start at the same moment, under the same load), then
    /// each node's own draw around it.
    fn start_time(&self, step: StepId, host: HostId, attempt: u32) -> Duration {
        let (a, b) = start_key(step, host, attempt);
        let expected = self.draws.around(
            self.plan.steps[step].duration,
            self.config.step_spread,
            Stream::StepFactor,
            step as u64,
            0,
        );
        self.paced(
            self.draws
                .around(expected, self.config.spread, Stream::StartTime, a, b),
        ) + self.slow(host)
    }

    /// Whether a flapping health check and a start failure strike this attempt, placed on
    /// purpose or drawn.
    fn strikes(&self, now: Duration, step: StepId, host: HostId, attempt: u32) -> (bool, bool) {
        let (a, b) = start_key(step, host, attempt);
        let rates = self.config.faults;
        let subsystem = self.plan.steps[step].step.subsystem;
        let placed = |kind| {
            self.injected.iter().any(|fault| {
                fault.kind == kind
                    && fault.host == host
                    && fault.subsystem.is_none_or(|s| s == subsystem)
                    && now >= fault.from
                    && fault.after.is_none()
            })
        };
        // With one success enough, the first good check passes a flapping service.
        let needs_a_row = self.topology.subsystems[subsystem].health_policy.successes > 1;
        let flaps = needs_a_row
            && (placed(FaultKind::Flapping)
                || self
                    .draws
                    .chance(rates.flapping, Stream::Flapping, step as u64, host as u64));
        let repaired = self.repaired.contains(&(host, subsystem));
        let fails = placed(FaultKind::StartFailure)
            || !repaired
                && self
                    .draws
                    .chance(rates.start_failure, Stream::StartFails, a, b);
        (flaps, fails)
    }

    /// Watches a start launched `running_for` before `now` by a killed controller: the
    /// service comes up when that start made it (the fleet kept running while nobody
    /// watched), if that is within the ready timeout counted from the start.
    pub(super) fn adopt(
        &mut self,
        now: Duration,
        node: usize,
        attempt: u32,
        step: usize,
        running_for: Duration,
    ) -> (Duration, Event) {
        let subsystem = self.plan.steps[step].step.subsystem;
        let limit = self.topology.subsystems[subsystem].ready_timeout;
        let deadline = (now.saturating_sub(running_for) + limit).max(now);
        let probe = self.config.latencies.probe.0;
        let (took, result) = match self.healthy_at.get(node).copied().flatten() {
            Some(at) if at <= deadline => (at.max(now) + probe - now, Ok(())),
            _ => (
                deadline - now,
                Err(Reason::NotHealthyWithin {
                    limit_ms: Reason::millis(limit),
                    last: "not up (simulated)".into(),
                }),
            ),
        };
        let event = Event::Adopted {
            node,
            attempt,
            result,
        };
        (took, event)
    }

    pub(super) fn is_healthy(&self, node: usize, at: Duration) -> bool {
        self.healthy_at
            .get(node)
            .copied()
            .flatten()
            .is_some_and(|since| since <= at)
    }

    /// The node's service is healthy from `at` on (the earliest time wins).
    pub(super) fn set_healthy(&mut self, node: usize, at: Duration) {
        if self.healthy_at.len() <= node {
            self.healthy_at.resize(node + 1, None);
        }
        let since = self.healthy_at[node].get_or_insert(at);
        *since = (*since).min(at);
    }
}

/// The draws' key of one start attempt.
fn start_key(step: StepId, host: HostId, attempt: u32) -> (u64, u64) {
    (step as u64, host as u64 | (attempt as u64) << 32)
}
