//! The simulated fleet as the driver sees it: actions carried out by the made-up
//! [`World`] on a virtual clock that jumps from one completion to the next. It never
//! waits, so the driver's loop runs to its end at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::fleet::{FaultTally, World};
use super::random::Draws;
use super::{DrillConfig, Injected, People};
use crate::event::state::StepStatus;
use crate::event::{Action, Event, Target};
use crate::plan::{Plan, StepId};
use crate::run::driver::{Finished, Fleet, Next};
use crate::run::requests::Request;
use crate::topology::{HostId, SubsystemId, Topology};

/// A completion waiting on the virtual clock, as one number ordered by time, then issue
/// order: the time in nanoseconds in the high 64 bits, the issue number in the next 32 and
/// the slot of its event in the low 32 (slots are unique among pending completions, so they
/// never decide the order). The event itself waits in its slot beside the heap: sifting
/// one small integer instead of a struct of durations, or whole events, halves the
/// queue's share of a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pending(u128);

impl Pending {
    fn new(at: Duration, seq: u64, slot: usize) -> Pending {
        // Past 584 years, every time is the same "never": issue order still breaks ties.
        let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        let seq = u32::try_from(seq).expect("fewer than 2^32 actions in one drill");
        let slot = u32::try_from(slot).expect("fewer than 2^32 actions pending at once");
        Pending(u128::from(at) << 64 | u128::from(seq) << 32 | u128::from(slot))
    }

    fn at(self) -> Duration {
        Duration::from_nanos((self.0 >> 64) as u64)
    }

    fn slot(self) -> usize {
        (self.0 as u32) as usize
    }
}

/// Most wake-ups in a row that produce nothing before the drill is declared stuck (a
/// guard against a scheduler bug spinning forever).
const IDLE_WAKEUPS: u32 = 1000;

/// A simulated fleet on a virtual clock.
pub(crate) struct SimulatedFleet<'a> {
    plan: &'a Plan,
    topology: &'a Topology,
    world: World<'a>,
    now: Duration,
    /// Earliest first (a max-heap of reversed keys).
    queue: BinaryHeap<Reverse<Pending>>,
    /// Events of the pending completions, and when they were launched, by slot; freed
    /// slots are reused.
    events: Vec<Option<(Event, Duration)>>,
    free: Vec<usize>,
    seq: u64,
    idle: u32,
    /// When the controller dies (a simulated SIGKILL), if it does.
    kill_at: Option<Duration>,
    /// How soon the simulated people act.
    people: People,
    /// Steps a simulated person will repair and `retry`, and when.
    people_retries: Vec<(Duration, StepId)>,
    /// Per step: the simulated person's retries so far (bounded: a fault no repair fixes,
    /// a dead BMC, must not keep the drill going for ever).
    retried: Vec<u32>,
}

/// How often a simulated person repairs and retries one step in one run.
const PEOPLE_RETRIES: u32 = 3;

impl<'a> SimulatedFleet<'a> {
    /// The made-up fleet of `topology` for one drill with `seed`.
    pub(crate) fn new(
        topology: &'a Topology,
        plan: &'a Plan,
        config: DrillConfig,
        injected: &[Injected],
        seed: u64,
    ) -> Self {
        SimulatedFleet {
            plan,
            topology,
            world: World::new(topology, plan, config, injected, Draws::new(seed)),
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            free: Vec::new(),
            seq: 0,
            idle: 0,
            kill_at: None,
            people: config.people,
            people_retries: Vec::new(),
            retried: vec![0; plan.steps.len()],
        }
    }

    /// The controller dies at `at`: from then on nothing reaches it ([`Next::Killed`]).
    pub(crate) fn kill_controller_at(&mut self, at: Duration) {
        self.kill_at = Some(at);
    }

    /// A new controller takes over at `at`. What the dead one waited for never reaches the
    /// new one, but the hosts carried on: every start and power-on it launched still
    /// happens in the world, where probes and adoptions find it.
    pub(crate) fn new_controller_at(&mut self, at: Duration) {
        self.queue.clear();
        self.events.clear();
        self.free.clear();
        self.now = self.now.max(at);
        self.idle = 0;
    }

    /// Moves the virtual clock on to `at` (never back): a game day's wall clock passed
    /// while nothing completed, and a person's request comes in at that time.
    pub(crate) fn advance_to(&mut self, at: Duration) {
        self.now = self.now.max(at);
    }

    /// When the next pending completion is due, if any.
    pub(crate) fn next_due(&self) -> Option<Duration> {
        self.queue.peek().map(|pending| pending.0.at())
    }

    /// Someone repaired `subsystem` on `host`: its placed start failures stop failing and
    /// a dead disk of the host was replaced.
    pub(crate) fn repair(&mut self, host: HostId, subsystem: SubsystemId) -> bool {
        self.world.repair(host, subsystem)
    }

    /// Carries `action` out in the world at `at` without waiting for its event: a resumed
    /// game day rebuilds the hosts and services the journal says the killed process had
    /// acted on (the draws are keyed, so the same action gives the same result).
    pub(crate) fn replay_action(&mut self, at: Duration, action: &Action, target: Target) {
        let _ = self.world.perform(at, action, target);
        self.now = self.now.max(at);
    }

