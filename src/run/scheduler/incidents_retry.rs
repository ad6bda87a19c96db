//! The scheduler alone on retries, stops, holds, lost hosts and resumes.

use std::time::Duration;

use super::sim::{down, fine, Sim};
use super::InFlightStart;
use crate::event::state::{NodeState, StepStatus};
use crate::event::{Action, Event, Reason};

const ONE: &str = r#"
name: one
policy: { parallelism: 4, power_on: { count: 10, per: 1s } }
defaults:
  host:
    boot: 1s
    bmc: { password_env: X }
  subsystem:
    health_policy: { interval: 100ms, timeout: 1s, successes: 1 }
    retry: { attempts: 3, backoff: 2s, max_backoff: 2s }
    ready_timeout: 20s
hosts:
  - { name: "h[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.0.1.[1:2]" } }
subsystems:
  - { name: db, hosts: [h1], start: serve 1, health: { tcp: 1 } }
  - { name: app, hosts: [h2], requires: [db], start: serve 2, health: { tcp: 2 } }
"#;

fn failing_start(action: &Action) -> Option<Event> {
    match action {
        Action::Start { node, attempt } => Some(Event::StartFinished {
            node: *node,
            attempt: *attempt,
            result: Err(down()),
        }),
        _ => fine(action),
    }
}

#[test]
fn a_failed_start_is_retried_after_its_backoff_not_at_once() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    let mut first = true;
    sim.run(|action| match action {
        Action::Start { .. } if std::mem::take(&mut first) => failing_start(action),
        _ => fine(action),
    });
    let starts: Vec<Duration> = sim
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Start { node, .. } if *node == db))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(starts.len(), 2);
    // Jitter keeps at least half the backoff.
    assert!(
        starts[1] - starts[0] >= Duration::from_secs(1),
        "{starts:?}"
    );
    assert!(sim.scheduler.succeeded());
}

#[test]
fn retry_after_probe_first_leaves_a_late_healthy_service_alone() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    let mut probes = 0;
    sim.run(|action| match action {
        Action::Probe { node } if *node == db => {
            probes += 1;
            // Down before the first start; up (it came up late) before the retry.
            let result = if probes == 1 { Err(down()) } else { Ok(()) };
            Some(Event::Probed { node: db, result })
        }
        _ => failing_start(action),
    });
    assert_eq!(probes, 2, "a retry probes first");
    assert_eq!(sim.starts_of(db), vec![1], "not started a second time");
    assert_eq!(sim.status("db"), StepStatus::Ready);
}

#[test]
fn retry_after_probe_first_finding_it_down_starts_the_next_attempt() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    let mut first = true;
    sim.run(|action| match action {
        Action::Start { .. } if std::mem::take(&mut first) => failing_start(action),
        _ => fine(action),
    });
    assert_eq!(sim.starts_of(db), vec![1, 2]);
    let probes = sim
        .log
        .iter()
        .filter(|(_, a)| *a == Action::Probe { node: db })
        .count();
    assert_eq!(probes, 2);
}

#[test]
fn a_node_out_of_attempts_fails_with_the_last_reason() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    sim.run(failing_start);
    assert_eq!(sim.starts_of(db), vec![1, 2, 3]);
    assert_eq!(
        sim.scheduler.nodes()[db].state,
        NodeState::Failed { reason: down() }
    );
    assert!(sim.scheduler.step_failure(sim.step("db")).is_some());
}

#[test]
fn a_stop_hands_out_nothing_more_and_finishes_once_in_flight_work_ends() {
    let mut sim = Sim::new(ONE);
    let actions = sim.turn();
    assert!(!actions.is_empty());
    sim.scheduler.stop();
    assert!(!sim.scheduler.is_finished(), "power-ons are in flight");
    for action in &actions {
        sim.give(fine(action).unwrap());
    }
    assert!(sim.turn().is_empty());
    assert!(sim.scheduler.is_finished());
    assert!(!sim.scheduler.succeeded());
}

#[test]
fn stop_on_failure_launches_nothing_after_the_first_failure() {
    let mut sim = Sim::new(ONE);
    sim.scheduler.stop_on_failure();
    sim.run(failing_start);
    let app = sim.node("app", "h2");
    assert!(sim.starts_of(app).is_empty());
    assert!(sim.scheduler.is_finished());
}

