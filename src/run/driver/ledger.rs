//! What the loop writes down: every action, event and status change goes to the sink and
//! the reporter from here, and the counts a drill's outcome reads are kept here too.

use std::time::Duration;

use super::{Finished, Fleet, Reporter};
use crate::event::narrate::{event_subject, Subject};
use crate::event::state::{NodeState, StepStatus};
use crate::event::Target;
use crate::event::{Action, Event};
use crate::journal::{record::subject, Entry, Sink};
use crate::plan::Plan;
use crate::run::scheduler::Scheduler;
use crate::topology::Topology;

/// What the loop counted, for summaries and drill outcomes.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Per step: when it first became ready (time since the run first began).
    pub ready_at: Vec<Option<Duration>>,
    /// Per step: when its first start was launched.
    pub first_start: Vec<Option<Duration>>,
    /// Start actions launched (attempts).
    pub starts: usize,
    /// Start attempts after a failed one.
    pub retries: usize,
    /// Power-on actions launched.
    pub power_ons: usize,
    /// Nodes found healthy by their first probe, and left alone.
    pub already_healthy: usize,
    /// When the last event arrived.
    pub settled_at: Duration,
    /// When this process's part of the run began and ended.
    pub began: Duration,
    /// See `began`.
    pub ended: Duration,
}

impl Tally {
    /// The counts of a resumed run joined to those of the run it resumed (`earlier`):
    /// first times from whichever came first, counts added.
    pub fn after(mut self, earlier: &Tally) -> Tally {
        let first = |later: &mut Vec<Option<Duration>>, earlier: &[Option<Duration>]| {
            for (later, earlier) in later.iter_mut().zip(earlier) {
                *later = earlier.or(*later);
            }
        };
        first(&mut self.ready_at, &earlier.ready_at);
        first(&mut self.first_start, &earlier.first_start);
        self.starts += earlier.starts;
        self.retries += earlier.retries;
        self.power_ons += earlier.power_ons;
        self.already_healthy += earlier.already_healthy;
        self.settled_at = self.settled_at.max(earlier.settled_at);
        self.began = earlier.began;
        self
    }
}

pub(super) struct Ledger<'a, S, R> {
    topology: &'a Topology,
    plan: &'a Plan,
    pub(super) sink: &'a mut S,
    pub(super) reporter: &'a mut R,
    /// Last status written down per step; starts at "waiting", so statuses already
    /// settled at the start are written down too.
    statuses: Vec<StepStatus>,
    tally: Tally,
}

impl<'a, S: Sink, R: Reporter> Ledger<'a, S, R> {
    pub(super) fn new(
        topology: &'a Topology,
        plan: &'a Plan,
        sink: &'a mut S,
        reporter: &'a mut R,
        began: Duration,
    ) -> Self {
        let steps = plan.steps.len();
        Ledger {
            topology,
            plan,
            sink,
            reporter,
            statuses: vec![StepStatus::Waiting; steps],
            tally: Tally {
                ready_at: vec![None; steps],
                first_start: vec![None; steps],
                began,
                ..Tally::default()
            },
        }
    }

    /// Writes down an action about to be launched; `describe` gives its step, host and
    /// command.
    pub(super) fn action(
        &mut self,
        at: Duration,
        action: &Action,
        target: Target,
        describe: impl FnOnce() -> (Subject, Option<String>),
    ) {
        match action {
            Action::Start { attempt, .. } => {
                if let Some((step, _)) = target.step {
                    self.tally.first_start[step].get_or_insert(at);
                }
                self.tally.starts += 1;
                if *attempt > 1 {
                    self.tally.retries += 1;
                }
            }
            Action::PowerOn { .. } => self.tally.power_ons += 1,
            _ => {}
        }
        self.sink.append_with(at, || {
            let ((step, host), command) = describe();
            Entry::Action {
                action: action.clone(),
                step,
                host,
                command,
            }
        });
    }

    /// Journals and shows what happened, then hands it to the scheduler.
    pub(super) fn event(&mut self, scheduler: &mut Scheduler, at: Duration, finished: Finished) {
        let Finished {
            event,
            took,
            output,
        } = finished;
        let (step, host) = if self.sink.keeps() || self.reporter.shows() {
            event_subject(self.topology, self.plan, scheduler.nodes(), &event)
        } else {
            (None, None)
        };
        if self.reporter.shows() {
            let label = subject(step.as_deref(), host.as_deref());
            self.reporter.event(at, &label, &event);
        }
        scheduler.handle(at, &event);
        if let Event::Probed {
            node,
            result: Ok(()),
        } = &event
        {
            if matches!(
                scheduler.nodes()[*node].state,
                NodeState::Healthy { already: true }
            ) {
                self.tally.already_healthy += 1;
            }
        }
        self.tally.settled_at = self.tally.settled_at.max(at);
        self.sink.append_with(at, || Entry::Event {
            step,
            host,
            event,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            output,
        });
    }

    /// Takes the scheduler's status changes: journals them, notes ready times and first
    /// starts, and calls for people when a manual step or gate becomes due.
    pub(super) fn changes<F: Fleet>(
        &mut self,
        scheduler: &mut Scheduler,
        fleet: &mut F,
        at: Duration,
    ) {
        for &step in scheduler.changes() {
            let status = &scheduler.statuses()[step];
            if *status == self.statuses[step] {
                continue;
            }
            self.statuses[step] = status.clone();
            fleet.step_status(step, status, at);
            if *status == StepStatus::Ready && self.tally.ready_at[step].is_none() {
                self.tally.ready_at[step] = Some(at);
            }
            if *status == StepStatus::Active && scheduler.is_human(step) {
                self.reporter.person_needed(at, step);
                fleet.person_needed(step, at);
            }
            self.sink.append_with(at, || Entry::StepStatus {
                step: self.plan.steps[step].id.clone(),
                status: status.clone(),
            });
        }
        scheduler.clear_changes();
    }

    pub(super) fn finish(mut self, at: Duration) -> Tally {
        self.tally.ended = at;
        self.tally
    }
}
