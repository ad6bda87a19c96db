//! The scheduler alone, named after the incidents it guards against: power domains,
//! quorums, spares, failed dependencies and parallelism. Retries, stops, holds and resumes
//! are in `incidents_retry.rs`.

use std::time::Duration;

use super::sim::{down, fine, Sim};
use crate::event::state::{NodeState, StepStatus};
use crate::event::{Action, Event, Reason};

/// Header shared by the topologies below; `{policy}` and the rest are filled per test.
fn topology(policy: &str, hosts: &str, subsystems: &str) -> String {
    format!(
        r#"
name: sim
policy: {policy}
defaults:
  host:
    boot: 1s
    bmc: {{ password_env: X }}
  subsystem:
    health_policy: {{ interval: 100ms, timeout: 1s, successes: 1 }}
    retry: {{ attempts: 2, backoff: 1s, max_backoff: 1s }}
    ready_timeout: 20s
hosts:
{hosts}
subsystems:
{subsystems}
"#
    )
}

/// db on h1..h3 (two must be healthy), app on h4 requiring db.
fn quorum_fleet() -> Sim {
    Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:4]", address: "10.0.0.[1:4]", bmc: { address: "10.0.1.[1:4]" } }"#,
        r#"  - { name: db, hosts: ["h[1:3]"], start: serve 5432, health: { tcp: 5432 }, min_healthy: 2 }
  - { name: app, hosts: [h4], requires: [db], start: serve 80, health: { tcp: 80 } }"#,
    ))
}

fn power_ons(sim: &Sim) -> Vec<(Duration, usize)> {
    sim.log
        .iter()
        .filter_map(|(at, action)| match action {
            Action::PowerOn { host } => Some((*at, *host)),
            _ => None,
        })
        .collect()
}

#[test]
fn ipmi_hosts_are_switched_on_without_a_power_read() {
    let mut sim = quorum_fleet();
    let first = sim.turn();
    assert_eq!(first.len(), 4, "{first:?}");
    assert!(first.iter().all(|a| matches!(a, Action::PowerOn { .. })));
}

#[test]
fn a_power_domain_cap_holds_the_rest_of_its_hosts_to_the_next_window() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 2, per: 1s } }",
        r#"  - { name: "h[1:5]", address: "10.0.0.[1:5]", bmc: { address: "10.0.1.[1:5]" }, power_domain: ups-a }"#,
        r#"  - { name: web, hosts: ["h[1:5]"], start: serve 80, health: { tcp: 80 } }"#,
    ));
    sim.run(fine);
    let ons = power_ons(&sim);
    assert_eq!(ons.len(), 5, "{ons:?}");
    for window in 0..3u64 {
        let inside = ons.iter().filter(|(at, _)| at.as_secs() == window).count();
        assert!(
            inside <= 2,
            "window {window} had {inside} power-ons: {ons:?}"
        );
    }
    assert!(ons[4].0 >= Duration::from_secs(2), "{ons:?}");
    assert!(sim.scheduler.succeeded());
}

#[test]
fn separate_power_domains_do_not_share_a_cap() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 1, per: 1s } }",
        r#"  - { name: h1, address: 10.0.0.1, bmc: { address: 10.0.1.1 }, power_domain: ups-a }
  - { name: h2, address: 10.0.0.2, bmc: { address: 10.0.1.2 }, power_domain: ups-b }"#,
        r#"  - { name: web, hosts: [h1, h2], start: serve 80, health: { tcp: 80 } }"#,
    ));
    let first = sim.turn();
    assert_eq!(
        first,
        vec![Action::PowerOn { host: 0 }, Action::PowerOn { host: 1 }]
    );
}

#[test]
fn a_dependent_is_not_started_before_its_dependency_has_its_quorum() {
    let mut sim = quorum_fleet();
    let app = sim.node("app", "h4");
    let db: Vec<usize> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| sim.node("db", h))
        .collect();
    sim.run(fine);
    let app_start = sim.first(|a| matches!(a, Action::Start { node, .. } if *node == app));
    let mut db_starts: Vec<usize> = db
        .iter()
        .filter_map(|&n| sim.first(|a| matches!(a, Action::Start { node, .. } if *node == n)))
        .collect();
    assert_eq!(db_starts.len(), 3);
    db_starts.sort_unstable();
    // The quorum is two: the second start of db comes before app's.
    let second_db = db_starts[1];
    assert!(app_start.unwrap() > second_db, "{:?}", sim.log);
    assert!(sim.scheduler.succeeded());
}