#[test]
fn a_held_step_fails_and_blocks_its_dependents() {
    let mut sim = Sim::new(ONE);
    let step = sim.step("db");
    sim.give(Event::Held {
        step,
        reason: Reason::CheckFailed {
            detail: "preflight said no".into(),
        },
    });
    sim.run(fine);
    assert_eq!(sim.status("db"), StepStatus::Failed);
    assert_eq!(sim.status("app"), StepStatus::Blocked { on: step });
    // Neither its own node (queued before the hold arrived) nor its dependents start.
    assert!(sim.starts_of(sim.node("db", "h1")).is_empty());
    assert!(sim.starts_of(sim.node("app", "h2")).is_empty());
}

#[test]
fn a_host_that_never_answers_ssh_fails_its_nodes_without_a_start() {
    let mut sim = Sim::new(ONE);
    let h1 = sim.host("h1");
    sim.run(|action| match action {
        Action::WaitSsh { host, .. } if *host == h1 => Some(Event::SshReady {
            host: h1,
            result: Err(Reason::NoAnswerAfterBoot {
                limit_ms: 1000,
                last: "no route".into(),
            }),
        }),
        _ => fine(action),
    });
    assert!(sim.starts_of(sim.node("db", "h1")).is_empty());
    assert_eq!(sim.status("db"), StepStatus::Failed);
}

#[test]
fn a_start_cut_by_its_host_going_away_rechecks_the_host_before_anything_else() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    let h1 = sim.host("h1");
    let mut cut = true;
    sim.run(|action| match action {
        Action::Start { node, attempt } if *node == db && std::mem::take(&mut cut) => {
            Some(Event::StartFinished {
                node: db,
                attempt: *attempt,
                result: Err(Reason::Unreachable {
                    detail: "connection reset".into(),
                }),
            })
        }
        _ => fine(action),
    });
    let recheck = sim.first(|a| matches!(a, Action::Recheck { host, .. } if *host == h1));
    assert!(recheck.is_some(), "{:?}", sim.log);
    assert!(sim.scheduler.succeeded());
    assert_eq!(sim.scheduler.host_losses().len(), 1);
}

#[test]
fn resume_adopts_a_started_node_without_starting_it_again() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    sim.scheduler.prepare_resume(
        Duration::from_secs(30),
        &[InFlightStart {
            node: db,
            attempt: 1,
            running_for: Duration::from_secs(5),
        }],
    );
    sim.now = Duration::from_secs(30);
    sim.run(fine);
    assert!(sim.starts_of(db).is_empty(), "{:?}", sim.log);
    assert!(sim
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Adopt { node, attempt: 1, .. } if *node == db)));
    assert_eq!(sim.scheduler.adoptions().len(), 1);
    assert!(sim.scheduler.succeeded());
}

#[test]
fn a_rearmed_node_is_tried_again_with_a_fresh_count() {
    let mut sim = Sim::new(ONE);
    let db = sim.node("db", "h1");
    sim.run(failing_start);
    assert_eq!(sim.status("db"), StepStatus::Failed);
    sim.give(Event::Rearmed { node: db });
    assert_eq!(sim.scheduler.rearmed_waiting(sim.step("db")), 1);
    sim.run(fine);
    assert_eq!(sim.starts_of(db), vec![1, 2, 3, 1]);
    assert!(sim.scheduler.succeeded());
}

#[test]
fn a_power_check_window_keeps_reads_in_flight_under_its_cap() {
    // Hosts without a BMC are read first (no IPMI shortcut): the window applies.
    let yaml = ONE
        .replace("    bmc: { password_env: X }\n", "")
        .replace(r#", bmc: { address: "10.0.1.[1:2]" }"#, "");
    let mut sim = Sim::new(&yaml);
    sim.scheduler.limit_power_checks(1);
    let first = sim.turn();
    assert_eq!(first, vec![Action::CheckPower { host: 0 }]);
    assert!(sim.turn().is_empty(), "the second read waits for the first");
    sim.give(Event::PowerChecked {
        host: 0,
        result: Ok(crate::event::PowerReport::NoBmc),
    });
    assert!(sim.turn().contains(&Action::CheckPower { host: 1 }));
}
