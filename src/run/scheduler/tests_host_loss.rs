//! The scheduler alone, event by event: hosts that stop answering mid-run (asked about,
//! powered on again, their starts watched instead of repeated, given up after too many
//! losses), over the bench of `tests.rs`.

use super::tests::{secs, setup, Bench};
use super::Scheduler;
use crate::event::state::NodeState;
use crate::event::{Action, Event, PowerReport, Reason};

#[test]
fn a_host_that_stops_answering_is_asked_about_powered_on_and_its_service_started_once_more() {
    let (topology, plan) = setup();
    let mut run = Bench::new(Scheduler::new(&topology, &plan, 1));
    run.up_to_the_start(secs(1.0));
    let gone = Reason::Unreachable {
        detail: "h1 unreachable: connection refused".into(),
    };
    run.event(
        secs(3.0),
        Event::StartFinished {
            node: 0,
            attempt: 1,
            result: Err(gone.clone()),
        },
    );
    assert_eq!(
        run.actions(secs(3.0)),
        vec![Action::Recheck { host: 0, why: gone }],
        "its power is read before anything else"
    );
    run.event(
        secs(3.1),
        Event::Rechecked {
            host: 0,
            result: Ok(PowerReport::Off),
        },
    );
    assert_eq!(run.actions(secs(3.1)), vec![Action::PowerOn { host: 0 }]);
    run.event(
        secs(3.2),
        Event::PoweredOn {
            host: 0,
            result: Ok(()),
        },
    );
    let wait = run.actions(secs(3.2));
    assert!(
        matches!(
            wait[..],
            [Action::WaitSsh {
                host: 0,
                prepared: false
            }]
        ),
        "a fresh boot is prepared again: {wait:?}"
    );
    run.event(
        secs(5.0),
        Event::SshReady {
            host: 0,
            result: Ok(()),
        },
    );
    assert_eq!(run.actions(secs(5.0)), vec![Action::Probe { node: 0 }]);
    run.event(
        secs(5.0),
        Event::Probed {
            node: 0,
            result: Err(Reason::CheckFailed {
                detail: "refused".into(),
            }),
        },
    );
    assert_eq!(
        run.actions(secs(5.0)),
        vec![Action::Start {
            node: 0,
            attempt: 2
        }],
        "started once more, although its policy allows one attempt: the loss was not its fault"
    );
    let loss = &run.scheduler.host_losses()[0];
    assert!(loss.lost_power());
    assert_eq!(
        (loss.noticed_at, loss.back_at),
        (secs(3.0), Some(secs(5.0)))
    );
}

#[test]
fn a_host_found_on_after_it_stopped_answering_has_its_start_watched_not_repeated() {
    let (topology, plan) = setup();
    let mut run = Bench::new(Scheduler::new(&topology, &plan, 1));
    run.up_to_the_start(secs(1.0));
    let gone = Reason::Unreachable {
        detail: "timed out".into(),
    };
    run.event(
        secs(4.0),
        Event::StartFinished {
            node: 0,
            attempt: 1,
            result: Err(gone),
        },
    );
    assert!(matches!(
        run.actions(secs(4.0))[..],
        [Action::Recheck { host: 0, .. }]
    ));
    run.event(
        secs(4.1),
        Event::Rechecked {
            host: 0,
            result: Ok(PowerReport::On),
        },
    );
    let wait = run.actions(secs(4.1));
    assert!(
        matches!(
            wait[..],
            [Action::WaitSsh {
                host: 0,
                prepared: true
            }]
        ),
        "{wait:?}"
    );
    run.event(
        secs(6.0),
        Event::SshReady {
            host: 0,
            result: Ok(()),
        },
    );
    assert_eq!(
        run.actions(secs(6.0)),
        vec![Action::Adopt {
            node: 0,
            attempt: 1,
            running_for_ms: 5_000
        }]
    );
}

#[test]
fn a_host_that_keeps_stopping_is_given_up_with_the_reason() {
    let (topology, plan) = setup();
    let mut run = Bench::new(Scheduler::new(&topology, &plan, 1));
    run.up_to_the_start(secs(1.0));
    let mut at = 1.0;
    for round in 0..=super::MAX_HOST_LOSSES {
        at += 1.0;
        let gone = Reason::Unreachable {
            detail: format!("refused #{round}"),
        };
        let attempt = round as u32 + 1;
        run.event(
            secs(at),
            Event::StartFinished {
                node: 0,
                attempt,
                result: Err(gone),
            },
        );
        if round == super::MAX_HOST_LOSSES {
            break;
        }
        assert!(matches!(
            run.actions(secs(at))[..],
            [Action::Recheck { .. }]
        ));
        run.event(
            secs(at),
            Event::Rechecked {
                host: 0,
                result: Ok(PowerReport::Off),
            },
        );
        assert!(
            matches!(run.actions(secs(at))[..], [Action::PowerOn { .. }]),
            "round {round}"
        );
        run.event(
            secs(at),
            Event::PoweredOn {
                host: 0,
                result: Ok(()),
            },
        );
        run.actions(secs(at));
        run.event(
            secs(at),
            Event::SshReady {
                host: 0,
                result: Ok(()),
            },
        );
        run.actions(secs(at));
        run.event(
            secs(at),
            Event::Probed {
                node: 0,
                result: Err(Reason::CheckFailed {
                    detail: "refused".into(),
                }),
            },
        );
        assert!(matches!(run.actions(secs(at))[..], [Action::Start { .. }]));
    }
    match &run.scheduler.nodes()[0].state {
        NodeState::Failed { reason } => {
            assert!(
                reason.to_string().contains("stopped answering 3 times"),
                "{reason}"
            )
        }
        other => panic!("expected the node failed, got {other:?}"),
    }
}
