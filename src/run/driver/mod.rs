//! The driver: one event loop that owns all state, for a real night and for a drill alike.
//! It asks the scheduler for actions, journals each one before a fleet carries it out,
//! takes back what happened, journals it, and hands it to the scheduler. Fleets never touch
//! the state; they only report.
//!
//! What differs between a real night and a drill is behind two seams: the [`Fleet`] (real
//! transports on the wall clock, or a simulated fleet on a virtual clock) and the
//! [`Sink`] (the journal on disk, or a timeline in memory). A simulated fleet never waits,
//! so [`run_now`] drives the same loop to its end without a runtime, in microseconds per
//! action.

mod ledger;
pub mod real;

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::requests::{self, Request};
use super::scheduler::Scheduler;
use crate::event::narrate::action_subject;
use crate::event::state::{Node, StepStatus};
use crate::event::{Action, CommandOutput, Event, Reason, Target};
use crate::journal::{Entry, JournalError, RunOutcome, Sink};
use crate::plan::{Plan, StepId};
use crate::topology::Topology;

pub use ledger::Tally;

/// One finished action, as a fleet reports it.
#[derive(Debug, Clone)]
pub struct Finished {
    /// What happened.
    pub event: Event,
    /// How long the action took.
    pub took: Duration,
    /// Exit code and output tails of the last command run, if any.
    pub output: Option<CommandOutput>,
}

/// What a fleet hands back while the loop waits.
#[derive(Debug)]
pub enum Next {
    /// Actions finished (all that were waiting, so one journal sync covers them).
    Finished(Vec<Finished>),
    /// People asked for something (`retry`, `ack`).
    Requests(Vec<Request>),
    /// A wake-up time passed, or nothing in particular: ask the scheduler again.
    Wake,
    /// Stop was requested: finish what runs, start nothing new.
    Stop,
    /// Nothing can ever happen again (a simulated fleet with nothing pending).
    Never,
    /// The controller died (a drill's simulated SIGKILL): the loop ends at once and writes
    /// nothing more, as a killed process would.
    Killed,
}

/// Carries out actions: real transports, or a simulated fleet.
pub trait Fleet {
    /// Time since the run first began, on this fleet's clock.
    fn now(&self) -> Duration;
    /// The command `action` will run, as rendered, for the journal (never a secret).
    fn describe(&self, action: &Action, target: Target) -> Option<String>;
    /// Begins `action` (already journaled); its event comes back through [`Fleet::next`].
    fn launch(&mut self, action: Action, target: Target);
    /// A manual step or gate became due at `at` (a simulated operator acknowledges it).
    fn person_needed(&mut self, step: StepId, at: Duration);
    /// `step` reached `status` at `at` (a simulated fleet arms the faults placed on that
    /// event; a real one has nothing to do).
    fn step_status(&mut self, _step: StepId, _status: &StepStatus, _at: Duration) {}
    /// A simulated person will still act (a drill's people retry a failed step): the loop
    /// waits for them although the scheduler has nothing left to do.
    fn people_coming(&self) -> bool {
        false
    }
    /// Waits for what comes next, at most until `wake_at`.
    fn next(&mut self, wake_at: Option<Duration>) -> impl Future<Output = Next>;
}

/// What people see while the loop runs. The real run shows progress; a drill shows nothing.
pub trait Reporter {
    /// An action was launched (already journaled).
    fn action(&mut self, _at: Duration, _action: &Action) {}
    /// An action finished with `event` (`label`: `step on host`).
    fn event(&mut self, _at: Duration, _label: &str, _event: &Event) {}
    /// Something to say (stop requested, request ignored).
    fn line(&mut self, _at: Duration, _text: &str) {}
    /// A stop was requested (Ctrl-C): what runs finishes, nothing new starts.
    fn stopping(&mut self, _at: Duration) {}
    /// A manual step or gate waits for a person.
    fn person_needed(&mut self, _at: Duration, _step: StepId) {}
    /// A preflight check finished on a host (before the loop).
    fn preflight(&mut self, _check: &str, _host: &str, _result: &Result<String, Reason>) {}
    /// A drill's baseline was taken (before the loop): nodes healthy, hosts powered, hosts
    /// about to be powered off.
    fn baseline(&mut self, _healthy: usize, _powered: usize, _powering_off: usize) {}
    /// The loop went round: redraw whatever is drawn.
    fn tick(&mut self, _scheduler: &Scheduler, _at: Duration) {}
    /// When the reporter wants the loop to go round again without an event (a heartbeat).
    fn next_tick(&self) -> Option<Duration> {
        None
    }
    /// False when nothing is shown: labels need not be built for it.
    fn shows(&self) -> bool {
        false
    }
}

/// Shows nothing (drills, tests).
impl Reporter for () {}

/// How the loop ended.
#[derive(Debug, Clone)]
pub struct Ended {
    /// Every step is ready.
    pub succeeded: bool,
    /// Stopped on request before finishing.
    pub interrupted: bool,
    /// Nothing could happen any more although work remained (a bug guard).
    pub stuck: bool,
    /// The controller was killed (a drill's simulated kill): no run-finished record.
    pub killed: bool,
    /// Where every node and step ended.
    pub final_state: Scheduler,
    /// What the loop counted: ready times, starts, retries.
    pub tally: Tally,
}

