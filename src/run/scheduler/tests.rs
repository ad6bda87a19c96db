//! The scheduler alone, event by event: resumes that adopt starts in flight (hosts that
//! stop answering mid-run are in `tests_host_loss.rs`, over this file's bench).

use std::path::Path;
use std::time::Duration;

use super::{AdoptedAfter, InFlightStart, Scheduler};
use crate::event::state::NodeState;
use crate::event::{Action, Event, PowerReport, Reason};
use crate::journal::{self, Entry, Record, Sink, Timeline};
use crate::load::load_str;
use crate::plan::Plan;
use crate::scope::Scope;
use crate::topology::Topology;

/// One host, one service that may be tried once (so a second start could only come from
/// a resume or a lost host, never from the retry policy).
const ONE_SERVICE: &str = r#"
name: one
policy: { parallelism: 4, power_on: { count: 10, per: 1s } }
defaults:
  host:
    boot: 1s
    bmc: { password_env: X }
  subsystem:
    health_policy: { interval: 100ms, timeout: 1s, successes: 1 }
    retry: { attempts: 1, backoff: 1s, max_backoff: 1s }
    ready_timeout: 20s
hosts:
  - { name: h1, address: 10.0.0.1, bmc: { address: 10.0.1.1 } }
subsystems:
  - name: web
    hosts: [h1]
    start: serve 80
    health: { tcp: 80 }
"#;

pub(super) fn setup() -> (Topology, Plan) {
    let topology = load_str(ONE_SERVICE, Path::new("one.yaml"))
        .unwrap()
        .topology;
    let selection = Scope::default().select(&topology).unwrap();
    let plan = Plan::build(&topology, &selection).unwrap();
    (topology, plan)
}

pub(super) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Drives the scheduler with `events` at `at`, journaling actions and events as the driver
/// does, and returns the actions it hands out next.
pub(super) struct Bench {
    pub(super) scheduler: Scheduler,
    journal: Timeline,
}

impl Bench {
    pub(super) fn new(scheduler: Scheduler) -> Bench {
        Bench {
            scheduler,
            journal: Timeline {
                records: Vec::new(),
                enabled: true,
            },
        }
    }

    pub(super) fn actions(&mut self, at: Duration) -> Vec<Action> {
        let actions = self.scheduler.next_actions(at);
        for action in &actions {
            self.journal.append(
                at,
                Entry::Action {
                    action: action.clone(),
                    step: None,
                    host: None,
                    command: None,
                },
            );
        }
        actions
    }

    pub(super) fn event(&mut self, at: Duration, event: Event) {
        self.scheduler.handle(at, &event);
        self.journal.append(
            at,
            Entry::Event {
                event,
                step: None,
                host: None,
                duration_ms: 0,
                output: None,
            },
        );
    }

    /// Switched on without a power read (IPMI: harmless if on), SSH answers, the node's
    /// probe finds it down: its start comes next.
    pub(super) fn up_to_the_start(&mut self, at: Duration) -> Vec<Action> {
        assert_eq!(self.actions(at), vec![Action::PowerOn { host: 0 }]);
        self.event(
            at,
            Event::PoweredOn {
                host: 0,
                result: Ok(()),
            },
        );
        let wait = self.actions(at);
        assert!(
            matches!(wait[..], [Action::WaitSsh { host: 0, .. }]),
            "{wait:?}"
        );
        self.event(
            at,
            Event::SshReady {
                host: 0,
                result: Ok(()),
            },
        );
        assert_eq!(self.actions(at), vec![Action::Probe { node: 0 }]);
        self.event(
            at,
            Event::Probed {
                node: 0,
                result: Err(Reason::CheckFailed {
                    detail: "refused".into(),
                }),
            },
        );
        self.actions(at)
    }
}

fn resumed(records: &[Record], at: Duration) -> Bench {
    let (topology, plan) = setup();
    let events = journal::events(records);
    let mut scheduler = crate::run::driver::replay(&topology, &plan, 1, &events);
    let starts = journal::unfinished(records).starts_by_run_clock(at);
    scheduler.prepare_resume(at, &starts);
    Bench::new(scheduler)
}

