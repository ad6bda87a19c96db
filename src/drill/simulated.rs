//! The simulated fleet as the driver sees it: actions carried out by the made-up
//! [`World`] on a virtual clock that jumps from one completion to the next. It never
//! waits, so the driver's loop runs to its end at once.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::fleet::{FaultTally, World};
use super::random::Draws;
use super::{DrillConfig, Injected};
use crate::event::{Action, Event, Target};
use crate::plan::{Plan, StepId};
use crate::run::driver::{Finished, Fleet, Next};
use crate::topology::Topology;

/// A completion waiting on the virtual clock, ordered by time then issue order. The event
/// itself waits in a slot beside the heap: sifting small keys instead of whole events
/// was a fifth of a drill's time.
#[derive(PartialEq, Eq)]
struct Pending {
    at: Duration,
    seq: u64,
    launched: Duration,
    slot: usize,
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, the earliest completion comes first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Most wake-ups in a row that produce nothing before the drill is declared stuck (a
/// guard against a scheduler bug spinning forever).
const IDLE_WAKEUPS: u32 = 1000;

/// A simulated fleet on a virtual clock.
pub(crate) struct SimulatedFleet<'a> {
    plan: &'a Plan,
    world: World<'a>,
    now: Duration,
    queue: BinaryHeap<Pending>,
    /// Events of the pending completions, by slot; freed slots are reused.
    events: Vec<Option<Event>>,
    free: Vec<usize>,
    seq: u64,
    idle: u32,
}

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
            world: World::new(topology, plan, config, injected, Draws::new(seed)),
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            free: Vec::new(),
            seq: 0,
            idle: 0,
        }
    }

    /// The faults that struck.
    pub(crate) fn faults(&self) -> FaultTally {
        self.world.tally
    }

    fn schedule(&mut self, at: Duration, event: Event) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.events[slot] = Some(event);
                slot
            }
            None => {
                self.events.push(Some(event));
                self.events.len() - 1
            }
        };
        self.queue.push(Pending {
            at,
            seq: self.seq,
            launched: self.now,
            slot,
        });
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

    /// A simulated operator acknowledges after the step's expected duration.
    fn person_needed(&mut self, step: StepId, at: Duration) {
        let event = Event::Acknowledged {
            step,
            by: "simulated operator".into(),
        };
        self.schedule(at + self.plan.steps[step].duration, event);
    }

    async fn next(&mut self, wake_at: Option<Duration>) -> Next {
        let next_event = self.queue.peek().map(|pending| pending.at);
        let next = match (next_event, wake_at) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(next) => next,
                // Work is queued but nothing can ever start it.
                None => return Next::Never,
            },
        };
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
        while self
            .queue
            .peek()
            .is_some_and(|pending| pending.at <= self.now)
        {
            let pending = self.queue.pop().expect("peeked");
            self.free.push(pending.slot);
            batch.push(Finished {
                event: self.events[pending.slot]
                    .take()
                    .expect("a pending completion has its event"),
                took: pending.at.saturating_sub(pending.launched),
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