/// Rebuilds a scheduler from journaled events, as they happened.
pub fn replay(
    topology: &Topology,
    plan: &Plan,
    seed: u64,
    events: &[(Duration, Event)],
) -> Scheduler {
    replay_onto(Scheduler::new(topology, plan, seed), events)
}

/// Hands journaled events, as they happened, to a scheduler already set up for its run
/// (a real drill's power-off, for one).
pub fn replay_onto(mut scheduler: Scheduler, events: &[(Duration, Event)]) -> Scheduler {
    for (at, event) in events {
        scheduler.handle(*at, event);
    }
    scheduler
}

/// Runs the plan until everything is settled or a stop is requested. `opening` is
/// journaled first (a real run's `run_started`).
pub async fn drive<F: Fleet, S: Sink, R: Reporter>(
    topology: &Topology,
    plan: &Plan,
    fleet: &mut F,
    sink: &mut S,
    reporter: &mut R,
    mut scheduler: Scheduler,
    opening: Option<Entry>,
) -> Result<Ended, JournalError> {
    let mut ledger = ledger::Ledger::new(topology, plan, sink, reporter, fleet.now());
    if let Some(entry) = opening {
        ledger.sink.append(fleet.now(), entry);
    }
    ledger.changes(&mut scheduler, fleet, fleet.now());
    let mut interrupted = false;
    let mut stuck = false;
    let mut killed = false;
    // Lists reused from turn to turn: a drill's loop turns tens of thousands of times.
    let mut actions = Vec::new();
    let mut launch = Vec::new();
    loop {
        let at = fleet.now();
        // Journal first, act second: an action is on disk before it can touch a host.
        scheduler.next_actions_into(at, &mut actions);
        for action in actions.drain(..) {
            let target = target_of(plan, scheduler.nodes(), &action);
            ledger.action(at, &action, target, || {
                (
                    action_subject(topology, plan, scheduler.nodes(), &action),
                    fleet.describe(&action, target),
                )
            });
            launch.push((action, target));
        }
        ledger.sink.sync()?;
        for (action, target) in launch.drain(..) {
            ledger.reporter.action(at, &action);
            fleet.launch(action, target);
        }
        ledger.reporter.tick(&scheduler, at);
        if scheduler.is_finished() && !fleet.people_coming() {
            break;
        }
        let wake_at = match (scheduler.next_wakeup(), ledger.reporter.next_tick()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match fleet.next(wake_at).await {
            Next::Finished(batch) => {
                let at = fleet.now();
                for finished in batch {
                    ledger.event(&mut scheduler, at, finished);
                }
            }
            Next::Requests(batch) => {
                let at = fleet.now();
                for request in batch {
                    match requests::events_for(topology, plan, &scheduler, &request) {
                        Ok(events) => {
                            for event in events {
                                let finished = Finished {
                                    event,
                                    took: Duration::ZERO,
                                    output: None,
                                };
                                ledger.event(&mut scheduler, at, finished);
                            }
                        }
                        Err(why) => {
                            ledger
                                .reporter
                                .line(at, &format!("request ignored: {request}: {why}"));
                            ledger.sink.append(
                                at,
                                Entry::RequestRefused {
                                    request: request.to_string(),
                                    why,
                                },
                            );
                        }
                    }
                }
            }
            Next::Wake => {}
            Next::Stop => {
                interrupted = true;
                ledger.sink.append(fleet.now(), Entry::StopRequested);
                ledger.reporter.line(
                    fleet.now(),
                    "stop requested: no new work; waiting for running steps to finish or time out",
                );
                scheduler.stop();
                ledger.reporter.stopping(fleet.now());
            }
            Next::Never => {
                stuck = true;
                break;
            }
            Next::Killed => {
                killed = true;
                break;
            }
        }
        ledger.changes(&mut scheduler, fleet, fleet.now());
    }
    let succeeded = !stuck && !killed && scheduler.succeeded();
    let outcome = if succeeded {
        RunOutcome::Succeeded
    } else if interrupted {
        RunOutcome::Interrupted
    } else {
        RunOutcome::Failed
    };
    if !killed {
        ledger
            .sink
            .append(fleet.now(), Entry::RunFinished { outcome });
    }
    ledger.sink.sync()?;
    let tally = ledger.finish(fleet.now());
    Ok(Ended {
        succeeded,
        interrupted,
        stuck,
        killed,
        final_state: scheduler,
        tally,
    })
}

/// The host and step an action is about.
pub fn target_of(plan: &Plan, nodes: &[Node], action: &Action) -> Target {
    match action.node() {
        None => Target {
            host: action.host().expect("an action is about a host or a node"),
            step: None,
        },
        Some(node) => {
            let node = &nodes[node];
            Target {
                host: node.host,
                step: Some((node.step, plan.steps[node.step].step)),
            }
        }
    }
}

/// Drives a future that never waits (the loop over a simulated fleet) to its end.
///
/// # Panics
/// When the future does wait: only fleets that never block may be driven this way.
pub fn run_now<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a simulated fleet waited: it must answer at once"),
    }
}