#[test]
fn a_start_in_flight_at_a_kill_is_watched_by_the_resume_not_started_again() {
    let (topology, plan) = setup();
    let mut first = Bench::new(Scheduler::new(&topology, &plan, 1));
    let start = first.up_to_the_start(secs(1.0));
    assert_eq!(
        start,
        vec![Action::Start {
            node: 0,
            attempt: 1
        }]
    );
    // Killed here: the start is journaled, its end never is.

    let mut resume = resumed(&first.journal.records, secs(4.0));
    let actions = resume.up_to_the_start_after_resume(secs(4.0));
    assert_eq!(
        actions,
        vec![Action::Adopt {
            node: 0,
            attempt: 1,
            running_for_ms: 3_000
        }],
        "the resume watches the start in flight, it does not issue a second one"
    );
    resume.event(
        secs(6.1),
        Event::Adopted {
            node: 0,
            attempt: 1,
            result: Ok(()),
        },
    );
    assert!(resume.scheduler.succeeded());
    assert!(resume.actions(secs(6.1)).is_empty());
    let adoption = &resume.scheduler.adoptions()[0];
    assert_eq!(adoption.after, AdoptedAfter::Kill);
    assert_eq!(adoption.ended, Some((secs(6.1), Ok(()))));
    assert!(journal::unfinished(&resume.journal.records)
        .starts
        .is_empty());
}

impl Bench {
    /// After a resume the host is read again and the node is not probed first when its
    /// start is adopted.
    fn up_to_the_start_after_resume(&mut self, at: Duration) -> Vec<Action> {
        assert_eq!(self.actions(at), vec![Action::CheckPower { host: 0 }]);
        self.event(
            at,
            Event::PowerChecked {
                host: 0,
                result: Ok(PowerReport::On),
            },
        );
        let wait = self.actions(at);
        assert!(
            matches!(
                wait[..],
                [Action::WaitSsh {
                    host: 0,
                    prepared: true
                }]
            ),
            "a host prepared before the kill is not prepared again: {wait:?}"
        );
        self.event(
            at,
            Event::SshReady {
                host: 0,
                result: Ok(()),
            },
        );
        self.actions(at)
    }
}

#[test]
fn an_adopted_start_that_never_comes_up_counts_as_the_attempt_it_was() {
    let (topology, plan) = setup();
    let mut first = Bench::new(Scheduler::new(&topology, &plan, 1));
    first.up_to_the_start(secs(1.0));
    let mut resume = resumed(&first.journal.records, secs(2.0));
    resume.up_to_the_start_after_resume(secs(2.0));
    let not_up = Reason::NotHealthyWithin {
        limit_ms: 20_000,
        last: "refused".into(),
    };
    resume.event(
        secs(21.0),
        Event::Adopted {
            node: 0,
            attempt: 1,
            result: Err(not_up),
        },
    );
    // One attempt allowed, and the adopted one was it: the node fails, nothing is started.
    assert!(resume.actions(secs(30.0)).is_empty());
    assert!(matches!(
        resume.scheduler.nodes()[0].state,
        NodeState::Failed { .. }
    ));
}

#[test]
fn a_second_kill_while_watching_leaves_the_first_start_to_the_next_resume() {
    let (topology, plan) = setup();
    let mut first = Bench::new(Scheduler::new(&topology, &plan, 1));
    first.up_to_the_start(secs(1.0));
    let mut second = resumed(&first.journal.records, secs(2.0));
    second.up_to_the_start_after_resume(secs(2.0));
    // Killed again while watching. The records of both processes, in order:
    let mut records = first.journal.records.clone();
    records.push(Record {
        at: None,
        t_ms: 2_000,
        entry: Entry::RunStarted {
            format: journal::FORMAT,
            plan_digest: String::new(),
            topology: String::new(),
            resumed: true,
            pid: 2,
        },
    });
    records.extend(second.journal.records.iter().cloned());
    let mut third = resumed(&records, secs(5.0));
    let actions = third.up_to_the_start_after_resume(secs(5.0));
    assert_eq!(
        actions,
        vec![Action::Adopt {
            node: 0,
            attempt: 1,
            running_for_ms: 4_000
        }],
        "still the first start, timed from when it was launched"
    );
}

#[test]
fn in_flight_starts_of_nodes_already_failed_are_not_adopted() {
    let (topology, plan) = setup();
    let mut scheduler = Scheduler::new(&topology, &plan, 1);
    scheduler.handle(
        secs(1.0),
        &Event::PowerChecked {
            host: 0,
            result: Err(Reason::BmcError {
                detail: "refused".into(),
            }),
        },
    );
    let start = InFlightStart {
        node: 0,
        attempt: 1,
        running_for: secs(1.0),
    };
    scheduler.prepare_resume(secs(2.0), &[start]);
    assert!(scheduler.adoptions().is_empty());
}