    /// The simulated people's retries due now: each step's services repaired on every
    /// host that runs them, then `retry STEP`, as a person types it.
    fn people_act(&mut self) -> Vec<Request> {
        let now = self.now;
        let mut due = Vec::new();
        self.people_retries.retain(|(at, step)| {
            let keep = *at > now;
            if !keep {
                due.push(*step);
            }
            keep
        });
        due.into_iter()
            .map(|step| {
                let subsystem = self.plan.steps[step].step.subsystem;
                let runs = &self.topology.subsystems[subsystem];
                for host in runs.hosts.iter().chain(&runs.spares) {
                    self.world.repair(*host, subsystem);
                }
                Request::Retry {
                    target: self.plan.steps[step].id.clone(),
                    host: None,
                }
            })
            .collect()
    }

    /// The faults that struck.
    pub(crate) fn faults(&self) -> FaultTally {
        self.world.tally
    }

    /// Starts launched on a service already up or still coming up from an earlier start.
    pub(crate) fn double_starts(&self) -> usize {
        self.world.double_starts
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        let pending = Some((event, self.now));
        let slot = match self.free.pop() {
            Some(slot) => {
                self.events[slot] = pending;
                slot
            }
            None => {
                self.events.push(pending);
                self.events.len() - 1
            }
        };
        self.queue.push(Reverse(Pending::new(at, self.seq, slot)));
    }
}

impl Fleet for SimulatedFleet<'_> {
    fn now(&self) -> Duration {
        self.now
    }

    fn describe(&self, _action: &Action, _target: Target) -> Option<String> {
        None
    }

    fn launch(&mut self, action: Action, target: Target) {
        let (took, event) = self.world.perform(self.now, &action, target);
        self.schedule(self.now + took, event);
    }

    /// A simulated operator acknowledges after people's calibrated response time, else
    /// after the step's expected duration.
    fn person_needed(&mut self, step: StepId, at: Duration) {
        let event = Event::Acknowledged {
            step,
            by: "simulated operator".into(),
        };
        let after = self.people.ack.unwrap_or(self.plan.steps[step].duration);
        self.schedule(at + after, event);
    }

    /// Arms faults placed on the event; a step that failed is repaired and retried by a
    /// simulated person after people's calibrated response time (when there is one).
    fn step_status(&mut self, step: StepId, status: &StepStatus, at: Duration) {
        self.world.step_status(step, status, at);
        if let (StepStatus::Failed, Some(after)) = (status, self.people.retry) {
            if self.retried[step] < PEOPLE_RETRIES {
                self.retried[step] += 1;
                self.people_retries.push((at + after, step));
            }
        }
    }

    fn people_coming(&self) -> bool {
        !self.people_retries.is_empty()
    }

    async fn next(&mut self, wake_at: Option<Duration>) -> Next {
        let next_event = self.queue.peek().map(|pending| pending.0.at());
        let next_request = self.people_retries.iter().map(|(at, _)| *at).min();
        let soonest = match (next_event, next_request) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let next = match (soonest, wake_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(next) => next,
                // Work is queued but nothing can ever start it.
                None => return Next::Never,
            },
        };
        if let Some(kill) = self.kill_at.filter(|kill| next >= *kill) {
            self.now = self.now.max(kill);
            self.kill_at = None;
            return Next::Killed;
        }
        if next_request.is_some_and(|at| at <= next.max(self.now)) {
            self.now = self.now.max(next);
            self.idle = 0;
            return Next::Requests(self.people_act());
        }
        if next <= self.now && next_event.is_none_or(|at| at > self.now) {
            // A wake-up that is already due yet produced nothing: guard against a spin.
            self.idle += 1;
            if self.idle > IDLE_WAKEUPS {
                return Next::Never;
            }
        } else {
            self.idle = 0;
        }
        self.now = self.now.max(next);
        let mut batch = Vec::new();
        while let Some(&Reverse(pending)) = self.queue.peek() {
            if pending.at() > self.now {
                break;
            }
            self.queue.pop();
            let slot = pending.slot();
            self.free.push(slot);
            let (event, launched) = self.events[slot]
                .take()
                .expect("a pending completion has its event");
            batch.push(Finished {
                event,
                took: pending.at().saturating_sub(launched),
                output: None,
            });
        }
        if batch.is_empty() {
            Next::Wake
        } else {
            Next::Finished(batch)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The packed key orders completions exactly as (time, issue order) did, and gives
        /// back the time and slot it was made from.
        #[test]
        fn packed_keys_order_by_time_then_issue(
            a in (0u64..1u64 << 50, 0u64..1 << 31, 0usize..1 << 20),
            b in (0u64..1u64 << 50, 0u64..1 << 31, 0usize..1 << 20),
        ) {
            prop_assume!(a.1 != b.1);
            let (at_a, at_b) = (Duration::from_nanos(a.0), Duration::from_nanos(b.0));
            let (key_a, key_b) = (Pending::new(at_a, a.1, a.2), Pending::new(at_b, b.1, b.2));
            prop_assert_eq!(key_a.cmp(&key_b), (at_a, a.1).cmp(&(at_b, b.1)));
            prop_assert_eq!((key_a.at(), key_a.slot()), (at_a, a.2));
        }
    }
}