#[test]
fn quorum_reached_with_a_dead_member_lets_dependents_go() {
    let mut sim = quorum_fleet();
    let dead = sim.host("h3");
    sim.run(|action| match action {
        Action::PowerOn { host } if *host == dead => Some(Event::PoweredOn {
            host: dead,
            result: Err(Reason::BmcTimeout {
                limit_ms: 1000,
                detail: "power on".into(),
            }),
        }),
        _ => fine(action),
    });
    assert_eq!(sim.status("db"), StepStatus::Ready);
    assert_eq!(sim.status("app"), StepStatus::Ready);
    let dead_node = sim.node("db", "h3");
    assert!(matches!(
        sim.scheduler.nodes()[dead_node].state,
        NodeState::Failed { .. }
    ));
    assert!(
        sim.starts_of(dead_node).is_empty(),
        "a dead host is never started on"
    );
}

#[test]
fn a_quorum_lost_to_two_dead_members_fails_the_step_and_blocks_its_dependents() {
    let mut sim = quorum_fleet();
    let (h2, h3) = (sim.host("h2"), sim.host("h3"));
    sim.run(|action| match action {
        Action::WaitSsh { host, .. } if *host == h2 || *host == h3 => Some(Event::SshReady {
            host: *host,
            result: Err(Reason::NoAnswerAfterBoot {
                limit_ms: 1000,
                last: "refused".into(),
            }),
        }),
        _ => fine(action),
    });
    let db = sim.step("db");
    assert_eq!(sim.status("db"), StepStatus::Failed);
    assert_eq!(sim.status("app"), StepStatus::Blocked { on: db });
    assert!(sim.starts_of(sim.node("app", "h4")).is_empty());
    assert!(!sim.scheduler.succeeded());
    assert!(sim.scheduler.is_finished());
}

#[test]
fn a_blocked_dependent_names_the_failed_step_at_the_root_of_a_chain() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:3]", address: "10.0.0.[1:3]", bmc: { address: "10.0.1.[1:3]" } }"#,
        r#"  - { name: db, hosts: [h1], start: serve 1, health: { tcp: 1 } }
  - { name: api, hosts: [h2], requires: [db], start: serve 2, health: { tcp: 2 } }
  - { name: web, hosts: [h3], requires: [api], start: serve 3, health: { tcp: 3 } }"#,
    ));
    let db = sim.node("db", "h1");
    sim.run(|action| match action {
        Action::Start { node, attempt } if *node == db => Some(Event::StartFinished {
            node: db,
            attempt: *attempt,
            result: Err(down()),
        }),
        _ => fine(action),
    });
    let root = sim.step("db");
    assert_eq!(sim.status("api"), StepStatus::Blocked { on: root });
    assert_eq!(sim.status("web"), StepStatus::Blocked { on: root });
    assert_eq!(sim.starts_of(db), vec![1, 2], "both attempts, no more");
}

#[test]
fn a_spare_is_brought_in_when_a_member_fails_for_good() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:3]", address: "10.0.0.[1:3]", bmc: { address: "10.0.1.[1:3]" } }"#,
        r#"  - { name: db, hosts: [h1, h2], spares: [h3], start: serve 1, health: { tcp: 1 } }"#,
    ));
    let (h1, spare_host) = (sim.host("h1"), sim.host("h3"));
    assert!(
        sim.scheduler.nodes().iter().all(|n| n.host != spare_host),
        "a spare has no node until it is needed"
    );
    sim.run(|action| match action {
        Action::PowerOn { host } if *host == h1 => Some(Event::PoweredOn {
            host: h1,
            result: Err(Reason::BmcTimeout {
                limit_ms: 1000,
                detail: "power on".into(),
            }),
        }),
        _ => fine(action),
    });
    let spare = sim.node("db", "h3");
    assert!(sim.scheduler.nodes()[spare].spare);
    assert_eq!(sim.starts_of(spare), vec![1]);
    assert_eq!(sim.status("db"), StepStatus::Ready);
}

#[test]
fn an_unused_spare_is_never_switched_on() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.0.1.[1:2]" } }"#,
        r#"  - { name: db, hosts: [h1], spares: [h2], start: serve 1, health: { tcp: 1 } }"#,
    ));
    let spare_host = sim.host("h2");
    sim.run(fine);
    assert!(sim.scheduler.succeeded());
    assert!(!power_ons(&sim).iter().any(|(_, h)| *h == spare_host));
}

#[test]
fn parallelism_caps_the_node_work_in_flight() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 2, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:5]", address: "10.0.0.[1:5]", bmc: { address: "10.0.1.[1:5]" } }"#,
        r#"  - { name: web, hosts: ["h[1:5]"], start: serve 80, health: { tcp: 80 } }"#,
    ));
    // Every host up, nothing answered on the nodes: at most two probes go out.
    sim.run(|action| match action {
        Action::Probe { .. } => None,
        _ => fine(action),
    });
    let probes = sim
        .log
        .iter()
        .filter(|(_, a)| matches!(a, Action::Probe { .. }))
        .count();
    assert_eq!(probes, 2, "{:?}", sim.log);
    assert!(
        !sim.scheduler.is_finished(),
        "two probes are still in flight"
    );
}

#[test]
fn max_parallel_one_starts_members_one_after_another() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 8, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:3]", address: "10.0.0.[1:3]", bmc: { address: "10.0.1.[1:3]" } }"#,
        r#"  - { name: db, hosts: ["h[1:3]"], start: serve 1, health: { tcp: 1 }, max_parallel: 1 }"#,
    ));
    // Answer everything but starts, then release the starts one by one.
    sim.run(|action| match action {
        Action::Start { .. } => None,
        _ => fine(action),
    });
    for expected in 1..=3 {
        let starts: Vec<_> = sim
            .log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Start { node, attempt } => Some((*node, *attempt)),
                _ => None,
            })
            .collect();
        assert_eq!(starts.len(), expected, "{starts:?}");
        let (node, attempt) = *starts.last().unwrap();
        sim.give(Event::StartFinished {
            node,
            attempt,
            result: Ok(()),
        });
        sim.run(|action| match action {
            Action::Start { .. } => None,
            _ => fine(action),
        });
    }
    assert!(sim.scheduler.succeeded());
}

#[test]
fn the_more_severe_tier_starts_first_when_only_one_start_fits() {
    let mut sim = Sim::new(&topology(
        "{ parallelism: 1, power_on: { count: 10, per: 1s } }",
        r#"  - { name: "h[1:2]", address: "10.0.0.[1:2]", bmc: { address: "10.0.1.[1:2]" } }"#,
        r#"  - { name: reports, hosts: [h1], start: serve 1, health: { tcp: 1 }, tier: S4 }
  - { name: payments, hosts: [h2], start: serve 2, health: { tcp: 2 }, tier: S1 }"#,
    ));
    let (reports, payments) = (sim.node("reports", "h1"), sim.node("payments", "h2"));
    sim.run(fine);
    let first = |node| sim.first(|a| matches!(a, Action::Start { node: n, .. } if *n == node));
    assert!(
        first(payments).unwrap() < first(reports).unwrap(),
        "{:?}",
        sim.log
    );
}

#[test]
fn a_service_already_healthy_is_never_started() {
    let mut sim = quorum_fleet();
    sim.run(|action| match action {
        Action::Probe { node } => Some(Event::Probed {
            node: *node,
            result: Ok(()),
        }),
        _ => fine(action),
    });
    assert!(sim.scheduler.succeeded());
    assert!(!sim
        .log
        .iter()
        .any(|(_, a)| matches!(a, Action::Start { .. })));
    assert!(sim
        .scheduler
        .nodes()
        .iter()
        .all(|n| n.state == NodeState::Healthy { already: true }));
}
